/* gateway/config_yaml.c — the libyaml side of the configuration loader, the only file that
 * calls yaml_*: parses the document (nodes keep their marks) and walks it against the section
 * tables of gateway/config*.c, giving them positioned access to nodes (config_internal.h).
 *
 * Each mapping is a `struct conf_section` listing its keys, each key a type (integer with
 * range, string with a checker, nested section, or a custom handler) and an offset into the
 * struct being filled. Every error is "FILE:LINE:COLUMN: message", 1-based, pointing at the
 * offending node. Start-up, --check-config and SIGHUP only; never on the request path.
 */
#include "gateway/config_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- errors ---- */

static struct gw_conf_pos mark_pos(yaml_mark_t m)
{
    return (struct gw_conf_pos){ .line = (int)m.line + 1, .col = (int)m.column + 1 };
}

static struct gw_conf_pos node_pos(const yaml_node_t *n)
{
    return mark_pos(n->start_mark);
}

/* See config_internal.h. Always returns -1. */
int conf_fail(struct conf_loader *L, struct gw_conf_pos pos, const char *fmt, ...)
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
const char *conf_shown(const char *s, size_t len, char buf[64])
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

/* ---- node helpers ---- */

/* struct conf_node is never defined: a handle is a yaml_node_t of L->doc, converted back and
 * forth only here. */
static yaml_node_t *node(const struct conf_node *n)
{
    return (yaml_node_t *)n;
}

static struct conf_node *handle(yaml_node_t *n)
{
    return (struct conf_node *)n;
}

static yaml_node_t *node_at(struct conf_loader *L, int index)
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
        snprintf(buf, 80, "'%s'", conf_shown(scalar(n), n->data.scalar.length, s));
        return buf;
    default:
        return "nothing";
    }
}

static int want_type(struct conf_loader *L, const yaml_node_t *n, yaml_node_type_t type,
                     const char *what, const char *key)
{
    char d[80];
    if (n->type == type && !(type == YAML_SCALAR_NODE && is_null(n)))
        return 0;
    return conf_fail(L, node_pos(n), "expected %s for %s, got %s", what, key, describe(n, d));
}

/* Gets a string value: a non-null scalar without NUL bytes. Returns 0 and sets *out
 * (borrowed from the document), or -1 with the error written. */
static int get_string(struct conf_loader *L, const yaml_node_t *n, const char *key,
                      const char **out)
{
    if (want_type(L, n, YAML_SCALAR_NODE, "a string", key) < 0)
        return -1;
    if (strlen(scalar(n)) != n->data.scalar.length)
        return conf_fail(L, node_pos(n), "%s contains a NUL byte", key);
    *out = scalar(n);
    return 0;
}

/* Gets an unsigned integer in [min, max] from a plain decimal scalar. Returns 0 or -1. */
static int get_uint(struct conf_loader *L, const yaml_node_t *n, const char *key, uint64_t min,
                    uint64_t max, uint64_t *out)
{
    char d[80], s[64];
    if (n->type != YAML_SCALAR_NODE || is_null(n) ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return conf_fail(L, node_pos(n), "expected an integer for %s, got %s", key,
                         n->type == YAML_SCALAR_NODE && !is_null(n) ? "a quoted string"
                                                                    : describe(n, d));
    const char *p = scalar(n);
    size_t len = n->data.scalar.length;
    if (p[0] == '-' && len > 1 && p[1] >= '0' && p[1] <= '9')
        return conf_fail(L, node_pos(n), "%s must not be negative (got %s)", key,
                         conf_shown(p, len, s));
    /* YAML 1.1 reads 010 as octal 8; refuse the ambiguity rather than pick a meaning */
    if (len > 1 && p[0] == '0' && strspn(p, "0123456789") == len)
        return conf_fail(L, node_pos(n), "%s must be written without leading zeros (got %s)", key,
                         conf_shown(p, len, s));
    uint64_t v = 0;
    bool overflow = false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return conf_fail(L, node_pos(n), "expected an integer for %s, got '%s'", key,
                             conf_shown(p, len, s));
        unsigned digit = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            overflow = true;
        else
            v = v * 10 + digit;
    }
    if (overflow || v < min || v > max)
        return conf_fail(L, node_pos(n), "%s out of range: %s (expected %llu..%llu)", key,
                         conf_shown(p, len, s), (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

/* Fails on the second occurrence of a key in mapping <map>. Keys must be strings. */
static int check_keys(struct conf_loader *L, yaml_node_t *map)
{
    yaml_node_pair_t *start = map->data.mapping.pairs.start, *top = map->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = start; p < top; p++) {
        yaml_node_t *k = node_at(L, p->key);
        char s[64];
        if (!k || k->type != YAML_SCALAR_NODE || is_null(k) ||
            strlen(scalar(k)) != k->data.scalar.length)
            return conf_fail(L, k ? node_pos(k) : node_pos(map), "mapping keys must be strings");
        for (yaml_node_pair_t *q = start; q < p; q++) {
            yaml_node_t *k2 = node_at(L, q->key);
            if (!strcmp(scalar(k), scalar(k2))) {
                struct gw_conf_pos first = node_pos(k2);
                return conf_fail(L, node_pos(k), "duplicate key '%s' (first at %d:%d)",
                                 conf_shown(scalar(k), k->data.scalar.length, s), first.line,
                                 first.col);
            }
        }
    }
    return 0;
}

/* The value node of <key> in mapping <map>, or NULL. */
static yaml_node_t *map_get(struct conf_loader *L, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(L, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp(scalar(k), key))
            return node_at(L, p->value);
    }
    return NULL;
}

/* ---- the schema engine ---- */

static int parse_section(struct conf_loader *L, const struct conf_section *sec, yaml_node_t *map,
                         void *base, const char *key);

static int set_field(struct conf_loader *L, const struct conf_field *f, yaml_node_t *v, void *base)
{
    void *dst = (char *)base + f->offset;
    uint64_t u;
    const char *s;

    switch (f->type) {
    case CONF_U32:
        if (get_uint(L, v, f->key, f->min, f->max, &u) < 0)
            return -1;
        *(uint32_t *)dst = (uint32_t)u;
        return 0;
    case CONF_U64:
        if (get_uint(L, v, f->key, f->min, f->max, &u) < 0)
            return -1;
        *(uint64_t *)dst = u;
        return 0;
    case CONF_STR: {
        if (get_string(L, v, f->key, &s) < 0 || (f->check && f->check(L, f->key, handle(v), s) < 0))
            return -1;
        char *copy = strdup(s);
        if (!copy)
            return conf_fail(L, node_pos(v), "out of memory");
        free(*(char **)dst);
        *(char **)dst = copy;
        return 0;
    }
    case CONF_SECTION:
        return parse_section(L, f->section, v, dst, f->key);
    case CONF_CUSTOM:
        return f->fn(L, f->key, handle(v), base);
    }
    return -1;
}

/* Reads mapping <map> into <base> following <sec>: unknown keys, duplicate keys and missing
 * required keys are errors. <key> names the mapping in type errors. Returns 0 or -1. */
static int parse_section(struct conf_loader *L, const struct conf_section *sec, yaml_node_t *map,
                         void *base, const char *key)
{
    if (want_type(L, map, YAML_MAPPING_NODE, "a mapping", key) < 0 || check_keys(L, map) < 0)
        return -1;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(L, p->key);
        const struct conf_field *f = NULL;
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
            return conf_fail(L, node_pos(k), "unknown key '%s' %s (expected %s)",
                             conf_shown(scalar(k), k->data.scalar.length, s), sec->where, expected);
        }
        if (set_field(L, f, node_at(L, p->value), base) < 0)
            return -1;
    }
    for (size_t i = 0; i < sec->nfields; i++)
        if (sec->fields[i].required && !map_get(L, map, sec->fields[i].key))
            return conf_fail(L, node_pos(map), "missing required key '%s' %s",
                             sec->fields[i].key, sec->where);
    return sec->finish ? sec->finish(L, handle(map), base) : 0;
}

/* A YAML core-schema boolean: plain true/True/TRUE or false/False/FALSE. YAML 1.1's yes/no/
 * on/off and quoted strings are refused, so that what is meant is what is written. */
static int get_bool(struct conf_loader *L, const yaml_node_t *n, const char *key, bool *out)
{
    static const char *const t[] = { "true", "True", "TRUE" }, *const f[] = { "false", "False",
                                                                              "FALSE" };
    char d[80];
    if (n->type != YAML_SCALAR_NODE || is_null(n) ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return conf_fail(L, node_pos(n), "expected true or false for %s, got %s", key,
                         n->type == YAML_SCALAR_NODE && !is_null(n) ? "a quoted string"
                                                                    : describe(n, d));
    for (size_t i = 0; i < 3; i++) {
        if (!strcmp(scalar(n), t[i]) || !strcmp(scalar(n), f[i])) {
            *out = !strcmp(scalar(n), t[i]);
            return 0;
        }
    }
    return conf_fail(L, node_pos(n), "expected true or false for %s, got %s", key, describe(n, d));
}

/* Translates a libyaml parser failure into "FILE:LINE:COL: YAML syntax error: ...". */
static int fail_parser(struct conf_loader *L, const yaml_parser_t *p)
{
    struct gw_conf_pos pos;
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return conf_fail(L, (struct gw_conf_pos){ 1, 1 }, "out of memory while parsing");
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
        return conf_fail(L, pos, "invalid input: %s", p->problem ? p->problem : "unreadable");
    }
    default:
        pos = mark_pos(p->problem_mark);
        if (p->context)
            return conf_fail(L, pos, "YAML syntax error: %s (%s at %d:%d)",
                             p->problem ? p->problem : "invalid YAML", p->context,
                             mark_pos(p->context_mark).line, mark_pos(p->context_mark).col);
        return conf_fail(L, pos, "YAML syntax error: %s", p->problem ? p->problem : "invalid YAML");
    }
}

/* See config_internal.h: parses L->input and fills <base> following <top>. Returns 0 or -1
 * with L->err written. */
int conf_yaml_load(struct conf_loader *L, const struct conf_section *top, void *base)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    bool have_doc = false;
    int rc = -1;

    if (!yaml_parser_initialize(&parser))
        return conf_fail(L, (struct gw_conf_pos){ 1, 1 }, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)L->input, L->inlen);
    if (!yaml_parser_load(&parser, &doc)) {
        fail_parser(L, &parser);
        goto out;
    }
    have_doc = true;
    L->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        conf_fail(L, (struct gw_conf_pos){ 1, 1 }, "empty configuration (expected a mapping with "
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
        conf_fail(L, extra_pos, "more than one YAML document in the file");
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        char d[80];
        conf_fail(L, node_pos(root), "expected a mapping at top level, got %s",
                  describe(root, d));
        goto out;
    }
    rc = parse_section(L, top, root, base, "top level");
out:
    if (have_doc)
        yaml_document_delete(&doc);
    L->doc = NULL;
    yaml_parser_delete(&parser);
    return rc;
}

/* ---- the node API of config_internal.h over the static helpers above ---- */

struct gw_conf_pos conf_pos(const struct conf_node *n)
{
    return node_pos(node(n));
}

bool conf_is_map(const struct conf_node *n)
{
    return node(n)->type == YAML_MAPPING_NODE;
}

bool conf_is_plain(const struct conf_node *n)
{
    return node(n)->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

const char *conf_scalar(const struct conf_node *n)
{
    return scalar(node(n));
}

size_t conf_list_len(const struct conf_node *n)
{
    const yaml_node_t *y = node(n);
    return (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);
}

struct conf_node *conf_list_item(struct conf_loader *L, const struct conf_node *n, size_t i)
{
    return handle(node_at(L, node(n)->data.sequence.items.start[i]));
}

size_t conf_map_len(const struct conf_node *n)
{
    const yaml_node_t *y = node(n);
    return (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start);
}

struct conf_node *conf_map_key(struct conf_loader *L, const struct conf_node *n, size_t i)
{
    return handle(node_at(L, node(n)->data.mapping.pairs.start[i].key));
}

struct conf_node *conf_map_value(struct conf_loader *L, const struct conf_node *n, size_t i)
{
    return handle(node_at(L, node(n)->data.mapping.pairs.start[i].value));
}

struct conf_node *conf_map_get(struct conf_loader *L, struct conf_node *map, const char *key)
{
    return handle(map_get(L, node(map), key));
}

/* Positions reported by finish_* checks: the key's value when written, else the section. */
struct gw_conf_pos conf_pos_of_key(struct conf_loader *L, struct conf_node *map,
                                   const char *key)
{
    yaml_node_t *n = map_get(L, node(map), key);
    return node_pos(n ? n : node(map));
}

int conf_want(struct conf_loader *L, const struct conf_node *n, enum conf_kind kind,
              const char *what, const char *key)
{
    yaml_node_type_t type = kind == CONF_MAP    ? YAML_MAPPING_NODE
                            : kind == CONF_LIST ? YAML_SEQUENCE_NODE
                                                : YAML_SCALAR_NODE;
    return want_type(L, node(n), type, what, key);
}

int conf_get_string(struct conf_loader *L, const struct conf_node *n, const char *key,
                    const char **out)
{
    return get_string(L, node(n), key, out);
}

int conf_get_uint(struct conf_loader *L, const struct conf_node *n, const char *key,
                  uint64_t min, uint64_t max, uint64_t *out)
{
    return get_uint(L, node(n), key, min, max, out);
}

int conf_get_bool(struct conf_loader *L, const struct conf_node *n, const char *key, bool *out)
{
    return get_bool(L, node(n), key, out);
}

int conf_parse_section(struct conf_loader *L, const struct conf_section *sec,
                       struct conf_node *map, void *base, const char *key)
{
    return parse_section(L, sec, node(map), base, key);
}
