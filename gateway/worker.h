/* gateway/worker.h — one event loop thread: its listeners, client connections, upstream pool,
 * metrics and access-log buffer. Nothing here is shared with other workers except the
 * reference-counted configuration and the global connection counter.
 *
 * Configuration lifetime: the main thread wraps each loaded gw_config in a gw_rtconf (atomic
 * reference count) and hands it to every worker. A worker builds its own gw_wconf view on top
 * (its upstream server objects, round-robin state; plain worker-local reference count). A
 * request holds a gw_wconf reference from its first byte to its last, so a reload never
 * changes the routes, upstreams or limits under an in-flight request.
 */
#ifndef ONEGATE_GATEWAY_WORKER_H
#define ONEGATE_GATEWAY_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/buffer.h>

#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/http/head_check.h"
#include "gateway/http/headers.h"

struct gw_conn;
struct gw_upserver;

/* A loaded configuration plus what the engine derives from it once (labels, metric ids). */
struct gw_rtconf {
    atomic_int refs;
    struct gw_config *cfg;          /* owned */
    char **route_labels;            /* [nroutes] "host/prefix" or "/prefix" */
    uint16_t *route_metric;         /* [nroutes] */
    uint16_t *upstream_metric;      /* [nupstreams] */
};

/* Wraps <cfg> (ownership passes to the rtconf). Returns NULL on ENOMEM (cfg is then freed). */
struct gw_rtconf *gw_rtconf_new(struct gw_config *cfg);
void gw_rtconf_ref(struct gw_rtconf *rt);
void gw_rtconf_unref(struct gw_rtconf *rt);

struct gw_upstream_view {
    struct gw_upserver **servers;   /* [n], worker-owned objects, shared across views */
    size_t n;
    size_t rr;                      /* round-robin cursor */
};

/* One worker's view of one configuration. */
struct gw_wconf {
    int refs;                       /* worker-local: the worker's "current" + one per request */
    struct gw_worker *w;
    struct gw_rtconf *rt;
    const struct gw_config *cfg;
    struct gw_upstream_view *ups;   /* [cfg->nupstreams] */
    struct gw_head_limits lim;
    size_t builtin_len;
};

void gw_wconf_ref(struct gw_wconf *wc);
void gw_wconf_unref(struct gw_wconf *wc);

struct gw_worker {
    int id;
    pthread_t thread;
    struct event_base *base;
    struct gw_wconf *conf;          /* current; new requests take a reference */

    struct evconnlistener **listeners;
    size_t nlisteners;

    struct gw_conn *conns;          /* all client connections (doubly linked) */
    size_t nconns;
    struct gw_upserver *servers;    /* every upstream server this worker has talked to */

    /* cross-thread notification: main thread -> worker */
    int notify_fd;                  /* eventfd */
    struct event notify_ev;
    _Atomic(struct gw_rtconf *) pending;    /* a new config to adopt */
    atomic_bool drain_requested;
    bool draining;
    struct event drain_ev;

    /* per-worker utilities: no locks */
    struct gw_metrics *metrics;
    struct gw_access_buf *access;
    struct event access_ev;
    bool access_timer_on;
    struct gw_sbuf scratch;         /* reused for building heads */
    struct evbuffer *hold;          /* a response head held until its first body bytes pass */
    uint64_t rng[2];                /* xorshift128+ for request ids */
    char date[40];                  /* IMF-fixdate, refreshed once a second */
    char iso[40];                   /* ISO 8601 second, for the access log */
    int64_t date_sec;
};

/* Everything the process runs: workers and shared counters. */
extern atomic_uint_fast64_t gw_conns_open;     /* all workers; checked at accept */

/* Creates <n> workers for <rt> (each takes a reference), binding listeners. Returns 0 or -1
 * with a message in err. Threads are not started yet. */
int gw_workers_create(struct gw_rtconf *rt, int n, char *err, size_t errlen);
int gw_workers_start(void);
/* Main thread: hand <rt> to every worker (each takes its own reference). */
void gw_workers_reload(struct gw_rtconf *rt);
/* Main thread: stop accepting, drain, and let every worker's loop end. */
void gw_workers_drain(void);
void gw_workers_join(void);
void gw_workers_destroy(void);

/* All workers' metrics, for a scrape (any worker thread). */
size_t gw_workers_metrics(struct gw_metrics **out, size_t max);
/* True once SIGTERM has been received (any thread). */
bool gw_workers_draining(void);

/* ---- helpers used by the engine on the worker's own thread ---- */
uint64_t gw_now_us(void);
/* Refreshes the cached dates if the second changed. */
void gw_worker_update_dates(struct gw_worker *w);
/* Writes 32 hex chars + NUL. */
void gw_worker_request_id(struct gw_worker *w, char out[33]);
/* Appends an access-log line (arms the flush timer). */
void gw_worker_access_log(struct gw_worker *w, const struct gw_access_rec *rec);
/* Called when a connection is freed: ends the loop when draining and nothing is left. */
void gw_worker_conn_gone(struct gw_worker *w);

#endif
