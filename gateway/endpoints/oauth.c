/* gateway/endpoints/oauth.c — the OAuth2 endpoints for API accounts:
 *   POST /oauth/token       client_credentials grant (RFC 6749 §4.4), errors per §5.2
 *   POST /oauth/introspect  RFC 7662 (an account learns about its own tokens only; an
 *                           application manager about any API account's token)
 *   POST /oauth/revoke      RFC 7009 (an account revokes its own tokens; an application
 *                           manager any API account's token)
 * Client authentication: HTTP Basic with form-urlencoded id and secret (§2.3.1) or
 * client_secret_post, never both. Failed authentications are throttled per client_id and per
 * client address (auth/throttle, own key space) with one async Redis round trip before the
 * attempt; the secret check, minting and Redis writes run as one job on the auth work pool
 * (gateway/services.h), never on the event loop. Introspection and revocation without client
 * credentials but with a session cookie are for application managers: the call must come
 * from onegate's own origin (a form POST is a "simple" cross-site request, so Origin or
 * Sec-Fetch-Site must be present and same-origin), then one session lookup decides.
 * Secrets and tokens are never logged (token fingerprints only) and are wiped from memory
 * after use.
 */
#include "gateway/endpoints/token_endpoints.h"

#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "auth/directory.h"
#include "auth/jwt_mint.h"
#include "auth/jwt_verify.h"
#include "auth/throttle.h"
#include "auth/token_store.h"
#include "gateway/endpoints/origin.h"
#include "gateway/http/request.h"
#include "gateway/identify.h"
#include "gateway/log.h"
#include "gateway/services.h"
#include "gateway/tokens.h"

#define ID_MAX 128
#define SECRET_MAX 512
#define NO_STORE "Cache-Control: no-store\r\nPragma: no-cache\r\n"

enum oauth_op { OP_TOKEN, OP_INTROSPECT, OP_REVOKE };

struct oauth_req {
    struct gw_req *r;
    enum oauth_op op;
    const struct gw_config *cfg;    /* borrowed from r (alive until we respond) */
    char client_id[ID_MAX + 1];     /* the authenticated API account (not for managers) */
    bool manager;                   /* an application manager's session, not a client */
    char actor[96];                 /* managers: "person:<id>", for logs */
    char *secret;                   /* wiped and freed as soon as it was checked */
    char *scope;                    /* requested scope, NULL when absent */
    char *token;                    /* introspect / revoke */
    char ip[64];
    struct auth_throttle_op thr;
    /* result, filled by the job */
    int status;
    char *body;
    const char *extra;
    char retry[48];
};

/* ---- responses ---- */

static void set_json(struct oauth_req *o, int status, json_t *j)
{
    free(o->body);
    o->body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    o->status = o->body ? status : 500;
}

static void set_error(struct oauth_req *o, int status, const char *error, const char *desc)
{
    set_json(o, status, json_pack("{s:s,s:s}", "error", error, "error_description", desc));
    o->extra = status == 401 ? NO_STORE "WWW-Authenticate: Basic realm=\"onegate\"\r\n"
                             : NO_STORE;
}

static void oauth_free(struct oauth_req *o)
{
    if (o->secret) {
        sodium_memzero(o->secret, strlen(o->secret));
        free(o->secret);
    }
    if (o->token) {
        sodium_memzero(o->token, strlen(o->token));
        free(o->token);
    }
    free(o->scope);
    free(o->body);
    free(o);
}

/* Sends o's result and frees o. */
static void finish(struct oauth_req *o)
{
    char extra[256];
    snprintf(extra, sizeof extra, "%s%s", o->extra ? o->extra : NO_STORE, o->retry);
    if (o->body)
        gw_req_respond(o->r, o->status, "application/json", extra, o->body, strlen(o->body));
    else
        gw_req_respond(o->r, o->status ? o->status : 500, NULL, extra, NULL, 0);
    oauth_free(o);
}

static void respond_error_now(struct gw_req *r, int status, const char *error, const char *desc)
{
    struct oauth_req o = { .r = r };
    set_error(&o, status, error, desc);
    char extra[256];
    snprintf(extra, sizeof extra, "%s", o.extra);
    if (o.body)
        gw_req_respond(r, o.status, "application/json", extra, o.body, strlen(o.body));
    else
        gw_req_respond(r, 500, NULL, extra, NULL, 0);
    free(o.body);
}

/* ---- application/x-www-form-urlencoded ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes <n> bytes at <s> ('+' is a space, %XX an octet) into a new string. NULL when
 * malformed (bad escape, NUL byte) or on ENOMEM. */
static char *form_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                goto bad;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                goto bad;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            goto bad;
        *p++ = c;
    }
    *p = '\0';
    return out;
bad:
    sodium_memzero(out, n + 1);
    free(out);
    return NULL;
}

enum { P_GRANT, P_SCOPE, P_ID, P_SECRET, P_TOKEN, P_HINT, P_COUNT };
static const char *const param_names[P_COUNT] = {
    "grant_type", "scope", "client_id", "client_secret", "token", "token_type_hint",
};

struct form {
    char *v[P_COUNT];               /* decoded values, NULL when absent */
};

static void form_free(struct form *f)
{
    for (int i = 0; i < P_COUNT; i++) {
        if (f->v[i]) {
            sodium_memzero(f->v[i], strlen(f->v[i]));
            free(f->v[i]);
        }
    }
}

/* Parses the body. Unknown parameters are ignored (RFC 6749 §3.2); a known one given twice
 * or a malformed escape is an error. Returns 0 or -1 with <why>. */
static int form_parse(const char *body, size_t len, struct form *f, const char **why)
{
    memset(f, 0, sizeof *f);
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        const char *eq = memchr(body + i, '=', end - i);
        size_t klen = eq ? (size_t)(eq - (body + i)) : end - i;
        for (int p = 0; p < P_COUNT; p++) {
            if (strlen(param_names[p]) != klen || memcmp(body + i, param_names[p], klen))
                continue;
            if (f->v[p]) {
                *why = "a parameter is repeated";
                return -1;
            }
            const char *val = eq ? eq + 1 : body + end;
            f->v[p] = form_decode(val, (size_t)(body + end - val));
            if (!f->v[p]) {
                *why = "malformed form encoding";
                return -1;
            }
        }
        i = end + 1;
    }
    return 0;
}

/* HTTP Basic credentials (RFC 6749 §2.3.1: id and secret each form-urlencoded). Returns 1
 * with new strings in <id>/<secret>, 0 when there is no Basic header, -1 when it is
 * malformed. */
static int basic_creds(struct gw_req *r, char **id, char **secret)
{
    const char *h = gw_req_header(r, "Authorization");
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return 0;
    h += 6;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n && h[n - 1] == ' ')
        n--;
    if (n == 0 || n > 4 * (ID_MAX + SECRET_MAX))
        return -1;
    unsigned char *raw = malloc(n);
    size_t rl = 0;
    if (!raw)
        return -1;
    int rc = -1;
    if (sodium_base642bin(raw, n, h, n, NULL, &rl, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        goto out;
    unsigned char *colon = memchr(raw, ':', rl);
    if (!colon)
        goto out;
    *id = form_decode((char *)raw, (size_t)(colon - raw));
    *secret = form_decode((char *)colon + 1, rl - (size_t)(colon - raw) - 1);
    if (!*id || !*secret) {
        free(*id);
        if (*secret)
            sodium_memzero(*secret, strlen(*secret));
        free(*secret);
        *id = *secret = NULL;
        goto out;
    }
    rc = 1;
out:
    sodium_memzero(raw, n);
    free(raw);
    return rc;
}

/* ---- the job (auth work pool thread) ---- */

/* The scope to grant: every account scope when none was asked for, else the requested
 * scope-tokens (single spaces, RFC 6749 §3.3 characters, each held by the account, repeats
 * dropped). Returns a new string, or NULL with *invalid set (or ENOMEM). */
static char *grant_scope(const struct auth_api_account *a, const char *req, bool *invalid)
{
    *invalid = false;
    size_t cap = 1;
    for (size_t i = 0; i < a->nscopes; i++)
        cap += strlen(a->scopes[i]) + 1;
    char *out = calloc(1, cap + (req ? strlen(req) : 0) + 1);
    if (!out)
        return NULL;
    if (!req) {
        for (size_t i = 0; i < a->nscopes; i++) {
            if (i)
                strcat(out, " ");
            strcat(out, a->scopes[i]);
        }
        return out;
    }
    const char *p = req;
    if (!*p)
        goto bad;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n == 0)
            goto bad;               /* leading, trailing or double space */
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)p[k];
            if (c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e)
                goto bad;
        }
        bool held = false;
        for (size_t i = 0; i < a->nscopes && !held; i++)
            held = strlen(a->scopes[i]) == n && !memcmp(a->scopes[i], p, n);
        if (!held)
            goto bad;
        /* already granted? compare whole words */
        bool dup = false;
        for (const char *q = out; *q && !dup;) {
            size_t m = strcspn(q, " ");
            dup = m == n && !memcmp(q, p, n);
            q += m;
            if (*q == ' ')
                q++;
        }
        if (!dup) {
            if (*out)
                strcat(out, " ");
            strncat(out, p, n);
        }
        p += n;
        if (*p == ' ') {
            p++;
            if (!*p)
                goto bad;
        }
    }
    return out;
bad:
    *invalid = true;
    free(out);
    return NULL;
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

static void do_token(struct oauth_req *o, struct auth_dir *d, const struct auth_api_account *a)
{
    const struct gw_config *cfg = o->cfg;
    char err[256];
    bool invalid;
    char *scope = grant_scope(a, o->scope, &invalid);
    if (!scope) {
        if (invalid)
            set_error(o, 400, "invalid_scope", "the requested scope is malformed or exceeds "
                      "the scopes of this client");
        else
            set_error(o, 500, "server_error", "out of memory");
        return;
    }
    uint32_t life = cfg->oauth.token_lifetime_ms / 1000;
    struct auth_jwt_mint_opts mo = { .issuer = cfg->jwt.issuer, .audience = cfg->oauth.audience,
                                     .lifetime_s = life };
    struct auth_jwt_api_account aa = { .client_id = a->client_id, .scope = scope };
    struct auth_jwt_token tok = { 0 };
    int rc = auth_jwt_mint_api(cfg->jwt.keyset, &mo, &aa, &tok, err, sizeof err);
    if (rc) {
        GW_LOG(GW_LOG_ERROR, "oauth: cannot mint a token for %s: %s", a->client_id, err);
        set_error(o, 500, "server_error", "the token could not be issued");
        goto out;
    }
    /* the record lives as long as the token may be accepted (exp + leeway) */
    rc = auth_token_record(auth_dir_redis(d), a->client_id, tok.jti, a->version,
                           life + cfg->jwt.leeway_ms / 1000, err, sizeof err);
    if (rc == AUTH_TOKEN_ESTALE) {
        o->status = -1;             /* the caller retries the whole check once */
        goto out;
    }
    if (rc) {
        GW_LOG(GW_LOG_WARN, "oauth: cannot record a token for %s: %s", a->client_id, err);
        set_error(o, 503, "temporarily_unavailable", "the token store is unavailable");
        goto out;
    }
    char fp[9];
    auth_jwt_fingerprint(tok.jwt, tok.len, fp);
    GW_LOG(GW_LOG_DEBUG, "oauth: token %s issued to %s (scope \"%s\", %u s)", fp, a->client_id,
           scope, life);
    set_json(o, 200, json_pack("{s:s,s:s,s:i,s:s}", "access_token", tok.jwt,
                               "token_type", "Bearer", "expires_in", (int)life, "scope", scope));
    o->extra = NO_STORE;
out:
    if (tok.jwt)
        sodium_memzero(tok.jwt, tok.len);
    auth_jwt_token_clear(&tok);
    free(scope);
}

static void do_introspect(struct oauth_req *o, struct auth_dir *d)
{
    struct auth_jwt_verify_opts vo;
    struct auth_jwt_claims *c = NULL;
    char err[256];
    verify_opts(o->cfg, &vo);
    json_t *inactive = json_pack("{s:b}", "active", 0);
    int rc = auth_jwt_verify(o->cfg->jwt.keyset, &vo, o->token, strlen(o->token), &c, err,
                             sizeof err);
    if (rc || (!o->manager && strcmp(c->client_id, o->client_id) != 0)) {
        set_json(o, 200, inactive);
        goto out;
    }
    enum auth_token_state st;
    rc = auth_token_check(auth_dir_redis(d), c->client_id, c->jti, &st, err, sizeof err);
    if (rc) {
        json_decref(inactive);
        set_error(o, 503, "temporarily_unavailable", "the token store is unavailable");
        goto out;
    }
    if (st != AUTH_TOKEN_VALID) {
        set_json(o, 200, inactive);
        goto out;
    }
    json_decref(inactive);
    char *cj = auth_jwt_claims_to_json(c);
    json_t *claims = cj ? json_loads(cj, 0, NULL) : NULL;
    free(cj);
    json_t *doc = json_pack("{s:b,s:s}", "active", 1, "token_type", "Bearer");
    if (!claims || !doc || json_object_update(doc, claims) != 0) {
        json_decref(doc);
        set_error(o, 500, "server_error", "out of memory");
    } else {
        set_json(o, 200, doc);
    }
    json_decref(claims);
out:
    o->extra = NO_STORE;
    auth_jwt_claims_unref(c);
}

static void do_revoke(struct oauth_req *o, struct auth_dir *d)
{
    struct auth_jwt_verify_opts vo;
    struct auth_jwt_claims *c = NULL;
    char err[256];
    verify_opts(o->cfg, &vo);
    o->extra = NO_STORE;
    /* RFC 7009 §2.2: an invalid (or expired, or foreign-issuer) token needs no revocation */
    if (auth_jwt_verify(o->cfg->jwt.keyset, &vo, o->token, strlen(o->token), &c, err,
                        sizeof err) != 0) {
        o->status = 200;
        return;
    }
    if (!o->manager && strcmp(c->client_id, o->client_id) != 0) {
        set_error(o, 400, "unauthorized_client", "the token was not issued to this client");
        goto out;
    }
    int64_t ttl = c->exp + (int64_t)(o->cfg->jwt.leeway_ms / 1000) - (int64_t)time(NULL);
    if (ttl < 1)
        ttl = 1;
    if (auth_token_revoke(auth_dir_redis(d), c->client_id, c->jti, (uint32_t)ttl, err,
                          sizeof err) != 0) {
        set_error(o, 503, "temporarily_unavailable", "the token store is unavailable");
        goto out;
    }
    char fp[9];
    auth_jwt_fingerprint(o->token, strlen(o->token), fp);
    GW_LOG(GW_LOG_INFO, "oauth: token %s of %s revoked%s%s", fp, c->client_id,
           o->manager ? " by " : "", o->manager ? o->actor : "");
    o->status = 200;
out:
    auth_jwt_claims_unref(c);
}

static void oauth_job(struct auth_dir *d, const char *why, void *arg)
{
    struct oauth_req *o = arg;
    char err[256];
    if (!d) {
        set_error(o, 503, "temporarily_unavailable", "the directory is unavailable");
        return;
    }
    const struct auth_throttle *thr = gw_tokens_throttle();
    for (int attempt = 0; attempt < 2; attempt++) {
        struct auth_api_account *a = NULL;
        int rc = auth_api_account_verify(d, o->client_id, o->secret, &a, err, sizeof err);
        if (rc == AUTH_DIR_EDENIED) {
            uint32_t wait = 0;
            if (thr)
                auth_throttle_record(thr, auth_dir_redis(d), o->client_id, o->ip, false, &wait,
                                     err, sizeof err);
            GW_LOG(GW_LOG_INFO, "oauth: client authentication failed for \"%.64s\" from %s",
                   o->client_id, o->ip);
            set_error(o, 401, "invalid_client", "client authentication failed");
            return;
        }
        if (rc) {
            GW_LOG(GW_LOG_WARN, "oauth: directory error: %s", err);
            set_error(o, 503, "temporarily_unavailable", "the directory is unavailable");
            return;
        }
        if (attempt == 0 && thr)
            auth_throttle_record(thr, auth_dir_redis(d), o->client_id, o->ip, true, NULL, err,
                                 sizeof err);
        o->status = 0;
        if (o->op == OP_TOKEN)
            do_token(o, d, a);
        else if (o->op == OP_INTROSPECT)
            do_introspect(o, d);
        else
            do_revoke(o, d);
        auth_api_account_free(a);
        if (o->status != -1)
            break;
    }
    if (o->status == -1)
        set_error(o, 401, "invalid_client", "the client changed while the token was issued");
    sodium_memzero(o->secret, strlen(o->secret));
}

/* Introspection or revocation for an application manager (session checked on the loop). */
static void manager_job(struct auth_dir *d, const char *why, void *arg)
{
    struct oauth_req *o = arg;
    if (!d) {
        set_error(o, 503, "temporarily_unavailable", "the directory is unavailable");
        return;
    }
    o->status = 0;
    if (o->op == OP_INTROSPECT)
        do_introspect(o, d);
    else
        do_revoke(o, d);
}

static void oauth_done(void *arg, int status)
{
    struct oauth_req *o = arg;
    if (status != 0 && !o->body)
        set_error(o, 503, "temporarily_unavailable", "the request could not be processed");
    finish(o);
}

static void on_throttle(int rc, uint32_t wait_ms, void *arg)
{
    struct oauth_req *o = arg;
    if (gw_req_orphaned(o->r)) {
        o->status = 499;
        finish(o);
        return;
    }
    if (rc) {
        set_error(o, 503, "temporarily_unavailable", "the throttle store is unavailable");
        finish(o);
        return;
    }
    if (wait_ms) {
        set_error(o, 429, "slow_down", "too many failed client authentications; retry later");
        snprintf(o->retry, sizeof o->retry, "Retry-After: %u\r\n", (wait_ms + 999) / 1000);
        finish(o);
        return;
    }
    struct gw_services *svc = gw_services_get();
    char actor[ID_MAX + 8];
    snprintf(actor, sizeof actor, "oauth:%s", o->client_id);
    int src = svc ? gw_services_dir_submit(svc, gw_req_base(o->r), actor, oauth_job, oauth_done,
                                           o)
                  : GW_SVC_EUNAVAILABLE;
    if (src != 0) {
        set_error(o, 503, "temporarily_unavailable", "the server is busy; retry shortly");
        finish(o);
    }
}

/* ---- application managers (event loop) ---- */

static void on_manager_session(struct gw_req *r, int rc, const struct auth_session_info *info,
                               void *arg)
{
    struct oauth_req *o = arg;
    if (rc == AUTH_SESSION_EREDIS || rc == AUTH_SESSION_ENOMEM) {
        set_error(o, 503, "temporarily_unavailable", "the session store is unavailable");
        finish(o);
        return;
    }
    if (rc != 0) {
        set_error(o, 401, "invalid_client", "authentication required (client credentials or "
                  "an application manager's session)");
        finish(o);
        return;
    }
    bool manager = false;
    for (size_t i = 0; i < info->nroles && !manager; i++)
        manager = !strcmp(info->roles[i], "application_manager");
    if (!manager) {
        GW_LOG(GW_LOG_INFO, "oauth: person %s without application_manager refused (request %s)",
               info->person_id, gw_req_request_id(r));
        set_error(o, 403, "access_denied", "this needs the role 'application_manager'");
        finish(o);
        return;
    }
    snprintf(o->actor, sizeof o->actor, "person:%s", info->person_id);
    struct gw_services *svc = gw_services_get();
    if (!svc || gw_services_dir_submit(svc, gw_req_base(r), o->actor, manager_job, oauth_done,
                                       o) != 0) {
        set_error(o, 503, "temporarily_unavailable", "the server is busy; retry shortly");
        finish(o);
    }
}

/* Introspection or revocation by an application manager's session: same-origin only (the
 * request must say so: Origin or Sec-Fetch-Site), then the session decides. Takes <token>
 * (copies it); answers <r>. */
static void start_manager(struct gw_req *r, enum oauth_op op, const char *token)
{
    char why[200];
    if (!gw_req_header(r, "origin") && !gw_req_header(r, "sec-fetch-site")) {
        respond_error_now(r, 403, "access_denied", "a session-authenticated call must be "
                          "same-origin (send Origin or Sec-Fetch-Site)");
        return;
    }
    if (gw_origin_check(r, why, sizeof why) != 0) {
        respond_error_now(r, 403, "access_denied", why);
        return;
    }
    struct oauth_req *o = calloc(1, sizeof *o);
    if (!o || !(o->token = strdup(token))) {
        free(o);
        respond_error_now(r, 500, "server_error", "out of memory");
        return;
    }
    o->r = r;
    o->op = op;
    o->cfg = r->wc->cfg;
    o->manager = true;
    snprintf(o->ip, sizeof o->ip, "%s", gw_req_client_ip(r));
    gw_identify_session(r, on_manager_session, o);
}

/* True when <r> carries onegate's session cookie (any value). */
static bool has_session_cookie(struct gw_req *r)
{
    char name[64];
    const char *v;
    size_t n;
    gw_identify_cookie_name(r, name, sizeof name);
    return gw_req_cookie(r, name, &v, &n);
}

/* ---- request handling (event loop) ---- */

static void on_body(struct gw_req *r, const char *body, size_t len, void *arg)
{
    enum oauth_op op = (enum oauth_op)(intptr_t)arg;
    if (!body)
        return;                     /* the engine answered (413) or the client left */
    struct form f;
    const char *why = NULL;
    char *bid = NULL, *bsecret = NULL;
    struct oauth_req *o = NULL;
    if (form_parse(body, len, &f, &why) != 0) {
        respond_error_now(r, 400, "invalid_request", why);
        goto out;
    }
    int basic = basic_creds(r, &bid, &bsecret);
    if (basic < 0) {
        respond_error_now(r, 401, "invalid_client", "malformed HTTP Basic credentials");
        goto out;
    }
    if (basic && f.v[P_SECRET]) {
        respond_error_now(r, 400, "invalid_request", "use one client authentication method, "
                          "not HTTP Basic and client_secret together");
        goto out;
    }
    if (basic && f.v[P_ID] && strcmp(f.v[P_ID], bid) != 0) {
        respond_error_now(r, 400, "invalid_request", "client_id differs from the HTTP Basic "
                          "credentials");
        goto out;
    }
    if (op == OP_TOKEN) {
        if (!f.v[P_GRANT]) {
            respond_error_now(r, 400, "invalid_request", "grant_type is missing");
            goto out;
        }
        if (strcmp(f.v[P_GRANT], "client_credentials") != 0) {
            respond_error_now(r, 400, "unsupported_grant_type", "only client_credentials is "
                              "supported");
            goto out;
        }
    } else if (!f.v[P_TOKEN] || !*f.v[P_TOKEN]) {
        respond_error_now(r, 400, "invalid_request", "token is missing");
        goto out;
    }
    if (op != OP_TOKEN && !basic && !f.v[P_ID] && !f.v[P_SECRET] && has_session_cookie(r)) {
        start_manager(r, op, f.v[P_TOKEN]);
        goto out;
    }
    const char *id = basic ? bid : f.v[P_ID];
    const char *secret = basic ? bsecret : f.v[P_SECRET];
    if (!id || !secret || !*id || strlen(id) > ID_MAX || strlen(secret) > SECRET_MAX) {
        respond_error_now(r, 401, "invalid_client", "client authentication failed");
        goto out;
    }
    o = calloc(1, sizeof *o);
    if (!o) {
        respond_error_now(r, 500, "server_error", "out of memory");
        goto out;
    }
    o->r = r;
    o->op = op;
    o->cfg = r->wc->cfg;
    snprintf(o->client_id, sizeof o->client_id, "%s", id);
    snprintf(o->ip, sizeof o->ip, "%s", gw_req_client_ip(r));
    o->secret = strdup(secret);
    if (f.v[P_SCOPE])
        o->scope = strdup(f.v[P_SCOPE]);
    if (f.v[P_TOKEN])
        o->token = strdup(f.v[P_TOKEN]);
    if (!o->secret || (f.v[P_SCOPE] && !o->scope) || (f.v[P_TOKEN] && !o->token)) {
        respond_error_now(r, 500, "server_error", "out of memory");
        oauth_free(o);
        goto out;
    }
    struct gw_services *svc = gw_services_get();
    struct auth_redis_async *ra = svc ? gw_services_redis_async(svc, r->w) : NULL;
    const struct auth_throttle *thr = gw_tokens_throttle();
    if (!ra || !thr ||
        auth_throttle_check(thr, ra, o->client_id, o->ip, &o->thr, on_throttle, o) != 0) {
        respond_error_now(r, 503, "temporarily_unavailable", "the throttle store is "
                          "unavailable");
        oauth_free(o);
    }
out:
    form_free(&f);
    if (bsecret) {
        sodium_memzero(bsecret, strlen(bsecret));
        free(bsecret);
    }
    free(bid);
}

static void handle(struct gw_req *r, enum oauth_op op)
{
    const struct gw_config *cfg = r->wc->cfg;
    if (!cfg->oauth.configured || !cfg->jwt.configured) {
        gw_req_respond_error(r, 404, "the OAuth endpoints are not configured");
        return;
    }
    if (strcmp(gw_req_method(r), "POST") != 0) {
        gw_req_respond(r, 405, "application/json", NO_STORE "Allow: POST\r\n",
                       "{\"error\":\"invalid_request\",\"error_description\":\"use POST\"}", 56);
        return;
    }
    const char *ct = gw_req_header(r, "Content-Type");
    size_t n = strlen("application/x-www-form-urlencoded");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", n) != 0 ||
        (ct[n] && ct[n] != ';' && ct[n] != ' ')) {
        respond_error_now(r, 400, "invalid_request", "the body must be "
                          "application/x-www-form-urlencoded");
        return;
    }
    gw_req_read_body(r, cfg->oauth.max_body_bytes, on_body, (void *)(intptr_t)op);
}

void gw_endpoint_oauth_token(struct gw_req *r, void *ctx)
{
    handle(r, OP_TOKEN);
}

void gw_endpoint_oauth_introspect(struct gw_req *r, void *ctx)
{
    handle(r, OP_INTROSPECT);
}

void gw_endpoint_oauth_revoke(struct gw_req *r, void *ctx)
{
    handle(r, OP_REVOKE);
}
