/* gateway/identify.c — identify + decide on every proxied request, and session lookups for
 * onegate's own endpoints; see identify.h. Runs on the worker's thread. Never logs a cookie or
 * session id: a session appears in logs by its fingerprint only.
 */
#include "gateway/identify.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/bearer.h"
#include "gateway/cookies.h"
#include "gateway/person_jwt.h"
#include "gateway/http/errors.h"
#include "gateway/http/request.h"
#include "gateway/principal.h"
#include "gateway/services.h"

struct gw_ident {
    struct gw_req *r;
    struct auth_session_op op;
    bool pending;                   /* op's callback has not run yet */
    gw_session_cb *cb;              /* endpoint lookups; NULL for the proxy stage */
    void *arg;
    struct gw_bearer *bearer;       /* a bearer check in flight (gateway/bearer.h) */
};

_Static_assert(sizeof(struct gw_ident) <= GW_IDENT_SPACE, "raise GW_IDENT_SPACE (request.h)");

/* The proxy stage's state, inside <r> (no allocation). */
static struct gw_ident *ident_of(struct gw_req *r)
{
    struct gw_ident *id = (struct gw_ident *)r->ident_space;
    memset(id, 0, sizeof *id);
    id->r = r;
    r->ident = id;
    return id;
}

/* ---- small helpers ---- */

bool gw_req_cookie(const struct gw_req *r, const char *name, const char **val, size_t *len)
{
    for (size_t i = 0; i < r->h.nfields; i++) {
        const struct gw_hp_field *f = &r->fields[i];
        if (gw_hdr_eq(f->name, f->name_len, "cookie") && gw_cookie_find(f->value, name, val, len))
            return true;
    }
    return false;
}

void gw_identify_cookie_name(const struct gw_req *r, char *out, size_t outlen)
{
    if (outlen >= GW_COOKIE_NAME_MAX) {
        gw_cookie_name(out, r->wc->cfg->sessions.cookie_name, gw_req_is_tls(r));
        return;
    }
    if (!outlen)
        return;
    char name[GW_COOKIE_NAME_MAX];              /* a smaller buffer: truncated */
    gw_cookie_name(name, r->wc->cfg->sessions.cookie_name, gw_req_is_tls(r));
    size_t n = strnlen(name, outlen - 1);
    memcpy(out, name, n);
    out[n] = '\0';
}

static bool ip_is_loopback(const char *ip)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, ip, &a4) == 1)
        return ((const uint8_t *)&a4)[0] == 127;
    if (inet_pton(AF_INET6, ip, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

bool gw_req_is_loopback(const struct gw_req *r)
{
    return ip_is_loopback(r->client_ip) && (!r->conn || ip_is_loopback(r->conn->peer_ip));
}

/* Secure unless insecure_dev_cookies allows plain HTTP for a loopback client. */
static bool cookie_secure(const struct gw_req *r)
{
    if (gw_req_is_tls(r))
        return true;
    return !(r->wc->cfg->sessions.insecure_dev_cookies && gw_req_is_loopback(r));
}

void gw_identify_clear_cookie(const struct gw_req *r, char *out, size_t outlen)
{
    char name[GW_COOKIE_NAME_MAX];
    gw_identify_cookie_name(r, name, sizeof name);
    struct gw_cookie_attrs a = { .secure = cookie_secure(r), .max_age_s = 0, .same_site = "Lax" };
    if (gw_cookie_set_header(out, outlen, name, "", &a) < 0 && outlen)
        out[0] = '\0';
}

/* The portal <r> is addressed to (for the session's "portal last used"), or NULL. */
static const char *portal_of(const struct gw_req *r)
{
    const struct gw_sessions_conf *sc = &r->wc->cfg->sessions;
    char host[256];
    gw_req_host(r, host, sizeof host);
    const char *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < sc->nportals; i++) {
        const struct gw_portal_conf *p = &sc->portals[i];
        size_t n = strlen(p->path);
        if (r->path_len >= n && !memcmp(r->path, p->path, n) && n > best_len &&
            (!p->host || !strncasecmp(host, p->host, strlen(p->host)))) {
            best = p->name;
            best_len = n;
        }
    }
    return best;
}

/* ---- header filtering for the upstream ---- */

bool gw_identify_drop_header(const char *name, size_t len, void *arg)
{
    const struct gw_req *r = arg;
    const struct gw_sessions_conf *sc = &r->wc->cfg->sessions;
    if (gw_hdr_eq(name, len, "x-forwarded-user") ||
        (len >= 7 && !strncasecmp(name, "x-auth-", 7)) ||
        (len >= 10 && !strncasecmp(name, "x-onegate-", 10)))
        return true;
    if (strlen(sc->person_header) == len && !strncasecmp(name, sc->person_header, len))
        return true;
    for (size_t i = 0; i < sc->nstrip_headers; i++)
        if (gw_hdr_eq(name, len, sc->strip_headers[i]))
            return true;
    if (gw_hdr_eq(name, len, "cookie"))
        return true;                    /* re-added without onegate's cookies (id_extra) */
    if (r->id_person && gw_hdr_eq(name, len, "authorization"))
        return true;
    /* the route's person-token header: only onegate's token reaches the portal */
    if (r->id_person && r->route >= 0) {
        const char *jh = r->wc->cfg->routes[r->route].jwt_header;
        if (jh && strlen(jh) == len && !strncasecmp(name, jh, len))
            return true;
    }
    return false;
}

/* Builds r->id_extra: the Cookie header without onegate's cookies, and for a person the
 * identity header and the person token header <jwt_name>: Bearer <jwt> (when not NULL).
 * Returns 0 or -1 (ENOMEM). */
static int build_extra(struct gw_req *r, const char *person_id, const char *jwt_name,
                       const char *jwt)
{
    const struct gw_sessions_conf *sc = &r->wc->cfg->sessions;
    char sname[GW_COOKIE_NAME_MAX], cname[GW_COOKIE_NAME_MAX + 8];
    gw_identify_cookie_name(r, sname, sizeof sname);
    size_t sl = strlen(sname);
    memcpy(cname, sname, sl);
    memcpy(cname + sl, "_csrf", sizeof("_csrf"));
    const char *const drop[] = { sname, cname, NULL };
    struct gw_sbuf b = { 0 };
    char stack[1024];
    for (size_t i = 0; i < r->h.nfields; i++) {
        const struct gw_hp_field *f = &r->fields[i];
        if (!gw_hdr_eq(f->name, f->name_len, "cookie"))
            continue;
        char *kept = f->value_len < sizeof stack ? stack : malloc(f->value_len + 1);
        if (!kept) {
            b.oom = true;
            break;
        }
        int n = gw_cookie_filter(f->value, drop, kept, f->value_len + 1);
        if (n > 0) {
            gw_sbuf_adds(&b, "Cookie: ");
            gw_sbuf_add(&b, kept, (size_t)n);
            gw_sbuf_add(&b, "\r\n", 2);
        }
        if (kept != stack)
            free(kept);
    }
    if (jwt_name && jwt) {
        gw_sbuf_adds(&b, jwt_name);
        gw_sbuf_add(&b, ": Bearer ", 9);
        gw_sbuf_adds(&b, jwt);
        gw_sbuf_add(&b, "\r\n", 2);
    }
    if (person_id) {
        gw_sbuf_adds(&b, sc->person_header);
        gw_sbuf_adds(&b, ": ");
        gw_sbuf_adds(&b, person_id);
        gw_sbuf_add(&b, "\r\n", 2);
    }
    if (b.oom) {
        gw_sbuf_free(&b);
        return -1;
    }
    if (b.len) {
        gw_sbuf_add(&b, "", 1);
        if (b.oom) {
            gw_sbuf_free(&b);
            return -1;
        }
        free(r->id_extra);
        r->id_extra = b.p;
    }
    return 0;
}

/* ---- answers ---- */

static void log_refusal(const struct gw_req *r, const struct pol_decision *d, const char *who)
{
    char rule[64];
    if (d->rule_index >= 0)
        snprintf(rule, sizeof rule, "rule %d at %d:%d", d->rule_index, d->pos.line, d->pos.col);
    else
        snprintf(rule, sizeof rule, "default deny");
    GW_LOG(GW_LOG_INFO, "policy: %s %s %.*s for %s, route %s%s, %s: %s (client %s, request %s)",
           pol_verdict_name(d->verdict), r->method, (int)(r->path_len > 200 ? 200 : r->path_len),
           r->path, who, d->route_host ? d->route_host : "", d->route_path ? d->route_path : "-",
           rule, d->message, r->client_ip, r->request_id);
}

/* Appends <s> percent-encoded for a query value. */
static void add_query_value(struct gw_sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~/", c)) {
            gw_sbuf_add(b, &s[i], 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            gw_sbuf_add(b, e, 3);
        }
    }
}

static bool wants_html(const struct gw_req *r)
{
    const struct gw_hp_field *a = gw_hdr_find(r->fields, r->h.nfields, "accept");
    return a && memmem(a->value, a->value_len, "text/html", 9) &&
           !gw_accept_prefers_json(a->value, a->value_len);
}

/* Not logged in: browsers go to the login page (return_to = this request), APIs get 401.
 * <clear_cookie>: the request carried a session cookie that no longer works. */
static void answer_need_login(struct gw_req *r, const struct pol_decision *d,
                              bool clear_cookie)
{
    const struct gw_config *cfg = r->wc->cfg;
    char clear[300] = "";
    if (clear_cookie)
        gw_identify_clear_cookie(r, clear, sizeof clear);
    log_refusal(r, d, "anonymous");
    struct gw_sbuf h = { 0 };
    int status;
    const char *body, *ctype;
    if (wants_html(r)) {
        status = (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) ? 302 : 303;
        gw_sbuf_adds(&h, "Location: ");
        gw_sbuf_adds(&h, cfg->login.prefix);
        gw_sbuf_adds(&h, "login?return_to=");
        add_query_value(&h, r->path, r->path_len);
        if (r->query[0]) {
            gw_sbuf_adds(&h, "%3F");
            add_query_value(&h, r->query, strlen(r->query));
        }
        gw_sbuf_adds(&h, "\r\n");
        body = "";
        ctype = NULL;
    } else {
        status = 401;
        gw_sbuf_adds(&h, "WWW-Authenticate: Cookie realm=\"onegate\", form-action=\"");
        gw_sbuf_adds(&h, cfg->login.prefix);
        gw_sbuf_adds(&h, "login\", cookie-name=\"");
        char name[GW_COOKIE_NAME_MAX];
        gw_identify_cookie_name(r, name, sizeof name);
        gw_sbuf_adds(&h, name);
        gw_sbuf_adds(&h, "\"\r\n");
        body = "{\"error\":\"login_required\",\"detail\":\"you need to log in\"}";
        ctype = "application/json";
    }
    gw_sbuf_adds(&h, "Cache-Control: no-store\r\n");
    gw_sbuf_adds(&h, clear);
    gw_sbuf_add(&h, "", 1);
    if (h.oom) {
        gw_sbuf_free(&h);
        gw_request_error(r, 500, "out of memory", false);
        return;
    }
    gw_req_respond(r, status, ctype, h.p, body, strlen(body));
    gw_sbuf_free(&h);
}

static void answer_deny(struct gw_req *r, const struct pol_decision *d, const char *who)
{
    log_refusal(r, d, who);
    gw_request_error(r, 403, d->message, true);
}

static void answer_need_token(struct gw_req *r, const struct pol_decision *d)
{
    log_refusal(r, d, "anonymous");
    static const char body[] = "{\"error\":\"token_required\",\"detail\":\"this route needs a "
                               "bearer token of an API account\"}";
    gw_req_respond(r, 401, "application/json",
                   "WWW-Authenticate: Bearer realm=\"onegate\"\r\nCache-Control: no-store\r\n",
                   body, sizeof body - 1);
}

static void proceed_jwt(struct gw_req *r, const char *person_id, const char *jwt_name,
                        const char *jwt)
{
    r->id_person = person_id != NULL;
    r->id_drop = gw_identify_drop_header;
    r->id_drop_arg = r;
    if (build_extra(r, person_id, jwt_name, jwt) != 0) {
        gw_request_error(r, 500, "out of memory", false);
        return;
    }
    gw_proxy_start(r);
}

static void proceed(struct gw_req *r, const char *person_id)
{
    proceed_jwt(r, person_id, NULL, NULL);
}

/* ---- the proxy stage ---- */

static void on_touch(int rc, const struct auth_session_info *info, void *arg)
{
    struct gw_req *r = arg;
    struct gw_ident *id = r->ident;
    id->pending = false;
    const struct gw_config *cfg = r->wc->cfg;
    struct pol_principal pr;
    struct pol_decision d;
    if (rc == AUTH_SESSION_EREDIS || rc == AUTH_SESSION_ENOMEM) {
        GW_LOG(GW_LOG_WARN, "identify: session store unavailable, refusing %s %.*s (request %s)",
               r->method, (int)(r->path_len > 200 ? 200 : r->path_len), r->path,
               r->request_id);
        gw_request_error(r, 503, "the session store is unavailable; try again shortly", true);
        return;
    }
    if (rc != 0) {
        pol_principal_init(&pr, POL_KIND_ANONYMOUS);
        pol_decide(cfg->policy, (size_t)r->route, r->method, r->path, r->path_len, &pr, &d);
        answer_need_login(r, &d, true);
        return;
    }
    gw_principal_person(cfg->policy, info->roles, info->nroles, info->ssp_access,
                        info->is_caller, &pr);
    enum pol_verdict v = pol_decide(cfg->policy, (size_t)r->route, r->method, r->path,
                                    r->path_len, &pr, &d);
    if (v == POL_ALLOW) {
        const char *jwt_name, *jwt;
        if (gw_person_jwt_header(r, info, &jwt_name, &jwt) != 0) {
            gw_request_error(r, 500, "the identity token could not be issued", false);
            return;
        }
        proceed_jwt(r, info->person_id, jwt_name, jwt);
        return;
    }
    char who[96];
    snprintf(who, sizeof who, "person %s (session %s)", info->person_id, info->fingerprint);
    answer_deny(r, &d, who);
}

/* ---- bearer tokens of API accounts (gateway/bearer.h) ---- */

static void on_bearer(struct gw_req *r, int rc, const struct pol_principal *pr, const char *who,
                      const char *why, void *arg)
{
    if (r->ident)
        r->ident->bearer = NULL;
    const struct gw_config *cfg = r->wc->cfg;
    if (rc == GW_BEARER_EUNAVAILABLE || rc == GW_BEARER_ENOMEM) {
        GW_LOG(GW_LOG_WARN, "identify: %s: %s, refusing request %s", who, why, r->request_id);
        gw_request_error(r, rc == GW_BEARER_ENOMEM ? 500 : 503, "the token store is "
                         "unavailable; try again shortly", true);
        return;
    }
    if (rc == GW_BEARER_ETHROTTLED || rc == GW_BEARER_EBUSY) {
        static const char body[] = "{\"error\":\"too_many_invalid_tokens\",\"detail\":\"too "
                                   "many invalid bearer tokens from this client; retry later\"}";
        static const char busy[] = "{\"error\":\"too_many_new_tokens\",\"detail\":\"too many "
                                   "unknown bearer tokens to check right now; retry later\"}";
        bool b = rc == GW_BEARER_EBUSY;
        gw_req_respond(r, 429, "application/json", "Retry-After: 1\r\nCache-Control: no-store\r\n",
                       b ? busy : body, b ? sizeof busy - 1 : sizeof body - 1);
        return;
    }
    if (rc != GW_BEARER_OK) {
        GW_LOG(GW_LOG_INFO, "identify: %s refused (%s) from %s, request %s", who, why,
               r->client_ip, r->request_id);
        char hdr[300];
        snprintf(hdr, sizeof hdr, "WWW-Authenticate: Bearer realm=\"onegate\", "
                 "error=\"invalid_token\", error_description=\"%s\"\r\nCache-Control: no-store\r\n",
                 why);
        static const char body[] = "{\"error\":\"invalid_token\",\"detail\":\"the bearer token "
                                   "is not valid here\"}";
        gw_req_respond(r, 401, "application/json", hdr, body, sizeof body - 1);
        return;
    }
    struct pol_decision d;
    if (pol_decide(cfg->policy, (size_t)r->route, r->method, r->path, r->path_len, pr, &d) ==
        POL_ALLOW) {
        proceed(r, NULL);
        return;
    }
    answer_deny(r, &d, who);
}

/* Starts the bearer check of <r>; the answer comes through on_bearer. */
static void start_bearer(struct gw_req *r, const char *tok, size_t len)
{
    struct gw_ident *id = ident_of(r);
    struct gw_bearer *b = gw_bearer_verify(r, tok, len, on_bearer, NULL);
    /* NULL: on_bearer already ran (and may have released r); otherwise pending */
    if (b)
        id->bearer = b;
}

void gw_identify_start(struct gw_req *r)
{
    const struct gw_config *cfg = r->wc->cfg;
    struct pol_principal anon;
    struct pol_decision d;
    pol_principal_init(&anon, POL_KIND_ANONYMOUS);
    enum pol_verdict v = pol_decide(cfg->policy, (size_t)r->route, r->method, r->path,
                                    r->path_len, &anon, &d);
    if (d.reason == POL_REASON_PATH_NOT_NORMAL) {
        gw_request_error(r, 400, "the path is not in normal form (dot segments, '//', "
                         "backslashes or needless percent-escapes)", true);
        return;
    }
    const char *tok;
    size_t toklen;
    if ((v == POL_NEED_TOKEN || v == POL_NEED_LOGIN) && gw_bearer_applies(r, &tok, &toklen)) {
        start_bearer(r, tok, toklen);
        return;
    }
    switch (v) {
    case POL_ALLOW:
        proceed(r, NULL);
        return;
    case POL_DENY:
        answer_deny(r, &d, "anonymous");
        return;
    case POL_NEED_TOKEN:
        answer_need_token(r, &d);
        return;
    case POL_NEED_LOGIN:
        break;
    }
    char name[GW_COOKIE_NAME_MAX];
    const char *cookie;
    size_t clen;
    gw_identify_cookie_name(r, name, sizeof name);
    if (!gw_req_cookie(r, name, &cookie, &clen)) {
        answer_need_login(r, &d, false);
        return;
    }
    struct gw_services *svc = gw_services_get();
    struct auth_redis_async *ra = svc ? gw_services_redis_async(svc, r->w) : NULL;
    if (!ra) {
        gw_request_error(r, 503, "the session store is unavailable; try again shortly", true);
        return;
    }
    struct gw_ident *id = ident_of(r);
    int rc = auth_session_touch(gw_services_sessions(svc), ra, cookie, clen, portal_of(r),
                                &id->op, on_touch, r);
    if (rc == 0) {
        id->pending = true;
        return;
    }
    if (rc == AUTH_SESSION_EINVAL) {        /* malformed cookie: not a session */
        answer_need_login(r, &d, true);
        return;
    }
    GW_LOG(GW_LOG_WARN, "identify: session store unavailable (%s), refusing request %s",
           auth_session_err_name(rc), r->request_id);
    gw_request_error(r, 503, "the session store is unavailable; try again shortly", true);
}

void gw_identify_cancel(struct gw_req *r)
{
    if (r->ident && r->ident->bearer) {
        gw_bearer_cancel(r->ident->bearer);
        r->ident->bearer = NULL;
    }
    if (r->ident && r->ident->pending) {
        auth_session_op_cancel(&r->ident->op);
        r->ident->pending = false;
    }
}

void gw_identify_release(struct gw_req *r)
{
    gw_identify_cancel(r);
    r->ident = NULL;                    /* ident_space: nothing to free */
    free(r->id_extra);
    r->id_extra = NULL;
}

/* ---- lookups for endpoints ---- */

static void on_endpoint_touch(int rc, const struct auth_session_info *info, void *arg)
{
    struct gw_ident *id = arg;
    gw_session_cb *cb = id->cb;
    void *uarg = id->arg;
    struct gw_req *r = id->r;
    free(id);
    cb(r, rc == 0 ? 0 : (rc == AUTH_SESSION_ENOTFOUND ? rc : AUTH_SESSION_EREDIS),
       rc == 0 ? info : NULL, uarg);
}

void gw_identify_session(struct gw_req *r, gw_session_cb *cb, void *arg)
{
    char name[GW_COOKIE_NAME_MAX];
    const char *cookie;
    size_t clen;
    gw_identify_cookie_name(r, name, sizeof name);
    if (!gw_req_cookie(r, name, &cookie, &clen)) {
        cb(r, AUTH_SESSION_ENOTFOUND, NULL, arg);
        return;
    }
    struct gw_services *svc = gw_services_get();
    struct auth_redis_async *ra = svc ? gw_services_redis_async(svc, r->w) : NULL;
    struct gw_ident *id = ra ? calloc(1, sizeof *id) : NULL;
    if (!id) {
        cb(r, AUTH_SESSION_EREDIS, NULL, arg);
        return;
    }
    *id = (struct gw_ident){ .r = r, .cb = cb, .arg = arg };
    int rc = auth_session_touch(gw_services_sessions(svc), ra, cookie, clen, NULL, &id->op,
                                on_endpoint_touch, id);
    if (rc == 0)
        return;
    free(id);
    cb(r, rc == AUTH_SESSION_EINVAL ? AUTH_SESSION_ENOTFOUND : AUTH_SESSION_EREDIS, NULL, arg);
}
