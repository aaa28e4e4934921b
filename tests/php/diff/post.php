<?php
// Form bodies: $_POST as PHP parsed it, plus what php://input still holds.
header('Content-Type: text/plain; charset=UTF-8');
echo "CONTENT_TYPE=", $_SERVER['CONTENT_TYPE'] ?? '(unset)', "\n";
echo "CONTENT_LENGTH=", $_SERVER['CONTENT_LENGTH'] ?? '(unset)', "\n";
$input = file_get_contents('php://input');
echo "input_len=", strlen($input), " input_md5=", md5($input), "\n";
echo "POST=";
var_export($_POST);
echo "\nFILES=";
var_export($_FILES);
echo "\n";
