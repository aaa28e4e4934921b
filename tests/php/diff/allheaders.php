<?php
// getallheaders() / apache_request_headers(): names as php-fpm spells them, in its order.
header('Content-Type: text/plain; charset=UTF-8');
echo "exists=", var_export(function_exists('getallheaders'), true), ",",
    var_export(function_exists('apache_request_headers'), true), "\n";
$h = getallheaders();
echo "same=", var_export($h === apache_request_headers(), true), "\n";
foreach ($h as $k => $v) {
    echo $k, ": ", $v, "\n";
}
