<?php
// What a site's request sees: which site (its name.txt), DOCUMENT_ROOT, the site's
// $_SERVER additions and php.ini values, whether the script may change them, and
// (with ?read=PATH) whether it may read a file elsewhere (open_basedir).
header('Content-Type: application/json');
echo json_encode([
    'site' => trim((string)@file_get_contents(__DIR__ . '/name.txt')),
    'document_root' => $_SERVER['DOCUMENT_ROOT'],
    'server_name' => $_SERVER['SERVER_NAME'],
    'app_env' => $_SERVER['APP_ENV'] ?? null,
    'memory_limit' => ini_get('memory_limit'),
    'open_basedir' => ini_get('open_basedir'),
    'precision' => ini_get('precision'),
    'raised' => ini_set('memory_limit', '300M') !== false,
    'read' => isset($_GET['read']) ? @file_get_contents($_GET['read']) : null,
]);
