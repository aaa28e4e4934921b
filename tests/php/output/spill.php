<?php
// Output around OUTPUT_SPILL_THRESHOLD, then flush()/ob_*/finish/SSE: every byte must
// arrive, in order. The pattern repeats a 251-byte block (a prime, so offsets show).
$n = (int)($_GET['n'] ?? 0);
$block = '';
for ($i = 0; $i < 251; $i++) {
    $block .= chr(ord('a') + ($i * 7) % 26);
}
function pattern(int $n, string $block): string {
    return substr(str_repeat($block, intdiv($n, 251) + 1), 0, $n);
}
switch ($_GET['mode'] ?? 'plain') {
    case 'plain':
        echo pattern($n, $block);
        echo "|END";
        break;
    case 'flush':
        echo pattern($n, $block);
        flush();
        echo "|TAIL";
        break;
    case 'flush-twice':
        echo pattern($n, $block);
        flush();
        echo pattern($n, $block);
        flush();
        echo "|TAIL";
        break;
    case 'ob':
        ob_start();
        echo pattern($n, $block);
        ob_end_flush();
        flush();
        echo "|TAIL";
        break;
    case 'finish':
        echo pattern($n, $block);
        fastcgi_finish_request();
        echo "|DROPPED";
        break;
    case 'flush-finish':
        echo pattern($n, $block);
        flush();
        echo "|MORE";
        fastcgi_finish_request();
        echo "|DROPPED";
        break;
    case 'sse':
        header('Content-Type: text/event-stream');
        echo pattern($n, $block);
        flush();
        for ($i = 0; $i < 3; $i++) {
            echo "data: $i\n\n";
            flush();
        }
        break;
}
