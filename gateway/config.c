/* gateway/config.c — loads onegate's YAML configuration into struct gw_config (config.h).
 *
 * The only file that touches libyaml. Runs at start-up, for --check-config and on SIGHUP;
 * never on the request path. The document is loaded with libyaml's document API (nodes keep
 * their marks) and walked against a small table-driven schema: each mapping is a `struct
 * section` listing its keys, each key a type (integer with range, string with a checker,
 * nested section, or a custom handler) and an offset into the struct being filled. A new
 * top-level section (auth:, sessions:, jwt:, ...) is one more row in top_fields[] plus its
 * own section table. Every error is "FILE:LINE:COLUMN: message", 1-based, pointing at the
 * offending node. No global state: each load has its own struct loader.
 *
 * The role policy (top-level roles:/scopes:, routes[].public/access; docs/POLICY.md) is fed to
 * a pol_builder (policy/policy.h) while the document is walked, with each node's position, and
 * compiled in finish_top next to the route table. Builder errors are reported at once, so the
 * first mistake in document order is the one named.
 */
#include "gateway/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "auth/jwt_keys.h"
#include "auth/password.h"

/* A config file larger than this is refused before parsing. */
#define CONFIG_MAX_BYTES (16u * 1024 * 1024)
#define WORKERS_MAX 256

struct loader {
    const char *name;               /* file name used in messages */
    const char *input;              /* the whole document (for reader-error positions) */
    size_t inlen;
    char *err;
    size_t errlen;
    yaml_document_t *doc;
    struct gw_config *cfg;
    struct gw_conf_pos *route_upstream_pos; /* where each route's `upstream` value is */
    struct pol_builder *pb;         /* the role policy being built; compiled in finish_top */
};

/* ---- errors ---- */

static struct gw_conf_pos mark_pos(yaml_mark_t m)
{
    return (struct gw_conf_pos){ .line = (int)m.line + 1, .col = (int)m.column + 1 };
}

static struct gw_conf_pos node_pos(const yaml_node_t *n)
{
    return mark_pos(n->start_mark);
}

/* Writes "FILE:LINE:COL: message" into the caller's buffer. Always returns -1. */
__attribute__((format(printf, 3, 4)))
static int fail_at(struct loader *L, struct gw_conf_pos pos, const char *fmt, ...)
{
    if (!L->err || L->errlen == 0)
        return -1;
    int n = snprintf(L->err, L->errlen, "%s:%d:%d: ", L->name, pos.line, pos.col);
    if (n >= 0 && (size_t)n < L->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(L->err + n, L->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Copies <s> (length <len>) for quoting in a message: at most 60 bytes, non-printable
 * bytes shown as '?', so that a hostile file cannot put control characters into logs. */
static const char *shown(const char *s, size_t len, char buf[64])
{
    size_t n = len > 60 ? 60 : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (len > 60) {
        buf[57] = buf[58] = buf[59] = '.';
    }
    buf[n] = '\0';
    return buf;
}

/* Reports a policy builder/compiler message "LINE:COL: text" as "FILE:LINE:COL: text".
 * A message without a position (out of memory) is placed at <fallback>. Names quoted by the
 * builder come from the file, so control and non-ASCII bytes are shown as '?' here, as
 * shown() does for the loader's own messages. Always returns -1. */
static int fail_policy(struct loader *L, const char *msg, struct gw_conf_pos fallback)
{
    struct gw_conf_pos pos = fallback;
    int line = 0, col = 0, used = 0;
    char text[GW_CONFIG_ERR_MAX];

    if (!msg)
        msg = "invalid policy";
    if (sscanf(msg, "%d:%d: %n", &line, &col, &used) == 2 && used > 0 && line > 0 && col > 0) {
        pos = (struct gw_conf_pos){ line, col };
        msg += used;
    }
    size_t n = 0;
    for (; msg[n] && n < sizeof(text) - 1; n++) {
        unsigned char c = (unsigned char)msg[n];
        text[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    text[n] = '\0';
    return fail_at(L, pos, "%s", text);
}

/* ---- node helpers ---- */

static yaml_node_t *node_at(struct loader *L, int index)
{
    return yaml_document_get_node(L->doc, index);
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A plain (unquoted) scalar that YAML means as null: "", "~", "null". */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = scalar(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

/* Describes what a node is, for "expected X, got Y". */
static const char *describe(const yaml_node_t *n, char buf[80])
{
    char s[64];
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_SCALAR_NODE:
        if (is_null(n))
            return "nothing (null)";
        snprintf(buf, 80, "'%s'", shown(scalar(n), n->data.scalar.length, s));
        return buf;
    default:
        return "nothing";
    }
}

static int want_type(struct loader *L, const yaml_node_t *n, yaml_node_type_t type,
                     const char *what, const char *key)
{
    char d[80];
    if (n->type == type && !(type == YAML_SCALAR_NODE && is_null(n)))
        return 0;
    return fail_at(L, node_pos(n), "expected %s for %s, got %s", what, key, describe(n, d));
}

/* Gets a string value: a non-null scalar without NUL bytes. Returns 0 and sets *out
 * (borrowed from the document), or -1 with the error written. */
static int get_string(struct loader *L, const yaml_node_t *n, const char *key, const char **out)
{
    if (want_type(L, n, YAML_SCALAR_NODE, "a string", key) < 0)
        return -1;
    if (strlen(scalar(n)) != n->data.scalar.length)
        return fail_at(L, node_pos(n), "%s contains a NUL byte", key);
    *out = scalar(n);
    return 0;
}

/* Gets an unsigned integer in [min, max] from a plain decimal scalar. Returns 0 or -1. */
static int get_uint(struct loader *L, const yaml_node_t *n, const char *key, uint64_t min,
                    uint64_t max, uint64_t *out)
{
    char d[80], s[64];
    if (n->type != YAML_SCALAR_NODE || is_null(n) ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return fail_at(L, node_pos(n), "expected an integer for %s, got %s", key,
                       n->type == YAML_SCALAR_NODE && !is_null(n) ? "a quoted string"
                                                                  : describe(n, d));
    const char *p = scalar(n);
    size_t len = n->data.scalar.length;
    if (p[0] == '-' && len > 1 && p[1] >= '0' && p[1] <= '9')
        return fail_at(L, node_pos(n), "%s must not be negative (got %s)", key,
                       shown(p, len, s));
    /* YAML 1.1 reads 010 as octal 8; refuse the ambiguity rather than pick a meaning */
    if (len > 1 && p[0] == '0' && strspn(p, "0123456789") == len)
        return fail_at(L, node_pos(n), "%s must be written without leading zeros (got %s)", key,
                       shown(p, len, s));
    uint64_t v = 0;
    bool overflow = false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return fail_at(L, node_pos(n), "expected an integer for %s, got '%s'", key,
                           shown(p, len, s));
        unsigned digit = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            overflow = true;
        else
            v = v * 10 + digit;
    }
    if (overflow || v < min || v > max)
        return fail_at(L, node_pos(n), "%s out of range: %s (expected %llu..%llu)", key,
                       shown(p, len, s), (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

/* Fails on the second occurrence of a key in mapping <map>. Keys must be strings. */
static int check_keys(struct loader *L, yaml_node_t *map)
{
    yaml_node_pair_t *start = map->data.mapping.pairs.start, *top = map->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = start; p < top; p++) {
        yaml_node_t *k = node_at(L, p->key);
        char s[64];
        if (!k || k->type != YAML_SCALAR_NODE || is_null(k) ||
            strlen(scalar(k)) != k->data.scalar.length)
            return fail_at(L, k ? node_pos(k) : node_pos(map), "mapping keys must be strings");
        for (yaml_node_pair_t *q = start; q < p; q++) {
            yaml_node_t *k2 = node_at(L, q->key);
            if (!strcmp(scalar(k), scalar(k2))) {
                struct gw_conf_pos first = node_pos(k2);
                return fail_at(L, node_pos(k), "duplicate key '%s' (first at %d:%d)",
                               shown(scalar(k), k->data.scalar.length, s), first.line,
                               first.col);
            }
        }
    }
    return 0;
}

/* The value node of <key> in mapping <map>, or NULL. */
static yaml_node_t *map_get(struct loader *L, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(L, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp(scalar(k), key))
            return node_at(L, p->value);
    }
    return NULL;
}

/* ---- the schema ---- */

enum field_type {
    F_U32,          /* uint32_t at offset, range [min, max] */
    F_U64,          /* uint64_t at offset, range [min, max] */
    F_STR,          /* char * at offset (replaces a default), checked by <check> */
    F_SECTION,      /* nested mapping described by <section>, struct at offset */
    F_CUSTOM,       /* <fn> does everything */
};

struct section;
typedef int field_fn(struct loader *L, const char *key, yaml_node_t *value, void *base);
typedef int str_check_fn(struct loader *L, const char *key, yaml_node_t *value, const char *s);

struct field {
    const char *key;
    enum field_type type;
    size_t offset;
    bool required;
    uint64_t min, max;
    str_check_fn *check;
    const struct section *section;
    field_fn *fn;
};

struct section {
    const char *where;              /* "in route", "at top level": used in messages */
    const struct field *fields;
    size_t nfields;
    /* runs after every key was read; <map> is the mapping node */
    int (*finish)(struct loader *L, yaml_node_t *map, void *base);
};

static int parse_section(struct loader *L, const struct section *sec, yaml_node_t *map,
                         void *base, const char *key);

static int set_field(struct loader *L, const struct field *f, yaml_node_t *v, void *base)
{
    void *dst = (char *)base + f->offset;
    uint64_t u;
    const char *s;

    switch (f->type) {
    case F_U32:
        if (get_uint(L, v, f->key, f->min, f->max, &u) < 0)
            return -1;
        *(uint32_t *)dst = (uint32_t)u;
        return 0;
    case F_U64:
        if (get_uint(L, v, f->key, f->min, f->max, &u) < 0)
            return -1;
        *(uint64_t *)dst = u;
        return 0;
    case F_STR: {
        if (get_string(L, v, f->key, &s) < 0 || (f->check && f->check(L, f->key, v, s) < 0))
            return -1;
        char *copy = strdup(s);
        if (!copy)
            return fail_at(L, node_pos(v), "out of memory");
        free(*(char **)dst);
        *(char **)dst = copy;
        return 0;
    }
    case F_SECTION:
        return parse_section(L, f->section, v, dst, f->key);
    case F_CUSTOM:
        return f->fn(L, f->key, v, base);
    }
    return -1;
}

/* Reads mapping <map> into <base> following <sec>: unknown keys, duplicate keys and missing
 * required keys are errors. <key> names the mapping in type errors. Returns 0 or -1. */
static int parse_section(struct loader *L, const struct section *sec, yaml_node_t *map,
                         void *base, const char *key)
{
    if (want_type(L, map, YAML_MAPPING_NODE, "a mapping", key) < 0 || check_keys(L, map) < 0)
        return -1;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(L, p->key);
        const struct field *f = NULL;
        for (size_t i = 0; i < sec->nfields && !f; i++)
            if (!strcmp(sec->fields[i].key, scalar(k)))
                f = &sec->fields[i];
        if (!f) {
            char s[64], expected[512];
            size_t n = 0;
            expected[0] = '\0';
            for (size_t i = 0; i < sec->nfields && n < sizeof(expected); i++)
                n += (size_t)snprintf(expected + n, sizeof(expected) - n, "%s%s",
                                      i ? ", " : "", sec->fields[i].key);
            return fail_at(L, node_pos(k), "unknown key '%s' %s (expected %s)",
                           shown(scalar(k), k->data.scalar.length, s), sec->where, expected);
        }
        if (set_field(L, f, node_at(L, p->value), base) < 0)
            return -1;
    }
    for (size_t i = 0; i < sec->nfields; i++)
        if (sec->fields[i].required && !map_get(L, map, sec->fields[i].key))
            return fail_at(L, node_pos(map), "missing required key '%s' %s",
                           sec->fields[i].key, sec->where);
    return sec->finish ? sec->finish(L, map, base) : 0;
}

/* ---- value checkers ---- */

/* No control characters, no spaces; non-empty unless <allow_empty>. */
static int check_chars(struct loader *L, const char *key, yaml_node_t *v, const char *s,
                       bool allow_empty, bool allow_space)
{
    char b[64];
    if (!*s && !allow_empty)
        return fail_at(L, node_pos(v), "%s must not be empty", key);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c == 0x7f || (*c == ' ' && !allow_space))
            return fail_at(L, node_pos(v), "%s must not contain %scontrol characters "
                           "(got '%s')", key, allow_space ? "" : "spaces or ",
                           shown(s, strlen(s), b));
    return 0;
}

static int check_visible(struct loader *L, const char *key, yaml_node_t *v, const char *s,
                         bool allow_empty)
{
    return check_chars(L, key, v, s, allow_empty, false);
}

static int check_token(struct loader *L, const char *key, yaml_node_t *v, const char *s)
{
    return check_visible(L, key, v, s, false);
}

static int check_key_prefix(struct loader *L, const char *key, yaml_node_t *v, const char *s)
{
    return check_visible(L, key, v, s, true);
}

/* Text shown to people (titles): non-empty, spaces allowed, no control characters. */
static int check_text(struct loader *L, const char *key, yaml_node_t *v, const char *s)
{
    return check_chars(L, key, v, s, false, true);
}

/* URL path characters a route prefix may hold: no query, fragment, spaces or controls. */
static int check_path_chars(struct loader *L, const char *key, yaml_node_t *v, const char *s)
{
    char b[64];
    if (check_visible(L, key, v, s, false) < 0)
        return -1;
    if (strpbrk(s, "?#"))
        return fail_at(L, node_pos(v), "%s must not contain '?' or '#' (got '%s')", key,
                       shown(s, strlen(s), b));
    return 0;
}

static int check_route_path(struct loader *L, const char *key, yaml_node_t *v, const char *s)
{
    char b[64];
    if (s[0] != '/')
        return fail_at(L, node_pos(v), "route path must start with '/' (got '%s')",
                       shown(s, strlen(s), b));
    return check_path_chars(L, key, v, s);
}

static int check_builtin_prefix(struct loader *L, const char *key, yaml_node_t *v, const char *s)
{
    char b[64];
    size_t n = strlen(s);
    if (n < 1 || s[0] != '/' || s[n - 1] != '/')
        return fail_at(L, node_pos(v), "%s must start and end with '/' (got '%s')", key,
                       shown(s, n, b));
    return check_path_chars(L, key, v, s);
}

/* A Host value to match: a DNS-style name or an address ("[v6]" in brackets), no port. */
static int check_host(struct loader *L, const char *key, yaml_node_t *v, const char *s)
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
        return fail_at(L, node_pos(v), "invalid host '%s' (expected a host name or address "
                       "without port)", shown(s, n, b));
    return 0;
}

/* Upstream names show up in logs and metric labels: keep them to [A-Za-z0-9_.-]. */
static int check_name(struct loader *L, const char *key, yaml_node_t *v, const char *s)
{
    char b[64];
    size_t n = strlen(s);
    bool ok = n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789_.-") == n;
    if (!ok)
        return fail_at(L, node_pos(v), "invalid %s '%s' (expected 1 to 64 of A-Z a-z 0-9 _ . -)",
                       key, shown(s, n, b));
    return 0;
}

/* ---- custom fields ---- */

static int parse_addr(struct loader *L, const char *key, yaml_node_t *v, struct gw_addr *out)
{
    const char *s;
    char b[64];
    if (get_string(L, v, key, &s) < 0)
        return -1;
    if (gw_addr_parse(s, out) < 0)
        return fail_at(L, node_pos(v), "bad address '%s' for %s (expected \"a.b.c.d:port\" or "
                       "\"[v6]:port\"; no host names)", shown(s, strlen(s), b), key);
    return 0;
}

static bool addr_equal(const struct gw_addr *a, const struct gw_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* Generic: the field is a struct gw_addr at base + offset. Used by listen maps and redis. */
static int field_addr_at(struct loader *L, const char *key, yaml_node_t *v, void *base,
                         size_t offset)
{
    return parse_addr(L, key, v, (struct gw_addr *)((char *)base + offset));
}

static int field_listener_address(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return field_addr_at(L, key, v, base, offsetof(struct gw_listener_conf, addr));
}

static int field_redis_address(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return field_addr_at(L, key, v, base, offsetof(struct gw_redis_conf, addr));
}

static const struct field listener_fields[] = {
    { .key = "address", .type = F_CUSTOM, .required = true, .fn = field_listener_address },
};
static const struct section listener_section = { "in listen entry", listener_fields, 1, NULL };

static int field_workers(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    uint64_t u;
    if (get_uint(L, v, key, 0, WORKERS_MAX, &u) < 0)
        return -1;
    ((struct gw_config *)base)->workers = (int)u;
    return 0;
}

static int field_listen(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_config *cfg = base;
    if (want_type(L, v, YAML_SEQUENCE_NODE, "a list", key) < 0)
        return -1;
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return fail_at(L, node_pos(v), "listen must name at least one address");
    cfg->listeners = calloc(n, sizeof(*cfg->listeners));
    if (!cfg->listeners)
        return fail_at(L, node_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node_at(L, v->data.sequence.items.start[i]);
        struct gw_listener_conf *lc = &cfg->listeners[i];
        lc->pos = node_pos(item);
        cfg->nlisteners = i + 1;
        if (item->type == YAML_MAPPING_NODE) {
            if (parse_section(L, &listener_section, item, lc, "listen entry") < 0)
                return -1;
        } else if (parse_addr(L, "listen", item, &lc->addr) < 0) {
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (addr_equal(&cfg->listeners[j].addr, &lc->addr))
                return fail_at(L, lc->pos, "duplicate listen address '%s' (first at %d:%d)",
                               lc->addr.text, cfg->listeners[j].pos.line,
                               cfg->listeners[j].pos.col);
    }
    return 0;
}

static int field_trusted_proxies(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_config *cfg = base;
    if (want_type(L, v, YAML_SEQUENCE_NODE, "a list", key) < 0)
        return -1;
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return 0;
    cfg->trusted_proxies = calloc(n, sizeof(*cfg->trusted_proxies));
    if (!cfg->trusted_proxies)
        return fail_at(L, node_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node_at(L, v->data.sequence.items.start[i]);
        const char *s;
        char b[64];
        if (get_string(L, item, "trusted_proxies entry", &s) < 0)
            return -1;
        if (gw_cidr_parse(s, &cfg->trusted_proxies[i]) < 0)
            return fail_at(L, node_pos(item), "bad CIDR '%s' (expected \"a.b.c.d/n\", "
                           "\"v6/n\" or an address, with no bits set past the prefix)",
                           shown(s, strlen(s), b));
        cfg->ntrusted_proxies = i + 1;
    }
    return 0;
}

/* -- limits -- */

static int finish_limits(struct loader *L, yaml_node_t *map, void *base)
{
    struct gw_limits_conf *lim = base;
    if (lim->max_request_line_bytes > lim->max_header_bytes) {
        yaml_node_t *v = map_get(L, map, "max_request_line_bytes");
        if (!v)
            v = map_get(L, map, "max_header_bytes");
        return fail_at(L, node_pos(v), "max_request_line_bytes (%u) must not exceed "
                       "max_header_bytes (%u)", lim->max_request_line_bytes,
                       lim->max_header_bytes);
    }
    return 0;
}

#define LIM(k, lo, hi) { .key = #k, .type = F_U32, .offset = offsetof(struct gw_limits_conf, k), \
                         .min = (lo), .max = (hi) }
static const struct field limits_fields[] = {
    LIM(max_header_bytes, 256, 16u * 1024 * 1024),
    LIM(max_request_line_bytes, 64, 16u * 1024 * 1024),
    LIM(max_headers, 1, 100000),
    LIM(header_timeout_ms, 1, UINT32_MAX),
    LIM(keepalive_timeout_ms, 1, UINT32_MAX),
    LIM(body_timeout_ms, 1, UINT32_MAX),
    LIM(send_timeout_ms, 1, UINT32_MAX),
    LIM(max_connections, 1, UINT32_MAX),
    LIM(drain_timeout_ms, 0, UINT32_MAX),
    { .key = "max_body_bytes", .type = F_U64, .offset = offsetof(struct gw_limits_conf,
      max_body_bytes), .min = 0, .max = INT64_MAX },
};
#undef LIM
static const struct section limits_section = {
    "in limits", limits_fields, sizeof(limits_fields) / sizeof(limits_fields[0]), finish_limits
};

/* -- upstreams -- */

static int field_servers(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_upstream_conf *up = base;
    if (want_type(L, v, YAML_SEQUENCE_NODE, "a list", key) < 0)
        return -1;
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return fail_at(L, node_pos(v), "servers must name at least one address");
    up->servers = calloc(n, sizeof(*up->servers));
    if (!up->servers)
        return fail_at(L, node_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node_at(L, v->data.sequence.items.start[i]);
        if (parse_addr(L, "server", item, &up->servers[i]) < 0)
            return -1;
        up->nservers = i + 1;
        for (size_t j = 0; j < i; j++)
            if (addr_equal(&up->servers[j], &up->servers[i]))
                return fail_at(L, node_pos(item), "duplicate server '%s' in upstream '%s'",
                               up->servers[i].text, up->name);
    }
    return 0;
}

static int field_host_header(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_upstream_conf *up = base;
    const char *s;
    if (get_string(L, v, key, &s) < 0 || check_token(L, key, v, s) < 0)
        return -1;
    if (!strcmp(s, "preserve")) {
        up->host_mode = GW_HOST_PRESERVE;
        return 0;
    }
    up->host_rewrite = strdup(s);
    if (!up->host_rewrite)
        return fail_at(L, node_pos(v), "out of memory");
    up->host_mode = GW_HOST_REWRITE;
    return 0;
}

#define UP(k, lo) { .key = #k, .type = F_U32, .offset = offsetof(struct gw_upstream_conf, k), \
                    .min = (lo), .max = UINT32_MAX }
static const struct field upstream_fields[] = {
    { .key = "servers", .type = F_CUSTOM, .required = true, .fn = field_servers },
    { .key = "host_header", .type = F_CUSTOM, .fn = field_host_header },
    UP(connect_timeout_ms, 1),
    UP(response_timeout_ms, 1),
    UP(read_timeout_ms, 1),
    UP(idle_timeout_ms, 1),
    UP(max_connections_per_server, 1),
    UP(max_idle_per_server, 0),
    UP(fail_timeout_ms, 0),
};
#undef UP
static const struct section upstream_section = {
    "in upstream", upstream_fields, sizeof(upstream_fields) / sizeof(upstream_fields[0]), NULL
};

static void upstream_defaults(struct gw_upstream_conf *up)
{
    up->host_mode = GW_HOST_PRESERVE;
    up->connect_timeout_ms = 3000;
    up->response_timeout_ms = 30000;
    up->idle_timeout_ms = 60000;
    up->read_timeout_ms = 60000;
    up->max_connections_per_server = 256;
    up->max_idle_per_server = 32;
    up->fail_timeout_ms = 10000;
}

static int field_upstreams(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_config *cfg = base;
    if (want_type(L, v, YAML_MAPPING_NODE, "a mapping of upstream names", key) < 0)
        return -1;
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if (n == 0)
        return 0;
    /* a repeated key here is a duplicate upstream name: say so */
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *k = node_at(L, v->data.mapping.pairs.start[i].key);
        const char *name;
        if (get_string(L, k, "upstream name", &name) < 0 || check_name(L, "upstream name", k,
                                                                        name) < 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            yaml_node_t *k2 = node_at(L, v->data.mapping.pairs.start[j].key);
            if (!strcmp(scalar(k2), name))
                return fail_at(L, node_pos(k), "duplicate upstream '%s' (first at %d:%d)",
                               name, node_pos(k2).line, node_pos(k2).col);
        }
    }
    cfg->upstreams = calloc(n, sizeof(*cfg->upstreams));
    if (!cfg->upstreams)
        return fail_at(L, node_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
        yaml_node_t *k = node_at(L, p->key);
        struct gw_upstream_conf *up = &cfg->upstreams[i];
        upstream_defaults(up);
        up->pos = node_pos(k);
        cfg->nupstreams = i + 1;
        up->name = strdup(scalar(k));
        if (!up->name)
            return fail_at(L, up->pos, "out of memory");
        if (parse_section(L, &upstream_section, node_at(L, p->value), up, "upstream") < 0)
            return -1;
    }
    return 0;
}

/* -- the role policy (docs/POLICY.md): every node goes to L->pb with its position -- */

static struct pol_pos pol_pos_of(const yaml_node_t *n)
{
    struct gw_conf_pos p = node_pos(n);
    return (struct pol_pos){ p.line, p.col };
}

/* Passes on a pol_builder_* result: 0 stays 0; an error becomes the loader's error at once
 * (the builder keeps the first one, which is this one). Returns 0 or -1. */
static int pol_result(struct loader *L, int rc, const yaml_node_t *at)
{
    if (rc == 0)
        return 0;
    return fail_policy(L, pol_builder_error(L->pb), node_pos(at));
}

typedef int pol_name_fn(struct pol_builder *b, const char *name, struct pol_pos pos);

/* A list of strings, each handed to <fn> with its position: roles, scopes, methods, flags.
 * <item> names one entry in type errors ("expected a string for role, got a list").
 * Returns 0 or -1. */
static int pol_names(struct loader *L, const char *key, yaml_node_t *v, const char *item,
                     pol_name_fn *fn)
{
    if (want_type(L, v, YAML_SEQUENCE_NODE, "a list", key) < 0)
        return -1;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *n = node_at(L, *it);
        const char *s;
        if (get_string(L, n, item, &s) < 0 || pol_result(L, fn(L->pb, s, pol_pos_of(n)), n) < 0)
            return -1;
    }
    return 0;
}

/* A YAML core-schema boolean: plain true/True/TRUE or false/False/FALSE. YAML 1.1's yes/no/
 * on/off and quoted strings are refused, so that what is meant is what is written. */
static int get_bool(struct loader *L, const yaml_node_t *n, const char *key, bool *out)
{
    static const char *const t[] = { "true", "True", "TRUE" }, *const f[] = { "false", "False",
                                                                              "FALSE" };
    char d[80];
    if (n->type != YAML_SCALAR_NODE || is_null(n) ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return fail_at(L, node_pos(n), "expected true or false for %s, got %s", key,
                       n->type == YAML_SCALAR_NODE && !is_null(n) ? "a quoted string"
                                                                  : describe(n, d));
    for (size_t i = 0; i < 3; i++) {
        if (!strcmp(scalar(n), t[i]) || !strcmp(scalar(n), f[i])) {
            *out = !strcmp(scalar(n), t[i]);
            return 0;
        }
    }
    return fail_at(L, node_pos(n), "expected true or false for %s, got %s", key, describe(n, d));
}

static int field_roles(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return pol_names(L, key, v, "role", pol_builder_declare_role);
}

static int field_scopes(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return pol_names(L, key, v, "scope", pol_builder_declare_scope);
}

/* allow entry: { kind, roles, flags, scopes }. <base> is unused (the loader is passed, so
 * that parse_section never offsets a null pointer): everything goes to L->pb. */
static int field_alt_kind(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    const char *s;
    if (get_string(L, v, key, &s) < 0)
        return -1;
    return pol_result(L, pol_builder_alt_kind(L->pb, s, pol_pos_of(v)), v);
}

static int field_alt_roles(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return pol_names(L, key, v, "role", pol_builder_alt_role);
}

static int field_alt_flags(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return pol_names(L, key, v, "flag", pol_builder_alt_flag);
}

static int field_alt_scopes(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return pol_names(L, key, v, "scope", pol_builder_alt_scope);
}

static const struct field alt_fields[] = {
    { .key = "kind", .type = F_CUSTOM, .fn = field_alt_kind },
    { .key = "roles", .type = F_CUSTOM, .fn = field_alt_roles },
    { .key = "flags", .type = F_CUSTOM, .fn = field_alt_flags },
    { .key = "scopes", .type = F_CUSTOM, .fn = field_alt_scopes },
};
static const struct section alt_section = {
    "in allow entry", alt_fields, sizeof(alt_fields) / sizeof(alt_fields[0]), NULL
};

/* access rule: { methods, path, allow }. A missing or empty `allow` and a missing `kind` are
 * found by pol_builder_compile (it names the rule or entry). */
static int field_rule_methods(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return pol_names(L, key, v, "method", pol_builder_rule_method);
}

static int field_rule_path(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    const char *s;
    if (get_string(L, v, key, &s) < 0)
        return -1;
    return pol_result(L, pol_builder_rule_path(L->pb, s, pol_pos_of(v)), v);
}

static int field_rule_allow(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    if (want_type(L, v, YAML_SEQUENCE_NODE, "a list", key) < 0)
        return -1;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *n = node_at(L, *it);
        if (pol_result(L, pol_builder_add_alternative(L->pb, pol_pos_of(n)), n) < 0 ||
            parse_section(L, &alt_section, n, L, "allow entry") < 0)
            return -1;
    }
    return 0;
}

static const struct field rule_fields[] = {
    { .key = "methods", .type = F_CUSTOM, .fn = field_rule_methods },
    { .key = "path", .type = F_CUSTOM, .fn = field_rule_path },
    { .key = "allow", .type = F_CUSTOM, .fn = field_rule_allow },
};
static const struct section rule_section = {
    "in access rule", rule_fields, sizeof(rule_fields) / sizeof(rule_fields[0]), NULL
};

/* -- routes -- */

/* `public` and `access` need the route's host and path, which may come later in the mapping:
 * they are read by finish_route once every key is in. */
static int field_route_deferred(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return 0;
}

/* Hands the route to the policy builder with id = its index in cfg->routes (the id the route
 * table returns), then its `public` and `access` nodes. Returns 0 or -1. */
static int finish_route(struct loader *L, yaml_node_t *map, void *base)
{
    struct gw_route_conf *r = base;
    size_t id = (size_t)(r - L->cfg->routes);
    yaml_node_t *pub = map_get(L, map, "public"), *acc = map_get(L, map, "access");

    if (pol_result(L, pol_builder_add_route(L->pb, id, r->host, r->path_prefix,
                                            pol_pos_of(map)), map) < 0)
        return -1;
    if (pub) {
        bool is_public = false;
        if (get_bool(L, pub, "public", &is_public) < 0 ||
            pol_result(L, pol_builder_route_public(L->pb, is_public, pol_pos_of(pub)), pub) < 0)
            return -1;
    }
    if (!acc)
        return 0;
    if (want_type(L, acc, YAML_SEQUENCE_NODE, "a list", "access") < 0)
        return -1;
    for (yaml_node_item_t *it = acc->data.sequence.items.start;
         it < acc->data.sequence.items.top; it++) {
        yaml_node_t *n = node_at(L, *it);
        if (pol_result(L, pol_builder_add_rule(L->pb, pol_pos_of(n)), n) < 0 ||
            parse_section(L, &rule_section, n, L, "access rule") < 0)
            return -1;
    }
    return 0;
}

/* -- JWT settings of a route (issue 5) -- */

/* A claim value onegate writes into tokens (issuer, audience): visible ASCII, no quotes or
 * backslashes, so it reads the same in JSON, logs and docs. */
static int check_jwt_string(struct loader *L, const char *key, yaml_node_t *v, const char *s)
{
    char b[64];
    if (check_visible(L, key, v, s, false) < 0)
        return -1;
    if (strlen(s) > 255 || strpbrk(s, "\"\\"))
        return fail_at(L, node_pos(v), "%s must be 1 to 255 visible characters without quotes "
                       "or backslashes (got '%s')", key, shown(s, strlen(s), b));
    return 0;
}

static int check_header_name(struct loader *L, const char *key, yaml_node_t *v, const char *s);

/* `jwt_claims: [name, email]`: the optional person claims this route's token carries. */
static int field_route_jwt_claims(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_route_conf *r = base;
    if (want_type(L, v, YAML_SEQUENCE_NODE, "a list", key) < 0)
        return -1;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *n = node_at(L, *it);
        const char *s;
        char b[64];
        if (get_string(L, n, "claim", &s) < 0)
            return -1;
        bool *flag = !strcmp(s, "name") ? &r->jwt_claim_name
                   : !strcmp(s, "email") ? &r->jwt_claim_email : NULL;
        if (!flag)
            return fail_at(L, node_pos(n), "unknown claim '%s' in jwt_claims (expected name, "
                           "email)", shown(s, strlen(s), b));
        if (*flag)
            return fail_at(L, node_pos(n), "claim '%s' listed twice in jwt_claims", s);
        *flag = true;
    }
    return 0;
}

static int field_route_max_body(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_route_conf *r = base;
    if (get_uint(L, v, key, 0, INT64_MAX, &r->max_body_bytes) < 0)
        return -1;
    r->has_max_body = true;
    return 0;
}

static const struct field route_fields[] = {
    { .key = "host", .type = F_STR, .offset = offsetof(struct gw_route_conf, host),
      .check = check_host },
    { .key = "path", .type = F_STR, .offset = offsetof(struct gw_route_conf, path_prefix),
      .required = true, .check = check_route_path },
    { .key = "upstream", .type = F_STR, .offset = offsetof(struct gw_route_conf, upstream),
      .required = true, .check = check_name },
    { .key = "max_body_bytes", .type = F_CUSTOM, .fn = field_route_max_body },
    { .key = "public", .type = F_CUSTOM, .fn = field_route_deferred },
    { .key = "access", .type = F_CUSTOM, .fn = field_route_deferred },
    { .key = "audience", .type = F_STR, .offset = offsetof(struct gw_route_conf, audience),
      .check = check_jwt_string },
    { .key = "jwt_header", .type = F_STR, .offset = offsetof(struct gw_route_conf, jwt_header),
      .check = check_header_name },
    { .key = "jwt_claims", .type = F_CUSTOM, .fn = field_route_jwt_claims },
};
static const struct section route_section = {
    "in route", route_fields, sizeof(route_fields) / sizeof(route_fields[0]), finish_route
};

static int field_routes(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_config *cfg = base;
    if (want_type(L, v, YAML_SEQUENCE_NODE, "a list", key) < 0)
        return -1;
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return 0;
    cfg->routes = calloc(n, sizeof(*cfg->routes));
    L->route_upstream_pos = calloc(n, sizeof(*L->route_upstream_pos));
    if (!cfg->routes || !L->route_upstream_pos)
        return fail_at(L, node_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node_at(L, v->data.sequence.items.start[i]);
        struct gw_route_conf *r = &cfg->routes[i];
        r->pos = node_pos(item);
        cfg->nroutes = i + 1;
        if (parse_section(L, &route_section, item, r, "route") < 0)
            return -1;
        L->route_upstream_pos[i] = node_pos(map_get(L, item, "upstream"));
    }
    return 0;
}

/* -- jwt (keys and token bounds) and oauth (the API-account endpoints), issue 5 -- */

/* <path> as written, or resolved against the directory of the config file when relative.
 * Returns a new string or NULL on ENOMEM. */
static char *key_path_near_config(const struct loader *L, const char *path)
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

/* Loads the key file named by scalar <v> into the set being built (<ks>), signing or
 * published; the message of a failure names the resolved path at <v>'s position. Keeps the
 * resolved path in <*stored>. Returns 0 or -1. */
static int load_jwt_key(struct loader *L, const char *key, yaml_node_t *v,
                        struct auth_jwt_keyset *ks, bool signing, char **stored)
{
    const char *s;
    char kerr[GW_CONFIG_ERR_MAX];
    struct auth_jwt_key *k = NULL;
    if (get_string(L, v, key, &s) < 0 || check_chars(L, key, v, s, false, true) < 0)
        return -1;
    char *path = key_path_near_config(L, s);
    if (!path)
        return fail_at(L, node_pos(v), "out of memory");
    free(*stored);
    *stored = path;
    kerr[0] = '\0';
    if (auth_jwt_key_load_file(path, signing, &k, kerr, sizeof kerr) != 0)
        return fail_at(L, node_pos(v), "%s: %s", key, kerr);
    if (auth_jwt_keyset_add(ks, k, signing, kerr, sizeof kerr) != 0)
        return fail_at(L, node_pos(v), "%s '%s': %s", key, path, kerr);
    return 0;
}

static int field_jwt_signing_key(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_jwt_conf *j = base;
    return load_jwt_key(L, key, v, j->keyset, true, &j->signing_key);
}

static int field_jwt_published_keys(struct loader *L, const char *key, yaml_node_t *v,
                                    void *base)
{
    struct gw_jwt_conf *j = base;
    if (want_type(L, v, YAML_SEQUENCE_NODE, "a list", key) < 0)
        return -1;
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return 0;
    j->published_keys = calloc(n, sizeof(char *));
    if (!j->published_keys)
        return fail_at(L, node_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        j->npublished_keys = i + 1;
        if (load_jwt_key(L, "published key", node_at(L, v->data.sequence.items.start[i]),
                         j->keyset, false, &j->published_keys[i]) < 0)
            return -1;
    }
    return 0;
}

/* Positions reported by finish_jwt: the key's value when written, else the section. */
static struct gw_conf_pos pos_of_key(struct loader *L, yaml_node_t *map, const char *key)
{
    yaml_node_t *n = map_get(L, map, key);
    return node_pos(n ? n : map);
}

static int finish_jwt(struct loader *L, yaml_node_t *map, void *base)
{
    struct gw_jwt_conf *j = base;
    char kerr[GW_CONFIG_ERR_MAX];
    if (j->token_lifetime_ms % 1000)
        return fail_at(L, pos_of_key(L, map, "token_lifetime_ms"),
                       "token_lifetime_ms must be whole seconds (a multiple of 1000)");
    if (j->renew_before_ms >= j->token_lifetime_ms)
        return fail_at(L, pos_of_key(L, map, "renew_before_ms"),
                       "renew_before_ms (%u) must be less than token_lifetime_ms (%u)",
                       j->renew_before_ms, j->token_lifetime_ms);
    kerr[0] = '\0';
    if (auth_jwt_keyset_seal(j->keyset, kerr, sizeof kerr) != 0)
        return fail_at(L, node_pos(map), "jwt keys: %s", kerr);
    j->configured = true;
    return 0;
}

static const struct field jwt_fields[] = {
    { .key = "issuer", .type = F_STR, .offset = offsetof(struct gw_jwt_conf, issuer),
      .required = true, .check = check_jwt_string },
    { .key = "signing_key", .type = F_CUSTOM, .required = true, .fn = field_jwt_signing_key },
    { .key = "published_keys", .type = F_CUSTOM, .fn = field_jwt_published_keys },
    { .key = "token_lifetime_ms", .type = F_U32,
      .offset = offsetof(struct gw_jwt_conf, token_lifetime_ms), .min = 10000,
      .max = 86400000 },
    { .key = "renew_before_ms", .type = F_U32,
      .offset = offsetof(struct gw_jwt_conf, renew_before_ms), .min = 0, .max = 86400000 },
    { .key = "leeway_ms", .type = F_U32, .offset = offsetof(struct gw_jwt_conf, leeway_ms),
      .min = 0, .max = 300000 },
    { .key = "max_token_bytes", .type = F_U32,
      .offset = offsetof(struct gw_jwt_conf, max_token_bytes), .min = 256, .max = 65536 },
    { .key = "cache_entries", .type = F_U32,
      .offset = offsetof(struct gw_jwt_conf, cache_entries), .min = 1, .max = 10000000 },
    { .key = "bad_token_burst", .type = F_U32,
      .offset = offsetof(struct gw_jwt_conf, bad_token_burst), .min = 1, .max = 1000000 },
    { .key = "bad_token_per_s", .type = F_U32,
      .offset = offsetof(struct gw_jwt_conf, bad_token_per_s), .min = 1, .max = 1000000 },
};
static const struct section jwt_section = {
    "in jwt", jwt_fields, sizeof(jwt_fields) / sizeof(jwt_fields[0]), finish_jwt
};

static int field_jwt(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_config *cfg = base;
    cfg->jwt.keyset = auth_jwt_keyset_new();
    if (!cfg->jwt.keyset)
        return fail_at(L, node_pos(v), "out of memory");
    return parse_section(L, &jwt_section, v, &cfg->jwt, key);
}


/* -- log -- */

static int field_log_level(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    struct gw_log_conf *log = base;
    const char *s;
    char b[64];
    if (get_string(L, v, key, &s) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcmp(s, names[i])) {
            log->level = (enum gw_log_level)i;
            return 0;
        }
    }
    return fail_at(L, node_pos(v), "unknown log level '%s' (expected error, warn, info, debug)",
                   shown(s, strlen(s), b));
}

/* A log destination: a path (non-empty, no controls) or one of the words handled by callers.
 * YAML 1.1 booleans are refused so that "access_log: false" is not a file named "false". */
static int log_path(struct loader *L, const char *key, yaml_node_t *v, const char *s,
                    char **out)
{
    static const char *const words[] = { "true", "false", "yes", "no", "on", "True", "False",
                                         "Yes", "No", "On", "Off", "TRUE", "FALSE" };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !strcmp(s, words[i]))
            return fail_at(L, node_pos(v), "expected %s for %s, got '%s'",
                           !strcmp(key, "access_log") ? "stdout, stderr, off or a file path"
                                                      : "stderr, stdout or a file path",
                           key, s);
    if (check_chars(L, key, v, s, false, true) < 0)
        return -1;
    *out = strdup(s);
    return *out ? 0 : fail_at(L, node_pos(v), "out of memory");
}

static int field_error_log(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_log_conf *log = base;
    const char *s;
    if (get_string(L, v, key, &s) < 0)
        return -1;
    if (!strcmp(s, "stderr"))
        return 0;
    if (!strcmp(s, "off"))
        return fail_at(L, node_pos(v), "error_log cannot be turned off (use stderr or a path)");
    return log_path(L, key, v, !strcmp(s, "stdout") ? "/dev/stdout" : s, &log->error_log);
}

static int field_access_log(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_log_conf *log = base;
    const char *s;
    if (get_string(L, v, key, &s) < 0)
        return -1;
    if (!strcmp(s, "off")) {
        log->access_log_enabled = false;
        return 0;
    }
    log->access_log_enabled = true;
    if (!strcmp(s, "stdout"))
        return 0;
    return log_path(L, key, v, !strcmp(s, "stderr") ? "/dev/stderr" : s, &log->access_log);
}

static const struct field log_fields[] = {
    { .key = "level", .type = F_CUSTOM, .fn = field_log_level },
    { .key = "error_log", .type = F_CUSTOM, .fn = field_error_log },
    { .key = "access_log", .type = F_CUSTOM, .fn = field_access_log },
};
static const struct section log_section = { "in log", log_fields, 3, NULL };

/* -- redis -- */

static const struct field redis_fields[] = {
    { .key = "address", .type = F_CUSTOM, .fn = field_redis_address },
    { .key = "timeout_ms", .type = F_U32, .offset = offsetof(struct gw_redis_conf, timeout_ms),
      .min = 1, .max = UINT32_MAX },
    { .key = "key_prefix", .type = F_STR, .offset = offsetof(struct gw_redis_conf, key_prefix),
      .check = check_key_prefix },
};
static const struct section redis_section = { "in redis", redis_fields, 3, NULL };

static int field_redis(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_config *cfg = base;
    if (parse_section(L, &redis_section, v, &cfg->redis, key) < 0)
        return -1;
    cfg->redis.configured = true;
    return 0;
}

/* -- admin (the admin API) -- */

#define ADMIN_TOKEN_FILE_MAX 4096
#define ADMIN_TOKEN_MIN_BYTES 32

/* <path> as written, or resolved against the directory of the config file when relative.
 * Returns a new string or NULL on ENOMEM. */
static char *path_near_config(const struct loader *L, const char *path)
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

/* `bootstrap_token_file`: reads the token now, so that a missing, unreadable, world-readable
 * or too short file is an error at load (with the key's position) rather than a surprise at
 * the first admin call. The token itself never appears in a message. */
static int field_admin_token_file(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_admin_conf *a = base;
    const char *s;
    char b[64], buf[ADMIN_TOKEN_FILE_MAX + 1];
    int rc = -1;

    if (get_string(L, v, key, &s) < 0 || check_chars(L, key, v, s, false, true) < 0)
        return -1;
    char *path = path_near_config(L, s);
    if (!path)
        return fail_at(L, node_pos(v), "out of memory");
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f) {
        fail_at(L, node_pos(v), "cannot open %s '%s': %s", key, shown(s, strlen(s), b),
                strerror(errno));
        goto out;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH))) {
        fail_at(L, node_pos(v), "%s '%s' must not be accessible to other users (chmod 600)",
                key, shown(s, strlen(s), b));
        goto out;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    if (n > ADMIN_TOKEN_FILE_MAX) {
        fail_at(L, node_pos(v), "%s '%s' is larger than %d bytes", key, shown(s, strlen(s), b),
                ADMIN_TOKEN_FILE_MAX);
        goto out;
    }
    size_t start = 0, end = n;
    while (start < end && (buf[start] == ' ' || (buf[start] >= '\t' && buf[start] <= '\r')))
        start++;
    while (end > start && (buf[end - 1] == ' ' || (buf[end - 1] >= '\t' && buf[end - 1] <= '\r')))
        end--;
    for (size_t i = start; i < end; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c <= 0x20 || c >= 0x7f) {
            fail_at(L, node_pos(v), "%s '%s' must hold one token of visible ASCII characters",
                    key, shown(s, strlen(s), b));
            goto out;
        }
    }
    if (end - start < ADMIN_TOKEN_MIN_BYTES) {
        fail_at(L, node_pos(v), "the token in %s '%s' is shorter than %d characters (use e.g. "
                "`openssl rand -hex 32`)", key, shown(s, strlen(s), b), ADMIN_TOKEN_MIN_BYTES);
        goto out;
    }
    free(a->bootstrap_token_file);
    a->bootstrap_token_file = path;
    path = NULL;
    if (a->bootstrap_token) {
        explicit_bzero(a->bootstrap_token, strlen(a->bootstrap_token));
        free(a->bootstrap_token);
    }
    a->bootstrap_token = strndup(buf + start, end - start);
    rc = a->bootstrap_token ? 0 : fail_at(L, node_pos(v), "out of memory");
out:
    explicit_bzero(buf, sizeof(buf));
    if (f)
        fclose(f);
    free(path);
    return rc;
}

static const struct field admin_fields[] = {
    { .key = "prefix", .type = F_STR, .offset = offsetof(struct gw_admin_conf, prefix),
      .check = check_builtin_prefix },
    { .key = "bootstrap_token_file", .type = F_CUSTOM, .fn = field_admin_token_file },
};
static const struct section admin_section = {
    "in admin", admin_fields, sizeof(admin_fields) / sizeof(admin_fields[0]), NULL
};

/* -- auth (password hashing, work pool) -- */

/* libsodium's own limits (parallelism 1, memory, iterations), reported at the offending key. */
static int finish_argon2id(struct loader *L, yaml_node_t *map, void *base)
{
    const struct gw_auth_conf *a = base;
    struct auth_pw_params p = { a->argon2_memory_kib, a->argon2_iterations,
                                a->argon2_parallelism };
    char msg[200];
    if (auth_password_params_check(&p, msg, sizeof(msg)) == 0)
        return 0;
    const char *key = p.parallelism != 1 ? "parallelism"
                      : strstr(msg, "memory") ? "memory_kib" : "iterations";
    yaml_node_t *at = map_get(L, map, key);
    return fail_at(L, node_pos(at ? at : map), "%s", msg);
}

static const struct field argon2id_fields[] = {
    { .key = "memory_kib", .type = F_U32, .offset = offsetof(struct gw_auth_conf,
      argon2_memory_kib), .min = 8, .max = 4u * 1024 * 1024 },
    { .key = "iterations", .type = F_U32, .offset = offsetof(struct gw_auth_conf,
      argon2_iterations), .min = 1, .max = 64 },
    { .key = "parallelism", .type = F_U32, .offset = offsetof(struct gw_auth_conf,
      argon2_parallelism), .min = 1, .max = 255 },
};
static const struct section argon2id_section = {
    "in auth.argon2id", argon2id_fields, sizeof(argon2id_fields) / sizeof(argon2id_fields[0]),
    finish_argon2id
};

/* argon2id's keys fill struct gw_auth_conf directly: the nested mapping shares its base. */
static int field_argon2id(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return parse_section(L, &argon2id_section, v, base, key);
}

static const struct field auth_fields[] = {
    { .key = "argon2id", .type = F_CUSTOM, .fn = field_argon2id },
    { .key = "work_threads", .type = F_U32, .offset = offsetof(struct gw_auth_conf,
      work_threads), .min = 1, .max = 64 },
    { .key = "work_queue_max", .type = F_U32, .offset = offsetof(struct gw_auth_conf,
      work_queue_max), .min = 1, .max = 1000000 },
};
static const struct section auth_section = {
    "in auth", auth_fields, sizeof(auth_fields) / sizeof(auth_fields[0]), NULL
};

/* -- sessions and login (docs/CONFIG.md#sessions) -- */

#define LOGIN_TEMPLATE_MAX (256u * 1024)

/* An HTTP token (RFC 9110 tchar), 1..64 bytes: cookie and header names. */
static bool is_token(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                     "!#$%&'*+-.^_`|~") == n;
}

static int check_cookie_name(struct loader *L, const char *key, yaml_node_t *v, const char *s)
{
    char b[64];
    if (!is_token(s))
        return fail_at(L, node_pos(v), "invalid %s '%s' (expected 1 to 64 token characters)",
                       key, shown(s, strlen(s), b));
    if (!strncasecmp(s, "__Host-", 7) || !strncasecmp(s, "__Secure-", 9))
        return fail_at(L, node_pos(v), "%s '%s' must not carry a __Host-/__Secure- prefix "
                       "(onegate adds __Host- over TLS)", key, shown(s, strlen(s), b));
    return 0;
}

static int check_header_name(struct loader *L, const char *key, yaml_node_t *v, const char *s)
{
    char b[64];
    if (!is_token(s))
        return fail_at(L, node_pos(v), "invalid header name '%s' for %s (expected 1 to 64 "
                       "token characters)", shown(s, strlen(s), b), key);
    return 0;
}

static int field_insecure_dev_cookies(struct loader *L, const char *key, yaml_node_t *v,
                                      void *base)
{
    return get_bool(L, v, key, &((struct gw_sessions_conf *)base)->insecure_dev_cookies);
}

static int field_strip_headers(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_sessions_conf *sc = base;
    if (want_type(L, v, YAML_SEQUENCE_NODE, "a list", key) < 0)
        return -1;
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return 0;
    sc->strip_headers = calloc(n, sizeof(*sc->strip_headers));
    if (!sc->strip_headers)
        return fail_at(L, node_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node_at(L, v->data.sequence.items.start[i]);
        const char *s;
        if (get_string(L, item, "strip_headers entry", &s) < 0 ||
            check_header_name(L, "strip_headers", item, s) < 0)
            return -1;
        char *low = strdup(s);
        if (!low)
            return fail_at(L, node_pos(item), "out of memory");
        for (char *c = low; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        sc->strip_headers[i] = low;
        sc->nstrip_headers = i + 1;
    }
    return 0;
}

static const struct field portal_fields[] = {
    { .key = "name", .type = F_STR, .offset = offsetof(struct gw_portal_conf, name),
      .required = true, .check = check_name },
    { .key = "title", .type = F_STR, .offset = offsetof(struct gw_portal_conf, title),
      .required = true, .check = check_text },
    { .key = "host", .type = F_STR, .offset = offsetof(struct gw_portal_conf, host),
      .check = check_host },
    { .key = "path", .type = F_STR, .offset = offsetof(struct gw_portal_conf, path),
      .required = true, .check = check_route_path },
};
static const struct section portal_section = {
    "in portal", portal_fields, sizeof(portal_fields) / sizeof(portal_fields[0]), NULL
};

static int field_portals(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_sessions_conf *sc = base;
    if (want_type(L, v, YAML_SEQUENCE_NODE, "a list", key) < 0)
        return -1;
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return 0;
    sc->portals = calloc(n, sizeof(*sc->portals));
    if (!sc->portals)
        return fail_at(L, node_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node_at(L, v->data.sequence.items.start[i]);
        struct gw_portal_conf *pc = &sc->portals[i];
        pc->pos = node_pos(item);
        sc->nportals = i + 1;
        if (parse_section(L, &portal_section, item, pc, "portal") < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(sc->portals[j].name, pc->name))
                return fail_at(L, pc->pos, "duplicate portal '%s' (first at %d:%d)", pc->name,
                               sc->portals[j].pos.line, sc->portals[j].pos.col);
    }
    return 0;
}

#define THR(k, lo) { .key = #k, .type = F_U32, .offset = offsetof(struct gw_throttle_rule_conf, \
                     k), .min = (lo), .max = UINT32_MAX }
static const struct field throttle_rule_fields[] = {
    THR(free_failures, 0),
    THR(delay_base_ms, 0),
    THR(delay_max_ms, 0),
    THR(lock_failures, 1),
    THR(lock_ms, 1000),
    THR(window_ms, 1000),
};
#undef THR

static int finish_throttle_rule(struct loader *L, yaml_node_t *map, void *base)
{
    const struct gw_throttle_rule_conf *t = base;
    if (t->delay_max_ms < t->delay_base_ms) {
        yaml_node_t *at = map_get(L, map, "delay_max_ms");
        return fail_at(L, node_pos(at ? at : map), "delay_max_ms (%u) must not be less than "
                       "delay_base_ms (%u)", t->delay_max_ms, t->delay_base_ms);
    }
    if (t->lock_failures <= t->free_failures) {
        yaml_node_t *at = map_get(L, map, "lock_failures");
        return fail_at(L, node_pos(at ? at : map), "lock_failures (%u) must be greater than "
                       "free_failures (%u)", t->lock_failures, t->free_failures);
    }
    return 0;
}
static const struct section throttle_account_section = {
    "in sessions.throttle.account", throttle_rule_fields,
    sizeof(throttle_rule_fields) / sizeof(throttle_rule_fields[0]), finish_throttle_rule
};
static const struct section throttle_address_section = {
    "in sessions.throttle.address", throttle_rule_fields,
    sizeof(throttle_rule_fields) / sizeof(throttle_rule_fields[0]), finish_throttle_rule
};
static const struct field throttle_fields[] = {
    { .key = "account", .type = F_SECTION, .offset = offsetof(struct gw_throttle_conf, account),
      .section = &throttle_account_section },
    { .key = "address", .type = F_SECTION, .offset = offsetof(struct gw_throttle_conf, address),
      .section = &throttle_address_section },
};
static const struct section throttle_section = {
    "in sessions.throttle", throttle_fields, sizeof(throttle_fields) / sizeof(throttle_fields[0]),
    NULL
};

#define SES(k, lo) { .key = #k, .type = F_U32, .offset = offsetof(struct gw_sessions_conf, k), \
                     .min = (lo), .max = UINT32_MAX }
static const struct field sessions_fields[] = {
    { .key = "cookie_name", .type = F_STR, .offset = offsetof(struct gw_sessions_conf,
      cookie_name), .check = check_cookie_name },
    SES(idle_timeout_ms, 1000),
    SES(absolute_timeout_ms, 1000),
    SES(refresh_interval_ms, 0),
    { .key = "insecure_dev_cookies", .type = F_CUSTOM, .fn = field_insecure_dev_cookies },
    { .key = "person_header", .type = F_STR, .offset = offsetof(struct gw_sessions_conf,
      person_header), .check = check_header_name },
    { .key = "strip_headers", .type = F_CUSTOM, .fn = field_strip_headers },
    { .key = "portals", .type = F_CUSTOM, .fn = field_portals },
    { .key = "throttle", .type = F_SECTION, .offset = offsetof(struct gw_sessions_conf,
      throttle), .section = &throttle_section },
};
#undef SES

static int finish_sessions(struct loader *L, yaml_node_t *map, void *base)
{
    const struct gw_sessions_conf *sc = base;
    if (sc->absolute_timeout_ms < sc->idle_timeout_ms) {
        yaml_node_t *at = map_get(L, map, "absolute_timeout_ms");
        return fail_at(L, node_pos(at ? at : map), "absolute_timeout_ms (%u) must not be less "
                       "than idle_timeout_ms (%u)", sc->absolute_timeout_ms,
                       sc->idle_timeout_ms);
    }
    if (sc->refresh_interval_ms >= sc->idle_timeout_ms) {
        yaml_node_t *at = map_get(L, map, "refresh_interval_ms");
        return fail_at(L, node_pos(at ? at : map), "refresh_interval_ms (%u) must be less than "
                       "idle_timeout_ms (%u)", sc->refresh_interval_ms, sc->idle_timeout_ms);
    }
    return 0;
}
static const struct section sessions_section = {
    "in sessions", sessions_fields, sizeof(sessions_fields) / sizeof(sessions_fields[0]),
    finish_sessions
};

/* The login page template placeholders ({{name}}); gateway/endpoints/login_page.c fills them. */
static const char *const login_placeholders[] = {
    "title", "error", "action", "csrf", "return_to", "username", "portals",
};

/* Checks a template's placeholders: every {{...}} must be a known name, and {{action}} and
 * {{csrf}} must be there (without them the form cannot work). Returns 0 or -1. */
static int check_template(struct loader *L, yaml_node_t *v, const char *path, const char *t)
{
    bool have_action = false, have_csrf = false;
    int line = 1;
    char b[64];
    for (const char *p = t; *p; p++) {
        if (*p == '\n')
            line++;
        if (p[0] != '{' || p[1] != '{')
            continue;
        const char *end = strstr(p + 2, "}}");
        size_t n = end ? (size_t)(end - p - 2) : 0;
        bool known = false;
        for (size_t i = 0; end && i < sizeof(login_placeholders) / sizeof(*login_placeholders);
             i++)
            if (strlen(login_placeholders[i]) == n && !strncmp(p + 2, login_placeholders[i], n))
                known = true;
        if (!known)
            return fail_at(L, node_pos(v), "template '%s' line %d: unknown placeholder '%s' "
                           "(use {{title}}, {{error}}, {{action}}, {{csrf}}, {{return_to}}, "
                           "{{username}}, {{portals}})", shown(path, strlen(path), b), line,
                           end ? shown(p, n + 4, (char[64]){ 0 }) : "{{");
        have_action |= n == 6 && !strncmp(p + 2, "action", 6);
        have_csrf |= n == 4 && !strncmp(p + 2, "csrf", 4);
        p = end + 1;
    }
    if (!have_action || !have_csrf)
        return fail_at(L, node_pos(v), "template '%s' must contain {{action}} and {{csrf}}",
                       shown(path, strlen(path), b));
    return 0;
}

static int field_login_template(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    struct gw_login_conf *lc = base;
    const char *s;
    char b[64];
    if (get_string(L, v, key, &s) < 0 || check_chars(L, key, v, s, false, true) < 0)
        return -1;
    char *path = path_near_config(L, s);
    if (!path)
        return fail_at(L, node_pos(v), "out of memory");
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    int rc = -1;
    if (!f) {
        fail_at(L, node_pos(v), "cannot open %s '%s': %s", key, shown(s, strlen(s), b),
                strerror(errno));
        goto out;
    }
    text = malloc(LOGIN_TEMPLATE_MAX + 1);
    if (!text) {
        fail_at(L, node_pos(v), "out of memory");
        goto out;
    }
    size_t n = fread(text, 1, LOGIN_TEMPLATE_MAX + 1, f);
    if (n > LOGIN_TEMPLATE_MAX || memchr(text, '\0', n)) {
        fail_at(L, node_pos(v), "%s '%s' must be a text file of at most %u bytes", key,
                shown(s, strlen(s), b), LOGIN_TEMPLATE_MAX);
        goto out;
    }
    text[n] = '\0';
    if (check_template(L, v, s, text) < 0)
        goto out;
    free(lc->template_path);
    free(lc->template_text);
    lc->template_path = path;
    lc->template_text = text;
    path = text = NULL;
    rc = 0;
out:
    if (f)
        fclose(f);
    free(path);
    free(text);
    return rc;
}

static const struct field login_fields[] = {
    { .key = "prefix", .type = F_STR, .offset = offsetof(struct gw_login_conf, prefix),
      .check = check_builtin_prefix },
    { .key = "template", .type = F_CUSTOM, .fn = field_login_template },
    { .key = "page_title", .type = F_STR, .offset = offsetof(struct gw_login_conf, page_title),
      .check = check_text },
};
static const struct section login_section = {
    "in login", login_fields, sizeof(login_fields) / sizeof(login_fields[0]), NULL
};

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool addr_is_loopback(const struct gw_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ((const uint8_t *)&((const struct sockaddr_in *)&a->ss)->sin_addr)[0] == 127;
    const struct in6_addr *v6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(v6) || (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127);
}

/* -- oauth (the API-account endpoints, issue 5): figures as sessions.throttle -- */

static const struct section oauth_throttle_client_section = {
    "in oauth.throttle.client", throttle_rule_fields,
    sizeof(throttle_rule_fields) / sizeof(throttle_rule_fields[0]), finish_throttle_rule
};
static const struct section oauth_throttle_address_section = {
    "in oauth.throttle.address", throttle_rule_fields,
    sizeof(throttle_rule_fields) / sizeof(throttle_rule_fields[0]), finish_throttle_rule
};
static const struct field oauth_throttle_fields[] = {
    { .key = "client", .type = F_SECTION, .offset = offsetof(struct gw_oauth_conf, client),
      .section = &oauth_throttle_client_section },
    { .key = "address", .type = F_SECTION, .offset = offsetof(struct gw_oauth_conf, address),
      .section = &oauth_throttle_address_section },
};
static const struct section oauth_throttle_section = {
    "in oauth.throttle", oauth_throttle_fields,
    sizeof(oauth_throttle_fields) / sizeof(oauth_throttle_fields[0]), NULL
};

static int field_oauth_throttle(struct loader *L, const char *key, yaml_node_t *v, void *base)
{
    return parse_section(L, &oauth_throttle_section, v, base, key);
}

static const struct field oauth_fields[] = {
    { .key = "token_lifetime_ms", .type = F_U32,
      .offset = offsetof(struct gw_oauth_conf, token_lifetime_ms), .min = 10000,
      .max = 86400000 },
    { .key = "audience", .type = F_STR, .offset = offsetof(struct gw_oauth_conf, audience),
      .check = check_jwt_string },
    { .key = "max_body_bytes", .type = F_U32,
      .offset = offsetof(struct gw_oauth_conf, max_body_bytes), .min = 256, .max = 1048576 },
    { .key = "throttle", .type = F_CUSTOM, .fn = field_oauth_throttle },
};

static int finish_oauth(struct loader *L, yaml_node_t *map, void *base)
{
    struct gw_oauth_conf *o = base;
    if (o->token_lifetime_ms % 1000)
        return fail_at(L, pos_of_key(L, map, "token_lifetime_ms"),
                       "token_lifetime_ms must be whole seconds (a multiple of 1000)");
    o->configured = true;
    return 0;
}

static const struct section oauth_section = {
    "in oauth", oauth_fields, sizeof(oauth_fields) / sizeof(oauth_fields[0]), finish_oauth
};

/* -- top level -- */

static int finish_top(struct loader *L, yaml_node_t *map, void *base);

static const struct field top_fields[] = {
    { .key = "workers", .type = F_CUSTOM, .fn = field_workers },
    { .key = "listen", .type = F_CUSTOM, .required = true, .fn = field_listen },
    { .key = "trusted_proxies", .type = F_CUSTOM, .fn = field_trusted_proxies },
    { .key = "builtin_prefix", .type = F_STR, .offset = offsetof(struct gw_config,
      builtin_prefix), .check = check_builtin_prefix },
    { .key = "server_name", .type = F_STR, .offset = offsetof(struct gw_config, server_name),
      .check = check_token },
    { .key = "limits", .type = F_SECTION, .offset = offsetof(struct gw_config, limits),
      .section = &limits_section },
    { .key = "upstreams", .type = F_CUSTOM, .required = true, .fn = field_upstreams },
    { .key = "routes", .type = F_CUSTOM, .required = true, .fn = field_routes },
    { .key = "log", .type = F_SECTION, .offset = offsetof(struct gw_config, log),
      .section = &log_section },
    { .key = "redis", .type = F_CUSTOM, .fn = field_redis },
    { .key = "roles", .type = F_CUSTOM, .fn = field_roles },
    { .key = "scopes", .type = F_CUSTOM, .fn = field_scopes },
    { .key = "jwt", .type = F_CUSTOM, .fn = field_jwt },
    { .key = "oauth", .type = F_SECTION, .offset = offsetof(struct gw_config, oauth),
      .section = &oauth_section },
    { .key = "admin", .type = F_SECTION, .offset = offsetof(struct gw_config, admin),
      .section = &admin_section },
    { .key = "auth", .type = F_SECTION, .offset = offsetof(struct gw_config, auth),
      .section = &auth_section },
    { .key = "sessions", .type = F_SECTION, .offset = offsetof(struct gw_config, sessions),
      .section = &sessions_section },
    { .key = "login", .type = F_SECTION, .offset = offsetof(struct gw_config, login),
      .section = &login_section },
};
static const struct section top_section = {
    "at top level", top_fields, sizeof(top_fields) / sizeof(top_fields[0]), finish_top
};

/* Cross-references of the JWT settings: oauth: and per-route audiences need jwt:; the oauth
 * token lifetime defaults to jwt's. Returns 0 or -1. */
static int finish_top_jwt(struct loader *L, yaml_node_t *map, struct gw_config *cfg)
{
    if (cfg->oauth.configured && !cfg->jwt.configured)
        return fail_at(L, pos_of_key(L, map, "oauth"), "oauth needs a jwt section (issuer and "
                       "signing key)");
    if (!cfg->oauth.token_lifetime_ms)
        cfg->oauth.token_lifetime_ms = cfg->jwt.token_lifetime_ms;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        struct gw_route_conf *r = &cfg->routes[i];
        if ((r->audience || r->jwt_header || r->jwt_claim_name || r->jwt_claim_email) &&
            !cfg->jwt.configured)
            return fail_at(L, r->pos, "route %s forwards a JWT (audience, jwt_header, "
                           "jwt_claims) but there is no jwt section", r->path_prefix);
        if ((r->jwt_header || r->jwt_claim_name || r->jwt_claim_email) && !r->audience)
            return fail_at(L, r->pos, "route %s: jwt_header and jwt_claims need an audience",
                           r->path_prefix);
        if (!r->jwt_header && !(r->jwt_header = strdup("Authorization")))
            return fail_at(L, r->pos, "out of memory");
    }
    return 0;
}

/* Cross-references once every key is read: route upstreams, duplicate routes, the table,
 * then the role policy (undeclared roles/scopes, wrong kinds, empty rules: see
 * pol_builder_compile). */
static int finish_top(struct loader *L, yaml_node_t *map, void *base)
{
    struct gw_config *cfg = base;
    struct pol_route_spec *specs = NULL;
    int rc = -1;

    for (size_t i = 0; i < cfg->nroutes; i++) {
        struct gw_route_conf *r = &cfg->routes[i];
        size_t u = 0;
        while (u < cfg->nupstreams && strcmp(cfg->upstreams[u].name, r->upstream) != 0)
            u++;
        if (u == cfg->nupstreams)
            return fail_at(L, L->route_upstream_pos[i], "route names unknown upstream '%s'",
                           r->upstream);
        r->upstream_index = u;
    }

    if (finish_top_jwt(L, map, cfg) < 0)
        return -1;
    if (!strncmp(cfg->admin.prefix, cfg->builtin_prefix, strlen(cfg->builtin_prefix)) ||
        !strncmp(cfg->builtin_prefix, cfg->admin.prefix, strlen(cfg->admin.prefix))) {
        yaml_node_t *a = map_get(L, map, "admin");
        yaml_node_t *at = a && a->type == YAML_MAPPING_NODE ? map_get(L, a, "prefix") : NULL;
        if (!at)
            at = map_get(L, map, "builtin_prefix");
        return fail_at(L, node_pos(at ? at : map), "admin prefix '%s' and builtin_prefix '%s' "
                       "must not contain one another", cfg->admin.prefix, cfg->builtin_prefix);
    }

    if (cfg->sessions.insecure_dev_cookies) {
        for (size_t i = 0; i < cfg->nlisteners; i++) {
            if (addr_is_loopback(&cfg->listeners[i].addr))
                continue;
            yaml_node_t *sn = map_get(L, map, "sessions");
            yaml_node_t *at = sn ? map_get(L, sn, "insecure_dev_cookies") : NULL;
            return fail_at(L, node_pos(at ? at : map), "insecure_dev_cookies needs every "
                           "listener on a loopback address (%s at %d:%d is not)",
                           cfg->listeners[i].addr.text, cfg->listeners[i].pos.line,
                           cfg->listeners[i].pos.col);
        }
    }

    specs = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*specs));
    if (!specs)
        return fail_at(L, node_pos(map), "out of memory");
    for (size_t i = 0; i < cfg->nroutes; i++)
        specs[i] = (struct pol_route_spec){ cfg->routes[i].host, cfg->routes[i].path_prefix, i };
    size_t dup = SIZE_MAX;
    errno = 0;
    cfg->route_table = pol_route_table_build(specs, cfg->nroutes, &dup);
    if (!cfg->route_table) {
        if (dup < cfg->nroutes) {
            const struct gw_route_conf *d = &cfg->routes[dup], *first = d;
            for (size_t i = 0; i < dup; i++) {
                const struct gw_route_conf *r = &cfg->routes[i];
                if (!strcmp(r->path_prefix, d->path_prefix) && !r->host == !d->host &&
                    (!r->host || !strcasecmp(r->host, d->host))) {
                    first = r;
                    break;
                }
            }
            fail_at(L, d->pos, "duplicate route for host '%s' path '%s' (first at %d:%d)",
                    d->host ? d->host : "*", d->path_prefix, first->pos.line, first->pos.col);
        } else {
            fail_at(L, node_pos(map), "cannot build the route table: %s", strerror(errno));
        }
        goto out;
    }
    char perr[GW_CONFIG_ERR_MAX];
    perr[0] = '\0';
    cfg->policy = pol_builder_compile(L->pb, perr, sizeof(perr));
    if (!cfg->policy) {
        fail_policy(L, perr, node_pos(map));
        goto out;
    }
    rc = 0;
out:
    free(specs);
    return rc;
}

/* ---- loading ---- */

static void config_defaults(struct gw_config *cfg)
{
    cfg->workers = 0;
    cfg->limits = (struct gw_limits_conf){
        .max_header_bytes = 16384,
        .max_request_line_bytes = 8192,
        .max_headers = 100,
        .header_timeout_ms = 10000,
        .keepalive_timeout_ms = 60000,
        .body_timeout_ms = 30000,
        .send_timeout_ms = 60000,
        .max_connections = 10000,
        .drain_timeout_ms = 10000,
        .max_body_bytes = 0,
    };
    cfg->log.level = GW_LOG_INFO;
    cfg->log.access_log_enabled = true;
    gw_addr_parse("127.0.0.1:6379", &cfg->redis.addr);
    cfg->redis.timeout_ms = 500;
    cfg->jwt.token_lifetime_ms = 300000;
    cfg->jwt.renew_before_ms = 60000;
    cfg->jwt.leeway_ms = 30000;
    cfg->jwt.max_token_bytes = 8192;
    cfg->jwt.cache_entries = 10000;
    cfg->jwt.bad_token_burst = 20;
    cfg->jwt.bad_token_per_s = 10;
    cfg->oauth.max_body_bytes = 4096;
    cfg->oauth.client = (struct gw_throttle_rule_conf){ 3, 1000, 30000, 10, 900000, 900000 };
    cfg->oauth.address = (struct gw_throttle_rule_conf){ 20, 1000, 30000, 100, 900000, 900000 };
    cfg->sessions.idle_timeout_ms = 1800000;
    cfg->sessions.absolute_timeout_ms = 43200000;
    cfg->sessions.refresh_interval_ms = 60000;
    cfg->sessions.throttle.account = (struct gw_throttle_rule_conf){
        .free_failures = 3, .delay_base_ms = 1000, .delay_max_ms = 30000,
        .lock_failures = 10, .lock_ms = 900000, .window_ms = 900000,
    };
    cfg->sessions.throttle.address = (struct gw_throttle_rule_conf){
        .free_failures = 20, .delay_base_ms = 1000, .delay_max_ms = 30000,
        .lock_failures = 100, .lock_ms = 900000, .window_ms = 900000,
    };
    cfg->auth = (struct gw_auth_conf){
        .argon2_memory_kib = 19456,
        .argon2_iterations = 2,
        .argon2_parallelism = 1,
        .work_threads = 2,
        .work_queue_max = 1024,
    };
}

/* Translates a libyaml parser failure into "FILE:LINE:COL: YAML syntax error: ...". */
static int fail_parser(struct loader *L, const yaml_parser_t *p)
{
    struct gw_conf_pos pos;
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return fail_at(L, (struct gw_conf_pos){ 1, 1 }, "out of memory while parsing");
    case YAML_READER_ERROR: {
        /* reader errors carry a byte offset, not a mark */
        pos = (struct gw_conf_pos){ 1, 1 };
        for (size_t i = 0; i < p->problem_offset && i < L->inlen; i++) {
            if (L->input[i] == '\n') {
                pos.line++;
                pos.col = 1;
            } else {
                pos.col++;
            }
        }
        return fail_at(L, pos, "invalid input: %s", p->problem ? p->problem : "unreadable");
    }
    default:
        pos = mark_pos(p->problem_mark);
        if (p->context)
            return fail_at(L, pos, "YAML syntax error: %s (%s at %d:%d)",
                           p->problem ? p->problem : "invalid YAML", p->context,
                           mark_pos(p->context_mark).line, mark_pos(p->context_mark).col);
        return fail_at(L, pos, "YAML syntax error: %s", p->problem ? p->problem : "invalid YAML");
    }
}

/* Parses <yaml> and fills <cfg>. Returns 0 or -1 with L->err written. */
static int load_document(struct loader *L, struct gw_config *cfg)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    bool have_doc = false;
    int rc = -1;

    if (!yaml_parser_initialize(&parser))
        return fail_at(L, (struct gw_conf_pos){ 1, 1 }, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)L->input, L->inlen);
    if (!yaml_parser_load(&parser, &doc)) {
        fail_parser(L, &parser);
        goto out;
    }
    have_doc = true;
    L->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        fail_at(L, (struct gw_conf_pos){ 1, 1 }, "empty configuration (expected a mapping with "
                "listen, upstreams and routes)");
        goto out;
    }
    /* a second document in the stream would be silently ignored: refuse it */
    if (!yaml_parser_load(&parser, &extra)) {
        fail_parser(L, &parser);
        goto out;
    }
    bool more = yaml_document_get_root_node(&extra) != NULL;
    struct gw_conf_pos extra_pos = mark_pos(extra.start_mark);
    yaml_document_delete(&extra);
    if (more) {
        fail_at(L, extra_pos, "more than one YAML document in the file");
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        char d[80];
        fail_at(L, node_pos(root), "expected a mapping at top level, got %s",
                describe(root, d));
        goto out;
    }
    rc = parse_section(L, &top_section, root, cfg, "top level");
out:
    if (have_doc)
        yaml_document_delete(&doc);
    L->doc = NULL;
    yaml_parser_delete(&parser);
    return rc;
}

/* See config.h. Returns a new config (caller frees with gw_config_free) or NULL with <err>. */
struct gw_config *gw_config_load_string(const char *yaml, size_t len, const char *name,
                                        char *err, size_t errlen)
{
    struct loader L = {
        .name = name ? name : "(config)", .input = yaml ? yaml : "", .inlen = yaml ? len : 0,
        .err = err, .errlen = errlen,
    };
    struct gw_config *cfg = calloc(1, sizeof(*cfg));

    if (err && errlen)
        err[0] = '\0';
    if (!cfg) {
        fail_at(&L, (struct gw_conf_pos){ 1, 1 }, "out of memory");
        return NULL;
    }
    config_defaults(cfg);
    cfg->path = strdup(L.name);
    cfg->builtin_prefix = strdup("/-/");
    cfg->server_name = strdup("onegate");
    cfg->redis.key_prefix = strdup("og:");
    cfg->admin.prefix = strdup("/admin/v1/");
    cfg->sessions.cookie_name = strdup("onegate_session");
    cfg->sessions.person_header = strdup("X-Onegate-Person");
    cfg->login.prefix = strdup("/-/");
    cfg->login.page_title = strdup("Sign in");
    if (!cfg->path || !cfg->builtin_prefix || !cfg->server_name || !cfg->redis.key_prefix ||
        !cfg->admin.prefix || !cfg->sessions.cookie_name || !cfg->sessions.person_header ||
        !cfg->login.prefix || !cfg->login.page_title) {
        fail_at(&L, (struct gw_conf_pos){ 1, 1 }, "out of memory");
        goto fail;
    }
    L.cfg = cfg;
    L.pb = pol_builder_new();
    if (!L.pb) {
        fail_at(&L, (struct gw_conf_pos){ 1, 1 }, "out of memory");
        goto fail;
    }
    if (load_document(&L, cfg) < 0)
        goto fail;
    if (cfg->workers == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = ncpu < 1 ? 1 : (ncpu > WORKERS_MAX ? WORKERS_MAX : (int)ncpu);
    }
    free(L.route_upstream_pos);
    pol_builder_free(L.pb);
    return cfg;
fail:
    free(L.route_upstream_pos);
    pol_builder_free(L.pb);
    gw_config_free(cfg);
    return NULL;
}

/* See config.h. I/O failures have no position: "FILE: cannot read: reason". */
struct gw_config *gw_config_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct gw_config *cfg = NULL;

    if (!err)
        errlen = 0;
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= CONFIG_MAX_BYTES) {
                snprintf(err, errlen, "%s: file larger than %u bytes", path, CONFIG_MAX_BYTES);
                goto out;
            }
            size_t ncap = cap ? cap * 2 : 8192;
            char *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto out;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
                goto out;
            }
            break;
        }
    }
    cfg = gw_config_load_string(buf, len, path, err, errlen);
out:
    free(buf);
    fclose(f);
    return cfg;
}

/* See config.h. Frees everything the loader allocated; NULL is fine. */
void gw_config_free(struct gw_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->listeners);
    free(cfg->trusted_proxies);
    free(cfg->builtin_prefix);
    free(cfg->server_name);
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        free(cfg->upstreams[i].name);
        free(cfg->upstreams[i].servers);
        free(cfg->upstreams[i].host_rewrite);
    }
    free(cfg->upstreams);
    for (size_t i = 0; i < cfg->nroutes; i++) {
        free(cfg->routes[i].host);
        free(cfg->routes[i].path_prefix);
        free(cfg->routes[i].upstream);
        free(cfg->routes[i].audience);
        free(cfg->routes[i].jwt_header);
    }
    free(cfg->routes);
    pol_route_table_free(cfg->route_table);
    pol_policy_free(cfg->policy);
    free(cfg->log.error_log);
    free(cfg->log.access_log);
    free(cfg->redis.key_prefix);
    free(cfg->jwt.issuer);
    free(cfg->jwt.signing_key);
    for (size_t i = 0; i < cfg->jwt.npublished_keys; i++)
        free(cfg->jwt.published_keys[i]);
    free(cfg->jwt.published_keys);
    if (cfg->jwt.keyset)
        auth_jwt_keyset_unref(cfg->jwt.keyset);
    free(cfg->oauth.audience);
    free(cfg->sessions.cookie_name);
    free(cfg->sessions.person_header);
    for (size_t i = 0; i < cfg->sessions.nstrip_headers; i++)
        free(cfg->sessions.strip_headers[i]);
    free(cfg->sessions.strip_headers);
    for (size_t i = 0; i < cfg->sessions.nportals; i++) {
        free(cfg->sessions.portals[i].name);
        free(cfg->sessions.portals[i].title);
        free(cfg->sessions.portals[i].host);
        free(cfg->sessions.portals[i].path);
    }
    free(cfg->sessions.portals);
    free(cfg->login.prefix);
    free(cfg->login.template_path);
    free(cfg->login.template_text);
    free(cfg->login.page_title);
    free(cfg->admin.prefix);
    free(cfg->admin.bootstrap_token_file);
    if (cfg->admin.bootstrap_token) {
        explicit_bzero(cfg->admin.bootstrap_token, strlen(cfg->admin.bootstrap_token));
        free(cfg->admin.bootstrap_token);
    }
    free(cfg);
}
