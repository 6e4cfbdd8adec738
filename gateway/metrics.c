/* gateway/metrics.c — label interning, per-worker counting, Prometheus text rendering. */
#include "gateway/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http/headers.h"

const double gw_metrics_lat_bounds_s[GW_METRICS_LAT_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
};

static pthread_mutex_t labels_mu = PTHREAD_MUTEX_INITIALIZER;
static char *route_labels[GW_METRICS_MAX_ROUTES] = { "-", "builtin" };
static size_t nroute_labels = 2;
static char *upstream_labels[GW_METRICS_MAX_UPSTREAMS];
static size_t nupstream_labels;

static uint16_t intern(char **tab, size_t *n, size_t max, const char *label, uint16_t full)
{
    pthread_mutex_lock(&labels_mu);
    uint16_t id = full;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(tab[i], label)) {
            id = (uint16_t)i;
            goto out;
        }
    if (*n < max) {
        char *s = strdup(label);
        if (s) {
            tab[*n] = s;
            id = (uint16_t)(*n)++;
        }
    }
out:
    pthread_mutex_unlock(&labels_mu);
    return id;
}

uint16_t gw_metrics_route_id(const char *label)
{
    return intern(route_labels, &nroute_labels, GW_METRICS_MAX_ROUTES, label,
                  GW_METRIC_ROUTE_NONE);
}

uint16_t gw_metrics_upstream_id(const char *name)
{
    /* id GW_METRICS_MAX_UPSTREAMS - 1 absorbs overflow */
    return intern(upstream_labels, &nupstream_labels, GW_METRICS_MAX_UPSTREAMS - 1, name,
                  GW_METRICS_MAX_UPSTREAMS - 1);
}

void gw_metrics_count_request(struct gw_metrics *m, uint16_t route_id, int status)
{
    int cls = status / 100;
    if (cls < 1 || cls > 5)
        cls = 5;
    if (route_id >= GW_METRICS_MAX_ROUTES)
        route_id = GW_METRIC_ROUTE_NONE;
    gw_metric_add(&m->requests[route_id][cls], 1);
}

void gw_metrics_observe_upstream(struct gw_metrics *m, uint16_t up, uint64_t us)
{
    if (up >= GW_METRICS_MAX_UPSTREAMS)
        return;
    double s = (double)us / 1e6;
    size_t b = 0;
    while (b < GW_METRICS_LAT_BUCKETS && s > gw_metrics_lat_bounds_s[b])
        b++;
    gw_metric_add(&m->lat_bucket[up][b], 1);
    gw_metric_add(&m->lat_sum_us[up], us);
}

static uint64_t ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

static void add_label(struct gw_sbuf *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            gw_sbuf_add(o, "\\", 1);
        if (*s == '\n')
            gw_sbuf_adds(o, "\\n");
        else
            gw_sbuf_add(o, s, 1);
    }
}

char *gw_metrics_render(struct gw_metrics *const *w, size_t n, uint64_t conns_open, size_t *len)
{
    struct gw_sbuf o = {0};
    char tmp[128];
    pthread_mutex_lock(&labels_mu);
    size_t nr = nroute_labels, nu = nupstream_labels;
    pthread_mutex_unlock(&labels_mu);
    static const char *cls_names[6] = { "", "1xx", "2xx", "3xx", "4xx", "5xx" };

    gw_sbuf_adds(&o, "# HELP onegate_requests_total Requests answered, by route and status class.\n"
                     "# TYPE onegate_requests_total counter\n");
    for (size_t r = 0; r < nr; r++) {
        for (int c = 1; c <= 5; c++) {
            uint64_t v = 0;
            for (size_t i = 0; i < n; i++)
                v += ld(&w[i]->requests[r][c]);
            if (!v)
                continue;
            gw_sbuf_adds(&o, "onegate_requests_total{route=\"");
            add_label(&o, route_labels[r]);     /* entries are never freed or changed */
            snprintf(tmp, sizeof tmp, "\",code_class=\"%s\"} %llu\n", cls_names[c],
                     (unsigned long long)v);
            gw_sbuf_adds(&o, tmp);
        }
    }
    gw_sbuf_adds(&o, "# HELP onegate_upstream_response_seconds Time from sending a request upstream "
                     "to the end of its response.\n"
                     "# TYPE onegate_upstream_response_seconds histogram\n");
    for (size_t u = 0; u < nu; u++) {
        uint64_t cum = 0, sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += ld(&w[i]->lat_sum_us[u]);
        for (size_t b = 0; b <= GW_METRICS_LAT_BUCKETS; b++) {
            for (size_t i = 0; i < n; i++)
                cum += ld(&w[i]->lat_bucket[u][b]);
            gw_sbuf_adds(&o, "onegate_upstream_response_seconds_bucket{upstream=\"");
            add_label(&o, upstream_labels[u]);
            if (b < GW_METRICS_LAT_BUCKETS)
                snprintf(tmp, sizeof tmp, "\",le=\"%g\"} %llu\n", gw_metrics_lat_bounds_s[b],
                         (unsigned long long)cum);
            else
                snprintf(tmp, sizeof tmp, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
            gw_sbuf_adds(&o, tmp);
        }
        gw_sbuf_adds(&o, "onegate_upstream_response_seconds_sum{upstream=\"");
        add_label(&o, upstream_labels[u]);
        snprintf(tmp, sizeof tmp, "\"} %.6f\n", (double)sum / 1e6);
        gw_sbuf_adds(&o, tmp);
        gw_sbuf_adds(&o, "onegate_upstream_response_seconds_count{upstream=\"");
        add_label(&o, upstream_labels[u]);
        snprintf(tmp, sizeof tmp, "\"} %llu\n", (unsigned long long)cum);
        gw_sbuf_adds(&o, tmp);
    }
    uint64_t bin = 0, bout = 0;
    for (size_t i = 0; i < n; i++) {
        bin += ld(&w[i]->bytes_in);
        bout += ld(&w[i]->bytes_out);
    }
    snprintf(tmp, sizeof tmp, "onegate_connections_open %llu\n", (unsigned long long)conns_open);
    gw_sbuf_adds(&o, "# HELP onegate_connections_open Open client connections.\n"
                     "# TYPE onegate_connections_open gauge\n");
    gw_sbuf_adds(&o, tmp);
    gw_sbuf_adds(&o, "# HELP onegate_bytes_received_total Bytes received from clients.\n"
                     "# TYPE onegate_bytes_received_total counter\n");
    snprintf(tmp, sizeof tmp, "onegate_bytes_received_total %llu\n", (unsigned long long)bin);
    gw_sbuf_adds(&o, tmp);
    gw_sbuf_adds(&o, "# HELP onegate_bytes_sent_total Bytes sent to clients.\n"
                     "# TYPE onegate_bytes_sent_total counter\n");
    snprintf(tmp, sizeof tmp, "onegate_bytes_sent_total %llu\n", (unsigned long long)bout);
    gw_sbuf_adds(&o, tmp);
    uint64_t sig = 0, thr[2] = { 0, 0 };
    for (size_t i = 0; i < n; i++) {
        sig += ld(&w[i]->bearer_signature_checks);
        thr[0] += ld(&w[i]->bearer_throttled[GW_METRIC_THROTTLE_CLIENT]);
        thr[1] += ld(&w[i]->bearer_throttled[GW_METRIC_THROTTLE_SIG_CAP]);
    }
    gw_sbuf_adds(&o, "# HELP onegate_bearer_signature_checks_total Bearer tokens not in the "
                     "verified-token cache whose signature was checked.\n"
                     "# TYPE onegate_bearer_signature_checks_total counter\n");
    snprintf(tmp, sizeof tmp, "onegate_bearer_signature_checks_total %llu\n",
             (unsigned long long)sig);
    gw_sbuf_adds(&o, tmp);
    gw_sbuf_adds(&o, "# HELP onegate_bearer_throttled_total Bearer tokens answered 429 without "
                     "a signature check: the client's failed-verification budget or the "
                     "worker's cap on signature checks was spent.\n"
                     "# TYPE onegate_bearer_throttled_total counter\n");
    static const char *const reasons[2] = { "client_budget", "signature_cap" };
    for (int k = 0; k < 2; k++) {
        snprintf(tmp, sizeof tmp, "onegate_bearer_throttled_total{reason=\"%s\"} %llu\n",
                 reasons[k], (unsigned long long)thr[k]);
        gw_sbuf_adds(&o, tmp);
    }
    gw_sbuf_add(&o, "", 1);                   /* NUL-terminated; not counted in *len */
    if (o.oom) {
        gw_sbuf_free(&o);
        return NULL;
    }
    *len = o.len - 1;
    return o.p;
}
