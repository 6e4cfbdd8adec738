/* tests/fuzz/fuzz_request_head.c — libFuzzer driver for the request-head path: arbitrary bytes
 * through gw_head_find_end (all at once and split in two), gw_head_validate, gw_hp_parse_head,
 * the framing cross-checks, Connection tokens, the upstream head builder and a chunked body
 * decoder, checking the invariants the proxy relies on. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http/head_check.h"
#include "gateway/http/headers.h"
#include "gateway/http/http_parse.h"

/* Always on, whatever NDEBUG says: a broken invariant must stop the fuzzer. */
#define CHECK(x) do { if (!(x)) { fprintf(stderr, "invariant failed: %s\n", #x); abort(); } } while (0)

static int sink(void *arg, const char *d, size_t n)
{
    (void)arg;
    (void)d;
    (void)n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct gw_head_limits lim = { 16384, 8192, 100 };
    const char *p = (const char *)data;
    size_t hl = 0, scan = 0;
    int rc = gw_head_find_end(p, size, &scan, &lim, &hl);
    /* Feeding in two pieces must give the same verdict as feeding at once. */
    if (size > 1) {
        size_t cut = data[0] % size, scan2 = 0, hl2 = 0;
        int rc2 = gw_head_find_end(p, cut, &scan2, &lim, &hl2);
        if (rc2 == GW_HEAD_MORE)
            rc2 = gw_head_find_end(p, size, &scan2, &lim, &hl2);
        CHECK(rc2 == rc || rc2 < 0 || rc < 0);
        if (rc == GW_HEAD_DONE && rc2 == GW_HEAD_DONE)
            CHECK(hl == hl2);
    }
    /* Also try the response side on the raw bytes. */
    struct gw_hp_field fields[101];
    struct gw_hp_head h;
    const char *why;
    if (rc != GW_HEAD_DONE) {
        struct gw_hp_chunked c;
        gw_hp_chunked_init(&c, false);
        ssize_t n = gw_hp_chunked_feed(&c, p, size, sink, NULL);
        CHECK(n <= (ssize_t)size);
        return 0;
    }
    CHECK(hl >= 4 && hl <= size && !memcmp(p + hl - 4, "\r\n\r\n", 4));
    /* copy so that out-of-bounds reads past the head are caught by ASan */
    char *head = malloc(hl);
    if (!head)
        return 0;
    memcpy(head, p, hl);
    if (gw_head_validate(head, hl, true, &lim, &why) == 0) {
        /* Strictly valid: no bare CR/LF, NUL or control byte other than HTAB anywhere. */
        for (size_t i = 0; i < hl; i++) {
            unsigned char ch = (unsigned char)head[i];
            CHECK(ch != 0 && (ch >= 0x20 || ch == '\t' || ch == '\r' || ch == '\n') && ch != 0x7f);
            if (ch == '\n')
                CHECK(i > 0 && head[i - 1] == '\r');
        }
        if (gw_hp_parse_head(true, head, hl, false, &h, fields, 101, &why) == 0 &&
            gw_hdr_check_framing(fields, h.nfields, true, h.http_minor, &why) == 0) {
            CHECK(!(h.chunked && h.has_content_length));
            struct gw_conn_tokens ct;
            gw_conn_tokens_parse(fields, h.nfields, &ct);
            struct gw_fwd_req f = {
                .method = h.method, .method_len = h.method_len,
                .target = h.target, .target_len = h.target_len,
                .fields = fields, .nfields = h.nfields, .conn = &ct,
                .peer_trusted = data[0] & 1, .peer_ip = "127.0.0.1",
                .host = "h", .host_len = 1, .proto = "http", .server_name = "og",
                .request_id = "r", .body = h.chunked ? GW_BODY_CHUNKED
                                       : h.has_content_length ? GW_BODY_LENGTH : GW_BODY_NONE,
                .content_length = h.content_length,
            };
            struct gw_sbuf out = {0};
            gw_headers_build_upstream(&out, &f);
            CHECK(out.oom || (out.len >= 4 && !memcmp(out.p + out.len - 4, "\r\n\r\n", 4)));
            gw_sbuf_free(&out);
            if (h.chunked) {
                struct gw_hp_chunked c;
                gw_hp_chunked_init(&c, true);
                ssize_t n = gw_hp_chunked_feed(&c, p + hl, size - hl, sink, NULL);
                CHECK(n <= (ssize_t)(size - hl));
            }
        }
    }
    gw_head_validate(head, hl, false, &lim, &why);
    gw_hp_parse_head(false, head, hl, data[0] & 2, &h, fields, 101, &why);
    free(head);
    return 0;
}
