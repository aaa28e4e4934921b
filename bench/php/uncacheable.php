<?php
// hello.php that the response cache may never store: measures its miss path.
header('Cache-Control: private');
echo "Hello, World!";
