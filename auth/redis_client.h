/* auth/redis_client.h — the only module that touches hiredis.
 *
 * Synchronous part: a blocking redisContext with connect and command deadlines, used by
 * onegatectl and by work-pool threads (each thread owns one auth_redis; an auth_redis is not
 * thread-safe). The event-loop side (pipelined, deadlines, reconnect, pub/sub) is
 * auth/redis_async.h, the only other file that touches hiredis; it shares the reply accessors
 * and script objects below.
 *
 * Errors: functions return 0 or a negative AUTH_REDIS_E* value and write a human sentence to
 * the caller's <err> buffer (never containing command arguments: they may carry secrets).
 */
#ifndef ONEGATE_AUTH_REDIS_CLIENT_H
#define ONEGATE_AUTH_REDIS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_REDIS_PREFIX_MAX 32
#define AUTH_REDIS_DEFAULT_PREFIX "og:"

enum auth_redis_err {
    AUTH_REDIS_OK = 0,
    AUTH_REDIS_EINVAL = -1,     /* bad options */
    AUTH_REDIS_ECONNECT = -2,   /* could not connect (or reconnect) within the deadline */
    AUTH_REDIS_EIO = -3,        /* connection lost or command deadline passed; the command's
                                 * effect is unknown; the next call reconnects */
    AUTH_REDIS_EREPLY = -4,     /* the server answered with an error reply (text in err) */
    AUTH_REDIS_ENOMEM = -5,
};

struct auth_redis_opts {
    const char *host;           /* default "127.0.0.1" */
    int port;                   /* default 6379 */
    uint32_t connect_timeout_ms;/* default 500 */
    uint32_t timeout_ms;        /* per command; default 500 */
    const char *key_prefix;     /* default "og:"; must not contain '{' or '}' */
};

struct auth_redis;

/* An opaque reply; borrowed views through the accessors below. Free the top-level reply
 * with auth_reply_free; elements belong to their parent. */
struct auth_reply;

enum auth_reply_type {
    AUTH_REPLY_STRING = 1, AUTH_REPLY_ARRAY = 2, AUTH_REPLY_INTEGER = 3,
    AUTH_REPLY_NIL = 4, AUTH_REPLY_STATUS = 5, AUTH_REPLY_ERROR = 6,
};

/* Connects to Redis. Returns 0 and a new client in <out> (free with auth_redis_free), or
 * AUTH_REDIS_EINVAL / AUTH_REDIS_ECONNECT / AUTH_REDIS_ENOMEM with <err> filled. */
int auth_redis_open(const struct auth_redis_opts *opts, struct auth_redis **out,
                    char *err, size_t errlen);
void auth_redis_free(struct auth_redis *r);

/* The configured key prefix ("og:"); borrowed, lives as long as <r>. */
const char *auth_redis_prefix(const struct auth_redis *r);

/* Builds "<prefix><formatted>" into a new string (caller frees), or NULL on ENOMEM. */
char *auth_redis_key(const struct auth_redis *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Runs one command given as an argument vector (binary-safe). On success returns 0 and the
 * reply in <*reply> (caller frees). A server error reply returns AUTH_REDIS_EREPLY with the
 * server's message in <err> and *reply NULL. A broken connection returns AUTH_REDIS_EIO; the
 * next call reconnects once before sending. */
int auth_redis_cmd_argv(struct auth_redis *r, int argc, const char **argv, const size_t *lens,
                        struct auth_reply **reply, char *err, size_t errlen);

/* Convenience: NULL-terminated list of C strings as the argument vector. */
int auth_redis_cmd(struct auth_redis *r, struct auth_reply **reply, char *err, size_t errlen,
                   const char *arg0, ...) __attribute__((sentinel));

/* Pipelining: queue commands with append, then read exactly as many replies with get_reply
 * (in order). Errors from get_reply are as for auth_redis_cmd_argv. */
int auth_redis_append_argv(struct auth_redis *r, int argc, const char **argv,
                           const size_t *lens, char *err, size_t errlen);
int auth_redis_get_reply(struct auth_redis *r, struct auth_reply **reply,
                         char *err, size_t errlen);

/* A Lua script known by its source; its SHA1 is computed locally once. */
struct auth_redis_script {
    const char *name;           /* for error messages */
    const char *src;
    char sha[41];               /* filled lazily by auth_redis_eval */
};

/* EVALSHA with fallback to EVAL when the server's script cache lacks it (NOSCRIPT: the script
 * did not run, so the retry is safe). Keys and args are binary-safe (<arglens> may be NULL
 * for C strings). Returns as auth_redis_cmd_argv. */
int auth_redis_eval(struct auth_redis *r, struct auth_redis_script *s,
                    int nkeys, const char **keys, int nargs, const char **args,
                    const size_t *arglens, struct auth_reply **reply, char *err, size_t errlen);

/* ---- reply accessors (all borrowed views) ---- */
void auth_reply_free(struct auth_reply *rep);
enum auth_reply_type auth_reply_type(const struct auth_reply *rep);
long long auth_reply_int(const struct auth_reply *rep);
/* String/status/error payload and its length, or NULL for other types. */
const char *auth_reply_str(const struct auth_reply *rep, size_t *len);
size_t auth_reply_len(const struct auth_reply *rep);             /* array elements */
const struct auth_reply *auth_reply_elem(const struct auth_reply *rep, size_t i);
/* New NUL-terminated copy of a string element (caller frees), or NULL if not a string. */
char *auth_reply_strdup(const struct auth_reply *rep);

#endif
