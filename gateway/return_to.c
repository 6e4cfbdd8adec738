/* gateway/return_to.c — post-login redirect targets; see return_to.h. Everything not
 * positively recognised as "inside a configured portal" is refused. */
#include "gateway/return_to.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "policy/policy.h"

bool gw_host_matches(const char *req_host, const char *host)
{
    size_t hl = strlen(host), rl = strlen(req_host);
    const char *colon = NULL;
    if (req_host[0] == '[') {
        const char *rb = strchr(req_host, ']');
        colon = rb && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = strchr(req_host, ':');
    }
    if (colon)
        rl = (size_t)(colon - req_host);
    return rl == hl && strncasecmp(req_host, host, hl) == 0;
}

/* Visible ASCII that is safe in a header value and an attribute. */
static bool chars_ok(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c <= 0x20 || *c >= 0x7f || strchr("\"'<>\\`", *c))
            return false;
    return true;
}

/* <path> (up to '?' or '#') starts with the prefix <pp> in the route table's sense: "/a"
 * covers "/a", "/a/..", "/a?.."; "/a/" covers "/a/...". */
static bool path_inside(const char *path, size_t plen, const char *pp)
{
    size_t n = strlen(pp);
    if (plen < n || memcmp(path, pp, n) != 0)
        return false;
    return pp[n - 1] == '/' || plen == n || path[n] == '/';
}

static size_t path_len(const char *p)
{
    return strcspn(p, "?#");
}

int gw_return_to_check(const struct gw_sessions_conf *sc, const char *req_host, bool tls,
                       const char *value, char *out, size_t outlen)
{
    size_t vl = value ? strlen(value) : 0;
    if (!value || vl == 0 || vl >= GW_RETURN_TO_MAX || vl >= outlen || !chars_ok(value))
        goto refuse;
    if (value[0] == '/') {
        if (value[1] == '/')                    /* "//evil": scheme-relative */
            goto refuse;
        size_t pl = path_len(value);
        if (!pol_path_is_normal(value, pl))
            goto refuse;
        for (size_t i = 0; i < sc->nportals; i++) {
            const struct gw_portal_conf *p = &sc->portals[i];
            if (p->host && !gw_host_matches(req_host, p->host))
                continue;
            if (path_inside(value, pl, p->path)) {
                memcpy(out, value, vl + 1);
                return 0;
            }
        }
        goto refuse;
    }
    const char *scheme = tls ? "https://" : "http://";
    size_t sl = strlen(scheme);
    if (strncasecmp(value, scheme, sl) != 0)
        goto refuse;
    const char *auth = value + sl, *slash = strchr(auth, '/');
    if (!slash)
        goto refuse;
    size_t al = (size_t)(slash - auth);
    char host[256];
    if (al == 0 || al >= sizeof host || memchr(auth, '@', al) || memchr(auth, '?', al) ||
        memchr(auth, '#', al))
        goto refuse;
    memcpy(host, auth, al);
    host[al] = '\0';
    const char *colon = host[0] == '[' ? strstr(host, "]:") : strchr(host, ':');
    if (colon) {
        const char *port = colon + (host[0] == '[' ? 2 : 1);
        if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
            goto refuse;
    }
    size_t pl = path_len(slash);
    if (!pol_path_is_normal(slash, pl))
        goto refuse;
    for (size_t i = 0; i < sc->nportals; i++) {
        const struct gw_portal_conf *p = &sc->portals[i];
        if (p->host && gw_host_matches(host, p->host) && path_inside(slash, pl, p->path)) {
            memcpy(out, value, vl + 1);
            return 0;
        }
    }
refuse:
    gw_return_to_default(sc, req_host, out, outlen);
    return -1;
}

void gw_return_to_default(const struct gw_sessions_conf *sc, const char *req_host, char *out,
                          size_t outlen)
{
    for (size_t i = 0; i < sc->nportals; i++) {
        const struct gw_portal_conf *p = &sc->portals[i];
        if (!p->host || gw_host_matches(req_host, p->host)) {
            snprintf(out, outlen, "%s", p->path);
            return;
        }
    }
    snprintf(out, outlen, "/");
}
