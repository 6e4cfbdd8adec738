/* auth/secret.h — API-account client secrets: 256-bit random values shown once, stored only
 * as HMAC-SHA256(directory key, secret). A fast keyed hash is right for high-entropy secrets
 * (argon2 protects guessable passwords; nobody guesses 256 random bits). */
#ifndef ONEGATE_AUTH_SECRET_H
#define ONEGATE_AUTH_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_SECRET_KEY_BYTES 32
#define AUTH_SECRET_PREFIX "ogs_"
#define AUTH_SECRET_TEXT_MAX 64         /* "ogs_" + 43 base64url chars + NUL fits */
#define AUTH_SECRET_HASH_HEX 65         /* 64 hex + NUL */

/* Writes a new secret "ogs_<43 base64url chars>" (256 random bits) into <out>. Returns 0 or
 * -1 when libsodium cannot be initialised. */
int auth_secret_generate(char out[AUTH_SECRET_TEXT_MAX]);

/* Writes the lowercase hex HMAC-SHA256 of <secret> under <key> into <out>. Returns 0 or -1. */
int auth_secret_hash(const unsigned char key[AUTH_SECRET_KEY_BYTES], const char *secret,
                     size_t len, char out[AUTH_SECRET_HASH_HEX]);

/* Constant-time comparison of <secret> against a stored hex hash. False for an empty or
 * malformed stored hash. */
bool auth_secret_verify(const unsigned char key[AUTH_SECRET_KEY_BYTES], const char *secret,
                        size_t len, const char *stored_hex);

/* Short, non-reversible fingerprint for logs: first 8 hex of SHA-256(data). */
void auth_fingerprint(const void *data, size_t len, char out[9]);

#endif
