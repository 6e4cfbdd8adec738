/* auth/jwt_mint.c — builds and signs onegate's JWTs (person tokens for portals, API-account
 * access tokens). Called when a session's cached token must be (re)minted and from the
 * client-credentials grant; never per proxied request.
 *
 * Why no libjwt: libjwt 1.10.2 (Debian 12) re-parses the PEM key on every sign and verify
 * (~1,000 µs per ES256 signature, 2,000+ µs per RS256 one, measured on this machine — see the
 * figures in docs/INTEGRATIONS.md), and its decoder trusts the header's alg (algorithm
 * confusion, alg "none" with a NULL key). Signing with OpenSSL EVP on the EVP_PKEY parsed
 * once at load costs ~30 µs (ES256), and building the JWS ourselves is ~100 lines. So the
 * whole JWT module (auth/jwt_*.c) uses OpenSSL + jansson and nothing in onegate calls libjwt.
 * ES256 signatures are converted from OpenSSL's DER ECDSA-Sig-Value to JWS's raw r||s.
 */
#include "auth/jwt_mint.h"
#include "auth/jwt_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ecdsa.h>
#include <openssl/rand.h>

/* Signs <in,inlen> with <k>; writes the JWS signature (r||s for ES256) into <sig> (at least
 * k->sig_len bytes). Returns 0 or AUTH_JWT_E_CRYPTO / AUTH_JWT_E_NOMEM. */
static int jws_sign(const struct auth_jwt_keyset *ks, const struct auth_jwt_key *k,
                    const char *in, size_t inlen, unsigned char *sig, size_t *siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[256];
    size_t derlen = sizeof der;
    ECDSA_SIG *es = NULL;
    int rc = AUTH_JWT_E_CRYPTO;

    if (!md)
        return AUTH_JWT_E_NOMEM;
    if (EVP_DigestSignInit(md, NULL, ks->sha256, NULL, k->pkey) != 1)
        goto out;
    if (k->alg == AUTH_JWT_ALG_RS256) {
        size_t n = k->sig_len;
        if (EVP_DigestSign(md, sig, &n, (const unsigned char *)in, inlen) != 1 ||
            n != k->sig_len)
            goto out;
        *siglen = n;
    } else {
        if (EVP_DigestSign(md, der, &derlen, (const unsigned char *)in, inlen) != 1)
            goto out;
        const unsigned char *p = der;
        es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
        if (!es)
            goto out;
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
            goto out;
        *siglen = JWT_ES256_SIG_LEN;
    }
    rc = 0;
out:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    return rc;
}

/* Serialises <claims>, signs header.payload and stores the token in <out>. */
static int finish(const struct auth_jwt_keyset *ks, json_t *claims, struct auth_jwt_token *out,
                  char *err, size_t errlen)
{
    const struct auth_jwt_key *k = ks->signing;
    char *payload = json_dumps(claims, JSON_COMPACT);
    char *tok = NULL;
    unsigned char sig[AUTH_JWT_RSA_MAX_BITS / 8];
    size_t siglen = 0;
    int rc;

    if (!payload) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "cannot serialise the claims");
        goto out;
    }
    size_t plen = strlen(payload);
    size_t total = k->hdr_b64_len + 1 + auth_jwt_b64url_len(plen) + 1 +
                   auth_jwt_b64url_len(k->sig_len) + 1;
    tok = malloc(total);
    if (!tok) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
        goto out;
    }
    size_t o = k->hdr_b64_len;
    memcpy(tok, k->hdr_b64, o);
    tok[o++] = '.';
    o += auth_jwt_b64url_encode(payload, plen, tok + o);
    if ((rc = jws_sign(ks, k, tok, o, sig, &siglen)) < 0) {
        jwt_fail(err, errlen, rc, "signing with key %s failed", k->kid);
        goto out;
    }
    tok[o++] = '.';
    o += auth_jwt_b64url_encode(sig, siglen, tok + o);
    out->jwt = tok;
    out->len = o;
    tok = NULL;
    rc = 0;
out:
    free(tok);
    free(payload);
    return rc;
}

/* Common claims: iss, sub, aud, iat, nbf, exp, jti, sub_type. Fills out->jti/iat/exp. */
static int common_claims(const struct auth_jwt_keyset *ks, const struct auth_jwt_mint_opts *o,
                         const char *sub, const char *sub_type, json_t **claims,
                         struct auth_jwt_token *out, char *err, size_t errlen)
{
    *claims = NULL;
    memset(out, 0, sizeof *out);
    if (!ks || !ks->sealed || !o || !o->issuer || !*o->issuer || !sub || !*sub)
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "issuer and subject are required");
    if (!ks->signing)
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "the key set has no signing key");
    uint32_t life = o->lifetime_s ? o->lifetime_s : AUTH_JWT_DEFAULT_LIFETIME_S;
    if (life > AUTH_JWT_MAX_LIFETIME_S)
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "token lifetime %u s is over %d s",
                        life, AUTH_JWT_MAX_LIFETIME_S);
    int64_t now = o->now_s ? o->now_s : (int64_t)time(NULL);

    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return jwt_fail(err, errlen, AUTH_JWT_E_CRYPTO, "no randomness for jti");
    auth_jwt_b64url_encode(rnd, sizeof rnd, out->jti);
    out->iat = now;
    out->exp = now + life;

    json_t *c = json_object();
    if (!c)
        return jwt_fail(err, errlen, AUTH_JWT_E_NOMEM, "out of memory");
    json_t *iss = json_string(o->issuer), *js = json_string(sub);
    int bad = json_object_set_new(c, "iss", iss) | json_object_set_new(c, "sub", js);
    if (o->audience)
        bad |= json_object_set_new(c, "aud", json_string(o->audience));
    bad |= json_object_set_new(c, "iat", json_integer(now));
    bad |= json_object_set_new(c, "nbf", json_integer(now));
    bad |= json_object_set_new(c, "exp", json_integer(out->exp));
    bad |= json_object_set_new(c, "jti", json_string(out->jti));
    bad |= json_object_set_new(c, "sub_type", json_string(sub_type));
    if (bad) {
        json_decref(c);
        /* json_string() returns NULL for invalid UTF-8, and set_new then fails. */
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL,
                        "issuer, subject or audience is not valid UTF-8 (or out of memory)");
    }
    *claims = c;
    return 0;
}

int auth_jwt_mint_person(const struct auth_jwt_keyset *ks, const struct auth_jwt_mint_opts *o,
                         const struct auth_jwt_person *p, struct auth_jwt_token *out,
                         char *err, size_t errlen)
{
    json_t *c = NULL, *roles = NULL;
    int rc;

    if (!p || !p->sid || !*p->sid || !o || !o->audience || !*o->audience ||
        (p->nroles && !p->roles)) {
        if (out)
            memset(out, 0, sizeof *out);
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL,
                        "person tokens need sub, sid and an audience");
    }
    if ((rc = common_claims(ks, o, p->sub, "person", &c, out, err, errlen)) < 0)
        return rc;
    roles = json_array();
    int bad = roles == NULL;
    for (size_t i = 0; !bad && i < p->nroles; i++)
        bad |= !p->roles[i] || json_array_append_new(roles, json_string(p->roles[i]));
    bad |= json_object_set_new(c, "sid", json_string(p->sid));
    bad |= json_object_set(c, "roles", roles);
    bad |= json_object_set_new(c, "ssp_access", json_boolean(p->ssp_access));
    bad |= json_object_set_new(c, "caller", json_boolean(p->caller));
    if (p->name)
        bad |= json_object_set_new(c, "name", json_string(p->name));
    if (p->email)
        bad |= json_object_set_new(c, "email", json_string(p->email));
    if (bad) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_INVAL,
                      "a role, sid, name or email is missing or not valid UTF-8");
        goto out;
    }
    rc = finish(ks, c, out, err, errlen);
out:
    json_decref(roles);
    json_decref(c);
    if (rc < 0)
        auth_jwt_token_clear(out);
    return rc;
}

int auth_jwt_mint_api(const struct auth_jwt_keyset *ks, const struct auth_jwt_mint_opts *o,
                      const struct auth_jwt_api_account *a, struct auth_jwt_token *out,
                      char *err, size_t errlen)
{
    json_t *c = NULL;
    int rc;

    if (!a || !a->client_id) {
        if (out)
            memset(out, 0, sizeof *out);
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "API tokens need a client_id");
    }
    if ((rc = common_claims(ks, o, a->client_id, "api_account", &c, out, err, errlen)) < 0)
        return rc;
    int bad = json_object_set_new(c, "client_id", json_string(a->client_id));
    bad |= json_object_set_new(c, "scope", json_string(a->scope ? a->scope : ""));
    if (bad) {
        rc = jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "client_id or scope is not valid UTF-8");
        goto out;
    }
    rc = finish(ks, c, out, err, errlen);
out:
    json_decref(c);
    if (rc < 0)
        auth_jwt_token_clear(out);
    return rc;
}

void auth_jwt_token_clear(struct auth_jwt_token *t)
{
    if (!t)
        return;
    free(t->jwt);
    memset(t, 0, sizeof *t);
}
