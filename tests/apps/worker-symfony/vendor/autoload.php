<?php

// What Composer's autoloader would be: Debian's php-symfony-* packages, found through the
// include_path (".:/usr/share/php" in Debian's PHP), plus this app's own classes.
require_once 'Symfony/Bundle/FrameworkBundle/autoload.php';
require_once 'Symfony/Bundle/TwigBundle/autoload.php';
require_once 'Symfony/Component/Security/Csrf/autoload.php';
require_once 'Symfony/Component/Runtime/autoload.php';

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'App\\', 4) !== 0) {
        return;
    }
    $file = dirname(__DIR__).'/src/'.str_replace('\\', '/', substr($class, 4)).'.php';
    if (is_file($file)) {
        require $file;
    }
});
