/* tests/unit/auth/test_ident.c — auth/ident.c: login/email normalisation (ASCII case fold,
 * non-ASCII refused), names, roles, scopes, account ids, UUIDs. */
#include <check.h>
#include <string.h>

#include "auth/ident.h"

static char out[300], err[300];

START_TEST(login_folds_ascii_case)
{
    ck_assert_int_eq(auth_login_normalize("Alice.Smith", out, err, sizeof(err)), 0);
    ck_assert_str_eq(out, "alice.smith");
    ck_assert_int_eq(auth_login_normalize("ALICE.SMITH", out, err, sizeof(err)), 0);
    ck_assert_str_eq(out, "alice.smith");
    ck_assert_int_eq(auth_login_normalize("j.doe+ops@corp", out, err, sizeof(err)), 0);
}
END_TEST

START_TEST(login_rejects_what_it_cannot_normalise)
{
    const char *bad[] = { "", " alice", "alice ", "al ice", "Ålice", "alic\xc3\xa9", "-alice",
                          ".alice", "al\tice", "al/ice", "al:ice", "a\xef\xbc\xa1" /* fullwidth */ };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(auth_login_normalize(bad[i], out, err, sizeof(err)) == -1, "%s", bad[i]);
    char longl[200];
    memset(longl, 'a', 129);
    longl[129] = 0;
    ck_assert_int_eq(auth_login_normalize(longl, out, err, sizeof(err)), -1);
    longl[128] = 0;
    ck_assert_int_eq(auth_login_normalize(longl, out, err, sizeof(err)), 0);
}
END_TEST

START_TEST(email_normalisation)
{
    ck_assert_int_eq(auth_email_normalize("John.Doe@Example.ORG", out, err, sizeof(err)), 0);
    ck_assert_str_eq(out, "john.doe@example.org");
    ck_assert_int_eq(auth_email_normalize("x@xn--bcher-kva.example", out, err, sizeof(err)), 0);
    const char *bad[] = { "", "john", "@example.org", "john@", "john@@example.org",
                          "jo@hn@example.org", "john@example", "john@.example.org",
                          "john@example..org", "jo..hn@example.org", ".john@example.org",
                          "jöhn@example.org", "john@bücher.example", "john doe@example.org",
                          "john@-example.org", "john@example-.org" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(auth_email_normalize(bad[i], out, err, sizeof(err)) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(names_are_utf8_without_controls)
{
    ck_assert_int_eq(auth_name_check("Zoë Ångström-Øster", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_name_check("山田 太郎", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_name_check("bad\xc3", err, sizeof(err)), -1);          /* truncated */
    ck_assert_int_eq(auth_name_check("over\xc0\xaflong", err, sizeof(err)), -1); /* overlong */
    ck_assert_int_eq(auth_name_check("sur\xed\xa0\x80rogate", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_name_check("new\nline", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_name_check("c1\xc2\x85", err, sizeof(err)), -1);       /* NEL */
    ck_assert_int_eq(auth_name_check(" lead", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_name_check("", err, sizeof(err)), -1);
}
END_TEST

START_TEST(roles_scopes_ids)
{
    ck_assert_int_eq(auth_role_check("operator", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_role_check("application_manager", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_role_check("group:incident-management", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_role_check("admin", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_role_check("group:", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_role_check("group:Incident", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_role_check("Operator", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_scope_check("incidents:read", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_scope_check("a b", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_scope_check("a\"b", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_account_id_check("crm-sync", err, sizeof(err)), 0);
    ck_assert_int_eq(auth_account_id_check("CRM", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_account_id_check("ab", err, sizeof(err)), -1);
    ck_assert_int_eq(auth_account_id_check("a/b/c", err, sizeof(err)), -1);
}
END_TEST

START_TEST(uuids)
{
    char a[37], b[37];
    ck_assert_int_eq(auth_uuid_v4(a), 0);
    ck_assert_int_eq(auth_uuid_v4(b), 0);
    ck_assert(auth_uuid_valid(a));
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(a[14], '4');
    auth_uuid_from_name("ns", "P-1", a);
    auth_uuid_from_name("ns", "P-1", b);
    ck_assert_str_eq(a, b);
    ck_assert(auth_uuid_valid(a));
    auth_uuid_from_name("ns2", "P-1", b);
    ck_assert_str_ne(a, b);
    ck_assert(!auth_uuid_valid("97D77050-8c8f-484f-9b66-3a0a6079635a"));
    ck_assert(!auth_uuid_valid("../etc/passwd"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ident");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, login_folds_ascii_case);
    tcase_add_test(tc, login_rejects_what_it_cannot_normalise);
    tcase_add_test(tc, email_normalisation);
    tcase_add_test(tc, names_are_utf8_without_controls);
    tcase_add_test(tc, roles_scopes_ids);
    tcase_add_test(tc, uuids);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
