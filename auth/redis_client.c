/* auth/redis_client.c — blocking hiredis wrapper with deadlines, reconnect and a script cache.
 * Used off the event loops (onegatectl, work-pool threads); see redis_client.h. */
#include "auth/redis_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

struct auth_redis {
    redisContext *ctx;          /* NULL or broken (ctx->err) means: reconnect before use */
    char *host;
    int port;
    struct timeval connect_tv;
    struct timeval cmd_tv;
    char prefix[AUTH_REDIS_PREFIX_MAX + 1];
};

static struct timeval ms_to_tv(uint32_t ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    return tv;
}

/* (Re)connects <r>. Returns 0 or AUTH_REDIS_ECONNECT. */
static int reconnect(struct auth_redis *r, char *err, size_t errlen)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    redisContext *c = redisConnectWithTimeout(r->host, r->port, r->connect_tv);
    if (!c) {
        snprintf(err, errlen, "redis %s:%d: out of memory while connecting", r->host, r->port);
        return AUTH_REDIS_ECONNECT;
    }
    if (c->err) {
        snprintf(err, errlen, "redis %s:%d: cannot connect: %s", r->host, r->port, c->errstr);
        redisFree(c);
        return AUTH_REDIS_ECONNECT;
    }
    if (redisSetTimeout(c, r->cmd_tv) != REDIS_OK) {
        snprintf(err, errlen, "redis %s:%d: cannot set command timeout", r->host, r->port);
        redisFree(c);
        return AUTH_REDIS_ECONNECT;
    }
    redisEnableKeepAlive(c);
    r->ctx = c;
    return 0;
}

int auth_redis_open(const struct auth_redis_opts *opts, struct auth_redis **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    const char *prefix = opts->key_prefix ? opts->key_prefix : AUTH_REDIS_DEFAULT_PREFIX;
    if (strlen(prefix) > AUTH_REDIS_PREFIX_MAX || strpbrk(prefix, "{} \r\n")) {
        snprintf(err, errlen, "redis key_prefix must be at most %d characters without braces "
                 "or whitespace", AUTH_REDIS_PREFIX_MAX);
        return AUTH_REDIS_EINVAL;
    }
    if (opts->port < 0 || opts->port > 65535) {
        snprintf(err, errlen, "redis port %d out of range", opts->port);
        return AUTH_REDIS_EINVAL;
    }
    struct auth_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return AUTH_REDIS_ENOMEM;
    r->host = strdup(opts->host ? opts->host : "127.0.0.1");
    if (!r->host) {
        free(r);
        return AUTH_REDIS_ENOMEM;
    }
    r->port = opts->port ? opts->port : 6379;
    r->connect_tv = ms_to_tv(opts->connect_timeout_ms ? opts->connect_timeout_ms : 500);
    r->cmd_tv = ms_to_tv(opts->timeout_ms ? opts->timeout_ms : 500);
    snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
    int rc = reconnect(r, err, errlen);
    if (rc) {
        auth_redis_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void auth_redis_free(struct auth_redis *r)
{
    if (!r)
        return;
    if (r->ctx)
        redisFree(r->ctx);
    free(r->host);
    free(r);
}

const char *auth_redis_prefix(const struct auth_redis *r)
{
    return r->prefix;
}

char *auth_redis_key(const struct auth_redis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *tail = NULL;
    int n = vasprintf(&tail, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *key = NULL;
    if (asprintf(&key, "%s%s", r->prefix, tail) < 0)
        key = NULL;
    free(tail);
    return key;
}

static int ensure_connected(struct auth_redis *r, char *err, size_t errlen)
{
    if (r->ctx && !r->ctx->err)
        return 0;
    return reconnect(r, err, errlen);
}

/* Turns a hiredis reply (or its absence) into our return convention. Takes ownership of
 * <raw>. */
static int finish_reply(struct auth_redis *r, redisReply *raw, struct auth_reply **reply,
                        char *err, size_t errlen)
{
    *reply = NULL;
    if (!raw) {
        snprintf(err, errlen, "redis %s:%d: %s", r->host, r->port,
                 r->ctx && r->ctx->err ? r->ctx->errstr : "no reply");
        /* The context is unusable now; the next call reconnects. */
        if (r->ctx && !r->ctx->err)
            r->ctx->err = REDIS_ERR_IO;
        return AUTH_REDIS_EIO;
    }
    if (raw->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%.*s", (int)raw->len, raw->str);
        freeReplyObject(raw);
        return AUTH_REDIS_EREPLY;
    }
    *reply = (struct auth_reply *)raw;
    return 0;
}

int auth_redis_cmd_argv(struct auth_redis *r, int argc, const char **argv, const size_t *lens,
                        struct auth_reply **reply, char *err, size_t errlen)
{
    *reply = NULL;
    int rc = ensure_connected(r, err, errlen);
    if (rc)
        return rc;
    redisReply *raw = redisCommandArgv(r->ctx, argc, argv, lens);
    return finish_reply(r, raw, reply, err, errlen);
}

int auth_redis_cmd(struct auth_redis *r, struct auth_reply **reply, char *err, size_t errlen,
                   const char *arg0, ...)
{
    const char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
        if (argc == 64) {
            va_end(ap);
            snprintf(err, errlen, "too many command arguments");
            return AUTH_REDIS_EINVAL;
        }
        argv[argc++] = a;
    }
    va_end(ap);
    return auth_redis_cmd_argv(r, argc, argv, NULL, reply, err, errlen);
}

int auth_redis_append_argv(struct auth_redis *r, int argc, const char **argv,
                           const size_t *lens, char *err, size_t errlen)
{
    int rc = ensure_connected(r, err, errlen);
    if (rc)
        return rc;
    if (redisAppendCommandArgv(r->ctx, argc, argv, lens) != REDIS_OK) {
        snprintf(err, errlen, "redis: cannot queue command (out of memory)");
        return AUTH_REDIS_ENOMEM;
    }
    return 0;
}

int auth_redis_get_reply(struct auth_redis *r, struct auth_reply **reply,
                         char *err, size_t errlen)
{
    *reply = NULL;
    if (!r->ctx || r->ctx->err) {
        snprintf(err, errlen, "redis %s:%d: connection lost during a pipeline", r->host, r->port);
        return AUTH_REDIS_EIO;
    }
    void *raw = NULL;
    if (redisGetReply(r->ctx, &raw) != REDIS_OK)
        raw = NULL;
    return finish_reply(r, raw, reply, err, errlen);
}

static void script_sha(struct auth_redis_script *s)
{
    if (s->sha[0])
        return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(s->src, strlen(s->src), md, &mdlen, EVP_sha1(), NULL);
    for (unsigned i = 0; i < mdlen && i < 20; i++)
        sprintf(s->sha + 2 * i, "%02x", md[i]);
}

int auth_redis_eval(struct auth_redis *r, struct auth_redis_script *s,
                    int nkeys, const char **keys, int nargs, const char **args,
                    const size_t *arglens, struct auth_reply **reply, char *err, size_t errlen)
{
    *reply = NULL;
    script_sha(s);
    int argc = 3 + nkeys + nargs;
    const char **argv = malloc(sizeof(*argv) * argc);
    size_t *lens = malloc(sizeof(*lens) * argc);
    char nk[16];
    int rc = AUTH_REDIS_ENOMEM;
    if (!argv || !lens)
        goto out;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = s->sha;
    argv[2] = nk;
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    for (int i = 0; i < nkeys; i++) {
        argv[3 + i] = keys[i];
        lens[3 + i] = strlen(keys[i]);
    }
    for (int i = 0; i < nargs; i++) {
        argv[3 + nkeys + i] = args[i];
        lens[3 + nkeys + i] = arglens ? arglens[i] : strlen(args[i]);
    }
    rc = auth_redis_cmd_argv(r, argc, argv, lens, reply, err, errlen);
    if (rc == AUTH_REDIS_EREPLY && strncmp(err, "NOSCRIPT", 8) == 0) {
        argv[0] = "EVAL";
        argv[1] = s->src;
        lens[0] = 4;
        lens[1] = strlen(s->src);
        rc = auth_redis_cmd_argv(r, argc, argv, lens, reply, err, errlen);
    }
out:
    free(argv);
    free(lens);
    return rc;
}

void auth_reply_free(struct auth_reply *rep)
{
    if (rep)
        freeReplyObject((redisReply *)rep);
}

enum auth_reply_type auth_reply_type(const struct auth_reply *rep)
{
    return (enum auth_reply_type)((const redisReply *)rep)->type;
}

long long auth_reply_int(const struct auth_reply *rep)
{
    return ((const redisReply *)rep)->integer;
}

const char *auth_reply_str(const struct auth_reply *rep, size_t *len)
{
    const redisReply *r = (const redisReply *)rep;
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS &&
        r->type != REDIS_REPLY_ERROR)
        return NULL;
    if (len)
        *len = r->len;
    return r->str;
}

size_t auth_reply_len(const struct auth_reply *rep)
{
    const redisReply *r = (const redisReply *)rep;
    return r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
}

const struct auth_reply *auth_reply_elem(const struct auth_reply *rep, size_t i)
{
    const redisReply *r = (const redisReply *)rep;
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return NULL;
    return (const struct auth_reply *)r->element[i];
}

char *auth_reply_strdup(const struct auth_reply *rep)
{
    size_t len = 0;
    const char *s = rep ? auth_reply_str(rep, &len) : NULL;
    if (!s || auth_reply_type(rep) == AUTH_REPLY_ERROR)
        return NULL;
    return strndup(s, len);
}
