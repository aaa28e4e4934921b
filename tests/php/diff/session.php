<?php
// Sessions with a fixed id, so Set-Cookie and cache headers are deterministic; the
// session is destroyed at the end so repeated runs start from nothing.
session_id('diffsession0123456789abcdef');
session_start();
$_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
echo "n=", $_SESSION['n'], " id=", session_id(), " name=", session_name(), "\n";
echo "save_handler=", ini_get('session.save_handler'), "\n";
session_write_close();
session_start();
echo "after reopen n=", $_SESSION['n'], "\n";
session_destroy();
