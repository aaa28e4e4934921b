<?php
// A classic script beside the worker (WORKER_MATCH test).
echo 'classic:', $_SERVER['SCRIPT_NAME'];
