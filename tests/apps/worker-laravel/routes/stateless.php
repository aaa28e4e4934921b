<?php

use App\Http\Controllers\DemoController;
use Illuminate\Support\Facades\Route;

Route::get('/hello/{name}', [DemoController::class, 'hello'])->where('name', '[a-z]{1,20}');
Route::get('/api/items/{count}', [DemoController::class, 'items'])->where('count', '[0-9]{1,3}');
