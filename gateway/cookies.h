/* gateway/cookies.h — the HTTP cookie details onegate needs (RFC 6265): finding a cookie in a
 * Cookie header, formatting Set-Cookie for the session and pre-login (CSRF) cookies, and
 * removing onegate's own cookies from the Cookie header forwarded to a portal (a portal never
 * sees a live session id). Pure string functions: no I/O, unit-tested.
 */
#ifndef ONEGATE_GATEWAY_COOKIES_H
#define ONEGATE_GATEWAY_COOKIES_H

#include <stdbool.h>
#include <stddef.h>

#define GW_COOKIE_NAME_MAX 80       /* "__Host-" + a 64-byte configured name + suffix */
#define GW_COOKIE_VALUE_MAX 256     /* session ids and CSRF tokens are far shorter */

/* Finds cookie <name> (exact, case-sensitive) in one Cookie header value ("a=1; b=2").
 * Returns true and the value slice (borrowed from <header>, without surrounding quotes) in
 * <val>/<len>, false when absent. When the name occurs more than once the first wins (RFC
 * 6265 §5.4: browsers send the most specific path first). */
bool gw_cookie_find(const char *header, const char *name, const char **val, size_t *len);

/* The name onegate uses for cookie <base> ("onegate_session"): "__Host-<base>" over TLS,
 * <base> otherwise. Writes a NUL-terminated name to <out>. */
void gw_cookie_name(char out[GW_COOKIE_NAME_MAX], const char *base, bool tls);

struct gw_cookie_attrs {
    bool secure;                /* Secure attribute (always over TLS; plain HTTP only when the
                                 * config allows insecure dev cookies on loopback) */
    long max_age_s;             /* -1: a session cookie (no Max-Age); 0: delete now */
    const char *same_site;      /* "Lax" or "Strict" */
};

/* Writes "Set-Cookie: <name>=<value>; Path=/; HttpOnly; SameSite=..; [Secure; ][Max-Age=N]
 * \r\n" into <out>. Returns the length written, or -1 when it does not fit. <value> must be
 * cookie-octets (the caller's tokens are base64url). */
int gw_cookie_set_header(char *out, size_t outlen, const char *name, const char *value,
                         const struct gw_cookie_attrs *a);

/* Copies Cookie header value <header> to <out> without the cookies named in <drop> (NULL-
 * terminated list), keeping the others' order and text. Returns the length written (0 when
 * nothing is left), or -1 when <out> is too small. */
int gw_cookie_filter(const char *header, const char *const *drop, char *out, size_t outlen);

#endif
