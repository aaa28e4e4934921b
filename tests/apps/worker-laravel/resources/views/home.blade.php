@extends('layout')
@section('body')
<h1>Hello from Laravel {{ $version }}</h1>
<p class="visits">Visits in this session: {{ $visits }}</p>
<p><a href="{{ route('contact') }}">Contact</a></p>
@endsection
