/* auth/jwt_keys.c — loads JWT keys from PEM once into EVP_PKEY, names them by their RFC 7638
 * thumbprint, groups them into a key set and renders the JWKS. Runs at startup and on SIGHUP,
 * never on the request path. Also home of the module's error names and strict base64url.
 */
#include "auth/jwt_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#define KEY_FILE_MAX_BYTES (64 * 1024)

int jwt_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *auth_jwt_strerror(int rc)
{
    switch (rc) {
    case AUTH_JWT_OK: return "ok";
    case AUTH_JWT_E_INVAL: return "invalid_argument";
    case AUTH_JWT_E_NOMEM: return "out_of_memory";
    case AUTH_JWT_E_KEY: return "bad_key";
    case AUTH_JWT_E_KEY_ENCRYPTED: return "encrypted_key";
    case AUTH_JWT_E_CRYPTO: return "crypto_failure";
    case AUTH_JWT_E_TOO_LARGE: return "too_large";
    case AUTH_JWT_E_MALFORMED: return "malformed";
    case AUTH_JWT_E_HEADER: return "bad_header";
    case AUTH_JWT_E_ALG: return "bad_alg";
    case AUTH_JWT_E_KID: return "unknown_kid";
    case AUTH_JWT_E_SIGNATURE: return "bad_signature";
    case AUTH_JWT_E_EXPIRED: return "expired";
    case AUTH_JWT_E_NOT_YET_VALID: return "not_yet_valid";
    case AUTH_JWT_E_ISSUER: return "bad_issuer";
    case AUTH_JWT_E_AUDIENCE: return "bad_audience";
    case AUTH_JWT_E_SUB_TYPE: return "wrong_sub_type";
    case AUTH_JWT_E_CLAIMS: return "bad_claims";
    default: return "unknown_error";
    }
}

const char *auth_jwt_alg_name(enum auth_jwt_alg alg)
{
    switch (alg) {
    case AUTH_JWT_ALG_ES256: return "ES256";
    case AUTH_JWT_ALG_RS256: return "RS256";
    }
    return "?";
}

/* ---- base64url ---- */

static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Reverse table: 0..63 for the alphabet, 0xff for everything else. */
static const unsigned char B64URL_REV[256] = {
#define X 0xff
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,62,X,X, 52,53,54,55,56,57,58,59,60,61,X,X,X,X,X,X,
    X,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14, 15,16,17,18,19,20,21,22,23,24,25,X,X,X,X,63,
    X,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40, 41,42,43,44,45,46,47,48,49,50,51,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
#undef X
};

size_t auth_jwt_b64url_len(size_t n)
{
    return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

size_t auth_jwt_b64url_encode(const void *src, size_t n, char *dst)
{
    const unsigned char *s = src;
    size_t i = 0, o = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        dst[o++] = B64URL[(v >> 18) & 63];
        dst[o++] = B64URL[(v >> 12) & 63];
        dst[o++] = B64URL[(v >> 6) & 63];
        dst[o++] = B64URL[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        dst[o++] = B64URL[(v >> 18) & 63];
        dst[o++] = B64URL[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        dst[o++] = B64URL[(v >> 18) & 63];
        dst[o++] = B64URL[(v >> 12) & 63];
        dst[o++] = B64URL[(v >> 6) & 63];
    }
    dst[o] = '\0';
    return o;
}

long auth_jwt_b64url_decode(const char *src, size_t n, unsigned char *dst)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;
    if (n % 4 == 1)
        return -1;
    for (; i + 4 <= n; i += 4) {
        unsigned a = B64URL_REV[s[i]], b = B64URL_REV[s[i + 1]];
        unsigned c = B64URL_REV[s[i + 2]], d = B64URL_REV[s[i + 3]];
        if ((a | b | c | d) & 0x80)
            return -1;
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        dst[o++] = (unsigned char)(v >> 16);
        dst[o++] = (unsigned char)(v >> 8);
        dst[o++] = (unsigned char)v;
    }
    size_t rest = n - i;
    if (rest == 2) {
        unsigned a = B64URL_REV[s[i]], b = B64URL_REV[s[i + 1]];
        if (((a | b) & 0x80) || (b & 0x0f))      /* 4 unused bits must be zero */
            return -1;
        dst[o++] = (unsigned char)(a << 2 | b >> 4);
    } else if (rest == 3) {
        unsigned a = B64URL_REV[s[i]], b = B64URL_REV[s[i + 1]], c = B64URL_REV[s[i + 2]];
        if (((a | b | c) & 0x80) || (c & 0x03))  /* 2 unused bits must be zero */
            return -1;
        uint32_t v = a << 12 | b << 6 | c;
        dst[o++] = (unsigned char)(v >> 10);
        dst[o++] = (unsigned char)(v >> 2);
    }
    return (long)o;
}

/* ---- keys ---- */

/* Password callback that never prompts: records that a passphrase was wanted and fails. */
static int no_prompt_cb(char *buf, int size, int rwflag, void *u)
{
    *(bool *)u = true;
    return -1;
}

/* base64url of a big-endian unsigned integer from <pkey>'s <param>, padded to <pad> bytes
 * (0 = minimal, as RFC 7518 wants for n and e). Returns a new string or NULL. */
static char *bn_param_b64(const EVP_PKEY *pkey, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char *bin = NULL;
    char *out = NULL;
    if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
        goto out;
    int n = pad ? pad : BN_num_bytes(bn);
    if (n <= 0 || BN_num_bytes(bn) > n)
        goto out;
    bin = malloc((size_t)n);
    out = bin ? malloc(auth_jwt_b64url_len((size_t)n) + 1) : NULL;
    if (!out)
        goto out;
    if (BN_bn2binpad(bn, bin, n) != n) {
        free(out);
        out = NULL;
        goto out;
    }
    auth_jwt_b64url_encode(bin, (size_t)n, out);
out:
    free(bin);
    BN_free(bn);
    return out;
}

/* Fills k->kid (RFC 7638 thumbprint) and k->jwk (the JWKS entry). */
static int key_describe(struct auth_jwt_key *k, const char *what, char *err, size_t errlen)
{
    char *a = NULL, *b = NULL, *canon = NULL;
    int rc = AUTH_JWT_E_NOMEM;
    size_t len;

    if (k->alg == AUTH_JWT_ALG_ES256) {
        a = bn_param_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32);
        b = bn_param_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    } else {
        a = bn_param_b64(k->pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        b = bn_param_b64(k->pkey, OSSL_PKEY_PARAM_RSA_E, 0);
    }
    if (!a || !b) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_KEY, "%s: cannot read the public key parameters",
                      what);
        goto out;
    }
    /* RFC 7638 §3.2: required members only, lexicographic order, no whitespace. */
    len = strlen(a) + strlen(b) + 64;
    canon = malloc(len);
    if (!canon)
        goto out;
    if (k->alg == AUTH_JWT_ALG_ES256)
        snprintf(canon, len, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", a, b);
    else
        snprintf(canon, len, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", b, a);
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_CRYPTO, "%s: SHA-256 failed", what);
        goto out;
    }
    auth_jwt_b64url_encode(md, 32, k->kid);

    len += 128;
    k->jwk = malloc(len);
    if (!k->jwk)
        goto out;
    if (k->alg == AUTH_JWT_ALG_ES256)
        snprintf(k->jwk, len,
                 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"%s\","
                 "\"alg\":\"ES256\",\"use\":\"sig\"}", a, b, k->kid);
    else
        snprintf(k->jwk, len,
                 "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\",\"kid\":\"%s\","
                 "\"alg\":\"RS256\",\"use\":\"sig\"}", a, b, k->kid);
    rc = 0;
out:
    free(a);
    free(b);
    free(canon);
    return rc;
}

/* Checks the key type and strength; sets k->alg and k->sig_len. */
static int key_classify(struct auth_jwt_key *k, const char *what, char *err, size_t errlen)
{
    int id = EVP_PKEY_get_base_id(k->pkey);
    if (id == EVP_PKEY_EC) {
        char group[64] = "";
        size_t glen = 0;
        if (!EVP_PKEY_get_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                            sizeof group, &glen))
            return jwt_fail(err, errlen, AUTH_JWT_E_KEY, "%s: EC key without a named curve",
                            what);
        if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)
            return jwt_fail(err, errlen, AUTH_JWT_E_KEY,
                            "%s: EC curve %s is not supported (ES256 needs P-256)", what, group);
        k->alg = AUTH_JWT_ALG_ES256;
        k->sig_len = JWT_ES256_SIG_LEN;
        return 0;
    }
    if (id == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(k->pkey);
        if (bits < AUTH_JWT_RSA_MIN_BITS || bits > AUTH_JWT_RSA_MAX_BITS)
            return jwt_fail(err, errlen, AUTH_JWT_E_KEY,
                            "%s: RSA key of %d bits (RS256 needs %d..%d)", what, bits,
                            AUTH_JWT_RSA_MIN_BITS, AUTH_JWT_RSA_MAX_BITS);
        k->alg = AUTH_JWT_ALG_RS256;
        k->sig_len = (size_t)EVP_PKEY_get_size(k->pkey);
        return 0;
    }
    return jwt_fail(err, errlen, AUTH_JWT_E_KEY,
                    "%s: unsupported key type (use an EC P-256 key for ES256 or RSA >= %d bits "
                    "for RS256)", what, AUTH_JWT_RSA_MIN_BITS);
}

int auth_jwt_key_load_pem(const char *pem, size_t len, const char *what, bool need_private,
                          struct auth_jwt_key **out, char *err, size_t errlen)
{
    struct auth_jwt_key *k = NULL;
    BIO *bio = NULL;
    EVP_PKEY_CTX *cctx = NULL;
    bool wants_pass = false;
    int rc;

    *out = NULL;
    if (!pem || !what)
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "no key given");
    if (len > KEY_FILE_MAX_BYTES)
        return jwt_fail(err, errlen, AUTH_JWT_E_KEY, "%s: larger than %d bytes", what,
                        KEY_FILE_MAX_BYTES);
    /* Refuse encrypted keys by their PEM markers before OpenSSL could want a passphrase;
     * the no-prompt callback below catches any other encrypted form. */
    if (memmem(pem, len, "ENCRYPTED", 9))
        return jwt_fail(err, errlen, AUTH_JWT_E_KEY_ENCRYPTED,
                        "%s: the key is encrypted; onegate never prompts for a passphrase "
                        "(decrypt it: openssl pkey -in KEY -out KEY.plain, mode 0600)", what);
    bool is_private = memmem(pem, len, "PRIVATE KEY-----", 16) != NULL;
    bool is_public = memmem(pem, len, "-----BEGIN PUBLIC KEY-----", 26) != NULL;
    if (need_private && !is_private)
        return jwt_fail(err, errlen, AUTH_JWT_E_KEY,
                        "%s: a signing key must be a private key PEM", what);
    if (!is_private && !is_public)
        return jwt_fail(err, errlen, AUTH_JWT_E_KEY,
                        "%s: no \"PRIVATE KEY\" or \"PUBLIC KEY\" PEM block found", what);

    k = calloc(1, sizeof *k);
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!k || !bio) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
        goto out;
    }
    if (is_private)
        k->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_prompt_cb, &wants_pass);
    else
        k->pkey = PEM_read_bio_PUBKEY(bio, NULL, no_prompt_cb, &wants_pass);
    ERR_clear_error();
    if (wants_pass) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_KEY_ENCRYPTED,
                      "%s: the key is encrypted; onegate never prompts for a passphrase", what);
        goto out;
    }
    if (!k->pkey) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_KEY, "%s: cannot parse the PEM key", what);
        goto out;
    }
    k->has_private = is_private;
    if ((rc = key_classify(k, what, err, errlen)) < 0)
        goto out;
    /* A key we sign with must be internally consistent; a public key must be on its curve /
     * a sane RSA modulus. */
    cctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (!cctx) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
        goto out;
    }
    if ((is_private ? EVP_PKEY_check(cctx) : EVP_PKEY_public_check(cctx)) != 1) {
        ERR_clear_error();
        rc = jwt_fail(err, errlen, AUTH_JWT_E_KEY, "%s: the key fails OpenSSL's consistency "
                      "check", what);
        goto out;
    }
    if ((rc = key_describe(k, what, err, errlen)) < 0)
        goto out;
    *out = k;
    k = NULL;
    rc = 0;
out:
    EVP_PKEY_CTX_free(cctx);
    BIO_free(bio);
    auth_jwt_key_free(k);
    return rc;
}

int auth_jwt_key_load_file(const char *path, bool need_private, struct auth_jwt_key **out,
                           char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;
    *out = NULL;
    if (!path)
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "no key path given");
    FILE *f = fopen(path, "rb");
    if (!f)
        return jwt_fail(err, errlen, AUTH_JWT_E_KEY, "%s: %s", path, strerror(errno));
    buf = malloc(KEY_FILE_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
    }
    len = fread(buf, 1, KEY_FILE_MAX_BYTES + 1, f);
    bool ioerr = ferror(f);
    fclose(f);
    if (ioerr)
        rc = jwt_fail(err, errlen, AUTH_JWT_E_KEY, "%s: read error", path);
    else if (len > KEY_FILE_MAX_BYTES)
        rc = jwt_fail(err, errlen, AUTH_JWT_E_KEY, "%s: larger than %d bytes", path,
                      KEY_FILE_MAX_BYTES);
    else
        rc = auth_jwt_key_load_pem(buf, len, path, need_private, out, err, errlen);
    OPENSSL_cleanse(buf, KEY_FILE_MAX_BYTES + 1);
    free(buf);
    return rc;
}

void auth_jwt_key_free(struct auth_jwt_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k->jwk);
    free(k->hdr_b64);
    free(k);
}

const char *auth_jwt_key_kid(const struct auth_jwt_key *k) { return k->kid; }
enum auth_jwt_alg auth_jwt_key_alg(const struct auth_jwt_key *k) { return k->alg; }
bool auth_jwt_key_has_private(const struct auth_jwt_key *k) { return k->has_private; }

/* ---- key set ---- */

static atomic_uint_fast64_t keyset_generations = 1;

struct auth_jwt_keyset *auth_jwt_keyset_new(void)
{
    struct auth_jwt_keyset *ks = calloc(1, sizeof *ks);
    if (!ks)
        return NULL;
    atomic_init(&ks->refs, 1);
    ks->generation = atomic_fetch_add(&keyset_generations, 1);
    return ks;
}

int auth_jwt_keyset_add(struct auth_jwt_keyset *ks, struct auth_jwt_key *k, bool signing,
                        char *err, size_t errlen)
{
    int rc;
    if (!ks || !k || ks->sealed) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "key set is sealed or argument missing");
        goto fail;
    }
    if (signing && !k->has_private) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_KEY, "signing key %s has no private half", k->kid);
        goto fail;
    }
    if (signing && ks->signing) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "only one signing key may be configured");
        goto fail;
    }
    for (size_t i = 0; i < ks->nkeys; i++) {
        if (strcmp(ks->keys[i]->kid, k->kid) == 0) {
            rc = jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "key %s is configured twice", k->kid);
            goto fail;
        }
    }
    if (ks->nkeys == ks->cap) {
        size_t ncap = ks->cap ? ks->cap * 2 : 4;
        struct auth_jwt_key **nk = realloc(ks->keys, ncap * sizeof *nk);
        if (!nk) {
            rc = jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
            goto fail;
        }
        ks->keys = nk;
        ks->cap = ncap;
    }
    ks->keys[ks->nkeys++] = k;
    if (signing)
        ks->signing = k;
    return 0;
fail:
    auth_jwt_key_free(k);
    return rc;
}

int auth_jwt_keyset_seal(struct auth_jwt_keyset *ks, char *err, size_t errlen)
{
    if (!ks || ks->sealed)
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "key set missing or already sealed");
    if (ks->nkeys == 0)
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "no JWT keys configured");
    ks->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!ks->sha256)
        return jwt_fail(err, errlen, AUTH_JWT_E_CRYPTO, "SHA256 is not available");

    /* Signing key first in the JWKS (some clients try keys in order). */
    for (size_t i = 0; ks->signing && i < ks->nkeys; i++) {
        if (ks->keys[i] == ks->signing) {
            memmove(ks->keys + 1, ks->keys, i * sizeof *ks->keys);
            ks->keys[0] = ks->signing;
            break;
        }
    }
    size_t total = 16;
    for (size_t i = 0; i < ks->nkeys; i++)
        total += strlen(ks->keys[i]->jwk) + 1;
    ks->jwks = malloc(total);
    if (!ks->jwks)
        return jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
    size_t o = (size_t)sprintf(ks->jwks, "{\"keys\":[");
    for (size_t i = 0; i < ks->nkeys; i++) {
        struct auth_jwt_key *k = ks->keys[i];
        o += (size_t)sprintf(ks->jwks + o, "%s%s", i ? "," : "", k->jwk);

        char hdr[128];
        int hl = snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                          auth_jwt_alg_name(k->alg), k->kid);
        k->hdr_b64 = malloc(auth_jwt_b64url_len((size_t)hl) + 1);
        if (!k->hdr_b64)
            return jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
        k->hdr_b64_len = auth_jwt_b64url_encode(hdr, (size_t)hl, k->hdr_b64);
    }
    o += (size_t)sprintf(ks->jwks + o, "]}");
    ks->jwks_len = o;
    ks->sealed = true;
    return 0;
}

struct auth_jwt_keyset *auth_jwt_keyset_load(const char *signing_path,
                                             const char *const *verify_paths, size_t nverify,
                                             char *err, size_t errlen)
{
    struct auth_jwt_keyset *ks = auth_jwt_keyset_new();
    struct auth_jwt_key *k = NULL;
    if (!ks) {
        jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
        return NULL;
    }
    if (signing_path) {
        if (auth_jwt_key_load_file(signing_path, true, &k, err, errlen) < 0 ||
            auth_jwt_keyset_add(ks, k, true, err, errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; i < nverify; i++) {
        if (auth_jwt_key_load_file(verify_paths[i], false, &k, err, errlen) < 0 ||
            auth_jwt_keyset_add(ks, k, false, err, errlen) < 0)
            goto fail;
    }
    if (auth_jwt_keyset_seal(ks, err, errlen) < 0)
        goto fail;
    return ks;
fail:
    auth_jwt_keyset_unref(ks);
    return NULL;
}

struct auth_jwt_keyset *auth_jwt_keyset_ref(struct auth_jwt_keyset *ks)
{
    if (ks)
        atomic_fetch_add(&ks->refs, 1);
    return ks;
}

void auth_jwt_keyset_unref(struct auth_jwt_keyset *ks)
{
    if (!ks || atomic_fetch_sub(&ks->refs, 1) != 1)
        return;
    for (size_t i = 0; i < ks->nkeys; i++)
        auth_jwt_key_free(ks->keys[i]);
    free(ks->keys);
    free(ks->jwks);
    EVP_MD_free(ks->sha256);
    free(ks);
}

uint64_t auth_jwt_keyset_generation(const struct auth_jwt_keyset *ks) { return ks->generation; }

const struct auth_jwt_key *auth_jwt_keyset_signing_key(const struct auth_jwt_keyset *ks)
{
    return ks->signing;
}

const struct auth_jwt_key *auth_jwt_keyset_find(const struct auth_jwt_keyset *ks,
                                                const char *kid, size_t len)
{
    if (len != AUTH_JWT_KID_LEN)
        return NULL;
    for (size_t i = 0; i < ks->nkeys; i++)
        if (memcmp(ks->keys[i]->kid, kid, AUTH_JWT_KID_LEN) == 0)
            return ks->keys[i];
    return NULL;
}

size_t auth_jwt_keyset_count(const struct auth_jwt_keyset *ks) { return ks->nkeys; }

const char *auth_jwt_keyset_jwks(const struct auth_jwt_keyset *ks, size_t *len)
{
    if (len)
        *len = ks->sealed ? ks->jwks_len : 0;
    return ks->sealed ? ks->jwks : NULL;
}
