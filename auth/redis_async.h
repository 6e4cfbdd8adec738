/* auth/redis_async.h — the event-loop side of the Redis client: one pipelined command
 * connection per worker event_base, and a subscriber connection for the events channel.
 * Together with redis_client.c this is the only code that touches hiredis; no hiredis type
 * appears here. Replies are the same opaque struct auth_reply as in redis_client.h.
 *
 * Everything about an auth_redis_async (or auth_redis_sub) happens on the thread that runs its
 * event_base: not thread-safe, no locks.
 *
 * Guarantees of a command call (auth_redis_async_cmd_argv / _eval):
 *  - it returns 0 and <cb> runs exactly once later (never from inside the submitting call),
 *    unless the caller cancels it first (auth_redis_call_cancel: then <cb> never runs); or it
 *    returns a negative AUTH_REDIS_E* at once and <cb> never runs;
 *  - if no reply arrived within the configured timeout, <cb> gets AUTH_REDIS_ETIMEDOUT (fail
 *    closed: the command's effect is unknown; a late reply is dropped);
 *  - a lost connection gives every pending call AUTH_REDIS_EIO, and the client reconnects by
 *    itself with exponential backoff; while it is down, new calls fail at once with
 *    AUTH_REDIS_ECONNECT (no queueing of work against a dead server);
 *  - freeing the client gives every pending call AUTH_REDIS_ECANCELED.
 */
#ifndef ONEGATE_AUTH_REDIS_ASYNC_H
#define ONEGATE_AUTH_REDIS_ASYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/redis_client.h"

struct event_base;

/* More codes next to enum auth_redis_err (redis_client.h), same convention. */
enum auth_redis_async_err {
    AUTH_REDIS_ETIMEDOUT = -10, /* no reply within timeout_ms; effect unknown */
    AUTH_REDIS_ECANCELED = -11, /* the client was freed with the call pending */
    AUTH_REDIS_EBUSY = -12,     /* max_pending calls already outstanding: shed load */
};

struct auth_redis_async_opts {
    const char *host;           /* default "127.0.0.1" */
    int port;                   /* default 6379 */
    uint32_t connect_timeout_ms;/* default 500 */
    uint32_t timeout_ms;        /* per command; default 500 */
    const char *key_prefix;     /* default "og:"; as for auth_redis_open */
    uint32_t reconnect_min_ms;  /* first retry delay after a failure; default 50 */
    uint32_t reconnect_max_ms;  /* backoff cap; default 2000 */
    size_t max_pending;         /* outstanding calls cap; default 65536 */
};

struct auth_redis_async;
/* A pending call, for cancellation only. Valid from a successful submit until its callback
 * has started running or it was cancelled, whichever comes first. */
struct auth_redis_call;

/* <reply> is borrowed and valid only during the callback (NULL unless rc == 0). On
 * AUTH_REDIS_EREPLY, <msg> holds the server's error text; for other errors a short sentence.
 * <msg> is never NULL. */
typedef void auth_redis_async_cb(int rc, const struct auth_reply *reply, const char *msg,
                                 void *arg);

/* Creates the client and starts connecting (non-blocking; commands may be submitted at once,
 * they are sent when the connection is up). Returns 0, AUTH_REDIS_EINVAL or
 * AUTH_REDIS_ENOMEM with <err> filled. */
int auth_redis_async_new(struct event_base *base, const struct auth_redis_async_opts *opts,
                         struct auth_redis_async **out, char *err, size_t errlen);
/* Fails every pending call with AUTH_REDIS_ECANCELED, closes the connection and frees. Not
 * from inside one of this client's callbacks. */
void auth_redis_async_free(struct auth_redis_async *a);

const char *auth_redis_async_prefix(const struct auth_redis_async *a);
/* True while a connection is established. */
bool auth_redis_async_connected(const struct auth_redis_async *a);
size_t auth_redis_async_pending(const struct auth_redis_async *a);

struct auth_redis_async_stats {
    uint64_t commands, replies, timeouts, io_errors, connects, connect_failures;
};
void auth_redis_async_get_stats(const struct auth_redis_async *a,
                                struct auth_redis_async_stats *out);

/* One companion object per client, owned by it from then on and freed (by <ext_free>) in
 * auth_redis_async_free after the pending calls were failed. The session touch keeps its
 * per-worker cache here (auth/session.c). Same thread as the client. */
void *auth_redis_async_ext(const struct auth_redis_async *a);
void auth_redis_async_set_ext(struct auth_redis_async *a, void *ext, void (*ext_free)(void *));

/* Sends one command (binary-safe argv, <lens> may be NULL for C strings); the arguments are
 * copied before returning. Pipelining is simply issuing several calls. <call> (may be NULL)
 * receives the handle for cancellation. Returns 0, AUTH_REDIS_ECONNECT (down),
 * AUTH_REDIS_EBUSY, AUTH_REDIS_ENOMEM. */
int auth_redis_async_cmd_argv(struct auth_redis_async *a, int argc, const char **argv,
                              const size_t *lens, auth_redis_async_cb *cb, void *arg,
                              struct auth_redis_call **call);

/* Sends one command given in its wire form (RESP: "*<n>\r\n$<len>\r\n<arg>\r\n..."), copied
 * before returning — for hot paths that build the command with memcpy instead of having it
 * formatted per call. The caller vouches for the encoding: a malformed one desynchronises
 * the connection. Returns as auth_redis_async_cmd_argv. */
int auth_redis_async_cmd_resp(struct auth_redis_async *a, const char *cmd, size_t len,
                              auth_redis_async_cb *cb, void *arg, struct auth_redis_call **call);

/* EVALSHA <s>, re-sent as EVAL when the server answers NOSCRIPT (the script did not run, so
 * the retry is safe). Keys are C strings; args binary-safe (<arglens> NULL = C strings).
 * Returns as auth_redis_async_cmd_argv. */
int auth_redis_async_eval(struct auth_redis_async *a, struct auth_redis_script *s,
                          int nkeys, const char **keys, int nargs, const char **args,
                          const size_t *arglens, auth_redis_async_cb *cb, void *arg,
                          struct auth_redis_call **call);

/* Fills <s>->sha (SHA1 of the source) if unset. The eval calls do it lazily; call this once
 * for static scripts before several threads use them, so that no two threads write it. */
void auth_redis_script_sha(struct auth_redis_script *s);

/* Marks a pending call abandoned: its callback will never run (the reply, when it comes, is
 * dropped). Use when the request that issued it goes away. */
void auth_redis_call_cancel(struct auth_redis_call *call);

/* ---- subscriber ---- */

struct auth_redis_sub;

/* A message on the channel: <msg,len> borrowed for the call. msg == NULL means "(re)subscribed
 * after a connection loss, messages may have been missed": drop whatever the messages keep
 * fresh (caches). It is also delivered once after the first SUBSCRIBE succeeds. */
typedef void auth_redis_sub_cb(const char *msg, size_t len, void *arg);

/* Subscribes to <channel> (full name, e.g. "og:events") on a connection of its own and keeps
 * it subscribed across reconnects. Returns 0, AUTH_REDIS_EINVAL, AUTH_REDIS_ENOMEM. */
int auth_redis_sub_new(struct event_base *base, const struct auth_redis_async_opts *opts,
                       const char *channel, auth_redis_sub_cb *cb, void *arg,
                       struct auth_redis_sub **out, char *err, size_t errlen);
void auth_redis_sub_free(struct auth_redis_sub *s);
/* True while subscribed. */
bool auth_redis_sub_active(const struct auth_redis_sub *s);

#endif
