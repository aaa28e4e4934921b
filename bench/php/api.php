<?php
// The "JSON API" scenario: takes a ~10 KiB JSON POST body, validates and aggregates it,
// answers with a small JSON document.
declare(strict_types=1);

header('Content-Type: application/json');
if (($_SERVER['REQUEST_METHOD'] ?? '') !== 'POST') {
    http_response_code(405);
    echo json_encode(['error' => 'POST a JSON body']);
    return;
}
try {
    $doc = json_decode(file_get_contents('php://input'), true, 16, JSON_THROW_ON_ERROR);
} catch (JsonException $e) {
    http_response_code(400);
    echo json_encode(['error' => $e->getMessage()]);
    return;
}
$items = is_array($doc['items'] ?? null) ? $doc['items'] : [];
$total = 0.0;
$tags = [];
$names = [];
foreach ($items as $item) {
    $total += (float) ($item['price'] ?? 0) * (int) ($item['qty'] ?? 1);
    foreach ($item['tags'] ?? [] as $t) {
        $tags[$t] = ($tags[$t] ?? 0) + 1;
    }
    $names[] = strtoupper(substr((string) ($item['name'] ?? ''), 0, 3));
}
arsort($tags);
echo json_encode([
    'count' => count($items),
    'bytes' => (int) ($_SERVER['CONTENT_LENGTH'] ?? 0),
    'total' => round($total, 2),
    'top_tags' => array_slice($tags, 0, 3, true),
    'checksum' => crc32(implode(',', $names)),
]);
