<?php
// Dumps the superglobals as JSON for the engine tests.
$server = [];
foreach ($_SERVER as $k => $v) {
    if (is_string($v) || is_int($v) || is_float($v)) {
        $server[$k] = $v;
    }
}
$files = [];
foreach ($_FILES as $name => $f) {
    $files[$name] = $f;
}
header('Content-Type: application/json');
echo json_encode([
    'get' => $_GET,
    'post' => $_POST,
    'cookie' => $_COOKIE,
    'request' => $_REQUEST,
    'files' => $files,
    'server' => $server,
    'input1' => file_get_contents('php://input'),
    'input2' => file_get_contents('php://input'),
    'sapi' => PHP_SAPI,
    'sapi_name' => php_sapi_name(),
], JSON_PRETTY_PRINT);
