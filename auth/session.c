/* auth/session.c — sessions in Redis (see session.h): cookie and key derivation, the create,
 * touch, logout and revoke scripts, and their sync/async callers. The per-request path is
 * auth_session_touch: one round trip, either the touch script (reads the session and the
 * person card it names, same {dir} slot, checks expiry and status, refreshes the idle TTL
 * only every refresh_ms) on a miss of the worker's cache or when a refresh is due, or, on a
 * hit, one HMGET of the session — whose "card" field is the copy of the person card kept
 * exact by every directory write (auth/card_copy.h) — decided here with the same rules.
 * Creation stamps times with Redis' clock (TIME); the per-request touch passes the gateway's
 * clock instead (cheaper), so instances must be NTP-synchronised. */
#include "auth/session.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth/card_copy.h"
#include "auth/ident.h"
#include "auth/password.h"

struct auth_sessions {
    struct auth_session_opts o;
    char prefix[AUTH_REDIS_PREFIX_MAX + 1];
    char k_sess[AUTH_REDIS_PREFIX_MAX + 16];    /* "<prefix>{dir}:s:" */
    char k_card[AUTH_REDIS_PREFIX_MAX + 16];    /* "<prefix>{dir}:p:" */
    char k_events[AUTH_REDIS_PREFIX_MAX + 16];  /* "<prefix>events" */
    char idle[24], absolute[24], refresh[24];   /* decimal ms, script arguments */
};

#define LUA_FAIL \
    "local function fail(code, msg) return redis.error_reply(code .. ' ' .. msg) end\n"
#define LUA_NOW \
    "local t = redis.call('TIME')\n" \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* KEYS: 1 session 2 person card 3 person's sessions index.
 * ARGV: 1 person version seen 2 idle_ms 3 absolute_ms 4 sid 5 addr 6 user agent 7 portal
 *       8 person id.
 * Checks every key's type and the card (exists, active, version) before writing, and copies
 * the card into the session (auth/card_copy.h); drops dead names from the index once it holds
 * 16 or more. Returns {auth_ms, expires_ms}. */
static struct auth_redis_script script_create = {
    .name = "session_create",
    .src =
    "#!lua\n"
    LUA_FAIL
    AUTH_LUA_PACK_CARD
    "local types = {'hash', 'hash', 'set'}\n"
    "for i = 1, 3 do\n"
    "  local ty = redis.call('TYPE', KEYS[i])['ok']\n"
    "  if ty ~= 'none' and ty ~= types[i] then return fail('CORRUPT', 'key ' .. KEYS[i] .. ' holds a ' .. ty) end\n"
    "end\n"
    "local p = redis.call('HMGET', KEYS[2], 'status', 'version', 'ssp', 'caller', 'roles', 'login', 'name', 'email')\n"
    "if not p[1] then return fail('NOTFOUND', 'no such person') end\n"
    "if p[1] ~= 'active' then return fail('STATE', 'the person is not active') end\n"
    "if p[2] ~= ARGV[1] then return fail('VERSION', 'the person changed since the password check') end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then return fail('CONFLICT', 'session key exists') end\n"
    LUA_NOW
    "local exp = now + tonumber(ARGV[3])\n"
    "if redis.call('SCARD', KEYS[3]) >= 16 then\n"
    "  for _, k in ipairs(redis.call('SMEMBERS', KEYS[3])) do\n"
    "    if redis.call('EXISTS', k) == 0 then redis.call('SREM', KEYS[3], k) end\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'pid', ARGV[8], 'pv', ARGV[1], 'sid', ARGV[4], 'auth', now,\n"
    "           'seen', now, 'exp', exp, 'addr', ARGV[5], 'ua', ARGV[6], 'portal', ARGV[7],\n"
    "           'card', pack_card(p[2], p[1], p[3], p[4], p[5], p[6], p[7], p[8]))\n"
    "redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[2]), tonumber(ARGV[3])))\n"
    "redis.call('SADD', KEYS[3], KEYS[1])\n"
    "return {tostring(now), tostring(exp)}\n",
};

/* KEYS: 1 session. ARGV: 1 card key prefix ("<prefix>{dir}:p:") 2 idle_ms 3 refresh_ms
 * 4 portal ('' = none) 5 now (ms, the gateway's clock: TIME would cost ~3 us of Redis CPU
 * per request; instances are assumed NTP-synchronised, and a skew of a few ms only moves
 * the expiry check by as much).
 * The card key is derived from the session's pid inside the script: both live under {dir},
 * so the script stays in one slot (cluster-safe). The script reads the card itself, not the
 * session's copy of it, and rewrites the copy when it differs (so a copy can never stay
 * wrong for longer than refresh_ms, whatever wrote the card). Returns nil (no session:
 * missing, past its absolute expiry, or its person gone / not active — such a session is
 * deleted) or {sid, pid, pv, auth, exp, seen, refreshed, portal, card copy}. Writes only on
 * refresh, a stale copy, or cleanup. */
static struct auth_redis_script script_touch = {
    .name = "session_touch",
    .src =
    "#!lua\n"
    AUTH_LUA_PACK_CARD
    "local s = redis.call('HMGET', KEYS[1], 'pid', 'sid', 'pv', 'auth', 'exp', 'seen', 'portal', 'card')\n"
    "if not s[1] then return false end\n"
    "local now = tonumber(ARGV[5])\n"
    "local exp = tonumber(s[5]) or 0\n"
    "local idx = ARGV[1] .. s[1] .. ':sessions'\n"
    "if now >= exp then\n"
    "  redis.call('DEL', KEYS[1]); redis.call('SREM', idx, KEYS[1]); return false\n"
    "end\n"
    "local p = redis.call('HMGET', ARGV[1] .. s[1], 'status', 'version', 'ssp', 'caller', 'roles', 'login', 'name', 'email')\n"
    "if p[1] ~= 'active' then\n"
    "  redis.call('DEL', KEYS[1]); redis.call('SREM', idx, KEYS[1]); return false\n"
    "end\n"
    "local card = pack_card(p[2], p[1], p[3], p[4], p[5], p[6], p[7], p[8])\n"
    "if card ~= s[8] then redis.call('HSET', KEYS[1], 'card', card) end\n"
    "local seen = tonumber(s[6]) or 0\n"
    "local portal = s[7] or ''\n"
    "local refreshed = '0'\n"
    "if now - seen >= tonumber(ARGV[3]) then\n"
    "  seen = now\n"
    "  if ARGV[4] ~= '' then portal = ARGV[4] end\n"
    "  redis.call('HSET', KEYS[1], 'seen', now, 'portal', portal)\n"
    "  redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[2]), exp - now))\n"
    "  refreshed = '1'\n"
    "end\n"
    "return {s[2] or '', s[1], s[3] or '0', s[4] or '0', s[5], tostring(seen), refreshed,\n"
    "        portal, card}\n",
};

/* KEYS: 1 session. ARGV: 1 card key prefix 2 events channel 3 reason.
 * Deletes the session and its index entry; publishes session.revoked. Returns 1 or 0. */
static struct auth_redis_script script_logout = {
    .name = "session_logout",
    .src =
    "#!lua\n"
    "local s = redis.call('HMGET', KEYS[1], 'pid', 'sid')\n"
    "if not s[1] then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('SREM', ARGV[1] .. s[1] .. ':sessions', KEYS[1])\n"
    "redis.call('PUBLISH', ARGV[2], cjson.encode({type = 'session.revoked', id = s[1], sid = s[2] or '', reason = ARGV[3]}))\n"
    "return 1\n",
};

/* KEYS: 1 person's sessions index. ARGV: 1 session key prefix ("<prefix>{dir}:s:")
 * 2 events channel 3 person id 4 reason 5 sid ('' = every session).
 * Deletes the named sessions (only names under the session prefix) and their index entries
 * atomically; publishes person.revoked (all) or session.revoked (one sid) when something
 * was live. Returns the number of live sessions removed. */
static struct auth_redis_script script_revoke = {
    .name = "session_revoke",
    .src =
    "#!lua\n"
    "if redis.call('TYPE', KEYS[1])['ok'] ~= 'set' then return 0 end\n"
    "local n = 0\n"
    "for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  if string.sub(k, 1, #ARGV[1]) == ARGV[1] then\n"
    "    if ARGV[5] == '' then\n"
    "      n = n + redis.call('DEL', k)\n"
    "      redis.call('SREM', KEYS[1], k)\n"
    "    elseif redis.call('HGET', k, 'sid') == ARGV[5] then\n"
    "      n = n + redis.call('DEL', k)\n"
    "      redis.call('SREM', KEYS[1], k)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if ARGV[5] == '' then redis.call('DEL', KEYS[1]) end\n"
    "if n > 0 then\n"
    "  if ARGV[5] == '' then\n"
    "    redis.call('PUBLISH', ARGV[2], cjson.encode({type = 'person.revoked', id = ARGV[3], reason = ARGV[4], sessions = n, tokens = 0}))\n"
    "  else\n"
    "    redis.call('PUBLISH', ARGV[2], cjson.encode({type = 'session.revoked', id = ARGV[3], sid = ARGV[5], reason = ARGV[4]}))\n"
    "  end\n"
    "end\n"
    "return n\n",
};

/* KEYS: 1 person's sessions index. Returns, per live session, {sid, auth, seen, exp, addr,
 * ua, portal}. */
static struct auth_redis_script script_list = {
    .name = "session_list",
    .src =
    "#!lua flags=no-writes\n"
    "if redis.call('TYPE', KEYS[1])['ok'] ~= 'set' then return {} end\n"
    "local out = {}\n"
    "for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  local s = redis.call('HMGET', k, 'sid', 'auth', 'seen', 'exp', 'addr', 'ua', 'portal')\n"
    "  if s[1] then\n"
    "    for i = 1, 7 do s[i] = s[i] or '' end\n"
    "    out[#out + 1] = s\n"
    "  end\n"
    "end\n"
    "return out\n",
};

/* Script SHA1s are computed once, before any thread uses the scripts. */
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void sha_init(void)
{
    auth_redis_script_sha(&script_create);
    auth_redis_script_sha(&script_touch);
    auth_redis_script_sha(&script_logout);
    auth_redis_script_sha(&script_revoke);
    auth_redis_script_sha(&script_list);
}

const char *auth_session_err_name(int rc)
{
    switch (rc) {
    case AUTH_SESSION_OK: return "ok";
    case AUTH_SESSION_ENOTFOUND: return "no_session";
    case AUTH_SESSION_ESTALE: return "person_changed";
    case AUTH_SESSION_EINACTIVE: return "person_inactive";
    case AUTH_SESSION_EREDIS: return "storage_unavailable";
    case AUTH_SESSION_EINVAL: return "invalid";
    case AUTH_SESSION_ENOMEM: return "out_of_memory";
    default: return "internal";
    }
}

int auth_sessions_new(const struct auth_session_opts *opts, const char *key_prefix,
                      struct auth_sessions **out, char *err, size_t errlen)
{
    *out = NULL;
    struct auth_session_opts o = opts ? *opts : (struct auth_session_opts){ 0 };
    if (!o.idle_ms)
        o.idle_ms = 30 * 60 * 1000;
    if (!o.absolute_ms)
        o.absolute_ms = 12 * 3600 * 1000;
    if (!o.refresh_ms)
        o.refresh_ms = o.idle_ms / 2 < 60 * 1000 ? o.idle_ms / 2 : 60 * 1000;
    if (!o.user_agent_max)
        o.user_agent_max = AUTH_SESSION_UA_MAX_DEFAULT;
    if (o.refresh_ms >= o.idle_ms) {
        snprintf(err, errlen, "session refresh interval (%u ms) must be shorter than the idle "
                 "timeout (%u ms)", o.refresh_ms, o.idle_ms);
        return AUTH_SESSION_EINVAL;
    }
    if (o.idle_ms > o.absolute_ms) {
        snprintf(err, errlen, "session idle timeout (%u ms) exceeds the absolute lifetime "
                 "(%u ms)", o.idle_ms, o.absolute_ms);
        return AUTH_SESSION_EINVAL;
    }
    const char *prefix = key_prefix ? key_prefix : AUTH_REDIS_DEFAULT_PREFIX;
    if (strlen(prefix) > AUTH_REDIS_PREFIX_MAX || strpbrk(prefix, "{} \r\n")) {
        snprintf(err, errlen, "bad redis key prefix");
        return AUTH_SESSION_EINVAL;
    }
    if (auth_password_init() != 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return AUTH_SESSION_ENOMEM;
    }
    pthread_once(&sha_once, sha_init);
    struct auth_sessions *ss = calloc(1, sizeof(*ss));
    if (!ss)
        return AUTH_SESSION_ENOMEM;
    ss->o = o;
    snprintf(ss->prefix, sizeof(ss->prefix), "%s", prefix);
    snprintf(ss->k_sess, sizeof(ss->k_sess), "%s{dir}:s:", prefix);
    snprintf(ss->k_card, sizeof(ss->k_card), "%s{dir}:p:", prefix);
    snprintf(ss->k_events, sizeof(ss->k_events), "%sevents", prefix);
    snprintf(ss->idle, sizeof(ss->idle), "%u", o.idle_ms);
    snprintf(ss->absolute, sizeof(ss->absolute), "%u", o.absolute_ms);
    snprintf(ss->refresh, sizeof(ss->refresh), "%u", o.refresh_ms);
    *out = ss;
    return 0;
}

void auth_sessions_free(struct auth_sessions *ss)
{
    free(ss);
}

const struct auth_session_opts *auth_sessions_opts(const struct auth_sessions *ss)
{
    return &ss->o;
}

static bool b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* auth_session_key, also handing out the SHA-256 of the cookie (<md>, 32 bytes). */
static int session_key_md(const struct auth_sessions *ss, const char *cookie, size_t len,
                          char key[AUTH_SESSION_KEY_MAX], unsigned char *md)
{
    if (!cookie || len != AUTH_SESSION_COOKIE_LEN)
        return AUTH_SESSION_EINVAL;
    for (size_t i = 0; i < len; i++)
        if (!b64url_char((unsigned char)cookie[i]))
            return AUTH_SESSION_EINVAL;
    crypto_hash_sha256(md, (const unsigned char *)cookie, len);
    size_t pl = strlen(ss->k_sess);
    memcpy(key, ss->k_sess, pl);
    sodium_bin2hex(key + pl, AUTH_SESSION_KEY_MAX - pl, md, crypto_hash_sha256_BYTES);
    return 0;
}

int auth_session_key(const struct auth_sessions *ss, const char *cookie, size_t len,
                     char key[AUTH_SESSION_KEY_MAX])
{
    unsigned char md[crypto_hash_sha256_BYTES];
    return session_key_md(ss, cookie, len, key, md);
}

void auth_session_fingerprint(const char *key, char fp[AUTH_SESSION_FP_LEN + 1])
{
    unsigned char md[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(md, (const unsigned char *)key, strlen(key));
    sodium_bin2hex(fp, AUTH_SESSION_FP_LEN + 1, md, AUTH_SESSION_FP_LEN / 2);
}

static void index_key(const struct auth_sessions *ss, const char *person_id, char *out,
                      size_t outlen)
{
    snprintf(out, outlen, "%s%s:sessions", ss->k_card, person_id);
}

/* Maps a script's business error ("<CODE> sentence") to AUTH_SESSION_E*. */
static int map_script_err(int redis_rc, const char *msg)
{
    if (redis_rc == AUTH_REDIS_ENOMEM)
        return AUTH_SESSION_ENOMEM;
    if (redis_rc != AUTH_REDIS_EREPLY)
        return AUTH_SESSION_EREDIS;
    if (strncmp(msg, "VERSION ", 8) == 0)
        return AUTH_SESSION_ESTALE;
    if (strncmp(msg, "NOTFOUND ", 9) == 0 || strncmp(msg, "STATE ", 6) == 0)
        return AUTH_SESSION_EINACTIVE;
    return AUTH_SESSION_EREDIS;
}

int auth_session_create(const struct auth_sessions *ss, struct auth_redis *r,
                        const struct auth_session_new *in, struct auth_session_created *out,
                        char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!in->person_id || !auth_uuid_valid(in->person_id)) {
        snprintf(err, errlen, "session for an invalid person id");
        return AUTH_SESSION_EINVAL;
    }
    unsigned char rnd[32], sidb[16];
    randombytes_buf(rnd, sizeof(rnd));
    randombytes_buf(sidb, sizeof(sidb));
    sodium_bin2base64(out->cookie, sizeof(out->cookie), rnd, sizeof(rnd),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(rnd, sizeof(rnd));
    sodium_bin2base64(out->sid, sizeof(out->sid), sidb, sizeof(sidb),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char key[AUTH_SESSION_KEY_MAX], card[AUTH_SESSION_KEY_MAX], idx[AUTH_SESSION_KEY_MAX];
    auth_session_key(ss, out->cookie, AUTH_SESSION_COOKIE_LEN, key);
    auth_session_fingerprint(key, out->fingerprint);
    snprintf(card, sizeof(card), "%s%s", ss->k_card, in->person_id);
    index_key(ss, in->person_id, idx, sizeof(idx));
    char ver[24];
    snprintf(ver, sizeof(ver), "%llu", in->person_version);
    /* User agent and address: truncated, printable ASCII only (they end up in JSON). */
    char *ua = strndup(in->user_agent ? in->user_agent : "", ss->o.user_agent_max);
    char addr[64];
    snprintf(addr, sizeof(addr), "%s", in->client_addr ? in->client_addr : "");
    if (!ua)
        return AUTH_SESSION_ENOMEM;
    for (char *p = ua; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    for (char *p = addr; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    const char *keys[3] = { key, card, idx };
    const char *args[8] = { ver, ss->idle, ss->absolute, out->sid, addr, ua,
                            in->portal ? in->portal : "", in->person_id };
    struct auth_reply *rep = NULL;
    int rc = auth_redis_eval(r, &script_create, 3, keys, 8, args, NULL, &rep, err, errlen);
    free(ua);
    if (rc) {
        rc = map_script_err(rc, err);
        goto fail;
    }
    if (auth_reply_len(rep) != 2) {
        snprintf(err, errlen, "session_create: unexpected reply");
        rc = AUTH_SESSION_EREDIS;
        goto fail;
    }
    out->auth_time_ms = atoll(auth_reply_str(auth_reply_elem(rep, 0), NULL));
    out->expires_ms = atoll(auth_reply_str(auth_reply_elem(rep, 1), NULL));
    auth_reply_free(rep);
    return 0;
fail:
    auth_reply_free(rep);
    sodium_memzero(out->cookie, sizeof(out->cookie));
    return rc;
}

/* ---- the per-worker touch cache ----
 * Direct-mapped, TCACHE_SLOTS entries, on the auth_redis_async of the worker (one thread, no
 * locks), indexed by the SHA-256 of the cookie (the full digest is compared). It only decides
 * which round trip a touch takes: every answer still comes from Redis. A colliding session
 * replaces the entry (bounded memory: ~100 bytes x 4096 per worker). */
#define TCACHE_SLOTS 4096u

struct tcache_ent {
    unsigned char kh[32];
    const struct auth_sessions *ss;     /* compared only, never dereferenced */
    long long seen;                     /* last refresh (ms) */
    /* what never changes during a session's life: its person, handle, login time, the card
     * version the login saw, the absolute expiry */
    long long auth, exp;
    unsigned long long pv;
    char pid[40];
    char sid[AUTH_SESSION_SID_LEN + 1];
    char fp[AUTH_SESSION_FP_LEN + 1];
    bool used;
};

struct tcache {
    struct tcache_ent e[TCACHE_SLOTS];
};

static struct tcache *tcache_of(struct auth_redis_async *ra)
{
    struct tcache *c = auth_redis_async_ext(ra);
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (c)
            auth_redis_async_set_ext(ra, c, free);
    }
    return c;
}

static struct tcache_ent *tcache_slot(struct tcache *c, const unsigned char kh[32])
{
    uint32_t h;
    memcpy(&h, kh, sizeof(h));
    return &c->e[h & (TCACHE_SLOTS - 1)];
}

/* The entry of <op>'s session, or NULL. */
static struct tcache_ent *tcache_find(const struct auth_session_op *op)
{
    struct tcache *c = auth_redis_async_ext(op->ra_);
    if (!c)
        return NULL;
    struct tcache_ent *e = tcache_slot(c, op->kh_);
    if (!e->used || e->ss != op->ss_ || memcmp(e->kh, op->kh_, sizeof(e->kh)) != 0)
        return NULL;
    return e;
}

static void tcache_drop(const struct auth_session_op *op)
{
    struct tcache_ent *e = tcache_find(op);
    if (e)
        e->used = false;
}

static void tcache_put(const struct auth_session_op *op, const struct auth_session_info *in)
{
    struct tcache *c = tcache_of(op->ra_);
    if (!c || strlen(in->person_id) >= sizeof(c->e[0].pid) ||
        strlen(in->sid) >= sizeof(c->e[0].sid))
        return;
    struct tcache_ent *e = tcache_slot(c, op->kh_);
    memcpy(e->kh, op->kh_, sizeof(e->kh));
    e->ss = op->ss_;
    e->seen = in->last_seen_ms;
    e->auth = in->auth_time_ms;
    e->exp = in->expires_ms;
    e->pv = in->login_person_version;
    snprintf(e->pid, sizeof(e->pid), "%s", in->person_id);
    snprintf(e->sid, sizeof(e->sid), "%s", in->sid);
    memcpy(e->fp, op->fp_, sizeof(e->fp));
    e->used = true;
}

/* ---- the card copy (auth/card_copy.h) ---- */

int auth_card_parse(char *buf, struct auth_card *c)
{
    char *f[8];
    size_t n = 0;
    f[n++] = buf;
    for (char *p = buf; *p && n < 8; p++) {
        if (*p == '\x1f') {
            *p = '\0';
            f[n++] = p + 1;
        }
    }
    if (n != 8)
        return -1;
    c->version = strtoull(f[0], NULL, 10);
    c->status = f[1];
    c->ssp_access = f[2][0] == '1';
    c->is_caller = f[3][0] == '1';
    c->roles = f[4];
    c->login = f[5];
    c->name = f[6];
    c->email = f[7];
    return 0;
}

/* ---- async ---- */

static const char *elem_str(const struct auth_reply *rep, size_t i)
{
    const struct auth_reply *e = auth_reply_elem(rep, i);
    const char *s = e ? auth_reply_str(e, NULL) : NULL;
    return s ? s : "";
}

static bool elem_nil(const struct auth_reply *rep, size_t i)
{
    const struct auth_reply *e = auth_reply_elem(rep, i);
    return !e || auth_reply_type(e) != AUTH_REPLY_STRING;
}

/* Parses the card copy (element <at> of <rep>) and the roles in it, fills the person fields
 * of <in> and runs the callback with rc 0 — or ENOTFOUND when the card says the person is not
 * active (the cache entry is dropped: the next touch takes the script, which also deletes
 * the session), EREDIS when the copy is malformed. Everything is parsed in one block, on the
 * stack when it fits. */
static void deliver(struct auth_session_op *op, struct auth_session_info *in,
                    const struct auth_reply *rep, size_t at)
{
    auth_session_touch_cb *cb = (auth_session_touch_cb *)op->cb_;
    size_t clen = 0;
    const struct auth_reply *ce = auth_reply_elem(rep, at);
    const char *cs = ce && auth_reply_type(ce) == AUTH_REPLY_STRING ? auth_reply_str(ce, &clen)
                                                                   : NULL;
    if (!cs) {                  /* no copy (a session an older version wrote): refused now;
                                 * the next touch takes the script, which writes the copy */
        tcache_drop(op);
        cb(AUTH_SESSION_ENOTFOUND, NULL, op->arg_);
        return;
    }
    size_t nroles = 1;
    for (size_t i = 0; i < clen; i++)
        nroles += cs[i] == ',';
    size_t need = nroles * sizeof(char *) + clen + 1;
    _Alignas(max_align_t) char stack[768];
    char *blk = need <= sizeof(stack) ? stack : malloc(need);
    if (!blk) {
        cb(AUTH_SESSION_ENOMEM, NULL, op->arg_);
        return;
    }
    const char **rv = (const char **)blk;
    char *copy = blk + nroles * sizeof(char *);
    memcpy(copy, cs, clen);
    copy[clen] = '\0';
    struct auth_card c;
    int rc = 0;
    if (memchr(cs, '\0', clen) || auth_card_parse(copy, &c) != 0) {
        tcache_drop(op);        /* malformed copy: fail closed; the script rewrites it */
        rc = AUTH_SESSION_EREDIS;
    } else if (strcmp(c.status, "active") != 0) {
        tcache_drop(op);
        rc = AUTH_SESSION_ENOTFOUND;
    }
    if (rc) {
        cb(rc, NULL, op->arg_);
        goto out;
    }
    in->login = c.login;
    in->name = c.name;
    in->email = c.email;
    in->ssp_access = c.ssp_access;
    in->is_caller = c.is_caller;
    in->person_version = c.version;
    size_t k = 0;
    for (char *tok = c.roles, *save = NULL; (tok = strtok_r(tok, ",", &save)); tok = NULL)
        if (k < nroles)
            rv[k++] = tok;
    in->roles = rv;
    in->nroles = k;
    memcpy(in->fingerprint, op->fp_, sizeof(in->fingerprint));
    cb(0, in, op->arg_);
out:
    if (blk != stack)
        free(blk);
}

/* The script's answer: nil or {sid, pid, pv, auth, exp, seen, refreshed, portal, card}. */
static void touch_reply(int rc, const struct auth_reply *rep, const char *msg, void *arg)
{
    struct auth_session_op *op = arg;
    auth_session_touch_cb *cb = (auth_session_touch_cb *)op->cb_;
    op->call_ = NULL;
    if (rc) {
        cb(AUTH_SESSION_EREDIS, NULL, op->arg_);
        return;
    }
    if (auth_reply_type(rep) == AUTH_REPLY_NIL) {
        tcache_drop(op);
        cb(AUTH_SESSION_ENOTFOUND, NULL, op->arg_);
        return;
    }
    if (auth_reply_len(rep) != 9) {
        cb(AUTH_SESSION_EREDIS, NULL, op->arg_);
        return;
    }
    struct auth_session_info in = { 0 };
    in.sid = elem_str(rep, 0);
    in.person_id = elem_str(rep, 1);
    in.login_person_version = strtoull(elem_str(rep, 2), NULL, 10);
    in.auth_time_ms = atoll(elem_str(rep, 3));
    in.expires_ms = atoll(elem_str(rep, 4));
    in.last_seen_ms = atoll(elem_str(rep, 5));
    in.refreshed = elem_str(rep, 6)[0] == '1';
    in.portal = elem_str(rep, 7);
    tcache_put(op, &in);
    deliver(op, &in, rep, 8);
}

/* The fast path's answer: HMGET <session> seen portal card. The rest of the session never
 * changes and comes from the cache entry, copied into <op> when the command was sent. */
static void fast_reply(int rc, const struct auth_reply *rep, const char *msg, void *arg)
{
    struct auth_session_op *op = arg;
    auth_session_touch_cb *cb = (auth_session_touch_cb *)op->cb_;
    op->call_ = NULL;
    if (rc || auth_reply_len(rep) != 3) {
        cb(AUTH_SESSION_EREDIS, NULL, op->arg_);
        return;
    }
    if (elem_nil(rep, 0)) {
        /* gone: logout, revocation (also by the person's deletion, archiving or
         * anonymization), idle TTL */
        tcache_drop(op);
        cb(AUTH_SESSION_ENOTFOUND, NULL, op->arg_);
        return;
    }
    /* the callback may free <op> before it is done with <in> */
    struct auth_session_op_fixed fx = op->fx_;
    struct auth_session_info in = { 0 };
    in.sid = fx.sid;
    in.person_id = fx.pid;
    in.login_person_version = fx.pv;
    in.auth_time_ms = fx.auth;
    in.expires_ms = fx.exp;
    in.last_seen_ms = atoll(elem_str(rep, 0));
    in.refreshed = false;
    in.portal = elem_str(rep, 1);
    struct tcache_ent *e = tcache_find(op);
    if (e && in.last_seen_ms > e->seen)
        e->seen = in.last_seen_ms;  /* refreshed meanwhile by another worker or instance */
    deliver(op, &in, rep, 2);
}

/* Writes the RESP form of HMGET <key> seen portal card into <out> (AUTH_SESSION_KEY_MAX + 64
 * bytes). Returns its length. */
static size_t fast_cmd(char *out, const char *key)
{
    static const char head[] = "*5\r\n$5\r\nHMGET\r\n$";
    static const char tail[] = "\r\n$4\r\nseen\r\n$6\r\nportal\r\n$4\r\ncard\r\n";
    size_t klen = strlen(key), n = 0;
    memcpy(out, head, sizeof(head) - 1);
    n += sizeof(head) - 1;
    char num[24];
    int nl = 0;
    size_t v = klen;
    do {
        num[nl++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (nl)
        out[n++] = num[--nl];
    out[n++] = '\r';
    out[n++] = '\n';
    memcpy(out + n, key, klen);
    n += klen;
    memcpy(out + n, tail, sizeof(tail) - 1);
    return n + sizeof(tail) - 1;
}

int auth_session_touch(const struct auth_sessions *ss, struct auth_redis_async *ra,
                       const char *cookie, size_t len, const char *portal,
                       struct auth_session_op *op, auth_session_touch_cb *cb, void *arg)
{
    char key[AUTH_SESSION_KEY_MAX];
    if (session_key_md(ss, cookie, len, key, op->kh_) != 0)
        return AUTH_SESSION_EINVAL;
    op->cb_ = (void *)cb;
    op->arg_ = arg;
    op->call_ = NULL;
    op->ss_ = ss;
    op->ra_ = ra;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    op->now_ = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    const struct tcache_ent *e = tcache_find(op);
    if (e)
        memcpy(op->fp_, e->fp, sizeof(op->fp_));
    else
        auth_session_fingerprint(key, op->fp_);
    int rc;
    if (e && op->now_ - e->seen < (long long)ss->o.refresh_ms && op->now_ < e->exp) {
        /* fast path: one plain read, no Lua */
        memcpy(op->fx_.pid, e->pid, sizeof(op->fx_.pid));
        memcpy(op->fx_.sid, e->sid, sizeof(op->fx_.sid));
        op->fx_.pv = e->pv;
        op->fx_.auth = e->auth;
        op->fx_.exp = e->exp;
        char cmd[AUTH_SESSION_KEY_MAX + 64];
        size_t n = fast_cmd(cmd, key);
        rc = auth_redis_async_cmd_resp(ra, cmd, n, fast_reply, op, &op->call_);
    } else {
        const char *keys[1] = { key };
        char now[24];
        snprintf(now, sizeof(now), "%lld", op->now_);
        const char *args[5] = { ss->k_card, ss->idle, ss->refresh, portal ? portal : "", now };
        rc = auth_redis_async_eval(ra, &script_touch, 1, keys, 5, args, NULL, touch_reply, op,
                                   &op->call_);
    }
    if (rc)
        return rc == AUTH_REDIS_ENOMEM ? AUTH_SESSION_ENOMEM : AUTH_SESSION_EREDIS;
    return 0;
}

static void done_reply(int rc, const struct auth_reply *rep, const char *msg, void *arg)
{
    struct auth_session_op *op = arg;
    auth_session_done_cb *cb = (auth_session_done_cb *)op->cb_;
    op->call_ = NULL;
    if (rc) {
        cb(AUTH_SESSION_EREDIS, 0, op->arg_);
        return;
    }
    long long n = auth_reply_type(rep) == AUTH_REPLY_INTEGER ? auth_reply_int(rep) : 0;
    cb(n > 0 ? 0 : AUTH_SESSION_ENOTFOUND, n > 0 ? (size_t)n : 0, op->arg_);
}

int auth_session_logout(const struct auth_sessions *ss, struct auth_redis_async *ra,
                        const char *cookie, size_t len,
                        struct auth_session_op *op, auth_session_done_cb *cb, void *arg)
{
    char key[AUTH_SESSION_KEY_MAX];
    if (auth_session_key(ss, cookie, len, key) != 0)
        return AUTH_SESSION_EINVAL;
    op->cb_ = (void *)cb;
    op->arg_ = arg;
    op->call_ = NULL;
    const char *keys[1] = { key };
    const char *args[3] = { ss->k_card, ss->k_events, "logout" };
    int rc = auth_redis_async_eval(ra, &script_logout, 1, keys, 3, args, NULL, done_reply, op,
                                   &op->call_);
    if (rc)
        return rc == AUTH_REDIS_ENOMEM ? AUTH_SESSION_ENOMEM : AUTH_SESSION_EREDIS;
    return 0;
}

int auth_session_revoke_all_async(const struct auth_sessions *ss, struct auth_redis_async *ra,
                                  const char *person_id, const char *reason,
                                  struct auth_session_op *op, auth_session_done_cb *cb,
                                  void *arg)
{
    if (!person_id || !auth_uuid_valid(person_id))
        return AUTH_SESSION_EINVAL;
    char idx[AUTH_SESSION_KEY_MAX];
    index_key(ss, person_id, idx, sizeof(idx));
    op->cb_ = (void *)cb;
    op->arg_ = arg;
    op->call_ = NULL;
    const char *keys[1] = { idx };
    const char *args[5] = { ss->k_sess, ss->k_events, person_id,
                            reason ? reason : "sessions_revoke", "" };
    int rc = auth_redis_async_eval(ra, &script_revoke, 1, keys, 5, args, NULL, done_reply, op,
                                   &op->call_);
    if (rc)
        return rc == AUTH_REDIS_ENOMEM ? AUTH_SESSION_ENOMEM : AUTH_SESSION_EREDIS;
    return 0;
}

void auth_session_op_cancel(struct auth_session_op *op)
{
    if (op && op->call_) {
        auth_redis_call_cancel(op->call_);
        op->call_ = NULL;
    }
}

/* ---- admin (blocking) ---- */

static int revoke_sync(const struct auth_sessions *ss, struct auth_redis *r,
                       const char *person_id, const char *reason, const char *sid,
                       size_t *count, char *err, size_t errlen)
{
    if (count)
        *count = 0;
    if (!person_id || !auth_uuid_valid(person_id)) {
        snprintf(err, errlen, "invalid person id");
        return AUTH_SESSION_EINVAL;
    }
    char idx[AUTH_SESSION_KEY_MAX];
    index_key(ss, person_id, idx, sizeof(idx));
    const char *keys[1] = { idx };
    const char *args[5] = { ss->k_sess, ss->k_events, person_id,
                            reason ? reason : "sessions_revoke", sid ? sid : "" };
    struct auth_reply *rep = NULL;
    int rc = auth_redis_eval(r, &script_revoke, 1, keys, 5, args, NULL, &rep, err, errlen);
    if (rc)
        return map_script_err(rc, err);
    long long n = auth_reply_type(rep) == AUTH_REPLY_INTEGER ? auth_reply_int(rep) : 0;
    auth_reply_free(rep);
    if (count)
        *count = n > 0 ? (size_t)n : 0;
    return 0;
}

int auth_session_revoke_all(const struct auth_sessions *ss, struct auth_redis *r,
                            const char *person_id, const char *reason, size_t *count,
                            char *err, size_t errlen)
{
    return revoke_sync(ss, r, person_id, reason, NULL, count, err, errlen);
}

int auth_session_revoke_sid(const struct auth_sessions *ss, struct auth_redis *r,
                            const char *person_id, const char *sid, char *err, size_t errlen)
{
    if (!sid || !*sid) {
        snprintf(err, errlen, "empty session handle");
        return AUTH_SESSION_EINVAL;
    }
    size_t n = 0;
    int rc = revoke_sync(ss, r, person_id, "admin", sid, &n, err, errlen);
    if (rc == 0 && n == 0) {
        snprintf(err, errlen, "no such session for this person");
        return AUTH_SESSION_ENOTFOUND;
    }
    return rc;
}

int auth_session_list(const struct auth_sessions *ss, struct auth_redis *r,
                      const char *person_id, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!person_id || !auth_uuid_valid(person_id)) {
        snprintf(err, errlen, "invalid person id");
        return AUTH_SESSION_EINVAL;
    }
    char idx[AUTH_SESSION_KEY_MAX];
    index_key(ss, person_id, idx, sizeof(idx));
    const char *keys[1] = { idx };
    struct auth_reply *rep = NULL;
    int rc = auth_redis_eval(r, &script_list, 1, keys, 0, NULL, NULL, &rep, err, errlen);
    if (rc)
        return map_script_err(rc, err);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < auth_reply_len(rep); i++) {
        const struct auth_reply *e = auth_reply_elem(rep, i);
        json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:s,s:s,s:s}",
                              "sid", elem_str(e, 0),
                              "auth_time_ms", (json_int_t)atoll(elem_str(e, 1)),
                              "last_seen_ms", (json_int_t)atoll(elem_str(e, 2)),
                              "expires_ms", (json_int_t)atoll(elem_str(e, 3)),
                              "client_addr", elem_str(e, 4),
                              "user_agent", elem_str(e, 5),
                              "portal", elem_str(e, 6));
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    auth_reply_free(rep);
    if (!arr)
        return AUTH_SESSION_ENOMEM;
    *out = arr;
    return 0;
}
