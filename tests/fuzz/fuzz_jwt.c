/* tests/fuzz/fuzz_jwt.c — libFuzzer driver for auth/jwt_verify and auth/jwt_cache with a real
 * key set (an ES256 signing key and a published RS256 key, generated at start-up).
 *
 * The first input byte picks what the rest is:
 *   0..127   the whole token, verified as a person token and as an API token, directly and
 *            through a small cache;
 *   128..191 the payload JSON of a token with a valid header, validly signed (so claim
 *            parsing, checks and claims_to_json see arbitrary JSON);
 *   192..255 the header JSON of a validly signed token with a valid payload.
 * Any accepted token must carry claims consistent with the options it was checked against.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/jwt_cache.h"
#include "auth/jwt_keys.h"
#include "auth/jwt_verify.h"

#define ISS "https://onegate.test"

static struct auth_jwt_keyset *ks;
static struct auth_jwt_cache *cache;
static EVP_PKEY *ec;
static char kid[AUTH_JWT_KID_LEN + 1];

static struct auth_jwt_key *load(EVP_PKEY *k, int priv)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (priv)
        PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    else
        PEM_write_bio_PUBKEY(b, k);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    struct auth_jwt_key *key = NULL;
    char err[256];
    if (auth_jwt_key_load_pem(data, (size_t)n, "fuzz", priv, &key, err, sizeof err) < 0)
        abort();
    BIO_free(b);
    return key;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    ec = EVP_EC_gen("P-256");
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    ks = auth_jwt_keyset_new();
    struct auth_jwt_key *k = load(ec, 1);
    memcpy(kid, auth_jwt_key_kid(k), sizeof kid);
    if (!ec || !rsa || !ks || auth_jwt_keyset_add(ks, k, true, err, sizeof err) < 0 ||
        auth_jwt_keyset_add(ks, load(rsa, 0), false, err, sizeof err) < 0 ||
        auth_jwt_keyset_seal(ks, err, sizeof err) < 0)
        abort();
    EVP_PKEY_free(rsa);
    cache = auth_jwt_cache_new(64);
    return cache ? 0 : -1;
}

static void check_one(const char *tok, size_t len, enum auth_jwt_sub_type expect,
                      const char *aud)
{
    struct auth_jwt_verify_opts o;
    auth_jwt_verify_opts_init(&o);
    o.issuer = ISS;
    o.audience = aud;
    o.expect = expect;
    struct auth_jwt_claims *c = NULL;
    char err[256];
    int rc = auth_jwt_verify(ks, &o, tok, len, &c, err, sizeof err);
    if (rc == 0) {
        /* Accepted means: the promised checks held. */
        if (!c || c->sub_type != expect || strcmp(c->iss, ISS) != 0 || !c->jti || !c->sub ||
            c->exp <= time(NULL) - (int64_t)o.leeway_s)
            abort();
        free(auth_jwt_claims_to_json(c));
        auth_jwt_claims_unref(c);
    } else if (c || rc > 0) {
        abort();
    }
    bool hit;
    rc = auth_jwt_cache_verify(cache, ks, &o, tok, len, &c, &hit, err, sizeof err);
    if (rc == 0 && (!c || c->sub_type != expect))
        abort();
    auth_jwt_claims_unref(c);
}

static size_t b64(const void *p, size_t n, char *out)
{
    return auth_jwt_b64url_encode(p, n, out);
}

/* header.payload signed with the fuzzer's EC key (JWS r||s). New string. */
static char *sign(const char *hdr, size_t hl, const char *pl, size_t pll, size_t *outlen)
{
    char *tok = malloc(auth_jwt_b64url_len(hl) + auth_jwt_b64url_len(pll) + 100);
    size_t o = b64(hdr, hl, tok);
    tok[o++] = '.';
    o += b64(pl, pll, tok + o);
    unsigned char der[128], sig[64];
    size_t dl = sizeof der;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ec) != 1 ||
        EVP_DigestSign(md, der, &dl, (unsigned char *)tok, o) != 1)
        abort();
    EVP_MD_CTX_free(md);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    BN_bn2binpad(r, sig, 32);
    BN_bn2binpad(s, sig + 32, 32);
    ECDSA_SIG_free(es);
    tok[o++] = '.';
    o += b64(sig, 64, tok + o);
    *outlen = o;
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return 0;
    uint8_t mode = data[0];
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    if (mode < 128) {
        check_one(rest, n, AUTH_JWT_SUB_PERSON, "ssp");
        check_one(rest, n, AUTH_JWT_SUB_API_ACCOUNT, NULL);
        return 0;
    }
    char hdr[128], pl[256];
    size_t len;
    char *tok;
    if (mode < 192) {
        int hl = snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                          kid);
        tok = sign(hdr, (size_t)hl, rest, n, &len);
    } else {
        long long now = (long long)time(NULL);
        int pll = snprintf(pl, sizeof pl, "{\"iss\":\"%s\",\"sub\":\"p\",\"aud\":\"ssp\","
                           "\"iat\":%lld,\"exp\":%lld,\"jti\":\"j\",\"sub_type\":\"person\"}",
                           ISS, now, now + 60);
        tok = sign(rest, n, pl, (size_t)pll, &len);
    }
    check_one(tok, len, AUTH_JWT_SUB_PERSON, "ssp");
    check_one(tok, len, AUTH_JWT_SUB_API_ACCOUNT, NULL);
    free(tok);
    return 0;
}
