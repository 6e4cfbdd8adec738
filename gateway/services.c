/* gateway/services.c — the process-wide auth work pool and its per-thread directory handles.
 * See services.h. Each pool thread owns one auth_redis + auth_dir (not thread-safe objects,
 * never shared); they are opened on the thread's first directory job and reopened on the next
 * job after opening failed, so a Redis that was down at start or restarted is picked up
 * without a gateway restart. A command that fails with a broken connection is retried by
 * auth_redis itself on the next call (redis_client.h).
 */
#include "gateway/services.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/log.h"

#define ACTOR_MAX 96

struct gw_services {
    struct auth_work_pool *pool;
    char redis_host[INET6_ADDRSTRLEN];
    int redis_port;
    uint32_t redis_timeout_ms;
    char *key_prefix;
    struct auth_pw_params pw;
};

/* One pool thread's context. */
struct dir_thread {
    struct gw_services *svc;
    struct auth_redis *redis;
    struct auth_dir *dir;
    bool warned;                    /* logged the current outage once already */
};

/* A directory job wrapped for auth_work_submit. */
struct dir_job {
    gw_dir_job_fn *job;
    auth_work_done_fn *done;
    void *arg;
    char actor[ACTOR_MAX];
};

static int thread_init(void *init_arg, void **tctx)
{
    struct dir_thread *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->svc = init_arg;
    *tctx = t;
    return 0;
}

static void thread_close_dir(struct dir_thread *t)
{
    auth_dir_free(t->dir);
    auth_redis_free(t->redis);
    t->dir = NULL;
    t->redis = NULL;
}

static void thread_fini(void *init_arg, void *tctx)
{
    struct dir_thread *t = tctx;
    if (!t)
        return;
    thread_close_dir(t);
    free(t);
}

/* Opens this thread's directory if it is not open. Returns 0, or -1 with <why> filled. */
static int thread_dir(struct dir_thread *t, char *why, size_t whylen)
{
    char err[256] = "";
    int rc;
    if (t->dir)
        return 0;
    const struct gw_services *s = t->svc;
    if (!t->redis) {
        struct auth_redis_opts ro = {
            .host = s->redis_host, .port = s->redis_port,
            .connect_timeout_ms = s->redis_timeout_ms, .timeout_ms = s->redis_timeout_ms,
            .key_prefix = s->key_prefix,
        };
        rc = auth_redis_open(&ro, &t->redis, err, sizeof err);
        if (rc)
            goto fail;
    }
    struct auth_dir_opts dopts = { .pw = s->pw, .actor = "gateway" };
    rc = auth_dir_open(t->redis, &dopts, &t->dir, err, sizeof err);
    if (rc)
        goto fail;
    if (t->warned)
        GW_LOG(GW_LOG_INFO, "directory: connected to Redis at %s:%d again", s->redis_host,
               s->redis_port);
    t->warned = false;
    return 0;
fail:
    /* drop the connection too: the next job starts from a fresh connect */
    thread_close_dir(t);
    if (!t->warned)
        GW_LOG(GW_LOG_ERROR, "directory: cannot open Redis at %s:%d: %s", s->redis_host,
               s->redis_port, err);
    t->warned = true;
    snprintf(why, whylen, "the directory store is unavailable");
    return -1;
}

static void run_dir_job(void *tctx, void *arg)
{
    struct dir_thread *t = tctx;
    struct dir_job *j = arg;
    char why[128] = "";
    if (thread_dir(t, why, sizeof why) != 0) {
        j->job(NULL, why, j->arg);
        return;
    }
    auth_dir_set_actor(t->dir, j->actor[0] ? j->actor : "gateway");
    j->job(t->dir, NULL, j->arg);
}

static void done_dir_job(void *arg, int status)
{
    struct dir_job *j = arg;
    auth_work_done_fn *done = j->done;
    void *uarg = j->arg;
    free(j);
    done(uarg, status);
}

int gw_services_new(const struct gw_config *cfg, struct gw_services **out, char *err,
                    size_t errlen)
{
    struct gw_services *s = calloc(1, sizeof *s);
    if (!s || !(s->key_prefix = strdup(cfg->redis.key_prefix ? cfg->redis.key_prefix : "og:")))
        goto oom;
    const struct sockaddr *sa = (const struct sockaddr *)&cfg->redis.addr.ss;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, s->redis_host, sizeof s->redis_host);
        s->redis_port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, s->redis_host, sizeof s->redis_host);
        s->redis_port = ntohs(s4->sin_port);
    }
    s->redis_timeout_ms = cfg->redis.timeout_ms;
    s->pw = (struct auth_pw_params){ cfg->auth.argon2_memory_kib, cfg->auth.argon2_iterations,
                                     cfg->auth.argon2_parallelism };
    struct auth_work_pool_opts po = {
        .nthreads = cfg->auth.work_threads, .max_queue = cfg->auth.work_queue_max,
        .thread_init = thread_init, .thread_fini = thread_fini, .init_arg = s,
    };
    if (auth_work_pool_new(&po, &s->pool, err, errlen) != 0) {
        free(s->key_prefix);
        free(s);
        return GW_SVC_ENOMEM;
    }
    *out = s;
    return 0;
oom:
    if (s)
        free(s->key_prefix);
    free(s);
    snprintf(err, errlen, "out of memory starting the auth work pool");
    return GW_SVC_ENOMEM;
}

void gw_services_free(struct gw_services *s)
{
    if (!s)
        return;
    auth_work_pool_free(s->pool);
    free(s->key_prefix);
    free(s);
}

static int map_submit(int rc)
{
    switch (rc) {
    case AUTH_WORK_OK:
        return GW_SVC_OK;
    case AUTH_WORK_EFULL:
        return GW_SVC_EFULL;
    case AUTH_WORK_ESHUTDOWN:
        return GW_SVC_ESHUTDOWN;
    default:
        return GW_SVC_ENOMEM;
    }
}

int gw_services_dir_submit(struct gw_services *s, struct event_base *base, const char *actor,
                           gw_dir_job_fn *job, auth_work_done_fn *done, void *arg)
{
    struct dir_job *j = calloc(1, sizeof *j);
    if (!j)
        return GW_SVC_ENOMEM;
    *j = (struct dir_job){ .job = job, .done = done, .arg = arg };
    if (actor)
        snprintf(j->actor, sizeof j->actor, "%s", actor);
    int rc = map_submit(auth_work_submit(s->pool, run_dir_job, done_dir_job, j, base));
    if (rc)
        free(j);
    return rc;
}

int gw_services_submit(struct gw_services *s, struct event_base *base, auth_work_job_fn *job,
                       auth_work_done_fn *done, void *arg)
{
    return map_submit(auth_work_submit(s->pool, job, done, arg, base));
}

const struct auth_pw_params *gw_services_pw_params(const struct gw_services *s)
{
    return &s->pw;
}
