/* gateway/person_jwt.c — minting and reuse of the person tokens forwarded to portals; see
 * person_jwt.h. Runs on the worker's thread. Tokens are never logged.
 */
#include "gateway/person_jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/jwt_mint.h"
#include "gateway/http/request.h"
#include "gateway/log.h"
#include "gateway/tokens.h"

int gw_person_jwt_get(struct gw_req *r, const struct auth_session_info *info,
                      const char *audience, bool name, bool email, const char **jwt,
                      int64_t *exp)
{
    const struct gw_config *cfg = r->wc->cfg;
    if (!cfg->jwt.configured)
        return -1;
    struct gw_tok_worker *tw = gw_tokens_worker(r->w, cfg);
    if (!tw)
        return -1;
    unsigned claims = (name ? 1u : 0u) | (email ? 2u : 0u);
    uint64_t gen = auth_jwt_keyset_generation(cfg->jwt.keyset);
    int64_t now = (int64_t)time(NULL);
    uint32_t life = cfg->jwt.token_lifetime_ms / 1000;
    const char *t = gw_tok_person_get(tw, info->sid, info->person_version, audience, claims,
                                      gen, now, cfg->jwt.renew_before_ms / 1000, exp);
    if (t) {
        gw_tok_count_minted(tw, true);
        *jwt = t;
        return 0;
    }
    struct auth_jwt_mint_opts mo = { .issuer = cfg->jwt.issuer, .audience = audience,
                                     .now_s = now, .lifetime_s = life };
    struct auth_jwt_person p = {
        .sub = info->person_id, .sid = info->sid, .roles = info->roles, .nroles = info->nroles,
        .ssp_access = info->ssp_access, .caller = info->is_caller,
        .name = name ? info->name : NULL,
        .email = email && info->email && *info->email ? info->email : NULL,
    };
    struct auth_jwt_token tok = { 0 };
    char err[200];
    if (auth_jwt_mint_person(cfg->jwt.keyset, &mo, &p, &tok, err, sizeof err) != 0) {
        GW_LOG(GW_LOG_ERROR, "person token for %s: %s", info->person_id, err);
        return -1;
    }
    gw_tok_person_put(tw, info->sid, info->person_version, audience, claims, gen, tok.jwt,
                      tok.exp);
    gw_tok_count_minted(tw, false);
    t = gw_tok_person_get(tw, info->sid, info->person_version, audience, claims, gen, now,
                          0, exp);
    auth_jwt_token_clear(&tok);
    if (!t)
        return -1;                  /* could not be cached (ENOMEM) */
    *jwt = t;
    return 0;
}

int gw_person_jwt_header(struct gw_req *r, const struct auth_session_info *info,
                         const char **name, const char **jwt)
{
    *name = NULL;
    *jwt = NULL;
    if (r->route < 0)
        return 0;
    const struct gw_route_conf *rc = &r->wc->cfg->routes[r->route];
    if (!rc->audience)
        return 0;
    int64_t exp;
    if (gw_person_jwt_get(r, info, rc->audience, rc->jwt_claim_name, rc->jwt_claim_email, jwt,
                          &exp) != 0) {
        *jwt = NULL;
        return -1;
    }
    *name = rc->jwt_header;
    return 0;
}
