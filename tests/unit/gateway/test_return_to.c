/* tests/unit/gateway/test_return_to.c — post-login redirect targets (gateway/return_to.c):
 * every accepted form, and every open-redirect trick refused with the default instead. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/return_to.h"

static struct gw_config *cfg;

static void setup(void)
{
    static const char yaml[] =
        "listen: [127.0.0.1:8080]\n"
        "upstreams: { a: { servers: [127.0.0.1:9101] } }\n"
        "routes: [ { path: /, upstream: a } ]\n"
        "sessions:\n"
        "  portals:\n"
        "    - { name: ssp, title: SSP, path: /ssp/ }\n"
        "    - { name: operator, title: Operator, path: /operator }\n"
        "    - { name: ops, title: Ops host, host: ops.example, path: /desk/ }\n";
    char err[GW_CONFIG_ERR_MAX];
    cfg = gw_config_load_string(yaml, strlen(yaml), "t.yaml", err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
}

static void teardown(void)
{
    gw_config_free(cfg);
}

static void accepted(const char *host, bool tls, const char *v)
{
    char out[GW_RETURN_TO_MAX];
    ck_assert_msg(gw_return_to_check(&cfg->sessions, host, tls, v, out, sizeof out) == 0,
                  "refused: %s", v);
    ck_assert_str_eq(out, v);
}

static void refused(const char *host, bool tls, const char *v, const char *fallback)
{
    char out[GW_RETURN_TO_MAX];
    ck_assert_msg(gw_return_to_check(&cfg->sessions, host, tls, v, out, sizeof out) == -1,
                  "accepted: %s", v ? v : "(null)");
    ck_assert_str_eq(out, fallback);
}

START_TEST(accepted_forms)
{
    accepted("gw.example:8080", false, "/ssp/");
    accepted("gw.example:8080", false, "/ssp/requests?id=4&x=%20y#top");
    accepted("gw.example", false, "/operator");
    accepted("gw.example", false, "/operator/incidents/7");
    accepted("gw.example", false, "/operator?tab=2");
    accepted("ops.example:8443", false, "/desk/today");       /* host portal, same host */
    accepted("gw.example", false, "http://ops.example/desk/x");
    accepted("gw.example", false, "http://OPS.example:8080/desk/");
    accepted("gw.example", true, "https://ops.example/desk/");
}
END_TEST

START_TEST(refused_forms)
{
    const char *h = "gw.example:8080";
    static const char *const bad[] = {
        "", "//evil.example/ssp/", "/\\evil.example", "\\\\evil.example",
        "https://evil.example/ssp/", "http://evil.example/desk/",
        "http://ops.example@evil.example/desk/", "http://evil.example\\@ops.example/desk/",
        "http://ops.example.evil.example/desk/", "http://ops.example:80x/desk/",
        "http:/ops.example/desk/", "http://ops.example", "http://ops.example?/desk/",
        "javascript:alert(1)", "data:text/html,x", "ssp/", "/other/", "/sspx", "/operatorx",
        "/ssp/../admin/v1/persons", "/ssp/./x", "/ssp//evil", "/ssp/%2e%2e/x",
        "/ssp/%2fevil", "/ssp/x%5cy", "/ssp/%zz", "/ssp/\r\nSet-Cookie: x=1", "/ssp/ x",
        "/ssp/\"onmouseover=x", "/ssp/<script>", "/ssp/'x", "/ssp/`x", "/ssp/\x7f",
        "/ssp/\xc3\xa9", "/desk/today", "https://ops.example/desk/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        refused(h, false, bad[i], "/ssp/");
    refused(h, false, NULL, "/ssp/");
    /* an https target from a plain-HTTP login (and the reverse) is refused too */
    refused(h, true, "http://ops.example/desk/", "/ssp/");
    char longv[GW_RETURN_TO_MAX + 10];
    memset(longv, 'a', sizeof longv - 1);
    memcpy(longv, "/ssp/", 5);
    longv[sizeof longv - 1] = '\0';
    refused(h, false, longv, "/ssp/");
}
END_TEST

START_TEST(defaults)
{
    char out[64];
    gw_return_to_default(&cfg->sessions, "gw.example", out, sizeof out);
    ck_assert_str_eq(out, "/ssp/");
    ck_assert(gw_host_matches("OPS.example:1", "ops.example"));
    ck_assert(!gw_host_matches("ops.example.evil", "ops.example"));
    ck_assert(gw_host_matches("[::1]:8080", "[::1]"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("return_to");
    TCase *tc = tcase_create("return_to");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, accepted_forms);
    tcase_add_test(tc, refused_forms);
    tcase_add_test(tc, defaults);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
