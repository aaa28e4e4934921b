/* C-internal: binding a request's context and info to this PHP thread (bridge/sapi.c),
 * shared by a classic request (uring_execute) and worker mode (bridge/worker_request.c).
 * Not seen by Rust. */
#ifndef URING_REQUEST_H
#define URING_REQUEST_H

#include "uring_sapi.h"

/* Makes `ctx`/`info` the request PHP's SAPI callbacks and SG(request_info) describe;
 * also resets the response status to 200 and parses the Authorization header. */
void uring_request_bind(void *ctx, const uring_request_info *info);
/* Clears what uring_request_bind set. */
void uring_request_unbind(void);

#endif
