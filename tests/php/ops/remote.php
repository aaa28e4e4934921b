<?php
// The client address PHP was given.
echo $_SERVER['REMOTE_ADDR'];
