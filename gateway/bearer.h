/* gateway/bearer.h — bearer tokens of API accounts on API routes, the identify stage's
 * second way in (gateway/identify.c calls it when a request carries "Authorization: Bearer"
 * and the policy would let some API account pass it).
 *
 * Per request: the worker's verified-token cache first (a hit is a SHA-256 and a lookup,
 * re-checked against iss/aud/sub_type/exp; the entry keeps the principal and log label, so a
 * hit parses and formats nothing); on a miss the client's failed-verification budget and the
 * worker's cap on signature checks (tokens.h) are consulted before any signature work, the
 * token is verified
 * (auth/jwt_verify.h: structure, header, alg pinned to the key, claims, then the signature),
 * and one Redis round trip checks that onegate issued it, it is not revoked and its account is
 * active (auth/token_store.h); only then it is cached, with the eviction-epoch protocol of
 * auth/jwt_cache.h so that a revocation arriving meanwhile wins. A person's token (sub_type
 * "person") is refused here, whatever its signature.
 */
#ifndef ONEGATE_GATEWAY_BEARER_H
#define ONEGATE_GATEWAY_BEARER_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/endpoints/endpoint.h"
#include "policy/policy.h"

enum gw_bearer_err {
    GW_BEARER_OK = 0,
    GW_BEARER_EINVALID = -1,        /* 401 invalid_token (malformed, forged, expired, revoked,
                                     * unknown, wrong audience/issuer/kind, account inactive) */
    GW_BEARER_ETHROTTLED = -2,      /* 429: this client spent its failed-verification budget */
    GW_BEARER_EUNAVAILABLE = -3,    /* 503: Redis down or slow (fail closed) */
    GW_BEARER_ENOMEM = -4,
    GW_BEARER_EBUSY = -5,           /* 429: the worker's cap on signature checks of tokens it
                                     * does not know yet is spent for now (all clients) */
};

/* <pr> (rc 0) is the API account's principal built against the request's policy; <who> a
 * log label ("api_account <client_id> (token <fp>)"); <why> a short reason on refusal. All
 * borrowed for the call. */
typedef void gw_bearer_cb(struct gw_req *r, int rc, const struct pol_principal *pr,
                          const char *who, const char *why, void *arg);

struct gw_bearer;

/* Bytes of caller data each verified-token cache entry must carry for this module
 * (auth_jwt_cache_new_aux; gateway/tokens.c makes the worker's cache with it). */
size_t gw_bearer_cache_aux_bytes(void);

/* True when <r> carries "Authorization: Bearer <token>" (token borrowed into <tok,len>), the
 * configuration has jwt:, and some API-account alternative of the policy would allow this
 * method and path on <r>'s route. */
bool gw_bearer_applies(const struct gw_req *r, const char **tok, size_t *len);

/* Verifies <tok,len> for <r>. Returns NULL when <cb> has already run (cache hit or early
 * refusal), or a pending operation whose <cb> runs later on the worker's thread (exactly once,
 * unless gw_bearer_cancel). <cb> must not expect the operation to exist after it returns. */
struct gw_bearer *gw_bearer_verify(struct gw_req *r, const char *tok, size_t len,
                                   gw_bearer_cb *cb, void *arg);

/* Abandons a pending operation: <cb> never runs; frees it. */
void gw_bearer_cancel(struct gw_bearer *b);

#endif
