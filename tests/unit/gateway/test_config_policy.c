/* tests/unit/gateway/test_config_policy.c — the role policy as the config loader builds it
 * (gateway/config.c -> policy/policy_build.c): roles:, scopes:, routes[].public/access.
 *
 * The example file's rules are decided through the route table and pol_decide as the gateway
 * will (route lookup, then decision); every policy error class is checked with its exact
 * "file:line:column: message".
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"

static const char *source_path(const char *rel, char *buf, size_t cap)
{
    const char *me = __FILE__;
    const char *tail = strstr(me, "tests/unit/gateway/test_config_policy.c");
    ck_assert_ptr_nonnull(tail);
    snprintf(buf, cap, "%.*s%s", (int)(tail - me), me, rel);
    return buf;
}

static struct gw_config *load(const char *yaml, char *err)
{
    return gw_config_load_string(yaml, strlen(yaml), "t.yaml", err, GW_CONFIG_ERR_MAX);
}

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
    ck_assert_ptr_nonnull(cfg->policy);
    return cfg;
}

static struct gw_config *load_example(void)
{
    char path[4096], err[GW_CONFIG_ERR_MAX];
    struct gw_config *cfg = gw_config_load(source_path("deploy/onegate.example.yaml", path,
                                                       sizeof(path)), err, sizeof(err));
    if (!cfg)
        ck_abort_msg("example refused: %s", err);
    ck_assert_ptr_nonnull(cfg->policy);
    return cfg;
}

/* What the gateway will do per request: route table, then policy. Returns the verdict, or -1
 * when no route matches (404). <d> is filled when a route matched. */
static int decide(const struct gw_config *cfg, const char *host, const char *method,
                  const char *path, const struct pol_principal *pr, struct pol_decision *d)
{
    size_t id;
    if (pol_route_table_lookup(cfg->route_table, host, strlen(host), path, strlen(path),
                               &id) != 0)
        return -1;
    ck_assert_uint_lt(id, cfg->nroutes);
    return (int)pol_decide(cfg->policy, id, method, path, strlen(path), pr, d);
}

/* A person with <roles> (comma-separated, may be "") and <flags>. */
static struct pol_principal person(const struct gw_config *cfg, const char *roles,
                                   uint32_t flags)
{
    struct pol_principal pr;
    char buf[256];
    pol_principal_init(&pr, POL_KIND_PERSON);
    pr.flags = flags;
    snprintf(buf, sizeof(buf), "%s", roles);
    for (char *save = NULL, *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save))
        ck_assert_int_eq(pol_principal_add_role(cfg->policy, &pr, r), 0);
    return pr;
}

static struct pol_principal api_account(const struct gw_config *cfg, const char *scope)
{
    struct pol_principal pr;
    pol_principal_init(&pr, POL_KIND_API_ACCOUNT);
    if (scope)
        ck_assert_int_eq(pol_principal_add_scope(cfg->policy, &pr, scope), 0);
    return pr;
}

#define SSP POL_FLAG_HAS_SSP_ACCESS
#define CALLER POL_FLAG_IS_CALLER

/* Asserts verdict and, when <msg> is non-NULL, the user-facing message. */
#define EXPECT(cfg, host, method, path, pr, verdict, msg) do {                                 \
        struct pol_decision d_;                                                              \
        int v_ = decide((cfg), (host), (method), (path), (pr), &d_);                         \
        if (v_ != (int)(verdict))                                                            \
            ck_abort_msg("%s %s%s: got %s (%s), want %s", (method), (host), (path),          \
                         v_ < 0 ? "no route" : pol_verdict_name((enum pol_verdict)v_),        \
                         v_ < 0 ? "" : d_.message, pol_verdict_name(verdict));               \
        if ((msg) != NULL)                                                                   \
            ck_assert_str_eq(d_.message, (const char *)(msg));                               \
    } while (0)

/* ---- the example file ---- */

START_TEST(example_declarations)
{
    struct gw_config *cfg = load_example();
    ck_assert_uint_eq(pol_policy_role_count(cfg->policy), 3);
    ck_assert_str_eq(pol_policy_role_name(cfg->policy, 0), "operator");
    ck_assert_str_eq(pol_policy_role_name(cfg->policy, 1), "application_manager");
    ck_assert_str_eq(pol_policy_role_name(cfg->policy, 2), "incident-management");
    ck_assert_int_eq(pol_policy_role_bit(cfg->policy, "incident-management"), 2);
    ck_assert_int_eq(pol_policy_role_bit(cfg->policy, "root"), -1);
    ck_assert_uint_eq(pol_policy_scope_count(cfg->policy), 2);
    ck_assert_int_eq(pol_policy_scope_bit(cfg->policy, "incidents.read"), 0);
    ck_assert_int_eq(pol_policy_scope_bit(cfg->policy, "incidents.write"), 1);
    gw_config_free(cfg);
}
END_TEST

START_TEST(example_operator_portal)
{
    struct gw_config *cfg = load_example();
    struct pol_principal op = person(cfg, "operator", SSP | CALLER);
    struct pol_principal ssp_only = person(cfg, "", SSP);
    struct pol_principal manager = person(cfg, "application_manager", 0);
    struct pol_principal anon, api = api_account(cfg, "incidents.read");
    pol_principal_init(&anon, POL_KIND_ANONYMOUS);

    EXPECT(cfg, "localhost:8080", "GET", "/operator/", &op, POL_ALLOW, NULL);
    EXPECT(cfg, "localhost:8080", "POST", "/operator/tickets/7", &op, POL_ALLOW, NULL);
    EXPECT(cfg, "localhost:8080", "GET", "/operator/", &ssp_only, POL_DENY,
           "this page needs the role 'operator'");
    EXPECT(cfg, "localhost:8080", "GET", "/operator/", &manager, POL_DENY,
           "this page needs the role 'operator'");
    EXPECT(cfg, "localhost:8080", "GET", "/operator/", &anon, POL_NEED_LOGIN,
           "you need to log in");
    EXPECT(cfg, "localhost:8080", "GET", "/operator/", &api, POL_DENY,
           "API accounts cannot use this route");
    /* the deciding rule is named by its place in the file (example: line 46, col 9) */
    struct pol_decision d;
    ck_assert_int_eq(decide(cfg, "localhost", "GET", "/operator/x", &ssp_only, &d), POL_DENY);
    ck_assert_int_eq(d.reason, POL_REASON_RULE);
    ck_assert_int_eq(d.rule_index, 0);
    ck_assert_int_eq(d.pos.line, 46);
    ck_assert_int_eq(d.pos.col, 9);
    ck_assert_str_eq(d.route_path, "/operator/");
    ck_assert_ptr_null(d.route_host);
    gw_config_free(cfg);
}
END_TEST

START_TEST(example_ssp)
{
    struct gw_config *cfg = load_example();
    struct pol_principal op = person(cfg, "operator", SSP | CALLER);
    struct pol_principal ssp_only = person(cfg, "", SSP);
    struct pol_principal caller_no_ssp = person(cfg, "", CALLER);
    struct pol_principal manager = person(cfg, "application_manager", 0);
    struct pol_principal anon;
    pol_principal_init(&anon, POL_KIND_ANONYMOUS);

    EXPECT(cfg, "localhost", "GET", "/ssp/", &ssp_only, POL_ALLOW, NULL);
    EXPECT(cfg, "localhost", "GET", "/ssp/requests", &ssp_only, POL_ALLOW, NULL);
    EXPECT(cfg, "localhost", "POST", "/ssp/profile", &ssp_only, POL_ALLOW, NULL);
    /* POST under /ssp/requests also needs is_caller */
    EXPECT(cfg, "localhost", "POST", "/ssp/requests", &ssp_only, POL_DENY,
           "you are not registered as a caller (is_caller)");
    EXPECT(cfg, "localhost", "POST", "/ssp/requests/new", &ssp_only, POL_DENY,
           "you are not registered as a caller (is_caller)");
    EXPECT(cfg, "localhost", "POST", "/ssp/requests", &op, POL_ALLOW, NULL);
    EXPECT(cfg, "localhost", "POST", "/ssp/requests", &caller_no_ssp, POL_DENY,
           "you need access to the Self-Service Portal (has_ssp_access)");
    /* /ssp/requestsX is not under the /ssp/requests prefix: the broad rule decides */
    EXPECT(cfg, "localhost", "POST", "/ssp/requestsX", &ssp_only, POL_ALLOW, NULL);
    EXPECT(cfg, "localhost", "GET", "/ssp/", &manager, POL_DENY,
           "you need access to the Self-Service Portal (has_ssp_access)");
    EXPECT(cfg, "localhost", "POST", "/ssp/requests", &anon, POL_NEED_LOGIN,
           "you need to log in");
    struct pol_decision d;
    ck_assert_int_eq(decide(cfg, "localhost", "POST", "/ssp/requests", &ssp_only, &d),
                     POL_DENY);
    ck_assert_int_eq(d.rule_index, 0);
    ck_assert_int_eq(d.pos.line, 52);
    ck_assert_int_eq(d.pos.col, 9);
    ck_assert_int_eq(decide(cfg, "localhost", "GET", "/ssp/x", &manager, &d), POL_DENY);
    ck_assert_int_eq(d.rule_index, 1);
    ck_assert_int_eq(d.pos.line, 56);

    /* static assets are public, also for anonymous requests; a path outside the normal form
     * is refused even there */
    EXPECT(cfg, "localhost", "GET", "/ssp/static/app.css", &anon, POL_ALLOW, NULL);
    ck_assert_int_eq(decide(cfg, "localhost", "GET", "/ssp/static/x.png", &manager, &d),
                     POL_ALLOW);
    ck_assert_int_eq(d.reason, POL_REASON_PUBLIC);
    ck_assert_str_eq(d.route_path, "/ssp/static/");
    EXPECT(cfg, "localhost", "GET", "/ssp/static/../requests", &anon, POL_DENY, NULL);
    /* on the ssp.localhost host route, /ssp/static/ is not public (host beats any-host) */
    EXPECT(cfg, "ssp.localhost", "GET", "/ssp/static/app.css", &anon, POL_NEED_LOGIN, NULL);
    EXPECT(cfg, "SSP.localhost:8080", "GET", "/anything", &ssp_only, POL_ALLOW, NULL);
    EXPECT(cfg, "ssp.localhost", "POST", "/ssp/requests", &manager, POL_DENY,
           "you need access to the Self-Service Portal (has_ssp_access)");
    gw_config_free(cfg);
}
END_TEST

START_TEST(example_api)
{
    struct gw_config *cfg = load_example();
    struct pol_principal reader = api_account(cfg, "incidents.read");
    struct pol_principal writer = api_account(cfg, "incidents.write");
    struct pol_principal bare = api_account(cfg, NULL);
    struct pol_principal op = person(cfg, "operator", 0);
    struct pol_principal ssp_only = person(cfg, "", SSP);
    struct pol_principal anon;
    pol_principal_init(&anon, POL_KIND_ANONYMOUS);

    EXPECT(cfg, "localhost", "GET", "/api/incidents", &reader, POL_ALLOW, NULL);
    EXPECT(cfg, "localhost", "HEAD", "/api/incidents", &reader, POL_ALLOW, NULL);
    EXPECT(cfg, "localhost", "POST", "/api/incidents", &reader, POL_DENY,
           "this API needs the scope 'incidents.write'");
    EXPECT(cfg, "localhost", "DELETE", "/api/incidents/3", &writer, POL_ALLOW, NULL);
    EXPECT(cfg, "localhost", "GET", "/api/incidents", &writer, POL_DENY,
           "this API needs the scope 'incidents.read'");
    EXPECT(cfg, "localhost", "GET", "/api/incidents", &bare, POL_DENY, NULL);
    EXPECT(cfg, "localhost", "PATCH", "/api/incidents/3", &op, POL_ALLOW, NULL);
    EXPECT(cfg, "localhost", "GET", "/api/incidents", &ssp_only, POL_DENY,
           "this page needs the role 'operator'");
    /* a person alternative exists, so anonymous gets need_login (browsers are redirected) */
    EXPECT(cfg, "localhost", "GET", "/api/incidents", &anon, POL_NEED_LOGIN, NULL);
    /* no rule names OPTIONS: default deny, even for operators */
    EXPECT(cfg, "localhost", "OPTIONS", "/api/incidents", &op, POL_DENY,
           "default deny: no rule matches OPTIONS /api/incidents");
    gw_config_free(cfg);
}
END_TEST

/* ---- accepted forms ---- */

#define HEAD "listen: [127.0.0.1:8080]\nupstreams: {a: {servers: [127.0.0.1:9101]}}\n"

START_TEST(default_deny_without_policy_keys)
{
    /* no roles:, no scopes:, no public/access: still a policy, which denies everyone */
    struct gw_config *cfg = expect_ok(HEAD "routes:\n  - {path: /, upstream: a}\n");
    ck_assert_uint_eq(pol_policy_role_count(cfg->policy), 0);
    struct pol_principal anon, pr;
    pol_principal_init(&anon, POL_KIND_ANONYMOUS);
    pol_principal_init(&pr, POL_KIND_PERSON);
    pr.flags = SSP | CALLER;
    struct pol_decision d;
    ck_assert_int_eq(decide(cfg, "h", "GET", "/x", &anon, &d), POL_DENY);
    ck_assert_int_eq(d.reason, POL_REASON_NO_ACCESS_RULES);
    ck_assert_str_eq(d.message, "default deny: route / has no access rules");
    ck_assert_int_eq(decide(cfg, "h", "GET", "/x", &pr, &d), POL_DENY);
    gw_config_free(cfg);

    /* public: false and access: [] are explicit forms of the same */
    cfg = expect_ok(HEAD "routes:\n  - {path: /a, upstream: a, public: false}\n"
                    "  - {path: /b, upstream: a, access: []}\n");
    ck_assert_int_eq(decide(cfg, "h", "GET", "/a", &pr, &d), POL_DENY);
    ck_assert_int_eq(d.reason, POL_REASON_NO_ACCESS_RULES);
    ck_assert_int_eq(decide(cfg, "h", "GET", "/b", &pr, &d), POL_DENY);
    ck_assert_int_eq(d.reason, POL_REASON_NO_ACCESS_RULES);
    gw_config_free(cfg);

    /* no routes at all: an empty policy that knows no route */
    cfg = expect_ok("listen: [127.0.0.1:8080]\nupstreams: {}\nroutes: []\n");
    ck_assert_int_eq(pol_decide(cfg->policy, 0, "GET", "/", 1, &pr, &d), POL_DENY);
    ck_assert_int_eq(d.reason, POL_REASON_UNKNOWN_ROUTE);
    gw_config_free(cfg);
}
END_TEST

START_TEST(keys_in_any_order)
{
    /* access before path, roles: and scopes: after routes:, anchors for allow entries, the
     * capitalised core-schema booleans */
    struct gw_config *cfg = expect_ok(
        HEAD
        "routes:\n"
        "  - access:\n"
        "      - allow: [&op {roles: [r1], kind: person}]\n"
        "        path: /x/admin\n"
        "      - allow: [*op, {kind: system, scopes: [s1]}]\n"
        "        methods: [DELETE]\n"
        "      - allow: [{kind: person}]\n"
        "    upstream: a\n"
        "    path: /x/\n"
        "  - {public: True, path: /pub/, upstream: a}\n"
        "  - {public: FALSE, path: /no/, upstream: a}\n"
        "scopes: [s1]\n"
        "roles: [r1]\n");
    struct pol_principal r1 = person(cfg, "r1", 0), plain = person(cfg, "", 0), sys, anon;
    pol_principal_init(&sys, POL_KIND_SYSTEM);
    pol_principal_init(&anon, POL_KIND_ANONYMOUS);
    ck_assert_int_eq(pol_principal_add_scope(cfg->policy, &sys, "s1"), 0);
    EXPECT(cfg, "h", "GET", "/x/admin/a", &plain, POL_DENY, "this page needs the role 'r1'");
    EXPECT(cfg, "h", "GET", "/x/admin/a", &r1, POL_ALLOW, NULL);
    EXPECT(cfg, "h", "DELETE", "/x/y", &sys, POL_ALLOW, NULL);
    EXPECT(cfg, "h", "DELETE", "/x/y", &plain, POL_DENY, "this page needs the role 'r1'");
    EXPECT(cfg, "h", "GET", "/x/y", &plain, POL_ALLOW, NULL);
    EXPECT(cfg, "h", "GET", "/x/y", &sys, POL_DENY, "system accounts cannot use this route");
    EXPECT(cfg, "h", "GET", "/pub/a", &anon, POL_ALLOW, NULL);
    EXPECT(cfg, "h", "GET", "/no/a", &r1, POL_DENY, "default deny: route /no/ has no access rules");
    gw_config_free(cfg);
}
END_TEST

/* ---- route table + policy, end to end ---- */

START_TEST(route_table_and_policy)
{
    struct gw_config *cfg = expect_ok(
        "listen: [127.0.0.1:8080]\n"
        "upstreams: {a: {servers: [127.0.0.1:9101]}, b: {servers: [127.0.0.1:9102]}}\n"
        "roles: [operator]\n"
        "scopes: [s]\n"
        "routes:\n"
        "  - {path: /, upstream: a, public: true}\n"
        "  - {path: /app, upstream: a, access: [{allow: [{kind: person}]}]}\n"
        "  - path: /app/admin/\n"
        "    upstream: a\n"
        "    access: [{allow: [{kind: person, roles: [operator]}]}]\n"
        "  - host: api.example\n"
        "    path: /\n"
        "    upstream: b\n"
        "    access: [{allow: [{kind: api_account, scopes: [s]}]}]\n"
        "  - {host: api.example, path: /public/, upstream: b, public: true}\n"
        "  - {path: /closed/, upstream: a}\n");
    struct pol_principal op = person(cfg, "operator", 0), plain = person(cfg, "", 0), anon;
    struct pol_principal api = api_account(cfg, "s");
    pol_principal_init(&anon, POL_KIND_ANONYMOUS);

    EXPECT(cfg, "x", "GET", "/", &anon, POL_ALLOW, NULL);
    EXPECT(cfg, "x", "GET", "/application", &anon, POL_ALLOW, NULL);   /* /app is not /ap... */
    EXPECT(cfg, "x", "GET", "/app", &anon, POL_NEED_LOGIN, "you need to log in");
    EXPECT(cfg, "x", "GET", "/app/x", &plain, POL_ALLOW, NULL);
    EXPECT(cfg, "x", "GET", "/app/admin", &plain, POL_ALLOW, NULL);    /* /app/admin/ needs '/' */
    EXPECT(cfg, "x", "GET", "/app/admin/users", &plain, POL_DENY,
           "this page needs the role 'operator'");
    EXPECT(cfg, "x", "GET", "/app/admin/users", &op, POL_ALLOW, NULL);
    EXPECT(cfg, "x", "GET", "/app/admin/users", &api, POL_DENY,
           "API accounts cannot use this route");
    EXPECT(cfg, "api.example", "GET", "/v1/things", &anon, POL_NEED_TOKEN,
           "this route needs a bearer token of an API account");
    EXPECT(cfg, "API.example:443", "POST", "/v1/things", &api, POL_ALLOW, NULL);
    EXPECT(cfg, "api.example", "GET", "/app/admin/users", &op, POL_DENY,
           "persons cannot use this route");                           /* host beats any-host */
    EXPECT(cfg, "api.example", "GET", "/public/logo.png", &anon, POL_ALLOW, NULL);
    EXPECT(cfg, "x", "GET", "/closed/x", &op, POL_DENY,
           "default deny: route /closed/ has no access rules");
    EXPECT(cfg, "x", "GET", "/app//admin/users", &op, POL_DENY, NULL);  /* not normal form */

    /* the decision names the route the table picked and the rule, for the denial log */
    struct pol_decision d;
    ck_assert_int_eq(decide(cfg, "api.example", "GET", "/app", &op, &d), POL_DENY);
    ck_assert_str_eq(d.route_host, "api.example");
    ck_assert_str_eq(d.route_path, "/");
    ck_assert_int_eq(d.pos.line, 14);
    ck_assert_int_eq(d.pos.col, 14);
    char text[2048];
    size_t id;
    ck_assert_int_eq(pol_route_table_lookup(cfg->route_table, "x", 1, "/app/admin/u", 12, &id),
                     0);
    ck_assert_uint_eq(id, 2);
    int n = pol_explain(cfg->policy, id, "GET", "/app/admin/u", &plain, text, sizeof(text));
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(n, (int)sizeof(text));
    ck_assert_ptr_nonnull(strstr(text, "route: /app/admin/ at 8:5\n"));
    ck_assert_ptr_nonnull(strstr(text, "verdict: deny by rule 0 at 10:14: this page needs the "
                                       "role 'operator'"));
    gw_config_free(cfg);
}
END_TEST

/* ---- refused policies: every error class, exact position ---- */

/* lines 1-2: HEAD; 3: roles; 4: scopes; 5: routes:; 6: "  - path: /ssp/"; 7: upstream;
 * 8: "    access:"; the rule under test starts on line 9 ("      - " puts its keys at col 9) */
#define POL_HEAD HEAD "roles: [operator]\nscopes: [incidents.read]\nroutes:\n" \
                 "  - path: /ssp/\n    upstream: a\n    access:\n"

START_TEST(err_names)
{
    expect_error(POL_HEAD "      - allow: [{kind: person, roles: [operatr]}]\n",
                 "t.yaml:9:40: unknown role 'operatr' (not declared in 'roles:')");
    expect_error(POL_HEAD "      - allow: [{kind: api_account, scopes: [incidents.red]}]\n",
                 "t.yaml:9:46: unknown scope 'incidents.red' (not declared in 'scopes:')");
    expect_error(POL_HEAD "      - allow: [{kind: person, flags: [has_ssp_acces]}]\n",
                 "t.yaml:9:40: unknown flag 'has_ssp_acces' (use has_ssp_access or is_caller)");
    expect_error(POL_HEAD "      - allow: [{kind: anonymous}]\n",
                 "t.yaml:9:24: unknown kind 'anonymous' (use person, api_account or system; "
                 "routes open to anyone say 'public: true')");
    expect_error(POL_HEAD "      - methods: [GET, get]\n        allow: [{kind: person}]\n",
                 "t.yaml:9:24: unknown method 'get' (use GET, HEAD, POST, PUT, PATCH, DELETE, "
                 "OPTIONS, TRACE or CONNECT, upper case)");
    /* no roles: at all: every role is unknown */
    expect_error(HEAD "routes:\n  - path: /\n    upstream: a\n    access:\n"
                 "      - allow: [{kind: person, roles: [operator]}]\n",
                 "t.yaml:7:40: unknown role 'operator' (not declared in 'roles:')");
    /* declarations */
    expect_error(HEAD "roles: [operator, operator]\nroutes: []\n",
                 "t.yaml:3:19: role 'operator' is declared twice (first at 3:9)");
    expect_error(HEAD "scopes: [a, b, a]\nroutes: []\n",
                 "t.yaml:3:16: scope 'a' is declared twice (first at 3:10)");
    expect_error(HEAD "roles: ['a,b']\nroutes: []\n",
                 "t.yaml:3:9: invalid role name 'a,b' (1-64 visible ASCII characters, no "
                 "quotes, backslash or comma)");
    /* bytes from the file are not echoed raw into messages */
    expect_error(HEAD "roles: [\"a\\x01b\\u00e9\"]\nroutes: []\n",
                 "t.yaml:3:9: invalid role name 'a?b?\?' (1-64 visible ASCII characters, no "
                 "quotes, backslash or comma)");
    expect_error(POL_HEAD "      - allow: [{kind: person, flags: [\"is_caller\\n\"]}]\n",
                 "t.yaml:9:40: unknown flag 'is_caller?' (use has_ssp_access or is_caller)");
}
END_TEST

START_TEST(err_kinds)
{
    expect_error(POL_HEAD "      - allow: [{kind: api_account, flags: [is_caller]}]\n",
                 "t.yaml:9:45: flags apply to persons only, not to kind 'api_account'");
    expect_error(POL_HEAD "      - allow: [{kind: system, roles: [operator]}]\n",
                 "t.yaml:9:40: roles apply to persons only, not to kind 'system' (use scopes)");
    expect_error(POL_HEAD "      - allow: [{kind: person, scopes: [incidents.read]}]\n",
                 "t.yaml:9:41: scopes apply to API and system accounts only, not to persons "
                 "(use roles)");
    expect_error(POL_HEAD "      - allow: [{roles: [operator]}]\n",
                 "t.yaml:9:17: 'allow' entry needs a 'kind' (person, api_account or system)");
    /* the flag is refused even when the kind comes after it */
    expect_error(POL_HEAD "      - allow:\n          - flags: [has_ssp_access]\n"
                 "            kind: api_account\n",
                 "t.yaml:10:21: flags apply to persons only, not to kind 'api_account'");
}
END_TEST

START_TEST(err_rules)
{
    expect_error(HEAD "routes:\n  - path: /ssp/\n    upstream: a\n    public: true\n"
                 "    access:\n      - allow: [{kind: person}]\n",
                 "t.yaml:8:9: route /ssp/ is public (6:13) and must not have access rules");
    /* the same when access comes first */
    expect_error(HEAD "routes:\n  - {access: [{allow: [{kind: person}]}], public: true, "
                 "path: /p/, upstream: a}\n",
                 "t.yaml:4:15: route /p/ is public (4:51) and must not have access rules");
    expect_error(POL_HEAD "      - allow: []\n",
                 "t.yaml:9:9: access rule allows no one: give 'allow' at least one entry "
                 "(requests no rule matches are denied anyway)");
    expect_error(POL_HEAD "      - methods: [GET]\n",
                 "t.yaml:9:9: access rule allows no one: give 'allow' at least one entry "
                 "(requests no rule matches are denied anyway)");
    expect_error(POL_HEAD "      - path: /operator/x\n        allow: [{kind: person}]\n",
                 "t.yaml:9:15: rule path '/operator/x' is not within the route's path '/ssp/'");
    expect_error(POL_HEAD "      - path: /ssp/../admin\n        allow: [{kind: person}]\n",
                 "t.yaml:9:15: rule path '/ssp/../admin' must begin with '/' and be a plain "
                 "path (no '.', '..', '//', '?', '#', backslash or encoded characters)");
    /* the first mistake in document order is the one reported */
    expect_error(POL_HEAD "      - methods: [got]\n        allow: [{kind: persn}]\n",
                 "t.yaml:9:19: unknown method 'got' (use GET, HEAD, POST, PUT, PATCH, DELETE, "
                 "OPTIONS, TRACE or CONNECT, upper case)");
}
END_TEST

START_TEST(err_types)
{
    expect_error(HEAD "roles: operator\nroutes: []\n",
                 "t.yaml:3:8: expected a list for roles, got 'operator'");
    expect_error(HEAD "roles: [[a]]\nroutes: []\n",
                 "t.yaml:3:9: expected a string for role, got a list");
    expect_error(HEAD "scopes: {a: 1}\nroutes: []\n",
                 "t.yaml:3:9: expected a list for scopes, got a mapping");
    expect_error(HEAD "routes:\n  - {path: /, upstream: a, access: {allow: []}}\n",
                 "t.yaml:4:36: expected a list for access, got a mapping");
    expect_error(POL_HEAD "      - operator\n",
                 "t.yaml:9:9: expected a mapping for access rule, got 'operator'");
    expect_error(POL_HEAD "      - allow: {kind: person}\n",
                 "t.yaml:9:16: expected a list for allow, got a mapping");
    expect_error(POL_HEAD "      - allow: [person]\n",
                 "t.yaml:9:17: expected a mapping for allow entry, got 'person'");
    expect_error(POL_HEAD "      - methods: GET\n        allow: [{kind: person}]\n",
                 "t.yaml:9:18: expected a list for methods, got 'GET'");
    expect_error(POL_HEAD "      - path: [/ssp/x]\n        allow: [{kind: person}]\n",
                 "t.yaml:9:15: expected a string for path, got a list");
    expect_error(POL_HEAD "      - allow: [{kind: [person]}]\n",
                 "t.yaml:9:24: expected a string for kind, got a list");
    expect_error(POL_HEAD "      - allow: [{kind: person, flags: [~]}]\n",
                 "t.yaml:9:40: expected a string for flag, got nothing (null)");
    expect_error(POL_HEAD "      - allow: [{kind: person, roles: operator}]\n",
                 "t.yaml:9:39: expected a list for roles, got 'operator'");
    expect_error(HEAD "routes:\n  - {path: /, upstream: a, public: yes}\n",
                 "t.yaml:4:36: expected true or false for public, got 'yes'");
    expect_error(HEAD "routes:\n  - {path: /, upstream: a, public: \"true\"}\n",
                 "t.yaml:4:36: expected true or false for public, got a quoted string");
    expect_error(HEAD "routes:\n  - {path: /, upstream: a, public: [true]}\n",
                 "t.yaml:4:36: expected true or false for public, got a list");
    expect_error(HEAD "routes:\n  - {path: /, upstream: a, public: }\n",
                 "t.yaml:4:36: expected true or false for public, got nothing (null)");
    /* unknown and duplicate keys inside rules and entries */
    expect_error(POL_HEAD "      - allowed: [{kind: person}]\n",
                 "t.yaml:9:9: unknown key 'allowed' in access rule (expected methods, path, "
                 "allow)");
    expect_error(POL_HEAD "      - allow: [{kind: person, role: [operator]}]\n",
                 "t.yaml:9:32: unknown key 'role' in allow entry (expected kind, roles, flags, "
                 "scopes)");
    expect_error(POL_HEAD "      - allow: [{kind: person, kind: system}]\n",
                 "t.yaml:9:32: duplicate key 'kind' (first at 9:18)");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_policy");
    TCase *ex = tcase_create("example");
    tcase_add_test(ex, example_declarations);
    tcase_add_test(ex, example_operator_portal);
    tcase_add_test(ex, example_ssp);
    tcase_add_test(ex, example_api);
    suite_add_tcase(s, ex);
    TCase *ok = tcase_create("accepted");
    tcase_add_test(ok, default_deny_without_policy_keys);
    tcase_add_test(ok, keys_in_any_order);
    tcase_add_test(ok, route_table_and_policy);
    suite_add_tcase(s, ok);
    TCase *bad = tcase_create("refused");
    tcase_add_test(bad, err_names);
    tcase_add_test(bad, err_kinds);
    tcase_add_test(bad, err_rules);
    tcase_add_test(bad, err_types);
    suite_add_tcase(s, bad);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
