/* gateway/config_routes.c — routes and the role policy of the configuration: routes[] with
 * their JWT settings, top-level roles/scopes and each route's public/access rules, fed to a
 * pol_builder (policy/policy.h) with each node's position; then the route table and policy.
 */
#include "gateway/config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Reports a policy builder/compiler message "LINE:COL: text" as "FILE:LINE:COL: text".
 * A message without a position (out of memory) is placed at <fallback>. Names quoted by the
 * builder come from the file, so control and non-ASCII bytes are shown as '?' here, as
 * conf_shown() does for the loader's own messages. Always returns -1. */
static int fail_policy(struct conf_loader *L, const char *msg, struct gw_conf_pos fallback)
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
    return conf_fail(L, pos, "%s", text);
}

/* -- the role policy (docs/POLICY.md): every node goes to L->pb with its position -- */

static struct pol_pos pol_pos_of(const struct conf_node *n)
{
    struct gw_conf_pos p = conf_pos(n);
    return (struct pol_pos){ p.line, p.col };
}

/* Passes on a pol_builder_* result: 0 stays 0; an error becomes the loader's error at once
 * (the builder keeps the first one, which is this one). Returns 0 or -1. */
static int pol_result(struct conf_loader *L, int rc, const struct conf_node *at)
{
    if (rc == 0)
        return 0;
    return fail_policy(L, pol_builder_error(L->pb), conf_pos(at));
}

typedef int pol_name_fn(struct pol_builder *b, const char *name, struct pol_pos pos);

/* A list of strings, each handed to <fn> with its position: roles, scopes, methods, flags.
 * <item> names one entry in type errors ("expected a string for role, got a list").
 * Returns 0 or -1. */
static int pol_names(struct conf_loader *L, const char *key, struct conf_node *v, const char *item,
                     pol_name_fn *fn)
{
    if (conf_want(L, v, CONF_LIST, "a list", key) < 0)
        return -1;
    for (size_t i = 0; i < conf_list_len(v); i++) {
        struct conf_node *n = conf_list_item(L, v, i);
        const char *s;
        if (conf_get_string(L, n, item, &s) < 0 ||
            pol_result(L, fn(L->pb, s, pol_pos_of(n)), n) < 0)
            return -1;
    }
    return 0;
}

/* See config_internal.h: top-level `roles`. */
int conf_field_roles(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    return pol_names(L, key, v, "role", pol_builder_declare_role);
}

/* See config_internal.h: top-level `scopes`. */
int conf_field_scopes(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    return pol_names(L, key, v, "scope", pol_builder_declare_scope);
}

/* allow entry: { kind, roles, flags, scopes }. <base> is unused (the loader is passed, so
 * that parse_section never offsets a null pointer): everything goes to L->pb. */
static int field_alt_kind(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    const char *s;
    if (conf_get_string(L, v, key, &s) < 0)
        return -1;
    return pol_result(L, pol_builder_alt_kind(L->pb, s, pol_pos_of(v)), v);
}

static int field_alt_roles(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    return pol_names(L, key, v, "role", pol_builder_alt_role);
}

static int field_alt_flags(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    return pol_names(L, key, v, "flag", pol_builder_alt_flag);
}

static int field_alt_scopes(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    return pol_names(L, key, v, "scope", pol_builder_alt_scope);
}

static const struct conf_field alt_fields[] = {
    { .key = "kind", .type = CONF_CUSTOM, .fn = field_alt_kind },
    { .key = "roles", .type = CONF_CUSTOM, .fn = field_alt_roles },
    { .key = "flags", .type = CONF_CUSTOM, .fn = field_alt_flags },
    { .key = "scopes", .type = CONF_CUSTOM, .fn = field_alt_scopes },
};
static const struct conf_section alt_section = {
    "in allow entry", alt_fields, sizeof(alt_fields) / sizeof(alt_fields[0]), NULL
};

/* access rule: { methods, path, allow }. A missing or empty `allow` and a missing `kind` are
 * found by pol_builder_compile (it names the rule or entry). */
static int field_rule_methods(struct conf_loader *L, const char *key, struct conf_node *v,
                              void *base)
{
    return pol_names(L, key, v, "method", pol_builder_rule_method);
}

static int field_rule_path(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    const char *s;
    if (conf_get_string(L, v, key, &s) < 0)
        return -1;
    return pol_result(L, pol_builder_rule_path(L->pb, s, pol_pos_of(v)), v);
}

static int field_rule_allow(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    if (conf_want(L, v, CONF_LIST, "a list", key) < 0)
        return -1;
    for (size_t i = 0; i < conf_list_len(v); i++) {
        struct conf_node *n = conf_list_item(L, v, i);
        if (pol_result(L, pol_builder_add_alternative(L->pb, pol_pos_of(n)), n) < 0 ||
            conf_parse_section(L, &alt_section, n, L, "allow entry") < 0)
            return -1;
    }
    return 0;
}

static const struct conf_field rule_fields[] = {
    { .key = "methods", .type = CONF_CUSTOM, .fn = field_rule_methods },
    { .key = "path", .type = CONF_CUSTOM, .fn = field_rule_path },
    { .key = "allow", .type = CONF_CUSTOM, .fn = field_rule_allow },
};
static const struct conf_section rule_section = {
    "in access rule", rule_fields, sizeof(rule_fields) / sizeof(rule_fields[0]), NULL
};

/* -- routes -- */

/* `public` and `access` need the route's host and path, which may come later in the mapping:
 * they are read by finish_route once every key is in. */
static int field_route_deferred(struct conf_loader *L, const char *key, struct conf_node *v,
                                void *base)
{
    return 0;
}

/* Hands the route to the policy builder with id = its index in cfg->routes (the id the route
 * table returns), then its `public` and `access` nodes. Returns 0 or -1. */
static int finish_route(struct conf_loader *L, struct conf_node *map, void *base)
{
    struct gw_route_conf *r = base;
    size_t id = (size_t)(r - L->cfg->routes);
    struct conf_node *pub = conf_map_get(L, map, "public"), *acc = conf_map_get(L, map, "access");

    if (pol_result(L, pol_builder_add_route(L->pb, id, r->host, r->path_prefix,
                                            pol_pos_of(map)), map) < 0)
        return -1;
    if (pub) {
        bool is_public = false;
        if (conf_get_bool(L, pub, "public", &is_public) < 0 ||
            pol_result(L, pol_builder_route_public(L->pb, is_public, pol_pos_of(pub)), pub) < 0)
            return -1;
    }
    if (!acc)
        return 0;
    if (conf_want(L, acc, CONF_LIST, "a list", "access") < 0)
        return -1;
    for (size_t i = 0; i < conf_list_len(acc); i++) {
        struct conf_node *n = conf_list_item(L, acc, i);
        if (pol_result(L, pol_builder_add_rule(L->pb, pol_pos_of(n)), n) < 0 ||
            conf_parse_section(L, &rule_section, n, L, "access rule") < 0)
            return -1;
    }
    return 0;
}

/* `jwt_claims: [name, email]`: the optional person claims this route's token carries. */
static int field_route_jwt_claims(struct conf_loader *L, const char *key, struct conf_node *v,
                                  void *base)
{
    struct gw_route_conf *r = base;
    if (conf_want(L, v, CONF_LIST, "a list", key) < 0)
        return -1;
    for (size_t i = 0; i < conf_list_len(v); i++) {
        struct conf_node *n = conf_list_item(L, v, i);
        const char *s;
        char b[64];
        if (conf_get_string(L, n, "claim", &s) < 0)
            return -1;
        bool *flag = !strcmp(s, "name") ? &r->jwt_claim_name
                   : !strcmp(s, "email") ? &r->jwt_claim_email : NULL;
        if (!flag)
            return conf_fail(L, conf_pos(n), "unknown claim '%s' in jwt_claims (expected name, "
                             "email)", conf_shown(s, strlen(s), b));
        if (*flag)
            return conf_fail(L, conf_pos(n), "claim '%s' listed twice in jwt_claims", s);
        *flag = true;
    }
    return 0;
}

static int field_route_max_body(struct conf_loader *L, const char *key, struct conf_node *v,
                                void *base)
{
    struct gw_route_conf *r = base;
    if (conf_get_uint(L, v, key, 0, INT64_MAX, &r->max_body_bytes) < 0)
        return -1;
    r->has_max_body = true;
    return 0;
}

static const struct conf_field route_fields[] = {
    { .key = "host", .type = CONF_STR, .offset = offsetof(struct gw_route_conf, host),
      .check = conf_check_host },
    { .key = "path", .type = CONF_STR, .offset = offsetof(struct gw_route_conf, path_prefix),
      .required = true, .check = conf_check_route_path },
    { .key = "upstream", .type = CONF_STR, .offset = offsetof(struct gw_route_conf, upstream),
      .required = true, .check = conf_check_name },
    { .key = "max_body_bytes", .type = CONF_CUSTOM, .fn = field_route_max_body },
    { .key = "public", .type = CONF_CUSTOM, .fn = field_route_deferred },
    { .key = "access", .type = CONF_CUSTOM, .fn = field_route_deferred },
    { .key = "audience", .type = CONF_STR, .offset = offsetof(struct gw_route_conf, audience),
      .check = conf_check_jwt_string },
    { .key = "jwt_header", .type = CONF_STR, .offset = offsetof(struct gw_route_conf, jwt_header),
      .check = conf_check_header_name },
    { .key = "jwt_claims", .type = CONF_CUSTOM, .fn = field_route_jwt_claims },
};
static const struct conf_section route_section = {
    "in route", route_fields, sizeof(route_fields) / sizeof(route_fields[0]), finish_route
};

/* See config_internal.h: `routes`, a list of route sections. */
int conf_field_routes(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    struct gw_config *cfg = base;
    if (conf_want(L, v, CONF_LIST, "a list", key) < 0)
        return -1;
    size_t n = conf_list_len(v);
    if (n == 0)
        return 0;
    cfg->routes = calloc(n, sizeof(*cfg->routes));
    L->route_upstream_pos = calloc(n, sizeof(*L->route_upstream_pos));
    if (!cfg->routes || !L->route_upstream_pos)
        return conf_fail(L, conf_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct conf_node *item = conf_list_item(L, v, i);
        struct gw_route_conf *r = &cfg->routes[i];
        r->pos = conf_pos(item);
        cfg->nroutes = i + 1;
        if (conf_parse_section(L, &route_section, item, r, "route") < 0)
            return -1;
        L->route_upstream_pos[i] = conf_pos(conf_map_get(L, item, "upstream"));
    }
    return 0;
}

/* -- once every key is read (called by finish_top in config.c) -- */

/* See config_internal.h. An unknown name is reported at the route's `upstream` value. */
int conf_routes_link_upstreams(struct conf_loader *L, struct gw_config *cfg)
{
    for (size_t i = 0; i < cfg->nroutes; i++) {
        struct gw_route_conf *r = &cfg->routes[i];
        size_t u = 0;
        while (u < cfg->nupstreams && strcmp(cfg->upstreams[u].name, r->upstream) != 0)
            u++;
        if (u == cfg->nupstreams)
            return conf_fail(L, L->route_upstream_pos[i], "route names unknown upstream '%s'",
                             r->upstream);
        r->upstream_index = u;
    }
    return 0;
}

/* See config_internal.h: the route table (duplicate routes), then the role policy
 * (undeclared roles/scopes, wrong kinds, empty rules: see pol_builder_compile). */
int conf_routes_build(struct conf_loader *L, struct conf_node *map, struct gw_config *cfg)
{
    struct pol_route_spec *specs = NULL;
    int rc = -1;

    specs = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*specs));
    if (!specs)
        return conf_fail(L, conf_pos(map), "out of memory");
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
            conf_fail(L, d->pos, "duplicate route for host '%s' path '%s' (first at %d:%d)",
                      d->host ? d->host : "*", d->path_prefix, first->pos.line, first->pos.col);
        } else {
            conf_fail(L, conf_pos(map), "cannot build the route table: %s", strerror(errno));
        }
        goto out;
    }
    char perr[GW_CONFIG_ERR_MAX];
    perr[0] = '\0';
    cfg->policy = pol_builder_compile(L->pb, perr, sizeof(perr));
    if (!cfg->policy) {
        fail_policy(L, perr, conf_pos(map));
        goto out;
    }
    rc = 0;
out:
    free(specs);
    return rc;
}
