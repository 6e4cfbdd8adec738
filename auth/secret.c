/* auth/secret.c — API-account secrets and their keyed hashes (libsodium). See secret.h. */
#include "auth/secret.h"

#include <string.h>

#include <sodium.h>

#include "auth/password.h"

int auth_secret_generate(char out[AUTH_SECRET_TEXT_MAX])
{
    unsigned char raw[32];
    if (auth_password_init() != 0)
        return -1;
    randombytes_buf(raw, sizeof(raw));
    memcpy(out, AUTH_SECRET_PREFIX, strlen(AUTH_SECRET_PREFIX));
    sodium_bin2base64(out + strlen(AUTH_SECRET_PREFIX),
                      AUTH_SECRET_TEXT_MAX - strlen(AUTH_SECRET_PREFIX), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    return 0;
}

int auth_secret_hash(const unsigned char key[AUTH_SECRET_KEY_BYTES], const char *secret,
                     size_t len, char out[AUTH_SECRET_HASH_HEX])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    if (auth_password_init() != 0)
        return -1;
    crypto_auth_hmacsha256_init(&st, key, AUTH_SECRET_KEY_BYTES);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)secret, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, AUTH_SECRET_HASH_HEX, mac, sizeof(mac));
    return 0;
}

bool auth_secret_verify(const unsigned char key[AUTH_SECRET_KEY_BYTES], const char *secret,
                        size_t len, const char *stored_hex)
{
    char h[AUTH_SECRET_HASH_HEX];
    if (!stored_hex || strlen(stored_hex) != AUTH_SECRET_HASH_HEX - 1)
        return false;
    if (auth_secret_hash(key, secret, len, h) != 0)
        return false;
    return sodium_memcmp(h, stored_hex, AUTH_SECRET_HASH_HEX - 1) == 0;
}

void auth_fingerprint(const void *data, size_t len, char out[9])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, data, len);
    sodium_bin2hex(out, 9, d, 4);
}
