/* gateway/endpoints/builtin.h — onegate's own endpoints under builtin_prefix (default "/-/"):
 * live, ready, metrics. The engine looks them up per request with the prefix of the request's
 * configuration (gateway/http/local_req.c); other endpoints register with gw_endpoint_register.
 */
#ifndef ONEGATE_GATEWAY_ENDPOINTS_BUILTIN_H
#define ONEGATE_GATEWAY_ENDPOINTS_BUILTIN_H

#include "gateway/endpoints/endpoint.h"

void gw_endpoint_live(struct gw_req *r, void *ctx);      /* 200 while the process runs */
void gw_endpoint_ready(struct gw_req *r, void *ctx);     /* 200, or 503 once draining */
void gw_endpoint_metrics(struct gw_req *r, void *ctx);   /* Prometheus text */

#endif
