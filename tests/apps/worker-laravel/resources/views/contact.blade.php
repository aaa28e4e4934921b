@extends('layout')
@section('body')
<h1>Contact</h1>
@if ($errors->any())<p class="error">{{ $errors->first('name') }}</p>@endif
<form method="post" action="/contact">
  @csrf
  <input type="text" name="name" value="{{ old('name') }}">
  <button type="submit">Send</button>
</form>
@endsection
