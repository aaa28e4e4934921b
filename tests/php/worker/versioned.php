<?php
// A worker script that loads its code once at boot (WORKER_WATCH test).
$version = require getenv('WATCHED_DIR') . '/version.php';
while (frankenphp_handle_request(static function () use ($version) {
    echo $version;
})) {
}
