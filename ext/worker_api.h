/* Worker-mode functions of the uring_php extension (ext/worker_api.c): FrankenPHP's
 * names and the project's own. Included only by ext/uring_ext.c, which lists them. */
#ifndef URING_WORKER_API_H
#define URING_WORKER_API_H

#include "php.h"

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_uring_handle_request, 0, 1, _IS_BOOL, 0)
    ZEND_ARG_TYPE_INFO(0, handler, IS_CALLABLE, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_uring_response_headers, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

PHP_FUNCTION(uring_handle_request);
PHP_FUNCTION(uring_response_headers);

#endif
