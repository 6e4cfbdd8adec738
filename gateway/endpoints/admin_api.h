/* gateway/endpoints/admin_api.h — the admin API over HTTP (JSON), under admin.prefix
 * (default "/admin/v1/"). The operations themselves are auth/admin_ops.h; this endpoint adds
 * the HTTP side: same-origin and Content-Type checks, authentication, the bounded JSON body,
 * and running the operation on the auth work pool. Described in docs/openapi-admin.yaml. */
#ifndef ONEGATE_GATEWAY_ENDPOINTS_ADMIN_API_H
#define ONEGATE_GATEWAY_ENDPOINTS_ADMIN_API_H

#include "gateway/config.h"
#include "gateway/services.h"

#define GW_ADMIN_BODY_MAX_BYTES (1024 * 1024)

/* Registers the endpoint under <cfg>->admin.prefix (main thread, before the workers start).
 * <svc> is borrowed and must outlive the workers. Returns 0 or -1 (prefix taken). */
int gw_admin_api_register(const struct gw_config *cfg, struct gw_services *svc);

#endif
