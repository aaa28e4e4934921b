<?php
// Any method reaches the script: echo it with the body it carried.
header('Content-Type: text/plain; charset=UTF-8');
$input = file_get_contents('php://input');
echo "method=", $_SERVER['REQUEST_METHOD'], "\n";
echo "CONTENT_TYPE=", $_SERVER['CONTENT_TYPE'] ?? '(unset)', "\n";
echo "CONTENT_LENGTH=", $_SERVER['CONTENT_LENGTH'] ?? '(unset)', "\n";
echo "input_len=", strlen($input), " md5=", md5($input), "\n";
echo "POST=", json_encode($_POST), "\n";
if (strlen($input) <= 256) {
    echo "input=", $input, "\n";
}
header('X-Method: ' . $_SERVER['REQUEST_METHOD']);
