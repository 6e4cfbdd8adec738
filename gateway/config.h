/* gateway/config.h — onegate's configuration as plain structs, loaded from one YAML file.
 *
 * The loader is gateway/config*.c; only gateway/config_yaml.c touches libyaml. Everything it
 * returns is immutable after load: workers hold a reference-counted pointer to one gw_config
 * and a SIGHUP reload swaps in a new one (see gateway/worker.h). Every error names
 * file:line:column.
 */
#ifndef ONEGATE_GATEWAY_CONFIG_H
#define ONEGATE_GATEWAY_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "policy/policy.h"
#include "policy/route_table.h"

#define GW_CONFIG_ERR_MAX 512

/* Position of a node in the YAML file, 1-based; used for error messages. */
struct gw_conf_pos {
    int line;
    int col;
};

/* A resolved "host:port" (IPv4 "1.2.3.4:80", IPv6 "[::1]:80"). No DNS: addresses only. */
struct gw_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[64];              /* as written in the config, for logs */
};

/* An IPv4/IPv6 network "10.0.0.0/8", "::1/128"; a bare address means a /32 or /128. */
struct gw_cidr {
    int family;                 /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint8_t prefix_len;
};

struct gw_listener_conf {
    struct gw_addr addr;
    struct gw_conf_pos pos;
};

struct gw_limits_conf {
    uint32_t max_header_bytes;      /* whole request head incl. request line; default 16384 */
    uint32_t max_request_line_bytes;/* default 8192; over it: 414 */
    uint32_t max_headers;           /* number of header fields; default 100 */
    uint32_t header_timeout_ms;     /* deadline for the whole request head; default 10000 */
    uint32_t keepalive_timeout_ms;  /* idle client connection between requests; default 60000 */
    uint32_t body_timeout_ms;       /* max gap between body reads from the client; default 30000 */
    uint32_t send_timeout_ms;       /* max gap between writes to a stalled client; default 60000 */
    uint32_t max_connections;       /* concurrent client connections, all workers; default 10000 */
    uint32_t drain_timeout_ms;      /* SIGTERM: how long in-flight requests may finish; default 10000 */
    uint64_t max_body_bytes;        /* default per-route request body limit; default 0 = unlimited */
};

/* How the upstream sees the Host header. */
enum gw_host_mode {
    GW_HOST_PRESERVE = 0,       /* forward the client's Host unchanged (default) */
    GW_HOST_REWRITE,            /* replace with host_rewrite */
};

struct gw_upstream_conf {
    char *name;
    struct gw_addr *servers;
    size_t nservers;
    enum gw_host_mode host_mode;
    char *host_rewrite;             /* set when host_mode == GW_HOST_REWRITE */
    uint32_t connect_timeout_ms;    /* default 3000; expiry -> 502 */
    uint32_t response_timeout_ms;   /* until the response head arrives; default 30000; -> 504 */
    uint32_t idle_timeout_ms;       /* pooled keep-alive connection lifetime when idle; default 60000 */
    uint32_t read_timeout_ms;       /* max gap between body reads from the upstream; default 60000 */
    uint32_t max_connections_per_server; /* per worker; default 256; over it: queued, then 503 */
    uint32_t max_idle_per_server;   /* per worker pool; default 32 */
    uint32_t fail_timeout_ms;       /* passive health: skip a refusing server this long; default 10000 */
    struct gw_conf_pos pos;
};

struct gw_route_conf {
    char *host;                     /* NULL = any host; exact, case-insensitive, port ignored */
    char *path_prefix;              /* begins with '/' */
    char *upstream;                 /* name; resolved to upstream_index at load */
    size_t upstream_index;
    bool has_max_body;
    uint64_t max_body_bytes;        /* overrides limits.max_body_bytes when has_max_body */
    /* person JWT forwarded to this route's upstream (issue 5; needs the jwt: section) */
    char *audience;                 /* "aud" of the minted token; NULL = no token forwarded */
    char *jwt_header;               /* header carrying "Bearer <jwt>"; default "Authorization" */
    bool jwt_claim_name;            /* jwt_claims: [name] */
    bool jwt_claim_email;           /* jwt_claims: [email] */
    struct gw_conf_pos pos;
};

enum gw_log_level { GW_LOG_ERROR = 0, GW_LOG_WARN, GW_LOG_INFO, GW_LOG_DEBUG };

struct gw_log_conf {
    enum gw_log_level level;        /* default info */
    char *error_log;                /* path, or NULL = stderr */
    bool access_log_enabled;        /* default true */
    char *access_log;               /* path, or NULL = stdout */
};

struct gw_redis_conf {
    struct gw_addr addr;            /* default 127.0.0.1:6379 */
    bool configured;                /* the file had a redis: section */
    uint32_t timeout_ms;            /* per command deadline; default 500 */
    char *key_prefix;               /* default "og:" */
};

/* `admin:` — the admin API (docs/CONFIG.md#admin, docs/openapi-admin.yaml). */
struct gw_admin_conf {
    char *prefix;                   /* default "/admin/v1/"; starts and ends with '/' */
    /* The contents of `bootstrap_token_file` (surrounding whitespace trimmed), or NULL when
     * the key is absent. A secret: never logged; wiped when the config is freed. Accepted as
     * "Authorization: Bearer <token>" (constant-time compare) from loopback clients. */
    char *bootstrap_token;
    char *bootstrap_token_file;     /* the path, for messages; NULL when absent */
};

/* `auth:` — password hashing and the work pool that runs it (and every directory call). */
struct gw_auth_conf {
    uint32_t argon2_memory_kib;     /* argon2id m; default 19456 (19 MiB) */
    uint32_t argon2_iterations;     /* argon2id t; default 2 */
    uint32_t argon2_parallelism;    /* argon2id p; must be 1 (libsodium) */
    uint32_t work_threads;          /* auth_work_pool threads; default 2 */
    uint32_t work_queue_max;        /* jobs waiting before 503; default 1024 */
    uint32_t work_nice;             /* nice value of the pool threads, 0..19; default 10; used
                                     * with work_sched normal */
    bool work_sched_idle;           /* work_sched: idle (default, SCHED_IDLE) or normal */
};

/* A portal a person can be sent to after login and switch to (sessions.portals). */
struct gw_portal_conf {
    char *name;                     /* [A-Za-z0-9_.-], unique */
    char *title;                    /* shown in whoami and on the login page */
    char *host;                     /* NULL = any host (same host as the login request) */
    char *path;                     /* prefix; return_to must lie inside one portal's path */
    struct gw_conf_pos pos;
};

/* Brute-force protection of the login (auth/throttle.h, struct auth_throttle_rule): failures
 * counted in Redis per account name and per client address. After the n-th failure within
 * window_ms of the previous one the next attempt waits: nothing while n <= free_failures,
 * then delay_base_ms doubling per failure up to delay_max_ms, and lock_ms once n reaches
 * lock_failures. */
struct gw_throttle_rule_conf {
    uint32_t free_failures;
    uint32_t delay_base_ms;
    uint32_t delay_max_ms;
    uint32_t lock_failures;
    uint32_t lock_ms;
    uint32_t window_ms;
};

struct gw_throttle_conf {
    struct gw_throttle_rule_conf account;   /* 3 free, 1 s doubling to 30 s, lock 15 min
                                             * after 10, window 15 min */
    struct gw_throttle_rule_conf address;   /* 20 free, 1 s doubling to 30 s, lock 15 min
                                             * after 100, window 15 min */
};

/* `sessions:` — login sessions in Redis and their cookie (docs/CONFIG.md#sessions). */
struct gw_sessions_conf {
    char *cookie_name;              /* default "onegate_session"; "__Host-" prefixed over TLS */
    uint32_t idle_timeout_ms;       /* sliding; default 1800000 (30 min) */
    uint32_t absolute_timeout_ms;   /* since login; default 43200000 (12 h) */
    uint32_t refresh_interval_ms;   /* idle expiry pushed at most this often; default 60000 */
    bool insecure_dev_cookies;      /* plain-HTTP cookies without Secure, loopback only */
    char *person_header;            /* added for the upstream; default "X-Onegate-Person" */
    char **strip_headers;           /* more client headers to remove (lowercase) */
    size_t nstrip_headers;
    struct gw_portal_conf *portals; /* return_to targets and the whoami portal list */
    size_t nportals;
    struct gw_throttle_conf throttle;
};

/* `login:` — onegate's login endpoints: <prefix>login (page + form POST), <prefix>logout,
 * <prefix>session (whoami, JSON). */
struct gw_login_conf {
    char *prefix;                   /* default "/-/" (the builtin prefix) */
    char *template_path;            /* NULL = the built-in page */
    char *template_text;            /* the template file's content, read at load */
    char *page_title;               /* default "Sign in" */
};

struct auth_jwt_keyset;

/* jwt: — the keys and bounds of every JWT onegate mints or verifies (docs/CONFIG.md). The
 * key files are read at load (and so on every SIGHUP): rotation is a config change + SIGHUP. */
struct gw_jwt_conf {
    bool configured;                /* the file had a jwt: section */
    char *issuer;                   /* "iss" of every token, required */
    char *signing_key;              /* path of the private signing key (PEM), required */
    char **published_keys;          /* paths of further keys published for verification */
    size_t npublished_keys;
    uint32_t token_lifetime_ms;     /* person tokens; default 300000 (whole seconds) */
    uint32_t renew_before_ms;       /* a cached person token is re-minted when less than this
                                     * is left; default 60000; < token_lifetime_ms */
    uint32_t leeway_ms;             /* clock skew on exp/nbf/iat; default 30000 */
    uint32_t max_token_bytes;       /* longer bearer tokens are refused unread; default 8192 */
    uint32_t cache_entries;         /* verified tokens cached per worker; default 10000 */
    uint32_t bad_token_burst;       /* failed verifications per client address and worker ... */
    uint32_t bad_token_per_s;       /* ... before 429s, refilled at this rate; default 20/10 */
    uint32_t max_signature_checks_per_s; /* per worker, all clients: signature checks of
                                     * tokens not in the cache; beyond it 429; default 1000,
                                     * 0 = no cap */
    struct auth_jwt_keyset *keyset; /* loaded and sealed at load; NULL when !configured */
};

/* oauth: — the OAuth2 endpoints for API accounts (needs jwt:). */
struct gw_oauth_conf {
    bool configured;                /* the file had an oauth: section: endpoints enabled */
    uint32_t token_lifetime_ms;     /* API access tokens; default jwt.token_lifetime_ms */
    char *audience;                 /* "aud" of API tokens (and expected on bearer routes);
                                     * NULL = tokens carry no aud */
    uint32_t max_body_bytes;        /* form body of the /oauth endpoints; default 4096 */
    struct gw_throttle_rule_conf client;    /* per client_id; defaults as logins' accounts */
    struct gw_throttle_rule_conf address;   /* per client address; as logins' addresses */
};

struct gw_config {
    char *path;                     /* file it was loaded from */
    int workers;                    /* 0 in the file = number of online CPUs (resolved at load) */
    struct gw_listener_conf *listeners;
    size_t nlisteners;
    struct gw_cidr *trusted_proxies;
    size_t ntrusted_proxies;
    char *builtin_prefix;           /* default "/-/": liveness, readiness, metrics live below it */
    char *server_name;              /* used in Via; default "onegate" */
    struct gw_limits_conf limits;
    struct gw_upstream_conf *upstreams;
    size_t nupstreams;
    struct gw_route_conf *routes;
    size_t nroutes;
    struct pol_route_table *route_table; /* compiled from routes[] at load */
    /* The role policy compiled from `roles:`, `scopes:` and routes[].public/access at load
     * (docs/POLICY.md). Never NULL in a loaded config; route ids are indexes into routes[], the
     * same ids route_table returns. Routes without `public`/`access` deny everyone. Role and
     * scope bits are per policy: principals are built against the config they are decided
     * with (pol_principal_add_role(cfg->policy, ...)). */
    struct pol_policy *policy;
    struct gw_log_conf log;
    struct gw_redis_conf redis;
    struct gw_jwt_conf jwt;
    struct gw_oauth_conf oauth;
    struct gw_admin_conf admin;
    struct gw_auth_conf auth;
    struct gw_sessions_conf sessions;
    struct gw_login_conf login;
};

/* Loads and validates <path>. Returns a new config (caller frees with gw_config_free) or NULL
 * with a message "file:line:column: what is wrong" in <err>. Unknown keys, wrong types,
 * out-of-range numbers, unknown upstream names, duplicate names, bad addresses and every
 * policy error (unknown role, flag, scope, kind or method, ...) are errors. */
struct gw_config *gw_config_load(const char *path, char *err, size_t errlen);

/* Same, from an in-memory YAML document; <name> is used in error messages. */
struct gw_config *gw_config_load_string(const char *yaml, size_t len, const char *name,
                                        char *err, size_t errlen);

void gw_config_free(struct gw_config *cfg);

/* Parses "host:port" / "[v6]:port" into <out>. Returns 0 or -1. */
int gw_addr_parse(const char *text, struct gw_addr *out);

/* Parses "a.b.c.d/n", "v6/n" or a bare address. Returns 0 or -1. */
int gw_cidr_parse(const char *text, struct gw_cidr *out);

/* True when <sa> lies inside any of <cidrs>. */
bool gw_cidr_match_any(const struct gw_cidr *cidrs, size_t n, const struct sockaddr *sa);

#endif
