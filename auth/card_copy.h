/* auth/card_copy.h — the copy of a person card that each of the person's sessions carries in
 * its "card" field, so that the per-request check reads one key with one command
 * (docs/DATA-MODEL.md, "Sessions"). Only scripts write it, each in the same atomic step as
 * what it copies: session creation (from the card it checks), every directory write of the
 * card (person_put and person_delete update or delete the sessions named by the person's
 * index), and the touch script, which reads the card itself and rewrites a copy that differs.
 *
 * Format: eight fields joined by \x1f — version, status, ssp, caller, roles ("a,b"), login,
 * name, email. No field can hold \x1f: logins and emails are normalized to a restricted
 * alphabet and names refuse control characters (auth/ident.c); email comes last all the same.
 */
#ifndef ONEGATE_AUTH_CARD_COPY_H
#define ONEGATE_AUTH_CARD_COPY_H

#include <stdbool.h>
#include <stddef.h>

/* Lua: pack_card(version, status, ssp, caller, roles, login, name, email) -> string. */
#define AUTH_LUA_PACK_CARD \
    "local function pack_card(version, status, ssp, caller, roles, login, name, email)\n" \
    "  return table.concat({version or '0', status or '', ssp or '0', caller or '0', roles or '',\n" \
    "                       login or '', name or '', email or ''}, '\\31')\n" \
    "end\n"

/* Lua: sync_sessions(idx, card) for the person whose sessions index is <idx>
 * ("<prefix>{dir}:p:<id>:sessions"): with a card string, writes it into every live session
 * (names under "<prefix>{dir}:s:") and drops dead names from the index; with nil, deletes
 * every name in the index that lies under <prefix> (the person is gone, no longer active, or
 * its sessions are revoked) — never a key outside onegate's prefix. Returns the index's
 * names (with nil: all of them, as the caller then deletes the index). */
#define AUTH_LUA_SYNC_SESSIONS \
    "local function sync_sessions(idx, card)\n" \
    "  local base = string.match(idx, '^(.*){dir}:p:[^:]+:sessions$')\n" \
    "  local names = redis.call('SMEMBERS', idx)\n" \
    "  if not base then return names end\n" \
    "  local sp = base .. '{dir}:s:'\n" \
    "  for _, k in ipairs(names) do\n" \
    "    if not card then\n" \
    "      if #k > #base and string.sub(k, 1, #base) == base then\n" \
    "        redis.call('DEL', k)\n" \
    "      end\n" \
    "    elseif string.sub(k, 1, #sp) == sp then\n" \
    "      if redis.call('EXISTS', k) == 1 then\n" \
    "        redis.call('HSET', k, 'card', card)\n" \
    "      else\n" \
    "        redis.call('SREM', idx, k)\n" \
    "      end\n" \
    "    end\n" \
    "  end\n" \
    "  return names\n" \
    "end\n"

/* A parsed copy; every pointer points into the buffer given to auth_card_parse. */
struct auth_card {
    unsigned long long version;
    const char *status;
    bool ssp_access;
    bool is_caller;
    char *roles;                /* "a,b,c" */
    const char *login;
    const char *name;
    const char *email;
};

/* Splits <buf> (NUL-terminated, modified in place) into <c>. Returns 0, or -1 when it does
 * not hold eight fields. */
int auth_card_parse(char *buf, struct auth_card *c);

#endif
