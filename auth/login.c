/* auth/login.c — the login core (see login.h): async throttle check on the worker's loop,
 * then one work-pool job that looks the person up, verifies the password (or a dummy),
 * rehashes if needed, creates the session with the card version it verified against, and
 * records the outcome for the throttle; the result comes back on the worker's thread. */
#include "auth/login.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define LOGIN_USERNAME_MAX 320
#define LOGIN_STALE_RETRIES 3

struct auth_login {
    struct auth_work_pool *pool;
    const struct auth_sessions *sessions;
    const struct auth_throttle *throttle;
};

enum op_stage { STAGE_THROTTLE, STAGE_POOL };

struct auth_login_op {
    struct auth_login *lg;
    struct event_base *base;
    auth_login_cb *cb;
    void *arg;
    enum op_stage stage;
    atomic_bool cancelled;
    struct auth_throttle_op thr;
    /* input (own copies) */
    char *username;
    char *password;
    size_t password_len;
    char *client_addr;
    char *user_agent;
    char *portal;
    /* output, written by the job */
    struct auth_login_result res;
    struct auth_session_created created;
    struct auth_person *person;
};

const char *auth_login_status_name(enum auth_login_status s)
{
    switch (s) {
    case AUTH_LOGIN_OK: return "ok";
    case AUTH_LOGIN_DENIED: return "denied";
    case AUTH_LOGIN_THROTTLED: return "throttled";
    case AUTH_LOGIN_UNAVAILABLE: return "unavailable";
    }
    return "unknown";
}

const char *auth_login_reason_name(enum auth_login_reason r)
{
    switch (r) {
    case AUTH_LOGIN_R_NONE: return "none";
    case AUTH_LOGIN_R_UNKNOWN_USER: return "unknown_user";
    case AUTH_LOGIN_R_BAD_PASSWORD: return "bad_password";
    case AUTH_LOGIN_R_NO_PASSWORD: return "no_password";
    case AUTH_LOGIN_R_NOT_ACTIVE: return "not_active";
    case AUTH_LOGIN_R_PERSON_CHANGED: return "person_changed";
    case AUTH_LOGIN_R_THROTTLED: return "throttled";
    case AUTH_LOGIN_R_REDIS: return "redis";
    case AUTH_LOGIN_R_BUSY: return "busy";
    case AUTH_LOGIN_R_SHUTDOWN: return "shutdown";
    }
    return "unknown";
}

int auth_login_new(const struct auth_login_opts *opts, struct auth_login **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (!opts || !opts->pool || !opts->sessions || !opts->throttle) {
        snprintf(err, errlen, "login needs a work pool, sessions and a throttle");
        return AUTH_LOGIN_EINVAL;
    }
    struct auth_login *lg = calloc(1, sizeof(*lg));
    if (!lg)
        return AUTH_LOGIN_ENOMEM;
    lg->pool = opts->pool;
    lg->sessions = opts->sessions;
    lg->throttle = opts->throttle;
    *out = lg;
    return 0;
}

void auth_login_free(struct auth_login *lg)
{
    free(lg);
}

int auth_login_thread_init(void *init_arg, void **tctx)
{
    const struct auth_login_thread_conf *c = init_arg;
    char err[256];
    struct auth_redis *r = NULL;
    struct auth_dir *d = NULL;
    *tctx = NULL;
    if (auth_redis_open(&c->redis, &r, err, sizeof(err)) != 0)
        return -1;
    if (auth_dir_open(r, &c->dir, &d, err, sizeof(err)) != 0) {
        auth_redis_free(r);
        return -1;
    }
    *tctx = d;
    return 0;
}

void auth_login_thread_fini(void *init_arg, void *tctx)
{
    struct auth_dir *d = tctx;
    if (!d)
        return;
    struct auth_redis *r = auth_dir_redis(d);
    auth_dir_free(d);
    auth_redis_free(r);
}

static void op_free(struct auth_login_op *op)
{
    if (!op)
        return;
    free(op->username);
    if (op->password) {
        sodium_memzero(op->password, op->password_len);
        free(op->password);
    }
    free(op->client_addr);
    free(op->user_agent);
    free(op->portal);
    sodium_memzero(&op->created, sizeof(op->created));
    auth_person_free(op->person);
    free(op);
}

static void deliver(struct auth_login_op *op)
{
    if (op->res.status == AUTH_LOGIN_OK) {
        op->res.session = &op->created;
        op->res.person = op->person;
    }
    op->cb(&op->res, op->arg);
    op_free(op);
}

/* ---- the pool job ---- */

static int lookup(struct auth_dir *d, const char *name, struct auth_person **p)
{
    char err[256];
    int rc = auth_person_get_by_login(d, name, p, err, sizeof(err));
    if (rc == AUTH_DIR_ENOTFOUND && strchr(name, '@'))
        rc = auth_person_get_by_email(d, name, p, err, sizeof(err));
    return rc;
}

static void clear_pwhash(struct auth_person *p)
{
    if (p && p->pwhash) {
        sodium_memzero(p->pwhash, strlen(p->pwhash));
        p->pwhash[0] = 0;
    }
}

/* Verifies and, on success, creates the session. Sets op->res.status/reason. */
static void authenticate(struct auth_login_op *op, struct auth_dir *d)
{
    const struct auth_pw_params *pw = auth_dir_pw_params(d);
    struct auth_redis *r = auth_dir_redis(d);
    char err[256];
    struct auth_person *p = NULL;
    op->res.status = AUTH_LOGIN_DENIED;
    int rc = lookup(d, op->username, &p);
    if (rc == AUTH_DIR_EREDIS || rc == AUTH_DIR_ENOMEM) {
        op->res.status = AUTH_LOGIN_UNAVAILABLE;
        op->res.reason = AUTH_LOGIN_R_REDIS;
        return;
    }
    if (rc) {
        auth_password_verify_dummy(pw, op->password, op->password_len);
        op->res.reason = AUTH_LOGIN_R_UNKNOWN_USER;
        return;
    }
    /* From here every refusal spends one verification too, so they all take as long. */
    if (!p->pwhash[0]) {
        auth_password_verify_dummy(pw, op->password, op->password_len);
        op->res.reason = AUTH_LOGIN_R_NO_PASSWORD;
        goto out;
    }
    if (auth_password_verify(pw, p->pwhash, op->password, op->password_len) != 0) {
        op->res.reason = AUTH_LOGIN_R_BAD_PASSWORD;
        goto out;
    }
    if (p->status != AUTH_PERSON_ACTIVE) {
        op->res.reason = AUTH_LOGIN_R_NOT_ACTIVE;
        goto out;
    }
    char *verified_hash = strdup(p->pwhash);
    if (!verified_hash) {
        op->res.status = AUTH_LOGIN_UNAVAILABLE;
        op->res.reason = AUTH_LOGIN_R_REDIS;
        goto out;
    }
    if (auth_password_needs_rehash(pw, p->pwhash)) {
        struct auth_person_patch patch = AUTH_PERSON_PATCH_INIT;
        char *pwz = strndup(op->password, op->password_len);
        patch.password = pwz;
        patch.expected_version = p->version;
        struct auth_person *np = NULL;
        if (pwz && auth_person_update(d, p->id, &patch, &np, err, sizeof(err)) == 0) {
            auth_person_free(p);
            p = np;
            free(verified_hash);
            verified_hash = strdup(p->pwhash);
            op->res.rehashed = true;
        }
        if (pwz) {
            sodium_memzero(pwz, strlen(pwz));
            free(pwz);
        }
        if (!verified_hash) {
            op->res.status = AUTH_LOGIN_UNAVAILABLE;
            op->res.reason = AUTH_LOGIN_R_REDIS;
            goto out;
        }
    }
    for (int attempt = 0;; attempt++) {
        if (atomic_load(&op->cancelled)) {
            op->res.status = AUTH_LOGIN_UNAVAILABLE;
            op->res.reason = AUTH_LOGIN_R_SHUTDOWN;
            break;
        }
        struct auth_session_new sn = { .person_id = p->id, .person_version = p->version,
                                       .client_addr = op->client_addr,
                                       .user_agent = op->user_agent, .portal = op->portal };
        rc = auth_session_create(op->lg->sessions, r, &sn, &op->created, err, sizeof(err));
        if (rc == 0) {
            op->res.status = AUTH_LOGIN_OK;
            op->res.reason = AUTH_LOGIN_R_NONE;
            break;
        }
        if (rc == AUTH_SESSION_EINACTIVE) {
            op->res.reason = AUTH_LOGIN_R_NOT_ACTIVE;
            break;
        }
        if (rc != AUTH_SESSION_ESTALE) {
            op->res.status = AUTH_LOGIN_UNAVAILABLE;
            op->res.reason = AUTH_LOGIN_R_REDIS;
            break;
        }
        /* The card changed while we checked. The check still holds if the person is active
         * and has the very hash we verified against; anything else voids it. */
        struct auth_person *np = NULL;
        rc = auth_person_get(d, p->id, &np, err, sizeof(err));
        bool same = rc == 0 && np->status == AUTH_PERSON_ACTIVE &&
                    strcmp(np->pwhash, verified_hash) == 0;
        auth_person_free(p);
        p = np;
        if (!same || attempt + 1 >= LOGIN_STALE_RETRIES) {
            op->res.reason = rc == AUTH_DIR_EREDIS ? AUTH_LOGIN_R_REDIS
                                                   : AUTH_LOGIN_R_PERSON_CHANGED;
            if (rc == AUTH_DIR_EREDIS)
                op->res.status = AUTH_LOGIN_UNAVAILABLE;
            break;
        }
    }
    sodium_memzero(verified_hash, strlen(verified_hash));
    free(verified_hash);
out:
    if (op->res.status == AUTH_LOGIN_OK) {
        clear_pwhash(p);
        op->person = p;
    } else {
        auth_person_free(p);
    }
}

static void login_job(void *tctx, void *arg)
{
    struct auth_login_op *op = arg;
    struct auth_dir *d = tctx;
    char err[256];
    if (!d) {
        op->res.status = AUTH_LOGIN_UNAVAILABLE;
        op->res.reason = AUTH_LOGIN_R_REDIS;
        return;
    }
    authenticate(op, d);
    sodium_memzero(op->password, op->password_len);
    if (op->res.status == AUTH_LOGIN_UNAVAILABLE)
        return;
    uint32_t wait = 0;
    bool ok = op->res.status == AUTH_LOGIN_OK;
    /* A failure to record is not a reason to refuse a good login; a failed one stays
     * refused either way. */
    auth_throttle_record(op->lg->throttle, auth_dir_redis(d), op->username, op->client_addr,
                         ok, &wait, err, sizeof(err));
    if (!ok)
        op->res.retry_after_ms = wait;
}

static void login_done(void *arg, int status)
{
    struct auth_login_op *op = arg;
    if (atomic_load(&op->cancelled)) {
        op_free(op);
        return;
    }
    if (status == AUTH_WORK_ECANCELED) {
        memset(&op->res, 0, sizeof(op->res));
        op->res.status = AUTH_LOGIN_UNAVAILABLE;
        op->res.reason = AUTH_LOGIN_R_SHUTDOWN;
    }
    deliver(op);
}

static void throttle_done(int rc, uint32_t wait_ms, void *arg)
{
    struct auth_login_op *op = arg;
    if (rc) {
        op->res.status = AUTH_LOGIN_UNAVAILABLE;
        op->res.reason = AUTH_LOGIN_R_REDIS;
        deliver(op);
        return;
    }
    if (wait_ms) {
        op->res.status = AUTH_LOGIN_THROTTLED;
        op->res.reason = AUTH_LOGIN_R_THROTTLED;
        op->res.retry_after_ms = wait_ms;
        deliver(op);
        return;
    }
    op->stage = STAGE_POOL;
    int wrc = auth_work_submit(op->lg->pool, login_job, login_done, op, op->base);
    if (wrc) {
        op->res.status = AUTH_LOGIN_UNAVAILABLE;
        op->res.reason = wrc == AUTH_WORK_EFULL ? AUTH_LOGIN_R_BUSY : AUTH_LOGIN_R_SHUTDOWN;
        deliver(op);
    }
}

int auth_login_start(struct auth_login *lg, struct event_base *base,
                     struct auth_redis_async *ra, const struct auth_login_req *req,
                     auth_login_cb *cb, void *arg, struct auth_login_op **out)
{
    if (out)
        *out = NULL;
    struct auth_login_op *op = calloc(1, sizeof(*op));
    if (!op)
        return AUTH_LOGIN_ENOMEM;
    op->lg = lg;
    op->base = base;
    op->cb = cb;
    op->arg = arg;
    atomic_init(&op->cancelled, false);
    /* Over-long input is not an error the client may see: it is a name nobody has. */
    op->username = strndup(req->username ? req->username : "", LOGIN_USERNAME_MAX);
    op->password_len = req->password ? req->password_len : 0;
    if (op->password_len > AUTH_PW_MAX_BYTES)
        op->password_len = AUTH_PW_MAX_BYTES + 1;   /* verification refuses it */
    op->password = malloc(op->password_len + 1);
    op->client_addr = req->client_addr ? strndup(req->client_addr, 64) : NULL;
    op->user_agent = req->user_agent ? strdup(req->user_agent) : NULL;
    op->portal = req->portal ? strndup(req->portal, 64) : NULL;
    if (!op->username || !op->password || (req->client_addr && !op->client_addr) ||
        (req->user_agent && !op->user_agent) || (req->portal && !op->portal)) {
        op_free(op);
        return AUTH_LOGIN_ENOMEM;
    }
    if (op->password_len)
        memcpy(op->password, req->password, op->password_len);
    op->password[op->password_len] = 0;
    op->stage = STAGE_THROTTLE;
    int rc = auth_throttle_check(lg->throttle, ra, op->username, op->client_addr, &op->thr,
                                 throttle_done, op);
    if (rc) {
        op_free(op);
        return rc == AUTH_THROTTLE_ENOMEM ? AUTH_LOGIN_ENOMEM : AUTH_LOGIN_EUNAVAILABLE;
    }
    if (out)
        *out = op;
    return 0;
}

void auth_login_cancel(struct auth_login_op *op)
{
    if (!op)
        return;
    if (op->stage == STAGE_THROTTLE) {
        auth_throttle_op_cancel(&op->thr);
        op_free(op);
        return;
    }
    /* On the pool: login_done frees it. */
    atomic_store(&op->cancelled, true);
}
