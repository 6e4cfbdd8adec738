/* gateway/endpoints/admin_api.c — the admin API's HTTP adapter (see admin_api.h).
 *
 * The way of one call, all on the worker's thread except the operation itself:
 *   same-origin check -> authentication -> Content-Type -> read the body (<= 1 MiB) ->
 *   parse it (jansson; malformed -> 400, nothing written) -> auth_admin_dispatch() on the
 *   auth work pool (it blocks on Redis, may hash a password) -> JSON answer.
 * Every error is JSON {"error", "detail"}. Redis unreachable -> 503 (fail closed). Nothing
 * from the request body, the Authorization header or a cookie is ever logged.
 */
#include "gateway/endpoints/admin_api.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "auth/admin_ops.h"
#include "gateway/endpoints/endpoint.h"
#include "gateway/endpoints/admin_auth.h"
#include "gateway/endpoints/origin.h"
#include "gateway/log.h"

#define JSON_HEADERS "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"

struct admin_ep {
    struct gw_services *svc;
    char prefix[256];
};

/* One admin call in flight. Strings are copies: the pool thread never reads the request. */
struct admin_call {
    struct gw_req *r;
    struct admin_ep *ep;
    char method[16];
    char *path;                     /* relative to the prefix */
    char *query;                    /* NULL when empty */
    json_t *body;                   /* NULL when there is none */
    char actor[96];
    int status;                     /* from auth_admin_dispatch */
    json_t *out;
};

/* Sends <j> (stolen) with <status>. Releases <r>. */
static void respond_json(struct gw_req *r, int status, json_t *j, const char *extra)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        static const char oom[] = "{\"error\":\"internal\",\"detail\":\"out of memory\"}";
        gw_req_respond(r, 500, "application/json", JSON_HEADERS, oom, sizeof oom - 1);
        return;
    }
    char headers[512];
    snprintf(headers, sizeof headers, JSON_HEADERS "%s", extra ? extra : "");
    gw_req_respond(r, status, "application/json", headers, text, strlen(text));
    free(text);
}

static void respond_err(struct gw_req *r, int status, const char *name, const char *detail,
                        const char *extra)
{
    respond_json(r, status, auth_admin_error(name, detail), extra);
}

static void call_free(struct admin_call *c)
{
    free(c->path);
    free(c->query);
    json_decref(c->body);
    json_decref(c->out);
    free(c);
}

/* ---- the operation, on a pool thread ---- */

static void run_call(struct auth_dir *dir, const char *why, void *arg)
{
    struct admin_call *c = arg;
    if (!dir) {
        c->status = 503;
        c->out = auth_admin_error("storage_unavailable", why);
        return;
    }
    c->status = auth_admin_dispatch(dir, c->method, c->path, c->query, c->body, &c->out);
}

static void call_done(void *arg, int status)
{
    struct admin_call *c = arg;
    struct gw_req *r = c->r;
    if (status != 0 || !c->out) {
        respond_err(r, 503, "unavailable", "the gateway is shutting down", NULL);
    } else {
        if (strcmp(c->method, "GET") != 0)
            GW_LOG(GW_LOG_INFO, "admin: %s %s%s -> %d (actor %s, request %s)", c->method,
                   c->ep->prefix, c->path, c->status, c->actor, gw_req_request_id(r));
        respond_json(r, c->status, c->out, NULL);
        c->out = NULL;
    }
    call_free(c);
}

static void submit(struct admin_call *c)
{
    int rc = gw_services_dir_submit(c->ep->svc, gw_req_base(c->r), c->actor, run_call,
                                    call_done, c);
    if (rc) {
        respond_err(c->r, 503, "unavailable", rc == GW_SVC_EFULL ? "the gateway is busy; retry "
                    "shortly" : "the gateway cannot take this call now", "Retry-After: 1\r\n");
        call_free(c);
    }
}

/* ---- request checks, on the worker ---- */

static bool state_changing(const char *m)
{
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

/* Content-Type is application/json (parameters such as charset allowed). */
static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static bool has_body(struct gw_req *r)
{
    const char *cl = gw_req_header(r, "content-length");
    return gw_req_header(r, "transfer-encoding") || (cl && strspn(cl, "0") != strlen(cl));
}

static void on_body(struct gw_req *r, const char *body, size_t len, void *arg)
{
    struct admin_call *c = arg;
    if (!body) {                    /* too large (413 sent) or client gone */
        call_free(c);
        return;
    }
    if (len > 0) {
        json_error_t jerr;
        c->body = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!c->body) {
            char d[200];
            snprintf(d, sizeof d, "the body is not valid JSON: %s (at byte %d)", jerr.text,
                     jerr.position);
            respond_err(r, 400, "bad_json", d, NULL);
            call_free(c);
            return;
        }
    }
    submit(c);
}

/* Authentication finished (gateway/endpoints/admin_auth.h). */
static void on_auth(struct gw_req *r, const struct gw_admin_principal *who, void *arg)
{
    struct admin_call *c = arg;
    switch (who->result) {
    case GW_ADMIN_AUTH_OK:
        break;
    case GW_ADMIN_AUTH_NONE:
        respond_err(r, 401, "unauthenticated", who->detail,
                    "WWW-Authenticate: Bearer realm=\"onegate-admin\"\r\n");
        call_free(c);
        return;
    case GW_ADMIN_AUTH_FORBIDDEN:
        respond_err(r, 403, "forbidden", who->detail, NULL);
        call_free(c);
        return;
    case GW_ADMIN_AUTH_UNAVAILABLE:
    default:
        respond_err(r, 503, "storage_unavailable", who->detail, "Retry-After: 1\r\n");
        call_free(c);
        return;
    }
    snprintf(c->actor, sizeof c->actor, "%s", who->actor);
    if (state_changing(c->method) && (has_body(r) || strcmp(c->method, "DELETE") != 0) &&
        !is_json_type(gw_req_header(r, "content-type"))) {
        respond_err(r, 415, "unsupported_media_type",
                    "send the request body as Content-Type: application/json", NULL);
        call_free(c);
        return;
    }
    if (!has_body(r)) {
        submit(c);
        return;
    }
    gw_req_read_body(r, GW_ADMIN_BODY_MAX_BYTES, on_body, c);
}

static void handle(struct gw_req *r, void *ctx)
{
    struct admin_ep *ep = ctx;
    const char *method = gw_req_method(r), *path = gw_req_path(r), *query = gw_req_query(r);
    char detail[160];

    if (gw_origin_check(r, detail, sizeof detail) != 0) {
        GW_LOG(GW_LOG_WARN, "admin: cross-origin %s %s refused (client %s, request %s): %s",
               method, path, gw_req_client_ip(r), gw_req_request_id(r), detail);
        respond_err(r, 403, "cross_origin", detail, NULL);
        return;
    }
    struct admin_call *c = calloc(1, sizeof *c);
    size_t pl = strlen(ep->prefix);
    if (c) {
        c->r = r;
        c->ep = ep;
        snprintf(c->method, sizeof c->method, "%s", method);
        c->path = strdup(strlen(path) >= pl ? path + pl : "");
        c->query = query && *query ? strdup(query) : NULL;
    }
    if (!c || !c->path || (query && *query && !c->query)) {
        if (c)
            call_free(c);
        respond_err(r, 500, "internal", "out of memory", NULL);
        return;
    }
    gw_admin_authenticate(r, on_auth, c);
}

int gw_admin_api_register(const struct gw_config *cfg, struct gw_services *svc)
{
    static struct admin_ep ep;     /* one admin API per process; lives until exit */
    ep.svc = svc;
    snprintf(ep.prefix, sizeof ep.prefix, "%s", cfg->admin.prefix);
    struct gw_endpoint e = { .prefix = ep.prefix, .exact = false, .handle = handle, .ctx = &ep };
    return gw_endpoint_register(&e);
}
