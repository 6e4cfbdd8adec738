/* gateway/endpoints/metrics.c — Prometheus text exposition of every worker's counters. */
#include "gateway/endpoints/builtin.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "gateway/worker.h"

void gw_endpoint_metrics(struct gw_req *r, void *ctx)
{
    struct gw_metrics *m[256];
    size_t n = gw_workers_metrics(m, 256);
    size_t len = 0;
    char *text = gw_metrics_render(m, n, atomic_load(&gw_conns_open), &len);
    if (!text) {
        gw_req_respond_error(r, 500, "out of memory");
        return;
    }
    gw_req_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", "Cache-Control: no-store\r\n",
                   text, len);
    free(text);
}
