/* auth/api_account.c — API accounts: a separate identity in its own keyspace ({api}), never
 * a person. Secrets are 256-bit random values shown once and stored as HMAC-SHA256 under a
 * random directory key kept in Redis (see secret.h and docs/DATA-MODEL.md). Also the account
 * write helpers shared with system_account.c. */
#include "auth/dir_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

const struct dir_acct_space dir_space_api = { "{api}", "api_account", 'a' };
const struct dir_acct_space dir_space_sys = { "{sys}", "system_account", 's' };

static void acct_keys(struct auth_dir *d, const struct dir_acct_space *sp, const char *id,
                      char *ks[5])
{
    ks[0] = auth_redis_key(d->r, "%s:%c:%s", sp->tag, sp->rec, id);
    ks[1] = auth_redis_key(d->r, "%s:idx", sp->tag);
    ks[2] = auth_redis_key(d->r, "%s:%c:%s:tokens", sp->tag, sp->rec, id);
    ks[3] = auth_redis_key(d->r, "%s:debug:fail", sp->tag);
    ks[4] = auth_redis_key(d->r, "%s:audit", sp->tag);
}

static void acct_keys_free(char *ks[5])
{
    for (int i = 0; i < 5; i++)
        free(ks[i]);
}

static bool keys_ok(char *ks[5])
{
    for (int i = 0; i < 5; i++)
        if (!ks[i])
            return false;
    return true;
}

static int revoke_and_publish(struct auth_dir *d, const struct dir_acct_space *sp,
                              const char *id, const char *op, const struct auth_reply *tokens,
                              struct auth_revocation *rev, char *err, size_t errlen)
{
    long nt = dir_unlink_members(d, tokens, err, errlen);
    if (nt < 0)
        return (int)nt;
    if (rev)
        rev->tokens = (size_t)nt;
    char type[48];
    snprintf(type, sizeof(type), "%s.revoked", sp->kind);
    return dir_publish(d, json_pack("{s:s,s:s,s:s,s:I}", "type", type, "id", id, "reason", op,
                                    "tokens", (json_int_t)nt), err, errlen);
}

int dir_acct_put(struct auth_dir *d, const struct dir_acct_space *sp, const char *id,
                 bool create, unsigned long long read_version, const char *op, bool revoke,
                 const char *const *fields, size_t nfields, struct auth_revocation *rev,
                 unsigned long long *version, char *err, size_t errlen)
{
    char *ks[5];
    char ver[24], now[24];
    struct auth_reply *rep = NULL;
    int rc = 0;
    if (rev)
        memset(rev, 0, sizeof(*rev));
    acct_keys(d, sp, id, ks);
    json_t *head = json_pack("{s:I,s:s,s:s,s:s}", "ts", (json_int_t)dir_now_ms(), "op", op,
                             "actor", d->actor, "id", id);
    char *hs = head ? json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(head);
    size_t nargs = 9 + 2 * nfields;
    const char **args = calloc(nargs, sizeof(*args));
    if (!keys_ok(ks) || !hs || !args) {
        rc = AUTH_DIR_ENOMEM;
        goto out;
    }
    hs[strlen(hs) - 1] = 0;
    snprintf(ver, sizeof(ver), "%llu", read_version);
    snprintf(now, sizeof(now), "%lld", dir_now_ms());
    args[0] = create ? "create" : "update";
    args[1] = ver;
    args[2] = now;
    args[3] = op;
    args[4] = revoke ? "1" : "0";
    args[5] = hs;
    args[6] = d->k_events;
    args[7] = sp->kind;
    args[8] = id;
    for (size_t i = 0; i < 2 * nfields; i++)
        args[9 + i] = fields[i];
    rc = auth_redis_eval(d->r, &auth_dir_script_acct_put, 5, (const char **)ks, (int)nargs,
                         args, NULL, &rep, err, errlen);
    if (rc) {
        rc = dir_map_redis_err(rc, err, errlen);
        goto out;
    }
    if (version)
        *version = (unsigned long long)auth_reply_int(auth_reply_elem(rep, 0));
    if (revoke)
        rc = revoke_and_publish(d, sp, id, op, auth_reply_elem(rep, 2), rev, err, errlen);
out:
    auth_reply_free(rep);
    free(args);
    free(hs);
    acct_keys_free(ks);
    return rc;
}

int dir_acct_delete(struct auth_dir *d, const struct dir_acct_space *sp, const char *id,
                    struct auth_revocation *rev, char *err, size_t errlen)
{
    char *ks[5];
    struct auth_reply *rep = NULL;
    int rc = 0;
    if (rev)
        memset(rev, 0, sizeof(*rev));
    acct_keys(d, sp, id, ks);
    json_t *head = json_pack("{s:I,s:s,s:s,s:s}", "ts", (json_int_t)dir_now_ms(), "op", "delete",
                             "actor", d->actor, "id", id);
    char *hs = head ? json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(head);
    if (!keys_ok(ks) || !hs) {
        rc = AUTH_DIR_ENOMEM;
        goto out;
    }
    hs[strlen(hs) - 1] = 0;
    const char *args[5] = { id, hs, d->k_events, sp->kind, "delete" };
    rc = auth_redis_eval(d->r, &auth_dir_script_acct_delete, 5, (const char **)ks, 5, args, NULL,
                         &rep, err, errlen);
    if (rc) {
        rc = dir_map_redis_err(rc, err, errlen);
        goto out;
    }
    rc = revoke_and_publish(d, sp, id, "delete", auth_reply_elem(rep, 2), rev, err, errlen);
out:
    auth_reply_free(rep);
    free(hs);
    acct_keys_free(ks);
    return rc;
}

int dir_acct_read(struct auth_dir *d, const struct dir_acct_space *sp, const char *id,
                  struct auth_reply **flat, char *err, size_t errlen)
{
    *flat = NULL;
    char tmp[8];
    if (auth_account_id_check(id, tmp, sizeof(tmp))) {
        snprintf(err, errlen, "no account named \"%.64s\"", id ? id : "");
        return AUTH_DIR_ENOTFOUND;
    }
    char *k = auth_redis_key(d->r, "%s:%c:%s", sp->tag, sp->rec, id);
    if (!k)
        return AUTH_DIR_ENOMEM;
    int rc = auth_redis_cmd(d->r, flat, err, errlen, "HGETALL", k, NULL);
    free(k);
    if (rc)
        return dir_map_redis_err(rc, err, errlen);
    if (auth_reply_len(*flat) == 0) {
        auth_reply_free(*flat);
        *flat = NULL;
        snprintf(err, errlen, "no account named \"%s\"", id);
        return AUTH_DIR_ENOTFOUND;
    }
    return 0;
}

const char *dir_flat_get(const struct auth_reply *flat, const char *field)
{
    for (size_t i = 0; i + 1 < auth_reply_len(flat); i += 2) {
        const char *k = auth_reply_str(auth_reply_elem(flat, i), NULL);
        if (k && strcmp(k, field) == 0)
            return auth_reply_str(auth_reply_elem(flat, i + 1), NULL);
    }
    return NULL;
}

char *dir_scopes_join(const char *const *scopes, size_t n, int *rc, char *err, size_t errlen)
{
    *rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (auth_scope_check(scopes[i], err, errlen)) {
            *rc = AUTH_DIR_EINVAL;
            return NULL;
        }
    }
    char *joined = dir_join((char *const *)scopes, n, ' ');
    char **v = NULL;
    size_t m = 0;
    if (!joined || dir_split(joined, ' ', &v, &m)) {   /* sorted, unique */
        free(joined);
        *rc = AUTH_DIR_ENOMEM;
        return NULL;
    }
    free(joined);
    joined = dir_join(v, m, ' ');
    auth_strv_free(v, m);
    if (!joined)
        *rc = AUTH_DIR_ENOMEM;
    return joined;
}

/* ---- API accounts ---- */

void auth_api_account_free(struct auth_api_account *a)
{
    if (!a)
        return;
    free(a->client_id);
    free(a->note);
    auth_strv_free(a->scopes, a->nscopes);
    free(a);
}

json_t *auth_api_account_to_json(const struct auth_api_account *a)
{
    json_t *sc = json_array();
    for (size_t i = 0; i < a->nscopes; i++)
        json_array_append_new(sc, json_string(a->scopes[i]));
    json_t *o = json_pack("{s:s,s:s,s:o,s:s,s:b,s:I,s:I,s:I}", "client_id", a->client_id,
                          "note", a->note, "scopes", sc,
                          "status", a->disabled ? "disabled" : "active",
                          "has_secret", a->has_secret, "created_ms", (json_int_t)a->created_ms,
                          "updated_ms", (json_int_t)a->updated_ms,
                          "version", (json_int_t)a->version);
    if (o && a->prev_secret_until_ms > dir_now_ms())
        json_object_set_new(o, "previous_secret_valid_until_ms",
                            json_integer(a->prev_secret_until_ms));
    return o;
}

static int api_parse(const struct auth_reply *flat, struct auth_api_account **out)
{
    struct auth_api_account *a = calloc(1, sizeof(*a));
    if (!a)
        return AUTH_DIR_ENOMEM;
    const char *v;
    a->client_id = strdup((v = dir_flat_get(flat, "client_id")) ? v : "");
    a->note = strdup((v = dir_flat_get(flat, "note")) ? v : "");
    a->disabled = (v = dir_flat_get(flat, "status")) && strcmp(v, "disabled") == 0;
    a->has_secret = (v = dir_flat_get(flat, "secret")) && *v;
    a->prev_secret_until_ms = (v = dir_flat_get(flat, "prev_until")) ? atoll(v) : 0;
    a->created_ms = (v = dir_flat_get(flat, "created")) ? atoll(v) : 0;
    a->updated_ms = (v = dir_flat_get(flat, "updated")) ? atoll(v) : 0;
    a->version = (v = dir_flat_get(flat, "version")) ? strtoull(v, NULL, 10) : 0;
    if (!a->client_id || !a->note ||
        dir_split(dir_flat_get(flat, "scopes"), ' ', &a->scopes, &a->nscopes)) {
        auth_api_account_free(a);
        return AUTH_DIR_ENOMEM;
    }
    *out = a;
    return 0;
}

int auth_api_account_get(struct auth_dir *d, const char *client_id,
                         struct auth_api_account **out, char *err, size_t errlen)
{
    struct auth_reply *flat = NULL;
    *out = NULL;
    int rc = dir_acct_read(d, &dir_space_api, client_id, &flat, err, errlen);
    if (rc)
        return rc;
    rc = api_parse(flat, out);
    auth_reply_free(flat);
    return rc;
}

int auth_api_account_create(struct auth_dir *d, const char *client_id, const char *note,
                            const char *const *scopes, size_t nscopes,
                            char secret_out[AUTH_SECRET_TEXT_MAX],
                            struct auth_api_account **out, char *err, size_t errlen)
{
    char gen[40], hash[AUTH_SECRET_HASH_HEX] = "";
    int rc;
    if (out)
        *out = NULL;
    if (!client_id) {
        unsigned char rnd[8];
        char hex[17];
        randombytes_buf(rnd, sizeof(rnd));
        sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
        snprintf(gen, sizeof(gen), "api-%s", hex);
        client_id = gen;
    }
    if (auth_account_id_check(client_id, err, errlen))
        return AUTH_DIR_EINVAL;
    if (note && (strlen(note) > 500 || (*note && auth_name_check(note, err, errlen)))) {
        snprintf(err, errlen, "note must be at most 500 bytes of text");
        return AUTH_DIR_EINVAL;
    }
    char *sc = dir_scopes_join(scopes, nscopes, &rc, err, errlen);
    if (!sc)
        return rc;
    if (secret_out) {
        if ((rc = dir_hmac_key(d, err, errlen)) || auth_secret_generate(secret_out) ||
            auth_secret_hash(d->hmac_key, secret_out, strlen(secret_out), hash)) {
            free(sc);
            return rc ? rc : AUTH_DIR_ENOMEM;
        }
    }
    const char *fields[] = { "client_id", client_id, "note", note ? note : "", "scopes", sc,
                             "status", "active", "secret", hash, "prev_secret", "",
                             "prev_until", "0" };
    rc = dir_acct_put(d, &dir_space_api, client_id, true, 0, "create", false, fields, 7, NULL,
                      NULL, err, errlen);
    free(sc);
    if (rc == 0 && out)
        rc = auth_api_account_get(d, client_id, out, err, errlen);
    if (rc && secret_out)
        sodium_memzero(secret_out, AUTH_SECRET_TEXT_MAX);
    return rc;
}

/* Reads the card and rewrites it with <fields> changed, retrying on a lost race. */
static int api_modify(struct auth_dir *d, const char *client_id, const char *op, bool revoke,
                      const char *const *changes, size_t nchanges, struct auth_revocation *rev,
                      char *err, size_t errlen)
{
    static const char *const names[] = { "client_id", "note", "scopes", "status", "secret",
                                         "prev_secret", "prev_until" };
    int rc = AUTH_DIR_EVERSION;
    for (int attempt = 0; attempt < 8 && rc == AUTH_DIR_EVERSION; attempt++) {
        struct auth_reply *flat = NULL;
        rc = dir_acct_read(d, &dir_space_api, client_id, &flat, err, errlen);
        if (rc)
            return rc;
        const char *fields[14];
        for (size_t i = 0; i < 7; i++) {
            const char *v = dir_flat_get(flat, names[i]);
            for (size_t c = 0; c < nchanges; c++)
                if (strcmp(changes[2 * c], names[i]) == 0)
                    v = changes[2 * c + 1];
            fields[2 * i] = names[i];
            fields[2 * i + 1] = v ? v : "";
        }
        const char *ver = dir_flat_get(flat, "version");
        rc = dir_acct_put(d, &dir_space_api, client_id, false, ver ? strtoull(ver, NULL, 10) : 0,
                          op, revoke, fields, 7, rev, NULL, err, errlen);
        auth_reply_free(flat);
    }
    return rc;
}

int auth_api_account_rotate(struct auth_dir *d, const char *client_id, uint32_t overlap_ms,
                            char secret_out[AUTH_SECRET_TEXT_MAX],
                            struct auth_revocation *rev, char *err, size_t errlen)
{
    char hash[AUTH_SECRET_HASH_HEX], until[24];
    struct auth_api_account *a = NULL;
    int rc = auth_api_account_get(d, client_id, &a, err, errlen);
    if (rc)
        return rc;
    struct auth_reply *flat = NULL;
    rc = dir_acct_read(d, &dir_space_api, client_id, &flat, err, errlen);
    auth_api_account_free(a);
    if (rc)
        return rc;
    char *old = strdup(dir_flat_get(flat, "secret") ? dir_flat_get(flat, "secret") : "");
    auth_reply_free(flat);
    if (!old)
        return AUTH_DIR_ENOMEM;
    if ((rc = dir_hmac_key(d, err, errlen)) || auth_secret_generate(secret_out) ||
        auth_secret_hash(d->hmac_key, secret_out, strlen(secret_out), hash)) {
        free(old);
        return rc ? rc : AUTH_DIR_ENOMEM;
    }
    bool overlap = overlap_ms > 0 && *old;
    snprintf(until, sizeof(until), "%lld", overlap ? dir_now_ms() + overlap_ms : 0LL);
    const char *changes[] = { "secret", hash, "prev_secret", overlap ? old : "",
                              "prev_until", until };
    /* Without overlap the old secret dies now and so do the tokens it obtained. */
    rc = api_modify(d, client_id, "rotate", !overlap, changes, 3, rev, err, errlen);
    free(old);
    if (rc)
        sodium_memzero(secret_out, AUTH_SECRET_TEXT_MAX);
    return rc;
}

int auth_api_account_set_disabled(struct auth_dir *d, const char *client_id, bool disabled,
                                  struct auth_revocation *rev, char *err, size_t errlen)
{
    const char *changes[] = { "status", disabled ? "disabled" : "active" };
    return api_modify(d, client_id, disabled ? "disable" : "enable", disabled, changes, 1, rev,
                      err, errlen);
}

int auth_api_account_delete(struct auth_dir *d, const char *client_id,
                            struct auth_revocation *rev, char *err, size_t errlen)
{
    char tmp[8];
    if (auth_account_id_check(client_id, tmp, sizeof(tmp))) {
        snprintf(err, errlen, "no account named \"%.64s\"", client_id ? client_id : "");
        return AUTH_DIR_ENOTFOUND;
    }
    return dir_acct_delete(d, &dir_space_api, client_id, rev, err, errlen);
}

int auth_api_account_verify(struct auth_dir *d, const char *client_id, const char *secret,
                            struct auth_api_account **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    int rc = dir_hmac_key(d, err, errlen);
    if (rc)
        return rc;
    struct auth_reply *flat = NULL;
    rc = dir_acct_read(d, &dir_space_api, client_id, &flat, err, errlen);
    if (rc && rc != AUTH_DIR_ENOTFOUND)
        return rc;
    size_t slen = secret ? strlen(secret) : 0;
    const char *cur = flat ? dir_flat_get(flat, "secret") : NULL;
    const char *prev = flat ? dir_flat_get(flat, "prev_secret") : NULL;
    const char *until = flat ? dir_flat_get(flat, "prev_until") : NULL;
    const char *status = flat ? dir_flat_get(flat, "status") : NULL;
    /* Both comparisons always run, so timing does not tell which matched or whether the
     * account exists. */
    bool ok_cur = auth_secret_verify(d->hmac_key, secret ? secret : "", slen,
                                     cur ? cur : "0000000000000000000000000000000000000000000000000000000000000000");
    bool ok_prev = auth_secret_verify(d->hmac_key, secret ? secret : "", slen,
                                      prev && *prev ? prev : "0000000000000000000000000000000000000000000000000000000000000000");
    bool prev_live = until && atoll(until) > dir_now_ms();
    bool ok = flat && cur && *cur && status && strcmp(status, "active") == 0 &&
              (ok_cur || (ok_prev && prev_live && prev && *prev));
    if (ok && out)
        rc = api_parse(flat, out);
    auth_reply_free(flat);
    if (!ok) {
        snprintf(err, errlen, "invalid client credentials");
        return AUTH_DIR_EDENIED;
    }
    return rc;
}

int auth_api_account_list(struct auth_dir *d, const char *cursor, size_t limit,
                          struct auth_api_account ***items, size_t *n, char **next_cursor,
                          char *err, size_t errlen)
{
    *items = NULL;
    *n = 0;
    *next_cursor = NULL;
    if (limit == 0 || limit > AUTH_DIR_LIST_MAX) {
        snprintf(err, errlen, "limit must be 1 to %d", AUTH_DIR_LIST_MAX);
        return AUTH_DIR_EINVAL;
    }
    char start[80] = "-", lim[24], tmp[8];
    if (cursor && *cursor) {
        if (auth_account_id_check(cursor, tmp, sizeof(tmp))) {
            snprintf(err, errlen, "cursor is malformed");
            return AUTH_DIR_EINVAL;
        }
        snprintf(start, sizeof(start), "(%s", cursor);
    }
    snprintf(lim, sizeof(lim), "%zu", limit + 1);
    struct auth_reply *rep = NULL;
    int rc = auth_redis_cmd(d->r, &rep, err, errlen, "ZRANGEBYLEX", d->k_api_idx, start, "+",
                            "LIMIT", "0", lim, NULL);
    if (rc)
        return dir_map_redis_err(rc, err, errlen);
    size_t got = auth_reply_len(rep), take = got > limit ? limit : got;
    struct auth_api_account **v = calloc(take + 1, sizeof(*v));
    if (!v) {
        auth_reply_free(rep);
        return AUTH_DIR_ENOMEM;
    }
    for (size_t i = 0; i < take && rc == 0; i++) {
        const char *id = auth_reply_str(auth_reply_elem(rep, i), NULL);
        struct auth_api_account *a = NULL;
        int r = id ? auth_api_account_get(d, id, &a, err, errlen) : AUTH_DIR_ENOTFOUND;
        if (r == 0)
            v[(*n)++] = a;
        else if (r != AUTH_DIR_ENOTFOUND)
            rc = r;
    }
    if (rc == 0 && got > limit && take > 0)
        *next_cursor = auth_reply_strdup(auth_reply_elem(rep, take - 1));
    auth_reply_free(rep);
    if (rc) {
        for (size_t i = 0; i < *n; i++)
            auth_api_account_free(v[i]);
        free(v);
        *n = 0;
        return rc;
    }
    *items = v;
    return 0;
}
