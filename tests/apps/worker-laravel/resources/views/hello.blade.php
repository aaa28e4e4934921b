@extends('layout')
@section('body')
<h1>Hello, {{ $name }}! (Laravel {{ $version }})</h1>
<ul>
@for ($i = 1; $i <= 20; $i++)  <li>Item {{ $i }} of {{ $name }}</li>
@endfor
</ul>
@endsection
