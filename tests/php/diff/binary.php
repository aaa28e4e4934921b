<?php
// Every byte value, four times: output must be binary-safe end to end.
header('Content-Type: application/octet-stream');
$all = '';
for ($i = 0; $i < 256; $i++) {
    $all .= chr($i);
}
echo str_repeat($all, 4);
