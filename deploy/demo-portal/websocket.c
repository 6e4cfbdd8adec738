/* websocket.c — the demo portal's WebSocket (RFC 6455) echo at .../ws: checks the upgrade
 * request, answers 101 with Sec-WebSocket-Accept, then echoes text/binary/continuation frames
 * unmasked, answers ping with pong and close with close. Reached from http.c once
 * http-parser has stopped at the end of the upgrade request's head. */
#include "portal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* Largest frame payload echoed; bigger frames are refused with close 1009. */
#define WS_MAX_PAYLOAD (16 * 1024 * 1024)

enum { WS_CONT = 0x0, WS_TEXT = 0x1, WS_BINARY = 0x2, WS_CLOSE = 0x8, WS_PING = 0x9,
       WS_PONG = 0xA };

/* Does the comma-separated header value <list> contain <token> (case-insensitive)? */
static int has_token(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    for (const char *p = list; p && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if (m == tlen && strncasecmp(p, token, tlen) == 0)
            return 1;
        p += n;
    }
    return 0;
}

/* Sec-WebSocket-Accept for <key>: base64(SHA-1(key + GUID)). Returns 0 or -1. */
static int ws_accept_value(const char *key, char out[64])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, key, strlen(key)) == 1 &&
             EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
    return 0;
}

void dp_ws_handshake(struct dp_conn *c)
{
    const char *upgrade = dp_header_get(c, "Upgrade");
    const char *key = dp_header_get(c, "Sec-WebSocket-Key");
    const char *version = dp_header_get(c, "Sec-WebSocket-Version");
    char accept[64];
    if (c->parser.method != HTTP_GET || !upgrade || !has_token(upgrade, "websocket") || !key ||
        !*key || !version || strcmp(version, "13") != 0 || ws_accept_value(key, accept) < 0) {
        static const char msg[] = "bad WebSocket handshake\n";
        dp_respond(c, 400, "text/plain", "Sec-WebSocket-Version: 13\r\n", msg, sizeof(msg) - 1);
        dp_close_after_write(c);
        return;
    }
    evbuffer_add_printf(c->wbuf,
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                        "X-Demo-Portal: %s\r\nX-Demo-Conn: %llu\r\n\r\n",
                        accept, c->cfg->title, (unsigned long long)c->id);
    c->state = DP_WEBSOCKET;
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

/* Appends an unmasked frame to c->wbuf. <b0> carries FIN and the opcode. */
static void ws_send(struct dp_conn *c, unsigned char b0, const unsigned char *payload,
                    uint64_t len)
{
    unsigned char h[10];
    size_t hlen;
    h[0] = b0;
    if (len < 126) {
        h[1] = (unsigned char)len;
        hlen = 2;
    } else if (len < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hlen = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        hlen = 10;
    }
    evbuffer_add(c->wbuf, h, hlen);
    if (len)
        evbuffer_add(c->wbuf, payload, (size_t)len);
}

/* Sends a close frame with <code> and closes once it is written. */
static void ws_fail(struct dp_conn *c, unsigned code)
{
    unsigned char p[2] = {(unsigned char)(code >> 8), (unsigned char)code};
    ws_send(c, 0x80 | WS_CLOSE, p, 2);
    dp_close_after_write(c);
}

void dp_ws_process(struct dp_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    while (c->state == DP_WEBSOCKET) {
        if (evbuffer_get_length(out) + evbuffer_get_length(c->wbuf) > DP_OUT_HIGH) {
            /* The client is not reading its echoes: stop reading its frames. */
            c->ws_paused = 1;
            dp_flush(c);
            bufferevent_disable(c->bev, EV_READ);
            bufferevent_setwatermark(c->bev, EV_WRITE, DP_OUT_LOW, 0);
            return;
        }
        if (c->ws_paused) {
            c->ws_paused = 0;
            bufferevent_enable(c->bev, EV_READ);
            bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
        }
        unsigned char h[14];
        size_t avail = evbuffer_get_length(in);
        if (avail < 2)
            return;
        evbuffer_copyout(in, h, avail < sizeof(h) ? avail : sizeof(h));
        unsigned fin_op = h[0], opcode = h[0] & 0x0f;
        int masked = h[1] & 0x80;
        uint64_t len = h[1] & 0x7f;
        size_t hlen = 2;
        if (len == 126) {
            if (avail < 4)
                return;
            len = ((uint64_t)h[2] << 8) | h[3];
            hlen = 4;
        } else if (len == 127) {
            if (avail < 10)
                return;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | h[2 + i];
            hlen = 10;
        }
        if (h[0] & 0x70) { /* no extension was negotiated: RSV bits must be 0 */
            ws_fail(c, 1002);
            return;
        }
        if (!masked) { /* RFC 6455 5.1: a server closes on an unmasked client frame */
            ws_fail(c, 1002);
            return;
        }
        if (len > WS_MAX_PAYLOAD || (opcode >= 8 && len > 125)) {
            ws_fail(c, len > WS_MAX_PAYLOAD ? 1009 : 1002);
            return;
        }
        size_t total = hlen + 4 + (size_t)len;
        if (avail < total) {
            /* Let the input grow to hold the whole frame. */
            if (total > DP_IN_HIGH)
                bufferevent_setwatermark(c->bev, EV_READ, 0, total);
            return;
        }
        unsigned char mask[4];
        memcpy(mask, h + hlen, 4);
        evbuffer_drain(in, hlen + 4);
        unsigned char *payload = len ? malloc((size_t)len) : NULL;
        if (len && !payload) {
            ws_fail(c, 1011);
            return;
        }
        evbuffer_remove(in, payload, (size_t)len);
        for (uint64_t i = 0; i < len; i++)
            payload[i] ^= mask[i & 3];
        bufferevent_setwatermark(c->bev, EV_READ, 0, DP_IN_HIGH);

        switch (opcode) {
        case WS_CONT:
        case WS_TEXT:
        case WS_BINARY:
            ws_send(c, (unsigned char)(fin_op & 0x8f), payload, len);
            break;
        case WS_PING:
            ws_send(c, 0x80 | WS_PONG, payload, len);
            break;
        case WS_PONG:
            break;
        case WS_CLOSE:
            /* Echo the status code (if any) back, then close. */
            ws_send(c, 0x80 | WS_CLOSE, payload, len >= 2 ? 2 : 0);
            dp_close_after_write(c);
            break;
        default:
            ws_fail(c, 1002);
            break;
        }
        free(payload);
    }
}
