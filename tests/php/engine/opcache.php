<?php
// Reports OPcache state for the tests; ?hold=N keeps this worker busy N microseconds.
if (isset($_GET['hold'])) {
    usleep((int) $_GET['hold']);
}
$s = opcache_get_status(false);
header('Content-Type: application/json');
echo json_encode([
    'enabled' => $s['opcache_enabled'] ?? false,
    'hits' => $s['opcache_statistics']['hits'] ?? -1,
    'cached_scripts' => $s['opcache_statistics']['num_cached_scripts'] ?? -1,
    'jit' => $s['jit']['on'] ?? false,
    // scripts/php-patches/*/0002: false on a PHP without the patch.
    'usage_lock' => ini_get('opcache.usage_lock'),
    'worker' => uring_worker_id(),
]);
