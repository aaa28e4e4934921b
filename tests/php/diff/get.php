<?php
// $_GET parsing: nested arrays, '+', percent-escapes, repeated keys, empty values,
// keys without '=', and PHP's key mangling ('.' and ' ' become '_').
header('Content-Type: text/plain; charset=UTF-8');
echo "QUERY_STRING=", $_SERVER['QUERY_STRING'] ?? '(unset)', "\n";
var_export($_GET);
echo "\n";
