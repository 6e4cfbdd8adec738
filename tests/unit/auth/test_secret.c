/* tests/unit/auth/test_secret.c — auth/secret.c: 256-bit secrets, keyed hash, constant-time
 * verification, fingerprints. */
#include <check.h>
#include <string.h>

#include "auth/secret.h"

START_TEST(secrets_are_random_and_well_formed)
{
    char a[AUTH_SECRET_TEXT_MAX], b[AUTH_SECRET_TEXT_MAX];
    ck_assert_int_eq(auth_secret_generate(a), 0);
    ck_assert_int_eq(auth_secret_generate(b), 0);
    ck_assert_str_ne(a, b);
    ck_assert(strncmp(a, "ogs_", 4) == 0);
    ck_assert_int_eq(strlen(a), 4 + 43);    /* 32 bytes base64url, no padding */
    for (size_t i = 4; i < strlen(a); i++)
        ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
}
END_TEST

START_TEST(keyed_hash_verifies_only_with_same_key_and_secret)
{
    unsigned char k1[32], k2[32];
    memset(k1, 1, sizeof(k1));
    memset(k2, 2, sizeof(k2));
    char s[AUTH_SECRET_TEXT_MAX], h[AUTH_SECRET_HASH_HEX];
    auth_secret_generate(s);
    ck_assert_int_eq(auth_secret_hash(k1, s, strlen(s), h), 0);
    ck_assert_int_eq(strlen(h), 64);
    ck_assert(auth_secret_verify(k1, s, strlen(s), h));
    ck_assert(!auth_secret_verify(k2, s, strlen(s), h));
    s[10] ^= 1;
    ck_assert(!auth_secret_verify(k1, s, strlen(s), h));
    ck_assert(!auth_secret_verify(k1, "", 0, ""));
    ck_assert(!auth_secret_verify(k1, s, strlen(s), NULL));
    ck_assert(!auth_secret_verify(k1, s, strlen(s), "abc"));
    /* known answer: HMAC-SHA256(key = 32 x 0x01, "abc") */
    ck_assert_int_eq(auth_secret_hash(k1, "abc", 3, h), 0);
    ck_assert_str_eq(h, "73860612aa6aadf68985b6e9c4233357cedd5f24a221eba740b2aa8350276cfc");
    char fp[9];
    auth_fingerprint("abc", 3, fp);
    ck_assert_str_eq(fp, "ba7816bf");   /* SHA-256("abc") starts ba7816bf */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("secret");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, secrets_are_random_and_well_formed);
    tcase_add_test(tc, keyed_hash_verifies_only_with_same_key_and_secret);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
