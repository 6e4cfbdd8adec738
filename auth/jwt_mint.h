/* auth/jwt_mint.h — mints the JWTs onegate hands out: person tokens forwarded to the portals
 * (one per session and person version, reused until near expiry) and API-account access
 * tokens from the client-credentials grant. Signed with the key set's signing key (ES256 or
 * RS256) through OpenSSL EVP on the pre-parsed key; claims are described in
 * docs/INTEGRATIONS.md. Never on the per-request path except to renew a cached token.
 */
#ifndef ONEGATE_AUTH_JWT_MINT_H
#define ONEGATE_AUTH_JWT_MINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "auth/jwt_keys.h"

#define AUTH_JWT_DEFAULT_LIFETIME_S 300     /* 5 minutes */
#define AUTH_JWT_MAX_LIFETIME_S (24 * 3600)
#define AUTH_JWT_JTI_LEN 22                 /* base64url of 128 random bits */

struct auth_jwt_mint_opts {
    const char *issuer;         /* required: the "iss" claim, e.g. "https://login.example.org" */
    const char *audience;       /* "aud": required for person tokens, optional (NULL) for API */
    int64_t now_s;              /* Unix time of issue; 0 = time(NULL) */
    uint32_t lifetime_s;        /* exp - iat; 0 = AUTH_JWT_DEFAULT_LIFETIME_S */
};

/* What a portal learns about a person. All strings borrowed for the call only. */
struct auth_jwt_person {
    const char *sub;            /* person id (required) */
    const char *sid;            /* public session handle (required). NEVER the session cookie
                                   value: pass a non-secret id such as a prefix of its hash */
    const char *const *roles;   /* role names; may be NULL when nroles == 0 */
    size_t nroles;
    bool ssp_access;
    bool caller;
    const char *name;           /* optional (per-route opt-in); NULL = claim omitted */
    const char *email;          /* optional (per-route opt-in); NULL = claim omitted */
};

/* An API account's access token. */
struct auth_jwt_api_account {
    const char *client_id;      /* required; also the "sub" claim */
    const char *scope;          /* granted scopes, space separated (RFC 6749 §3.3); may be "" */
};

/* A minted token. <jwt> is a new NUL-terminated string owned by the struct. */
struct auth_jwt_token {
    char *jwt;
    size_t len;
    char jti[AUTH_JWT_JTI_LEN + 1];
    int64_t iat;
    int64_t exp;
};

/* Mints a person token: header {alg, kid, typ:"JWT"}; claims iss, sub, aud, iat, nbf (= iat),
 * exp, jti, sid, sub_type:"person", roles, ssp_access, caller, and name/email when given.
 * Returns 0 and fills <out> (release with auth_jwt_token_clear), or a negative auth_jwt_err
 * (AUTH_JWT_E_INVAL for missing fields, a verify-only key set, or strings that are not UTF-8)
 * with a message in <err>. Thread-safe on a sealed key set. */
int auth_jwt_mint_person(const struct auth_jwt_keyset *ks, const struct auth_jwt_mint_opts *o,
                         const struct auth_jwt_person *p, struct auth_jwt_token *out,
                         char *err, size_t errlen);

/* Mints an API-account token: claims iss, sub (= client_id), aud (when o->audience is set),
 * iat, nbf, exp, jti, sub_type:"api_account", client_id, scope. Same contract as above. */
int auth_jwt_mint_api(const struct auth_jwt_keyset *ks, const struct auth_jwt_mint_opts *o,
                      const struct auth_jwt_api_account *a, struct auth_jwt_token *out,
                      char *err, size_t errlen);

/* Frees out->jwt and zeroes the struct. Safe on a zeroed struct. */
void auth_jwt_token_clear(struct auth_jwt_token *t);

#endif
