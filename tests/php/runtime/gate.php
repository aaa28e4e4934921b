<?php
// Streams "one", then waits for the client to create ?gate= before sending "two":
// only a response that really streams can complete.
$gate = $_GET['gate'];
echo "one\n";
flush();
for ($i = 0; $i < 200 && !file_exists($gate); $i++) {
    usleep(50000);
}
echo file_exists($gate) ? "two\n" : "timeout\n";
