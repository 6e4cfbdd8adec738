/* auth/jwt_internal.h — private to the JWT module (auth/jwt_*.c): the layout of keys and key
 * sets, shared between loading (jwt_keys.c), minting (jwt_mint.c) and verifying
 * (jwt_verify.c). Nothing outside auth/jwt_*.c includes this file.
 */
#ifndef ONEGATE_AUTH_JWT_INTERNAL_H
#define ONEGATE_AUTH_JWT_INTERNAL_H

#include <stdatomic.h>
#include <openssl/evp.h>

#include "auth/jwt_keys.h"

#define JWT_ES256_SIG_LEN 64        /* r||s, 32 bytes each */

struct auth_jwt_key {
    EVP_PKEY *pkey;                 /* parsed once at load */
    enum auth_jwt_alg alg;
    bool has_private;
    size_t sig_len;                 /* exact JWS signature length: 64, or the RSA modulus size */
    char kid[AUTH_JWT_KID_LEN + 1];
    char *jwk;                      /* this key's JWKS entry, compact JSON */
    char *hdr_b64;                  /* base64url of {"alg":..,"kid":..,"typ":"JWT"}, built at seal */
    size_t hdr_b64_len;
};

struct auth_jwt_keyset {
    atomic_int refs;
    bool sealed;
    uint64_t generation;
    EVP_MD *sha256;                 /* fetched once; OpenSSL 3 implicit fetches cost per call */
    struct auth_jwt_key **keys;     /* signing key (if any) first after seal */
    size_t nkeys, cap;
    struct auth_jwt_key *signing;   /* borrowed from keys[] */
    char *jwks;
    size_t jwks_len;
};

/* snprintf into <err> if it is not NULL; returns <rc> for "return jwt_fail(...)". */
int jwt_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
