/* tests/unit/gateway/test_tokens.c — gateway/tokens.c: the per-worker cap on signature checks
 * of unknown bearer tokens (a token bucket of jwt.max_signature_checks_per_s, holding a tenth
 * of a second's worth), driven with an explicit clock.
 */
#include <check.h>
#include <stdlib.h>

#include "gateway/tokens.h"

#define T0 1000000000ull            /* any non-zero monotonic start, in microseconds */

/* How many checks pass in a row at <now> (spending each). */
static int drain(struct gw_sig_cap *c, uint32_t per_s, uint64_t now)
{
    int n = 0;
    while (n < 1000000 && gw_sig_cap_allowed(c, per_s, now)) {
        gw_sig_cap_spend(c, per_s, now);
        n++;
    }
    return n;
}

START_TEST(sig_cap_burst_is_a_tenth_of_a_second)
{
    struct gw_sig_cap c = { 0 };
    ck_assert_int_eq(drain(&c, 1000, T0), 100);         /* starts full: 1000/s -> 100 */
    ck_assert(!gw_sig_cap_allowed(&c, 1000, T0));
    ck_assert(!gw_sig_cap_allowed(&c, 1000, T0 + 999)); /* under one token refilled */
    ck_assert(gw_sig_cap_allowed(&c, 1000, T0 + 1000)); /* 1 ms = one check */
    ck_assert_int_eq(drain(&c, 1000, T0 + 1000), 1);
    ck_assert_int_eq(drain(&c, 1000, T0 + 11000), 10);  /* 10 ms later: 10 more */
    /* idle for a minute: never more than the burst */
    ck_assert_int_eq(drain(&c, 1000, T0 + 60000000), 100);
}
END_TEST

START_TEST(sig_cap_rate_over_a_second)
{
    /* Asked 10,000 times a second for 2 s, the cap lets its rate (plus the burst) through. */
    struct gw_sig_cap c = { 0 };
    int passed = 0;
    for (uint64_t us = 0; us < 2000000; us += 100) {
        if (gw_sig_cap_allowed(&c, 500, T0 + us)) {
            gw_sig_cap_spend(&c, 500, T0 + us);
            passed++;
        }
    }
    ck_assert_int_ge(passed, 1000);
    ck_assert_int_le(passed, 1000 + 50 + 1);
}
END_TEST

START_TEST(sig_cap_small_rates_keep_one)
{
    /* Below 10/s the bucket still holds one check. */
    struct gw_sig_cap c = { 0 };
    ck_assert_int_eq(drain(&c, 3, T0), 1);
    ck_assert(!gw_sig_cap_allowed(&c, 3, T0 + 300000));
    ck_assert_int_eq(drain(&c, 3, T0 + 334000), 1);
}
END_TEST

START_TEST(sig_cap_zero_is_unlimited)
{
    struct gw_sig_cap c = { 0 };
    for (int i = 0; i < 100000; i++) {
        ck_assert(gw_sig_cap_allowed(&c, 0, T0));
        gw_sig_cap_spend(&c, 0, T0);
    }
}
END_TEST

START_TEST(sig_cap_only_spent_checks_count)
{
    /* Asking is free: only a spend (a signature actually checked) takes a token. */
    struct gw_sig_cap c = { 0 };
    for (int i = 0; i < 1000; i++)
        ck_assert(gw_sig_cap_allowed(&c, 20, T0));
    ck_assert_int_eq(drain(&c, 20, T0), 2);
    /* a clock that goes back does not refill (nor break) the bucket */
    ck_assert(!gw_sig_cap_allowed(&c, 20, T0 - 500000));
    ck_assert(!gw_sig_cap_allowed(&c, 20, T0 + 10000));
    ck_assert(gw_sig_cap_allowed(&c, 20, T0 + 50000));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokens");
    TCase *t = tcase_create("sig_cap");
    tcase_add_test(t, sig_cap_burst_is_a_tenth_of_a_second);
    tcase_add_test(t, sig_cap_rate_over_a_second);
    tcase_add_test(t, sig_cap_small_rates_keep_one);
    tcase_add_test(t, sig_cap_zero_is_unlimited);
    tcase_add_test(t, sig_cap_only_spent_checks_count);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
