<?php
// A worker script that never gets to serve: it fails while booting.
throw new LogicException('the app cannot boot: missing configuration');
