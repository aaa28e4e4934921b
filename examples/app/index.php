<?php
// The example app's landing page.
$title = 'uring_php example';
?><!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title><?= htmlspecialchars($title) ?></title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<h1><?= htmlspecialchars($title) ?></h1>
<p>Served by <code><?= htmlspecialchars($_SERVER['SERVER_SOFTWARE']) ?></code>
running PHP <?= PHP_VERSION ?> (<?= PHP_SAPI ?>, <?= PHP_ZTS ? 'thread-safe' : 'NTS' ?>)
on worker <?= uring_worker_id() ?>, request <?= uring_request_id() ?>.</p>
<ul>
  <li><a href="/form.php">A form with file upload</a></li>
  <li><a href="/api.php">A JSON endpoint</a> (GET, or POST a JSON body)</li>
  <li><a href="/info.php">$_SERVER and OPcache status</a></li>
  <li><a href="/style.css">A static file</a></li>
</ul>
</body>
</html>
