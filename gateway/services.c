/* gateway/services.c — the process-wide auth services; see services.h.
 *
 * The pool and the login core are published together through one atomic pointer (struct
 * core), so a worker either sees both or neither. Only the main thread creates or frees them.
 * Each worker touches only its own slot of the async-client array.
 */
#include "gateway/services.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/throttle.h"
#include "gateway/log.h"
#include "gateway/worker.h"

#define ACTOR_MAX 96

struct core {
    struct auth_work_pool *pool;
    struct auth_login *login;
};

struct gw_services {
    char redis_host[INET6_ADDRSTRLEN];
    char *key_prefix;
    struct auth_login_thread_conf tconf;    /* must outlive the pool */
    unsigned nthreads;
    size_t queue_max;
    int work_nice;
    bool work_sched_idle;
    struct auth_sessions *sessions;
    struct auth_throttle *throttle;
    struct auth_redis_async_opts aopts;
    _Atomic(struct core *) core;
    bool warned;
    struct auth_redis_async **ra;           /* [nworkers], slot i touched only by worker i */
    int nworkers;
    bool closing;                           /* gw_services_free began: no new async clients */
};

static struct gw_services *the_services;

struct gw_services *gw_services_get(void)
{
    return the_services;
}

/* A directory job wrapped for auth_work_submit. */
struct dir_job {
    gw_dir_job_fn *job;
    auth_work_done_fn *done;
    void *arg;
    char actor[ACTOR_MAX];
};

static void run_dir_job(void *tctx, void *arg)
{
    struct auth_dir *d = tctx;       /* auth_login_thread_init's context */
    struct dir_job *j = arg;
    if (!d) {
        j->job(NULL, "the directory store is unavailable", j->arg);
        return;
    }
    auth_dir_set_actor(d, j->actor[0] ? j->actor : "gateway");
    j->job(d, NULL, j->arg);
    auth_dir_set_actor(d, "gateway");   /* login jobs on this thread write as the gateway */
}

static void done_dir_job(void *arg, int status)
{
    struct dir_job *j = arg;
    auth_work_done_fn *done = j->done;
    void *uarg = j->arg;
    free(j);
    done(uarg, status);
}

bool gw_services_retry(struct gw_services *s)
{
    char err[256] = "";
    if (atomic_load(&s->core))
        return true;
    struct core *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    struct auth_work_pool_opts po = {
        .nthreads = s->nthreads, .max_queue = s->queue_max, .nice = s->work_nice,
        .idle_sched = s->work_sched_idle,
        .thread_init = auth_login_thread_init, .thread_fini = auth_login_thread_fini,
        .init_arg = &s->tconf,
    };
    if (auth_work_pool_new(&po, &c->pool, err, sizeof err) != 0) {
        if (!s->warned)
            GW_LOG(GW_LOG_ERROR, "directory: cannot open Redis at %s:%d (%s); answering 503 "
                   "where it is needed and retrying every second", s->redis_host,
                   s->tconf.redis.port, err);
        s->warned = true;
        free(c);
        return false;
    }
    struct auth_login_opts lo = { .pool = c->pool, .sessions = s->sessions,
                                  .throttle = s->throttle };
    if (auth_login_new(&lo, &c->login, err, sizeof err) != 0) {
        GW_LOG(GW_LOG_ERROR, "login core: %s", err);
        auth_work_pool_free(c->pool);
        free(c);
        return false;
    }
    if (s->warned)
        GW_LOG(GW_LOG_INFO, "directory: Redis at %s:%d reachable; auth work pool started",
               s->redis_host, s->tconf.redis.port);
    s->warned = false;
    atomic_store(&s->core, c);
    return true;
}

static void throttle_rule(struct auth_throttle_rule *out, const struct gw_throttle_rule_conf *in)
{
    *out = (struct auth_throttle_rule){
        .free_failures = in->free_failures, .base_delay_ms = in->delay_base_ms,
        .max_delay_ms = in->delay_max_ms, .lock_after = in->lock_failures,
        .lock_ms = in->lock_ms, .window_ms = in->window_ms,
    };
}

int gw_services_new(const struct gw_config *cfg, int nworkers, struct gw_services **out,
                    char *err, size_t errlen)
{
    struct gw_services *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->key_prefix = strdup(cfg->redis.key_prefix ? cfg->redis.key_prefix : "og:");
    s->ra = calloc((size_t)(nworkers > 0 ? nworkers : 1), sizeof *s->ra);
    if (!s->key_prefix || !s->ra)
        goto oom;
    s->nworkers = nworkers;
    int port;
    const struct sockaddr *sa = (const struct sockaddr *)&cfg->redis.addr.ss;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, s->redis_host, sizeof s->redis_host);
        port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, s->redis_host, sizeof s->redis_host);
        port = ntohs(s4->sin_port);
    }
    s->tconf.redis = (struct auth_redis_opts){
        .host = s->redis_host, .port = port, .connect_timeout_ms = cfg->redis.timeout_ms,
        .timeout_ms = cfg->redis.timeout_ms, .key_prefix = s->key_prefix,
    };
    s->tconf.dir = (struct auth_dir_opts){
        .pw = { cfg->auth.argon2_memory_kib, cfg->auth.argon2_iterations,
                cfg->auth.argon2_parallelism },
        .actor = "gateway",
    };
    s->aopts = (struct auth_redis_async_opts){
        .host = s->redis_host, .port = port, .connect_timeout_ms = cfg->redis.timeout_ms,
        .timeout_ms = cfg->redis.timeout_ms, .key_prefix = s->key_prefix,
    };
    s->nthreads = cfg->auth.work_threads;
    s->queue_max = cfg->auth.work_queue_max;
    s->work_nice = (int)cfg->auth.work_nice;
    s->work_sched_idle = cfg->auth.work_sched_idle;

    const struct gw_sessions_conf *sc = &cfg->sessions;
    struct auth_session_opts so = { .idle_ms = sc->idle_timeout_ms,
                                    .absolute_ms = sc->absolute_timeout_ms,
                                    .refresh_ms = sc->refresh_interval_ms };
    if (auth_sessions_new(&so, s->key_prefix, &s->sessions, err, errlen) != 0)
        goto fail;
    struct auth_throttle_opts to;
    throttle_rule(&to.account, &sc->throttle.account);
    throttle_rule(&to.addr, &sc->throttle.address);
    if (auth_throttle_new(&to, s->key_prefix, &s->throttle, err, errlen) != 0)
        goto fail;
    gw_services_retry(s);
    the_services = s;
    *out = s;
    return 0;
oom:
    snprintf(err, errlen, "out of memory starting the auth services");
    gw_services_free(s);
    return GW_SVC_ENOMEM;
fail:
    gw_services_free(s);
    return GW_SVC_EINVAL;
}

void gw_services_free(struct gw_services *s)
{
    if (!s)
        return;
    if (the_services == s)
        the_services = NULL;
    /* Order matters. The pool goes first: freeing it runs the last login and directory
     * completions here, and those may ask for a worker's async Redis client (ending the old
     * session after a login). They must find none (closing: gw_services_redis_async returns
     * NULL, never a freed client, never a new one on a loop that no longer runs) and fail
     * closed. Only then are the async clients freed, each slot cleared first; their pending
     * commands (a login still in its throttle check) get their failure callbacks, which touch
     * neither the pool nor the login core. The login core goes last. */
    s->closing = true;
    struct core *c = atomic_exchange(&s->core, NULL);
    if (c)
        auth_work_pool_free(c->pool);       /* runs the last completions here */
    for (int i = 0; s->ra && i < s->nworkers; i++) {
        struct auth_redis_async *ra = s->ra[i];
        s->ra[i] = NULL;
        auth_redis_async_free(ra);
    }
    if (c) {
        auth_login_free(c->login);
        free(c);
    }
    auth_sessions_free(s->sessions);
    auth_throttle_free(s->throttle);
    free(s->ra);
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
        return GW_SVC_EUNAVAILABLE;
    default:
        return GW_SVC_ENOMEM;
    }
}

int gw_services_dir_submit(struct gw_services *s, struct event_base *base, const char *actor,
                           gw_dir_job_fn *job, auth_work_done_fn *done, void *arg)
{
    struct core *c = atomic_load(&s->core);
    if (!c)
        return GW_SVC_EUNAVAILABLE;
    struct dir_job *j = calloc(1, sizeof *j);
    if (!j)
        return GW_SVC_ENOMEM;
    *j = (struct dir_job){ .job = job, .done = done, .arg = arg };
    if (actor)
        snprintf(j->actor, sizeof j->actor, "%s", actor);
    int rc = map_submit(auth_work_submit(c->pool, run_dir_job, done_dir_job, j, base));
    if (rc)
        free(j);
    return rc;
}

struct auth_login *gw_services_login(struct gw_services *s)
{
    struct core *c = atomic_load(&s->core);
    return c ? c->login : NULL;
}

const struct auth_sessions *gw_services_sessions(const struct gw_services *s)
{
    return s->sessions;
}

struct auth_redis_async *gw_services_redis_async(struct gw_services *s, struct gw_worker *w)
{
    if (s->closing || w->id < 0 || w->id >= s->nworkers)
        return NULL;
    if (!s->ra[w->id]) {
        char err[200];
        if (auth_redis_async_new(w->base, &s->aopts, &s->ra[w->id], err, sizeof err) != 0) {
            GW_LOG(GW_LOG_ERROR, "worker %d: async Redis client: %s", w->id, err);
            return NULL;
        }
    }
    return s->ra[w->id];
}
