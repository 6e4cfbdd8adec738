/* tests/unit/auth/test_token_store.c — auth/token_store.c against a real redis-server and the
 * real directory: a recorded token is valid, revocation marks it (TTL) and publishes, account
 * disable / rotation without overlap / delete make it unknown or inactive, a record refused
 * when the account changed since the secret check, the index keeps expiring names bounded, and
 * the async check agrees with the blocking one.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/directory.h"
#include "auth/token_store.h"
#include "redis_test_util.h"

static struct test_redis srv;
static struct auth_redis *r;
static struct auth_dir *d;
static char err[512];
static char secret[AUTH_SECRET_TEXT_MAX];

static void setup(void)
{
    ck_assert_int_eq(test_redis_start(&srv), 0);
    struct auth_redis_opts o = { .port = srv.port };
    ck_assert_int_eq(auth_redis_open(&o, &r, err, sizeof(err)), 0);
    struct auth_dir_opts dopts = { .actor = "test" };
    ck_assert_int_eq(auth_dir_open(r, &dopts, &d, err, sizeof(err)), 0);
}

static void teardown(void)
{
    auth_dir_free(d);
    auth_redis_free(r);
    test_redis_destroy(&srv);
}

static unsigned long long make_account(const char *cid)
{
    const char *scopes[] = { "a.read" };
    struct auth_api_account *a = NULL;
    ck_assert_int_eq(auth_api_account_create(d, cid, "t", scopes, 1, secret, &a, err,
                                             sizeof(err)), 0);
    unsigned long long v = a->version;
    auth_api_account_free(a);
    return v;
}

static enum auth_token_state state(const char *cid, const char *jti)
{
    enum auth_token_state st = 99;
    ck_assert_int_eq(auth_token_check(r, cid, jti, &st, err, sizeof(err)), 0);
    return st;
}

static long long redis_int(const char *a0, const char *a1)
{
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), a0, a1, NULL), 0);
    long long v = auth_reply_int(rep);
    auth_reply_free(rep);
    return v;
}

START_TEST(record_check_revoke)
{
    unsigned long long v = make_account("crm-sync");
    ck_assert_int_eq(state("crm-sync", "jti000000000000000001"), AUTH_TOKEN_UNKNOWN);
    ck_assert_int_eq(auth_token_record(r, "crm-sync", "jti000000000000000001", v, 60, err,
                                       sizeof(err)), 0);
    ck_assert_int_eq(state("crm-sync", "jti000000000000000001"), AUTH_TOKEN_VALID);
    ck_assert_int_le(redis_int("TTL", "og:{api}:t:jti000000000000000001"), 60);
    ck_assert_int_ge(redis_int("TTL", "og:{api}:a:crm-sync:tokens"), 59);
    /* another client cannot claim the record */
    make_account("other-app");
    ck_assert_int_eq(state("other-app", "jti000000000000000001"), AUTH_TOKEN_UNKNOWN);
    ck_assert_int_eq(auth_token_revoke(r, "crm-sync", "jti000000000000000001", 40, err,
                                       sizeof(err)), 0);
    ck_assert_int_eq(state("crm-sync", "jti000000000000000001"), AUTH_TOKEN_REVOKED);
    ck_assert_int_le(redis_int("TTL", "og:{api}:revoked:jti000000000000000001"), 40);
    ck_assert_int_eq(redis_int("EXISTS", "og:{api}:t:jti000000000000000001"), 0);
    ck_assert_int_eq(redis_int("SCARD", "og:{api}:a:crm-sync:tokens"), 0);
    /* idempotent */
    ck_assert_int_eq(auth_token_revoke(r, "crm-sync", "jti000000000000000001", 40, err,
                                       sizeof(err)), 0);
    /* bad ids never become key parts */
    ck_assert_int_eq(auth_token_record(r, "crm-sync", "../x", v, 60, err, sizeof(err)),
                     AUTH_TOKEN_EINVAL);
    ck_assert_int_eq(auth_token_record(r, "Bad Id", "abc", v, 60, err, sizeof(err)),
                     AUTH_TOKEN_EINVAL);
}
END_TEST

START_TEST(account_changes)
{
    unsigned long long v = make_account("crm-sync");
    ck_assert_int_eq(auth_token_record(r, "crm-sync", "tokA", v, 60, err, sizeof(err)), 0);
    /* disable: the directory unlinks the index members at once */
    struct auth_revocation rev;
    ck_assert_int_eq(auth_api_account_set_disabled(d, "crm-sync", true, &rev, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(rev.tokens, 1);
    ck_assert_int_eq(state("crm-sync", "tokA"), AUTH_TOKEN_UNKNOWN);
    /* a grant whose secret check saw the old version is refused */
    ck_assert_int_eq(auth_token_record(r, "crm-sync", "tokB", v, 60, err, sizeof(err)),
                     AUTH_TOKEN_ESTALE);
    /* even at the disabled account's current version: the status is checked too */
    struct auth_api_account *a = NULL;
    ck_assert_int_eq(auth_api_account_get(d, "crm-sync", &a, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_token_record(r, "crm-sync", "tokB", a->version, 60, err,
                                       sizeof(err)), AUTH_TOKEN_ESTALE);
    auth_api_account_free(a);
    a = NULL;
    ck_assert_int_eq(auth_api_account_set_disabled(d, "crm-sync", false, &rev, err,
                                                   sizeof(err)), 0);
    ck_assert_int_eq(auth_api_account_get(d, "crm-sync", &a, err, sizeof(err)), 0);
    v = a->version;
    auth_api_account_free(a);
    ck_assert_int_eq(auth_token_record(r, "crm-sync", "tokC", v, 60, err, sizeof(err)), 0);
    ck_assert_int_eq(state("crm-sync", "tokC"), AUTH_TOKEN_VALID);
    ck_assert_int_eq(state("crm-sync", "tokA"), AUTH_TOKEN_UNKNOWN);   /* stays dead */
}
END_TEST

START_TEST(rotation_and_delete)
{
    unsigned long long v = make_account("crm-sync");
    ck_assert_int_eq(auth_token_record(r, "crm-sync", "tokA", v, 60, err, sizeof(err)), 0);
    struct auth_revocation rev;
    ck_assert_int_eq(auth_api_account_rotate(d, "crm-sync", 0, secret, &rev, err, sizeof(err)),
                     0);
    ck_assert_int_eq(state("crm-sync", "tokA"), AUTH_TOKEN_UNKNOWN);
    struct auth_api_account *a = NULL;
    ck_assert_int_eq(auth_api_account_get(d, "crm-sync", &a, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_token_record(r, "crm-sync", "tokB", a->version, 60, err, sizeof(err)),
                     0);
    auth_api_account_free(a);
    ck_assert_int_eq(state("crm-sync", "tokB"), AUTH_TOKEN_VALID);
    ck_assert_int_eq(auth_api_account_delete(d, "crm-sync", &rev, err, sizeof(err)), 0);
    ck_assert_int_eq(state("crm-sync", "tokB"), AUTH_TOKEN_UNKNOWN);
}
END_TEST

START_TEST(index_pruned)
{
    unsigned long long v = make_account("busy-app");
    char jti[32];
    for (int i = 0; i < 200; i++) {
        snprintf(jti, sizeof jti, "old%05d", i);
        ck_assert_int_eq(auth_token_record(r, "busy-app", jti, v, 1, err, sizeof(err)), 0);
    }
    sleep(2);                       /* every record expired; the index names remain */
    for (int i = 0; i < 400; i++) {
        snprintf(jti, sizeof jti, "new%05d", i);
        ck_assert_int_eq(auth_token_record(r, "busy-app", jti, v, 60, err, sizeof(err)), 0);
    }
    /* each record drops up to 3 dead names: the 200 stale ones are mostly gone */
    long long n = redis_int("SCARD", "og:{api}:a:busy-app:tokens");
    ck_assert_msg(n < 450, "index holds %lld names", n);
}
END_TEST

struct async_res {
    int calls, rc;
    enum auth_token_state st;
};

static void on_async(int rc, enum auth_token_state st, void *arg)
{
    struct async_res *a = arg;
    a->calls++;
    a->rc = rc;
    a->st = st;
}

START_TEST(async_check)
{
    unsigned long long v = make_account("crm-sync");
    ck_assert_int_eq(auth_token_record(r, "crm-sync", "tokA", v, 60, err, sizeof(err)), 0);
    struct event_base *base = event_base_new();
    struct auth_redis_async *ra = NULL;
    struct auth_redis_async_opts ao = { .port = srv.port, .timeout_ms = 500 };
    ck_assert_int_eq(auth_redis_async_new(base, &ao, &ra, err, sizeof(err)), 0);
    struct auth_token_check_op op;
    struct async_res res = { 0 };
    ck_assert_int_eq(auth_token_check_async(ra, "crm-sync", "tokA", &op, on_async, &res), 0);
    while (!res.calls)
        event_base_loop(base, EVLOOP_ONCE);
    ck_assert_int_eq(res.rc, 0);
    ck_assert_int_eq(res.st, AUTH_TOKEN_VALID);
    ck_assert_int_eq(auth_token_revoke(r, "crm-sync", "tokA", 60, err, sizeof(err)), 0);
    res.calls = 0;
    ck_assert_int_eq(auth_token_check_async(ra, "crm-sync", "tokA", &op, on_async, &res), 0);
    while (!res.calls)
        event_base_loop(base, EVLOOP_ONCE);
    ck_assert_int_eq(res.st, AUTH_TOKEN_REVOKED);
    /* cancelled: the callback never runs */
    res.calls = 0;
    ck_assert_int_eq(auth_token_check_async(ra, "crm-sync", "tokA", &op, on_async, &res), 0);
    auth_token_check_cancel(&op);
    for (int i = 0; i < 20; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    usleep(20000);
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_int_eq(res.calls, 0);
    /* Redis gone: fail closed */
    test_redis_kill(&srv);
    res.calls = 0;
    int rc = auth_token_check_async(ra, "crm-sync", "tokA", &op, on_async, &res);
    if (rc == 0) {
        while (!res.calls)
            event_base_loop(base, EVLOOP_ONCE);
        ck_assert_int_eq(res.rc, AUTH_TOKEN_EREDIS);
    } else {
        ck_assert_int_eq(rc, AUTH_TOKEN_EREDIS);
    }
    auth_redis_async_free(ra);
    event_base_free(base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("token_store");
    TCase *tc = tcase_create("redis");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, record_check_revoke);
    tcase_add_test(tc, account_changes);
    tcase_add_test(tc, rotation_and_delete);
    tcase_add_test(tc, index_pruned);
    tcase_add_test(tc, async_check);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
