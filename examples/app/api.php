<?php
// A JSON endpoint: GET describes the server, POST echoes a JSON body back with a sum.
header('Content-Type: application/json');
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $in = json_decode(file_get_contents('php://input'), true);
    if (!is_array($in)) {
        http_response_code(400);
        echo json_encode(['error' => 'expected a JSON object or array']);
        return;
    }
    $numbers = array_filter($in, 'is_numeric');
    echo json_encode(['received' => $in, 'sum' => array_sum($numbers)]);
    return;
}
echo json_encode([
    'server' => uring_server_info(),
    'request_id' => uring_request_id(),
    'worker_id' => uring_worker_id(),
    'time' => date(DATE_ATOM),
]);
