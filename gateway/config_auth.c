/* gateway/config_auth.c — the person-facing sections of the configuration: redis, admin,
 * auth (argon2id, work pool), sessions (portals, throttles) and login (page template), and
 * their cross-references with listeners and builtin_prefix.
 */
#include "gateway/config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include "auth/password.h"

/* -- redis -- */

static int field_redis_address(struct conf_loader *L, const char *key, struct conf_node *v,
                               void *base)
{
    return conf_parse_addr(L, key, v, &((struct gw_redis_conf *)base)->addr);
}

static const struct conf_field redis_fields[] = {
    { .key = "address", .type = CONF_CUSTOM, .fn = field_redis_address },
    { .key = "timeout_ms", .type = CONF_U32, .offset = offsetof(struct gw_redis_conf, timeout_ms),
      .min = 1, .max = UINT32_MAX },
    { .key = "key_prefix", .type = CONF_STR, .offset = offsetof(struct gw_redis_conf, key_prefix),
      .check = conf_check_key_prefix },
};
static const struct conf_section redis_section = { "in redis", redis_fields, 3, NULL };

/* See config_internal.h: the redis section; its presence marks redis as configured. */
int conf_field_redis(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    struct gw_config *cfg = base;
    if (conf_parse_section(L, &redis_section, v, &cfg->redis, key) < 0)
        return -1;
    cfg->redis.configured = true;
    return 0;
}

/* -- admin (the admin API) -- */

#define ADMIN_TOKEN_FILE_MAX 4096
#define ADMIN_TOKEN_MIN_BYTES 32

/* `bootstrap_token_file`: reads the token now, so that a missing, unreadable, world-readable
 * or too short file is an error at load (with the key's position) rather than a surprise at
 * the first admin call. The token itself never appears in a message. */
static int field_admin_token_file(struct conf_loader *L, const char *key, struct conf_node *v,
                                  void *base)
{
    struct gw_admin_conf *a = base;
    const char *s;
    char b[64], buf[ADMIN_TOKEN_FILE_MAX + 1];
    int rc = -1;

    if (conf_get_string(L, v, key, &s) < 0 || conf_check_chars(L, key, v, s, false, true) < 0)
        return -1;
    char *path = conf_path_near_config(L, s);
    if (!path)
        return conf_fail(L, conf_pos(v), "out of memory");
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f) {
        conf_fail(L, conf_pos(v), "cannot open %s '%s': %s", key, conf_shown(s, strlen(s), b),
                  strerror(errno));
        goto out;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH))) {
        conf_fail(L, conf_pos(v), "%s '%s' must not be accessible to other users (chmod 600)",
                  key, conf_shown(s, strlen(s), b));
        goto out;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    if (n > ADMIN_TOKEN_FILE_MAX) {
        conf_fail(L, conf_pos(v), "%s '%s' is larger than %d bytes", key,
                  conf_shown(s, strlen(s), b), ADMIN_TOKEN_FILE_MAX);
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
            conf_fail(L, conf_pos(v), "%s '%s' must hold one token of visible ASCII characters",
                      key, conf_shown(s, strlen(s), b));
            goto out;
        }
    }
    if (end - start < ADMIN_TOKEN_MIN_BYTES) {
        conf_fail(L, conf_pos(v), "the token in %s '%s' is shorter than %d characters (use e.g. "
                "`openssl rand -hex 32`)", key, conf_shown(s, strlen(s), b), ADMIN_TOKEN_MIN_BYTES);
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
    rc = a->bootstrap_token ? 0 : conf_fail(L, conf_pos(v), "out of memory");
out:
    explicit_bzero(buf, sizeof(buf));
    if (f)
        fclose(f);
    free(path);
    return rc;
}

static const struct conf_field admin_fields[] = {
    { .key = "prefix", .type = CONF_STR, .offset = offsetof(struct gw_admin_conf, prefix),
      .check = conf_check_builtin_prefix },
    { .key = "bootstrap_token_file", .type = CONF_CUSTOM, .fn = field_admin_token_file },
};
const struct conf_section conf_admin_section = {
    "in admin", admin_fields, sizeof(admin_fields) / sizeof(admin_fields[0]), NULL
};

/* -- auth (password hashing, work pool) -- */

/* libsodium's own limits (parallelism 1, memory, iterations), reported at the offending key. */
static int finish_argon2id(struct conf_loader *L, struct conf_node *map, void *base)
{
    const struct gw_auth_conf *a = base;
    struct auth_pw_params p = { a->argon2_memory_kib, a->argon2_iterations,
                                a->argon2_parallelism };
    char msg[200];
    if (auth_password_params_check(&p, msg, sizeof(msg)) == 0)
        return 0;
    const char *key = p.parallelism != 1 ? "parallelism"
                      : strstr(msg, "memory") ? "memory_kib" : "iterations";
    struct conf_node *at = conf_map_get(L, map, key);
    return conf_fail(L, conf_pos(at ? at : map), "%s", msg);
}

static const struct conf_field argon2id_fields[] = {
    { .key = "memory_kib", .type = CONF_U32, .offset = offsetof(struct gw_auth_conf,
      argon2_memory_kib), .min = 8, .max = 4u * 1024 * 1024 },
    { .key = "iterations", .type = CONF_U32, .offset = offsetof(struct gw_auth_conf,
      argon2_iterations), .min = 1, .max = 64 },
    { .key = "parallelism", .type = CONF_U32, .offset = offsetof(struct gw_auth_conf,
      argon2_parallelism), .min = 1, .max = 255 },
};
static const struct conf_section argon2id_section = {
    "in auth.argon2id", argon2id_fields, sizeof(argon2id_fields) / sizeof(argon2id_fields[0]),
    finish_argon2id
};

/* argon2id's keys fill struct gw_auth_conf directly: the nested mapping shares its base. */
static int field_argon2id(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    return conf_parse_section(L, &argon2id_section, v, base, key);
}

/* work_sched: idle | normal */
static int field_work_sched(struct conf_loader *L, const char *key, struct conf_node *v,
                            void *base)
{
    struct gw_auth_conf *a = base;
    const char *s;
    if (conf_get_string(L, v, key, &s) < 0)
        return -1;
    if (strcmp(s, "idle") == 0)
        a->work_sched_idle = true;
    else if (strcmp(s, "normal") == 0)
        a->work_sched_idle = false;
    else
        return conf_fail(L, conf_pos(v), "%s must be idle or normal, got '%.40s'", key, s);
    return 0;
}

static const struct conf_field auth_fields[] = {
    { .key = "argon2id", .type = CONF_CUSTOM, .fn = field_argon2id },
    { .key = "work_threads", .type = CONF_U32, .offset = offsetof(struct gw_auth_conf,
      work_threads), .min = 1, .max = 64 },
    { .key = "work_queue_max", .type = CONF_U32, .offset = offsetof(struct gw_auth_conf,
      work_queue_max), .min = 1, .max = 1000000 },
    { .key = "work_nice", .type = CONF_U32, .offset = offsetof(struct gw_auth_conf,
      work_nice), .min = 0, .max = 19 },
    { .key = "work_sched", .type = CONF_CUSTOM, .fn = field_work_sched },
};
const struct conf_section conf_auth_section = {
    "in auth", auth_fields, sizeof(auth_fields) / sizeof(auth_fields[0]), NULL
};

/* -- sessions and login (docs/CONFIG.md#sessions) -- */

#define LOGIN_TEMPLATE_MAX (256u * 1024)
static int field_insecure_dev_cookies(struct conf_loader *L, const char *key, struct conf_node *v,
                                      void *base)
{
    return conf_get_bool(L, v, key, &((struct gw_sessions_conf *)base)->insecure_dev_cookies);
}

static int field_strip_headers(struct conf_loader *L, const char *key, struct conf_node *v,
                               void *base)
{
    struct gw_sessions_conf *sc = base;
    if (conf_want(L, v, CONF_LIST, "a list", key) < 0)
        return -1;
    size_t n = conf_list_len(v);
    if (n == 0)
        return 0;
    sc->strip_headers = calloc(n, sizeof(*sc->strip_headers));
    if (!sc->strip_headers)
        return conf_fail(L, conf_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct conf_node *item = conf_list_item(L, v, i);
        const char *s;
        if (conf_get_string(L, item, "strip_headers entry", &s) < 0 ||
            conf_check_header_name(L, "strip_headers", item, s) < 0)
            return -1;
        char *low = strdup(s);
        if (!low)
            return conf_fail(L, conf_pos(item), "out of memory");
        for (char *c = low; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        sc->strip_headers[i] = low;
        sc->nstrip_headers = i + 1;
    }
    return 0;
}

static const struct conf_field portal_fields[] = {
    { .key = "name", .type = CONF_STR, .offset = offsetof(struct gw_portal_conf, name),
      .required = true, .check = conf_check_name },
    { .key = "title", .type = CONF_STR, .offset = offsetof(struct gw_portal_conf, title),
      .required = true, .check = conf_check_text },
    { .key = "host", .type = CONF_STR, .offset = offsetof(struct gw_portal_conf, host),
      .check = conf_check_host },
    { .key = "path", .type = CONF_STR, .offset = offsetof(struct gw_portal_conf, path),
      .required = true, .check = conf_check_route_path },
};
static const struct conf_section portal_section = {
    "in portal", portal_fields, sizeof(portal_fields) / sizeof(portal_fields[0]), NULL
};

static int field_portals(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    struct gw_sessions_conf *sc = base;
    if (conf_want(L, v, CONF_LIST, "a list", key) < 0)
        return -1;
    size_t n = conf_list_len(v);
    if (n == 0)
        return 0;
    sc->portals = calloc(n, sizeof(*sc->portals));
    if (!sc->portals)
        return conf_fail(L, conf_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct conf_node *item = conf_list_item(L, v, i);
        struct gw_portal_conf *pc = &sc->portals[i];
        pc->pos = conf_pos(item);
        sc->nportals = i + 1;
        if (conf_parse_section(L, &portal_section, item, pc, "portal") < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(sc->portals[j].name, pc->name))
                return conf_fail(L, pc->pos, "duplicate portal '%s' (first at %d:%d)", pc->name,
                                 sc->portals[j].pos.line, sc->portals[j].pos.col);
    }
    return 0;
}

#define THR(k, lo) { .key = #k, .type = CONF_U32, .offset = offsetof(struct gw_throttle_rule_conf, \
                     k), .min = (lo), .max = UINT32_MAX }
static const struct conf_field throttle_rule_fields[] = {
    THR(free_failures, 0),
    THR(delay_base_ms, 0),
    THR(delay_max_ms, 0),
    THR(lock_failures, 1),
    THR(lock_ms, 1000),
    THR(window_ms, 1000),
};
#undef THR

static int finish_throttle_rule(struct conf_loader *L, struct conf_node *map, void *base)
{
    const struct gw_throttle_rule_conf *t = base;
    if (t->delay_max_ms < t->delay_base_ms) {
        struct conf_node *at = conf_map_get(L, map, "delay_max_ms");
        return conf_fail(L, conf_pos(at ? at : map), "delay_max_ms (%u) must not be less than "
                         "delay_base_ms (%u)", t->delay_max_ms, t->delay_base_ms);
    }
    if (t->lock_failures <= t->free_failures) {
        struct conf_node *at = conf_map_get(L, map, "lock_failures");
        return conf_fail(L, conf_pos(at ? at : map), "lock_failures (%u) must be greater than "
                         "free_failures (%u)", t->lock_failures, t->free_failures);
    }
    return 0;
}
static const struct conf_section throttle_account_section = {
    "in sessions.throttle.account", throttle_rule_fields,
    sizeof(throttle_rule_fields) / sizeof(throttle_rule_fields[0]), finish_throttle_rule
};
static const struct conf_section throttle_address_section = {
    "in sessions.throttle.address", throttle_rule_fields,
    sizeof(throttle_rule_fields) / sizeof(throttle_rule_fields[0]), finish_throttle_rule
};
static const struct conf_field throttle_fields[] = {
    { .key = "account", .type = CONF_SECTION, .offset = offsetof(struct gw_throttle_conf, account),
      .section = &throttle_account_section },
    { .key = "address", .type = CONF_SECTION, .offset = offsetof(struct gw_throttle_conf, address),
      .section = &throttle_address_section },
};
static const struct conf_section throttle_section = {
    "in sessions.throttle", throttle_fields, sizeof(throttle_fields) / sizeof(throttle_fields[0]),
    NULL
};

/* oauth.throttle (config_tokens.c): the same rules for API clients and their addresses. */
static const struct conf_section oauth_throttle_client_section = {
    "in oauth.throttle.client", throttle_rule_fields,
    sizeof(throttle_rule_fields) / sizeof(throttle_rule_fields[0]), finish_throttle_rule
};
static const struct conf_section oauth_throttle_address_section = {
    "in oauth.throttle.address", throttle_rule_fields,
    sizeof(throttle_rule_fields) / sizeof(throttle_rule_fields[0]), finish_throttle_rule
};
static const struct conf_field oauth_throttle_fields[] = {
    { .key = "client", .type = CONF_SECTION, .offset = offsetof(struct gw_oauth_conf, client),
      .section = &oauth_throttle_client_section },
    { .key = "address", .type = CONF_SECTION, .offset = offsetof(struct gw_oauth_conf, address),
      .section = &oauth_throttle_address_section },
};
const struct conf_section conf_oauth_throttle_section = {
    "in oauth.throttle", oauth_throttle_fields,
    sizeof(oauth_throttle_fields) / sizeof(oauth_throttle_fields[0]), NULL
};

#define SES(k, lo) { .key = #k, .type = CONF_U32, .offset = offsetof(struct gw_sessions_conf, k), \
                     .min = (lo), .max = UINT32_MAX }
static const struct conf_field sessions_fields[] = {
    { .key = "cookie_name", .type = CONF_STR, .offset = offsetof(struct gw_sessions_conf,
      cookie_name), .check = conf_check_cookie_name },
    SES(idle_timeout_ms, 1000),
    SES(absolute_timeout_ms, 1000),
    SES(refresh_interval_ms, 0),
    { .key = "insecure_dev_cookies", .type = CONF_CUSTOM, .fn = field_insecure_dev_cookies },
    { .key = "person_header", .type = CONF_STR, .offset = offsetof(struct gw_sessions_conf,
      person_header), .check = conf_check_header_name },
    { .key = "strip_headers", .type = CONF_CUSTOM, .fn = field_strip_headers },
    { .key = "portals", .type = CONF_CUSTOM, .fn = field_portals },
    { .key = "throttle", .type = CONF_SECTION, .offset = offsetof(struct gw_sessions_conf,
      throttle), .section = &throttle_section },
};
#undef SES

static int finish_sessions(struct conf_loader *L, struct conf_node *map, void *base)
{
    const struct gw_sessions_conf *sc = base;
    if (sc->absolute_timeout_ms < sc->idle_timeout_ms) {
        struct conf_node *at = conf_map_get(L, map, "absolute_timeout_ms");
        return conf_fail(L, conf_pos(at ? at : map), "absolute_timeout_ms (%u) must not be less "
                         "than idle_timeout_ms (%u)", sc->absolute_timeout_ms,
                         sc->idle_timeout_ms);
    }
    if (sc->refresh_interval_ms >= sc->idle_timeout_ms) {
        struct conf_node *at = conf_map_get(L, map, "refresh_interval_ms");
        return conf_fail(L, conf_pos(at ? at : map), "refresh_interval_ms (%u) must be less than "
                         "idle_timeout_ms (%u)", sc->refresh_interval_ms, sc->idle_timeout_ms);
    }
    return 0;
}
const struct conf_section conf_sessions_section = {
    "in sessions", sessions_fields, sizeof(sessions_fields) / sizeof(sessions_fields[0]),
    finish_sessions
};

/* The login page template placeholders ({{name}}); gateway/endpoints/login_page.c fills them. */
static const char *const login_placeholders[] = {
    "title", "error", "action", "csrf", "return_to", "username", "portals",
};

/* Checks a template's placeholders: every {{...}} must be a known name, and {{action}} and
 * {{csrf}} must be there (without them the form cannot work). Returns 0 or -1. */
static int check_template(struct conf_loader *L, struct conf_node *v, const char *path,
                          const char *t)
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
            return conf_fail(L, conf_pos(v), "template '%s' line %d: unknown placeholder '%s' "
                             "(use {{title}}, {{error}}, {{action}}, {{csrf}}, {{return_to}}, "
                             "{{username}}, {{portals}})", conf_shown(path, strlen(path), b), line,
                             end ? conf_shown(p, n + 4, (char[64]){ 0 }) : "{{");
        have_action |= n == 6 && !strncmp(p + 2, "action", 6);
        have_csrf |= n == 4 && !strncmp(p + 2, "csrf", 4);
        p = end + 1;
    }
    if (!have_action || !have_csrf)
        return conf_fail(L, conf_pos(v), "template '%s' must contain {{action}} and {{csrf}}",
                         conf_shown(path, strlen(path), b));
    return 0;
}

static int field_login_template(struct conf_loader *L, const char *key, struct conf_node *v,
                                void *base)
{
    struct gw_login_conf *lc = base;
    const char *s;
    char b[64];
    if (conf_get_string(L, v, key, &s) < 0 || conf_check_chars(L, key, v, s, false, true) < 0)
        return -1;
    char *path = conf_path_near_config(L, s);
    if (!path)
        return conf_fail(L, conf_pos(v), "out of memory");
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    int rc = -1;
    if (!f) {
        conf_fail(L, conf_pos(v), "cannot open %s '%s': %s", key, conf_shown(s, strlen(s), b),
                  strerror(errno));
        goto out;
    }
    text = malloc(LOGIN_TEMPLATE_MAX + 1);
    if (!text) {
        conf_fail(L, conf_pos(v), "out of memory");
        goto out;
    }
    size_t n = fread(text, 1, LOGIN_TEMPLATE_MAX + 1, f);
    if (n > LOGIN_TEMPLATE_MAX || memchr(text, '\0', n)) {
        conf_fail(L, conf_pos(v), "%s '%s' must be a text file of at most %u bytes", key,
                  conf_shown(s, strlen(s), b), LOGIN_TEMPLATE_MAX);
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

static const struct conf_field login_fields[] = {
    { .key = "prefix", .type = CONF_STR, .offset = offsetof(struct gw_login_conf, prefix),
      .check = conf_check_builtin_prefix },
    { .key = "template", .type = CONF_CUSTOM, .fn = field_login_template },
    { .key = "page_title", .type = CONF_STR, .offset = offsetof(struct gw_login_conf, page_title),
      .check = conf_check_text },
};
const struct conf_section conf_login_section = {
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

/* -- once every key is read (called by finish_top in config.c) -- */

/* See config_internal.h. Returns 0 or -1. */
int conf_auth_finish(struct conf_loader *L, struct conf_node *map, struct gw_config *cfg)
{
    if (!strncmp(cfg->admin.prefix, cfg->builtin_prefix, strlen(cfg->builtin_prefix)) ||
        !strncmp(cfg->builtin_prefix, cfg->admin.prefix, strlen(cfg->admin.prefix))) {
        struct conf_node *a = conf_map_get(L, map, "admin");
        struct conf_node *at = a && conf_is_map(a) ? conf_map_get(L, a, "prefix") : NULL;
        if (!at)
            at = conf_map_get(L, map, "builtin_prefix");
        return conf_fail(L, conf_pos(at ? at : map), "admin prefix '%s' and builtin_prefix '%s' "
                         "must not contain one another", cfg->admin.prefix, cfg->builtin_prefix);
    }

    if (cfg->sessions.insecure_dev_cookies) {
        for (size_t i = 0; i < cfg->nlisteners; i++) {
            if (addr_is_loopback(&cfg->listeners[i].addr))
                continue;
            struct conf_node *sn = conf_map_get(L, map, "sessions");
            struct conf_node *at = sn ? conf_map_get(L, sn, "insecure_dev_cookies") : NULL;
            return conf_fail(L, conf_pos(at ? at : map), "insecure_dev_cookies needs every "
                             "listener on a loopback address (%s at %d:%d is not)",
                             cfg->listeners[i].addr.text, cfg->listeners[i].pos.line,
                             cfg->listeners[i].pos.col);
        }
    }
    return 0;
}
