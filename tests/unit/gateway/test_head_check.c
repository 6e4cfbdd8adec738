/* tests/unit/gateway/test_head_check.c — strict raw-head checks (gateway/http/head_check.c):
 * every strictness case of issue 2, and the limit arithmetic at the exact boundaries. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http/head_check.h"

static const struct gw_head_limits LIM = { .max_head_bytes = 256, .max_line_bytes = 64,
                                           .max_headers = 4 };

/* Runs find_end on the whole string at once; returns its result, *hl set when done. */
static int find(const char *s, size_t *hl)
{
    size_t scan = 0;
    return gw_head_find_end(s, strlen(s), &scan, &LIM, hl);
}

static int validate(const char *s, bool req)
{
    const char *why;
    return gw_head_validate(s, strlen(s), req, &LIM, &why);
}

START_TEST(find_end_basic)
{
    size_t hl = 0;
    const char *r = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
    ck_assert_int_eq(find(r, &hl), GW_HEAD_DONE);
    ck_assert_uint_eq(hl, strlen(r) - 4);
    ck_assert_int_eq(find("GET / HTTP/1.1\r\nHost: a\r\n", &hl), GW_HEAD_MORE);
    ck_assert_int_eq(find("GET / HTTP/1.1\r\n\r\n", &hl), GW_HEAD_DONE);
    ck_assert_uint_eq(hl, 18);
}
END_TEST

START_TEST(find_end_incremental_byte_by_byte)
{
    const char *r = "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r\n";
    size_t n = strlen(r), scan = 0, hl = 0;
    for (size_t i = 1; i < n; i++)
        ck_assert_int_eq(gw_head_find_end(r, i, &scan, &LIM, &hl), GW_HEAD_MORE);
    ck_assert_int_eq(gw_head_find_end(r, n, &scan, &LIM, &hl), GW_HEAD_DONE);
    ck_assert_uint_eq(hl, n);
}
END_TEST

START_TEST(find_end_bare_lf_fails_fast)
{
    size_t hl;
    ck_assert_int_eq(find("GET / HTTP/1.1\nHost: a\n\n", &hl), -400);
    ck_assert_int_eq(find("GET / HTTP/1.1\r\nHost: a\n", &hl), -400);
    ck_assert_int_eq(find("\n", &hl), -400);
}
END_TEST

START_TEST(find_end_limits)
{
    size_t hl;
    char line[200];
    /* request line of exactly max_line_bytes (64) passes, 65 is 414 */
    memset(line, 'a', sizeof line);
    memcpy(line, "GET /", 5);
    memcpy(line + 64 - 9, " HTTP/1.1\r\n\r\n", 14);
    ck_assert_uint_eq(strlen(line), 64 + 4);
    ck_assert_int_eq(find(line, &hl), GW_HEAD_DONE);
    memset(line, 'a', sizeof line);
    memcpy(line, "GET /", 5);
    memcpy(line + 65 - 9, " HTTP/1.1\r\n\r\n", 14);
    ck_assert_int_eq(find(line, &hl), -414);
    /* no end of line yet but already longer than the line limit: 414 without waiting */
    memset(line, 'a', 80);
    line[80] = '\0';
    ck_assert_int_eq(find(line, &hl), -414);
    /* a head of exactly max_head_bytes (256) passes, one more byte is 431 */
    char head[400];
    strcpy(head, "GET / HTTP/1.1\r\nX: ");
    size_t n = strlen(head);
    memset(head + n, 'v', 256 - n - 4);
    memcpy(head + 256 - 4, "\r\n\r\n", 5);
    ck_assert_uint_eq(strlen(head), 256);
    ck_assert_int_eq(find(head, &hl), GW_HEAD_DONE);
    ck_assert_int_eq(validate(head, true), 0);
    strcpy(head, "GET / HTTP/1.1\r\nX: ");
    memset(head + n, 'v', 257 - n - 4);
    memcpy(head + 257 - 4, "\r\n\r\n", 5);
    ck_assert_int_eq(find(head, &hl), -431);
    /* incomplete and already at the limit */
    memset(head + n, 'v', 300);
    head[n + 300] = '\0';
    ck_assert_int_eq(find(head, &hl), -431);
}
END_TEST

START_TEST(validate_good)
{
    ck_assert_int_eq(validate("GET /a?b=c HTTP/1.1\r\nHost: a\r\nX-Y:  v  w \r\n\r\n", true), 0);
    ck_assert_int_eq(validate("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", true), 0);
    ck_assert_int_eq(validate("GET / HTTP/1.0\r\n\r\n", true), 0);
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nX-Utf8: caf\xc3\xa9\r\nEmpty:\r\n\r\n", true), 0);
    ck_assert_int_eq(validate("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false), 0);
    ck_assert_int_eq(validate("HTTP/1.1 204\r\n\r\n", false), 0);
}
END_TEST

START_TEST(validate_strictness_cases)
{
    /* obs-fold */
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", true), 400);
    /* whitespace inside a name and before the colon */
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nHo st: a\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nContent-Length : 0\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nContent-Length\t: 0\r\n\r\n", true), 400);
    /* NUL, control characters, DEL, bare CR */
    ck_assert_int_eq(gw_head_validate("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 27, true, &LIM,
                                      &(const char *){0}), 400);
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nX: a\x7f" "b\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET /\x01 HTTP/1.1\r\n\r\n", true), 400);
    /* malformed request lines */
    ck_assert_int_eq(validate("GET  / HTTP/1.1\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET / HTTP/1.1 \r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET / HTTP/2.0\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET / FOO/1.1\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("G(T / HTTP/1.1\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", true), 400);
    /* a fragment is no part of a request target (RFC 9112 §3.2); upstreams drop it, so the
     * policy would decide on other bytes than the path the upstream serves */
    ck_assert_int_eq(validate("GET /a#b HTTP/1.1\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET /a?b#c HTTP/1.1\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET http://h/a# HTTP/1.1\r\n\r\n", true), 400);
    /* empty or non-token header names */
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\n: v\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nX(Y): v\r\n\r\n", true), 400);
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nNoColon\r\n\r\n", true), 400);
    /* responses */
    ck_assert_int_eq(validate("HTTP/1.1 2000 OK\r\n\r\n", false), 400);
    ck_assert_int_eq(validate("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", false), 400);
    ck_assert_int_eq(validate("garbage\r\n\r\n", false), 400);
}
END_TEST

START_TEST(validate_too_many_headers)
{
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", true), 0);
    ck_assert_int_eq(validate("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", true),
                     431);
}
END_TEST

/* Header values are scanned eight bytes at a time: every byte value at every position of a
 * word (and across a word boundary) must still be judged exactly as one byte at a time. */
START_TEST(validate_value_bytes_every_offset)
{
    static const struct gw_head_limits big = { .max_head_bytes = 1024, .max_line_bytes = 64,
                                               .max_headers = 4 };
    for (int c = 1; c < 256; c++) {
        bool ok = c == '\t' || (c >= 0x20 && c != 0x7f);
        if (c == '\r' || c == '\n')
            continue;                   /* CR ends a value; a bare LF fails find_end first */
        for (int at = 0; at < 24; at++) {
            char head[128];
            char value[32];
            memset(value, 'v', sizeof value);
            value[at] = (char)c;
            int n = snprintf(head, sizeof head, "GET / HTTP/1.1\r\nHost: a\r\nX: %.*s\r\n\r\n",
                             (int)sizeof value, value);
            const char *why;
            int st = gw_head_validate(head, (size_t)n, true, &big, &why);
            ck_assert_msg(st == (ok ? 0 : 400), "byte 0x%02x at %d: %d (%s)", c, at, st, why);
        }
    }
    /* a control byte right after several clean words, and DEL in the last word */
    char head[256];
    int n = snprintf(head, sizeof head, "GET / HTTP/1.1\r\nX: %s\x01\r\n\r\n",
                     "0123456789abcdef0123456789abcdef");
    const char *why;
    ck_assert_int_eq(gw_head_validate(head, (size_t)n, true, &LIM, &why), 400);
    n = snprintf(head, sizeof head, "GET / HTTP/1.1\r\nX: %s\x7f\r\n\r\n",
                 "0123456789abcdef01234567");
    ck_assert_int_eq(gw_head_validate(head, (size_t)n, true, &LIM, &why), 400);
}
END_TEST

START_TEST(tchar)
{
    ck_assert(gw_is_tchar('a') && gw_is_tchar('Z') && gw_is_tchar('0') && gw_is_tchar('-'));
    ck_assert(gw_is_tchar('!') && gw_is_tchar('~') && gw_is_tchar('|'));
    ck_assert(!gw_is_tchar(' ') && !gw_is_tchar(':') && !gw_is_tchar('(') && !gw_is_tchar(0) &&
              !gw_is_tchar('"') && !gw_is_tchar(0x80));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("head_check");
    TCase *t = tcase_create("core");
    tcase_add_test(t, find_end_basic);
    tcase_add_test(t, find_end_incremental_byte_by_byte);
    tcase_add_test(t, find_end_bare_lf_fails_fast);
    tcase_add_test(t, find_end_limits);
    tcase_add_test(t, validate_good);
    tcase_add_test(t, validate_strictness_cases);
    tcase_add_test(t, validate_too_many_headers);
    tcase_add_test(t, validate_value_bytes_every_offset);
    tcase_add_test(t, tchar);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
