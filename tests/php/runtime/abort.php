<?php
// Streams until the client goes away, then records what connection_aborted() said.
ignore_user_abort(true);
$marker = $_GET['marker'];
for ($i = 0; $i < 600; $i++) {
    echo "tick $i\n";
    flush();
    if (connection_aborted()) {
        file_put_contents($marker, "aborted after $i");
        exit;
    }
    usleep(20000);
}
file_put_contents($marker, "never aborted");
