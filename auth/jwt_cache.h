/* auth/jwt_cache.h — per-worker LRU of verified bearer tokens, so steady API traffic costs a
 * SHA-256 and a hash lookup instead of a signature check. One instance per worker thread: no
 * locks, not thread-safe. Keyed by SHA-256 of the token bytes (the token itself is never
 * stored). Entries live until the token expires (same exp/leeway rule as verification), the
 * LRU bound pushes them out, the key set is reloaded, or they are evicted by jti or subject
 * (revocation, account disabled/rotated/deleted).
 *
 * Use on the request path:
 *   rc = auth_jwt_cache_lookup(c, ks, &opts, tok, len, &claims, err, errlen);
 *   rc < 0: refuse.  rc == 0 && claims: cache hit, verified and re-checked against <opts>.
 *   rc == 0 && !claims: miss -> epoch = auth_jwt_cache_epoch(c); auth_jwt_verify(...);
 *       then any revocation / account check (Redis), then
 *       auth_jwt_cache_insert(c, ks, tok, len, claims, epoch).
 * The epoch makes an insert that raced with an eviction (revocation arrived while the Redis
 * check was in flight) a no-op. auth_jwt_cache_verify() does lookup+verify+insert for callers
 * that have no further check to make.
 *
 * The request path uses auth_jwt_cache_find() instead of _lookup: no reference taken, the
 * token's log fingerprint taken from the key (no second SHA-256), and a per-entry area of
 * caller data (auth_jwt_cache_new_aux) where the caller keeps what it derives from the claims
 * (gateway/bearer.c: the policy principal and the log label), so that a hit derives nothing.
 */
#ifndef ONEGATE_AUTH_JWT_CACHE_H
#define ONEGATE_AUTH_JWT_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "auth/jwt_keys.h"
#include "auth/jwt_verify.h"

#define AUTH_JWT_CACHE_DEFAULT_ENTRIES 10000

struct auth_jwt_cache;

struct auth_jwt_cache_stats {
    uint64_t hits, misses, inserts, evictions_lru, evictions_expired, evictions_explicit;
    size_t entries;
};

/* A new empty cache holding at most <max_entries> tokens (0 = default). NULL on ENOMEM. */
struct auth_jwt_cache *auth_jwt_cache_new(size_t max_entries);
/* The same, each entry carrying <aux_bytes> of caller data (zeroed at insert, aligned for any
 * type, freed with the entry; see auth_jwt_cache_find). */
struct auth_jwt_cache *auth_jwt_cache_new_aux(size_t max_entries, size_t aux_bytes);
void auth_jwt_cache_free(struct auth_jwt_cache *c);

/* Looks <token,len> up. Tokens over o->max_token_bytes are refused before hashing. If
 * <ks>'s generation differs from the cached entries', the cache is emptied first (keys were
 * reloaded: a retired key's tokens must not survive in the cache).
 * Returns 0 with a new reference in <out> on a hit that passes auth_jwt_claims_check(<o>);
 * 0 with *out = NULL on a miss; a negative auth_jwt_err when the cached token fails <o> (an
 * expired entry is dropped on the way). */
int auth_jwt_cache_lookup(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks,
                          const struct auth_jwt_verify_opts *o, const char *token, size_t len,
                          struct auth_jwt_claims **out, char *err, size_t errlen);

/* A hit of auth_jwt_cache_find: borrowed views of the entry, valid until the next call that
 * may change <c> (lookup, find, insert, evict, clear, free) — the caller copies what it keeps. */
struct auth_jwt_cache_hit {
    const struct auth_jwt_claims *claims;
    void *aux;                      /* the entry's aux_bytes; NULL when the cache has none */
    char fp[AUTH_JWT_FP_LEN + 1];   /* = auth_jwt_fingerprint(token), from the cache key */
};

/* auth_jwt_cache_lookup for the request path: the same checks and results, but a hit fills
 * <hit> (hit->claims non-NULL) instead of taking a reference. Returns 0 with hit->claims NULL
 * on a miss; a negative auth_jwt_err as lookup does. */
int auth_jwt_cache_find(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks,
                        const struct auth_jwt_verify_opts *o, const char *token, size_t len,
                        struct auth_jwt_cache_hit *hit, char *err, size_t errlen);

/* Remembers that <token,len> verified to <claims> under <ks> (takes its own reference).
 * Does nothing (and returns 0) if an eviction happened since <epoch> was read, or the token
 * is already cached. Evicts the least recently used entry when full. Returns 0 or
 * AUTH_JWT_E_NOMEM. */
int auth_jwt_cache_insert(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks,
                          const char *token, size_t len, struct auth_jwt_claims *claims,
                          uint64_t epoch);

/* Lookup, then on a miss auth_jwt_verify + insert. Same return contract as
 * auth_jwt_verify; <hit> (may be NULL) tells whether the cache answered. */
int auth_jwt_cache_verify(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks,
                          const struct auth_jwt_verify_opts *o, const char *token, size_t len,
                          struct auth_jwt_claims **out, bool *hit, char *err, size_t errlen);

/* Current eviction epoch (changes on every evict/clear). */
uint64_t auth_jwt_cache_epoch(const struct auth_jwt_cache *c);

/* Drops every entry whose jti equals <jti>; returns how many (O(entries)). */
size_t auth_jwt_cache_evict_jti(struct auth_jwt_cache *c, const char *jti);

/* Drops every entry whose subject is <sub> (person id, or client_id of an API account);
 * returns how many (O(entries)). */
size_t auth_jwt_cache_evict_subject(struct auth_jwt_cache *c, const char *sub);

/* Drops everything. */
void auth_jwt_cache_clear(struct auth_jwt_cache *c);

void auth_jwt_cache_get_stats(const struct auth_jwt_cache *c, struct auth_jwt_cache_stats *s);

#endif
