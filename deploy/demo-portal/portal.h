/* portal.h — shared declarations of the demo portal, the tiny upstream behind onegate in the
 * quick start, the e2e tests and the benchmark (contract: DEMO-PORTAL.md, summarised in
 * deploy/demo-portal/README.md). main.c runs listeners and threads, http.c one HTTP/1.1
 * connection (bufferevent + http-parser), endpoints.c the endpoints, websocket.c the echo. */
#ifndef DEMO_PORTAL_H
#define DEMO_PORTAL_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <http_parser.h>
#include <openssl/evp.h>

/* Appends a string literal to an evbuffer. */
#define DP_ADD_LIT(buf, lit) evbuffer_add((buf), "" lit, sizeof(lit) - 1)

/* Limits of what one request may carry before the portal answers 431/414 and closes. */
#define DP_HEAD_MAX_BYTES (64 * 1024)
#define DP_URL_MAX_BYTES (8 * 1024)
/* Output backpressure: stop producing a streamed body above DP_OUT_HIGH bytes queued, resume
 * when the socket has drained it below DP_OUT_LOW. */
#define DP_OUT_HIGH (256 * 1024)
#define DP_OUT_LOW (64 * 1024)
/* Input is read at most this far ahead of the parser. */
#define DP_IN_HIGH (256 * 1024)

/* Process-wide settings from the command line; read-only once the loops run. */
struct dp_config {
    const char *title;     /* "Operator portal", "Self-Service Portal", ... */
    const char *other_url; /* link to the other portal on the HTML page, or NULL */
    int quiet;             /* no per-request log line on stderr */
    /* Token verification (jwks.c, jwt.c); off while jwks_url is NULL. */
    const char *jwks_url;  /* http://HOST:PORT/PATH of the issuer's JWKS */
    const char *audience;  /* required "aud" (string or array member) */
    const char *issuer;    /* required "iss", or NULL: not checked */
    const char *jwt_header; /* request header carrying "Bearer <jwt>" (Authorization) */
    int leeway_s;          /* clock skew allowed on exp/nbf */
    int jwks_min_refresh_s; /* an unknown kid re-fetches the JWKS at most this often */
};

/* One header of the current request: offsets into dp_request.arena, each NUL-terminated. */
struct dp_header {
    uint32_t name_off, name_len;
    uint32_t value_off, value_len;
};

enum dp_endpoint {
    DP_EP_PAGE = 0, DP_EP_ECHO, DP_EP_UPLOAD, DP_EP_DOWNLOAD, DP_EP_STREAM, DP_EP_NOLENGTH,
    DP_EP_SLOW, DP_EP_STATUS, DP_EP_BROKEN, DP_EP_WS, DP_EP_HEADERS,
};

/* The request being parsed; reset after each response is started. */
struct dp_request {
    char *arena; /* URL and header bytes, owned */
    size_t arena_len, arena_cap;
    uint32_t url_off, url_len;
    struct dp_header *headers; /* owned */
    size_t nheaders, headers_cap;
    int last_cb;           /* 0 none, 1 header field, 2 header value (http-parser splits) */
    size_t head_bytes;     /* bytes of URL + headers seen: the 431 limit */
    int head_error;        /* status to answer when a callback aborted the parse */
    char *path, *query;    /* NUL-terminated copies, owned; query "" when absent */
    enum dp_endpoint endpoint;
    int hash_body;         /* hash the body into sha (echo, upload, non-GET page) */
    EVP_MD_CTX *sha;       /* owned; reused across requests */
    uint64_t body_bytes;
};

enum dp_conn_state {
    DP_READING,    /* parsing requests; responses so far are complete */
    DP_RESPONDING, /* an asynchronous response (download, stream, slow) is being produced */
    DP_WEBSOCKET,  /* upgraded: input is WebSocket frames */
    DP_CLOSING,    /* everything written goes out, then the write side is shut */
    DP_LINGER,     /* write side shut; input discarded until EOF or a short timeout */
};

/* A body produced piece by piece under backpressure. */
struct dp_gen {
    int active;
    int chunked;      /* frame as chunked (else Content-Length or close-delimited) */
    char fill;        /* 0: byte i = i % 251; else this byte repeated */
    uint64_t left;    /* bytes still to produce */
    uint64_t offset;  /* bytes produced so far (pattern position) */
};

/* One client connection; owned by its worker's event loop, freed by dp_conn_free() only
 * from a top-level libevent callback. */
struct dp_conn {
    const struct dp_config *cfg;
    struct dp_conn **list;   /* the worker's list of open connections */
    struct dp_conn *prev, *next;
    struct bufferevent *bev; /* owns the socket */
    evutil_socket_t fd;
    struct evbuffer *wbuf;   /* response bytes not yet handed to the socket; owned */
    http_parser parser;
    uint64_t id;             /* per-process connection serial, from 1 */
    uint64_t requests;       /* requests started on this connection */
    enum dp_conn_state state;
    int keep_alive;          /* current request allows keep-alive */
    int write_failed;
    int peer_eof;            /* the client shut its write side */
    int in_process;          /* inside conn_process(): do not recurse into it */
    struct dp_request req;
    struct dp_gen gen;
    struct event *timer;     /* stream / slow; owned */
    int stream_left;         /* chunks still to send */
    size_t stream_size;
    int interval_ms;
    /* WebSocket */
    int ws_paused;           /* reading stopped because output is over DP_OUT_HIGH */
    /* Token verification waiting for a JWKS (re)fetch (jwt.c): the request is complete and
     * nothing was written yet; c->timer polls until the fetch ends or the deadline. */
    int jwt_parked;
    int jwt_waited;          /* already waited once: answer with what we have */
    uint64_t jwt_attempts;   /* dp_jwks_attempts() when parked */
    int64_t jwt_deadline_ms; /* monotonic */
};

/* http.c */
/* Takes ownership of the accepted socket <fd>; the connection joins <*list>. */
void dp_accept(struct event_base *base, evutil_socket_t fd, const struct dp_config *cfg,
               struct dp_conn **list);
/* Frees every connection of <*list> (at exit). */
void dp_conn_free_all(struct dp_conn **list);
/* Appends the status line and the headers every response carries (X-Demo-Portal, X-Demo-Conn,
 * Connection when needed) to c->wbuf. <extra> is raw header lines ("Name: v\r\n"...) or NULL;
 * <content_length> < 0 means none is written. Ends the head with an empty line. */
void dp_respond_head(struct dp_conn *c, int status, const char *content_type,
                     int64_t content_length, const char *extra);
/* A complete small response with a body (omitted for HEAD). */
void dp_respond(struct dp_conn *c, int status, const char *content_type, const char *extra,
                const void *body, size_t len);
/* Starts a generated body (after dp_respond_head); the connection becomes DP_RESPONDING. */
void dp_gen_start(struct dp_conn *c, uint64_t bytes, int chunked, char fill);
/* Marks the current asynchronous response as finished: keep-alive resumes reading,
 * otherwise the connection closes once written. */
void dp_response_done(struct dp_conn *c);
/* Hands c->wbuf to the socket: writes directly when nothing is queued, queues the rest. */
void dp_flush(struct dp_conn *c);
/* Writes c->wbuf, then closes the connection once it has gone out. */
void dp_close_after_write(struct dp_conn *c);
/* End of every top-level callback: flushes, and frees the connection if it is finished.
 * <c> may be freed on return. */
void dp_conn_settle(struct dp_conn *c);
/* Value of the first header named <name> (case-insensitive), or NULL. Borrowed. */
const char *dp_header_get(const struct dp_conn *c, const char *name);
const char *dp_status_reason(int status);
uint64_t dp_conn_next_id(void);

/* endpoints.c */
enum dp_endpoint dp_endpoint_classify(const char *path, enum http_method method);
/* Answers the request that has just completed (head and body read). */
void dp_endpoint_dispatch(struct dp_conn *c);
/* Integer query parameter <key> or <def> when absent or not a number. */
long long dp_query_int(const char *query, const char *key, long long def);

/* jwks.c — the issuer's keys, fetched by a background thread */
/* One verification key from the JWKS: the algorithm is the key's, never the token's. */
struct dp_key {
    char kid[128];
    char alg[8];             /* "ES256" or "RS256" */
    EVP_PKEY *pkey;          /* public key, owned */
};
/* An immutable set of keys, shared by the worker threads under a reference count. */
struct dp_keyset {
    int refs;                /* under the jwks.c lock */
    uint64_t generation;     /* 1 for the first successful fetch, +1 per later one */
    size_t nkeys;
    struct dp_key *keys;
};
/* Starts the fetcher thread (first fetch at once, retried until it succeeds, then every
 * 300 s and on request). Returns 0, or -1 with a message on stderr (bad URL, no thread). */
int dp_jwks_start(const struct dp_config *cfg);
/* Stops and joins the fetcher, frees the current set. Safe when never started. */
void dp_jwks_stop(void);
/* The current keys with a reference the caller drops with dp_keyset_unref, or NULL when no
 * fetch has succeeded yet. */
struct dp_keyset *dp_jwks_get(void);
void dp_keyset_unref(struct dp_keyset *ks);
/* The key named <kid> in <ks>, or NULL. Borrowed from <ks>. */
const struct dp_key *dp_keyset_find(const struct dp_keyset *ks, const char *kid);
/* Asks the fetcher for a new fetch (a token named an unknown kid). Honoured at most once per
 * cfg->jwks_min_refresh_s; returns 1 when a fetch is on its way, 0 when rate-limited. */
int dp_jwks_refresh(void);
/* Fetch attempts finished so far (successful or not): a parked request waits for a change. */
uint64_t dp_jwks_attempts(void);
/* Strict base64url (RFC 7515 §2: no padding, no whitespace, canonical trailing bits) of the
 * <n> characters at <s> into <out> (room for <cap> bytes). Returns the length or -1. */
long dp_b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap);
/* Monotonic milliseconds. */
int64_t dp_now_ms(void);

/* jwt.c — verification of the forwarded token */
enum dp_jwt_status {
    DP_JWT_NONE = 0,         /* no token in the request */
    DP_JWT_VERIFIED,
    DP_JWT_REJECTED,
    DP_JWT_WAIT,             /* park the request: the JWKS is being (re)fetched */
};
struct dp_jwt_result {
    enum dp_jwt_status status;
    char error[200];         /* DP_JWT_REJECTED: why (never token bytes) */
    struct json_t *claims;   /* DP_JWT_VERIFIED: the payload, a new reference */
};
/* Verifies the token of <c>'s current request (cfg->jwt_header, "Bearer" scheme).
 * Returns DP_JWT_WAIT only once per request (c->jwt_waited), after arranging the wait. */
void dp_jwt_check(struct dp_conn *c, struct dp_jwt_result *res);
void dp_jwt_result_clear(struct dp_jwt_result *res);
/* Frees this thread's cache of verified tokens (at thread exit). */
void dp_jwt_thread_cleanup(void);

/* websocket.c */
/* Validates the upgrade and answers 101 (then state DP_WEBSOCKET) or an error. */
void dp_ws_handshake(struct dp_conn *c);
/* Consumes complete frames from the bufferevent input and echoes them. */
void dp_ws_process(struct dp_conn *c);

#endif
