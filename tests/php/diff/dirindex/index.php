<?php
// Reached through the `index` directive: GET /diff/dirindex/ runs this file.
header('Content-Type: text/plain; charset=UTF-8');
foreach (['REQUEST_URI', 'SCRIPT_NAME', 'PHP_SELF', 'DOCUMENT_URI', 'PATH_INFO'] as $k) {
    echo $k, '=', $_SERVER[$k] ?? '(unset)', "\n";
}
