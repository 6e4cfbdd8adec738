/* auth/jwt_verify.c — verifies bearer JWTs: the only place onegate decides that a token is
 * genuine. Sits behind auth/jwt_cache.c on the request path (a cache miss lands here).
 *
 * libjwt is deliberately not used (it trusts the header's alg and re-parses the PEM key on
 * every call, see auth/jwt_mint.c). Every structural check that costs no public-key operation
 * runs first, so a flood of forged tokens mostly dies in a few microseconds; a well-formed
 * token with a bad signature costs one ECDSA/RSA verification on the pre-parsed key.
 */
#include "auth/jwt_verify.h"
#include "auth/jwt_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>

#define HEADER_MAX_B64 1024         /* our headers are ~110 chars; anything near this is junk */
#define SIG_MAX_BYTES (AUTH_JWT_RSA_MAX_BITS / 8)

const char *auth_jwt_sub_type_name(enum auth_jwt_sub_type t)
{
    switch (t) {
    case AUTH_JWT_SUB_PERSON: return "person";
    case AUTH_JWT_SUB_API_ACCOUNT: return "api_account";
    }
    return "?";
}

void auth_jwt_verify_opts_init(struct auth_jwt_verify_opts *o)
{
    memset(o, 0, sizeof *o);
    o->leeway_s = AUTH_JWT_DEFAULT_LEEWAY_S;
    o->max_token_bytes = AUTH_JWT_DEFAULT_MAX_TOKEN_BYTES;
}

/* ---- claims object ---- */

struct auth_jwt_claims *auth_jwt_claims_ref(struct auth_jwt_claims *c)
{
    if (c)
        c->refs++;
    return c;
}

void auth_jwt_claims_unref(struct auth_jwt_claims *c)
{
    if (c && --c->refs == 0)
        free(c);
}

/* Copies strings into the tail of the claims allocation. */
struct arena {
    char *p;
};

static const char *arena_str(struct arena *a, json_t *s)
{
    if (!s)
        return NULL;
    size_t n = json_string_length(s);
    char *d = a->p;
    memcpy(d, json_string_value(s), n);
    d[n] = '\0';
    a->p += n + 1;
    return d;
}

static size_t str_size(json_t *s)
{
    return s ? json_string_length(s) + 1 : 0;
}

/* Optional member <name> of <o>: NULL if absent; -1 in *bad if present with the wrong type. */
static json_t *opt_string(json_t *o, const char *name, int *bad)
{
    json_t *v = json_object_get(o, name);
    if (v && !json_is_string(v))
        *bad = 1;
    return json_is_string(v) ? v : NULL;
}

static int opt_bool(json_t *o, const char *name, int *bad)
{
    json_t *v = json_object_get(o, name);
    if (v && !json_is_boolean(v))
        *bad = 1;
    return json_is_true(v);
}

/* Array of strings or absent; <single_ok> also accepts one string (for "aud"). */
static int string_list(json_t *v, bool single_ok, size_t *n, size_t *bytes)
{
    *n = 0;
    if (!v)
        return 0;
    if (single_ok && json_is_string(v)) {
        *n = 1;
        *bytes += str_size(v);
        return 0;
    }
    if (!json_is_array(v))
        return -1;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return -1;
        *bytes += str_size(e);
    }
    *n = json_array_size(v);
    return 0;
}

static void copy_list(struct arena *a, json_t *v, const char **dst, size_t n)
{
    if (n == 1 && json_is_string(v)) {
        dst[0] = arena_str(a, v);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = arena_str(a, json_array_get(v, i));
}

/* Type-checks the payload <pl> and builds the claims object. */
static int build_claims(json_t *pl, const struct auth_jwt_key *k, struct auth_jwt_claims **out,
                        char *err, size_t errlen)
{
    int bad = 0;
    json_t *st = json_object_get(pl, "sub_type");
    if (!json_is_string(st))
        return jwt_fail(err, errlen, AUTH_JWT_E_SUB_TYPE, "sub_type missing");
    enum auth_jwt_sub_type type;
    if (strcmp(json_string_value(st), "person") == 0)
        type = AUTH_JWT_SUB_PERSON;
    else if (strcmp(json_string_value(st), "api_account") == 0)
        type = AUTH_JWT_SUB_API_ACCOUNT;
    else
        return jwt_fail(err, errlen, AUTH_JWT_E_SUB_TYPE, "unknown sub_type");

    json_t *iss = json_object_get(pl, "iss");
    if (!json_is_string(iss))
        return jwt_fail(err, errlen, AUTH_JWT_E_ISSUER, "iss missing");
    json_t *exp = json_object_get(pl, "exp"), *iat = json_object_get(pl, "iat");
    json_t *nbf = json_object_get(pl, "nbf");
    if (!json_is_integer(exp) || !json_is_integer(iat) || (nbf && !json_is_integer(nbf)))
        return jwt_fail(err, errlen, AUTH_JWT_E_CLAIMS,
                        "exp and iat must be integers (nbf too when present)");
    json_t *jti = json_object_get(pl, "jti");
    if (!json_is_string(jti) || json_string_length(jti) == 0 ||
        json_string_length(jti) > AUTH_JWT_MAX_JTI_BYTES)
        return jwt_fail(err, errlen, AUTH_JWT_E_CLAIMS, "jti missing or too long");

    size_t bytes = str_size(iss) + str_size(jti);
    size_t naud = 0, nroles = 0;
    json_t *aud = json_object_get(pl, "aud");
    if (string_list(aud, true, &naud, &bytes) < 0 || (aud && naud == 0))
        return jwt_fail(err, errlen, AUTH_JWT_E_CLAIMS, "aud must be a string or strings");

    json_t *sub = opt_string(pl, "sub", &bad), *sid = NULL, *cid = NULL, *scope = NULL;
    json_t *name = NULL, *email = NULL, *roles = NULL;
    int ssp = 0, caller = 0;
    if (type == AUTH_JWT_SUB_PERSON) {
        sid = opt_string(pl, "sid", &bad);
        name = opt_string(pl, "name", &bad);
        email = opt_string(pl, "email", &bad);
        ssp = opt_bool(pl, "ssp_access", &bad);
        caller = opt_bool(pl, "caller", &bad);
        roles = json_object_get(pl, "roles");
        if (bad || string_list(roles, false, &nroles, &bytes) < 0)
            return jwt_fail(err, errlen, AUTH_JWT_E_CLAIMS, "a person claim has the wrong type");
        if (!sub || json_string_length(sub) == 0)
            return jwt_fail(err, errlen, AUTH_JWT_E_CLAIMS, "person token without sub");
    } else {
        cid = opt_string(pl, "client_id", &bad);
        scope = opt_string(pl, "scope", &bad);
        if (bad || !cid || json_string_length(cid) == 0)
            return jwt_fail(err, errlen, AUTH_JWT_E_CLAIMS,
                            "API token without a string client_id");
        if (sub && !json_equal(sub, cid))
            return jwt_fail(err, errlen, AUTH_JWT_E_CLAIMS, "API token whose sub is not its "
                            "client_id");
        sub = cid;
    }
    bytes += str_size(sub) + str_size(sid) + str_size(cid) + str_size(scope) + str_size(name) +
             str_size(email) + (scope ? 0 : (type == AUTH_JWT_SUB_API_ACCOUNT));

    size_t head = sizeof(struct auth_jwt_claims) + (naud + nroles) * sizeof(char *);
    struct auth_jwt_claims *c = malloc(head + bytes);
    if (!c)
        return jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
    memset(c, 0, sizeof *c);
    const char **lists = (const char **)(c + 1);
    struct arena a = { (char *)c + head };

    c->refs = 1;
    c->sub_type = type;
    c->alg = k->alg;
    memcpy(c->kid, k->kid, sizeof c->kid);
    c->iss = arena_str(&a, iss);
    c->jti = arena_str(&a, jti);
    c->sub = arena_str(&a, sub);
    c->sid = arena_str(&a, sid);
    if (type == AUTH_JWT_SUB_API_ACCOUNT) {
        c->client_id = c->sub;
        if (scope) {
            c->scope = arena_str(&a, scope);
        } else {
            *a.p = '\0';
            c->scope = a.p++;
        }
    }
    c->name = arena_str(&a, name);
    c->email = arena_str(&a, email);
    copy_list(&a, aud, lists, naud);
    c->aud = lists;
    c->naud = naud;
    copy_list(&a, roles, lists + naud, nroles);
    c->roles = lists + naud;
    c->nroles = nroles;
    c->ssp_access = ssp;
    c->caller = caller;
    c->exp = json_integer_value(exp);
    c->iat = json_integer_value(iat);
    c->has_nbf = nbf != NULL;
    c->nbf = nbf ? json_integer_value(nbf) : 0;
    *out = c;
    return 0;
}

int auth_jwt_claims_check(const struct auth_jwt_claims *c, const struct auth_jwt_verify_opts *o,
                          char *err, size_t errlen)
{
    if (c->sub_type != o->expect)
        return jwt_fail(err, errlen, AUTH_JWT_E_SUB_TYPE, "sub_type %s where %s is expected",
                        auth_jwt_sub_type_name(c->sub_type),
                        auth_jwt_sub_type_name(o->expect));
    if (strcmp(c->iss, o->issuer) != 0)
        return jwt_fail(err, errlen, AUTH_JWT_E_ISSUER, "iss is not this gateway's issuer");
    if (o->audience) {
        size_t i;
        for (i = 0; i < c->naud; i++)
            if (strcmp(c->aud[i], o->audience) == 0)
                break;
        if (i == c->naud)
            return jwt_fail(err, errlen, AUTH_JWT_E_AUDIENCE, "aud does not name %s",
                            o->audience);
    } else if (c->naud) {
        return jwt_fail(err, errlen, AUTH_JWT_E_AUDIENCE, "token has an aud; none expected here");
    }
    int64_t now = o->now_s ? o->now_s : (int64_t)time(NULL);
    int64_t leeway = o->leeway_s;
    if (c->exp <= now - leeway)
        return jwt_fail(err, errlen, AUTH_JWT_E_EXPIRED, "token expired");
    if (c->has_nbf && c->nbf > now + leeway)
        return jwt_fail(err, errlen, AUTH_JWT_E_NOT_YET_VALID, "nbf is in the future");
    if (c->iat > now + leeway)
        return jwt_fail(err, errlen, AUTH_JWT_E_NOT_YET_VALID, "iat is in the future");
    return 0;
}

/* ---- signature ---- */

/* Verifies the JWS signature <sig,siglen> (already length-checked) over <in,inlen>. */
static int jws_verify(const struct auth_jwt_keyset *ks, const struct auth_jwt_key *k,
                      const char *in, size_t inlen, const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *md = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char der[80], *dp = der;
    const unsigned char *vsig = sig;
    size_t vlen = siglen;
    int rc = AUTH_JWT_E_SIGNATURE;

    if (k->alg == AUTH_JWT_ALG_ES256) {
        /* JWS carries r||s; OpenSSL verifies DER ECDSA-Sig-Value. */
        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, 32, NULL);
        s = BN_bin2bn(sig + 32, 32, NULL);
        if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
            rc = AUTH_JWT_E_NOMEM;
            goto out;
        }
        r = s = NULL;               /* owned by es now */
        int n = i2d_ECDSA_SIG(es, NULL);
        if (n <= 0 || (size_t)n > sizeof der) {
            rc = AUTH_JWT_E_CRYPTO;
            goto out;
        }
        n = i2d_ECDSA_SIG(es, &dp);
        vsig = der;
        vlen = (size_t)n;
    }
    md = EVP_MD_CTX_new();
    if (!md) {
        rc = AUTH_JWT_E_NOMEM;
        goto out;
    }
    if (EVP_DigestVerifyInit(md, NULL, ks->sha256, NULL, k->pkey) != 1) {
        rc = AUTH_JWT_E_CRYPTO;
        goto out;
    }
    if (EVP_DigestVerify(md, vsig, vlen, (const unsigned char *)in, inlen) == 1)
        rc = 0;
out:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    ECDSA_SIG_free(es);
    BN_free(r);
    BN_free(s);
    return rc;
}

/* ---- header ---- */

/* Checks the decoded header <h,hlen>; on success stores the key it names in <key>. */
static int check_header(const struct auth_jwt_keyset *ks, const unsigned char *h, size_t hlen,
                        const struct auth_jwt_key **key, char *err, size_t errlen)
{
    json_error_t je;
    json_t *hdr = json_loadb((const char *)h, hlen, JSON_REJECT_DUPLICATES, &je);
    const char *name;
    json_t *v;
    int rc;

    if (!json_is_object(hdr)) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_MALFORMED, "header is not a JSON object");
        goto out;
    }
    json_object_foreach(hdr, name, v) {
        if (strcmp(name, "alg") != 0 && strcmp(name, "kid") != 0 && strcmp(name, "typ") != 0) {
            /* jku/x5u (fetch a key from elsewhere), jwk/x5c (embedded key), crit (extensions
             * we would have to understand) and every other member are refused outright. */
            bool known = !strcmp(name, "jku") || !strcmp(name, "x5u") || !strcmp(name, "x5c") ||
                         !strcmp(name, "jwk") || !strcmp(name, "crit");
            rc = jwt_fail(err, errlen, AUTH_JWT_E_HEADER, "header member %s is not accepted",
                          known ? name : "(unknown)");
            goto out;
        }
    }
    json_t *alg = json_object_get(hdr, "alg"), *kid = json_object_get(hdr, "kid");
    json_t *typ = json_object_get(hdr, "typ");
    /* Exact, case-sensitive: "none", "None", "es256", "HS256"... are all refused here. */
    const char *a = json_string_value(alg);     /* NULL unless a string */
    if (!a || json_string_length(alg) != 5 || (strcmp(a, "ES256") != 0 &&
                                               strcmp(a, "RS256") != 0)) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_ALG, "alg is not ES256 or RS256");
        goto out;
    }
    if (typ && (!json_is_string(typ) || (strcasecmp(json_string_value(typ), "JWT") != 0 &&
                                         strcasecmp(json_string_value(typ), "at+jwt") != 0))) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_HEADER, "typ is not JWT");
        goto out;
    }
    if (!json_is_string(kid)) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_KID, "kid missing");
        goto out;
    }
    *key = auth_jwt_keyset_find(ks, json_string_value(kid), json_string_length(kid));
    if (!*key) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_KID, "kid names no configured key");
        goto out;
    }
    if (strcmp(a, auth_jwt_alg_name((*key)->alg)) != 0) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_ALG, "alg differs from key %s's alg %s",
                      (*key)->kid, auth_jwt_alg_name((*key)->alg));
        goto out;
    }
    rc = 0;
out:
    json_decref(hdr);
    return rc;
}

int auth_jwt_verify(const struct auth_jwt_keyset *ks, const struct auth_jwt_verify_opts *o,
                    const char *token, size_t len, struct auth_jwt_claims **out,
                    char *err, size_t errlen)
{
    unsigned char hbuf[HEADER_MAX_B64 * 3 / 4 + 3];
    unsigned char sig[SIG_MAX_BYTES + 3];
    unsigned char *pbuf = NULL;
    json_t *pl = NULL;
    const struct auth_jwt_key *key = NULL;
    struct auth_jwt_claims *c = NULL;
    json_error_t je;
    int rc;

    if (out)
        *out = NULL;
    if (!ks || !ks->sealed || !o || !o->issuer || !out ||
        (o->expect != AUTH_JWT_SUB_PERSON && o->expect != AUTH_JWT_SUB_API_ACCOUNT))
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "verifier misconfigured");
    size_t max = o->max_token_bytes ? o->max_token_bytes : AUTH_JWT_DEFAULT_MAX_TOKEN_BYTES;
    if (!token || len == 0)
        return jwt_fail(err, errlen, AUTH_JWT_E_MALFORMED, "empty token");
    if (len > max)
        return jwt_fail(err, errlen, AUTH_JWT_E_TOO_LARGE, "token of %zu bytes is over %zu",
                        len, max);

    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2)
        return jwt_fail(err, errlen, AUTH_JWT_E_MALFORMED, "not three dot-separated parts");
    const char *end = token + len;
    if (memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
        return jwt_fail(err, errlen, AUTH_JWT_E_MALFORMED, "more than three parts");
    size_t hlen = (size_t)(d1 - token), plen = (size_t)(d2 - d1 - 1);
    size_t slen = (size_t)(end - d2 - 1);
    if (hlen == 0 || plen == 0)
        return jwt_fail(err, errlen, AUTH_JWT_E_MALFORMED, "empty header or payload");
    if (slen == 0)
        return jwt_fail(err, errlen, AUTH_JWT_E_SIGNATURE, "signature missing");
    if (hlen > HEADER_MAX_B64)
        return jwt_fail(err, errlen, AUTH_JWT_E_HEADER, "header too long");
    if (slen > auth_jwt_b64url_len(SIG_MAX_BYTES))
        return jwt_fail(err, errlen, AUTH_JWT_E_SIGNATURE, "signature too long");

    long hn = auth_jwt_b64url_decode(token, hlen, hbuf);
    long sn = auth_jwt_b64url_decode(d2 + 1, slen, sig);
    if (hn < 0 || sn < 0)
        return jwt_fail(err, errlen, AUTH_JWT_E_MALFORMED, "%s is not strict base64url",
                        hn < 0 ? "header" : "signature");
    pbuf = malloc(plen * 3 / 4 + 3);
    if (!pbuf)
        return jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
    long pn = auth_jwt_b64url_decode(d1 + 1, plen, pbuf);
    if (pn < 0) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_MALFORMED, "payload is not strict base64url");
        goto out;
    }

    if ((rc = check_header(ks, hbuf, (size_t)hn, &key, err, errlen)) < 0)
        goto out;
    if ((size_t)sn != key->sig_len) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_SIGNATURE, "signature has the wrong length");
        goto out;
    }
    pl = json_loadb((const char *)pbuf, (size_t)pn, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(pl)) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_MALFORMED, "payload is not a JSON object");
        goto out;
    }
    if ((rc = build_claims(pl, key, &c, err, errlen)) < 0)
        goto out;
    if ((rc = auth_jwt_claims_check(c, o, err, errlen)) < 0)
        goto out;
    /* Everything cheap passed: now the one public-key operation. */
    if ((rc = jws_verify(ks, key, token, (size_t)(d2 - token), sig, (size_t)sn)) < 0) {
        jwt_fail(err, errlen, rc, "signature does not verify with key %s", key->kid);
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    auth_jwt_claims_unref(c);
    json_decref(pl);
    free(pbuf);
    return rc;
}

/* ---- helpers ---- */

char *auth_jwt_claims_to_json(const struct auth_jwt_claims *c)
{
    json_t *o = json_object(), *aud = json_array(), *roles = NULL;
    char *s = NULL;
    if (!o || !aud)
        goto out;
    int bad = json_object_set_new(o, "iss", json_string(c->iss));
    bad |= json_object_set_new(o, "sub", json_string(c->sub));
    for (size_t i = 0; i < c->naud; i++)
        bad |= json_array_append_new(aud, json_string(c->aud[i]));
    if (c->naud)
        bad |= json_object_set(o, "aud", aud);
    bad |= json_object_set_new(o, "iat", json_integer(c->iat));
    if (c->has_nbf)
        bad |= json_object_set_new(o, "nbf", json_integer(c->nbf));
    bad |= json_object_set_new(o, "exp", json_integer(c->exp));
    bad |= json_object_set_new(o, "jti", json_string(c->jti));
    bad |= json_object_set_new(o, "sub_type", json_string(auth_jwt_sub_type_name(c->sub_type)));
    if (c->sub_type == AUTH_JWT_SUB_PERSON) {
        if (c->sid)
            bad |= json_object_set_new(o, "sid", json_string(c->sid));
        roles = json_array();
        for (size_t i = 0; roles && i < c->nroles; i++)
            bad |= json_array_append_new(roles, json_string(c->roles[i]));
        bad |= json_object_set(o, "roles", roles);
        bad |= json_object_set_new(o, "ssp_access", json_boolean(c->ssp_access));
        bad |= json_object_set_new(o, "caller", json_boolean(c->caller));
        if (c->name)
            bad |= json_object_set_new(o, "name", json_string(c->name));
        if (c->email)
            bad |= json_object_set_new(o, "email", json_string(c->email));
    } else {
        bad |= json_object_set_new(o, "client_id", json_string(c->client_id));
        bad |= json_object_set_new(o, "scope", json_string(c->scope));
    }
    if (!bad)
        s = json_dumps(o, JSON_COMPACT);
out:
    json_decref(roles);
    json_decref(aud);
    json_decref(o);
    return s;
}

static EVP_MD *fp_sha256;           /* fetched once: EVP_sha256() would fetch per call */
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

static void fp_fetch(void)
{
    fp_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void auth_jwt_fingerprint(const char *token, size_t len, char out[AUTH_JWT_FP_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    pthread_once(&fp_once, fp_fetch);
    if (!fp_sha256 || !EVP_Digest(token, len, md, &n, fp_sha256, NULL))
        memset(md, 0, sizeof md);
    for (int i = 0; i < AUTH_JWT_FP_LEN / 2; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[AUTH_JWT_FP_LEN] = '\0';
}
