/* jwt.c — how the demo portal checks the token onegate forwards (docs/INTEGRATIONS.md §3),
 * written the way an independent portal would, with OpenSSL and jansson only:
 *   1. "Bearer <jwt>" in cfg->jwt_header, bounded size, three base64url parts;
 *   2. the header: kid required and known (an unknown kid asks jwks.c for a re-fetch and
 *      parks the request until it ends), alg compared exactly with the KEY's algorithm
 *      (never chosen by the token: none/HS256 are refused), jku/x5u/x5c/jwk/crit refused;
 *   3. the signature: ES256 (JWS r||s turned into DER) or RS256 (PKCS#1 v1.5), SHA-256;
 *   4. the claims: exp required and not past, nbf not future (cfg->leeway_s), iss equal to
 *      --issuer when given, aud equal to / containing --audience.
 * Verified tokens are remembered per thread (a few entries) until they expire or the key
 * set changes, so the token onegate reuses for many requests is checked once.
 * Tokens are never logged or shown. */
#include "portal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#define JWT_MAX_BYTES 16384
#define JWT_WAIT_MS 3000
#define CACHE_ENTRIES 8

struct cache_entry {
    char *token;
    json_t *claims;
    int64_t exp;
    uint64_t generation;
};
static __thread struct cache_entry cache[CACHE_ENTRIES];
static __thread unsigned cache_next;

void dp_jwt_result_clear(struct dp_jwt_result *res)
{
    json_decref(res->claims);
    res->claims = NULL;
}

void dp_jwt_thread_cleanup(void)
{
    for (int i = 0; i < CACHE_ENTRIES; i++) {
        free(cache[i].token);
        json_decref(cache[i].claims);
        cache[i] = (struct cache_entry){0};
    }
}

static int reject(struct dp_jwt_result *res, const char *fmt, const char *arg)
{
    res->status = DP_JWT_REJECTED;
    snprintf(res->error, sizeof res->error, fmt, arg ? arg : "");
    return -1;
}

/* Decodes base64url part <s>/<n> and parses it as a JSON object. NULL when either fails. */
static json_t *part_json(const char *s, size_t n)
{
    unsigned char *buf = malloc(n + 1);
    long len = buf ? dp_b64url_decode(s, n, buf, n + 1) : -1;
    json_t *j = len > 0 ? json_loadb((char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, NULL)
                        : NULL;
    free(buf);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Checks the JWS signature <sig>/<slen> over <input>/<ilen> with <k>. Returns 0 when valid. */
static int signature_ok(const struct dp_key *k, const char *input, size_t ilen,
                        const unsigned char *sig, size_t slen)
{
    unsigned char *der = NULL;
    int derlen = 0, ok = 0;
    if (strcmp(k->alg, "ES256") == 0) {
        /* JWS carries r||s (RFC 7518 §3.4); OpenSSL wants an ASN.1 ECDSA-Sig-Value */
        if (slen != 64)
            return -1;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
        if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return -1;
        }
        derlen = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (derlen <= 0)
            return -1;
        sig = der;
        slen = (size_t)derlen;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
        EVP_DigestVerify(md, sig, slen, (const unsigned char *)input, ilen) == 1)
        ok = 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok ? 0 : -1;
}

/* The claim checks of step 4 on <claims>. Returns 0 or -1 with res->error. */
static int claims_ok(const struct dp_config *cfg, json_t *claims, struct dp_jwt_result *res)
{
    int64_t now = (int64_t)time(NULL);
    json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    if (!json_is_integer(exp))
        return reject(res, "no exp claim%s", NULL);
    if (now > json_integer_value(exp) + cfg->leeway_s)
        return reject(res, "expired%s", NULL);
    if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now + cfg->leeway_s))
        return reject(res, "not yet valid (nbf)%s", NULL);
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (cfg->issuer && (!iss || strcmp(iss, cfg->issuer) != 0))
        return reject(res, "wrong issuer (expected %.150s)", cfg->issuer);
    json_t *aud = json_object_get(claims, "aud");
    int aud_ok = 0;
    if (json_is_string(aud)) {
        aud_ok = !strcmp(json_string_value(aud), cfg->audience);
    } else if (json_is_array(aud)) {
        size_t i;
        json_t *a;
        json_array_foreach(aud, i, a)
            aud_ok |= json_is_string(a) && !strcmp(json_string_value(a), cfg->audience);
    }
    if (!aud_ok)
        return reject(res, "wrong audience (this portal is %.150s)", cfg->audience);
    return 0;
}

/* Steps 1-4 on <token> against <ks> (may be NULL: no keys yet). Returns 0 (claims in res),
 * 1 when the kid is unknown or there are no keys (the caller may re-fetch), -1 rejected. */
static int verify(const struct dp_config *cfg, struct dp_keyset *ks, const char *token,
                  struct dp_jwt_result *res)
{
    size_t len = strlen(token);
    if (len > JWT_MAX_BYTES)
        return reject(res, "token too large%s", NULL);
    const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return reject(res, "not a JWS compact token (three parts)%s", NULL);
    int rc = -1;
    json_t *hdr = part_json(token, (size_t)(d1 - token)), *claims = NULL;
    unsigned char *sig = NULL;
    if (!hdr) {
        reject(res, "malformed header%s", NULL);
        goto out;
    }
    static const char *const refused[] = {"jku", "x5u", "x5c", "jwk", "crit"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (json_object_get(hdr, refused[i])) {
            reject(res, "header parameter %s refused", refused[i]);
            goto out;
        }
    }
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    json_t *typ = json_object_get(hdr, "typ");
    if (!alg) {
        reject(res, "no alg%s", NULL);
        goto out;
    }
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)) {
        reject(res, "typ is not JWT%s", NULL);
        goto out;
    }
    if (!kid) {
        reject(res, "no kid%s", NULL);
        goto out;
    }
    const struct dp_key *k = ks ? dp_keyset_find(ks, kid) : NULL;
    if (!k) {
        reject(res, ks ? "unknown key id (kid)%s" : "the issuer's keys (JWKS) are not available%s",
               NULL);
        rc = 1;
        goto out;
    }
    if (strcmp(alg, k->alg) != 0) {
        /* the key decides the algorithm: none, HS256 with the public key, ... */
        res->status = DP_JWT_REJECTED;
        snprintf(res->error, sizeof res->error, "algorithm %.20s refused (the key is %s)", alg,
                 k->alg);
        goto out;
    }
    size_t slen = strlen(d2 + 1);
    sig = malloc(slen + 1);
    long sl = sig ? dp_b64url_decode(d2 + 1, slen, sig, slen + 1) : -1;
    if (sl <= 0 || signature_ok(k, token, (size_t)(d2 - token), sig, (size_t)sl) != 0) {
        reject(res, "bad signature%s", NULL);
        goto out;
    }
    claims = part_json(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!claims) {
        reject(res, "malformed claims%s", NULL);
        goto out;
    }
    if (claims_ok(cfg, claims, res) != 0)
        goto out;
    res->status = DP_JWT_VERIFIED;
    res->claims = claims;
    claims = NULL;
    rc = 0;
out:
    json_decref(hdr);
    json_decref(claims);
    free(sig);
    return rc;
}

/* The token of the request, or NULL (no header or another scheme). Borrowed. */
static const char *request_token(const struct dp_conn *c)
{
    const char *h = dp_header_get(c, c->cfg->jwt_header);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

static int cache_get(const char *token, uint64_t gen, struct dp_jwt_result *res)
{
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < CACHE_ENTRIES; i++) {
        struct cache_entry *e = &cache[i];
        if (e->token && e->generation == gen && !strcmp(e->token, token)) {
            if (now > e->exp)
                return 0;   /* expired: verify again (and say why) */
            res->status = DP_JWT_VERIFIED;
            res->claims = json_incref(e->claims);
            return 1;
        }
    }
    return 0;
}

static void cache_put(const struct dp_config *cfg, const char *token, uint64_t gen, json_t *c)
{
    struct cache_entry *e = &cache[cache_next++ % CACHE_ENTRIES];
    free(e->token);
    json_decref(e->claims);
    e->token = strdup(token);
    e->claims = e->token ? json_incref(c) : NULL;
    e->exp = json_integer_value(json_object_get(c, "exp")) + cfg->leeway_s;
    e->generation = gen;
}

void dp_jwt_check(struct dp_conn *c, struct dp_jwt_result *res)
{
    const struct dp_config *cfg = c->cfg;
    memset(res, 0, sizeof *res);
    const char *token = request_token(c);
    if (!token) {
        res->status = DP_JWT_NONE;
        return;
    }
    struct dp_keyset *ks = dp_jwks_get();
    uint64_t gen = ks ? ks->generation : 0;
    if (cache_get(token, gen, res)) {
        dp_keyset_unref(ks);
        return;
    }
    int rc = verify(cfg, ks, token, res);
    dp_keyset_unref(ks);
    if (rc == 0) {
        cache_put(cfg, token, gen, res->claims);
        return;
    }
    if (rc == 1 && !c->jwt_waited) {
        /* unknown kid (a rotation?) or no keys yet: wait for a fresh JWKS once */
        uint64_t before = dp_jwks_attempts();
        if (ks == NULL || dp_jwks_refresh()) {
            res->status = DP_JWT_WAIT;
            c->jwt_parked = 1;
            c->jwt_waited = 1;
            c->jwt_attempts = before;
            c->jwt_deadline_ms = dp_now_ms() + JWT_WAIT_MS;
        }
    }
}
