<?php

namespace App\Providers;

use Illuminate\Foundation\Support\Providers\RouteServiceProvider as ServiceProvider;
use Illuminate\Support\Facades\Route;

class RouteServiceProvider extends ServiceProvider
{
    public function boot()
    {
        $this->routes(function () {
            // Pages without the session and cookie middleware (as routes/api.php would be).
            Route::group([], base_path('routes/stateless.php'));
            Route::middleware('web')->group(base_path('routes/web.php'));
        });
    }
}
