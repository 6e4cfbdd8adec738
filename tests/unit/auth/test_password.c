/* tests/unit/auth/test_password.c — auth/password.c: argon2id PHC strings with the configured
 * parameters, verify, needs_rehash, dummy verification, length limits. */
#include <check.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"

/* Cheap parameters keep the suite fast; one test uses the defaults. */
static const struct auth_pw_params fast = { .memory_kib = 1024, .iterations = 1, .parallelism = 1 };

START_TEST(hash_then_verify)
{
    char h[AUTH_PW_HASH_MAX];
    ck_assert_int_eq(auth_password_hash(&fast, "correct horse", 13, h), 0);
    ck_assert(strncmp(h, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
    ck_assert_int_eq(auth_password_verify(&fast, h, "correct horse", 13), 0);
    ck_assert_int_eq(auth_password_verify(&fast, h, "correct horsE", 13), AUTH_PW_EMISMATCH);
    ck_assert_int_eq(auth_password_verify(&fast, h, "correct hors", 12), AUTH_PW_EMISMATCH);
    char h2[AUTH_PW_HASH_MAX];
    ck_assert_int_eq(auth_password_hash(&fast, "correct horse", 13, h2), 0);
    ck_assert_str_ne(h, h2);    /* salted */
}
END_TEST

START_TEST(default_parameters)
{
    struct auth_pw_params d = auth_password_default_params();
    ck_assert_int_eq(d.memory_kib, 19456);
    ck_assert_int_eq(d.iterations, 2);
    ck_assert_int_eq(d.parallelism, 1);
    char h[AUTH_PW_HASH_MAX];
    ck_assert_int_eq(auth_password_hash(&d, "password1", 9, h), 0);
    ck_assert(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    ck_assert(!auth_password_needs_rehash(&d, h));
    ck_assert(auth_password_needs_rehash(&fast, h));
}
END_TEST

START_TEST(limits_and_bad_params)
{
    char h[AUTH_PW_HASH_MAX], err[128];
    ck_assert_int_eq(auth_password_hash(&fast, "short", 5, h), AUTH_PW_EINVAL);
    static char big[AUTH_PW_MAX_BYTES + 2];
    memset(big, 'a', sizeof(big) - 1);
    ck_assert_int_eq(auth_password_hash(&fast, big, sizeof(big) - 1, h), AUTH_PW_EINVAL);
    struct auth_pw_params p2 = fast;
    p2.parallelism = 4;
    ck_assert_int_eq(auth_password_params_check(&p2, err, sizeof(err)), AUTH_PW_EINVAL);
    p2 = fast;
    p2.iterations = 0;
    ck_assert_int_eq(auth_password_params_check(&p2, err, sizeof(err)), AUTH_PW_EINVAL);
}
END_TEST

START_TEST(missing_or_garbage_hash_never_verifies)
{
    ck_assert_int_eq(auth_password_verify(&fast, NULL, "whatever1", 9), AUTH_PW_EMISMATCH);
    ck_assert_int_eq(auth_password_verify(&fast, "", "whatever1", 9), AUTH_PW_EMISMATCH);
    ck_assert_int_eq(auth_password_verify(&fast, "$2y$10$abcdefghijklmnopqrstuv", "whatever1", 9),
                     AUTH_PW_EMISMATCH);
    ck_assert(auth_password_needs_rehash(&fast, "$2y$10$abc"));
}
END_TEST

static double elapsed_ms(struct timespec a, struct timespec b)
{
    return (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
}

START_TEST(dummy_costs_like_a_real_check)
{
    struct auth_pw_params p = { .memory_kib = 8192, .iterations = 2, .parallelism = 1 };
    char h[AUTH_PW_HASH_MAX];
    ck_assert_int_eq(auth_password_hash(&p, "password1", 9, h), 0);
    ck_assert_int_eq(auth_password_verify_dummy(&p, "x", 1), AUTH_PW_EMISMATCH); /* warm */
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 5; i++)
        auth_password_verify(&p, h, "wrongpass", 9);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(auth_password_verify_dummy(&p, "wrongpass", 9), AUTH_PW_EMISMATCH);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double real = elapsed_ms(t0, t1), dummy = elapsed_ms(t1, t2);
    ck_assert_msg(dummy > real * 0.5 && dummy < real * 2.0, "real %.1f ms, dummy %.1f ms",
                  real, dummy);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("password");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, hash_then_verify);
    tcase_add_test(tc, default_parameters);
    tcase_add_test(tc, limits_and_bad_params);
    tcase_add_test(tc, missing_or_garbage_hash_never_verifies);
    tcase_add_test(tc, dummy_costs_like_a_real_check);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
