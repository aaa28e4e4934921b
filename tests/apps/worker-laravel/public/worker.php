<?php

// The worker script of this Laravel 8 app, written as Laravel Octane's FrankenPHP worker
// runs it (Octane is not in Debian): the application and its HTTP kernel boot once; each
// request gets the services that hold per-request state (session, cookies, auth, the
// request itself) fresh, is handled and sent, and the kernel's terminate() runs after the
// response went out.

use Illuminate\Contracts\Http\Kernel;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Facade;

require __DIR__.'/../vendor/autoload.php';

$app = require __DIR__.'/../bootstrap/app.php';

$kernel = $app->make(Kernel::class);
$kernel->bootstrap();

// Services resolved per request; Octane flushes the same ones between requests.
$perRequest = [
    'session', 'session.store', \Illuminate\Session\Middleware\StartSession::class,
    'cookie', 'auth', 'auth.driver', 'redirect',
];

$maxRequests = (int) ($_SERVER['MAX_REQUESTS'] ?? 500);
for ($n = 0; !$maxRequests || $n < $maxRequests; $n++) {
    $request = $response = null;
    $keepRunning = frankenphp_handle_request(static function () use ($app, $kernel, $perRequest, &$request, &$response): void {
        foreach ($perRequest as $abstract) {
            $app->forgetInstance($abstract);
        }
        Facade::clearResolvedInstances();
        $request = Request::capture();
        $response = $kernel->handle($request);
        $response->send();
    });
    if ($request && $response) {
        $kernel->terminate($request, $response);
    }
    gc_collect_cycles();
    if (!$keepRunning) {
        break;
    }
}
