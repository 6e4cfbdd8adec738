/* tests/unit/auth/test_work_pool.c — auth/work_pool.c with a real event_base: jobs run on
 * pool threads, completions on the loop thread, bounded queue, shutdown cancels waiting jobs,
 * per-thread contexts. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/work_pool.h"

static pthread_t loop_thread;
static atomic_int done_count, canceled_count, bad_thread;
static struct event_base *g_base;
static int want_done;

struct item {
    pthread_t ran_on;
    void *tctx;
};

static void job_record(void *tctx, void *arg)
{
    struct item *it = arg;
    it->ran_on = pthread_self();
    it->tctx = tctx;
    usleep(200);
}

static void done_count_cb(void *arg, int status)
{
    struct item *it = arg;
    if (!pthread_equal(pthread_self(), loop_thread) || pthread_equal(it->ran_on, loop_thread))
        bad_thread++;
    if (status == AUTH_WORK_ECANCELED)
        canceled_count++;
    else
        done_count++;
    if (done_count + canceled_count == want_done)
        event_base_loopbreak(g_base);
}

static int init_ctx(void *init_arg, void **tctx)
{
    atomic_int *n = init_arg;
    int *mine = malloc(sizeof(int));
    *mine = ++*n;
    *tctx = mine;
    return 0;
}

static void fini_ctx(void *init_arg, void *tctx)
{
    free(tctx);
}

START_TEST(jobs_run_off_loop_and_complete_on_loop)
{
    atomic_int inits = 0;
    struct auth_work_pool_opts o = { .nthreads = 3, .max_queue = 1000, .thread_init = init_ctx,
                                     .thread_fini = fini_ctx, .init_arg = &inits };
    struct auth_work_pool *pool;
    char err[128];
    ck_assert_int_eq(auth_work_pool_new(&o, &pool, err, sizeof(err)), 0);
    ck_assert_int_eq(inits, 3);
    g_base = event_base_new();
    loop_thread = pthread_self();
    done_count = canceled_count = bad_thread = 0;
    want_done = 200;
    struct item items[200] = { 0 };
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(auth_work_submit(pool, job_record, done_count_cb, &items[i], g_base), 0);
    event_base_dispatch(g_base);
    ck_assert_int_eq(done_count, 200);
    ck_assert_int_eq(bad_thread, 0);
    for (int i = 0; i < 200; i++) {
        ck_assert_ptr_nonnull(items[i].tctx);
        int v = *(int *)items[i].tctx;
        ck_assert(v >= 1 && v <= 3);
    }
    auth_work_pool_detach(pool, g_base);
    auth_work_pool_free(pool);
    event_base_free(g_base);
}
END_TEST

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, blocker_running;

static void job_block(void *tctx, void *arg)
{
    struct item *it = arg;
    it->ran_on = pthread_self();
    pthread_mutex_lock(&gate_lock);
    blocker_running = 1;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static void *open_gate_later(void *arg)
{
    usleep(50 * 1000);
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    return NULL;
}

START_TEST(bounded_queue_and_shutdown_cancels_waiting)
{
    struct auth_work_pool_opts o = { .nthreads = 1, .max_queue = 2 };
    struct auth_work_pool *pool;
    char err[128];
    ck_assert_int_eq(auth_work_pool_new(&o, &pool, err, sizeof(err)), 0);
    g_base = event_base_new();
    loop_thread = pthread_self();
    done_count = canceled_count = bad_thread = 0;
    gate_open = blocker_running = 0;
    struct item items[4] = { 0 };
    ck_assert_int_eq(auth_work_submit(pool, job_block, done_count_cb, &items[0], g_base), 0);
    pthread_mutex_lock(&gate_lock);
    while (!blocker_running)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    ck_assert_int_eq(auth_work_submit(pool, job_record, done_count_cb, &items[1], g_base), 0);
    ck_assert_int_eq(auth_work_submit(pool, job_record, done_count_cb, &items[2], g_base), 0);
    ck_assert_int_eq(auth_work_pool_queued(pool), 2);
    ck_assert_int_eq(auth_work_submit(pool, job_record, done_count_cb, &items[3], g_base),
                     AUTH_WORK_EFULL);
    pthread_t t;
    pthread_create(&t, NULL, open_gate_later, NULL);
    auth_work_pool_shutdown(pool);      /* cancels 1 and 2, waits for the blocker */
    pthread_join(t, NULL);
    ck_assert_int_eq(auth_work_submit(pool, job_record, done_count_cb, &items[3], g_base),
                     AUTH_WORK_ESHUTDOWN);
    ck_assert_int_eq(done_count + canceled_count, 0);   /* nothing delivered off-loop */
    auth_work_pool_detach(pool, g_base);                /* delivers here, on our thread */
    ck_assert_int_eq(done_count, 1);
    ck_assert_int_eq(canceled_count, 2);
    ck_assert_int_eq(bad_thread, 0);
    auth_work_pool_free(pool);
    event_base_free(g_base);
}
END_TEST

static int init_fail(void *init_arg, void **tctx)
{
    return -1;
}

START_TEST(failing_thread_init_fails_new)
{
    struct auth_work_pool_opts o = { .nthreads = 2, .thread_init = init_fail };
    struct auth_work_pool *pool = (void *)1;
    char err[128] = "";
    ck_assert_int_eq(auth_work_pool_new(&o, &pool, err, sizeof(err)), AUTH_WORK_EINIT);
    ck_assert_ptr_null(pool);
    ck_assert(err[0] != 0);
}
END_TEST

/* Each job reads its pool thread's nice value (getpriority on the thread's own tid). */
struct prio_item {
    int nice, err;
    pid_t tid;
};

static void job_prio(void *tctx, void *arg)
{
    struct prio_item *it = arg;
    it->tid = gettid();
    errno = 0;
    it->nice = getpriority(PRIO_PROCESS, (id_t)it->tid);
    it->err = errno;
}

static int prio_done;

static void done_prio(void *arg, int status)
{
    ck_assert_int_eq(status, 0);
    if (++prio_done == 4)
        event_base_loopbreak(g_base);
}

/* Runs 4 jobs of <job> on a 2-thread pool made with <o>; each fills its item, and every item
 * must come from a pool thread with <want> in its .nice field. */
static void run_on_pool(const struct auth_work_pool_opts *o, auth_work_job_fn *job, int want)
{
    g_base = event_base_new();
    struct auth_work_pool *pool = NULL;
    char err[128] = "";
    ck_assert_int_eq(auth_work_pool_new(o, &pool, err, sizeof(err)), 0);
    struct prio_item items[4] = { { 0 } };
    prio_done = 0;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(auth_work_submit(pool, job, done_prio, &items[i], g_base), 0);
    event_base_dispatch(g_base);
    ck_assert_int_eq(prio_done, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(items[i].err, 0);
        ck_assert_int_ne(items[i].tid, gettid());
        ck_assert_int_eq(items[i].nice, want);
    }
    auth_work_pool_free(pool);
    event_base_free(g_base);
    g_base = NULL;
}

/* Checks every pool thread's nice value against <want> and that the calling thread kept
 * <base>. */
static void check_pool_nice(int nice, int want, int base)
{
    struct auth_work_pool_opts o = { .nthreads = 2, .nice = nice };
    run_on_pool(&o, job_prio, want);
    /* the event loop's thread keeps the process's priority */
    ck_assert_int_eq(getpriority(PRIO_PROCESS, (id_t)gettid()), base);
}

/* Each job reads its pool thread's scheduling policy (into .nice). */
static void job_policy(void *tctx, void *arg)
{
    struct prio_item *it = arg;
    it->tid = gettid();
    it->nice = sched_getscheduler(0);
    it->err = it->nice < 0 ? errno : 0;
}

START_TEST(pool_threads_idle_sched)
{
    struct auth_work_pool_opts o = { .nthreads = 2, .nice = 10, .idle_sched = true };
    run_on_pool(&o, job_policy, SCHED_IDLE);
    /* the event loop's thread keeps its policy */
    ck_assert_int_eq(sched_getscheduler(0), SCHED_OTHER);
}
END_TEST

START_TEST(pool_threads_run_at_configured_nice)
{
    /* the test may itself run niced (ctest under nice): a pool never raises priority */
    int base = getpriority(PRIO_PROCESS, (id_t)gettid());
    ck_assert_int_lt(base, 17);
    check_pool_nice(10, base > 10 ? base : 10, base);
    check_pool_nice(17, 17, base);
    check_pool_nice(0, base, base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("work_pool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, jobs_run_off_loop_and_complete_on_loop);
    tcase_add_test(tc, bounded_queue_and_shutdown_cancels_waiting);
    tcase_add_test(tc, failing_thread_init_fails_new);
    tcase_add_test(tc, pool_threads_run_at_configured_nice);
    tcase_add_test(tc, pool_threads_idle_sched);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
