/* policy/decide.c — the per-request decision: (route, method, path, principal) -> allow,
 * need_login, need_token or deny, plus the texts that explain it.
 *
 * Runs on every request on every worker: reads only the immutable compiled policy, allocates
 * nothing, takes no lock. The allow path formats no text; messages are written only when
 * something is refused, and pol_explain() is for humans (onegate policy explain).
 */
#include "policy/policy_compiled.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- small helpers ---- */

/* An snprintf-style appender: <len> counts what the whole text needs, <buf> holds what fits. */
struct sbuf {
    char *buf;
    size_t cap;
    size_t len;
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
    char *at = sb->buf;
    size_t room = 0;
    if (sb->cap && sb->len < sb->cap) {
        at = sb->buf + sb->len;
        room = sb->cap - sb->len;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(room ? at : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb->len += (size_t)n;
}

/* Appends <s> without formatting (the refusal path formats messages on every denial). */
static void sb_puts(struct sbuf *sb, const char *s)
{
    size_t n = strlen(s);
    if (sb->len + 1 < sb->cap) {
        size_t room = sb->cap - sb->len - 1;
        size_t k = n < room ? n : room;
        memcpy(sb->buf + sb->len, s, k);
        sb->buf[sb->len + k] = '\0';
    }
    sb->len += n;
}

static void sb_init(struct sbuf *sb, char *buf, size_t cap)
{
    sb->buf = buf;
    sb->cap = cap;
    sb->len = 0;
    if (cap)
        buf[0] = '\0';
}

const char *pol_verdict_name(enum pol_verdict v)
{
    switch (v) {
    case POL_ALLOW: return "allow";
    case POL_NEED_LOGIN: return "need_login";
    case POL_NEED_TOKEN: return "need_token";
    case POL_DENY: return "deny";
    }
    return "?";
}

const char *pol_kind_name(enum pol_kind k)
{
    switch (k) {
    case POL_KIND_ANONYMOUS: return "anonymous";
    case POL_KIND_PERSON: return "person";
    case POL_KIND_API_ACCOUNT: return "api_account";
    case POL_KIND_SYSTEM: return "system";
    }
    return "?";
}

void pol_principal_init(struct pol_principal *p, enum pol_kind kind)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
}

static int find_name(const char *const *names, const struct pol_name_index *idx,
                     const char *name)
{
    for (unsigned h = pol_name_slot(name); idx->slot[h]; h = (h + 1) & (POL_NAME_SLOTS - 1)) {
        unsigned bit = idx->slot[h] - 1u;
        if (strcmp(names[bit], name) == 0)
            return (int)bit;
    }
    return -1;
}

int pol_policy_role_bit(const struct pol_policy *p, const char *name)
{
    return find_name(p->role_names, &p->role_index, name);
}

int pol_policy_scope_bit(const struct pol_policy *p, const char *name)
{
    return find_name(p->scope_names, &p->scope_index, name);
}

int pol_principal_add_role(const struct pol_policy *p, struct pol_principal *pr,
                           const char *name)
{
    int bit = pol_policy_role_bit(p, name);
    if (bit < 0)
        return POL_ERR_UNKNOWN;
    pol_bitset_set(&pr->roles, bit);
    return 0;
}

int pol_principal_add_scope(const struct pol_policy *p, struct pol_principal *pr,
                            const char *name)
{
    int bit = pol_policy_scope_bit(p, name);
    if (bit < 0)
        return POL_ERR_UNKNOWN;
    pol_bitset_set(&pr->scopes, bit);
    return 0;
}

const char *pol_policy_role_name(const struct pol_policy *p, int i)
{
    return i >= 0 && (size_t)i < p->nroles ? p->role_names[i] : NULL;
}

const char *pol_policy_scope_name(const struct pol_policy *p, int i)
{
    return i >= 0 && (size_t)i < p->nscopes ? p->scope_names[i] : NULL;
}

size_t pol_policy_role_count(const struct pol_policy *p)
{
    return p->nroles;
}

size_t pol_policy_scope_count(const struct pol_policy *p)
{
    return p->nscopes;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

bool pol_path_is_normal(const char *path, size_t len)
{
    if (len == 0 || path[0] != '/')
        return false;
    size_t seg = 1;                 /* start of the current segment */
    for (size_t i = 1; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)path[i] : '\0';
        bool end = i == len || c == '?' || c == '#';
        if (end || c == '/') {
            size_t n = i - seg;
            if (n == 0 && !end)
                return false;       /* "//" */
            if ((n == 1 && path[seg] == '.') ||
                (n == 2 && path[seg] == '.' && path[seg + 1] == '.'))
                return false;       /* "." or ".." segment */
            if (end)
                return true;
            seg = i + 1;
            continue;
        }
        if (c < 0x20 || c == 0x7f || c == '\\')
            return false;
        if (c == ';')
            return false;           /* path parameters: servlet containers drop ";..." from
                                     * each segment before routing ("/a;x" is "/a" there,
                                     * "/a/..;/b" is "/b") */
        if (c == '%') {
            if (i + 2 >= len)
                return false;
            int hi = hexval((unsigned char)path[i + 1]);
            int lo = hexval((unsigned char)path[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            unsigned char v = (unsigned char)(hi * 16 + lo);
            if (v == 0 || v == '/' || v == '\\' || unreserved(v))
                return false;
            i += 2;
        }
    }
    return true;
}

/* Same prefix semantics as the route table (see policy/route_table.h). */
static bool prefix_covers(const char *prefix, size_t plen, const char *path, size_t len)
{
    if (len < plen || memcmp(prefix, path, plen) != 0)
        return false;
    return prefix[plen - 1] == '/' || len == plen || path[plen] == '/' || path[plen] == '?';
}

static unsigned method_bit(const char *method)
{
    /* The common methods first, without strlen/loop; the rest through the table. */
    if (method[0] == 'G' && method[1] == 'E' && method[2] == 'T' && method[3] == '\0')
        return POL_M_GET;
    if (method[0] == 'P' && method[1] == 'O' && method[2] == 'S' && method[3] == 'T' &&
        method[4] == '\0')
        return POL_M_POST;
    unsigned bit = pol_method_bit(method, strlen(method));
    return bit ? bit : POL_M_OTHER;
}

static bool bits_cover(const struct pol_bitset *have, const struct pol_bitset *need)
{
    uint64_t missing = 0;
    for (size_t i = 0; i < sizeof need->w / sizeof need->w[0]; i++)
        missing |= need->w[i] & ~have->w[i];
    return missing == 0;
}

static bool alt_satisfied(const struct pol_alt *a, const struct pol_principal *pr)
{
    return a->kind == pr->kind && (a->flags & ~pr->flags) == 0 &&
           bits_cover(&pr->roles, &a->roles) && bits_cover(&pr->scopes, &a->scopes);
}

static bool rule_matches(const struct pol_rule *r, unsigned mbit, const char *path, size_t len)
{
    return (r->methods & mbit) && (!r->prefix_len || prefix_covers(r->prefix, r->prefix_len,
                                                                   path, len));
}

/* ---- what is missing, in user terms ---- */

static int popcount_missing(const struct pol_bitset *have, const struct pol_bitset *need)
{
    int n = 0;
    for (size_t i = 0; i < sizeof need->w / sizeof need->w[0]; i++)
        n += __builtin_popcountll(need->w[i] & ~have->w[i]);
    return n;
}

static int alt_missing_count(const struct pol_alt *a, const struct pol_principal *pr)
{
    return __builtin_popcount(a->flags & ~pr->flags) +
           popcount_missing(&pr->roles, &a->roles) + popcount_missing(&pr->scopes, &a->scopes);
}

static void sep(struct sbuf *sb, size_t start)
{
    if (sb->len > start)
        sb_puts(sb, "; ");
}

/* Lists the names of the bits in <need> that <have> lacks: "'a'", "'a', 'b'". */
static void missing_names(struct sbuf *sb, const struct pol_bitset *have,
                          const struct pol_bitset *need, const char *const *names)
{
    bool first = true;
    for (size_t w = 0; w < sizeof need->w / sizeof need->w[0]; w++) {
        for (uint64_t m = need->w[w] & ~have->w[w]; m; m &= m - 1) {
            sb_puts(sb, first ? "'" : ", '");
            sb_puts(sb, names[w * 64 + (size_t)__builtin_ctzll(m)]);
            sb_puts(sb, "'");
            first = false;
        }
    }
}

/* "you are not registered as a caller (is_caller)" etc. for what <a> needs and <pr> lacks. */
static void describe_alt_missing(struct sbuf *sb, const struct pol_policy *p,
                                 const struct pol_alt *a, const struct pol_principal *pr)
{
    size_t start = sb->len;
    uint32_t flags = a->flags & ~pr->flags;
    if (flags & POL_FLAG_HAS_SSP_ACCESS) {
        sep(sb, start);
        sb_puts(sb, "you need access to the Self-Service Portal (has_ssp_access)");
    }
    if (flags & POL_FLAG_IS_CALLER) {
        sep(sb, start);
        sb_puts(sb, "you are not registered as a caller (is_caller)");
    }
    int nroles = popcount_missing(&pr->roles, &a->roles);
    if (nroles) {
        sep(sb, start);
        sb_puts(sb, nroles > 1 ? "this page needs the roles " : "this page needs the role ");
        missing_names(sb, &pr->roles, &a->roles, p->role_names);
    }
    int nscopes = popcount_missing(&pr->scopes, &a->scopes);
    if (nscopes) {
        sep(sb, start);
        sb_puts(sb, nscopes > 1 ? "this API needs the scopes " : "this API needs the scope ");
        missing_names(sb, &pr->scopes, &a->scopes, p->scope_names);
    }
}

static const char *kind_plural(enum pol_kind k)
{
    switch (k) {
    case POL_KIND_PERSON: return "persons";
    case POL_KIND_API_ACCOUNT: return "API accounts";
    case POL_KIND_SYSTEM: return "system accounts";
    default: return "anonymous requests";
    }
}

/* The message for a known principal refused by <rule>: what the closest alternative of the
 * principal's own kind misses, or that the kind is not admitted at all. */
static void describe_refusal(struct sbuf *sb, const struct pol_policy *p,
                             const struct pol_rule *rule, const struct pol_principal *pr)
{
    const struct pol_alt *best = NULL;
    int best_missing = 0;
    for (uint32_t i = 0; i < rule->nalts; i++) {
        const struct pol_alt *a = &p->alts[rule->first_alt + i];
        if (a->kind != pr->kind)
            continue;
        int m = alt_missing_count(a, pr);
        if (!best || m < best_missing) {
            best = a;
            best_missing = m;
        }
    }
    if (best) {
        describe_alt_missing(sb, p, best, pr);
    } else {
        sb_puts(sb, kind_plural(pr->kind));
        sb_puts(sb, " cannot use this route");
    }
}

static void describe_anonymous(struct sbuf *sb, enum pol_verdict v)
{
    if (v == POL_NEED_LOGIN)
        sb_puts(sb, "you need to log in");
    else
        sb_puts(sb, "this route needs a bearer token of an API account");
}

/* ---- deciding ---- */

enum pol_verdict pol_decide(const struct pol_policy *p, size_t route_id, const char *method,
                            const char *path, size_t pathlen, const struct pol_principal *pr,
                            struct pol_decision *d)
{
    struct sbuf sb;
    d->route_host = NULL;
    d->route_path = NULL;
    d->rule_index = -1;
    d->pos = (struct pol_pos){ 0, 0 };
    d->message[0] = '\0';

    if (!pol_path_is_normal(path, pathlen)) {
        d->verdict = POL_DENY;
        d->reason = POL_REASON_PATH_NOT_NORMAL;
        snprintf(d->message, sizeof d->message, "the request path is not in normal form "
                 "(dot segments, '//', backslashes or needlessly encoded characters)");
        return d->verdict;
    }
    if (route_id >= p->nroutes || !p->routes[route_id].present) {
        d->verdict = POL_DENY;
        d->reason = POL_REASON_UNKNOWN_ROUTE;
        snprintf(d->message, sizeof d->message, "default deny: no access rules for this route");
        return d->verdict;
    }
    const struct pol_route *route = &p->routes[route_id];
    d->route_host = route->host;
    d->route_path = route->path;
    d->pos = route->pos;
    if (route->is_public) {
        d->verdict = POL_ALLOW;
        d->reason = POL_REASON_PUBLIC;
        return d->verdict;
    }
    if (route->nrules == 0) {
        d->verdict = POL_DENY;
        d->reason = POL_REASON_NO_ACCESS_RULES;
        snprintf(d->message, sizeof d->message, "default deny: route %.200s has no access "
                 "rules", route->path);
        return d->verdict;
    }

    unsigned mbit = method_bit(method);
    for (uint32_t i = 0; i < route->nrules; i++) {
        const struct pol_rule *rule = &p->rules[route->first_rule + i];
        if (!rule_matches(rule, mbit, path, pathlen))
            continue;
        d->reason = POL_REASON_RULE;
        d->rule_index = (int)i;
        d->pos = rule->pos;
        for (uint32_t k = 0; k < rule->nalts; k++) {
            if (alt_satisfied(&p->alts[rule->first_alt + k], pr)) {
                d->verdict = POL_ALLOW;
                return d->verdict;
            }
        }
        sb_init(&sb, d->message, sizeof d->message);
        if (pr->kind == POL_KIND_ANONYMOUS) {
            d->verdict = rule->kinds & POL_KIND_BIT(POL_KIND_PERSON) ? POL_NEED_LOGIN
                                                                    : POL_NEED_TOKEN;
            describe_anonymous(&sb, d->verdict);
        } else {
            d->verdict = POL_DENY;
            describe_refusal(&sb, p, rule, pr);
        }
        return d->verdict;
    }
    d->verdict = POL_DENY;
    d->reason = POL_REASON_NO_MATCHING_RULE;
    int shown = pathlen > 160 ? 160 : (int)pathlen;
    snprintf(d->message, sizeof d->message, "default deny: no rule matches %.20s %.*s%s",
             method, shown, path, (size_t)shown < pathlen ? "..." : "");
    return d->verdict;
}

/* ---- explaining ---- */

static void explain_principal(struct sbuf *sb, const struct pol_policy *p,
                              const struct pol_principal *pr)
{
    sb_printf(sb, "principal: %s", pol_kind_name(pr->kind));
    if (pr->kind == POL_KIND_PERSON) {
        sb_printf(sb, "; roles:");
        bool any = false;
        for (size_t i = 0; i < p->nroles; i++)
            if (pol_bitset_test(&pr->roles, (int)i)) {
                sb_printf(sb, "%s %s", any ? "," : "", p->role_names[i]);
                any = true;
            }
        if (!any)
            sb_printf(sb, " (none known to the policy)");
        sb_printf(sb, "; flags:");
        if (pr->flags & POL_FLAG_HAS_SSP_ACCESS)
            sb_printf(sb, " has_ssp_access");
        if (pr->flags & POL_FLAG_IS_CALLER)
            sb_printf(sb, "%s is_caller", pr->flags & POL_FLAG_HAS_SSP_ACCESS ? "," : "");
        if (!(pr->flags & (POL_FLAG_HAS_SSP_ACCESS | POL_FLAG_IS_CALLER)))
            sb_printf(sb, " (none)");
    } else if (pr->kind != POL_KIND_ANONYMOUS) {
        sb_printf(sb, "; scopes:");
        bool any = false;
        for (size_t i = 0; i < p->nscopes; i++)
            if (pol_bitset_test(&pr->scopes, (int)i)) {
                sb_printf(sb, "%s %s", any ? "," : "", p->scope_names[i]);
                any = true;
            }
        if (!any)
            sb_printf(sb, " (none known to the policy)");
    }
    sb_printf(sb, "\n");
}

static void explain_rule_head(struct sbuf *sb, const struct pol_rule *r, uint32_t i)
{
    sb_printf(sb, "  rule %u at %d:%d (", i, r->pos.line, r->pos.col);
    if (r->methods == POL_M_ALL) {
        sb_printf(sb, "any method");
    } else {
        sb_printf(sb, "methods");
        bool first = true;
        for (unsigned m = 0; m < POL_M_COUNT; m++)
            if (r->methods & (1u << m)) {
                sb_printf(sb, "%s %s", first ? "" : ",", pol_method_names[m]);
                first = false;
            }
    }
    if (r->prefix_len)
        sb_printf(sb, "; path %s", r->prefix);
    else
        sb_printf(sb, "; whole route");
    sb_printf(sb, ")");
}

static void explain_alt(struct sbuf *sb, const struct pol_policy *p, const struct pol_alt *a,
                        uint32_t k, const struct pol_principal *pr)
{
    sb_printf(sb, "    allow %u at %d:%d {kind %s", k, a->pos.line, a->pos.col,
              pol_kind_name(a->kind));
    if (a->flags & POL_FLAG_HAS_SSP_ACCESS)
        sb_printf(sb, "; flag has_ssp_access");
    if (a->flags & POL_FLAG_IS_CALLER)
        sb_printf(sb, "; flag is_caller");
    for (size_t i = 0; i < p->nroles; i++)
        if (pol_bitset_test(&a->roles, (int)i))
            sb_printf(sb, "; role %s", p->role_names[i]);
    for (size_t i = 0; i < p->nscopes; i++)
        if (pol_bitset_test(&a->scopes, (int)i))
            sb_printf(sb, "; scope %s", p->scope_names[i]);
    sb_printf(sb, "}: ");
    if (alt_satisfied(a, pr))
        sb_printf(sb, "satisfied");
    else if (a->kind != pr->kind)
        sb_printf(sb, "not satisfied: it is for %s, the request is %s", kind_plural(a->kind),
                  pr->kind == POL_KIND_ANONYMOUS ? "anonymous" : pol_kind_name(pr->kind));
    else {
        sb_printf(sb, "not satisfied: ");
        describe_alt_missing(sb, p, a, pr);
    }
    sb_printf(sb, "\n");
}

int pol_explain(const struct pol_policy *p, size_t route_id, const char *method,
                const char *path, const struct pol_principal *pr, char *buf, size_t len)
{
    struct sbuf sb;
    struct pol_decision d;
    size_t pathlen = strlen(path);

    sb_init(&sb, buf, len);
    pol_decide(p, route_id, method, path, pathlen, pr, &d);

    sb_printf(&sb, "request: %s %s\n", method, path);
    explain_principal(&sb, p, pr);
    if (d.reason == POL_REASON_PATH_NOT_NORMAL) {
        sb_printf(&sb, "path: not in normal form, refused before any rule\n");
        goto verdict;
    }
    if (d.reason == POL_REASON_UNKNOWN_ROUTE) {
        sb_printf(&sb, "route: id %zu has no policy\n", route_id);
        goto verdict;
    }
    const struct pol_route *route = &p->routes[route_id];
    sb_printf(&sb, "route: %s%s%s at %d:%d%s\n", route->host ? route->host : "",
              route->host ? " " : "", route->path, route->pos.line, route->pos.col,
              route->is_public ? " (public)" : route->nrules ? "" : " (no access rules)");

    unsigned mbit = method_bit(method);
    for (uint32_t i = 0; i < route->nrules; i++) {
        const struct pol_rule *rule = &p->rules[route->first_rule + i];
        explain_rule_head(&sb, rule, i);
        if (d.rule_index >= 0 && i > (uint32_t)d.rule_index) {
            sb_printf(&sb, ": not considered (an earlier rule decided)\n");
            continue;
        }
        if (!(rule->methods & mbit)) {
            sb_printf(&sb, ": does not match: method %s is not listed\n", method);
            continue;
        }
        if (rule->prefix_len && !prefix_covers(rule->prefix, rule->prefix_len, path, pathlen)) {
            sb_printf(&sb, ": does not match: path is not under %s\n", rule->prefix);
            continue;
        }
        sb_printf(&sb, ": matches, decides\n");
        for (uint32_t k = 0; k < rule->nalts; k++)
            explain_alt(&sb, p, &p->alts[rule->first_alt + k], k, pr);
    }

verdict:
    sb_printf(&sb, "verdict: %s", pol_verdict_name(d.verdict));
    switch (d.reason) {
    case POL_REASON_PUBLIC:
        sb_printf(&sb, " (public route)");
        break;
    case POL_REASON_RULE:
        sb_printf(&sb, " by rule %d at %d:%d", d.rule_index, d.pos.line, d.pos.col);
        break;
    default:
        break;
    }
    if (d.message[0])
        sb_printf(&sb, ": %s", d.message);
    sb_printf(&sb, "\n");
    return sb.len > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)sb.len;
}
