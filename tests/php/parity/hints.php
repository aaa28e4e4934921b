<?php
// 103 Early Hints: the Link headers go out at once, the script goes on, and waits for
// the test to have seen the hint (its marker file) before it answers.
header('Link: </style.css>; rel=preload; as=style');
header('Link: </app.js>; rel=preload; as=script', false);
header('Set-Cookie: hinted=1');
$first = headers_send(103);
$marker = $_GET['marker'] ?? '';
$deadline = microtime(true) + 20;
while ($marker !== '' && !file_exists($marker) && microtime(true) < $deadline) {
    usleep(5000);
}
header('Content-Type: text/plain');
echo "first=$first seen=", (int)($marker !== '' && file_exists($marker)), "\n";
flush();
// The final head went out with the flush: too late for another 1xx.
echo "late=", headers_send(103), "\n";
