/* auth/work_pool.c — fixed thread pool with per-event_base completion delivery (eventfd).
 * See work_pool.h. Locking: pool->lock guards the job queue, the waker list and counters;
 * each waker's own lock guards its completion list (taken by pool threads and its base). */
#include "auth/work_pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

struct waker;

struct job {
    auth_work_job_fn *fn;
    auth_work_done_fn *done;
    void *arg;
    struct waker *w;
    int status;
    struct job *next;
};

struct waker {
    struct event_base *base;
    struct event *ev;
    int efd;
    pthread_mutex_t lock;
    struct job *done_head, *done_tail;  /* completions waiting for the base */
    size_t in_flight;                   /* queued + running + undelivered, under pool->lock */
    struct waker *next;
};

struct auth_work_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;                /* jobs available / shutdown */
    pthread_cond_t idle;                /* a job finished (for detach) */
    struct job *head, *tail;
    size_t queued, max_queue;
    bool stopping, joined;
    unsigned nthreads, started, init_failed;
    pthread_t *threads;
    struct waker *wakers;
    struct auth_work_pool_opts opts;
};

static void deliver(struct waker *w, struct job *j)
{
    bool was_empty;
    pthread_mutex_lock(&w->lock);
    was_empty = w->done_head == NULL;
    j->next = NULL;
    if (w->done_tail)
        w->done_tail->next = j;
    else
        w->done_head = j;
    w->done_tail = j;
    pthread_mutex_unlock(&w->lock);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t n;
        do {
            n = write(w->efd, &one, sizeof(one));
        } while (n < 0 && errno == EINTR);
    }
}

/* Runs pending completions of <w> on the calling (base) thread. */
static void drain(struct auth_work_pool *pool, struct waker *w)
{
    uint64_t v;
    ssize_t n = read(w->efd, &v, sizeof(v));
    (void)n;
    pthread_mutex_lock(&w->lock);
    struct job *j = w->done_head;
    w->done_head = w->done_tail = NULL;
    pthread_mutex_unlock(&w->lock);
    while (j) {
        struct job *next = j->next;
        j->done(j->arg, j->status);
        free(j);
        pthread_mutex_lock(&pool->lock);
        w->in_flight--;
        pthread_cond_broadcast(&pool->idle);
        pthread_mutex_unlock(&pool->lock);
        j = next;
    }
}


static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct waker *w = arg;
    (void)fd;
    (void)what;
    /* the pool pointer is stored right after the waker allocation; see attach() */
    struct auth_work_pool *pool = *(struct auth_work_pool **)(w + 1);
    drain(pool, w);
}

/* Lowers the calling thread's priority to <nice> (never raises it above the process's). */
static void lower_priority(int nice)
{
    if (nice <= 0)
        return;
    if (nice > 19)
        nice = 19;
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, (id_t)gettid());
    if (errno != 0 || cur >= nice)
        return;
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), nice);
}

/* Moves the calling thread to SCHED_IDLE. Returns 0 or -1. */
static int idle_priority(void)
{
    struct sched_param sp = { .sched_priority = 0 };
    return pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0 ? 0 : -1;
}

static void *worker_main(void *arg)
{
    struct auth_work_pool *pool = arg;
    void *tctx = NULL;
    if (!pool->opts.idle_sched || idle_priority() != 0)
        lower_priority(pool->opts.nice);
    int irc = pool->opts.thread_init ? pool->opts.thread_init(pool->opts.init_arg, &tctx) : 0;
    pthread_mutex_lock(&pool->lock);
    pool->started++;
    if (irc)
        pool->init_failed++;
    pthread_cond_broadcast(&pool->idle);
    pthread_mutex_unlock(&pool->lock);
    if (irc)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (!pool->head && !pool->stopping)
            pthread_cond_wait(&pool->cond, &pool->lock);
        if (!pool->head) {
            pthread_mutex_unlock(&pool->lock);
            break;
        }
        struct job *j = pool->head;
        pool->head = j->next;
        if (!pool->head)
            pool->tail = NULL;
        pool->queued--;
        pthread_mutex_unlock(&pool->lock);
        j->fn(tctx, j->arg);
        j->status = 0;
        deliver(j->w, j);
    }
    if (pool->opts.thread_fini)
        pool->opts.thread_fini(pool->opts.init_arg, tctx);
    return NULL;
}

int auth_work_pool_new(const struct auth_work_pool_opts *opts, struct auth_work_pool **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    struct auth_work_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return AUTH_WORK_ENOMEM;
    pool->opts = *opts;
    pool->nthreads = opts->nthreads ? opts->nthreads : 2;
    pool->max_queue = opts->max_queue ? opts->max_queue : 1024;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);
    pthread_cond_init(&pool->idle, NULL);
    pool->threads = calloc(pool->nthreads, sizeof(*pool->threads));
    if (!pool->threads) {
        free(pool);
        return AUTH_WORK_ENOMEM;
    }
    unsigned created = 0;
    for (; created < pool->nthreads; created++)
        if (pthread_create(&pool->threads[created], NULL, worker_main, pool) != 0)
            break;
    pthread_mutex_lock(&pool->lock);
    while (pool->started < created)
        pthread_cond_wait(&pool->idle, &pool->lock);
    bool failed = pool->init_failed > 0 || created < pool->nthreads;
    pool->nthreads = created;
    pthread_mutex_unlock(&pool->lock);
    if (failed) {
        snprintf(err, errlen, "work pool: %s", created < pool->nthreads ? "cannot create threads"
                 : "a thread's init hook failed");
        auth_work_pool_free(pool);
        return AUTH_WORK_EINIT;
    }
    *out = pool;
    return 0;
}

/* Finds or creates the waker of <base>. Called on the base's thread. */
static struct waker *attach(struct auth_work_pool *pool, struct event_base *base)
{
    pthread_mutex_lock(&pool->lock);
    struct waker *w = pool->wakers;
    while (w && w->base != base)
        w = w->next;
    pthread_mutex_unlock(&pool->lock);
    if (w)
        return w;
    /* the waker carries a back-pointer to the pool right behind it */
    w = calloc(1, sizeof(*w) + sizeof(struct auth_work_pool *));
    if (!w)
        return NULL;
    *(struct auth_work_pool **)(w + 1) = pool;
    w->base = base;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, on_wake, w);
    if (!w->ev || event_add(w->ev, NULL) != 0) {
        if (w->ev)
            event_free(w->ev);
        close(w->efd);
        free(w);
        return NULL;
    }
    pthread_mutex_lock(&pool->lock);
    w->next = pool->wakers;
    pool->wakers = w;
    pthread_mutex_unlock(&pool->lock);
    return w;
}

int auth_work_submit(struct auth_work_pool *pool, auth_work_job_fn *job, auth_work_done_fn *done,
                     void *arg, struct event_base *base)
{
    struct waker *w = attach(pool, base);
    if (!w)
        return AUTH_WORK_ENOMEM;
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return AUTH_WORK_ENOMEM;
    j->fn = job;
    j->done = done;
    j->arg = arg;
    j->w = w;
    pthread_mutex_lock(&pool->lock);
    int rc = 0;
    if (pool->stopping)
        rc = AUTH_WORK_ESHUTDOWN;
    else if (pool->queued >= pool->max_queue)
        rc = AUTH_WORK_EFULL;
    if (rc == 0) {
        if (pool->tail)
            pool->tail->next = j;
        else
            pool->head = j;
        pool->tail = j;
        pool->queued++;
        w->in_flight++;
        pthread_cond_signal(&pool->cond);
    }
    pthread_mutex_unlock(&pool->lock);
    if (rc)
        free(j);
    return rc;
}

size_t auth_work_pool_queued(struct auth_work_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->queued;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void auth_work_pool_shutdown(struct auth_work_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    if (pool->joined) {
        pthread_mutex_unlock(&pool->lock);
        return;
    }
    pool->stopping = true;
    struct job *j = pool->head;
    pool->head = pool->tail = NULL;
    pool->queued = 0;
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    while (j) {
        struct job *next = j->next;
        j->status = AUTH_WORK_ECANCELED;
        deliver(j->w, j);
        j = next;
    }
    for (unsigned i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_mutex_lock(&pool->lock);
    pool->joined = true;
    pthread_mutex_unlock(&pool->lock);
}

static void waker_free(struct auth_work_pool *pool, struct waker *w)
{
    drain(pool, w);
    event_free(w->ev);
    close(w->efd);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void auth_work_pool_detach(struct auth_work_pool *pool, struct event_base *base)
{
    pthread_mutex_lock(&pool->lock);
    struct waker **pp = &pool->wakers, *w = NULL;
    while (*pp && (*pp)->base != base)
        pp = &(*pp)->next;
    w = *pp;
    if (!w) {
        pthread_mutex_unlock(&pool->lock);
        return;
    }
    /* Wait for jobs of this base still queued or running, delivering as they finish. */
    while (w->in_flight > 0) {
        pthread_mutex_unlock(&pool->lock);
        drain(pool, w);
        pthread_mutex_lock(&pool->lock);
        if (w->in_flight > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 5 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&pool->idle, &pool->lock, &ts);
        }
    }
    *pp = w->next;
    pthread_mutex_unlock(&pool->lock);
    waker_free(pool, w);
}

void auth_work_pool_free(struct auth_work_pool *pool)
{
    if (!pool)
        return;
    auth_work_pool_shutdown(pool);
    while (pool->wakers) {
        struct waker *w = pool->wakers;
        pool->wakers = w->next;
        waker_free(pool, w);
    }
    free(pool->threads);
    pthread_cond_destroy(&pool->cond);
    pthread_cond_destroy(&pool->idle);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}
