/* auth/throttle.c — login throttling counters in Redis (see throttle.h). Each counter is a
 * hash {fails, until} with a TTL; times come from Redis (TIME) so that every gateway
 * instance applies the same delays. Each command touches one key, so the account and address
 * counters may live in different cluster slots; they are pipelined, not scripted together. */
#include "auth/throttle.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/password.h"

struct auth_throttle {
    struct auth_throttle_opts o;
    char prefix[AUTH_REDIS_PREFIX_MAX + 1];
    char acc_args[6][16];
    char ip_args[6][16];
};

/* KEYS: 1 counter. Returns the ms to wait before the next attempt (0 = go ahead). */
static struct auth_redis_script script_check = {
    .name = "throttle_check",
    .src =
    "#!lua flags=no-writes\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local u = tonumber(redis.call('HGET', KEYS[1], 'until') or '0') or 0\n"
    "if u > now then return u - now end\n"
    "return 0\n",
};

/* KEYS: 1 counter. ARGV: free, base_ms, max_ms, lock_after, lock_ms, window_ms.
 * Counts one failure. Returns {failures, wait_ms}. */
static struct auth_redis_script script_fail = {
    .name = "throttle_fail",
    .src =
    "#!lua\n"
    "local ty = redis.call('TYPE', KEYS[1])['ok']\n"
    "if ty ~= 'none' and ty ~= 'hash' then redis.call('DEL', KEYS[1]) end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local free, base, maxd = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local lock_after, lock_ms, window = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "local n = redis.call('HINCRBY', KEYS[1], 'fails', 1)\n"
    "local wait = 0\n"
    "if n >= lock_after then wait = lock_ms\n"
    "elseif n > free then wait = math.min(base * 2 ^ math.min(n - free - 1, 30), maxd) end\n"
    "wait = math.floor(wait)\n"
    "local old = tonumber(redis.call('HGET', KEYS[1], 'until') or '0') or 0\n"
    "if now + wait > old then redis.call('HSET', KEYS[1], 'until', now + wait) end\n"
    "redis.call('PEXPIRE', KEYS[1], math.max(window, wait))\n"
    "return {n, wait}\n",
};

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static void sha_init(void);

struct auth_throttle_opts auth_throttle_default_opts(void)
{
    struct auth_throttle_opts o = {
        .account = { .free_failures = 3, .base_delay_ms = 1000, .max_delay_ms = 30000,
                     .lock_after = 10, .lock_ms = 15 * 60 * 1000, .window_ms = 15 * 60 * 1000 },
        .addr = { .free_failures = 20, .base_delay_ms = 1000, .max_delay_ms = 30000,
                  .lock_after = 100, .lock_ms = 15 * 60 * 1000, .window_ms = 15 * 60 * 1000 },
    };
    return o;
}

static bool rule_empty(const struct auth_throttle_rule *r)
{
    return !r->free_failures && !r->base_delay_ms && !r->max_delay_ms && !r->lock_after &&
           !r->lock_ms && !r->window_ms;
}

static int rule_check(const struct auth_throttle_rule *r, const char *what, char *err,
                      size_t errlen)
{
    if (r->lock_after <= r->free_failures || r->max_delay_ms < r->base_delay_ms ||
        r->window_ms == 0 || r->lock_ms == 0) {
        snprintf(err, errlen, "throttle (%s): need lock_after > free_failures, max_delay >= "
                 "base_delay, a window and a lock time", what);
        return AUTH_THROTTLE_EINVAL;
    }
    return 0;
}

static void rule_args(const struct auth_throttle_rule *r, char a[6][16])
{
    snprintf(a[0], 16, "%u", r->free_failures);
    snprintf(a[1], 16, "%u", r->base_delay_ms);
    snprintf(a[2], 16, "%u", r->max_delay_ms);
    snprintf(a[3], 16, "%u", r->lock_after);
    snprintf(a[4], 16, "%u", r->lock_ms);
    snprintf(a[5], 16, "%u", r->window_ms);
}

int auth_throttle_new(const struct auth_throttle_opts *opts, const char *key_prefix,
                      struct auth_throttle **out, char *err, size_t errlen)
{
    *out = NULL;
    struct auth_throttle_opts d = auth_throttle_default_opts();
    struct auth_throttle_opts o = opts ? *opts : d;
    if (rule_empty(&o.account))
        o.account = d.account;
    if (rule_empty(&o.addr))
        o.addr = d.addr;
    int rc = rule_check(&o.account, "account", err, errlen);
    if (!rc)
        rc = rule_check(&o.addr, "client address", err, errlen);
    if (rc)
        return rc;
    const char *prefix = key_prefix ? key_prefix : AUTH_REDIS_DEFAULT_PREFIX;
    if (strlen(prefix) > AUTH_REDIS_PREFIX_MAX) {
        snprintf(err, errlen, "redis key prefix too long");
        return AUTH_THROTTLE_EINVAL;
    }
    if (auth_password_init() != 0)
        return AUTH_THROTTLE_ENOMEM;
    pthread_once(&sha_once, sha_init);
    struct auth_throttle *t = calloc(1, sizeof(*t));
    if (!t)
        return AUTH_THROTTLE_ENOMEM;
    t->o = o;
    snprintf(t->prefix, sizeof(t->prefix), "%s", prefix);
    rule_args(&o.account, t->acc_args);
    rule_args(&o.addr, t->ip_args);
    *out = t;
    return 0;
}

void auth_throttle_free(struct auth_throttle *t)
{
    free(t);
}

char *auth_throttle_key_account(const struct auth_throttle *t, const char *login)
{
    size_t len = strlen(login);
    bool plain = len > 0 && len <= 254;
    for (size_t i = 0; plain && i < len; i++)
        plain = login[i] > 0x20 && login[i] < 0x7f;
    char *k = NULL;
    if (plain) {
        if (asprintf(&k, "%sthr:a:%s", t->prefix, login) < 0)
            return NULL;
        for (char *p = k + strlen(t->prefix) + 6; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        return k;
    }
    unsigned char md[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    crypto_hash_sha256(md, (const unsigned char *)login, len);
    sodium_bin2hex(hex, sizeof(hex), md, sizeof(md));
    if (asprintf(&k, "%sthr:a:h:%s", t->prefix, hex) < 0)
        return NULL;
    return k;
}

char *auth_throttle_key_addr(const struct auth_throttle *t, const char *addr)
{
    char *k = NULL;
    if (asprintf(&k, "%sthr:ip:%.64s", t->prefix, addr) < 0)
        return NULL;
    return k;
}

static void check_reply(int rc, const struct auth_reply *rep, const char *msg, void *arg,
                        int slot)
{
    struct auth_throttle_op *op = arg;
    op->call_[slot] = NULL;
    if (rc)
        op->rc_ = AUTH_THROTTLE_EREDIS;
    else if (auth_reply_type(rep) == AUTH_REPLY_INTEGER && auth_reply_int(rep) > 0) {
        long long w = auth_reply_int(rep);
        uint32_t w32 = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
        if (w32 > op->wait_ms_)
            op->wait_ms_ = w32;
    }
    if (--op->pending_ == 0)
        op->cb_(op->rc_, op->rc_ ? 0 : op->wait_ms_, op->arg_);
}

static void check_reply0(int rc, const struct auth_reply *rep, const char *msg, void *arg)
{
    check_reply(rc, rep, msg, arg, 0);
}

static void check_reply1(int rc, const struct auth_reply *rep, const char *msg, void *arg)
{
    check_reply(rc, rep, msg, arg, 1);
}

int auth_throttle_check(const struct auth_throttle *t, struct auth_redis_async *ra,
                        const char *login, const char *addr,
                        struct auth_throttle_op *op, auth_throttle_cb *cb, void *arg)
{
    memset(op, 0, sizeof(*op));
    op->cb_ = cb;
    op->arg_ = arg;
    char *ka = auth_throttle_key_account(t, login ? login : "");
    char *ki = addr && *addr ? auth_throttle_key_addr(t, addr) : NULL;
    int rc = 0;
    if (!ka || (addr && *addr && !ki)) {
        rc = AUTH_THROTTLE_ENOMEM;
        goto out;
    }
    const char *k1[1] = { ka };
    rc = auth_redis_async_eval(ra, &script_check, 1, k1, 0, NULL, NULL, check_reply0, op,
                               &op->call_[0]);
    if (rc) {
        rc = rc == AUTH_REDIS_ENOMEM ? AUTH_THROTTLE_ENOMEM : AUTH_THROTTLE_EREDIS;
        goto out;
    }
    op->pending_ = 1;
    if (ki) {
        const char *k2[1] = { ki };
        rc = auth_redis_async_eval(ra, &script_check, 1, k2, 0, NULL, NULL, check_reply1, op,
                                   &op->call_[1]);
        if (rc) {
            auth_redis_call_cancel(op->call_[0]);
            op->call_[0] = NULL;
            rc = rc == AUTH_REDIS_ENOMEM ? AUTH_THROTTLE_ENOMEM : AUTH_THROTTLE_EREDIS;
            goto out;
        }
        op->pending_ = 2;
    }
out:
    free(ka);
    free(ki);
    return rc;
}

void auth_throttle_op_cancel(struct auth_throttle_op *op)
{
    for (int i = 0; i < 2; i++) {
        if (op->call_[i])
            auth_redis_call_cancel(op->call_[i]);
        op->call_[i] = NULL;
    }
    op->pending_ = 0;
}

/* Script SHA1s are computed once, before any thread uses the scripts. */
static void sha_init(void)
{
    auth_redis_script_sha(&script_check);
    auth_redis_script_sha(&script_fail);
}

int auth_throttle_record(const struct auth_throttle *t, struct auth_redis *r,
                         const char *login, const char *addr, bool success,
                         uint32_t *wait_ms, char *err, size_t errlen)
{
    if (wait_ms)
        *wait_ms = 0;
    char *ka = auth_throttle_key_account(t, login ? login : "");
    char *ki = addr && *addr ? auth_throttle_key_addr(t, addr) : NULL;
    int rc = 0;
    struct auth_reply *rep = NULL;
    if (!ka || (addr && *addr && !ki)) {
        rc = AUTH_THROTTLE_ENOMEM;
        goto out;
    }
    if (success) {
        rc = auth_redis_cmd(r, &rep, err, errlen, "DEL", ka, NULL);
        rc = rc ? AUTH_THROTTLE_EREDIS : 0;
        goto out;
    }
    const char *keys[2] = { ka, ki };
    const char *args[2][6];
    for (int j = 0; j < 6; j++) {
        args[0][j] = t->acc_args[j];
        args[1][j] = t->ip_args[j];
    }
    int n = ki ? 2 : 1;
    /* Pipelined: both counters in one round trip. */
    for (int i = 0; i < n; i++) {
        const char *argv[10] = { "EVALSHA", script_fail.sha, "1", keys[i] };
        for (int j = 0; j < 6; j++)
            argv[4 + j] = args[i][j];
        if (auth_redis_append_argv(r, 10, argv, NULL, err, errlen) != 0) {
            rc = AUTH_THROTTLE_EREDIS;
            goto out;
        }
    }
    bool redo[2] = { false, false };
    for (int i = 0; i < n; i++) {
        int grc = auth_redis_get_reply(r, &rep, err, errlen);
        if (grc == AUTH_REDIS_EREPLY && strncmp(err, "NOSCRIPT", 8) == 0) {
            redo[i] = true;     /* server lost its script cache: plain EVAL below */
        } else if (grc) {
            rc = AUTH_THROTTLE_EREDIS;
            if (grc == AUTH_REDIS_EIO)
                goto out;
        } else if (i == 0 && wait_ms && auth_reply_len(rep) == 2) {
            *wait_ms = (uint32_t)auth_reply_int(auth_reply_elem(rep, 1));
        }
        auth_reply_free(rep);
        rep = NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!redo[i])
            continue;
        if (auth_redis_eval(r, &script_fail, 1, &keys[i], 6, args[i], NULL, &rep, err,
                            errlen) != 0) {
            rc = AUTH_THROTTLE_EREDIS;
            continue;
        }
        if (i == 0 && wait_ms && auth_reply_len(rep) == 2)
            *wait_ms = (uint32_t)auth_reply_int(auth_reply_elem(rep, 1));
        auth_reply_free(rep);
        rep = NULL;
    }
out:
    auth_reply_free(rep);
    free(ka);
    free(ki);
    return rc;
}
