/* endpoints.c — what the demo portal answers, chosen by the last path segment (/echo,
 * /operator/echo, /ssp/x/echo all echo): echo, upload, download, stream, nolength, slow,
 * status, broken, headers, ws (websocket.c) and the HTML page for everything else.
 * Called by http.c once a request (head and body) is complete. */
#include "portal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

static const struct {
    const char *segment;
    enum dp_endpoint endpoint;
} endpoint_names[] = {
    {"echo", DP_EP_ECHO},         {"upload", DP_EP_UPLOAD}, {"download", DP_EP_DOWNLOAD},
    {"stream", DP_EP_STREAM},     {"nolength", DP_EP_NOLENGTH}, {"slow", DP_EP_SLOW},
    {"status", DP_EP_STATUS},     {"broken", DP_EP_BROKEN}, {"ws", DP_EP_WS},
    {"headers", DP_EP_HEADERS},
};

enum dp_endpoint dp_endpoint_classify(const char *path, enum http_method method)
{
    const char *last = strrchr(path, '/');
    last = last ? last + 1 : path;
    for (size_t i = 0; i < sizeof(endpoint_names) / sizeof(endpoint_names[0]); i++)
        if (strcmp(last, endpoint_names[i].segment) == 0)
            return endpoint_names[i].endpoint;
    return DP_EP_PAGE;
}

long long dp_query_int(const char *query, const char *key, long long def)
{
    size_t klen = strlen(key);
    for (const char *p = query; p && *p;) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            char *end;
            errno = 0;
            long long v = strtoll(p + klen + 1, &end, 10);
            if (errno || end == p + klen + 1 || (*end && *end != '&'))
                return def;
            return v;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return def;
}

/* Query parameter <key> copied into <buf> (truncated), or "" when absent. */
static const char *query_str(const char *query, const char *key, char *buf, size_t size)
{
    size_t klen = strlen(key);
    buf[0] = '\0';
    for (const char *p = query; p && *p;) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            p += klen + 1;
            size_t n = strcspn(p, "&");
            if (n >= size)
                n = size - 1;
            memcpy(buf, p, n);
            buf[n] = '\0';
            break;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return buf;
}

/* ---- JSON and HTML text -------------------------------------------------------------- */

/* Length of a valid UTF-8 sequence at <s> (at most <n> bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Appends <s> as a JSON string. Bytes that are not valid UTF-8 are read as Latin-1. */
static void json_str(struct evbuffer *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    DP_ADD_LIT(b, "\"");
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    for (size_t i = 0; i < n;) {
        unsigned char ch = u[i];
        size_t seq = ch >= 0x80 ? utf8_seq(u + i, n - i) : 0;
        if (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f && (ch < 0x80 || seq)) {
            i += seq ? seq : 1;
            continue;
        }
        evbuffer_add(b, s + run, i - run);
        if (ch == '"' || ch == '\\')
            evbuffer_add_printf(b, "\\%c", ch);
        else
            evbuffer_add_printf(b, "\\u%04x", ch);
        run = ++i;
    }
    evbuffer_add(b, s + run, n - run);
    DP_ADD_LIT(b, "\"");
}

static void html_text(struct evbuffer *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': DP_ADD_LIT(b, "&amp;"); break;
        case '<': DP_ADD_LIT(b, "&lt;"); break;
        case '>': DP_ADD_LIT(b, "&gt;"); break;
        case '"': DP_ADD_LIT(b, "&quot;"); break;
        case '\'': DP_ADD_LIT(b, "&#39;"); break;
        default: evbuffer_add(b, s, 1);
        }
    }
}

/* Sends <body> (consumed) as a complete response. */
static void respond_buffer(struct dp_conn *c, int status, const char *type, const char *extra,
                           struct evbuffer *body)
{
    size_t len = evbuffer_get_length(body);
    dp_respond_head(c, status, type, (int64_t)len, extra);
    if (c->parser.method != HTTP_HEAD)
        evbuffer_add_buffer(c->wbuf, body);
    evbuffer_free(body);
}

static void respond_text(struct dp_conn *c, int status, const char *text)
{
    dp_respond(c, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

static void body_sha256_hex(struct dp_conn *c, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!c->req.hash_body)
        EVP_DigestInit_ex(c->req.sha, EVP_sha256(), NULL);
    EVP_DigestFinal_ex(c->req.sha, md, &len);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = '\0';
}

/* ---- endpoints ----------------------------------------------------------------------- */

/* The "jwt" member of /echo: {"verified": true, "claims": {...}} or {"verified": false,
 * "error": "..."}. */
static void json_jwt(struct evbuffer *b, const struct dp_jwt_result *jr)
{
    if (jr->status == DP_JWT_VERIFIED) {
        char *claims = json_dumps(jr->claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
        DP_ADD_LIT(b, "{\"verified\": true, \"claims\": ");
        if (claims)
            evbuffer_add(b, claims, strlen(claims));
        else
            DP_ADD_LIT(b, "null");
        DP_ADD_LIT(b, "}");
        free(claims);
        return;
    }
    const char *why = jr->status == DP_JWT_NONE ? "no token" : jr->error;
    DP_ADD_LIT(b, "{\"verified\": false, \"error\": ");
    json_str(b, why, strlen(why));
    DP_ADD_LIT(b, "}");
}

/* <jr>: the token check when the portal verifies tokens (--jwks-url), else NULL. */
static void answer_echo(struct dp_conn *c, const struct dp_jwt_result *jr)
{
    struct dp_request *r = &c->req;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        respond_text(c, 500, "out of memory\n");
        return;
    }
    char hex[65], version[16];
    body_sha256_hex(c, hex);
    const char *method = http_method_str((enum http_method)c->parser.method);
    snprintf(version, sizeof(version), "%u.%u", c->parser.http_major, c->parser.http_minor);
    DP_ADD_LIT(b, "{\"portal\": ");
    json_str(b, c->cfg->title, strlen(c->cfg->title));
    DP_ADD_LIT(b, ", \"method\": ");
    json_str(b, method, strlen(method));
    DP_ADD_LIT(b, ", \"path\": ");
    json_str(b, r->path, strlen(r->path));
    DP_ADD_LIT(b, ", \"query\": ");
    json_str(b, r->query, strlen(r->query));
    evbuffer_add_printf(b, ", \"http_version\": \"%s\", \"headers\": [", version);
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct dp_header *h = &r->headers[i];
        evbuffer_add(b, i ? ", [" : "[", i ? 3 : 1);
        json_str(b, r->arena + h->name_off, h->name_len);
        DP_ADD_LIT(b, ", ");
        json_str(b, r->arena + h->value_off, h->value_len);
        DP_ADD_LIT(b, "]");
    }
    DP_ADD_LIT(b, "]");
    if (jr) {
        DP_ADD_LIT(b, ", \"jwt\": ");
        json_jwt(b, jr);
    }
    evbuffer_add_printf(b,
                        ", \"body_bytes\": %llu, \"body_sha256\": \"%s\", \"conn_id\": %llu, "
                        "\"conn_requests\": %llu}\n",
                        (unsigned long long)r->body_bytes, hex, (unsigned long long)c->id,
                        (unsigned long long)c->requests);
    respond_buffer(c, 200, "application/json", NULL, b);
}

static void answer_upload(struct dp_conn *c)
{
    char hex[65], body[160];
    body_sha256_hex(c, hex);
    int n = snprintf(body, sizeof(body), "{\"bytes\": %llu, \"sha256\": \"%s\"}\n",
                     (unsigned long long)c->req.body_bytes, hex);
    dp_respond(c, 200, "application/json", NULL, body, (size_t)n);
}

static void answer_download(struct dp_conn *c)
{
    long long bytes = dp_query_int(c->req.query, "bytes", 1024);
    int chunked = dp_query_int(c->req.query, "chunked", 0) == 1;
    if (bytes < 0) {
        respond_text(c, 400, "bytes must be >= 0\n");
        return;
    }
    dp_respond_head(c, 200, "application/octet-stream", chunked ? -1 : bytes,
                    chunked ? "Transfer-Encoding: chunked\r\n" : NULL);
    dp_gen_start(c, (uint64_t)bytes, chunked, 0);
}

static void answer_nolength(struct dp_conn *c)
{
    long long bytes = dp_query_int(c->req.query, "bytes", 1024);
    if (bytes < 0) {
        respond_text(c, 400, "bytes must be >= 0\n");
        return;
    }
    c->keep_alive = 0; /* the body ends when the connection does */
    dp_respond_head(c, 200, "application/octet-stream", -1, NULL);
    dp_gen_start(c, (uint64_t)bytes, 0, 'y');
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

#define JWT_POLL_MS 20

/* Arms the connection's one-shot timer for <ms> milliseconds. Returns 0 or -ENOMEM. */
static int timer_arm(struct dp_conn *c, long long ms)
{
    if (!c->timer) {
        c->timer = event_new(bufferevent_get_base(c->bev), -1, 0, on_timer, c);
        if (!c->timer)
            return -ENOMEM;
    }
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(c->timer, &tv);
    return 0;
}

/* One chunk of the /stream response; the last one also ends the body. */
static void stream_next(struct dp_conn *c)
{
    if (c->stream_left > 0) {
        evbuffer_add_printf(c->wbuf, "%zx\r\n", c->stream_size);
        for (size_t left = c->stream_size; left;) {
            static const char xs[4096] = {[0 ... 4095] = 'x'};
            size_t n = left < sizeof(xs) ? left : sizeof(xs);
            evbuffer_add(c->wbuf, xs, n);
            left -= n;
        }
        DP_ADD_LIT(c->wbuf, "\r\n");
        c->stream_left--;
    }
    if (c->stream_left == 0) {
        DP_ADD_LIT(c->wbuf, "0\r\n\r\n");
        dp_flush(c);
        dp_response_done(c);
        return;
    }
    dp_flush(c);
    if (timer_arm(c, c->interval_ms) < 0)
        dp_close_after_write(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct dp_conn *c = arg;
    if (c->state != DP_RESPONDING)
        return;
    if (c->jwt_parked) {
        /* waiting for a JWKS fetch: answer once it ended (or at the deadline) */
        if (dp_jwks_attempts() == c->jwt_attempts && dp_now_ms() < c->jwt_deadline_ms) {
            if (timer_arm(c, JWT_POLL_MS) < 0)
                dp_close_after_write(c);
            dp_conn_settle(c);
            return;
        }
        c->jwt_parked = 0;
        dp_endpoint_dispatch(c);
        dp_flush(c);
        dp_response_done(c);
    } else if (c->req.endpoint == DP_EP_SLOW) {
        dp_respond(c, 200, "text/plain", NULL, "slow done", 9);
        dp_flush(c);
        dp_response_done(c);
    } else {
        stream_next(c);
    }
    dp_conn_settle(c);
}

static void answer_stream(struct dp_conn *c)
{
    long long chunks = dp_query_int(c->req.query, "chunks", 5);
    long long size = dp_query_int(c->req.query, "size", 16);
    long long interval = dp_query_int(c->req.query, "interval_ms", 100);
    if (chunks < 0 || chunks > 1000000 || size < 1 || size > 1048576 || interval < 0 ||
        interval > 3600000) {
        respond_text(c, 400, "chunks 0..1000000, size 1..1048576, interval_ms 0..3600000\n");
        return;
    }
    dp_respond_head(c, 200, "text/plain", -1, "Transfer-Encoding: chunked\r\n");
    c->state = DP_RESPONDING;
    if (c->parser.method == HTTP_HEAD) {
        dp_response_done(c);
        return;
    }
    c->stream_left = (int)chunks;
    c->stream_size = (size_t)size;
    c->interval_ms = (int)interval;
    stream_next(c); /* the first chunk goes out at once, the next ones every interval_ms */
}

static void answer_slow(struct dp_conn *c)
{
    long long ms = dp_query_int(c->req.query, "delay_ms", 1000);
    if (ms < 0 || ms > 3600000) {
        respond_text(c, 400, "delay_ms 0..3600000\n");
        return;
    }
    c->state = DP_RESPONDING;
    if (timer_arm(c, ms) < 0) {
        c->state = DP_READING;
        respond_text(c, 500, "out of memory\n");
    }
}

static void answer_status(struct dp_conn *c)
{
    long long code = dp_query_int(c->req.query, "code", 200);
    if (code < 200 || code > 599) {
        respond_text(c, 400, "code must be 200..599\n");
        return;
    }
    char body[64];
    snprintf(body, sizeof(body), "status %lld\n", code);
    respond_text(c, (int)code, body);
}

/* Deliberately broken responses; the connection closes after each. */
static void answer_broken(struct dp_conn *c)
{
    char kind[32], ids[256];
    query_str(c->req.query, "kind", kind, sizeof(kind));
    snprintf(ids, sizeof(ids), "X-Demo-Portal: %s\r\nX-Demo-Conn: %llu\r\n", c->cfg->title,
             (unsigned long long)c->id);
    struct evbuffer *b = c->wbuf;
    if (strcmp(kind, "double_cl") == 0) {
        evbuffer_add_printf(b, "HTTP/1.1 200 OK\r\n%sContent-Length: 5\r\nContent-Length: 6\r\n"
                               "Connection: close\r\n\r\nhello!", ids);
    } else if (strcmp(kind, "te_cl") == 0) {
        evbuffer_add_printf(b, "HTTP/1.1 200 OK\r\n%sTransfer-Encoding: chunked\r\n"
                               "Content-Length: 5\r\nConnection: close\r\n\r\n"
                               "5\r\nhello\r\n0\r\n\r\n", ids);
    } else if (strcmp(kind, "bad_chunk") == 0) {
        evbuffer_add_printf(b, "HTTP/1.1 200 OK\r\n%sTransfer-Encoding: chunked\r\n"
                               "Connection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", ids);
    } else if (strcmp(kind, "garbage") == 0) {
        DP_ADD_LIT(b, "\x01\x02GARBAGE this is not HTTP \xff\xfe\r\n\r\n");
    } else if (strcmp(kind, "truncated") == 0) {
        evbuffer_add_printf(b, "HTTP/1.1 200 OK\r\n%sContent-Length: 100\r\n"
                               "Connection: close\r\n\r\n0123456789", ids);
    } else if (strcmp(kind, "bare_lf") == 0) {
        evbuffer_add_printf(b, "HTTP/1.1 200 OK\nX-Demo-Portal: %s\nX-Demo-Conn: %llu\n"
                               "Content-Length: 5\nConnection: close\n\nhello", c->cfg->title,
                            (unsigned long long)c->id);
    } else if (strcmp(kind, "space_colon") == 0) {
        evbuffer_add_printf(b, "HTTP/1.1 200 OK\r\n%sContent-Length : 5\r\n"
                               "Connection: close\r\n\r\nhello", ids);
    } else {
        respond_text(c, 400, "kind: double_cl te_cl bad_chunk garbage truncated bare_lf "
                             "space_colon\n");
        return;
    }
    dp_close_after_write(c);
}

static void answer_headers(struct dp_conn *c)
{
    const char *extra = c->keep_alive
        ? "Connection: X-Hop-Test, keep-alive\r\nX-Hop-Test: 1\r\nKeep-Alive: timeout=5\r\n"
          "Proxy-Authenticate: Basic\r\nTrailer: X-Trailer\r\nX-End-To-End: kept\r\n"
        : "Connection: X-Hop-Test, close\r\nX-Hop-Test: 1\r\nKeep-Alive: timeout=5\r\n"
          "Proxy-Authenticate: Basic\r\nTrailer: X-Trailer\r\nX-End-To-End: kept\r\n";
    dp_respond(c, 200, "text/plain", extra, "headers", 7);
}

static int is_identity_header(const char *name)
{
    static const char *const names[] = {"X-Forwarded-For", "X-Forwarded-Proto",
                                        "X-Forwarded-Host", "Forwarded", "Via",
                                        "X-Request-Id", "X-Forwarded-User"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return strncasecmp(name, "X-Auth-", 7) == 0 || strncasecmp(name, "X-Forwarded-User", 16) == 0;
}

/* One claim value as text: strings as they are, arrays joined by ", ", numbers, booleans;
 * "exp"/"iat"/"nbf" also as a UTC date. */
static void html_claim(struct evbuffer *b, const char *name, json_t *v)
{
    if (json_is_string(v)) {
        html_text(b, json_string_value(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (i)
                DP_ADD_LIT(b, ", ");
            html_claim(b, "", e);
        }
    } else if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        evbuffer_add_printf(b, "%" JSON_INTEGER_FORMAT, n);
        time_t t = (time_t)n;
        struct tm tm;
        char when[64];
        if ((!strcmp(name, "exp") || !strcmp(name, "iat") || !strcmp(name, "nbf")) &&
            gmtime_r(&t, &tm) && strftime(when, sizeof when, " (%Y-%m-%d %H:%M:%S UTC)", &tm))
            html_text(b, when);
    } else if (json_is_boolean(v)) {
        if (json_is_true(v))
            DP_ADD_LIT(b, "true");
        else
            DP_ADD_LIT(b, "false");
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s)
            html_text(b, s);
        free(s);
    }
}

/* The token section of the page: "Verified token" and its claims, "Token rejected: <why>"
 * or "No token". */
static void html_jwt(struct evbuffer *b, const struct dp_jwt_result *jr)
{
    static const char *const shown[] = {"sub", "sub_type", "roles", "ssp_access", "caller",
                                        "name", "email", "client_id", "scope", "aud", "iss",
                                        "exp"};
    DP_ADD_LIT(b, "<h2 id=\"jwt-status\">");
    if (jr->status == DP_JWT_NONE) {
        DP_ADD_LIT(b, "No token</h2>\n");
        return;
    }
    if (jr->status != DP_JWT_VERIFIED) {
        DP_ADD_LIT(b, "Token rejected: ");
        html_text(b, jr->error);
        DP_ADD_LIT(b, "</h2>\n");
        return;
    }
    DP_ADD_LIT(b, "Verified token</h2>\n<table id=\"jwt-claims\">\n"
                  "<tr><th>Claim</th><th>Value</th></tr>\n");
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
        json_t *v = json_object_get(jr->claims, shown[i]);
        if (!v)
            continue;
        evbuffer_add_printf(b, "<tr><td>%s</td><td>", shown[i]);
        html_claim(b, shown[i], v);
        DP_ADD_LIT(b, "</td></tr>\n");
    }
    DP_ADD_LIT(b, "</table>\n");
}

/* The portal's HTML page: title, the identity headers that reached it and, with --jwks-url,
 * the verified token's claims (<jr>, else NULL). */
static void answer_page(struct dp_conn *c, const struct dp_jwt_result *jr)
{
    struct dp_request *r = &c->req;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        respond_text(c, 500, "out of memory\n");
        return;
    }
    const char *title = c->cfg->title;
    DP_ADD_LIT(b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>");
    html_text(b, title);
    DP_ADD_LIT(b, "</title></head>\n<body><h1>");
    html_text(b, title);
    DP_ADD_LIT(b, "</h1>\n<p>Path: <code>");
    html_text(b, r->path);
    DP_ADD_LIT(b, "</code></p>\n<table id=\"identity\">\n"
                  "<tr><th>Header</th><th>Value</th></tr>\n");
    const char *authz = dp_header_get(c, "Authorization");
    DP_ADD_LIT(b, "<tr><td>Authorization</td><td>");
    if (authz) {
        /* Never the credential itself: only that one came, and its scheme. */
        size_t n = strcspn(authz, " ");
        char scheme[32];
        snprintf(scheme, sizeof(scheme), "%.*s", (int)(n < 31 ? n : 31), authz);
        DP_ADD_LIT(b, "present, scheme ");
        html_text(b, scheme);
    } else {
        DP_ADD_LIT(b, "absent");
    }
    DP_ADD_LIT(b, "</td></tr>\n");
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *name = r->arena + r->headers[i].name_off;
        if (!is_identity_header(name))
            continue;
        DP_ADD_LIT(b, "<tr><td>");
        html_text(b, name);
        DP_ADD_LIT(b, "</td><td>");
        html_text(b, r->arena + r->headers[i].value_off);
        DP_ADD_LIT(b, "</td></tr>\n");
    }
    DP_ADD_LIT(b, "</table>\n");
    if (jr)
        html_jwt(b, jr);
    if (c->cfg->other_url) {
        DP_ADD_LIT(b, "<p><a id=\"other\" href=\"");
        html_text(b, c->cfg->other_url);
        DP_ADD_LIT(b, "\">The other portal</a></p>\n");
    }
    DP_ADD_LIT(b, "</body></html>\n");
    respond_buffer(c, 200, "text/html; charset=utf-8", NULL, b);
}

/* The page and /echo: with --jwks-url the token is checked first; a check that must wait
 * for the JWKS parks the request (c->timer polls, see on_timer). */
static void answer_identity(struct dp_conn *c)
{
    struct dp_jwt_result jr = {0};
    int check = c->cfg->jwks_url != NULL;
    if (check) {
        dp_jwt_check(c, &jr);
        if (jr.status == DP_JWT_WAIT) {
            c->state = DP_RESPONDING;
            if (timer_arm(c, JWT_POLL_MS) < 0) {
                c->state = DP_READING;
                c->jwt_parked = 0;
                respond_text(c, 500, "out of memory\n");
            }
            return;
        }
    }
    if (c->req.endpoint == DP_EP_PAGE &&
        (c->parser.method == HTTP_GET || c->parser.method == HTTP_HEAD))
        answer_page(c, check ? &jr : NULL);
    else
        answer_echo(c, check ? &jr : NULL);
    dp_jwt_result_clear(&jr);
}

void dp_endpoint_dispatch(struct dp_conn *c)
{
    switch (c->req.endpoint) {
    case DP_EP_ECHO: answer_identity(c); break;
    case DP_EP_UPLOAD: answer_upload(c); break;
    case DP_EP_DOWNLOAD: answer_download(c); break;
    case DP_EP_STREAM: answer_stream(c); break;
    case DP_EP_NOLENGTH: answer_nolength(c); break;
    case DP_EP_SLOW: answer_slow(c); break;
    case DP_EP_STATUS: answer_status(c); break;
    case DP_EP_BROKEN: answer_broken(c); break;
    case DP_EP_HEADERS: answer_headers(c); break;
    case DP_EP_WS:
        respond_text(c, 426, "WebSocket upgrade required\n");
        break;
    case DP_EP_PAGE: answer_identity(c); break;
    }
}
