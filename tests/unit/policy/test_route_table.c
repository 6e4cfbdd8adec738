/* tests/unit/policy/test_route_table.c — host + longest-prefix route lookup (policy/route_table.c).
 *
 * Hand-written cases for each documented rule, then a few hundred generated routes checked
 * against a naive reference implementation of the same rules.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/route_table.h"

static struct pol_route_table *build(const struct pol_route_spec *s, size_t n)
{
    size_t dup = 12345;
    struct pol_route_table *t = pol_route_table_build(s, n, &dup);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Returns the id found for host/path, or -1 when nothing matches. */
static long find(const struct pol_route_table *t, const char *host, const char *path)
{
    size_t id = 999999;
    int rc = pol_route_table_lookup(t, host, host ? strlen(host) : 0, path, strlen(path), &id);
    if (rc != 0) {
        ck_assert_int_eq(rc, -1);
        return -1;
    }
    return (long)id;
}

START_TEST(longest_prefix_wins)
{
    struct pol_route_spec s[] = {
        { NULL, "/", 0 },
        { NULL, "/api/", 1 },
        { NULL, "/api/v1/", 2 },
        { NULL, "/api/v1/users", 3 },
    };
    struct pol_route_table *t = build(s, 4);
    ck_assert_int_eq(find(t, NULL, "/"), 0);
    ck_assert_int_eq(find(t, NULL, "/index.html"), 0);
    ck_assert_int_eq(find(t, NULL, "/api"), 0);         /* "/api/" needs the slash */
    ck_assert_int_eq(find(t, NULL, "/api/"), 1);
    ck_assert_int_eq(find(t, NULL, "/api/x"), 1);
    ck_assert_int_eq(find(t, NULL, "/api/v1/"), 2);
    ck_assert_int_eq(find(t, NULL, "/api/v1/orders/7"), 2);
    ck_assert_int_eq(find(t, NULL, "/api/v1/users"), 3);
    ck_assert_int_eq(find(t, NULL, "/api/v1/users/7"), 3);
    ck_assert_int_eq(find(t, NULL, "/api/v1/usersx"), 2);
    pol_route_table_free(t);
}
END_TEST

START_TEST(prefix_boundary)
{
    struct pol_route_spec s[] = {
        { NULL, "/a", 1 },
        { NULL, "/a/", 2 },
    };
    struct pol_route_table *t = build(s, 1);
    ck_assert_int_eq(find(t, NULL, "/a"), 1);
    ck_assert_int_eq(find(t, NULL, "/a/"), 1);
    ck_assert_int_eq(find(t, NULL, "/a/b"), 1);
    ck_assert_int_eq(find(t, NULL, "/ab"), -1);
    ck_assert_int_eq(find(t, NULL, "/a.b"), -1);
    ck_assert_int_eq(find(t, NULL, "/"), -1);
    pol_route_table_free(t);

    t = build(s, 2);
    ck_assert_int_eq(find(t, NULL, "/a"), 1);
    ck_assert_int_eq(find(t, NULL, "/a/"), 2);
    ck_assert_int_eq(find(t, NULL, "/a/b"), 2);
    ck_assert_int_eq(find(t, NULL, "/ab"), -1);
    pol_route_table_free(t);

    t = build(&s[1], 1);                                /* only "/a/" */
    ck_assert_int_eq(find(t, NULL, "/a"), -1);
    ck_assert_int_eq(find(t, NULL, "/a/"), 2);
    ck_assert_int_eq(find(t, NULL, "/a/b/c"), 2);
    pol_route_table_free(t);
}
END_TEST

START_TEST(query_stops_prefix)
{
    struct pol_route_spec s[] = {
        { NULL, "/", 0 },
        { NULL, "/a", 1 },
        { NULL, "/a/b", 2 },
    };
    struct pol_route_table *t = build(s, 3);
    ck_assert_int_eq(find(t, NULL, "/a?x=1"), 1);
    ck_assert_int_eq(find(t, NULL, "/a?/b"), 1);         /* the query is not path */
    ck_assert_int_eq(find(t, NULL, "/ab?x"), 0);
    ck_assert_int_eq(find(t, NULL, "/a/b?q=/c"), 2);
    ck_assert_int_eq(find(t, NULL, "/?a/b"), 0);
    pol_route_table_free(t);
}
END_TEST

START_TEST(path_not_nul_terminated)
{
    struct pol_route_spec s[] = { { NULL, "/a", 1 }, { NULL, "/ab", 2 } };
    struct pol_route_table *t = build(s, 2);
    const char buf[] = "/abc";
    size_t id = 0;
    ck_assert_int_eq(pol_route_table_lookup(t, NULL, 0, buf, 2, &id), 0);
    ck_assert_uint_eq(id, 1);
    ck_assert_int_eq(pol_route_table_lookup(t, NULL, 0, buf, 3, &id), 0);
    ck_assert_uint_eq(id, 2);
    ck_assert_int_eq(pol_route_table_lookup(t, NULL, 0, buf, 4, &id), -1);
    const char host[] = "a.example:80garbage";
    ck_assert_int_eq(pol_route_table_lookup(t, host, 9, buf, 2, &id), 0);
    ck_assert_uint_eq(id, 1);
    pol_route_table_free(t);
}
END_TEST

START_TEST(host_beats_any_host)
{
    struct pol_route_spec s[] = {
        { NULL, "/", 0 },
        { NULL, "/ssp/long/prefix/", 1 },
        { "ssp.localhost", "/", 2 },
        { "other.example", "/x/", 3 },
    };
    struct pol_route_table *t = build(s, 4);
    /* a matching host route wins even against a longer any-host prefix */
    ck_assert_int_eq(find(t, "ssp.localhost", "/ssp/long/prefix/z"), 2);
    ck_assert_int_eq(find(t, "ssp.localhost", "/"), 2);
    ck_assert_int_eq(find(t, "elsewhere", "/ssp/long/prefix/z"), 1);
    ck_assert_int_eq(find(t, NULL, "/q"), 0);
    /* host group without a match falls back to any-host routes */
    ck_assert_int_eq(find(t, "other.example", "/x/1"), 3);
    ck_assert_int_eq(find(t, "other.example", "/y"), 0);
    /* not a suffix or prefix match of host names */
    ck_assert_int_eq(find(t, "ssp.localhost.evil", "/ssp/long/prefix/z"), 1);
    ck_assert_int_eq(find(t, "sp.localhost", "/ssp/long/prefix/z"), 1);
    /* the absolute (trailing-dot) form of a name is the same host: it must not fall back to
     * the any-host routes (a public one would open what the host's own routes protect) */
    ck_assert_int_eq(find(t, "ssp.localhost.", "/ssp/long/prefix/z"), 2);
    ck_assert_int_eq(find(t, "SSP.localhost.:8080", "/ssp/long/prefix/z"), 2);
    ck_assert_int_eq(find(t, "ssp.localhost..", "/ssp/long/prefix/z"), 1);
    pol_route_table_free(t);
}
END_TEST

START_TEST(host_port_and_case)
{
    struct pol_route_spec s[] = {
        { "SSP.LocalHost", "/", 2 },
        { "[::1]", "/", 3 },
        { "10.0.0.1", "/", 4 },
    };
    struct pol_route_table *t = build(s, 3);
    ck_assert_int_eq(find(t, "ssp.localhost", "/a"), 2);
    ck_assert_int_eq(find(t, "SSP.LOCALHOST:8443", "/a"), 2);
    ck_assert_int_eq(find(t, "ssp.localhost:", "/a"), 2);
    ck_assert_int_eq(find(t, "[::1]:8080", "/a"), 3);
    ck_assert_int_eq(find(t, "[::1]", "/a"), 3);
    ck_assert_int_eq(find(t, "10.0.0.1:80", "/a"), 4);
    ck_assert_int_eq(find(t, "10.0.0.2:80", "/a"), -1);
    ck_assert_int_eq(find(t, "", "/a"), -1);
    ck_assert_int_eq(find(t, NULL, "/a"), -1);
    pol_route_table_free(t);
}
END_TEST

START_TEST(duplicates_detected)
{
    struct pol_route_spec s[] = {
        { NULL, "/a", 0 },
        { "h.example", "/a", 1 },
        { NULL, "/b", 2 },
        { "H.Example", "/a", 3 },       /* same as 1: host compare is case-insensitive */
        { NULL, "/a", 4 },              /* same as 0 */
    };
    size_t dup = 0;
    errno = 0;
    ck_assert_ptr_null(pol_route_table_build(s, 5, &dup));
    ck_assert_int_eq(errno, EEXIST);
    ck_assert_uint_eq(dup, 3);          /* the later spec of the first pair in spec order */

    ck_assert_ptr_null(pol_route_table_build(s, 5, NULL));

    dup = 0;
    ck_assert_ptr_null(pol_route_table_build((struct pol_route_spec[]){ s[0], s[2], s[4] }, 3,
                                             &dup));
    ck_assert_uint_eq(dup, 2);

    /* "/a" and "/a/" are different routes; same prefix on different hosts too */
    struct pol_route_spec ok[] = { { NULL, "/a", 0 }, { NULL, "/a/", 1 }, { "x", "/a", 2 } };
    struct pol_route_table *t = build(ok, 3);
    pol_route_table_free(t);
}
END_TEST

START_TEST(invalid_specs)
{
    size_t dup = 0;
    struct pol_route_spec bad[] = { { NULL, "/a", 0 }, { NULL, "a", 1 } };
    errno = 0;
    ck_assert_ptr_null(pol_route_table_build(bad, 2, &dup));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_uint_eq(dup, SIZE_MAX);
}
END_TEST

START_TEST(no_match_and_empty)
{
    struct pol_route_table *t = build(NULL, 0);
    ck_assert_int_eq(find(t, "x", "/"), -1);
    pol_route_table_free(t);

    struct pol_route_spec s[] = { { NULL, "/only/", 0 } };
    t = build(s, 1);
    ck_assert_int_eq(find(t, NULL, "/"), -1);
    ck_assert_int_eq(find(t, NULL, ""), -1);
    ck_assert_int_eq(find(t, NULL, "*"), -1);
    ck_assert_int_eq(find(t, NULL, "only/"), -1);
    ck_assert_int_eq(find(t, NULL, "/onl"), -1);
    ck_assert_int_eq(find(t, NULL, "/only"), -1);
    ck_assert_int_eq(find(t, NULL, "/only/"), 0);
    pol_route_table_free(t);
    pol_route_table_free(NULL);
}
END_TEST

START_TEST(many_slashes_fallback)
{
    /* a path with more '/' than the lookup remembers still finds the longest prefix */
    char prefix[400], path[600];
    size_t k = 0;
    for (int i = 0; i < 150; i++) {
        prefix[k++] = '/';
        prefix[k++] = 'a';
    }
    prefix[k] = '\0';
    snprintf(path, sizeof(path), "%s/b/c/d", prefix);
    struct pol_route_spec s[] = { { NULL, "/", 0 }, { NULL, prefix, 1 }, { NULL, "/a/a/", 2 } };
    struct pol_route_table *t = build(s, 3);
    ck_assert_int_eq(find(t, NULL, path), 1);
    ck_assert_int_eq(find(t, NULL, prefix), 1);
    path[k - 1] = 'z';                  /* "/a/a/.../z/b/c/d" */
    ck_assert_int_eq(find(t, NULL, path), 2);
    pol_route_table_free(t);
}
END_TEST

/* ---- generated routes against a naive reference ---- */

static const char *const words[] = { "a", "ab", "api", "v1", "v2", "users", "u", "x", "static",
                                     "img", "1", "b" };
#define NWORDS (sizeof(words) / sizeof(words[0]))
static const char *const hosts[] = { NULL, "one.example", "two.example", "Three.Example" };

static void random_path(char *buf, size_t cap, unsigned *seed, bool allow_query)
{
    size_t n = 0;
    int segs = 1 + (int)(rand_r(seed) % 5);
    for (int i = 0; i < segs; i++)
        n += (size_t)snprintf(buf + n, cap - n, "/%s", words[rand_r(seed) % NWORDS]);
    if (rand_r(seed) % 3 == 0)
        n += (size_t)snprintf(buf + n, cap - n, "/");
    if (allow_query && rand_r(seed) % 5 == 0)
        snprintf(buf + n, cap - n, "?q=/%s", words[rand_r(seed) % NWORDS]);
}

static bool ref_prefix(const char *prefix, const char *path)
{
    size_t pl = strlen(prefix), n = strcspn(path, "?");
    if (pl > n || strncmp(prefix, path, pl) != 0)
        return false;
    return pl == n || prefix[pl - 1] == '/' || path[pl] == '/';
}

static long ref_find(const struct pol_route_spec *s, size_t n, const char *host, const char *path)
{
    for (int pass = 0; pass < 2; pass++) {
        long best = -1;
        size_t bestlen = 0;
        for (size_t i = 0; i < n; i++) {
            bool host_ok = pass == 0 ? (host && s[i].host && strcasecmp(host, s[i].host) == 0)
                                     : s[i].host == NULL;
            if (host_ok && ref_prefix(s[i].path_prefix, path) &&
                (best < 0 || strlen(s[i].path_prefix) > bestlen)) {
                best = (long)s[i].id;
                bestlen = strlen(s[i].path_prefix);
            }
        }
        if (best >= 0)
            return best;
    }
    return -1;
}

START_TEST(generated_against_reference)
{
    enum { N = 400, LOOKUPS = 20000 };
    static char prefixes[N][96];
    static struct pol_route_spec s[N];
    unsigned seed = 42;
    size_t n = 0;
    while (n < N) {
        random_path(prefixes[n], sizeof(prefixes[n]), &seed, false);
        const char *h = hosts[rand_r(&seed) % 4];
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(prefixes[i], prefixes[n]) == 0 &&
                  ((!h && !s[i].host) || (h && s[i].host && strcasecmp(h, s[i].host) == 0));
        if (dup)
            continue;
        s[n] = (struct pol_route_spec){ h, prefixes[n], n * 7 + 3 };
        n++;
    }
    struct pol_route_table *t = build(s, N);
    int matched = 0;
    for (int i = 0; i < LOOKUPS; i++) {
        char path[160];
        random_path(path, sizeof(path), &seed, true);
        const char *h = hosts[rand_r(&seed) % 4];
        char hbuf[64] = "";
        if (h) {
            snprintf(hbuf, sizeof(hbuf), "%s%s", h, rand_r(&seed) % 2 ? ":8080" : "");
            if (rand_r(&seed) % 2)
                for (char *c = hbuf; *c; c++)
                    *c = (char)((*c >= 'a' && *c <= 'z') ? *c - 32 : *c);
        }
        long want = ref_find(s, N, h, path);
        long got = find(t, h ? hbuf : NULL, path);
        if (want != got)
            ck_abort_msg("host %s path %s: want %ld got %ld", h ? hbuf : "(none)", path, want, got);
        matched += got >= 0;
    }
    /* the generator must exercise both outcomes */
    ck_assert_int_gt(matched, LOOKUPS / 10);
    ck_assert_int_lt(matched, LOOKUPS);
    pol_route_table_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("route_table");
    TCase *tc = tcase_create("lookup");
    tcase_add_test(tc, longest_prefix_wins);
    tcase_add_test(tc, prefix_boundary);
    tcase_add_test(tc, query_stops_prefix);
    tcase_add_test(tc, path_not_nul_terminated);
    tcase_add_test(tc, host_beats_any_host);
    tcase_add_test(tc, host_port_and_case);
    tcase_add_test(tc, duplicates_detected);
    tcase_add_test(tc, invalid_specs);
    tcase_add_test(tc, no_match_and_empty);
    tcase_add_test(tc, many_slashes_fallback);
    tcase_add_test(tc, generated_against_reference);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
