<?php
// Used by the runner to check that every peer runs with OPcache on (and JIT off).
header('Content-Type: application/json');
$s = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo json_encode([
    'opcache' => is_array($s) && !empty($s['opcache_enabled']),
    'jit' => is_array($s) && !empty($s['jit']['on']),
    'sapi' => PHP_SAPI,
    'version' => PHP_VERSION,
    'zts' => PHP_ZTS === 1,
]);
