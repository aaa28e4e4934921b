<?php
// Sleeps for ?ms= milliseconds (default 2000), then answers.
usleep((int)($_GET['ms'] ?? 2000) * 1000);
echo "slept";
