/* policy/policy.h — the role policy: who may pass each route, built from the config, decided
 * on every request.
 *
 * Configuration time: the config loader (gateway/config.c, the only YAML reader) walks the
 * `roles:`, `scopes:` and `routes[].public/access` nodes and calls the pol_builder_* functions
 * in document order, passing each node's line:column; pol_builder_compile() checks every name
 * and returns an immutable struct pol_policy. Request time: gateway/identify fills a
 * struct pol_principal from auth/, and pol_decide() answers allow / need_login / need_token /
 * deny for (route id from the route table, method, path). No HTTP, no Redis, no auth/ here.
 * The format is documented in docs/POLICY.md.
 */
#ifndef ONEGATE_POLICY_POLICY_H
#define ONEGATE_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- names, limits, errors ---- */

#define POL_ROLES_MAX       256     /* declared roles per policy (bits of a pol_bitset) */
#define POL_SCOPES_MAX      256     /* declared scopes per policy */
#define POL_NAME_MAX_BYTES  64      /* role and scope names: 1..64 bytes */
#define POL_ROUTE_ID_MAX    65535   /* route ids are array indexes into the compiled policy */
#define POL_MESSAGE_MAX     256     /* pol_decision.message, NUL included */

/* Every pol_* function that can fail returns 0 or one of these. */
enum pol_err {
    POL_OK = 0,
    POL_ERR_NOMEM = -1,             /* out of memory */
    POL_ERR_INVALID = -2,           /* malformed name/path, unknown kind/flag/method */
    POL_ERR_DUPLICATE = -3,         /* role/scope declared twice, route id added twice */
    POL_ERR_UNKNOWN = -4,           /* name not declared (roles, scopes) */
    POL_ERR_LIMIT = -5,             /* more than POL_ROLES_MAX roles, route id too large, ... */
    POL_ERR_STATE = -6,             /* call out of order (a rule before any route, ...) */
};

/* A position in the config file, 1-based; line 0 means "unknown" and is left out of messages.
 * Same meaning as struct gw_conf_pos: the glue passes (struct pol_pos){ p.line, p.col }. */
struct pol_pos {
    int line;
    int col;
};

/* ---- principals: who is asking (plain value type, filled by the gateway) ---- */

enum pol_kind {
    POL_KIND_ANONYMOUS = 0,         /* no session, no bearer token */
    POL_KIND_PERSON,                /* a person card with a live session */
    POL_KIND_API_ACCOUNT,           /* a bearer token of an API account (client credentials) */
    POL_KIND_SYSTEM,                /* a bearer token of an internal system account */
};

/* Person flags from the directory card. */
enum pol_flag {
    POL_FLAG_HAS_SSP_ACCESS = 1u << 0,
    POL_FLAG_IS_CALLER      = 1u << 1,
};

struct pol_bitset {
    uint64_t w[(POL_ROLES_MAX > POL_SCOPES_MAX ? POL_ROLES_MAX : POL_SCOPES_MAX) / 64];
};

struct pol_principal {
    enum pol_kind kind;
    uint32_t flags;                 /* POL_FLAG_*; only meaningful for persons */
    struct pol_bitset roles;        /* bit i = role with pol_policy_role_bit() == i */
    struct pol_bitset scopes;       /* bit i = scope with pol_policy_scope_bit() == i */
};

static inline void pol_bitset_set(struct pol_bitset *s, int bit)
{
    s->w[(unsigned)bit / 64] |= (uint64_t)1 << ((unsigned)bit % 64);
}

static inline bool pol_bitset_test(const struct pol_bitset *s, int bit)
{
    return (s->w[(unsigned)bit / 64] >> ((unsigned)bit % 64)) & 1;
}

/* Resets <p> to a principal of <kind> with no roles, flags or scopes. */
void pol_principal_init(struct pol_principal *p, enum pol_kind kind);

/* ---- building a policy (configuration time; not thread-safe, one builder per load) ---- *
 *
 * Calls nest like the YAML: declare roles/scopes at any point; add_route starts a route and
 * the route_* / add_rule calls apply to it; add_rule starts a rule and rule_* / add_alternative
 * apply to it; add_alternative starts an alternative and alt_* apply to it. Within a node the
 * keys may come in any order (names are resolved at compile time, so `roles:` may also follow
 * `routes:`). Each call returns 0 or a negative enum pol_err; the first error is kept, with its
 * message "line:col: what is wrong" (pol_builder_error), and every later call returns that
 * same error without doing anything, so the glue may check only pol_builder_compile(). All
 * strings are copied. */

struct pol_builder;

/* Returns a new builder (free with pol_builder_free) or NULL on ENOMEM. */
struct pol_builder *pol_builder_new(void);
void pol_builder_free(struct pol_builder *b);

/* `roles: [a, b]` — one call per item, in order; the i-th role declared gets bit i.
 * Names: 1..64 bytes of visible ASCII except '"', '\'', '\\' and ','. */
int pol_builder_declare_role(struct pol_builder *b, const char *name, struct pol_pos pos);
/* `scopes: [x.read]` — same rules, separate namespace. */
int pol_builder_declare_scope(struct pol_builder *b, const char *name, struct pol_pos pos);

/* `routes[i]` — <route_id> is the id the caller gives the route table for this route
 * (pol_route_spec.id), at most POL_ROUTE_ID_MAX; <host> (NULL = any) and <path_prefix> are
 * the route's, used to check rule paths and in explanations. Call it for every route, also
 * those without `public`/`access` (they deny everyone). <pos> = the route's mapping. */
int pol_builder_add_route(struct pol_builder *b, size_t route_id, const char *host,
                          const char *path_prefix, struct pol_pos pos);
/* `public: true|false` of the current route. A public route may have no access rules. */
int pol_builder_route_public(struct pol_builder *b, bool is_public, struct pol_pos pos);

/* `access[j]` — starts a rule of the current route; <pos> = the rule's mapping. */
int pol_builder_add_rule(struct pol_builder *b, struct pol_pos pos);
/* `methods: [GET, POST]` — one call per item: GET HEAD POST PUT PATCH DELETE OPTIONS TRACE
 * CONNECT (upper case). No call = every method. GET also admits HEAD. */
int pol_builder_rule_method(struct pol_builder *b, const char *method, struct pol_pos pos);
/* `path: /ssp/requests` — the rule's sub-prefix; must lie within the route's prefix. */
int pol_builder_rule_path(struct pol_builder *b, const char *path_prefix, struct pol_pos pos);

/* `allow[k]` — starts an alternative of the current rule; <pos> = the alternative's mapping.
 * An alternative passes when the principal has its kind and ALL its roles/flags/scopes. */
int pol_builder_add_alternative(struct pol_builder *b, struct pol_pos pos);
/* `kind: person|api_account|system` (required, once). */
int pol_builder_alt_kind(struct pol_builder *b, const char *kind, struct pol_pos pos);
/* `roles: [...]` items (persons only; checked against `roles:` at compile time). */
int pol_builder_alt_role(struct pol_builder *b, const char *role, struct pol_pos pos);
/* `flags: [...]` items: has_ssp_access, is_caller (persons only). */
int pol_builder_alt_flag(struct pol_builder *b, const char *flag, struct pol_pos pos);
/* `scopes: [...]` items (api_account and system only; checked against `scopes:`). */
int pol_builder_alt_scope(struct pol_builder *b, const char *scope, struct pol_pos pos);

/* The first error's message ("line:col: ..."), or NULL when there was none. Borrowed from
 * <b>. */
const char *pol_builder_error(const struct pol_builder *b);

/* Checks everything (undeclared roles/scopes, flags or roles or scopes on the wrong kind, a
 * missing kind, a rule without alternatives, access rules on a public route) and returns a
 * new immutable policy (free with pol_policy_free; independent of <b>, which the caller still
 * frees), or NULL with "line:col: message" copied to <err> (may be NULL). */
struct pol_policy *pol_builder_compile(struct pol_builder *b, char *err, size_t errlen);

void pol_policy_free(struct pol_policy *p);

/* ---- reading a compiled policy (any thread, no locks, no allocation) ---- */

/* Bit index of a declared role/scope, or -1 when the policy does not know the name (a person
 * may carry roles no rule mentions: the gateway simply ignores them). */
int pol_policy_role_bit(const struct pol_policy *p, const char *name);
int pol_policy_scope_bit(const struct pol_policy *p, const char *name);
/* Sets the bit of role/scope <name> in <pr>. Returns 0, or POL_ERR_UNKNOWN (nothing set). */
int pol_principal_add_role(const struct pol_policy *p, struct pol_principal *pr,
                           const char *name);
int pol_principal_add_scope(const struct pol_policy *p, struct pol_principal *pr,
                            const char *name);
/* Names of bit <i>, or NULL when out of range. Borrowed, valid while <p> lives. */
const char *pol_policy_role_name(const struct pol_policy *p, int i);
const char *pol_policy_scope_name(const struct pol_policy *p, int i);
size_t pol_policy_role_count(const struct pol_policy *p);
size_t pol_policy_scope_count(const struct pol_policy *p);

/* ---- deciding ---- */

enum pol_verdict {
    POL_ALLOW = 0,
    POL_NEED_LOGIN,     /* anonymous; a person could pass: browsers -> login page, APIs -> 401 */
    POL_NEED_TOKEN,     /* anonymous; only API/system accounts could pass: 401 Bearer */
    POL_DENY,           /* known principal not allowed (403), or nobody can pass */
};

enum pol_reason {
    POL_REASON_PUBLIC = 0,          /* public route */
    POL_REASON_RULE,                /* rule <rule_index> decided */
    POL_REASON_NO_MATCHING_RULE,    /* default deny: no rule of the route matches */
    POL_REASON_NO_ACCESS_RULES,     /* default deny: route neither public nor has rules */
    POL_REASON_UNKNOWN_ROUTE,       /* route id not in the policy */
    POL_REASON_PATH_NOT_NORMAL,     /* path fails pol_path_is_normal(): refused outright */
};

struct pol_decision {
    enum pol_verdict verdict;
    enum pol_reason reason;
    const char *route_host;         /* borrowed from the policy; NULL = any host / unknown */
    const char *route_path;         /* borrowed from the policy; NULL when the route is unknown */
    int rule_index;                 /* 0-based deciding rule, or -1 */
    struct pol_pos pos;             /* deciding rule's position, else the route's (0:0 unknown) */
    /* For a user ("this page needs the role 'operator'"); filled unless verdict is POL_ALLOW
     * (the allow path formats nothing). Several missing things are joined with "; ". */
    char message[POL_MESSAGE_MAX];
};

/* Decides whether <pr> may send <method> (NUL-terminated, e.g. "POST") to <path> (<pathlen>
 * bytes, not NUL-terminated; the path the upstream will see, no query) on route <route_id>.
 * Order: the path must be in normal form (else deny); a public route allows; otherwise the
 * first rule whose methods and sub-prefix match decides: allow when any of its alternatives
 * is satisfied; else, for an anonymous principal, need_login when some alternative is for
 * persons, need_token when all are for API/system accounts; else deny. No matching rule:
 * deny ("default deny"). Always fills <d>. Returns d->verdict. Allocation-free, lock-free,
 * safe from any thread. */
enum pol_verdict pol_decide(const struct pol_policy *p, size_t route_id, const char *method,
                            const char *path, size_t pathlen, const struct pol_principal *pr,
                            struct pol_decision *d);

/* Writes a multi-line, human-readable account of pol_decide() for the same inputs (<path>
 * NUL-terminated): the principal, the route, each rule considered and why it matched or not,
 * each alternative of the deciding rule and what it misses, and the verdict. Output is
 * truncated to <len> (always NUL-terminated when len > 0). Returns the length the full text
 * needs (like snprintf), so a caller can retry with a larger buffer. */
int pol_explain(const struct pol_policy *p, size_t route_id, const char *method,
                const char *path, const struct pol_principal *pr, char *buf, size_t len);

/* "allow", "need_login", "need_token", "deny". */
const char *pol_verdict_name(enum pol_verdict v);
/* "anonymous", "person", "api_account", "system". */
const char *pol_kind_name(enum pol_kind k);

/* True when <path> is in the normal form the policy decides on: starts with '/', has no "."
 * or ".." segment, no empty segment ("//"), no backslash, no NUL or control byte, and no
 * percent-escape that is malformed or encodes an unreserved character, '/' or '\'. Such forms
 * could match one prefix here and another one upstream after decoding; the gateway should
 * answer them 400 before routing, and pol_decide denies them anyway. Stops at '?' or '#'. */
bool pol_path_is_normal(const char *path, size_t pathlen);

#endif
