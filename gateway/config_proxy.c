/* gateway/config_proxy.c — the proxy sections of the configuration: listen, trusted_proxies,
 * limits and upstreams (config.h: gw_listener_conf, gw_limits_conf, gw_upstream_conf).
 */
#include "gateway/config_internal.h"

#include <stdlib.h>
#include <string.h>

static bool addr_equal(const struct gw_addr *a, const struct gw_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* -- listen and trusted_proxies -- */

static int field_listener_address(struct conf_loader *L, const char *key, struct conf_node *v,
                                  void *base)
{
    return conf_parse_addr(L, key, v, &((struct gw_listener_conf *)base)->addr);
}

static const struct conf_field listener_fields[] = {
    { .key = "address", .type = CONF_CUSTOM, .required = true, .fn = field_listener_address },
};
static const struct conf_section listener_section = {
    "in listen entry", listener_fields, 1, NULL
};

/* See config_internal.h: `listen`, a list of addresses or { address } mappings. */
int conf_field_listen(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    struct gw_config *cfg = base;
    if (conf_want(L, v, CONF_LIST, "a list", key) < 0)
        return -1;
    size_t n = conf_list_len(v);
    if (n == 0)
        return conf_fail(L, conf_pos(v), "listen must name at least one address");
    cfg->listeners = calloc(n, sizeof(*cfg->listeners));
    if (!cfg->listeners)
        return conf_fail(L, conf_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct conf_node *item = conf_list_item(L, v, i);
        struct gw_listener_conf *lc = &cfg->listeners[i];
        lc->pos = conf_pos(item);
        cfg->nlisteners = i + 1;
        if (conf_is_map(item)) {
            if (conf_parse_section(L, &listener_section, item, lc, "listen entry") < 0)
                return -1;
        } else if (conf_parse_addr(L, "listen", item, &lc->addr) < 0) {
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (addr_equal(&cfg->listeners[j].addr, &lc->addr))
                return conf_fail(L, lc->pos, "duplicate listen address '%s' (first at %d:%d)",
                                 lc->addr.text, cfg->listeners[j].pos.line,
                                 cfg->listeners[j].pos.col);
    }
    return 0;
}

/* See config_internal.h: `trusted_proxies`, a list of CIDRs. */
int conf_field_trusted_proxies(struct conf_loader *L, const char *key, struct conf_node *v,
                               void *base)
{
    struct gw_config *cfg = base;
    if (conf_want(L, v, CONF_LIST, "a list", key) < 0)
        return -1;
    size_t n = conf_list_len(v);
    if (n == 0)
        return 0;
    cfg->trusted_proxies = calloc(n, sizeof(*cfg->trusted_proxies));
    if (!cfg->trusted_proxies)
        return conf_fail(L, conf_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct conf_node *item = conf_list_item(L, v, i);
        const char *s;
        char b[64];
        if (conf_get_string(L, item, "trusted_proxies entry", &s) < 0)
            return -1;
        if (gw_cidr_parse(s, &cfg->trusted_proxies[i]) < 0)
            return conf_fail(L, conf_pos(item), "bad CIDR '%s' (expected \"a.b.c.d/n\", "
                             "\"v6/n\" or an address, with no bits set past the prefix)",
                             conf_shown(s, strlen(s), b));
        cfg->ntrusted_proxies = i + 1;
    }
    return 0;
}

/* -- limits -- */

static int finish_limits(struct conf_loader *L, struct conf_node *map, void *base)
{
    struct gw_limits_conf *lim = base;
    if (lim->max_request_line_bytes > lim->max_header_bytes) {
        struct conf_node *v = conf_map_get(L, map, "max_request_line_bytes");
        if (!v)
            v = conf_map_get(L, map, "max_header_bytes");
        return conf_fail(L, conf_pos(v), "max_request_line_bytes (%u) must not exceed "
                         "max_header_bytes (%u)", lim->max_request_line_bytes,
                         lim->max_header_bytes);
    }
    return 0;
}

#define LIM(k, lo, hi) { .key = #k, .type = CONF_U32, \
                         .offset = offsetof(struct gw_limits_conf, k), \
                         .min = (lo), .max = (hi) }
static const struct conf_field limits_fields[] = {
    LIM(max_header_bytes, 256, 16u * 1024 * 1024),
    LIM(max_request_line_bytes, 64, 16u * 1024 * 1024),
    LIM(max_headers, 1, 100000),
    LIM(header_timeout_ms, 1, UINT32_MAX),
    LIM(keepalive_timeout_ms, 1, UINT32_MAX),
    LIM(body_timeout_ms, 1, UINT32_MAX),
    LIM(send_timeout_ms, 1, UINT32_MAX),
    LIM(max_connections, 1, UINT32_MAX),
    LIM(drain_timeout_ms, 0, UINT32_MAX),
    { .key = "max_body_bytes", .type = CONF_U64, .offset = offsetof(struct gw_limits_conf,
      max_body_bytes), .min = 0, .max = INT64_MAX },
};
#undef LIM
const struct conf_section conf_limits_section = {
    "in limits", limits_fields, sizeof(limits_fields) / sizeof(limits_fields[0]), finish_limits
};

/* -- upstreams -- */

static int field_servers(struct conf_loader *L, const char *key, struct conf_node *v,
                         void *base)
{
    struct gw_upstream_conf *up = base;
    if (conf_want(L, v, CONF_LIST, "a list", key) < 0)
        return -1;
    size_t n = conf_list_len(v);
    if (n == 0)
        return conf_fail(L, conf_pos(v), "servers must name at least one address");
    up->servers = calloc(n, sizeof(*up->servers));
    if (!up->servers)
        return conf_fail(L, conf_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct conf_node *item = conf_list_item(L, v, i);
        if (conf_parse_addr(L, "server", item, &up->servers[i]) < 0)
            return -1;
        up->nservers = i + 1;
        for (size_t j = 0; j < i; j++)
            if (addr_equal(&up->servers[j], &up->servers[i]))
                return conf_fail(L, conf_pos(item), "duplicate server '%s' in upstream '%s'",
                                 up->servers[i].text, up->name);
    }
    return 0;
}

static int field_host_header(struct conf_loader *L, const char *key, struct conf_node *v,
                             void *base)
{
    struct gw_upstream_conf *up = base;
    const char *s;
    if (conf_get_string(L, v, key, &s) < 0 || conf_check_token(L, key, v, s) < 0)
        return -1;
    if (!strcmp(s, "preserve")) {
        up->host_mode = GW_HOST_PRESERVE;
        return 0;
    }
    up->host_rewrite = strdup(s);
    if (!up->host_rewrite)
        return conf_fail(L, conf_pos(v), "out of memory");
    up->host_mode = GW_HOST_REWRITE;
    return 0;
}

#define UP(k, lo) { .key = #k, .type = CONF_U32, .offset = offsetof(struct gw_upstream_conf, k), \
                    .min = (lo), .max = UINT32_MAX }
static const struct conf_field upstream_fields[] = {
    { .key = "servers", .type = CONF_CUSTOM, .required = true, .fn = field_servers },
    { .key = "host_header", .type = CONF_CUSTOM, .fn = field_host_header },
    UP(connect_timeout_ms, 1),
    UP(response_timeout_ms, 1),
    UP(read_timeout_ms, 1),
    UP(idle_timeout_ms, 1),
    UP(max_connections_per_server, 1),
    UP(max_idle_per_server, 0),
    UP(fail_timeout_ms, 0),
};
#undef UP
static const struct conf_section upstream_section = {
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

/* See config_internal.h: `upstreams`, a mapping of names to upstream sections. */
int conf_field_upstreams(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    struct gw_config *cfg = base;
    if (conf_want(L, v, CONF_MAP, "a mapping of upstream names", key) < 0)
        return -1;
    size_t n = conf_map_len(v);
    if (n == 0)
        return 0;
    /* a repeated key here is a duplicate upstream name: say so */
    for (size_t i = 0; i < n; i++) {
        struct conf_node *k = conf_map_key(L, v, i);
        const char *name;
        if (conf_get_string(L, k, "upstream name", &name) < 0 ||
            conf_check_name(L, "upstream name", k, name) < 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            struct conf_node *k2 = conf_map_key(L, v, j);
            if (!strcmp(conf_scalar(k2), name))
                return conf_fail(L, conf_pos(k), "duplicate upstream '%s' (first at %d:%d)",
                                 name, conf_pos(k2).line, conf_pos(k2).col);
        }
    }
    cfg->upstreams = calloc(n, sizeof(*cfg->upstreams));
    if (!cfg->upstreams)
        return conf_fail(L, conf_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct conf_node *k = conf_map_key(L, v, i);
        struct gw_upstream_conf *up = &cfg->upstreams[i];
        upstream_defaults(up);
        up->pos = conf_pos(k);
        cfg->nupstreams = i + 1;
        up->name = strdup(conf_scalar(k));
        if (!up->name)
            return conf_fail(L, up->pos, "out of memory");
        if (conf_parse_section(L, &upstream_section, conf_map_value(L, v, i), up,
                               "upstream") < 0)
            return -1;
    }
    return 0;
}
