<?php
// Server-Sent Events, each flushed as it is produced.
header('Content-Type: text/event-stream');
header('Cache-Control: no-cache');
$n = (int)($_GET['n'] ?? 5);
for ($i = 1; $i <= $n; $i++) {
    echo "id: $i\ndata: event $i " . str_repeat('x', 200) . "\n\n";
    flush();
    usleep(20000);
}
