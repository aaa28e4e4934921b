<?php
// php://input is re-readable: two reads give the same bytes. Also decodes JSON bodies.
header('Content-Type: text/plain; charset=UTF-8');
$first = file_get_contents('php://input');
$second = file_get_contents('php://input');
echo "CONTENT_TYPE=", $_SERVER['CONTENT_TYPE'] ?? '(unset)', "\n";
echo "len1=", strlen($first), " len2=", strlen($second), " same=", $first === $second ? 'yes' : 'no', "\n";
echo "md5=", md5($first), "\n";
$json = json_decode($first, true);
echo "json=", json_last_error() === JSON_ERROR_NONE ? json_encode($json, JSON_UNESCAPED_SLASHES) : 'invalid', "\n";
echo "POST=", json_encode($_POST), "\n";
if (strlen($first) <= 256) {
    echo "body=", $first, "\n";
}
