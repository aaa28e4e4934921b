<?php
header('Content-Type: application/json');
echo json_encode([
    'trace_id' => $_SERVER['TRACE_ID'] ?? null,
    'span_id' => $_SERVER['SPAN_ID'] ?? null,
    'parent_span_id' => $_SERVER['PARENT_SPAN_ID'] ?? null,
    'request_id' => $_SERVER['HTTP_X_REQUEST_ID'] ?? null,
    'traceparent' => $_SERVER['HTTP_TRACEPARENT'] ?? null,
]);
