/* gateway/endpoints/login.c — login, logout and whoami; see login.h.
 *
 * Secrets handled here and never logged: the password (wiped from our buffers once the login
 * core has copied it), the session cookie value, the CSRF token. Failed logins are logged
 * with the reason and client address only (not the name typed: it may be a password).
 * Fixation: a session cookie the browser brought is never reused; a successful login always
 * sets a new one and ends the old session if it was live.
 */
#include "gateway/endpoints/login.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "auth/login.h"
#include "gateway/cookies.h"
#include "gateway/endpoints/admin_auth.h"
#include "gateway/endpoints/endpoint.h"
#include "gateway/endpoints/login_page.h"
#include "gateway/endpoints/origin.h"
#include "gateway/identify.h"
#include "gateway/log.h"
#include "gateway/principal.h"
#include "gateway/return_to.h"
#include "gateway/services.h"
#include "gateway/worker.h"

#define CSRF_LEN 43                 /* base64url of 32 random bytes */
#define USERNAME_MAX 256
/* Referrer-Policy same-origin, not no-referrer: under no-referrer browsers send "Origin: null"
 * on the form POST, which the same-origin check must refuse. */
#define PAGE_HEADERS "Cache-Control: no-store\r\nX-Frame-Options: DENY\r\n" \
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; " \
    "form-action 'self'; frame-ancestors 'none'\r\nReferrer-Policy: same-origin\r\n"
#define JSON_HEADERS "Cache-Control: no-store\r\n"
#define GENERIC_DENIED "The username or password is incorrect."

struct ep_paths {
    char login[300], logout[300], session[300];
};
static struct ep_paths paths;       /* registered once at start; lives until exit */

/* ---- small helpers ---- */

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = a[v >> 6 & 63];
        out[o++] = a[v & 63];
    }
    if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = a[v >> 6 & 63];
    } else if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
    }
    out[o] = '\0';
}

static bool is_b64url(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static bool cookie_secure(struct gw_req *r)
{
    return gw_req_is_tls(r) || !(gw_req_config(r)->sessions.insecure_dev_cookies &&
                                 gw_req_is_loopback(r));
}

static void csrf_cookie_name(struct gw_req *r, char *out, size_t n)
{
    char s[GW_COOKIE_NAME_MAX];
    gw_identify_cookie_name(r, s, sizeof s);
    snprintf(out, n, "%s_csrf", s);
}

/* The pre-login token the browser holds (copied to <out>), or false. */
static bool csrf_from_cookie(struct gw_req *r, char out[CSRF_LEN + 1])
{
    char name[GW_COOKIE_NAME_MAX + 8];
    const char *v;
    size_t n;
    csrf_cookie_name(r, name, sizeof name);
    if (!gw_req_cookie(r, name, &v, &n) || n != CSRF_LEN || !is_b64url(v, n))
        return false;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

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

/* Value of <name> in an application/x-www-form-urlencoded <body> (also a query string),
 * decoded into <out>. Returns the decoded length, -1 when absent, -2 when malformed or too
 * long (a NUL byte decoded is malformed too). */
static long form_get(const char *body, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = body; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= nl && !strncmp(p, name, nl) && (len == nl || p[nl] == '=')) {
            size_t o = 0;
            for (size_t i = nl + (len > nl); i < len; i++) {
                char c = p[i];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int h = i + 2 < len ? hexval(p[i + 1]) : -1, l = h >= 0 ? hexval(p[i + 2]) : -1;
                    if (h < 0 || l < 0)
                        return -2;
                    c = (char)(h << 4 | l);
                    i += 2;
                }
                if (c == '\0' || o + 1 >= outlen)
                    return -2;
                out[o++] = c;
            }
            out[o] = '\0';
            return (long)o;
        }
        p = amp ? amp + 1 : NULL;
    }
    return -1;
}

static bool ctype_is(struct gw_req *r, const char *want)
{
    const char *ct = gw_req_header(r, "content-type");
    size_t n = strlen(want);
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    return !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool wants_json(struct gw_req *r)
{
    const char *a = gw_req_header(r, "accept");
    return a && strstr(a, "json") && !strstr(a, "text/html");
}

static void respond_json(struct gw_req *r, int status, json_t *j, const char *extra)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char headers[1024];
    snprintf(headers, sizeof headers, JSON_HEADERS "%s", extra ? extra : "");
    if (!text) {
        gw_req_respond_error(r, 500, "out of memory");
        return;
    }
    gw_req_respond(r, status, "application/json", headers, text, strlen(text));
    free(text);
}

static void json_error(struct gw_req *r, int status, const char *name, const char *detail,
                       const char *extra)
{
    respond_json(r, status, json_pack("{s:s,s:s}", "error", name, "detail", detail), extra);
}

/* ---- the login page ---- */

/* Renders the page with <error> (NULL: none) and <status>, reusing the browser's pre-login
 * token or setting a new one. */
static void send_page(struct gw_req *r, int status, const char *error, const char *return_to,
                      const char *username, const char *extra_in)
{
    const struct gw_config *cfg = gw_req_config(r);
    char csrf[CSRF_LEN + 1], set[400] = "";
    if (!csrf_from_cookie(r, csrf)) {
        unsigned char raw[32];
        if (RAND_bytes(raw, sizeof raw) != 1) {
            gw_req_respond_error(r, 500, "no randomness available");
            return;
        }
        b64url(raw, sizeof raw, csrf);
        char name[GW_COOKIE_NAME_MAX + 8];
        csrf_cookie_name(r, name, sizeof name);
        struct gw_cookie_attrs a = { .secure = cookie_secure(r), .max_age_s = 3600,
                                     .same_site = "Strict" };
        gw_cookie_set_header(set, sizeof set, name, csrf, &a);
    }
    struct gw_login_page pg = {
        .title = cfg->login.page_title, .action = paths.login, .csrf = csrf,
        .return_to = return_to ? return_to : "", .username = username ? username : "",
        .error = error,
    };
    size_t len;
    char *html = gw_login_page_render(cfg, &pg, &len);
    if (!html) {
        gw_req_respond_error(r, 500, "out of memory");
        return;
    }
    char headers[1400];
    snprintf(headers, sizeof headers, PAGE_HEADERS "%s%s", set, extra_in ? extra_in : "");
    gw_req_respond(r, status, "text/html; charset=utf-8", headers, html, len);
    free(html);
}

static void login_page(struct gw_req *r)
{
    const struct gw_config *cfg = gw_req_config(r);
    char raw[GW_RETURN_TO_MAX], target[GW_RETURN_TO_MAX] = "", host[256];
    gw_req_host(r, host, sizeof host);
    if (form_get(gw_req_query(r), "return_to", raw, sizeof raw) >= 0 &&
        gw_return_to_check(&cfg->sessions, host, gw_req_is_tls(r), raw, target,
                           sizeof target) != 0)
        target[0] = '\0';           /* refused: the default applies after login */
    send_page(r, 200, NULL, target, NULL, NULL);
}

/* ---- POST login ---- */

struct login_call {
    struct gw_req *r;
    bool form;
    char return_to[GW_RETURN_TO_MAX];
    char username[USERNAME_MAX];
    char old_cookie[AUTH_SESSION_COOKIE_LEN + 1];   /* a session the browser brought */
};

struct old_logout {
    struct auth_session_op op;
};

static void on_old_logout(int rc, size_t count, void *arg)
{
    free(arg);
}

/* Ends the session the browser brought before logging in (fixation, and a second login over
 * a live one). Best effort: the new cookie replaces it in the browser anyway. */
static void end_old_session(struct gw_req *r, const char *cookie)
{
    struct gw_services *svc = gw_services_get();
    struct auth_redis_async *ra = svc ? gw_services_redis_async(svc, gw_req_worker(r)) : NULL;
    struct old_logout *ol = ra ? calloc(1, sizeof *ol) : NULL;
    if (!ol)
        return;
    if (auth_session_logout(gw_services_sessions(svc), ra, cookie, strlen(cookie), &ol->op,
                            on_old_logout, ol) != 0)
        free(ol);
}

static void on_login(const struct auth_login_result *res, void *arg)
{
    struct login_call *lc = arg;
    struct gw_req *r = lc->r;
    const struct gw_config *cfg = gw_req_config(r);
    char extra[1200] = "";
    switch (res->status) {
    case AUTH_LOGIN_OK: {
        char name[GW_COOKIE_NAME_MAX], cname[GW_COOKIE_NAME_MAX + 8];
        gw_identify_cookie_name(r, name, sizeof name);
        csrf_cookie_name(r, cname, sizeof cname);
        struct gw_cookie_attrs a = { .secure = cookie_secure(r),
                                     .max_age_s = (long)(cfg->sessions.absolute_timeout_ms / 1000),
                                     .same_site = "Lax" };
        int n = gw_cookie_set_header(extra, sizeof extra, name, res->session->cookie, &a);
        a.max_age_s = 0;
        a.same_site = "Strict";
        if (n > 0)
            gw_cookie_set_header(extra + n, sizeof extra - (size_t)n, cname, "", &a);
        GW_LOG(GW_LOG_INFO, "login: person %s logged in, session %s%s (client %s, request %s)",
               res->person->id, res->session->fingerprint,
               res->rehashed ? ", password rehashed" : "", gw_req_client_ip(r),
               gw_req_request_id(r));
        if (lc->old_cookie[0])
            end_old_session(r, lc->old_cookie);
        if (lc->form) {
            char loc[GW_RETURN_TO_MAX + 16], host[256];
            gw_req_host(r, host, sizeof host);
            if (!lc->return_to[0])
                gw_return_to_default(&cfg->sessions, host, lc->return_to, sizeof lc->return_to);
            snprintf(loc, sizeof loc, "Location: %s\r\n", lc->return_to);
            strncat(extra, loc, sizeof extra - strlen(extra) - 1);
            strncat(extra, "Cache-Control: no-store\r\n", sizeof extra - strlen(extra) - 1);
            gw_req_respond(r, 303, NULL, extra, "", 0);
        } else {
            json_t *p = json_pack("{s:s,s:s,s:s}", "id", res->person->id, "login",
                                  res->person->login, "name", res->person->name);
            respond_json(r, 200, json_pack("{s:o,s:I}", "person", p, "expires_ms",
                                           (json_int_t)res->session->expires_ms), extra);
        }
        break;
    }
    case AUTH_LOGIN_DENIED:
        GW_LOG(GW_LOG_INFO, "login: refused (%s) for client %s (request %s)",
               auth_login_reason_name(res->reason), gw_req_client_ip(r), gw_req_request_id(r));
        if (lc->form)
            send_page(r, 401, GENERIC_DENIED, lc->return_to, lc->username, NULL);
        else
            json_error(r, 401, "invalid_credentials", GENERIC_DENIED, NULL);
        break;
    case AUTH_LOGIN_THROTTLED: {
        unsigned secs = (res->retry_after_ms + 999) / 1000;
        char msg[160], hdr[64];
        snprintf(msg, sizeof msg, "Too many failed attempts. Try again in %u second%s.", secs,
                 secs == 1 ? "" : "s");
        snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n", secs ? secs : 1);
        GW_LOG(GW_LOG_WARN, "login: throttled client %s for %u ms (request %s)",
               gw_req_client_ip(r), res->retry_after_ms, gw_req_request_id(r));
        if (lc->form)
            send_page(r, 429, msg, lc->return_to, lc->username, hdr);
        else
            json_error(r, 429, "throttled", msg, hdr);
        break;
    }
    case AUTH_LOGIN_UNAVAILABLE:
    default:
        GW_LOG(GW_LOG_WARN, "login: unavailable (%s) for client %s (request %s)",
               auth_login_reason_name(res->reason), gw_req_client_ip(r), gw_req_request_id(r));
        if (lc->form)
            send_page(r, 503, "Signing in is not possible right now. Please try again shortly.",
                      lc->return_to, lc->username, "Retry-After: 1\r\n");
        else
            json_error(r, 503, "unavailable", "the session store is unavailable",
                       "Retry-After: 1\r\n");
        break;
    }
    explicit_bzero(lc->old_cookie, sizeof lc->old_cookie);
    free(lc);
}

static void on_login_body(struct gw_req *r, const char *body, size_t len, void *arg)
{
    struct login_call *lc = arg;
    const struct gw_config *cfg = gw_req_config(r);
    char password[AUTH_PW_MAX_BYTES + 1];
    size_t pwlen = 0;
    if (!body) {
        free(lc);
        return;
    }
    bool ok = false;
    if (lc->form) {
        char csrf[CSRF_LEN + 8], have[CSRF_LEN + 1], raw[GW_RETURN_TO_MAX], host[256];
        long ul = form_get(body, "username", lc->username, sizeof lc->username);
        long pl = form_get(body, "password", password, sizeof password);
        long cl = form_get(body, "csrf", csrf, sizeof csrf);
        gw_req_host(r, host, sizeof host);
        if (form_get(body, "return_to", raw, sizeof raw) > 0)
            gw_return_to_check(&cfg->sessions, host, gw_req_is_tls(r), raw, lc->return_to,
                               sizeof lc->return_to);
        if (cl != CSRF_LEN || !csrf_from_cookie(r, have) || !gw_secret_equal(csrf, have)) {
            GW_LOG(GW_LOG_WARN, "login: CSRF token missing or wrong, client %s (request %s)",
                   gw_req_client_ip(r), gw_req_request_id(r));
            explicit_bzero(password, sizeof password);
            send_page(r, 403, "Your sign-in form has expired. Please try again.",
                      lc->return_to, NULL, NULL);
            free(lc);
            return;
        }
        ok = ul > 0 && pl > 0;
        pwlen = pl > 0 ? (size_t)pl : 0;
    } else {
        json_error_t jerr;
        json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        const char *u = j ? json_string_value(json_object_get(j, "username")) : NULL;
        json_t *pj = j ? json_object_get(j, "password") : NULL;
        const char *p = json_string_value(pj);
        if (!j || !json_is_object(j)) {
            json_decref(j);
            json_error(r, 400, "bad_json", "the body must be a JSON object with username and "
                       "password", NULL);
            free(lc);
            return;
        }
        if (u && p && strlen(u) < sizeof lc->username && json_string_length(pj) < sizeof password &&
            strlen(p) == json_string_length(pj)) {
            snprintf(lc->username, sizeof lc->username, "%s", u);
            pwlen = json_string_length(pj);
            memcpy(password, p, pwlen + 1);
            ok = *u && pwlen > 0;
        }
        /* jansson keeps its own copy of the password: wipe it before freeing */
        if (p)
            explicit_bzero((char *)p, json_string_length(pj));
        json_decref(j);
    }
    if (!ok) {
        explicit_bzero(password, sizeof password);
        if (lc->form)
            send_page(r, 400, "Enter your username and password.", lc->return_to, lc->username,
                      NULL);
        else
            json_error(r, 400, "bad_request", "username and password are required", NULL);
        free(lc);
        return;
    }
    /* fixation: whatever session cookie came in is not reused; end it after a success */
    char sname[GW_COOKIE_NAME_MAX];
    const char *old;
    size_t oldlen;
    gw_identify_cookie_name(r, sname, sizeof sname);
    if (gw_req_cookie(r, sname, &old, &oldlen) && oldlen == AUTH_SESSION_COOKIE_LEN) {
        memcpy(lc->old_cookie, old, oldlen);
        lc->old_cookie[oldlen] = '\0';
    }
    struct gw_services *svc = gw_services_get();
    struct auth_login *lg = svc ? gw_services_login(svc) : NULL;
    struct auth_redis_async *ra = svc ? gw_services_redis_async(svc, gw_req_worker(r)) : NULL;
    int rc = AUTH_LOGIN_EUNAVAILABLE;
    if (lg && ra) {
        struct auth_login_req req = {
            .username = lc->username, .password = password, .password_len = pwlen,
            .client_addr = gw_req_client_ip(r), .user_agent = gw_req_header(r, "user-agent"),
            .portal = NULL,
        };
        rc = auth_login_start(lg, gw_req_base(r), ra, &req, on_login, lc, NULL);
    }
    explicit_bzero(password, sizeof password);
    if (rc != 0) {
        struct auth_login_result res = { .status = AUTH_LOGIN_UNAVAILABLE,
                                         .reason = AUTH_LOGIN_R_REDIS };
        on_login(&res, lc);
    }
}

static void login_post(struct gw_req *r)
{
    char why[200];
    if (gw_origin_check(r, why, sizeof why) != 0) {
        GW_LOG(GW_LOG_WARN, "login: cross-origin POST refused (client %s, request %s)",
               gw_req_client_ip(r), gw_req_request_id(r));
        if (wants_json(r) || ctype_is(r, "application/json"))
            json_error(r, 403, "cross_origin", why, NULL);
        else
            gw_req_respond_error(r, 403, why);
        return;
    }
    struct login_call *lc = calloc(1, sizeof *lc);
    if (!lc) {
        gw_req_respond_error(r, 500, "out of memory");
        return;
    }
    lc->r = r;
    if (ctype_is(r, "application/x-www-form-urlencoded")) {
        lc->form = true;
    } else if (!ctype_is(r, "application/json")) {
        free(lc);
        json_error(r, 415, "unsupported_media_type", "send a form "
                   "(application/x-www-form-urlencoded) or JSON (application/json)", NULL);
        return;
    }
    gw_req_read_body(r, GW_LOGIN_BODY_MAX_BYTES, on_login_body, lc);
}

static void handle_login(struct gw_req *r, void *ctx)
{
    const char *m = gw_req_method(r);
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
        login_page(r);
    else if (!strcmp(m, "POST"))
        login_post(r);
    else
        gw_req_respond(r, 405, "text/plain; charset=utf-8", "Allow: GET, HEAD, POST\r\n",
                       "method not allowed\n", 19);
}

/* ---- logout ---- */

struct logout_call {
    struct gw_req *r;
    struct auth_session_op op;
};

static void logout_answer(struct gw_req *r, int status, const char *detail)
{
    char clear[300], extra[700];
    gw_identify_clear_cookie(r, clear, sizeof clear);
    if (wants_json(r)) {
        json_t *j = status == 200 ? json_pack("{s:s}", "result", "logged_out")
                                  : json_pack("{s:s,s:s}", "error", "unavailable", "detail",
                                              detail);
        respond_json(r, status, j, clear);
        return;
    }
    if (status == 200) {
        snprintf(extra, sizeof extra, "%sLocation: %s\r\nCache-Control: no-store\r\n", clear,
                 paths.login);
        gw_req_respond(r, 303, NULL, extra, "", 0);
        return;
    }
    snprintf(extra, sizeof extra, "%sCache-Control: no-store\r\nRetry-After: 1\r\n", clear);
    gw_req_respond(r, status, "text/plain; charset=utf-8", extra, detail, strlen(detail));
}

static void on_logout(int rc, size_t count, void *arg)
{
    struct logout_call *lc = arg;
    struct gw_req *r = lc->r;
    free(lc);
    if (rc == AUTH_SESSION_EREDIS || rc == AUTH_SESSION_ENOMEM) {
        logout_answer(r, 503, "the session store is unavailable; your session may still be "
                      "active on the server. Try again.\n");
        return;
    }
    if (count)
        GW_LOG(GW_LOG_INFO, "logout: session ended (client %s, request %s)",
               gw_req_client_ip(r), gw_req_request_id(r));
    logout_answer(r, 200, NULL);
}

/* A cross-site GET (a link on another site) does not log anyone out: it gets a page with a
 * button that posts the logout from this origin. */
static void logout_confirm(struct gw_req *r)
{
    char html[800];
    int n = snprintf(html, sizeof html,
                     "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<title>Sign out</title></head><body><main><h1>Sign out</h1>"
                     "<form method=\"post\" action=\"%s\"><button type=\"submit\">Sign out of "
                     "all portals</button></form></main></body></html>\n", paths.logout);
    gw_req_respond(r, 200, "text/html; charset=utf-8", PAGE_HEADERS, html, (size_t)n);
}

static void handle_logout(struct gw_req *r, void *ctx)
{
    const char *m = gw_req_method(r);
    char why[200];
    bool is_get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    if (!is_get && strcmp(m, "POST") != 0) {
        gw_req_respond(r, 405, "text/plain; charset=utf-8", "Allow: GET, POST\r\n",
                       "method not allowed\n", 19);
        return;
    }
    if (gw_origin_check(r, why, sizeof why) != 0) {
        if (is_get) {
            logout_confirm(r);
            return;
        }
        gw_req_respond_error(r, 403, why);
        return;
    }
    char name[GW_COOKIE_NAME_MAX];
    const char *cookie;
    size_t clen;
    gw_identify_cookie_name(r, name, sizeof name);
    if (!gw_req_cookie(r, name, &cookie, &clen)) {
        logout_answer(r, 200, NULL);
        return;
    }
    struct gw_services *svc = gw_services_get();
    struct auth_redis_async *ra = svc ? gw_services_redis_async(svc, gw_req_worker(r)) : NULL;
    struct logout_call *lc = ra ? calloc(1, sizeof *lc) : NULL;
    if (!lc) {
        logout_answer(r, 503, "the session store is unavailable; try again.\n");
        return;
    }
    lc->r = r;
    int rc = auth_session_logout(gw_services_sessions(svc), ra, cookie, clen, &lc->op,
                                 on_logout, lc);
    if (rc == AUTH_SESSION_EINVAL) {
        free(lc);
        logout_answer(r, 200, NULL);    /* not a session cookie: just clear it */
    } else if (rc != 0) {
        on_logout(AUTH_SESSION_EREDIS, 0, lc);
    }
}

/* ---- whoami ---- */

static void on_whoami(struct gw_req *r, int rc, const struct auth_session_info *info, void *arg)
{
    const struct gw_config *cfg = gw_req_config(r);
    if (rc == AUTH_SESSION_ENOTFOUND) {
        char clear[300];
        gw_identify_clear_cookie(r, clear, sizeof clear);
        json_error(r, 401, "login_required", "you are not logged in", clear);
        return;
    }
    if (rc != 0) {
        json_error(r, 503, "unavailable", "the session store is unavailable",
                   "Retry-After: 1\r\n");
        return;
    }
    struct pol_principal pr;
    gw_principal_person(cfg->policy, info->roles, info->nroles, info->ssp_access,
                        info->is_caller, &pr);
    json_t *roles = json_array(), *portals = json_array();
    for (size_t i = 0; i < info->nroles; i++)
        json_array_append_new(roles, json_string(info->roles[i]));
    char scheme[8];
    snprintf(scheme, sizeof scheme, "%s", gw_req_is_tls(r) ? "https" : "http");
    for (size_t i = 0; i < cfg->sessions.nportals; i++) {
        const struct gw_portal_conf *p = &cfg->sessions.portals[i];
        size_t route;
        struct pol_decision d;
        if (pol_route_table_lookup(cfg->route_table, p->host, p->host ? strlen(p->host) : 0,
                                   p->path, strlen(p->path), &route) != 0 ||
            pol_decide(cfg->policy, route, "GET", p->path, strlen(p->path), &pr, &d) !=
                POL_ALLOW)
            continue;
        char url[600];
        if (p->host)
            snprintf(url, sizeof url, "%s://%s%s", scheme, p->host, p->path);
        else
            snprintf(url, sizeof url, "%s", p->path);
        json_array_append_new(portals, json_pack("{s:s,s:s,s:s}", "name", p->name, "title",
                                                 p->title, "url", url));
    }
    json_t *j = json_pack("{s:{s:s,s:s,s:s,s:s},s:o,s:b,s:b,s:o,s:I,s:I,s:s}",
                          "person", "id", info->person_id, "login", info->login, "name",
                          info->name, "email", info->email,
                          "roles", roles, "has_ssp_access", info->ssp_access,
                          "is_caller", info->is_caller, "portals", portals,
                          "auth_time_ms", (json_int_t)info->auth_time_ms,
                          "expires_ms", (json_int_t)info->expires_ms, "logout", paths.logout);
    respond_json(r, 200, j, NULL);
}

static void handle_session(struct gw_req *r, void *ctx)
{
    const char *m = gw_req_method(r);
    char why[200];
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        gw_req_respond(r, 405, "text/plain; charset=utf-8", "Allow: GET\r\n",
                       "method not allowed\n", 19);
        return;
    }
    if (gw_origin_check(r, why, sizeof why) != 0) {
        json_error(r, 403, "cross_origin", why, NULL);
        return;
    }
    gw_identify_session(r, on_whoami, NULL);
}

int gw_login_register(const struct gw_config *cfg)
{
    snprintf(paths.login, sizeof paths.login, "%slogin", cfg->login.prefix);
    snprintf(paths.logout, sizeof paths.logout, "%slogout", cfg->login.prefix);
    snprintf(paths.session, sizeof paths.session, "%ssession", cfg->login.prefix);
    struct gw_endpoint eps[] = {
        { .prefix = paths.login, .exact = true, .handle = handle_login },
        { .prefix = paths.logout, .exact = true, .handle = handle_logout },
        { .prefix = paths.session, .exact = true, .handle = handle_session },
    };
    for (size_t i = 0; i < sizeof eps / sizeof *eps; i++)
        if (gw_endpoint_register(&eps[i]) != 0)
            return -1;
    return 0;
}
