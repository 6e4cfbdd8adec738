/* gateway/endpoints/health.c — liveness and readiness probes. */
#include "gateway/endpoints/builtin.h"

#include "gateway/worker.h"

void gw_endpoint_live(struct gw_req *r, void *ctx)
{
    gw_req_respond(r, 200, "text/plain; charset=utf-8", "Cache-Control: no-store\r\n", "ok\n", 3);
}

void gw_endpoint_ready(struct gw_req *r, void *ctx)
{
    if (gw_workers_draining())
        gw_req_respond(r, 503, "text/plain; charset=utf-8", "Cache-Control: no-store\r\n",
                       "draining\n", 9);
    else
        gw_req_respond(r, 200, "text/plain; charset=utf-8", "Cache-Control: no-store\r\n",
                       "ready\n", 6);
}
