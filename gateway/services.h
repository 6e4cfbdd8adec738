/* gateway/services.h — process-wide services the workers share: the auth work pool whose
 * threads each own a blocking Redis client and a directory handle (auth/redis_client.h,
 * auth/directory.h), opened lazily and reopened after a failure.
 *
 * Created by main from the first configuration before the workers start; freed after the
 * workers have stopped and before they are destroyed (gw_services_free delivers the last
 * completions on the calling thread while the workers' event bases still exist). Redis
 * address, key prefix, argon2id parameters and the pool size are taken at start: changing
 * them needs a restart (a reload logs that).
 */
#ifndef ONEGATE_GATEWAY_SERVICES_H
#define ONEGATE_GATEWAY_SERVICES_H

#include <stddef.h>

#include "auth/directory.h"
#include "auth/work_pool.h"
#include "gateway/config.h"

struct event_base;
struct gw_services;

enum gw_services_err {
    GW_SVC_OK = 0,
    GW_SVC_EFULL = -1,          /* the work queue is full: answer 503 */
    GW_SVC_ESHUTDOWN = -2,      /* shutting down: answer 503 */
    GW_SVC_ENOMEM = -3,
};

/* Starts the work pool (cfg->auth.work_threads threads). Threads connect to Redis on their
 * first job, not here, so onegate starts while Redis is down. Returns 0 and a new object, or
 * GW_SVC_ENOMEM with <err>. */
int gw_services_new(const struct gw_config *cfg, struct gw_services **out, char *err,
                    size_t errlen);

/* Stops the pool: waiting jobs are cancelled (their done gets AUTH_WORK_ECANCELED), running
 * ones finish, and every completion is delivered on the calling thread. Call after the
 * workers' loops have ended, before their bases are freed. NULL is fine. */
void gw_services_free(struct gw_services *s);

/* A job that needs the directory. <dir> is this pool thread's handle with its audit actor set
 * to <actor>, or NULL when Redis cannot be reached (then <why> says so; the job must fail
 * closed). Runs on a pool thread: no libevent, no gateway state. */
typedef void gw_dir_job_fn(struct auth_dir *dir, const char *why, void *arg);

/* Queues <job>; <done>(arg, status) runs on <base>'s thread afterwards (status 0, or
 * AUTH_WORK_ECANCELED when the job never ran). <actor> (copied into the job's thread before it
 * runs; no PII: "admin:bootstrap", "person:<uuid>") may be NULL. Call on <base>'s thread.
 * Returns 0 or a GW_SVC_E* (then nothing runs and the caller keeps <arg>). */
int gw_services_dir_submit(struct gw_services *s, struct event_base *base, const char *actor,
                           gw_dir_job_fn *job, auth_work_done_fn *done, void *arg);

/* Same pool, a job that needs no directory (password hashing). */
int gw_services_submit(struct gw_services *s, struct event_base *base, auth_work_job_fn *job,
                       auth_work_done_fn *done, void *arg);

/* The argon2id parameters from the configuration the services were made with. */
const struct auth_pw_params *gw_services_pw_params(const struct gw_services *s);

#endif
