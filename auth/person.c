/* auth/person.c — person cards: create, read, update, roles and flags, delete, archive,
 * unarchive, anonymize, listing/search and the person's sessions index. Writes go through the
 * person_put / person_delete Lua scripts (dir_scripts.c) with optimistic versioning: read the
 * card, compute the new card, write it only if the version is still the one read. */
#include "auth/dir_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PERSON_WRITE_RETRIES 8

const char *auth_person_status_name(enum auth_person_status s)
{
    switch (s) {
    case AUTH_PERSON_ACTIVE: return "active";
    case AUTH_PERSON_ARCHIVED: return "archived";
    case AUTH_PERSON_ANONYMIZED: return "anonymized";
    }
    return "active";
}

static int status_parse(const char *s, enum auth_person_status *out)
{
    if (strcmp(s, "active") == 0)
        *out = AUTH_PERSON_ACTIVE;
    else if (strcmp(s, "archived") == 0)
        *out = AUTH_PERSON_ARCHIVED;
    else if (strcmp(s, "anonymized") == 0)
        *out = AUTH_PERSON_ANONYMIZED;
    else
        return -1;
    return 0;
}

void auth_person_free(struct auth_person *p)
{
    if (!p)
        return;
    free(p->login);
    free(p->email);
    free(p->name);
    if (p->pwhash) {
        memset(p->pwhash, 0, strlen(p->pwhash));
        free(p->pwhash);
    }
    auth_strv_free(p->roles, p->nroles);
    free(p);
}

bool auth_person_has_role(const struct auth_person *p, const char *role)
{
    for (size_t i = 0; i < p->nroles; i++)
        if (strcmp(p->roles[i], role) == 0)
            return true;
    return false;
}

json_t *auth_person_to_json(const struct auth_person *p)
{
    json_t *roles = json_array();
    for (size_t i = 0; i < p->nroles; i++)
        json_array_append_new(roles, json_string(p->roles[i]));
    return json_pack("{s:s,s:s,s:s?,s:s,s:b,s:b,s:o,s:s,s:b,s:I,s:I,s:I}",
                     "id", p->id, "login", p->login,
                     "email", p->email && *p->email ? p->email : NULL,
                     "name", p->name, "has_ssp_access", p->ssp_access,
                     "is_caller", p->is_caller, "roles", roles,
                     "status", auth_person_status_name(p->status),
                     "has_password", p->pwhash && *p->pwhash,
                     "created_ms", (json_int_t)p->created_ms,
                     "updated_ms", (json_int_t)p->updated_ms,
                     "version", (json_int_t)p->version);
}

/* Builds a person from a flat HGETALL reply. Returns 0, ENOTFOUND (empty), ECORRUPT. */
static int person_parse(const struct auth_reply *flat, struct auth_person **out,
                        char *err, size_t errlen)
{
    *out = NULL;
    size_t n = auth_reply_len(flat);
    if (n == 0) {
        snprintf(err, errlen, "no such person");
        return AUTH_DIR_ENOTFOUND;
    }
    struct auth_person *p = calloc(1, sizeof(*p));
    if (!p)
        return AUTH_DIR_ENOMEM;
    char *roles = NULL, *status = NULL;
    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *k = auth_reply_str(auth_reply_elem(flat, i), NULL);
        const struct auth_reply *v = auth_reply_elem(flat, i + 1);
        const char *vs = auth_reply_str(v, NULL);
        if (!k || !vs)
            continue;
        if (strcmp(k, "id") == 0)
            snprintf(p->id, sizeof(p->id), "%s", vs);
        else if (strcmp(k, "login") == 0)
            p->login = auth_reply_strdup(v);
        else if (strcmp(k, "email") == 0)
            p->email = auth_reply_strdup(v);
        else if (strcmp(k, "name") == 0)
            p->name = auth_reply_strdup(v);
        else if (strcmp(k, "pw") == 0)
            p->pwhash = auth_reply_strdup(v);
        else if (strcmp(k, "ssp") == 0)
            p->ssp_access = vs[0] == '1';
        else if (strcmp(k, "caller") == 0)
            p->is_caller = vs[0] == '1';
        else if (strcmp(k, "roles") == 0)
            roles = auth_reply_strdup(v);
        else if (strcmp(k, "status") == 0)
            status = auth_reply_strdup(v);
        else if (strcmp(k, "created") == 0)
            p->created_ms = atoll(vs);
        else if (strcmp(k, "updated") == 0)
            p->updated_ms = atoll(vs);
        else if (strcmp(k, "version") == 0)
            p->version = strtoull(vs, NULL, 10);
    }
    int rc = 0;
    if (!p->login) p->login = strdup("");
    if (!p->email) p->email = strdup("");
    if (!p->name) p->name = strdup("");
    if (!p->pwhash) p->pwhash = strdup("");
    if (!p->login || !p->email || !p->name || !p->pwhash) {
        rc = AUTH_DIR_ENOMEM;
        goto out;
    }
    if (!auth_uuid_valid(p->id) || !status || status_parse(status, &p->status) != 0) {
        snprintf(err, errlen, "person card is malformed");
        rc = AUTH_DIR_ECORRUPT;
        goto out;
    }
    rc = dir_split(roles, ',', &p->roles, &p->nroles);
out:
    free(roles);
    free(status);
    if (rc) {
        auth_person_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

static void person_keys(struct auth_dir *d, const char *id, char *ks[11])
{
    ks[0] = auth_redis_key(d->r, "{dir}:p:%s", id);
    ks[1] = d->k_idx_login;
    ks[2] = d->k_idx_email;
    ks[3] = d->k_idx_active;
    ks[4] = d->k_idx_terms;
    ks[5] = d->k_idx_all;
    ks[6] = d->k_version;
    ks[7] = auth_redis_key(d->r, "{dir}:p:%s:audit", id);
    ks[8] = d->k_debug;
    ks[9] = auth_dir_key_person_sessions(d, id);
    ks[10] = auth_dir_key_person_tokens(d, id);
}

static void person_keys_free(char *ks[11])
{
    free(ks[0]);
    free(ks[7]);
    free(ks[9]);
    free(ks[10]);
}

int auth_person_get(struct auth_dir *d, const char *id, struct auth_person **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    if (!auth_uuid_valid(id)) {
        snprintf(err, errlen, "no person with id \"%.40s\"", id ? id : "");
        return AUTH_DIR_ENOTFOUND;
    }
    char *k = auth_redis_key(d->r, "{dir}:p:%s", id);
    if (!k)
        return AUTH_DIR_ENOMEM;
    struct auth_reply *rep = NULL;
    int rc = auth_redis_cmd(d->r, &rep, err, errlen, "HGETALL", k, NULL);
    free(k);
    if (rc)
        return dir_map_redis_err(rc, err, errlen);
    rc = person_parse(rep, out, err, errlen);
    auth_reply_free(rep);
    return rc;
}

static int get_by_index(struct auth_dir *d, const char *idx, const char *folded,
                        struct auth_person **out, char *err, size_t errlen)
{
    char *cardprefix = auth_redis_key(d->r, "{dir}:p:");
    if (!cardprefix)
        return AUTH_DIR_ENOMEM;
    const char *keys[1] = { idx };
    const char *args[2] = { folded, cardprefix };
    struct auth_reply *rep = NULL;
    int rc = auth_redis_eval(d->r, &auth_dir_script_person_get_by, 1, keys, 2, args, NULL, &rep,
                             err, errlen);
    free(cardprefix);
    if (rc)
        return dir_map_redis_err(rc, err, errlen);
    if (auth_reply_type(rep) == AUTH_REPLY_NIL) {
        auth_reply_free(rep);
        snprintf(err, errlen, "no such person");
        return AUTH_DIR_ENOTFOUND;
    }
    rc = person_parse(rep, out, err, errlen);
    auth_reply_free(rep);
    return rc;
}

int auth_person_get_by_login(struct auth_dir *d, const char *login, struct auth_person **out,
                             char *err, size_t errlen)
{
    char folded[AUTH_LOGIN_MAX + 1];
    *out = NULL;
    if (auth_login_normalize(login, folded, err, errlen)) {
        snprintf(err, errlen, "no such person");
        return AUTH_DIR_ENOTFOUND;
    }
    return get_by_index(d, d->k_idx_login, folded, out, err, errlen);
}

int auth_person_get_by_email(struct auth_dir *d, const char *email, struct auth_person **out,
                             char *err, size_t errlen)
{
    char folded[AUTH_EMAIL_MAX + 1];
    *out = NULL;
    if (auth_email_normalize(email, folded, err, errlen)) {
        snprintf(err, errlen, "no such person");
        return AUTH_DIR_ENOTFOUND;
    }
    return get_by_index(d, d->k_idx_email, folded, out, err, errlen);
}

int auth_person_find(struct auth_dir *d, const char *ref, struct auth_person **out,
                     char *err, size_t errlen)
{
    int rc = AUTH_DIR_ENOTFOUND;
    if (auth_uuid_valid(ref))
        rc = auth_person_get(d, ref, out, err, errlen);
    if (rc == AUTH_DIR_ENOTFOUND)
        rc = auth_person_get_by_login(d, ref, out, err, errlen);
    if (rc == AUTH_DIR_ENOTFOUND && strchr(ref, '@'))
        rc = auth_person_get_by_email(d, ref, out, err, errlen);
    if (rc == AUTH_DIR_ENOTFOUND)
        snprintf(err, errlen, "no person with id, login or email \"%.80s\"", ref);
    return rc;
}

/* Search terms of a card: folded login, folded email and every ASCII-folded word of the
 * name, joined by \x1f. New string. */
static char *person_terms(const char *login_n, const char *email_n, const char *name)
{
    size_t cap = strlen(login_n) + strlen(email_n) + strlen(name) + 4;
    char *t = malloc(cap), *p = t;
    if (!t)
        return NULL;
    *p = 0;
    const char *parts[2] = { login_n, email_n };
    for (int i = 0; i < 2; i++) {
        if (!*parts[i])
            continue;
        if (p != t)
            *p++ = '\x1f';
        p = stpcpy(p, parts[i]);
    }
    char *nf = strdup(name);
    if (!nf) {
        free(t);
        return NULL;
    }
    auth_ascii_fold(name, nf);
    for (char *w = strtok(nf, " \t,;()\"'"); w; w = strtok(NULL, " \t,;()\"'")) {
        if (p != t)
            *p++ = '\x1f';
        p = stpcpy(p, w);
    }
    free(nf);
    return t;
}

/* Writes <p> (the complete new card) through person_put. <read_version> is the version the
 * card was read at (ignored for create). On success fills p->version and, with <revoke>,
 * deletes the revoked session/token keys and publishes a revocation event. <scrub> lists
 * folded logins/emails whose throttle keys must go (anonymize), may be NULL. */
static int person_put(struct auth_dir *d, bool create, struct auth_person *p,
                      unsigned long long read_version, const char *op, bool revoke,
                      bool clear_audit, const char *const *scrub, size_t nscrub,
                      struct auth_revocation *rev, char *err, size_t errlen)
{
    char login_n[AUTH_LOGIN_MAX + 1] = "", email_n[AUTH_EMAIL_MAX + 1] = "";
    char *ks[11] = { 0 };
    char *terms = NULL, *roles = NULL, *audit = NULL;
    struct auth_reply *rep = NULL;
    char ver[24], now[24];
    int rc;

    if (p->status != AUTH_PERSON_ANONYMIZED) {
        if (auth_login_normalize(p->login, login_n, err, errlen))
            return AUTH_DIR_EINVAL;
        if (*p->email && auth_email_normalize(p->email, email_n, err, errlen))
            return AUTH_DIR_EINVAL;
    }
    person_keys(d, p->id, ks);
    terms = person_terms(login_n, email_n, p->status == AUTH_PERSON_ACTIVE ? p->name : "");
    roles = dir_join(p->roles, p->nroles, ',');
    audit = dir_audit_head(d, op, NULL);
    if (!ks[0] || !ks[7] || !ks[9] || !ks[10] || !terms || !roles || !audit) {
        rc = AUTH_DIR_ENOMEM;
        goto out;
    }
    snprintf(ver, sizeof(ver), "%llu", read_version);
    snprintf(now, sizeof(now), "%lld", dir_now_ms());
    const char *args[] = {
        create ? "create" : "update", ver, now, op, revoke ? "1" : "0", clear_audit ? "1" : "0",
        audit, d->k_events,
        "id", p->id, "login", p->login, "login_n", login_n, "email", p->email,
        "email_n", email_n, "name", p->name, "pw", p->pwhash,
        "ssp", p->ssp_access ? "1" : "0", "caller", p->is_caller ? "1" : "0",
        "roles", roles, "status", auth_person_status_name(p->status), "terms", terms,
    };
    rc = auth_redis_eval(d->r, &auth_dir_script_person_put, 11, (const char **)ks,
                         (int)(sizeof(args) / sizeof(args[0])), args, NULL, &rep, err, errlen);
    if (rc) {
        rc = dir_map_redis_err(rc, err, errlen);
        goto out;
    }
    p->version = (unsigned long long)auth_reply_int(auth_reply_elem(rep, 0));
    if (revoke) {
        long ns = dir_unlink_members(d, auth_reply_elem(rep, 1), err, errlen);
        long nt = ns < 0 ? ns : dir_unlink_members(d, auth_reply_elem(rep, 2), err, errlen);
        if (ns < 0 || nt < 0) {
            rc = ns < 0 ? (int)ns : (int)nt;
            goto out;
        }
        if (rev) {
            rev->sessions = (size_t)ns;
            rev->tokens = (size_t)nt;
        }
        for (size_t i = 0; i < nscrub; i++) {
            char *tk = auth_dir_key_throttle(d, scrub[i]);
            struct auth_reply *r2 = NULL;
            rc = tk ? auth_redis_cmd(d->r, &r2, err, errlen, "DEL", tk, NULL) : AUTH_REDIS_ENOMEM;
            auth_reply_free(r2);
            free(tk);
            if (rc) {
                rc = dir_map_redis_err(rc, err, errlen);
                goto out;
            }
        }
        rc = dir_publish(d, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "type", "person.revoked",
                                      "id", p->id, "reason", op,
                                      "version", (json_int_t)p->version,
                                      "sessions", (json_int_t)ns, "tokens", (json_int_t)nt),
                         err, errlen);
    }
out:
    auth_reply_free(rep);
    person_keys_free(ks);
    free(terms);
    free(roles);
    free(audit);
    return rc;
}

static int check_roles(const char *const *roles, size_t n, char *err, size_t errlen)
{
    bool op = false, group = false;
    for (size_t i = 0; i < n; i++) {
        if (auth_role_check(roles[i], err, errlen))
            return AUTH_DIR_EINVAL;
        op |= strcmp(roles[i], "operator") == 0;
        group |= auth_role_is_group(roles[i]);
    }
    if (group && !op) {
        snprintf(err, errlen, "operator groups need the operator role");
        return AUTH_DIR_EINVAL;
    }
    return 0;
}

int auth_person_create(struct auth_dir *d, const struct auth_person_input *in,
                       struct auth_person **out, char *err, size_t errlen)
{
    char folded[AUTH_EMAIL_MAX + 1];
    char hash[AUTH_PW_HASH_MAX];
    int rc;
    if (out)
        *out = NULL;
    if (in->id && !auth_uuid_valid(in->id)) {
        snprintf(err, errlen, "id must be a lowercase UUID");
        return AUTH_DIR_EINVAL;
    }
    if (auth_login_normalize(in->login, folded, err, errlen))
        return AUTH_DIR_EINVAL;
    if (in->email && *in->email && auth_email_normalize(in->email, folded, err, errlen))
        return AUTH_DIR_EINVAL;
    const char *name = in->name && *in->name ? in->name : in->login;
    if (auth_name_check(name, err, errlen))
        return AUTH_DIR_EINVAL;
    if ((rc = check_roles(in->roles, in->nroles, err, errlen)))
        return rc;
    if (in->pwhash && strncmp(in->pwhash, "$argon2id$", 10) != 0) {
        snprintf(err, errlen, "a password hash must be an argon2id PHC string");
        return AUTH_DIR_EINVAL;
    }
    hash[0] = 0;
    if (in->password) {
        rc = auth_password_hash(&d->pw, in->password, strlen(in->password), hash);
        if (rc == AUTH_PW_EINVAL) {
            snprintf(err, errlen, "password must be %d to %d bytes", AUTH_PW_MIN_BYTES,
                     AUTH_PW_MAX_BYTES);
            return AUTH_DIR_EINVAL;
        }
        if (rc)
            return AUTH_DIR_ENOMEM;
    }
    struct auth_person *p = calloc(1, sizeof(*p));
    if (!p)
        return AUTH_DIR_ENOMEM;
    if (in->id)
        snprintf(p->id, sizeof(p->id), "%s", in->id);
    else if (auth_uuid_v4(p->id)) {
        free(p);
        return AUTH_DIR_ENOMEM;
    }
    p->login = strdup(in->login);
    p->email = strdup(in->email ? in->email : "");
    p->name = strdup(name);
    p->pwhash = strdup(in->pwhash ? in->pwhash : hash);
    p->ssp_access = in->ssp_access;
    p->is_caller = in->is_caller;
    p->status = in->archived ? AUTH_PERSON_ARCHIVED : AUTH_PERSON_ACTIVE;
    char *joined = dir_join((char *const *)in->roles, in->nroles, ',');
    if (!p->login || !p->email || !p->name || !p->pwhash || !joined ||
        dir_split(joined, ',', &p->roles, &p->nroles)) {
        free(joined);
        auth_person_free(p);
        return AUTH_DIR_ENOMEM;
    }
    free(joined);
    rc = person_put(d, true, p, 0, "create", false, false, NULL, 0, NULL, err, errlen);
    memset(hash, 0, sizeof(hash));
    if (rc == 0 && out) {
        char id[AUTH_UUID_LEN + 1];
        memcpy(id, p->id, sizeof(id));
        auth_person_free(p);
        return auth_person_get(d, id, out, err, errlen);
    }
    auth_person_free(p);
    return rc;
}

/* A change to apply to a freshly read card; returns 0 or an AUTH_DIR_E*. */
typedef int person_mutate_fn(struct auth_person *p, void *arg, char *err, size_t errlen);

struct modify_opts {
    const char *op;
    unsigned long long expected_version;
    bool revoke;
    bool clear_audit;
    bool scrub_throttle;
    bool allow_anonymized;
};

/* Read card -> mutate -> conditional write, retried when another writer won the race (unless
 * the caller pinned <expected_version>). */
static int person_modify(struct auth_dir *d, const char *id, const struct modify_opts *mo,
                         person_mutate_fn *fn, void *arg, struct auth_revocation *rev,
                         struct auth_person **out, char *err, size_t errlen)
{
    int rc = AUTH_DIR_EVERSION;
    if (out)
        *out = NULL;
    if (rev)
        memset(rev, 0, sizeof(*rev));
    for (int attempt = 0; attempt < PERSON_WRITE_RETRIES && rc == AUTH_DIR_EVERSION; attempt++) {
        struct auth_person *p = NULL;
        rc = auth_person_get(d, id, &p, err, errlen);
        if (rc)
            return rc;
        if (mo->expected_version && p->version != mo->expected_version) {
            snprintf(err, errlen, "the person is at version %llu, not %llu", p->version,
                     mo->expected_version);
            auth_person_free(p);
            return AUTH_DIR_EVERSION;
        }
        if (p->status == AUTH_PERSON_ANONYMIZED && !mo->allow_anonymized) {
            snprintf(err, errlen, "the person is anonymized; nothing can be changed");
            auth_person_free(p);
            return AUTH_DIR_ESTATE;
        }
        char login_n[AUTH_LOGIN_MAX + 1] = "", email_n[AUTH_EMAIL_MAX + 1] = "";
        char tmp[8];
        (void)auth_login_normalize(p->login, login_n, tmp, sizeof(tmp));
        if (*p->email)
            (void)auth_email_normalize(p->email, email_n, tmp, sizeof(tmp));
        unsigned long long read_version = p->version;
        rc = fn(p, arg, err, errlen);
        if (rc == 0) {
            const char *scrub[2] = { login_n, email_n };
            size_t nscrub = mo->scrub_throttle ? (email_n[0] ? 2 : 1) : 0;
            if (mo->scrub_throttle && !login_n[0]) {
                scrub[0] = email_n;
                nscrub = email_n[0] ? 1 : 0;
            }
            rc = person_put(d, false, p, read_version, mo->op, mo->revoke, mo->clear_audit,
                            scrub, nscrub, rev, err, errlen);
        }
        if (rc == 0 && out) {
            *out = p;
            p = NULL;
        }
        auth_person_free(p);
        if (mo->expected_version)
            break;
    }
    return rc;
}

struct update_arg {
    const struct auth_person_patch *patch;
    const char *pwhash;
};

static int replace_str(char **dst, const char *src)
{
    char *s = strdup(src);
    if (!s)
        return AUTH_DIR_ENOMEM;
    free(*dst);
    *dst = s;
    return 0;
}

static int mutate_update(struct auth_person *p, void *arg, char *err, size_t errlen)
{
    const struct update_arg *ua = arg;
    const struct auth_person_patch *pt = ua->patch;
    int rc = 0;
    if (pt->login && (rc = replace_str(&p->login, pt->login)))
        return rc;
    if (pt->email && (rc = replace_str(&p->email, pt->email)))
        return rc;
    if (pt->name && (rc = replace_str(&p->name, pt->name)))
        return rc;
    if (ua->pwhash && (rc = replace_str(&p->pwhash, ua->pwhash)))
        return rc;
    if (pt->ssp_access >= 0)
        p->ssp_access = pt->ssp_access;
    if (pt->is_caller >= 0)
        p->is_caller = pt->is_caller;
    return 0;
}

int auth_person_update(struct auth_dir *d, const char *id, const struct auth_person_patch *patch,
                       struct auth_person **out, char *err, size_t errlen)
{
    char folded[AUTH_EMAIL_MAX + 1];
    char hash[AUTH_PW_HASH_MAX];
    if (patch->login && auth_login_normalize(patch->login, folded, err, errlen))
        return AUTH_DIR_EINVAL;
    if (patch->email && *patch->email && auth_email_normalize(patch->email, folded, err, errlen))
        return AUTH_DIR_EINVAL;
    if (patch->name && auth_name_check(patch->name, err, errlen))
        return AUTH_DIR_EINVAL;
    if (patch->ssp_access > 1 || patch->is_caller > 1) {
        snprintf(err, errlen, "flags are true or false");
        return AUTH_DIR_EINVAL;
    }
    struct update_arg ua = { .patch = patch, .pwhash = NULL };
    if (patch->password) {
        int rc = auth_password_hash(&d->pw, patch->password, strlen(patch->password), hash);
        if (rc == AUTH_PW_EINVAL) {
            snprintf(err, errlen, "password must be %d to %d bytes", AUTH_PW_MIN_BYTES,
                     AUTH_PW_MAX_BYTES);
            return AUTH_DIR_EINVAL;
        }
        if (rc)
            return AUTH_DIR_ENOMEM;
        ua.pwhash = hash;
    }
    struct modify_opts mo = { .op = "update", .expected_version = patch->expected_version };
    int rc = person_modify(d, id, &mo, mutate_update, &ua, NULL, out, err, errlen);
    memset(hash, 0, sizeof(hash));
    return rc;
}

static int set_roles(struct auth_person *p, char **v, size_t n)
{
    auth_strv_free(p->roles, p->nroles);
    p->roles = v;
    p->nroles = n;
    return 0;
}

static int mutate_grant(struct auth_person *p, void *arg, char *err, size_t errlen)
{
    const char *role = arg;
    if (auth_role_is_group(role) && !auth_person_has_role(p, "operator")) {
        snprintf(err, errlen, "grant the operator role before an operator group");
        return AUTH_DIR_EINVAL;
    }
    char *joined = dir_join(p->roles, p->nroles, ',');
    if (!joined)
        return AUTH_DIR_ENOMEM;
    char *all = NULL;
    if (asprintf(&all, "%s,%s", joined, role) < 0)
        all = NULL;
    free(joined);
    char **v = NULL;
    size_t n = 0;
    int rc = all ? dir_split(all, ',', &v, &n) : AUTH_DIR_ENOMEM;
    free(all);
    return rc ? rc : set_roles(p, v, n);
}

static int mutate_revoke(struct auth_person *p, void *arg, char *err, size_t errlen)
{
    const char *role = arg;
    bool dropping_operator = strcmp(role, "operator") == 0;
    size_t k = 0;
    for (size_t i = 0; i < p->nroles; i++) {
        bool drop = strcmp(p->roles[i], role) == 0 ||
                    (dropping_operator && auth_role_is_group(p->roles[i]));
        if (drop)
            free(p->roles[i]);
        else
            p->roles[k++] = p->roles[i];
    }
    p->nroles = k;
    return 0;
}

int auth_person_grant(struct auth_dir *d, const char *id, const char *role,
                      struct auth_person **out, char *err, size_t errlen)
{
    if (auth_role_check(role, err, errlen))
        return AUTH_DIR_EINVAL;
    struct modify_opts mo = { .op = "grant" };
    return person_modify(d, id, &mo, mutate_grant, (void *)role, NULL, out, err, errlen);
}

int auth_person_revoke_role(struct auth_dir *d, const char *id, const char *role,
                            struct auth_person **out, char *err, size_t errlen)
{
    if (auth_role_check(role, err, errlen))
        return AUTH_DIR_EINVAL;
    struct modify_opts mo = { .op = "revoke_role" };
    return person_modify(d, id, &mo, mutate_revoke, (void *)role, NULL, out, err, errlen);
}

static int mutate_status(struct auth_person *p, void *arg, char *err, size_t errlen)
{
    enum auth_person_status want = *(enum auth_person_status *)arg;
    if (want == AUTH_PERSON_ARCHIVED && p->status != AUTH_PERSON_ACTIVE) {
        snprintf(err, errlen, "only an active person can be archived (this one is %s)",
                 auth_person_status_name(p->status));
        return AUTH_DIR_ESTATE;
    }
    if (want == AUTH_PERSON_ACTIVE && p->status != AUTH_PERSON_ARCHIVED) {
        snprintf(err, errlen, "only an archived person can be unarchived (this one is %s)",
                 auth_person_status_name(p->status));
        return AUTH_DIR_ESTATE;
    }
    p->status = want;
    return 0;
}

int auth_person_archive(struct auth_dir *d, const char *id, struct auth_revocation *rev,
                        char *err, size_t errlen)
{
    enum auth_person_status s = AUTH_PERSON_ARCHIVED;
    struct modify_opts mo = { .op = "archive", .revoke = true };
    return person_modify(d, id, &mo, mutate_status, &s, rev, NULL, err, errlen);
}

int auth_person_unarchive(struct auth_dir *d, const char *id, char *err, size_t errlen)
{
    enum auth_person_status s = AUTH_PERSON_ACTIVE;
    struct modify_opts mo = { .op = "unarchive" };
    return person_modify(d, id, &mo, mutate_status, &s, NULL, NULL, err, errlen);
}

static int mutate_anonymize(struct auth_person *p, void *arg, char *err, size_t errlen)
{
    char pseudo[32];
    if (p->status == AUTH_PERSON_ANONYMIZED) {
        snprintf(err, errlen, "the person is already anonymized");
        return AUTH_DIR_ESTATE;
    }
    /* The pseudonym derives from the random id only, never from personal data. */
    snprintf(pseudo, sizeof(pseudo), "anon-%.8s%.4s", p->id, p->id + 9);
    if (replace_str(&p->login, pseudo) || replace_str(&p->email, "") ||
        replace_str(&p->name, "Anonymized person"))
        return AUTH_DIR_ENOMEM;
    memset(p->pwhash, 0, strlen(p->pwhash));
    p->pwhash[0] = 0;
    auth_strv_free(p->roles, p->nroles);
    p->roles = NULL;
    p->nroles = 0;
    p->ssp_access = false;
    p->is_caller = false;
    p->status = AUTH_PERSON_ANONYMIZED;
    return 0;
}

int auth_person_anonymize(struct auth_dir *d, const char *id, struct auth_revocation *rev,
                          char *err, size_t errlen)
{
    struct modify_opts mo = { .op = "anonymize", .revoke = true, .clear_audit = true,
                              .scrub_throttle = true, .allow_anonymized = true };
    return person_modify(d, id, &mo, mutate_anonymize, NULL, rev, NULL, err, errlen);
}

int auth_person_delete(struct auth_dir *d, const char *id, unsigned long long expected_version,
                       struct auth_revocation *rev, char *err, size_t errlen)
{
    struct auth_person *p = NULL;
    char *ks[11] = { 0 };
    struct auth_reply *rep = NULL;
    char ver[24];
    if (rev)
        memset(rev, 0, sizeof(*rev));
    int rc = auth_person_get(d, id, &p, err, errlen);
    if (rc)
        return rc;
    char login_n[AUTH_LOGIN_MAX + 1] = "", email_n[AUTH_EMAIL_MAX + 1] = "", tmp[8];
    if (p->status != AUTH_PERSON_ANONYMIZED) {
        (void)auth_login_normalize(p->login, login_n, tmp, sizeof(tmp));
        if (*p->email)
            (void)auth_email_normalize(p->email, email_n, tmp, sizeof(tmp));
    }
    person_keys(d, p->id, ks);
    if (!ks[0] || !ks[7] || !ks[9] || !ks[10]) {
        rc = AUTH_DIR_ENOMEM;
        goto out;
    }
    snprintf(ver, sizeof(ver), "%llu", expected_version);
    const char *args[3] = { ver, d->k_events, "delete" };
    rc = auth_redis_eval(d->r, &auth_dir_script_person_delete, 11, (const char **)ks, 3, args,
                         NULL, &rep, err, errlen);
    if (rc) {
        rc = dir_map_redis_err(rc, err, errlen);
        goto out;
    }
    long ns = dir_unlink_members(d, auth_reply_elem(rep, 1), err, errlen);
    long nt = ns < 0 ? ns : dir_unlink_members(d, auth_reply_elem(rep, 2), err, errlen);
    if (ns < 0 || nt < 0) {
        rc = ns < 0 ? (int)ns : (int)nt;
        goto out;
    }
    const char *scrub[2] = { login_n, email_n };
    for (int i = 0; i < 2; i++) {
        if (!scrub[i][0])
            continue;
        char *tk = auth_dir_key_throttle(d, scrub[i]);
        struct auth_reply *r2 = NULL;
        int r = tk ? auth_redis_cmd(d->r, &r2, err, errlen, "DEL", tk, NULL) : AUTH_REDIS_ENOMEM;
        auth_reply_free(r2);
        free(tk);
        if (r) {
            rc = dir_map_redis_err(r, err, errlen);
            goto out;
        }
    }
    if (rev) {
        rev->sessions = (size_t)ns;
        rev->tokens = (size_t)nt;
    }
    rc = dir_publish(d, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "type", "person.revoked",
                                  "id", p->id, "reason", "delete",
                                  "version", (json_int_t)auth_reply_int(auth_reply_elem(rep, 0)),
                                  "sessions", (json_int_t)ns, "tokens", (json_int_t)nt),
                     err, errlen);
out:
    auth_reply_free(rep);
    person_keys_free(ks);
    auth_person_free(p);
    return rc;
}

int auth_operator_delete(struct auth_dir *d, const char *ref, char *err, size_t errlen)
{
    struct auth_person *p = NULL;
    int rc = auth_person_find(d, ref, &p, err, errlen);
    if (rc)
        return rc;
    if (auth_person_has_role(p, "operator"))
        snprintf(err, errlen, "an operator is a role on a person, not a record of its own: "
                 "delete the person %s (\"%s\") to remove them entirely, or revoke the "
                 "operator role from that person", p->id, p->login);
    else
        snprintf(err, errlen, "person %s (\"%s\") is not an operator; operators are deleted "
                 "only by deleting their person", p->id, p->login);
    auth_person_free(p);
    return AUTH_DIR_EREFUSED;
}

/* ---- listing and search ---- */

void auth_person_page_free(struct auth_person_page *pg)
{
    if (!pg)
        return;
    for (size_t i = 0; i < pg->n; i++)
        auth_person_free(pg->items[i]);
    free(pg->items);
    free(pg->next_cursor);
    memset(pg, 0, sizeof(*pg));
}

static char *hex_encode(const char *s, size_t len)
{
    static const char hx[] = "0123456789abcdef";
    char *o = malloc(2 * len + 1);
    if (!o)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        o[2 * i] = hx[(unsigned char)s[i] >> 4];
        o[2 * i + 1] = hx[(unsigned char)s[i] & 15];
    }
    o[2 * len] = 0;
    return o;
}

/* Decodes a cursor into "(<bytes>" for ZRANGEBYLEX. Returns length or -1. */
static long cursor_decode(const char *c, char *out, size_t outlen)
{
    size_t n = strlen(c);
    if (n % 2 || n / 2 + 2 > outlen)
        return -1;
    out[0] = '(';
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v = 0;
        if (sscanf(c + 2 * i, "%2x", &v) != 1)
            return -1;
        out[1 + i] = (char)v;
    }
    return (long)(n / 2 + 1);
}

/* Fetches cards for <ids> in one pipeline, appending active (or any, with !active_only)
 * persons to <pg>. */
static int fetch_cards(struct auth_dir *d, char **ids, size_t n, bool active_only,
                       struct auth_person_page *pg, size_t cap, char *err, size_t errlen)
{
    int rc = 0;
    size_t queued = 0;
    for (size_t i = 0; i < n; i++) {
        char *k = auth_redis_key(d->r, "{dir}:p:%s", ids[i]);
        if (!k)
            return AUTH_DIR_ENOMEM;
        const char *argv[2] = { "HGETALL", k };
        rc = auth_redis_append_argv(d->r, 2, argv, NULL, err, errlen);
        free(k);
        if (rc)
            return dir_map_redis_err(rc, err, errlen);
        queued++;
    }
    for (size_t i = 0; i < queued; i++) {
        struct auth_reply *rep = NULL;
        int r = auth_redis_get_reply(d->r, &rep, err, errlen);
        if (r) {
            if (!rc)
                rc = dir_map_redis_err(r, err, errlen);
            if (r == AUTH_REDIS_EIO)
                return rc;
            continue;
        }
        struct auth_person *p = NULL;
        char e2[64];
        if (!rc && person_parse(rep, &p, e2, sizeof(e2)) == 0) {
            if ((!active_only || p->status == AUTH_PERSON_ACTIVE) && pg->n < cap)
                pg->items[pg->n++] = p;
            else
                auth_person_free(p);
        }
        auth_reply_free(rep);
    }
    return rc;
}

int auth_person_list(struct auth_dir *d, enum auth_person_list_scope scope, const char *query,
                     const char *cursor, size_t limit, struct auth_person_page *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (limit == 0 || limit > AUTH_DIR_LIST_MAX) {
        snprintf(err, errlen, "limit must be 1 to %d", AUTH_DIR_LIST_MAX);
        return AUTH_DIR_EINVAL;
    }
    char start[600] = "-", end[300] = "+";
    size_t startlen = 1, endlen = 1;
    if (cursor && *cursor) {
        long n = cursor_decode(cursor, start, sizeof(start));
        if (n < 0) {
            snprintf(err, errlen, "cursor is malformed");
            return AUTH_DIR_EINVAL;
        }
        startlen = (size_t)n;
    }
    const char *zkey = scope == AUTH_LIST_ALL ? d->k_idx_all : d->k_idx_active;
    if (query && *query) {
        size_t ql = strlen(query);
        if (ql > AUTH_EMAIL_MAX) {
            snprintf(err, errlen, "query is too long");
            return AUTH_DIR_EINVAL;
        }
        for (size_t i = 0; i < ql; i++) {
            if ((unsigned char)query[i] < 0x20) {
                snprintf(err, errlen, "query must not contain control characters");
                return AUTH_DIR_EINVAL;
            }
        }
        zkey = d->k_idx_terms;
        end[0] = '[';
        auth_ascii_fold(query, end + 1);
        end[ql + 1] = (char)0xff;
        endlen = ql + 2;
        if (!(cursor && *cursor)) {
            memcpy(start, end, ql + 1);
            startlen = ql + 1;
        }
    }
    out->items = calloc(limit, sizeof(*out->items));
    if (!out->items)
        return AUTH_DIR_ENOMEM;

    int rc = 0;
    char **ids = calloc(limit, sizeof(*ids));
    char **seen = NULL;
    size_t nseen = 0;
    if (!ids) {
        rc = AUTH_DIR_ENOMEM;
        goto out;
    }
    /* Pull index members batch by batch until the page is full or the range ends. */
    for (int rounds = 0; rounds < 64 && out->n < limit; rounds++) {
        size_t want = limit - out->n;
        char lim[24];
        snprintf(lim, sizeof(lim), "%zu", want + 1);
        const char *argv[7] = { "ZRANGEBYLEX", zkey, start, end, "LIMIT", "0", lim };
        size_t lens[7] = { 11, strlen(zkey), startlen, endlen, 5, 1, strlen(lim) };
        struct auth_reply *rep = NULL;
        rc = auth_redis_cmd_argv(d->r, 7, argv, lens, &rep, err, errlen);
        if (rc) {
            rc = dir_map_redis_err(rc, err, errlen);
            goto out;
        }
        size_t got = auth_reply_len(rep), take = got > want ? want : got, nids = 0;
        const char *last = NULL;
        size_t lastlen = 0;
        for (size_t i = 0; i < take; i++) {
            size_t ml = 0;
            const char *m = auth_reply_str(auth_reply_elem(rep, i), &ml);
            if (!m)
                continue;
            last = m;
            lastlen = ml;
            char *id = NULL;
            if (zkey == d->k_idx_terms) {
                const char *z = memchr(m, 0, ml);
                id = z ? strndup(z + 1, ml - (size_t)(z - m) - 1) : NULL;
            } else if (zkey == d->k_idx_all) {
                id = strndup(m, ml);
            } else {
                /* active index holds folded logins: resolve through idx:login */
                struct auth_reply *r2 = NULL;
                const char *a2[3] = { "HGET", d->k_idx_login, m };
                size_t l2[3] = { 4, strlen(d->k_idx_login), ml };
                if (auth_redis_cmd_argv(d->r, 3, a2, l2, &r2, err, errlen) == 0)
                    id = auth_reply_strdup(r2);
                auth_reply_free(r2);
            }
            if (!id)
                continue;
            bool dup = false;
            for (size_t s = 0; s < nseen && !dup; s++)
                dup = strcmp(seen[s], id) == 0;
            if (dup) {
                free(id);
                continue;
            }
            char **ns = realloc(seen, (nseen + 1) * sizeof(*seen));
            if (!ns) {
                free(id);
                rc = AUTH_DIR_ENOMEM;
                auth_reply_free(rep);
                goto out;
            }
            seen = ns;
            seen[nseen++] = id;
            ids[nids++] = id;
        }
        if (nids)
            rc = fetch_cards(d, ids, nids, scope == AUTH_LIST_ACTIVE || zkey == d->k_idx_terms,
                             out, limit, err, errlen);
        if (last && lastlen + 2 <= sizeof(start)) {
            start[0] = '(';
            memcpy(start + 1, last, lastlen);
            startlen = lastlen + 1;
        }
        bool more = got > want;
        if (more && out->n >= limit) {
            free(out->next_cursor);
            out->next_cursor = hex_encode(start + 1, startlen - 1);
        }
        auth_reply_free(rep);
        if (rc || !more)
            break;
    }
out:
    free(ids);
    auth_strv_free(seen, nseen);
    if (rc)
        auth_person_page_free(out);
    return rc;
}

/* ---- sessions index ---- */

int auth_person_sessions(struct auth_dir *d, const char *id, char ***keys, size_t *n,
                         char *err, size_t errlen)
{
    *keys = NULL;
    *n = 0;
    struct auth_person *p = NULL;
    int rc = auth_person_get(d, id, &p, err, errlen);
    auth_person_free(p);
    if (rc)
        return rc;
    char *k = auth_dir_key_person_sessions(d, id);
    if (!k)
        return AUTH_DIR_ENOMEM;
    struct auth_reply *rep = NULL;
    rc = auth_redis_cmd(d->r, &rep, err, errlen, "SMEMBERS", k, NULL);
    free(k);
    if (rc)
        return dir_map_redis_err(rc, err, errlen);
    size_t m = auth_reply_len(rep);
    char **v = calloc(m + 1, sizeof(*v));
    if (!v) {
        auth_reply_free(rep);
        return AUTH_DIR_ENOMEM;
    }
    for (size_t i = 0; i < m; i++)
        if ((v[*n] = auth_reply_strdup(auth_reply_elem(rep, i))))
            (*n)++;
    auth_reply_free(rep);
    *keys = v;
    return 0;
}

int auth_person_sessions_revoke(struct auth_dir *d, const char *id, const char *session_key,
                                struct auth_revocation *rev, char *err, size_t errlen)
{
    if (rev)
        memset(rev, 0, sizeof(*rev));
    struct auth_person *p = NULL;
    int rc = auth_person_get(d, id, &p, err, errlen);
    auth_person_free(p);
    if (rc)
        return rc;
    char *k = auth_dir_key_person_sessions(d, id);
    if (!k)
        return AUTH_DIR_ENOMEM;
    const char *keys[1] = { k };
    const char *args[1] = { session_key ? session_key : "" };
    struct auth_reply *rep = NULL;
    rc = auth_redis_eval(d->r, &auth_dir_script_sessions_revoke, 1, keys, 1, args, NULL, &rep,
                         err, errlen);
    free(k);
    if (rc)
        return dir_map_redis_err(rc, err, errlen);
    long ns = dir_unlink_members(d, rep, err, errlen);
    auth_reply_free(rep);
    if (ns < 0)
        return (int)ns;
    if (rev)
        rev->sessions = (size_t)ns;
    return dir_publish(d, json_pack("{s:s,s:s,s:s,s:I}", "type", "person.revoked", "id", id,
                                    "reason", "sessions_revoke", "sessions", (json_int_t)ns),
                       err, errlen);
}

int auth_person_audit(struct auth_dir *d, const char *id, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!auth_uuid_valid(id)) {
        snprintf(err, errlen, "no such person");
        return AUTH_DIR_ENOTFOUND;
    }
    char *k = auth_redis_key(d->r, "{dir}:p:%s:audit", id);
    if (!k)
        return AUTH_DIR_ENOMEM;
    struct auth_reply *rep = NULL;
    int rc = auth_redis_cmd(d->r, &rep, err, errlen, "LRANGE", k, "0", "-1", NULL);
    free(k);
    if (rc)
        return dir_map_redis_err(rc, err, errlen);
    json_t *arr = json_array();
    for (size_t i = 0; i < auth_reply_len(rep); i++) {
        size_t len = 0;
        const char *s = auth_reply_str(auth_reply_elem(rep, i), &len);
        json_t *e = s ? json_loadb(s, len, 0, NULL) : NULL;
        if (e)
            json_array_append_new(arr, e);
    }
    auth_reply_free(rep);
    *out = arr;
    return 0;
}
