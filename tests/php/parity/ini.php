<?php
// What a script sees of its PHP: SAPI, extensions and every ini value, as JSON. Run
// through the server and through `uring_php php-cli` by tests/php_cli.rs.
if (PHP_SAPI !== 'cli') {
    header('Content-Type: application/json');
}
$extensions = get_loaded_extensions();
sort($extensions);
$zend = get_loaded_extensions(true);
sort($zend);
echo json_encode([
    'sapi' => PHP_SAPI,
    'version' => PHP_VERSION,
    'extensions' => $extensions,
    'zend_extensions' => $zend,
    'ini' => ini_get_all(null, false),
    'argv' => array_slice($_SERVER['argv'] ?? [], 1),
]);
