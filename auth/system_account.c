/* auth/system_account.c — built-in service identities ({sys} keyspace): neither a person nor
 * an API account; no person card, no SSP, never listed with persons. */
#include "auth/dir_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void auth_system_account_free(struct auth_system_account *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->description);
    auth_strv_free(s->scopes, s->nscopes);
    free(s);
}

json_t *auth_system_account_to_json(const struct auth_system_account *s)
{
    json_t *sc = json_array();
    for (size_t i = 0; i < s->nscopes; i++)
        json_array_append_new(sc, json_string(s->scopes[i]));
    return json_pack("{s:s,s:s,s:o,s:I,s:I}", "name", s->name, "description", s->description,
                     "scopes", sc, "created_ms", (json_int_t)s->created_ms,
                     "version", (json_int_t)s->version);
}

int auth_system_account_create(struct auth_dir *d, const char *name, const char *description,
                               const char *const *scopes, size_t nscopes,
                               char *err, size_t errlen)
{
    int rc;
    if (auth_account_id_check(name, err, errlen))
        return AUTH_DIR_EINVAL;
    if (description && *description && auth_name_check(description, err, errlen))
        return AUTH_DIR_EINVAL;
    char *sc = dir_scopes_join(scopes, nscopes, &rc, err, errlen);
    if (!sc)
        return rc;
    const char *fields[] = { "name", name, "description", description ? description : "",
                             "scopes", sc };
    rc = dir_acct_put(d, &dir_space_sys, name, true, 0, "create", false, fields, 3, NULL, NULL,
                      err, errlen);
    free(sc);
    return rc;
}

int auth_system_account_get(struct auth_dir *d, const char *name,
                            struct auth_system_account **out, char *err, size_t errlen)
{
    struct auth_reply *flat = NULL;
    *out = NULL;
    int rc = dir_acct_read(d, &dir_space_sys, name, &flat, err, errlen);
    if (rc)
        return rc;
    struct auth_system_account *s = calloc(1, sizeof(*s));
    const char *v;
    if (s) {
        s->name = strdup((v = dir_flat_get(flat, "name")) ? v : name);
        s->description = strdup((v = dir_flat_get(flat, "description")) ? v : "");
        s->created_ms = (v = dir_flat_get(flat, "created")) ? atoll(v) : 0;
        s->version = (v = dir_flat_get(flat, "version")) ? strtoull(v, NULL, 10) : 0;
    }
    if (!s || !s->name || !s->description ||
        dir_split(dir_flat_get(flat, "scopes"), ' ', &s->scopes, &s->nscopes)) {
        auth_system_account_free(s);
        auth_reply_free(flat);
        return AUTH_DIR_ENOMEM;
    }
    auth_reply_free(flat);
    *out = s;
    return 0;
}

int auth_system_account_delete(struct auth_dir *d, const char *name,
                               struct auth_revocation *rev, char *err, size_t errlen)
{
    char tmp[8];
    if (auth_account_id_check(name, tmp, sizeof(tmp))) {
        snprintf(err, errlen, "no account named \"%.64s\"", name ? name : "");
        return AUTH_DIR_ENOTFOUND;
    }
    return dir_acct_delete(d, &dir_space_sys, name, rev, err, errlen);
}

int auth_system_account_list(struct auth_dir *d, struct auth_system_account ***items,
                             size_t *n, char *err, size_t errlen)
{
    *items = NULL;
    *n = 0;
    struct auth_reply *rep = NULL;
    int rc = auth_redis_cmd(d->r, &rep, err, errlen, "ZRANGEBYLEX", d->k_sys_idx, "-", "+", NULL);
    if (rc)
        return dir_map_redis_err(rc, err, errlen);
    size_t m = auth_reply_len(rep);
    struct auth_system_account **v = calloc(m + 1, sizeof(*v));
    if (!v) {
        auth_reply_free(rep);
        return AUTH_DIR_ENOMEM;
    }
    for (size_t i = 0; i < m && rc == 0; i++) {
        const char *id = auth_reply_str(auth_reply_elem(rep, i), NULL);
        struct auth_system_account *s = NULL;
        int r = id ? auth_system_account_get(d, id, &s, err, errlen) : AUTH_DIR_ENOTFOUND;
        if (r == 0)
            v[(*n)++] = s;
        else if (r != AUTH_DIR_ENOTFOUND)
            rc = r;
    }
    auth_reply_free(rep);
    if (rc) {
        for (size_t i = 0; i < *n; i++)
            auth_system_account_free(v[i]);
        free(v);
        *n = 0;
        return rc;
    }
    *items = v;
    return 0;
}
