/* auth/dir_scripts.c — the directory's Lua scripts. Every writing script first checks the type
 * of every key it declares and every rule it enforces, and only then writes: Redis does not
 * roll a script back, so the write phase contains only commands that cannot fail on a
 * well-typed keyspace. Each writing script has a fail point (key <prefix>{dir}:debug:fail
 * holding the operation name or "*") at the end of its checks, for the tests. All keys of
 * a script share one hash tag ({dir}, {api} or {sys}); see docs/DATA-MODEL.md. */
#include "auth/card_copy.h"
#include "auth/dir_internal.h"

#define LUA_FAIL \
    "local function fail(code, msg) return redis.error_reply(code .. ' ' .. msg) end\n"

#define LUA_TYPECHECK(types) \
    "local types = " types "\n" \
    "for i = 1, #KEYS do\n" \
    "  local t = redis.call('TYPE', KEYS[i])['ok']\n" \
    "  if t ~= 'none' and t ~= types[i] then\n" \
    "    return fail('CORRUPT', 'key ' .. KEYS[i] .. ' holds a ' .. t .. ' where a ' .. types[i] .. ' belongs; nothing was written')\n" \
    "  end\n" \
    "end\n"

/* KEYS: 1 card 2 idx:login 3 idx:email 4 idx:active 5 idx:terms 6 idx:all 7 version
 *       8 audit 9 debug:fail 10 sessions 11 tokens
 * ARGV: 1 mode(create|update) 2 version read (update) 3 now_ms 4 op 5 revoke(0|1)
 *       6 clear_audit(0|1) 7 audit head 8 events channel 9.. card field/value pairs
 * In the same step, the person's sessions get the new card copy (auth/card_copy.h), or are
 * deleted when the person is no longer active or <revoke> is set.
 * Returns {new version, revoked session keys, revoked token keys}. */
struct auth_redis_script auth_dir_script_person_put = {
    .name = "person_put",
    .src =
    "#!lua\n"
    LUA_FAIL
    AUTH_LUA_PACK_CARD
    AUTH_LUA_SYNC_SESSIONS
    LUA_TYPECHECK("{'hash','hash','hash','zset','zset','zset','string','list','string','set','set'}")
    "local new = {}\n"
    "for i = 9, #ARGV, 2 do new[ARGV[i]] = ARGV[i + 1] end\n"
    "local id = new['id']\n"
    "local old = {}\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  if ARGV[1] == 'create' then return fail('CONFLICT', 'a person with id ' .. id .. ' already exists') end\n"
    "  local flat = redis.call('HGETALL', KEYS[1])\n"
    "  for i = 1, #flat, 2 do old[flat[i]] = flat[i + 1] end\n"
    "  if old['version'] ~= ARGV[2] then return fail('VERSION', 'the person changed meanwhile (now version ' .. tostring(old['version']) .. ')') end\n"
    "elseif ARGV[1] ~= 'create' then\n"
    "  return fail('NOTFOUND', 'no person with id ' .. id)\n"
    "end\n"
    "if new['login_n'] ~= '' then\n"
    "  local o = redis.call('HGET', KEYS[2], new['login_n'])\n"
    "  if o and o ~= id then return fail('CONFLICT', 'the login name is already taken by another person') end\n"
    "end\n"
    "if new['email_n'] ~= '' then\n"
    "  local o = redis.call('HGET', KEYS[3], new['email_n'])\n"
    "  if o and o ~= id then return fail('CONFLICT', 'the email address is already taken by another person') end\n"
    "end\n"
    "local dbg = redis.call('GET', KEYS[9])\n"
    "if dbg and (dbg == ARGV[4] or dbg == '*') then return fail('INJECTED', 'failure injected in ' .. ARGV[4] .. '; nothing was written') end\n"
    "-- write phase\n"
    "local function unindex(h, v)\n"
    "  if v and v ~= '' and redis.call('HGET', h, v) == id then redis.call('HDEL', h, v) end\n"
    "end\n"
    "if old['login_n'] ~= new['login_n'] then unindex(KEYS[2], old['login_n']) end\n"
    "if old['email_n'] ~= new['email_n'] then unindex(KEYS[3], old['email_n']) end\n"
    "if old['login_n'] and old['login_n'] ~= '' then redis.call('ZREM', KEYS[4], old['login_n']) end\n"
    "if old['terms'] then\n"
    "  for t in string.gmatch(old['terms'], '[^\\31]+') do redis.call('ZREM', KEYS[5], t .. '\\0' .. id) end\n"
    "end\n"
    "if new['login_n'] ~= '' then redis.call('HSET', KEYS[2], new['login_n'], id) end\n"
    "if new['email_n'] ~= '' then redis.call('HSET', KEYS[3], new['email_n'], id) end\n"
    "if new['status'] == 'active' then\n"
    "  redis.call('ZADD', KEYS[4], 0, new['login_n'])\n"
    "  for t in string.gmatch(new['terms'], '[^\\31]+') do redis.call('ZADD', KEYS[5], 0, t .. '\\0' .. id) end\n"
    "end\n"
    "redis.call('ZADD', KEYS[6], 0, id)\n"
    "local version = tonumber(old['version'] or '0') + 1\n"
    "new['version'] = tostring(version)\n"
    "new['created'] = old['created'] or ARGV[3]\n"
    "new['updated'] = ARGV[3]\n"
    "local fields = {}\n"
    "for k, v in pairs(new) do fields[#fields + 1] = k; fields[#fields + 1] = v end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], unpack(fields))\n"
    "redis.call('INCR', KEYS[7])\n"
    "if ARGV[6] == '1' then redis.call('DEL', KEYS[8]) end\n"
    "redis.call('LPUSH', KEYS[8], ARGV[7] .. ',\"version\":' .. version .. '}')\n"
    "redis.call('LTRIM', KEYS[8], 0, 199)\n"
    "local s, t = {}, {}\n"
    "if ARGV[5] == '1' or new['status'] ~= 'active' then\n"
    "  s = sync_sessions(KEYS[10], nil); redis.call('DEL', KEYS[10])\n"
    "else\n"
    "  sync_sessions(KEYS[10], pack_card(new['version'], new['status'], new['ssp'], new['caller'],\n"
    "                                    new['roles'], new['login'], new['name'], new['email']))\n"
    "end\n"
    "if ARGV[5] == '1' then\n"
    "  t = redis.call('SMEMBERS', KEYS[11]); redis.call('DEL', KEYS[11])\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[8], '{\"type\":\"person.changed\",\"id\":\"' .. id .. '\",\"version\":' .. version .. ',\"status\":\"' .. new['status'] .. '\",\"op\":\"' .. ARGV[4] .. '\"}')\n"
    "return {version, s, t}\n",
};

/* KEYS: as person_put. ARGV: 1 expected version ('0' = any) 2 events channel 3 op.
 * Deletes the person's sessions in the same step.
 * Returns {version the delete represents, session keys, token keys}. */
struct auth_redis_script auth_dir_script_person_delete = {
    .name = "person_delete",
    .src =
    "#!lua\n"
    LUA_FAIL
    AUTH_LUA_SYNC_SESSIONS
    LUA_TYPECHECK("{'hash','hash','hash','zset','zset','zset','string','list','string','set','set'}")
    "if redis.call('EXISTS', KEYS[1]) == 0 then return fail('NOTFOUND', 'no such person') end\n"
    "local old = {}\n"
    "local flat = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #flat, 2 do old[flat[i]] = flat[i + 1] end\n"
    "local id = old['id']\n"
    "if ARGV[1] ~= '0' and old['version'] ~= ARGV[1] then return fail('VERSION', 'the person changed meanwhile (now version ' .. tostring(old['version']) .. ')') end\n"
    "local dbg = redis.call('GET', KEYS[9])\n"
    "if dbg and (dbg == ARGV[3] or dbg == '*') then return fail('INJECTED', 'failure injected in ' .. ARGV[3] .. '; nothing was written') end\n"
    "-- write phase\n"
    "local function unindex(h, v)\n"
    "  if v and v ~= '' and redis.call('HGET', h, v) == id then redis.call('HDEL', h, v) end\n"
    "end\n"
    "unindex(KEYS[2], old['login_n'])\n"
    "unindex(KEYS[3], old['email_n'])\n"
    "if old['login_n'] and old['login_n'] ~= '' then redis.call('ZREM', KEYS[4], old['login_n']) end\n"
    "if old['terms'] then\n"
    "  for t in string.gmatch(old['terms'], '[^\\31]+') do redis.call('ZREM', KEYS[5], t .. '\\0' .. id) end\n"
    "end\n"
    "redis.call('ZREM', KEYS[6], id)\n"
    "redis.call('DEL', KEYS[1], KEYS[8])\n"
    "local s = sync_sessions(KEYS[10], nil)\n"
    "local t = redis.call('SMEMBERS', KEYS[11])\n"
    "redis.call('DEL', KEYS[10], KEYS[11])\n"
    "redis.call('INCR', KEYS[7])\n"
    "local version = tonumber(old['version'] or '0') + 1\n"
    "redis.call('PUBLISH', ARGV[2], '{\"type\":\"person.deleted\",\"id\":\"' .. id .. '\",\"version\":' .. version .. '}')\n"
    "return {version, s, t}\n",
};

/* KEYS: 1 index hash. ARGV: 1 folded value 2 card key prefix. Returns the card's HGETALL,
 * or nil. One round trip for a lookup by login or email. */
struct auth_redis_script auth_dir_script_person_get_by = {
    .name = "person_get_by",
    .src =
    "#!lua flags=no-writes\n"
    "local id = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if not id then return false end\n"
    "return redis.call('HGETALL', ARGV[2] .. id)\n",
};

/* KEYS: 1 the person's sessions index. ARGV: 1 member or '' for all.
 * Deletes the sessions (only names under the session prefix) with their index entries in one
 * step. Returns the removed members; error NOTFOUND when the one member was not there. */
struct auth_redis_script auth_dir_script_sessions_revoke = {
    .name = "sessions_revoke",
    .src =
    "#!lua\n"
    LUA_FAIL
    AUTH_LUA_SYNC_SESSIONS
    LUA_TYPECHECK("{'set'}")
    "if ARGV[1] == '' then\n"
    "  local m = sync_sessions(KEYS[1], nil)\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  return m\n"
    "end\n"
    "if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return fail('NOTFOUND', 'no such session for this person') end\n"
    "local base = string.match(KEYS[1], '^(.*){dir}:p:[^:]+:sessions$')\n"
    "if base and #ARGV[1] > #base and string.sub(ARGV[1], 1, #base) == base then redis.call('DEL', ARGV[1]) end\n"
    "return {ARGV[1]}\n",
};

/* Accounts (API and system). KEYS: 1 card 2 index zset 3 tokens set 4 debug:fail 5 audit.
 * ARGV: 1 mode(create|update) 2 version read 3 now_ms 4 op 5 revoke(0|1) 6 audit head
 *       7 events channel 8 kind 9 id 10.. card field/value pairs.
 * Returns {new version, {}, revoked token keys}. */
struct auth_redis_script auth_dir_script_acct_put = {
    .name = "acct_put",
    .src =
    "#!lua\n"
    LUA_FAIL
    LUA_TYPECHECK("{'hash','zset','set','string','list'}")
    "local id = ARGV[9]\n"
    "local old = {}\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  if ARGV[1] == 'create' then return fail('CONFLICT', 'an account named ' .. id .. ' already exists') end\n"
    "  local flat = redis.call('HGETALL', KEYS[1])\n"
    "  for i = 1, #flat, 2 do old[flat[i]] = flat[i + 1] end\n"
    "  if old['version'] ~= ARGV[2] then return fail('VERSION', 'the account changed meanwhile') end\n"
    "elseif ARGV[1] ~= 'create' then\n"
    "  return fail('NOTFOUND', 'no account named ' .. id)\n"
    "end\n"
    "local dbg = redis.call('GET', KEYS[4])\n"
    "if dbg and (dbg == ARGV[4] or dbg == '*') then return fail('INJECTED', 'failure injected in ' .. ARGV[4] .. '; nothing was written') end\n"
    "-- write phase\n"
    "local version = tonumber(old['version'] or '0') + 1\n"
    "local fields = {'version', tostring(version), 'created', old['created'] or ARGV[3], 'updated', ARGV[3]}\n"
    "for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], unpack(fields))\n"
    "redis.call('ZADD', KEYS[2], 0, id)\n"
    "redis.call('LPUSH', KEYS[5], ARGV[6] .. ',\"version\":' .. version .. '}')\n"
    "redis.call('LTRIM', KEYS[5], 0, 199)\n"
    "local t = {}\n"
    "if ARGV[5] == '1' then t = redis.call('SMEMBERS', KEYS[3]); redis.call('DEL', KEYS[3]) end\n"
    "redis.call('PUBLISH', ARGV[7], '{\"type\":\"' .. ARGV[8] .. '.changed\",\"id\":\"' .. id .. '\",\"version\":' .. version .. ',\"op\":\"' .. ARGV[4] .. '\"}')\n"
    "return {version, {}, t}\n",
};

/* KEYS: as acct_put. ARGV: 1 id 2 audit head 3 events channel 4 kind 5 op.
 * Returns {version, {}, revoked token keys}. */
struct auth_redis_script auth_dir_script_acct_delete = {
    .name = "acct_delete",
    .src =
    "#!lua\n"
    LUA_FAIL
    LUA_TYPECHECK("{'hash','zset','set','string','list'}")
    "if redis.call('EXISTS', KEYS[1]) == 0 then return fail('NOTFOUND', 'no account named ' .. ARGV[1]) end\n"
    "local dbg = redis.call('GET', KEYS[4])\n"
    "if dbg and (dbg == ARGV[5] or dbg == '*') then return fail('INJECTED', 'failure injected in ' .. ARGV[5] .. '; nothing was written') end\n"
    "local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0') + 1\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "local t = redis.call('SMEMBERS', KEYS[3])\n"
    "redis.call('DEL', KEYS[3])\n"
    "redis.call('LPUSH', KEYS[5], ARGV[2] .. ',\"version\":' .. version .. '}')\n"
    "redis.call('LTRIM', KEYS[5], 0, 199)\n"
    "redis.call('PUBLISH', ARGV[3], '{\"type\":\"' .. ARGV[4] .. '.deleted\",\"id\":\"' .. ARGV[1] .. '\",\"version\":' .. version .. '}')\n"
    "return {version, {}, t}\n",
};
