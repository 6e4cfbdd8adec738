/* gateway/tokens.h — issue 5 in the gateway: the token endpoints (JWKS, discovery, OAuth2
 * client credentials, introspection, revocation, the session's current JWT), and the
 * per-worker state that bearer verification and person-token minting need:
 *   - a verified-token cache (auth/jwt_cache.h) per worker, kept fresh by a subscriber to
 *     <prefix>events on the worker's loop: token.revoked evicts a jti, api_account.* /
 *     system_account.* / person.* evict a subject, a resync empties the cache;
 *   - per client address, a token bucket of failed bearer verifications (so that a flood of
 *     well-formed bad tokens costs a hash lookup, not a signature, once it is over budget);
 *   - per worker, a token bucket of signature checks of tokens the cache does not know, all
 *     clients together (a flood from many addresses cannot take more of the worker's loop);
 *   - a per-worker cache of minted person tokens (one per session, person version, route
 *     audience and claim set), reused until renew_before_ms before expiry.
 * Nothing here takes a lock on the request path: each worker touches only its own slot.
 *
 * Lifetime: gw_tokens_init on the main thread before the workers start (registers the
 * endpoints when the first configuration has a jwt: section); gw_tokens_free after the
 * workers' loops ended and before their bases are freed (like gw_services_free).
 */
#ifndef ONEGATE_GATEWAY_TOKENS_H
#define ONEGATE_GATEWAY_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/jwt_cache.h"
#include "auth/jwt_mint.h"
#include "auth/throttle.h"
#include "gateway/config.h"

struct gw_worker;
struct gw_tok_worker;

/* Registers the endpoints and builds the OAuth throttle for <cfg> (read at start: a reload
 * does not change the endpoint set or the throttle figures). Returns 0 or -1 with <err>. */
int gw_tokens_init(const struct gw_config *cfg, int nworkers, char *err, size_t errlen);
/* Frees every worker's state (subscribers, caches). Idempotent; NULL-safe order as above. */
void gw_tokens_free(void);

/* The OAuth throttle (per client_id and client address), or NULL without oauth:. */
const struct auth_throttle *gw_tokens_throttle(void);

/* Worker <w>'s state, made on first use on <w>'s thread (its event subscriber starts then).
 * NULL on ENOMEM or an unknown worker. */
struct gw_tok_worker *gw_tokens_worker(struct gw_worker *w, const struct gw_config *cfg);

/* The worker's verified-token cache. */
struct auth_jwt_cache *gw_tok_cache(struct gw_tok_worker *tw);

/* Failed-verification budget of client address <ip> (token bucket: <burst>, refilled at
 * <per_s> a second). gw_tok_bad_allowed: true while a failure may still be spent (no
 * signature work is done for a client over budget). gw_tok_bad_spend: one failure. */
bool gw_tok_bad_allowed(struct gw_tok_worker *tw, const char *ip, uint32_t burst,
                        uint32_t per_s);
void gw_tok_bad_spend(struct gw_tok_worker *tw, const char *ip, uint32_t burst, uint32_t per_s);

/* Cap on signature checks per worker across all clients (jwt.max_signature_checks_per_s):
 * a token bucket refilled at <per_s> a second that holds a tenth of a second's worth (at
 * least 1), full at start. <per_s> 0 = no cap. The bucket's arithmetic takes the time so that
 * it can be tested; <now_us> is CLOCK_MONOTONIC in microseconds, never 0. */
struct gw_sig_cap {
    double tokens;
    uint64_t last_us;               /* 0 = never used: starts full */
};
/* True while a check may be made at <now_us>. */
bool gw_sig_cap_allowed(struct gw_sig_cap *c, uint32_t per_s, uint64_t now_us);
/* One check was made at <now_us>. */
void gw_sig_cap_spend(struct gw_sig_cap *c, uint32_t per_s, uint64_t now_us);
/* The same on worker <tw>'s bucket, now. */
bool gw_tok_sig_allowed(struct gw_tok_worker *tw, uint32_t per_s);
void gw_tok_sig_spend(struct gw_tok_worker *tw, uint32_t per_s);

/* ---- minted person tokens (step 6) ---- */

/* The person token for (<key>, <audience>, claim set) if one is cached for <person_version>
 * with more than <renew_before_s> left at <now_s>; borrowed until the next call on this
 * worker. NULL otherwise. */
const char *gw_tok_person_get(struct gw_tok_worker *tw, const char *key,
                              unsigned long long person_version, const char *audience,
                              unsigned claims, uint64_t keyset_gen, int64_t now_s,
                              uint32_t renew_before_s, int64_t *exp);
/* Stores <jwt> (copied) for the same tuple, replacing any older one. */
void gw_tok_person_put(struct gw_tok_worker *tw, const char *key,
                       unsigned long long person_version, const char *audience,
                       unsigned claims, uint64_t keyset_gen, const char *jwt, int64_t exp);
/* Forgets every person token of <sid> (logout / revocation events). */
void gw_tok_person_forget_sid(struct gw_tok_worker *tw, const char *sid);

struct gw_tok_stats {
    uint64_t bad_refused;       /* bearer checks refused over budget (429) */
    uint64_t minted;            /* person tokens minted */
    uint64_t reused;            /* person tokens served from the cache */
};
void gw_tok_get_stats(struct gw_tok_worker *tw, struct gw_tok_stats *out);
void gw_tok_count_bad_refused(struct gw_tok_worker *tw);
void gw_tok_count_minted(struct gw_tok_worker *tw, bool reused);

#endif
