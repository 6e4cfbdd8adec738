/* gateway/bearer.c — verification of API-account bearer tokens on the request path; see
 * bearer.h. Runs on the worker's thread; never logs a token (fingerprints only).
 */
#include "gateway/bearer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/jwt_cache.h"
#include "auth/jwt_verify.h"
#include "auth/token_store.h"
#include "gateway/http/request.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/services.h"
#include "gateway/tokens.h"
#include "gateway/worker.h"

#define SCOPE_NAME_MAX 64
#define WHO_MAX 112                 /* "api_account <client_id, 80 at most> (token <fp>)" */

/* What a cache entry keeps besides the claims (auth/jwt_cache.h aux area), so that a hit
 * parses no scope string and formats no label: filled on the entry's first hit. */
struct bearer_aux {
    const struct pol_policy *policy;    /* <pr> was built against it; NULL = not filled yet */
    struct pol_principal pr;
    char who[WHO_MAX];
};

struct gw_bearer {
    struct gw_req *r;
    gw_bearer_cb *cb;
    void *arg;
    const char *tok;                /* borrowed from r's head */
    size_t len;
    struct auth_jwt_claims *claims;
    uint64_t epoch;
    struct gw_tok_worker *tw;
    struct auth_token_check_op op;
};

bool gw_bearer_applies(const struct gw_req *r, const char **tok, size_t *len)
{
    const struct gw_config *cfg = r->wc->cfg;
    if (!cfg->jwt.configured || r->route < 0)
        return false;
    const struct gw_hp_field *a = gw_hdr_find(r->fields, r->h.nfields, "authorization");
    if (!a || a->value_len < 7 || strncasecmp(a->value, "Bearer ", 7) != 0)
        return false;
    const char *t = a->value + 7;
    size_t n = a->value_len - 7;
    while (n && *t == ' ') {
        t++;
        n--;
    }
    while (n && t[n - 1] == ' ')
        n--;
    /* Could any API account pass? Probe with one that holds every declared scope. */
    struct pol_principal pr;
    struct pol_decision d;
    pol_principal_init(&pr, POL_KIND_API_ACCOUNT);
    for (size_t i = 0; i < pol_policy_scope_count(cfg->policy); i++)
        pol_bitset_set(&pr.scopes, (int)i);
    if (pol_decide(cfg->policy, (size_t)r->route, r->method, r->path, r->path_len, &pr, &d) !=
        POL_ALLOW)
        return false;
    *tok = t;
    *len = n;
    return true;
}

static void verify_opts(const struct gw_config *cfg, struct auth_jwt_verify_opts *vo)
{
    auth_jwt_verify_opts_init(vo);
    vo->issuer = cfg->jwt.issuer;
    vo->audience = cfg->oauth.audience;
    vo->expect = AUTH_JWT_SUB_API_ACCOUNT;
    vo->leeway_s = cfg->jwt.leeway_ms / 1000;
    vo->max_token_bytes = cfg->jwt.max_token_bytes;
}

/* The principal of verified API claims: each granted scope the policy declares. */
static void principal_of(const struct gw_config *cfg, const struct auth_jwt_claims *c,
                         struct pol_principal *pr)
{
    pol_principal_init(pr, POL_KIND_API_ACCOUNT);
    const char *p = c->scope ? c->scope : "";
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n && n <= SCOPE_NAME_MAX) {
            char name[SCOPE_NAME_MAX + 1];
            memcpy(name, p, n);
            name[n] = '\0';
            pol_principal_add_scope(cfg->policy, pr, name);
        }
        p += n;
        while (*p == ' ')
            p++;
    }
}

size_t gw_bearer_cache_aux_bytes(void)
{
    return sizeof(struct bearer_aux);
}

static void who_of(const struct auth_jwt_claims *c, const char *fp, char who[WHO_MAX])
{
    snprintf(who, WHO_MAX, "api_account %.80s (token %s)", c->client_id, fp);
}

/* A token verified just now (not from the cache): principal and label built once. */
static void deliver_ok(struct gw_req *r, const struct auth_jwt_claims *c, const char *tok,
                       size_t len, gw_bearer_cb *cb, void *arg)
{
    struct pol_principal pr;
    char who[WHO_MAX], fp[AUTH_JWT_FP_LEN + 1];
    auth_jwt_fingerprint(tok, len, fp);
    principal_of(r->wc->cfg, c, &pr);
    who_of(c, fp, who);
    cb(r, GW_BEARER_OK, &pr, who, NULL, arg);
}

/* A cache hit: the entry's principal and label, derived on its first hit (or again after a
 * configuration change: the principal's bits are the policy's). Copied out of the entry, so
 * <cb> holds nothing the cache may free. */
static void deliver_hit(struct gw_req *r, const struct auth_jwt_cache_hit *hit,
                        gw_bearer_cb *cb, void *arg)
{
    const struct gw_config *cfg = r->wc->cfg;
    struct bearer_aux *a = hit->aux, scratch;
    if (!a) {                       /* a cache made without the aux area: derive per hit */
        scratch.policy = NULL;
        a = &scratch;
    }
    if (a->policy != cfg->policy) {
        principal_of(cfg, hit->claims, &a->pr);
        who_of(hit->claims, hit->fp, a->who);
        a->policy = cfg->policy;
    }
    struct pol_principal pr = a->pr;
    char who[WHO_MAX];
    memcpy(who, a->who, sizeof who);
    cb(r, GW_BEARER_OK, &pr, who, NULL, arg);
}

static void refuse(struct gw_req *r, struct gw_tok_worker *tw, int rc, const char *why,
                   const char *tok, size_t len, gw_bearer_cb *cb, void *arg)
{
    char who[64], fp[AUTH_JWT_FP_LEN + 1];
    const struct gw_config *cfg = r->wc->cfg;
    if (rc == GW_BEARER_EINVALID && tw)
        gw_tok_bad_spend(tw, r->client_ip, cfg->jwt.bad_token_burst, cfg->jwt.bad_token_per_s);
    auth_jwt_fingerprint(tok, len, fp);
    snprintf(who, sizeof who, "bearer token %s", fp);
    cb(r, rc, NULL, who, why, arg);
}

static void on_check(int rc, enum auth_token_state st, void *arg)
{
    struct gw_bearer *b = arg;
    struct gw_req *r = b->r;
    if (rc) {
        refuse(r, b->tw, GW_BEARER_EUNAVAILABLE, "the token store is unavailable", b->tok,
               b->len, b->cb, b->arg);
    } else if (st != AUTH_TOKEN_VALID) {
        refuse(r, b->tw, GW_BEARER_EINVALID, st == AUTH_TOKEN_REVOKED ? "the token was revoked"
               : st == AUTH_TOKEN_INACTIVE ? "the API account is not active"
               : "the token is not known (revoked with its account, or not issued here)",
               b->tok, b->len, b->cb, b->arg);
    } else {
        struct auth_jwt_cache *cache = gw_tok_cache(b->tw);
        if (cache)
            auth_jwt_cache_insert(cache, r->wc->cfg->jwt.keyset, b->tok, b->len, b->claims,
                                  b->epoch);
        deliver_ok(r, b->claims, b->tok, b->len, b->cb, b->arg);
    }
    auth_jwt_claims_unref(b->claims);
    free(b);
}

struct gw_bearer *gw_bearer_verify(struct gw_req *r, const char *tok, size_t len,
                                   gw_bearer_cb *cb, void *arg)
{
    const struct gw_config *cfg = r->wc->cfg;
    struct gw_tok_worker *tw = gw_tokens_worker(r->w, cfg);
    struct auth_jwt_verify_opts vo;
    struct auth_jwt_claims *c = NULL;
    char err[200];
    verify_opts(cfg, &vo);
    if (!tw) {
        cb(r, GW_BEARER_ENOMEM, NULL, "bearer", "out of memory", arg);
        return NULL;
    }
    struct auth_jwt_cache *cache = gw_tok_cache(tw);
    if (cache) {
        struct auth_jwt_cache_hit hit;
        int rc = auth_jwt_cache_find(cache, cfg->jwt.keyset, &vo, tok, len, &hit, err,
                                     sizeof err);
        if (rc < 0) {
            refuse(r, tw, GW_BEARER_EINVALID, auth_jwt_strerror(rc), tok, len, cb, arg);
            return NULL;
        }
        if (hit.claims) {
            deliver_hit(r, &hit, cb, arg);
            return NULL;
        }
    }
    /* A miss: signature work ahead, only within this client's failure budget and the
     * worker's cap on signature checks (both answered 429 without any crypto). */
    if (!gw_tok_bad_allowed(tw, r->client_ip, cfg->jwt.bad_token_burst,
                            cfg->jwt.bad_token_per_s)) {
        gw_tok_count_bad_refused(tw);
        gw_metric_add(&r->w->metrics->bearer_throttled[GW_METRIC_THROTTLE_CLIENT], 1);
        cb(r, GW_BEARER_ETHROTTLED, NULL, "bearer", "too many invalid tokens from this client",
           arg);
        return NULL;
    }
    if (!gw_tok_sig_allowed(tw, cfg->jwt.max_signature_checks_per_s)) {
        gw_metric_add(&r->w->metrics->bearer_throttled[GW_METRIC_THROTTLE_SIG_CAP], 1);
        cb(r, GW_BEARER_EBUSY, NULL, "bearer", "too many unknown tokens to check right now",
           arg);
        return NULL;
    }
    uint64_t epoch = cache ? auth_jwt_cache_epoch(cache) : 0;
    int rc = auth_jwt_verify(cfg->jwt.keyset, &vo, tok, len, &c, err, sizeof err);
    if (rc == 0 || rc == AUTH_JWT_E_SIGNATURE || rc == AUTH_JWT_E_CRYPTO) {
        /* the signature was checked (every other refusal comes before it; a signature of
         * the wrong length is refused unchecked with the same code and counted alike) */
        gw_tok_sig_spend(tw, cfg->jwt.max_signature_checks_per_s);
        gw_metric_add(&r->w->metrics->bearer_signature_checks, 1);
    }
    if (rc) {
        refuse(r, tw, GW_BEARER_EINVALID, auth_jwt_strerror(rc), tok, len, cb, arg);
        return NULL;
    }
    struct gw_services *svc = gw_services_get();
    struct auth_redis_async *ra = svc ? gw_services_redis_async(svc, r->w) : NULL;
    struct gw_bearer *b = calloc(1, sizeof *b);
    if (!b || !ra) {
        free(b);
        auth_jwt_claims_unref(c);
        refuse(r, tw, ra ? GW_BEARER_ENOMEM : GW_BEARER_EUNAVAILABLE, "the token store is "
               "unavailable", tok, len, cb, arg);
        return NULL;
    }
    *b = (struct gw_bearer){ .r = r, .cb = cb, .arg = arg, .tok = tok, .len = len,
                             .claims = c, .epoch = epoch, .tw = tw };
    rc = auth_token_check_async(ra, c->client_id, c->jti, &b->op, on_check, b);
    if (rc) {
        auth_jwt_claims_unref(c);
        free(b);
        refuse(r, tw, rc == AUTH_TOKEN_EINVAL ? GW_BEARER_EINVALID : GW_BEARER_EUNAVAILABLE,
               rc == AUTH_TOKEN_EINVAL ? "malformed token id" : "the token store is unavailable",
               tok, len, cb, arg);
        return NULL;
    }
    return b;
}

void gw_bearer_cancel(struct gw_bearer *b)
{
    if (!b)
        return;
    auth_token_check_cancel(&b->op);
    auth_jwt_claims_unref(b->claims);
    free(b);
}
