/* gateway/endpoints/origin.h — the same-origin check for onegate's own state-changing
 * endpoints (admin API, login, logout): a browser's cross-site request carries an Origin
 * and/or Sec-Fetch-Site header that gives it away. Requests without either header (scripts,
 * curl, old browsers on same-origin GETs) pass: the check protects browsers' ambient
 * credentials (cookies), and the other defences (JSON Content-Type, CSRF token) still apply.
 */
#ifndef ONEGATE_GATEWAY_ENDPOINTS_ORIGIN_H
#define ONEGATE_GATEWAY_ENDPOINTS_ORIGIN_H

#include <stddef.h>

#include "gateway/endpoints/endpoint.h"

/* Returns 0 when <r> may be same-origin: Origin, if present, equals the request's own
 * "scheme://host" (scheme from the connection, host from Host, case-insensitive, "null"
 * refused), and Sec-Fetch-Site, if present, is "same-origin" or "none". Otherwise -1 with a
 * sentence in <why> (no header values quoted beyond the origin). */
int gw_origin_check(struct gw_req *r, char *why, size_t len);

#endif
