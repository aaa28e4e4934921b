/* C-internal: the worker-mode request cycle (bridge/worker_request.c) as the extension's
 * frankenphp_handle_request() (ext/worker_api.c) calls it. Not seen by Rust. */
#ifndef URING_WORKER_H
#define URING_WORKER_H

#include "php.h"

/* Whether this thread is running a worker script / is inside one of its requests. */
bool uring_worker_in_script(void);
bool uring_worker_in_request(void);
/* One turn of frankenphp_handle_request(): waits, serves one request with `fci`; false
 * when the script must end. May bail out (the handler's fatal error or exit()). */
bool uring_worker_handle(zend_fcall_info *fci, zend_fcall_info_cache *fcc);

#endif
