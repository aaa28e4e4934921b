<?php
// A deterministic HTML page of about ?kib= KiB (default 32), compressible.
header('Content-Type: text/html; charset=UTF-8');
if (isset($_GET['no_transform'])) {
    header('Cache-Control: no-transform');
}
$n = (int)($_GET['kib'] ?? 32);
echo "<!DOCTYPE html>\n<html><body>\n";
for ($i = 0; $i < $n * 16; $i++) {
    printf("<p>row %06d %s</p>\n", $i, str_repeat(chr(ord('a') + $i % 26), 40));
}
echo "</body></html>\n";
