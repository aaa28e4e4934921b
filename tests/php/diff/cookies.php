<?php
// $_COOKIE parsing: several cookies, url-decoded values, names with '.' and ' ' mangled
// to '_', array cookies, duplicates (the first one wins).
header('Content-Type: text/plain; charset=UTF-8');
echo "HTTP_COOKIE=", $_SERVER['HTTP_COOKIE'] ?? '(unset)', "\n";
var_export($_COOKIE);
echo "\n";
