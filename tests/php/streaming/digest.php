<?php
// Reads php://input as it arrives. After the first block it creates the file named by
// ?mark=, so a test can hold back the rest of the body until PHP is seen running.
$in = fopen('php://input', 'rb');
$first = fread($in, 8192);
if (isset($_GET['mark'])) {
    touch($_GET['mark']);
}
$ctx = hash_init('md5');
hash_update($ctx, $first);
$n = strlen($first);
while (!feof($in)) {
    $block = fread($in, 65536);
    if ($block === false || $block === '') {
        break;
    }
    hash_update($ctx, $block);
    $n += strlen($block);
}
header('Content-Type: text/plain');
echo $n, ' ', hash_final($ctx), ' cl=', $_SERVER['CONTENT_LENGTH'] ?? 'unset';
