/* frankenphp_handle_request() / uring_handle_request() and the response-side helper
 * worker scripts call. The request cycle itself is bridge/worker_request.c; this file
 * only checks and adapts arguments. */
#include "php.h"
#include "SAPI.h"
#include "zend_exceptions.h"
#include "ext/spl/spl_exceptions.h"

#include "uring_worker.h"
#include "worker_api.h"

ZEND_TSRMLS_CACHE_EXTERN()

/* Blocks until a request arrives, runs `handler` for it with the superglobals of that
 * request, sends the response; false when the worker script must end (shutdown,
 * WORKER_MAX_REQUESTS, reload). */
PHP_FUNCTION(uring_handle_request)
{
    zend_fcall_info fci;
    zend_fcall_info_cache fcc;

    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_FUNC(fci, fcc)
    ZEND_PARSE_PARAMETERS_END();

    if (!uring_worker_in_script()) {
        zend_throw_exception(spl_ce_RuntimeException,
                             "frankenphp_handle_request() called while not in worker mode "
                             "(this script is not WORKER_SCRIPT)", 0);
        RETURN_THROWS();
    }
    if (uring_worker_in_request()) {
        zend_throw_exception(spl_ce_RuntimeException,
                             "frankenphp_handle_request() called from inside a request handler", 0);
        RETURN_THROWS();
    }
    RETURN_BOOL(uring_worker_handle(&fci, &fcc));
}

static void add_response_header(sapi_header_struct *h, zval *list)
{
    const char *colon = memchr(h->header, ':', h->header_len);
    if (!colon || colon == h->header) {
        return;
    }
    size_t name_len = (size_t)(colon - h->header);
    while (name_len > 0 && (h->header[name_len - 1] == ' ' || h->header[name_len - 1] == '\t')) {
        name_len--;
    }
    if (name_len == 0) {
        return;
    }
    const char *value = colon + 1;
    const char *end = h->header + h->header_len;
    while (value < end && (*value == ' ' || *value == '\t')) {
        value++;
    }
    add_assoc_stringl_ex(list, h->header, name_len, (char *)value, (size_t)(end - value));
}

/* The response headers set so far, name => value (the last of a repeated name), as the
 * CLI server's apache_response_headers() gives them. */
PHP_FUNCTION(uring_response_headers)
{
    ZEND_PARSE_PARAMETERS_NONE();
    array_init(return_value);
    zend_llist_apply_with_argument(&SG(sapi_headers).headers,
                                   (llist_apply_with_arg_func_t)add_response_header, return_value);
}
