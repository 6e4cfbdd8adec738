/* tests/unit/gateway/test_headers.c — header handling for forwarding (gateway/http/headers.c)
 * and onegate's own responses (gateway/http/errors.c): hop-by-hop stripping, Connection-listed
 * names, forwarding headers with and without a trusted peer, framing cross-checks, client ip. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http/errors.h"
#include "gateway/http/headers.h"
#include "gateway/http/http_parse.h"

static struct gw_hp_field F[64];
static struct gw_hp_head H;

static size_t parse_req(const char *s)
{
    const char *why;
    ck_assert_int_eq(gw_hp_parse_head(true, s, strlen(s), false, &H, F, 64, &why), 0);
    return H.nfields;
}

/* NUL-terminated copy of the builder's content. */
static char *str(struct gw_sbuf *b)
{
    gw_sbuf_add(b, "", 1);
    return b->p;
}

static struct gw_fwd_req base_fwd(struct gw_conn_tokens *ct)
{
    gw_conn_tokens_parse(F, H.nfields, ct);
    return (struct gw_fwd_req){
        .method = "GET", .method_len = 3, .target = "/p?q", .target_len = 4,
        .fields = F, .nfields = H.nfields, .conn = ct, .peer_trusted = false,
        .peer_ip = "10.1.2.3", .host = "ex.org", .host_len = 6, .proto = "http",
        .server_name = "og", .request_id = "rid1", .body = GW_BODY_NONE,
    };
}

START_TEST(hop_by_hop_set)
{
    const char *hop[] = { "Connection", "keep-alive", "TE", "Trailer", "Transfer-Encoding",
                          "Upgrade", "Proxy-Authorization", "Proxy-Connection", "proxy-x" };
    for (size_t i = 0; i < sizeof hop / sizeof *hop; i++)
        ck_assert_msg(gw_hdr_is_hop_by_hop(hop[i], strlen(hop[i])), "%s", hop[i]);
    const char *e2e[] = { "Host", "Cookie", "Authorization", "Content-Type", "Tee", "Trailers",
                          "Proxy", "X-Connection" };
    for (size_t i = 0; i < sizeof e2e / sizeof *e2e; i++)
        ck_assert_msg(!gw_hdr_is_hop_by_hop(e2e[i], strlen(e2e[i])), "%s", e2e[i]);
}
END_TEST

START_TEST(connection_tokens)
{
    parse_req("GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Foo , close,,Keep-Alive\r\nConnection: upgrade\r\n\r\n");
    struct gw_conn_tokens t;
    gw_conn_tokens_parse(F, H.nfields, &t);
    ck_assert(t.close && t.keep_alive && t.upgrade && !t.overflow);
    ck_assert_uint_eq(t.n, 4);
    ck_assert(gw_conn_tokens_has(&t, "x-foo", 5));
    ck_assert(!gw_conn_tokens_has(&t, "x-fo", 4));
}
END_TEST

START_TEST(upstream_head_strips_and_adds)
{
    parse_req("GET /p?q HTTP/1.1\r\nHost: ex.org\r\nConnection: X-Hop, keep-alive\r\nX-Hop: secret\r\n"
              "Keep-Alive: 5\r\nTE: trailers\r\nProxy-Authorization: Basic x\r\nExpect: 100-continue\r\n"
              "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\n"
              "X-Request-Id: forged\r\nVia: 1.0 other\r\nCookie: c=1\r\nX-Keep: yes\r\n\r\n");
    struct gw_conn_tokens ct;
    struct gw_fwd_req f = base_fwd(&ct);
    struct gw_sbuf b = {0};
    gw_headers_build_upstream(&b, &f);
    char *s = str(&b);
    ck_assert_msg(!strncmp(s, "GET /p?q HTTP/1.1\r\nHost: ex.org\r\n", 33), "%s", s);
    const char *absent[] = { "X-Hop", "Keep-Alive", "TE:", "Proxy-Authorization", "Expect",
                             "6.6.6.6", "https", "forged", "Connection" };
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        ck_assert_msg(!strstr(s, absent[i]), "%s leaked:\n%s", absent[i], s);
    ck_assert(strstr(s, "\r\nCookie: c=1\r\n") && strstr(s, "\r\nX-Keep: yes\r\n"));
    ck_assert(strstr(s, "\r\nX-Forwarded-For: 10.1.2.3\r\n"));
    ck_assert(strstr(s, "\r\nX-Forwarded-Proto: http\r\n"));
    ck_assert(strstr(s, "\r\nX-Forwarded-Host: ex.org\r\n"));
    ck_assert(strstr(s, "\r\nForwarded: for=10.1.2.3;host=\"ex.org\";proto=http\r\n"));
    ck_assert(strstr(s, "\r\nVia: 1.0 other, 1.1 og\r\n"));
    ck_assert(strstr(s, "\r\nX-Request-Id: rid1\r\n"));
    ck_assert(!strcmp(s + strlen(s) - 4, "\r\n\r\n"));
    gw_sbuf_free(&b);
}
END_TEST

START_TEST(upstream_head_trusted_peer)
{
    parse_req("GET / HTTP/1.1\r\nHost: ex.org\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\n"
              "X-Forwarded-Proto: https\r\nX-Forwarded-Host: pub.example\r\nForwarded: for=1.1.1.1\r\n\r\n");
    struct gw_conn_tokens ct;
    struct gw_fwd_req f = base_fwd(&ct);
    f.peer_trusted = true;
    f.peer_ip = "::1";
    struct gw_sbuf b = {0};
    gw_headers_build_upstream(&b, &f);
    char *s = str(&b);
    ck_assert_msg(strstr(s, "\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, ::1\r\n"), "%s", s);
    ck_assert(strstr(s, "\r\nX-Forwarded-Proto: https\r\n"));
    ck_assert(strstr(s, "\r\nX-Forwarded-Host: pub.example\r\n"));
    ck_assert(strstr(s, "\r\nForwarded: for=1.1.1.1, for=\"[::1]\";host=\"ex.org\";proto=http\r\n"));
    gw_sbuf_free(&b);
}
END_TEST

START_TEST(upstream_head_framing_and_rewrite)
{
    parse_req("POST / HTTP/1.1\r\nHost: ex.org\r\nTransfer-Encoding: chunked\r\n\r\n");
    struct gw_conn_tokens ct;
    struct gw_fwd_req f = base_fwd(&ct);
    f.body = GW_BODY_CHUNKED;
    f.host_rewrite = "internal:8080";
    struct gw_sbuf b = {0};
    gw_headers_build_upstream(&b, &f);
    char *s = str(&b);
    ck_assert(strstr(s, "\r\nHost: internal:8080\r\n") && !strstr(s, "\r\nHost: ex.org"));
    ck_assert(strstr(s, "\r\nX-Forwarded-Host: ex.org\r\n"));
    ck_assert(strstr(s, "\r\nTransfer-Encoding: chunked\r\n"));
    gw_sbuf_free(&b);

    parse_req("POST / HTTP/1.1\r\nHost: ex.org\r\nContent-Length: 0\r\n\r\n");
    f = base_fwd(&ct);
    f.body = GW_BODY_LENGTH;
    f.content_length = 0;
    memset(&b, 0, sizeof b);
    gw_headers_build_upstream(&b, &f);
    s = str(&b);
    ck_assert(strstr(s, "\r\nContent-Length: 0\r\n") && !strstr(s, "Transfer-Encoding"));
    gw_sbuf_free(&b);
}
END_TEST

static bool drop_auth(const char *n, size_t len, void *arg)
{
    return gw_hdr_eq(n, len, "x-auth-user");
}

START_TEST(identity_seam)
{
    parse_req("GET / HTTP/1.1\r\nHost: ex.org\r\nX-Auth-User: mallory\r\n\r\n");
    struct gw_conn_tokens ct;
    struct gw_fwd_req f = base_fwd(&ct);
    f.drop = drop_auth;
    f.extra = "X-Auth-User: alice\r\n";
    struct gw_sbuf b = {0};
    gw_headers_build_upstream(&b, &f);
    char *s = str(&b);
    ck_assert(!strstr(s, "mallory") && strstr(s, "\r\nX-Auth-User: alice\r\n\r\n"));
    gw_sbuf_free(&b);
}
END_TEST

START_TEST(response_head)
{
    const char *resp = "HTTP/1.1 200 Fine\r\nConnection: X-Hop-Test, keep-alive\r\nX-Hop-Test: 1\r\n"
                       "Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nTrailer: X-T\r\n"
                       "X-End-To-End: kept\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char *why;
    ck_assert_int_eq(gw_hp_parse_head(false, resp, strlen(resp), false, &H, F, 64, &why), 0);
    struct gw_conn_tokens ct;
    gw_conn_tokens_parse(F, H.nfields, &ct);
    struct gw_fwd_resp r = { .status = 200, .reason = "Fine", .reason_len = 4, .fields = F,
                             .nfields = H.nfields, .conn = &ct, .server_name = "og",
                             .request_id = "rid", .body = GW_BODY_CHUNKED, .keep_alive = true };
    struct gw_sbuf b = {0};
    gw_headers_build_response(&b, &r);
    char *s = str(&b);
    ck_assert(!strncmp(s, "HTTP/1.1 200 Fine\r\n", 19));
    const char *absent[] = { "X-Hop-Test", "Keep-Alive", "Proxy-Authenticate", "Trailer",
                             "Connection" };
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        ck_assert_msg(!strstr(s, absent[i]), "%s leaked:\n%s", absent[i], s);
    ck_assert(strstr(s, "\r\nX-End-To-End: kept\r\n") && strstr(s, "\r\nVia: 1.1 og\r\n"));
    ck_assert(strstr(s, "\r\nX-Request-Id: rid\r\n") && strstr(s, "\r\nTransfer-Encoding: chunked\r\n"));
    gw_sbuf_free(&b);

    /* close-delimited to an HTTP/1.0 client: no framing header, Connection: close */
    r.body = GW_BODY_EOF;
    r.keep_alive = false;
    r.client_http10 = true;
    memset(&b, 0, sizeof b);
    gw_headers_build_response(&b, &r);
    s = str(&b);
    ck_assert(!strstr(s, "Transfer-Encoding") && !strstr(s, "Content-Length"));
    ck_assert(strstr(s, "\r\nConnection: close\r\n"));
    gw_sbuf_free(&b);
}
END_TEST

START_TEST(framing_cross_checks)
{
    const char *why;
    parse_req("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    ck_assert_int_eq(gw_hdr_check_framing(F, H.nfields, true, 1, &why), 0);
    parse_req("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    ck_assert_int_eq(gw_hdr_check_framing(F, H.nfields, true, 1, &why), -1);
    parse_req("GET / HTTP/1.1\r\nX: y\r\n\r\n");
    ck_assert_int_eq(gw_hdr_check_framing(F, H.nfields, true, 1, &why), -1);   /* no Host */
    ck_assert_int_eq(gw_hdr_check_framing(F, H.nfields, true, 0, &why), 0);    /* 1.0 ok */
    /* built by hand: http-parser would already refuse these */
    struct gw_hp_field f2[2] = { { "Content-Length", "5", 14, 1 }, { "content-length", "5", 14, 1 } };
    ck_assert_int_eq(gw_hdr_check_framing(f2, 2, false, 1, &why), -1);
    struct gw_hp_field f3[1] = { { "Transfer-Encoding", "gzip, chunked", 17, 13 } };
    ck_assert_int_eq(gw_hdr_check_framing(f3, 1, false, 1, &why), -1);
    struct gw_hp_field f4[1] = { { "Transfer-Encoding", "chunked", 17, 7 } };
    ck_assert_int_eq(gw_hdr_check_framing(f4, 1, false, 0, &why), -1);        /* TE in 1.0 */
    struct gw_hp_field f5[1] = { { "Content-Length", "1 2", 14, 3 } };
    ck_assert_int_eq(gw_hdr_check_framing(f5, 1, false, 1, &why), -1);
}
END_TEST

static bool trust_10(const char *ip, void *arg) { return !strncmp(ip, "10.", 3); }

START_TEST(client_ip)
{
    char out[64];
    parse_req("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 7.7.7.7, 8.8.8.8, 10.0.0.2\r\n\r\n");
    gw_fwd_client_ip(F, H.nfields, false, "10.0.0.1", trust_10, NULL, out, sizeof out);
    ck_assert_str_eq(out, "10.0.0.1");                       /* untrusted peer: its own ip */
    gw_fwd_client_ip(F, H.nfields, true, "10.0.0.1", trust_10, NULL, out, sizeof out);
    ck_assert_str_eq(out, "8.8.8.8");                        /* rightmost untrusted */
    parse_req("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: junk, 9.9.9.9\r\n\r\n");
    gw_fwd_client_ip(F, H.nfields, true, "10.0.0.1", trust_10, NULL, out, sizeof out);
    ck_assert_str_eq(out, "9.9.9.9");
    parse_req("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.5, junk\r\n\r\n");
    gw_fwd_client_ip(F, H.nfields, true, "10.0.0.1", trust_10, NULL, out, sizeof out);
    ck_assert_str_eq(out, "10.0.0.1");                       /* garbage is not believed */
}
END_TEST

START_TEST(request_ids_and_errors)
{
    ck_assert(gw_request_id_valid("abc-DEF_1.2", 11));
    ck_assert(!gw_request_id_valid("", 0));
    ck_assert(!gw_request_id_valid("a b", 3));
    ck_assert(!gw_request_id_valid("<script>", 8));
    ck_assert(gw_accept_prefers_json("application/json", 16));
    ck_assert(!gw_accept_prefers_json("text/html,application/json", 26));
    ck_assert(gw_accept_prefers_json("application/problem+json, text/html", 35));
    ck_assert(!gw_accept_prefers_json(NULL, 0));
    struct gw_sbuf b = {0};
    gw_error_build(&b, 404, "no <route>", "rid9", NULL, true, true, false, false);
    char *s = str(&b);
    ck_assert(!strncmp(s, "HTTP/1.1 404 Not Found\r\n", 24));
    ck_assert(strstr(s, "\r\nContent-Type: application/json\r\n"));
    ck_assert(strstr(s, "\"request_id\":\"rid9\"") && strstr(s, "no \\u003croute\\u003e"));
    gw_sbuf_free(&b);
    memset(&b, 0, sizeof b);
    gw_error_build(&b, 502, "bad <b>", "rid9", NULL, false, false, false, false);
    s = str(&b);
    ck_assert(strstr(s, "text/html") && strstr(s, "bad &#60;b&#62;") && strstr(s, "rid9"));
    ck_assert(strstr(s, "\r\nConnection: close\r\n"));
    /* Content-Length matches the body */
    const char *body = strstr(s, "\r\n\r\n") + 4;
    const char *cl = strstr(s, "Content-Length: ") + 16;
    ck_assert_uint_eq(strtoul(cl, NULL, 10), strlen(body));
    gw_sbuf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("headers");
    TCase *t = tcase_create("core");
    tcase_add_test(t, hop_by_hop_set);
    tcase_add_test(t, connection_tokens);
    tcase_add_test(t, upstream_head_strips_and_adds);
    tcase_add_test(t, upstream_head_trusted_peer);
    tcase_add_test(t, upstream_head_framing_and_rewrite);
    tcase_add_test(t, identity_seam);
    tcase_add_test(t, response_head);
    tcase_add_test(t, framing_cross_checks);
    tcase_add_test(t, client_ip);
    tcase_add_test(t, request_ids_and_errors);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
