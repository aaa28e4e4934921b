/* Worker mode: many requests inside one long PHP request (the worker script).
 *
 * A worker script runs like a classic request (uring_execute) under a "boot" request of
 * its own. Its first call to frankenphp_handle_request() ends that boot request's
 * layers; each later call waits (in Rust) for a request, rebuilds what PHP's request
 * startup would for it (output layer, SAPI state, superglobals, session), runs the
 * handler, then tears down what PHP's request shutdown would (buffers flushed, headers
 * sent, session written, uploaded files deleted) and hands the response back. Between
 * requests the thread is bound to the boot context, whose output goes to the log.
 *
 * A fatal error, an uncaught exception or exit() inside the handler bails out to the
 * worker script's own request shutdown (in uring_execute): the request in flight gets
 * what PHP produced, as under php-fpm, and Rust starts the script again. */
#include "php.h"
#include "php_main.h"
#include "php_output.h"
#include "php_variables.h"
#include "SAPI.h"
#include "rfc1867.h"
#include "zend_exceptions.h"
#include "zend_ini.h"
#include "ext/standard/php_var.h"
#include "ext/session/php_session.h"

#include "uring_sapi.h"
#include "uring_request.h"
#include "uring_worker.h"

ZEND_TSRMLS_CACHE_EXTERN()

/* Modules whose per-request state must be reset between worker requests (the rest keep
 * theirs for the script's life, as under FrankenPHP): session writes and closes the
 * session, filter frees its copies of the request input. */
static const char *const per_request_modules[] = {"session", "filter", NULL};

typedef struct worker_state {
    bool in_script;   /* uring_worker_execute is running on this thread */
    bool booted;      /* the boot request's layers have been ended */
    bool in_request;  /* between a request's startup and its shutdown */
    bool idle_output; /* the output layer is up for the boot context */
    void *boot_ctx;
    const uring_request_info *boot_info;
    /* max_execution_time as configured (not as set_time_limit() left it): each request's
     * own limit. */
    zend_long time_limit;
} worker_state;

static __thread worker_state ws;

/* The session module's request shutdown (session written and closed, per-request state
 * freed) keeping the save handler a script registered with session_set_save_handler():
 * the handler object lives on in the worker, so does its registration (frameworks create
 * their session storage, and register its handler, once per worker). */
static void session_shutdown(zend_module_entry *m)
{
    /* The handler's callables, as an array of zvals: PHP 8.2 declares them as a union with
     * names[], 8.4 as a plain struct of the same zvals. */
    enum { COUNT = sizeof(PS(mod_user_names)) / sizeof(zval) };
    zval *live = (zval *)&PS(mod_user_names);
    zval kept[COUNT];
    for (int i = 0; i < COUNT; i++) {
        ZVAL_COPY(&kept[i], &live[i]);
    }
    zend_string *class_name = PS(mod_user_class_name) ? zend_string_copy(PS(mod_user_class_name)) : NULL;
    m->request_shutdown_func(m->type, m->module_number);
    live = (zval *)&PS(mod_user_names);
    for (int i = 0; i < COUNT; i++) {
        zval_ptr_dtor(&live[i]);
        ZVAL_COPY_VALUE(&live[i], &kept[i]);
    }
    if (PS(mod_user_class_name)) {
        zend_string_release(PS(mod_user_class_name));
    }
    PS(mod_user_class_name) = class_name;
}

static void module_hook(bool startup)
{
    for (const char *const *name = per_request_modules; *name; name++) {
        zend_module_entry *m = zend_hash_str_find_ptr(&module_registry, *name, strlen(*name));
        if (!m) {
            continue;
        }
        if (startup && m->request_startup_func) {
            m->request_startup_func(m->type, m->module_number);
        } else if (!startup && m->request_shutdown_func) {
            if (strcmp(*name, "session") == 0) {
                session_shutdown(m);
            } else {
                m->request_shutdown_func(m->type, m->module_number);
            }
        }
    }
}

/* What php_hash_environment() does at a request startup, for an engine that is already
 * running: every auto global is rebuilt from the new request, except $_ENV (the
 * process's, unchanged) and $GLOBALS. $_SERVER and $_REQUEST are "JIT" globals: built
 * when a script that uses them is compiled, which in a worker happened long ago, so
 * they are rebuilt here if they exist and left armed (built on first use) if not. */
static void reset_superglobals(void)
{
    /* $_FILES is filled by the POST parser into whatever is there: start empty. */
    zval_ptr_dtor(&PG(http_globals)[TRACK_VARS_FILES]);
    ZVAL_UNDEF(&PG(http_globals)[TRACK_VARS_FILES]);

    zend_string *env = ZSTR_KNOWN(ZEND_STR_AUTOGLOBAL_ENV);
    zend_string *server = ZSTR_KNOWN(ZEND_STR_AUTOGLOBAL_SERVER);
    zend_string *request = ZSTR_KNOWN(ZEND_STR_AUTOGLOBAL_REQUEST);
    zend_auto_global *ag;
    /* Registration order: _GET, _POST, _COOKIE, _SERVER, _ENV, _REQUEST, _FILES, then
     * GLOBALS and _SESSION: $_REQUEST is merged from the three before it. */
    ZEND_HASH_MAP_FOREACH_PTR(CG(auto_globals), ag) {
        if (zend_string_equals(ag->name, env)) {
            continue;
        }
        if (zend_string_equals(ag->name, server) || zend_string_equals(ag->name, request)) {
            if (!ag->jit || !ag->armed) {
                ag->armed = ag->auto_global_callback(ag->name);
            }
        } else if (ag->jit) {
            /* GLOBALS */
        } else if (ag->auto_global_callback) {
            ag->armed = ag->auto_global_callback(ag->name);
        } else {
            ag->armed = 0;
        }
    } ZEND_HASH_FOREACH_END();
}

/* php_request_startup()'s share that concerns one HTTP request. */
static void begin_request_layers(void)
{
    php_output_activate();
    PG(header_is_being_sent) = 0;
    PG(connection_status) = PHP_CONNECTION_NORMAL;
    sapi_activate();
    if (PG(expose_php) && !SG(headers_sent)) {
        sapi_add_header(SAPI_PHP_VERSION_HEADER, sizeof(SAPI_PHP_VERSION_HEADER) - 1, 1);
    }
    if (PG(output_handler) && PG(output_handler)[0]) {
        zval oh;
        ZVAL_STRING(&oh, PG(output_handler));
        php_output_start_user(&oh, 0, PHP_OUTPUT_HANDLER_STDFLAGS);
        zval_ptr_dtor(&oh);
    } else if (PG(output_buffering)) {
        php_output_start_user(NULL, PG(output_buffering) > 1 ? PG(output_buffering) : 0,
                              PHP_OUTPUT_HANDLER_STDFLAGS);
    } else if (PG(implicit_flush)) {
        php_output_set_implicit_flush(1);
    }
    reset_superglobals();
    module_hook(true);
    SG(sapi_started) = 1;
}

static void clear_last_error(void)
{
    if (PG(last_error_message)) {
        zend_string_release(PG(last_error_message));
        PG(last_error_message) = NULL;
    }
    if (PG(last_error_file)) {
        zend_string_release(PG(last_error_file));
        PG(last_error_file) = NULL;
    }
    PG(last_error_type) = 0;
    PG(last_error_lineno) = 0;
}

/* php_request_shutdown()'s share that concerns one HTTP request: buffers flushed,
 * headers sent, session written and closed, the body stream closed, uploaded files that
 * were not moved deleted. What a classic request would not find at its start is
 * removed too: $_SESSION (until session_start()) and error_get_last(). */
static void end_request_layers(void)
{
    zend_try {
        php_output_end_all();
    } zend_end_try();
    zend_try {
        module_hook(false);
    } zend_end_try();
    zend_try {
        php_output_deactivate();
    } zend_end_try();
    if (SG(request_info).request_body) {
        php_stream_close(SG(request_info).request_body);
        SG(request_info).request_body = NULL;
    }
    zend_try {
        sapi_deactivate();
    } zend_end_try();
    zend_hash_str_del(&EG(symbol_table), "_SESSION", sizeof("_SESSION") - 1);
    clear_last_error();
    zend_set_memory_limit(PG(memory_limit));
}

/* Between requests output still has somewhere to go (the boot context, which logs it)
 * instead of PHP's fallback, stderr. No headers are sent (there is nobody to send them
 * to), yet headers_sent() stays false, as under FrankenPHP: frameworks that run code
 * after the response (Symfony's kernel terminate, session storage) check it. */
static void enter_idle(void)
{
    uring_request_bind(ws.boot_ctx, ws.boot_info);
    php_output_activate();
    SG(request_info).no_headers = 1;
    ws.idle_output = true;
}

static void leave_idle(void)
{
    if (!ws.idle_output) {
        return;
    }
    ws.idle_output = false;
    zend_try {
        php_output_end_all();
        php_output_deactivate();
    } zend_end_try();
}

int uring_worker_execute(void *boot_ctx, const uring_request_info *boot_info)
{
    memset(&ws, 0, sizeof(ws));
    ws.in_script = true;
    ws.boot_ctx = boot_ctx;
    ws.boot_info = boot_info;
    int rc = uring_execute(boot_ctx, boot_info);
    memset(&ws, 0, sizeof(ws));
    return rc;
}

bool uring_worker_in_script(void)
{
    return ws.in_script;
}

bool uring_worker_in_request(void)
{
    return ws.in_request;
}

static void reset_opcache(void)
{
    zend_function *f = zend_hash_str_find_ptr(CG(function_table), "opcache_reset", sizeof("opcache_reset") - 1);
    if (f) {
        zval rv;
        ZVAL_UNDEF(&rv);
        zend_call_known_function(f, NULL, NULL, &rv, 0, NULL, NULL);
        zval_ptr_dtor(&rv);
    }
}

bool uring_worker_handle(zend_fcall_info *fci, zend_fcall_info_cache *fcc)
{
    if (!ws.booted) {
        /* The boot request ends here; what it printed was logged. */
        end_request_layers();
        ws.time_limit = zend_ini_long("max_execution_time", sizeof("max_execution_time") - 1, 1);
        ws.booted = true;
        enter_idle();
    }
    /* No time limit while waiting for a request. */
    zend_unset_timeout();

    const uring_request_info *info = NULL;
    int want_reset = 0;
    void *ctx = uring_rs_worker_wait(&info, &want_reset);
    if (want_reset) {
        reset_opcache();
    }
    if (!ctx) {
        return false;
    }

    leave_idle();
    ws.in_request = true;
    uring_request_bind(ctx, info);
    zend_set_timeout(ws.time_limit, 1);
    begin_request_layers();
    zend_set_timeout(ws.time_limit, 0);

    zval retval;
    ZVAL_UNDEF(&retval);
    fci->retval = &retval;
    fci->params = NULL;
    fci->param_count = 0;
    zend_call_function(fci, fcc);
    zval_ptr_dtor(&retval);

    if (EG(exception)) {
        if (zend_is_unwind_exit(EG(exception)) || zend_is_graceful_exit(EG(exception))) {
            /* exit(): the request ends with what it wrote, and so does the script. */
            zend_clear_exception();
        } else {
            /* As an uncaught exception in a classic script: "PHP Fatal error: Uncaught
             * ...", status 500; the script's state is not to be trusted after it. */
            zend_exception_error(EG(exception), E_ERROR);
        }
        zend_bailout();
    }

    zend_unset_timeout();
    end_request_layers();
    ws.in_request = false;
    uring_rs_worker_done(ctx);
    enter_idle();
    return true;
}
