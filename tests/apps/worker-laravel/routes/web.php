<?php

use App\Http\Controllers\DemoController;
use Illuminate\Support\Facades\Route;

Route::get('/', [DemoController::class, 'home'])->name('home');
Route::get('/contact', [DemoController::class, 'contact'])->name('contact');
Route::post('/contact', [DemoController::class, 'send']);
Route::get('/contact/thanks', [DemoController::class, 'thanks'])->name('thanks');
Route::permanentRedirect('/old-home', '/');
