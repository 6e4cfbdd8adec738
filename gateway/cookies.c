/* gateway/cookies.c — Cookie parsing, Set-Cookie formatting and filtering; see cookies.h. */
#include "gateway/cookies.h"

#include <stdio.h>
#include <string.h>

/* Walks "name=value; name2=value2": calls <fn> for each pair with slices; stops when <fn>
 * returns false. Whitespace around names and values is skipped; pairs without '=' are
 * skipped (browsers do not send them; anything odd is simply not ours). */
typedef bool pair_fn(const char *pair, size_t pair_len, const char *name, size_t nlen,
                     const char *val, size_t vlen, void *arg);

static void each_pair(const char *h, pair_fn *fn, void *arg)
{
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        if (!*p)
            break;
        const char *start = p;
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *tail = end;
        while (tail > start && (tail[-1] == ' ' || tail[-1] == '\t'))
            tail--;
        if (eq) {
            const char *ne = eq;
            while (ne > start && (ne[-1] == ' ' || ne[-1] == '\t'))
                ne--;
            const char *v = eq + 1;
            while (v < tail && (*v == ' ' || *v == '\t'))
                v++;
            size_t vlen = (size_t)(tail - v);
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (!fn(start, (size_t)(tail - start), start, (size_t)(ne - start), v, vlen, arg))
                return;
        }
        p = end;
    }
}

struct find_ctx {
    const char *name;
    size_t nlen;
    const char *val;
    size_t vlen;
    bool found;
};

static bool find_pair(const char *pair, size_t pair_len, const char *name, size_t nlen,
                      const char *val, size_t vlen, void *arg)
{
    struct find_ctx *f = arg;
    if (nlen == f->nlen && !memcmp(name, f->name, nlen)) {
        f->val = val;
        f->vlen = vlen;
        f->found = true;
        return false;
    }
    return true;
}

bool gw_cookie_find(const char *header, const char *name, const char **val, size_t *len)
{
    struct find_ctx f = { .name = name, .nlen = strlen(name) };
    if (!header)
        return false;
    each_pair(header, find_pair, &f);
    if (f.found) {
        *val = f.val;
        *len = f.vlen;
    }
    return f.found;
}

void gw_cookie_name(char out[GW_COOKIE_NAME_MAX], const char *base, bool tls)
{
    /* per request: memcpy, not snprintf */
    static const char host[] = "__Host-";
    size_t pl = tls ? sizeof(host) - 1 : 0, bl = strlen(base);
    if (pl + bl >= GW_COOKIE_NAME_MAX)
        bl = GW_COOKIE_NAME_MAX - 1 - pl;       /* config names are at most 64 bytes */
    memcpy(out, host, pl);
    memcpy(out + pl, base, bl);
    out[pl + bl] = '\0';
}

int gw_cookie_set_header(char *out, size_t outlen, const char *name, const char *value,
                         const struct gw_cookie_attrs *a)
{
    char age[40] = "";
    if (a->max_age_s >= 0)
        snprintf(age, sizeof age, "; Max-Age=%ld", a->max_age_s);
    int n = snprintf(out, outlen, "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=%s%s%s\r\n",
                     name, value, a->same_site ? a->same_site : "Lax",
                     a->secure ? "; Secure" : "", age);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

struct filter_ctx {
    const char *const *drop;
    char *out;
    size_t cap, len;
    bool overflow;
};

static bool filter_pair(const char *pair, size_t pair_len, const char *name, size_t nlen,
                        const char *val, size_t vlen, void *arg)
{
    struct filter_ctx *f = arg;
    for (const char *const *d = f->drop; *d; d++)
        if (strlen(*d) == nlen && !memcmp(*d, name, nlen))
            return true;
    size_t need = pair_len + (f->len ? 2 : 0);
    if (f->len + need + 1 > f->cap) {
        f->overflow = true;
        return false;
    }
    if (f->len) {
        memcpy(f->out + f->len, "; ", 2);
        f->len += 2;
    }
    memcpy(f->out + f->len, pair, pair_len);
    f->len += pair_len;
    f->out[f->len] = '\0';
    return true;
}

int gw_cookie_filter(const char *header, const char *const *drop, char *out, size_t outlen)
{
    struct filter_ctx f = { .drop = drop, .out = out, .cap = outlen };
    if (outlen == 0)
        return -1;
    out[0] = '\0';
    each_pair(header, filter_pair, &f);
    return f.overflow ? -1 : (int)f.len;
}
