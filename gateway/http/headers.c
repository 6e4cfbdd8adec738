/* gateway/http/headers.c — what is forwarded and what is not: hop-by-hop stripping,
 * forwarding headers, framing re-declaration, in both directions. Pure functions. */
#include "gateway/http/headers.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- builder ---- */

void gw_sbuf_add(struct gw_sbuf *b, const void *data, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len > b->cap) {
        size_t ncap = b->cap ? b->cap : 1024;
        while (ncap < b->len + len)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

void gw_sbuf_adds(struct gw_sbuf *b, const char *s) { gw_sbuf_add(b, s, strlen(s)); }

void gw_sbuf_addu(struct gw_sbuf *b, uint64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    gw_sbuf_add(b, tmp + i, sizeof tmp - (size_t)i);
}

void gw_sbuf_free(struct gw_sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

bool gw_hdr_eq(const char *name, size_t len, const char *lit)
{
    for (size_t i = 0; i < len; i++) {
        if (lit[i] == '\0' || lower((unsigned char)name[i]) != (unsigned char)lit[i])
            return false;
    }
    return lit[len] == '\0';
}

static bool slice_eq_ci(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

const struct gw_hp_field *gw_hdr_find(const struct gw_hp_field *f, size_t n, const char *lit)
{
    for (size_t i = 0; i < n; i++)
        if (gw_hdr_eq(f[i].name, f[i].name_len, lit))
            return &f[i];
    return NULL;
}

/* ---- Connection tokens ---- */

void gw_conn_tokens_parse(const struct gw_hp_field *fields, size_t n, struct gw_conn_tokens *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        if (!gw_hdr_eq(fields[i].name, fields[i].name_len, "connection"))
            continue;
        const char *p = fields[i].value, *end = p + fields[i].value_len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                p++;
            const char *s = p;
            while (p < end && *p != ',')
                p++;
            const char *e = p;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            size_t len = (size_t)(e - s);
            if (len == 0)
                continue;
            if (gw_hdr_eq(s, len, "close"))
                t->close = true;
            else if (gw_hdr_eq(s, len, "keep-alive"))
                t->keep_alive = true;
            else if (gw_hdr_eq(s, len, "upgrade"))
                t->upgrade = true;
            if (t->n == GW_CONN_TOKENS_MAX) {
                t->overflow = true;
                continue;
            }
            t->names[t->n].p = s;
            t->names[t->n].len = len;
            t->n++;
        }
    }
}

bool gw_conn_tokens_has(const struct gw_conn_tokens *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->n; i++)
        if (slice_eq_ci(t->names[i].p, t->names[i].len, name, len))
            return true;
    return false;
}

bool gw_hdr_is_hop_by_hop(const char *name, size_t len)
{
    if (len >= 6 && gw_hdr_eq(name, 6, "proxy-"))
        return true;
    switch (len) {
    case 2: return gw_hdr_eq(name, len, "te");
    case 7: return gw_hdr_eq(name, len, "trailer") || gw_hdr_eq(name, len, "upgrade");
    case 10: return gw_hdr_eq(name, len, "connection") || gw_hdr_eq(name, len, "keep-alive");
    case 17: return gw_hdr_eq(name, len, "transfer-encoding");
    default: return false;
    }
}

int gw_hdr_check_framing(const struct gw_hp_field *f, size_t n, bool is_request, int http_minor,
                         const char **why)
{
    int ncl = 0, nte = 0, nhost = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = f[i].name;
        size_t len = f[i].name_len;
        if (len == 14 && gw_hdr_eq(name, len, "content-length")) {
            ncl++;
            if (f[i].value_len == 0 || f[i].value_len > 18) {
                *why = "invalid Content-Length";
                return -1;
            }
            for (size_t k = 0; k < f[i].value_len; k++)
                if (f[i].value[k] < '0' || f[i].value[k] > '9') {
                    *why = "invalid Content-Length";
                    return -1;
                }
        } else if (len == 17 && gw_hdr_eq(name, len, "transfer-encoding")) {
            nte++;
            if (!gw_hdr_eq(f[i].value, f[i].value_len, "chunked")) {
                *why = "unsupported Transfer-Encoding";
                return -1;
            }
        } else if (len == 4 && gw_hdr_eq(name, len, "host")) {
            nhost++;
        }
    }
    if (ncl > 1) {
        *why = "several Content-Length fields";
        return -1;
    }
    if (nte > 1) {
        *why = "several Transfer-Encoding fields";
        return -1;
    }
    if (nte && ncl) {
        *why = "Transfer-Encoding together with Content-Length";
        return -1;
    }
    if (nte && http_minor == 0) {
        *why = "Transfer-Encoding in HTTP/1.0";
        return -1;
    }
    if (is_request && (nhost > 1 || (nhost == 0 && http_minor >= 1))) {
        *why = nhost > 1 ? "several Host fields" : "missing Host";
        return -1;
    }
    return 0;
}

/* ---- forwarding ---- */

static void add_field(struct gw_sbuf *o, const struct gw_hp_field *f)
{
    gw_sbuf_add(o, f->name, f->name_len);
    gw_sbuf_add(o, ": ", 2);
    gw_sbuf_add(o, f->value, f->value_len);
    gw_sbuf_add(o, "\r\n", 2);
}

/* Joins the values of every field named <lit> with ", " (RFC 9110 §5.3). Returns count. */
static int join_values(struct gw_sbuf *o, const struct gw_hp_field *f, size_t n, const char *lit)
{
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!gw_hdr_eq(f[i].name, f[i].name_len, lit) || f[i].value_len == 0)
            continue;
        if (count++)
            gw_sbuf_add(o, ", ", 2);
        gw_sbuf_add(o, f[i].value, f[i].value_len);
    }
    return count;
}

enum fwd_kind { FWD_NONE = 0, FWD_XFF, FWD_XFP, FWD_XFH, FWD_FORWARDED, FWD_VIA, FWD_RID,
                FWD_HOST, FWD_CL, FWD_EXPECT };

static enum fwd_kind classify(const char *n, size_t len)
{
    switch (len) {
    case 3: return gw_hdr_eq(n, len, "via") ? FWD_VIA : FWD_NONE;
    case 4: return gw_hdr_eq(n, len, "host") ? FWD_HOST : FWD_NONE;
    case 6: return gw_hdr_eq(n, len, "expect") ? FWD_EXPECT : FWD_NONE;
    case 9: return gw_hdr_eq(n, len, "forwarded") ? FWD_FORWARDED : FWD_NONE;
    case 12: return gw_hdr_eq(n, len, "x-request-id") ? FWD_RID : FWD_NONE;
    case 14: return gw_hdr_eq(n, len, "content-length") ? FWD_CL : FWD_NONE;
    case 15: return gw_hdr_eq(n, len, "x-forwarded-for") ? FWD_XFF : FWD_NONE;
    case 16: return gw_hdr_eq(n, len, "x-forwarded-host") ? FWD_XFH : FWD_NONE;
    case 17: return gw_hdr_eq(n, len, "x-forwarded-proto") ? FWD_XFP : FWD_NONE;
    default: return FWD_NONE;
    }
}

static void add_forwarded_node(struct gw_sbuf *o, const char *ip)
{
    if (strchr(ip, ':')) {                      /* IPv6: quoted and bracketed (RFC 7239) */
        gw_sbuf_adds(o, "\"[");
        gw_sbuf_adds(o, ip);
        gw_sbuf_adds(o, "]\"");
    } else {
        gw_sbuf_adds(o, ip);
    }
}

/* "Via: <received values>, 1.1 <server_name>\r\n" (RFC 9110 §7.6.3). */
static void add_via(struct gw_sbuf *o, const struct gw_hp_field *fs, size_t n,
                    const char *server_name)
{
    gw_sbuf_adds(o, "Via: ");
    if (join_values(o, fs, n, "via"))
        gw_sbuf_add(o, ", ", 2);
    gw_sbuf_adds(o, "1.1 ");
    gw_sbuf_adds(o, server_name);
    gw_sbuf_add(o, "\r\n", 2);
}

/* The framing header onegate declares for a body it forwards (none for GW_BODY_NONE and
 * close-delimited bodies). */
static void add_framing(struct gw_sbuf *o, enum gw_body_kind body, uint64_t content_length)
{
    switch (body) {
    case GW_BODY_LENGTH:
        gw_sbuf_add(o, "Content-Length: ", 16);
        gw_sbuf_addu(o, content_length);
        gw_sbuf_add(o, "\r\n", 2);
        break;
    case GW_BODY_CHUNKED:
        gw_sbuf_adds(o, "Transfer-Encoding: chunked\r\n");
        break;
    default:
        break;
    }
}

void gw_headers_build_upstream(struct gw_sbuf *o, const struct gw_fwd_req *in)
{
    gw_sbuf_add(o, in->method, in->method_len);
    gw_sbuf_add(o, " ", 1);
    gw_sbuf_add(o, in->target, in->target_len);
    gw_sbuf_add(o, " HTTP/1.1\r\n", 11);

    /* Host first, as clients do. */
    gw_sbuf_add(o, "Host: ", 6);
    if (in->host_rewrite)
        gw_sbuf_adds(o, in->host_rewrite);
    else
        gw_sbuf_add(o, in->host, in->host_len);
    gw_sbuf_add(o, "\r\n", 2);

    for (size_t i = 0; i < in->nfields; i++) {
        const struct gw_hp_field *f = &in->fields[i];
        if (gw_hdr_is_hop_by_hop(f->name, f->name_len) ||
            gw_conn_tokens_has(in->conn, f->name, f->name_len) ||
            classify(f->name, f->name_len) != FWD_NONE)
            continue;
        if (in->drop && in->drop(f->name, f->name_len, in->drop_arg))
            continue;
        add_field(o, f);
    }

    const struct gw_hp_field *fs = in->fields;
    size_t n = in->nfields;
    bool t = in->peer_trusted;

    gw_sbuf_adds(o, "X-Forwarded-For: ");
    if (t && join_values(o, fs, n, "x-forwarded-for"))
        gw_sbuf_add(o, ", ", 2);
    gw_sbuf_adds(o, in->peer_ip);
    gw_sbuf_add(o, "\r\n", 2);

    gw_sbuf_adds(o, "X-Forwarded-Proto: ");
    const struct gw_hp_field *xfp = t ? gw_hdr_find(fs, n, "x-forwarded-proto") : NULL;
    if (xfp && xfp->value_len)
        gw_sbuf_add(o, xfp->value, xfp->value_len);
    else
        gw_sbuf_adds(o, in->proto);
    gw_sbuf_add(o, "\r\n", 2);

    gw_sbuf_adds(o, "X-Forwarded-Host: ");
    const struct gw_hp_field *xfh = t ? gw_hdr_find(fs, n, "x-forwarded-host") : NULL;
    if (xfh && xfh->value_len)
        gw_sbuf_add(o, xfh->value, xfh->value_len);
    else
        gw_sbuf_add(o, in->host, in->host_len);
    gw_sbuf_add(o, "\r\n", 2);

    gw_sbuf_adds(o, "Forwarded: ");
    if (t && join_values(o, fs, n, "forwarded"))
        gw_sbuf_add(o, ", ", 2);
    gw_sbuf_adds(o, "for=");
    add_forwarded_node(o, in->peer_ip);
    gw_sbuf_adds(o, ";host=\"");
    gw_sbuf_add(o, in->host, in->host_len);     /* Host was checked: no '"' or '\' in it */
    gw_sbuf_adds(o, "\";proto=");
    gw_sbuf_adds(o, in->proto);
    gw_sbuf_add(o, "\r\n", 2);

    add_via(o, fs, n, in->server_name);
    gw_sbuf_add(o, "X-Request-Id: ", 14);
    gw_sbuf_adds(o, in->request_id);
    gw_sbuf_add(o, "\r\n", 2);

    add_framing(o, in->body, in->content_length);
    if (in->upgrade_websocket)
        gw_sbuf_adds(o, "Connection: upgrade\r\nUpgrade: websocket\r\n");
    if (in->extra)
        gw_sbuf_adds(o, in->extra);
    gw_sbuf_add(o, "\r\n", 2);
}

void gw_headers_build_response(struct gw_sbuf *o, const struct gw_fwd_resp *in)
{
    gw_sbuf_add(o, "HTTP/1.1 ", 9);
    gw_sbuf_addu(o, (uint64_t)in->status);
    gw_sbuf_add(o, " ", 1);
    if (in->reason_len)
        gw_sbuf_add(o, in->reason, in->reason_len);
    else
        gw_sbuf_adds(o, gw_status_reason(in->status));
    gw_sbuf_add(o, "\r\n", 2);

    bool have_rid = false;
    for (size_t i = 0; i < in->nfields; i++) {
        const struct gw_hp_field *f = &in->fields[i];
        if (in->upgrade && gw_hdr_eq(f->name, f->name_len, "upgrade")) {
            add_field(o, f);
            continue;
        }
        if (gw_hdr_is_hop_by_hop(f->name, f->name_len) ||
            gw_conn_tokens_has(in->conn, f->name, f->name_len))
            continue;
        enum fwd_kind k = classify(f->name, f->name_len);
        if (k == FWD_VIA)
            continue;
        if (k == FWD_CL && in->body != GW_BODY_NONE)
            continue;                           /* re-declared below */
        if (k == FWD_RID)
            have_rid = true;
        add_field(o, f);
    }
    add_via(o, in->fields, in->nfields, in->server_name);
    if (!have_rid) {
        gw_sbuf_add(o, "X-Request-Id: ", 14);
        gw_sbuf_adds(o, in->request_id);
        gw_sbuf_add(o, "\r\n", 2);
    }
    add_framing(o, in->body, in->content_length);
    if (in->upgrade)
        gw_sbuf_adds(o, "Connection: upgrade\r\n");
    else if (!in->keep_alive)
        gw_sbuf_adds(o, "Connection: close\r\n");
    else if (in->client_http10)
        gw_sbuf_adds(o, "Connection: keep-alive\r\n");
    gw_sbuf_add(o, "\r\n", 2);
}

void gw_fwd_client_ip(const struct gw_hp_field *f, size_t n, bool peer_trusted,
                      const char *peer_ip, gw_ip_trusted_fn *is_trusted, void *arg,
                      char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", peer_ip);
    if (!peer_trusted)
        return;
    /* Walk every X-Forwarded-For entry from the right. */
    for (size_t i = n; i-- > 0;) {
        if (!gw_hdr_eq(f[i].name, f[i].name_len, "x-forwarded-for"))
            continue;
        const char *s = f[i].value, *e = s + f[i].value_len;
        while (e > s) {
            const char *c = e;
            while (c > s && c[-1] != ',')
                c--;
            const char *a = c, *b = e;
            while (a < b && (*a == ' ' || *a == '\t'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                b--;
            char ip[64];
            unsigned char tmp[16];
            size_t len = (size_t)(b - a);
            if (len == 0 || len >= sizeof ip)
                return;                         /* garbage: keep the last good answer */
            memcpy(ip, a, len);
            ip[len] = '\0';
            if (inet_pton(AF_INET, ip, tmp) != 1 && inet_pton(AF_INET6, ip, tmp) != 1)
                return;
            snprintf(out, outlen, "%s", ip);
            if (!is_trusted || !is_trusted(ip, arg))
                return;
            e = c > s ? c - 1 : s;
        }
    }
}

bool gw_request_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

const char *gw_status_reason(int s)
{
    switch (s) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
