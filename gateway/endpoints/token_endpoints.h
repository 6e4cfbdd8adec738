/* gateway/endpoints/token_endpoints.h — the endpoints of issue 5, registered by
 * gateway/tokens.c when the configuration has jwt: (and oauth:):
 *   GET  /.well-known/jwks.json, /.well-known/openid-configuration   (jwks.c)
 *   POST /oauth/token, /oauth/introspect, /oauth/revoke               (oauth.c)
 * Each answers 404 when a reload removed the section it needs.
 */
#ifndef ONEGATE_GATEWAY_ENDPOINTS_TOKEN_ENDPOINTS_H
#define ONEGATE_GATEWAY_ENDPOINTS_TOKEN_ENDPOINTS_H

#include "gateway/endpoints/endpoint.h"

void gw_endpoint_jwks(struct gw_req *r, void *ctx);
void gw_endpoint_openid_configuration(struct gw_req *r, void *ctx);
void gw_endpoint_oauth_token(struct gw_req *r, void *ctx);
void gw_endpoint_oauth_introspect(struct gw_req *r, void *ctx);
void gw_endpoint_oauth_revoke(struct gw_req *r, void *ctx);
/* GET <builtin_prefix>jwt (session_jwt.c) */
void gw_endpoint_session_jwt(struct gw_req *r, void *ctx);

#endif
