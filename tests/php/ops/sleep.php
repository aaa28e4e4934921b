<?php
// Sleeps for ?ms= milliseconds (default 1000), then answers.
usleep((int)($_GET['ms'] ?? 1000) * 1000);
echo "slept";
