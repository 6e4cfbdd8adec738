/* policy/policy_compiled.h — the compiled, immutable shape of a struct pol_policy, shared by
 * the builder (policy_build.c, configuration time) and the decider (decide.c, request time).
 * Internal to policy/: nothing outside this folder includes it.
 *
 * Everything lives in flat arrays so a decision is a few cache lines: routes[] is indexed by
 * route id; each route owns rules[first_rule .. first_rule+nrules); each rule owns
 * alts[first_alt .. first_alt+nalts). Strings point into one block owned by the policy.
 */
#ifndef ONEGATE_POLICY_COMPILED_H
#define ONEGATE_POLICY_COMPILED_H

#include "policy/policy.h"

/* HTTP methods as bits of a rule's mask. OTHER is what any method outside the list maps to at
 * request time; configs cannot name it, so only rules without `methods` admit it. */
enum {
    POL_M_GET = 1u << 0,
    POL_M_HEAD = 1u << 1,
    POL_M_POST = 1u << 2,
    POL_M_PUT = 1u << 3,
    POL_M_PATCH = 1u << 4,
    POL_M_DELETE = 1u << 5,
    POL_M_OPTIONS = 1u << 6,
    POL_M_TRACE = 1u << 7,
    POL_M_CONNECT = 1u << 8,
    POL_M_OTHER = 1u << 9,
    POL_M_ALL = (1u << 10) - 1,
    POL_M_COUNT = 9,                /* named methods */
};

extern const char *const pol_method_names[POL_M_COUNT];   /* index = bit number */

/* Bit for a method name (exact, upper case), or 0 when it is not one of the named ones. */
unsigned pol_method_bit(const char *name, size_t len);

/* Kinds as bits, for a rule's summary of which kinds its alternatives admit. */
#define POL_KIND_BIT(k) (1u << (unsigned)(k))

struct pol_alt {
    struct pol_bitset roles;        /* all required (persons) */
    struct pol_bitset scopes;       /* all required (api_account, system) */
    uint32_t flags;                 /* all required (persons) */
    enum pol_kind kind;
    struct pol_pos pos;
};

struct pol_rule {
    uint32_t methods;               /* POL_M_* mask; POL_M_ALL when the rule names none */
    uint32_t prefix_len;            /* 0 = no sub-prefix */
    const char *prefix;
    uint32_t first_alt;
    uint32_t nalts;
    uint32_t kinds;                 /* POL_KIND_BIT of every alternative's kind */
    struct pol_pos pos;
};

struct pol_route {
    bool present;                   /* pol_builder_add_route was called for this id */
    bool is_public;
    const char *host;               /* NULL = any */
    const char *path;
    uint32_t first_rule;
    uint32_t nrules;
    struct pol_pos pos;
};

/* Name -> bit index: open addressing over a fixed table at most half full (<= 256 names);
 * a slot holds bit + 1, 0 = empty. */
#define POL_NAME_SLOTS 512

struct pol_name_index {
    uint16_t slot[POL_NAME_SLOTS];
};

/* FNV-1a over the NUL-terminated <s>, reduced to a slot number. */
static inline unsigned pol_name_slot(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return (h ^ (h >> 16)) & (POL_NAME_SLOTS - 1);
}

struct pol_policy {
    struct pol_route *routes;       /* indexed by route id */
    size_t nroutes;                 /* highest id + 1 */
    struct pol_rule *rules;
    size_t nrules;
    struct pol_alt *alts;
    size_t nalts;
    const char **role_names;        /* index = bit */
    size_t nroles;
    const char **scope_names;
    size_t nscopes;
    struct pol_name_index role_index;
    struct pol_name_index scope_index;
    char *strings;                  /* one block holding every string above */
};

#endif
