<?php

// What Composer's autoloader would be: Debian's php-laravel-framework (Illuminate and its
// dependencies), found through the include_path (".:/usr/share/php" in Debian's PHP), plus
// this app's own classes.
require_once 'Illuminate/autoload.php';

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'App\\', 4) !== 0) {
        return;
    }
    $file = dirname(__DIR__).'/app/'.str_replace('\\', '/', substr($class, 4)).'.php';
    if (is_file($file)) {
        require $file;
    }
});
