<?php
// A form with a file upload, handled by PHP's own multipart parser.
$result = null;
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $result = [
        'name' => $_POST['name'] ?? '',
        'files' => [],
    ];
    foreach ($_FILES['upload']['name'] ?? [] as $i => $name) {
        if ($_FILES['upload']['error'][$i] !== UPLOAD_ERR_OK) {
            continue;
        }
        $result['files'][] = [
            'name' => $name,
            'size' => $_FILES['upload']['size'][$i],
            'sha256' => hash_file('sha256', $_FILES['upload']['tmp_name'][$i]),
        ];
    }
}
?><!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Upload</title><link rel="stylesheet" href="/style.css"></head>
<body>
<h1>Upload</h1>
<form method="post" enctype="multipart/form-data">
  <label>Your name <input name="name" value="<?= htmlspecialchars($result['name'] ?? '') ?>"></label>
  <label>Files <input type="file" name="upload[]" multiple></label>
  <button>Send</button>
</form>
<?php if ($result !== null): ?>
<h2>Hello, <?= htmlspecialchars($result['name'] ?: 'stranger') ?></h2>
<table>
<tr><th>File</th><th>Bytes</th><th>SHA-256</th></tr>
<?php foreach ($result['files'] as $f): ?>
<tr><td><?= htmlspecialchars($f['name']) ?></td><td><?= $f['size'] ?></td><td><code><?= $f['sha256'] ?></code></td></tr>
<?php endforeach; ?>
</table>
<?php endif; ?>
<p><a href="/">Back</a></p>
</body>
</html>
