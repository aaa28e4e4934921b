<?php

namespace App\Runtime;

use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpFoundation\Response;
use Symfony\Component\HttpKernel\HttpKernelInterface;
use Symfony\Component\HttpKernel\TerminableInterface;
use Symfony\Component\Runtime\RunnerInterface;

/**
 * Serves requests with a kernel booted once: each request is built from the superglobals
 * frankenphp_handle_request() sets, handled, sent; the kernel is terminated after the
 * response went out. After $loopMax requests (0: no limit) the script ends and the server
 * starts it again.
 */
final class WorkerRunner implements RunnerInterface
{
    public function __construct(
        private HttpKernelInterface $kernel,
        private int $loopMax,
    ) {
    }

    public function run(): int
    {
        // A client that leaves must not end the worker script.
        ignore_user_abort(true);

        // What the boot request had that a request does not (the environment, read by the
        // kernel's configuration), without the boot request's own HTTP headers.
        $server = array_filter($_SERVER, static fn (string $key) => !str_starts_with($key, 'HTTP_'), ARRAY_FILTER_USE_KEY);
        $server['APP_RUNTIME_MODE'] = 'web=1&worker=1';

        $request = null;
        $response = null;
        $handler = function () use ($server, &$request, &$response): void {
            $_SERVER += $server;
            $request = Request::createFromGlobals();
            $response = $this->kernel->handle($request);
            $response->send();
        };

        $loops = 0;
        do {
            $more = \frankenphp_handle_request($handler);
            if ($this->kernel instanceof TerminableInterface && $request instanceof Request && $response instanceof Response) {
                $this->kernel->terminate($request, $response);
            }
            $request = $response = null;
            gc_collect_cycles();
        } while ($more && (0 >= $this->loopMax || ++$loops < $this->loopMax));

        return 0;
    }
}
