/* policy/route_table.c — host + longest-path-prefix route lookup (see route_table.h).
 *
 * Sits on the per-request path: gateway/request calls pol_route_table_lookup once per request
 * with the Host header and the path. The table is built once per configuration and is
 * read-only afterwards, so lookups take no lock and allocate nothing.
 *
 * Layout: routes are grouped by host (lowercased; one group for "any host"). The host groups
 * are sorted by name and found by binary search. Inside a group every prefix sits in an
 * open-addressing hash table keyed by (length, FNV-1a hash). A lookup walks the path once,
 * computing the FNV-1a hash incrementally and remembering it at every length where a prefix
 * could match (just before and just after each '/', and at the end of the path), then probes
 * those lengths longest first. The first hit is the longest matching prefix. A path with more
 * candidate lengths than fit on the stack falls back to a scan of the group's prefixes sorted
 * by length, which gives the same answer.
 */
#include "policy/route_table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Candidate prefix lengths remembered per lookup before falling back to the linear scan. */
#define CANDIDATES_MAX 64

struct route_entry {
    const char *prefix;         /* borrowed from the table's string pool */
    size_t len;
    uint64_t hash;
    size_t id;
};

struct host_group {
    const char *host;           /* lowercased, in the string pool; NULL for the any-host group */
    size_t hostlen;
    struct route_entry *by_len; /* sorted by prefix length, longest first */
    size_t n;
    struct route_entry **slots; /* hash table over by_len[], capacity mask + 1 slots */
    size_t mask;
    size_t max_len;             /* longest prefix in the group */
};

struct pol_route_table {
    struct host_group *hosts;   /* sorted by host name */
    size_t nhosts;
    struct host_group any;      /* any-host routes (n may be 0) */
    char *pool;                 /* all host and prefix strings */
    struct route_entry *entries;/* backing store of every group's by_len[] */
    struct route_entry **slots; /* backing store of every group's slots[] */
};

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static inline uint64_t fnv_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * FNV_PRIME;
}

static uint64_t fnv_hash(const char *s, size_t len)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < len; i++)
        h = fnv_step(h, (unsigned char)s[i]);
    return h;
}

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Compares <a> (any case, <alen> bytes) with the lowercase name <b>; like strcmp's sign. */
static int host_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        unsigned char ca = lower((unsigned char)a[i]), cb = (unsigned char)b[i];
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Build-time record of one spec, sorted to form the groups. */
struct spec_ref {
    const char *host;           /* lowercased copy in the pool, or NULL */
    size_t hostlen;
    const char *prefix;
    size_t len;
    size_t index;               /* position in the caller's specs[] */
};

static int ref_cmp(const void *pa, const void *pb)
{
    const struct spec_ref *a = pa, *b = pb;
    /* any-host first, then by host name, then longest prefix first, then by prefix bytes,
     * then by spec order (so a duplicate's later index comes second) */
    if (!a->host != !b->host)
        return a->host ? 1 : -1;
    if (a->host) {
        int c = host_cmp(a->host, a->hostlen, b->host, b->hostlen);
        if (c)
            return c;
    }
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    int c = memcmp(a->prefix, b->prefix, a->len);
    if (c)
        return c;
    return a->index < b->index ? -1 : (a->index > b->index ? 1 : 0);
}

static bool same_route(const struct spec_ref *a, const struct spec_ref *b)
{
    if (!a->host != !b->host)
        return false;
    if (a->host && (a->hostlen != b->hostlen || memcmp(a->host, b->host, a->hostlen) != 0))
        return false;
    return a->len == b->len && memcmp(a->prefix, b->prefix, a->len) == 0;
}

/* Fills <g>'s hash table; <slots> has room for mask + 1 pointers, all NULL. */
static void group_index(struct host_group *g, struct route_entry **slots, size_t mask)
{
    g->slots = slots;
    g->mask = mask;
    for (size_t i = 0; i < g->n; i++) {
        struct route_entry *e = &g->by_len[i];
        size_t s = (size_t)e->hash & mask;
        while (slots[s])
            s = (s + 1) & mask;
        slots[s] = e;
    }
}

static size_t slots_for(size_t n)
{
    size_t cap = 4;
    while (cap < 2 * n)
        cap <<= 1;
    return cap;
}

void pol_route_table_free(struct pol_route_table *t)
{
    if (!t)
        return;
    free(t->hosts);
    free(t->pool);
    free(t->entries);
    free(t->slots);
    free(t);
}

/* Builds the table. Returns the table, or NULL with errno EEXIST (duplicate: *dup_index is the
 * later spec of the pair), EINVAL (a spec without a prefix starting with '/'; *dup_index is
 * SIZE_MAX) or ENOMEM (*dup_index is SIZE_MAX). An empty host ("") means any host. */
struct pol_route_table *pol_route_table_build(const struct pol_route_spec *specs, size_t n,
                                              size_t *dup_index)
{
    struct pol_route_table *t = NULL;
    struct spec_ref *refs = NULL;
    size_t poolsize = 0;
    int err = ENOMEM;

    if (dup_index)
        *dup_index = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!specs[i].path_prefix || specs[i].path_prefix[0] != '/') {
            err = EINVAL;
            goto fail;
        }
        poolsize += strlen(specs[i].path_prefix) + 1;
        if (specs[i].host)
            poolsize += strlen(specs[i].host) + 1;
    }

    t = calloc(1, sizeof(*t));
    if (!t)
        goto fail;
    t->pool = malloc(poolsize ? poolsize : 1);
    refs = calloc(n ? n : 1, sizeof(*refs));
    t->entries = calloc(n ? n : 1, sizeof(*t->entries));
    if (!t->pool || !refs || !t->entries)
        goto fail;

    char *p = t->pool;
    for (size_t i = 0; i < n; i++) {
        struct spec_ref *r = &refs[i];
        r->index = i;
        if (specs[i].host && specs[i].host[0]) {
            size_t hl = strlen(specs[i].host);
            for (size_t k = 0; k < hl; k++)
                p[k] = (char)lower((unsigned char)specs[i].host[k]);
            p[hl] = '\0';
            r->host = p;
            r->hostlen = hl;
            p += hl + 1;
        }
        size_t pl = strlen(specs[i].path_prefix);
        memcpy(p, specs[i].path_prefix, pl + 1);
        r->prefix = p;
        r->len = pl;
        p += pl + 1;
    }
    qsort(refs, n, sizeof(*refs), ref_cmp);

    /* duplicates are adjacent after the sort; report the later spec of the first pair found
     * in spec order */
    size_t dup = SIZE_MAX;
    for (size_t i = 1; i < n; i++)
        if (same_route(&refs[i - 1], &refs[i]) && refs[i].index < dup)
            dup = refs[i].index;
    if (dup != SIZE_MAX) {
        if (dup_index)
            *dup_index = dup;
        err = EEXIST;
        goto fail;
    }

    /* count host groups and hash slots */
    size_t nhosts = 0, nslots = 0, i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && !refs[j].host == !refs[i].host &&
               (!refs[i].host || (refs[j].hostlen == refs[i].hostlen &&
                                  memcmp(refs[j].host, refs[i].host, refs[i].hostlen) == 0)))
            j++;
        if (refs[i].host)
            nhosts++;
        nslots += slots_for(j - i);
        i = j;
    }
    t->hosts = calloc(nhosts ? nhosts : 1, sizeof(*t->hosts));
    t->slots = calloc(nslots ? nslots : 1, sizeof(*t->slots));
    if (!t->hosts || !t->slots)
        goto fail;

    struct route_entry **slots = t->slots;
    i = 0;
    while (i < n) {
        size_t j = i;
        struct host_group *g = refs[i].host ? &t->hosts[t->nhosts++] : &t->any;
        g->host = refs[i].host;
        g->hostlen = refs[i].hostlen;
        g->by_len = &t->entries[i];
        while (j < n && !refs[j].host == !refs[i].host &&
               (!refs[i].host || (refs[j].hostlen == refs[i].hostlen &&
                                  memcmp(refs[j].host, refs[i].host, refs[i].hostlen) == 0))) {
            struct route_entry *e = &t->entries[j];
            e->prefix = refs[j].prefix;
            e->len = refs[j].len;
            e->hash = fnv_hash(e->prefix, e->len);
            e->id = specs[refs[j].index].id;
            if (e->len > g->max_len)
                g->max_len = e->len;
            j++;
        }
        g->n = j - i;
        size_t cap = slots_for(g->n);
        group_index(g, slots, cap - 1);
        slots += cap;
        i = j;
    }
    free(refs);
    return t;

fail:
    free(refs);
    pol_route_table_free(t);
    errno = err;
    return NULL;
}

/* True when <prefix> of <len> bytes matches path <path> of <pathlen> bytes (query removed). */
static inline bool prefix_matches(const struct route_entry *e, const char *path, size_t pathlen)
{
    if (e->len > pathlen || memcmp(e->prefix, path, e->len) != 0)
        return false;
    return e->len == pathlen || e->prefix[e->len - 1] == '/' || path[e->len] == '/';
}

/* Looks <path> up in one group. Returns 0 and sets *id, or -1. */
static int group_lookup(const struct host_group *g, const char *path, size_t pathlen, size_t *id)
{
    size_t cand_len[CANDIDATES_MAX];
    uint64_t cand_hash[CANDIDATES_MAX];
    size_t ncand = 0;
    uint64_t h = FNV_OFFSET;
    /* bytes to look at: a '/' at index max_len still ends a candidate of length max_len */
    size_t limit = pathlen < g->max_len + 1 ? pathlen : g->max_len + 1;

    if (g->n == 0)
        return -1;
    /* Candidate lengths L: path[L] == '/' (prefix "/a" for "/a/b"), path[L-1] == '/' (prefix
     * "/a/"), and L == pathlen. Only L <= max_len can match anything. */
    for (size_t i = 0; i < limit; i++) {
        if (path[i] == '/' && i > 0) {
            if (ncand == CANDIDATES_MAX)
                goto scan;
            cand_len[ncand] = i;
            cand_hash[ncand++] = h;
        }
        h = fnv_step(h, (unsigned char)path[i]);
        if (path[i] == '/' && i + 1 < pathlen && i + 1 <= g->max_len) {
            if (ncand == CANDIDATES_MAX)
                goto scan;
            cand_len[ncand] = i + 1;
            cand_hash[ncand++] = h;
        }
    }
    if (pathlen <= g->max_len) {
        if (ncand == CANDIDATES_MAX)
            goto scan;
        cand_len[ncand] = pathlen;
        cand_hash[ncand++] = h;
    }

    while (ncand > 0) {
        ncand--;
        size_t len = cand_len[ncand];
        uint64_t hash = cand_hash[ncand];
        for (size_t s = (size_t)hash & g->mask; g->slots[s]; s = (s + 1) & g->mask) {
            const struct route_entry *e = g->slots[s];
            if (e->hash == hash && e->len == len && memcmp(e->prefix, path, len) == 0) {
                *id = e->id;
                return 0;
            }
        }
    }
    return -1;

scan:
    for (size_t i = 0; i < g->n; i++) {
        if (prefix_matches(&g->by_len[i], path, pathlen)) {
            *id = g->by_len[i].id;
            return 0;
        }
    }
    return -1;
}

/* Strips ":port" from a Host value: "[v6]:port" keeps the brackets, "name:port" the name. */
static size_t host_without_port(const char *host, size_t hostlen)
{
    if (hostlen > 0 && host[0] == '[') {
        const char *close = memchr(host, ']', hostlen);
        return close ? (size_t)(close - host) + 1 : hostlen;
    }
    const char *colon = memchr(host, ':', hostlen);
    return colon ? (size_t)(colon - host) : hostlen;
}

/* See route_table.h. The path is cut at the first '?' in case a caller passes the target. */
int pol_route_table_lookup(const struct pol_route_table *t, const char *host, size_t hostlen,
                           const char *path, size_t pathlen, size_t *id)
{
    if (!t || !path)
        return -1;
    const char *q = memchr(path, '?', pathlen);
    if (q)
        pathlen = (size_t)(q - path);

    if (host && hostlen && t->nhosts) {
        hostlen = host_without_port(host, hostlen);
        if (hostlen > 1 && host[hostlen - 1] == '.')
            hostlen--;          /* "name." is "name" (upstreams treat it so) */
        size_t lo = 0, hi = t->nhosts;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const struct host_group *g = &t->hosts[mid];
            int c = host_cmp(host, hostlen, g->host, g->hostlen);
            if (c == 0) {
                if (group_lookup(g, path, pathlen, id) == 0)
                    return 0;
                break;
            }
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    return group_lookup(&t->any, path, pathlen, id);
}
