<?php
// Echoes the raw body byte for byte.
header('Content-Type: application/octet-stream');
echo file_get_contents('php://input');
