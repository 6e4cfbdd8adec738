/* gateway/http/upstream_pool.c — per-worker keep-alive connections to upstream servers:
 * connect, hand out, take back, idle limits and idle-close detection, wait queue.
 *
 * Idle rule (docs/ARCHITECTURE-ENGINE.md, "Upstream keep-alive pool"): a connection given back
 * while fewer than max_idle_per_server are idle is pooled for idle_timeout_ms. One given back
 * while max_idle_per_server or more are idle is pooled too, as surplus, but for at most
 * GW_POOL_SURPLUS_MS: a burst's extra connections survive the next burst a moment later instead
 * of being closed and reopened, and are closed once a quiet second shows they are not needed.
 * At most max_idle_per_server idle connections ever hold the long timer (a long timer is only
 * given when the idle count, after adding, stays within the limit), so after GW_POOL_SURPLUS_MS
 * without reuse the pool is back within max_idle_per_server. max_connections_per_server stays
 * a hard cap: keeping a connection never opens one. */
#include "gateway/http/upstream_pool.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/http/request.h"

/* How long an idle connection above max_idle_per_server is kept for reuse. */
#define GW_POOL_SURPLUS_MS 1000u

struct gw_upserver *gw_upserver_get(struct gw_worker *w, const struct gw_addr *addr,
                                    const struct gw_upstream_conf *u)
{
    struct gw_upserver *s;
    for (s = w->servers; s; s = s->next)
        if (s->addr.len == addr->len && !memcmp(&s->addr.ss, &addr->ss, addr->len) &&
            !strcmp(s->upstream, u->name))
            break;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return NULL;
        s->upstream = strdup(u->name);
        if (!s->upstream) {
            free(s);
            return NULL;
        }
        s->w = w;
        s->addr = *addr;
        s->next = w->servers;
        w->servers = s;
    }
    s->max_conns = u->max_connections_per_server ? u->max_connections_per_server : 1;
    s->max_idle = u->max_idle_per_server;
    s->idle_timeout_ms = u->idle_timeout_ms;
    s->fail_timeout_ms = u->fail_timeout_ms;
    return s;
}

void gw_upconn_timer(struct gw_upconn *uc, uint32_t ms)
{
    if (!ms) {
        event_del(&uc->tmo);
        return;
    }
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    event_add(&uc->tmo, &tv);
}

static void idle_unlink(struct gw_upconn *uc)
{
    struct gw_upserver *s = uc->srv;
    if (uc->prev)
        uc->prev->next = uc->next;
    else
        s->idle = uc->next;
    if (uc->next)
        uc->next->prev = uc->prev;
    uc->next = uc->prev = NULL;
    s->nidle--;
}

static void uc_destroy(struct gw_upconn *uc)
{
    struct gw_upserver *s = uc->srv;
    if (uc->state == GW_UC_IDLE)
        idle_unlink(uc);
    event_del(&uc->tmo);
    gw_io_close(&uc->io);
    s->nconns--;
    free(uc);
}

static void serve_waiters(struct gw_upserver *s)
{
    while (s->waitq_head && (s->idle || s->nconns < s->max_conns)) {
        struct gw_req *r = s->waitq_head;
        s->waitq_head = r->wait_next;
        if (!s->waitq_head)
            s->waitq_tail = NULL;
        r->wait_next = NULL;
        r->queued = false;
        gw_proxy_upstream_granted(r);
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct gw_upconn *uc = arg;
    if (uc->state == GW_UC_BUSY && uc->req) {
        gw_proxy_upstream_readable(uc->req);
        return;
    }
    /* An idle connection became readable: the upstream closed it (or sent junk). Drop it so
     * it is never handed out. */
    struct gw_upserver *s = uc->srv;
    uc_destroy(uc);
    serve_waiters(s);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct gw_upconn *uc = arg;
    if (uc->state == GW_UC_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(uc->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        struct gw_req *r = uc->req;
        if (err) {
            struct gw_upserver *s = uc->srv;
            uc->req = NULL;
            uc_destroy(uc);
            if (r)
                gw_proxy_upstream_failed(r, err);
            serve_waiters(s);
            return;
        }
        uc->state = GW_UC_BUSY;
        gw_io_write_on(&uc->io, false);
        gw_io_read_on(&uc->io, true);
        event_del(&uc->tmo);
        if (r)
            gw_proxy_upstream_connected(r, uc);
        return;
    }
    if (uc->state == GW_UC_BUSY && uc->req) {
        if (gw_io_flush_ready(&uc->io) < 0)
            gw_io_write_on(&uc->io, false);     /* the proxy's flush reports the error */
        gw_proxy_upstream_writable(uc->req);
        return;
    }
    gw_io_write_on(&uc->io, false);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct gw_upconn *uc = arg;
    if (uc->state == GW_UC_IDLE || !uc->req) {
        struct gw_upserver *s = uc->srv;
        uc_destroy(uc);
        serve_waiters(s);
        return;
    }
    gw_proxy_upstream_timeout(uc->req);
}

static void enqueue(struct gw_upserver *s, struct gw_req *r)
{
    r->wait_next = NULL;
    if (s->waitq_tail)
        s->waitq_tail->wait_next = r;
    else
        s->waitq_head = r;
    s->waitq_tail = r;
}

void gw_pool_dequeue(struct gw_upserver *s, struct gw_req *r)
{
    struct gw_req **pp = &s->waitq_head, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->wait_next;
    }
    if (!*pp)
        return;
    *pp = r->wait_next;
    if (s->waitq_tail == r)
        s->waitq_tail = prev;
    r->wait_next = NULL;
}

int gw_pool_acquire(struct gw_upserver *s, struct gw_req *r, bool fresh, struct gw_upconn **out)
{
    while (!fresh && s->idle) {
        struct gw_upconn *uc = s->idle;
        if (gw_io_input_pending(&uc->io)) {
            /* The upstream wrote to (or closed) this idle connection and its read event is
             * queued behind us in this loop pass: whatever it sent belongs to no request of
             * ours, and handing it out would make it the next request's response. */
            uc_destroy(uc);
            continue;
        }
        idle_unlink(uc);
        uc->state = GW_UC_BUSY;
        uc->req = r;
        uc->uses++;
        event_del(&uc->tmo);
        *out = uc;
        return GW_POOL_READY;
    }
    if (s->nconns >= s->max_conns) {
        enqueue(s, r);
        return GW_POOL_QUEUED;
    }
    int fd = socket(s->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, (const struct sockaddr *)&s->addr.ss, s->addr.len);
    if (rc < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct gw_upconn *uc = calloc(1, sizeof *uc);
    if (!uc || gw_io_init(&uc->io, s->w->base, fd, on_read, on_write, uc) != 0) {
        free(uc);
        close(fd);
        return -ENOMEM;
    }
    evtimer_assign(&uc->tmo, s->w->base, on_timeout, uc);
    uc->srv = s;
    uc->req = r;
    uc->uses = 1;
    s->nconns++;
    *out = uc;
    if (rc == 0) {
        uc->state = GW_UC_BUSY;
        gw_io_read_on(&uc->io, true);
        return GW_POOL_READY;
    }
    uc->state = GW_UC_CONNECTING;
    gw_io_write_on(&uc->io, true);
    return GW_POOL_CONNECTING;
}

void gw_pool_release(struct gw_upconn *uc, bool reusable)
{
    struct gw_upserver *s = uc->srv;
    uc->req = NULL;
    if (reusable && uc->state == GW_UC_BUSY && !s->w->draining && s->max_idle > 0 &&
        gw_io_in_len(&uc->io) == 0 && gw_io_out_len(&uc->io) == 0) {
        /* within the limit: the full idle timeout; above it: surplus, closed soon */
        uint32_t ms = s->idle_timeout_ms;
        if (s->nidle >= s->max_idle && (ms == 0 || ms > GW_POOL_SURPLUS_MS))
            ms = GW_POOL_SURPLUS_MS;
        uc->state = GW_UC_IDLE;
        gw_io_write_on(&uc->io, false);
        gw_io_read_on(&uc->io, true);       /* idle-close detection */
        uc->prev = NULL;
        uc->next = s->idle;
        if (s->idle)
            s->idle->prev = uc;
        s->idle = uc;
        s->nidle++;
        gw_upconn_timer(uc, ms);
    } else {
        if (uc->state == GW_UC_IDLE)
            idle_unlink(uc);
        uc->state = GW_UC_BUSY;             /* so uc_destroy does not unlink twice */
        uc_destroy(uc);
    }
    serve_waiters(s);
}

void gw_pool_close_idle(struct gw_worker *w)
{
    for (struct gw_upserver *s = w->servers; s; s = s->next)
        while (s->idle)
            uc_destroy(s->idle);
}

void gw_pool_destroy(struct gw_worker *w)
{
    gw_pool_close_idle(w);
    struct gw_upserver *s = w->servers, *next;
    for (; s; s = next) {
        next = s->next;
        free(s->upstream);
        free(s);
    }
    w->servers = NULL;
}
