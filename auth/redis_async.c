/* auth/redis_async.c — asynchronous hiredis on libevent: the per-worker command connection
 * (deadlines, reconnect with backoff, NOSCRIPT fallback, cancellation) and the events
 * subscriber. See redis_async.h for the guarantees.
 *
 * hiredis 0.14 frees a context by itself when the connect fails or the connection drops
 * (after giving every pending callback a NULL reply). So: ac->data points at our conn and is
 * cleared before any context goes away; every pending call's privdata is a struct
 * auth_redis_call that outlives the user's interest in it (cancel and timeout only clear its
 * callback) and is freed exactly when hiredis hands it back. */
#include "auth/redis_async.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>
#include <openssl/evp.h>

/* ---- managed connection (shared by the command client and the subscriber) ---- */

struct conn {
    struct event_base *base;
    redisAsyncContext *ac;      /* NULL while down (waiting for the retry timer) */
    bool up;                    /* connect callback said OK */
    bool freeing;
    char *host;
    int port;
    struct timeval connect_tv;
    uint32_t backoff_ms, min_ms, max_ms;
    struct event *retry_ev;
    struct event *connect_ev;
    void (*on_up)(struct conn *c);
    void (*on_down)(struct conn *c);
    void *owner;
    uint64_t connects, connect_failures;
};

static struct timeval ms_tv(uint32_t ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    return tv;
}

static void conn_start(struct conn *c);

static void conn_schedule_retry(struct conn *c)
{
    if (c->freeing)
        return;
    struct timeval tv = ms_tv(c->backoff_ms);
    evtimer_add(c->retry_ev, &tv);
    c->backoff_ms = c->backoff_ms * 2 > c->max_ms ? c->max_ms : c->backoff_ms * 2;
}

static void conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    conn_start(arg);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct conn *c = ac->data;
    if (!c)
        return;
    evtimer_del(c->connect_ev);
    if (status != REDIS_OK) {
        /* hiredis frees <ac> right after this callback. */
        ac->data = NULL;
        c->ac = NULL;
        c->connect_failures++;
        conn_schedule_retry(c);
        return;
    }
    c->up = true;
    c->connects++;
    c->backoff_ms = c->min_ms;
    if (c->on_up)
        c->on_up(c);
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct conn *c = ac->data;
    if (!c)
        return;
    /* hiredis frees <ac> after this callback: forget it first. */
    ac->data = NULL;
    c->ac = NULL;
    c->up = false;
    if (c->on_down)
        c->on_down(c);
    conn_schedule_retry(c);
}

/* The connect did not finish within connect_timeout_ms (blackholed address, stopped server):
 * drop the context (pending calls get a NULL reply) and retry later. */
static void conn_connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    redisAsyncContext *ac = c->ac;
    if (!ac || c->up)
        return;
    ac->data = NULL;
    c->ac = NULL;
    c->connect_failures++;
    redisAsyncFree(ac);
    conn_schedule_retry(c);
}

static void conn_start(struct conn *c)
{
    if (c->freeing || c->ac)
        return;
    redisAsyncContext *ac = redisAsyncConnect(c->host, c->port);
    if (!ac) {
        c->connect_failures++;
        conn_schedule_retry(c);
        return;
    }
    if (ac->err) {
        redisAsyncFree(ac);
        c->connect_failures++;
        conn_schedule_retry(c);
        return;
    }
    if (redisLibeventAttach(ac, c->base) != REDIS_OK) {
        redisAsyncFree(ac);
        c->connect_failures++;
        conn_schedule_retry(c);
        return;
    }
    ac->data = c;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    c->up = false;
    evtimer_add(c->connect_ev, &c->connect_tv);
}

static int conn_init(struct conn *c, struct event_base *base, const struct auth_redis_async_opts *o,
                     char *err, size_t errlen)
{
    if (o->port < 0 || o->port > 65535) {
        snprintf(err, errlen, "redis port %d out of range", o->port);
        return AUTH_REDIS_EINVAL;
    }
    c->base = base;
    c->host = strdup(o->host ? o->host : "127.0.0.1");
    c->port = o->port ? o->port : 6379;
    c->connect_tv = ms_tv(o->connect_timeout_ms ? o->connect_timeout_ms : 500);
    c->min_ms = o->reconnect_min_ms ? o->reconnect_min_ms : 50;
    c->max_ms = o->reconnect_max_ms ? o->reconnect_max_ms : 2000;
    if (c->max_ms < c->min_ms)
        c->max_ms = c->min_ms;
    c->backoff_ms = c->min_ms;
    c->retry_ev = evtimer_new(base, conn_retry_cb, c);
    c->connect_ev = evtimer_new(base, conn_connect_timeout_cb, c);
    if (!c->host || !c->retry_ev || !c->connect_ev) {
        snprintf(err, errlen, "out of memory");
        return AUTH_REDIS_ENOMEM;
    }
    return 0;
}

/* Closes the connection (pending callbacks run now with a NULL reply) and frees timers. */
static void conn_fini(struct conn *c)
{
    c->freeing = true;
    if (c->retry_ev)
        event_free(c->retry_ev);
    if (c->connect_ev)
        event_free(c->connect_ev);
    c->retry_ev = c->connect_ev = NULL;
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    c->up = false;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    free(c->host);
    c->host = NULL;
}

/* ---- command client ---- */

struct auth_redis_async {
    struct conn conn;
    const struct timeval *cmd_tv;       /* libevent common timeout */
    char prefix[AUTH_REDIS_PREFIX_MAX + 1];
    size_t pending, max_pending;
    struct auth_redis_async_stats st;
    void *ext;                          /* companion object (auth_redis_async_set_ext) */
    void (*ext_free)(void *);
    struct auth_redis_call *spare;      /* finished calls kept for reuse (no malloc per call) */
    size_t nspare;
};

#define SPARE_CALLS_MAX 256

struct auth_redis_call {
    struct auth_redis_async *a;
    auth_redis_async_cb *cb;            /* NULL once delivered, timed out or cancelled */
    void *arg;
    /* for the NOSCRIPT fallback: the EVALSHA argv (own copy) */
    struct auth_redis_script *script;
    int argc;
    const char **argv;
    size_t *lens;
    struct auth_redis_call *next_spare;
    /* followed by the deadline timer (struct event, event_get_struct_event_size() bytes) */
    _Alignas(max_align_t) unsigned char timer[];
};

static struct event *call_timer(struct auth_redis_call *c)
{
    return (struct event *)c->timer;
}

static void call_deliver(struct auth_redis_call *c, int rc, const redisReply *rep,
                         const char *msg)
{
    auth_redis_async_cb *cb = c->cb;
    if (!cb)
        return;
    c->cb = NULL;
    event_del(call_timer(c));
    cb(rc, (const struct auth_reply *)rep, msg, c->arg);
}

/* Ends <c>: back on its client's spare list, or freed. */
static void call_free(struct auth_redis_call *c)
{
    struct auth_redis_async *a = c->a;
    event_del(call_timer(c));
    free(c->argv);      /* one block with lens and the strings */
    c->argv = NULL;
    if (a->nspare < SPARE_CALLS_MAX && !a->conn.freeing) {
        c->next_spare = a->spare;
        a->spare = c;
        a->nspare++;
        return;
    }
    free(c);
}

static void call_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct auth_redis_call *c = arg;
    c->a->st.timeouts++;
    /* hiredis still holds <c>; it is freed when the reply (or NULL) comes. */
    call_deliver(c, AUTH_REDIS_ETIMEDOUT, NULL, "redis: no reply within the command timeout");
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct auth_redis_call *c = privdata;
    struct auth_redis_async *a = c->a;
    redisReply *rep = r;
    if (rep && rep->type == REDIS_REPLY_ERROR && c->script && c->cb &&
        strncmp(rep->str, "NOSCRIPT", 8) == 0 && !a->conn.freeing && a->conn.ac == ac) {
        /* The script did not run: send it whole. Keep the deadline running. */
        c->argv[0] = "EVAL";
        c->lens[0] = 4;
        c->argv[1] = c->script->src;
        c->lens[1] = strlen(c->script->src);
        c->script = NULL;
        if (redisAsyncCommandArgv(ac, on_reply, c, c->argc, c->argv, c->lens) == REDIS_OK)
            return;
    }
    a->pending--;
    if (!rep) {
        if (a->conn.freeing) {
            call_deliver(c, AUTH_REDIS_ECANCELED, NULL, "redis: client closed");
        } else {
            a->st.io_errors++;
            call_deliver(c, AUTH_REDIS_EIO, NULL, "redis: connection lost");
        }
    } else if (rep->type == REDIS_REPLY_ERROR) {
        a->st.replies++;
        call_deliver(c, AUTH_REDIS_EREPLY, NULL, rep->str ? rep->str : "ERR");
    } else {
        a->st.replies++;
        call_deliver(c, 0, rep, "");
    }
    call_free(c);
}

static void on_cmd_down(struct conn *conn)
{
    /* Pending calls already got their NULL replies from hiredis before this. */
}

int auth_redis_async_new(struct event_base *base, const struct auth_redis_async_opts *opts,
                         struct auth_redis_async **out, char *err, size_t errlen)
{
    *out = NULL;
    struct auth_redis_async_opts none = { 0 };
    const struct auth_redis_async_opts *o = opts ? opts : &none;
    const char *prefix = o->key_prefix ? o->key_prefix : AUTH_REDIS_DEFAULT_PREFIX;
    if (strlen(prefix) > AUTH_REDIS_PREFIX_MAX || strpbrk(prefix, "{} \r\n")) {
        snprintf(err, errlen, "redis key_prefix must be at most %d characters without braces "
                 "or whitespace", AUTH_REDIS_PREFIX_MAX);
        return AUTH_REDIS_EINVAL;
    }
    struct auth_redis_async *a = calloc(1, sizeof(*a));
    if (!a)
        return AUTH_REDIS_ENOMEM;
    snprintf(a->prefix, sizeof(a->prefix), "%s", prefix);
    a->max_pending = o->max_pending ? o->max_pending : 65536;
    struct timeval tv = ms_tv(o->timeout_ms ? o->timeout_ms : 500);
    a->cmd_tv = event_base_init_common_timeout(base, &tv);
    if (!a->cmd_tv) {
        free(a);
        return AUTH_REDIS_ENOMEM;
    }
    int rc = conn_init(&a->conn, base, o, err, errlen);
    if (rc) {
        conn_fini(&a->conn);
        free(a);
        return rc;
    }
    a->conn.owner = a;
    a->conn.on_down = on_cmd_down;
    conn_start(&a->conn);
    *out = a;
    return 0;
}

void auth_redis_async_free(struct auth_redis_async *a)
{
    if (!a)
        return;
    conn_fini(&a->conn);
    while (a->spare) {
        struct auth_redis_call *c = a->spare;
        a->spare = c->next_spare;
        free(c);
    }
    if (a->ext && a->ext_free)
        a->ext_free(a->ext);        /* after the pending calls were failed */
    free(a);
}

void *auth_redis_async_ext(const struct auth_redis_async *a)
{
    return a->ext;
}

void auth_redis_async_set_ext(struct auth_redis_async *a, void *ext, void (*ext_free)(void *))
{
    a->ext = ext;
    a->ext_free = ext_free;
}

const char *auth_redis_async_prefix(const struct auth_redis_async *a)
{
    return a->prefix;
}

bool auth_redis_async_connected(const struct auth_redis_async *a)
{
    return a->conn.up;
}

size_t auth_redis_async_pending(const struct auth_redis_async *a)
{
    return a->pending;
}

void auth_redis_async_get_stats(const struct auth_redis_async *a,
                                struct auth_redis_async_stats *out)
{
    *out = a->st;
    out->connects = a->conn.connects;
    out->connect_failures = a->conn.connect_failures;
}

static struct auth_redis_call *call_new(struct auth_redis_async *a, auth_redis_async_cb *cb,
                                        void *arg)
{
    struct auth_redis_call *c = a->spare;
    if (c) {
        a->spare = c->next_spare;
        a->nspare--;
        memset(c, 0, sizeof(*c));
    } else {
        c = calloc(1, sizeof(*c) + event_get_struct_event_size());
        if (!c)
            return NULL;
    }
    c->a = a;
    c->cb = cb;
    c->arg = arg;
    event_assign(call_timer(c), a->conn.base, -1, 0, call_timeout_cb, c);
    return c;
}

/* <c> was handed to hiredis: counts it and arms its deadline. */
static void call_sent(struct auth_redis_async *a, struct auth_redis_call *c)
{
    a->pending++;
    a->st.commands++;
    event_add(call_timer(c), a->cmd_tv);
}

/* Hands <c> with <argv> to hiredis and arms the deadline. Frees <c> on failure. */
static int call_send(struct auth_redis_async *a, struct auth_redis_call *c, int argc,
                     const char **argv, const size_t *lens)
{
    if (redisAsyncCommandArgv(a->conn.ac, on_reply, c, argc, argv, lens) != REDIS_OK) {
        call_free(c);
        return AUTH_REDIS_ENOMEM;
    }
    call_sent(a, c);
    return 0;
}

static int submit_check(struct auth_redis_async *a)
{
    if (!a->conn.ac || a->conn.freeing)
        return AUTH_REDIS_ECONNECT;
    if (a->pending >= a->max_pending)
        return AUTH_REDIS_EBUSY;
    return 0;
}

int auth_redis_async_cmd_argv(struct auth_redis_async *a, int argc, const char **argv,
                              const size_t *lens, auth_redis_async_cb *cb, void *arg,
                              struct auth_redis_call **call)
{
    if (call)
        *call = NULL;
    int rc = submit_check(a);
    if (rc)
        return rc;
    struct auth_redis_call *c = call_new(a, cb, arg);
    if (!c)
        return AUTH_REDIS_ENOMEM;
    rc = call_send(a, c, argc, argv, lens);
    if (rc == 0 && call)
        *call = c;
    return rc;
}

int auth_redis_async_cmd_resp(struct auth_redis_async *a, const char *cmd, size_t len,
                              auth_redis_async_cb *cb, void *arg, struct auth_redis_call **call)
{
    if (call)
        *call = NULL;
    int rc = submit_check(a);
    if (rc)
        return rc;
    struct auth_redis_call *c = call_new(a, cb, arg);
    if (!c)
        return AUTH_REDIS_ENOMEM;
    if (redisAsyncFormattedCommand(a->conn.ac, on_reply, c, cmd, len) != REDIS_OK) {
        call_free(c);
        return AUTH_REDIS_ENOMEM;
    }
    call_sent(a, c);
    if (call)
        *call = c;
    return 0;
}

void auth_redis_script_sha(struct auth_redis_script *s)
{
    if (s->sha[0])
        return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(s->src, strlen(s->src), md, &mdlen, EVP_sha1(), NULL);
    for (unsigned i = 0; i < mdlen && i < 20; i++)
        sprintf(s->sha + 2 * i, "%02x", md[i]);
}

int auth_redis_async_eval(struct auth_redis_async *a, struct auth_redis_script *s,
                          int nkeys, const char **keys, int nargs, const char **args,
                          const size_t *arglens, auth_redis_async_cb *cb, void *arg,
                          struct auth_redis_call **call)
{
    if (call)
        *call = NULL;
    int rc = submit_check(a);
    if (rc)
        return rc;
    auth_redis_script_sha(s);
    char nk[16];
    int nklen = snprintf(nk, sizeof(nk), "%d", nkeys);
    int argc = 3 + nkeys + nargs;
    /* One block: argv pointers, lens, then the copied strings (the fallback needs them). */
    size_t bytes = (size_t)nklen + 1;
    for (int i = 0; i < nkeys; i++)
        bytes += strlen(keys[i]) + 1;
    for (int i = 0; i < nargs; i++)
        bytes += (arglens ? arglens[i] : strlen(args[i])) + 1;
    struct auth_redis_call *c = call_new(a, cb, arg);
    char *blk = c ? malloc(argc * (sizeof(char *) + sizeof(size_t)) + bytes) : NULL;
    if (!blk) {
        free(c);
        return AUTH_REDIS_ENOMEM;
    }
    c->argv = (const char **)blk;
    c->lens = (size_t *)(blk + argc * sizeof(char *));
    char *p = blk + argc * (sizeof(char *) + sizeof(size_t));
    c->argc = argc;
    c->script = s;
    c->argv[0] = "EVALSHA";
    c->lens[0] = 7;
    c->argv[1] = s->sha;
    c->lens[1] = 40;
    memcpy(p, nk, (size_t)nklen + 1);
    c->argv[2] = p;
    c->lens[2] = (size_t)nklen;
    p += nklen + 1;
    for (int i = 0; i < nkeys + nargs; i++) {
        const char *src = i < nkeys ? keys[i] : args[i - nkeys];
        size_t len = i < nkeys ? strlen(src) : (arglens ? arglens[i - nkeys] : strlen(src));
        memcpy(p, src, len);
        p[len] = 0;
        c->argv[3 + i] = p;
        c->lens[3 + i] = len;
        p += len + 1;
    }
    rc = call_send(a, c, argc, c->argv, c->lens);
    if (rc == 0 && call)
        *call = c;
    return rc;
}

void auth_redis_call_cancel(struct auth_redis_call *call)
{
    if (!call)
        return;
    call->cb = NULL;
    event_del(call_timer(call));
}

/* ---- subscriber ---- */

struct auth_redis_sub {
    struct conn conn;
    char *channel;
    auth_redis_sub_cb *cb;
    void *arg;
    bool active;
};

static void on_sub_msg(redisAsyncContext *ac, void *r, void *privdata)
{
    struct auth_redis_sub *s = privdata;
    redisReply *rep = r;
    if (!rep) {
        s->active = false;
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = rep->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        s->active = true;
        s->cb(NULL, 0, s->arg);
    } else if (strcmp(kind, "message") == 0 && rep->element[2]->type == REDIS_REPLY_STRING) {
        s->cb(rep->element[2]->str, rep->element[2]->len, s->arg);
    }
}

static void on_sub_up(struct conn *conn)
{
    struct auth_redis_sub *s = conn->owner;
    const char *argv[2] = { "SUBSCRIBE", s->channel };
    if (redisAsyncCommandArgv(conn->ac, on_sub_msg, s, 2, argv, NULL) != REDIS_OK)
        redisAsyncDisconnect(conn->ac);     /* retried through on_disconnect */
}

static void on_sub_down(struct conn *conn)
{
    struct auth_redis_sub *s = conn->owner;
    s->active = false;
}

int auth_redis_sub_new(struct event_base *base, const struct auth_redis_async_opts *opts,
                       const char *channel, auth_redis_sub_cb *cb, void *arg,
                       struct auth_redis_sub **out, char *err, size_t errlen)
{
    *out = NULL;
    struct auth_redis_async_opts none = { 0 };
    struct auth_redis_sub *s = calloc(1, sizeof(*s));
    if (!s)
        return AUTH_REDIS_ENOMEM;
    s->channel = strdup(channel);
    s->cb = cb;
    s->arg = arg;
    int rc = s->channel ? conn_init(&s->conn, base, opts ? opts : &none, err, errlen)
                        : AUTH_REDIS_ENOMEM;
    if (rc) {
        auth_redis_sub_free(s);
        return rc;
    }
    s->conn.owner = s;
    s->conn.on_up = on_sub_up;
    s->conn.on_down = on_sub_down;
    conn_start(&s->conn);
    *out = s;
    return 0;
}

void auth_redis_sub_free(struct auth_redis_sub *s)
{
    if (!s)
        return;
    conn_fini(&s->conn);
    free(s->channel);
    free(s);
}

bool auth_redis_sub_active(const struct auth_redis_sub *s)
{
    return s->active;
}
