<?php
// A session counter; ?hold=ms keeps the session (and its lock) while sleeping, and logs
// when it held it, so a test can check that two requests never held it at once.
session_start();
$start = microtime(true);
$_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
if (isset($_GET['hold'])) {
    usleep((int)$_GET['hold'] * 1000);
}
$end = microtime(true);
echo json_encode(['n' => $_SESSION['n'], 'start' => $start, 'end' => $end, 'id' => session_id()]);
