<?php
// Moves each uploaded f[] file and reports what arrived.
$out = [];
$dir = sys_get_temp_dir();
foreach ($_FILES['f']['name'] ?? [] as $i => $name) {
    $tmp = $_FILES['f']['tmp_name'][$i];
    $dest = $dir . '/uring-upload-' . getmypid() . '-' . uring_request_id() . '-' . $i;
    $moved = move_uploaded_file($tmp, $dest);
    $out[] = [
        'name' => $name,
        'size' => $_FILES['f']['size'][$i],
        'error' => $_FILES['f']['error'][$i],
        'type' => $_FILES['f']['type'][$i],
        'moved' => $moved,
        'md5' => $moved ? md5_file($dest) : null,
        'tmp_gone' => !file_exists($tmp),
    ];
    if ($moved) {
        unlink($dest);
    }
}
header('Content-Type: application/json');
echo json_encode(['files' => $out, 'post' => $_POST]);
