/* gateway/endpoints/admin_auth.c — authentication of admin API callers; see admin_auth.h:
 * an application_manager session (cookie), or the bootstrap token from a loopback client.
 * Never logs a token, cookie or header value. */
#include "gateway/endpoints/admin_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <stdlib.h>

#include "gateway/config.h"
#include "gateway/identify.h"
#include "gateway/log.h"

bool gw_secret_equal(const char *a, const char *b)
{
    unsigned char ha[SHA256_DIGEST_LENGTH], hb[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)a, strlen(a), ha);
    SHA256((const unsigned char *)b, strlen(b), hb);
    bool eq = CRYPTO_memcmp(ha, hb, sizeof ha) == 0;
    OPENSSL_cleanse(ha, sizeof ha);
    OPENSSL_cleanse(hb, sizeof hb);
    return eq;
}

/* The token of "Authorization: Bearer <token>", or NULL. Borrowed from <r>. */
static const char *bearer_token(struct gw_req *r)
{
    const char *h = gw_req_header(r, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

struct auth_ctx {
    gw_admin_auth_cb *cb;
    void *arg;
};

static void on_session(struct gw_req *r, int rc, const struct auth_session_info *info,
                       void *arg)
{
    struct auth_ctx ctx = *(struct auth_ctx *)arg;
    free(arg);
    struct gw_admin_principal who = { .result = GW_ADMIN_AUTH_NONE };
    if (rc == AUTH_SESSION_ENOTFOUND) {
        snprintf(who.detail, sizeof who.detail, "authentication required");
    } else if (rc != 0) {
        who.result = GW_ADMIN_AUTH_UNAVAILABLE;
        snprintf(who.detail, sizeof who.detail, "the session store is unavailable");
    } else {
        bool manager = false;
        for (size_t i = 0; i < info->nroles && !manager; i++)
            manager = !strcmp(info->roles[i], "application_manager");
        if (manager) {
            who.result = GW_ADMIN_AUTH_OK;
            snprintf(who.actor, sizeof who.actor, "person:%s", info->person_id);
        } else {
            who.result = GW_ADMIN_AUTH_FORBIDDEN;
            snprintf(who.detail, sizeof who.detail,
                     "this needs the role 'application_manager'");
            GW_LOG(GW_LOG_INFO, "admin: person %s without application_manager refused "
                   "(request %s)", info->person_id, gw_req_request_id(r));
        }
    }
    ctx.cb(r, &who, ctx.arg);
}

void gw_admin_authenticate(struct gw_req *r, gw_admin_auth_cb *cb, void *arg)
{
    struct gw_admin_principal who = { .result = GW_ADMIN_AUTH_NONE };
    const struct gw_config *cfg = gw_req_config(r);
    const char *token = bearer_token(r);

    if (token) {
        /* the bootstrap token: only from a loopback client, now that sessions exist */
        if (cfg->admin.bootstrap_token && gw_req_is_loopback(r) &&
            gw_secret_equal(token, cfg->admin.bootstrap_token)) {
            who.result = GW_ADMIN_AUTH_OK;
            snprintf(who.actor, sizeof who.actor, "admin:bootstrap");
        } else {
            GW_LOG(GW_LOG_WARN, "admin: bearer token refused from %s (request %s)%s",
                   gw_req_client_ip(r), gw_req_request_id(r),
                   gw_req_is_loopback(r) ? "" : ": the bootstrap token is accepted from "
                   "loopback clients only");
            snprintf(who.detail, sizeof who.detail, "invalid credentials");
        }
        cb(r, &who, arg);
        return;
    }
    struct auth_ctx *ctx = malloc(sizeof *ctx);
    if (!ctx) {
        who.result = GW_ADMIN_AUTH_UNAVAILABLE;
        snprintf(who.detail, sizeof who.detail, "out of memory");
        cb(r, &who, arg);
        return;
    }
    *ctx = (struct auth_ctx){ cb, arg };
    gw_identify_session(r, on_session, ctx);
}
