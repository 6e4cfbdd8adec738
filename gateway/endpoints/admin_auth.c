/* gateway/endpoints/admin_auth.c — authentication of admin API callers; see admin_auth.h.
 * Never logs a token or header value. */
#include "gateway/endpoints/admin_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "gateway/config.h"
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

void gw_admin_authenticate(struct gw_req *r, gw_admin_auth_cb *cb, void *arg)
{
    struct gw_admin_principal who = { .result = GW_ADMIN_AUTH_NONE };
    const struct gw_config *cfg = gw_req_config(r);
    const char *token = bearer_token(r);

    if (token && cfg->admin.bootstrap_token) {
        if (gw_secret_equal(token, cfg->admin.bootstrap_token)) {
            who.result = GW_ADMIN_AUTH_OK;
            snprintf(who.actor, sizeof who.actor, "admin:bootstrap");
        } else {
            GW_LOG(GW_LOG_WARN, "admin: wrong bearer token from %s (request %s)",
                   gw_req_client_ip(r), gw_req_request_id(r));
            snprintf(who.detail, sizeof who.detail, "invalid credentials");
        }
    } else {
        snprintf(who.detail, sizeof who.detail, "authentication required");
    }
    cb(r, &who, arg);
}
