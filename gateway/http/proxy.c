/* gateway/http/proxy.c — forwarding one request upstream and streaming the response back.
 *
 * Request: head rebuilt by gw_headers_build_upstream (hop-by-hop out, forwarding headers in),
 * body moved from the client's input buffer to the upstream's output buffer (Content-Length:
 * whole evbuffer chains, zero copy; chunked: decoded and re-framed). Response: head checked as
 * strictly as a request head (anything broken is a 502 and the upstream connection is
 * dropped), rebuilt by gw_headers_build_response, body moved the same way. Backpressure: a
 * side stops reading while the other side's output holds more than GW_IO_HIGH_WATER and
 * resumes below GW_IO_LOW_WATER, so memory per request stays bounded whatever the body size.
 */
#include "gateway/http/request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_HEAD_MAX 65536u
#define RESP_FIELDS_MAX 256u

static const struct gw_upstream_conf *ucf(const struct gw_req *r)
{
    return &r->wc->cfg->upstreams[r->upstream];
}

static void connect_next(struct gw_req *r, bool fresh);
static void process_response(struct gw_req *r, bool eof);

static void px_timer_off(struct gw_req *r)
{
    if (r->px_tmo_on) {
        event_del(&r->px_tmo);
        r->px_tmo_on = false;
    }
}

/* Drops the upstream connection (never reused) and any wait-queue place. */
static void drop_upstream(struct gw_req *r)
{
    px_timer_off(r);
    if (r->queued && r->srv)
        gw_pool_dequeue(r->srv, r);
    r->queued = false;
    if (r->uc) {
        struct gw_upconn *uc = r->uc;
        r->uc = NULL;
        gw_pool_release(uc, false);
    }
}

/* Fails the request before any response head reached the client (502/503/504...). */
static void fail(struct gw_req *r, int status, const char *detail)
{
    GW_LOG(GW_LOG_WARN, "request %s: upstream %s: %s (%d)", r->request_id, ucf(r)->name, detail,
           status);
    drop_upstream(r);
    r->px = GW_PX_DONE;
    if (r->up_used && !r->up_us)
        r->up_us = gw_now_us() - r->up_start_us;
    if (!r->conn)
        return;
    if (r->responded) {             /* the head is out: all we can do is cut the connection */
        gw_conn_close(r->conn);
        return;
    }
    gw_request_error(r, status, detail, true);
}

/* Cuts the client connection after a response head was sent (truncated or broken body). */
static void abort_client(struct gw_req *r, const char *detail)
{
    GW_LOG(GW_LOG_WARN, "request %s: upstream %s: %s; closing client connection", r->request_id,
           ucf(r)->name, detail);
    drop_upstream(r);
    if (r->conn)
        gw_conn_close(r->conn);
}

/* ---- upstream side: choosing a server, connecting ---- */

static struct gw_upserver *pick_server(struct gw_req *r)
{
    struct gw_upstream_view *v = &r->wc->ups[r->upstream];
    uint64_t now = gw_now_us();
    size_t best = v->rr % v->n;
    for (size_t i = 0; i < v->n; i++) {
        size_t k = (v->rr + i) % v->n;
        if (v->servers[k]->fail_until_us <= now) {
            v->rr = k + 1;
            return v->servers[k];
        }
        if (v->servers[k]->fail_until_us < v->servers[best]->fail_until_us)
            best = k;
    }
    /* Every server failed recently: try the one whose penalty ends first rather than none. */
    v->rr = best + 1;
    return v->servers[best];
}

static void build_head(struct gw_req *r)
{
    struct gw_worker *w = r->w;
    const struct gw_config *cfg = r->wc->cfg;
    const struct gw_upstream_conf *u = ucf(r);
    struct gw_fwd_req f = {
        .method = r->method, .method_len = strlen(r->method),
        .target = r->target, .target_len = r->target_len,
        .fields = r->fields, .nfields = r->h.nfields,
        .conn = &r->conn_tokens,
        .peer_trusted = r->peer_trusted,
        .peer_ip = r->conn ? r->conn->peer_ip : r->client_ip,
        .host = r->host, .host_len = r->host_len,
        .proto = "http",
        .server_name = cfg->server_name,
        .request_id = r->request_id,
        .host_rewrite = u->host_mode == GW_HOST_REWRITE ? u->host_rewrite : NULL,
        .body = r->body,
        .content_length = r->h.content_length,
        .upgrade_websocket = r->upgrade_ws,
        .drop = r->id_drop,
        .drop_arg = r->id_drop_arg,
        .extra = r->id_extra,
    };
    w->scratch.len = 0;
    gw_headers_build_upstream(&w->scratch, &f);
    evbuffer_add(r->uc->io.out, w->scratch.p, w->scratch.len);
    w->scratch.oom = false;
    r->head_queued = true;
}

static int chunk_out(void *arg, const char *data, size_t len)
{
    struct evbuffer *out = arg;
    evbuffer_add_printf(out, "%zx\r\n", len);
    evbuffer_add(out, data, len);
    evbuffer_add(out, "\r\n", 2);
    return 0;
}

/* Moves request body bytes from the client's input to the upstream's output. Returns 0, or
 * -1 when the request was ended (error answered or connection closed). */
static int pump_body(struct gw_req *r)
{
    struct gw_conn *c = r->conn;
    if (!c || !r->uc || !r->head_queued || r->body_done)
        return 0;
    struct evbuffer *in = c->io.in, *out = r->uc->io.out;
    if (r->body == GW_BODY_LENGTH) {
        size_t avail = evbuffer_get_length(in);
        size_t n = avail < r->body_remaining ? avail : (size_t)r->body_remaining;
        if (n) {
            evbuffer_remove_buffer(in, out, n);
            r->body_remaining -= n;
            r->body_seen += n;
            r->bytes_in += n;
        }
        if (r->body_remaining == 0)
            r->body_done = true;
    } else if (r->body == GW_BODY_CHUNKED) {
        while (!r->body_done && evbuffer_get_length(in) > 0) {
            struct evbuffer_iovec v;
            if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
                break;
            size_t before = evbuffer_get_length(out);
            ssize_t k = gw_hp_chunked_feed(&r->body_ch, v.iov_base, v.iov_len, chunk_out, out);
            if (k < 0) {
                /* The upstream connection is dropped (never pooled) and the client closed. */
                if (!r->responded) {
                    drop_upstream(r);
                    gw_request_error(r, 400, "malformed chunked request body", false);
                } else {
                    abort_client(r, "malformed chunked request body");
                }
                return -1;
            }
            evbuffer_drain(in, (size_t)k);
            r->bytes_in += (uint64_t)k;
            size_t added = evbuffer_get_length(out) - before;
            r->body_seen += added;          /* framing included: close enough for the limit */
            if (r->max_body && r->body_seen > r->max_body + 64) {
                if (!r->responded) {
                    drop_upstream(r);
                    gw_request_error(r, 413, "request body larger than this route accepts", false);
                } else {
                    abort_client(r, "request body over the limit");
                }
                return -1;
            }
            if (r->body_ch.done) {
                r->body_done = true;
                evbuffer_add(out, "0\r\n\r\n", 5);
            }
            if (k == 0)
                break;
        }
    }
    if (r->body_done && r->px == GW_PX_SENDING && r->uc->state == GW_UC_BUSY)
        gw_upconn_timer(r->uc, ucf(r)->response_timeout_ms);   /* the wait for the answer */
    return 0;
}

/* Sends whatever is queued for the upstream, then applies backpressure: with more than
 * GW_IO_HIGH_WATER still queued (EV_WRITE is then armed), the client is not read until
 * gw_proxy_upstream_writable sees the queue below GW_IO_LOW_WATER. Returns 0 or -1 (request
 * ended). */
static int flush_upstream(struct gw_req *r)
{
    if (!r->uc)
        return 0;
    if (gw_io_flush(&r->uc->io) < 0) {
        if (!r->resp_any_byte && r->px == GW_PX_SENDING) {
            /* The upstream may have answered early and closed: read what it said. */
            process_response(r, true);
            return -1;
        }
        fail(r, 502, "upstream write failed");
        return -1;
    }
    if (r->conn && !r->client_paused && gw_io_out_len(&r->uc->io) > GW_IO_HIGH_WATER &&
        (r->px == GW_PX_TUNNEL || !r->body_done)) {
        gw_conn_read_on(r->conn, false);
        r->client_paused = true;
    }
    return 0;
}

/* Resumes reading a paused client once the upstream queue is below the low watermark. */
static void maybe_resume_client(struct gw_req *r)
{
    if (r->client_paused && r->conn && r->uc && gw_io_out_len(&r->uc->io) < GW_IO_LOW_WATER) {
        r->client_paused = false;
        gw_conn_read_on(r->conn, true);
    }
}

/* The connection is usable: send head and body, start waiting for the response. */
static void start_sending(struct gw_req *r)
{
    if (!r->head_queued)
        build_head(r);
    if (!r->up_used) {
        r->up_used = true;
        r->up_start_us = gw_now_us();
    }
    r->px = GW_PX_SENDING;
    if (pump_body(r) < 0)
        return;
    if (flush_upstream(r) < 0)
        return;
    maybe_resume_client(r);
    /* Until the body is complete the client's body timer runs; then the response timer. */
    gw_upconn_timer(r->uc, r->body_done ? ucf(r)->response_timeout_ms : 0);
    if (r->conn && !r->body_done)
        gw_conn_arm_timer(r->conn);
}

static void on_queue_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct gw_req *r = arg;
    r->px_tmo_on = false;
    fail(r, 503, "no upstream connection available in time");
}

static void connect_on(struct gw_req *r, struct gw_upserver *s, bool fresh);

static void connect_next(struct gw_req *r, bool fresh)
{
    size_t nservers = r->wc->ups[r->upstream].n;
    if (nservers == 0 || (!fresh && r->tries >= nservers)) {
        fail(r, 502, "no upstream server accepted the connection");
        return;
    }
    struct gw_upserver *s = pick_server(r);
    if (!fresh)
        r->tries++;
    connect_on(r, s, fresh);
}

/* Gets a connection to server <s> for <r> (or a place in its wait queue). */
static void connect_on(struct gw_req *r, struct gw_upserver *s, bool fresh)
{
    r->srv = s;
    r->head_queued = false;
    r->px = GW_PX_WAIT_CONN;
    struct gw_upconn *uc = NULL;
    int rc = gw_pool_acquire(s, r, fresh, &uc);
    if (rc == GW_POOL_READY) {
        r->uc = uc;
        start_sending(r);
    } else if (rc == GW_POOL_CONNECTING) {
        r->uc = uc;
        build_head(r);
        gw_upconn_timer(uc, ucf(r)->connect_timeout_ms);
        pump_body(r);                       /* buffered until the connection is up; may end r */
    } else if (rc == GW_POOL_QUEUED) {
        r->queued = true;
        evtimer_assign(&r->px_tmo, r->w->base, on_queue_timeout, r);
        uint32_t ms = ucf(r)->connect_timeout_ms;
        struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
        evtimer_add(&r->px_tmo, &tv);
        r->px_tmo_on = true;
    } else {
        gw_proxy_upstream_failed(r, -rc);
    }
}

void gw_proxy_start(struct gw_req *r)
{
    struct gw_conn *c = r->conn;
    if (r->expect_continue && gw_io_in_len(&c->io) == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        gw_conn_send(c, cont, sizeof cont - 1);
        if (gw_conn_flush(c) < 0)
            return;
    }
    connect_next(r, false);
}

void gw_proxy_upstream_granted(struct gw_req *r)
{
    px_timer_off(r);
    r->queued = false;
    connect_on(r, r->srv, false);           /* a slot on the server it waited for */
}

void gw_proxy_upstream_connected(struct gw_req *r, struct gw_upconn *uc)
{
    r->uc = uc;
    start_sending(r);
}

void gw_proxy_upstream_failed(struct gw_req *r, int err)
{
    /* The pool has already closed the connection. */
    r->uc = NULL;
    if (err == ECONNREFUSED && r->srv) {
        r->srv->fail_until_us = gw_now_us() + (uint64_t)ucf(r)->fail_timeout_ms * 1000;
        GW_LOG(GW_LOG_WARN, "upstream %s server %s refused the connection; skipped for %u ms",
               ucf(r)->name, r->srv->addr.text, ucf(r)->fail_timeout_ms);
    }
    if (err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH) {
        connect_next(r, false);
        return;
    }
    fail(r, 502, err == ETIMEDOUT ? "upstream connect timed out" : "upstream connect failed");
}

void gw_proxy_upstream_writable(struct gw_req *r)
{
    if (flush_upstream(r) < 0)
        return;
    if (r->px == GW_PX_TUNNEL) {
        if (r->client_paused && r->uc && gw_io_out_len(&r->uc->io) < GW_IO_LOW_WATER) {
            r->client_paused = false;
            if (r->conn)
                gw_conn_read_on(r->conn, true);
        }
        return;
    }
    if (r->client_paused && r->uc && gw_io_out_len(&r->uc->io) < GW_IO_LOW_WATER && r->conn) {
        r->client_paused = false;
        gw_conn_read_on(r->conn, true);
        if (pump_body(r) < 0)
            return;
        flush_upstream(r);
    }
}

/* ---- client side events ---- */

static void tunnel_move(struct gw_io *from, struct gw_io *to)
{
    evbuffer_add_buffer(to->out, from->in);
}

void gw_proxy_client_data(struct gw_req *r)
{
    if (r->px == GW_PX_TUNNEL) {
        if (!r->uc || !r->conn)
            return;
        r->bytes_in += gw_io_in_len(&r->conn->io);
        tunnel_move(&r->conn->io, &r->uc->io);
        if (flush_upstream(r) < 0)
            return;
        gw_upconn_timer(r->uc, ucf(r)->read_timeout_ms);
        return;
    }
    if (r->body_done || !r->uc || !r->head_queued) {
        /* body not wanted yet (connecting, queued) or pipelined bytes: keep them, bounded */
        if (r->conn && !r->body_done && gw_io_in_len(&r->conn->io) > GW_IO_HIGH_WATER) {
            gw_conn_read_on(r->conn, false);
            r->client_paused = true;
        }
        return;
    }
    if (pump_body(r) < 0)
        return;
    if (r->uc->state == GW_UC_BUSY) {
        flush_upstream(r);
    } else if (gw_io_out_len(&r->uc->io) > GW_IO_HIGH_WATER) {
        gw_conn_read_on(r->conn, false);    /* still connecting: hold the client */
        r->client_paused = true;
    }
}

void gw_proxy_client_drained(struct gw_req *r)
{
    if (r->upstream_paused && r->uc) {
        r->upstream_paused = false;
        gw_io_read_on(&r->uc->io, true);
    }
}

void gw_proxy_client_eof(struct gw_req *r)
{
    /* Half-closed client with its whole request sent: keep answering; conn.c closes after. */
}

void gw_proxy_cancel(struct gw_req *r)
{
    if (r->px == GW_PX_TUNNEL)
        r->status = 101;
    else if (r->up_used && !r->up_us)
        r->up_us = gw_now_us() - r->up_start_us;
    drop_upstream(r);
    r->px = GW_PX_DONE;
}

/* ---- response ---- */

static void finish_response(struct gw_req *r)
{
    struct gw_conn *c = r->conn;
    r->resp_done = true;
    r->px = GW_PX_DONE;
    r->up_us = gw_now_us() - r->up_start_us;
    px_timer_off(r);
    if (r->uc) {
        struct gw_upconn *uc = r->uc;
        bool reuse = r->resp_keep_upstream && r->body_done && !r->up_eof_seen &&
                     gw_io_in_len(&uc->io) == 0 && gw_io_out_len(&uc->io) == 0;
        r->uc = NULL;
        gw_pool_release(uc, reuse);
    }
    if (!c)
        return;
    bool keep = r->resp_out != GW_BODY_EOF && r->keep_alive && r->body_done;
    gw_conn_request_done(c, keep);          /* last use of r */
}

static int resp_chunk_raw(void *arg, const char *data, size_t len)
{
    evbuffer_add(arg, data, len);
    return 0;
}

/* Moves response body from the upstream input to the client output. Returns true when the
 * body is complete, false when more is needed; -1 on a framing error (request ended). */
static int move_body(struct gw_req *r, bool eof, struct evbuffer *out)
{
    struct evbuffer *in = r->uc->io.in;
    size_t before = evbuffer_get_length(out);
    int done = 0;
    switch (r->resp_in) {
    case GW_BODY_NONE:
        done = 1;
        break;
    case GW_BODY_LENGTH: {
        size_t avail = evbuffer_get_length(in);
        size_t n = avail < r->resp_remaining ? avail : (size_t)r->resp_remaining;
        if (n) {
            evbuffer_remove_buffer(in, out, n);
            r->resp_remaining -= n;
        }
        done = r->resp_remaining == 0;
        break;
    }
    case GW_BODY_CHUNKED:
        while (!r->resp_ch.done && evbuffer_get_length(in) > 0) {
            struct evbuffer_iovec v;
            if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
                break;
            ssize_t k = gw_hp_chunked_feed(&r->resp_ch, v.iov_base, v.iov_len,
                                           r->resp_out == GW_BODY_CHUNKED ? chunk_out
                                                                          : resp_chunk_raw,
                                           out);
            if (k < 0) {
                r->bytes_out += evbuffer_get_length(out) - before;
                return -1;
            }
            evbuffer_drain(in, (size_t)k);
            if (k == 0)
                break;
        }
        if (r->resp_ch.done) {
            done = 1;
            if (r->resp_out == GW_BODY_CHUNKED)
                evbuffer_add(out, "0\r\n\r\n", 5);
        }
        break;
    case GW_BODY_EOF: {
        size_t n = evbuffer_get_length(in);
        if (n) {
            if (r->resp_out == GW_BODY_CHUNKED)
                evbuffer_add_printf(out, "%zx\r\n", n);
            evbuffer_remove_buffer(in, out, n);
            if (r->resp_out == GW_BODY_CHUNKED)
                evbuffer_add(out, "\r\n", 2);
        }
        if (eof) {
            done = 1;
            if (r->resp_out == GW_BODY_CHUNKED)
                evbuffer_add(out, "0\r\n\r\n", 5);
        }
        break;
    }
    }
    r->bytes_out += evbuffer_get_length(out) - before;
    return done;
}

static void start_tunnel(struct gw_req *r)
{
    struct gw_conn *c = r->conn;
    r->px = GW_PX_TUNNEL;
    c->state = GW_C_TUNNEL;
    event_del(&c->tmo);
    r->bytes_in += gw_io_in_len(&c->io);
    tunnel_move(&c->io, &r->uc->io);
    r->bytes_out += gw_io_in_len(&r->uc->io);
    tunnel_move(&r->uc->io, &c->io);
    gw_upconn_timer(r->uc, ucf(r)->read_timeout_ms);
    if (flush_upstream(r) < 0)
        return;
    gw_conn_flush(c);
}

static void tunnel_upstream_data(struct gw_req *r, bool eof)
{
    struct gw_conn *c = r->conn;
    r->bytes_out += gw_io_in_len(&r->uc->io);
    tunnel_move(&r->uc->io, &c->io);
    if (gw_conn_flush(c) < 0)
        return;
    if (eof) {
        /* The upstream ended the tunnel: pass on what is left, then close the client. */
        drop_upstream(r);
        r->px = GW_PX_DONE;
        gw_conn_request_done(c, false);
        return;
    }
    gw_upconn_timer(r->uc, ucf(r)->read_timeout_ms);
    if (gw_io_out_len(&c->io) > GW_IO_HIGH_WATER) {
        gw_io_read_on(&r->uc->io, false);
        r->upstream_paused = true;
    }
}

/* May a request that died unanswered on a reused connection be sent again on a fresh one?
 * Only idempotent methods (RFC 9110 §9.2.2), as nginx's proxy_next_upstream does without
 * "non_idempotent": GET, HEAD, OPTIONS, TRACE, PUT, DELETE. POST, PATCH, LOCK... never: the
 * upstream may have acted on the first copy before the connection broke. */
static bool method_retryable(const char *m)
{
    static const char *const ok[] = { "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE" };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!strcmp(m, ok[i]))
            return true;
    return false;
}

static void retry_fresh(struct gw_req *r)
{
    /* A reused keep-alive connection died before answering (the upstream closed it as we
     * sent): retry once on a new connection. Only for idempotent methods without a body
     * (method_retryable): nothing was streamed and sending it twice changes nothing. */
    struct gw_upconn *uc = r->uc;
    r->uc = NULL;
    gw_pool_release(uc, false);
    r->retried_reuse = true;
    r->resp_scan = 0;
    connect_next(r, true);
}

/* The response head is complete at p[0..hl). Returns 0 to go on with the body, 1 when the
 * head was an interim 1xx (skipped), -1 when the request ended. */
static int handle_head(struct gw_req *r, const char *p, size_t hl)
{
    struct gw_conn *c = r->conn;
    struct gw_worker *w = r->w;
    const struct gw_head_limits lim = { RESP_HEAD_MAX, RESP_HEAD_MAX, RESP_FIELDS_MAX };
    struct gw_hp_field fields[RESP_FIELDS_MAX];
    struct gw_hp_head h;
    const char *why = NULL;
    if (gw_head_validate(p, hl, false, &lim, &why) != 0 ||
        gw_hp_parse_head(false, p, hl, r->is_head, &h, fields, RESP_FIELDS_MAX, &why) != 0 ||
        gw_hdr_check_framing(fields, h.nfields, false, h.http_minor, &why) != 0) {
        GW_LOG(GW_LOG_WARN, "request %s: invalid response head from %s: %s", r->request_id,
               r->srv ? r->srv->addr.text : "?", why);
        fail(r, 502, "invalid response from upstream");
        return -1;
    }
    if (h.status >= 100 && h.status < 200 && h.status != 101) {
        evbuffer_drain(r->uc->io.in, hl);   /* interim response: we sent our own 100 */
        r->resp_scan = 0;
        return 1;
    }
    if (h.status == 101 && !r->upgrade_ws) {
        fail(r, 502, "upstream switched protocols unasked");
        return -1;
    }
    struct gw_conn_tokens ct;
    gw_conn_tokens_parse(fields, h.nfields, &ct);
    bool client11 = r->http_minor >= 1;
    if (r->is_head || h.status == 204 || h.status == 304 || h.status == 101)
        r->resp_in = GW_BODY_NONE;
    else if (h.chunked)
        r->resp_in = GW_BODY_CHUNKED;
    else if (h.has_content_length)
        r->resp_in = GW_BODY_LENGTH;
    else
        r->resp_in = GW_BODY_EOF;
    switch (r->resp_in) {
    case GW_BODY_NONE: r->resp_out = GW_BODY_NONE; break;
    case GW_BODY_LENGTH: r->resp_out = GW_BODY_LENGTH; break;
    default: r->resp_out = client11 ? GW_BODY_CHUNKED : GW_BODY_EOF; break;
    }
    r->resp_remaining = h.content_length;
    if (r->resp_in == GW_BODY_CHUNKED)
        gw_hp_chunked_init(&r->resp_ch, false);
    r->resp_keep_upstream = h.keep_alive && r->resp_in != GW_BODY_EOF && h.status != 101;
    bool keep = r->keep_alive && r->resp_out != GW_BODY_EOF && !c->close_after &&
                !w->draining && r->body_done;
    /* reason phrase: after "HTTP/1.x NNN " up to CR */
    const char *reason = p + 12, *eol = memchr(p, '\r', hl);
    size_t reason_len = (eol && eol > reason + 1) ? (size_t)(eol - reason - 1) : 0;
    struct gw_fwd_resp f = {
        .status = h.status,
        .reason = reason + 1, .reason_len = reason_len,
        .fields = fields, .nfields = h.nfields,
        .conn = &ct,
        .server_name = r->wc->cfg->server_name,
        .request_id = r->request_id,
        .body = r->resp_out,
        .content_length = h.content_length,
        .keep_alive = keep,
        .client_http10 = !client11,
        .upgrade = h.status == 101,
    };
    w->scratch.len = 0;
    gw_headers_build_response(&w->scratch, &f);
    if (w->scratch.oom) {
        w->scratch.oom = false;
        fail(r, 502, "out of memory building the response");
        return -1;
    }
    /* Held back until the first body bytes have been checked too: a response whose framing
     * breaks right away still becomes a clean 502. */
    evbuffer_add(w->hold, w->scratch.p, w->scratch.len);
    r->bytes_out += w->scratch.len;
    evbuffer_drain(r->uc->io.in, hl);
    r->status = h.status;
    r->responded = true;
    r->resp_scan = 0;
    if (!keep)
        c->close_after = true;
    if (h.status == 101) {
        evbuffer_add_buffer(c->io.out, w->hold);
        start_tunnel(r);
        return -1;
    }
    r->px = GW_PX_RESP_BODY;              /* read-gap timer: armed below if the body goes on */
    return 0;
}

static void process_response(struct gw_req *r, bool eof)
{
    if (!r->conn || !r->uc)
        return;
    if (eof)
        r->up_eof_seen = true;
    bool first = false;                     /* the head was parsed in this pass */
    while (r->px == GW_PX_SENDING) {
        struct evbuffer *in = r->uc->io.in;
        size_t len = evbuffer_get_length(in);
        if (len == 0) {
            if (!eof)
                return;
            if (!r->resp_any_byte && r->uc->uses > 1 && !r->retried_reuse &&
                r->body == GW_BODY_NONE && method_retryable(r->method)) {
                retry_fresh(r);
                return;
            }
            fail(r, 502, "upstream closed the connection without answering");
            return;
        }
        const struct gw_head_limits lim = { RESP_HEAD_MAX, RESP_HEAD_MAX, RESP_FIELDS_MAX };
        size_t take = len < RESP_HEAD_MAX ? len : RESP_HEAD_MAX;
        const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
        size_t hl = 0;
        int rc = gw_head_find_end(p, take, &r->resp_scan, &lim, &hl);
        if (rc == GW_HEAD_MORE) {
            if (eof)
                fail(r, 502, "upstream closed the connection in the middle of its head");
            return;
        }
        if (rc < 0) {
            fail(r, 502, "invalid response head from upstream");
            return;
        }
        rc = handle_head(r, p, hl);
        if (rc < 0)
            return;
        first = rc == 0;
    }
    if (r->px == GW_PX_TUNNEL) {
        tunnel_upstream_data(r, eof);
        return;
    }
    if (r->px != GW_PX_RESP_BODY)
        return;
    struct gw_conn *c = r->conn;
    struct evbuffer *hold = r->w->hold;
    int done = move_body(r, eof, first ? hold : c->io.out);
    if (done < 0) {
        if (first) {                        /* nothing of this response has left yet */
            r->bytes_out -= evbuffer_get_length(hold);
            evbuffer_drain(hold, evbuffer_get_length(hold));
            r->responded = false;
            r->status = 0;
            fail(r, 502, "malformed response body framing");
            return;
        }
        gw_conn_flush(c);
        abort_client(r, "malformed chunked response body");
        return;
    }
    if (first)
        evbuffer_add_buffer(c->io.out, hold);
    if (done && gw_io_in_len(&r->uc->io) > 0)
        r->resp_keep_upstream = false;      /* bytes after the end of the response */
    if (gw_conn_flush(c) < 0)
        return;                             /* client gone: the request was cancelled */
    if (done) {
        finish_response(r);
        return;
    }
    if (eof) {
        abort_client(r, "upstream closed the connection before the end of the body");
        return;
    }
    gw_upconn_timer(r->uc, ucf(r)->read_timeout_ms);
    if (gw_io_out_len(&c->io) > GW_IO_HIGH_WATER) {
        gw_io_read_on(&r->uc->io, false);
        r->upstream_paused = true;
    }
}

void gw_proxy_upstream_readable(struct gw_req *r)
{
    struct gw_upconn *uc = r->uc;
    ssize_t n = gw_io_read(&uc->io, GW_IO_HIGH_WATER);
    if (n == -EAGAIN)
        return;
    if (n > 0)
        r->resp_any_byte = true;
    process_response(r, n <= 0);
}

void gw_proxy_upstream_timeout(struct gw_req *r)
{
    switch (r->px) {
    case GW_PX_WAIT_CONN:
        fail(r, 502, "upstream connect timed out");
        break;
    case GW_PX_SENDING:
        fail(r, 504, "upstream did not answer in time");
        break;
    case GW_PX_TUNNEL:
        if (r->conn) {
            drop_upstream(r);
            r->px = GW_PX_DONE;
            gw_conn_request_done(r->conn, false);
        }
        break;
    default:
        abort_client(r, "upstream response stalled");
        break;
    }
}
