/* gateway/http/request.h — the engine's internal view of a client connection and of the one
 * request it is serving (struct gw_req is opaque to endpoints; see endpoints/endpoint.h).
 *
 * The way of one request (request.c):
 *   conn.c reads the head -> gw_request_start(): strict checks, parse, request id, client ip
 *   -> route: built-in endpoints, registered endpoints, then the route table
 *   -> [seam for issue 4: identify + decide, asynchronous] -> proxy.c or an endpoint handler
 *   -> gw_request_finish(): access log, metrics, back to conn.c for the next request.
 */
#ifndef ONEGATE_GATEWAY_HTTP_REQUEST_H
#define ONEGATE_GATEWAY_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "gateway/worker.h"
#include "gateway/endpoints/endpoint.h"
#include "gateway/http/headers.h"
#include "gateway/http/http_parse.h"
#include "gateway/http/io.h"
#include "gateway/http/upstream_pool.h"

enum gw_conn_state {
    GW_C_IDLE,          /* between requests, nothing buffered */
    GW_C_HEAD,          /* part of a head has arrived */
    GW_C_REQ,           /* a request is being served */
    GW_C_TUNNEL,        /* upgraded (WebSocket): bytes relayed both ways */
    GW_C_CLOSING,       /* flushing the last response, then close */
};

struct gw_conn {
    struct gw_worker *w;
    struct gw_io io;
    struct event tmo;
    struct sockaddr_storage peer;
    socklen_t peerlen;
    char peer_ip[INET6_ADDRSTRLEN];
    enum gw_conn_state state;
    size_t scan_pos;                /* head search resumes here */
    uint64_t head_deadline_us;      /* whole-head deadline (not reset per read) */
    struct gw_req *req;
    unsigned nrequests;
    bool client_eof;
    bool close_after;               /* Connection: close on the current response */
    int busy;                       /* >0 while inside one of our callbacks */
    bool dead;                      /* closed; free when busy drops to 0 */
    bool reprocess;                 /* a request finished inside a callback: look for the next */
    struct gw_conn *prev, *next;
};

enum gw_req_kind { GW_REQ_ERROR, GW_REQ_LOCAL, GW_REQ_PROXY };

enum gw_px_phase {
    GW_PX_NONE,
    GW_PX_WAIT_CONN,        /* connecting or queued */
    GW_PX_SENDING,          /* head (and body) going upstream, waiting for the response */
    GW_PX_RESP_BODY,        /* response head sent to the client, body streaming */
    GW_PX_TUNNEL,
    GW_PX_DONE,
};

#define GW_IDENT_SPACE 320           /* bytes of struct gw_ident (gateway/identify.c) */

struct gw_req {
    struct gw_conn *conn;           /* NULL once the client is gone (orphaned) */
    struct gw_worker *w;
    struct gw_wconf *wc;            /* reference held for the request's life */
    enum gw_req_kind kind;
    uint64_t t_start_us;

    /* head (slices into head[], which this request owns) */
    char *head;
    size_t head_len;
    struct gw_hp_head h;
    struct gw_hp_field *fields;
    struct gw_conn_tokens conn_tokens;
    char method[24];
    char *path;                     /* NUL-terminated, no query */
    size_t path_len;
    char *query;                    /* NUL-terminated, without '?', or "" */
    const char *target;             /* origin-form target forwarded upstream */
    size_t target_len;
    const char *host;
    size_t host_len;
    int http_minor;
    bool keep_alive;                /* the client wants the connection kept */
    bool is_head;
    bool expect_continue;
    bool upgrade_ws;
    bool peer_trusted;
    char request_id[72];
    char client_ip[INET6_ADDRSTRLEN];

    /* request body as received from the client */
    enum gw_body_kind body;
    uint64_t body_remaining;        /* LENGTH: bytes still to come */
    uint64_t body_seen;             /* decoded body bytes so far */
    uint64_t max_body;              /* 0 = unlimited */
    struct gw_hp_chunked body_ch;
    bool body_done;

    /* identity seam (issue 4): set by the identify + decide stage before gw_proxy_start */
    gw_hdr_drop_fn *id_drop;        /* client-sent identity headers to remove, or NULL */
    void *id_drop_arg;
    char *id_extra;                 /* "Name: value\r\n"... to add (owned, freed with r), or NULL */

    /* routing */
    int route;                      /* index in cfg->routes, -1 none */
    uint16_t route_metric;
    size_t upstream;                /* index in cfg->upstreams when kind == PROXY */
    const struct gw_endpoint *ep;

    /* outcome */
    int status;
    uint64_t bytes_in, bytes_out;
    uint64_t up_start_us, up_us;
    bool up_used;
    bool responded;                 /* a response head has been queued to the client */

    /* identify + decide (gateway/identify.c), next to the engine's id_drop/id_extra */
    struct gw_ident *ident;         /* the stage's state while it waits for Redis: NULL or
                                     * ident_space */
    /* room for that state inside the request (no allocation per request); its size is
     * checked against struct gw_ident at compile time in identify.c */
    _Alignas(max_align_t) unsigned char ident_space[GW_IDENT_SPACE];
    bool id_person;                 /* allowed as a person: the client's Authorization is
                                     * not forwarded */

    /* local endpoints: the client address, kept for handlers that outlive the connection */
    struct sockaddr_storage peer;

    /* local endpoints: body collection */
    struct evbuffer *lbody;
    size_t lbody_max;
    gw_req_body_cb *lbody_cb;
    void *lbody_arg;
    bool lbody_reading;

    /* proxy state */
    enum gw_px_phase px;
    struct gw_upserver *srv;
    struct gw_upconn *uc;
    unsigned tries;
    bool retried_reuse;
    struct gw_req *wait_next;       /* server wait queue */
    bool queued;
    size_t resp_scan;
    enum gw_body_kind resp_in, resp_out;
    uint64_t resp_remaining;
    struct gw_hp_chunked resp_ch;
    bool resp_keep_upstream;        /* the upstream may be reused after this response */
    bool resp_done;
    bool resp_any_byte;             /* something came back from upstream */
    bool up_eof_seen;
    bool client_paused, upstream_paused;
    bool head_queued;               /* the upstream request head is in uc->io.out */
    bool px_tmo_on;
    struct event px_tmo;            /* wait-queue deadline */
};

/* ---- conn.c ---- */
/* Takes ownership of accepted <fd>. */
void gw_conn_accept(struct gw_worker *w, int fd, const struct sockaddr *sa, socklen_t salen);
/* Queues <data> for the client and writes what the socket takes now. Counts bytes_out. */
void gw_conn_send(struct gw_conn *c, const void *data, size_t len);
/* Writes what is queued; on a write error closes the connection. Returns 0 or -1 (closed). */
int gw_conn_flush(struct gw_conn *c);
/* The current request's response is completely queued. <keep> false: close afterwards. */
void gw_conn_request_done(struct gw_conn *c, bool keep);
/* Closes the client connection now (abort). Safe inside callbacks. */
void gw_conn_close(struct gw_conn *c);
/* Resumes/pauses reading the client (backpressure from the upstream side). */
void gw_conn_read_on(struct gw_conn *c, bool on);
/* Re-arms the connection timer for its current state. */
void gw_conn_arm_timer(struct gw_conn *c);
/* Closes every idle keep-alive connection and marks the rest to close (drain). */
void gw_conns_drain(struct gw_worker *w);
void gw_conns_close_all(struct gw_worker *w);

/* ---- request.c ---- */
/* A complete head of head_len bytes is at <p>. Creates c->req and serves it. */
void gw_request_start(struct gw_conn *c, const char *p, size_t head_len);
/* A head that failed before it was complete (status 400/414/431). */
void gw_request_reject_early(struct gw_conn *c, int status, const char *why);
/* Client sent more bytes while c->req is being served. */
void gw_request_client_data(struct gw_req *r);
/* The client connection is gone while <r> was being served. */
void gw_request_client_gone(struct gw_req *r);
/* Logs, counts, releases <r> (and its wconf reference). Does not touch the connection. */
void gw_request_free(struct gw_req *r);
void gw_request_log(struct gw_req *r);
/* Sends an error response for <r> (before any response head), then finishes it. */
void gw_request_error(struct gw_req *r, int status, const char *detail, bool keep);
/* Accept asked for JSON? */
bool gw_request_wants_json(const struct gw_req *r);

/* ---- proxy.c ---- */
void gw_proxy_start(struct gw_req *r);
void gw_proxy_client_data(struct gw_req *r);
void gw_proxy_client_drained(struct gw_req *r);
void gw_proxy_cancel(struct gw_req *r);
void gw_proxy_client_eof(struct gw_req *r);
/* From upstream_pool.c */
void gw_proxy_upstream_connected(struct gw_req *r, struct gw_upconn *uc);
void gw_proxy_upstream_failed(struct gw_req *r, int err);
void gw_proxy_upstream_granted(struct gw_req *r);
void gw_proxy_upstream_readable(struct gw_req *r);
void gw_proxy_upstream_writable(struct gw_req *r);
void gw_proxy_upstream_timeout(struct gw_req *r);

/* ---- local_req.c ---- */
void gw_local_client_data(struct gw_req *r);
/* Finds a handler for <path> among built-in and registered endpoints; NULL if none. */
const struct gw_endpoint *gw_endpoint_find(const struct gw_wconf *wc, const char *path,
                                           size_t len);

#endif
