<?php
// Exercises header(), repeated Set-Cookie, status codes and redirects.
$mode = $_GET['mode'] ?? '';
switch ($mode) {
    case 'cookies':
        setcookie('a', '1');
        setcookie('b', 'two words', ['path' => '/x', 'httponly' => true, 'samesite' => 'Lax']);
        header('X-One: 1');
        header('X-Multi: a');
        header('X-Multi: b', false);
        header('X-Replaced: old');
        header('X-Replaced: new');
        echo 'cookies';
        break;
    case 'code':
        http_response_code(201);
        echo 'created';
        break;
    case 'location':
        header('Location: /elsewhere');
        break;
    case 'location301':
        header('Location: /moved', true, 301);
        break;
    case 'status':
        header('Status: 403 Forbidden');
        echo 'forbidden';
        break;
    case 'statusline':
        header('HTTP/1.1 404 Not Found');
        echo 'nf';
        break;
    case 'crlf':
        try {
            header("X-Evil: a\r\nX-Injected: 1");
        } catch (Throwable $e) {
        }
        header("X-Ctl: a\x01b");
        echo 'crlf';
        break;
}
