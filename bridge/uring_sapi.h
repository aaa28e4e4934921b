/* The narrow interface between the Rust server and PHP's embed library.
 *
 * C calls into Rust only through the uring_rs_* functions below (implemented in
 * src/php/callbacks.rs); Rust calls into C only through the uring_* functions. Every
 * per-request callback receives the request context Rust passed to uring_execute()
 * (SG(server_context)), so no callback touches another thread's request. */
#ifndef URING_SAPI_H
#define URING_SAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One $_SERVER entry: key NUL-terminated, value binary-safe. */
typedef struct uring_var {
    const char *key;
    const char *value;
    size_t value_len;
} uring_var;

/* A php.ini value a site sets for one request (php_value / php_admin_value). */
typedef struct uring_ini {
    const char *name;
    const char *value;
    int admin;   /* 1: php_admin_value (the script cannot change it); 0: php_value */
    int applied; /* set by C: 1 when PHP took the value */
} uring_ini;

/* What PHP needs to start one request. Strings are NUL-terminated and owned by Rust
 * for the duration of uring_execute(). */
typedef struct uring_request_info {
    const char *method;
    const char *request_uri;
    const char *query_string;    /* without '?', "" when none */
    const char *script_filename; /* absolute path of the script to run */
    const char *content_type;    /* NULL when the request has none */
    int64_t content_length;      /* -1 when the request has no body */
    const char *cookie;          /* NULL when no Cookie header */
    const char *authorization;   /* NULL when no Authorization header */
    uring_ini *ini;              /* the site's php.ini values, applied before startup */
    size_t ini_count;
} uring_request_info;

/* One response header as PHP holds it ("Name: value"). */
typedef struct uring_header {
    const char *line;
    size_t len;
} uring_header;

/* ---- implemented in Rust ---- */
/* Both return 0 normally and 1 when the client has gone: C then runs PHP's own
 * aborted-connection handling (connection_aborted(), ignore_user_abort()). */
int uring_rs_ub_write(void *ctx, const char *str, size_t len);
int uring_rs_flush(void *ctx);
/* status: the code PHP settled on; status_line: PHP's "HTTP/1.1 404 Not Found" line when
 * a script set one with header(), else NULL. */
void uring_rs_send_headers(void *ctx, int status, const char *status_line,
                           const uring_header *headers, size_t count);
/* headers_send(1xx): an informational response (103 Early Hints) with the Link headers
 * among `headers`, sent while the script goes on. Returns 1 when it went to the client's
 * connection, 0 when it cannot be sent (final head already sent, HTTP/1.0, no Link). */
int uring_rs_send_interim(void *ctx, int status, const uring_header *headers, size_t count);
size_t uring_rs_read_post(void *ctx, char *buf, size_t len);
/* The request's $_SERVER entries, built on first use (PHP asks only when a script uses
 * $_SERVER, with auto_globals_jit); valid until the request ends. */
const uring_var *uring_rs_server_vars(void *ctx, size_t *count);
void uring_rs_log_message(const char *message, int syslog_type);
double uring_rs_request_time(void *ctx);
/* With PHP carrying scripts/php-patches/0001: PHP (re)arms this thread's execution
 * timeout (seconds, 0 = disarm); the server's watchdog enforces it. */
void uring_rs_timer_set(int64_t seconds);
/* Extension functions (ext/uring_ext.c); ctx may be NULL outside a request. */
int uring_rs_finish_request(void *ctx);
int uring_rs_heartbeat(void *ctx, int64_t seconds);
int64_t uring_rs_request_id(void *ctx);
int64_t uring_rs_worker_id(void *ctx);
/* Fills a NUL-terminated "key\0value\0...\0\0" list of uring_server_info() entries. */
const char *uring_rs_server_info(void *ctx);
/* uring_cache_purge(): purges one URL, path or tag from the response cache; returns the
 * entries removed, -1 when the cache is off. Any thread, no request needed. */
int64_t uring_rs_cache_purge(const char *what, size_t len);
/* With PHP carrying scripts/php-patches/0003 (src/php/opcache_restart.rs): OPcache's
 * restart events, and whether the calling thread may reset OPcache's shared memory now.
 * Called with OPcache's lock held: they never block. */
void uring_rs_opcache_event(int event, int detail);
bool uring_rs_opcache_quiescent(void);

/* Worker mode (src/php/worker_script.rs): frankenphp_handle_request() asks for the next
 * request. Blocks; returns its context and sets *info, or returns NULL when the worker
 * script must end. *reset_opcache is set to 1 when this thread should call
 * opcache_reset() first (a reload wants fresh code). */
void *uring_rs_worker_wait(const uring_request_info **info, int *reset_opcache);
/* The request `ctx` ended normally: its response is complete. */
void uring_rs_worker_done(void *ctx);

/* ---- implemented in C (bridge/sapi.c) ---- */

/* Starts the engine once per process. ini_defaults: "name=value\n" lines with the lowest
 * precedence (a php.ini file overrides them); ini_path: a php.ini to load or NULL for
 * none; ini_overrides: "name=value\n" lines that override everything. Returns 0 on
 * success. Must be called before any PHP thread starts. */
int uring_engine_start(const char *ini_defaults, const char *ini_path, const char *ini_overrides);
void uring_engine_stop(void);

/* Per PHP thread: allocate its TSRM resources / free them. */
int uring_thread_start(void);
void uring_thread_stop(void);

/* Runs one request to completion on this thread. Returns PHP's exit status (0 unless
 * exit(n)); -1 when the request could not start. */
int uring_execute(void *ctx, const uring_request_info *info);

/* Runs a worker script (bridge/worker_request.c) as uring_execute runs a script, under
 * the boot request `boot_ctx`/`boot_info`; its frankenphp_handle_request() calls serve
 * requests until it ends. Returns as uring_execute does. */
int uring_worker_execute(void *boot_ctx, const uring_request_info *boot_info);

/* Clears this thread's timeout flag (see uring_thread_timeout): a stop aimed at a
 * worker request that has already ended must not hit the next one. */
void uring_thread_clear_timeout(void *interrupt_flags);

/* Raises PHP's own timeout flags on the thread that owns `interrupt_flags` (see
 * uring_thread_interrupt_flags); safe to call from any thread. */
void uring_thread_timeout(void *interrupt_flags);
/* This thread's executor globals, for uring_thread_timeout from a watchdog. */
void *uring_thread_interrupt_flags(void);

const char *uring_php_version(void);

/* 1 when this PHP lets the server time requests itself (patch 0001), so PHP creates no
 * timer per request; 0 when PHP's own per-thread timers are in use. */
int uring_external_timers(void);

/* 1 when OPcache asks the server before it restarts (patch 0003), else 0. */
int uring_opcache_restart_hooks(void);
/* opcache.force_restart_timeout in seconds as configured; 0 without OPcache. */
int64_t uring_opcache_force_restart_timeout(void);

#ifdef __cplusplus
}
#endif
#endif
