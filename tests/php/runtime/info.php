<?php
// The uring_php functions and their tokio_php aliases.
header('Content-Type: application/json');
echo json_encode([
    'request_id' => uring_request_id(),
    'alias_request_id' => tokio_request_id(),
    'worker_id' => uring_worker_id(),
    'alias_worker_id' => tokio_worker_id(),
    'server_request_id' => $_SERVER['URING_REQUEST_ID'],
    'server_worker_id' => $_SERVER['URING_WORKER_ID'],
    'php_version' => PHP_VERSION,
    'info' => uring_server_info(),
    'alias_info' => tokio_server_info(),
    'heartbeat_without_timeout' => uring_request_heartbeat(5),
]);
