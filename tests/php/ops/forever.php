<?php
// Runs until stopped; creates ?mark= first so a test knows it is running.
touch($_GET['mark']);
for (;;) {
    usleep(10000);
}
