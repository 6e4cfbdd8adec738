/* tests/unit/policy/test_policy.c — the role policy (policy/policy_build.c, policy/decide.c):
 * building with positions, compile errors, every example rule against every kind of person
 * and account, default deny, public routes, methods, sub-prefixes, first match, path normal
 * form, and the explanation texts.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

static struct pol_pos P(int line, int col)
{
    return (struct pol_pos){ line, col };
}

/* Route ids of the example policy. */
enum { R_STATIC = 0, R_SSP, R_OPERATOR, R_API, R_ADMIN, R_NOTHING, R_TOKEN, R_COUNT };

/* The example of docs/POLICY.md, fed in as the config glue would walk it; positions are the
 * line:column of each node in this YAML:
 *  1 roles: [operator, application_manager, incident-management]
 *  2 scopes: [incidents.read, incidents.write]
 *  3 routes:
 *  4   - path: /ssp/static/
 *  5     upstream: ssp
 *  6     public: true
 *  7   - path: /ssp/
 *  8     upstream: ssp
 *  9     access:
 * 10       - methods: [POST]
 * 11         path: /ssp/requests
 * 12         allow:
 * 13           - { kind: person, flags: [has_ssp_access, is_caller] }
 * 14       - allow:
 * 15           - { kind: person, flags: [has_ssp_access] }
 * 16   - path: /operator/
 * 17     upstream: operator
 * 18     access:
 * 19       - allow: [ { kind: person, roles: [operator] } ]
 * 20   - path: /api/
 * 21     upstream: operator
 * 22     access:
 * 23       - methods: [GET]
 * 24         allow: [ { kind: api_account, scopes: [incidents.read] },
 * 25                  { kind: person, roles: [operator] } ]
 * 26   - path: /admin/
 * 27     upstream: operator
 * 28     access:
 * 29       - allow: [ { kind: person, roles: [application_manager] } ]
 * 30   - path: /nothing/
 * 31     upstream: operator
 * 32   - path: /token/
 * 33     upstream: operator
 * 34     access:
 * 35       - allow: [ { kind: api_account }, { kind: system } ]
 */
static struct pol_policy *example_policy(void)
{
    char err[256] = "";
    struct pol_builder *b = pol_builder_new();
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(pol_builder_declare_role(b, "operator", P(1, 9)), 0);
    ck_assert_int_eq(pol_builder_declare_role(b, "application_manager", P(1, 19)), 0);
    ck_assert_int_eq(pol_builder_declare_role(b, "incident-management", P(1, 40)), 0);
    ck_assert_int_eq(pol_builder_declare_scope(b, "incidents.read", P(2, 10)), 0);
    ck_assert_int_eq(pol_builder_declare_scope(b, "incidents.write", P(2, 26)), 0);

    ck_assert_int_eq(pol_builder_add_route(b, R_STATIC, NULL, "/ssp/static/", P(4, 5)), 0);
    ck_assert_int_eq(pol_builder_route_public(b, true, P(6, 13)), 0);

    ck_assert_int_eq(pol_builder_add_route(b, R_SSP, NULL, "/ssp/", P(7, 5)), 0);
    ck_assert_int_eq(pol_builder_add_rule(b, P(10, 9)), 0);
    ck_assert_int_eq(pol_builder_rule_method(b, "POST", P(10, 19)), 0);
    ck_assert_int_eq(pol_builder_rule_path(b, "/ssp/requests", P(11, 15)), 0);
    ck_assert_int_eq(pol_builder_add_alternative(b, P(13, 13)), 0);
    ck_assert_int_eq(pol_builder_alt_kind(b, "person", P(13, 21)), 0);
    ck_assert_int_eq(pol_builder_alt_flag(b, "has_ssp_access", P(13, 37)), 0);
    ck_assert_int_eq(pol_builder_alt_flag(b, "is_caller", P(13, 53)), 0);
    ck_assert_int_eq(pol_builder_add_rule(b, P(14, 9)), 0);
    ck_assert_int_eq(pol_builder_add_alternative(b, P(15, 13)), 0);
    ck_assert_int_eq(pol_builder_alt_kind(b, "person", P(15, 21)), 0);
    ck_assert_int_eq(pol_builder_alt_flag(b, "has_ssp_access", P(15, 37)), 0);

    ck_assert_int_eq(pol_builder_add_route(b, R_OPERATOR, NULL, "/operator/", P(16, 5)), 0);
    ck_assert_int_eq(pol_builder_add_rule(b, P(19, 9)), 0);
    ck_assert_int_eq(pol_builder_add_alternative(b, P(19, 18)), 0);
    ck_assert_int_eq(pol_builder_alt_kind(b, "person", P(19, 26)), 0);
    ck_assert_int_eq(pol_builder_alt_role(b, "operator", P(19, 42)), 0);

    ck_assert_int_eq(pol_builder_add_route(b, R_API, NULL, "/api/", P(20, 5)), 0);
    ck_assert_int_eq(pol_builder_add_rule(b, P(23, 9)), 0);
    ck_assert_int_eq(pol_builder_rule_method(b, "GET", P(23, 19)), 0);
    ck_assert_int_eq(pol_builder_add_alternative(b, P(24, 18)), 0);
    ck_assert_int_eq(pol_builder_alt_kind(b, "api_account", P(24, 26)), 0);
    ck_assert_int_eq(pol_builder_alt_scope(b, "incidents.read", P(24, 48)), 0);
    ck_assert_int_eq(pol_builder_add_alternative(b, P(25, 18)), 0);
    ck_assert_int_eq(pol_builder_alt_kind(b, "person", P(25, 26)), 0);
    ck_assert_int_eq(pol_builder_alt_role(b, "operator", P(25, 42)), 0);

    ck_assert_int_eq(pol_builder_add_route(b, R_ADMIN, NULL, "/admin/", P(26, 5)), 0);
    ck_assert_int_eq(pol_builder_add_rule(b, P(29, 9)), 0);
    ck_assert_int_eq(pol_builder_add_alternative(b, P(29, 18)), 0);
    ck_assert_int_eq(pol_builder_alt_kind(b, "person", P(29, 26)), 0);
    ck_assert_int_eq(pol_builder_alt_role(b, "application_manager", P(29, 42)), 0);

    ck_assert_int_eq(pol_builder_add_route(b, R_NOTHING, NULL, "/nothing/", P(30, 5)), 0);

    ck_assert_int_eq(pol_builder_add_route(b, R_TOKEN, NULL, "/token/", P(32, 5)), 0);
    ck_assert_int_eq(pol_builder_add_rule(b, P(35, 9)), 0);
    ck_assert_int_eq(pol_builder_add_alternative(b, P(35, 18)), 0);
    ck_assert_int_eq(pol_builder_alt_kind(b, "api_account", P(35, 26)), 0);
    ck_assert_int_eq(pol_builder_add_alternative(b, P(35, 47)), 0);
    ck_assert_int_eq(pol_builder_alt_kind(b, "system", P(35, 55)), 0);

    ck_assert_ptr_null(pol_builder_error(b));
    struct pol_policy *p = pol_builder_compile(b, err, sizeof err);
    ck_assert_msg(p != NULL, "compile failed: %s", err);
    pol_builder_free(b);
    return p;
}

/* ---- principals of the examples ---- */

enum who {
    OP_FULL,            /* operator + has_ssp_access + is_caller */
    OP_SSP,             /* operator + has_ssp_access */
    OP_CALLER,          /* operator + is_caller, no SSP access */
    OP_BARE,            /* operator, no flags */
    SSP_ONLY,           /* has_ssp_access only, no roles */
    SSP_CALLER,         /* has_ssp_access + is_caller, no roles */
    APP_MANAGER,        /* application_manager, no flags */
    API_READ,           /* api account with incidents.read */
    API_WRITE,          /* api account with incidents.write only */
    SYSTEM_READ,        /* system account with incidents.read */
    ANON,
    WHO_COUNT
};

static const char *const who_names[WHO_COUNT] = {
    "OP_FULL", "OP_SSP", "OP_CALLER", "OP_BARE", "SSP_ONLY", "SSP_CALLER", "APP_MANAGER",
    "API_READ", "API_WRITE", "SYSTEM_READ", "ANON",
};

static struct pol_principal principal(const struct pol_policy *p, enum who w)
{
    struct pol_principal pr;
    switch (w) {
    case OP_FULL:
    case OP_SSP:
    case OP_CALLER:
    case OP_BARE:
        pol_principal_init(&pr, POL_KIND_PERSON);
        ck_assert_int_eq(pol_principal_add_role(p, &pr, "operator"), 0);
        /* a directory role no rule mentions is ignored */
        ck_assert_int_eq(pol_principal_add_role(p, &pr, "coffee-maker"), POL_ERR_UNKNOWN);
        if (w == OP_FULL || w == OP_SSP)
            pr.flags |= POL_FLAG_HAS_SSP_ACCESS;
        if (w == OP_FULL || w == OP_CALLER)
            pr.flags |= POL_FLAG_IS_CALLER;
        break;
    case SSP_ONLY:
    case SSP_CALLER:
        pol_principal_init(&pr, POL_KIND_PERSON);
        pr.flags = POL_FLAG_HAS_SSP_ACCESS | (w == SSP_CALLER ? POL_FLAG_IS_CALLER : 0);
        break;
    case APP_MANAGER:
        pol_principal_init(&pr, POL_KIND_PERSON);
        ck_assert_int_eq(pol_principal_add_role(p, &pr, "application_manager"), 0);
        break;
    case API_READ:
        pol_principal_init(&pr, POL_KIND_API_ACCOUNT);
        ck_assert_int_eq(pol_principal_add_scope(p, &pr, "incidents.read"), 0);
        break;
    case API_WRITE:
        pol_principal_init(&pr, POL_KIND_API_ACCOUNT);
        ck_assert_int_eq(pol_principal_add_scope(p, &pr, "incidents.write"), 0);
        break;
    case SYSTEM_READ:
        pol_principal_init(&pr, POL_KIND_SYSTEM);
        ck_assert_int_eq(pol_principal_add_scope(p, &pr, "incidents.read"), 0);
        break;
    default:
        pol_principal_init(&pr, POL_KIND_ANONYMOUS);
        break;
    }
    return pr;
}

static enum pol_verdict decide(const struct pol_policy *p, size_t route, const char *method,
                               const char *path, enum who w, struct pol_decision *d)
{
    struct pol_principal pr = principal(p, w);
    return pol_decide(p, route, method, path, strlen(path), &pr, d);
}

/* One expected outcome: verdict, deciding rule (-1 = none) and a substring of the message
 * ("" = message must be empty, i.e. allow). */
struct expect {
    enum pol_verdict v;
    int rule;
    const char *msg;
};

static void check_row(const struct pol_policy *p, size_t route, const char *method,
                      const char *path, const struct expect *row)
{
    for (int w = 0; w < WHO_COUNT; w++) {
        struct pol_decision d;
        enum pol_verdict v = decide(p, route, method, path, (enum who)w, &d);
        ck_assert_msg(v == row[w].v && d.verdict == v,
                      "%s %s as %s: verdict %s, expected %s (%s)", method, path, who_names[w],
                      pol_verdict_name(v), pol_verdict_name(row[w].v), d.message);
        ck_assert_msg(d.rule_index == row[w].rule, "%s %s as %s: rule %d, expected %d", method,
                      path, who_names[w], d.rule_index, row[w].rule);
        if (row[w].msg[0] == '\0')
            ck_assert_msg(d.message[0] == '\0', "%s %s as %s: unexpected message '%s'", method,
                          path, who_names[w], d.message);
        else
            ck_assert_msg(strstr(d.message, row[w].msg) != NULL,
                          "%s %s as %s: message '%s' lacks '%s'", method, path, who_names[w],
                          d.message, row[w].msg);
    }
}

#define ALLOW(r) { POL_ALLOW, r, "" }
#define DENY(r, m) { POL_DENY, r, m }
#define LOGIN(r) { POL_NEED_LOGIN, r, "you need to log in" }
#define TOKEN(r) { POL_NEED_TOKEN, r, "bearer token" }

static const char NO_SSP[] = "you need access to the Self-Service Portal (has_ssp_access)";
static const char NO_CALLER[] = "you are not registered as a caller (is_caller)";
static const char BOTH[] = "you need access to the Self-Service Portal (has_ssp_access); "
                           "you are not registered as a caller (is_caller)";
static const char API_NO[] = "API accounts cannot use this route";
static const char SYS_NO[] = "system accounts cannot use this route";
static const char PERSON_NO[] = "persons cannot use this route";
static const char NEED_OP[] = "this page needs the role 'operator'";
static const char NEED_AM[] = "this page needs the role 'application_manager'";

/* ---- the example rules, every principal ---- */

START_TEST(test_ssp_submit_request)
{
    struct pol_policy *p = example_policy();
    /* POST under /ssp/requests: rule 0, person with has_ssp_access AND is_caller */
    const struct expect row[WHO_COUNT] = {
        [OP_FULL] = ALLOW(0),
        [OP_SSP] = DENY(0, NO_CALLER),
        [OP_CALLER] = DENY(0, NO_SSP),
        [OP_BARE] = DENY(0, BOTH),
        [SSP_ONLY] = DENY(0, NO_CALLER),
        [SSP_CALLER] = ALLOW(0),
        [APP_MANAGER] = DENY(0, BOTH),
        [API_READ] = DENY(0, API_NO),
        [API_WRITE] = DENY(0, API_NO),
        [SYSTEM_READ] = DENY(0, SYS_NO),
        [ANON] = LOGIN(0),
    };
    check_row(p, R_SSP, "POST", "/ssp/requests", row);
    check_row(p, R_SSP, "POST", "/ssp/requests/42/attachments", row);
    /* exactly the same message, not just a substring, for the single missing flag */
    struct pol_decision d;
    decide(p, R_SSP, "POST", "/ssp/requests", SSP_ONLY, &d);
    ck_assert_str_eq(d.message, NO_CALLER);
    decide(p, R_SSP, "POST", "/ssp/requests", OP_BARE, &d);
    ck_assert_str_eq(d.message, BOTH);
    pol_policy_free(p);
}
END_TEST

START_TEST(test_ssp_browse)
{
    struct pol_policy *p = example_policy();
    /* everything else under /ssp/: rule 1, person with has_ssp_access */
    const struct expect row[WHO_COUNT] = {
        [OP_FULL] = ALLOW(1),
        [OP_SSP] = ALLOW(1),
        [OP_CALLER] = DENY(1, NO_SSP),
        [OP_BARE] = DENY(1, NO_SSP),
        [SSP_ONLY] = ALLOW(1),
        [SSP_CALLER] = ALLOW(1),
        [APP_MANAGER] = DENY(1, NO_SSP),
        [API_READ] = DENY(1, API_NO),
        [API_WRITE] = DENY(1, API_NO),
        [SYSTEM_READ] = DENY(1, SYS_NO),
        [ANON] = LOGIN(1),
    };
    check_row(p, R_SSP, "GET", "/ssp/requests", row);      /* GET: rule 0 is POST only */
    check_row(p, R_SSP, "GET", "/ssp/", row);
    check_row(p, R_SSP, "POST", "/ssp/profile", row);      /* POST outside the sub-prefix */
    check_row(p, R_SSP, "POST", "/ssp/requestsx", row);    /* not under /ssp/requests */
    check_row(p, R_SSP, "DELETE", "/ssp/requests/1", row); /* method not in rule 0 */
    struct pol_decision d;
    decide(p, R_SSP, "GET", "/ssp/", OP_BARE, &d);
    ck_assert_str_eq(d.message, NO_SSP);
    pol_policy_free(p);
}
END_TEST

START_TEST(test_operator_portal)
{
    struct pol_policy *p = example_policy();
    const struct expect row[WHO_COUNT] = {
        [OP_FULL] = ALLOW(0),
        [OP_SSP] = ALLOW(0),
        [OP_CALLER] = ALLOW(0),
        [OP_BARE] = ALLOW(0),
        [SSP_ONLY] = DENY(0, NEED_OP),
        [SSP_CALLER] = DENY(0, NEED_OP),
        [APP_MANAGER] = DENY(0, NEED_OP),
        [API_READ] = DENY(0, API_NO),
        [API_WRITE] = DENY(0, API_NO),
        [SYSTEM_READ] = DENY(0, SYS_NO),
        [ANON] = LOGIN(0),
    };
    check_row(p, R_OPERATOR, "GET", "/operator/", row);
    check_row(p, R_OPERATOR, "POST", "/operator/incidents/7", row);
    check_row(p, R_OPERATOR, "PROPFIND", "/operator/x", row); /* no methods: any method */
    struct pol_decision d;
    decide(p, R_OPERATOR, "GET", "/operator/", SSP_ONLY, &d);
    ck_assert_str_eq(d.message, NEED_OP);
    ck_assert_str_eq(d.route_path, "/operator/");
    ck_assert_ptr_null(d.route_host);
    ck_assert_int_eq(d.pos.line, 19);
    ck_assert_int_eq(d.pos.col, 9);
    ck_assert_int_eq(d.reason, POL_REASON_RULE);
    pol_policy_free(p);
}
END_TEST

START_TEST(test_api_route)
{
    struct pol_policy *p = example_policy();
    /* GET (and HEAD): api account with incidents.read, or a person with role operator */
    const struct expect get[WHO_COUNT] = {
        [OP_FULL] = ALLOW(0),
        [OP_SSP] = ALLOW(0),
        [OP_CALLER] = ALLOW(0),
        [OP_BARE] = ALLOW(0),
        [SSP_ONLY] = DENY(0, NEED_OP),
        [SSP_CALLER] = DENY(0, NEED_OP),
        [APP_MANAGER] = DENY(0, NEED_OP),
        [API_READ] = ALLOW(0),
        [API_WRITE] = DENY(0, "this API needs the scope 'incidents.read'"),
        [SYSTEM_READ] = DENY(0, SYS_NO),
        [ANON] = LOGIN(0),      /* a person could pass: login (or 401 for API clients) */
    };
    check_row(p, R_API, "GET", "/api/incidents", get);
    check_row(p, R_API, "HEAD", "/api/incidents", get);  /* GET admits HEAD */
    /* no rule for POST: default deny for everyone, anonymous included */
    struct expect post[WHO_COUNT];
    for (int w = 0; w < WHO_COUNT; w++)
        post[w] = (struct expect)DENY(-1, "default deny: no rule matches POST /api/incidents");
    check_row(p, R_API, "POST", "/api/incidents", post);
    struct pol_decision d;
    decide(p, R_API, "POST", "/api/incidents", OP_FULL, &d);
    ck_assert_int_eq(d.reason, POL_REASON_NO_MATCHING_RULE);
    ck_assert_str_eq(d.message, "default deny: no rule matches POST /api/incidents");
    ck_assert_int_eq(d.pos.line, 20);   /* the route's position */
    pol_policy_free(p);
}
END_TEST

START_TEST(test_admin_route)
{
    struct pol_policy *p = example_policy();
    const struct expect row[WHO_COUNT] = {
        [OP_FULL] = DENY(0, NEED_AM),
        [OP_SSP] = DENY(0, NEED_AM),
        [OP_CALLER] = DENY(0, NEED_AM),
        [OP_BARE] = DENY(0, NEED_AM),
        [SSP_ONLY] = DENY(0, NEED_AM),
        [SSP_CALLER] = DENY(0, NEED_AM),
        [APP_MANAGER] = ALLOW(0),
        [API_READ] = DENY(0, API_NO),
        [API_WRITE] = DENY(0, API_NO),
        [SYSTEM_READ] = DENY(0, SYS_NO),
        [ANON] = LOGIN(0),
    };
    check_row(p, R_ADMIN, "GET", "/admin/persons", row);
    pol_policy_free(p);
}
END_TEST

START_TEST(test_token_only_route)
{
    struct pol_policy *p = example_policy();
    const struct expect row[WHO_COUNT] = {
        [OP_FULL] = DENY(0, PERSON_NO),
        [OP_SSP] = DENY(0, PERSON_NO),
        [OP_CALLER] = DENY(0, PERSON_NO),
        [OP_BARE] = DENY(0, PERSON_NO),
        [SSP_ONLY] = DENY(0, PERSON_NO),
        [SSP_CALLER] = DENY(0, PERSON_NO),
        [APP_MANAGER] = DENY(0, PERSON_NO),
        [API_READ] = ALLOW(0),
        [API_WRITE] = ALLOW(0),     /* no scope required */
        [SYSTEM_READ] = ALLOW(0),
        [ANON] = TOKEN(0),          /* only accounts could pass: 401 Bearer, no login page */
    };
    check_row(p, R_TOKEN, "PUT", "/token/x", row);
    pol_policy_free(p);
}
END_TEST

START_TEST(test_public_route)
{
    struct pol_policy *p = example_policy();
    for (int w = 0; w < WHO_COUNT; w++) {
        struct pol_decision d;
        ck_assert_int_eq(decide(p, R_STATIC, "GET", "/ssp/static/app.css", (enum who)w, &d),
                         POL_ALLOW);
        ck_assert_int_eq(d.reason, POL_REASON_PUBLIC);
        ck_assert_int_eq(d.rule_index, -1);
        ck_assert_str_eq(d.route_path, "/ssp/static/");
        ck_assert_int_eq(d.pos.line, 4);
        ck_assert_int_eq(decide(p, R_STATIC, "POST", "/ssp/static/x", (enum who)w, &d),
                         POL_ALLOW);
    }
    pol_policy_free(p);
}
END_TEST

START_TEST(test_default_deny_routes)
{
    struct pol_policy *p = example_policy();
    for (int w = 0; w < WHO_COUNT; w++) {
        struct pol_decision d;
        /* a route with neither public nor access */
        ck_assert_int_eq(decide(p, R_NOTHING, "GET", "/nothing/", (enum who)w, &d), POL_DENY);
        ck_assert_int_eq(d.reason, POL_REASON_NO_ACCESS_RULES);
        ck_assert_str_eq(d.message, "default deny: route /nothing/ has no access rules");
        ck_assert_int_eq(d.pos.line, 30);
        /* route ids the policy never heard of: past the end and inside a gap */
        ck_assert_int_eq(decide(p, 1000, "GET", "/x", (enum who)w, &d), POL_DENY);
        ck_assert_int_eq(d.reason, POL_REASON_UNKNOWN_ROUTE);
        ck_assert_ptr_null(d.route_path);
        ck_assert_ptr_nonnull(strstr(d.message, "default deny"));
    }
    char err[256];
    struct pol_builder *b = pol_builder_new();
    pol_builder_add_route(b, 5, NULL, "/five/", P(1, 1));
    struct pol_policy *gap = pol_builder_compile(b, err, sizeof err);
    ck_assert_ptr_nonnull(gap);
    pol_builder_free(b);
    struct pol_principal pr;
    pol_principal_init(&pr, POL_KIND_PERSON);
    struct pol_decision d;
    ck_assert_int_eq(pol_decide(gap, 2, "GET", "/x", 2, &pr, &d), POL_DENY);
    ck_assert_int_eq(d.reason, POL_REASON_UNKNOWN_ROUTE);
    ck_assert_int_eq(pol_decide(gap, 5, "GET", "/five/", 6, &pr, &d), POL_DENY);
    ck_assert_int_eq(d.reason, POL_REASON_NO_ACCESS_RULES);
    pol_policy_free(gap);
    pol_policy_free(p);
}
END_TEST

/* A small one-route policy for the matching tests: rules given as (methods, path, kind). */
struct mini_rule {
    const char *methods[3];
    const char *path;
    const char *kind;
    const char *role;
};

static struct pol_policy *mini_policy(const char *route, const struct mini_rule *rules,
                                      size_t n)
{
    char err[256];
    struct pol_builder *b = pol_builder_new();
    ck_assert_int_eq(pol_builder_declare_role(b, "r1", P(1, 1)), 0);
    ck_assert_int_eq(pol_builder_add_route(b, 0, "app.example", route, P(2, 1)), 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(pol_builder_add_rule(b, P(3 + (int)i, 5)), 0);
        for (int m = 0; m < 3 && rules[i].methods[m]; m++)
            ck_assert_int_eq(pol_builder_rule_method(b, rules[i].methods[m], P(3, 7)), 0);
        if (rules[i].path)
            ck_assert_int_eq(pol_builder_rule_path(b, rules[i].path, P(3, 9)), 0);
        ck_assert_int_eq(pol_builder_add_alternative(b, P(3, 11)), 0);
        ck_assert_int_eq(pol_builder_alt_kind(b, rules[i].kind, P(3, 13)), 0);
        if (rules[i].role)
            ck_assert_int_eq(pol_builder_alt_role(b, rules[i].role, P(3, 15)), 0);
    }
    struct pol_policy *p = pol_builder_compile(b, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    pol_builder_free(b);
    return p;
}

static int rule_of(const struct pol_policy *p, enum pol_kind kind, const char *method,
                   const char *path)
{
    struct pol_principal pr;
    struct pol_decision d;
    pol_principal_init(&pr, kind);
    pol_decide(p, 0, method, path, strlen(path), &pr, &d);
    return d.rule_index;
}

START_TEST(test_method_matching)
{
    const struct mini_rule rules[] = {
        { { "PUT", "DELETE" }, NULL, "person", NULL },
        { { "GET" }, NULL, "person", NULL },
        { { "OPTIONS" }, NULL, "person", NULL },
        { { NULL }, NULL, "system", NULL },
    };
    struct pol_policy *p = mini_policy("/app/", rules, 4);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "PUT", "/app/x"), 0);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "DELETE", "/app/x"), 0);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GET", "/app/x"), 1);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "HEAD", "/app/x"), 1);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "OPTIONS", "/app/x"), 2);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "POST", "/app/x"), 3);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "PATCH", "/app/x"), 3);
    /* methods are case-sensitive; unknown ones only match rules without `methods` */
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "get", "/app/x"), 3);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GETX", "/app/x"), 3);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "PROPFIND", "/app/x"), 3);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "", "/app/x"), 3);
    pol_policy_free(p);
}
END_TEST

START_TEST(test_subprefix_matching)
{
    const struct mini_rule rules[] = {
        { { NULL }, "/app/forms/", "person", NULL },
        { { NULL }, "/app/requests", "person", NULL },
        { { NULL }, "/app", "person", NULL },
    };
    struct pol_policy *p = mini_policy("/app", rules, 3);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GET", "/app/forms/a"), 0);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GET", "/app/forms/"), 0);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GET", "/app/forms"), 2);  /* "/x/" needs "/x/" */
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GET", "/app/requests"), 1);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GET", "/app/requests/9"), 1);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GET", "/app/requests?id=9"), 1);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GET", "/app/requestsx"), 2);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GET", "/app/request"), 2);
    ck_assert_int_eq(rule_of(p, POL_KIND_PERSON, "GET", "/app"), 2);
    /* <path> is not NUL-terminated: only <pathlen> bytes count */
    struct pol_principal pr;
    struct pol_decision d;
    pol_principal_init(&pr, POL_KIND_PERSON);
    const char *buf = "/app/forms/xyz";
    pol_decide(p, 0, "GET", buf, strlen("/app/forms"), &pr, &d);
    ck_assert_int_eq(d.rule_index, 2);
    ck_assert_str_eq(d.route_host, "app.example");
    pol_policy_free(p);
}
END_TEST

START_TEST(test_first_match_wins)
{
    /* rule 0 (system only) shadows rule 1 (any person) for /app/x */
    const struct mini_rule rules[] = {
        { { NULL }, "/app/x", "system", NULL },
        { { NULL }, NULL, "person", NULL },
        { { NULL }, "/app/y", "person", "r1" },     /* never reached: rule 1 matches first */
    };
    struct pol_policy *p = mini_policy("/app/", rules, 3);
    struct pol_principal person;
    struct pol_decision d;
    pol_principal_init(&person, POL_KIND_PERSON);
    ck_assert_int_eq(pol_decide(p, 0, "GET", "/app/x", 6, &person, &d), POL_DENY);
    ck_assert_int_eq(d.rule_index, 0);
    ck_assert_str_eq(d.message, "persons cannot use this route");
    ck_assert_int_eq(pol_decide(p, 0, "GET", "/app/y", 6, &person, &d), POL_ALLOW);
    ck_assert_int_eq(d.rule_index, 1);
    pol_policy_free(p);

    /* the other order: the broad rule first hides the narrow one */
    const struct mini_rule rules2[] = {
        { { NULL }, NULL, "person", NULL },
        { { NULL }, "/app/x", "system", NULL },
    };
    p = mini_policy("/app/", rules2, 2);
    ck_assert_int_eq(pol_decide(p, 0, "GET", "/app/x", 6, &person, &d), POL_ALLOW);
    ck_assert_int_eq(d.rule_index, 0);
    pol_policy_free(p);
}
END_TEST

START_TEST(test_path_normal_form)
{
    static const char *const good[] = {
        "/", "/a", "/a/", "/a/b", "/a/.b", "/a/..b", "/a/b.", "/a/%20b", "/a%C3%A9",
        "/a?x=/../y", "/a?x=//", "/a#frag", "/%25", "/a/%3F", "/a?x=1;y=2", "/a/%3B",
    };
    static const char *const bad[] = {
        "", "a", "*", "//", "/a//b", "/.", "/..", "/a/.", "/a/..", "/a/./b", "/a/../b",
        "/a/..?x", "/a\\b", "/%2e%2e/", "/%2E", "/%72equests", "/a%2Fb", "/a%2fb", "/a%5Cb",
        "/a%00", "/%zz", "/%4", "/%", "/a%41", "/a%7e", "/a\tb", "/a\x7f",
        /* path parameters: servlet containers drop ";..." from each segment before routing */
        "/a;b", "/a;", "/a/..;/b", "/a/.;/b", "/a/;/b", "/a;x/b", "/a;?x",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_msg(pol_path_is_normal(good[i], strlen(good[i])), "'%s' refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(!pol_path_is_normal(bad[i], strlen(bad[i])), "'%s' accepted", bad[i]);
    /* embedded NUL inside pathlen */
    ck_assert(!pol_path_is_normal("/a\0b", 4));

    /* decide refuses them everywhere, even on a public route: /ssp/static/../requests would
     * reach /ssp/requests upstream */
    struct pol_policy *p = example_policy();
    struct pol_decision d;
    ck_assert_int_eq(decide(p, R_STATIC, "GET", "/ssp/static/../requests", ANON, &d), POL_DENY);
    ck_assert_int_eq(d.reason, POL_REASON_PATH_NOT_NORMAL);
    ck_assert_ptr_nonnull(strstr(d.message, "not in normal form"));
    /* an encoded letter would dodge the is_caller rule if it were accepted */
    ck_assert_int_eq(decide(p, R_SSP, "POST", "/ssp/%72equests", SSP_ONLY, &d), POL_DENY);
    ck_assert_int_eq(d.reason, POL_REASON_PATH_NOT_NORMAL);
    ck_assert_int_eq(decide(p, R_SSP, "POST", "/ssp//requests", SSP_ONLY, &d), POL_DENY);
    ck_assert_int_eq(d.reason, POL_REASON_PATH_NOT_NORMAL);
    /* legitimate escapes still pass */
    ck_assert_int_eq(decide(p, R_SSP, "GET", "/ssp/files/a%20b.pdf", SSP_ONLY, &d), POL_ALLOW);
    pol_policy_free(p);
}
END_TEST

/* ---- compile errors ---- */

/* Runs <fn> on a builder holding roles operator (1:9) and scope s.read (2:10) and a route
 * /ssp/ (id 0, 3:5) and returns the compile error, "" when it compiled. */
static char last_err[512];

static const char *compile_err(struct pol_builder *b)
{
    last_err[0] = '\0';
    struct pol_policy *p = pol_builder_compile(b, last_err, sizeof last_err);
    if (p) {
        pol_policy_free(p);
        last_err[0] = '\0';
    } else {
        ck_assert_msg(pol_builder_error(b) != NULL, "compile failed without builder error");
        ck_assert_str_eq(pol_builder_error(b), last_err);
    }
    pol_builder_free(b);
    return last_err;
}

static struct pol_builder *base_builder(void)
{
    struct pol_builder *b = pol_builder_new();
    ck_assert_int_eq(pol_builder_declare_role(b, "operator", P(1, 9)), 0);
    ck_assert_int_eq(pol_builder_declare_scope(b, "s.read", P(2, 10)), 0);
    ck_assert_int_eq(pol_builder_add_route(b, 0, NULL, "/ssp/", P(3, 5)), 0);
    return b;
}

static struct pol_builder *with_alt(const char *kind, struct pol_pos kpos)
{
    struct pol_builder *b = base_builder();
    ck_assert_int_eq(pol_builder_add_rule(b, P(5, 9)), 0);
    ck_assert_int_eq(pol_builder_add_alternative(b, P(6, 13)), 0);
    if (kind)
        pol_builder_alt_kind(b, kind, kpos);
    return b;
}

START_TEST(test_error_unknown_role)
{
    struct pol_builder *b = with_alt("person", P(6, 21));
    ck_assert_int_eq(pol_builder_alt_role(b, "operator", P(6, 37)), 0);
    ck_assert_int_eq(pol_builder_alt_role(b, "operatr", P(6, 47)), 0);   /* resolved later */
    ck_assert_str_eq(compile_err(b), "6:47: unknown role 'operatr' (not declared in 'roles:')");
}
END_TEST

START_TEST(test_error_unknown_scope)
{
    struct pol_builder *b = with_alt("api_account", P(6, 21));
    pol_builder_alt_scope(b, "s.write", P(6, 42));
    ck_assert_str_eq(compile_err(b),
                     "6:42: unknown scope 's.write' (not declared in 'scopes:')");
}
END_TEST

START_TEST(test_error_unknown_flag)
{
    struct pol_builder *b = with_alt("person", P(6, 21));
    ck_assert_int_eq(pol_builder_alt_flag(b, "has_ssp_acces", P(6, 37)), POL_ERR_INVALID);
    ck_assert_str_eq(pol_builder_error(b),
                     "6:37: unknown flag 'has_ssp_acces' (use has_ssp_access or is_caller)");
    /* sticky: later calls, even valid ones, return the first error and keep its message */
    ck_assert_int_eq(pol_builder_alt_flag(b, "is_caller", P(7, 1)), POL_ERR_INVALID);
    ck_assert_int_eq(pol_builder_add_route(b, 1, NULL, "/x/", P(8, 1)), POL_ERR_INVALID);
    ck_assert_int_eq(pol_builder_alt_role(b, "nope", P(9, 1)), POL_ERR_INVALID);
    ck_assert_str_eq(compile_err(b),
                     "6:37: unknown flag 'has_ssp_acces' (use has_ssp_access or is_caller)");
}
END_TEST

START_TEST(test_error_unknown_kind)
{
    struct pol_builder *b = with_alt(NULL, P(0, 0));
    ck_assert_int_eq(pol_builder_alt_kind(b, "anonymous", P(6, 21)), POL_ERR_INVALID);
    ck_assert_str_eq(compile_err(b), "6:21: unknown kind 'anonymous' (use person, api_account "
                     "or system; routes open to anyone say 'public: true')");
}
END_TEST

START_TEST(test_error_unknown_method)
{
    struct pol_builder *b = base_builder();
    pol_builder_add_rule(b, P(5, 9));
    ck_assert_int_eq(pol_builder_rule_method(b, "get", P(5, 19)), POL_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(compile_err(b), "5:19: unknown method 'get'"));
    b = base_builder();
    pol_builder_add_rule(b, P(5, 9));
    ck_assert_int_eq(pol_builder_rule_method(b, "BREW", P(5, 24)), POL_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(compile_err(b), "5:24: unknown method 'BREW'"));
}
END_TEST

START_TEST(test_error_wrong_kind_requirements)
{
    struct pol_builder *b = with_alt("api_account", P(6, 21));
    pol_builder_alt_flag(b, "is_caller", P(6, 44));
    ck_assert_str_eq(compile_err(b),
                     "6:44: flags apply to persons only, not to kind 'api_account'");
    /* key order in the mapping does not matter: flags before kind */
    b = with_alt(NULL, P(0, 0));
    pol_builder_alt_flag(b, "is_caller", P(6, 15));
    pol_builder_alt_kind(b, "system", P(6, 40));
    ck_assert_str_eq(compile_err(b), "6:15: flags apply to persons only, not to kind 'system'");
    b = with_alt("system", P(6, 21));
    pol_builder_alt_role(b, "operator", P(6, 39));
    ck_assert_str_eq(compile_err(b),
                     "6:39: roles apply to persons only, not to kind 'system' (use scopes)");
    b = with_alt("person", P(6, 21));
    pol_builder_alt_scope(b, "s.read", P(6, 39));
    ck_assert_str_eq(compile_err(b), "6:39: scopes apply to API and system accounts only, not "
                     "to persons (use roles)");
}
END_TEST

START_TEST(test_error_structure)
{
    /* alternative without kind */
    struct pol_builder *b = with_alt(NULL, P(0, 0));
    pol_builder_alt_role(b, "operator", P(6, 30));
    ck_assert_str_eq(compile_err(b),
                     "6:13: 'allow' entry needs a 'kind' (person, api_account or system)");
    /* rule without alternatives */
    b = base_builder();
    pol_builder_add_rule(b, P(5, 9));
    pol_builder_rule_method(b, "GET", P(5, 19));
    ck_assert_ptr_nonnull(strstr(compile_err(b), "5:9: access rule allows no one"));
    /* public route with rules */
    b = base_builder();
    pol_builder_route_public(b, true, P(4, 13));
    pol_builder_add_rule(b, P(6, 9));
    pol_builder_add_alternative(b, P(6, 18));
    pol_builder_alt_kind(b, "person", P(6, 26));
    ck_assert_str_eq(compile_err(b),
                     "6:9: route /ssp/ is public (4:13) and must not have access rules");
    /* public: false with rules is fine */
    b = base_builder();
    pol_builder_route_public(b, false, P(4, 13));
    pol_builder_add_rule(b, P(6, 9));
    pol_builder_add_alternative(b, P(6, 18));
    pol_builder_alt_kind(b, "person", P(6, 26));
    ck_assert_str_eq(compile_err(b), "");
    /* calls out of order */
    b = pol_builder_new();
    ck_assert_int_eq(pol_builder_add_rule(b, P(2, 3)), POL_ERR_STATE);
    ck_assert_str_eq(compile_err(b), "2:3: access rule outside a route");
    b = base_builder();
    ck_assert_int_eq(pol_builder_alt_kind(b, "person", P(4, 4)), POL_ERR_STATE);
    ck_assert_str_eq(compile_err(b), "4:4: 'kind' outside an 'allow' entry");
    b = base_builder();
    ck_assert_int_eq(pol_builder_rule_method(b, "GET", P(4, 4)), POL_ERR_STATE);
    compile_err(b);
    /* kind twice, public twice, path twice */
    b = with_alt("person", P(6, 21));
    ck_assert_int_eq(pol_builder_alt_kind(b, "system", P(6, 40)), POL_ERR_DUPLICATE);
    ck_assert_str_eq(compile_err(b), "6:40: 'kind' given twice in one 'allow' entry");
}
END_TEST

START_TEST(test_error_declarations)
{
    struct pol_builder *b = pol_builder_new();
    pol_builder_declare_role(b, "operator", P(1, 9));
    ck_assert_int_eq(pol_builder_declare_role(b, "operator", P(1, 30)), POL_ERR_DUPLICATE);
    ck_assert_str_eq(compile_err(b), "1:30: role 'operator' is declared twice (first at 1:9)");
    /* roles and scopes are separate namespaces */
    b = pol_builder_new();
    ck_assert_int_eq(pol_builder_declare_role(b, "read", P(1, 9)), 0);
    ck_assert_int_eq(pol_builder_declare_scope(b, "read", P(2, 9)), 0);
    ck_assert_str_eq(compile_err(b), "");
    b = pol_builder_new();
    ck_assert_int_eq(pol_builder_declare_scope(b, "a b", P(2, 12)), POL_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(compile_err(b), "2:12: invalid scope name 'a b'"));
    b = pol_builder_new();
    ck_assert_int_eq(pol_builder_declare_role(b, "", P(1, 9)), POL_ERR_INVALID);
    compile_err(b);
    char longname[POL_NAME_MAX_BYTES + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    b = pol_builder_new();
    ck_assert_int_eq(pol_builder_declare_role(b, longname, P(1, 9)), POL_ERR_INVALID);
    compile_err(b);
    longname[POL_NAME_MAX_BYTES] = '\0';
    b = pol_builder_new();
    ck_assert_int_eq(pol_builder_declare_role(b, longname, P(1, 9)), 0);
    ck_assert_str_eq(compile_err(b), "");
    /* too many roles */
    b = pol_builder_new();
    char name[16];
    for (int i = 0; i < POL_ROLES_MAX; i++) {
        snprintf(name, sizeof name, "r%d", i);
        ck_assert_int_eq(pol_builder_declare_role(b, name, P(1, 1 + i)), 0);
    }
    ck_assert_int_eq(pol_builder_declare_role(b, "one-too-many", P(2, 1)), POL_ERR_LIMIT);
    ck_assert_str_eq(compile_err(b), "2:1: too many roles (at most 256)");
    /* no position known: the message has no prefix */
    b = pol_builder_new();
    pol_builder_declare_role(b, "x", P(0, 0));
    pol_builder_declare_role(b, "x", P(0, 0));
    ck_assert_str_eq(compile_err(b), "role 'x' is declared twice (first at 0:0)");
}
END_TEST

START_TEST(test_error_routes_and_paths)
{
    struct pol_builder *b = base_builder();
    ck_assert_int_eq(pol_builder_add_route(b, 0, NULL, "/other/", P(9, 5)), POL_ERR_DUPLICATE);
    ck_assert_str_eq(compile_err(b), "9:5: route id 0 already has a policy (3:5)");
    b = pol_builder_new();
    ck_assert_int_eq(pol_builder_add_route(b, POL_ROUTE_ID_MAX + 1, NULL, "/", P(3, 5)),
                     POL_ERR_LIMIT);
    compile_err(b);
    b = pol_builder_new();
    ck_assert_int_eq(pol_builder_add_route(b, 0, NULL, "ssp", P(3, 5)), POL_ERR_INVALID);
    compile_err(b);
    /* a rule's path must lie within the route */
    b = base_builder();
    pol_builder_add_rule(b, P(5, 9));
    ck_assert_int_eq(pol_builder_rule_path(b, "/operator/x", P(6, 15)), POL_ERR_INVALID);
    ck_assert_str_eq(compile_err(b),
                     "6:15: rule path '/operator/x' is not within the route's path '/ssp/'");
    b = base_builder();
    pol_builder_add_rule(b, P(5, 9));
    ck_assert_int_eq(pol_builder_rule_path(b, "/ssp", P(6, 15)), POL_ERR_INVALID);
    compile_err(b);
    b = base_builder();
    pol_builder_add_rule(b, P(5, 9));
    ck_assert_int_eq(pol_builder_rule_path(b, "/ssp/../admin", P(6, 15)), POL_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(compile_err(b), "6:15: rule path '/ssp/../admin' must"));
    b = base_builder();
    pol_builder_add_rule(b, P(5, 9));
    ck_assert_int_eq(pol_builder_rule_path(b, "/ssp/a?b", P(6, 15)), POL_ERR_INVALID);
    compile_err(b);
    b = base_builder();
    pol_builder_add_rule(b, P(5, 9));
    ck_assert_int_eq(pol_builder_rule_path(b, "/ssp/a", P(6, 15)), 0);
    ck_assert_int_eq(pol_builder_rule_path(b, "/ssp/b", P(7, 15)), POL_ERR_DUPLICATE);
    compile_err(b);
}
END_TEST

START_TEST(test_declarations_after_routes)
{
    /* YAML key order is free: `routes:` before `roles:` must work */
    char err[256];
    struct pol_builder *b = pol_builder_new();
    pol_builder_add_route(b, 0, NULL, "/operator/", P(1, 5));
    pol_builder_add_rule(b, P(2, 9));
    pol_builder_add_alternative(b, P(2, 18));
    pol_builder_alt_role(b, "operator", P(2, 40));
    pol_builder_alt_kind(b, "person", P(2, 26));
    pol_builder_declare_role(b, "auditor", P(5, 9));
    pol_builder_declare_role(b, "operator", P(5, 18));
    struct pol_policy *p = pol_builder_compile(b, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    pol_builder_free(b);    /* the policy does not depend on the builder */
    ck_assert_int_eq(pol_policy_role_bit(p, "auditor"), 0);
    ck_assert_int_eq(pol_policy_role_bit(p, "operator"), 1);
    struct pol_principal pr;
    struct pol_decision d;
    pol_principal_init(&pr, POL_KIND_PERSON);
    pol_bitset_set(&pr.roles, 0);
    ck_assert_int_eq(pol_decide(p, 0, "GET", "/operator/", 10, &pr, &d), POL_DENY);
    pol_principal_add_role(p, &pr, "operator");
    ck_assert_int_eq(pol_decide(p, 0, "GET", "/operator/", 10, &pr, &d), POL_ALLOW);
    pol_policy_free(p);
}
END_TEST

START_TEST(test_role_and_scope_bits)
{
    struct pol_policy *p = example_policy();
    ck_assert_int_eq(pol_policy_role_count(p), 3);
    ck_assert_int_eq(pol_policy_scope_count(p), 2);
    ck_assert_int_eq(pol_policy_role_bit(p, "operator"), 0);
    ck_assert_int_eq(pol_policy_role_bit(p, "application_manager"), 1);
    ck_assert_int_eq(pol_policy_role_bit(p, "incident-management"), 2);
    ck_assert_int_eq(pol_policy_role_bit(p, "Operator"), -1);
    ck_assert_int_eq(pol_policy_role_bit(p, ""), -1);
    ck_assert_int_eq(pol_policy_role_bit(p, "incidents.read"), -1);  /* a scope, not a role */
    ck_assert_int_eq(pol_policy_scope_bit(p, "incidents.read"), 0);
    ck_assert_int_eq(pol_policy_scope_bit(p, "incidents.write"), 1);
    ck_assert_str_eq(pol_policy_role_name(p, 2), "incident-management");
    ck_assert_ptr_null(pol_policy_role_name(p, 3));
    ck_assert_ptr_null(pol_policy_role_name(p, -1));
    ck_assert_str_eq(pol_policy_scope_name(p, 1), "incidents.write");
    struct pol_principal pr;
    pol_principal_init(&pr, POL_KIND_PERSON);
    ck_assert_int_eq(pol_principal_add_role(p, &pr, "nobody-knows"), POL_ERR_UNKNOWN);
    for (size_t i = 0; i < sizeof pr.roles.w / sizeof pr.roles.w[0]; i++)
        ck_assert(pr.roles.w[i] == 0);
    pol_policy_free(p);
}
END_TEST

START_TEST(test_256_roles)
{
    /* roles at word boundaries of the bitset: 63, 64, 255 */
    char err[256], name[16];
    struct pol_builder *b = pol_builder_new();
    for (int i = 0; i < POL_ROLES_MAX; i++) {
        snprintf(name, sizeof name, "role%03d", POL_ROLES_MAX - 1 - i);  /* reverse order */
        pol_builder_declare_role(b, name, P(1, 1));
    }
    pol_builder_add_route(b, 0, NULL, "/", P(2, 1));
    pol_builder_add_rule(b, P(3, 1));
    pol_builder_add_alternative(b, P(3, 2));
    pol_builder_alt_kind(b, "person", P(3, 3));
    pol_builder_alt_role(b, "role192", P(3, 4));    /* declared 63rd -> bit 63 */
    pol_builder_alt_role(b, "role191", P(3, 5));    /* bit 64 */
    pol_builder_alt_role(b, "role000", P(3, 6));    /* bit 255 */
    struct pol_policy *p = pol_builder_compile(b, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    pol_builder_free(b);
    ck_assert_int_eq(pol_policy_role_bit(p, "role192"), 63);
    ck_assert_int_eq(pol_policy_role_bit(p, "role191"), 64);
    ck_assert_int_eq(pol_policy_role_bit(p, "role000"), 255);
    ck_assert_int_eq(pol_policy_role_bit(p, "role255"), 0);
    struct pol_principal pr;
    struct pol_decision d;
    pol_principal_init(&pr, POL_KIND_PERSON);
    pol_principal_add_role(p, &pr, "role192");
    pol_principal_add_role(p, &pr, "role191");
    ck_assert_int_eq(pol_decide(p, 0, "GET", "/", 1, &pr, &d), POL_DENY);
    ck_assert_str_eq(d.message, "this page needs the role 'role000'");
    pol_principal_add_role(p, &pr, "role000");
    ck_assert_int_eq(pol_decide(p, 0, "GET", "/", 1, &pr, &d), POL_ALLOW);
    pol_principal_init(&pr, POL_KIND_PERSON);
    pol_decide(p, 0, "GET", "/", 1, &pr, &d);
    ck_assert_str_eq(d.message, "this page needs the roles 'role192', 'role191', 'role000'");
    pol_policy_free(p);
}
END_TEST

START_TEST(test_closest_alternative_message)
{
    /* two person alternatives: the message names what the closest one misses */
    char err[256];
    struct pol_builder *b = pol_builder_new();
    pol_builder_declare_role(b, "a", P(1, 1));
    pol_builder_declare_role(b, "b", P(1, 2));
    pol_builder_declare_role(b, "c", P(1, 3));
    pol_builder_add_route(b, 0, NULL, "/", P(2, 1));
    pol_builder_add_rule(b, P(3, 1));
    pol_builder_add_alternative(b, P(4, 1));
    pol_builder_alt_kind(b, "person", P(4, 2));
    pol_builder_alt_role(b, "a", P(4, 3));
    pol_builder_alt_role(b, "b", P(4, 4));
    pol_builder_add_alternative(b, P(5, 1));
    pol_builder_alt_kind(b, "person", P(5, 2));
    pol_builder_alt_role(b, "c", P(5, 3));
    pol_builder_alt_flag(b, "is_caller", P(5, 4));
    struct pol_policy *p = pol_builder_compile(b, err, sizeof err);
    ck_assert_ptr_nonnull(p);
    pol_builder_free(b);
    struct pol_principal pr;
    struct pol_decision d;
    pol_principal_init(&pr, POL_KIND_PERSON);
    pol_principal_add_role(p, &pr, "a");
    pol_decide(p, 0, "GET", "/", 1, &pr, &d);
    ck_assert_str_eq(d.message, "this page needs the role 'b'");
    pol_principal_init(&pr, POL_KIND_PERSON);
    pr.flags = POL_FLAG_IS_CALLER;
    pol_decide(p, 0, "GET", "/", 1, &pr, &d);
    ck_assert_str_eq(d.message, "this page needs the role 'c'");
    pol_principal_init(&pr, POL_KIND_PERSON);
    pol_decide(p, 0, "GET", "/", 1, &pr, &d);       /* tie: the first alternative */
    ck_assert_str_eq(d.message, "this page needs the roles 'a', 'b'");
    pol_policy_free(p);
}
END_TEST

START_TEST(test_long_path_message)
{
    struct pol_policy *p = example_policy();
    char path[600] = "/api/";
    memset(path + 5, 'x', 500);
    path[505] = '\0';
    struct pol_decision d;
    ck_assert_int_eq(decide(p, R_API, "DELETE", path, OP_FULL, &d), POL_DENY);
    ck_assert_ptr_nonnull(strstr(d.message, "default deny: no rule matches DELETE /api/xxx"));
    size_t n = strlen(d.message);
    ck_assert(n < sizeof d.message);
    ck_assert_str_eq(d.message + n - 3, "...");
    pol_policy_free(p);
}
END_TEST

/* ---- explanations ---- */

static char *explain(const struct pol_policy *p, size_t route, const char *method,
                     const char *path, enum who w)
{
    static char buf[4096];
    struct pol_principal pr = principal(p, w);
    int n = pol_explain(p, route, method, path, &pr, buf, sizeof buf);
    ck_assert_int_eq(n, (int)strlen(buf));
    return buf;
}

#define HAS(text, needle) \
    ck_assert_msg(strstr((text), (needle)) != NULL, "missing '%s' in:\n%s", (needle), (text))

START_TEST(test_explain_texts)
{
    struct pol_policy *p = example_policy();
    char *t = explain(p, R_SSP, "POST", "/ssp/requests", OP_SSP);
    HAS(t, "request: POST /ssp/requests\n");
    HAS(t, "principal: person; roles: operator; flags: has_ssp_access\n");
    HAS(t, "route: /ssp/ at 7:5\n");
    HAS(t, "  rule 0 at 10:9 (methods POST; path /ssp/requests): matches, decides\n");
    HAS(t, "    allow 0 at 13:13 {kind person; flag has_ssp_access; flag is_caller}: not "
           "satisfied: you are not registered as a caller (is_caller)\n");
    HAS(t, "  rule 1 at 14:9 (any method; whole route): not considered (an earlier rule "
           "decided)\n");
    HAS(t, "verdict: deny by rule 0 at 10:9: you are not registered as a caller "
           "(is_caller)\n");

    t = explain(p, R_SSP, "GET", "/ssp/requests", OP_SSP);
    HAS(t, "  rule 0 at 10:9 (methods POST; path /ssp/requests): does not match: method GET "
           "is not listed\n");
    HAS(t, "  rule 1 at 14:9 (any method; whole route): matches, decides\n");
    HAS(t, "    allow 0 at 15:13 {kind person; flag has_ssp_access}: satisfied\n");
    HAS(t, "verdict: allow by rule 1 at 14:9\n");

    t = explain(p, R_SSP, "POST", "/ssp/profile", OP_FULL);
    HAS(t, "does not match: path is not under /ssp/requests\n");

    t = explain(p, R_API, "GET", "/api/incidents", API_WRITE);
    HAS(t, "principal: api_account; scopes: incidents.write\n");
    HAS(t, "  rule 0 at 23:9 (methods GET, HEAD; whole route): matches, decides\n");
    HAS(t, "    allow 0 at 24:18 {kind api_account; scope incidents.read}: not satisfied: "
           "this API needs the scope 'incidents.read'\n");
    HAS(t, "    allow 1 at 25:18 {kind person; role operator}: not satisfied: it is for "
           "persons, the request is api_account\n");
    HAS(t, "verdict: deny by rule 0 at 23:9: this API needs the scope 'incidents.read'\n");

    t = explain(p, R_API, "POST", "/api/incidents", ANON);
    HAS(t, "principal: anonymous\n");
    HAS(t, "verdict: deny: default deny: no rule matches POST /api/incidents\n");

    t = explain(p, R_OPERATOR, "GET", "/operator/", ANON);
    HAS(t, "it is for persons, the request is anonymous\n");
    HAS(t, "verdict: need_login by rule 0 at 19:9: you need to log in\n");

    t = explain(p, R_STATIC, "GET", "/ssp/static/x.css", ANON);
    HAS(t, "route: /ssp/static/ at 4:5 (public)\n");
    HAS(t, "verdict: allow (public route)\n");

    t = explain(p, R_NOTHING, "GET", "/nothing/", APP_MANAGER);
    HAS(t, "principal: person; roles: application_manager; flags: (none)\n");
    HAS(t, "route: /nothing/ at 30:5 (no access rules)\n");
    HAS(t, "verdict: deny: default deny: route /nothing/ has no access rules\n");

    t = explain(p, 77, "GET", "/x", SSP_ONLY);
    HAS(t, "principal: person; roles: (none known to the policy); flags: has_ssp_access\n");
    HAS(t, "route: id 77 has no policy\n");

    t = explain(p, R_SSP, "GET", "/ssp/../operator/", OP_FULL);
    HAS(t, "path: not in normal form, refused before any rule\n");
    HAS(t, "verdict: deny: the request path is not in normal form");
    pol_policy_free(p);
}
END_TEST

START_TEST(test_explain_truncation)
{
    struct pol_policy *p = example_policy();
    struct pol_principal pr = principal(p, OP_SSP);
    char full[4096], small[40];
    int n = pol_explain(p, R_SSP, "POST", "/ssp/requests", &pr, full, sizeof full);
    ck_assert_int_gt(n, 200);
    memset(small, 'Z', sizeof small);
    int m = pol_explain(p, R_SSP, "POST", "/ssp/requests", &pr, small, sizeof small);
    ck_assert_int_eq(m, n);                         /* the length the whole text needs */
    ck_assert_int_eq(strlen(small), sizeof small - 1);
    ck_assert(strncmp(small, full, sizeof small - 1) == 0);
    ck_assert_int_eq(pol_explain(p, R_SSP, "POST", "/ssp/requests", &pr, NULL, 0), n);
    pol_policy_free(p);
}
END_TEST

/* ---- concurrency: one policy, many threads, same answers ---- */

struct thread_arg {
    const struct pol_policy *p;
    int mismatches;
};

static void *decide_loop(void *arg)
{
    struct thread_arg *ta = arg;
    struct pol_principal ssp = principal(ta->p, SSP_ONLY), full = principal(ta->p, OP_FULL);
    for (int i = 0; i < 20000; i++) {
        struct pol_decision d;
        if (pol_decide(ta->p, R_SSP, "POST", "/ssp/requests", 13, &ssp, &d) != POL_DENY ||
            strcmp(d.message, NO_CALLER) != 0)
            ta->mismatches++;
        if (pol_decide(ta->p, R_SSP, "POST", "/ssp/requests", 13, &full, &d) != POL_ALLOW)
            ta->mismatches++;
    }
    return NULL;
}

START_TEST(test_concurrent_decisions)
{
    struct pol_policy *p = example_policy();
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){ p, 0 };
        ck_assert_int_eq(pthread_create(&t[i], NULL, decide_loop, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(args[i].mismatches, 0);
    }
    pol_policy_free(p);
}
END_TEST

static Suite *policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("examples");
    tcase_add_test(tc, test_ssp_submit_request);
    tcase_add_test(tc, test_ssp_browse);
    tcase_add_test(tc, test_operator_portal);
    tcase_add_test(tc, test_api_route);
    tcase_add_test(tc, test_admin_route);
    tcase_add_test(tc, test_token_only_route);
    tcase_add_test(tc, test_public_route);
    tcase_add_test(tc, test_default_deny_routes);
    suite_add_tcase(s, tc);

    tc = tcase_create("matching");
    tcase_add_test(tc, test_method_matching);
    tcase_add_test(tc, test_subprefix_matching);
    tcase_add_test(tc, test_first_match_wins);
    tcase_add_test(tc, test_path_normal_form);
    tcase_add_test(tc, test_closest_alternative_message);
    tcase_add_test(tc, test_long_path_message);
    tcase_add_test(tc, test_concurrent_decisions);
    suite_add_tcase(s, tc);

    tc = tcase_create("build");
    tcase_add_test(tc, test_error_unknown_role);
    tcase_add_test(tc, test_error_unknown_scope);
    tcase_add_test(tc, test_error_unknown_flag);
    tcase_add_test(tc, test_error_unknown_kind);
    tcase_add_test(tc, test_error_unknown_method);
    tcase_add_test(tc, test_error_wrong_kind_requirements);
    tcase_add_test(tc, test_error_structure);
    tcase_add_test(tc, test_error_declarations);
    tcase_add_test(tc, test_error_routes_and_paths);
    tcase_add_test(tc, test_declarations_after_routes);
    tcase_add_test(tc, test_role_and_scope_bits);
    tcase_add_test(tc, test_256_roles);
    suite_add_tcase(s, tc);

    tc = tcase_create("explain");
    tcase_add_test(tc, test_explain_texts);
    tcase_add_test(tc, test_explain_truncation);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(policy_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
