/* auth/jwt_verify.h — the only JWT verification path in onegate: bearer tokens from API
 * accounts (and person tokens where a portal hands one back) are checked here, normally
 * through the per-worker cache in auth/jwt_cache.h so that steady traffic costs no signature.
 *
 * Order of checks (cheap first, no signature work for a structurally bad token): size bound;
 * exactly three non-empty strict base64url parts; header a JSON object with only alg, kid and
 * typ (jku, x5u, x5c, jwk, crit and anything else refused); alg one of ES256/RS256 exactly;
 * kid names a configured key (exact bytes); alg equal to that key's alg; signature length;
 * payload a JSON object with well-typed claims; sub_type, iss, aud, exp, nbf, iat; and only
 * then the signature, on the key parsed once at load.
 */
#ifndef ONEGATE_AUTH_JWT_VERIFY_H
#define ONEGATE_AUTH_JWT_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "auth/jwt_keys.h"

#define AUTH_JWT_DEFAULT_MAX_TOKEN_BYTES 8192
#define AUTH_JWT_DEFAULT_LEEWAY_S 30
#define AUTH_JWT_MAX_JTI_BYTES 128
#define AUTH_JWT_FP_LEN 8           /* hex digits of a token's log fingerprint */

enum auth_jwt_sub_type {
    AUTH_JWT_SUB_PERSON = 1,        /* "person": a person's session token */
    AUTH_JWT_SUB_API_ACCOUNT = 2,   /* "api_account": client-credentials access token */
};

const char *auth_jwt_sub_type_name(enum auth_jwt_sub_type t);  /* "person" / "api_account" */

struct auth_jwt_verify_opts {
    const char *issuer;             /* required; "iss" must equal it exactly */
    const char *audience;           /* "aud" (string or array) must contain it; NULL = the
                                       token must carry no "aud" (a token minted for some
                                       audience is never accepted where none is expected) */
    enum auth_jwt_sub_type expect;  /* required; any other sub_type is refused */
    uint32_t leeway_s;              /* clock skew allowed on exp/nbf/iat */
    size_t max_token_bytes;         /* longer tokens refused before any decoding; 0 = default */
    int64_t now_s;                  /* 0 = time(NULL) (tests pin the clock) */
};

/* Sets the defaults: leeway 30 s, 8 KiB, now = time(NULL); issuer/audience/expect unset. */
void auth_jwt_verify_opts_init(struct auth_jwt_verify_opts *o);

/* Verified claims. One allocation; every pointer points inside it. Reference counted
 * (not atomically: a claims object belongs to the worker thread that verified it). */
struct auth_jwt_claims {
    int refs;                       /* private: use auth_jwt_claims_ref/unref */
    enum auth_jwt_sub_type sub_type;
    enum auth_jwt_alg alg;
    char kid[AUTH_JWT_KID_LEN + 1]; /* the key that signed it */
    const char *iss;
    const char *sub;                /* person id, or client_id for API accounts */
    const char *jti;
    const char *sid;                /* person tokens; NULL when absent */
    const char *client_id;          /* API tokens; NULL for persons */
    const char *scope;              /* API tokens ("" when absent); NULL for persons */
    const char *name, *email;       /* person tokens when present; else NULL */
    const char *const *roles;       /* person tokens; nroles may be 0 */
    size_t nroles;
    const char *const *aud;         /* every audience of the token (0 when it has none) */
    size_t naud;
    bool ssp_access, caller;        /* person flags; false when absent */
    bool has_nbf;
    int64_t iat, nbf, exp;
};

/* Verifies <token,len> against <ks> and <o>. On success returns 0 and stores a new claims
 * object (one reference; release with auth_jwt_claims_unref) in <out>. Otherwise returns a
 * negative auth_jwt_err, sets <out> to NULL and writes a one-line reason into <err> (never
 * any token bytes). Thread-safe: <ks> is only read. */
int auth_jwt_verify(const struct auth_jwt_keyset *ks, const struct auth_jwt_verify_opts *o,
                    const char *token, size_t len, struct auth_jwt_claims **out,
                    char *err, size_t errlen);

/* Re-checks already verified claims against <o> at time <now_s> (0 = time(NULL)): sub_type,
 * iss, aud, exp, nbf, iat. Used by the cache on a hit, since one token may be presented on
 * routes with different expectations. Returns 0 or a negative auth_jwt_err. */
int auth_jwt_claims_check(const struct auth_jwt_claims *c, const struct auth_jwt_verify_opts *o,
                          char *err, size_t errlen);

struct auth_jwt_claims *auth_jwt_claims_ref(struct auth_jwt_claims *c);
void auth_jwt_claims_unref(struct auth_jwt_claims *c);

/* The claims as compact JSON (RFC 7662 introspection style members: iss, sub, aud, iat, nbf,
 * exp, jti, sub_type and the kind's own claims). New string; caller frees. NULL on ENOMEM. */
char *auth_jwt_claims_to_json(const struct auth_jwt_claims *c);

/* First 8 hex digits of SHA-256(token) + NUL, for logs that must correlate a token without
 * showing it. Thread-safe (the digest is fetched once per process). */
void auth_jwt_fingerprint(const char *token, size_t len, char out[AUTH_JWT_FP_LEN + 1]);

#endif
