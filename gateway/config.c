/* gateway/config.c — loads onegate's YAML configuration into struct gw_config (config.h).
 *
 * The public API (gw_config_load*, gw_config_free), the defaults, the top-level key table and
 * the cross-references checked once the whole document is read. The document itself is parsed
 * and walked by gateway/config_yaml.c (the only libyaml user); each section's keys live in
 * their own file: config_proxy.c (listen, limits, upstreams), config_routes.c (routes and the
 * role policy), config_tokens.c (jwt, oauth), config_log.c, config_auth.c (redis, admin, auth,
 * sessions, login). A new top-level section is one more row in top_fields[] plus its own
 * section table. Runs at start-up, for --check-config and on SIGHUP; never on the request path.
 *
 * The role policy (top-level roles:/scopes:, routes[].public/access; docs/POLICY.md) is fed to
 * a pol_builder (policy/policy.h) while the document is walked, with each node's position, and
 * compiled in finish_top next to the route table. Builder errors are reported at once, so the
 * first mistake in document order is the one named.
 */
#include "gateway/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/jwt_keys.h"
#include "gateway/config_internal.h"

/* A config file larger than this is refused before parsing. */
#define CONFIG_MAX_BYTES (16u * 1024 * 1024)
#define WORKERS_MAX 256

/* ---- the top level ---- */

static int field_workers(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    uint64_t u;
    if (conf_get_uint(L, v, key, 0, WORKERS_MAX, &u) < 0)
        return -1;
    ((struct gw_config *)base)->workers = (int)u;
    return 0;
}

static int finish_top(struct conf_loader *L, struct conf_node *map, void *base);

static const struct conf_field top_fields[] = {
    { .key = "workers", .type = CONF_CUSTOM, .fn = field_workers },
    { .key = "listen", .type = CONF_CUSTOM, .required = true, .fn = conf_field_listen },
    { .key = "trusted_proxies", .type = CONF_CUSTOM, .fn = conf_field_trusted_proxies },
    { .key = "builtin_prefix", .type = CONF_STR, .offset = offsetof(struct gw_config,
      builtin_prefix), .check = conf_check_builtin_prefix },
    { .key = "server_name", .type = CONF_STR, .offset = offsetof(struct gw_config, server_name),
      .check = conf_check_token },
    { .key = "limits", .type = CONF_SECTION, .offset = offsetof(struct gw_config, limits),
      .section = &conf_limits_section },
    { .key = "upstreams", .type = CONF_CUSTOM, .required = true, .fn = conf_field_upstreams },
    { .key = "routes", .type = CONF_CUSTOM, .required = true, .fn = conf_field_routes },
    { .key = "log", .type = CONF_SECTION, .offset = offsetof(struct gw_config, log),
      .section = &conf_log_section },
    { .key = "redis", .type = CONF_CUSTOM, .fn = conf_field_redis },
    { .key = "roles", .type = CONF_CUSTOM, .fn = conf_field_roles },
    { .key = "scopes", .type = CONF_CUSTOM, .fn = conf_field_scopes },
    { .key = "jwt", .type = CONF_CUSTOM, .fn = conf_field_jwt },
    { .key = "oauth", .type = CONF_SECTION, .offset = offsetof(struct gw_config, oauth),
      .section = &conf_oauth_section },
    { .key = "admin", .type = CONF_SECTION, .offset = offsetof(struct gw_config, admin),
      .section = &conf_admin_section },
    { .key = "auth", .type = CONF_SECTION, .offset = offsetof(struct gw_config, auth),
      .section = &conf_auth_section },
    { .key = "sessions", .type = CONF_SECTION, .offset = offsetof(struct gw_config, sessions),
      .section = &conf_sessions_section },
    { .key = "login", .type = CONF_SECTION, .offset = offsetof(struct gw_config, login),
      .section = &conf_login_section },
};
static const struct conf_section top_section = {
    "at top level", top_fields, sizeof(top_fields) / sizeof(top_fields[0]), finish_top
};

/* Cross-references once every key is read, in this order (the first error is the one
 * reported): route upstreams, JWT settings, admin prefix and dev cookies, then the route
 * table and the role policy. Returns 0 or -1. */
static int finish_top(struct conf_loader *L, struct conf_node *map, void *base)
{
    struct gw_config *cfg = base;

    if (conf_routes_link_upstreams(L, cfg) < 0 || conf_tokens_finish(L, map, cfg) < 0 ||
        conf_auth_finish(L, map, cfg) < 0)
        return -1;
    return conf_routes_build(L, map, cfg);
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
    cfg->jwt.max_signature_checks_per_s = 1000;
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
        .work_nice = 10,
        .work_sched_idle = true,
    };
}

/* See config.h. Returns a new config (caller frees with gw_config_free) or NULL with <err>. */
struct gw_config *gw_config_load_string(const char *yaml, size_t len, const char *name,
                                        char *err, size_t errlen)
{
    struct conf_loader L = {
        .name = name ? name : "(config)", .input = yaml ? yaml : "", .inlen = yaml ? len : 0,
        .err = err, .errlen = errlen,
    };
    struct gw_config *cfg = calloc(1, sizeof(*cfg));

    if (err && errlen)
        err[0] = '\0';
    if (!cfg) {
        conf_fail(&L, (struct gw_conf_pos){ 1, 1 }, "out of memory");
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
        conf_fail(&L, (struct gw_conf_pos){ 1, 1 }, "out of memory");
        goto fail;
    }
    L.cfg = cfg;
    L.pb = pol_builder_new();
    if (!L.pb) {
        conf_fail(&L, (struct gw_conf_pos){ 1, 1 }, "out of memory");
        goto fail;
    }
    if (conf_yaml_load(&L, &top_section, cfg) < 0)
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
