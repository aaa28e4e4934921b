<?php
echo uring_worker_id();
