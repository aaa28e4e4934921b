<?php
// Five Server-Sent Events, 300 ms apart, each flushed as it is produced.
header('Content-Type: text/event-stream');
header('Cache-Control: no-cache');
for ($i = 1; $i <= 5; $i++) {
    echo "id: $i\ndata: event $i\n\n";
    flush();
    if ($i < 5) {
        usleep(300000);
    }
}
