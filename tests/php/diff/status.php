<?php
// Status codes from http_response_code(), header("HTTP/..."), header('Status: ...'),
// and Location's implicit 302.
$mode = $_GET['mode'] ?? '';
switch ($mode) {
    case 'created':
        http_response_code(201);
        header('Location: /created/1');        // Location keeps a 201
        echo "created\n";
        break;
    case 'not-found':
        http_response_code(404);
        echo "not found from script\n";
        break;
    case 'teapot':
        http_response_code(418);
        echo "teapot\n";
        break;
    case 'no-content':
        http_response_code(204);
        break;
    case 'no-content-with-output':
        http_response_code(204);
        echo "this body must not be sent\n";
        break;
    case 'not-modified':
        http_response_code(304);
        header('ETag: "v1"');
        break;
    case 'location':
        header('Location: /x');
        echo "redirecting\n";
        break;
    case 'location-301':
        header('Location: /x', true, 301);
        break;
    case 'location-absolute':
        header('Location: https://example.com/y?z=1');
        break;
    case 'http-line':
        header('HTTP/1.1 404 Not Found');
        echo "http line\n";
        break;
    case 'http-line-custom':
        header('HTTP/1.1 299 Custom Reason');
        echo "custom\n";
        break;
    case 'status-header':
        header('Status: 403 Forbidden');
        echo "status header\n";
        break;
    case 'response-code-get':
        $before = http_response_code();
        http_response_code(202);
        echo "before=", var_export($before, true), " after=", http_response_code(), "\n";
        break;
    case 'service-unavailable':
        http_response_code(503);
        header('Retry-After: 120');
        echo "maintenance\n";
        break;
    default:
        http_response_code(400);
        echo "unknown mode\n";
}
