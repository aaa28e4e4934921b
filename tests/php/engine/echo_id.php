<?php
// Echoes the id from the query string and the body, so a test can match responses.
$body = file_get_contents('php://input');
header('X-Id: ' . ($_GET['id'] ?? ''));
echo 'id=', $_GET['id'] ?? '', ';body=', $body, ';worker=', uring_worker_id();
