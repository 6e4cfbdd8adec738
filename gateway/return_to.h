/* gateway/return_to.h — where a browser may be sent after login: only into a configured
 * portal (sessions.portals: host + path prefix), never anywhere else (no open redirect).
 * Pure function over the configuration; unit-tested form by form.
 */
#ifndef ONEGATE_GATEWAY_RETURN_TO_H
#define ONEGATE_GATEWAY_RETURN_TO_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/config.h"

#define GW_RETURN_TO_MAX 2048

/* Checks <value> (already percent-decoded once, as a form or query value is) as a target for
 * the login request made to <req_host> (Host header, may carry a port; "" when unknown) over
 * <tls>. Accepted:
 *   - "/path[?query][#frag]" inside a portal that has no host, or whose host is <req_host>;
 *   - "http(s)://host[:port]/path..." where host is a configured portal's host and the path
 *     lies inside that portal, with the request's own scheme.
 * The path must be in the policy's normal form (pol_path_is_normal: no "..", "//", "\",
 * encoded '/' or unreserved characters), and everything must be visible ASCII without
 * quotes, angle brackets, backslash or backtick (safe in a Location header and an HTML
 * attribute). Returns 0 and copies the accepted target to <out>, or -1 (refused; <out> then
 * holds the default). */
int gw_return_to_check(const struct gw_sessions_conf *sc, const char *req_host, bool tls,
                       const char *value, char *out, size_t outlen);

/* The default target: the first portal reachable on <req_host> (host-less or same host),
 * else "/". Written to <out>. */
void gw_return_to_default(const struct gw_sessions_conf *sc, const char *req_host, char *out,
                          size_t outlen);

/* True when <req_host> ("name" or "name:port", case-insensitive) names <host>. */
bool gw_host_matches(const char *req_host, const char *host);

#endif
