<?php
// Each mode ends the request in a way that must not harm the worker.
$mode = $_GET['mode'] ?? '';
echo "before;";
switch ($mode) {
    case 'fatal':
        undefined_function_xyz();
        break;
    case 'exception':
        throw new RuntimeException('boom');
    case 'exit':
        exit(3);
    case 'memory':
        ini_set('memory_limit', '16M');
        $a = [];
        while (true) {
            $a[] = str_repeat('x', 1 << 20);
        }
    case 'loop':
        set_time_limit(1);
        while (true) {
        }
    case 'sleep':
        // Wall-clock timeout while blocked in a syscall.
        set_time_limit(1);
        sleep(5);
        echo "woke;";
        break;
    case 'shutdown_exit':
        register_shutdown_function(function () {
            echo "shutdown;";
            exit(4);
        });
        break;
    case 'destructor_exit':
        $o = new class {
            public function __destruct()
            {
                echo "destruct;";
                exit(5);
            }
        };
        break;
    case 'long':
        // Runs ~2 s without CPU, well inside max_execution_time.
        usleep(2000000);
        echo "long-done;";
        break;
}
echo "after";
