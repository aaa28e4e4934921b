<?php
// Streams ?mb= MiB in 64 KiB flushed chunks, as fast as the client allows.
$chunk = str_repeat('x', 65536);
$n = (int)($_GET['mb'] ?? 64) * 16;
for ($i = 0; $i < $n; $i++) {
    echo $chunk;
    flush();
}
