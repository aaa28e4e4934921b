<?php
// Shows what a script sees: $_SERVER, and OPcache's status.
$opcache = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
?><!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Info</title><link rel="stylesheet" href="/style.css"></head>
<body>
<h1>$_SERVER</h1>
<table>
<?php foreach ($_SERVER as $k => $v): ?>
<tr><td><code><?= htmlspecialchars($k) ?></code></td><td><code><?= htmlspecialchars(is_scalar($v) ? (string)$v : json_encode($v)) ?></code></td></tr>
<?php endforeach; ?>
</table>
<h1>OPcache</h1>
<?php if ($opcache): ?>
<p>Enabled: <?= $opcache['opcache_enabled'] ? 'yes' : 'no' ?>,
hits: <?= $opcache['opcache_statistics']['hits'] ?>,
misses: <?= $opcache['opcache_statistics']['misses'] ?>,
cached scripts: <?= $opcache['opcache_statistics']['num_cached_scripts'] ?>,
JIT: <?= !empty($opcache['jit']['on']) ? 'on' : 'off' ?>.</p>
<?php else: ?>
<p>OPcache is not running.</p>
<?php endif; ?>
<p><a href="/">Back</a></p>
</body>
</html>
