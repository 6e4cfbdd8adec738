/* tests/unit/auth/test_login.c — auth/login.c with a real work pool, a real event_base and a
 * real redis-server: a good login yields a working session; every kind of bad credentials
 * gives the same external result; throttling; rehash on login; cancellation; Redis down;
 * and the race contract (person archived while its password check runs: no usable session
 * once the archive returned). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/directory.h"
#include "auth/login.h"
#include "redis_test_util.h"

static struct test_redis srv;
static struct event_base *base;
static struct auth_redis *r;
static struct auth_dir *dir;
static struct auth_redis_async *ra;
static struct auth_work_pool *pool;
static struct auth_sessions *ss;
static struct auth_throttle *thr;
static struct auth_login *lg;
static struct auth_login_thread_conf tconf;
static char err[512];

/* cheap hashing for most tests; the race test uses its own, slower card */
static const struct auth_pw_params fast = { .memory_kib = 1024, .iterations = 1,
                                            .parallelism = 1 };

static void setup_with(const struct auth_pw_params *pool_pw)
{
    ck_assert_int_eq(test_redis_start(&srv), 0);
    base = event_base_new();
    struct auth_redis_opts o = { .port = srv.port };
    ck_assert_int_eq(auth_redis_open(&o, &r, err, sizeof(err)), 0);
    struct auth_dir_opts dopts = { .pw = fast, .actor = "test" };
    ck_assert_int_eq(auth_dir_open(r, &dopts, &dir, err, sizeof(err)), 0);
    struct auth_redis_async_opts ao = { .port = srv.port, .timeout_ms = 300,
                                        .reconnect_min_ms = 20, .reconnect_max_ms = 100 };
    ck_assert_int_eq(auth_redis_async_new(base, &ao, &ra, err, sizeof(err)), 0);
    tconf = (struct auth_login_thread_conf){ .redis = { .port = srv.port },
                                             .dir = { .pw = *pool_pw, .actor = "login" } };
    struct auth_work_pool_opts po = { .nthreads = 2, .thread_init = auth_login_thread_init,
                                      .thread_fini = auth_login_thread_fini,
                                      .init_arg = &tconf };
    ck_assert_int_eq(auth_work_pool_new(&po, &pool, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_sessions_new(NULL, NULL, &ss, err, sizeof(err)), 0);
    struct auth_throttle_opts to = {
        .account = { .free_failures = 3, .base_delay_ms = 300, .max_delay_ms = 1000,
                     .lock_after = 6, .lock_ms = 5000, .window_ms = 60000 },
        .addr = { .free_failures = 50, .base_delay_ms = 100, .max_delay_ms = 100,
                  .lock_after = 100, .lock_ms = 1000, .window_ms = 60000 },
    };
    ck_assert_int_eq(auth_throttle_new(&to, NULL, &thr, err, sizeof(err)), 0);
    struct auth_login_opts lo = { .pool = pool, .sessions = ss, .throttle = thr };
    ck_assert_int_eq(auth_login_new(&lo, &lg, err, sizeof(err)), 0);
}

static void setup(void)
{
    setup_with(&fast);
}

static void teardown(void)
{
    auth_work_pool_shutdown(pool);
    auth_work_pool_detach(pool, base);
    auth_work_pool_free(pool);
    auth_login_free(lg);
    auth_throttle_free(thr);
    auth_sessions_free(ss);
    auth_redis_async_free(ra);
    auth_dir_free(dir);
    auth_redis_free(r);
    event_base_free(base);
    test_redis_destroy(&srv);
}

static void run_until(volatile int *flag, int want, int ms)
{
    for (int i = 0; i < ms * 2 && *flag < want; i++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(500);
    }
}

struct res {
    int calls;
    enum auth_login_status status;
    enum auth_login_reason reason;
    uint32_t retry;
    char cookie[64], sid[32], pid[40], login[64];
    bool rehashed;
    size_t nroles;
};

static void login_cb(const struct auth_login_result *x, void *arg)
{
    struct res *s = arg;
    s->calls++;
    s->status = x->status;
    s->reason = x->reason;
    s->retry = x->retry_after_ms;
    s->rehashed = x->rehashed;
    if (x->status == AUTH_LOGIN_OK) {
        snprintf(s->cookie, sizeof(s->cookie), "%s", x->session->cookie);
        snprintf(s->sid, sizeof(s->sid), "%s", x->session->sid);
        snprintf(s->pid, sizeof(s->pid), "%s", x->person->id);
        snprintf(s->login, sizeof(s->login), "%s", x->person->login);
        s->nroles = x->person->nroles;
        ck_assert_str_eq(x->person->pwhash, "");
    }
}

static struct res do_login(const char *user, const char *pw, const char *addr)
{
    struct res s = { 0 };
    struct auth_login_req req = { .username = user, .password = pw, .password_len = strlen(pw),
                                  .client_addr = addr, .user_agent = "unit", .portal = "ssp" };
    int rc = auth_login_start(lg, base, ra, &req, login_cb, &s, NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(s.calls, 0);
    run_until(&s.calls, 1, 5000);
    ck_assert_int_eq(s.calls, 1);
    return s;
}

static struct auth_person *mkperson(const char *login, const char *pw)
{
    struct auth_person_input in = { .login = login, .password = pw, .ssp_access = true };
    char email[96];
    snprintf(email, sizeof(email), "%s@example.org", login);
    in.email = email;
    struct auth_person *p = NULL;
    ck_assert_msg(auth_person_create(dir, &in, &p, err, sizeof(err)) == 0, "%s", err);
    return p;
}

struct touch_res {
    int calls, rc;
};

static void touch_cb(int rc, const struct auth_session_info *in, void *arg)
{
    struct touch_res *t = arg;
    t->calls++;
    t->rc = rc;
}

static int touch(const char *cookie)
{
    struct touch_res t = { 0 };
    struct auth_session_op op;
    int rc = auth_session_touch(ss, ra, cookie, strlen(cookie), NULL, &op, touch_cb, &t);
    if (rc)
        return rc;
    run_until(&t.calls, 1, 3000);
    return t.rc;
}

START_TEST(good_login_makes_a_session)
{
    struct auth_person *p = mkperson("pat", "correct horse battery");
    struct res s = do_login("pat", "correct horse battery", "192.0.2.1");
    ck_assert_int_eq(s.status, AUTH_LOGIN_OK);
    ck_assert_str_eq(s.pid, p->id);
    ck_assert_str_eq(s.login, "pat");
    ck_assert_uint_eq(strlen(s.cookie), AUTH_SESSION_COOKIE_LEN);
    ck_assert_int_eq(touch(s.cookie), 0);
    /* by email, in another case */
    s = do_login("PAT@example.org", "correct horse battery", "192.0.2.1");
    ck_assert_int_eq(s.status, AUTH_LOGIN_OK);
    ck_assert(!s.rehashed);
    auth_person_free(p);
}
END_TEST

START_TEST(bad_credentials_all_look_the_same)
{
    struct auth_person *p = mkperson("pat", "correct horse battery");
    struct auth_person *nopw = NULL, *arch = mkperson("arch", "correct horse battery");
    struct auth_person_input in = { .login = "nopw" };
    ck_assert_int_eq(auth_person_create(dir, &in, &nopw, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_person_archive(dir, arch->id, NULL, err, sizeof(err)), 0);
    struct { const char *user, *pw; enum auth_login_reason why; } cases[] = {
        { "pat", "wrong password!", AUTH_LOGIN_R_BAD_PASSWORD },
        { "nobody", "correct horse battery", AUTH_LOGIN_R_UNKNOWN_USER },
        { "nopw", "correct horse battery", AUTH_LOGIN_R_NO_PASSWORD },
        { "arch", "correct horse battery", AUTH_LOGIN_R_NOT_ACTIVE },
        { "", "", AUTH_LOGIN_R_UNKNOWN_USER },
        { "pat\r\nX: y", "correct horse battery", AUTH_LOGIN_R_UNKNOWN_USER },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct res s = do_login(cases[i].user, cases[i].pw, "192.0.2.9");
        ck_assert_int_eq(s.status, AUTH_LOGIN_DENIED);
        ck_assert_int_eq(s.reason, cases[i].why);
        ck_assert_uint_eq(s.retry, 0);
        ck_assert_str_eq(s.cookie, "");
    }
    auth_person_free(p);
    auth_person_free(nopw);
    auth_person_free(arch);
}
END_TEST

START_TEST(throttled_after_failures_then_success_resets)
{
    struct auth_person *p = mkperson("pat", "correct horse battery");
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(do_login("pat", "nope nope", "192.0.2.1").retry, 0);
    struct res s = do_login("pat", "nope nope", "192.0.2.1");
    ck_assert_int_eq(s.status, AUTH_LOGIN_DENIED);
    ck_assert_uint_eq(s.retry, 300);
    /* even the right password is refused while the delay runs, without a password check */
    s = do_login("pat", "correct horse battery", "192.0.2.1");
    ck_assert_int_eq(s.status, AUTH_LOGIN_THROTTLED);
    ck_assert_uint_gt(s.retry, 0);
    ck_assert_uint_le(s.retry, 300);
    /* an unknown name is throttled exactly alike */
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(do_login("ghost", "nope nope", "192.0.2.2").retry, 0);
    ck_assert_uint_eq(do_login("ghost", "nope nope", "192.0.2.2").retry, 300);
    ck_assert_int_eq(do_login("ghost", "nope nope", "192.0.2.2").status, AUTH_LOGIN_THROTTLED);
    usleep(320 * 1000);
    s = do_login("pat", "correct horse battery", "192.0.2.1");
    ck_assert_int_eq(s.status, AUTH_LOGIN_OK);
    /* the counter was reset: the next failure is free again */
    ck_assert_uint_eq(do_login("pat", "nope nope", "192.0.2.1").retry, 0);
    auth_person_free(p);
}
END_TEST

START_TEST(cancel_in_each_stage)
{
    struct auth_person *p = mkperson("pat", "correct horse battery");
    struct res s = { 0 };
    struct auth_login_req req = { .username = "pat", .password = "correct horse battery",
                                  .password_len = 21 };
    struct auth_login_op *op = NULL;
    /* during the throttle check */
    ck_assert_int_eq(auth_login_start(lg, base, ra, &req, login_cb, &s, &op), 0);
    auth_login_cancel(op);
    /* during the pool job: step the loop until the throttle replies are in (the job is
     * submitted then); its completion cannot have been delivered without another pass */
    ck_assert_int_eq(auth_login_start(lg, base, ra, &req, login_cb, &s, &op), 0);
    for (int i = 0; i < 20000 && auth_redis_async_pending(ra) > 0; i++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(50);
    }
    ck_assert_uint_eq(auth_redis_async_pending(ra), 0);
    ck_assert_int_eq(s.calls, 0);
    auth_login_cancel(op);
    /* a normal login afterwards still completes; the cancelled ones never call back */
    struct res after = do_login("pat", "correct horse battery", NULL);
    ck_assert_int_eq(after.status, AUTH_LOGIN_OK);
    usleep(200 * 1000);
    run_until(&s.calls, 1, 200);
    ck_assert_int_eq(s.calls, 0);
    auth_person_free(p);
}
END_TEST

START_TEST(redis_down_is_unavailable)
{
    struct auth_person *p = mkperson("pat", "correct horse battery");
    test_redis_pause(&srv);
    struct res s = do_login("pat", "correct horse battery", NULL);
    test_redis_resume(&srv);
    ck_assert_int_eq(s.status, AUTH_LOGIN_UNAVAILABLE);
    test_redis_kill(&srv);
    /* connection gone: either refused at once or answered unavailable */
    struct res s2 = { 0 };
    struct auth_login_req req = { .username = "pat", .password = "x", .password_len = 1 };
    for (int i = 0; i < 50; i++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(2000);
    }
    int rc = auth_login_start(lg, base, ra, &req, login_cb, &s2, NULL);
    if (rc == 0) {
        run_until(&s2.calls, 1, 3000);
        ck_assert_int_eq(s2.status, AUTH_LOGIN_UNAVAILABLE);
    } else {
        ck_assert_int_eq(rc, AUTH_LOGIN_EUNAVAILABLE);
    }
    auth_person_free(p);
}
END_TEST

/* Rehash: the card was hashed with other parameters than the pool's directory uses. */
static void setup_rehash(void)
{
    static const struct auth_pw_params other = { .memory_kib = 2048, .iterations = 1,
                                                 .parallelism = 1 };
    setup_with(&other);
}

START_TEST(rehash_on_login)
{
    struct auth_person *p = mkperson("pat", "correct horse battery");
    ck_assert(strstr(p->pwhash, "m=1024") != NULL);
    struct res s = do_login("pat", "correct horse battery", NULL);
    ck_assert_int_eq(s.status, AUTH_LOGIN_OK);
    ck_assert(s.rehashed);
    ck_assert_int_eq(touch(s.cookie), 0);   /* session made with the post-rehash version */
    struct auth_person *q = NULL;
    ck_assert_int_eq(auth_person_get(dir, p->id, &q, err, sizeof(err)), 0);
    ck_assert(strstr(q->pwhash, "m=2048") != NULL);
    s = do_login("pat", "correct horse battery", NULL);
    ck_assert_int_eq(s.status, AUTH_LOGIN_OK);
    ck_assert(!s.rehashed);
    auth_person_free(p);
    auth_person_free(q);
}
END_TEST

/* Race contract: the person is archived (or deleted) while the password check may still be
 * running on the pool. Once the archive call has returned, no session of this person may
 * work, whatever the login reported. Default argon2 cost so the check takes a while. */
static void setup_slow(void)
{
    static const struct auth_pw_params slow = { .memory_kib = 19456, .iterations = 2,
                                                .parallelism = 1 };
    setup_with(&slow);
}

START_TEST(race_archive_during_check)
{
    int violations = 0, ok_before = 0, denied = 0;
    for (int i = 0; i < 24; i++) {
        char login[32];
        snprintf(login, sizeof(login), "race%d", i);
        struct auth_person *p = mkperson(login, "correct horse battery");
        struct res s = { 0 };
        struct auth_login_req req = { .username = login, .password = "correct horse battery",
                                      .password_len = 21 };
        ck_assert_int_eq(auth_login_start(lg, base, ra, &req, login_cb, &s, NULL), 0);
        /* let the loop run for 0..92 ms, then archive or delete from "another instance" */
        long long until = i * 4;
        for (long long t = 0; t < until * 2; t++) {
            event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
            usleep(500);
        }
        if (i % 2)
            ck_assert_int_eq(auth_person_archive(dir, p->id, NULL, err, sizeof(err)), 0);
        else
            ck_assert_int_eq(auth_person_delete(dir, p->id, 0, NULL, err, sizeof(err)), 0);
        run_until(&s.calls, 1, 5000);
        ck_assert_int_eq(s.calls, 1);
        if (s.status == AUTH_LOGIN_OK) {
            ok_before++;
            if (touch(s.cookie) != AUTH_SESSION_ENOTFOUND)
                violations++;
        } else {
            denied++;
        }
        auth_person_free(p);
    }
    fprintf(stderr, "race: %d logins succeeded before the archive/delete, %d refused, "
            "%d violations\n", ok_before, denied, violations);
    ck_assert_int_eq(violations, 0);
    ck_assert_int_eq(ok_before + denied, 24);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("login");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, good_login_makes_a_session);
    tcase_add_test(tc, bad_credentials_all_look_the_same);
    tcase_add_test(tc, throttled_after_failures_then_success_resets);
    tcase_add_test(tc, cancel_in_each_stage);
    tcase_add_test(tc, redis_down_is_unavailable);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("rehash");
    tcase_add_checked_fixture(tr, setup_rehash, teardown);
    tcase_set_timeout(tr, 60);
    tcase_add_test(tr, rehash_on_login);
    suite_add_tcase(s, tr);
    TCase *tx = tcase_create("race");
    tcase_add_checked_fixture(tx, setup_slow, teardown);
    tcase_set_timeout(tx, 120);
    tcase_add_test(tx, race_archive_during_check);
    suite_add_tcase(s, tx);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
