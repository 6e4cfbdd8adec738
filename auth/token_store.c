/* auth/token_store.c — token records and revocations of API-account access tokens in Redis
 * (layout and contract in token_store.h). Three small Lua scripts, each on keys of the {api}
 * hash tag only.
 */
#include "auth/token_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ident.h"

#define KEY_MAX (AUTH_REDIS_PREFIX_MAX + 300)
#define JTI_MAX 128

/* KEYS: account hash, token index, token record. ARGV: version, ttl, client_id.
 * Returns 1 when recorded, 0 when the account is not active at that version. */
static struct auth_redis_script script_record = {
    "token_record",
    "#!lua\n"
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "local v = redis.call('HGET', KEYS[1], 'version')\n"
    "if st ~= 'active' or v ~= ARGV[1] then return 0 end\n"
    "if redis.call('TYPE', KEYS[2])['ok'] ~= 'set' and redis.call('EXISTS', KEYS[2]) == 1 "
    "then return redis.error_reply('CORRUPT token index') end\n"
    "local ttl = tonumber(ARGV[2])\n"
    "redis.call('SET', KEYS[3], ARGV[3], 'EX', ttl)\n"
    "redis.call('SADD', KEYS[2], KEYS[3])\n"
    "if redis.call('TTL', KEYS[2]) < ttl then redis.call('EXPIRE', KEYS[2], ttl) end\n"
    "for _, k in ipairs(redis.call('SRANDMEMBER', KEYS[2], 3)) do\n"
    "  if redis.call('EXISTS', k) == 0 then redis.call('SREM', KEYS[2], k) end\n"
    "end\n"
    "return 1\n",
    "",
};

/* KEYS: revoked marker, token record, token index. ARGV: ttl, events channel, event JSON. */
static struct auth_redis_script script_revoke = {
    "token_revoke",
    "#!lua\n"
    "redis.call('SET', KEYS[1], '1', 'EX', tonumber(ARGV[1]))\n"
    "redis.call('DEL', KEYS[2])\n"
    "if redis.call('TYPE', KEYS[3])['ok'] == 'set' then redis.call('SREM', KEYS[3], KEYS[2]) end\n"
    "redis.call('PUBLISH', ARGV[2], ARGV[3])\n"
    "return 1\n",
    "",
};

/* KEYS: token record, revoked marker, account hash. ARGV: client_id.
 * Returns 0 valid, 1 revoked, 2 unknown, 3 inactive (enum auth_token_state). */
static struct auth_redis_script script_check = {
    "token_check",
    "#!lua flags=no-writes\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end\n"
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 2 end\n"
    "if redis.call('HGET', KEYS[3], 'status') ~= 'active' then return 3 end\n"
    "return 0\n",
    "",
};

const char *auth_token_state_name(enum auth_token_state s)
{
    switch (s) {
    case AUTH_TOKEN_VALID: return "valid";
    case AUTH_TOKEN_REVOKED: return "revoked";
    case AUTH_TOKEN_UNKNOWN: return "unknown";
    case AUTH_TOKEN_INACTIVE: return "inactive";
    }
    return "?";
}

static bool jti_ok(const char *jti)
{
    size_t n = jti ? strlen(jti) : 0;
    return n > 0 && n <= JTI_MAX &&
           strspn(jti, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

static bool ids_ok(const char *client_id, const char *jti, char *err, size_t errlen)
{
    char tmp[8];
    if (!client_id || auth_account_id_check(client_id, tmp, sizeof tmp) != 0 || !jti_ok(jti)) {
        snprintf(err, errlen, "not a valid client id or token id");
        return false;
    }
    return true;
}

/* The keys of one token under <prefix>. */
struct tok_keys {
    char acct[KEY_MAX], idx[KEY_MAX], rec[KEY_MAX], revoked[KEY_MAX], events[KEY_MAX];
};

static void make_keys(const char *prefix, const char *client_id, const char *jti,
                      struct tok_keys *k)
{
    snprintf(k->acct, KEY_MAX, "%s{api}:a:%s", prefix, client_id);
    snprintf(k->idx, KEY_MAX, "%s{api}:a:%s:tokens", prefix, client_id);
    snprintf(k->rec, KEY_MAX, "%s{api}:t:%s", prefix, jti);
    snprintf(k->revoked, KEY_MAX, "%s{api}:revoked:%s", prefix, jti);
    snprintf(k->events, KEY_MAX, "%sevents", prefix);
}

static int map_redis(int rc)
{
    return rc == AUTH_REDIS_ENOMEM ? AUTH_TOKEN_ENOMEM : AUTH_TOKEN_EREDIS;
}

int auth_token_record(struct auth_redis *r, const char *client_id, const char *jti,
                      unsigned long long account_version, uint32_t ttl_s,
                      char *err, size_t errlen)
{
    struct tok_keys k;
    char ver[24], ttl[16];
    struct auth_reply *rep = NULL;
    if (!ids_ok(client_id, jti, err, errlen) || ttl_s == 0)
        return AUTH_TOKEN_EINVAL;
    make_keys(auth_redis_prefix(r), client_id, jti, &k);
    snprintf(ver, sizeof ver, "%llu", account_version);
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    const char *keys[3] = { k.acct, k.idx, k.rec };
    const char *args[3] = { ver, ttl, client_id };
    int rc = auth_redis_eval(r, &script_record, 3, keys, 3, args, NULL, &rep, err, errlen);
    if (rc)
        return map_redis(rc);
    if (auth_reply_type(rep) != AUTH_REPLY_INTEGER) {
        auth_reply_free(rep);
        snprintf(err, errlen, "unexpected reply from token_record");
        return AUTH_TOKEN_EREDIS;
    }
    long long ok = auth_reply_int(rep);
    auth_reply_free(rep);
    if (!ok) {
        snprintf(err, errlen, "the API account changed while the token was issued");
        return AUTH_TOKEN_ESTALE;
    }
    return 0;
}

int auth_token_revoke(struct auth_redis *r, const char *client_id, const char *jti,
                      uint32_t ttl_s, char *err, size_t errlen)
{
    struct tok_keys k;
    char ttl[16], ev[KEY_MAX + 64];
    struct auth_reply *rep = NULL;
    if (!ids_ok(client_id, jti, err, errlen))
        return AUTH_TOKEN_EINVAL;
    make_keys(auth_redis_prefix(r), client_id, jti, &k);
    snprintf(ttl, sizeof ttl, "%u", ttl_s ? ttl_s : 1);
    /* jti and client_id are restricted to characters that need no JSON escaping */
    snprintf(ev, sizeof ev, "{\"type\":\"token.revoked\",\"id\":\"%s\",\"client_id\":\"%s\","
             "\"reason\":\"revoke\"}", jti, client_id);
    const char *keys[3] = { k.revoked, k.rec, k.idx };
    const char *args[3] = { ttl, k.events, ev };
    int rc = auth_redis_eval(r, &script_revoke, 3, keys, 3, args, NULL, &rep, err, errlen);
    auth_reply_free(rep);
    return rc ? map_redis(rc) : 0;
}

static int state_of(const struct auth_reply *rep, enum auth_token_state *state)
{
    if (!rep || auth_reply_type(rep) != AUTH_REPLY_INTEGER)
        return AUTH_TOKEN_EREDIS;
    long long v = auth_reply_int(rep);
    if (v < AUTH_TOKEN_VALID || v > AUTH_TOKEN_INACTIVE)
        return AUTH_TOKEN_EREDIS;
    *state = (enum auth_token_state)v;
    return 0;
}

int auth_token_check(struct auth_redis *r, const char *client_id, const char *jti,
                     enum auth_token_state *state, char *err, size_t errlen)
{
    struct tok_keys k;
    struct auth_reply *rep = NULL;
    if (!ids_ok(client_id, jti, err, errlen)) {
        *state = AUTH_TOKEN_UNKNOWN;
        return 0;
    }
    make_keys(auth_redis_prefix(r), client_id, jti, &k);
    const char *keys[3] = { k.rec, k.revoked, k.acct };
    const char *args[1] = { client_id };
    int rc = auth_redis_eval(r, &script_check, 3, keys, 1, args, NULL, &rep, err, errlen);
    if (rc)
        return map_redis(rc);
    rc = state_of(rep, state);
    auth_reply_free(rep);
    if (rc)
        snprintf(err, errlen, "unexpected reply from token_check");
    return rc;
}

static void on_check(int rc, const struct auth_reply *reply, const char *msg, void *arg)
{
    struct auth_token_check_op *op = arg;
    enum auth_token_state st = AUTH_TOKEN_UNKNOWN;
    op->call_ = NULL;
    if (rc == 0)
        rc = state_of(reply, &st);
    else
        rc = AUTH_TOKEN_EREDIS;
    op->cb_(rc, st, op->arg_);
}

int auth_token_check_async(struct auth_redis_async *ra, const char *client_id, const char *jti,
                           struct auth_token_check_op *op, auth_token_check_cb *cb, void *arg)
{
    struct tok_keys k;
    char err[80];
    if (!ids_ok(client_id, jti, err, sizeof err))
        return AUTH_TOKEN_EINVAL;
    make_keys(auth_redis_async_prefix(ra), client_id, jti, &k);
    op->cb_ = cb;
    op->arg_ = arg;
    op->call_ = NULL;
    const char *keys[3] = { k.rec, k.revoked, k.acct };
    const char *args[1] = { client_id };
    int rc = auth_redis_async_eval(ra, &script_check, 3, keys, 1, args, NULL, on_check, op,
                                   &op->call_);
    return rc ? map_redis(rc) : 0;
}

void auth_token_check_cancel(struct auth_token_check_op *op)
{
    if (op->call_) {
        auth_redis_call_cancel(op->call_);
        op->call_ = NULL;
    }
}
