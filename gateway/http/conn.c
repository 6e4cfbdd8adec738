/* gateway/http/conn.c — client connections: accept, read heads, hand requests over, write
 * responses, keep-alive, pipelining (one request at a time, later bytes stay buffered), the
 * per-connection timer, and the deferred free that makes closing inside a callback safe.
 *
 * Timers (one per connection, re-armed on state changes):
 *   new connection, nothing yet      header_timeout_ms
 *   idle between requests            keepalive_timeout_ms
 *   head arriving                    absolute deadline header_timeout_ms after its first byte
 *   waiting for request body bytes   body_timeout_ms (gap)
 *   output stalled                   send_timeout_ms (gap)
 */
#include "gateway/http/request.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void conn_process(struct gw_conn *c);

static void conn_free_now(struct gw_conn *c)
{
    struct gw_worker *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    free(c);
    gw_worker_conn_gone(w);
}

static void conn_leave(struct gw_conn *c)
{
    if (--c->busy > 0)
        return;
    if (c->dead) {
        conn_free_now(c);
        return;
    }
    if (c->reprocess) {
        c->busy++;
        conn_process(c);
        conn_leave(c);
    }
}

void gw_conn_close(struct gw_conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    c->busy++;                              /* hold: client_gone may call back into us */
    if (c->req) {
        struct gw_req *r = c->req;
        c->req = NULL;
        gw_request_client_gone(r);
    }
    event_del(&c->tmo);
    gw_io_close(&c->io);
    atomic_fetch_sub(&gw_conns_open, 1);
    conn_leave(c);
}

static const struct gw_limits_conf *limits(const struct gw_conn *c)
{
    const struct gw_wconf *wc = c->req ? c->req->wc : c->w->conf;
    return &wc->cfg->limits;
}

static void set_timer_ms(struct gw_conn *c, uint64_t ms)
{
    struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
    event_add(&c->tmo, &tv);
}

void gw_conn_arm_timer(struct gw_conn *c)
{
    if (c->dead)
        return;
    const struct gw_limits_conf *l = limits(c);
    if (c->io.wr_on) {
        set_timer_ms(c, l->send_timeout_ms);
        return;
    }
    switch (c->state) {
    case GW_C_IDLE:
        set_timer_ms(c, c->nrequests == 0 ? l->header_timeout_ms : l->keepalive_timeout_ms);
        return;
    case GW_C_HEAD: {
        uint64_t now = gw_now_us();
        uint64_t left = c->head_deadline_us > now ? (c->head_deadline_us - now) / 1000 : 0;
        set_timer_ms(c, left ? left : 1);
        return;
    }
    case GW_C_REQ:
        if (c->req && !c->req->body_done && !c->client_eof) {
            set_timer_ms(c, l->body_timeout_ms);
            return;
        }
        break;
    case GW_C_CLOSING:
        set_timer_ms(c, l->send_timeout_ms);
        return;
    case GW_C_TUNNEL:
        break;
    }
    event_del(&c->tmo);
}

int gw_conn_flush(struct gw_conn *c)
{
    if (c->dead)
        return -1;
    bool was_on = c->io.wr_on;
    if (gw_io_flush(&c->io) < 0) {
        gw_conn_close(c);
        return -1;
    }
    if (was_on != c->io.wr_on)
        gw_conn_arm_timer(c);
    return 0;
}

void gw_conn_send(struct gw_conn *c, const void *data, size_t len)
{
    if (c->dead)
        return;
    evbuffer_add(c->io.out, data, len);
    if (c->req)
        c->req->bytes_out += len;
}

void gw_conn_read_on(struct gw_conn *c, bool on)
{
    if (!c->dead && !(on && c->client_eof))
        gw_io_read_on(&c->io, on);
}

static void finish_closing(struct gw_conn *c)
{
    if (gw_io_out_len(&c->io) == 0)
        gw_conn_close(c);
    else
        gw_conn_arm_timer(c);
}

void gw_conn_request_done(struct gw_conn *c, bool keep)
{
    struct gw_req *r = c->req;
    c->req = NULL;
    if (r)
        gw_request_free(r);
    c->nrequests++;
    if (gw_conn_flush(c) < 0)
        return;
    if (!keep || c->close_after || c->w->draining ||
        (c->client_eof && gw_io_in_len(&c->io) == 0)) {
        c->state = GW_C_CLOSING;
        gw_io_read_on(&c->io, false);
        finish_closing(c);
        return;
    }
    c->state = GW_C_IDLE;
    gw_io_read_on(&c->io, true);
    if (c->busy) {
        c->reprocess = true;
        return;
    }
    c->busy++;
    conn_process(c);
    conn_leave(c);
}

/* Bytes buffered beyond the current request before we stop reading the client. */
static size_t pipeline_limit(const struct gw_conn *c)
{
    return (size_t)c->w->conf->lim.max_head_bytes + GW_IO_READ_CHUNK;
}

static void conn_process(struct gw_conn *c)
{
    for (;;) {
        c->reprocess = false;
        if (c->dead)
            return;
        switch (c->state) {
        case GW_C_IDLE:
        case GW_C_HEAD: {
            struct evbuffer *in = c->io.in;
            size_t len = evbuffer_get_length(in);
            if (c->state == GW_C_IDLE) {
                /* RFC 9112 §2.2: ignore empty lines before a request line. */
                while (len >= 2) {
                    unsigned char two[2];
                    evbuffer_copyout(in, two, 2);
                    if (two[0] != '\r' || two[1] != '\n')
                        break;
                    evbuffer_drain(in, 2);
                    len -= 2;
                }
                if (len == 0) {
                    if (c->client_eof) {
                        gw_conn_close(c);
                        return;
                    }
                    gw_conn_arm_timer(c);
                    return;
                }
                c->state = GW_C_HEAD;
                c->scan_pos = 0;
                c->head_deadline_us = gw_now_us() +
                                      (uint64_t)c->w->conf->cfg->limits.header_timeout_ms * 1000;
                /* The deadline timer is armed only if the head is not complete in this pass
                 * (the usual case needs no timer operation at all). */
            }
            const struct gw_head_limits *lim = &c->w->conf->lim;
            size_t take = len < lim->max_head_bytes ? len : lim->max_head_bytes;
            const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
            size_t head_len = 0;
            int rc = gw_head_find_end(p, take, &c->scan_pos, lim, &head_len);
            if (rc == GW_HEAD_MORE) {
                if (c->client_eof) {
                    gw_conn_close(c);
                    return;
                }
                gw_conn_arm_timer(c);           /* absolute: the deadline does not move */
                if (len > take)                 /* cannot happen: find_end says 431 first */
                    gw_request_reject_early(c, 431, "header section too large");
                return;
            }
            if (rc < 0) {
                gw_request_reject_early(c, -rc, rc == -400 ? "bare LF in head"
                                                : rc == -414 ? "request line too long"
                                                             : "header section too large");
                continue;
            }
            c->state = GW_C_REQ;
            c->scan_pos = 0;
            event_del(&c->tmo);
            gw_request_start(c, p, head_len);
            continue;
        }
        case GW_C_REQ:
            if (c->req) {
                gw_request_client_data(c->req);
                if (c->dead || c->state != GW_C_REQ)
                    continue;
                if (c->req && c->req->body_done &&
                    gw_io_in_len(&c->io) > pipeline_limit(c))
                    gw_io_read_on(&c->io, false);  /* resumed when the request finishes */
            }
            return;
        case GW_C_TUNNEL:
            if (c->req)
                gw_proxy_client_data(c->req);
            return;
        case GW_C_CLOSING:
            evbuffer_drain(c->io.in, gw_io_in_len(&c->io));
            return;
        }
    }
}

static void on_client_eof(struct gw_conn *c)
{
    c->client_eof = true;
    gw_io_read_on(&c->io, false);
    switch (c->state) {
    case GW_C_REQ:
        if (c->req && !c->req->body_done)
            gw_conn_close(c);               /* gone in the middle of its body */
        else if (c->req)
            gw_proxy_client_eof(c->req);    /* half-close: answer, then close */
        return;
    case GW_C_CLOSING:
        finish_closing(c);
        return;
    case GW_C_TUNNEL:
    default:
        if (c->state == GW_C_IDLE || c->state == GW_C_HEAD) {
            /* A complete pipelined request may still sit in the buffer: serve it first. */
            if (gw_io_in_len(&c->io) > 0) {
                conn_process(c);
                if (!c->dead && c->state != GW_C_REQ)
                    gw_conn_close(c);
                return;
            }
        }
        gw_conn_close(c);
        return;
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct gw_conn *c = arg;
    c->busy++;
    ssize_t n = gw_io_read(&c->io, GW_IO_HIGH_WATER);
    if (n == -EAGAIN)
        goto out;
    if (n <= 0) {
        on_client_eof(c);
        goto out;
    }
    gw_metric_add(&c->w->metrics->bytes_in, (uint64_t)n);
    conn_process(c);
    if (!c->dead && c->state == GW_C_REQ && c->req && !c->req->body_done)
        gw_conn_arm_timer(c);               /* body gap */
out:
    conn_leave(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct gw_conn *c = arg;
    c->busy++;
    if (gw_io_flush_ready(&c->io) < 0) {
        gw_conn_close(c);
        goto out;
    }
    if (c->state == GW_C_CLOSING) {
        finish_closing(c);
        goto out;
    }
    if (c->req && gw_io_out_len(&c->io) < GW_IO_LOW_WATER)
        gw_proxy_client_drained(c->req);
    if (!c->dead)
        gw_conn_arm_timer(c);
out:
    conn_leave(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct gw_conn *c = arg;
    c->busy++;
    if (c->io.wr_on || c->state == GW_C_CLOSING || c->state == GW_C_IDLE) {
        gw_conn_close(c);                   /* stalled reader, idle keep-alive, or lingering */
    } else if (c->state == GW_C_HEAD) {
        GW_LOG(GW_LOG_INFO, "client %s: request head not complete within %u ms, closing",
               c->peer_ip, c->w->conf->cfg->limits.header_timeout_ms);
        gw_request_reject_early(c, 408, "request head not received in time");
    } else if (c->state == GW_C_REQ && c->req && !c->req->body_done) {
        if (!c->req->responded)
            gw_request_error(c->req, 408, "request body not received in time", false);
        else
            gw_conn_close(c);
    }
    conn_leave(c);
}

void gw_conn_accept(struct gw_worker *w, int fd, const struct sockaddr *sa, socklen_t salen)
{
    uint64_t max = w->conf->cfg->limits.max_connections;
    if (w->draining || atomic_fetch_add(&gw_conns_open, 1) >= max) {
        if (!w->draining)
            atomic_fetch_sub(&gw_conns_open, 1);
        close(fd);
        return;
    }
    struct gw_conn *c = calloc(1, sizeof *c);
    if (!c || gw_io_init(&c->io, w->base, fd, on_read, on_write, c) != 0) {
        free(c);
        close(fd);
        atomic_fetch_sub(&gw_conns_open, 1);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->w = w;
    memcpy(&c->peer, sa, salen < sizeof c->peer ? salen : sizeof c->peer);
    c->peerlen = salen;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->peer_ip, sizeof c->peer_ip);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->peer_ip, sizeof c->peer_ip);
    else
        strcpy(c->peer_ip, "unknown");
    evtimer_assign(&c->tmo, w->base, on_timeout, c);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    c->state = GW_C_IDLE;
    gw_io_read_on(&c->io, true);
    gw_conn_arm_timer(c);
}

void gw_conns_drain(struct gw_worker *w)
{
    struct gw_conn *c = w->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (c->dead)
            continue;
        if (c->state == GW_C_IDLE && gw_io_out_len(&c->io) == 0)
            gw_conn_close(c);
        else
            c->close_after = true;
    }
}

void gw_conns_close_all(struct gw_worker *w)
{
    struct gw_conn *c = w->conns, *next;
    for (; c; c = next) {
        next = c->next;
        gw_conn_close(c);
    }
}
