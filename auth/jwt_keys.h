/* auth/jwt_keys.h — the JWT signing and verification keys: PEM loading, RFC 7638 key ids, the
 * key set (one signing key + keys published for verification during a rotation), and the JWKS
 * document served at /.well-known/jwks.json.
 *
 * Part of onegate's JWT module (auth/jwt_keys, auth/jwt_mint, auth/jwt_verify, auth/jwt_cache):
 * the only code in the project that handles JWT bytes or key material for them. No libjwt is
 * used anywhere (see auth/jwt_mint.c for why). Keys are parsed once into EVP_PKEY at load time;
 * a key set is immutable after auth_jwt_keyset_seal() and may then be shared by every worker
 * thread (reference counted; a SIGHUP reload builds a new set and swaps it in).
 */
#ifndef ONEGATE_AUTH_JWT_KEYS_H
#define ONEGATE_AUTH_JWT_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* One error enum for the whole JWT module: 0 = success, a negative value otherwise.
 * auth_jwt_strerror() gives a stable short name (for logs and metrics labels). */
enum auth_jwt_err {
    AUTH_JWT_OK = 0,
    AUTH_JWT_E_INVAL = -1,          /* bad argument or configuration (caller's bug) */
    AUTH_JWT_E_NOMEM = -2,
    AUTH_JWT_E_KEY = -3,            /* key file unreadable, not a supported key, too weak */
    AUTH_JWT_E_KEY_ENCRYPTED = -4,  /* encrypted private key PEM: refused, never prompts */
    AUTH_JWT_E_CRYPTO = -5,         /* OpenSSL failed internally */
    AUTH_JWT_E_TOO_LARGE = -6,      /* token longer than the configured bound */
    AUTH_JWT_E_MALFORMED = -7,      /* not 3 strict base64url parts of JSON objects */
    AUTH_JWT_E_HEADER = -8,         /* forbidden or unknown header member, bad typ */
    AUTH_JWT_E_ALG = -9,            /* header alg is not exactly the key's alg */
    AUTH_JWT_E_KID = -10,           /* kid missing or not a configured key */
    AUTH_JWT_E_SIGNATURE = -11,     /* signature does not verify */
    AUTH_JWT_E_EXPIRED = -12,       /* exp passed (beyond leeway) */
    AUTH_JWT_E_NOT_YET_VALID = -13, /* nbf or iat in the future (beyond leeway) */
    AUTH_JWT_E_ISSUER = -14,        /* iss missing or not the expected issuer */
    AUTH_JWT_E_AUDIENCE = -15,      /* aud does not contain the expected audience */
    AUTH_JWT_E_SUB_TYPE = -16,      /* person token where an API token is expected, or reverse */
    AUTH_JWT_E_CLAIMS = -17,        /* a required claim is missing or has the wrong type */
};

/* Stable short name of an auth_jwt_err ("signature", "expired", ...); never NULL. */
const char *auth_jwt_strerror(int rc);

enum auth_jwt_alg {
    AUTH_JWT_ALG_ES256 = 1,         /* ECDSA P-256 + SHA-256, JWS signature = r||s (64 bytes) */
    AUTH_JWT_ALG_RS256 = 2,         /* RSASSA-PKCS1-v1_5 + SHA-256, modulus >= 2048 bits */
};

/* "ES256" / "RS256" (the exact JOSE spelling). */
const char *auth_jwt_alg_name(enum auth_jwt_alg alg);

#define AUTH_JWT_KID_LEN 43         /* base64url of a SHA-256, no padding */
#define AUTH_JWT_RSA_MIN_BITS 2048
#define AUTH_JWT_RSA_MAX_BITS 8192

struct auth_jwt_key;                /* one parsed key; opaque */
struct auth_jwt_keyset;             /* the configured keys; opaque */

/* Loads a key from a PEM file. With <need_private> the file must hold a private key (the
 * signing key); otherwise a private key or a public key ("PUBLIC KEY" / SubjectPublicKeyInfo)
 * is accepted (its private half, if any, is kept only if later used for signing).
 * Accepted: EC P-256 (-> ES256) and RSA of 2048..8192 bits (-> RS256). An encrypted PEM is
 * refused with AUTH_JWT_E_KEY_ENCRYPTED and no prompt. On success stores a new key in <out>
 * (caller frees with auth_jwt_key_free, or hands it to auth_jwt_keyset_add) and returns 0;
 * otherwise returns a negative auth_jwt_err and writes a message naming <path> into <err>. */
int auth_jwt_key_load_file(const char *path, bool need_private, struct auth_jwt_key **out,
                           char *err, size_t errlen);

/* Same from PEM bytes in memory; <what> names the source in error messages. */
int auth_jwt_key_load_pem(const char *pem, size_t len, const char *what, bool need_private,
                          struct auth_jwt_key **out, char *err, size_t errlen);

void auth_jwt_key_free(struct auth_jwt_key *k);

/* Borrowed, NUL-terminated, AUTH_JWT_KID_LEN characters; valid while the key lives. */
const char *auth_jwt_key_kid(const struct auth_jwt_key *k);
enum auth_jwt_alg auth_jwt_key_alg(const struct auth_jwt_key *k);
bool auth_jwt_key_has_private(const struct auth_jwt_key *k);

/* ---- key set ---- */

/* A new, empty, unsealed key set with one reference. NULL on allocation failure. */
struct auth_jwt_keyset *auth_jwt_keyset_new(void);

/* Adds <k> (ownership passes to the set, even on error). With <signing> it becomes the one
 * signing key (it must have a private half; a second signing key is refused). Keys with the
 * same kid are refused (the same key listed twice). Returns 0 or a negative auth_jwt_err. */
int auth_jwt_keyset_add(struct auth_jwt_keyset *ks, struct auth_jwt_key *k, bool signing,
                        char *err, size_t errlen);

/* Freezes the set: builds the JWKS document and the per-key JWS headers. After this the set
 * is read-only and may be shared across threads. A set without a signing key is valid (verify
 * only); minting with it fails with AUTH_JWT_E_INVAL. Returns 0 or a negative auth_jwt_err. */
int auth_jwt_keyset_seal(struct auth_jwt_keyset *ks, char *err, size_t errlen);

/* Convenience for the config loader: loads <signing_path> (may be NULL for verify only) as
 * the signing key and each of <verify_paths> as verification-only keys, then seals. Returns a
 * new sealed set (caller releases with auth_jwt_keyset_unref) or NULL with <err> set. */
struct auth_jwt_keyset *auth_jwt_keyset_load(const char *signing_path,
                                             const char *const *verify_paths, size_t nverify,
                                             char *err, size_t errlen);

/* Reference counting (atomic; safe across threads). unref of the last reference frees. */
struct auth_jwt_keyset *auth_jwt_keyset_ref(struct auth_jwt_keyset *ks);
void auth_jwt_keyset_unref(struct auth_jwt_keyset *ks);

/* A process-unique number identifying this set; caches use it to notice a reload. */
uint64_t auth_jwt_keyset_generation(const struct auth_jwt_keyset *ks);

/* The signing key, or NULL if the set is verify-only. Borrowed. */
const struct auth_jwt_key *auth_jwt_keyset_signing_key(const struct auth_jwt_keyset *ks);

/* The key whose kid equals the <len> bytes at <kid> exactly, or NULL. Borrowed. */
const struct auth_jwt_key *auth_jwt_keyset_find(const struct auth_jwt_keyset *ks,
                                                const char *kid, size_t len);

size_t auth_jwt_keyset_count(const struct auth_jwt_keyset *ks);

/* The JWKS document {"keys":[...]} (signing key first), compact JSON, NUL-terminated; only
 * public members (kty, crv, x, y / n, e, kid, alg, use). Borrowed from the sealed set; NULL
 * before auth_jwt_keyset_seal. <len> may be NULL. */
const char *auth_jwt_keyset_jwks(const struct auth_jwt_keyset *ks, size_t *len);

/* ---- base64url (RFC 4648 §5, no padding), shared by the module ---- */

/* Encoded length of <n> bytes, without NUL. */
size_t auth_jwt_b64url_len(size_t n);

/* Writes the encoding of <src,n> and a NUL into <dst> (auth_jwt_b64url_len(n)+1 bytes).
 * Returns the encoded length. */
size_t auth_jwt_b64url_encode(const void *src, size_t n, char *dst);

/* Strict decode: only [A-Za-z0-9_-], no padding, no whitespace, length % 4 != 1, and the
 * unused low bits of the last character must be zero (one canonical encoding per value).
 * <dst> needs (n * 3) / 4 bytes. Returns the decoded length, or -1 if <src> is not strict
 * base64url. */
long auth_jwt_b64url_decode(const char *src, size_t n, unsigned char *dst);

#endif
