<?php
// Output layer: buffering levels, headers_sent() with output_buffering=4096, flush(),
// ob_* functions, ignore_user_abort(), fastcgi_finish_request().
header('Content-Type: text/plain; charset=UTF-8');
$mode = $_GET['mode'] ?? '';
switch ($mode) {
    case 'ob':
        echo "level=", ob_get_level(), " handlers=", json_encode(ob_list_handlers()), "\n";
        ob_start();
        echo "discarded";
        ob_end_clean();
        ob_start();
        echo "captured";
        $c = ob_get_clean();
        echo "got=", $c, "\n";
        ob_start(fn ($buf) => strtoupper($buf));
        echo "upper-cased by handler\n";
        ob_end_flush();
        ob_start();
        echo "left open at exit\n";
        break;
    case 'headers-sent':
        echo "first output\n";
        // output_buffering=4096 keeps headers unsent, so header() still works here.
        echo "headers_sent=", var_export(headers_sent(), true), "\n";
        header('X-Late: allowed');
        ob_flush();
        flush();
        echo "after flush headers_sent=", var_export(headers_sent(), true), "\n";
        $ok = @header('X-Too-Late: ignored');
        echo "done\n";
        break;
    case 'flush':
        for ($i = 0; $i < 5; $i++) {
            echo "chunk $i\n";
            ob_flush();
            flush();
        }
        break;
    case 'ignore-user-abort':
        $prev = ignore_user_abort(true);
        echo "prev=", var_export($prev, true), " now=", var_export((bool)ignore_user_abort(), true),
            " aborted=", connection_aborted(), " status=", connection_status(), "\n";
        break;
    case 'finish-request':
        header('X-Before-Finish: yes');
        echo "sent before finish\n";
        $r = function_exists('fastcgi_finish_request') ? fastcgi_finish_request() : 'missing';
        echo "never sent\n";
        header('X-After-Finish: no');
        break;
    case 'implicit-flush':
        ob_implicit_flush(true);
        echo "implicit one\n";
        echo "implicit two\n";
        break;
    default:
        http_response_code(400);
        echo "unknown mode\n";
}
