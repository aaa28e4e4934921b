<?php
// Runs ~2.1 s under a 1 s REQUEST_TIMEOUT, kept alive by heartbeats when ?beat=1.
$beat = ($_GET['beat'] ?? '0') === '1';
$results = [];
for ($i = 0; $i < 3; $i++) {
    usleep(700000);
    if ($beat) {
        $results[] = uring_request_heartbeat(1);
    }
}
$results[] = tokio_request_heartbeat(3600); // over REQUEST_TIMEOUT: refused
echo json_encode($results);
