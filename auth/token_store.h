/* auth/token_store.h — the Redis side of API-account access tokens: which tokens onegate
 * issued and which are revoked. Signing and verifying are auth/jwt_*; this module only keeps
 * the state that a signature cannot carry.
 *
 * Layout (all in the {api} hash tag, so each script is atomic on one slot; docs/DATA-MODEL.md):
 *   <prefix>{api}:t:<jti>         string = client_id, TTL = the token's remaining lifetime
 *                                 (the "token record"; listed in the account's token index
 *                                 <prefix>{api}:a:<client_id>:tokens, so that the directory's
 *                                 disable / rotate-without-overlap / delete unlinks it at once)
 *   <prefix>{api}:revoked:<jti>   "1", TTL until the token's exp (+ leeway): RFC 7009 revocation
 * A token is usable only while its record exists, it is not revoked and its account is active:
 * auth_token_check_async() asks all three in one round trip (one read-only script).
 * Revocation publishes {"type":"token.revoked","id":"<jti>","client_id":...} on
 * <prefix>events, so that every worker's JWT cache evicts the jti.
 *
 * Blocking calls take a struct auth_redis (work-pool threads); the check is asynchronous on
 * the event loop of an auth_redis_async. Returns 0 or a negative AUTH_TOKEN_E*.
 */
#ifndef ONEGATE_AUTH_TOKEN_STORE_H
#define ONEGATE_AUTH_TOKEN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/redis_async.h"
#include "auth/redis_client.h"

enum auth_token_err {
    AUTH_TOKEN_OK = 0,
    AUTH_TOKEN_EREDIS = -1,     /* Redis down, timed out or failed: fail closed */
    AUTH_TOKEN_ESTALE = -2,     /* record: the account changed (version) or is not active */
    AUTH_TOKEN_EINVAL = -3,     /* a jti/client_id that cannot be a key part */
    AUTH_TOKEN_ENOMEM = -4,
};

/* What a check found (rc 0 of the callback). */
enum auth_token_state {
    AUTH_TOKEN_VALID = 0,       /* issued by onegate, not revoked, account active */
    AUTH_TOKEN_REVOKED,         /* revoked through RFC 7009 */
    AUTH_TOKEN_UNKNOWN,         /* no record: never issued here, expired, or revoked with the
                                 * account (disable, rotation without overlap, delete) */
    AUTH_TOKEN_INACTIVE,        /* the account is disabled or gone */
};
const char *auth_token_state_name(enum auth_token_state s);

/* Records a freshly minted token of <client_id> whose account the caller verified at
 * <account_version>: atomically checks that the account is still active at that version,
 * writes the record with TTL <ttl_s>, adds it to the account's token index (whose TTL is
 * raised to cover it) and drops a few expired names from the index. AUTH_TOKEN_ESTALE when
 * the account changed meanwhile (a rotation or disable raced with the grant: do not hand the
 * token out). */
int auth_token_record(struct auth_redis *r, const char *client_id, const char *jti,
                      unsigned long long account_version, uint32_t ttl_s,
                      char *err, size_t errlen);

/* Revokes <jti> of <client_id>: the revoked marker with TTL <ttl_s> (at least 1), the record
 * and its index entry removed, the event published — one script. Idempotent. */
int auth_token_revoke(struct auth_redis *r, const char *client_id, const char *jti,
                      uint32_t ttl_s, char *err, size_t errlen);

/* Blocking check (introspection): <*state> as below. */
int auth_token_check(struct auth_redis *r, const char *client_id, const char *jti,
                     enum auth_token_state *state, char *err, size_t errlen);

/* rc 0 with <state>, or AUTH_TOKEN_EREDIS (fail closed). */
typedef void auth_token_check_cb(int rc, enum auth_token_state state, void *arg);

/* Caller-owned state of one asynchronous check (embed it; valid until the callback ran or
 * the check was cancelled). */
struct auth_token_check_op {
    auth_token_check_cb *cb_;
    void *arg_;
    struct auth_redis_call *call_;
};

/* Asynchronous check, one round trip. Returns 0 (then <cb> runs exactly once, later, unless
 * cancelled) or an error at once (<cb> never runs). */
int auth_token_check_async(struct auth_redis_async *ra, const char *client_id, const char *jti,
                           struct auth_token_check_op *op, auth_token_check_cb *cb, void *arg);
/* The callback of a pending check will not run. */
void auth_token_check_cancel(struct auth_token_check_op *op);

#endif
