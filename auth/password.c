/* auth/password.c — argon2id through libsodium's crypto_pwhash_str_alg. See password.h. */
#include "auth/password.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

struct auth_pw_params auth_password_default_params(void)
{
    struct auth_pw_params p = { .memory_kib = 19456, .iterations = 2, .parallelism = 1 };
    return p;
}

int auth_password_params_check(const struct auth_pw_params *p, char *err, size_t errlen)
{
    if (p->parallelism != 1) {
        snprintf(err, errlen, "argon2id parallelism must be 1 (libsodium computes one lane)");
        return AUTH_PW_EINVAL;
    }
    uint64_t mem = (uint64_t)p->memory_kib * 1024u;
    if (mem < crypto_pwhash_argon2id_MEMLIMIT_MIN || mem > (uint64_t)4 << 30) {
        snprintf(err, errlen, "argon2id memory must be between 8 KiB and 4 GiB");
        return AUTH_PW_EINVAL;
    }
    if (p->iterations < crypto_pwhash_argon2id_OPSLIMIT_MIN || p->iterations > 64) {
        snprintf(err, errlen, "argon2id iterations must be between %d and 64",
                 (int)crypto_pwhash_argon2id_OPSLIMIT_MIN);
        return AUTH_PW_EINVAL;
    }
    return 0;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc = -1;

static void do_init(void)
{
    init_rc = sodium_init() < 0 ? -1 : 0;
}

int auth_password_init(void)
{
    pthread_once(&init_once, do_init);
    return init_rc;
}

int auth_password_hash(const struct auth_pw_params *p, const char *pw, size_t len,
                       char out[AUTH_PW_HASH_MAX])
{
    char err[128];
    if (auth_password_init() != 0)
        return AUTH_PW_ENOMEM;
    if (len < AUTH_PW_MIN_BYTES || len > AUTH_PW_MAX_BYTES || auth_password_params_check(p, err, sizeof(err)))
        return AUTH_PW_EINVAL;
    if (crypto_pwhash_str_alg(out, pw, len, p->iterations, (size_t)p->memory_kib * 1024u,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return AUTH_PW_ENOMEM;
    return 0;
}

/* The dummy hash: made once per parameter set (the common case is one set per process). */
static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct auth_pw_params dummy_params;
static char dummy_hash[AUTH_PW_HASH_MAX];

static int get_dummy(const struct auth_pw_params *p, char out[AUTH_PW_HASH_MAX])
{
    int rc = 0;
    pthread_mutex_lock(&dummy_lock);
    if (!dummy_hash[0] || memcmp(&dummy_params, p, sizeof(*p)) != 0) {
        unsigned char rnd[24];
        char pw[49];
        randombytes_buf(rnd, sizeof(rnd));
        sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
        rc = auth_password_hash(p, pw, strlen(pw), dummy_hash);
        if (rc == 0)
            dummy_params = *p;
        else
            dummy_hash[0] = 0;
    }
    memcpy(out, dummy_hash, AUTH_PW_HASH_MAX);
    pthread_mutex_unlock(&dummy_lock);
    return rc;
}

int auth_password_verify_dummy(const struct auth_pw_params *p, const char *pw, size_t len)
{
    char h[AUTH_PW_HASH_MAX];
    if (auth_password_init() != 0 || get_dummy(p, h) != 0)
        return AUTH_PW_EMISMATCH;
    if (crypto_pwhash_str_verify(h, pw, len) == 0)
        return AUTH_PW_EMISMATCH;   /* cannot happen: the dummy password is random */
    return AUTH_PW_EMISMATCH;
}

int auth_password_verify(const struct auth_pw_params *p, const char *hash,
                         const char *pw, size_t len)
{
    if (auth_password_init() != 0)
        return AUTH_PW_EMISMATCH;
    if (!hash || strncmp(hash, "$argon2id$", 10) != 0 || strlen(hash) >= AUTH_PW_HASH_MAX ||
        len > AUTH_PW_MAX_BYTES)
        return auth_password_verify_dummy(p, pw, len > AUTH_PW_MAX_BYTES ? 0 : len);
    return crypto_pwhash_str_verify(hash, pw, len) == 0 ? 0 : AUTH_PW_EMISMATCH;
}

bool auth_password_needs_rehash(const struct auth_pw_params *p, const char *hash)
{
    if (!hash || strncmp(hash, "$argon2id$", 10) != 0)
        return true;
    return crypto_pwhash_str_needs_rehash(hash, p->iterations,
                                          (size_t)p->memory_kib * 1024u) != 0;
}
