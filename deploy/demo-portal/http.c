/* http.c — one HTTP/1.1 client connection of the demo portal: reads through a bufferevent,
 * frames requests with http-parser (keep-alive, pipelining answered in order, chunked bodies,
 * 100-continue), writes responses straight to the socket when nothing is queued, and streams
 * generated bodies under write watermarks. Endpoints: endpoints.c; WebSocket: websocket.c. */
#include "portal.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static atomic_uint_fast64_t conn_serial;

/* 1 + n bytes of 0..250 repeating: any offset i % 251 starts a run of at least 64 KiB, so
 * generated bodies are added by reference, without copying. */
#define PATTERN_RUN (64 * 1024)
static char pattern[251 + PATTERN_RUN];
static char fill_x[PATTERN_RUN], fill_y[PATTERN_RUN];
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

static void pattern_init(void)
{
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (char)(i % 251);
    memset(fill_x, 'x', sizeof(fill_x));
    memset(fill_y, 'y', sizeof(fill_y));
}

uint64_t dp_conn_next_id(void)
{
    return (uint64_t)atomic_fetch_add(&conn_serial, 1) + 1;
}

/* ---- request accumulation ------------------------------------------------------------ */

/* Appends <n> bytes to the request arena. Returns 0 or -ENOMEM. */
static int arena_append(struct dp_request *r, const char *p, size_t n)
{
    if (r->arena_len + n > r->arena_cap) {
        size_t cap = r->arena_cap ? r->arena_cap : 1024;
        while (cap < r->arena_len + n)
            cap *= 2;
        char *a = realloc(r->arena, cap);
        if (!a)
            return -ENOMEM;
        r->arena = a;
        r->arena_cap = cap;
    }
    memcpy(r->arena + r->arena_len, p, n);
    r->arena_len += n;
    return 0;
}

static int arena_terminate(struct dp_request *r)
{
    return arena_append(r, "", 1);
}

static void request_reset(struct dp_request *r)
{
    r->arena_len = 0;
    r->url_off = r->url_len = 0;
    r->nheaders = 0;
    r->last_cb = 0;
    r->head_bytes = 0;
    r->head_error = 0;
    free(r->path);
    free(r->query);
    r->path = r->query = NULL;
    r->endpoint = DP_EP_PAGE;
    r->hash_body = 0;
    r->body_bytes = 0;
}

/* Counts head bytes against DP_HEAD_MAX_BYTES; returns -1 (and sets 431) when over. */
static int head_account(struct dp_request *r, size_t len)
{
    r->head_bytes += len;
    if (r->head_bytes > DP_HEAD_MAX_BYTES) {
        r->head_error = 431;
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct dp_conn *c = p->data;
    request_reset(&c->req);
    c->jwt_parked = c->jwt_waited = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct dp_request *r = &((struct dp_conn *)p->data)->req;
    if (r->url_len + len > DP_URL_MAX_BYTES) {
        r->head_error = 414;
        return -1;
    }
    if (head_account(r, len) < 0)
        return -1;
    if (r->url_len == 0)
        r->url_off = (uint32_t)r->arena_len;
    if (arena_append(r, at, len) < 0)
        return -1;
    r->url_len += (uint32_t)len;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct dp_request *r = &((struct dp_conn *)p->data)->req;
    if (head_account(r, len) < 0)
        return -1;
    if (r->last_cb != 1) {
        /* A new header: close the URL or the previous value first. */
        if (arena_terminate(r) < 0)
            return -1;
        if (r->nheaders == r->headers_cap) {
            size_t cap = r->headers_cap ? r->headers_cap * 2 : 16;
            struct dp_header *h = realloc(r->headers, cap * sizeof(*h));
            if (!h)
                return -1;
            r->headers = h;
            r->headers_cap = cap;
        }
        struct dp_header *h = &r->headers[r->nheaders++];
        h->name_off = (uint32_t)r->arena_len;
        h->name_len = h->value_off = h->value_len = 0;
        r->last_cb = 1;
    }
    if (arena_append(r, at, len) < 0)
        return -1;
    r->headers[r->nheaders - 1].name_len += (uint32_t)len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct dp_request *r = &((struct dp_conn *)p->data)->req;
    if (head_account(r, len) < 0)
        return -1;
    struct dp_header *h = &r->headers[r->nheaders - 1];
    if (r->last_cb != 2) {
        if (arena_terminate(r) < 0)
            return -1;
        h->value_off = (uint32_t)r->arena_len;
        r->last_cb = 2;
    }
    if (arena_append(r, at, len) < 0)
        return -1;
    h->value_len += (uint32_t)len;
    return 0;
}

static char *strndup_or_empty(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* The head is complete: split the URL, choose the endpoint, send 100 Continue if asked. */
static int on_headers_complete(http_parser *p)
{
    struct dp_conn *c = p->data;
    struct dp_request *r = &c->req;
    if (arena_terminate(r) < 0)
        return -1;
    const char *url = r->arena + r->url_off;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(url, r->url_len, p->method == HTTP_CONNECT, &u) != 0) {
        r->head_error = 400;
        return -1;
    }
    if (u.field_set & (1 << UF_PATH))
        r->path = strndup_or_empty(url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
    else
        r->path = strndup_or_empty("/", 1);
    if (u.field_set & (1 << UF_QUERY))
        r->query = strndup_or_empty(url + u.field_data[UF_QUERY].off,
                                    u.field_data[UF_QUERY].len);
    else
        r->query = strndup_or_empty("", 0);
    if (!r->path || !r->query)
        return -1;

    r->endpoint = dp_endpoint_classify(r->path, (enum http_method)p->method);
    r->hash_body = r->endpoint == DP_EP_ECHO || r->endpoint == DP_EP_UPLOAD ||
                   (r->endpoint == DP_EP_PAGE && p->method != HTTP_GET && p->method != HTTP_HEAD);
    if (r->hash_body && EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL) != 1)
        return -1;
    c->keep_alive = http_should_keep_alive(p);

    int has_body = (p->flags & F_CHUNKED) ||
                   (p->content_length > 0 && p->content_length != ULLONG_MAX);
    const char *expect = dp_header_get(c, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && has_body &&
        p->http_major == 1 && p->http_minor >= 1) {
        DP_ADD_LIT(c->wbuf, "HTTP/1.1 100 Continue\r\n\r\n");
        dp_flush(c);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct dp_request *r = &((struct dp_conn *)p->data)->req;
    r->body_bytes += len;
    if (r->hash_body && EVP_DigestUpdate(r->sha, at, len) != 1)
        return -1;
    return 0;
}

/* Pause here: execute() then returns exactly the bytes of this message, so pipelined
 * requests stay in the input until this one has been answered. */
static int on_message_complete(http_parser *p)
{
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

const char *dp_header_get(const struct dp_conn *c, const char *name)
{
    const struct dp_request *r = &c->req;
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->arena + r->headers[i].name_off, name) == 0)
            return r->arena + r->headers[i].value_off;
    return NULL;
}

/* ---- responses ----------------------------------------------------------------------- */

const char *dp_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

/* <extra> starting with "Connection:" replaces the Connection header this function adds. */
void dp_respond_head(struct dp_conn *c, int status, const char *content_type,
                     int64_t content_length, const char *extra)
{
    struct evbuffer *b = c->wbuf;
    evbuffer_add_printf(b, "HTTP/1.1 %d %s\r\nX-Demo-Portal: %s\r\nX-Demo-Conn: %llu\r\n",
                        status, dp_status_reason(status), c->cfg->title,
                        (unsigned long long)c->id);
    if (content_type)
        evbuffer_add_printf(b, "Content-Type: %s\r\n", content_type);
    if (content_length >= 0)
        evbuffer_add_printf(b, "Content-Length: %lld\r\n", (long long)content_length);
    if (!(extra && strncasecmp(extra, "Connection:", 11) == 0)) {
        if (!c->keep_alive)
            DP_ADD_LIT(b, "Connection: close\r\n");
        else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
            DP_ADD_LIT(b, "Connection: keep-alive\r\n");
    }
    if (extra)
        evbuffer_add(b, extra, strlen(extra));
    DP_ADD_LIT(b, "\r\n");
}

void dp_respond(struct dp_conn *c, int status, const char *content_type, const char *extra,
                const void *body, size_t len)
{
    int bodyless = status == 204 || status == 304;
    dp_respond_head(c, status, content_type, bodyless ? -1 : (int64_t)len, extra);
    if (!bodyless && c->parser.method != HTTP_HEAD && len)
        evbuffer_add(c->wbuf, body, len);
}

void dp_flush(struct dp_conn *c)
{
    if (evbuffer_get_length(c->wbuf) == 0 || c->write_failed)
        return;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) == 0) {
        /* Nothing queued: one direct write saves the bufferevent's enable-write, write on
         * the next loop pass, disable-write round (LIBRARY-FACTS.md). */
        int n = evbuffer_write(c->wbuf, c->fd);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            c->write_failed = 1;
            evbuffer_drain(c->wbuf, evbuffer_get_length(c->wbuf));
            return;
        }
    }
    if (evbuffer_get_length(c->wbuf))
        evbuffer_add_buffer(out, c->wbuf);
}

void dp_close_after_write(struct dp_conn *c)
{
    c->state = DP_CLOSING;
    c->keep_alive = 0;
    c->gen.active = 0;
    if (c->timer)
        event_del(c->timer);
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

/* ---- generated bodies ---------------------------------------------------------------- */

/* Produces body bytes while less than DP_OUT_HIGH is queued. Returns when the socket is full
 * (the write callback resumes at DP_OUT_LOW), after a bounded burst, or when done. */
static void gen_pump(struct dp_conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct dp_gen *g = &c->gen;
    for (int round = 0; g->active; round++) {
        while (g->left > 0 &&
               evbuffer_get_length(out) + evbuffer_get_length(c->wbuf) < DP_OUT_HIGH) {
            size_t n = g->left < PATTERN_RUN ? (size_t)g->left : PATTERN_RUN;
            const char *src = g->fill == 'x' ? fill_x
                              : g->fill == 'y' ? fill_y
                              : pattern + g->offset % 251;
            if (g->chunked)
                evbuffer_add_printf(c->wbuf, "%zx\r\n", n);
            evbuffer_add_reference(c->wbuf, src, n, NULL, NULL);
            if (g->chunked)
                DP_ADD_LIT(c->wbuf, "\r\n");
            g->left -= n;
            g->offset += n;
        }
        if (g->left == 0) {
            if (g->chunked)
                DP_ADD_LIT(c->wbuf, "0\r\n\r\n");
            dp_flush(c);
            dp_response_done(c);
            return;
        }
        if (round >= 16) {
            /* Long burst: let the event loop serve other connections; the write callback
             * takes over from here. */
            evbuffer_add_buffer(out, c->wbuf);
            return;
        }
        dp_flush(c);
        if (c->write_failed || evbuffer_get_length(out) > 0)
            return;
    }
}

void dp_gen_start(struct dp_conn *c, uint64_t bytes, int chunked, char fill)
{
    c->state = DP_RESPONDING;
    if (c->parser.method == HTTP_HEAD) {
        dp_response_done(c);
        return;
    }
    c->gen.active = 1;
    c->gen.chunked = chunked;
    c->gen.fill = fill;
    c->gen.left = bytes;
    c->gen.offset = 0;
    bufferevent_setwatermark(c->bev, EV_WRITE, DP_OUT_LOW, 0);
    gen_pump(c);
}

static void conn_process(struct dp_conn *c);

void dp_response_done(struct dp_conn *c)
{
    c->gen.active = 0;
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    if (!c->keep_alive) {
        dp_close_after_write(c);
        return;
    }
    c->state = DP_READING;
    if (!c->in_process)
        conn_process(c); /* pipelined requests may be waiting in the input */
}

/* ---- the connection ------------------------------------------------------------------ */

static void conn_free(struct dp_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *c->list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->timer)
        event_free(c->timer);
    bufferevent_free(c->bev);
    evbuffer_free(c->wbuf);
    request_reset(&c->req);
    free(c->req.arena);
    free(c->req.headers);
    EVP_MD_CTX_free(c->req.sha);
    free(c);
}

/* The parser stopped on an error: answer it (400, 414 or 431) and close. */
static void fail_request(struct dp_conn *c)
{
    int status = c->req.head_error ? c->req.head_error : 400;
    char body[128];
    int n = snprintf(body, sizeof(body), "%d %s: %s\n", status, dp_status_reason(status),
                     http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
    c->keep_alive = 0;
    c->parser.method = HTTP_GET; /* never HEAD: always send the explanation */
    dp_respond(c, status, "text/plain", NULL, body, (size_t)n);
    dp_close_after_write(c);
}

static void request_complete(struct dp_conn *c)
{
    c->requests++;
    if (!c->cfg->quiet)
        fprintf(stderr, "demo-portal[%s] conn=%llu req=%llu %s %s\n", c->cfg->title,
                (unsigned long long)c->id, (unsigned long long)c->requests,
                http_method_str((enum http_method)c->parser.method), c->req.path);
    if (c->parser.upgrade) {
        /* http-parser does not parse past an upgrade request: this is the last one. */
        c->keep_alive = 0;
        if (c->req.endpoint == DP_EP_WS) {
            dp_ws_handshake(c);
            return;
        }
    }
    dp_endpoint_dispatch(c);
    if (c->state == DP_READING && !c->keep_alive)
        dp_close_after_write(c);
}

/* Parses and answers every complete request in the input, in order, until an asynchronous
 * response starts or the connection closes. Never frees <c>. */
static void conn_process(struct dp_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    c->in_process = 1;
    while (c->state == DP_READING && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t n = http_parser_execute(&c->parser, &parser_settings, v.iov_base, v.iov_len);
        enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
        evbuffer_drain(in, n);
        if (err == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            request_complete(c);
        } else if (err != HPE_OK || n != v.iov_len) {
            fail_request(c);
        }
    }
    c->in_process = 0;
    if (c->state == DP_WEBSOCKET)
        dp_ws_process(c);
}

void dp_conn_settle(struct dp_conn *c)
{
    dp_flush(c);
    if (c->write_failed) {
        conn_free(c);
        return;
    }
    if (c->state == DP_CLOSING && evbuffer_get_length(c->wbuf) == 0 &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        if (c->peer_eof) {
            conn_free(c);
            return;
        }
        /* Lingering close: shut our side, then read until the client closes (or 2 s), so
         * unread request bytes do not turn our close into a reset that eats the response. */
        shutdown(c->fd, SHUT_WR);
        c->state = DP_LINGER;
        struct timeval tv = {2, 0};
        bufferevent_set_timeouts(c->bev, &tv, NULL);
        bufferevent_enable(c->bev, EV_READ);
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct dp_conn *c = arg;
    if (c->state == DP_LINGER) {
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if (c->state == DP_READING || c->state == DP_WEBSOCKET)
        conn_process(c);
    dp_conn_settle(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct dp_conn *c = arg;
    if (c->state == DP_RESPONDING && c->gen.active)
        gen_pump(c);
    else if (c->state == DP_WEBSOCKET && c->ws_paused)
        dp_ws_process(c);
    dp_conn_settle(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct dp_conn *c = arg;
    if ((what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) || c->state == DP_LINGER ||
        c->state == DP_WEBSOCKET) {
        conn_free(c);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        /* Half-close: answer what was received, then close. */
        c->peer_eof = 1;
        c->keep_alive = 0;
        if (c->state == DP_READING)
            dp_close_after_write(c);
        dp_conn_settle(c);
    }
}

void dp_conn_free_all(struct dp_conn **list)
{
    while (*list)
        conn_free(*list);
}

void dp_accept(struct event_base *base, evutil_socket_t fd, const struct dp_config *cfg,
               struct dp_conn **list)
{
    pthread_once(&pattern_once, pattern_init);
    struct dp_conn *c = calloc(1, sizeof(*c));
    if (!c)
        goto fail;
    c->cfg = cfg;
    c->fd = fd;
    c->id = dp_conn_next_id();
    c->state = DP_READING;
    c->wbuf = evbuffer_new();
    c->req.sha = EVP_MD_CTX_new();
    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->wbuf || !c->req.sha || !c->bev)
        goto fail;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, DP_IN_HIGH);
    bufferevent_enable(c->bev, EV_READ);
    c->list = list;
    c->next = *list;
    if (*list)
        (*list)->prev = c;
    *list = c;
    return;
fail:
    fprintf(stderr, "demo-portal: out of memory accepting a connection\n");
    if (c) {
        if (c->bev)
            bufferevent_free(c->bev);
        else
            evutil_closesocket(fd);
        if (c->wbuf)
            evbuffer_free(c->wbuf);
        EVP_MD_CTX_free(c->req.sha);
        free(c);
    } else {
        evutil_closesocket(fd);
    }
}
