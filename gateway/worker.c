/* gateway/worker.c — worker threads: one event_base each (no libevent locking), their own
 * SO_REUSEPORT listeners, configuration adoption on reload, drain on shutdown, and the small
 * per-worker services (dates, request ids, access-log buffering). The main thread talks to a
 * worker only through an eventfd and two atomics. */
#include "gateway/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/listener.h>

#include "gateway/http/request.h"
#include "gateway/http/upstream_pool.h"

atomic_uint_fast64_t gw_conns_open;

static struct gw_worker **workers;
static int nworkers;
static atomic_bool draining_flag;

bool gw_workers_draining(void) { return atomic_load(&draining_flag); }

uint64_t gw_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- configurations ---- */

struct gw_rtconf *gw_rtconf_new(struct gw_config *cfg)
{
    struct gw_rtconf *rt = calloc(1, sizeof *rt);
    if (!rt)
        goto fail;
    rt->cfg = cfg;
    atomic_init(&rt->refs, 1);
    size_t nr = cfg->nroutes ? cfg->nroutes : 1, nu = cfg->nupstreams ? cfg->nupstreams : 1;
    rt->route_labels = calloc(nr, sizeof *rt->route_labels);
    rt->route_metric = calloc(nr, sizeof *rt->route_metric);
    rt->upstream_metric = calloc(nu, sizeof *rt->upstream_metric);
    if (!rt->route_labels || !rt->route_metric || !rt->upstream_metric)
        goto fail;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const struct gw_route_conf *rc = &cfg->routes[i];
        size_t len = strlen(rc->path_prefix) + (rc->host ? strlen(rc->host) : 0) + 1;
        rt->route_labels[i] = malloc(len);
        if (!rt->route_labels[i])
            goto fail;
        snprintf(rt->route_labels[i], len, "%s%s", rc->host ? rc->host : "", rc->path_prefix);
        rt->route_metric[i] = gw_metrics_route_id(rt->route_labels[i]);
    }
    for (size_t i = 0; i < cfg->nupstreams; i++)
        rt->upstream_metric[i] = gw_metrics_upstream_id(cfg->upstreams[i].name);
    return rt;
fail:
    if (rt) {
        rt->cfg = NULL;
        atomic_store(&rt->refs, 1);
        gw_rtconf_unref(rt);
    }
    gw_config_free(cfg);
    return NULL;
}

void gw_rtconf_ref(struct gw_rtconf *rt) { atomic_fetch_add(&rt->refs, 1); }

void gw_rtconf_unref(struct gw_rtconf *rt)
{
    if (atomic_fetch_sub(&rt->refs, 1) != 1)
        return;
    if (rt->route_labels && rt->cfg)
        for (size_t i = 0; i < rt->cfg->nroutes; i++)
            free(rt->route_labels[i]);
    free(rt->route_labels);
    free(rt->route_metric);
    free(rt->upstream_metric);
    if (rt->cfg)
        gw_config_free(rt->cfg);
    free(rt);
}

static struct gw_wconf *wconf_new(struct gw_worker *w, struct gw_rtconf *rt)
{
    const struct gw_config *cfg = rt->cfg;
    struct gw_wconf *wc = calloc(1, sizeof *wc);
    if (!wc)
        return NULL;
    wc->ups = calloc(cfg->nupstreams ? cfg->nupstreams : 1, sizeof *wc->ups);
    if (!wc->ups)
        goto fail;
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        const struct gw_upstream_conf *u = &cfg->upstreams[i];
        wc->ups[i].servers = calloc(u->nservers ? u->nservers : 1, sizeof(struct gw_upserver *));
        if (!wc->ups[i].servers)
            goto fail;
        for (size_t k = 0; k < u->nservers; k++) {
            wc->ups[i].servers[k] = gw_upserver_get(w, &u->servers[k], u);
            if (!wc->ups[i].servers[k])
                goto fail;
        }
        wc->ups[i].n = u->nservers;
        wc->ups[i].rr = (size_t)w->id;      /* spread workers over the servers */
    }
    wc->refs = 1;
    wc->w = w;
    wc->rt = rt;
    wc->cfg = cfg;
    wc->lim.max_head_bytes = cfg->limits.max_header_bytes;
    wc->lim.max_line_bytes = cfg->limits.max_request_line_bytes;
    wc->lim.max_headers = cfg->limits.max_headers;
    wc->builtin_len = cfg->builtin_prefix ? strlen(cfg->builtin_prefix) : 0;
    gw_rtconf_ref(rt);
    return wc;
fail:
    if (wc->ups)
        for (size_t i = 0; i < cfg->nupstreams; i++)
            free(wc->ups[i].servers);
    free(wc->ups);
    free(wc);
    return NULL;
}

void gw_wconf_ref(struct gw_wconf *wc) { wc->refs++; }

void gw_wconf_unref(struct gw_wconf *wc)
{
    if (--wc->refs > 0)
        return;
    for (size_t i = 0; i < wc->cfg->nupstreams; i++)
        free(wc->ups[i].servers);
    free(wc->ups);
    gw_rtconf_unref(wc->rt);
    free(wc);
}

/* ---- per-worker services ---- */

void gw_worker_update_dates(struct gw_worker *w)
{
    struct timeval tv;
    event_base_gettimeofday_cached(w->base, &tv);
    if (tv.tv_sec == w->date_sec)
        return;
    w->date_sec = tv.tv_sec;
    struct tm tm;
    time_t t = tv.tv_sec;
    gmtime_r(&t, &tm);
    strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    strftime(w->iso, sizeof w->iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t rng_next(uint64_t s[2])
{
    uint64_t x = s[0], y = s[1];
    s[0] = y;
    x ^= x << 23;
    s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return s[1] + y;
}

void gw_worker_request_id(struct gw_worker *w, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = rng_next(w->rng), b = rng_next(w->rng);
    for (int i = 0; i < 16; i++) {
        out[i] = hex[(a >> (i * 4)) & 15];
        out[16 + i] = hex[(b >> (i * 4)) & 15];
    }
    out[32] = '\0';
}

static void on_access_timer(evutil_socket_t fd, short what, void *arg)
{
    struct gw_worker *w = arg;
    w->access_timer_on = false;
    gw_access_flush(w->access);
}

void gw_worker_access_log(struct gw_worker *w, const struct gw_access_rec *rec)
{
    if (gw_access_append(w->access, rec)) {
        gw_access_flush(w->access);
        return;
    }
    if (!w->access_timer_on) {
        struct timeval tv = { 0, 200 * 1000 };
        evtimer_add(&w->access_ev, &tv);
        w->access_timer_on = true;
    }
}

/* ---- lifecycle ---- */

void gw_worker_conn_gone(struct gw_worker *w)
{
    if (w->draining && w->nconns == 0)
        event_base_loopexit(w->base, NULL);
}

static void on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct gw_worker *w = arg;
    GW_LOG(GW_LOG_WARN, "worker %d: drain deadline reached, closing %zu connections", w->id,
           w->nconns);
    gw_conns_close_all(w);
    event_base_loopexit(w->base, NULL);
}

static void start_drain(struct gw_worker *w)
{
    w->draining = true;
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i])
            evconnlistener_free(w->listeners[i]);
    w->nlisteners = 0;
    gw_pool_close_idle(w);
    gw_conns_drain(w);
    uint32_t ms = w->conf->cfg->limits.drain_timeout_ms;
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    evtimer_assign(&w->drain_ev, w->base, on_drain_deadline, w);
    evtimer_add(&w->drain_ev, &tv);
    if (w->nconns == 0)
        event_base_loopexit(w->base, NULL);
}

static void adopt(struct gw_worker *w, struct gw_rtconf *rt)
{
    struct gw_wconf *nw = wconf_new(w, rt);
    if (!nw) {
        GW_LOG(GW_LOG_ERROR, "worker %d: out of memory adopting the new configuration", w->id);
        return;
    }
    struct gw_wconf *old = w->conf;
    w->conf = nw;
    if (old)
        gw_wconf_unref(old);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    struct gw_worker *w = arg;
    uint64_t v;
    if (read(w->notify_fd, &v, sizeof v) < 0 && errno != EAGAIN)
        GW_LOG(GW_LOG_ERROR, "worker %d: eventfd read: %s", w->id, strerror(errno));
    struct gw_rtconf *rt = atomic_exchange(&w->pending, NULL);
    if (rt) {
        adopt(w, rt);
        gw_rtconf_unref(rt);
    }
    if (atomic_load(&w->drain_requested) && !w->draining)
        start_drain(w);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    gw_conn_accept(arg, fd, sa, (socklen_t)salen);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct gw_worker *w = arg;
    int e = EVUTIL_SOCKET_ERROR();
    GW_LOG(GW_LOG_ERROR, "worker %d: accept: %s", w->id, evutil_socket_error_to_string(e));
}

static struct gw_worker *worker_new(int id, struct gw_rtconf *rt, char *err, size_t errlen)
{
    struct gw_worker *w = calloc(1, sizeof *w);
    if (!w)
        goto oom;
    w->id = id;
    w->notify_fd = -1;
    struct event_config *ec = event_config_new();
    if (!ec)
        goto oom;
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    w->base = event_base_new_with_config(ec);
    event_config_free(ec);
    w->metrics = calloc(1, sizeof *w->metrics);
    w->access = calloc(1, sizeof *w->access);
    w->hold = evbuffer_new();
    if (!w->base || !w->metrics || !w->access || !w->hold)
        goto oom;
    if (getrandom(w->rng, sizeof w->rng, 0) != sizeof w->rng || (!w->rng[0] && !w->rng[1])) {
        w->rng[0] = (uint64_t)gw_now_us() ^ 0x9e3779b97f4a7c15ull;
        w->rng[1] = (uint64_t)id * 0xbf58476d1ce4e5b9ull + 1;
    }
    w->conf = wconf_new(w, rt);
    if (!w->conf)
        goto oom;
    w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->notify_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    event_assign(&w->notify_ev, w->base, w->notify_fd, EV_READ | EV_PERSIST, on_notify, w);
    event_add(&w->notify_ev, NULL);
    evtimer_assign(&w->access_ev, w->base, on_access_timer, w);
    const struct gw_config *cfg = rt->cfg;
    w->listeners = calloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof *w->listeners);
    if (!w->listeners)
        goto oom;
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const struct gw_addr *a = &cfg->listeners[i].addr;
        w->listeners[i] = evconnlistener_new_bind(
            w->base, on_accept, w,
            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
                LEV_OPT_CLOSE_ON_EXEC,
            1024, (const struct sockaddr *)&a->ss, (int)a->len);
        if (!w->listeners[i]) {
            snprintf(err, errlen, "cannot listen on %s: %s", a->text, strerror(errno));
            goto fail;
        }
        evconnlistener_set_error_cb(w->listeners[i], on_accept_error);
        w->nlisteners++;
    }
    return w;
oom:
    snprintf(err, errlen, "out of memory creating worker %d", id);
fail:
    if (w) {
        for (size_t i = 0; i < w->nlisteners; i++)
            evconnlistener_free(w->listeners[i]);
        free(w->listeners);
        if (w->notify_fd >= 0) {
            event_del(&w->notify_ev);
            close(w->notify_fd);
        }
        if (w->conf)
            gw_wconf_unref(w->conf);
        gw_pool_destroy(w);
        free(w->metrics);
        free(w->access);
        if (w->hold)
            evbuffer_free(w->hold);
        if (w->base)
            event_base_free(w->base);
        free(w);
    }
    return NULL;
}

int gw_workers_create(struct gw_rtconf *rt, int n, char *err, size_t errlen)
{
    workers = calloc((size_t)n, sizeof *workers);
    if (!workers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        workers[i] = worker_new(i, rt, err, errlen);
        if (!workers[i]) {
            nworkers = i;
            gw_workers_destroy();
            return -1;
        }
    }
    nworkers = n;
    return 0;
}

static void *worker_main(void *arg)
{
    struct gw_worker *w = arg;
    event_base_dispatch(w->base);
    gw_access_flush(w->access);
    return NULL;
}

int gw_workers_start(void)
{
    for (int i = 0; i < nworkers; i++) {
        int rc = pthread_create(&workers[i]->thread, NULL, worker_main, workers[i]);
        if (rc != 0) {
            GW_LOG(GW_LOG_ERROR, "cannot start worker %d: %s", i, strerror(rc));
            return -1;
        }
    }
    return 0;
}

static void notify(struct gw_worker *w)
{
    uint64_t one = 1;
    if (write(w->notify_fd, &one, sizeof one) < 0)
        GW_LOG(GW_LOG_ERROR, "worker %d: eventfd write: %s", w->id, strerror(errno));
}

void gw_workers_reload(struct gw_rtconf *rt)
{
    for (int i = 0; i < nworkers; i++) {
        gw_rtconf_ref(rt);
        struct gw_rtconf *old = atomic_exchange(&workers[i]->pending, rt);
        if (old)
            gw_rtconf_unref(old);
        notify(workers[i]);
    }
}

void gw_workers_drain(void)
{
    atomic_store(&draining_flag, true);
    for (int i = 0; i < nworkers; i++) {
        atomic_store(&workers[i]->drain_requested, true);
        notify(workers[i]);
    }
}

void gw_workers_join(void)
{
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i]->thread, NULL);
}

void gw_workers_destroy(void)
{
    for (int i = 0; i < nworkers; i++) {
        struct gw_worker *w = workers[i];
        gw_conns_close_all(w);
        for (size_t k = 0; k < w->nlisteners; k++)
            evconnlistener_free(w->listeners[k]);
        free(w->listeners);
        event_del(&w->notify_ev);
        close(w->notify_fd);
        if (w->access_timer_on)
            event_del(&w->access_ev);
        gw_access_flush(w->access);
        struct gw_rtconf *p = atomic_exchange(&w->pending, NULL);
        if (p)
            gw_rtconf_unref(p);
        gw_pool_destroy(w);
        gw_wconf_unref(w->conf);
        gw_sbuf_free(&w->scratch);
        evbuffer_free(w->hold);
        event_base_free(w->base);
        free(w->metrics);
        free(w->access);
        free(w);
    }
    free(workers);
    workers = NULL;
    nworkers = 0;
}

size_t gw_workers_metrics(struct gw_metrics **out, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < nworkers && n < max; i++)
        out[n++] = workers[i]->metrics;
    return n;
}
