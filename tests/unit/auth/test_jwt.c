/* tests/unit/auth/test_jwt.c — auth/jwt_keys, auth/jwt_mint, auth/jwt_verify: key loading,
 * RFC 7638 kids, JWKS, minting both token kinds, verification, every forgery of issue 5 as
 * its own test, and key rotation. Keys are generated at test time into a temp dir.
 * With ONEGATE_JWT_BENCH=1 the runner prints µs/op figures instead of running the tests.
 */
#include <check.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwt_keys.h"
#include "auth/jwt_mint.h"
#include "auth/jwt_verify.h"
#include "jwt_test_util.h"

#define ISS "https://onegate.test"
#define AUD "ssp"
#define NOW ((int64_t)1700000000)

/* Generated once in main() before the forked tests run. */
static char tmpdir[] = "/tmp/onegate-jwt-test-XXXXXX";
static EVP_PKEY *ec_old, *ec_new, *rsa;
static char *ec_old_priv, *ec_old_pub, *ec_new_priv, *ec_new_pub, *rsa_priv, *rsa_pub;
static char kid_ec_old[64], kid_ec_new[64], kid_rsa[64];

static struct auth_jwt_keyset *load_set(const char *signing, const char *v1, const char *v2)
{
    const char *v[2] = { NULL, NULL };
    size_t n = 0;
    char err[256];
    if (v1)
        v[n++] = v1;
    if (v2)
        v[n++] = v2;
    struct auth_jwt_keyset *ks = auth_jwt_keyset_load(signing, v, n, err, sizeof err);
    ck_assert_msg(ks != NULL, "keyset load: %s", err);
    return ks;
}

/* ES256 signing (ec_old) + RS256 published: the default set of most tests. */
static struct auth_jwt_keyset *main_set(void)
{
    return load_set(ec_old_priv, rsa_pub, NULL);
}

static struct auth_jwt_verify_opts vopts(enum auth_jwt_sub_type expect, const char *aud)
{
    struct auth_jwt_verify_opts o;
    auth_jwt_verify_opts_init(&o);
    o.issuer = ISS;
    o.audience = aud;
    o.expect = expect;
    o.now_s = NOW;
    return o;
}

static const char *const ROLES[] = { "operator", "viewer" };

static struct auth_jwt_token mint_person_at(const struct auth_jwt_keyset *ks, int64_t now)
{
    struct auth_jwt_mint_opts mo = { .issuer = ISS, .audience = AUD, .now_s = now };
    struct auth_jwt_person p = { .sub = "p-42", .sid = "s-abc", .roles = ROLES, .nroles = 2,
                                 .ssp_access = true, .caller = false, .name = "Ada L.",
                                 .email = "ada@example.org" };
    struct auth_jwt_token t;
    char err[256];
    int rc = auth_jwt_mint_person(ks, &mo, &p, &t, err, sizeof err);
    ck_assert_msg(rc == 0, "mint person: %s", err);
    return t;
}

static struct auth_jwt_token mint_api_at(const struct auth_jwt_keyset *ks, int64_t now,
                                         const char *aud)
{
    struct auth_jwt_mint_opts mo = { .issuer = ISS, .audience = aud, .now_s = now };
    struct auth_jwt_api_account a = { .client_id = "cli-7", .scope = "read write" };
    struct auth_jwt_token t;
    char err[256];
    int rc = auth_jwt_mint_api(ks, &mo, &a, &t, err, sizeof err);
    ck_assert_msg(rc == 0, "mint api: %s", err);
    return t;
}

static int verify(const struct auth_jwt_keyset *ks, const char *tok, size_t len,
                  enum auth_jwt_sub_type expect, const char *aud, struct auth_jwt_claims **c)
{
    struct auth_jwt_verify_opts o = vopts(expect, aud);
    char err[256] = "";
    struct auth_jwt_claims *tmp = NULL;
    int rc = auth_jwt_verify(ks, &o, tok, len, c ? c : &tmp, err, sizeof err);
    if (rc < 0) {
        ck_assert_ptr_null(c ? *c : tmp);
        ck_assert_msg(err[0] != '\0', "refusal without a message");
    }
    auth_jwt_claims_unref(tmp);
    return rc;
}

static int verify_str(const struct auth_jwt_keyset *ks, const char *tok,
                      enum auth_jwt_sub_type expect)
{
    return verify(ks, tok, strlen(tok), expect, AUD, NULL);
}

/* A valid person payload at NOW; the caller may change members before dumping. */
static json_t *person_payload(void)
{
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:[s],s:b,s:b}",
                     "iss", ISS, "sub", "p-1", "aud", AUD, "iat", (json_int_t)NOW,
                     "nbf", (json_int_t)NOW, "exp", (json_int_t)(NOW + 300), "jti", "j-1",
                     "sid", "s-1", "sub_type", "person", "roles", "operator",
                     "ssp_access", 1, "caller", 0);
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static char *hdr(const char *alg, const char *kid)
{
    char *s = NULL;
    ck_assert_int_ge(asprintf(&s, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid), 0);
    return s;
}

/* A token signed by ec_old (configured) over <payload>, with the given header. */
static char *signed_ec(const char *header, json_t *payload)
{
    char *p = dump(payload);
    char *t = tu_sign(header, p, ec_old);
    free(p);
    return t;
}

static char *good_ec_token(json_t *payload)
{
    char *h = hdr("ES256", kid_ec_old);
    char *t = signed_ec(h, payload);
    free(h);
    return t;
}

/* ================================ keys ================================ */

START_TEST(test_kid_is_rfc7638_thumbprint)
{
    /* RFC 7638 §3.1's example key and its published thumbprint. */
    static const char n_b64[] =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    unsigned char nbin[512];
    long nn = auth_jwt_b64url_decode(n_b64, strlen(n_b64), nbin);
    ck_assert_int_eq(nn, 256);
    BIGNUM *n = BN_bin2bn(nbin, (int)nn, NULL), *e = BN_new();
    BN_set_word(e, 65537);
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e);
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(b);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pk = NULL;
    ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params), 1);
    char *path = tu_write_pem(pk, tmpdir, "rfc7638.pub", 0);
    struct auth_jwt_key *k = NULL;
    char err[256];
    ck_assert_int_eq(auth_jwt_key_load_file(path, false, &k, err, sizeof err), 0);
    ck_assert_str_eq(auth_jwt_key_kid(k), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    ck_assert_int_eq(auth_jwt_key_alg(k), AUTH_JWT_ALG_RS256);
    ck_assert(!auth_jwt_key_has_private(k));
    auth_jwt_key_free(k);
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_free(n);
    BN_free(e);
    free(path);
}
END_TEST

START_TEST(test_private_and_public_pem_give_same_kid)
{
    struct auth_jwt_key *a = NULL, *b = NULL;
    char err[256];
    ck_assert_int_eq(auth_jwt_key_load_file(ec_old_priv, true, &a, err, sizeof err), 0);
    ck_assert_int_eq(auth_jwt_key_load_file(ec_old_pub, false, &b, err, sizeof err), 0);
    ck_assert_str_eq(auth_jwt_key_kid(a), auth_jwt_key_kid(b));
    ck_assert_int_eq(strlen(auth_jwt_key_kid(a)), AUTH_JWT_KID_LEN);
    ck_assert_int_eq(auth_jwt_key_alg(a), AUTH_JWT_ALG_ES256);
    ck_assert_str_ne(auth_jwt_key_kid(a), kid_ec_new);
    auth_jwt_key_free(a);
    auth_jwt_key_free(b);
}
END_TEST

START_TEST(test_jwks_lists_public_members_only)
{
    struct auth_jwt_keyset *ks = main_set();
    size_t len = 0;
    const char *jwks = auth_jwt_keyset_jwks(ks, &len);
    ck_assert_ptr_nonnull(jwks);
    ck_assert_int_eq(strlen(jwks), len);
    json_error_t je;
    json_t *j = json_loads(jwks, 0, &je);
    ck_assert_ptr_nonnull(j);
    json_t *keys = json_object_get(j, "keys");
    ck_assert_int_eq(json_array_size(keys), 2);
    json_t *ec = json_array_get(keys, 0), *rs = json_array_get(keys, 1);  /* signing first */
    ck_assert_str_eq(json_string_value(json_object_get(ec, "kty")), "EC");
    ck_assert_str_eq(json_string_value(json_object_get(ec, "crv")), "P-256");
    ck_assert_str_eq(json_string_value(json_object_get(ec, "alg")), "ES256");
    ck_assert_str_eq(json_string_value(json_object_get(ec, "use")), "sig");
    ck_assert_str_eq(json_string_value(json_object_get(ec, "kid")), kid_ec_old);
    ck_assert_int_eq(json_string_length(json_object_get(ec, "x")), 43);
    ck_assert_int_eq(json_string_length(json_object_get(ec, "y")), 43);
    ck_assert_int_eq(json_object_size(ec), 7);
    ck_assert_str_eq(json_string_value(json_object_get(rs, "kty")), "RSA");
    ck_assert_str_eq(json_string_value(json_object_get(rs, "alg")), "RS256");
    ck_assert_str_eq(json_string_value(json_object_get(rs, "e")), "AQAB");
    ck_assert_int_eq(json_string_length(json_object_get(rs, "n")), 342);  /* 256 bytes */
    ck_assert_str_eq(json_string_value(json_object_get(rs, "kid")), kid_rsa);
    ck_assert_int_eq(json_object_size(rs), 6);
    ck_assert_ptr_null(strstr(jwks, "\"d\""));
    ck_assert_ptr_null(strstr(jwks, "\"p\""));
    json_decref(j);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_encrypted_pem_refused_without_prompt)
{
    /* PKCS#8 encrypted and traditional "Proc-Type: 4,ENCRYPTED" forms. */
    char *p1 = NULL, *p2 = NULL;
    ck_assert_int_ge(asprintf(&p1, "%s/enc8.pem", tmpdir), 0);
    ck_assert_int_ge(asprintf(&p2, "%s/enctrad.pem", tmpdir), 0);
    FILE *f = fopen(p1, "w");
    ck_assert(PEM_write_PrivateKey(f, ec_old, EVP_aes_256_cbc(), (unsigned char *)"pw", 2,
                                   NULL, NULL));
    fclose(f);
    BIO *bio = BIO_new_file(p2, "w");
    ck_assert(PEM_write_bio_PrivateKey_traditional(bio, rsa, EVP_aes_256_cbc(),
                                                   (unsigned char *)"pw", 2, NULL, NULL));
    BIO_free(bio);
    struct auth_jwt_key *k = NULL;
    char err[256];
    ck_assert_int_eq(auth_jwt_key_load_file(p1, true, &k, err, sizeof err),
                     AUTH_JWT_E_KEY_ENCRYPTED);
    ck_assert_ptr_null(k);
    ck_assert_ptr_nonnull(strstr(err, "encrypted"));
    ck_assert_ptr_nonnull(strstr(err, p1));
    ck_assert_int_eq(auth_jwt_key_load_file(p2, false, &k, err, sizeof err),
                     AUTH_JWT_E_KEY_ENCRYPTED);
    ck_assert_ptr_null(auth_jwt_keyset_load(p1, NULL, 0, err, sizeof err));
    free(p1);
    free(p2);
}
END_TEST

START_TEST(test_weak_or_unsupported_keys_refused)
{
    EVP_PKEY *small = tu_gen_rsa(1024), *p384 = tu_gen_ec("P-384");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char *a = tu_write_pem(small, tmpdir, "rsa1024.pem", 1);
    char *b = tu_write_pem(p384, tmpdir, "p384.pem", 1);
    char *c = tu_write_pem(ed, tmpdir, "ed.pem", 1);
    struct auth_jwt_key *k = NULL;
    char err[256];
    ck_assert_int_eq(auth_jwt_key_load_file(a, true, &k, err, sizeof err), AUTH_JWT_E_KEY);
    ck_assert_ptr_nonnull(strstr(err, "1024"));
    ck_assert_int_eq(auth_jwt_key_load_file(b, true, &k, err, sizeof err), AUTH_JWT_E_KEY);
    ck_assert_int_eq(auth_jwt_key_load_file(c, true, &k, err, sizeof err), AUTH_JWT_E_KEY);
    ck_assert_int_eq(auth_jwt_key_load_file("/nonexistent/key.pem", true, &k, err, sizeof err),
                     AUTH_JWT_E_KEY);
    ck_assert_int_eq(auth_jwt_key_load_pem("not a pem", 9, "mem", false, &k, err, sizeof err),
                     AUTH_JWT_E_KEY);
    const char junk[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    ck_assert_int_eq(auth_jwt_key_load_pem(junk, sizeof junk - 1, "mem", true, &k, err,
                                           sizeof err), AUTH_JWT_E_KEY);
    ck_assert_ptr_null(k);
    EVP_PKEY_free(small);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed);
    free(a), free(b), free(c);
}
END_TEST

START_TEST(test_public_key_cannot_be_signing_key)
{
    struct auth_jwt_key *k = NULL;
    char err[256];
    ck_assert_int_eq(auth_jwt_key_load_file(ec_old_pub, true, &k, err, sizeof err),
                     AUTH_JWT_E_KEY);
    ck_assert_int_eq(auth_jwt_key_load_file(ec_old_pub, false, &k, err, sizeof err), 0);
    struct auth_jwt_keyset *ks = auth_jwt_keyset_new();
    ck_assert_int_eq(auth_jwt_keyset_add(ks, k, true, err, sizeof err), AUTH_JWT_E_KEY);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_keyset_rules)
{
    char err[256];
    const char *dup[] = { ec_old_pub };
    /* The same key as signing and published key, twice. */
    ck_assert_ptr_null(auth_jwt_keyset_load(ec_old_priv, dup, 1, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "twice"));
    /* No keys at all. */
    ck_assert_ptr_null(auth_jwt_keyset_load(NULL, NULL, 0, err, sizeof err));
    /* Verify-only set: verifies, cannot mint. */
    const char *v[] = { ec_old_pub };
    struct auth_jwt_keyset *vo = auth_jwt_keyset_load(NULL, v, 1, err, sizeof err);
    ck_assert_ptr_nonnull(vo);
    ck_assert_ptr_null(auth_jwt_keyset_signing_key(vo));
    struct auth_jwt_mint_opts mo = { .issuer = ISS, .audience = AUD, .now_s = NOW };
    struct auth_jwt_api_account a = { .client_id = "c" };
    struct auth_jwt_token t;
    ck_assert_int_eq(auth_jwt_mint_api(vo, &mo, &a, &t, err, sizeof err), AUTH_JWT_E_INVAL);
    ck_assert_ptr_null(t.jwt);
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token good = mint_person_at(ks, NOW);
    ck_assert_int_eq(verify(vo, good.jwt, good.len, AUTH_JWT_SUB_PERSON, AUD, NULL), 0);
    ck_assert_uint_ne(auth_jwt_keyset_generation(vo), auth_jwt_keyset_generation(ks));
    /* Reference counting keeps a set alive for a worker still using it after a reload. */
    auth_jwt_keyset_ref(ks);
    auth_jwt_keyset_unref(ks);
    ck_assert_int_eq(verify(ks, good.jwt, good.len, AUTH_JWT_SUB_PERSON, AUD, NULL), 0);
    auth_jwt_token_clear(&good);
    auth_jwt_keyset_unref(ks);
    auth_jwt_keyset_unref(vo);
}
END_TEST

/* ============================ mint + verify ============================ */

START_TEST(test_es256_person_roundtrip)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_person_at(ks, NOW);
    ck_assert_int_eq(t.exp, NOW + AUTH_JWT_DEFAULT_LIFETIME_S);
    ck_assert_int_eq(strlen(t.jti), AUTH_JWT_JTI_LEN);
    /* Header as issue 5 specifies, signature raw r||s. */
    const char *d1 = strchr(t.jwt, '.'), *d2 = strrchr(t.jwt, '.');
    unsigned char buf[512];
    long n = auth_jwt_b64url_decode(t.jwt, (size_t)(d1 - t.jwt), buf);
    ck_assert_int_gt(n, 0);
    buf[n] = 0;
    char *want = hdr("ES256", kid_ec_old);
    ck_assert_str_eq((char *)buf, want);
    free(want);
    ck_assert_int_eq(auth_jwt_b64url_decode(d2 + 1, strlen(d2 + 1), buf), 64);

    struct auth_jwt_claims *c = NULL;
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, AUD, &c), 0);
    ck_assert_int_eq(c->sub_type, AUTH_JWT_SUB_PERSON);
    ck_assert_int_eq(c->alg, AUTH_JWT_ALG_ES256);
    ck_assert_str_eq(c->kid, kid_ec_old);
    ck_assert_str_eq(c->iss, ISS);
    ck_assert_str_eq(c->sub, "p-42");
    ck_assert_str_eq(c->sid, "s-abc");
    ck_assert_str_eq(c->jti, t.jti);
    ck_assert_int_eq(c->naud, 1);
    ck_assert_str_eq(c->aud[0], AUD);
    ck_assert_int_eq(c->nroles, 2);
    ck_assert_str_eq(c->roles[0], "operator");
    ck_assert_str_eq(c->roles[1], "viewer");
    ck_assert(c->ssp_access);
    ck_assert(!c->caller);
    ck_assert_str_eq(c->name, "Ada L.");
    ck_assert_str_eq(c->email, "ada@example.org");
    ck_assert_int_eq(c->iat, NOW);
    ck_assert(c->has_nbf);
    ck_assert_int_eq(c->nbf, NOW);
    ck_assert_int_eq(c->exp, NOW + 300);
    ck_assert_ptr_null(c->client_id);
    char *js = auth_jwt_claims_to_json(c);
    ck_assert_ptr_nonnull(strstr(js, "\"sub_type\":\"person\""));
    ck_assert_ptr_nonnull(strstr(js, "\"roles\":[\"operator\",\"viewer\"]"));
    free(js);
    auth_jwt_claims_unref(c);
    auth_jwt_token_clear(&t);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_person_without_optional_claims)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_mint_opts mo = { .issuer = ISS, .audience = AUD, .now_s = NOW,
                                     .lifetime_s = 60 };
    struct auth_jwt_person p = { .sub = "p-1", .sid = "s-1" };
    struct auth_jwt_token t;
    char err[256];
    ck_assert_int_eq(auth_jwt_mint_person(ks, &mo, &p, &t, err, sizeof err), 0);
    struct auth_jwt_claims *c = NULL;
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, AUD, &c), 0);
    ck_assert_int_eq(c->exp, NOW + 60);
    ck_assert_int_eq(c->nroles, 0);
    ck_assert_ptr_null(c->name);
    ck_assert_ptr_null(c->email);
    auth_jwt_claims_unref(c);
    auth_jwt_token_clear(&t);
    /* Missing sid / audience / invalid UTF-8 / over-long lifetime: refused at mint. */
    struct auth_jwt_person nosid = { .sub = "p-1" };
    ck_assert_int_eq(auth_jwt_mint_person(ks, &mo, &nosid, &t, err, sizeof err),
                     AUTH_JWT_E_INVAL);
    struct auth_jwt_person bad = { .sub = "p-1", .sid = "s", .name = "\xff\xfe" };
    ck_assert_int_eq(auth_jwt_mint_person(ks, &mo, &bad, &t, err, sizeof err),
                     AUTH_JWT_E_INVAL);
    ck_assert_ptr_null(t.jwt);
    mo.lifetime_s = AUTH_JWT_MAX_LIFETIME_S + 1;
    ck_assert_int_eq(auth_jwt_mint_person(ks, &mo, &p, &t, err, sizeof err), AUTH_JWT_E_INVAL);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_rs256_api_roundtrip)
{
    struct auth_jwt_keyset *ks = load_set(rsa_priv, ec_old_pub, NULL);
    struct auth_jwt_token t = mint_api_at(ks, NOW, NULL);
    const char *d2 = strrchr(t.jwt, '.');
    unsigned char buf[600];
    ck_assert_int_eq(auth_jwt_b64url_decode(d2 + 1, strlen(d2 + 1), buf), 256);
    struct auth_jwt_claims *c = NULL;
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_API_ACCOUNT, NULL, &c), 0);
    ck_assert_int_eq(c->sub_type, AUTH_JWT_SUB_API_ACCOUNT);
    ck_assert_int_eq(c->alg, AUTH_JWT_ALG_RS256);
    ck_assert_str_eq(c->kid, kid_rsa);
    ck_assert_str_eq(c->client_id, "cli-7");
    ck_assert_str_eq(c->sub, "cli-7");
    ck_assert_str_eq(c->scope, "read write");
    ck_assert_int_eq(c->naud, 0);
    ck_assert_str_eq(c->jti, t.jti);
    auth_jwt_claims_unref(c);
    /* No aud in the token: refused where an audience is expected. */
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_API_ACCOUNT, "api", NULL),
                     AUTH_JWT_E_AUDIENCE);
    auth_jwt_token_clear(&t);
    /* With an aud: accepted for it, refused where none is expected. */
    t = mint_api_at(ks, NOW, "api");
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_API_ACCOUNT, "api", NULL), 0);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_API_ACCOUNT, NULL, NULL),
                     AUTH_JWT_E_AUDIENCE);
    auth_jwt_token_clear(&t);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_aud_array_and_jti_unique)
{
    struct auth_jwt_keyset *ks = main_set();
    json_t *p = person_payload();
    json_object_set_new(p, "aud", json_pack("[s,s]", "other", AUD));
    char *t = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), 0);
    free(t);
    p = person_payload();
    json_object_set_new(p, "aud", json_pack("[s,s]", "other", "SSP"));
    t = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_AUDIENCE);
    free(t);
    struct auth_jwt_token a = mint_person_at(ks, NOW), b = mint_person_at(ks, NOW);
    ck_assert_str_ne(a.jti, b.jti);
    ck_assert_str_ne(a.jwt, b.jwt);
    auth_jwt_token_clear(&a);
    auth_jwt_token_clear(&b);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_leeway_boundaries)
{
    struct auth_jwt_keyset *ks = main_set();
    /* exp 10 s ago: inside the 30 s leeway. exp 30 s ago: out. */
    struct auth_jwt_token t = mint_person_at(ks, NOW - 310);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, AUD, NULL), 0);
    auth_jwt_token_clear(&t);
    t = mint_person_at(ks, NOW - 330);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_EXPIRED);
    auth_jwt_token_clear(&t);
    /* Issued 20 s "in the future" (clock skew): accepted; 31 s: refused. */
    t = mint_person_at(ks, NOW + 20);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, AUD, NULL), 0);
    auth_jwt_token_clear(&t);
    t = mint_person_at(ks, NOW + 31);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_NOT_YET_VALID);
    /* Leeway configurable: 0 leeway refuses the 10 s skew. */
    struct auth_jwt_token u = mint_person_at(ks, NOW - 310);
    struct auth_jwt_verify_opts o = vopts(AUTH_JWT_SUB_PERSON, AUD);
    o.leeway_s = 0;
    struct auth_jwt_claims *c = NULL;
    char err[128];
    ck_assert_int_eq(auth_jwt_verify(ks, &o, u.jwt, u.len, &c, err, sizeof err),
                     AUTH_JWT_E_EXPIRED);
    auth_jwt_token_clear(&t);
    auth_jwt_token_clear(&u);
    auth_jwt_keyset_unref(ks);
}
END_TEST

/* ============================== attacks ============================== */

START_TEST(test_attack_alg_none_any_casing)
{
    struct auth_jwt_keyset *ks = main_set();
    static const char *const algs[] = { "none", "None", "NONE", "nOnE", "" };
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++) {
        char *h = hdr(algs[i], kid_ec_old);
        char *p = dump(person_payload());
        char *t1 = tu_raw(h, p, "");                  /* classic: empty signature */
        char *t2 = tu_raw(h, p, "AAAA");              /* junk signature */
        char *t3 = tu_sign(h, p, ec_old);             /* even validly "signed" */
        ck_assert_int_eq(verify_str(ks, t1, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_SIGNATURE);
        ck_assert_int_eq(verify_str(ks, t2, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ALG);
        ck_assert_int_eq(verify_str(ks, t3, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ALG);
        free(h), free(p), free(t1), free(t2), free(t3);
    }
    /* alg missing or not a string. */
    char *p = dump(person_payload());
    char *h = NULL;
    ck_assert_int_ge(asprintf(&h, "{\"kid\":\"%s\"}", kid_ec_old), 0);
    char *t = tu_sign(h, p, ec_old);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ALG);
    free(h), free(t);
    ck_assert_int_ge(asprintf(&h, "{\"alg\":null,\"kid\":\"%s\"}", kid_ec_old), 0);
    t = tu_sign(h, p, ec_old);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ALG);
    free(h), free(t), free(p);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_alg_case_and_cross_key)
{
    struct auth_jwt_keyset *ks = main_set();
    char *p = dump(person_payload());
    static const char *const algs[] = { "es256", "Es256", "ES256 ", "ES384", "ES512", "PS256",
                                        "EdDSA" };
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++) {
        char *h = hdr(algs[i], kid_ec_old), *t = tu_sign(h, p, ec_old);
        ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ALG);
        free(h), free(t);
    }
    /* RS256 header naming the EC key (and signed with the RSA key): alg != key's alg. */
    char *h = hdr("RS256", kid_ec_old), *t = tu_sign(h, p, rsa);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ALG);
    free(h), free(t);
    /* ES256 header naming the RSA key. */
    h = hdr("ES256", kid_rsa), t = tu_sign(h, p, ec_old);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ALG);
    free(h), free(t);
    /* Correct RS256 token through the RSA (published) key: accepted. */
    h = hdr("RS256", kid_rsa), t = tu_sign(h, p, rsa);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), 0);
    free(h), free(t), free(p);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_signature_stripped)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_person_at(ks, NOW);
    char *last = strrchr(t.jwt, '.');
    size_t keep = (size_t)(last - t.jwt);
    ck_assert_int_eq(verify(ks, t.jwt, keep + 1, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_SIGNATURE);                  /* "h.p." */
    ck_assert_int_eq(verify(ks, t.jwt, keep, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_MALFORMED);                  /* "h.p" */
    /* Truncated (shorter, or non-canonical last char) / zeroed signature. */
    ck_assert_int_lt(verify(ks, t.jwt, t.len - 4, AUTH_JWT_SUB_PERSON, AUD, NULL), 0);
    ck_assert_int_eq(verify(ks, t.jwt, t.len - 42, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_SIGNATURE);
    memset(last + 1, 'A', strlen(last + 1));
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_SIGNATURE);
    auth_jwt_token_clear(&t);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_hs256_with_public_key_pem)
{
    struct auth_jwt_keyset *ks = main_set();
    char *p = dump(person_payload());
    struct { const char *kid; const char *pem; } v[] = {
        { kid_ec_old, ec_old_pub }, { kid_rsa, rsa_pub } };
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        char *pem = tu_read_file(v[i].pem, &len);
        static const char *const algs[] = { "HS256", "HS384", "HS512", "hs256" };
        for (size_t a = 0; a < 4; a++) {
            char *h = hdr(algs[a], v[i].kid), *t = tu_hmac(h, p, pem, len);
            ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ALG);
            free(h), free(t);
        }
        /* The same HMAC under the key's own alg name: wrong signature length. */
        char *h = hdr(i == 0 ? "ES256" : "RS256", v[i].kid), *t = tu_hmac(h, p, pem, len);
        ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_SIGNATURE);
        free(h), free(t), free(pem);
    }
    free(p);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_hs256_with_jwks_bytes)
{
    struct auth_jwt_keyset *ks = main_set();
    size_t len;
    const char *jwks = auth_jwt_keyset_jwks(ks, &len);
    char *p = dump(person_payload());
    char *h = hdr("HS256", kid_ec_old), *t = tu_hmac(h, p, jwks, len);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ALG);
    free(h), free(t);
    /* HMAC keyed with the single JWK entry of the key, too. */
    const char *ent = strstr(jwks, "{\"kty\":\"EC\"");
    const char *end = strchr(ent, '}');
    h = hdr("HS256", kid_ec_old), t = tu_hmac(h, p, ent, (size_t)(end - ent + 1));
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ALG);
    free(h), free(t), free(p);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_payload_changed_under_old_signature)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_person_at(ks, NOW);
    const char *d1 = strchr(t.jwt, '.'), *d2 = strrchr(t.jwt, '.');
    /* Escalate: roles += application_manager, same signature. */
    json_t *p = person_payload();
    json_object_set_new(p, "sub", json_string("p-42"));
    json_object_set_new(p, "roles", json_pack("[s,s]", "operator", "application_manager"));
    char *ps = dump(p);
    char *pb = tu_b64(ps, strlen(ps)), *forged = NULL;
    ck_assert_int_ge(asprintf(&forged, "%.*s.%s%s", (int)(d1 - t.jwt), t.jwt, pb, d2), 0);
    ck_assert_int_eq(verify_str(ks, forged, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_SIGNATURE);
    /* One flipped bit in the original payload. */
    char *flip = strdup(t.jwt);
    flip[(d1 - t.jwt) + 5] ^= 0x01;
    ck_assert_int_lt(verify_str(ks, flip, AUTH_JWT_SUB_PERSON), 0);
    /* Header swapped for another valid header (typ dropped). */
    char *h2 = NULL;
    ck_assert_int_ge(asprintf(&h2, "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid_ec_old), 0);
    char *hb = tu_b64(h2, strlen(h2)), *swapped = NULL;
    ck_assert_int_ge(asprintf(&swapped, "%s%s", hb, d1), 0);
    ck_assert_int_eq(verify_str(ks, swapped, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_SIGNATURE);
    free(ps), free(pb), free(forged), free(flip), free(h2), free(hb), free(swapped);
    auth_jwt_token_clear(&t);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_unknown_and_path_like_kid)
{
    struct auth_jwt_keyset *ks = main_set();
    char *p = dump(person_payload());
    /* A real, well-signed token from a key that is not configured. */
    char *h = hdr("ES256", kid_ec_new), *t = tu_sign(h, p, ec_new);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_KID);
    free(h), free(t);
    static const char *const kids[] = { "../../etc/passwd", "/etc/passwd", "file:///dev/null",
                                        "", "k1", "0" };
    for (size_t i = 0; i < sizeof kids / sizeof *kids; i++) {
        h = hdr("ES256", kids[i]), t = tu_sign(h, p, ec_old);
        ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_KID);
        free(h), free(t);
    }
    /* The configured kid with one byte changed, a prefix, a NUL inside, wrong type, absent. */
    char kid2[64];
    strcpy(kid2, kid_ec_old);
    kid2[0] = kid2[0] == 'A' ? 'B' : 'A';
    h = hdr("ES256", kid2), t = tu_sign(h, p, ec_old);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_KID);
    free(h), free(t);
    ck_assert_int_ge(asprintf(&h, "{\"alg\":\"ES256\",\"kid\":\"%.42s\\u0000\"}", kid_ec_old), 0);
    t = tu_sign(h, p, ec_old);
    ck_assert_int_lt(verify_str(ks, t, AUTH_JWT_SUB_PERSON), 0);
    free(h), free(t);
    static const char *const hdrs[] = { "{\"alg\":\"ES256\",\"kid\":42}",
                                        "{\"alg\":\"ES256\",\"kid\":[\"x\"]}",
                                        "{\"alg\":\"ES256\"}" };
    for (size_t i = 0; i < 3; i++) {
        t = tu_sign(hdrs[i], p, ec_old);
        ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_KID);
        free(t);
    }
    free(p);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_key_url_and_embedded_key_headers)
{
    struct auth_jwt_keyset *ks = main_set();
    char *p = dump(person_payload());
    static const char *const extra[] = {
        "\"jku\":\"https://evil.example/jwks.json\"", "\"x5u\":\"https://evil.example/c.pem\"",
        "\"x5c\":[\"MIIB\"]", "\"jwk\":{\"kty\":\"EC\"}", "\"crit\":[\"exp\"]",
        "\"cty\":\"JWT\"", "\"b64\":false", "\"zip\":\"DEF\"" };
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
        char *h = NULL;
        ck_assert_int_ge(asprintf(&h, "{\"alg\":\"ES256\",\"kid\":\"%s\",%s}", kid_ec_old,
                                  extra[i]), 0);
        char *t = tu_sign(h, p, ec_old);          /* otherwise perfectly valid */
        ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_HEADER);
        free(h), free(t);
    }
    /* typ other than JWT. */
    char *h = NULL;
    ck_assert_int_ge(asprintf(&h, "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWE\"}",
                              kid_ec_old), 0);
    char *t = tu_sign(h, p, ec_old);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_HEADER);
    free(h), free(t), free(p);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_duplicate_header_members)
{
    struct auth_jwt_keyset *ks = main_set();
    char *p = dump(person_payload());
    char *h = NULL;
    ck_assert_int_ge(asprintf(&h, "{\"alg\":\"none\",\"alg\":\"ES256\",\"kid\":\"%s\"}",
                              kid_ec_old), 0);
    char *t = tu_sign(h, p, ec_old);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_MALFORMED);
    free(h), free(t), free(p);
    /* Duplicate claims in the payload (two different exp). */
    char *hh = hdr("ES256", kid_ec_old);
    char *dp = NULL;
    ck_assert_int_ge(asprintf(&dp, "{\"iss\":\"%s\",\"sub\":\"p\",\"aud\":\"%s\",\"iat\":%lld,"
                              "\"exp\":1,\"exp\":%lld,\"jti\":\"j\",\"sub_type\":\"person\"}",
                              ISS, AUD, (long long)NOW, (long long)NOW + 100), 0);
    t = tu_sign(hh, dp, ec_old);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_MALFORMED);
    free(hh), free(dp), free(t);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_expired)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_person_at(ks, NOW - 3600);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_EXPIRED);
    auth_jwt_token_clear(&t);
    json_t *p = person_payload();
    json_object_del(p, "exp");
    char *s = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_CLAIMS);
    free(s);
    static const char *const bad_exp[] = { "\"9999999999\"", "1.7e9", "null", "true" };
    for (size_t i = 0; i < 4; i++) {
        p = person_payload();
        json_object_set_new(p, "exp", json_loads(bad_exp[i], JSON_DECODE_ANY, NULL));
        s = good_ec_token(p);
        ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_CLAIMS);
        free(s);
    }
    p = person_payload();
    json_object_set_new(p, "exp", json_integer(INT64_MIN));
    s = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_EXPIRED);
    free(s);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_not_yet_valid)
{
    struct auth_jwt_keyset *ks = main_set();
    json_t *p = person_payload();
    json_object_set_new(p, "nbf", json_integer(NOW + 120));
    char *s = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_NOT_YET_VALID);
    free(s);
    p = person_payload();
    json_object_set_new(p, "iat", json_integer(NOW + 120));
    s = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_NOT_YET_VALID);
    free(s);
    p = person_payload();
    json_object_set_new(p, "nbf", json_integer(INT64_MAX));
    s = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_NOT_YET_VALID);
    free(s);
    p = person_payload();
    json_object_set_new(p, "nbf", json_string("0"));
    s = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_CLAIMS);
    free(s);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_wrong_issuer)
{
    struct auth_jwt_keyset *ks = main_set();
    static const char *const iss[] = { "https://evil.example", "https://onegate.test/",
                                       "HTTPS://ONEGATE.TEST", "" };
    for (size_t i = 0; i < 4; i++) {
        json_t *p = person_payload();
        json_object_set_new(p, "iss", json_string(iss[i]));
        char *s = good_ec_token(p);
        ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ISSUER);
        free(s);
    }
    json_t *p = person_payload();
    json_object_del(p, "iss");
    char *s = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_ISSUER);
    free(s);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_wrong_audience)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_person_at(ks, NOW);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, "operator-portal", NULL),
                     AUTH_JWT_E_AUDIENCE);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, "SSP", NULL),
                     AUTH_JWT_E_AUDIENCE);
    auth_jwt_token_clear(&t);
    json_t *p = person_payload();
    json_object_del(p, "aud");
    char *s = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_AUDIENCE);
    free(s);
    static const char *const bad[] = { "[]", "[1]", "42", "{}" };
    for (size_t i = 0; i < 4; i++) {
        p = person_payload();
        json_object_set_new(p, "aud", json_loads(bad[i], JSON_DECODE_ANY, NULL));
        s = good_ec_token(p);
        ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_CLAIMS);
        free(s);
    }
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_person_token_as_api_token)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_person_at(ks, NOW);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_API_ACCOUNT, AUD, NULL),
                     AUTH_JWT_E_SUB_TYPE);
    auth_jwt_token_clear(&t);
    /* A person-shaped token that also carries client_id is still a person token. */
    json_t *p = person_payload();
    json_object_set_new(p, "client_id", json_string("cli-7"));
    char *s = good_ec_token(p);
    ck_assert_int_eq(verify(ks, s, strlen(s), AUTH_JWT_SUB_API_ACCOUNT, AUD, NULL),
                     AUTH_JWT_E_SUB_TYPE);
    free(s);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_api_token_as_person_token)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_api_at(ks, NOW, AUD);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_API_ACCOUNT, AUD, NULL), 0);
    ck_assert_int_eq(verify(ks, t.jwt, t.len, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_SUB_TYPE);
    auth_jwt_token_clear(&t);
    /* sub_type missing, other casing, unknown, wrong type. */
    static const char *const st[] = { NULL, "Person", "PERSON", "system", "" };
    for (size_t i = 0; i < 5; i++) {
        json_t *p = person_payload();
        if (st[i])
            json_object_set_new(p, "sub_type", json_string(st[i]));
        else
            json_object_del(p, "sub_type");
        char *s = good_ec_token(p);
        ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_SUB_TYPE);
        free(s);
    }
    /* API token whose sub is not its client_id, or without client_id. */
    char *h = hdr("ES256", kid_ec_old), *pl = NULL;
    ck_assert_int_ge(asprintf(&pl, "{\"iss\":\"%s\",\"sub\":\"other\",\"aud\":\"%s\",\"iat\":%lld,"
                              "\"exp\":%lld,\"jti\":\"j\",\"sub_type\":\"api_account\","
                              "\"client_id\":\"cli-7\",\"scope\":\"read\"}", ISS, AUD,
                              (long long)NOW, (long long)NOW + 60), 0);
    char *s = tu_sign(h, pl, ec_old);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_API_ACCOUNT), AUTH_JWT_E_CLAIMS);
    free(pl), free(s);
    ck_assert_int_ge(asprintf(&pl, "{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld,"
                              "\"jti\":\"j\",\"sub_type\":\"api_account\"}", ISS, AUD,
                              (long long)NOW, (long long)NOW + 60), 0);
    s = tu_sign(h, pl, ec_old);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_API_ACCOUNT), AUTH_JWT_E_CLAIMS);
    free(pl), free(s), free(h);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_one_megabyte_token)
{
    struct auth_jwt_keyset *ks = main_set();
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, '!', n);        /* not even base64url: refused on size, before decoding */
    ck_assert_int_eq(verify(ks, big, n, AUTH_JWT_SUB_PERSON, AUD, NULL), AUTH_JWT_E_TOO_LARGE);
    /* A structurally plausible 1 MB token (huge payload) too. */
    struct auth_jwt_token t = mint_person_at(ks, NOW);
    const char *d1 = strchr(t.jwt, '.');
    memcpy(big, t.jwt, (size_t)(d1 - t.jwt + 1));
    memset(big + (d1 - t.jwt + 1), 'A', n - 200);
    big[n - 100] = '.';
    ck_assert_int_eq(verify(ks, big, n, AUTH_JWT_SUB_PERSON, AUD, NULL), AUTH_JWT_E_TOO_LARGE);
    /* The bound is configurable: a normal token over a 256-byte limit is refused. */
    struct auth_jwt_verify_opts o = vopts(AUTH_JWT_SUB_PERSON, AUD);
    o.max_token_bytes = 256;
    struct auth_jwt_claims *c = NULL;
    char err[128];
    ck_assert_int_gt(t.len, 256);
    ck_assert_int_eq(auth_jwt_verify(ks, &o, t.jwt, t.len, &c, err, sizeof err),
                     AUTH_JWT_E_TOO_LARGE);
    o.max_token_bytes = t.len;
    ck_assert_int_eq(auth_jwt_verify(ks, &o, t.jwt, t.len, &c, err, sizeof err), 0);
    auth_jwt_claims_unref(c);
    auth_jwt_token_clear(&t);
    free(big);
    auth_jwt_keyset_unref(ks);
}
END_TEST

/* Replaces part <idx> (0 header, 1 payload, 2 signature) of <tok> by <part>. */
static char *with_part(const char *tok, int idx, const char *part)
{
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    char *s = NULL;
    int r;
    if (idx == 0)
        r = asprintf(&s, "%s%s", part, d1);
    else if (idx == 1)
        r = asprintf(&s, "%.*s.%s%s", (int)(d1 - tok), tok, part, d2);
    else
        r = asprintf(&s, "%.*s.%s", (int)(d2 - tok), tok, part);
    ck_assert_int_ge(r, 0);
    return s;
}

/* Copy of part <idx> of <tok>. */
static char *part_of(const char *tok, int idx)
{
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    if (idx == 0)
        return strndup(tok, (size_t)(d1 - tok));
    if (idx == 1)
        return strndup(d1 + 1, (size_t)(d2 - d1 - 1));
    return strdup(d2 + 1);
}

START_TEST(test_attack_malformed_base64_each_part)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_person_at(ks, NOW);
    for (int idx = 0; idx < 3; idx++) {
        char *orig = part_of(t.jwt, idx);
        size_t n = strlen(orig);
        /* Standard-alphabet chars, padding, whitespace, percent-encoding, NUL-free junk. */
        static const char *const inject[] = { "+", "/", "=", " ", "%", "\n", "*", "\xc3\xa9" };
        for (size_t i = 0; i < sizeof inject / sizeof *inject; i++) {
            char *bad = NULL;
            ck_assert_int_ge(asprintf(&bad, "%.*s%s%s", (int)(n / 2), orig, inject[i],
                                      orig + n / 2 + 1), 0);
            char *tok = with_part(t.jwt, idx, bad);
            int rc = verify_str(ks, tok, AUTH_JWT_SUB_PERSON);
            ck_assert_msg(rc == AUTH_JWT_E_MALFORMED, "part %d inject %zu: %s", idx, i,
                          auth_jwt_strerror(rc));
            free(bad), free(tok);
        }
        /* Padded form of the same bytes. */
        char *pad = NULL;
        ck_assert_int_ge(asprintf(&pad, "%s%s", orig, n % 4 == 2 ? "==" : n % 4 == 3 ? "=" :
                                                                             "===="), 0);
        char *tok = with_part(t.jwt, idx, pad);
        ck_assert_int_eq(verify_str(ks, tok, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_MALFORMED);
        free(pad), free(tok);
        /* Length % 4 == 1 is never base64. */
        char *one = NULL;
        ck_assert_int_ge(asprintf(&one, "%sA", orig), 0);
        if (strlen(one) % 4 == 1) {
            tok = with_part(t.jwt, idx, one);
            ck_assert_int_eq(verify_str(ks, tok, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_MALFORMED);
            free(tok);
        }
        free(one), free(orig);
    }
    /* Non-canonical last character (non-zero unused bits) of the 64-byte ES256 signature:
     * 86 chars, the last carries 4 unused bits. */
    char *sig = part_of(t.jwt, 2);
    size_t sl = strlen(sig);
    ck_assert_int_eq(sl, 86);
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alpha, sig[sl - 1]) - alpha);
    sig[sl - 1] = alpha[v | 1];
    char *tok = with_part(t.jwt, 2, sig);
    ck_assert_int_eq(verify_str(ks, tok, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_MALFORMED);
    /* An embedded NUL inside the token bytes. */
    char *nul = strdup(t.jwt);
    nul[10] = '\0';
    ck_assert_int_eq(verify(ks, nul, t.len, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_MALFORMED);
    free(sig), free(tok), free(nul);
    auth_jwt_token_clear(&t);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_malformed_json_each_part)
{
    struct auth_jwt_keyset *ks = main_set();
    char *h = hdr("ES256", kid_ec_old);
    char *p = dump(person_payload());
    /* Header: not JSON, not an object, trailing junk. Signed validly so only JSON decides. */
    static const char *const bad_json[] = { "{\"alg\":\"ES256\"", "[]", "\"ES256\"", "null",
                                            "{}x", "", "{\"alg\":\"ES256\",}", "\xff\xfe{}" };
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        char *t = tu_sign(bad_json[i], p, ec_old);
        int rc = verify_str(ks, t, AUTH_JWT_SUB_PERSON);
        ck_assert_msg(rc == AUTH_JWT_E_MALFORMED, "header %zu: %s", i, auth_jwt_strerror(rc));
        free(t);
        t = tu_sign(h, bad_json[i], ec_old);
        rc = verify_str(ks, t, AUTH_JWT_SUB_PERSON);
        ck_assert_msg(rc == AUTH_JWT_E_MALFORMED, "payload %zu: %s", i, auth_jwt_strerror(rc));
        free(t);
    }
    /* Payload as a JSON array (libjwt accepts that). */
    char *t = tu_sign(h, "[{\"sub_type\":\"person\"}]", ec_old);
    ck_assert_int_eq(verify_str(ks, t, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_MALFORMED);
    free(t);
    /* Signature part: JSON or text instead of signature bytes. */
    struct auth_jwt_token g = mint_person_at(ks, NOW);
    char *js = tu_b64("{\"sig\":1}", 9);
    char *tok = with_part(g.jwt, 2, js);
    ck_assert_int_eq(verify_str(ks, tok, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_SIGNATURE);
    free(js), free(tok), free(h), free(p);
    auth_jwt_token_clear(&g);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_extra_and_empty_parts)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_person_at(ks, NOW);
    char *s = NULL;
    ck_assert_int_ge(asprintf(&s, "%s.", t.jwt), 0);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_MALFORMED);
    free(s);
    ck_assert_int_ge(asprintf(&s, "%s.%s", t.jwt, "AAAA"), 0);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_MALFORMED);
    free(s);
    /* JWE compact form (5 parts). */
    ck_assert_int_eq(verify_str(ks, "eyJhbGciOiJSU0EtT0FFUCJ9.AAAA.AAAA.AAAA.AAAA",
                                AUTH_JWT_SUB_PERSON), AUTH_JWT_E_MALFORMED);
    char *h = part_of(t.jwt, 0), *p = part_of(t.jwt, 1), *g = part_of(t.jwt, 2);
    const char *forms[][3] = { { "", p, g }, { h, "", g }, { "", "", "" }, { "", "", g } };
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_ge(asprintf(&s, "%s.%s.%s", forms[i][0], forms[i][1], forms[i][2]), 0);
        ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_MALFORMED);
        free(s);
    }
    static const char *const shapes[] = { "", ".", "..", "...", "abc", "a.b" };
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_lt(verify_str(ks, shapes[i], AUTH_JWT_SUB_PERSON), 0);
    ck_assert_int_eq(verify(ks, NULL, 0, AUTH_JWT_SUB_PERSON, AUD, NULL), AUTH_JWT_E_MALFORMED);
    free(h), free(p), free(g);
    auth_jwt_token_clear(&t);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_attack_wrongly_typed_claims)
{
    struct auth_jwt_keyset *ks = main_set();
    static const char *const members[][2] = {
        { "jti", "42" }, { "jti", "\"\"" }, { "sub", "7" }, { "sub", "\"\"" },
        { "roles", "\"operator\"" }, { "roles", "[1]" }, { "ssp_access", "\"true\"" },
        { "caller", "1" }, { "name", "[]" }, { "sid", "{}" }, { "iat", "\"1\"" } };
    for (size_t i = 0; i < sizeof members / sizeof *members; i++) {
        json_t *p = person_payload();
        json_object_set_new(p, members[i][0], json_loads(members[i][1], JSON_DECODE_ANY, NULL));
        char *s = good_ec_token(p);
        int rc = verify_str(ks, s, AUTH_JWT_SUB_PERSON);
        ck_assert_msg(rc == AUTH_JWT_E_CLAIMS, "%s=%s: %s", members[i][0], members[i][1],
                      auth_jwt_strerror(rc));
        free(s);
    }
    char longjti[AUTH_JWT_MAX_JTI_BYTES + 2];
    memset(longjti, 'j', sizeof longjti - 1);
    longjti[sizeof longjti - 1] = '\0';
    json_t *p = person_payload();
    json_object_set_new(p, "jti", json_string(longjti));
    char *s = good_ec_token(p);
    ck_assert_int_eq(verify_str(ks, s, AUTH_JWT_SUB_PERSON), AUTH_JWT_E_CLAIMS);
    free(s);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_misconfigured_verifier_refuses)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_person_at(ks, NOW);
    struct auth_jwt_verify_opts o = vopts(AUTH_JWT_SUB_PERSON, AUD);
    struct auth_jwt_claims *c = NULL;
    char err[128];
    o.issuer = NULL;
    ck_assert_int_eq(auth_jwt_verify(ks, &o, t.jwt, t.len, &c, err, sizeof err),
                     AUTH_JWT_E_INVAL);
    o = vopts(0, AUD);
    ck_assert_int_eq(auth_jwt_verify(ks, &o, t.jwt, t.len, &c, err, sizeof err),
                     AUTH_JWT_E_INVAL);
    struct auth_jwt_keyset *unsealed = auth_jwt_keyset_new();
    o = vopts(AUTH_JWT_SUB_PERSON, AUD);
    ck_assert_int_eq(auth_jwt_verify(unsealed, &o, t.jwt, t.len, &c, err, sizeof err),
                     AUTH_JWT_E_INVAL);
    ck_assert_ptr_null(c);
    auth_jwt_keyset_unref(unsealed);
    auth_jwt_token_clear(&t);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_errors_never_echo_token_bytes)
{
    struct auth_jwt_keyset *ks = main_set();
    struct auth_jwt_token t = mint_person_at(ks, NOW);
    char *p = part_of(t.jwt, 1);
    struct auth_jwt_verify_opts o = vopts(AUTH_JWT_SUB_API_ACCOUNT, AUD);
    struct auth_jwt_claims *c = NULL;
    char err[512];
    ck_assert_int_lt(auth_jwt_verify(ks, &o, t.jwt, t.len, &c, err, sizeof err), 0);
    ck_assert_ptr_null(strstr(err, p));
    ck_assert_ptr_null(strstr(err, "p-42"));
    char fp[9];
    auth_jwt_fingerprint(t.jwt, t.len, fp);
    ck_assert_int_eq(strlen(fp), 8);
    ck_assert_int_eq(strspn(fp, "0123456789abcdef"), 8);
    free(p);
    auth_jwt_token_clear(&t);
    auth_jwt_keyset_unref(ks);
}
END_TEST

/* ============================== rotation ============================== */

START_TEST(test_key_rotation)
{
    /* 0: old signs.  1: new published.  2: new signs, old published.  3: old retired. */
    struct auth_jwt_keyset *s0 = load_set(ec_old_priv, NULL, NULL);
    struct auth_jwt_keyset *s1 = load_set(ec_old_priv, ec_new_pub, NULL);
    struct auth_jwt_keyset *s2 = load_set(ec_new_priv, ec_old_pub, NULL);
    struct auth_jwt_keyset *s3 = load_set(ec_new_priv, NULL, NULL);
    struct auth_jwt_token old = mint_person_at(s0, NOW);
    struct auth_jwt_token nw = mint_person_at(s2, NOW);
    struct auth_jwt_claims *c = NULL;
    ck_assert_int_eq(verify(s1, old.jwt, old.len, AUTH_JWT_SUB_PERSON, AUD, &c), 0);
    ck_assert_str_eq(c->kid, kid_ec_old);
    auth_jwt_claims_unref(c);
    /* Instances still on step 1 accept tokens from instances already on step 2. */
    ck_assert_int_eq(verify(s1, nw.jwt, nw.len, AUTH_JWT_SUB_PERSON, AUD, &c), 0);
    ck_assert_str_eq(c->kid, kid_ec_new);
    auth_jwt_claims_unref(c);
    ck_assert_int_eq(verify(s2, old.jwt, old.len, AUTH_JWT_SUB_PERSON, AUD, NULL), 0);
    ck_assert_int_eq(verify(s2, nw.jwt, nw.len, AUTH_JWT_SUB_PERSON, AUD, NULL), 0);
    /* Retired: the old key's tokens are refused, the new key's accepted. */
    ck_assert_int_eq(verify(s3, old.jwt, old.len, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_KID);
    ck_assert_int_eq(verify(s3, nw.jwt, nw.len, AUTH_JWT_SUB_PERSON, AUD, NULL), 0);
    /* Step 0 never saw the new key. */
    ck_assert_int_eq(verify(s0, nw.jwt, nw.len, AUTH_JWT_SUB_PERSON, AUD, NULL),
                     AUTH_JWT_E_KID);
    size_t len;
    ck_assert_ptr_nonnull(strstr(auth_jwt_keyset_jwks(s2, &len), kid_ec_old));
    ck_assert_ptr_null(strstr(auth_jwt_keyset_jwks(s3, &len), kid_ec_old));
    auth_jwt_token_clear(&old);
    auth_jwt_token_clear(&nw);
    auth_jwt_keyset_unref(s0);
    auth_jwt_keyset_unref(s1);
    auth_jwt_keyset_unref(s2);
    auth_jwt_keyset_unref(s3);
}
END_TEST

/* ============================== benchmark ============================== */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median µs/op of <fn> over <rounds> batches of <batch> calls. */
#define BENCH(label, rounds, batch, stmt)                                                   \
    do {                                                                                    \
        double r_[rounds];                                                                  \
        for (int i_ = 0; i_ < (rounds); i_++) {                                             \
            double t0_ = now_us();                                                          \
            for (int j_ = 0; j_ < (batch); j_++) { stmt; }                                  \
            r_[i_] = (now_us() - t0_) / (batch);                                            \
        }                                                                                   \
        qsort(r_, (rounds), sizeof(double), cmp_d);                                         \
        printf("%-46s median %9.2f us/op  (min %.2f, max %.2f)\n", label, r_[(rounds) / 2], \
               r_[0], r_[(rounds) - 1]);                                                    \
    } while (0)

static void run_bench(void);

START_TEST(test_bench)
{
    run_bench();
}
END_TEST

static void run_bench(void)
{
    struct auth_jwt_keyset *es = main_set(), *rs = load_set(rsa_priv, NULL, NULL);
    struct auth_jwt_verify_opts o = vopts(AUTH_JWT_SUB_PERSON, AUD);
    o.now_s = 0;
    struct auth_jwt_token te = mint_person_at(es, 0), tr = mint_person_at(rs, 0);
    struct auth_jwt_claims *c;
    char err[256];
    printf("token sizes: ES256 person %zu bytes, RS256 person %zu bytes\n", te.len, tr.len);
    BENCH("mint ES256 person", 21, 200, {
        struct auth_jwt_token t = mint_person_at(es, 0);
        auth_jwt_token_clear(&t);
    });
    BENCH("mint RS256-2048 person", 11, 20, {
        struct auth_jwt_token t = mint_person_at(rs, 0);
        auth_jwt_token_clear(&t);
    });
    BENCH("verify ES256 person (accepted)", 21, 200, {
        auth_jwt_verify(es, &o, te.jwt, te.len, &c, err, sizeof err);
        auth_jwt_claims_unref(c);
    });
    BENCH("verify RS256 person (accepted)", 21, 200, {
        auth_jwt_verify(rs, &o, tr.jwt, tr.len, &c, err, sizeof err);
        auth_jwt_claims_unref(c);
    });
    char *bad_e = strdup(te.jwt), *bad_r = strdup(tr.jwt);
    bad_e[te.len - 5] = bad_e[te.len - 5] == 'A' ? 'B' : 'A';
    bad_r[tr.len - 5] = bad_r[tr.len - 5] == 'A' ? 'B' : 'A';
    BENCH("reject ES256 well-formed, bad signature", 21, 200,
          auth_jwt_verify(es, &o, bad_e, te.len, &c, err, sizeof err));
    BENCH("reject RS256 well-formed, bad signature", 21, 200,
          auth_jwt_verify(rs, &o, bad_r, tr.len, &c, err, sizeof err));
    struct auth_jwt_verify_opts oa = vopts(AUTH_JWT_SUB_API_ACCOUNT, AUD);
    oa.now_s = 0;
    BENCH("reject person token as API (sub_type)", 21, 2000,
          auth_jwt_verify(es, &oa, te.jwt, te.len, &c, err, sizeof err));
    char *h = hdr("none", kid_ec_old), *p = dump(person_payload());
    char *none = tu_raw(h, p, "AAAA");
    size_t nl = strlen(none);
    BENCH("reject alg none", 21, 2000,
          auth_jwt_verify(es, &o, none, nl, &c, err, sizeof err));
    size_t big = 1 << 20;
    char *mb = calloc(1, big);
    BENCH("reject 1 MB token", 21, 2000, auth_jwt_verify(es, &o, mb, big, &c, err, sizeof err));
    char junk[700];
    memset(junk, 'x', sizeof junk);
    BENCH("reject 700 bytes of junk (no dots)", 21, 2000,
          auth_jwt_verify(es, &o, junk, sizeof junk, &c, err, sizeof err));
    free(h), free(p), free(none), free(mb), free(bad_e), free(bad_r);
    auth_jwt_token_clear(&te);
    auth_jwt_token_clear(&tr);
    auth_jwt_keyset_unref(es);
    auth_jwt_keyset_unref(rs);
}

/* ================================ main ================================ */

static void setup_keys(void)
{
    if (!mkdtemp(tmpdir))
        tu_die("mkdtemp");
    ec_old = tu_gen_ec("P-256");
    ec_new = tu_gen_ec("P-256");
    rsa = tu_gen_rsa(2048);
    ec_old_priv = tu_write_pem(ec_old, tmpdir, "ec_old.key", 1);
    ec_old_pub = tu_write_pem(ec_old, tmpdir, "ec_old.pub", 0);
    ec_new_priv = tu_write_pem(ec_new, tmpdir, "ec_new.key", 1);
    ec_new_pub = tu_write_pem(ec_new, tmpdir, "ec_new.pub", 0);
    rsa_priv = tu_write_pem(rsa, tmpdir, "rsa.key", 1);
    rsa_pub = tu_write_pem(rsa, tmpdir, "rsa.pub", 0);
    struct { const char *path; char *kid; } m[] = {
        { ec_old_pub, kid_ec_old }, { ec_new_pub, kid_ec_new }, { rsa_pub, kid_rsa } };
    for (size_t i = 0; i < 3; i++) {
        struct auth_jwt_key *k = NULL;
        char err[256];
        if (auth_jwt_key_load_file(m[i].path, false, &k, err, sizeof err) < 0)
            tu_die(err);
        strcpy(m[i].kid, auth_jwt_key_kid(k));
        auth_jwt_key_free(k);
    }
}

static void cleanup_keys(void)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", tmpdir) >= 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    free(cmd);
}

static Suite *jwt_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *keys = tcase_create("keys");
    tcase_add_test(keys, test_kid_is_rfc7638_thumbprint);
    tcase_add_test(keys, test_private_and_public_pem_give_same_kid);
    tcase_add_test(keys, test_jwks_lists_public_members_only);
    tcase_add_test(keys, test_encrypted_pem_refused_without_prompt);
    tcase_add_test(keys, test_weak_or_unsupported_keys_refused);
    tcase_add_test(keys, test_public_key_cannot_be_signing_key);
    tcase_add_test(keys, test_keyset_rules);
    suite_add_tcase(s, keys);

    TCase *ok = tcase_create("mint_verify");
    tcase_add_test(ok, test_es256_person_roundtrip);
    tcase_add_test(ok, test_person_without_optional_claims);
    tcase_add_test(ok, test_rs256_api_roundtrip);
    tcase_add_test(ok, test_aud_array_and_jti_unique);
    tcase_add_test(ok, test_leeway_boundaries);
    tcase_add_test(ok, test_misconfigured_verifier_refuses);
    tcase_add_test(ok, test_errors_never_echo_token_bytes);
    tcase_add_test(ok, test_key_rotation);
    suite_add_tcase(s, ok);

    TCase *atk = tcase_create("attacks");
    tcase_add_test(atk, test_attack_alg_none_any_casing);
    tcase_add_test(atk, test_attack_alg_case_and_cross_key);
    tcase_add_test(atk, test_attack_signature_stripped);
    tcase_add_test(atk, test_attack_hs256_with_public_key_pem);
    tcase_add_test(atk, test_attack_hs256_with_jwks_bytes);
    tcase_add_test(atk, test_attack_payload_changed_under_old_signature);
    tcase_add_test(atk, test_attack_unknown_and_path_like_kid);
    tcase_add_test(atk, test_attack_key_url_and_embedded_key_headers);
    tcase_add_test(atk, test_attack_duplicate_header_members);
    tcase_add_test(atk, test_attack_expired);
    tcase_add_test(atk, test_attack_not_yet_valid);
    tcase_add_test(atk, test_attack_wrong_issuer);
    tcase_add_test(atk, test_attack_wrong_audience);
    tcase_add_test(atk, test_attack_person_token_as_api_token);
    tcase_add_test(atk, test_attack_api_token_as_person_token);
    tcase_add_test(atk, test_attack_one_megabyte_token);
    tcase_add_test(atk, test_attack_malformed_base64_each_part);
    tcase_add_test(atk, test_attack_malformed_json_each_part);
    tcase_add_test(atk, test_attack_extra_and_empty_parts);
    tcase_add_test(atk, test_attack_wrongly_typed_claims);
    suite_add_tcase(s, atk);
    return s;
}

int main(void)
{
    setup_keys();
    Suite *s = jwt_suite();
    if (getenv("ONEGATE_JWT_BENCH")) {
        s = suite_create("jwt_bench");
        TCase *tc = tcase_create("bench");
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, test_bench);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cleanup_keys();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
