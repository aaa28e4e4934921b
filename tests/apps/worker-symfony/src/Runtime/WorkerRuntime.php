<?php

namespace App\Runtime;

use Symfony\Component\HttpKernel\HttpKernelInterface;
use Symfony\Component\Runtime\RunnerInterface;
use Symfony\Component\Runtime\SymfonyRuntime;

/**
 * The Symfony Runtime of a worker script, as runtime/frankenphp-symfony is written (that
 * package is not in Debian): under a worker (FRANKENPHP_WORKER in the boot request's
 * $_SERVER) the kernel is run by WorkerRunner, a loop around frankenphp_handle_request();
 * otherwise it is Symfony's usual runtime. Selected with APP_RUNTIME=App\Runtime\WorkerRuntime.
 */
final class WorkerRuntime extends SymfonyRuntime
{
    private int $loopMax;

    public function __construct(array $options = [])
    {
        $this->loopMax = (int) ($options['frankenphp_loop_max'] ?? $_SERVER['FRANKENPHP_LOOP_MAX'] ?? $_ENV['FRANKENPHP_LOOP_MAX'] ?? 500);
        parent::__construct($options);
    }

    public function getRunner(?object $application): RunnerInterface
    {
        if ($application instanceof HttpKernelInterface && ($_SERVER['FRANKENPHP_WORKER'] ?? false)) {
            return new WorkerRunner($application, $this->loopMax);
        }

        return parent::getRunner($application);
    }
}
