/* The uring_php SAPI module: PHP's side of the bridge.
 *
 * Each callback forwards to Rust (uring_rs_*) with the request context stored in
 * SG(server_context). Nothing here longjmps across Rust frames: Rust callbacks never
 * call back into PHP, and what may bail out (aborted connections) runs here, after the
 * Rust call returned. */
#include <string.h>
#include <stdlib.h>

#include "php.h"
#include "php_main.h"
#include "php_variables.h"
#include "php_output.h"
#include "SAPI.h"
#include "ext/standard/info.h"
#include "zend_exceptions.h"
#include "zend_ini.h"
#include "zend_constants.h"
#include "zend_max_execution_timer.h"

#include "uring_sapi.h"
#include "uring_request.h"

ZEND_TSRMLS_CACHE_DEFINE()

extern zend_module_entry uring_ext_module_entry;

/* The request being run on this thread, for callbacks that get no context argument. */
static __thread const uring_request_info *current_info;

/* The name apps see as PHP_SAPI / php_sapi_name(). OPcache only starts for SAPIs it
 * knows, so module startup runs under a borrowed name (see uring_engine_start). */
#define URING_SAPI_NAME "uring_php"
#define URING_SAPI_STARTUP_NAME "fpm-fcgi"

static char *ini_defaults_text;

static int uring_sapi_startup(sapi_module_struct *module)
{
    return php_module_startup(module, &uring_ext_module_entry);
}

static int uring_sapi_deactivate(void)
{
    return SUCCESS;
}

static int uring_sapi_activate(void)
{
    /* SG(request_info).proto_num stays at sapi_activate()'s HTTP/1.0, as under php-fpm
     * (FastCGI never sets it): PHP turns header('Location: ...') after a POST into 303
     * when it is above 1000, and php-fpm, the reference, answers 302. */
    return SUCCESS;
}

static size_t uring_sapi_ub_write(const char *str, size_t len)
{
    void *ctx = SG(server_context);
    if (!ctx) {
        /* Output outside a request (module startup messages): nowhere to send it. */
        return len;
    }
    if (uring_rs_ub_write(ctx, str, len) != 0) {
        php_handle_aborted_connection();
    }
    return len;
}

static void uring_sapi_flush(void *ctx)
{
    if (!ctx) {
        return;
    }
    /* A flush sends the headers even before any body (as the CLI server does). */
    if (!SG(headers_sent)) {
        sapi_send_headers();
        SG(headers_sent) = 1;
    }
    if (uring_rs_flush(ctx) != 0) {
        php_handle_aborted_connection();
    }
}

static int uring_sapi_send_headers(sapi_headers_struct *sapi_headers)
{
    void *ctx = SG(server_context);
    if (!ctx) {
        return SAPI_HEADER_SENT_SUCCESSFULLY;
    }
    uring_header stack[32];
    uring_header *list = stack;
    size_t count = zend_llist_count(&sapi_headers->headers);
    if (count > sizeof(stack) / sizeof(stack[0])) {
        list = malloc(count * sizeof(uring_header));
        if (!list) {
            return SAPI_HEADER_SEND_FAILED;
        }
    }
    size_t n = 0;
    zend_llist_position pos;
    sapi_header_struct *h = zend_llist_get_first_ex(&sapi_headers->headers, &pos);
    while (h && n < count) {
        list[n].line = h->header;
        list[n].len = h->header_len;
        n++;
        h = zend_llist_get_next_ex(&sapi_headers->headers, &pos);
    }
    uring_rs_send_headers(ctx, sapi_headers->http_response_code, sapi_headers->http_status_line, list, n);
    if (list != stack) {
        free(list);
    }
    return SAPI_HEADER_SENT_SUCCESSFULLY;
}

static size_t uring_sapi_read_post(char *buf, size_t count)
{
    void *ctx = SG(server_context);
    return ctx ? uring_rs_read_post(ctx, buf, count) : 0;
}

static char *uring_sapi_read_cookies(void)
{
    return current_info ? (char *)current_info->cookie : NULL;
}

static void uring_sapi_register_variables(zval *track_vars_array)
{
    /* Like php-fpm with clear_env=yes: only the request's variables, never the
     * server's environment (it may hold secrets). getenv() still sees it. */
    void *ctx = SG(server_context);
    if (!ctx) {
        return;
    }
    size_t count = 0;
    const uring_var *v = uring_rs_server_vars(ctx, &count);
    if (!v) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        php_register_variable_safe(v[i].key, v[i].value, v[i].value_len, track_vars_array);
    }
}

static void uring_sapi_log_message(const char *message, int syslog_type)
{
    uring_rs_log_message(message, syslog_type);
}

static zend_result uring_sapi_get_request_time(double *request_time)
{
    void *ctx = SG(server_context);
    if (!ctx) {
        return FAILURE;
    }
    *request_time = uring_rs_request_time(ctx);
    return SUCCESS;
}

/* Built-in ini defaults with the lowest precedence: a php.ini file and the explicit
 * overrides (ini_entries) both win over them. */
static void uring_sapi_ini_defaults(HashTable *configuration_hash)
{
    /* PHP_SAPI was registered with the real name just before this; OPcache checks the
     * name later in module startup. Lend it a name it knows until startup is over.
     * (php_module_startup works on its own copy, the global sapi_module.) */
    sapi_module.name = URING_SAPI_STARTUP_NAME;
    if (!ini_defaults_text) {
        return;
    }
    const char *p = ini_defaults_text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t line_len = eol ? (size_t)(eol - p) : strlen(p);
        const char *eq = memchr(p, '=', line_len);
        if (eq && eq > p) {
            zval tmp;
            size_t value_len = line_len - (size_t)(eq - p) - 1;
            ZVAL_NEW_STR(&tmp, zend_string_init(eq + 1, value_len, 1));
            zend_hash_str_update(configuration_hash, p, (size_t)(eq - p), &tmp);
        }
        if (!eol) {
            break;
        }
        p = eol + 1;
    }
}

/* "HTTP_USER_AGENT" -> "User-Agent", CONTENT_TYPE and CONTENT_LENGTH by name, other
 * variables skipped: php-fpm's conversion of its FastCGI parameters, so the names and
 * their order match what getallheaders() returns there. */
static void uring_add_request_header(zval *headers, const char *key, const char *value, size_t value_len)
{
    size_t key_len = strlen(key);
    if (key_len > 5 && memcmp(key, "HTTP_", 5) == 0) {
        char *name = emalloc(key_len - 5 + 1);
        const char *p = key + 5;
        char *out = name;
        *out++ = *p++;
        while (*p) {
            if (*p == '_') {
                *out++ = '-';
                p++;
                if (*p) {
                    *out++ = *p++;
                }
            } else if (*p >= 'A' && *p <= 'Z') {
                *out++ = (char)(*p++ - 'A' + 'a');
            } else {
                *out++ = *p++;
            }
        }
        *out = 0;
        add_assoc_stringl_ex(headers, name, (size_t)(out - name), (char *)value, value_len);
        efree(name);
    } else if (strcmp(key, "CONTENT_TYPE") == 0) {
        add_assoc_stringl_ex(headers, "Content-Type", sizeof("Content-Type") - 1, (char *)value, value_len);
    } else if (strcmp(key, "CONTENT_LENGTH") == 0) {
        add_assoc_stringl_ex(headers, "Content-Length", sizeof("Content-Length") - 1, (char *)value, value_len);
    }
}

/* apache_request_headers() / getallheaders(): the request's headers, as php-fpm gives
 * them (from the same variables $_SERVER gets, in php-fpm's order). */
PHP_FUNCTION(uring_request_headers)
{
    ZEND_PARSE_PARAMETERS_NONE();
    array_init(return_value);
    void *ctx = SG(server_context);
    if (!ctx) {
        return;
    }
    size_t count = 0;
    const uring_var *v = uring_rs_server_vars(ctx, &count);
    if (!v) {
        return;
    }
    /* php-fpm walks its FastCGI parameters newest first: the last request header first,
     * and CONTENT_TYPE/CONTENT_LENGTH (sent before the headers) overwrite the values of
     * the HTTP_CONTENT_* entries in place. */
    for (size_t i = count; i-- > 0;) {
        uring_add_request_header(return_value, v[i].key, v[i].value, v[i].value_len);
    }
}

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_uring_request_headers, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

/* Functions the SAPI itself provides, as php-fpm provides these two. */
static const zend_function_entry uring_sapi_functions[] = {
    ZEND_NAMED_FE(apache_request_headers, zif_uring_request_headers, arginfo_uring_request_headers)
    ZEND_NAMED_FE(getallheaders, zif_uring_request_headers, arginfo_uring_request_headers)
    /* FrankenPHP's name for the same list (worker scripts written for it call it). */
    ZEND_NAMED_FE(frankenphp_request_headers, zif_uring_request_headers, arginfo_uring_request_headers)
    PHP_FE_END
};

static sapi_module_struct uring_sapi_module = {
    URING_SAPI_NAME,                /* name */
    "uring_php",                    /* pretty name */
    uring_sapi_startup,             /* startup */
    php_module_shutdown_wrapper,    /* shutdown */
    uring_sapi_activate,            /* activate */
    uring_sapi_deactivate,          /* deactivate */
    uring_sapi_ub_write,            /* unbuffered write */
    uring_sapi_flush,               /* flush */
    NULL,                           /* get uid */
    NULL,                           /* getenv */
    php_error,                      /* error handler */
    NULL,                           /* header handler */
    uring_sapi_send_headers,        /* send headers handler */
    NULL,                           /* send header handler */
    uring_sapi_read_post,           /* read POST data */
    uring_sapi_read_cookies,        /* read Cookies */
    uring_sapi_register_variables,  /* register server variables */
    uring_sapi_log_message,         /* Log message */
    uring_sapi_get_request_time,    /* Request Time */
    NULL,                           /* Child terminate */
    STANDARD_SAPI_MODULE_PROPERTIES
};

#ifdef ZEND_MAX_EXECUTION_TIMER_EXTERNAL
static void uring_timer_hook(zend_long seconds)
{
    uring_rs_timer_set((int64_t)seconds);
}
#endif

int uring_external_timers(void)
{
#ifdef ZEND_MAX_EXECUTION_TIMER_EXTERNAL
    return 1;
#else
    return 0;
#endif
}

int uring_opcache_restart_hooks(void)
{
#ifdef ZEND_ACCEL_EVENT_SCHEDULED
    return 1;
#else
    return 0;
#endif
}

int64_t uring_opcache_force_restart_timeout(void)
{
    return (int64_t)zend_ini_long("opcache.force_restart_timeout",
                                  sizeof("opcache.force_restart_timeout") - 1, 0);
}

int uring_engine_start(const char *ini_defaults, const char *ini_path, const char *ini_overrides)
{
#ifdef ZEND_MAX_EXECUTION_TIMER_EXTERNAL
    zend_max_execution_timer_external = uring_timer_hook;
#endif
#ifdef ZEND_ACCEL_EVENT_SCHEDULED
    /* Before OPcache starts: it must never reset its memory under a running script. */
    zend_accel_restart_observer = uring_rs_opcache_event;
    zend_accel_quiescent = uring_rs_opcache_quiescent;
#endif
    php_tsrm_startup();
    ZEND_TSRMLS_CACHE_UPDATE();

    sapi_startup(&uring_sapi_module);

    /* sapi_startup() clears ini_entries: set everything ini-related after it. */
    ini_defaults_text = ini_defaults ? strdup(ini_defaults) : NULL;
    uring_sapi_module.ini_defaults = uring_sapi_ini_defaults;
    if (ini_path && *ini_path) {
        uring_sapi_module.php_ini_path_override = strdup(ini_path);
        uring_sapi_module.php_ini_ignore = 0;
    } else {
        /* No php.ini from the working directory or the build's prefix by surprise. */
        uring_sapi_module.php_ini_ignore = 1;
    }
    uring_sapi_module.php_ini_ignore_cwd = 1;
    uring_sapi_module.additional_functions = uring_sapi_functions;
    uring_sapi_module.ini_entries = ini_overrides ? strdup(ini_overrides) : NULL;

    int rc = uring_sapi_module.startup(&uring_sapi_module);
    sapi_module.name = URING_SAPI_NAME;
    return rc == FAILURE ? -1 : 0;
}

void uring_engine_stop(void)
{
    php_module_shutdown();
    sapi_shutdown();
    tsrm_shutdown();
    /* const char * since PHP 8.3; the string is our strdup() either way. */
    free((void *)uring_sapi_module.ini_entries);
    uring_sapi_module.ini_entries = NULL;
    free(uring_sapi_module.php_ini_path_override);
    uring_sapi_module.php_ini_path_override = NULL;
    free(ini_defaults_text);
    ini_defaults_text = NULL;
}

typedef struct uring_interrupt_flags {
    zend_atomic_bool *vm_interrupt;
    zend_atomic_bool *timed_out;
} uring_interrupt_flags;

static __thread uring_interrupt_flags thread_flags;

int uring_thread_start(void)
{
    (void)ts_resource(0);
    ZEND_TSRMLS_CACHE_UPDATE();
    /* The server resolves script paths itself; a chdir per request would also race
     * between threads (the working directory is process-wide). */
    SG(options) |= SAPI_OPTION_NO_CHDIR;
    thread_flags.vm_interrupt = &EG(vm_interrupt);
    thread_flags.timed_out = &EG(timed_out);
    return 0;
}

void uring_thread_stop(void)
{
    ts_free_thread();
}

void *uring_thread_interrupt_flags(void)
{
    return &thread_flags;
}

void uring_thread_timeout(void *interrupt_flags)
{
    /* What PHP's own timer handler does, aimed at one thread: the VM notices the
     * interrupt at its next check and raises "Maximum execution time exceeded". */
    uring_interrupt_flags *f = interrupt_flags;
    zend_atomic_bool_store(f->timed_out, true);
    zend_atomic_bool_store(f->vm_interrupt, true);
}

/* A site's php.ini values, as Apache applies php_value / php_admin_value: before the
 * request starts, at the ACTIVATE stage, so startup already sees them (output
 * buffering, upload limits, open_basedir) and request shutdown restores them. An admin
 * value also makes the entry unchangeable by the script for this request. */
static void uring_apply_site_ini(const uring_request_info *info)
{
    for (size_t i = 0; i < info->ini_count; i++) {
        uring_ini *e = &info->ini[i];
        zend_string *name = zend_string_init(e->name, strlen(e->name), 1);
        e->applied = zend_alter_ini_entry_chars(name, e->value, strlen(e->value),
                         e->admin ? PHP_INI_SYSTEM : PHP_INI_PERDIR,
                         PHP_INI_STAGE_ACTIVATE) == SUCCESS;
        zend_string_release_ex(name, 1);
    }
}

void uring_request_bind(void *ctx, const uring_request_info *info)
{
    current_info = info;
    SG(server_context) = ctx;
    SG(request_info).request_method = info->method;
    /* php-fpm sets request_uri to the script name; PHP uses it for nothing visible. */
    SG(request_info).request_uri = (char *)info->request_uri;
    SG(request_info).query_string = (char *)info->query_string;
    SG(request_info).path_translated = (char *)info->script_filename;
    SG(request_info).content_type = info->content_type;
    SG(request_info).content_length = info->content_length < 0 ? 0 : info->content_length;
    SG(sapi_headers).http_response_code = 200;
    if (info->authorization) {
        php_handle_auth_data(info->authorization);
    }
}

void uring_request_unbind(void)
{
    SG(server_context) = NULL;
    SG(request_info).request_method = NULL;
    SG(request_info).request_uri = NULL;
    SG(request_info).query_string = NULL;
    SG(request_info).path_translated = NULL;
    SG(request_info).content_type = NULL;
    SG(request_info).content_length = 0;
    current_info = NULL;
}

void uring_thread_clear_timeout(void *interrupt_flags)
{
    uring_interrupt_flags *f = interrupt_flags;
    zend_atomic_bool_store(f->timed_out, false);
}

int uring_execute(void *ctx, const uring_request_info *info)
{
    int exit_status;

    uring_request_bind(ctx, info);
    /* EG(exit_status) survives from the previous request otherwise. */
    EG(exit_status) = 0;
    uring_apply_site_ini(info);

    if (php_request_startup() == FAILURE) {
        php_request_shutdown(NULL);
        exit_status = -1;
    } else {
        zend_file_handle file_handle;
        zend_stream_init_filename(&file_handle, info->script_filename);
        file_handle.primary_script = 1;
        zend_first_try {
            php_execute_script(&file_handle);
        } zend_end_try();
        zend_destroy_file_handle(&file_handle);
        exit_status = EG(exit_status);
        php_request_shutdown(NULL);
    }

    uring_request_unbind();
    return exit_status;
}

const char *uring_php_version(void)
{
    return PHP_VERSION;
}
