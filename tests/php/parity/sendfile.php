<?php
// Names a file for the server to send (?accel=URI for X-Accel-Redirect, ?sendfile=PATH
// for X-Sendfile); its own body must never reach the client.
header('Content-Disposition: attachment; filename="report.txt"');
header('Cache-Control: private, max-age=60');
header('Set-Cookie: downloaded=1');
if (isset($_GET['type'])) {
    header('Content-Type: ' . $_GET['type']);
}
if (isset($_GET['accel'])) {
    header('X-Accel-Redirect: ' . $_GET['accel']);
}
if (isset($_GET['sendfile'])) {
    header('X-Sendfile: ' . $_GET['sendfile']);
}
echo "the script's own body";
