/* gateway/http/headers.h — header handling for forwarding: a small string builder, the
 * Connection-header tokens, hop-by-hop classification, framing cross-checks, and the builders
 * of the head sent upstream and of the head sent back to the client.
 *
 * Pure functions over gw_hp_field slices (no I/O, no libevent) so they can be unit-tested.
 */
#ifndef ONEGATE_GATEWAY_HTTP_HEADERS_H
#define ONEGATE_GATEWAY_HTTP_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/http/http_parse.h"

/* ---- growable string builder ---- */
struct gw_sbuf {
    char *p;
    size_t len, cap;
    bool oom;                   /* an append failed; the content is incomplete */
};
void gw_sbuf_add(struct gw_sbuf *b, const void *data, size_t len);
void gw_sbuf_adds(struct gw_sbuf *b, const char *s);
void gw_sbuf_addu(struct gw_sbuf *b, uint64_t v);
void gw_sbuf_free(struct gw_sbuf *b);

/* Case-insensitive compare of a slice with a NUL-terminated lowercase literal. */
bool gw_hdr_eq(const char *name, size_t len, const char *lit);

/* ---- Connection header ---- */
#define GW_CONN_TOKENS_MAX 16
struct gw_conn_tokens {
    struct { const char *p; size_t len; } names[GW_CONN_TOKENS_MAX];
    size_t n;
    bool close, keep_alive, upgrade;
    bool overflow;              /* more listed names than we can track: reject the message */
};
/* Collects the tokens of every Connection field in <fields>. */
void gw_conn_tokens_parse(const struct gw_hp_field *fields, size_t n, struct gw_conn_tokens *t);
bool gw_conn_tokens_has(const struct gw_conn_tokens *t, const char *name, size_t len);

/* True for the fixed hop-by-hop set: Connection, Keep-Alive, TE, Trailer, Transfer-Encoding,
 * Upgrade, and every Proxy-* field. (Names listed in Connection are checked separately.) */
bool gw_hdr_is_hop_by_hop(const char *name, size_t len);

/* Cross-checks framing headers beyond what http-parser does: at most one Content-Length made
 * of digits only, Transfer-Encoding only "chunked" and never with Content-Length, no TE in
 * HTTP/1.0, and (requests) exactly one Host for HTTP/1.1. Returns 0 or -1 with *why set. */
int gw_hdr_check_framing(const struct gw_hp_field *f, size_t n, bool is_request, int http_minor,
                         const char **why);

/* First field named <lit> (lowercase literal) or NULL. */
const struct gw_hp_field *gw_hdr_find(const struct gw_hp_field *f, size_t n, const char *lit);

/* ---- forwarding ---- */
enum gw_body_kind { GW_BODY_NONE = 0, GW_BODY_LENGTH, GW_BODY_CHUNKED, GW_BODY_EOF };

/* Identity seam (issue 4): the identify/decide stage may drop client-sent identity headers
 * and add its own; the proxy passes both through this struct untouched. */
typedef bool gw_hdr_drop_fn(const char *name, size_t len, void *arg);

struct gw_fwd_req {
    const char *method; size_t method_len;
    const char *target; size_t target_len;       /* origin-form path[?query] */
    const struct gw_hp_field *fields; size_t nfields;
    const struct gw_conn_tokens *conn;
    bool peer_trusted;          /* the socket peer is a trusted proxy */
    const char *peer_ip;        /* socket peer address as text */
    const char *host; size_t host_len;           /* the request's host (Host or absolute URI) */
    const char *proto;          /* "http" or "https" as seen by onegate */
    const char *server_name;    /* for Via */
    const char *request_id;
    const char *host_rewrite;   /* NULL: Host preserved */
    enum gw_body_kind body;
    uint64_t content_length;
    bool upgrade_websocket;     /* forward Upgrade: websocket + Connection: upgrade */
    gw_hdr_drop_fn *drop;       /* optional: identity headers removed by the seam */
    void *drop_arg;
    const char *extra;          /* optional "Name: value\r\n"... added by the seam */
};

/* Appends the complete upstream request head (request line, filtered fields, Host,
 * X-Forwarded-For/-Proto/-Host, Forwarded, Via, X-Request-Id, framing, final CRLF) to <out>.
 * Hop-by-hop fields, names listed in Connection, Expect, and client-sent forwarding fields
 * from untrusted peers are dropped. */
void gw_headers_build_upstream(struct gw_sbuf *out, const struct gw_fwd_req *in);

struct gw_fwd_resp {
    int status;
    const char *reason; size_t reason_len;       /* from the upstream status line */
    const struct gw_hp_field *fields; size_t nfields;
    const struct gw_conn_tokens *conn;
    const char *server_name;
    const char *request_id;
    enum gw_body_kind body;     /* framing sent to the client */
    uint64_t content_length;
    bool keep_alive;            /* false: send Connection: close */
    bool client_http10;         /* the client spoke HTTP/1.0 (keep-alive must be explicit) */
    bool upgrade;               /* a 101 being passed on: keep Upgrade, Connection: upgrade */
};
/* Appends the complete head sent to the client. */
void gw_headers_build_response(struct gw_sbuf *out, const struct gw_fwd_resp *in);

/* The client address after trusted-proxy processing: with a trusted peer and an
 * X-Forwarded-For field, the rightmost address in it that is not itself trusted (<is_trusted>
 * decides; NULL = none trusted); else <peer_ip>. Writes a NUL-terminated string to out. */
typedef bool gw_ip_trusted_fn(const char *ip, void *arg);
void gw_fwd_client_ip(const struct gw_hp_field *f, size_t n, bool peer_trusted,
                      const char *peer_ip, gw_ip_trusted_fn *is_trusted, void *arg,
                      char *out, size_t outlen);

/* True when <id> is acceptable as a forwarded X-Request-Id: 1..64 of [A-Za-z0-9._-]. */
bool gw_request_id_valid(const char *id, size_t len);

/* Reason phrase for a status code onegate sends itself. */
const char *gw_status_reason(int status);

#endif
