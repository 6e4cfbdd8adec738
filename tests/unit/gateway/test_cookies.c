/* tests/unit/gateway/test_cookies.c — Cookie parsing, Set-Cookie formatting and the filter
 * that keeps onegate's cookies away from the portals (gateway/cookies.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/cookies.h"

static char *find(const char *h, const char *name)
{
    static char buf[256];
    const char *v;
    size_t n;
    if (!gw_cookie_find(h, name, &v, &n))
        return NULL;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

START_TEST(find_cookies)
{
    ck_assert_str_eq(find("a=1; onegate_session=abc; b=2", "onegate_session"), "abc");
    ck_assert_str_eq(find("onegate_session=abc", "onegate_session"), "abc");
    ck_assert_str_eq(find("  onegate_session = \"q\" ;x=y", "onegate_session"), "q");
    ck_assert_str_eq(find("s=first; s=second", "s"), "first");
    ck_assert_str_eq(find("s=", "s"), "");
    ck_assert_ptr_null(find("xonegate_session=1; onegate_sessionx=2", "onegate_session"));
    ck_assert_ptr_null(find("", "s"));
    ck_assert_ptr_null(find("s", "s"));
    ck_assert(!gw_cookie_find(NULL, "s", NULL, NULL));
    /* names are case-sensitive */
    ck_assert_ptr_null(find("S=1", "s"));
}
END_TEST

START_TEST(set_cookie)
{
    char out[256], name[GW_COOKIE_NAME_MAX];
    gw_cookie_name(name, "onegate_session", true);
    ck_assert_str_eq(name, "__Host-onegate_session");
    gw_cookie_name(name, "onegate_session", false);
    ck_assert_str_eq(name, "onegate_session");
    struct gw_cookie_attrs a = { .secure = true, .max_age_s = -1, .same_site = "Lax" };
    ck_assert_int_gt(gw_cookie_set_header(out, sizeof out, "__Host-s", "v1", &a), 0);
    ck_assert_str_eq(out, "Set-Cookie: __Host-s=v1; Path=/; HttpOnly; SameSite=Lax; Secure\r\n");
    a = (struct gw_cookie_attrs){ .secure = false, .max_age_s = 0, .same_site = "Strict" };
    gw_cookie_set_header(out, sizeof out, "s", "", &a);
    ck_assert_str_eq(out, "Set-Cookie: s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0\r\n");
    ck_assert_int_eq(gw_cookie_set_header(out, 20, "s", "v", &a), -1);
}
END_TEST

START_TEST(filter)
{
    static const char *const drop[] = { "onegate_session", "onegate_session_csrf", NULL };
    char out[256];
    ck_assert_int_eq(gw_cookie_filter("a=1; onegate_session=zz; b=2", drop, out, sizeof out),
                     8);
    ck_assert_str_eq(out, "a=1; b=2");
    ck_assert_int_eq(gw_cookie_filter("onegate_session=zz;onegate_session_csrf=y", drop, out,
                                      sizeof out), 0);
    ck_assert_str_eq(out, "");
    gw_cookie_filter("theme=dark ; lang=en", drop, out, sizeof out);
    ck_assert_str_eq(out, "theme=dark; lang=en");
    ck_assert_int_eq(gw_cookie_filter("aaaaaaaaaa=1; b=2", drop, out, 5), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cookies");
    TCase *tc = tcase_create("cookies");
    tcase_add_test(tc, find_cookies);
    tcase_add_test(tc, set_cookie);
    tcase_add_test(tc, filter);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
