<?php
// ~1 MiB of deterministic output (bigger than output_buffering and any socket buffer).
header('Content-Type: text/plain');
$n = (int)($_GET['kib'] ?? 1024);
for ($i = 0; $i < $n * 16; $i++) {
    // 64 bytes per line, 16 lines per KiB.
    printf("%08d %s\n", $i, str_repeat(chr(ord('a') + $i % 26), 54));
}
