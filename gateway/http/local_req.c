/* gateway/http/local_req.c — the engine side of gateway/endpoints/endpoint.h: requests that
 * onegate answers itself. Finds the endpoint, reads bodies for handlers, writes responses. */
#include "gateway/http/request.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/endpoints/builtin.h"
#include "gateway/http/errors.h"

#define MAX_ENDPOINTS 64

static struct gw_endpoint registry[MAX_ENDPOINTS];
static size_t nregistry;

int gw_endpoint_register(const struct gw_endpoint *ep)
{
    if (nregistry == MAX_ENDPOINTS || !ep->prefix || ep->prefix[0] != '/')
        return -1;
    for (size_t i = 0; i < nregistry; i++)
        if (!strcmp(registry[i].prefix, ep->prefix) && registry[i].exact == ep->exact)
            return -1;
    registry[nregistry++] = *ep;
    return 0;
}

static void not_found(struct gw_req *r, void *ctx)
{
    gw_req_respond_error(r, 404, "no such built-in endpoint");
}

static const struct gw_endpoint ep_live = { "live", true, gw_endpoint_live, NULL };
static const struct gw_endpoint ep_ready = { "ready", true, gw_endpoint_ready, NULL };
static const struct gw_endpoint ep_metrics = { "metrics", true, gw_endpoint_metrics, NULL };
static const struct gw_endpoint ep_none = { "", false, not_found, NULL };

const struct gw_endpoint *gw_endpoint_find(const struct gw_wconf *wc, const char *path,
                                           size_t len)
{
    const char *bp = wc->cfg->builtin_prefix;
    size_t bl = wc->builtin_len;
    if (bl && len >= bl && !memcmp(path, bp, bl)) {
        const char *rest = path + bl;
        if (!strcmp(rest, "live"))
            return &ep_live;
        if (!strcmp(rest, "ready"))
            return &ep_ready;
        if (!strcmp(rest, "metrics"))
            return &ep_metrics;
        /* onegate's own endpoints registered below the builtin prefix (login, logout,
         * session: gateway/endpoints/login.c); only exact ones */
        for (size_t i = 0; i < nregistry; i++)
            if (registry[i].exact && strlen(registry[i].prefix) == len &&
                !memcmp(path, registry[i].prefix, len))
                return &registry[i];
        return &ep_none;
    }
    const struct gw_endpoint *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < nregistry; i++) {
        const struct gw_endpoint *e = &registry[i];
        size_t pl = strlen(e->prefix);
        if (e->exact) {
            if (pl == len && !memcmp(path, e->prefix, len))
                return e;
            continue;
        }
        if (pl <= len && !memcmp(path, e->prefix, pl) && pl > best_len) {
            best = e;
            best_len = pl;
        }
    }
    return best;
}

/* ---- reading ---- */

const char *gw_req_method(const struct gw_req *r) { return r->method; }
const char *gw_req_path(const struct gw_req *r) { return r->path; }
const char *gw_req_query(const struct gw_req *r) { return r->query; }
const char *gw_req_request_id(const struct gw_req *r) { return r->request_id; }
const char *gw_req_client_ip(const struct gw_req *r) { return r->client_ip; }
bool gw_req_is_tls(const struct gw_req *r) { return false; }
struct event_base *gw_req_base(const struct gw_req *r) { return r->w->base; }
struct gw_worker *gw_req_worker(const struct gw_req *r) { return r->w; }
bool gw_req_orphaned(const struct gw_req *r) { return r->conn == NULL; }
const struct gw_config *gw_req_config(const struct gw_req *r) { return r->wc->cfg; }

const char *gw_req_host(const struct gw_req *r, char *buf, size_t len)
{
    size_t n = r->host ? r->host_len : 0;
    if (len == 0)
        return buf;
    if (n >= len)
        n = len - 1;
    if (n)
        memcpy(buf, r->host, n);
    buf[n] = '\0';
    return buf;
}

const char *gw_req_header(const struct gw_req *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->h.nfields; i++) {
        const struct gw_hp_field *f = &r->fields[i];
        if (f->name_len == n && !strncasecmp(f->name, name, n))
            return f->value;                /* NUL-terminated in our head copy */
    }
    return NULL;
}

const struct sockaddr *gw_req_client_addr(const struct gw_req *r)
{
    return (const struct sockaddr *)&r->peer;
}

static int lbody_add(void *arg, const char *data, size_t len)
{
    return evbuffer_add(arg, data, len);
}

static void deliver_body(struct gw_req *r)
{
    r->lbody_reading = false;
    evbuffer_add(r->lbody, "", 1);
    size_t len = evbuffer_get_length(r->lbody);
    const char *p = (const char *)evbuffer_pullup(r->lbody, -1);
    if (!p) {
        r->lbody_cb(r, NULL, 0, r->lbody_arg);
        gw_request_error(r, 500, "out of memory", false);
        return;
    }
    r->lbody_cb(r, p, len - 1, r->lbody_arg);  /* may respond and free r */
}

static void too_large(struct gw_req *r)
{
    r->lbody_reading = false;
    r->lbody_cb(r, NULL, 0, r->lbody_arg);
    gw_request_error(r, 413, "request body too large", false);
}

void gw_local_client_data(struct gw_req *r)
{
    struct gw_conn *c = r->conn;
    if (!r->lbody_reading || !c)
        return;
    struct evbuffer *in = c->io.in;
    if (r->body == GW_BODY_LENGTH) {
        size_t avail = evbuffer_get_length(in);
        size_t n = avail < r->body_remaining ? avail : (size_t)r->body_remaining;
        evbuffer_remove_buffer(in, r->lbody, n);
        r->body_remaining -= n;
        r->bytes_in += n;
        if (r->body_remaining == 0)
            r->body_done = true;
    } else if (r->body == GW_BODY_CHUNKED) {
        while (!r->body_done && evbuffer_get_length(in) > 0) {
            struct evbuffer_iovec v;
            if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
                break;
            ssize_t k = gw_hp_chunked_feed(&r->body_ch, v.iov_base, v.iov_len, lbody_add,
                                           r->lbody);
            if (k < 0) {
                r->lbody_reading = false;
                r->lbody_cb(r, NULL, 0, r->lbody_arg);
                gw_request_error(r, 400, "malformed chunked request body", false);
                return;
            }
            evbuffer_drain(in, (size_t)k);
            r->bytes_in += (uint64_t)k;
            if (r->body_ch.done)
                r->body_done = true;
            if (evbuffer_get_length(r->lbody) > r->lbody_max)
                break;
            if (k == 0)
                break;
        }
    }
    if (evbuffer_get_length(r->lbody) > r->lbody_max) {
        too_large(r);
        return;
    }
    if (r->body_done)
        deliver_body(r);
}

void gw_req_read_body(struct gw_req *r, size_t max_bytes, gw_req_body_cb *cb, void *arg)
{
    if (!r->conn) {
        cb(r, NULL, 0, arg);
        gw_request_free(r);
        return;
    }
    if (r->body_done) {
        cb(r, "", 0, arg);
        return;
    }
    r->lbody_cb = cb;
    r->lbody_arg = arg;
    r->lbody_max = max_bytes;
    if (r->body == GW_BODY_LENGTH && r->h.content_length > max_bytes) {
        r->lbody_reading = true;
        too_large(r);
        return;
    }
    r->lbody = evbuffer_new();
    if (!r->lbody) {
        cb(r, NULL, 0, arg);
        gw_request_error(r, 500, "out of memory", false);
        return;
    }
    r->lbody_reading = true;
    if (r->expect_continue && gw_io_in_len(&r->conn->io) == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        gw_conn_send(r->conn, cont, sizeof cont - 1);
        if (gw_conn_flush(r->conn) < 0)
            return;                         /* closed: client_gone delivered NULL */
    }
    gw_local_client_data(r);
}

/* ---- answering ---- */

void gw_req_respond(struct gw_req *r, int status, const char *content_type,
                    const char *extra_headers, const void *body, size_t len)
{
    struct gw_conn *c = r->conn;
    if (!c) {
        gw_request_free(r);
        return;
    }
    struct gw_worker *w = r->w;
    bool keep = r->keep_alive && r->body_done && !c->close_after && !w->draining;
    gw_worker_update_dates(w);
    w->scratch.len = 0;
    gw_response_build(&w->scratch, status, content_type, extra_headers, body, len, r->request_id,
                      w->date, keep, r->http_minor == 0, r->is_head);
    r->status = status;
    r->responded = true;
    if (w->scratch.oom) {
        w->scratch.oom = false;
        c->req = NULL;
        gw_request_free(r);
        gw_conn_close(c);
        return;
    }
    gw_conn_send(c, w->scratch.p, w->scratch.len);
    gw_conn_request_done(c, keep);
}

void gw_req_respond_error(struct gw_req *r, int status, const char *detail)
{
    gw_request_error(r, status, detail, true);
}
