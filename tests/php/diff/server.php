<?php
// A fixed list of $_SERVER keys. Values that legitimately differ between servers
// (ports, software names) are printed normalized.
header('Content-Type: text/plain; charset=UTF-8');
$exact = [
    'REQUEST_METHOD', 'REQUEST_URI', 'QUERY_STRING', 'SCRIPT_NAME', 'SCRIPT_FILENAME', 'PATH_INFO',
    'PATH_TRANSLATED', 'ORIG_PATH_INFO', 'ORIG_SCRIPT_NAME', 'ORIG_SCRIPT_FILENAME', 'PHP_SELF',
    'DOCUMENT_ROOT', 'DOCUMENT_URI', 'SERVER_PROTOCOL', 'REQUEST_SCHEME', 'HTTPS', 'REDIRECT_STATUS',
    'CONTENT_TYPE', 'CONTENT_LENGTH', 'AUTH_TYPE', 'PHP_AUTH_USER', 'PHP_AUTH_PW', 'PHP_AUTH_DIGEST',
    'REMOTE_USER',
];
foreach ($exact as $k) {
    echo $k, '=', array_key_exists($k, $_SERVER) ? json_encode($_SERVER[$k], JSON_UNESCAPED_SLASHES) : '(unset)', "\n";
}
// Every HTTP_* key, sorted: the request headers as PHP sees them.
$http = array_filter($_SERVER, fn ($k) => is_string($k) && str_starts_with($k, 'HTTP_'), ARRAY_FILTER_USE_KEY);
ksort($http);
foreach ($http as $k => $v) {
    echo $k, '=', json_encode($v, JSON_UNESCAPED_SLASHES), "\n";
}
// Present, but their values depend on the server: print a normalized form.
foreach (['SERVER_SOFTWARE', 'GATEWAY_INTERFACE', 'SERVER_NAME'] as $k) {
    echo $k, ' non-empty=', !empty($_SERVER[$k]) ? 'yes' : 'no', "\n";
}
foreach (['REMOTE_ADDR', 'SERVER_ADDR'] as $k) {
    echo $k, ' is_ip=', filter_var($_SERVER[$k] ?? '', FILTER_VALIDATE_IP) !== false ? 'yes' : 'no', "\n";
}
foreach (['REMOTE_PORT', 'SERVER_PORT'] as $k) {
    echo $k, ' is_numeric=', is_numeric($_SERVER[$k] ?? '') ? 'yes' : 'no', "\n";
}
echo 'REQUEST_TIME is_int=', is_int($_SERVER['REQUEST_TIME'] ?? null) ? 'yes' : 'no', "\n";
echo 'REQUEST_TIME_FLOAT is_float=', is_float($_SERVER['REQUEST_TIME_FLOAT'] ?? null) ? 'yes' : 'no', "\n";
// register_argc_argv is On by default: outside the CLI, argv is built from the query string.
echo 'argv=', json_encode($_SERVER['argv'] ?? '(unset)', JSON_UNESCAPED_SLASHES), ' argc=',
    json_encode($_SERVER['argc'] ?? '(unset)'), "\n";
