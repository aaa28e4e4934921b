<?php
// $_REQUEST merge order (request_order=GP: POST overrides GET, cookies are left out).
header('Content-Type: text/plain; charset=UTF-8');
echo "request_order=", ini_get('request_order'), " variables_order=", ini_get('variables_order'), "\n";
foreach (['_GET' => $_GET, '_POST' => $_POST, '_COOKIE' => $_COOKIE, '_REQUEST' => $_REQUEST] as $n => $v) {
    echo $n, "=", json_encode($v, JSON_UNESCAPED_SLASHES), "\n";
}
