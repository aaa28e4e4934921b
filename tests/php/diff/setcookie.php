<?php
// Several Set-Cookie lines from setcookie()/setrawcookie() with every option. Expiry
// values are fixed (0, or a timestamp in the past) so the output does not depend on time.
setcookie('plain', 'value');
setcookie('encoded', 'a b;c=d,é');
setcookie('opts', 'x', [
    'expires' => 0,
    'path' => '/p',
    'domain' => 'diff.test',
    'secure' => true,
    'httponly' => true,
    'samesite' => 'Lax',
]);
setcookie('strict', 'y', ['samesite' => 'Strict', 'path' => '/']);
setcookie('none', 'z', ['samesite' => 'None', 'secure' => true]);
setcookie('past', 'old', 1000000000, '/');     // 2001-09-09, Max-Age=0
setcookie('deleted', '');                      // PHP's deletion cookie
setrawcookie('raw', 'a%20b');
echo "cookies set\n";
