/* auth/password.h — argon2id password hashes (libsodium), verification, rehash checks and a
 * dummy verification for unknown users. Every call here costs ~40 ms of CPU with the default
 * parameters: call only from onegatectl or a work-pool thread, never from an event loop. */
#ifndef ONEGATE_AUTH_PASSWORD_H
#define ONEGATE_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_PW_HASH_MAX 128        /* >= crypto_pwhash_STRBYTES */
#define AUTH_PW_MIN_BYTES 8
#define AUTH_PW_MAX_BYTES 1024

enum auth_pw_err {
    AUTH_PW_OK = 0,
    AUTH_PW_EMISMATCH = -1,         /* wrong password, or no/invalid stored hash */
    AUTH_PW_EINVAL = -2,            /* password too short/long or bad parameters */
    AUTH_PW_ENOMEM = -3,            /* libsodium could not get memory for hashing */
};

/* argon2id cost. libsodium fixes parallelism at 1; other values are rejected. */
struct auth_pw_params {
    uint32_t memory_kib;            /* default 19456 (19 MiB) */
    uint32_t iterations;            /* default 2 */
    uint32_t parallelism;           /* must be 1 */
};

/* The defaults (m=19 MiB, t=2, p=1). */
struct auth_pw_params auth_password_default_params(void);

/* Checks <p> against libsodium's limits. Returns 0 or AUTH_PW_EINVAL with <err> filled. */
int auth_password_params_check(const struct auth_pw_params *p, char *err, size_t errlen);

/* Initialises libsodium once (thread-safe, idempotent). Returns 0 or -1. */
int auth_password_init(void);

/* Hashes <pw> (<len> bytes) into <out> as a PHC string "$argon2id$v=19$m=...". Returns 0,
 * AUTH_PW_EINVAL (length outside AUTH_PW_MIN_BYTES..AUTH_PW_MAX_BYTES) or AUTH_PW_ENOMEM. */
int auth_password_hash(const struct auth_pw_params *p, const char *pw, size_t len,
                       char out[AUTH_PW_HASH_MAX]);

/* Returns 0 when <pw> matches <hash>, AUTH_PW_EMISMATCH otherwise (also for a NULL/empty or
 * malformed hash, after spending the same time as a real check via the dummy hash). */
int auth_password_verify(const struct auth_pw_params *p, const char *hash,
                         const char *pw, size_t len);

/* Spends the time of one verification against a dummy hash made with <p>; for unknown users
 * so that timing does not reveal whether an account exists. Always returns
 * AUTH_PW_EMISMATCH. */
int auth_password_verify_dummy(const struct auth_pw_params *p, const char *pw, size_t len);

/* True when <hash> was made with other parameters than <p> (or is not argon2id): the caller
 * should rehash after a successful login. */
bool auth_password_needs_rehash(const struct auth_pw_params *p, const char *hash);

#endif
