/* policy/policy_build.c — building and compiling the role policy at configuration time.
 *
 * The config loader calls the pol_builder_* functions while it walks the YAML; this file
 * records what it is told (names still as text, with their positions), then
 * pol_builder_compile() resolves every name to a bit and lays the result out in the flat
 * arrays of policy_compiled.h. Nothing here runs on the request path.
 */
#include "policy/policy_compiled.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUILDER_ERR_MAX 512

struct bname {
    char *name;
    struct pol_pos pos;
};

struct bnames {
    struct bname *v;
    size_t n, cap;
};

struct balt {
    struct pol_pos pos;
    bool has_kind;
    enum pol_kind kind;
    uint32_t flags;
    struct pol_pos flag_pos;        /* first flag, for "flags on the wrong kind" */
    struct bnames roles;
    struct bnames scopes;
};

struct brule {
    struct pol_pos pos;
    uint32_t methods;               /* 0 = none named (= all) */
    char *prefix;
    size_t first_alt, nalts;
};

struct broute {
    size_t id;
    char *host;
    char *path;
    struct pol_pos pos;
    bool is_public;
    bool public_seen;
    struct pol_pos public_pos;
    size_t first_rule, nrules;
};

struct pol_builder {
    struct bnames roles;
    struct bnames scopes;
    struct broute *routes;
    size_t nroutes, caproutes;
    struct brule *rules;
    size_t nrules, caprules;
    struct balt *alts;
    size_t nalts, capalts;
    /* what the nesting calls apply to; -1 = nothing started yet */
    long cur_route, cur_rule, cur_alt;
    int err;
    char errmsg[BUILDER_ERR_MAX];
};

const char *const pol_method_names[POL_M_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
};

static const char *const flag_names[] = { "has_ssp_access", "is_caller" };

/* Records the first error and returns <code>; later errors are dropped so the message names
 * the first problem in document order. */
__attribute__((format(printf, 4, 5)))
static int fail(struct pol_builder *b, int code, struct pol_pos pos, const char *fmt, ...)
{
    if (b->err)
        return b->err;
    b->err = code;
    int n = 0;
    if (pos.line > 0)
        n = snprintf(b->errmsg, sizeof b->errmsg, "%d:%d: ", pos.line, pos.col);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->errmsg + n, sizeof b->errmsg - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

static int nomem(struct pol_builder *b, struct pol_pos pos)
{
    return fail(b, POL_ERR_NOMEM, pos, "out of memory");
}

/* Makes room for one more element in *<arr>. Returns 0 or -1 on ENOMEM. */
static int grow(void **arr, size_t *cap, size_t n, size_t elsize)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, ncap * elsize);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int bnames_add(struct bnames *ns, const char *name, struct pol_pos pos)
{
    if (grow((void **)&ns->v, &ns->cap, ns->n, sizeof *ns->v) < 0)
        return -1;
    char *copy = strdup(name);
    if (!copy)
        return -1;
    ns->v[ns->n++] = (struct bname){ copy, pos };
    return 0;
}

static void bnames_free(struct bnames *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i].name);
    free(ns->v);
}

static const struct bname *bnames_find(const struct bnames *ns, const char *name)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i].name, name) == 0)
            return &ns->v[i];
    return NULL;
}

/* Role and scope names: what the directory and OAuth scopes can carry without quoting. */
static bool name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > POL_NAME_MAX_BYTES)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\' || c == ',')
            return false;
    }
    return true;
}

/* Same semantics as the route table: "/a" covers "/a", "/a/..." and "/a?..." but not "/ab";
 * "/a/" covers "/a/...". */
static bool prefix_covers(const char *prefix, size_t plen, const char *path, size_t len)
{
    if (len < plen || memcmp(prefix, path, plen) != 0)
        return false;
    return plen == 0 || prefix[plen - 1] == '/' || len == plen || path[plen] == '/' ||
           path[plen] == '?';
}

struct pol_builder *pol_builder_new(void)
{
    struct pol_builder *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cur_route = b->cur_rule = b->cur_alt = -1;
    return b;
}

void pol_builder_free(struct pol_builder *b)
{
    if (!b)
        return;
    bnames_free(&b->roles);
    bnames_free(&b->scopes);
    for (size_t i = 0; i < b->nroutes; i++) {
        free(b->routes[i].host);
        free(b->routes[i].path);
    }
    free(b->routes);
    for (size_t i = 0; i < b->nrules; i++)
        free(b->rules[i].prefix);
    free(b->rules);
    for (size_t i = 0; i < b->nalts; i++) {
        bnames_free(&b->alts[i].roles);
        bnames_free(&b->alts[i].scopes);
    }
    free(b->alts);
    free(b);
}

const char *pol_builder_error(const struct pol_builder *b)
{
    return b->err ? b->errmsg : NULL;
}

static int declare(struct pol_builder *b, struct bnames *ns, const char *what,
                   const char *name, struct pol_pos pos)
{
    if (b->err)
        return b->err;
    if (!name_ok(name))
        return fail(b, POL_ERR_INVALID, pos,
                    "invalid %s name '%.80s' (1-%d visible ASCII characters, no quotes, "
                    "backslash or comma)", what, name, POL_NAME_MAX_BYTES);
    const struct bname *prev = bnames_find(ns, name);
    if (prev)
        return fail(b, POL_ERR_DUPLICATE, pos, "%s '%s' is declared twice (first at %d:%d)",
                    what, name, prev->pos.line, prev->pos.col);
    if (ns->n >= POL_ROLES_MAX)
        return fail(b, POL_ERR_LIMIT, pos, "too many %ss (at most %d)", what, POL_ROLES_MAX);
    if (bnames_add(ns, name, pos) < 0)
        return nomem(b, pos);
    return 0;
}

int pol_builder_declare_role(struct pol_builder *b, const char *name, struct pol_pos pos)
{
    return declare(b, &b->roles, "role", name, pos);
}

int pol_builder_declare_scope(struct pol_builder *b, const char *name, struct pol_pos pos)
{
    return declare(b, &b->scopes, "scope", name, pos);
}

int pol_builder_add_route(struct pol_builder *b, size_t route_id, const char *host,
                          const char *path_prefix, struct pol_pos pos)
{
    if (b->err)
        return b->err;
    if (!path_prefix || path_prefix[0] != '/')
        return fail(b, POL_ERR_INVALID, pos, "route path must begin with '/'");
    if (route_id > POL_ROUTE_ID_MAX)
        return fail(b, POL_ERR_LIMIT, pos, "too many routes (at most %d)", POL_ROUTE_ID_MAX + 1);
    for (size_t i = 0; i < b->nroutes; i++)
        if (b->routes[i].id == route_id)
            return fail(b, POL_ERR_DUPLICATE, pos, "route id %zu already has a policy (%d:%d)",
                        route_id, b->routes[i].pos.line, b->routes[i].pos.col);
    if (grow((void **)&b->routes, &b->caproutes, b->nroutes, sizeof *b->routes) < 0)
        return nomem(b, pos);
    struct broute *r = &b->routes[b->nroutes];
    *r = (struct broute){ .id = route_id, .pos = pos, .first_rule = b->nrules };
    r->path = strdup(path_prefix);
    r->host = host ? strdup(host) : NULL;
    if (!r->path || (host && !r->host)) {
        free(r->path);
        free(r->host);
        return nomem(b, pos);
    }
    b->cur_route = (long)b->nroutes++;
    b->cur_rule = b->cur_alt = -1;
    return 0;
}

int pol_builder_route_public(struct pol_builder *b, bool is_public, struct pol_pos pos)
{
    if (b->err)
        return b->err;
    if (b->cur_route < 0)
        return fail(b, POL_ERR_STATE, pos, "'public' outside a route");
    struct broute *r = &b->routes[b->cur_route];
    if (r->public_seen)
        return fail(b, POL_ERR_DUPLICATE, pos, "'public' given twice for route %s", r->path);
    r->public_seen = true;
    r->is_public = is_public;
    r->public_pos = pos;
    return 0;
}

int pol_builder_add_rule(struct pol_builder *b, struct pol_pos pos)
{
    if (b->err)
        return b->err;
    if (b->cur_route < 0)
        return fail(b, POL_ERR_STATE, pos, "access rule outside a route");
    if (grow((void **)&b->rules, &b->caprules, b->nrules, sizeof *b->rules) < 0)
        return nomem(b, pos);
    b->rules[b->nrules] = (struct brule){ .pos = pos, .first_alt = b->nalts };
    b->routes[b->cur_route].nrules++;
    b->cur_rule = (long)b->nrules++;
    b->cur_alt = -1;
    return 0;
}

unsigned pol_method_bit(const char *name, size_t len)
{
    for (unsigned i = 0; i < POL_M_COUNT; i++)
        if (strlen(pol_method_names[i]) == len && memcmp(pol_method_names[i], name, len) == 0)
            return 1u << i;
    return 0;
}

int pol_builder_rule_method(struct pol_builder *b, const char *method, struct pol_pos pos)
{
    if (b->err)
        return b->err;
    if (b->cur_rule < 0)
        return fail(b, POL_ERR_STATE, pos, "'methods' outside an access rule");
    unsigned bit = pol_method_bit(method, strlen(method));
    if (!bit)
        return fail(b, POL_ERR_INVALID, pos,
                    "unknown method '%.40s' (use GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, "
                    "TRACE or CONNECT, upper case)", method);
    if (bit == POL_M_GET)
        bit |= POL_M_HEAD;          /* HEAD is GET without the body */
    b->rules[b->cur_rule].methods |= bit;
    return 0;
}

int pol_builder_rule_path(struct pol_builder *b, const char *path_prefix, struct pol_pos pos)
{
    if (b->err)
        return b->err;
    if (b->cur_rule < 0)
        return fail(b, POL_ERR_STATE, pos, "'path' outside an access rule");
    struct brule *rule = &b->rules[b->cur_rule];
    const struct broute *route = &b->routes[b->cur_route];
    if (rule->prefix)
        return fail(b, POL_ERR_DUPLICATE, pos, "'path' given twice in one rule");
    size_t len = strlen(path_prefix);
    if (len == 0 || !pol_path_is_normal(path_prefix, len) || strpbrk(path_prefix, "?#"))
        return fail(b, POL_ERR_INVALID, pos,
                    "rule path '%.80s' must begin with '/' and be a plain path (no '.', '..', "
                    "'//', '?', '#', backslash or encoded characters)", path_prefix);
    if (!prefix_covers(route->path, strlen(route->path), path_prefix, len))
        return fail(b, POL_ERR_INVALID, pos, "rule path '%.80s' is not within the route's "
                    "path '%.80s'", path_prefix, route->path);
    if (!(rule->prefix = strdup(path_prefix)))
        return nomem(b, pos);
    return 0;
}

int pol_builder_add_alternative(struct pol_builder *b, struct pol_pos pos)
{
    if (b->err)
        return b->err;
    if (b->cur_rule < 0)
        return fail(b, POL_ERR_STATE, pos, "'allow' entry outside an access rule");
    if (grow((void **)&b->alts, &b->capalts, b->nalts, sizeof *b->alts) < 0)
        return nomem(b, pos);
    b->alts[b->nalts] = (struct balt){ .pos = pos };
    b->rules[b->cur_rule].nalts++;
    b->cur_alt = (long)b->nalts++;
    return 0;
}

static int need_alt(struct pol_builder *b, const char *key, struct pol_pos pos)
{
    if (b->err)
        return b->err;
    if (b->cur_alt < 0)
        return fail(b, POL_ERR_STATE, pos, "'%s' outside an 'allow' entry", key);
    return 0;
}

int pol_builder_alt_kind(struct pol_builder *b, const char *kind, struct pol_pos pos)
{
    int rc = need_alt(b, "kind", pos);
    if (rc)
        return rc;
    struct balt *a = &b->alts[b->cur_alt];
    if (a->has_kind)
        return fail(b, POL_ERR_DUPLICATE, pos, "'kind' given twice in one 'allow' entry");
    if (strcmp(kind, "person") == 0)
        a->kind = POL_KIND_PERSON;
    else if (strcmp(kind, "api_account") == 0)
        a->kind = POL_KIND_API_ACCOUNT;
    else if (strcmp(kind, "system") == 0)
        a->kind = POL_KIND_SYSTEM;
    else
        return fail(b, POL_ERR_INVALID, pos, "unknown kind '%.40s' (use person, api_account or "
                    "system; routes open to anyone say 'public: true')", kind);
    a->has_kind = true;
    return 0;
}

int pol_builder_alt_role(struct pol_builder *b, const char *role, struct pol_pos pos)
{
    int rc = need_alt(b, "roles", pos);
    if (rc)
        return rc;
    if (!name_ok(role))
        return fail(b, POL_ERR_INVALID, pos, "invalid role name '%.80s'", role);
    if (bnames_add(&b->alts[b->cur_alt].roles, role, pos) < 0)
        return nomem(b, pos);
    return 0;
}

int pol_builder_alt_flag(struct pol_builder *b, const char *flag, struct pol_pos pos)
{
    int rc = need_alt(b, "flags", pos);
    if (rc)
        return rc;
    struct balt *a = &b->alts[b->cur_alt];
    for (unsigned i = 0; i < sizeof flag_names / sizeof *flag_names; i++) {
        if (strcmp(flag, flag_names[i]) == 0) {
            if (!a->flags)
                a->flag_pos = pos;
            a->flags |= 1u << i;
            return 0;
        }
    }
    return fail(b, POL_ERR_INVALID, pos,
                "unknown flag '%.40s' (use has_ssp_access or is_caller)", flag);
}

int pol_builder_alt_scope(struct pol_builder *b, const char *scope, struct pol_pos pos)
{
    int rc = need_alt(b, "scopes", pos);
    if (rc)
        return rc;
    if (!name_ok(scope))
        return fail(b, POL_ERR_INVALID, pos, "invalid scope name '%.80s'", scope);
    if (bnames_add(&b->alts[b->cur_alt].scopes, scope, pos) < 0)
        return nomem(b, pos);
    return 0;
}

/* ---- compiling ---- */

static long index_of(const struct bnames *ns, const char *name)
{
    const struct bname *n = bnames_find(ns, name);
    return n ? n - ns->v : -1;
}

/* Checks what could not be checked while the calls came in. Returns 0 or the error. */
static int check_all(struct pol_builder *b)
{
    for (size_t ri = 0; ri < b->nroutes; ri++) {
        const struct broute *route = &b->routes[ri];
        if (route->is_public && route->nrules)
            return fail(b, POL_ERR_INVALID, b->rules[route->first_rule].pos,
                        "route %s is public (%d:%d) and must not have access rules",
                        route->path, route->public_pos.line, route->public_pos.col);
        for (size_t ki = route->first_rule; ki < route->first_rule + route->nrules; ki++) {
            const struct brule *rule = &b->rules[ki];
            if (rule->nalts == 0)
                return fail(b, POL_ERR_INVALID, rule->pos, "access rule allows no one: give "
                            "'allow' at least one entry (requests no rule matches are denied "
                            "anyway)");
            for (size_t ai = rule->first_alt; ai < rule->first_alt + rule->nalts; ai++) {
                const struct balt *a = &b->alts[ai];
                if (!a->has_kind)
                    return fail(b, POL_ERR_INVALID, a->pos, "'allow' entry needs a 'kind' "
                                "(person, api_account or system)");
                const char *kname = pol_kind_name(a->kind);
                if (a->kind != POL_KIND_PERSON && a->flags)
                    return fail(b, POL_ERR_INVALID, a->flag_pos, "flags apply to persons "
                                "only, not to kind '%s'", kname);
                if (a->kind != POL_KIND_PERSON && a->roles.n)
                    return fail(b, POL_ERR_INVALID, a->roles.v[0].pos, "roles apply to "
                                "persons only, not to kind '%s' (use scopes)", kname);
                if (a->kind == POL_KIND_PERSON && a->scopes.n)
                    return fail(b, POL_ERR_INVALID, a->scopes.v[0].pos, "scopes apply to API "
                                "and system accounts only, not to persons (use roles)");
                for (size_t i = 0; i < a->roles.n; i++)
                    if (index_of(&b->roles, a->roles.v[i].name) < 0)
                        return fail(b, POL_ERR_UNKNOWN, a->roles.v[i].pos, "unknown role '%s' "
                                    "(not declared in 'roles:')", a->roles.v[i].name);
                for (size_t i = 0; i < a->scopes.n; i++)
                    if (index_of(&b->scopes, a->scopes.v[i].name) < 0)
                        return fail(b, POL_ERR_UNKNOWN, a->scopes.v[i].pos, "unknown scope '%s'"
                                    " (not declared in 'scopes:')", a->scopes.v[i].name);
            }
        }
    }
    return 0;
}

/* Copies <s> into the policy's string block at *<cursor>. */
static const char *put_string(char **cursor, const char *s)
{
    size_t n = strlen(s) + 1;
    memcpy(*cursor, s, n);
    const char *out = *cursor;
    *cursor += n;
    return out;
}

/* Enters names[0..n) into <idx>; n <= 256 keeps the table at most half full. */
static void index_names(struct pol_name_index *idx, const char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned h = pol_name_slot(names[i]);
        while (idx->slot[h])
            h = (h + 1) & (POL_NAME_SLOTS - 1);
        idx->slot[h] = (uint16_t)(i + 1);
    }
}

static void set_bits(struct pol_bitset *set, const struct bnames *want, const struct bnames *decl)
{
    for (size_t i = 0; i < want->n; i++)
        pol_bitset_set(set, (int)index_of(decl, want->v[i].name));
}

struct pol_policy *pol_builder_compile(struct pol_builder *b, char *err, size_t errlen)
{
    struct pol_policy *p = NULL;
    struct pol_pos nopos = { 0, 0 };

    if (b->err || check_all(b))
        goto out;

    p = calloc(1, sizeof *p);
    if (!p) {
        nomem(b, nopos);
        goto out;
    }
    size_t strbytes = 0;
    for (size_t i = 0; i < b->roles.n; i++)
        strbytes += strlen(b->roles.v[i].name) + 1;
    for (size_t i = 0; i < b->scopes.n; i++)
        strbytes += strlen(b->scopes.v[i].name) + 1;
    for (size_t i = 0; i < b->nroutes; i++) {
        strbytes += strlen(b->routes[i].path) + 1;
        if (b->routes[i].host)
            strbytes += strlen(b->routes[i].host) + 1;
        if (b->routes[i].id + 1 > p->nroutes)
            p->nroutes = b->routes[i].id + 1;
    }
    for (size_t i = 0; i < b->nrules; i++)
        if (b->rules[i].prefix)
            strbytes += strlen(b->rules[i].prefix) + 1;

    p->nrules = b->nrules;
    p->nalts = b->nalts;
    p->nroles = b->roles.n;
    p->nscopes = b->scopes.n;
    p->strings = malloc(strbytes ? strbytes : 1);
    p->routes = calloc(p->nroutes ? p->nroutes : 1, sizeof *p->routes);
    p->rules = calloc(p->nrules ? p->nrules : 1, sizeof *p->rules);
    p->alts = calloc(p->nalts ? p->nalts : 1, sizeof *p->alts);
    p->role_names = calloc(p->nroles ? p->nroles : 1, sizeof *p->role_names);
    p->scope_names = calloc(p->nscopes ? p->nscopes : 1, sizeof *p->scope_names);
    if (!p->strings || !p->routes || !p->rules || !p->alts || !p->role_names ||
        !p->scope_names) {
        nomem(b, nopos);
        pol_policy_free(p);
        p = NULL;
        goto out;
    }

    char *cursor = p->strings;
    for (size_t i = 0; i < p->nroles; i++)
        p->role_names[i] = put_string(&cursor, b->roles.v[i].name);
    for (size_t i = 0; i < p->nscopes; i++)
        p->scope_names[i] = put_string(&cursor, b->scopes.v[i].name);
    index_names(&p->role_index, p->role_names, p->nroles);
    index_names(&p->scope_index, p->scope_names, p->nscopes);

    /* Rules and alternatives keep the builder's order: each route's and each rule's children
     * were appended contiguously while it was the current one. */
    for (size_t i = 0; i < b->nalts; i++) {
        const struct balt *ba = &b->alts[i];
        struct pol_alt *a = &p->alts[i];
        a->kind = ba->kind;
        a->flags = ba->flags;
        a->pos = ba->pos;
        set_bits(&a->roles, &ba->roles, &b->roles);
        set_bits(&a->scopes, &ba->scopes, &b->scopes);
    }
    for (size_t i = 0; i < b->nrules; i++) {
        const struct brule *br = &b->rules[i];
        struct pol_rule *r = &p->rules[i];
        r->methods = br->methods ? br->methods : POL_M_ALL;
        if (br->prefix) {
            r->prefix = put_string(&cursor, br->prefix);
            r->prefix_len = (uint32_t)strlen(br->prefix);
        }
        r->first_alt = (uint32_t)br->first_alt;
        r->nalts = (uint32_t)br->nalts;
        r->pos = br->pos;
        for (size_t k = 0; k < br->nalts; k++)
            r->kinds |= POL_KIND_BIT(p->alts[br->first_alt + k].kind);
    }
    for (size_t i = 0; i < b->nroutes; i++) {
        const struct broute *br = &b->routes[i];
        struct pol_route *r = &p->routes[br->id];
        r->present = true;
        r->is_public = br->is_public;
        r->host = br->host ? put_string(&cursor, br->host) : NULL;
        r->path = put_string(&cursor, br->path);
        r->first_rule = (uint32_t)br->first_rule;
        r->nrules = (uint32_t)br->nrules;
        r->pos = br->pos;
    }

out:
    if (!p && err && errlen)
        snprintf(err, errlen, "%s", b->errmsg);
    return p;
}

void pol_policy_free(struct pol_policy *p)
{
    if (!p)
        return;
    free(p->routes);
    free(p->rules);
    free(p->alts);
    free(p->role_names);
    free(p->scope_names);
    free(p->strings);
    free(p);
}
