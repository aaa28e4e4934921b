<?php
// The "realistic page" scenario: an autoloader pulls in ~20 class files, a small kernel
// builds a catalog array of objects, sorts and filters it, and renders ~20 KiB of HTML.
declare(strict_types=1);

spl_autoload_register(function (string $class): void {
    $prefix = 'Bench\\';
    if (str_starts_with($class, $prefix)) {
        require __DIR__ . '/app/' . substr($class, strlen($prefix)) . '.php';
    }
});

$config = new Bench\Config(['site' => ['name' => 'uring_php bench shop'], 'catalog' => ['size' => 120]]);
$kernel = new Bench\Kernel($config);
header('Content-Type: text/html; charset=UTF-8');
echo $kernel->handle(Bench\Request::fromGlobals());
