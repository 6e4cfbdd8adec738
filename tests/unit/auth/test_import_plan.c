/* tests/unit/auth/test_import_plan.c — auth_import_plan (pure, no Redis): linking, generated
 * persons with flags off, no person for API/system accounts, and every conflict kind reported
 * without guessing. */
#include <check.h>
#include <string.h>

#include "auth/import_legacy.h"

static const char *DOC =
"{\"persons\": ["
"  {\"id\":\"P1\",\"login\":\"ann\",\"email\":\"ann@example.org\",\"name\":\"Ann\",\"ssp_access\":true,\"is_caller\":true},"
"  {\"id\":\"P2\",\"login\":\"bob\",\"email\":\"bob@example.org\",\"name\":\"Bob\"},"
"  {\"id\":\"P3\",\"login\":\"cat\",\"email\":\"Cat@Example.org\",\"name\":\"Cat\"},"
"  {\"id\":\"P4\",\"login\":\"dan\",\"email\":\"dan@example.org\",\"name\":\"Dan\"},"
"  {\"id\":\"P5\",\"email\":\"eve@example.org\",\"name\":\"Eve\"}"
"], \"operators\": ["
"  {\"id\":\"O1\",\"login\":\"ann.op\",\"email\":\"ann@example.org\",\"person_id\":\"P1\",\"groups\":[\"Incident Management\"],\"application_manager\":true},"
"  {\"id\":\"O2\",\"login\":\"new.op\",\"email\":\"new@ops.example.org\",\"name\":\"New Op\"},"
"  {\"id\":\"O3\",\"login\":\"cat.op\",\"email\":\"cat@example.org\"},"
"  {\"id\":\"O4\",\"login\":\"x1\",\"email\":\"x1@ops.example.org\",\"person_id\":\"P2\"},"
"  {\"id\":\"O5\",\"login\":\"x2\",\"email\":\"x2@ops.example.org\",\"person_id\":\"P2\"},"
"  {\"id\":\"O6\",\"login\":\"DAN\",\"email\":\"dan2@ops.example.org\"},"
"  {\"id\":\"O7\",\"login\":\"ghost\",\"person_id\":\"P404\"}"
"], \"api_accounts\": [{\"id\":\"A1\",\"login\":\"CRM Sync\",\"scopes\":[\"incidents:read\"]}],"
"  \"system_accounts\": [{\"id\":\"S1\",\"name\":\"Scheduler\"}]}";

static struct auth_import_plan *plan_of(const char *doc, bool match)
{
    json_error_t je;
    json_t *j = json_loads(doc, 0, &je);
    ck_assert_ptr_nonnull(j);
    struct auth_import_plan *p = NULL;
    char err[256];
    ck_assert_int_eq(auth_import_plan(j, match, &p, err, sizeof(err)), 0);
    json_decref(j);
    return p;
}

static const struct auth_import_person *by_login(const struct auth_import_plan *p, const char *l)
{
    for (size_t i = 0; i < p->npersons; i++)
        if (strcmp(p->persons[i].login, l) == 0)
            return &p->persons[i];
    return NULL;
}

static bool has_role(const struct auth_import_person *p, const char *r)
{
    for (size_t i = 0; i < p->nroles; i++)
        if (strcmp(p->roles[i], r) == 0)
            return true;
    return false;
}

static size_t conflicts_of(const struct auth_import_plan *p, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < p->nconflicts; i++)
        n += strncmp(p->conflicts[i], kind, strlen(kind)) == 0;
    return n;
}

START_TEST(links_generates_and_reports)
{
    struct auth_import_plan *p = plan_of(DOC, false);
    const struct auth_import_person *ann = by_login(p, "ann");
    ck_assert_ptr_nonnull(ann);
    ck_assert(has_role(ann, "operator") && has_role(ann, "application_manager") &&
              has_role(ann, "group:incident-management"));
    ck_assert(ann->ssp_access && ann->is_caller && !ann->generated);
    const struct auth_import_person *gen = by_login(p, "new.op");
    ck_assert_ptr_nonnull(gen);
    ck_assert(gen->generated && !gen->ssp_access && !gen->is_caller && has_role(gen, "operator"));
    /* P5 has no login: logs in by email */
    ck_assert_ptr_nonnull(by_login(p, "eve@example.org"));
    /* conflicts */
    ck_assert_int_eq(conflicts_of(p, "email-match"), 1);            /* O3 ~ P3 */
    ck_assert_ptr_null(by_login(p, "cat.op"));
    ck_assert(!has_role(by_login(p, "cat"), "operator"));
    ck_assert_int_eq(conflicts_of(p, "shared-person"), 1);          /* O4, O5 -> P2 */
    ck_assert(!has_role(by_login(p, "bob"), "operator"));
    ck_assert_int_eq(conflicts_of(p, "duplicate-login"), 1);        /* O6 "DAN" vs P4 "dan" */
    ck_assert_ptr_null(by_login(p, "dan"));
    ck_assert_ptr_null(by_login(p, "DAN"));
    ck_assert_int_eq(conflicts_of(p, "dangling-link"), 1);          /* O7 */
    ck_assert_ptr_null(by_login(p, "ghost"));
    /* accounts: never a person */
    ck_assert_int_eq(p->napi, 1);
    ck_assert_str_eq(p->api[0].id, "crm-sync");
    ck_assert_int_eq(p->nsys, 1);
    ck_assert_str_eq(p->sys[0].id, "scheduler");
    ck_assert_ptr_null(by_login(p, "crm-sync"));
    ck_assert_ptr_null(by_login(p, "scheduler"));
    ck_assert_int_eq(p->npersons, 5);   /* ann bob cat eve + new.op */
    auth_import_plan_free(p);
}
END_TEST

START_TEST(match_email_links_and_ids_are_stable)
{
    struct auth_import_plan *p = plan_of(DOC, true);
    const struct auth_import_person *cat = by_login(p, "cat");
    ck_assert(has_role(cat, "operator"));
    ck_assert_int_eq(conflicts_of(p, "email-match"), 0);
    struct auth_import_plan *q = plan_of(DOC, true);
    for (size_t i = 0; i < p->npersons; i++)
        ck_assert_str_eq(p->persons[i].id, q->persons[i].id);   /* idempotent ids */
    auth_import_plan_free(p);
    auth_import_plan_free(q);
}
END_TEST

START_TEST(not_an_export)
{
    json_t *j = json_loads("[1,2]", 0, NULL);
    struct auth_import_plan *p = NULL;
    char err[256];
    ck_assert_int_eq(auth_import_plan(j, false, &p, err, sizeof(err)), AUTH_DIR_EINVAL);
    ck_assert_ptr_null(p);
    json_decref(j);
    j = json_loads("{\"persons\": {}}", 0, NULL);
    ck_assert_int_eq(auth_import_plan(j, false, &p, err, sizeof(err)), AUTH_DIR_EINVAL);
    json_decref(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("import_plan");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, links_generates_and_reports);
    tcase_add_test(tc, match_email_links_and_ids_are_stable);
    tcase_add_test(tc, not_an_export);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
