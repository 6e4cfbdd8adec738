/* gateway/config_internal.h — what the configuration loader's files share; not for callers.
 *
 * gateway/config_yaml.c is the only file that touches libyaml: the rest of gateway/config*.c
 * see the document through the opaque struct conf_node and the helpers below, and describe each
 * YAML mapping as a table (struct conf_section) that conf_parse_section walks. Start-up and
 * reload only; nothing here runs on the request path.
 */
#ifndef ONEGATE_GATEWAY_CONFIG_INTERNAL_H
#define ONEGATE_GATEWAY_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"
#include "policy/policy.h"

struct yaml_document_s;

/* One YAML node (scalar, list or mapping) of the document being loaded. Borrowed from the
 * document: valid until the load returns. Only config_yaml.c looks inside. */
struct conf_node;

/* The state of one load. No global state: each gw_config_load_string call has its own. */
struct conf_loader {
    const char *name;               /* file name used in messages */
    const char *input;              /* the whole document (for reader-error positions) */
    size_t inlen;
    char *err;
    size_t errlen;
    struct yaml_document_s *doc;    /* the libyaml document; only config_yaml.c looks inside */
    struct gw_config *cfg;
    struct gw_conf_pos *route_upstream_pos; /* where each route's `upstream` value is */
    struct pol_builder *pb;         /* the role policy being built; compiled in finish_top */
};

/* ---- errors (config_yaml.c) ---- */

/* Writes "FILE:LINE:COL: message" into the caller's buffer. Always returns -1. */
__attribute__((format(printf, 3, 4)))
int conf_fail(struct conf_loader *L, struct gw_conf_pos pos, const char *fmt, ...);

/* Copies <s> (length <len>) into <buf> for quoting in a message: at most 60 bytes,
 * non-printable bytes shown as '?'. Returns <buf>. */
const char *conf_shown(const char *s, size_t len, char buf[64]);

/* ---- nodes (config_yaml.c) ---- */

enum conf_kind { CONF_SCALAR, CONF_LIST, CONF_MAP };

/* Where <n> starts in the file. */
struct gw_conf_pos conf_pos(const struct conf_node *n);
/* True when <n> is a mapping. */
bool conf_is_map(const struct conf_node *n);
/* True when <n> is a plain (unquoted) scalar. */
bool conf_is_plain(const struct conf_node *n);
/* The text of scalar <n> (borrowed from the document). Only for nodes known to be scalars. */
const char *conf_scalar(const struct conf_node *n);

/* Entries of list <n> (only for nodes known to be lists, e.g. after conf_want). */
size_t conf_list_len(const struct conf_node *n);
struct conf_node *conf_list_item(struct conf_loader *L, const struct conf_node *n, size_t i);

/* Pairs of mapping <n> (only for nodes known to be mappings), in document order. */
size_t conf_map_len(const struct conf_node *n);
struct conf_node *conf_map_key(struct conf_loader *L, const struct conf_node *n, size_t i);
struct conf_node *conf_map_value(struct conf_loader *L, const struct conf_node *n, size_t i);
/* The value node of <key> in mapping <map>, or NULL. */
struct conf_node *conf_map_get(struct conf_loader *L, struct conf_node *map, const char *key);
/* The position of <key>'s value in <map> when written, else of <map> itself. */
struct gw_conf_pos conf_pos_of_key(struct conf_loader *L, struct conf_node *map,
                                   const char *key);

/* Fails with "expected <what> for <key>, got ..." unless <n> is of <kind> (a null scalar is
 * not a scalar). Returns 0 or -1. */
int conf_want(struct conf_loader *L, const struct conf_node *n, enum conf_kind kind,
              const char *what, const char *key);
/* A non-null scalar without NUL bytes: 0 and *out (borrowed from the document), or -1. */
int conf_get_string(struct conf_loader *L, const struct conf_node *n, const char *key,
                    const char **out);
/* A plain decimal integer in [min, max]. Returns 0 or -1. */
int conf_get_uint(struct conf_loader *L, const struct conf_node *n, const char *key,
                  uint64_t min, uint64_t max, uint64_t *out);
/* A plain true/True/TRUE or false/False/FALSE. Returns 0 or -1. */
int conf_get_bool(struct conf_loader *L, const struct conf_node *n, const char *key, bool *out);

/* ---- the table-driven schema (config_yaml.c) ---- */

enum conf_field_type {
    CONF_U32,       /* uint32_t at offset, range [min, max] */
    CONF_U64,       /* uint64_t at offset, range [min, max] */
    CONF_STR,       /* char * at offset (replaces a default), checked by <check> */
    CONF_SECTION,   /* nested mapping described by <section>, struct at offset */
    CONF_CUSTOM,    /* <fn> does everything */
};

struct conf_section;
typedef int conf_field_fn(struct conf_loader *L, const char *key, struct conf_node *value,
                          void *base);
typedef int conf_check_fn(struct conf_loader *L, const char *key, struct conf_node *value,
                          const char *s);

struct conf_field {
    const char *key;
    enum conf_field_type type;
    size_t offset;
    bool required;
    uint64_t min, max;
    conf_check_fn *check;
    const struct conf_section *section;
    conf_field_fn *fn;
};

struct conf_section {
    const char *where;              /* "in route", "at top level": used in messages */
    const struct conf_field *fields;
    size_t nfields;
    /* runs after every key was read; <map> is the mapping node */
    int (*finish)(struct conf_loader *L, struct conf_node *map, void *base);
};

/* Reads mapping <map> into <base> following <sec>: unknown keys, duplicate keys and missing
 * required keys are errors. <key> names the mapping in type errors. Returns 0 or -1. */
int conf_parse_section(struct conf_loader *L, const struct conf_section *sec,
                       struct conf_node *map, void *base, const char *key);

/* Parses L->input as one YAML document whose root mapping follows <top> into <base>.
 * Returns 0 or -1 with the error written. */
int conf_yaml_load(struct conf_loader *L, const struct conf_section *top, void *base);

/* ---- value checkers shared by sections (config_check.c); each returns 0 or -1 ---- */

int conf_check_chars(struct conf_loader *L, const char *key, struct conf_node *v,
                     const char *s, bool allow_empty, bool allow_space);
conf_check_fn conf_check_token;          /* visible, no spaces, non-empty */
conf_check_fn conf_check_key_prefix;     /* visible, no spaces, may be empty */
conf_check_fn conf_check_text;           /* shown to people: spaces allowed */
conf_check_fn conf_check_route_path;     /* "/..." without ?, # */
conf_check_fn conf_check_builtin_prefix; /* "/.../" without ?, # */
conf_check_fn conf_check_host;           /* a host name or address, no port */
conf_check_fn conf_check_name;           /* [A-Za-z0-9_.-]{1,64} */
conf_check_fn conf_check_jwt_string;     /* a claim value: issuer, audience */
conf_check_fn conf_check_header_name;    /* an HTTP token, 1..64 */
conf_check_fn conf_check_cookie_name;    /* an HTTP token without __Host-/__Secure- */

/* An address "a.b.c.d:port" / "[v6]:port" into <out>. Returns 0 or -1. */
int conf_parse_addr(struct conf_loader *L, const char *key, struct conf_node *v,
                    struct gw_addr *out);

/* <path> as written, or resolved against the directory of the config file when relative.
 * Returns a new string (caller frees) or NULL on ENOMEM. */
char *conf_path_near_config(const struct conf_loader *L, const char *path);

/* ---- the sections, one file each; config.c lists them in its top-level table ---- */

/* config_proxy.c: listen, trusted_proxies, limits, upstreams */
conf_field_fn conf_field_listen, conf_field_trusted_proxies, conf_field_upstreams;
extern const struct conf_section conf_limits_section;

/* config_routes.c: routes and the role policy (roles, scopes, routes[].public/access) */
conf_field_fn conf_field_routes, conf_field_roles, conf_field_scopes;
/* Resolves every route's upstream name to its index. Returns 0 or -1. */
int conf_routes_link_upstreams(struct conf_loader *L, struct gw_config *cfg);
/* Builds cfg->route_table and compiles cfg->policy; errors at <map> when they have no better
 * position. Returns 0 or -1. */
int conf_routes_build(struct conf_loader *L, struct conf_node *map, struct gw_config *cfg);

/* config_tokens.c: jwt and oauth */
conf_field_fn conf_field_jwt;
extern const struct conf_section conf_oauth_section;
/* Cross-references of the JWT settings (oauth and route audiences need jwt). Returns 0/-1. */
int conf_tokens_finish(struct conf_loader *L, struct conf_node *map, struct gw_config *cfg);

/* config_log.c */
extern const struct conf_section conf_log_section;

/* config_auth.c: redis, admin, auth, sessions (with throttles), login */
conf_field_fn conf_field_redis;
extern const struct conf_section conf_admin_section, conf_auth_section, conf_sessions_section,
    conf_login_section, conf_oauth_throttle_section;
/* Cross-references of admin and sessions with the rest (admin prefix vs builtin_prefix,
 * insecure_dev_cookies vs listeners). Returns 0 or -1. */
int conf_auth_finish(struct conf_loader *L, struct conf_node *map, struct gw_config *cfg);

#endif
