/* gateway/http/request.c — the way of one request through the engine: strict checks and
 * parsing of the head, request id and client address, routing, dispatch to an endpoint or
 * the proxy, and the end of the request (access log, metrics).
 *
 * THE SEAM FOR "IDENTIFY + DECIDE" (issue 4). dispatch_proxy() is where an asynchronous stage
 * goes between routing and forwarding: look the session up in Redis (or verify a bearer
 * token), run the policy decision for (route, principal, method, path), then either answer
 * (redirect to login, 401, 403 via gw_request_error) or continue with gw_proxy_start(). While
 * it runs the request sits in GW_C_REQ: the client's later bytes stay buffered (bounded; the
 * connection stops reading past a limit), the connection timer covers a stuck body, and if
 * the client leaves, gw_request_client_gone() runs: the stage must then find r->conn == NULL
 * and only release the request. Identity headers are removed and added at forwarding time
 * through gw_fwd_req.drop / .extra (gateway/http/headers.h), which proxy.c fills from
 * r->id_drop / r->id_drop_arg / r->id_extra (struct gw_req): the stage (gateway/identify.c)
 * sets them before it calls gw_proxy_start.
 */
#include "gateway/http/request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/http/errors.h"
#include "gateway/identify.h"

bool gw_request_wants_json(const struct gw_req *r)
{
    if (!r->fields)
        return false;
    const struct gw_hp_field *a = gw_hdr_find(r->fields, r->h.nfields, "accept");
    return a && gw_accept_prefers_json(a->value, a->value_len);
}

static struct gw_req *req_alloc(struct gw_conn *c, size_t extra)
{
    /* Only the struct is zeroed: the trailing fields/head area is written before it is read. */
    struct gw_req *r = malloc(sizeof *r + extra);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->conn = c;
    r->w = c->w;
    r->wc = c->w->conf;
    gw_wconf_ref(r->wc);
    r->t_start_us = gw_now_us();
    r->route = -1;
    r->route_metric = GW_METRIC_ROUTE_NONE;
    r->body_done = true;
    strcpy(r->method, "-");
    r->path = (char *)"-";
    r->path_len = 1;
    r->query = (char *)"";
    memcpy(r->client_ip, c->peer_ip, sizeof r->client_ip);
    gw_worker_request_id(c->w, r->request_id);
    c->req = r;
    return r;
}

void gw_request_error(struct gw_req *r, int status, const char *detail, bool keep)
{
    struct gw_conn *c = r->conn;
    if (!c) {
        gw_request_free(r);
        return;
    }
    struct gw_worker *w = r->w;
    gw_worker_update_dates(w);
    keep = keep && r->body_done && r->keep_alive && status != 408 && !w->draining &&
           !c->close_after;
    w->scratch.len = 0;
    gw_error_build(&w->scratch, status, detail, r->request_id, w->date, gw_request_wants_json(r),
                   keep, r->http_minor == 0, r->is_head);
    r->status = status;
    r->responded = true;
    if (!w->scratch.oom)
        gw_conn_send(c, w->scratch.p, w->scratch.len);
    w->scratch.oom = false;
    gw_conn_request_done(c, keep);
}

void gw_request_reject_early(struct gw_conn *c, int status, const char *why)
{
    GW_LOG(GW_LOG_INFO, "client %s: rejected request head: %s (%d)", c->peer_ip, why, status);
    evbuffer_drain(c->io.in, gw_io_in_len(&c->io));
    struct gw_req *r = req_alloc(c, 0);
    if (!r) {
        gw_conn_close(c);
        return;
    }
    r->kind = GW_REQ_ERROR;
    r->keep_alive = false;
    c->state = GW_C_REQ;
    gw_request_error(r, status, why, false);
}

static bool host_valid(const char *h, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              strchr("-._~:[]!$&'()*+,;=%", ch)))
            return false;
    }
    return true;
}

static bool ip_trusted(const char *ip, void *arg)
{
    const struct gw_config *cfg = arg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
        s4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1)
        s6->sin6_family = AF_INET6;
    else
        return false;
    return gw_cidr_match_any(cfg->trusted_proxies, cfg->ntrusted_proxies,
                             (const struct sockaddr *)&ss);
}

/* Splits the request target into path, query and the origin-form target to forward, and
 * finds the host (absolute-form authority wins over Host, RFC 9112 §3.2.2). Returns 0 or -1. */
static int split_target(struct gw_req *r, char *copy_area)
{
    const char *t = r->h.target;
    size_t n = r->h.target_len;
    const struct gw_hp_field *host = gw_hdr_find(r->fields, r->h.nfields, "host");
    if (host) {
        r->host = host->value;
        r->host_len = host->value_len;
    }
    if (n >= 7 && (!strncasecmp(t, "http://", 7) || (n >= 8 && !strncasecmp(t, "https://", 8)))) {
        size_t skip = t[4] == ':' ? 7 : 8;
        const char *a = t + skip, *e = t + n;
        const char *slash = memchr(a, '/', (size_t)(e - a));
        const char *q = memchr(a, '?', (size_t)(e - a));
        const char *end_auth = slash ? slash : (q ? q : e);
        if (q && q < end_auth)
            end_auth = q;
        if (end_auth == a || memchr(a, '@', (size_t)(end_auth - a)))
            return -1;
        r->host = a;
        r->host_len = (size_t)(end_auth - a);
        t = end_auth;
        n = (size_t)(e - end_auth);
        if (n == 0 || *t != '/') {
            /* "http://h" or "http://h?q": the path is "/" */
            memcpy(copy_area, "/", 1);
            memcpy(copy_area + 1, t, n);
            r->target = copy_area;
            r->target_len = n + 1;
            copy_area += n + 2;
            t = r->target;
            n = r->target_len;
        } else {
            r->target = t;
            r->target_len = n;
        }
    } else if (n == 1 && t[0] == '*') {
        if (strcmp(r->method, "OPTIONS") != 0)
            return -1;
        r->target = t;
        r->target_len = 1;
    } else if (t[0] == '/') {
        r->target = t;
        r->target_len = n;
    } else {
        return -1;
    }
    if (!r->host && r->http_minor == 0) {
        r->host = "";                       /* HTTP/1.0 without Host: empty authority */
        r->host_len = 0;
    } else if (!r->host || !host_valid(r->host, r->host_len)) {
        return -1;
    }
    const char *q = memchr(t, '?', n);
    size_t plen = q ? (size_t)(q - t) : n;
    r->path = copy_area;
    memcpy(r->path, t, plen);
    r->path[plen] = '\0';
    r->path_len = plen;
    r->query = r->path + plen + 1;
    size_t qlen = q ? n - plen - 1 : 0;
    if (q)
        memcpy(r->query, q + 1, qlen);
    r->query[qlen] = '\0';
    return 0;
}

static void dispatch_local(struct gw_req *r, const struct gw_endpoint *ep)
{
    r->kind = GW_REQ_LOCAL;
    r->ep = ep;
    memcpy(&r->peer, &r->conn->peer, sizeof r->peer);
    r->route_metric = GW_METRIC_ROUTE_BUILTIN;
    ep->handle(r, ep->ctx);
}

static void dispatch_proxy(struct gw_req *r, size_t route)
{
    const struct gw_config *cfg = r->wc->cfg;
    const struct gw_route_conf *rc = &cfg->routes[route];
    r->kind = GW_REQ_PROXY;
    r->route = (int)route;
    r->route_metric = r->wc->rt->route_metric[route];
    r->upstream = rc->upstream_index;
    r->max_body = rc->has_max_body ? rc->max_body_bytes : cfg->limits.max_body_bytes;
    if (r->max_body && r->body == GW_BODY_LENGTH && r->h.content_length > r->max_body) {
        /* Before any 100 Continue: the client learns early and never sends the body. */
        gw_request_error(r, 413, "request body larger than this route accepts", false);
        return;
    }
    /* Seam: identify + decide (gateway/identify.c); it calls gw_proxy_start() or answers. */
    gw_identify_start(r);
}

void gw_request_start(struct gw_conn *c, const char *p, size_t head_len)
{
    const struct gw_wconf *wc = c->w->conf;
    size_t maxf = wc->lim.max_headers + 1;
    size_t fields_sz = maxf * sizeof(struct gw_hp_field);
    /* one block: request | fields | head copy | path+query copy (+ "/" for absolute-form) */
    struct gw_req *r = req_alloc(c, fields_sz + head_len + 1 + head_len + 4);
    if (!r) {
        evbuffer_drain(c->io.in, head_len);
        gw_conn_close(c);
        return;
    }
    r->fields = (struct gw_hp_field *)(r + 1);
    r->head = (char *)r->fields + fields_sz;
    memcpy(r->head, p, head_len);
    r->head[head_len] = '\0';
    r->head_len = head_len;
    evbuffer_drain(c->io.in, head_len);
    r->bytes_in = head_len;
    char *copy_area = r->head + head_len + 1;
    r->keep_alive = false;

    const char *why = NULL;
    int st = gw_head_validate(r->head, head_len, true, &wc->lim, &why);
    if (st) {
        GW_LOG(GW_LOG_INFO, "client %s: rejected request: %s (%d)", c->peer_ip, why, st);
        gw_request_error(r, st, why, false);
        return;
    }
    if (gw_hp_parse_head(true, r->head, head_len, false, &r->h, r->fields, maxf, &why) != 0 ||
        gw_hdr_check_framing(r->fields, r->h.nfields, true, r->h.http_minor, &why) != 0) {
        r->h.nfields = r->h.nfields > maxf ? maxf : r->h.nfields;
        GW_LOG(GW_LOG_INFO, "client %s: rejected request: %s", c->peer_ip, why);
        gw_request_error(r, r->h.nfields >= maxf ? 431 : 400, why, false);
        return;
    }
    /* NUL-terminate values in our copy for gw_req_header(); slices keep their lengths. */
    for (size_t i = 0; i < r->h.nfields; i++)
        ((char *)r->fields[i].value)[r->fields[i].value_len] = '\0';
    r->http_minor = r->h.http_minor;
    if (r->h.method_len >= sizeof r->method) {
        gw_request_error(r, 400, "method too long", false);
        return;
    }
    memcpy(r->method, r->h.method, r->h.method_len);
    r->method[r->h.method_len] = '\0';
    r->is_head = !strcmp(r->method, "HEAD");
    gw_conn_tokens_parse(r->fields, r->h.nfields, &r->conn_tokens);
    if (r->conn_tokens.overflow) {
        gw_request_error(r, 400, "too many Connection options", false);
        return;
    }
    if (r->h.chunked) {
        r->body = GW_BODY_CHUNKED;
        r->body_done = false;
        gw_hp_chunked_init(&r->body_ch, true);
    } else if (r->h.has_content_length) {
        r->body = GW_BODY_LENGTH;
        r->body_remaining = r->h.content_length;
        r->body_done = r->body_remaining == 0;
    }
    if (split_target(r, copy_area) != 0) {
        gw_request_error(r, 400, "invalid request target or Host", false);
        return;
    }
    r->keep_alive = r->h.keep_alive && !r->conn_tokens.close;
    const struct gw_config *cfg = wc->cfg;
    r->peer_trusted = cfg->ntrusted_proxies &&
                      gw_cidr_match_any(cfg->trusted_proxies, cfg->ntrusted_proxies,
                                        (const struct sockaddr *)&c->peer);
    if (r->peer_trusted) {
        const struct gw_hp_field *rid = gw_hdr_find(r->fields, r->h.nfields, "x-request-id");
        if (rid && gw_request_id_valid(rid->value, rid->value_len)) {
            memcpy(r->request_id, rid->value, rid->value_len);
            r->request_id[rid->value_len] = '\0';
        }
        gw_fwd_client_ip(r->fields, r->h.nfields, true, c->peer_ip, ip_trusted, (void *)cfg,
                         r->client_ip, sizeof r->client_ip);
    }
    if (!strcmp(r->method, "CONNECT")) {
        gw_request_error(r, 405, "CONNECT is not supported", false);
        return;
    }
    const struct gw_hp_field *ex = gw_hdr_find(r->fields, r->h.nfields, "expect");
    if (ex) {
        if (!gw_hdr_eq(ex->value, ex->value_len, "100-continue")) {
            gw_request_error(r, 417, "unsupported expectation", false);
            return;
        }
        r->expect_continue = r->http_minor >= 1 && !r->body_done;
    }
    if (r->h.upgrade) {
        const struct gw_hp_field *up = gw_hdr_find(r->fields, r->h.nfields, "upgrade");
        r->upgrade_ws = up && r->conn_tokens.upgrade && !strcmp(r->method, "GET") &&
                        r->body_done && strcasestr(up->value, "websocket") != NULL;
    }

    const struct gw_endpoint *ep = gw_endpoint_find(wc, r->path, r->path_len);
    if (ep) {
        dispatch_local(r, ep);
        return;
    }
    size_t route;
    if (pol_route_table_lookup(cfg->route_table, r->host, r->host_len, r->path, r->path_len,
                               &route) != 0) {
        gw_request_error(r, 404, "no route for this address", true);
        return;
    }
    dispatch_proxy(r, route);
}

void gw_request_client_data(struct gw_req *r)
{
    if (r->kind == GW_REQ_PROXY)
        gw_proxy_client_data(r);
    else if (r->kind == GW_REQ_LOCAL)
        gw_local_client_data(r);
}

void gw_request_client_gone(struct gw_req *r)
{
    r->conn = NULL;
    if (r->kind == GW_REQ_PROXY) {
        gw_identify_cancel(r);              /* a Redis call in flight will not call back */
        gw_proxy_cancel(r);
        gw_request_free(r);
    } else if (r->kind == GW_REQ_LOCAL) {
        if (r->lbody_reading) {
            r->lbody_reading = false;
            r->lbody_cb(r, NULL, 0, r->lbody_arg);  /* handler returns without responding */
            gw_request_free(r);
        }
        /* otherwise the handler still owns it: gw_req_respond() releases an orphan */
    } else {
        gw_request_free(r);
    }
}

void gw_request_log(struct gw_req *r)
{
    struct gw_worker *w = r->w;
    int status = r->status ? r->status : 499;   /* 499: the client left before an answer */
    gw_metrics_count_request(w->metrics, r->route_metric, status);
    gw_metric_add(&w->metrics->bytes_out, r->bytes_out);
    if (r->up_used && r->up_us) {
        uint16_t um = r->wc->rt->upstream_metric[r->upstream];
        gw_metrics_observe_upstream(w->metrics, um, r->up_us);
    }
    if (!gw_log_access_enabled())
        return;
    gw_worker_update_dates(w);
    uint64_t now = gw_now_us();
    const struct gw_config *cfg = r->wc->cfg;
    struct gw_access_rec rec = {
        .time_iso = w->iso,
        .request_id = r->request_id,
        .client = r->client_ip,
        .method = r->method,
        .path = r->path, .path_len = r->path_len,
        .route = r->route >= 0 ? r->wc->rt->route_labels[r->route]
                               : (r->kind == GW_REQ_LOCAL ? "builtin" : "-"),
        .upstream = r->kind == GW_REQ_PROXY ? cfg->upstreams[r->upstream].name : "-",
        .status = status,
        .bytes_in = r->bytes_in,
        .bytes_out = r->bytes_out,
        .total_ms = (double)(now - r->t_start_us) / 1000.0,
        .upstream_ms = r->up_used ? (double)r->up_us / 1000.0 : -1.0,
    };
    gw_worker_access_log(w, &rec);
}

void gw_request_free(struct gw_req *r)
{
    if (r->kind == GW_REQ_PROXY)
        gw_proxy_cancel(r);                 /* any upstream connection or queue place (no-op
                                             * when the proxy already let go of it) */
    gw_request_log(r);
    gw_identify_release(r);             /* frees r->ident and r->id_extra */
    free(r->id_extra);
    if (r->lbody)
        evbuffer_free(r->lbody);
    gw_wconf_unref(r->wc);
    free(r);
}
