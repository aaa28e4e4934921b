<?php
// header() semantics: replace, append, remove, custom Content-Type, headers_list().
$mode = $_GET['mode'] ?? '';
switch ($mode) {
    case 'set-replace-append':
        header('X-Replaced: first');
        header('X-Replaced: second');          // replaces (default $replace = true)
        header('X-Appended: one');
        header('X-Appended: two', false);      // appends a second line
        header('x-appended: three', false);    // names are case-insensitive
        header('X-Removed: gone');
        header_remove('X-Removed');
        header('X-Spaces:    padded value   ');
        header('Cache-Control: private, max-age=0');
        echo "headers set\n";
        break;
    case 'remove-all':
        header('X-One: 1');
        header('X-Two: 2');
        header_remove();
        echo "all removed\n";
        break;
    case 'content-type':
        header('Content-Type: application/json');
        echo json_encode(['ok' => true, 'list' => [1, 2, 3]]), "\n";
        break;
    case 'content-type-text':
        header('Content-Type: text/plain');    // PHP appends the default charset to text/*
        echo "plain\n";
        break;
    case 'no-content-type':
        header_remove('Content-Type');
        echo "no content type\n";
        break;
    case 'list':
        header('X-A: 1');
        header('X-B: 2', false);
        header('X-B: 3', false);
        setcookie('listed', 'yes');
        header_remove('X-A');
        echo json_encode(headers_list(), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
        break;
    default:
        http_response_code(400);
        echo "unknown mode\n";
}
