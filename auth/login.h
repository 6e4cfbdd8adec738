/* auth/login.h — the login core the gateway calls for the login form and the JSON login
 * endpoint: throttle check (async Redis, on the worker's loop) -> person lookup and argon2id
 * verification, rehash if the parameters changed, session creation and the throttle record
 * (one work-pool job, blocking Redis on the pool thread) -> one callback on the worker's
 * thread with the result.
 *
 * Whatever goes wrong with the credentials (unknown name, wrong password, no password set,
 * person archived/anonymized, or the card changed under the check), the external result is
 * the same AUTH_LOGIN_DENIED, after the same work (a dummy verification for unknown names);
 * <reason> says which, for logs only.
 *
 * Work-pool contract: the pool's thread contexts must be made by auth_login_thread_init
 * (each pool thread owns a blocking auth_redis and an auth_dir; the context is the
 * struct auth_dir *). Other jobs on the same pool can use that auth_dir too.
 */
#ifndef ONEGATE_AUTH_LOGIN_H
#define ONEGATE_AUTH_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/directory.h"
#include "auth/redis_async.h"
#include "auth/session.h"
#include "auth/throttle.h"
#include "auth/work_pool.h"

struct event_base;

enum auth_login_err {
    AUTH_LOGIN_EUNAVAILABLE = -1,   /* Redis down (fail closed) or pool full: answer 503 */
    AUTH_LOGIN_EINVAL = -2,
    AUTH_LOGIN_ENOMEM = -3,
};

/* What the client may learn. */
enum auth_login_status {
    AUTH_LOGIN_OK = 0,              /* session created: set the cookie */
    AUTH_LOGIN_DENIED,              /* "wrong user name or password" — nothing more */
    AUTH_LOGIN_THROTTLED,           /* too many failures: retry after retry_after_ms */
    AUTH_LOGIN_UNAVAILABLE,         /* Redis down, timed out, pool full or shutting down */
};

/* Why, for the log line only (never shown to the client). */
enum auth_login_reason {
    AUTH_LOGIN_R_NONE = 0,
    AUTH_LOGIN_R_UNKNOWN_USER,
    AUTH_LOGIN_R_BAD_PASSWORD,
    AUTH_LOGIN_R_NO_PASSWORD,
    AUTH_LOGIN_R_NOT_ACTIVE,
    AUTH_LOGIN_R_PERSON_CHANGED,    /* card changed during the check in a way that voids it */
    AUTH_LOGIN_R_THROTTLED,
    AUTH_LOGIN_R_REDIS,
    AUTH_LOGIN_R_BUSY,              /* work pool queue full */
    AUTH_LOGIN_R_SHUTDOWN,
};
const char *auth_login_status_name(enum auth_login_status s);
const char *auth_login_reason_name(enum auth_login_reason r);

struct auth_login_opts {
    struct auth_work_pool *pool;            /* borrowed; contexts from auth_login_thread_init */
    const struct auth_sessions *sessions;   /* borrowed */
    const struct auth_throttle *throttle;   /* borrowed */
};

struct auth_login;

/* Returns 0 and a new login core (free with auth_login_free after the pool is shut down),
 * AUTH_LOGIN_EINVAL or AUTH_LOGIN_ENOMEM. Shareable by every worker (immutable). */
int auth_login_new(const struct auth_login_opts *opts, struct auth_login **out,
                   char *err, size_t errlen);
void auth_login_free(struct auth_login *lg);

/* Work-pool thread context: pass as auth_work_pool_opts.thread_init / thread_fini with
 * init_arg = struct auth_login_thread_conf * (must outlive the pool). */
struct auth_login_thread_conf {
    struct auth_redis_opts redis;
    struct auth_dir_opts dir;               /* pw: the argon2id parameters for (re)hashing */
};
int auth_login_thread_init(void *init_arg, void **tctx);
void auth_login_thread_fini(void *init_arg, void *tctx);

/* The attempt. Strings are copied (the password into memory wiped after use). */
struct auth_login_req {
    const char *username;           /* login name or email, as typed */
    const char *password;
    size_t password_len;
    const char *client_addr;        /* for the address throttle and the session; may be NULL */
    const char *user_agent;         /* may be NULL */
    const char *portal;             /* portal the login is for; may be NULL */
};

struct auth_login_result {
    enum auth_login_status status;
    enum auth_login_reason reason;          /* logs only */
    uint32_t retry_after_ms;                /* THROTTLED: wait; DENIED: delay this failure
                                             * imposed on the next attempt (may be 0) */
    const struct auth_session_created *session; /* OK only: cookie (secret), sid, fingerprint,
                                                 * auth time, absolute expiry */
    const struct auth_person *person;       /* OK only: the card the session was made with
                                             * (pwhash is ""): id, login, name, roles, flags */
    bool rehashed;                          /* OK: the password hash was upgraded */
};

/* Everything in <res> is borrowed for the duration of the callback. */
typedef void auth_login_cb(const struct auth_login_result *res, void *arg);

struct auth_login_op;

/* Starts a login on <base>'s thread; <ra> is that worker's async Redis client. Returns 0
 * (then <cb> runs exactly once on <base>'s thread, later, unless cancelled; <*op> is the
 * handle for cancellation, may be NULL), or AUTH_LOGIN_EUNAVAILABLE (Redis down) /
 * AUTH_LOGIN_ENOMEM at once, and <cb> never runs. */
int auth_login_start(struct auth_login *lg, struct event_base *base,
                     struct auth_redis_async *ra, const struct auth_login_req *req,
                     auth_login_cb *cb, void *arg, struct auth_login_op **op);

/* The client went away: <cb> will not run. A password check already running finishes on its
 * pool thread and its failure still counts for the throttle; it creates no session if it sees
 * the cancellation first, and a session made in the last instant is unreachable (its cookie
 * is wiped unsent) and goes by the idle timeout. Only between a successful start and the
 * callback. */
void auth_login_cancel(struct auth_login_op *op);

#endif
