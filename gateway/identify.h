/* gateway/identify.h — "identify + decide", the stage between routing and proxying
 * (gateway/http/request.c calls it at its seam) and the session lookup onegate's own
 * endpoints use.
 *
 * Per proxied request:
 *   1. the policy decides for an anonymous principal first: a public route passes and a route
 *      nobody may use is refused, both without touching Redis;
 *   2. otherwise the session cookie is checked with ONE pipelined Redis call
 *      (auth_session_touch: session + current person card); Redis down or slow -> 503, never
 *      pass (fail closed);
 *   3. the person's principal is decided: allow -> the proxy, with the client's identity
 *      headers removed and X-Onegate-Person added; need_login -> 302 to the login page for
 *      browsers, 401 + WWW-Authenticate for APIs; deny -> 403 naming what is missing, logged
 *      with the deciding rule.
 * Identity headers removed on every proxied request, public or not: X-Forwarded-User, every
 * X-Auth-*, X-Onegate-*, the configured person header and sessions.strip_headers; on requests
 * allowed as a person also Authorization; onegate's own cookies never reach a portal.
 */
#ifndef ONEGATE_GATEWAY_IDENTIFY_H
#define ONEGATE_GATEWAY_IDENTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/session.h"
#include "gateway/endpoints/endpoint.h"

/* request.c's seam: decides <r> (kind PROXY, route set) and either calls gw_proxy_start() or
 * answers. May finish before returning or later on the worker's thread. */
void gw_identify_start(struct gw_req *r);
/* The client went away while the stage waits for Redis: its callback will not run. */
void gw_identify_cancel(struct gw_req *r);
/* Frees what the stage attached to <r> (from gw_request_free). */
void gw_identify_release(struct gw_req *r);
/* gw_fwd_req.drop for <r> (arg): true for the headers that must not reach the upstream. */
bool gw_identify_drop_header(const char *name, size_t len, void *arg);

/* The value of cookie <name> in <r>'s Cookie header(s); borrowed from the request. */
bool gw_req_cookie(const struct gw_req *r, const char *name, const char **val, size_t *len);

/* The session cookie's name for <r> ("__Host-" prefixed over TLS) into <out>. */
void gw_identify_cookie_name(const struct gw_req *r, char *out, size_t outlen);

/* Session lookup for onegate's own endpoints (whoami, admin API, logout). <cb> runs exactly
 * once on the worker's thread, possibly before this returns: rc 0 with <info> (borrowed for
 * the call), AUTH_SESSION_ENOTFOUND (no cookie, malformed, unknown, expired, revoked or the
 * person is no longer active), AUTH_SESSION_EREDIS (fail closed: 503). The request must stay
 * owned by the caller's handler until <cb> ran (local requests are: they are released only by
 * gw_req_respond). */
typedef void gw_session_cb(struct gw_req *r, int rc, const struct auth_session_info *info,
                           void *arg);
void gw_identify_session(struct gw_req *r, gw_session_cb *cb, void *arg);

/* Set-Cookie header line (with CRLF) that deletes the session cookie, into <out>. */
void gw_identify_clear_cookie(const struct gw_req *r, char *out, size_t outlen);

/* True when <r>'s client (after trusted-proxy processing) and socket peer are loopback. */
bool gw_req_is_loopback(const struct gw_req *r);

#endif
