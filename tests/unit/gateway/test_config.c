/* tests/unit/gateway/test_config.c — the YAML configuration loader (gateway/config.c) and the
 * address helpers (gateway/config_addr.c).
 *
 * Every error class is checked with its exact "file:line:column: message"; the example file
 * deploy/onegate.example.yaml and the fixtures in tests/data/config/ are loaded from disk.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/config.h"

/* The source root, from this file's absolute path (CMake compiles with absolute paths). */
static const char *source_path(const char *rel, char *buf, size_t cap)
{
    const char *me = __FILE__;
    const char *tail = strstr(me, "tests/unit/gateway/test_config.c");
    ck_assert_ptr_nonnull(tail);
    snprintf(buf, cap, "%.*s%s", (int)(tail - me), me, rel);
    return buf;
}

static struct gw_config *load(const char *yaml, char *err)
{
    return gw_config_load_string(yaml, strlen(yaml), "t.yaml", err, GW_CONFIG_ERR_MAX);
}

/* Asserts that <yaml> is refused with exactly <want>. */
static void expect_error(const char *yaml, const char *want)
{
    char err[GW_CONFIG_ERR_MAX] = "";
    struct gw_config *cfg = load(yaml, err);
    if (cfg) {
        gw_config_free(cfg);
        ck_abort_msg("accepted, expected error: %s\n--- yaml:\n%s", want, yaml);
    }
    if (strcmp(err, want) != 0)
        ck_abort_msg("wrong error\n want: %s\n got:  %s\n--- yaml:\n%s", want, err, yaml);
}

static struct gw_config *expect_ok(const char *yaml)
{
    char err[GW_CONFIG_ERR_MAX] = "";
    struct gw_config *cfg = load(yaml, err);
    if (!cfg)
        ck_abort_msg("refused: %s\n--- yaml:\n%s", err, yaml);
    return cfg;
}

#define LISTEN "listen: [127.0.0.1:8080]\n"
#define UPS "upstreams:\n  a:\n    servers: [127.0.0.1:9101]\n"
#define ROUTES "routes:\n  - path: /\n    upstream: a\n"
#define MINIMAL LISTEN UPS ROUTES

static long route_for(const struct gw_config *cfg, const char *host, const char *path)
{
    size_t id;
    if (pol_route_table_lookup(cfg->route_table, host, host ? strlen(host) : 0, path,
                               strlen(path), &id) != 0)
        return -1;
    return (long)id;
}

/* ---- accepted configurations ---- */

START_TEST(example_file_loads)
{
    char path[4096], err[GW_CONFIG_ERR_MAX];
    struct gw_config *cfg = gw_config_load(source_path("deploy/onegate.example.yaml", path,
                                                       sizeof(path)), err, sizeof(err));
    if (!cfg)
        ck_abort_msg("example refused: %s", err);
    ck_assert_str_eq(cfg->path, path);
    ck_assert_int_eq(cfg->workers, (int)sysconf(_SC_NPROCESSORS_ONLN));
    ck_assert_uint_eq(cfg->nlisteners, 1);
    ck_assert_str_eq(cfg->listeners[0].addr.text, "127.0.0.1:8080");
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&cfg->listeners[0].addr.ss;
    ck_assert_int_eq(sin->sin_family, AF_INET);
    ck_assert_int_eq(ntohs(sin->sin_port), 8080);
    ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    ck_assert_uint_eq(cfg->listeners[0].addr.len, sizeof(struct sockaddr_in));
    ck_assert_uint_eq(cfg->ntrusted_proxies, 0);
    ck_assert_str_eq(cfg->builtin_prefix, "/-/");
    ck_assert_str_eq(cfg->server_name, "onegate");
    ck_assert_uint_eq(cfg->limits.max_header_bytes, 16384);
    ck_assert_uint_eq(cfg->limits.max_request_line_bytes, 8192);
    ck_assert_uint_eq(cfg->limits.max_headers, 100);
    ck_assert_uint_eq(cfg->limits.header_timeout_ms, 10000);
    ck_assert_uint_eq(cfg->limits.keepalive_timeout_ms, 60000);
    ck_assert_uint_eq(cfg->limits.body_timeout_ms, 30000);
    ck_assert_uint_eq(cfg->limits.send_timeout_ms, 60000);
    ck_assert_uint_eq(cfg->limits.max_connections, 10000);
    ck_assert_uint_eq(cfg->limits.drain_timeout_ms, 10000);
    ck_assert_uint_eq(cfg->limits.max_body_bytes, 0);

    ck_assert_uint_eq(cfg->nupstreams, 2);
    const struct gw_upstream_conf *op = &cfg->upstreams[0], *ssp = &cfg->upstreams[1];
    ck_assert_str_eq(op->name, "operator");
    ck_assert_uint_eq(op->nservers, 1);
    ck_assert_str_eq(op->servers[0].text, "127.0.0.1:9101");
    ck_assert_int_eq(op->host_mode, GW_HOST_PRESERVE);
    ck_assert_ptr_null(op->host_rewrite);
    ck_assert_uint_eq(op->connect_timeout_ms, 3000);
    ck_assert_uint_eq(op->response_timeout_ms, 30000);
    ck_assert_uint_eq(op->read_timeout_ms, 60000);
    ck_assert_uint_eq(op->idle_timeout_ms, 60000);
    ck_assert_uint_eq(op->max_connections_per_server, 256);
    ck_assert_uint_eq(op->max_idle_per_server, 32);
    ck_assert_uint_eq(op->fail_timeout_ms, 10000);
    ck_assert_int_eq(op->pos.line, 23);
    ck_assert_int_eq(op->pos.col, 3);
    ck_assert_str_eq(ssp->name, "ssp");
    ck_assert_str_eq(ssp->servers[0].text, "127.0.0.1:9102");
    ck_assert_uint_eq(ssp->connect_timeout_ms, 3000);

    ck_assert_uint_eq(cfg->nroutes, 5);
    ck_assert_ptr_null(cfg->routes[0].host);
    ck_assert_str_eq(cfg->routes[0].path_prefix, "/operator/");
    ck_assert_str_eq(cfg->routes[0].upstream, "operator");
    ck_assert_uint_eq(cfg->routes[0].upstream_index, 0);
    ck_assert(!cfg->routes[0].has_max_body);
    ck_assert_uint_eq(cfg->routes[1].upstream_index, 1);
    ck_assert(cfg->routes[1].has_max_body);
    ck_assert_uint_eq(cfg->routes[1].max_body_bytes, 10485760);
    ck_assert_str_eq(cfg->routes[2].host, "ssp.localhost");
    ck_assert_str_eq(cfg->routes[2].path_prefix, "/");
    ck_assert_uint_eq(cfg->routes[2].upstream_index, 1);
    ck_assert_str_eq(cfg->routes[3].path_prefix, "/ssp/static/");
    ck_assert_str_eq(cfg->routes[4].path_prefix, "/api/");
    ck_assert_uint_eq(cfg->routes[4].upstream_index, 0);
    ck_assert_int_eq(cfg->routes[0].pos.line, 43);
    ck_assert_int_eq(cfg->routes[0].pos.col, 5);

    ck_assert_int_eq(route_for(cfg, "localhost:8080", "/operator/x"), 0);
    ck_assert_int_eq(route_for(cfg, "localhost:8080", "/ssp/"), 1);
    ck_assert_int_eq(route_for(cfg, "SSP.localhost:8080", "/operator/x"), 2);
    ck_assert_int_eq(route_for(cfg, "localhost", "/"), -1);
    ck_assert_int_eq(route_for(cfg, "localhost", "/ssp/static/app.css"), 3);
    ck_assert_int_eq(route_for(cfg, "ssp.localhost", "/ssp/static/app.css"), 2);
    ck_assert_int_eq(route_for(cfg, "localhost", "/api/v1/incidents"), 4);
    /* the policy itself is checked in test_config_policy.c */
    ck_assert_ptr_nonnull(cfg->policy);

    ck_assert_int_eq(cfg->log.level, GW_LOG_INFO);
    ck_assert_ptr_null(cfg->log.error_log);
    ck_assert(cfg->log.access_log_enabled);
    ck_assert_ptr_null(cfg->log.access_log);
    ck_assert(cfg->redis.configured);
    ck_assert_str_eq(cfg->redis.addr.text, "127.0.0.1:6379");
    ck_assert_uint_eq(cfg->redis.timeout_ms, 500);
    ck_assert_str_eq(cfg->redis.key_prefix, "og:");
    gw_config_free(cfg);
}
END_TEST

START_TEST(defaults_when_absent)
{
    struct gw_config *cfg = expect_ok(MINIMAL);
    ck_assert_str_eq(cfg->path, "t.yaml");
    ck_assert_int_ge(cfg->workers, 1);
    ck_assert_int_eq(cfg->workers, (int)sysconf(_SC_NPROCESSORS_ONLN));
    ck_assert_str_eq(cfg->builtin_prefix, "/-/");
    ck_assert_str_eq(cfg->server_name, "onegate");
    ck_assert_uint_eq(cfg->limits.max_header_bytes, 16384);
    ck_assert_uint_eq(cfg->limits.max_request_line_bytes, 8192);
    ck_assert_uint_eq(cfg->limits.max_headers, 100);
    ck_assert_uint_eq(cfg->limits.header_timeout_ms, 10000);
    ck_assert_uint_eq(cfg->limits.keepalive_timeout_ms, 60000);
    ck_assert_uint_eq(cfg->limits.body_timeout_ms, 30000);
    ck_assert_uint_eq(cfg->limits.send_timeout_ms, 60000);
    ck_assert_uint_eq(cfg->limits.max_connections, 10000);
    ck_assert_uint_eq(cfg->limits.drain_timeout_ms, 10000);
    ck_assert_uint_eq(cfg->limits.max_body_bytes, 0);
    ck_assert_uint_eq(cfg->upstreams[0].fail_timeout_ms, 10000);
    ck_assert_uint_eq(cfg->upstreams[0].max_idle_per_server, 32);
    ck_assert_int_eq(cfg->upstreams[0].host_mode, GW_HOST_PRESERVE);
    ck_assert_int_eq(cfg->log.level, GW_LOG_INFO);
    ck_assert_ptr_null(cfg->log.error_log);
    ck_assert(cfg->log.access_log_enabled);
    ck_assert_ptr_null(cfg->log.access_log);
    ck_assert(!cfg->redis.configured);
    ck_assert_str_eq(cfg->redis.addr.text, "127.0.0.1:6379");
    ck_assert_uint_eq(cfg->redis.timeout_ms, 500);
    ck_assert_str_eq(cfg->redis.key_prefix, "og:");
    ck_assert_int_eq(route_for(cfg, NULL, "/anything"), 0);
    gw_config_free(cfg);
}
END_TEST

START_TEST(explicit_values)
{
    struct gw_config *cfg = expect_ok(
        "workers: 3\n"
        "listen:\n"
        "  - 0.0.0.0:80\n"
        "  - address: \"[::1]:8443\"\n"
        "  - '[::]:81'\n"
        "trusted_proxies: [10.0.0.0/8, \"::1\", 192.168.1.7]\n"
        "builtin_prefix: /_og/\n"
        "server_name: gw-1\n"
        "limits: {max_connections: 4294967295, max_body_bytes: 9223372036854775807}\n"
        "upstreams:\n"
        "  a:\n"
        "    servers: [127.0.0.1:9101, '[::1]:9102']\n"
        "    host_header: portal.internal\n"
        "    max_idle_per_server: 0\n"
        "  b.2_x-y: {servers: [10.1.2.3:1]}\n"
        "routes:\n"
        "  - {path: /a, upstream: a, max_body_bytes: 0}\n"
        "  - host: Portal.Example\n"
        "    path: /a\n"
        "    upstream: b.2_x-y\n"
        "log: {level: debug, error_log: stdout, access_log: /var/log/og access.log}\n"
        "redis: {timeout_ms: 1}\n");
    ck_assert_int_eq(cfg->workers, 3);
    ck_assert_uint_eq(cfg->nlisteners, 3);
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&cfg->listeners[1].addr.ss;
    ck_assert_int_eq(s6->sin6_family, AF_INET6);
    ck_assert_int_eq(ntohs(s6->sin6_port), 8443);
    ck_assert(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr));
    ck_assert_uint_eq(cfg->listeners[1].addr.len, sizeof(struct sockaddr_in6));
    ck_assert_str_eq(cfg->listeners[1].addr.text, "[::1]:8443");
    ck_assert_int_eq(cfg->listeners[1].pos.line, 4);
    ck_assert_int_eq(cfg->listeners[1].pos.col, 5);
    ck_assert_str_eq(cfg->listeners[2].addr.text, "[::]:81");
    ck_assert_uint_eq(cfg->ntrusted_proxies, 3);
    ck_assert_int_eq(cfg->trusted_proxies[0].family, AF_INET);
    ck_assert_uint_eq(cfg->trusted_proxies[0].prefix_len, 8);
    ck_assert_int_eq(cfg->trusted_proxies[1].family, AF_INET6);
    ck_assert_uint_eq(cfg->trusted_proxies[1].prefix_len, 128);
    ck_assert_uint_eq(cfg->trusted_proxies[2].prefix_len, 32);
    ck_assert_str_eq(cfg->builtin_prefix, "/_og/");
    ck_assert_str_eq(cfg->server_name, "gw-1");
    ck_assert_uint_eq(cfg->limits.max_connections, 4294967295u);
    ck_assert_uint_eq(cfg->limits.max_body_bytes, 9223372036854775807ull);
    ck_assert_int_eq(cfg->upstreams[0].host_mode, GW_HOST_REWRITE);
    ck_assert_str_eq(cfg->upstreams[0].host_rewrite, "portal.internal");
    ck_assert_uint_eq(cfg->upstreams[0].nservers, 2);
    ck_assert_int_eq(cfg->upstreams[0].servers[1].ss.ss_family, AF_INET6);
    ck_assert_uint_eq(cfg->upstreams[0].max_idle_per_server, 0);
    ck_assert_str_eq(cfg->upstreams[1].name, "b.2_x-y");
    ck_assert(cfg->routes[0].has_max_body);
    ck_assert_uint_eq(cfg->routes[0].max_body_bytes, 0);
    ck_assert_uint_eq(cfg->routes[1].upstream_index, 1);
    ck_assert_int_eq(route_for(cfg, "portal.example", "/a/b"), 1);
    ck_assert_int_eq(route_for(cfg, "other", "/a/b"), 0);
    ck_assert_int_eq(cfg->log.level, GW_LOG_DEBUG);
    ck_assert_str_eq(cfg->log.error_log, "/dev/stdout");
    ck_assert(cfg->log.access_log_enabled);
    ck_assert_str_eq(cfg->log.access_log, "/var/log/og access.log");
    ck_assert(cfg->redis.configured);
    ck_assert_uint_eq(cfg->redis.timeout_ms, 1);
    ck_assert_str_eq(cfg->redis.addr.text, "127.0.0.1:6379");
    gw_config_free(cfg);
}
END_TEST

START_TEST(log_destinations)
{
    struct gw_config *cfg = expect_ok(MINIMAL "log: {access_log: off, error_log: stderr}\n");
    ck_assert(!cfg->log.access_log_enabled);
    ck_assert_ptr_null(cfg->log.access_log);
    ck_assert_ptr_null(cfg->log.error_log);
    gw_config_free(cfg);
    cfg = expect_ok(MINIMAL "log: {access_log: stderr, error_log: /tmp/e.log, level: error}\n");
    ck_assert(cfg->log.access_log_enabled);
    ck_assert_str_eq(cfg->log.access_log, "/dev/stderr");
    ck_assert_str_eq(cfg->log.error_log, "/tmp/e.log");
    ck_assert_int_eq(cfg->log.level, GW_LOG_ERROR);
    gw_config_free(cfg);
    cfg = expect_ok(MINIMAL "log: {access_log: stdout, level: warn}\n");
    ck_assert(cfg->log.access_log_enabled);
    ck_assert_ptr_null(cfg->log.access_log);
    ck_assert_int_eq(cfg->log.level, GW_LOG_WARN);
    gw_config_free(cfg);
}
END_TEST

START_TEST(workers_explicit_zero)
{
    struct gw_config *cfg = expect_ok("workers: 0\n" MINIMAL);
    ck_assert_int_eq(cfg->workers, (int)sysconf(_SC_NPROCESSORS_ONLN));
    gw_config_free(cfg);
    cfg = expect_ok("workers: 256\n" MINIMAL);
    ck_assert_int_eq(cfg->workers, 256);
    gw_config_free(cfg);
}
END_TEST

START_TEST(empty_upstreams_and_routes)
{
    struct gw_config *cfg = expect_ok(LISTEN "upstreams: {}\nroutes: []\n");
    ck_assert_uint_eq(cfg->nupstreams, 0);
    ck_assert_uint_eq(cfg->nroutes, 0);
    ck_assert_ptr_nonnull(cfg->route_table);
    ck_assert_int_eq(route_for(cfg, NULL, "/"), -1);
    gw_config_free(cfg);
}
END_TEST

START_TEST(anchors_and_aliases)
{
    struct gw_config *cfg = expect_ok(
        LISTEN
        "upstreams:\n"
        "  a: &up {servers: [127.0.0.1:1], connect_timeout_ms: 5}\n"
        "  b: *up\n"
        "routes:\n"
        "  - &r {path: /x, upstream: a}\n"
        "  - {path: /y, upstream: b}\n");
    ck_assert_uint_eq(cfg->upstreams[1].connect_timeout_ms, 5);
    ck_assert_str_eq(cfg->upstreams[1].name, "b");
    gw_config_free(cfg);
    /* the same route node twice is a duplicate route */
    expect_error(LISTEN UPS "routes:\n  - &r {path: /x, upstream: a}\n  - *r\n",
                 "t.yaml:6:5: duplicate route for host '*' path '/x' (first at 6:5)");
}
END_TEST

START_TEST(free_null)
{
    gw_config_free(NULL);
}
END_TEST

/* ---- refused configurations, one per error class ---- */

START_TEST(err_unknown_keys)
{
    expect_error(LISTEN UPS "routes:\n  - path: /\n    upstrem: a\n",
                 "t.yaml:7:5: unknown key 'upstrem' in route (expected host, path, upstream, "
                 "max_body_bytes, public, access, audience, jwt_header, jwt_claims)");
    expect_error(MINIMAL "bogus: 1\n",
                 "t.yaml:8:1: unknown key 'bogus' at top level (expected workers, listen, "
                 "trusted_proxies, builtin_prefix, server_name, limits, upstreams, routes, log, "
                 "redis, roles, scopes, jwt, oauth, admin, auth, sessions, login)");
    expect_error(MINIMAL "limits:\n  max_header: 1\n",
                 "t.yaml:9:3: unknown key 'max_header' in limits (expected max_header_bytes, "
                 "max_request_line_bytes, max_headers, header_timeout_ms, keepalive_timeout_ms, "
                 "body_timeout_ms, send_timeout_ms, max_connections, drain_timeout_ms, "
                 "max_body_bytes)");
    expect_error(LISTEN "upstreams:\n  a:\n    servers: [127.0.0.1:1]\n    weight: 2\n" ROUTES,
                 "t.yaml:5:5: unknown key 'weight' in upstream (expected servers, host_header, "
                 "connect_timeout_ms, response_timeout_ms, read_timeout_ms, idle_timeout_ms, "
                 "max_connections_per_server, max_idle_per_server, fail_timeout_ms)");
    expect_error("listen:\n  - address: 127.0.0.1:1\n    tls: true\n" UPS ROUTES,
                 "t.yaml:3:5: unknown key 'tls' in listen entry (expected address)");
    expect_error(MINIMAL "log:\n  lvl: info\n",
                 "t.yaml:9:3: unknown key 'lvl' in log (expected level, error_log, access_log)");
    expect_error(MINIMAL "redis:\n  host: x\n",
                 "t.yaml:9:3: unknown key 'host' in redis (expected address, timeout_ms, "
                 "key_prefix)");
    /* control characters in a key are not echoed */
    expect_error(MINIMAL "\"a\\x01b\": 1\n",
                 "t.yaml:8:1: unknown key 'a?b' at top level (expected workers, listen, "
                 "trusted_proxies, builtin_prefix, server_name, limits, upstreams, routes, log, "
                 "redis, roles, scopes, jwt, oauth, admin, auth, sessions, login)");
}
END_TEST

START_TEST(err_wrong_types)
{
    expect_error(MINIMAL "limits:\n  max_headers: lots\n",
                 "t.yaml:9:16: expected an integer for max_headers, got 'lots'");
    expect_error(MINIMAL "limits:\n  max_headers: \"5\"\n",
                 "t.yaml:9:16: expected an integer for max_headers, got a quoted string");
    expect_error(MINIMAL "limits:\n  max_headers: 1.5\n",
                 "t.yaml:9:16: expected an integer for max_headers, got '1.5'");
    expect_error(MINIMAL "limits:\n  max_headers:\n",
                 "t.yaml:9:15: expected an integer for max_headers, got nothing (null)");
    expect_error(MINIMAL "limits:\n  max_headers: [1]\n",
                 "t.yaml:9:16: expected an integer for max_headers, got a list");
    expect_error("listen:\n  a: b\n" UPS ROUTES,
                 "t.yaml:2:3: expected a list for listen, got a mapping");
    expect_error("listen: 127.0.0.1:80\n" UPS ROUTES,
                 "t.yaml:1:9: expected a list for listen, got '127.0.0.1:80'");
    expect_error(LISTEN "upstreams: [a]\n" ROUTES,
                 "t.yaml:2:12: expected a mapping of upstream names for upstreams, got a list");
    expect_error(LISTEN UPS "routes:\n  path: /\n",
                 "t.yaml:6:3: expected a list for routes, got a mapping");
    expect_error(LISTEN UPS "routes:\n  - /a\n",
                 "t.yaml:6:5: expected a mapping for route, got '/a'");
    expect_error(MINIMAL "limits: 5\n",
                 "t.yaml:8:9: expected a mapping for limits, got '5'");
    expect_error(MINIMAL "server_name: {a: 1}\n",
                 "t.yaml:8:14: expected a string for server_name, got a mapping");
    expect_error(MINIMAL "server_name:\n",
                 "t.yaml:8:13: expected a string for server_name, got nothing (null)");
    expect_error(LISTEN "upstreams:\n  a:\n    servers: 127.0.0.1:1\n" ROUTES,
                 "t.yaml:4:14: expected a list for servers, got '127.0.0.1:1'");
    expect_error(MINIMAL "trusted_proxies: 10.0.0.0/8\n",
                 "t.yaml:8:18: expected a list for trusted_proxies, got '10.0.0.0/8'");
    expect_error(MINIMAL "{a: 1}: 2\n", "t.yaml:8:1: mapping keys must be strings");
    expect_error(MINIMAL "server_name: \"a\\0b\"\n",
                 "t.yaml:8:14: server_name contains a NUL byte");
}
END_TEST

START_TEST(err_numbers_out_of_range)
{
    expect_error("workers: -1\n" MINIMAL, "t.yaml:1:10: workers must not be negative (got -1)");
    expect_error("workers: 257\n" MINIMAL,
                 "t.yaml:1:10: workers out of range: 257 (expected 0..256)");
    expect_error(MINIMAL "limits:\n  max_connections: 4294967296\n",
                 "t.yaml:9:20: max_connections out of range: 4294967296 (expected 1..4294967295)");
    expect_error(MINIMAL "limits:\n  max_connections: 0\n",
                 "t.yaml:9:20: max_connections out of range: 0 (expected 1..4294967295)");
    expect_error(MINIMAL "limits:\n  max_connections: 99999999999999999999999\n",
                 "t.yaml:9:20: max_connections out of range: 99999999999999999999999 "
                 "(expected 1..4294967295)");
    expect_error(MINIMAL "limits:\n  max_body_bytes: 18446744073709551616\n",
                 "t.yaml:9:19: max_body_bytes out of range: 18446744073709551616 "
                 "(expected 0..9223372036854775807)");
    expect_error(MINIMAL "limits:\n  header_timeout_ms: -5\n",
                 "t.yaml:9:22: header_timeout_ms must not be negative (got -5)");
    expect_error(LISTEN UPS "routes:\n  - path: /\n    upstream: a\n    max_body_bytes: -1\n",
                 "t.yaml:8:21: max_body_bytes must not be negative (got -1)");
    expect_error(LISTEN "upstreams:\n  a:\n    servers: [127.0.0.1:1]\n"
                 "    connect_timeout_ms: 0\n" ROUTES,
                 "t.yaml:5:25: connect_timeout_ms out of range: 0 (expected 1..4294967295)");
    expect_error(MINIMAL "limits:\n  max_header_bytes: 4096\n  max_request_line_bytes: 8192\n",
                 "t.yaml:10:27: max_request_line_bytes (8192) must not exceed max_header_bytes "
                 "(4096)");
    expect_error(MINIMAL "limits:\n  max_headers: 010\n",
                 "t.yaml:9:16: max_headers must be written without leading zeros (got 010)");
    expect_error(MINIMAL "limits:\n  max_headers: 0x10\n",
                 "t.yaml:9:16: expected an integer for max_headers, got '0x10'");
    expect_error(MINIMAL "limits:\n  max_headers: +10\n",
                 "t.yaml:9:16: expected an integer for max_headers, got '+10'");
    expect_error(MINIMAL "redis:\n  timeout_ms: 0\n",
                 "t.yaml:9:15: timeout_ms out of range: 0 (expected 1..4294967295)");
}
END_TEST

START_TEST(err_addresses)
{
    expect_error("listen: []\n" UPS ROUTES, "t.yaml:1:9: listen must name at least one address");
    expect_error(LISTEN "upstreams:\n  a:\n    servers: []\n" ROUTES,
                 "t.yaml:4:14: servers must name at least one address");
    const char *bad[] = { "localhost:80", "1.2.3.4", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3:80",
                          "1.2.3.256:80", "::1:80", "[::1]", "[::1]80", "[::1]:", "[zz::1]:80",
                          "1.2.3.4:+80", "1.2.3.4:8o", " 1.2.3.4:80", "[fe80::1%eth0]:80" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char yaml[512], want[512];
        snprintf(yaml, sizeof(yaml), "listen: ['%s']\n" UPS ROUTES, bad[i]);
        snprintf(want, sizeof(want), "t.yaml:1:10: bad address '%s' for listen (expected "
                 "\"a.b.c.d:port\" or \"[v6]:port\"; no host names)", bad[i]);
        expect_error(yaml, want);
    }
    expect_error(LISTEN "upstreams:\n  a:\n    servers:\n      - 127.0.0.1:1\n      - x:1\n" ROUTES,
                 "t.yaml:6:9: bad address 'x:1' for server (expected \"a.b.c.d:port\" or "
                 "\"[v6]:port\"; no host names)");
    expect_error("listen:\n  - {address: 1.2.3.4}\n" UPS ROUTES,
                 "t.yaml:2:15: bad address '1.2.3.4' for address (expected \"a.b.c.d:port\" or "
                 "\"[v6]:port\"; no host names)");
    expect_error("listen:\n  - {port: 80}\n" UPS ROUTES,
                 "t.yaml:2:6: unknown key 'port' in listen entry (expected address)");
    expect_error("listen:\n  - {}\n" UPS ROUTES,
                 "t.yaml:2:5: missing required key 'address' in listen entry");
    expect_error("listen:\n  - 127.0.0.1:80\n  - address: 127.0.0.1:80\n" UPS ROUTES,
                 "t.yaml:3:5: duplicate listen address '127.0.0.1:80' (first at 2:5)");
    expect_error(LISTEN "upstreams:\n  a:\n    servers: [127.0.0.1:1, 127.0.0.1:1]\n" ROUTES,
                 "t.yaml:4:28: duplicate server '127.0.0.1:1' in upstream 'a'");
    expect_error(MINIMAL "redis: {address: redis:6379}\n",
                 "t.yaml:8:18: bad address 'redis:6379' for address (expected \"a.b.c.d:port\" "
                 "or \"[v6]:port\"; no host names)");
}
END_TEST

START_TEST(err_cidrs)
{
    const char *bad[] = { "10.0.0.1/8", "10.0.0.0/33", "foo", "10.0.0.0/", "10.0.0.0/-1",
                          "::1/129", "fe80::1/10", "10.0.0.0/8/8", "/8", "10.0.0.0/ 8" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char yaml[512], want[512];
        snprintf(yaml, sizeof(yaml), MINIMAL "trusted_proxies: [127.0.0.1, '%s']\n", bad[i]);
        snprintf(want, sizeof(want), "t.yaml:8:30: bad CIDR '%s' (expected \"a.b.c.d/n\", "
                 "\"v6/n\" or an address, with no bits set past the prefix)", bad[i]);
        expect_error(yaml, want);
    }
}
END_TEST

START_TEST(err_duplicates)
{
    expect_error("workers: 1\n" MINIMAL "workers: 2\n",
                 "t.yaml:9:1: duplicate key 'workers' (first at 1:1)");
    expect_error(LISTEN "upstreams:\n  a: {servers: [127.0.0.1:1]}\n  a: {servers: [127.0.0.1:2]}\n"
                 ROUTES, "t.yaml:4:3: duplicate upstream 'a' (first at 3:3)");
    expect_error(LISTEN UPS "routes:\n  - path: /x\n    upstream: a\n    path: /y\n",
                 "t.yaml:8:5: duplicate key 'path' (first at 6:5)");
    expect_error(LISTEN UPS "routes:\n  - {path: /x, upstream: a}\n  - {path: /y, upstream: a}\n"
                 "  - {path: /x, upstream: a, max_body_bytes: 5}\n",
                 "t.yaml:8:5: duplicate route for host '*' path '/x' (first at 6:5)");
    expect_error(LISTEN UPS "routes:\n  - {host: A.example, path: /x, upstream: a}\n"
                 "  - {path: /x, upstream: a}\n  - {host: a.EXAMPLE, path: /x, upstream: a}\n",
                 "t.yaml:8:5: duplicate route for host 'a.EXAMPLE' path '/x' (first at 6:5)");
}
END_TEST

START_TEST(err_routes)
{
    expect_error(LISTEN UPS "routes:\n  - path: /\n    upstream: b\n",
                 "t.yaml:7:15: route names unknown upstream 'b'");
    /* upstreams after routes in the file still resolve; an unknown one still points at it */
    expect_error(LISTEN "routes:\n  - {upstream: zz, path: /}\n" UPS,
                 "t.yaml:3:16: route names unknown upstream 'zz'");
    expect_error(LISTEN UPS "routes:\n  - path: api/\n    upstream: a\n",
                 "t.yaml:6:11: route path must start with '/' (got 'api/')");
    expect_error(LISTEN UPS "routes:\n  - path: /a?b\n    upstream: a\n",
                 "t.yaml:6:11: path must not contain '?' or '#' (got '/a?b')");
    expect_error(LISTEN UPS "routes:\n  - path: \"/a b\"\n    upstream: a\n",
                 "t.yaml:6:11: path must not contain spaces or control characters (got '/a b')");
    expect_error(LISTEN UPS "routes:\n  - upstream: a\n",
                 "t.yaml:6:5: missing required key 'path' in route");
    expect_error(LISTEN UPS "routes:\n  - path: /\n",
                 "t.yaml:6:5: missing required key 'upstream' in route");
    expect_error(LISTEN UPS "routes:\n  - {host: 'a.example:8080', path: /, upstream: a}\n",
                 "t.yaml:6:12: invalid host 'a.example:8080' (expected a host name or address "
                 "without port)");
    expect_error(LISTEN UPS "routes:\n  - {host: '', path: /, upstream: a}\n",
                 "t.yaml:6:12: invalid host '' (expected a host name or address without port)");
    expect_error(LISTEN "upstreams:\n  'a b': {servers: [127.0.0.1:1]}\n" ROUTES,
                 "t.yaml:3:3: invalid upstream name 'a b' (expected 1 to 64 of A-Z a-z 0-9 _ . -)");
    struct gw_config *cfg = expect_ok(LISTEN UPS "routes:\n  - {host: '[::1]', path: /, upstream: a}\n");
    ck_assert_int_eq(route_for(cfg, "[::1]:8080", "/"), 0);
    gw_config_free(cfg);
}
END_TEST

START_TEST(err_strings)
{
    expect_error(MINIMAL "builtin_prefix: /-\n",
                 "t.yaml:8:17: builtin_prefix must start and end with '/' (got '/-')");
    expect_error(MINIMAL "builtin_prefix: -/\n",
                 "t.yaml:8:17: builtin_prefix must start and end with '/' (got '-/')");
    expect_error(MINIMAL "builtin_prefix: ''\n",
                 "t.yaml:8:17: builtin_prefix must start and end with '/' (got '')");
    expect_error(MINIMAL "server_name: 'one gate'\n",
                 "t.yaml:8:14: server_name must not contain spaces or control characters "
                 "(got 'one gate')");
    expect_error(LISTEN "upstreams:\n  a:\n    servers: [127.0.0.1:1]\n    host_header: ''\n" ROUTES,
                 "t.yaml:5:18: host_header must not be empty");
    expect_error(MINIMAL "log: {level: verbose}\n",
                 "t.yaml:8:14: unknown log level 'verbose' (expected error, warn, info, debug)");
    expect_error(MINIMAL "log: {access_log: false}\n",
                 "t.yaml:8:19: expected stdout, stderr, off or a file path for access_log, "
                 "got 'false'");
    expect_error(MINIMAL "log: {error_log: off}\n",
                 "t.yaml:8:18: error_log cannot be turned off (use stderr or a path)");
    expect_error(MINIMAL "log: {error_log: ''}\n", "t.yaml:8:18: error_log must not be empty");
}
END_TEST

START_TEST(err_missing_required)
{
    expect_error(UPS ROUTES, "t.yaml:1:1: missing required key 'listen' at top level");
    expect_error(LISTEN ROUTES, "t.yaml:1:1: missing required key 'upstreams' at top level");
    expect_error(LISTEN UPS, "t.yaml:1:1: missing required key 'routes' at top level");
    expect_error(LISTEN "upstreams:\n  a: {connect_timeout_ms: 5}\n" ROUTES,
                 "t.yaml:3:6: missing required key 'servers' in upstream");
    expect_error(LISTEN "upstreams:\n  a:\n" ROUTES,
                 "t.yaml:3:5: expected a mapping for upstream, got nothing (null)");
}
END_TEST

START_TEST(err_document_shape)
{
    expect_error("", "t.yaml:1:1: empty configuration (expected a mapping with listen, "
                     "upstreams and routes)");
    expect_error("# only a comment\n", "t.yaml:1:1: empty configuration (expected a mapping with "
                 "listen, upstreams and routes)");
    expect_error("- a\n- b\n", "t.yaml:1:1: expected a mapping at top level, got a list");
    expect_error("hello\n", "t.yaml:1:1: expected a mapping at top level, got 'hello'");
    expect_error(MINIMAL "---\nworkers: 1\n", "t.yaml:8:1: more than one YAML document in the file");
}
END_TEST

START_TEST(err_yaml_syntax)
{
    expect_error("listen: [127.0.0.1:8080\nupstreams: {}\n",
                 "t.yaml:2:10: YAML syntax error: did not find expected ',' or ']' "
                 "(while parsing a flow sequence at 1:9)");
    expect_error("listen: a: b\n",
                 "t.yaml:1:10: YAML syntax error: mapping values are not allowed in this context");
    expect_error(LISTEN "upstreams:\n  a:\n\tservers: []\n",
                 "t.yaml:4:1: YAML syntax error: found character that cannot start any token "
                 "(while scanning for the next token at 4:1)");
    expect_error(LISTEN "  workers: 1\n",
                 "t.yaml:2:3: YAML syntax error: did not find expected key (while parsing a block "
                 "mapping at 1:1)");
    expect_error("listen: *nothing\n",
                 "t.yaml:1:9: YAML syntax error: found undefined alias");
    expect_error("listen: \"unterminated\n",
                 "t.yaml:2:1: YAML syntax error: found unexpected end of stream "
                 "(while scanning a quoted scalar at 1:9)");
    /* invalid UTF-8: libyaml reports a byte offset, shown as line:column */
    expect_error("workers: 1\nserver_name: \xff\n",
                 "t.yaml:2:14: invalid input: invalid leading UTF-8 octet");
    /* a NUL byte in the input */
    char err[GW_CONFIG_ERR_MAX];
    static const char nul[] = "workers: 1\nlis\0ten: []\n";
    ck_assert_ptr_null(gw_config_load_string(nul, sizeof(nul) - 1, "t.yaml", err, sizeof(err)));
    ck_assert_str_eq(err, "t.yaml:2:4: invalid input: control characters are not allowed");
}
END_TEST

START_TEST(error_buffer_handling)
{
    /* a tiny buffer truncates, NUL-terminated; a NULL buffer is allowed */
    char err[12];
    memset(err, 'x', sizeof(err));
    ck_assert_ptr_null(gw_config_load_string("- a\n", 4, "t.yaml", err, sizeof(err)));
    ck_assert_str_eq(err, "t.yaml:1:1:");
    ck_assert_ptr_null(gw_config_load_string("- a\n", 4, "t.yaml", NULL, 0));
    ck_assert_ptr_null(gw_config_load("/nonexistent/og.yaml", NULL, 0));
    char big[GW_CONFIG_ERR_MAX];
    ck_assert_ptr_null(gw_config_load("/nonexistent/og.yaml", big, sizeof(big)));
    ck_assert_str_eq(big, "/nonexistent/og.yaml: cannot open: No such file or directory");
    /* a success clears the buffer */
    strcpy(big, "stale");
    struct gw_config *cfg = gw_config_load_string(MINIMAL, strlen(MINIMAL), NULL, big,
                                                  sizeof(big));
    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(big, "");
    gw_config_free(cfg);
}
END_TEST

/* ---- fixtures in tests/data/config (also used by the e2e --check-config test) ---- */

static void fixture(const char *file, const char *want_after_path)
{
    char rel[256], path[4096], err[GW_CONFIG_ERR_MAX], want[4600];
    snprintf(rel, sizeof(rel), "tests/data/config/%s", file);
    source_path(rel, path, sizeof(path));
    struct gw_config *cfg = gw_config_load(path, err, sizeof(err));
    if (!want_after_path) {
        if (!cfg)
            ck_abort_msg("%s refused: %s", file, err);
        gw_config_free(cfg);
        return;
    }
    ck_assert_ptr_null(cfg);
    snprintf(want, sizeof(want), "%s:%s", path, want_after_path);
    ck_assert_str_eq(err, want);
    /* each bad fixture states its expected message in its first line */
    FILE *f = fopen(path, "r");
    char first[1024];
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(first, sizeof(first), f));
    fclose(f);
    first[strcspn(first, "\n")] = '\0';
    snprintf(want, sizeof(want), "# Expected: %s:%s", file, want_after_path);
    ck_assert_str_eq(first, want);
}

START_TEST(fixtures)
{
    fixture("good_minimal.yaml", NULL);
    fixture("bad_unknown_key.yaml", "11:5: unknown key 'upstrem' in route (expected host, path, "
            "upstream, max_body_bytes, public, access, audience, jwt_header, jwt_claims)");
    fixture("bad_unknown_upstream.yaml", "9:15: route names unknown upstream 'ap'");
    fixture("bad_type.yaml", "4:21: expected an integer for max_header_bytes, got '16k'");
    fixture("bad_syntax.yaml", "3:10: YAML syntax error: did not find expected ',' or ']' "
            "(while parsing a flow sequence at 2:9)");
    fixture("bad_address.yaml", "7:9: bad address 'localhost:9101' for server (expected "
            "\"a.b.c.d:port\" or \"[v6]:port\"; no host names)");
    fixture("bad_policy_unknown_role.yaml", "12:37: unknown role 'operatr' (not declared in "
            "'roles:')");
    fixture("bad_policy_public_access.yaml", "11:9: route /ssp/static/ is public (9:13) and "
            "must not have access rules");
    fixture("bad_policy_flag_kind.yaml", "13:42: flags apply to persons only, not to kind "
            "'api_account'");
}
END_TEST

/* ---- addresses and networks ---- */

static struct sockaddr_storage sa_of(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
        sin->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1)
        sin6->sin6_family = AF_INET6;
    else
        ck_abort_msg("bad test address %s", ip);
    return ss;
}

static bool in(const struct gw_cidr *c, size_t n, const char *ip)
{
    struct sockaddr_storage ss = sa_of(ip);
    return gw_cidr_match_any(c, n, (const struct sockaddr *)&ss);
}

START_TEST(addr_parse)
{
    struct gw_addr a;
    ck_assert_int_eq(gw_addr_parse("10.1.2.3:65535", &a), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_int_eq(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), 65535);
    ck_assert_str_eq(a.text, "10.1.2.3:65535");
    ck_assert_int_eq(gw_addr_parse("[2001:db8::5]:1", &a), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);
    ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in6));
    ck_assert_int_eq(ntohs(((struct sockaddr_in6 *)&a.ss)->sin6_port), 1);
    ck_assert_int_eq(gw_addr_parse("[::ffff:1.2.3.4]:80", &a), 0);
    ck_assert_int_eq(gw_addr_parse("", &a), -1);
    ck_assert_int_eq(gw_addr_parse("1.2.3.4:80 ", &a), -1);
    ck_assert_int_eq(gw_addr_parse("1.2.3.4:123456", &a), -1);
    ck_assert_int_eq(a.len, 0);
    /* text longer than gw_addr.text holds */
    ck_assert_int_eq(gw_addr_parse("[0000:0000:0000:0000:0000:0000:0000:0001]:80000000000000000000",
                                   &a), -1);
}
END_TEST

START_TEST(cidr_match)
{
    struct gw_cidr c[4];
    ck_assert_int_eq(gw_cidr_parse("10.0.0.0/8", &c[0]), 0);
    ck_assert_int_eq(gw_cidr_parse("192.168.1.7", &c[1]), 0);
    ck_assert_int_eq(gw_cidr_parse("2001:db8::/32", &c[2]), 0);
    ck_assert_int_eq(gw_cidr_parse("172.16.0.0/12", &c[3]), 0);
    ck_assert_uint_eq(c[1].prefix_len, 32);
    ck_assert(in(c, 4, "10.0.0.1"));
    ck_assert(in(c, 4, "10.255.255.255"));
    ck_assert(!in(c, 4, "11.0.0.0"));
    ck_assert(in(c, 4, "192.168.1.7"));
    ck_assert(!in(c, 4, "192.168.1.8"));
    ck_assert(in(c, 4, "172.31.255.1"));
    ck_assert(!in(c, 4, "172.32.0.1"));
    ck_assert(in(c, 4, "2001:db8:ffff::1"));
    ck_assert(!in(c, 4, "2001:db9::1"));
    /* IPv4-mapped IPv6 clients (dual-stack listener) match IPv4 networks */
    ck_assert(in(c, 4, "::ffff:10.9.8.7"));
    ck_assert(in(c, 4, "::ffff:192.168.1.7"));
    ck_assert(!in(c, 4, "::ffff:192.168.1.8"));
    ck_assert(!in(c, 4, "::10.9.8.7"));          /* IPv4-compatible is not mapped */
    ck_assert(!in(c, 0, "10.0.0.1"));
    ck_assert(!gw_cidr_match_any(c, 4, NULL));

    struct gw_cidr v6[2];
    ck_assert_int_eq(gw_cidr_parse("::1", &v6[0]), 0);
    ck_assert_int_eq(gw_cidr_parse("::ffff:10.0.0.0/104", &v6[1]), 0);
    ck_assert_uint_eq(v6[0].prefix_len, 128);
    ck_assert(in(v6, 2, "::1"));
    ck_assert(!in(v6, 2, "127.0.0.1"));
    ck_assert(in(v6, 2, "10.1.1.1"));            /* a mapped network matches plain IPv4 too */
    ck_assert(!in(v6, 2, "11.1.1.1"));

    struct gw_cidr all[2];
    ck_assert_int_eq(gw_cidr_parse("0.0.0.0/0", &all[0]), 0);
    ck_assert(in(all, 1, "1.2.3.4"));
    ck_assert(!in(all, 1, "2001:db8::1"));
    ck_assert_int_eq(gw_cidr_parse("::/0", &all[1]), 0);
    ck_assert(in(&all[1], 1, "2001:db8::1"));
    /* odd prefix lengths mask partial bytes */
    struct gw_cidr odd;
    ck_assert_int_eq(gw_cidr_parse("10.0.0.128/25", &odd), 0);
    ck_assert(in(&odd, 1, "10.0.0.200"));
    ck_assert(!in(&odd, 1, "10.0.0.127"));
    ck_assert_int_eq(gw_cidr_parse("10.0.0.64/25", &odd), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *ok = tcase_create("accepted");
    tcase_add_test(ok, example_file_loads);
    tcase_add_test(ok, defaults_when_absent);
    tcase_add_test(ok, explicit_values);
    tcase_add_test(ok, log_destinations);
    tcase_add_test(ok, workers_explicit_zero);
    tcase_add_test(ok, empty_upstreams_and_routes);
    tcase_add_test(ok, anchors_and_aliases);
    tcase_add_test(ok, free_null);
    suite_add_tcase(s, ok);
    TCase *bad = tcase_create("refused");
    tcase_add_test(bad, err_unknown_keys);
    tcase_add_test(bad, err_wrong_types);
    tcase_add_test(bad, err_numbers_out_of_range);
    tcase_add_test(bad, err_addresses);
    tcase_add_test(bad, err_cidrs);
    tcase_add_test(bad, err_duplicates);
    tcase_add_test(bad, err_routes);
    tcase_add_test(bad, err_strings);
    tcase_add_test(bad, err_missing_required);
    tcase_add_test(bad, err_document_shape);
    tcase_add_test(bad, err_yaml_syntax);
    tcase_add_test(bad, error_buffer_handling);
    tcase_add_test(bad, fixtures);
    suite_add_tcase(s, bad);
    TCase *net = tcase_create("addresses");
    tcase_add_test(net, addr_parse);
    tcase_add_test(net, cidr_match);
    suite_add_tcase(s, net);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
