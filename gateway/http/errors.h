/* gateway/http/errors.h — responses onegate writes itself: the small HTML or JSON error page
 * (chosen by Accept, carrying the request id) and the head of any locally generated response.
 */
#ifndef ONEGATE_GATEWAY_HTTP_ERRORS_H
#define ONEGATE_GATEWAY_HTTP_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/http/headers.h"

/* True when an Accept value asks for JSON rather than HTML (JSON listed, and before any
 * text/html). <accept> may be NULL. */
bool gw_accept_prefers_json(const char *accept, size_t len);

/* Appends a complete local response to <out>: status line, Date (<date>, may be NULL),
 * Content-Type (if <content_type>), Content-Length, X-Request-Id, <extra> ("Name: v\r\n"...,
 * may be NULL), Connection: close when !keep_alive (keep-alive when <http10> and keep_alive),
 * then the body unless <head_only>. */
void gw_response_build(struct gw_sbuf *out, int status, const char *content_type,
                       const char *extra, const void *body, size_t len, const char *request_id,
                       const char *date, bool keep_alive, bool http10, bool head_only);

/* Appends an error response: a tiny HTML page, or {"error":...} JSON when <json>; <detail> is a
 * short sentence without secrets (escaped here). */
void gw_error_build(struct gw_sbuf *out, int status, const char *detail, const char *request_id,
                    const char *date, bool json, bool keep_alive, bool http10, bool head_only);

#endif
