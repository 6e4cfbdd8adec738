/* gateway/config_check.c — value checkers and parsers shared by the configuration sections:
 * names, hosts, paths, header and cookie names, claim strings, addresses, relative paths.
 * Each reports "FILE:LINE:COL: message" at the value's node; no libyaml here.
 */
#include "gateway/config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* No control characters, no spaces; non-empty unless <allow_empty>. */
int conf_check_chars(struct conf_loader *L, const char *key, struct conf_node *v, const char *s,
                     bool allow_empty, bool allow_space)
{
    char b[64];
    if (!*s && !allow_empty)
        return conf_fail(L, conf_pos(v), "%s must not be empty", key);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c == 0x7f || (*c == ' ' && !allow_space))
            return conf_fail(L, conf_pos(v), "%s must not contain %scontrol characters "
                             "(got '%s')", key, allow_space ? "" : "spaces or ",
                             conf_shown(s, strlen(s), b));
    return 0;
}

static int check_visible(struct conf_loader *L, const char *key, struct conf_node *v, const char *s,
                         bool allow_empty)
{
    return conf_check_chars(L, key, v, s, allow_empty, false);
}

int conf_check_token(struct conf_loader *L, const char *key, struct conf_node *v, const char *s)
{
    return check_visible(L, key, v, s, false);
}

int conf_check_key_prefix(struct conf_loader *L, const char *key, struct conf_node *v,
                          const char *s)
{
    return check_visible(L, key, v, s, true);
}

/* Text shown to people (titles): non-empty, spaces allowed, no control characters. */
int conf_check_text(struct conf_loader *L, const char *key, struct conf_node *v, const char *s)
{
    return conf_check_chars(L, key, v, s, false, true);
}

/* URL path characters a route prefix may hold: no query, fragment, spaces or controls. */
static int check_path_chars(struct conf_loader *L, const char *key, struct conf_node *v,
                            const char *s)
{
    char b[64];
    if (check_visible(L, key, v, s, false) < 0)
        return -1;
    if (strpbrk(s, "?#"))
        return conf_fail(L, conf_pos(v), "%s must not contain '?' or '#' (got '%s')", key,
                         conf_shown(s, strlen(s), b));
    return 0;
}

int conf_check_route_path(struct conf_loader *L, const char *key, struct conf_node *v,
                          const char *s)
{
    char b[64];
    if (s[0] != '/')
        return conf_fail(L, conf_pos(v), "route path must start with '/' (got '%s')",
                         conf_shown(s, strlen(s), b));
    return check_path_chars(L, key, v, s);
}

int conf_check_builtin_prefix(struct conf_loader *L, const char *key, struct conf_node *v,
                              const char *s)
{
    char b[64];
    size_t n = strlen(s);
    if (n < 1 || s[0] != '/' || s[n - 1] != '/')
        return conf_fail(L, conf_pos(v), "%s must start and end with '/' (got '%s')", key,
                         conf_shown(s, n, b));
    return check_path_chars(L, key, v, s);
}

/* A Host value to match: a DNS-style name or an address ("[v6]" in brackets), no port. */
int conf_check_host(struct conf_loader *L, const char *key, struct conf_node *v, const char *s)
{
    char b[64];
    size_t n = strlen(s);
    bool ok = n > 0 && n <= 253;
    if (ok && s[0] == '[') {
        ok = n > 2 && s[n - 1] == ']' && strspn(s + 1, "0123456789abcdefABCDEF:.") == n - 2;
    } else {
        for (size_t i = 0; ok && i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_';
        }
    }
    if (!ok)
        return conf_fail(L, conf_pos(v), "invalid host '%s' (expected a host name or address "
                         "without port)", conf_shown(s, n, b));
    return 0;
}

/* Upstream names show up in logs and metric labels: keep them to [A-Za-z0-9_.-]. */
int conf_check_name(struct conf_loader *L, const char *key, struct conf_node *v, const char *s)
{
    char b[64];
    size_t n = strlen(s);
    bool ok = n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789_.-") == n;
    if (!ok)
        return conf_fail(L, conf_pos(v), "invalid %s '%s' (expected 1 to 64 of A-Z a-z 0-9 _ . -)",
                         key, conf_shown(s, n, b));
    return 0;
}

/* -- names that end up in tokens and headers -- */

/* A claim value onegate writes into tokens (issuer, audience): visible ASCII, no quotes or
 * backslashes, so it reads the same in JSON, logs and docs. */
int conf_check_jwt_string(struct conf_loader *L, const char *key, struct conf_node *v,
                          const char *s)
{
    char b[64];
    if (check_visible(L, key, v, s, false) < 0)
        return -1;
    if (strlen(s) > 255 || strpbrk(s, "\"\\"))
        return conf_fail(L, conf_pos(v), "%s must be 1 to 255 visible characters without quotes "
                         "or backslashes (got '%s')", key, conf_shown(s, strlen(s), b));
    return 0;
}

/* An HTTP token (RFC 9110 tchar), 1..64 bytes: cookie and header names. */
static bool is_token(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                     "!#$%&'*+-.^_`|~") == n;
}

int conf_check_cookie_name(struct conf_loader *L, const char *key, struct conf_node *v,
                           const char *s)
{
    char b[64];
    if (!is_token(s))
        return conf_fail(L, conf_pos(v), "invalid %s '%s' (expected 1 to 64 token characters)",
                         key, conf_shown(s, strlen(s), b));
    if (!strncasecmp(s, "__Host-", 7) || !strncasecmp(s, "__Secure-", 9))
        return conf_fail(L, conf_pos(v), "%s '%s' must not carry a __Host-/__Secure- prefix "
                         "(onegate adds __Host- over TLS)", key, conf_shown(s, strlen(s), b));
    return 0;
}

int conf_check_header_name(struct conf_loader *L, const char *key, struct conf_node *v,
                           const char *s)
{
    char b[64];
    if (!is_token(s))
        return conf_fail(L, conf_pos(v), "invalid header name '%s' for %s (expected 1 to 64 "
                         "token characters)", conf_shown(s, strlen(s), b), key);
    return 0;
}

/* -- values that are not plain strings -- */

/* See config_internal.h. */
int conf_parse_addr(struct conf_loader *L, const char *key, struct conf_node *v,
                    struct gw_addr *out)
{
    const char *s;
    char b[64];
    if (conf_get_string(L, v, key, &s) < 0)
        return -1;
    if (gw_addr_parse(s, out) < 0)
        return conf_fail(L, conf_pos(v), "bad address '%s' for %s (expected \"a.b.c.d:port\" or "
                         "\"[v6]:port\"; no host names)", conf_shown(s, strlen(s), b), key);
    return 0;
}

/* See config_internal.h. Returns a new string or NULL on ENOMEM. */
char *conf_path_near_config(const struct conf_loader *L, const char *path)
{
    const char *slash = strrchr(L->name, '/');
    if (path[0] == '/' || !slash)
        return strdup(path);
    size_t dl = (size_t)(slash - L->name) + 1, pl = strlen(path);
    char *out = malloc(dl + pl + 1);
    if (out) {
        memcpy(out, L->name, dl);
        memcpy(out + dl, path, pl + 1);
    }
    return out;
}
