/* tests/unit/gateway/test_http_parse.c — the http-parser boundary (gateway/http/http_parse.c):
 * head framing facts, framing errors, and the chunked decoder's exact end. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http/http_parse.h"

static struct gw_hp_field F[32];

static int parse(bool req, const char *s, bool head_req, struct gw_hp_head *h)
{
    const char *why;
    return gw_hp_parse_head(req, s, strlen(s), head_req, h, F, 32, &why);
}

START_TEST(request_head)
{
    struct gw_hp_head h;
    const char *r = "POST /a/b?x=1 HTTP/1.1\r\nHost: ex.org\r\nContent-Length: 12\r\nX-Sp:   v w  \r\n\r\n";
    ck_assert_int_eq(parse(true, r, false, &h), 0);
    ck_assert_int_eq((int)h.method_len, 4);
    ck_assert(!memcmp(h.method, "POST", 4));
    ck_assert(h.target_len == 8 && !memcmp(h.target, "/a/b?x=1", 8));
    ck_assert(h.has_content_length && h.content_length == 12 && !h.chunked);
    ck_assert(h.keep_alive && h.http_major == 1 && h.http_minor == 1);
    ck_assert_uint_eq(h.nfields, 3);
    ck_assert(F[2].value_len == 3 && !memcmp(F[2].value, "v w", 3));   /* OWS trimmed */
    ck_assert_int_eq(parse(true, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false, &h), 0);
    ck_assert(!h.keep_alive);
    ck_assert_int_eq(parse(true, "GET / HTTP/1.0\r\n\r\n", false, &h), 0);
    ck_assert(!h.keep_alive);
    ck_assert_int_eq(parse(true, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false, &h), 0);
    ck_assert(h.keep_alive);
    ck_assert_int_eq(parse(true, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false, &h), 0);
    ck_assert(h.upgrade);
    ck_assert_int_eq(parse(true, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", false, &h), 0);
    ck_assert(h.chunked && !h.has_content_length);
}
END_TEST

START_TEST(request_framing_errors)
{
    struct gw_hp_head h;
    ck_assert_int_eq(parse(true, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, &h), -1);
    ck_assert_int_eq(parse(true, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", false, &h), -1);
    ck_assert_int_eq(parse(true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", false, &h), -1);
    ck_assert_int_eq(parse(true, "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", false, &h), -1);
    ck_assert_int_eq(parse(true, "POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n", false, &h), -1);
    ck_assert_int_eq(parse(true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", false, &h), -1);
    ck_assert_int_eq(parse(true, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", false, &h), -1);
    ck_assert_int_eq(parse(true, "FOO / HTTP/1.1\r\n\r\n", false, &h), -1);
}
END_TEST

START_TEST(response_head)
{
    struct gw_hp_head h;
    ck_assert_int_eq(parse(false, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, &h), 0);
    ck_assert(h.status == 200 && h.has_content_length && h.content_length == 5 && !h.needs_eof);
    ck_assert_int_eq(parse(false, "HTTP/1.1 200 OK\r\nX: y\r\n\r\n", false, &h), 0);
    ck_assert(h.needs_eof);                                  /* close-delimited */
    ck_assert_int_eq(parse(false, "HTTP/1.1 200 OK\r\nX: y\r\n\r\n", true, &h), 0);
    ck_assert(!h.needs_eof);                                 /* answer to HEAD */
    ck_assert_int_eq(parse(false, "HTTP/1.1 204 No Content\r\n\r\n", false, &h), 0);
    ck_assert(!h.needs_eof && h.keep_alive);
    ck_assert_int_eq(parse(false, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", false, &h), 0);
    ck_assert(h.status == 101);
    ck_assert_int_eq(parse(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", false, &h), -1);
}
END_TEST

struct sink { char buf[256]; size_t len; };
static int collect(void *arg, const char *d, size_t n)
{
    struct sink *s = arg;
    memcpy(s->buf + s->len, d, n);
    s->len += n;
    return 0;
}

START_TEST(chunked_exact_end)
{
    struct gw_hp_chunked c;
    struct sink s = {0};
    gw_hp_chunked_init(&c, true);
    const char *body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nGET /next";
    ssize_t n = gw_hp_chunked_feed(&c, body, strlen(body), collect, &s);
    ck_assert(c.done);
    ck_assert_int_eq((int)n, (int)(strlen(body) - strlen("GET /next")));
    ck_assert_uint_eq(s.len, 11);
    ck_assert(!memcmp(s.buf, "hello world", 11));
}
END_TEST

START_TEST(chunked_byte_by_byte)
{
    struct gw_hp_chunked c;
    struct sink s = {0};
    gw_hp_chunked_init(&c, false);
    const char *body = "3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n";
    size_t total = 0;
    for (size_t i = 0; i < strlen(body); i++) {
        ck_assert(!c.done);
        ssize_t n = gw_hp_chunked_feed(&c, body + i, 1, collect, &s);
        ck_assert_int_eq((int)n, 1);
        total += (size_t)n;
    }
    ck_assert(c.done && total == strlen(body) && s.len == 4 && !memcmp(s.buf, "abcd", 4));
}
END_TEST

START_TEST(chunked_errors)
{
    struct gw_hp_chunked c;
    struct sink s = {0};
    gw_hp_chunked_init(&c, false);
    ck_assert_int_eq((int)gw_hp_chunked_feed(&c, "zz\r\n", 4, collect, &s), -1);
    gw_hp_chunked_init(&c, true);
    ck_assert_int_eq((int)gw_hp_chunked_feed(&c, "3\r\nabcX\r\n", 9, collect, &s), -1);
}
END_TEST

/* Feeds <body> in three pieces cut at <a> and <b> (a <= b). Returns the bytes consumed when
 * the body ended, -1 on a framing error, -2 when the input ran out before the end. */
static ssize_t feed_cut(bool req, const char *body, size_t len, size_t a, size_t b,
                        struct sink *s)
{
    struct gw_hp_chunked c;
    gw_hp_chunked_init(&c, req);
    s->len = 0;
    const size_t cuts[4] = { 0, a, b, len };
    size_t total = 0;
    for (int k = 0; k < 3; k++) {
        size_t off = cuts[k], end = cuts[k + 1];
        while (off < end && !c.done) {
            ssize_t n = gw_hp_chunked_feed(&c, body + off, end - off, collect, s);
            if (n < 0)
                return -1;
            if (n == 0 && !c.done)
                return -3;                      /* no progress without an end: a bug */
            off += (size_t)n;
            total += (size_t)n;
        }
        if (c.done)
            return (ssize_t)total;
    }
    return -2;
}

/* Every split of the input into three pieces, including one byte at a time at each point. */
START_TEST(chunked_valid_every_split)
{
    const char *body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nGET /next";
    size_t len = strlen(body), framed = len - strlen("GET /next");
    for (int req = 0; req < 2; req++)
        for (size_t a = 0; a <= len; a++)
            for (size_t b = a; b <= len; b++) {
                struct sink s = {0};
                ssize_t n = feed_cut(req, body, len, a, b, &s);
                ck_assert_msg(n == (ssize_t)framed, "cut %zu/%zu: %zd", a, b, n);
                ck_assert(s.len == 11 && !memcmp(s.buf, "hello world", 11));
            }
}
END_TEST

/* http-parser 2.9.4 alone accepts every one of these (any two bytes as the CRLF after data,
 * any byte as the LF after a CR, bare LF and CTLs in extensions and trailers). */
static const char *const bad_chunked[] = {
    "5\r\nhelloXX0\r\n\r\n",
    "5\r\nhello\rX0\r\n\r\n",
    "5\r\nhelloX\n0\r\n\r\n",
    "5\r\nhello\n\r0\r\n\r\n",
    "5\r\nhello0\r\n\r\n",
    "5\r\nhello\r\n0\r\n\rX",
    "5\r\nhello\r\n0\r\n\r\r",
    "5\r\nhello\r\n0\r\n\n",
    "5\rXhello\r\n0\r\n\r\n",
    "5;a\nb\r\nhello\r\n0\r\n\r\n",
    "5;a\x01\r\nhello\r\n0\r\n\r\n",
    "0\r\nT: x\rX\r\n\r\n",
    "0\r\nT: x\nU: y\r\n\r\n",
    "0\r\n folded\r\n\r\n",
    "0\rX\r\n",
};

START_TEST(chunked_bad_crlf_every_split)
{
    for (size_t t = 0; t < sizeof bad_chunked / sizeof *bad_chunked; t++) {
        const char *body = bad_chunked[t];
        size_t len = strlen(body);
        for (int req = 0; req < 2; req++)
            for (size_t a = 0; a <= len; a++)
                for (size_t b = a; b <= len; b++) {
                    struct sink s = {0};
                    ssize_t n = feed_cut(req, body, len, a, b, &s);
                    ck_assert_msg(n == -1, "case %zu cut %zu/%zu: %zd", t, a, b, n);
                }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_parse");
    TCase *t = tcase_create("core");
    tcase_add_test(t, request_head);
    tcase_add_test(t, request_framing_errors);
    tcase_add_test(t, response_head);
    tcase_add_test(t, chunked_exact_end);
    tcase_add_test(t, chunked_byte_by_byte);
    tcase_add_test(t, chunked_errors);
    tcase_add_test(t, chunked_valid_every_split);
    tcase_add_test(t, chunked_bad_crlf_every_split);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
