/* gateway/metrics.h — per-worker counters, summed only when /-/metrics is scraped.
 *
 * Each worker writes its own struct gw_metrics (single writer, relaxed atomic stores: no lock
 * and no locked instruction on the request path); a scrape reads every worker's counters with
 * relaxed loads. Route and upstream labels are interned process-wide when a configuration is
 * installed, so a counter keeps its identity across reloads.
 */
#ifndef ONEGATE_GATEWAY_METRICS_H
#define ONEGATE_GATEWAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define GW_METRICS_MAX_ROUTES 512
#define GW_METRICS_MAX_UPSTREAMS 128
#define GW_METRICS_LAT_BUCKETS 13

/* Reserved route labels. */
#define GW_METRIC_ROUTE_NONE 0      /* "-": rejected before or without a route */
#define GW_METRIC_ROUTE_BUILTIN 1   /* "builtin": onegate's own endpoints */

/* Why a bearer token was answered 429 before any signature work (bearer_throttled[]). */
#define GW_METRIC_THROTTLE_CLIENT 0     /* the client address's failed-verification budget */
#define GW_METRIC_THROTTLE_SIG_CAP 1    /* the worker's cap on signature checks */

extern const double gw_metrics_lat_bounds_s[GW_METRICS_LAT_BUCKETS];

struct gw_metrics {
    uint64_t requests[GW_METRICS_MAX_ROUTES][6];     /* [route id][status / 100] */
    uint64_t lat_bucket[GW_METRICS_MAX_UPSTREAMS][GW_METRICS_LAT_BUCKETS + 1];
    uint64_t lat_sum_us[GW_METRICS_MAX_UPSTREAMS];
    uint64_t bytes_in, bytes_out;
    uint64_t bearer_signature_checks;               /* tokens not in the cache, checked */
    uint64_t bearer_throttled[2];                   /* [GW_METRIC_THROTTLE_*] */
};

/* Interns <label> and returns its id (stable for the process), or the NONE id when the table
 * is full. Takes a mutex: call only at configuration install time, never per request. */
uint16_t gw_metrics_route_id(const char *label);
uint16_t gw_metrics_upstream_id(const char *name);

static inline void gw_metric_add(uint64_t *c, uint64_t v)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

void gw_metrics_count_request(struct gw_metrics *m, uint16_t route_id, int status);
void gw_metrics_observe_upstream(struct gw_metrics *m, uint16_t upstream_id, uint64_t us);

/* Renders Prometheus text for the given worker counters (summed) into a new NUL-terminated malloc'd string
 * (caller frees) and its length; <conns_open> is the current open client connections. */
char *gw_metrics_render(struct gw_metrics *const *workers, size_t n, uint64_t conns_open,
                        size_t *len);

#endif
