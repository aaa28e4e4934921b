<?php
// Sends its answer, then keeps working and leaves a marker file when done.
$marker = $_GET['marker'];
header('X-Before: 1');
echo "done";
$first = fastcgi_finish_request();
$second = uring_finish_request();
echo "discarded";
header('X-After: 1');
sleep(2);
file_put_contents($marker, json_encode(['first' => $first, 'second' => $second]));
