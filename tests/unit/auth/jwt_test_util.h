/* tests/unit/auth/jwt_test_util.h — helpers for the JWT tests and the JWT fuzzer: generate
 * keys at test time (never committed), write them as PEM into a temp dir, and hand-craft JWS
 * tokens (any header, any payload, ES256/RS256/HS256 or no signature) to play the attacker.
 * Header-only (static functions) so each test runner stays one .c file.
 */
#ifndef ONEGATE_TESTS_JWT_TEST_UTIL_H
#define ONEGATE_TESTS_JWT_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/jwt_keys.h"

/* Not every runner uses every helper. */
#define TU_FN static __attribute__((unused))

TU_FN void tu_die(const char *what)
{
    fprintf(stderr, "jwt test setup failed: %s\n", what);
    abort();
}

TU_FN EVP_PKEY *tu_gen_ec(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    if (!k)
        tu_die("EC keygen");
    return k;
}

TU_FN EVP_PKEY *tu_gen_rsa(unsigned bits)
{
    EVP_PKEY *k = EVP_RSA_gen(bits);
    if (!k)
        tu_die("RSA keygen");
    return k;
}

/* Writes <k> as PEM to <dir>/<name>; private (PKCS#8) or public (SubjectPublicKeyInfo).
 * Returns a new path string. */
TU_FN char *tu_write_pem(EVP_PKEY *k, const char *dir, const char *name, int priv)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        tu_die("asprintf");
    FILE *f = fopen(path, "w");
    if (!f)
        tu_die(path);
    int ok = priv ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
                  : PEM_write_PUBKEY(f, k);
    if (fclose(f) != 0 || !ok)
        tu_die("PEM write");
    return path;
}

/* Reads a whole file; new NUL-terminated buffer. */
TU_FN char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        tu_die(path);
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

TU_FN char *tu_b64(const void *p, size_t n)
{
    char *s = malloc(auth_jwt_b64url_len(n) + 1);
    auth_jwt_b64url_encode(p, n, s);
    return s;
}

/* base64url(header) "." base64url(payload); new string. */
TU_FN char *tu_signing_input(const char *hdr, const char *payload)
{
    char *h = tu_b64(hdr, strlen(hdr)), *p = tu_b64(payload, strlen(payload)), *s = NULL;
    if (asprintf(&s, "%s.%s", h, p) < 0)
        tu_die("asprintf");
    free(h);
    free(p);
    return s;
}

/* input "." base64url(sig); new string. */
TU_FN char *tu_join(const char *input, const unsigned char *sig, size_t siglen)
{
    char *b = tu_b64(sig, siglen), *s = NULL;
    if (asprintf(&s, "%s.%s", input, b) < 0)
        tu_die("asprintf");
    free(b);
    return s;
}

/* A JWS signed with <k>: ES256 (r||s) for EC keys, RS256 for RSA keys, whatever <hdr> says. */
TU_FN char *tu_sign(const char *hdr, const char *payload, EVP_PKEY *k)
{
    char *in = tu_signing_input(hdr, payload);
    unsigned char der[1100], sig[1100];
    size_t derlen = sizeof der, siglen;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(md, der, &derlen, (unsigned char *)in, strlen(in)) != 1)
        tu_die("sign");
    EVP_MD_CTX_free(md);
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
        const unsigned char *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(es, &r, &s);
        BN_bn2binpad(r, sig, 32);
        BN_bn2binpad(s, sig + 32, 32);
        ECDSA_SIG_free(es);
        siglen = 64;
    } else {
        memcpy(sig, der, derlen);
        siglen = derlen;
    }
    char *tok = tu_join(in, sig, siglen);
    free(in);
    return tok;
}

/* A JWS whose signature is HMAC-SHA256 keyed with <key,keylen> (the algorithm-confusion
 * attack: the key is the victim's public key PEM or its JWKS). */
TU_FN char *tu_hmac(const char *hdr, const char *payload, const void *key, size_t keylen)
{
    char *in = tu_signing_input(hdr, payload);
    unsigned char mac[32];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)in, strlen(in), mac, &maclen))
        tu_die("hmac");
    char *tok = tu_join(in, mac, maclen);
    free(in);
    return tok;
}

/* header.payload.<sig_b64 as given> (may be ""). */
TU_FN char *tu_raw(const char *hdr, const char *payload, const char *sig_b64)
{
    char *in = tu_signing_input(hdr, payload), *s = NULL;
    if (asprintf(&s, "%s.%s", in, sig_b64) < 0)
        tu_die("asprintf");
    free(in);
    return s;
}

#endif
