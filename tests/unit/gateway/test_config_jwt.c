/* tests/unit/gateway/test_config_jwt.c — the jwt:, oauth: and per-route JWT keys of the
 * configuration loader (gateway/config.c): key files read at load (missing, wrong kind,
 * duplicate, relative to the config file), defaults, ranges, cross-references.
 *
 * Keys are generated at test time into a temp dir (never committed).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/jwt_keys.h"
#include "gateway/config.h"
#include "../auth/jwt_test_util.h"

static char tmpdir[] = "/tmp/og-cfgjwt-XXXXXX";
static char *sign_key, *sign_pub, *old_key, *old_pub, *rsa_pub;

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    EVP_PKEY *a = tu_gen_ec("P-256"), *b = tu_gen_ec("P-256"), *r = tu_gen_rsa(2048);
    sign_key = tu_write_pem(a, tmpdir, "sign.key", 1);
    sign_pub = tu_write_pem(a, tmpdir, "sign.pub", 0);
    old_key = tu_write_pem(b, tmpdir, "old.key", 1);
    old_pub = tu_write_pem(b, tmpdir, "old.pub", 0);
    rsa_pub = tu_write_pem(r, tmpdir, "rsa.pub", 0);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_free(r);
}

static void teardown(void)
{
    const char *files[] = { sign_key, sign_pub, old_key, old_pub, rsa_pub };
    for (size_t i = 0; i < 5; i++) {
        unlink(files[i]);
        free((void *)files[i]);
    }
    rmdir(tmpdir);
}

#define HEAD "listen: [127.0.0.1:8080]\nupstreams:\n  a:\n    servers: [127.0.0.1:9101]\n"

static struct gw_config *load(const char *yaml, const char *name, char *err)
{
    return gw_config_load_string(yaml, strlen(yaml), name, err, GW_CONFIG_ERR_MAX);
}

static struct gw_config *expect_ok(const char *yaml)
{
    char err[GW_CONFIG_ERR_MAX] = "";
    struct gw_config *cfg = load(yaml, "t.yaml", err);
    if (!cfg)
        ck_abort_msg("refused: %s\n--- yaml:\n%s", err, yaml);
    return cfg;
}

static void expect_error(const char *yaml, const char *want)
{
    char err[GW_CONFIG_ERR_MAX] = "";
    struct gw_config *cfg = load(yaml, "t.yaml", err);
    if (cfg) {
        gw_config_free(cfg);
        ck_abort_msg("accepted, expected error: %s\n--- yaml:\n%s", want, yaml);
    }
    if (!strstr(err, want))
        ck_abort_msg("wrong error\n want: %s\n got:  %s\n--- yaml:\n%s", want, err, yaml);
}

START_TEST(defaults_without_jwt)
{
    struct gw_config *cfg = expect_ok(HEAD "routes:\n  - path: /\n    upstream: a\n");
    ck_assert(!cfg->jwt.configured);
    ck_assert_ptr_null(cfg->jwt.keyset);
    ck_assert(!cfg->oauth.configured);
    ck_assert_ptr_null(cfg->routes[0].audience);
    ck_assert_str_eq(cfg->routes[0].jwt_header, "Authorization");
    gw_config_free(cfg);
}
END_TEST

START_TEST(full_sections)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml, HEAD
             "routes:\n"
             "  - path: /ssp/\n    upstream: a\n    audience: ssp\n"
             "    jwt_header: X-Onegate-Jwt\n    jwt_claims: [name, email]\n"
             "  - path: /op/\n    upstream: a\n    audience: operator\n"
             "jwt:\n  issuer: https://login.example.org\n  signing_key: %s\n"
             "  published_keys: [%s, %s]\n  token_lifetime_ms: 600000\n  leeway_ms: 5000\n"
             "  max_token_bytes: 4096\n  cache_entries: 50\n  renew_before_ms: 30000\n"
             "  max_signature_checks_per_s: 0\n"
             "oauth:\n  token_lifetime_ms: 120000\n  audience: api\n"
             "  throttle:\n    client: {free_failures: 1, lock_failures: 2}\n",
             sign_key, old_pub, rsa_pub);
    struct gw_config *cfg = expect_ok(yaml);
    ck_assert(cfg->jwt.configured);
    ck_assert_str_eq(cfg->jwt.issuer, "https://login.example.org");
    ck_assert_ptr_nonnull(cfg->jwt.keyset);
    ck_assert_uint_eq(auth_jwt_keyset_count(cfg->jwt.keyset), 3);
    ck_assert_ptr_nonnull(auth_jwt_keyset_signing_key(cfg->jwt.keyset));
    ck_assert_uint_eq(cfg->jwt.token_lifetime_ms, 600000);
    ck_assert_uint_eq(cfg->jwt.leeway_ms, 5000);
    ck_assert_uint_eq(cfg->jwt.max_token_bytes, 4096);
    ck_assert_uint_eq(cfg->jwt.cache_entries, 50);
    ck_assert_uint_eq(cfg->jwt.max_signature_checks_per_s, 0);      /* 0 = no cap */
    ck_assert_uint_eq(cfg->jwt.npublished_keys, 2);
    ck_assert(cfg->oauth.configured);
    ck_assert_uint_eq(cfg->oauth.token_lifetime_ms, 120000);
    ck_assert_str_eq(cfg->oauth.audience, "api");
    ck_assert_uint_eq(cfg->oauth.client.free_failures, 1);
    ck_assert_uint_eq(cfg->oauth.client.lock_failures, 2);
    ck_assert_uint_eq(cfg->oauth.client.delay_base_ms, 1000);   /* default kept */
    ck_assert_uint_eq(cfg->oauth.address.lock_failures, 100);
    ck_assert_str_eq(cfg->routes[0].audience, "ssp");
    ck_assert_str_eq(cfg->routes[0].jwt_header, "X-Onegate-Jwt");
    ck_assert(cfg->routes[0].jwt_claim_name && cfg->routes[0].jwt_claim_email);
    ck_assert_str_eq(cfg->routes[1].jwt_header, "Authorization");
    ck_assert(!cfg->routes[1].jwt_claim_name && !cfg->routes[1].jwt_claim_email);
    /* the JWKS lists every key, the signing key first */
    const char *jwks = auth_jwt_keyset_jwks(cfg->jwt.keyset, NULL);
    const char *kid = auth_jwt_key_kid(auth_jwt_keyset_signing_key(cfg->jwt.keyset));
    ck_assert_ptr_nonnull(strstr(jwks, kid));
    ck_assert_ptr_nonnull(strstr(jwks, "\"RS256\""));
    gw_config_free(cfg);
}
END_TEST

START_TEST(oauth_lifetime_defaults_to_jwt)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n"
             "  token_lifetime_ms: 90000\noauth: {}\n", sign_key);
    struct gw_config *cfg = expect_ok(yaml);
    ck_assert_uint_eq(cfg->oauth.token_lifetime_ms, 90000);
    ck_assert_uint_eq(cfg->jwt.renew_before_ms, 60000);
    ck_assert_uint_eq(cfg->jwt.bad_token_burst, 20);
    ck_assert_uint_eq(cfg->jwt.bad_token_per_s, 10);
    ck_assert_uint_eq(cfg->jwt.max_signature_checks_per_s, 1000);
    ck_assert_ptr_null(cfg->oauth.audience);
    gw_config_free(cfg);
}
END_TEST

START_TEST(missing_key_file_names_path)
{
    char yaml[2048], want[600];
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n"
             "  signing_key: %s/nope.key\n", tmpdir);
    snprintf(want, sizeof want, "t.yaml:8:16: signing_key: ");
    expect_error(yaml, want);
    snprintf(want, sizeof want, "%s/nope.key", tmpdir);
    expect_error(yaml, want);
}
END_TEST

START_TEST(relative_key_path_near_config)
{
    char yaml[2048], name[600], err[GW_CONFIG_ERR_MAX] = "";
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n"
             "  signing_key: sign.key\n  published_keys: [old.pub]\n");
    snprintf(name, sizeof name, "%s/onegate.yaml", tmpdir);
    struct gw_config *cfg = load(yaml, name, err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->jwt.signing_key, sign_key);
    ck_assert_str_eq(cfg->jwt.published_keys[0], old_pub);
    gw_config_free(cfg);
    /* from another directory the same relative name is not found, and the message says where */
    cfg = load(yaml, "/nonexistent-dir/onegate.yaml", err);
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/sign.key"));
}
END_TEST

START_TEST(bad_keys)
{
    char yaml[2048];
    /* a public key cannot sign */
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n",
             sign_pub);
    expect_error(yaml, "t.yaml:8:16: signing_key: ");
    /* the signing key also listed as published: same kid twice */
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n"
             "  published_keys: [%s]\n", sign_key, sign_pub);
    expect_error(yaml, "t.yaml:9:20: published key '");
    /* not a key at all */
    char junk[600];
    snprintf(junk, sizeof junk, "%s/junk.pem", tmpdir);
    FILE *f = fopen(junk, "w");
    fputs("-----BEGIN NOTHING-----\nAAAA\n-----END NOTHING-----\n", f);
    fclose(f);
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n"
             "  published_keys: [%s]\n", sign_key, junk);
    expect_error(yaml, "t.yaml:9:20: published key: ");
    unlink(junk);
}
END_TEST

START_TEST(bad_values)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  signing_key: %s\n", sign_key);
    expect_error(yaml, "missing required key 'issuer' in jwt");
    expect_error(HEAD "routes: []\njwt:\n  issuer: https://i\n",
                 "missing required key 'signing_key' in jwt");
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n"
             "  token_lifetime_ms: 90500\n", sign_key);
    expect_error(yaml, "t.yaml:9:22: token_lifetime_ms must be whole seconds");
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n"
             "  token_lifetime_ms: 60000\n", sign_key);
    expect_error(yaml, "renew_before_ms (60000) must be less than token_lifetime_ms (60000)");
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: \"a\\\"b\"\n  signing_key: %s\n",
             sign_key);
    expect_error(yaml, "t.yaml:7:11: issuer must be 1 to 255 visible characters");
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n"
             "  max_token_bytes: 100\n", sign_key);
    expect_error(yaml, "t.yaml:9:20: max_token_bytes out of range: 100 (expected 256..65536)");
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n"
             "  max_signature_checks_per_s: 1000001\n", sign_key);
    expect_error(yaml, "t.yaml:9:31: max_signature_checks_per_s out of range: 1000001 "
                 "(expected 0..1000000)");
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n"
             "  max_signature_checks_per_s: -5\n", sign_key);
    expect_error(yaml, "t.yaml:9:31: max_signature_checks_per_s");
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n"
             "  algorithm: HS256\n", sign_key);
    expect_error(yaml, "t.yaml:9:3: unknown key 'algorithm' in jwt");
    snprintf(yaml, sizeof yaml, HEAD "routes: []\njwt:\n  issuer: https://i\n  signing_key: %s\n"
             "oauth:\n  throttle:\n    client: {free_failures: 5, lock_failures: 5}\n", sign_key);
    expect_error(yaml, "lock_failures (5) must be greater than free_failures (5)");
}
END_TEST

START_TEST(cross_references)
{
    expect_error(HEAD "routes: []\noauth: {}\n", "t.yaml:6:8: oauth needs a jwt section");
    expect_error(HEAD "routes:\n  - path: /\n    upstream: a\n    audience: ssp\n",
                 "t.yaml:6:5: route / forwards a JWT");
    char yaml[2048];
    snprintf(yaml, sizeof yaml, HEAD "routes:\n  - path: /\n    upstream: a\n"
             "    jwt_claims: [name]\njwt:\n  issuer: https://i\n  signing_key: %s\n", sign_key);
    expect_error(yaml, "jwt_header and jwt_claims need an audience");
    snprintf(yaml, sizeof yaml, HEAD "routes:\n  - path: /\n    upstream: a\n    audience: x\n"
             "    jwt_claims: [name, phone]\njwt:\n  issuer: https://i\n  signing_key: %s\n",
             sign_key);
    expect_error(yaml, "t.yaml:9:24: unknown claim 'phone' in jwt_claims (expected name, email)");
    snprintf(yaml, sizeof yaml, HEAD "routes:\n  - path: /\n    upstream: a\n    audience: x\n"
             "    jwt_header: \"Bad Header\"\njwt:\n  issuer: https://i\n  signing_key: %s\n",
             sign_key);
    expect_error(yaml, "invalid header name 'Bad Header' for jwt_header");
}
END_TEST

/* The source root, from this file's absolute path (CMake compiles with absolute paths). */
static const char *source_path(const char *rel, char *buf, size_t cap)
{
    const char *me = __FILE__;
    const char *tail = strstr(me, "tests/unit/gateway/test_config_jwt.c");
    ck_assert_ptr_nonnull(tail);
    snprintf(buf, cap, "%.*s%s", (int)(tail - me), me, rel);
    return buf;
}

/* The example's commented jwt block, enabled as its comment says (remove every "#jwt "), with
 * keys from certs/gen-keys.sh: refused naming the key path before the keys exist, loaded
 * after. */
START_TEST(example_jwt_block)
{
    char src[1024], dst[1024], cmd[3072], err[GW_CONFIG_ERR_MAX] = "";
    snprintf(cmd, sizeof cmd, "mkdir -p %s/deploy %s/certs && sed 's/#jwt //' %s > "
             "%s/deploy/onegate.yaml", tmpdir, tmpdir,
             source_path("deploy/onegate.example.yaml", src, sizeof src), tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(dst, sizeof dst, "%s/deploy/onegate.yaml", tmpdir);
    struct gw_config *cfg = gw_config_load(dst, err, sizeof err);
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strstr(err, "deploy/../certs/onegate-jwt.key") != NULL, "%s", err);
    snprintf(cmd, sizeof cmd, "sh %s -o %s/certs -n onegate-jwt >/dev/null",
             source_path("certs/gen-keys.sh", src, sizeof src), tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    cfg = gw_config_load(dst, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert(cfg->jwt.configured && cfg->oauth.configured);
    ck_assert_uint_eq(auth_jwt_keyset_count(cfg->jwt.keyset), 1);
    gw_config_free(cfg);
    snprintf(cmd, sizeof cmd, "rm -rf %s/deploy %s/certs", tmpdir, tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_jwt");
    TCase *tc = tcase_create("jwt");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, defaults_without_jwt);
    tcase_add_test(tc, full_sections);
    tcase_add_test(tc, oauth_lifetime_defaults_to_jwt);
    tcase_add_test(tc, missing_key_file_names_path);
    tcase_add_test(tc, relative_key_path_near_config);
    tcase_add_test(tc, bad_keys);
    tcase_add_test(tc, bad_values);
    tcase_add_test(tc, cross_references);
    tcase_add_test(tc, example_jwt_block);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
