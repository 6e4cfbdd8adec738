/* tests/unit/auth/test_throttle.c — auth/throttle.c against a real redis-server: delays grow
 * after the free failures, the temporary lock, the window, success resets the account
 * counter only, per-address counting across names, key names shared with the directory
 * (anonymize removes them), and fail-closed checks. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/directory.h"
#include "auth/throttle.h"
#include "redis_test_util.h"

static struct test_redis srv;
static struct event_base *base;
static struct auth_redis *r;
static struct auth_redis_async *ra;
static struct auth_throttle *thr;
static char err[512];

static const struct auth_throttle_opts figures = {
    .account = { .free_failures = 2, .base_delay_ms = 200, .max_delay_ms = 500,
                 .lock_after = 6, .lock_ms = 3000, .window_ms = 10000 },
    .addr = { .free_failures = 8, .base_delay_ms = 100, .max_delay_ms = 100,
              .lock_after = 10, .lock_ms = 2000, .window_ms = 10000 },
};

static void setup(void)
{
    ck_assert_int_eq(test_redis_start(&srv), 0);
    base = event_base_new();
    struct auth_redis_opts o = { .port = srv.port };
    ck_assert_int_eq(auth_redis_open(&o, &r, err, sizeof(err)), 0);
    struct auth_redis_async_opts ao = { .port = srv.port, .timeout_ms = 300 };
    ck_assert_int_eq(auth_redis_async_new(base, &ao, &ra, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_throttle_new(&figures, NULL, &thr, err, sizeof(err)), 0);
}

static void teardown(void)
{
    auth_throttle_free(thr);
    auth_redis_async_free(ra);
    auth_redis_free(r);
    event_base_free(base);
    test_redis_destroy(&srv);
}

struct chk {
    int calls, rc;
    uint32_t wait;
};

static void chk_cb(int rc, uint32_t wait, void *arg)
{
    struct chk *c = arg;
    c->calls++;
    c->rc = rc;
    c->wait = wait;
}

static struct chk check(const char *login, const char *addr)
{
    struct chk c = { 0 };
    struct auth_throttle_op op;
    int rc = auth_throttle_check(thr, ra, login, addr, &op, chk_cb, &c);
    if (rc) {
        c.rc = rc;
        return c;
    }
    for (int i = 0; i < 3000 && !c.calls; i++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
    ck_assert_int_eq(c.calls, 1);
    return c;
}

static uint32_t record_fail(const char *login, const char *addr)
{
    uint32_t w = 0;
    ck_assert_msg(auth_throttle_record(thr, r, login, addr, false, &w, err, sizeof(err)) == 0,
                  "%s", err);
    return w;
}

START_TEST(delays_grow_then_lock)
{
    /* free failures: no delay */
    ck_assert_uint_eq(check("pat", "192.0.2.1").wait, 0);
    ck_assert_uint_eq(record_fail("pat", "192.0.2.1"), 0);
    ck_assert_uint_eq(record_fail("pat", "192.0.2.1"), 0);
    ck_assert_uint_eq(check("pat", "192.0.2.1").wait, 0);
    /* then 200, 400, 500 (cap), 500 */
    uint32_t expect[] = { 200, 400, 500 };
    for (int i = 0; i < 3; i++) {
        uint32_t w = record_fail("pat", "192.0.2.1");
        ck_assert_uint_eq(w, expect[i]);
        struct chk c = check("pat", "192.0.2.1");
        ck_assert_int_eq(c.rc, 0);
        ck_assert_msg(c.wait > expect[i] - 100 && c.wait <= expect[i], "wait %u", c.wait);
        /* the same name in other case is the same account */
        ck_assert_uint_gt(check("PAT", "192.0.2.99").wait, 0);
        usleep((expect[i] + 20) * 1000);
        ck_assert_uint_eq(check("pat", "192.0.2.1").wait, 0);
    }
    /* 6th failure: the temporary lock */
    ck_assert_uint_eq(record_fail("pat", "192.0.2.1"), 3000);
    struct chk c = check("pat", "192.0.2.1");
    ck_assert_msg(c.wait > 2500, "wait %u", c.wait);
    /* other accounts from another address are not affected */
    ck_assert_uint_eq(check("someone", "192.0.2.2").wait, 0);
    /* the key carries a TTL: counters go by themselves */
    char *k = auth_throttle_key_account(thr, "pat");
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "PTTL", k, NULL), 0);
    ck_assert_int_gt(auth_reply_int(rep), 9000);
    auth_reply_free(rep);
    /* success resets the account counter */
    ck_assert_int_eq(auth_throttle_record(thr, r, "pat", "192.0.2.1", true, NULL, err,
                                          sizeof(err)), 0);
    ck_assert_uint_eq(check("pat", "192.0.2.3").wait, 0);
    free(k);
}
END_TEST

START_TEST(unknown_and_known_names_alike)
{
    /* The throttle never looks at the directory: the sequence is the same for any name. */
    uint32_t a[8], b[8];
    for (int i = 0; i < 8; i++) {
        a[i] = record_fail("exists", NULL);
        b[i] = record_fail("nobody-at-all", NULL);
    }
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(a[i], b[i]);
}
END_TEST

START_TEST(per_address_across_names)
{
    char name[32];
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        ck_assert_uint_eq(check(name, "198.51.100.7").wait, 0);
        record_fail(name, "198.51.100.7");
    }
    /* 9 failures from one address over 9 names: the address waits, a fresh name too */
    struct chk c = check("fresh-name", "198.51.100.7");
    ck_assert_uint_gt(c.wait, 0);
    ck_assert_uint_eq(check("fresh-name", "198.51.100.8").wait, 0);
    record_fail("user9", "198.51.100.7");      /* 10th: address locked */
    ck_assert_uint_gt(check("fresh-name", "198.51.100.7").wait, 1500);
}
END_TEST

START_TEST(keys_shared_with_directory)
{
    struct auth_dir *d = NULL;
    ck_assert_int_eq(auth_dir_open(r, NULL, &d, err, sizeof(err)), 0);
    char *a = auth_throttle_key_account(thr, "Pat.Example@Example.ORG");
    char *b = auth_dir_key_throttle(d, "pat.example@example.org");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    /* names that are not printable ASCII are hashed (no control bytes in key names) */
    char *h = auth_throttle_key_account(thr, "p\xc3\xa4t\r\n");
    ck_assert(strncmp(h, "og:thr:a:h:", 11) == 0);
    ck_assert_uint_eq(strlen(h), 11 + 64);
    free(h);
    /* anonymize removes the person's throttle counters */
    struct auth_person_input in = { .login = "anna", .email = "anna@example.org" };
    struct auth_person *p = NULL;
    ck_assert_int_eq(auth_person_create(d, &in, &p, err, sizeof(err)), 0);
    record_fail("Anna", NULL);
    record_fail("anna@example.org", NULL);
    char *k1 = auth_throttle_key_account(thr, "anna");
    char *k2 = auth_throttle_key_account(thr, "anna@example.org");
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "EXISTS", k1, k2, NULL), 0);
    ck_assert_int_eq(auth_reply_int(rep), 2);
    auth_reply_free(rep);
    ck_assert_int_eq(auth_person_anonymize(d, p->id, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "EXISTS", k1, k2, NULL), 0);
    ck_assert_int_eq(auth_reply_int(rep), 0);
    auth_reply_free(rep);
    free(k1);
    free(k2);
    auth_person_free(p);
    auth_dir_free(d);
}
END_TEST

START_TEST(bad_figures_and_fail_closed)
{
    struct auth_throttle *t = NULL;
    struct auth_throttle_opts o = figures;
    o.account.lock_after = 1;   /* <= free_failures */
    ck_assert_int_eq(auth_throttle_new(&o, NULL, &t, err, sizeof(err)), AUTH_THROTTLE_EINVAL);
    /* Redis not answering: the check fails (refuse the attempt) */
    test_redis_pause(&srv);
    struct chk c = check("pat", "192.0.2.1");
    test_redis_resume(&srv);
    ck_assert_int_eq(c.rc, AUTH_THROTTLE_EREDIS);
    /* script cache flushed between calls: record falls back to EVAL */
    record_fail("pat", NULL);
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "SCRIPT", "FLUSH", NULL), 0);
    auth_reply_free(rep);
    record_fail("pat", "192.0.2.1");
    ck_assert_uint_eq(record_fail("pat", "192.0.2.1"), 200);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("throttle");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, delays_grow_then_lock);
    tcase_add_test(tc, unknown_and_known_names_alike);
    tcase_add_test(tc, per_address_across_names);
    tcase_add_test(tc, keys_shared_with_directory);
    tcase_add_test(tc, bad_figures_and_fail_closed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
