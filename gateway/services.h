/* gateway/services.h — process-wide auth services the workers share:
 *   - the auth work pool, whose threads each own a blocking Redis client and a directory
 *     handle (auth_login_thread_init: the login core's contract), running password checks
 *     and every directory call (admin API);
 *   - the login core (auth/login.h), sessions and throttle objects (immutable, shared);
 *   - one asynchronous, pipelined Redis client per worker (auth/redis_async.h), made lazily
 *     on that worker's thread, for the per-request session check.
 *
 * Created by main from the first configuration before the workers start. When Redis is
 * unreachable at start, the pool cannot open its connections: the gateway starts anyway
 * (answering 503 where Redis is needed) and main retries every second until it succeeds
 * (gw_services_retry). Freed after the workers' loops have ended and before their bases are
 * freed: pending completions run then. Redis address, key prefix, argon2id figures, session
 * timeouts, throttle figures and the pool size are read at start (a reload keeps them).
 */
#ifndef ONEGATE_GATEWAY_SERVICES_H
#define ONEGATE_GATEWAY_SERVICES_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/directory.h"
#include "auth/login.h"
#include "auth/redis_async.h"
#include "auth/session.h"
#include "auth/work_pool.h"
#include "gateway/config.h"

struct event_base;
struct gw_worker;
struct gw_services;

enum gw_services_err {
    GW_SVC_OK = 0,
    GW_SVC_EFULL = -1,          /* the work queue is full: answer 503 */
    GW_SVC_EUNAVAILABLE = -2,   /* no pool yet (Redis unreachable since start) or shutting
                                 * down: answer 503 */
    GW_SVC_ENOMEM = -3,
    GW_SVC_EINVAL = -4,
};

/* Builds sessions, throttle and (if Redis answers) the pool and login core, for up to
 * <nworkers> workers. Returns 0 and a new object, or GW_SVC_EINVAL / GW_SVC_ENOMEM with
 * <err>. An unreachable Redis is not an error here (see gw_services_retry). */
int gw_services_new(const struct gw_config *cfg, int nworkers, struct gw_services **out,
                    char *err, size_t errlen);

/* Main thread: tries to start the pool if it is not running. Returns true when it runs. */
bool gw_services_retry(struct gw_services *s);

/* Stops the pool (waiting jobs cancelled, running ones finish), frees every worker's async
 * client (pending calls fail with ECANCELED) and delivers every completion on the calling
 * thread. Call after the workers' loops ended, before their bases are freed. NULL is fine. */
void gw_services_free(struct gw_services *s);

/* A job that needs the directory. <dir> is this pool thread's handle with its audit actor set
 * to <actor> for the job, or NULL when Redis could not be opened (then <why> says so; the job
 * must fail closed). Runs on a pool thread: no libevent, no gateway state. */
typedef void gw_dir_job_fn(struct auth_dir *dir, const char *why, void *arg);

/* Queues <job>; <done>(arg, status) runs on <base>'s thread afterwards (status 0, or
 * AUTH_WORK_ECANCELED when the job never ran). <actor> ("admin:bootstrap", "person:<uuid>";
 * no PII) may be NULL. Call on <base>'s thread. Returns 0 or a GW_SVC_E* (then nothing runs
 * and the caller keeps <arg>). */
int gw_services_dir_submit(struct gw_services *s, struct event_base *base, const char *actor,
                           gw_dir_job_fn *job, auth_work_done_fn *done, void *arg);

/* The login core, or NULL while the pool is not running (answer 503). */
struct auth_login *gw_services_login(struct gw_services *s);
const struct auth_sessions *gw_services_sessions(const struct gw_services *s);

/* The async Redis client of worker <w>, made on first use. Call only on <w>'s thread.
 * NULL on ENOMEM. */
struct auth_redis_async *gw_services_redis_async(struct gw_services *s, struct gw_worker *w);

/* The process's services (set by gw_services_new; NULL before). For the request path, which
 * has no other way to reach them; read-only after start. */
struct gw_services *gw_services_get(void);

#endif
