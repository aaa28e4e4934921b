<?php
// Used by the runner to check that every peer runs with OPcache on (and JIT off), and to
// report each peer's PHP version and build.
header('Content-Type: application/json');
$s = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo json_encode([
    'opcache' => is_array($s) && !empty($s['opcache_enabled']),
    'jit' => is_array($s) && !empty($s['jit']['on']),
    'sapi' => PHP_SAPI,
    'version' => PHP_VERSION,
    'zts' => (bool) PHP_ZTS, // an int before PHP 8.4, a bool since
    // How uring_php's PHP was built (scripts/build-php.sh); the runner fills in the
    // Debian package for php-fpm and php -S.
    'build' => function_exists('uring_server_info') ? (uring_server_info()['php_build'] ?? '') : '',
]);
