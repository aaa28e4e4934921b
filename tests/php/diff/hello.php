<?php
// The smallest script: status 200, default Content-Type, fixed body.
echo "Hello, world!\n";
