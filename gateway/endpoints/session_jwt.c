/* gateway/endpoints/session_jwt.c — GET <builtin_prefix>jwt: the current person token of the
 * browser's session (like Pomerium's /.pomerium/jwt), for portal front ends that call APIs
 * directly. Answers only same-origin requests (gateway/endpoints/origin.h) that carry a live
 * session cookie; the token is the one forwarded to the portal (same cache, same claims).
 * Which portal: ?audience=<a route's audience>, or the only audience when just one is
 * configured. Registered by gateway/tokens.c.
 */
#include "gateway/endpoints/token_endpoints.h"

#include <stdio.h>
#include <string.h>

#include "gateway/endpoints/origin.h"
#include "gateway/http/request.h"
#include "gateway/identify.h"
#include "gateway/person_jwt.h"

/* The route carrying <aud>, or the only audience's route when <aud> is NULL; NULL if none. */
static const struct gw_route_conf *route_for(const struct gw_config *cfg, const char *aud,
                                             size_t alen)
{
    const struct gw_route_conf *found = NULL;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const struct gw_route_conf *rc = &cfg->routes[i];
        if (!rc->audience)
            continue;
        if (aud) {
            if (strlen(rc->audience) == alen && !memcmp(rc->audience, aud, alen))
                return rc;
        } else if (!found) {
            found = rc;
        } else if (strcmp(found->audience, rc->audience) != 0) {
            return NULL;            /* several portals: the caller must say which */
        }
    }
    return found;
}

static void on_session(struct gw_req *r, int rc, const struct auth_session_info *info,
                       void *arg)
{
    if (rc == AUTH_SESSION_EREDIS || rc == AUTH_SESSION_ENOMEM) {
        gw_req_respond_error(r, 503, "the session store is unavailable; try again shortly");
        return;
    }
    if (rc != 0) {
        gw_req_respond(r, 401, "application/json", "Cache-Control: no-store\r\n",
                       "{\"error\":\"login_required\"}", 26);
        return;
    }
    const struct gw_config *cfg = r->wc->cfg;
    const char *q = gw_req_query(r), *aud = NULL;
    size_t alen = 0;
    if (!strncmp(q, "audience=", 9)) {
        aud = q + 9;
        alen = strcspn(aud, "&");
    }
    const struct gw_route_conf *route = route_for(cfg, aud, alen);
    if (!route) {
        gw_req_respond_error(r, 400, "name the portal: ?audience=<one of the configured "
                             "audiences>");
        return;
    }
    const char *jwt;
    int64_t exp;
    if (gw_person_jwt_get(r, info, route->audience, route->jwt_claim_name,
                          route->jwt_claim_email, &jwt, &exp) != 0) {
        gw_req_respond_error(r, 500, "the identity token could not be issued");
        return;
    }
    gw_req_respond(r, 200, "application/jwt", "Cache-Control: no-store\r\nPragma: no-cache\r\n",
                   jwt, strlen(jwt));
}

void gw_endpoint_session_jwt(struct gw_req *r, void *ctx)
{
    char why[200];
    if (strcmp(gw_req_method(r), "GET") != 0 && strcmp(gw_req_method(r), "HEAD") != 0) {
        gw_req_respond(r, 405, "text/plain; charset=utf-8", "Allow: GET, HEAD\r\n",
                       "method not allowed\n", 19);
        return;
    }
    if (!r->wc->cfg->jwt.configured) {
        gw_req_respond_error(r, 404, "no signing keys are configured");
        return;
    }
    if (gw_origin_check(r, why, sizeof why) != 0) {
        gw_req_respond_error(r, 403, why);
        return;
    }
    gw_identify_session(r, on_session, NULL);
}
