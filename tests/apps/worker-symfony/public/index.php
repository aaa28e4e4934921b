<?php

use App\Kernel;

// The Symfony 5.4 skeleton's front controller: the Runtime component boots the kernel.
require_once dirname(__DIR__).'/vendor/autoload_runtime.php';

return function (array $context) {
    return new Kernel($context['APP_ENV'], (bool) $context['APP_DEBUG']);
};
