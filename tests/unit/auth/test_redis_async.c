/* tests/unit/auth/test_redis_async.c — auth/redis_async.c against a real redis-server started
 * by the test, on a real event_base: replies, pipelining order, NOSCRIPT fallback,
 * cancellation, the command deadline (server paused with SIGSTOP), a server stopped with
 * commands in flight (every callback gets an error exactly once, reconnect after restart),
 * and the subscriber (messages, resubscribe after restart). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/redis_async.h"
#include "redis_test_util.h"

static struct test_redis srv;
static struct event_base *base;

static void setup(void)
{
    ck_assert_int_eq(test_redis_start(&srv), 0);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
}

static void teardown(void)
{
    event_base_free(base);
    test_redis_destroy(&srv);
}

static struct auth_redis_async *client(uint32_t timeout_ms)
{
    struct auth_redis_async_opts o = { .port = srv.port, .timeout_ms = timeout_ms,
                                       .reconnect_min_ms = 20, .reconnect_max_ms = 100 };
    struct auth_redis_async *a = NULL;
    char err[256];
    ck_assert_int_eq(auth_redis_async_new(base, &o, &a, err, sizeof(err)), 0);
    return a;
}

/* Runs the loop until *flag becomes true or <ms> pass. */
static void run_until(volatile int *flag, int want, int ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (*flag >= want)
            return;
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (el > ms)
            return;
        usleep(200);
    }
}

struct rec {
    int calls;
    int rc;
    long long ival;
    char str[128];
    int order[256];
    int norder;
};

static void rec_cb(int rc, const struct auth_reply *rep, const char *msg, void *arg)
{
    struct rec *r = arg;
    r->calls++;
    r->rc = rc;
    r->str[0] = 0;
    if (rc == 0 && auth_reply_type(rep) == AUTH_REPLY_INTEGER)
        r->ival = auth_reply_int(rep);
    else if (rc == 0 && auth_reply_str(rep, NULL))
        snprintf(r->str, sizeof(r->str), "%s", auth_reply_str(rep, NULL));
    else if (rc)
        snprintf(r->str, sizeof(r->str), "%s", msg);
}

static int cmd(struct auth_redis_async *a, struct rec *r, const char *a0, const char *a1,
               const char *a2)
{
    const char *argv[3] = { a0, a1, a2 };
    int argc = a2 ? 3 : a1 ? 2 : 1;
    return auth_redis_async_cmd_argv(a, argc, argv, NULL, rec_cb, r, NULL);
}

START_TEST(reply_and_pipeline_order)
{
    struct auth_redis_async *a = client(500);
    struct rec set = { 0 }, get = { 0 };
    ck_assert_int_eq(cmd(a, &set, "SET", "k", "v1"), 0);
    ck_assert_int_eq(cmd(a, &get, "GET", "k", NULL), 0);
    ck_assert_int_eq(set.calls + get.calls, 0);   /* never from inside submit */
    run_until(&get.calls, 1, 2000);
    ck_assert_int_eq(set.calls, 1);
    ck_assert_int_eq(set.rc, 0);
    ck_assert_int_eq(get.rc, 0);
    ck_assert_str_eq(get.str, "v1");
    /* 200 INCRs issued back to back: replies arrive in order, one callback each */
    struct rec inc[200];
    memset(inc, 0, sizeof(inc));
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(cmd(a, &inc[i], "INCR", "ctr", NULL), 0);
    ck_assert_uint_eq(auth_redis_async_pending(a), 200);
    run_until(&inc[199].calls, 1, 2000);
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(inc[i].calls, 1);
        ck_assert_int_eq(inc[i].ival, i + 1);
    }
    ck_assert_uint_eq(auth_redis_async_pending(a), 0);
    /* a server error reply */
    struct rec bad = { 0 };
    ck_assert_int_eq(cmd(a, &bad, "INCR", "k", NULL), 0);
    run_until(&bad.calls, 1, 2000);
    ck_assert_int_eq(bad.rc, AUTH_REDIS_EREPLY);
    ck_assert_msg(strstr(bad.str, "not an integer") != NULL, "%s", bad.str);
    auth_redis_async_free(a);
}
END_TEST

static struct auth_redis_script echo_script = {
    .name = "echo",
    .src = "#!lua\nreturn KEYS[1] .. '|' .. ARGV[1]\n",
};

START_TEST(eval_noscript_fallback)
{
    struct auth_redis_async *a = client(500);
    struct rec r1 = { 0 }, flush = { 0 }, r2 = { 0 };
    const char *keys[1] = { "key" };
    const char *args[1] = { "a\0b" };
    size_t lens[1] = { 3 };
    /* first call: not cached on the server, EVALSHA -> NOSCRIPT -> EVAL */
    ck_assert_int_eq(auth_redis_async_eval(a, &echo_script, 1, keys, 1, args, lens, rec_cb,
                                           &r1, NULL), 0);
    run_until(&r1.calls, 1, 2000);
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_str_eq(r1.str, "key|a");   /* binary arg: NUL inside */
    ck_assert_int_eq(cmd(a, &flush, "SCRIPT", "FLUSH", NULL), 0);
    ck_assert_int_eq(auth_redis_async_eval(a, &echo_script, 1, keys, 1, args, lens, rec_cb,
                                           &r2, NULL), 0);
    run_until(&r2.calls, 1, 2000);
    ck_assert_int_eq(r2.calls, 1);
    ck_assert_int_eq(r2.rc, 0);
    auth_redis_async_free(a);
}
END_TEST

START_TEST(cancel_suppresses_callback)
{
    struct auth_redis_async *a = client(500);
    struct rec r = { 0 }, after = { 0 };
    struct auth_redis_call *call = NULL;
    const char *argv[2] = { "INCR", "c" };
    ck_assert_int_eq(auth_redis_async_cmd_argv(a, 2, argv, NULL, rec_cb, &r, &call), 0);
    ck_assert_ptr_nonnull(call);
    auth_redis_call_cancel(call);
    ck_assert_int_eq(cmd(a, &after, "GET", "c", NULL), 0);
    run_until(&after.calls, 1, 2000);
    ck_assert_int_eq(r.calls, 0);
    ck_assert_str_eq(after.str, "1");    /* the command itself did run */
    auth_redis_async_free(a);
}
END_TEST

START_TEST(deadline_when_server_paused)
{
    struct auth_redis_async *a = client(150);
    struct rec warm = { 0 };
    ck_assert_int_eq(cmd(a, &warm, "PING", NULL, NULL), 0);
    run_until(&warm.calls, 1, 2000);
    ck_assert(auth_redis_async_connected(a));
    test_redis_pause(&srv);
    struct rec r = { 0 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(cmd(a, &r, "SET", "p", "1"), 0);
    run_until(&r.calls, 1, 3000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.rc, AUTH_REDIS_ETIMEDOUT);
    ck_assert_msg(el >= 140 && el < 1000, "deadline after %ld ms", el);
    test_redis_resume(&srv);
    /* the late reply is dropped, not delivered a second time */
    struct rec after = { 0 };
    ck_assert_int_eq(cmd(a, &after, "GET", "p", NULL), 0);
    run_until(&after.calls, 1, 2000);
    ck_assert_int_eq(after.rc, 0);
    ck_assert_int_eq(r.calls, 1);
    struct auth_redis_async_stats st;
    auth_redis_async_get_stats(a, &st);
    ck_assert_uint_eq(st.timeouts, 1);
    auth_redis_async_free(a);
}
END_TEST

START_TEST(server_stop_errors_then_reconnect)
{
    struct auth_redis_async *a = client(2000);
    struct rec warm = { 0 };
    ck_assert_int_eq(cmd(a, &warm, "PING", NULL, NULL), 0);
    run_until(&warm.calls, 1, 2000);
    /* pause so commands are surely in flight, then kill the server (no reply ever comes) */
    test_redis_pause(&srv);
    struct rec r[20];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(cmd(a, &r[i], "INCR", "x", NULL), 0);
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);     /* flush the writes */
    test_redis_kill(&srv);
    run_until(&r[19].calls, 1, 3000);
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(r[i].calls, 1);
        ck_assert_msg(r[i].rc == AUTH_REDIS_EIO, "rc %d", r[i].rc);
    }
    ck_assert(!auth_redis_async_connected(a));
    /* while down: refused at once, callback never runs */
    int down_rc = 0;
    struct rec d = { 0 };
    for (int i = 0; i < 50 && down_rc == 0; i++) {
        down_rc = cmd(a, &d, "PING", NULL, NULL);
        if (down_rc == 0) {
            run_until(&d.calls, 1, 1000);
            d.calls = 0;
        }
    }
    ck_assert_int_eq(down_rc, AUTH_REDIS_ECONNECT);
    ck_assert_int_eq(test_redis_spawn(&srv), 0);
    /* reconnects by itself (backoff capped at 100 ms here) */
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        run_until(&ok, 1, 20);
        ok = auth_redis_async_connected(a);
    }
    ck_assert(ok);
    struct rec again = { 0 };
    ck_assert_int_eq(cmd(a, &again, "SET", "y", "2"), 0);
    run_until(&again.calls, 1, 2000);
    ck_assert_int_eq(again.rc, 0);
    auth_redis_async_free(a);
}
END_TEST

START_TEST(free_cancels_pending)
{
    struct auth_redis_async *a = client(2000);
    test_redis_pause(&srv);
    struct rec r = { 0 };
    ck_assert_int_eq(cmd(a, &r, "PING", NULL, NULL), 0);
    auth_redis_async_free(a);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.rc, AUTH_REDIS_ECANCELED);
    test_redis_resume(&srv);
}
END_TEST

START_TEST(connect_refused_then_up)
{
    /* nothing listens: calls fail (EIO or ECONNECT), never hang */
    test_redis_stop(&srv);
    struct auth_redis_async *a = client(300);
    struct rec r = { 0 };
    int rc = cmd(a, &r, "PING", NULL, NULL);
    if (rc == 0) {
        run_until(&r.calls, 1, 2000);
        ck_assert_int_eq(r.calls, 1);
        ck_assert_int_eq(r.rc, AUTH_REDIS_EIO);
    } else {
        ck_assert_int_eq(rc, AUTH_REDIS_ECONNECT);
    }
    ck_assert_int_eq(test_redis_spawn(&srv), 0);
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        run_until(&ok, 1, 20);
        ok = auth_redis_async_connected(a);
    }
    ck_assert(ok);
    auth_redis_async_free(a);
}
END_TEST

struct subrec {
    int resyncs;
    int msgs;
    char last[128];
};

static void sub_cb(const char *msg, size_t len, void *arg)
{
    struct subrec *s = arg;
    if (!msg) {
        s->resyncs++;
        return;
    }
    s->msgs++;
    snprintf(s->last, sizeof(s->last), "%.*s", (int)len, msg);
}

START_TEST(subscriber_messages_and_resubscribe)
{
    struct auth_redis_async_opts o = { .port = srv.port, .reconnect_min_ms = 20,
                                       .reconnect_max_ms = 100 };
    struct subrec s = { 0 };
    struct auth_redis_sub *sub = NULL;
    char err[256];
    ck_assert_int_eq(auth_redis_sub_new(base, &o, "og:events", sub_cb, &s, &sub, err,
                                        sizeof(err)), 0);
    run_until(&s.resyncs, 1, 2000);
    ck_assert_int_eq(s.resyncs, 1);
    ck_assert(auth_redis_sub_active(sub));
    struct auth_redis_async *a = client(500);
    struct rec pub = { 0 };
    ck_assert_int_eq(cmd(a, &pub, "PUBLISH", "og:events", "hello"), 0);
    run_until(&s.msgs, 1, 2000);
    ck_assert_int_eq(pub.ival, 1);
    ck_assert_str_eq(s.last, "hello");
    test_redis_stop(&srv);
    ck_assert_int_eq(test_redis_spawn(&srv), 0);
    run_until(&s.resyncs, 2, 3000);
    ck_assert_int_eq(s.resyncs, 2);
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) {
        run_until(&up, 1, 20);
        up = auth_redis_async_connected(a);
    }
    struct rec pub2 = { 0 };
    ck_assert_int_eq(cmd(a, &pub2, "PUBLISH", "og:events", "again"), 0);
    run_until(&s.msgs, 2, 2000);
    ck_assert_str_eq(s.last, "again");
    auth_redis_async_free(a);
    auth_redis_sub_free(sub);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("redis_async");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, reply_and_pipeline_order);
    tcase_add_test(tc, eval_noscript_fallback);
    tcase_add_test(tc, cancel_suppresses_callback);
    tcase_add_test(tc, deadline_when_server_paused);
    tcase_add_test(tc, server_stop_errors_then_reconnect);
    tcase_add_test(tc, free_cancels_pending);
    tcase_add_test(tc, connect_refused_then_up);
    tcase_add_test(tc, subscriber_messages_and_resubscribe);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
