/* tests/unit/auth/test_jwt_cache.c — auth/jwt_cache: hits without signature work, re-checks
 * per route, expiry with the token, LRU bound, eviction by jti and subject, the epoch guard
 * against a revocation racing an insert, key-set reloads emptying the cache, and the request
 * path's find (borrowed views, fingerprint from the key, per-entry caller data).
 * With ONEGATE_JWT_BENCH=1 prints the cost of a cache hit and a miss instead.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwt_cache.h"
#include "auth/jwt_keys.h"
#include "auth/jwt_mint.h"
#include "auth/jwt_verify.h"
#include "jwt_test_util.h"

#define ISS "https://onegate.test"
#define AUD "api"
#define NOW ((int64_t)1700000000)

static char tmpdir[] = "/tmp/onegate-jwtc-test-XXXXXX";
static char *ec_priv, *ec2_priv, *ec_pub;

static struct auth_jwt_keyset *keyset(const char *signing, const char *pub)
{
    char err[256];
    const char *v[1] = { pub };
    struct auth_jwt_keyset *ks = auth_jwt_keyset_load(signing, v, pub ? 1 : 0, err, sizeof err);
    ck_assert_msg(ks != NULL, "%s", err);
    return ks;
}

static struct auth_jwt_verify_opts opts_at(int64_t now)
{
    struct auth_jwt_verify_opts o;
    auth_jwt_verify_opts_init(&o);
    o.issuer = ISS;
    o.audience = AUD;
    o.expect = AUTH_JWT_SUB_API_ACCOUNT;
    o.now_s = now;
    return o;
}

static struct auth_jwt_token api_token(const struct auth_jwt_keyset *ks, const char *client,
                                       int64_t now)
{
    struct auth_jwt_mint_opts mo = { .issuer = ISS, .audience = AUD, .now_s = now };
    struct auth_jwt_api_account a = { .client_id = client, .scope = "read" };
    struct auth_jwt_token t;
    char err[256];
    ck_assert_msg(auth_jwt_mint_api(ks, &mo, &a, &t, err, sizeof err) == 0, "%s", err);
    return t;
}

/* Verifies through the cache at NOW; returns rc, sets *hit. */
static int cverify(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks,
                   const struct auth_jwt_token *t, int64_t now, bool *hit)
{
    struct auth_jwt_verify_opts o = opts_at(now);
    struct auth_jwt_claims *cl = NULL;
    char err[256];
    int rc = auth_jwt_cache_verify(c, ks, &o, t->jwt, t->len, &cl, hit, err, sizeof err);
    if (rc == 0) {
        ck_assert_ptr_nonnull(cl);
        ck_assert_str_eq(cl->iss, ISS);
    } else {
        ck_assert_ptr_null(cl);
    }
    auth_jwt_claims_unref(cl);
    return rc;
}

static size_t entries(const struct auth_jwt_cache *c)
{
    struct auth_jwt_cache_stats st;
    auth_jwt_cache_get_stats(c, &st);
    return st.entries;
}

START_TEST(test_cache_hit_after_first_verify)
{
    struct auth_jwt_keyset *ks = keyset(ec_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new(16);
    struct auth_jwt_token t = api_token(ks, "cli-1", NOW);
    bool hit = true;
    ck_assert_int_eq(cverify(c, ks, &t, NOW, &hit), 0);
    ck_assert(!hit);
    ck_assert_int_eq(cverify(c, ks, &t, NOW + 1, &hit), 0);
    ck_assert(hit);
    struct auth_jwt_cache_stats st;
    auth_jwt_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.hits, 1);
    ck_assert_uint_eq(st.misses, 1);
    ck_assert_uint_eq(st.entries, 1);
    /* The hit hands out a reference that outlives an eviction. */
    struct auth_jwt_verify_opts o = opts_at(NOW);
    struct auth_jwt_claims *cl = NULL;
    char err[128];
    ck_assert_int_eq(auth_jwt_cache_lookup(c, ks, &o, t.jwt, t.len, &cl, err, sizeof err), 0);
    ck_assert_ptr_nonnull(cl);
    ck_assert_uint_eq(auth_jwt_cache_evict_subject(c, "cli-1"), 1);
    ck_assert_str_eq(cl->client_id, "cli-1");
    auth_jwt_claims_unref(cl);
    auth_jwt_token_clear(&t);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_cache_find_views_and_aux)
{
    /* The request path's form: borrowed claims, the fingerprint from the key (equal to
     * auth_jwt_fingerprint of the token), and the entry's aux area, zeroed at insert and kept
     * from hit to hit until the entry goes. */
    struct auth_jwt_keyset *ks = keyset(ec_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new_aux(16, 40);
    struct auth_jwt_token t = api_token(ks, "cli-1", NOW), u = api_token(ks, "cli-2", NOW);
    struct auth_jwt_verify_opts o = opts_at(NOW);
    struct auth_jwt_cache_hit h;
    char err[128], fp[AUTH_JWT_FP_LEN + 1];
    bool hit;
    ck_assert_int_eq(auth_jwt_cache_find(c, ks, &o, t.jwt, t.len, &h, err, sizeof err), 0);
    ck_assert_ptr_null(h.claims);                       /* miss */
    ck_assert_ptr_null(h.aux);
    ck_assert_int_eq(cverify(c, ks, &t, NOW, &hit), 0);
    ck_assert_int_eq(cverify(c, ks, &u, NOW, &hit), 0);
    ck_assert_int_eq(auth_jwt_cache_find(c, ks, &o, t.jwt, t.len, &h, err, sizeof err), 0);
    ck_assert_ptr_nonnull(h.claims);
    ck_assert_str_eq(h.claims->client_id, "cli-1");
    auth_jwt_fingerprint(t.jwt, t.len, fp);
    ck_assert_str_eq(h.fp, fp);
    ck_assert_uint_eq(strlen(h.fp), AUTH_JWT_FP_LEN);
    ck_assert_ptr_nonnull(h.aux);
    ck_assert_uint_eq((uintptr_t)h.aux % _Alignof(max_align_t), 0);
    static const unsigned char zero[40];
    ck_assert_mem_eq(h.aux, zero, sizeof zero);
    memcpy(h.aux, "principal of cli-1", 19);
    /* the other token's entry has its own area */
    ck_assert_int_eq(auth_jwt_cache_find(c, ks, &o, u.jwt, u.len, &h, err, sizeof err), 0);
    ck_assert_str_eq(h.claims->client_id, "cli-2");
    ck_assert_mem_eq(h.aux, zero, sizeof zero);
    ck_assert_int_eq(auth_jwt_cache_find(c, ks, &o, t.jwt, t.len, &h, err, sizeof err), 0);
    ck_assert_str_eq(h.aux, "principal of cli-1");
    /* a hit is re-checked like lookup's: another route's audience refuses it */
    struct auth_jwt_verify_opts other = o;
    other.audience = "elsewhere";
    ck_assert_int_eq(auth_jwt_cache_find(c, ks, &other, t.jwt, t.len, &h, err, sizeof err),
                     AUTH_JWT_E_AUDIENCE);
    ck_assert_ptr_null(h.claims);
    /* evicted and verified again: a fresh, zeroed area */
    ck_assert_uint_eq(auth_jwt_cache_evict_subject(c, "cli-1"), 1);
    ck_assert_int_eq(cverify(c, ks, &t, NOW, &hit), 0);
    ck_assert(!hit);
    ck_assert_int_eq(auth_jwt_cache_find(c, ks, &o, t.jwt, t.len, &h, err, sizeof err), 0);
    ck_assert_mem_eq(h.aux, zero, sizeof zero);
    /* expired: refused and dropped, as by lookup */
    struct auth_jwt_verify_opts late = opts_at(NOW + 100000);
    ck_assert_int_eq(auth_jwt_cache_find(c, ks, &late, t.jwt, t.len, &h, err, sizeof err),
                     AUTH_JWT_E_EXPIRED);
    ck_assert_uint_eq(entries(c), 1);
    /* a cache without aux hands out no area */
    struct auth_jwt_cache *plain = auth_jwt_cache_new(4);
    ck_assert_int_eq(cverify(plain, ks, &u, NOW, &hit), 0);
    ck_assert_int_eq(auth_jwt_cache_find(plain, ks, &o, u.jwt, u.len, &h, err, sizeof err), 0);
    ck_assert_ptr_nonnull(h.claims);
    ck_assert_ptr_null(h.aux);
    auth_jwt_cache_free(plain);
    auth_jwt_token_clear(&t);
    auth_jwt_token_clear(&u);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_cache_never_stores_refused_tokens)
{
    struct auth_jwt_keyset *ks = keyset(ec_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new(16);
    struct auth_jwt_token t = api_token(ks, "cli-1", NOW);
    t.jwt[t.len - 3] = t.jwt[t.len - 3] == 'A' ? 'B' : 'A';   /* bad signature */
    bool hit;
    ck_assert_int_eq(cverify(c, ks, &t, NOW, &hit), AUTH_JWT_E_SIGNATURE);
    ck_assert_int_eq(cverify(c, ks, &t, NOW, &hit), AUTH_JWT_E_SIGNATURE);
    ck_assert(!hit);
    ck_assert_uint_eq(entries(c), 0);
    /* Size bound applies before hashing on the cached path too. */
    struct auth_jwt_verify_opts o = opts_at(NOW);
    o.max_token_bytes = 64;
    struct auth_jwt_claims *cl = NULL;
    char err[128];
    ck_assert_int_eq(auth_jwt_cache_lookup(c, ks, &o, t.jwt, t.len, &cl, err, sizeof err),
                     AUTH_JWT_E_TOO_LARGE);
    auth_jwt_token_clear(&t);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_cache_hit_rechecks_route_expectations)
{
    struct auth_jwt_keyset *ks = keyset(ec_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new(16);
    struct auth_jwt_token t = api_token(ks, "cli-1", NOW);
    bool hit;
    ck_assert_int_eq(cverify(c, ks, &t, NOW, &hit), 0);
    struct auth_jwt_verify_opts o = opts_at(NOW);
    struct auth_jwt_claims *cl = NULL;
    char err[128];
    o.expect = AUTH_JWT_SUB_PERSON;          /* an API token on a person route */
    ck_assert_int_eq(auth_jwt_cache_lookup(c, ks, &o, t.jwt, t.len, &cl, err, sizeof err),
                     AUTH_JWT_E_SUB_TYPE);
    o = opts_at(NOW);
    o.audience = "other";
    ck_assert_int_eq(auth_jwt_cache_lookup(c, ks, &o, t.jwt, t.len, &cl, err, sizeof err),
                     AUTH_JWT_E_AUDIENCE);
    o = opts_at(NOW);
    o.issuer = "https://elsewhere";
    ck_assert_int_eq(auth_jwt_cache_lookup(c, ks, &o, t.jwt, t.len, &cl, err, sizeof err),
                     AUTH_JWT_E_ISSUER);
    ck_assert_ptr_null(cl);
    ck_assert_uint_eq(entries(c), 1);        /* still valid for its own route */
    ck_assert_int_eq(cverify(c, ks, &t, NOW, &hit), 0);
    ck_assert(hit);
    auth_jwt_token_clear(&t);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_cache_entry_expires_with_token)
{
    struct auth_jwt_keyset *ks = keyset(ec_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new(16);
    struct auth_jwt_token t = api_token(ks, "cli-1", NOW);   /* exp = NOW + 300 */
    bool hit;
    ck_assert_int_eq(cverify(c, ks, &t, NOW, &hit), 0);
    ck_assert_int_eq(cverify(c, ks, &t, t.exp + 29, &hit), 0);  /* inside leeway */
    ck_assert(hit);
    ck_assert_int_eq(cverify(c, ks, &t, t.exp + 30, &hit), AUTH_JWT_E_EXPIRED);
    ck_assert(!hit);
    ck_assert_uint_eq(entries(c), 0);
    struct auth_jwt_cache_stats st;
    auth_jwt_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.evictions_expired, 1);
    ck_assert_int_eq(cverify(c, ks, &t, t.exp + 30, &hit), AUTH_JWT_E_EXPIRED);
    ck_assert_uint_eq(entries(c), 0);
    auth_jwt_token_clear(&t);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_cache_lru_bound)
{
    struct auth_jwt_keyset *ks = keyset(ec_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new(3);
    struct auth_jwt_token t[4];
    bool hit;
    for (int i = 0; i < 3; i++) {
        t[i] = api_token(ks, "cli", NOW);
        ck_assert_int_eq(cverify(c, ks, &t[i], NOW, &hit), 0);
    }
    ck_assert_int_eq(cverify(c, ks, &t[0], NOW, &hit), 0);   /* 0 becomes most recent */
    ck_assert(hit);
    t[3] = api_token(ks, "cli", NOW);
    ck_assert_int_eq(cverify(c, ks, &t[3], NOW, &hit), 0);   /* pushes out 1 (LRU) */
    ck_assert_uint_eq(entries(c), 3);
    ck_assert_int_eq(cverify(c, ks, &t[0], NOW, &hit), 0);
    ck_assert(hit);
    ck_assert_int_eq(cverify(c, ks, &t[2], NOW, &hit), 0);
    ck_assert(hit);
    ck_assert_int_eq(cverify(c, ks, &t[1], NOW, &hit), 0);
    ck_assert(!hit);                                          /* was evicted, re-verified */
    struct auth_jwt_cache_stats st;
    auth_jwt_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.evictions_lru, 2);
    ck_assert_uint_eq(st.entries, 3);
    for (int i = 0; i < 4; i++)
        auth_jwt_token_clear(&t[i]);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_cache_evict_by_jti_and_subject)
{
    struct auth_jwt_keyset *ks = keyset(ec_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new(16);
    struct auth_jwt_token a1 = api_token(ks, "alice", NOW), a2 = api_token(ks, "alice", NOW);
    struct auth_jwt_token b = api_token(ks, "bob", NOW);
    bool hit;
    ck_assert_int_eq(cverify(c, ks, &a1, NOW, &hit), 0);
    ck_assert_int_eq(cverify(c, ks, &a2, NOW, &hit), 0);
    ck_assert_int_eq(cverify(c, ks, &b, NOW, &hit), 0);
    ck_assert_uint_eq(entries(c), 3);
    ck_assert_uint_eq(auth_jwt_cache_evict_jti(c, "no-such-jti"), 0);
    ck_assert_uint_eq(auth_jwt_cache_evict_jti(c, b.jti), 1);
    ck_assert_uint_eq(entries(c), 2);
    struct auth_jwt_verify_opts o = opts_at(NOW);
    struct auth_jwt_claims *cl = NULL;
    char err[128];
    ck_assert_int_eq(auth_jwt_cache_lookup(c, ks, &o, b.jwt, b.len, &cl, err, sizeof err), 0);
    ck_assert_ptr_null(cl);                                   /* miss: back to full checks */
    ck_assert_uint_eq(auth_jwt_cache_evict_subject(c, "alice"), 2);
    ck_assert_uint_eq(entries(c), 0);
    ck_assert_int_eq(auth_jwt_cache_lookup(c, ks, &o, a1.jwt, a1.len, &cl, err, sizeof err), 0);
    ck_assert_ptr_null(cl);
    auth_jwt_token_clear(&a1);
    auth_jwt_token_clear(&a2);
    auth_jwt_token_clear(&b);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_cache_insert_racing_revocation_is_dropped)
{
    struct auth_jwt_keyset *ks = keyset(ec_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new(16);
    struct auth_jwt_token t = api_token(ks, "cli-1", NOW);
    struct auth_jwt_verify_opts o = opts_at(NOW);
    struct auth_jwt_claims *cl = NULL;
    char err[128];
    ck_assert_int_eq(auth_jwt_cache_lookup(c, ks, &o, t.jwt, t.len, &cl, err, sizeof err), 0);
    ck_assert_ptr_null(cl);
    uint64_t epoch = auth_jwt_cache_epoch(c);
    ck_assert_int_eq(auth_jwt_verify(ks, &o, t.jwt, t.len, &cl, err, sizeof err), 0);
    /* ... the revocation check is in flight when the revocation of this jti arrives ... */
    auth_jwt_cache_evict_jti(c, t.jti);
    ck_assert_int_eq(auth_jwt_cache_insert(c, ks, t.jwt, t.len, cl, epoch), 0);
    ck_assert_uint_eq(entries(c), 0);
    /* With a fresh epoch the insert lands. */
    ck_assert_int_eq(auth_jwt_cache_insert(c, ks, t.jwt, t.len, cl, auth_jwt_cache_epoch(c)), 0);
    ck_assert_uint_eq(entries(c), 1);
    /* Inserting the same token twice keeps one entry. */
    ck_assert_int_eq(auth_jwt_cache_insert(c, ks, t.jwt, t.len, cl, auth_jwt_cache_epoch(c)), 0);
    ck_assert_uint_eq(entries(c), 1);
    auth_jwt_claims_unref(cl);
    auth_jwt_token_clear(&t);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(ks);
}
END_TEST

START_TEST(test_cache_emptied_when_keys_reload)
{
    /* Old key signs; after the reload it is retired: its cached tokens must not survive. */
    struct auth_jwt_keyset *before = keyset(ec_priv, NULL);
    struct auth_jwt_keyset *after = keyset(ec2_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new(16);
    struct auth_jwt_token t = api_token(before, "cli-1", NOW);
    bool hit;
    ck_assert_int_eq(cverify(c, before, &t, NOW, &hit), 0);
    ck_assert_int_eq(cverify(c, before, &t, NOW, &hit), 0);
    ck_assert(hit);
    ck_assert_int_eq(cverify(c, after, &t, NOW, &hit), AUTH_JWT_E_KID);
    ck_assert(!hit);
    ck_assert_uint_eq(entries(c), 0);
    /* A reload that still publishes the key re-verifies once, then hits again. */
    struct auth_jwt_keyset *both = keyset(ec2_priv, ec_pub);
    ck_assert_int_eq(cverify(c, both, &t, NOW, &hit), 0);
    ck_assert(!hit);
    ck_assert_int_eq(cverify(c, both, &t, NOW, &hit), 0);
    ck_assert(hit);
    auth_jwt_cache_clear(c);
    ck_assert_uint_eq(entries(c), 0);
    auth_jwt_token_clear(&t);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(before);
    auth_jwt_keyset_unref(after);
    auth_jwt_keyset_unref(both);
}
END_TEST

START_TEST(test_cache_many_entries_stay_consistent)
{
    /* Hash chains under load: 2000 distinct tokens through a 500-entry cache. */
    struct auth_jwt_keyset *ks = keyset(ec_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new(500);
    enum { N = 2000 };
    static struct auth_jwt_token t[N];
    bool hit;
    for (int i = 0; i < N; i++) {
        t[i] = api_token(ks, i % 2 ? "odd" : "even", NOW);
        ck_assert_int_eq(cverify(c, ks, &t[i], NOW, &hit), 0);
    }
    ck_assert_uint_eq(entries(c), 500);
    for (int i = N - 500; i < N; i++) {
        ck_assert_int_eq(cverify(c, ks, &t[i], NOW, &hit), 0);
        ck_assert(hit);
    }
    ck_assert_uint_eq(auth_jwt_cache_evict_subject(c, "odd"), 250);
    ck_assert_uint_eq(entries(c), 250);
    for (int i = 0; i < N; i++)
        auth_jwt_token_clear(&t[i]);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(ks);
}
END_TEST

/* ---- benchmark ---- */

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

static void run_bench(void);

START_TEST(test_bench)
{
    run_bench();
}
END_TEST

static void run_bench(void)
{
    struct auth_jwt_keyset *ks = keyset(ec_priv, NULL);
    struct auth_jwt_cache *c = auth_jwt_cache_new(10000);
    enum { W = 5000 };
    static struct auth_jwt_token t[W];
    for (int i = 0; i < W; i++)
        t[i] = api_token(ks, "cli", 0);
    struct auth_jwt_verify_opts o = opts_at(0);
    struct auth_jwt_claims *cl;
    char err[128];
    bool hit;
    for (int i = 0; i < W; i++) {
        auth_jwt_cache_verify(c, ks, &o, t[i].jwt, t[i].len, &cl, &hit, err, sizeof err);
        auth_jwt_claims_unref(cl);
    }
    double r[21];
    for (int k = 0; k < 21; k++) {
        double t0 = now_us();
        for (int i = 0; i < W; i++) {
            auth_jwt_cache_verify(c, ks, &o, t[i].jwt, t[i].len, &cl, &hit, err, sizeof err);
            auth_jwt_claims_unref(cl);
        }
        r[k] = (now_us() - t0) / W;
    }
    qsort(r, 21, sizeof *r, cmp_d);
    printf("cache hit (%d distinct %zu-byte ES256 API tokens cached) median %.3f us/op "
           "(min %.3f, max %.3f)\n", W, t[0].len, r[10], r[0], r[20]);
    for (int i = 0; i < W; i++)
        auth_jwt_token_clear(&t[i]);
    auth_jwt_cache_free(c);
    auth_jwt_keyset_unref(ks);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        tu_die("mkdtemp");
    EVP_PKEY *k1 = tu_gen_ec("P-256"), *k2 = tu_gen_ec("P-256");
    ec_priv = tu_write_pem(k1, tmpdir, "ec.key", 1);
    ec_pub = tu_write_pem(k1, tmpdir, "ec.pub", 0);
    ec2_priv = tu_write_pem(k2, tmpdir, "ec2.key", 1);
    int failed = 0;
    {
        Suite *s = suite_create("jwt_cache");
        TCase *tc = tcase_create("cache");
        if (getenv("ONEGATE_JWT_BENCH")) {
            tcase_set_timeout(tc, 600);
            tcase_add_test(tc, test_bench);
        } else {
        tcase_add_test(tc, test_cache_hit_after_first_verify);
        tcase_add_test(tc, test_cache_find_views_and_aux);
        tcase_add_test(tc, test_cache_never_stores_refused_tokens);
        tcase_add_test(tc, test_cache_hit_rechecks_route_expectations);
        tcase_add_test(tc, test_cache_entry_expires_with_token);
        tcase_add_test(tc, test_cache_lru_bound);
        tcase_add_test(tc, test_cache_evict_by_jti_and_subject);
        tcase_add_test(tc, test_cache_insert_racing_revocation_is_dropped);
        tcase_add_test(tc, test_cache_emptied_when_keys_reload);
        tcase_add_test(tc, test_cache_many_entries_stay_consistent);
        }
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
    }
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", tmpdir) >= 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    free(cmd);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
