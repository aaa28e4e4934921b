<?php
// Answers with status ?code=, with a body unless ?empty=1.
http_response_code((int)($_GET['code'] ?? 500));
if (empty($_GET['empty'])) {
    echo "the application's own error page";
}
