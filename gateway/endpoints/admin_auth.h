/* gateway/endpoints/admin_auth.h — who is calling the admin API: a person with the
 * application_manager role, by their session cookie (one Redis lookup), or — from a loopback
 * client only — the bootstrap token of admin.bootstrap_token_file, presented as
 * "Authorization: Bearer <token>" and compared in constant time. The answer may come
 * asynchronously (the session lookup), always on the request's worker thread. */
#ifndef ONEGATE_GATEWAY_ENDPOINTS_ADMIN_AUTH_H
#define ONEGATE_GATEWAY_ENDPOINTS_ADMIN_AUTH_H

#include "gateway/endpoints/endpoint.h"

enum gw_admin_auth_result {
    GW_ADMIN_AUTH_OK = 0,
    GW_ADMIN_AUTH_NONE,             /* no or invalid credentials: 401 */
    GW_ADMIN_AUTH_FORBIDDEN,        /* known caller without the right: 403 */
    GW_ADMIN_AUTH_UNAVAILABLE,      /* could not check (Redis down): 503, never pass */
};

struct gw_admin_principal {
    enum gw_admin_auth_result result;
    char actor[96];                 /* for audit entries and logs: "admin:bootstrap",
                                     * "person:<uuid>"; no names, no secrets */
    char detail[160];               /* for the client when result != OK */
};

typedef void gw_admin_auth_cb(struct gw_req *r, const struct gw_admin_principal *who,
                              void *arg);

/* Authenticates <r> and calls <cb> exactly once (possibly before returning). <cb> owns the
 * answer to <r>. */
void gw_admin_authenticate(struct gw_req *r, gw_admin_auth_cb *cb, void *arg);

/* True when <a> and <b> (NUL-terminated) are equal; time depends on neither's content nor
 * length (both are hashed first). */
bool gw_secret_equal(const char *a, const char *b);

#endif
