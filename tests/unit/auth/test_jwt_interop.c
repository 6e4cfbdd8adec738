/* tests/unit/auth/test_jwt_interop.c — the C side of the JOSE interoperability test.
 *
 * Without arguments it is a Check runner testing its own two tool modes in-process. With
 * arguments it is the tool tests/e2e/test_jwt_interop.py drives (an independent JOSE library,
 * PyJWT, checks onegate's tokens against the JWKS and signs tokens onegate must accept):
 *
 *   unit_auth_test_jwt_interop mint SIGNING.pem OUTDIR [PUBLISHED.pem...]
 *       writes OUTDIR/jwks.json, OUTDIR/person.jwt (aud "ssp"), OUTDIR/api.jwt (aud "api"),
 *       issuer "https://onegate.test", issued now.
 *   unit_auth_test_jwt_interop verify person|api AUDIENCE|- TOKEN_FILE KEY.pem...
 *       verifies with a verify-only key set of the given keys; prints the claims as JSON and
 *       exits 0, or prints "refused <reason>" and exits 3.
 * Living here keeps the build unchanged (every unit test_*.c under tests/unit is built).
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/jwt_keys.h"
#include "auth/jwt_mint.h"
#include "auth/jwt_verify.h"
#include "jwt_test_util.h"

#define ISS "https://onegate.test"

static int write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

/* The "mint" tool mode. Returns a process exit code; messages to stderr. */
static int tool_mint(const char *signing, const char *outdir, const char *const *pub, size_t npub)
{
    char err[512];
    struct auth_jwt_keyset *ks = auth_jwt_keyset_load(signing, pub, npub, err, sizeof err);
    if (!ks) {
        fprintf(stderr, "mint: %s\n", err);
        return 2;
    }
    static const char *const roles[] = { "operator", "application_manager" };
    struct auth_jwt_mint_opts po = { .issuer = ISS, .audience = "ssp" };
    struct auth_jwt_person p = { .sub = "person-42", .sid = "sess-1", .roles = roles,
                                 .nroles = 2, .ssp_access = true, .caller = true,
                                 .name = "Ada Lovelace", .email = "ada@example.org" };
    struct auth_jwt_mint_opts ao = { .issuer = ISS, .audience = "api", .lifetime_s = 600 };
    struct auth_jwt_api_account a = { .client_id = "billing-sync", .scope = "people:read" };
    struct auth_jwt_token pt = { 0 }, at = { 0 };
    size_t jl;
    const char *jwks = auth_jwt_keyset_jwks(ks, &jl);
    int rc = 2;
    if (auth_jwt_mint_person(ks, &po, &p, &pt, err, sizeof err) < 0 ||
        auth_jwt_mint_api(ks, &ao, &a, &at, err, sizeof err) < 0) {
        fprintf(stderr, "mint: %s\n", err);
        goto out;
    }
    if (write_file(outdir, "jwks.json", jwks, jl) < 0 ||
        write_file(outdir, "person.jwt", pt.jwt, pt.len) < 0 ||
        write_file(outdir, "api.jwt", at.jwt, at.len) < 0) {
        fprintf(stderr, "mint: cannot write into %s\n", outdir);
        goto out;
    }
    rc = 0;
out:
    auth_jwt_token_clear(&pt);
    auth_jwt_token_clear(&at);
    auth_jwt_keyset_unref(ks);
    return rc;
}

/* The "verify" tool mode. Prints claims JSON (0) or "refused <reason>" (3). */
static int tool_verify(const char *kind, const char *aud, const char *token_file,
                       const char *const *keys, size_t nkeys, FILE *out)
{
    char err[512];
    struct auth_jwt_keyset *ks = auth_jwt_keyset_load(NULL, keys, nkeys, err, sizeof err);
    if (!ks) {
        fprintf(stderr, "verify: %s\n", err);
        return 2;
    }
    size_t len;
    char *tok = tu_read_file(token_file, &len);
    while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
        tok[--len] = '\0';
    struct auth_jwt_verify_opts o;
    auth_jwt_verify_opts_init(&o);
    o.issuer = ISS;
    o.audience = strcmp(aud, "-") == 0 ? NULL : aud;
    o.expect = strcmp(kind, "api") == 0 ? AUTH_JWT_SUB_API_ACCOUNT : AUTH_JWT_SUB_PERSON;
    struct auth_jwt_claims *c = NULL;
    int rc = auth_jwt_verify(ks, &o, tok, len, &c, err, sizeof err);
    if (rc < 0) {
        fprintf(out, "refused %s\n", auth_jwt_strerror(rc));
        fprintf(stderr, "verify: %s\n", err);
        rc = 3;
    } else {
        char *js = auth_jwt_claims_to_json(c);
        fprintf(out, "%s\n", js ? js : "{}");
        free(js);
        auth_jwt_claims_unref(c);
    }
    free(tok);
    auth_jwt_keyset_unref(ks);
    return rc;
}

/* ---- Check runner: the tool modes, in-process ---- */

static char tmpdir[] = "/tmp/onegate-jwti-test-XXXXXX";
static char *es_priv, *es_pub, *rs_priv, *rs_pub;

static char *path_in(const char *name)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", tmpdir, name), 0);
    return p;
}

START_TEST(test_tool_mint_then_verify)
{
    const char *pub[] = { rs_pub };
    ck_assert_int_eq(tool_mint(es_priv, tmpdir, pub, 1), 0);
    char *jwks = path_in("jwks.json"), *person = path_in("person.jwt"), *api = path_in("api.jwt");
    json_t *j = json_load_file(jwks, 0, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(j, "keys")), 2);
    json_decref(j);
    const char *keys[] = { es_pub, rs_pub };
    char buf[4096] = "";
    FILE *out = fmemopen(buf, sizeof buf, "w");
    ck_assert_int_eq(tool_verify("person", "ssp", person, keys, 2, out), 0);
    fclose(out);
    json_t *c = json_loads(buf, 0, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(json_string_value(json_object_get(c, "sub")), "person-42");
    ck_assert_str_eq(json_string_value(json_object_get(c, "sub_type")), "person");
    ck_assert(json_is_true(json_object_get(c, "caller")));
    json_decref(c);
    out = fmemopen(buf, sizeof buf, "w");
    ck_assert_int_eq(tool_verify("api", "api", api, keys, 2, out), 0);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(buf, "\"client_id\":\"billing-sync\""));
    /* Kinds crossed, audience crossed: refused with the reason on stdout. */
    out = fmemopen(buf, sizeof buf, "w");
    ck_assert_int_eq(tool_verify("api", "ssp", person, keys, 2, out), 3);
    fclose(out);
    ck_assert_str_eq(buf, "refused wrong_sub_type\n");
    out = fmemopen(buf, sizeof buf, "w");
    ck_assert_int_eq(tool_verify("person", "api", person, keys, 2, out), 3);
    fclose(out);
    ck_assert_str_eq(buf, "refused bad_audience\n");
    /* Without the signing key in the verify set: unknown kid. */
    const char *only_rs[] = { rs_pub };
    out = fmemopen(buf, sizeof buf, "w");
    ck_assert_int_eq(tool_verify("person", "ssp", person, only_rs, 1, out), 3);
    fclose(out);
    ck_assert_str_eq(buf, "refused unknown_kid\n");
    free(jwks), free(person), free(api);
}
END_TEST

START_TEST(test_tool_rs256_and_tampering)
{
    ck_assert_int_eq(tool_mint(rs_priv, tmpdir, NULL, 0), 0);
    char *api = path_in("api.jwt");
    size_t len;
    char *tok = tu_read_file(api, &len);
    const char *keys[] = { rs_pub };
    char buf[4096] = "";
    FILE *out = fmemopen(buf, sizeof buf, "w");
    ck_assert_int_eq(tool_verify("api", "api", api, keys, 1, out), 0);
    fclose(out);
    tok[len / 2] = tok[len / 2] == 'x' ? 'y' : 'x';
    FILE *f = fopen(api, "w");
    fputs(tok, f);
    fclose(f);
    out = fmemopen(buf, sizeof buf, "w");
    ck_assert_int_eq(tool_verify("api", "api", api, keys, 1, out), 3);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(buf, "refused "));
    free(tok), free(api);
    /* A signing key that is not a private key: mint fails cleanly. */
    ck_assert_int_eq(tool_mint(rs_pub, tmpdir, NULL, 0), 2);
}
END_TEST

static int usage(void)
{
    fprintf(stderr, "usage: unit_auth_test_jwt_interop mint SIGNING.pem OUTDIR [PUB.pem...]\n"
                    "       unit_auth_test_jwt_interop verify person|api AUD|- TOKEN KEY.pem...\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "mint") == 0) {
        if (argc < 4)
            return usage();
        return tool_mint(argv[2], argv[3], (const char *const *)argv + 4, (size_t)(argc - 4));
    }
    if (argc >= 2 && strcmp(argv[1], "verify") == 0) {
        if (argc < 6)
            return usage();
        return tool_verify(argv[2], argv[3], argv[4], (const char *const *)argv + 5,
                           (size_t)(argc - 5), stdout);
    }
    if (argc > 1)
        return usage();

    if (!mkdtemp(tmpdir))
        tu_die("mkdtemp");
    EVP_PKEY *es = tu_gen_ec("P-256"), *rs = tu_gen_rsa(2048);
    es_priv = tu_write_pem(es, tmpdir, "es.key", 1);
    es_pub = tu_write_pem(es, tmpdir, "es.pub", 0);
    rs_priv = tu_write_pem(rs, tmpdir, "rs.key", 1);
    rs_pub = tu_write_pem(rs, tmpdir, "rs.pub", 0);
    Suite *s = suite_create("jwt_interop_tool");
    TCase *tc = tcase_create("tool");
    tcase_add_test(tc, test_tool_mint_then_verify);
    tcase_add_test(tc, test_tool_rs256_and_tampering);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", tmpdir) >= 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    free(cmd);
    EVP_PKEY_free(es);
    EVP_PKEY_free(rs);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
