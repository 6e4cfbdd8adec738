/* auth/session.h — browser sessions in Redis: created after a successful login, checked on
 * every request with one round trip (session + current person card), ended by logout,
 * expiry (idle and absolute, by key TTL) or revocation. Layout and scripts:
 * docs/DATA-MODEL.md, "Sessions".
 *
 * The cookie value (256 random bits, base64url) is a bearer secret: it is never stored or
 * logged. Redis holds only the key "<prefix>{dir}:s:<hex sha256(cookie)>"; logs use
 * auth_session_fingerprint (8 hex of a SHA-256 of that key). A separate random handle, the
 * sid, names the session in JWTs and in the admin listing.
 *
 * Threads: a struct auth_sessions is immutable after creation and may be shared by every
 * worker. The *_async calls run on the thread of the auth_redis_async's event_base; the
 * blocking calls (struct auth_redis) belong on work-pool threads or in onegatectl.
 *
 * Returns: 0 or a negative AUTH_SESSION_E*; <err> gets one sentence without secrets.
 */
#ifndef ONEGATE_AUTH_SESSION_H
#define ONEGATE_AUTH_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/redis_async.h"
#include "auth/redis_client.h"

#define AUTH_SESSION_COOKIE_LEN 43      /* base64url of 32 bytes, no padding */
#define AUTH_SESSION_SID_LEN 22         /* base64url of 16 bytes */
#define AUTH_SESSION_FP_LEN 8           /* hex chars of a log fingerprint */
#define AUTH_SESSION_KEY_MAX (AUTH_REDIS_PREFIX_MAX + 16 + 64 + 1)
#define AUTH_SESSION_UA_MAX_DEFAULT 256

enum auth_session_err {
    AUTH_SESSION_OK = 0,
    AUTH_SESSION_ENOTFOUND = -1,    /* no such session: unknown, expired, revoked, or its person
                                     * is gone / no longer active (treat as "not logged in") */
    AUTH_SESSION_ESTALE = -2,       /* create: the person card changed since <person_version> */
    AUTH_SESSION_EINACTIVE = -3,    /* create: the person does not exist or is not active */
    AUTH_SESSION_EREDIS = -4,       /* Redis down, timed out or failed: fail closed (503) */
    AUTH_SESSION_EINVAL = -5,       /* malformed cookie value, bad options */
    AUTH_SESSION_ENOMEM = -6,
};
const char *auth_session_err_name(int rc);

struct auth_session_opts {
    uint32_t idle_ms;               /* sliding idle timeout; default 30 min */
    uint32_t absolute_ms;           /* lifetime from login; default 12 h */
    uint32_t refresh_ms;            /* refresh the idle TTL (and last seen, portal) at most
                                     * this often; default 60 s; must be < idle_ms. The
                                     * effective idle timeout lies in [idle - refresh, idle]. */
    size_t user_agent_max;          /* bytes of User-Agent kept; default 256 */
};

struct auth_sessions;

/* Validates <opts> (zero fields take defaults) and builds the key names under <key_prefix>
 * (NULL = "og:"). Returns 0 and a new object (free with auth_sessions_free), or
 * AUTH_SESSION_EINVAL / AUTH_SESSION_ENOMEM. */
int auth_sessions_new(const struct auth_session_opts *opts, const char *key_prefix,
                      struct auth_sessions **out, char *err, size_t errlen);
void auth_sessions_free(struct auth_sessions *ss);
const struct auth_session_opts *auth_sessions_opts(const struct auth_sessions *ss);

/* Checks the shape of a cookie value (AUTH_SESSION_COOKIE_LEN base64url characters) and
 * writes its Redis key into <key> (AUTH_SESSION_KEY_MAX bytes). Returns 0 or
 * AUTH_SESSION_EINVAL (malformed: no Redis lookup needed, treat as no session). */
int auth_session_key(const struct auth_sessions *ss, const char *cookie, size_t len,
                     char key[AUTH_SESSION_KEY_MAX]);
/* Log fingerprint of a session key: first 8 hex of SHA-256(key), NUL-terminated. */
void auth_session_fingerprint(const char *key, char fp[AUTH_SESSION_FP_LEN + 1]);

/* ---- create (blocking; the login job on a work-pool thread) ---- */

struct auth_session_new {
    const char *person_id;
    unsigned long long person_version;  /* the card version the password check saw */
    const char *client_addr;            /* may be NULL */
    const char *user_agent;             /* may be NULL; truncated to user_agent_max, bytes
                                         * outside printable ASCII stored as '?' */
    const char *portal;                 /* portal name the login came from; may be NULL */
};

struct auth_session_created {
    char cookie[AUTH_SESSION_COOKIE_LEN + 1];   /* the Set-Cookie value: secret, never log */
    char sid[AUTH_SESSION_SID_LEN + 1];
    char fingerprint[AUTH_SESSION_FP_LEN + 1];
    long long auth_time_ms;                     /* Redis server time */
    long long expires_ms;                       /* absolute expiry */
};

/* Creates a session, atomically with a check of the person card: refused with
 * AUTH_SESSION_ESTALE if the card's version is no longer <person_version>, and
 * AUTH_SESSION_EINACTIVE if it is gone or not active (the race contract of a login whose
 * password check ran while the person was changed, archived, anonymized or deleted). Adds
 * the key to the person's sessions index in the same script. */
int auth_session_create(const struct auth_sessions *ss, struct auth_redis *r,
                        const struct auth_session_new *in, struct auth_session_created *out,
                        char *err, size_t errlen);

/* ---- per request (async) ---- */

/* What a touch found; every pointer is borrowed and valid only during the callback (copy
 * what you keep). Person fields are the card as it is NOW, not as at login. */
struct auth_session_info {
    const char *sid;
    const char *person_id;
    unsigned long long person_version;          /* current card version */
    unsigned long long login_person_version;    /* card version at login */
    const char *login;
    const char *name;
    const char *email;                          /* "" when none */
    const char *const *roles;                   /* sorted */
    size_t nroles;
    bool ssp_access;
    bool is_caller;
    long long auth_time_ms;
    long long expires_ms;                       /* absolute expiry */
    long long last_seen_ms;                     /* as recorded (refresh granularity) */
    const char *portal;                         /* portal last used, "" if none */
    bool refreshed;                             /* this touch extended the idle TTL */
    char fingerprint[AUTH_SESSION_FP_LEN + 1];
};

/* <info> is NULL unless rc == 0. rc: 0, AUTH_SESSION_ENOTFOUND, AUTH_SESSION_EREDIS,
 * AUTH_SESSION_ENOMEM. */
typedef void auth_session_touch_cb(int rc, const struct auth_session_info *info, void *arg);
/* Result of logout / revoke calls: rc 0 (something was revoked), AUTH_SESSION_ENOTFOUND,
 * AUTH_SESSION_EREDIS; <count> sessions removed. */
typedef void auth_session_done_cb(int rc, size_t count, void *arg);

/* Caller-owned state of one async call (embed it in the request; no allocation). Must stay
 * valid until its callback has run or auth_session_op_cancel was called. */
struct auth_session_op {
    void *cb_;
    void *arg_;
    struct auth_redis_call *call_;
    char fp_[AUTH_SESSION_FP_LEN + 1];
    /* touch only (see auth_session_touch): the cache key and the fast path's state */
    const struct auth_sessions *ss_;
    struct auth_redis_async *ra_;
    unsigned char kh_[32];                      /* SHA-256 of the cookie */
    long long now_;
    char pid_[40];
};

/* Checks the session named by <cookie> and refreshes its idle timeout when the last refresh
 * is older than refresh_ms (recording last seen and <portal>, may be NULL). One round trip:
 * the touch script (EVALSHA: the session and the person card itself) on a miss of the
 * worker's cache (kept on <ra>: session -> person id, absolute expiry, last refresh) or when
 * a refresh is due; otherwise one plain HMGET of the session, whose "card" field is the copy
 * of the person card that every directory write updates in the same script as the card
 * (docs/DATA-MODEL.md, "Sessions"), decided here: a missing session, a person not active, or
 * a passed absolute expiry is ENOTFOUND, as with the script.
 * Returns 0 (then <cb> runs exactly once, later, unless cancelled), or at once
 * AUTH_SESSION_EINVAL (malformed cookie) / AUTH_SESSION_EREDIS (Redis down: fail closed) /
 * AUTH_SESSION_ENOMEM, and <cb> never runs. */
int auth_session_touch(const struct auth_sessions *ss, struct auth_redis_async *ra,
                       const char *cookie, size_t len, const char *portal,
                       struct auth_session_op *op, auth_session_touch_cb *cb, void *arg);

/* Logout: deletes the session named by <cookie> and removes it from its person's index in
 * one script, and publishes {"type":"session.revoked","id","sid","reason":"logout"}.
 * Returns as auth_session_touch; the callback gets count 1, or ENOTFOUND. */
int auth_session_logout(const struct auth_sessions *ss, struct auth_redis_async *ra,
                        const char *cookie, size_t len,
                        struct auth_session_op *op, auth_session_done_cb *cb, void *arg);

/* Revokes every session of <person_id> through the person's index (no SCAN), atomically,
 * and publishes {"type":"person.revoked","id","reason","sessions":n,"tokens":0}. */
int auth_session_revoke_all_async(const struct auth_sessions *ss, struct auth_redis_async *ra,
                                  const char *person_id, const char *reason,
                                  struct auth_session_op *op, auth_session_done_cb *cb,
                                  void *arg);

/* Its callback will not run. Only between a successful call and its callback. */
void auth_session_op_cancel(struct auth_session_op *op);

/* ---- admin (blocking) ---- */

/* Revokes all sessions of a person (as the async call); <*count> removed. */
int auth_session_revoke_all(const struct auth_sessions *ss, struct auth_redis *r,
                            const char *person_id, const char *reason, size_t *count,
                            char *err, size_t errlen);
/* Revokes the session with public handle <sid> of <person_id>. AUTH_SESSION_ENOTFOUND if the
 * person has no such live session. */
int auth_session_revoke_sid(const struct auth_sessions *ss, struct auth_redis *r,
                            const char *person_id, const char *sid, char *err, size_t errlen);
/* Live sessions of a person as a JSON array (new reference) of
 * {"sid","auth_time_ms","last_seen_ms","expires_ms","client_addr","user_agent","portal"}
 * — never the cookie or key. */
int auth_session_list(const struct auth_sessions *ss, struct auth_redis *r,
                      const char *person_id, json_t **out, char *err, size_t errlen);

#endif
