<?php
// Errors with display_errors=Off: fatal errors give 500, warnings only go to the log.
$mode = $_GET['mode'] ?? '';
switch ($mode) {
    case 'undefined-function':
        undefined_function_for_diff();
        break;
    case 'output-then-fatal':
        echo "partial output\n";
        undefined_function_for_diff();
        break;
    case 'exception':
        throw new RuntimeException('uncaught for diff');
    case 'output-then-exception':
        echo "before exception\n";
        throw new RuntimeException('uncaught for diff');
    case 'exit-code':
        echo "before exit\n";
        exit(3);
    case 'die-message':
        die("died with message\n");
    case 'warning':
        trigger_error('a warning for the log', E_USER_WARNING);
        echo $undefined_variable ?? '', "after warning\n";
        $x = [];
        echo @$x['missing'], "still running\n";
        echo "error_get_last=", error_get_last()['message'] ?? '(none)', "\n";
        break;
    case 'user-error':
        echo "before user error\n";
        trigger_error('fatal by user', E_USER_ERROR);
        echo "not reached\n";
        break;
    case 'memory':
        ini_set('memory_limit', '16M');
        $chunks = [];
        for ($i = 0; $i < 64; $i++) {
            $chunks[] = str_repeat('x', 1024 * 1024);
        }
        echo "not reached\n";
        break;
    case 'time-limit':
        set_time_limit(1);
        $i = 0;
        while (true) {
            $i++;
        }
    case 'fatal-after-status':
        http_response_code(404);
        undefined_function_for_diff();
        break;
    case 'handler':
        set_exception_handler(function (Throwable $e) {
            http_response_code(500);
            echo "handled: ", get_class($e), ": ", $e->getMessage(), "\n";
        });
        throw new LogicException('to the handler');
    case 'shutdown':
        register_shutdown_function(function () {
            echo "from shutdown function\n";
        });
        echo "main body\n";
        exit(0);
    case 'parse-error':
        // include of a file with a syntax error: E_PARSE is fatal.
        include __DIR__ . '/parse_error.inc';
        break;
    case 'ini':
        foreach (['display_errors', 'log_errors', 'error_reporting', 'memory_limit', 'output_buffering',
                     'expose_php', 'max_execution_time', 'post_max_size', 'upload_max_filesize',
                     'opcache.enable', 'opcache.jit', 'variables_order', 'request_order',
                     'html_errors', 'default_charset', 'short_open_tag', 'zend.assertions'] as $k) {
            echo $k, '=', var_export(ini_get($k), true), "\n";
        }
        break;
    default:
        http_response_code(400);
        echo "unknown mode\n";
}
