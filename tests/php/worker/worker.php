<?php
// The worker script of tests/worker_mode.rs: boots once, then serves requests. `boot`
// names this boot of the script and `served` counts its requests (a global that must
// persist); `action` picks what a request does.

$boot = bin2hex(random_bytes(8));
$served = 0;
$seen = []; // what requests left behind, checked by the next one

$handler = static function () use ($boot, &$served) {
    $served++;
    $action = $_GET['action'] ?? 'echo';
    $me = ['boot' => $boot, 'served' => $served, 'worker' => uring_worker_id()];
    switch ($action) {
        case 'echo':
            // Everything a request brings, for the isolation test to compare.
            $id = $_GET['id'] ?? '';
            header('X-Id: ' . $id);
            if (isset($_GET['status'])) {
                http_response_code((int) $_GET['status']);
            }
            if (isset($_GET['cookie'])) {
                setcookie('c' . $id, $_GET['cookie']);
            }
            $files = [];
            foreach ($_FILES as $k => $f) {
                $files[$k] = ['name' => $f['name'], 'size' => $f['size'], 'tmp' => $f['tmp_name'],
                    'content' => file_get_contents($f['tmp_name'])];
            }
            echo json_encode($me + [
                'id' => $id,
                'get' => $_GET,
                'post' => $_POST,
                'cookie' => $_COOKIE,
                'request' => $_REQUEST,
                'files' => $files,
                'input' => file_get_contents('php://input'),
                'method' => $_SERVER['REQUEST_METHOD'],
                'uri' => $_SERVER['REQUEST_URI'],
                'query' => $_SERVER['QUERY_STRING'],
                'header' => $_SERVER['HTTP_X_TEST'] ?? null,
                'headers' => frankenphp_request_headers(),
            ]);
            break;
        case 'dirty':
            // Leaves behind what a classic request would lose at its end.
            header('X-Leak: yes');
            http_response_code(418);
            setcookie('leak', '1');
            session_start();
            $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
            ob_start();
            echo 'buffered';
            @trigger_error('a warning', E_USER_WARNING);
            $GLOBALS['leaked_global'] = 'x';
            break;
        case 'clean':
            // What a fresh request must find.
            echo json_encode($me + [
                'headers' => headers_list(),
                'status' => http_response_code(),
                'ob_level' => ob_get_level(),
                'session' => isset($_SESSION),
                'session_status' => session_status(),
                'last_error' => error_get_last(),
                'files' => $_FILES,
                'post' => $_POST,
                'cookie' => $_COOKIE,
                'response_headers' => frankenphp_response_headers(),
            ]);
            break;
        case 'session':
            session_start();
            $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
            echo $_SESSION['n'];
            break;
        case 'own_handler':
            // A save handler registered once per worker, as frameworks register theirs.
            static $handler = null;
            if ($handler === null) {
                $handler = new SessionHandler();
                session_set_save_handler($handler, false);
            }
            session_start();
            $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
            echo $_SESSION['n'];
            break;
        case 'whoami':
            echo json_encode($me);
            break;
        case 'hold':
            // Blocks this worker until the test creates the marker file.
            $marker = $_GET['marker'];
            while (!file_exists($marker)) {
                usleep(10000);
            }
            echo json_encode($me);
            break;
        case 'fatal':
            echo json_encode($me), "\n";
            undefined_function_for_the_test();
            break;
        case 'throw':
            echo json_encode($me), "\n";
            throw new RuntimeException('thrown by the test');
        case 'exit':
            echo json_encode($me), "\n";
            exit(0);
        case 'memory':
            echo json_encode($me), "\n";
            $a = [];
            while (true) {
                $a[] = str_repeat('x', 1 << 20);
            }
        case 'sleep':
            usleep((int) ($_GET['ms'] ?? 0) * 1000);
            echo json_encode($me);
            break;
        case 'stream':
            header('Content-Type: text/event-stream');
            for ($i = 1; $i <= 3; $i++) {
                echo "data: $i\n\n";
                flush();
            }
            break;
        case 'finish':
            echo 'answered';
            frankenphp_finish_request();
            echo 'dropped';
            file_put_contents($_GET['marker'], json_encode($me));
            break;
        case 'opcache_reset':
            echo json_encode($me + ['reset' => opcache_reset()]);
            break;
    }
};

while (frankenphp_handle_request($handler)) {
    gc_collect_cycles();
}
