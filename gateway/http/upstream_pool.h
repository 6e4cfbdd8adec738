/* gateway/http/upstream_pool.h — per-worker upstream servers and their keep-alive connections.
 *
 * A gw_upserver is one address as seen by one worker: its idle connections (LIFO), how many
 * connections it has in total, its passive-health state and a FIFO of requests waiting for a
 * connection slot. Idle connections keep their read event armed, so an upstream that closes
 * one is noticed at once and the connection is dropped (never handed out dead).
 */
#ifndef ONEGATE_GATEWAY_HTTP_UPSTREAM_POOL_H
#define ONEGATE_GATEWAY_HTTP_UPSTREAM_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/config.h"
#include "gateway/http/io.h"

struct gw_worker;
struct gw_req;

enum gw_upconn_state { GW_UC_CONNECTING, GW_UC_BUSY, GW_UC_IDLE };

struct gw_upconn {
    struct gw_io io;
    struct event tmo;
    struct gw_upserver *srv;
    struct gw_req *req;             /* the request using it (BUSY/CONNECTING), else NULL */
    enum gw_upconn_state state;
    unsigned uses;                  /* requests sent on it so far */
    struct gw_upconn *next, *prev;  /* idle list */
};

/* Keyed by (upstream name, address): two upstreams naming the same address keep separate
 * pools and limits, as each upstream block's settings say. */
struct gw_upserver {
    struct gw_worker *w;
    char *upstream;                 /* owned copy of the upstream's name */
    struct gw_addr addr;
    uint64_t fail_until_us;         /* passive health: skip until then */
    uint32_t nconns;                /* connecting + busy + idle */
    uint32_t nidle;
    uint32_t max_conns, max_idle, idle_timeout_ms, fail_timeout_ms;
    struct gw_upconn *idle;         /* most recently used first */
    struct gw_req *waitq_head, *waitq_tail;
    struct gw_upserver *next;       /* worker's list */
};

/* Finds or creates the worker's object for <addr> in upstream <uc>; limits are refreshed from <uc>. Returns
 * NULL on ENOMEM. */
struct gw_upserver *gw_upserver_get(struct gw_worker *w, const struct gw_addr *addr,
                                    const struct gw_upstream_conf *uc);

enum { GW_POOL_READY = 0, GW_POOL_CONNECTING = 1, GW_POOL_QUEUED = 2 };

/* Gets a connection to <s> for <r>: an idle one (GW_POOL_READY, state BUSY), a new one being
 * connected (GW_POOL_CONNECTING; the proxy is told via gw_proxy_upstream_connected or
 * gw_proxy_upstream_failed), or, when the server is at max_conns, <r> is queued
 * (GW_POOL_QUEUED; gw_proxy_upstream_granted is called later). <fresh> forbids reuse of idle
 * connections. Returns one of those or -errno (immediate connect failure). */
int gw_pool_acquire(struct gw_upserver *s, struct gw_req *r, bool fresh, struct gw_upconn **out);

/* Removes <r> from its server's wait queue (no-op when not queued). */
void gw_pool_dequeue(struct gw_upserver *s, struct gw_req *r);

/* Gives a BUSY connection back: pooled when <reusable> (and pooling is on: max_idle > 0),
 * else closed. Within max_idle it idles for idle_timeout_ms; above max_idle it is kept as
 * surplus for at most 1 s (see upstream_pool.c). Then serves the next waiter, if any. */
void gw_pool_release(struct gw_upconn *uc, bool reusable);

/* (Re)arms the connection's timer; 0 disarms. */
void gw_upconn_timer(struct gw_upconn *uc, uint32_t ms);

/* Closes every idle connection of the worker (drain). */
void gw_pool_close_idle(struct gw_worker *w);
/* Frees all server objects (worker teardown; no connection may be busy). */
void gw_pool_destroy(struct gw_worker *w);

#endif
