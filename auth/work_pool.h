/* auth/work_pool.h — a fixed pool of threads for blocking work (argon2id hashing, directory
 * calls over the blocking Redis client), so event loops never block. A job runs on a pool
 * thread; its done-callback runs back on the thread of the event_base that submitted it
 * (woken through an eventfd watched by that base). Each pool thread may own a context (its
 * own auth_redis + auth_dir, say), made by thread_init on that thread and passed to jobs. */
#ifndef ONEGATE_AUTH_WORK_POOL_H
#define ONEGATE_AUTH_WORK_POOL_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct auth_work_pool;

enum auth_work_err {
    AUTH_WORK_OK = 0,
    AUTH_WORK_EFULL = -1,       /* the queue holds max_queue jobs already: shed load */
    AUTH_WORK_ESHUTDOWN = -2,   /* the pool is shutting down */
    AUTH_WORK_ECANCELED = -3,   /* (done status) the job was dropped at shutdown, never ran */
    AUTH_WORK_ENOMEM = -4,
    AUTH_WORK_EINIT = -5,       /* a thread's init hook failed */
};

/* Runs on a pool thread. <tctx> is that thread's context (NULL without thread_init). */
typedef void auth_work_job_fn(void *tctx, void *arg);
/* Runs on the submitting base's thread: <status> 0 after the job ran, AUTH_WORK_ECANCELED if
 * it never did. Owns <arg> from here on. */
typedef void auth_work_done_fn(void *arg, int status);

struct auth_work_pool_opts {
    unsigned nthreads;          /* default 2 */
    size_t max_queue;           /* jobs waiting (not running); default 1024 */
    /* Nice value (0..19) each pool thread sets for itself at start (Linux: setpriority on its
     * own tid, which applies per thread), so hashing yields the CPU to the event loops. 0 =
     * leave the threads at the process's priority. A process already nicer than this keeps
     * its own value (raising priority back would need privilege). Failure is not fatal. */
    int nice;
    /* Run the threads under SCHED_IDLE instead (Linux): they get the CPU only when nothing
     * else on it wants to run, and an event loop that wakes preempts them at once. <nice> is
     * then not used. Failure is not fatal (the thread falls back to <nice>). */
    bool idle_sched;
    /* Called once on each pool thread before it takes jobs; returns 0 or nonzero to fail
     * auth_work_pool_new. */
    int (*thread_init)(void *init_arg, void **tctx);
    void (*thread_fini)(void *init_arg, void *tctx);
    void *init_arg;
};

/* Starts the threads (and runs every thread_init). Returns 0 and the pool, or
 * AUTH_WORK_ENOMEM / AUTH_WORK_EINIT with <err>. */
int auth_work_pool_new(const struct auth_work_pool_opts *opts, struct auth_work_pool **out,
                       char *err, size_t errlen);

/* Queues <job>; <done> will run on <base>'s thread. Must be called on <base>'s thread (the
 * base is attached on first use). Returns 0, AUTH_WORK_EFULL, AUTH_WORK_ESHUTDOWN or
 * AUTH_WORK_ENOMEM; on error nothing is called and the caller keeps <arg>. */
int auth_work_submit(struct auth_work_pool *pool, auth_work_job_fn *job, auth_work_done_fn *done,
                     void *arg, struct event_base *base);

/* Jobs waiting (not yet taken by a thread). */
size_t auth_work_pool_queued(struct auth_work_pool *pool);

/* Stops taking new jobs, cancels the waiting ones (their done gets AUTH_WORK_ECANCELED),
 * waits for running jobs to finish and joins the threads. Idempotent. Completions are still
 * delivered through the bases (or by auth_work_pool_detach). */
void auth_work_pool_shutdown(struct auth_work_pool *pool);

/* On <base>'s thread, before freeing the base: waits until no job of this base is running,
 * delivers every pending completion now, and forgets the base. Call after shutdown (or when
 * the base submits nothing more). */
void auth_work_pool_detach(struct auth_work_pool *pool, struct event_base *base);

/* Frees the pool: shuts it down if needed, detaches remaining bases (running their pending
 * completions on the calling thread). */
void auth_work_pool_free(struct auth_work_pool *pool);

#endif
