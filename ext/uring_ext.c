/* The uring_php PHP extension: the functions apps call, under their uring_* names and
 * the aliases apps written for php-fpm (fastcgi_finish_request) and tokio_php (tokio_*)
 * already use. The work is done in Rust (uring_rs_*); this file only adapts arguments. */
#include "php.h"
#include "php_main.h"
#include "php_output.h"
#include "SAPI.h"
#include "ext/standard/info.h"
#include "ext/standard/head.h"

#include "uring_sapi.h"
#include "worker_api.h"

ZEND_TSRMLS_CACHE_EXTERN()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_uring_finish_request, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_uring_request_heartbeat, 0, 0, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, seconds, IS_LONG, 0, "10")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_uring_request_id, 0, 0, IS_LONG, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_uring_worker_id, 0, 0, IS_LONG, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_uring_server_info, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_uring_headers_send, 0, 0, IS_LONG, 0)
    ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, status, IS_LONG, 0, "200")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_uring_cache_purge, 0, 0, IS_LONG, 0)
    ZEND_ARG_VARIADIC_TYPE_INFO(0, urlsOrTags, IS_STRING, 0)
ZEND_END_ARG_INFO()

PHP_FUNCTION(uring_finish_request)
{
    ZEND_PARSE_PARAMETERS_NONE();
    void *ctx = SG(server_context);
    if (!ctx) {
        RETURN_FALSE;
    }
    /* As php-fpm's fastcgi_finish_request: everything buffered goes out now, headers
     * included; Rust answers false on a second call. */
    php_output_end_all();
    php_header();
    RETURN_BOOL(uring_rs_finish_request(ctx));
}

PHP_FUNCTION(uring_request_heartbeat)
{
    zend_long seconds = 10;
    ZEND_PARSE_PARAMETERS_START(0, 1)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(seconds)
    ZEND_PARSE_PARAMETERS_END();
    void *ctx = SG(server_context);
    if (!ctx || !uring_rs_heartbeat(ctx, (int64_t)seconds)) {
        RETURN_FALSE;
    }
    /* Restart PHP's own max_execution_time timer too, so a script kept alive by
     * heartbeats is not stopped by it either. */
    if (EG(timeout_seconds) > 0) {
        zend_set_timeout(EG(timeout_seconds), 0);
    }
    RETURN_TRUE;
}

PHP_FUNCTION(uring_request_id)
{
    ZEND_PARSE_PARAMETERS_NONE();
    RETURN_LONG((zend_long)uring_rs_request_id(SG(server_context)));
}

PHP_FUNCTION(uring_worker_id)
{
    ZEND_PARSE_PARAMETERS_NONE();
    RETURN_LONG((zend_long)uring_rs_worker_id(SG(server_context)));
}

PHP_FUNCTION(uring_server_info)
{
    ZEND_PARSE_PARAMETERS_NONE();
    array_init(return_value);
    const char *p = uring_rs_server_info(SG(server_context));
    while (p && *p) {
        const char *key = p;
        const char *value = key + strlen(key) + 1;
        if (strcmp(key, "zts") == 0) {
            add_assoc_bool(return_value, key, strcmp(value, "1") == 0);
        } else {
            add_assoc_string(return_value, key, value);
        }
        p = value + strlen(value) + 1;
    }
}

/* headers_send(int $status = 200): int, as FrankenPHP provides it. A 1xx status sends
 * an informational response now (103 Early Hints: the Link headers set so far) and the
 * script goes on, its headers kept for the final response; the answer is
 * SAPI_HEADER_SENT_SUCCESSFULLY (1) when it went out, else SAPI_HEADER_SEND_FAILED (3).
 * Any other status becomes the response code and the headers are sent as
 * sapi_send_headers() does (SUCCESS, 0, or FAILURE, -1). */
PHP_FUNCTION(uring_headers_send)
{
    zend_long status = 200;
    ZEND_PARSE_PARAMETERS_START(0, 1)
        Z_PARAM_OPTIONAL
        Z_PARAM_LONG(status)
    ZEND_PARSE_PARAMETERS_END();
    if (status >= 100 && status < 200) {
        void *ctx = SG(server_context);
        if (!ctx || SG(headers_sent) || SG(request_info).no_headers) {
            RETURN_LONG(SAPI_HEADER_SEND_FAILED);
        }
        size_t count = zend_llist_count(&SG(sapi_headers).headers);
        uring_header *list = count ? emalloc(count * sizeof(uring_header)) : NULL;
        size_t n = 0;
        zend_llist_position pos;
        sapi_header_struct *h = zend_llist_get_first_ex(&SG(sapi_headers).headers, &pos);
        while (h && n < count) {
            list[n].line = h->header;
            list[n].len = h->header_len;
            n++;
            h = zend_llist_get_next_ex(&SG(sapi_headers).headers, &pos);
        }
        int sent = uring_rs_send_interim(ctx, (int)status, list, n);
        if (list) {
            efree(list);
        }
        RETURN_LONG(sent ? SAPI_HEADER_SENT_SUCCESSFULLY : SAPI_HEADER_SEND_FAILED);
    }
    SG(sapi_headers).http_response_code = (int)status;
    RETURN_LONG(sapi_send_headers());
}

/* uring_cache_purge(string ...$urlsOrTags): int. Each argument is a URL
 * ("https://host/path?query"), a path ("/path?query", on every host), "*" (everything)
 * or a tag (Cache-Tag / Surrogate-Key). Returns the entries removed; 0 when the response
 * cache is off, so apps can call it unconditionally. */
PHP_FUNCTION(uring_cache_purge)
{
    zval *args = NULL;
    int argc = 0;
    ZEND_PARSE_PARAMETERS_START(0, -1)
        Z_PARAM_VARIADIC('*', args, argc)
    ZEND_PARSE_PARAMETERS_END();
    for (int i = 0; i < argc; i++) {
        if (Z_TYPE(args[i]) != IS_STRING) {
            zend_argument_type_error(i + 1, "must be of type string, %s given",
                                     zend_zval_type_name(&args[i]));
            RETURN_THROWS();
        }
    }
    zend_long total = 0;
    for (int i = 0; i < argc; i++) {
        int64_t n = uring_rs_cache_purge(Z_STRVAL(args[i]), Z_STRLEN(args[i]));
        if (n > 0) {
            total += (zend_long)n;
        }
    }
    RETURN_LONG(total);
}

/* flush() as apps written for tokio_php (and SSE tutorials) expect: output sitting in
 * the default output buffer (output_buffering=4096, as in php.ini-production) goes out
 * too. Under php-fpm flush() only flushes the SAPI and that output stays buffered until
 * 4 KiB. Buffers a script opened itself (ob_start() to capture a template) are left
 * alone: only the sole, ini-created default buffer is flushed. */
static zif_handler php_flush_handler;

static PHP_FUNCTION(uring_flush)
{
    ZEND_PARSE_PARAMETERS_NONE();
    if (php_output_get_level() == 1 && OG(active) &&
        zend_string_equals_literal(OG(active)->name, "default output handler")) {
        php_output_flush();
    }
    sapi_flush();
}

static PHP_MINIT_FUNCTION(uring_php)
{
    zend_function *f = zend_hash_str_find_ptr(CG(function_table), "flush", sizeof("flush") - 1);
    if (f && f->type == ZEND_INTERNAL_FUNCTION) {
        php_flush_handler = f->internal_function.handler;
        f->internal_function.handler = zif_uring_flush;
    }
    return SUCCESS;
}

static PHP_MSHUTDOWN_FUNCTION(uring_php)
{
    zend_function *f = zend_hash_str_find_ptr(CG(function_table), "flush", sizeof("flush") - 1);
    if (f && f->type == ZEND_INTERNAL_FUNCTION && php_flush_handler) {
        f->internal_function.handler = php_flush_handler;
    }
    return SUCCESS;
}

static const zend_function_entry uring_functions[] = {
    PHP_FE(uring_finish_request, arginfo_uring_finish_request)
    PHP_FE(uring_request_heartbeat, arginfo_uring_request_heartbeat)
    PHP_FE(uring_request_id, arginfo_uring_request_id)
    PHP_FE(uring_worker_id, arginfo_uring_worker_id)
    PHP_FE(uring_server_info, arginfo_uring_server_info)
    PHP_FE(uring_headers_send, arginfo_uring_headers_send)
    PHP_FALIAS(headers_send, uring_headers_send, arginfo_uring_headers_send)
    PHP_FE(uring_cache_purge, arginfo_uring_cache_purge)
    PHP_FALIAS(fastcgi_finish_request, uring_finish_request, arginfo_uring_finish_request)
    /* Worker mode (docs/worker-mode.md), under FrankenPHP's names too. */
    PHP_FE(uring_handle_request, arginfo_uring_handle_request)
    PHP_FALIAS(frankenphp_handle_request, uring_handle_request, arginfo_uring_handle_request)
    PHP_FALIAS(frankenphp_finish_request, uring_finish_request, arginfo_uring_finish_request)
    PHP_FE(uring_response_headers, arginfo_uring_response_headers)
    PHP_FALIAS(frankenphp_response_headers, uring_response_headers, arginfo_uring_response_headers)
    PHP_FALIAS(tokio_finish_request, uring_finish_request, arginfo_uring_finish_request)
    PHP_FALIAS(tokio_request_heartbeat, uring_request_heartbeat, arginfo_uring_request_heartbeat)
    PHP_FALIAS(tokio_request_id, uring_request_id, arginfo_uring_request_id)
    PHP_FALIAS(tokio_worker_id, uring_worker_id, arginfo_uring_worker_id)
    PHP_FALIAS(tokio_server_info, uring_server_info, arginfo_uring_server_info)
    PHP_FE_END
};

static PHP_MINFO_FUNCTION(uring_php)
{
    php_info_print_table_start();
    php_info_print_table_row(2, "uring_php", "enabled");
    php_info_print_table_end();
}

zend_module_entry uring_ext_module_entry = {
    STANDARD_MODULE_HEADER,
    "uring_php",
    uring_functions,
    PHP_MINIT(uring_php),
    PHP_MSHUTDOWN(uring_php),
    NULL, /* RINIT */
    NULL, /* RSHUTDOWN */
    PHP_MINFO(uring_php),
    "0.1.0",
    STANDARD_MODULE_PROPERTIES
};
