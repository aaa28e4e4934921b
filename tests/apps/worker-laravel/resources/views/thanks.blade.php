@extends('layout')
@section('body')
@if (session('status'))<p class="flash">{{ session('status') }}</p>@endif
@endsection
