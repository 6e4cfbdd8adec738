/* auth/import_legacy.c — legacy export -> plan -> directory. See import_legacy.h. */
#include "auth/import_legacy.h"
#include "auth/dir_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PERSON "onegate-legacy-person"
#define NS_OPERATOR "onegate-legacy-operator"

static int push_line(char ***v, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int push_line(char ***v, size_t *n, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        return AUTH_DIR_ENOMEM;
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv) {
        free(s);
        return AUTH_DIR_ENOMEM;
    }
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : NULL;
}

static bool jbool(const json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k));
}

static void person_clear(struct auth_import_person *p)
{
    free(p->login);
    free(p->email);
    free(p->name);
    free(p->sources);
    auth_strv_free(p->roles, p->nroles);
    memset(p, 0, sizeof(*p));
}

static void account_clear(struct auth_import_account *a)
{
    free(a->id);
    free(a->note);
    free(a->source);
    auth_strv_free(a->scopes, a->nscopes);
    memset(a, 0, sizeof(*a));
}

void auth_import_plan_free(struct auth_import_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->npersons; i++)
        person_clear(&p->persons[i]);
    for (size_t i = 0; i < p->napi; i++)
        account_clear(&p->api[i]);
    for (size_t i = 0; i < p->nsys; i++)
        account_clear(&p->sys[i]);
    free(p->persons);
    free(p->api);
    free(p->sys);
    auth_strv_free(p->conflicts, p->nconflicts);
    auth_strv_free(p->notes, p->nnotes);
    free(p);
}

static int add_role(struct auth_import_person *p, const char *role)
{
    for (size_t i = 0; i < p->nroles; i++)
        if (strcmp(p->roles[i], role) == 0)
            return 0;
    char **v = realloc(p->roles, (p->nroles + 1) * sizeof(*v));
    if (!v)
        return AUTH_DIR_ENOMEM;
    p->roles = v;
    if (!(v[p->nroles] = strdup(role)))
        return AUTH_DIR_ENOMEM;
    p->nroles++;
    return 0;
}

/* Legacy operator group names ("Incident Management") -> "group:incident-management". */
static int group_role(const char *g, char *out, size_t outlen)
{
    size_t k = 0;
    int n = snprintf(out, outlen, "group:");
    k = (size_t)n;
    bool dash = true;
    for (const char *c = g; *c && k + 1 < outlen; c++) {
        char ch = *c;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') {
            out[k++] = ch;
            dash = false;
        } else if (!dash) {
            out[k++] = '-';
            dash = true;
        }
    }
    while (k > 6 && out[k - 1] == '-')
        k--;
    out[k] = 0;
    char e[8];
    return auth_role_check(out, e, sizeof(e));
}

/* Account ids from legacy names: lowercase, others -> '-'. */
static char *account_id(const char *s)
{
    char buf[65];
    size_t k = 0;
    for (const char *c = s; *c && k < 64; c++) {
        char ch = *c;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
        buf[k++] = ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                    ch == '_' || ch == '-') ? ch : '-';
    }
    buf[k] = 0;
    char e[8];
    return auth_account_id_check(buf, e, sizeof(e)) == 0 ? strdup(buf) : NULL;
}

static char *person_name(const json_t *o)
{
    const char *n = jstr(o, "name");
    if (n)
        return strdup(n);
    const char *f = jstr(o, "first_name"), *l = jstr(o, "last_name");
    char *s = NULL;
    if (f && l) {
        if (asprintf(&s, "%s %s", f, l) < 0)
            s = NULL;
        return s;
    }
    return (f || l) ? strdup(f ? f : l) : NULL;
}

/* Validates <p>'s values; on failure records a conflict and returns false. */
static bool person_valid(struct auth_import_plan *plan, struct auth_import_person *p)
{
    char e[200], f[AUTH_EMAIL_MAX + 1];
    if (!p->login || auth_login_normalize(p->login, f, e, sizeof(e)) ||
        (p->email && auth_email_normalize(p->email, f, e, sizeof(e))) ||
        (p->name && auth_name_check(p->name, e, sizeof(e)))) {
        if (!p->login)
            snprintf(e, sizeof(e), "no login name and no usable email");
        push_line(&plan->conflicts, &plan->nconflicts, "invalid: %s: %s", p->sources, e);
        return false;
    }
    return true;
}

/* Sorted (key, index) pairs: the import handles 100k-record exports, so every "find the
 * record with this key" is a binary search and every duplicate check a sort. */
struct kv {
    char *key;
    size_t idx;
};

static int kv_cmp(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static void kv_free(struct kv *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].key);
    free(v);
}

/* Index of the first pair with <key>, or -1. */
static long kv_find(const struct kv *v, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(v[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(v[lo].key, key) == 0 ? (long)lo : -1;
}

/* Folded login (pass 0) or email (pass 1) of <p>, or NULL. New string. */
static char *folded(const struct auth_import_person *p, int pass)
{
    char f[AUTH_EMAIL_MAX + 1], e[8];
    const char *v = pass == 0 ? p->login : p->email;
    if (!v)
        return NULL;
    int r = pass == 0 ? auth_login_normalize(v, f, e, sizeof(e)) : auth_email_normalize(v, f, e, sizeof(e));
    return r ? NULL : strdup(f);
}

int auth_import_plan(const json_t *doc, bool match_email, struct auth_import_plan **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    const json_t *jp = json_object_get(doc, "persons"), *jo = json_object_get(doc, "operators");
    const json_t *ja = json_object_get(doc, "api_accounts");
    const json_t *js = json_object_get(doc, "system_accounts");
    if (!json_is_object(doc) || (jp && !json_is_array(jp)) || (jo && !json_is_array(jo)) ||
        (ja && !json_is_array(ja)) || (js && !json_is_array(js)) || (!jp && !jo && !ja && !js)) {
        snprintf(err, errlen, "not a legacy export: expected an object with arrays persons, "
                 "operators, api_accounts, system_accounts");
        return AUTH_DIR_EINVAL;
    }
    struct auth_import_plan *plan = calloc(1, sizeof(*plan));
    if (!plan)
        return AUTH_DIR_ENOMEM;
    plan->in_persons = json_array_size(jp);
    plan->in_operators = json_array_size(jo);
    plan->in_api = json_array_size(ja);
    plan->in_sys = json_array_size(js);
    size_t cap = plan->in_persons + plan->in_operators;
    plan->persons = calloc(cap + 1, sizeof(*plan->persons));
    /* per person slot: the legacy person id, how many operators link to it, excluded flag */
    const char **legacy_ids = calloc(cap + 1, sizeof(*legacy_ids));
    size_t *links = calloc(cap + 1, sizeof(*links));
    unsigned char *excluded = calloc(cap + 1, sizeof(*excluded));   /* 1 invalid, 2 duplicate */
    long *op_target = calloc(plan->in_operators + 1, sizeof(*op_target));
    struct kv *byid = NULL, *byemail = NULL;
    size_t nbyid_free = 0, nbyemail_free = 0;
    int rc = 0;
    if (!plan->persons || !legacy_ids || !links || !excluded || !op_target) {
        rc = AUTH_DIR_ENOMEM;
        goto out;
    }

    /* 1. person cards */
    size_t idx;
    json_t *o;
    json_array_foreach(jp, idx, o) {
        const char *lid = jstr(o, "id");
        if (!lid) {
            push_line(&plan->conflicts, &plan->nconflicts, "invalid: person #%zu has no id", idx);
            continue;
        }
        struct auth_import_person *p = &plan->persons[plan->npersons];
        auth_uuid_from_name(NS_PERSON, lid, p->id);
        const char *login = jstr(o, "login") ? jstr(o, "login") : jstr(o, "email");
        p->login = login ? strdup(login) : NULL;
        p->email = jstr(o, "email") ? strdup(jstr(o, "email")) : NULL;
        p->name = person_name(o);
        p->ssp_access = jbool(o, "ssp_access");
        p->is_caller = jbool(o, "is_caller");
        p->archived = jbool(o, "archived");
        if (asprintf(&p->sources, "person %s", lid) < 0) {
            p->sources = NULL;
            rc = AUTH_DIR_ENOMEM;
            goto out;
        }
        legacy_ids[plan->npersons] = lid;
        if (!person_valid(plan, p))
            excluded[plan->npersons] = 1;
        plan->npersons++;
    }
    size_t nlegacy = plan->npersons;
    /* legacy person ids, sorted for lookups; an id used twice is a conflict (both dropped) */
    byid = calloc(plan->in_persons + 1, sizeof(*byid));
    if (!byid) {
        rc = AUTH_DIR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nlegacy; i++)
        byid[i] = (struct kv){ strdup(legacy_ids[i]), i };
    qsort(byid, nlegacy, sizeof(*byid), kv_cmp);
    for (size_t i = 1; i < nlegacy; i++) {
        if (strcmp(byid[i].key, byid[i - 1].key) == 0) {
            push_line(&plan->conflicts, &plan->nconflicts,
                      "duplicate-id: person %s appears more than once in the export", byid[i].key);
            excluded[byid[i].idx] = excluded[byid[i - 1].idx] = 1;
        }
    }

    /* 2. operators: find each one's person */
    json_array_foreach(jo, idx, o) {
        op_target[idx] = -1;
        const char *oid = jstr(o, "id"), *pid = jstr(o, "person_id");
        if (!oid) {
            push_line(&plan->conflicts, &plan->nconflicts, "invalid: operator #%zu has no id", idx);
            op_target[idx] = -2;
            continue;
        }
        if (pid) {
            long at = kv_find(byid, nlegacy, pid);
            long t = at < 0 ? -1 : (long)byid[at].idx;
            if (t < 0) {
                push_line(&plan->conflicts, &plan->nconflicts,
                          "dangling-link: operator %s names person %s, which is not in the "
                          "export", oid, pid);
                op_target[idx] = -2;
                continue;
            }
            op_target[idx] = t;
            links[t]++;
        }
    }
    /* unlinked operators whose email matches an unlinked person */
    size_t nbyemail = 0;
    byemail = calloc(plan->in_persons + 1, sizeof(*byemail));
    if (!byemail) {
        rc = AUTH_DIR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nlegacy; i++) {
        char *f = folded(&plan->persons[i], 1);
        if (f)
            byemail[nbyemail++] = (struct kv){ f, i };
    }
    qsort(byemail, nbyemail, sizeof(*byemail), kv_cmp);
    json_array_foreach(jo, idx, o) {
        if (op_target[idx] != -1)
            continue;
        const char *em = jstr(o, "email");
        char f1[AUTH_EMAIL_MAX + 1], e[8];
        if (!em || auth_email_normalize(em, f1, e, sizeof(e)))
            continue;
        long at = kv_find(byemail, nbyemail, f1);
        for (; at >= 0 && (size_t)at < nbyemail && strcmp(byemail[at].key, f1) == 0; at++) {
            size_t i = byemail[at].idx;
            if (links[i] > 0 && !match_email)
                continue;   /* person already has its operator: plain duplicate email */
            if (match_email) {
                op_target[idx] = (long)i;
                links[i]++;
                push_line(&plan->notes, &plan->nnotes, "email-match: operator %s linked to "
                          "person %s by email (--match-email)", jstr(o, "id"), legacy_ids[i]);
            } else {
                op_target[idx] = -2;
                push_line(&plan->conflicts, &plan->nconflicts,
                          "email-match: operator %s has the email of unlinked person %s; not "
                          "linked (re-run with --match-email to link them)", jstr(o, "id"),
                          legacy_ids[i]);
            }
            break;
        }
    }
    /* two or more operators on one person: report, link none of them */
    for (size_t i = 0; i < nlegacy; i++) {
        if (links[i] < 2)
            continue;
        char *list = NULL;
        json_array_foreach(jo, idx, o) {
            if (op_target[idx] != (long)i)
                continue;
            char *nl = NULL;
            if (asprintf(&nl, "%s%s%s", list ? list : "", list ? ", " : "", jstr(o, "id")) < 0)
                nl = NULL;
            free(list);
            list = nl;
            op_target[idx] = -2;
        }
        push_line(&plan->conflicts, &plan->nconflicts, "shared-person: operators %s all point "
                  "at person %s; none linked (decide which one is this person)",
                  list ? list : "?", legacy_ids[i]);
        free(list);
    }
    /* merge linked operators, generate persons for unlinked ones */
    json_array_foreach(jo, idx, o) {
        long t = op_target[idx];
        if (t == -2)
            continue;
        const char *oid = jstr(o, "id");
        struct auth_import_person *p;
        if (t >= 0) {
            p = &plan->persons[t];
            char *ns = NULL;
            if (asprintf(&ns, "%s + operator %s", p->sources, oid) < 0) {
                rc = AUTH_DIR_ENOMEM;
                goto out;
            }
            free(p->sources);
            p->sources = ns;
            const char *ol = jstr(o, "login");
            char f1[AUTH_LOGIN_MAX + 1], f2[AUTH_LOGIN_MAX + 1], e[8];
            if (ol && p->login && !(auth_login_normalize(ol, f1, e, sizeof(e)) == 0 &&
                                    auth_login_normalize(p->login, f2, e, sizeof(e)) == 0 &&
                                    strcmp(f1, f2) == 0))
                push_line(&plan->notes, &plan->nnotes, "login: operator %s logs in as \"%s\" "
                          "from now on (its old operator login \"%s\" is not kept)", oid,
                          p->login, ol);
            if (!p->email && jstr(o, "email"))
                p->email = strdup(jstr(o, "email"));
            if (jbool(o, "archived") && !p->archived) {
                push_line(&plan->notes, &plan->nnotes, "archived-operator: operator %s is "
                          "archived; person %s is imported without operator roles", oid,
                          legacy_ids[t]);
                continue;
            }
        } else {
            p = &plan->persons[plan->npersons];
            auth_uuid_from_name(NS_OPERATOR, oid, p->id);
            const char *login = jstr(o, "login") ? jstr(o, "login") : jstr(o, "email");
            p->login = login ? strdup(login) : NULL;
            p->email = jstr(o, "email") ? strdup(jstr(o, "email")) : NULL;
            p->name = person_name(o);
            p->archived = jbool(o, "archived");
            p->generated = true;    /* both flags stay off */
            if (asprintf(&p->sources, "operator %s (generated person)", oid) < 0) {
                p->sources = NULL;
                rc = AUTH_DIR_ENOMEM;
                goto out;
            }
            if (!person_valid(plan, p))
                excluded[plan->npersons] = 1;
            plan->npersons++;
        }
        if ((rc = add_role(p, "operator")))
            goto out;
        if (jbool(o, "application_manager") && (rc = add_role(p, "application_manager")))
            goto out;
        const json_t *groups = json_object_get(o, "groups"), *g;
        size_t gi;
        json_array_foreach(groups, gi, g) {
            char role[AUTH_ROLE_MAX + 8];
            if (!json_string_value(g) || group_role(json_string_value(g), role, sizeof(role))) {
                push_line(&plan->notes, &plan->nnotes, "group: operator %s group \"%s\" has no "
                          "usable name; skipped", oid, json_string_value(g) ? json_string_value(g) : "?");
                continue;
            }
            if ((rc = add_role(p, role)))
                goto out;
        }
    }
    /* 3. duplicate logins / emails among the resulting persons: exclude every one involved */
    for (int pass = 0; pass < 2; pass++) {
        struct kv *v = calloc(plan->npersons + 1, sizeof(*v));
        size_t nv = 0;
        if (!v) {
            rc = AUTH_DIR_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < plan->npersons; i++) {
            char *f = excluded[i] ? NULL : folded(&plan->persons[i], pass);
            if (f)
                v[nv++] = (struct kv){ f, i };
        }
        qsort(v, nv, sizeof(*v), kv_cmp);
        for (size_t a = 0; a < nv;) {
            size_t b = a + 1;
            while (b < nv && strcmp(v[a].key, v[b].key) == 0)
                b++;
            if (b - a > 1) {
                push_line(&plan->conflicts, &plan->nconflicts, "duplicate-%s: \"%s\" is used by "
                          "%s and %s; neither imported", pass == 0 ? "login" : "email", v[a].key,
                          plan->persons[v[a].idx].sources, plan->persons[v[a + 1].idx].sources);
                for (size_t c = a + 2; c < b; c++)
                    push_line(&plan->conflicts, &plan->nconflicts, "duplicate-%s: \"%s\" is "
                              "also used by %s; not imported", pass == 0 ? "login" : "email",
                              v[a].key, plan->persons[v[c].idx].sources);
                for (size_t c = a; c < b; c++)
                    excluded[v[c].idx] = 2;
            }
            a = b;
        }
        kv_free(v, nv);
    }
    /* compact: drop excluded persons */
    size_t k = 0;
    for (size_t i = 0; i < plan->npersons; i++) {
        if (excluded[i]) {
            person_clear(&plan->persons[i]);
            continue;
        }
        plan->persons[k++] = plan->persons[i];
    }
    plan->npersons = k;

    /* 4. API accounts and system accounts: no person card, ever */
    plan->api = calloc(plan->in_api + 1, sizeof(*plan->api));
    plan->sys = calloc(plan->in_sys + 1, sizeof(*plan->sys));
    if (!plan->api || !plan->sys) {
        rc = AUTH_DIR_ENOMEM;
        goto out;
    }
    for (int kind = 0; kind < 2; kind++) {
        const json_t *arr = kind == 0 ? ja : js;
        struct auth_import_account *v = kind == 0 ? plan->api : plan->sys;
        size_t *n = kind == 0 ? &plan->napi : &plan->nsys;
        json_array_foreach(arr, idx, o) {
            const char *lid = jstr(o, "id");
            const char *nm = kind == 0 ? (jstr(o, "login") ? jstr(o, "login") : lid)
                                       : (jstr(o, "name") ? jstr(o, "name") : lid);
            char *id = nm ? account_id(nm) : NULL;
            if (!id) {
                push_line(&plan->conflicts, &plan->nconflicts, "invalid: %s account %s has no "
                          "usable name", kind == 0 ? "api" : "system", lid ? lid : "?");
                continue;
            }
            bool dup = false;
            for (size_t i = 0; i < *n && !dup; i++)
                dup = strcmp(v[i].id, id) == 0;
            if (dup) {
                push_line(&plan->conflicts, &plan->nconflicts, "duplicate-%s: \"%s\" is used "
                          "by more than one %s account; only the first is imported",
                          kind == 0 ? "client-id" : "name", id, kind == 0 ? "api" : "system");
                free(id);
                continue;
            }
            struct auth_import_account *a = &v[*n];
            a->id = id;
            const char *note = kind == 0 ? jstr(o, "note") : jstr(o, "description");
            a->note = strdup(note ? note : "");
            if (asprintf(&a->source, "%s account %s", kind == 0 ? "api" : "system",
                         lid ? lid : id) < 0)
                a->source = NULL;
            const json_t *sc = json_object_get(o, "scopes"), *s;
            size_t si;
            a->scopes = calloc(json_array_size(sc) + 1, sizeof(*a->scopes));
            json_array_foreach(sc, si, s) {
                char e[8];
                const char *sv = json_string_value(s);
                if (sv && auth_scope_check(sv, e, sizeof(e)) == 0)
                    a->scopes[a->nscopes++] = strdup(sv);
            }
            (*n)++;
            if (!a->note || !a->source || !a->scopes) {
                rc = AUTH_DIR_ENOMEM;
                goto out;
            }
        }
    }
out:
    nbyid_free = byid ? plan->in_persons : 0;
    nbyemail_free = byemail ? plan->in_persons : 0;
    for (size_t i = 0; i < nbyid_free; i++)
        free(byid[i].key);
    for (size_t i = 0; i < nbyemail_free; i++)
        free(byemail[i].key);
    free(byid);
    free(byemail);
    free(legacy_ids);
    free(links);
    free(excluded);
    free(op_target);
    if (rc) {
        auth_import_plan_free(plan);
        return rc;
    }
    *out = plan;
    return 0;
}

static void emit(auth_import_line_fn *fn, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void emit(auth_import_line_fn *fn, void *arg, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (fn)
        fn(arg, line);
}

static bool is_fatal(int rc)
{
    return rc == AUTH_DIR_EREDIS || rc == AUTH_DIR_ENOMEM || rc == AUTH_DIR_ECORRUPT ||
           rc == AUTH_DIR_ESCHEMA;
}

/* Would creating <p> collide with someone else in the live directory? Used by dry runs (a
 * real run lets the create script decide atomically). Returns 0, ECONFLICT or an error. */
static int live_conflict(struct auth_dir *d, const struct auth_import_person *p, char *err,
                         size_t errlen)
{
    struct auth_person *o = NULL;
    int rc = auth_person_get_by_login(d, p->login, &o, err, errlen);
    if (rc == 0) {
        snprintf(err, errlen, "the login name is already taken by another person");
        auth_person_free(o);
        return AUTH_DIR_ECONFLICT;
    }
    if (rc != AUTH_DIR_ENOTFOUND)
        return rc;
    if (p->email) {
        rc = auth_person_get_by_email(d, p->email, &o, err, errlen);
        if (rc == 0) {
            snprintf(err, errlen, "the email address is already taken by another person");
            auth_person_free(o);
            return AUTH_DIR_ECONFLICT;
        }
        if (rc != AUTH_DIR_ENOTFOUND)
            return rc;
    }
    return 0;
}

int auth_import_apply(struct auth_dir *d, const struct auth_import_plan *plan, bool dry_run,
                      auth_import_line_fn *fn, void *arg, struct auth_import_stats *st,
                      char *err, size_t errlen)
{
    const char *w = dry_run ? "would " : "";
    memset(st, 0, sizeof(*st));
    st->conflicts = plan->nconflicts;
    for (size_t i = 0; i < plan->nconflicts; i++)
        emit(fn, arg, "conflict %s", plan->conflicts[i]);
    for (size_t i = 0; i < plan->nnotes; i++)
        emit(fn, arg, "note %s", plan->notes[i]);

    for (size_t i = 0; i < plan->npersons; i++) {
        const struct auth_import_person *p = &plan->persons[i];
        struct auth_person *cur = NULL;
        char e2[300];
        int rc = auth_person_get(d, p->id, &cur, e2, sizeof(e2));
        if (rc == 0) {
            size_t granted = 0;
            for (size_t r = 0; r < p->nroles; r++) {
                if (auth_person_has_role(cur, p->roles[r]))
                    continue;
                if (cur->status == AUTH_PERSON_ANONYMIZED)
                    break;
                if (!dry_run) {
                    rc = auth_person_grant(d, p->id, p->roles[r], NULL, e2, sizeof(e2));
                    if (rc) {
                        auth_person_free(cur);
                        if (is_fatal(rc)) {
                            snprintf(err, errlen, "%s", e2);
                            return rc;
                        }
                        emit(fn, arg, "conflict grant: %s: %s", p->sources, e2);
                        st->conflicts++;
                        goto next_person;
                    }
                }
                emit(fn, arg, "%sgrant person %s (%s) role %s", w, p->id, p->login, p->roles[r]);
                granted++;
                st->granted_roles++;
            }
            if (!granted)
                st->unchanged_persons++;
            auth_person_free(cur);
            continue;
        }
        if (rc != AUTH_DIR_ENOTFOUND) {
            snprintf(err, errlen, "%s", e2);
            return rc;
        }
        if (dry_run) {
            rc = live_conflict(d, p, e2, sizeof(e2));
        } else {
            struct auth_person_input in = {
                .id = p->id, .login = p->login, .email = p->email, .name = p->name,
                .ssp_access = p->ssp_access, .is_caller = p->is_caller,
                .roles = (const char *const *)p->roles, .nroles = p->nroles,
                .archived = p->archived,
            };
            rc = auth_person_create(d, &in, NULL, e2, sizeof(e2));
        }
        if (rc) {
            if (is_fatal(rc)) {
                snprintf(err, errlen, "%s", e2);
                return rc;
            }
            emit(fn, arg, "conflict directory: %s: %s", p->sources, e2);
            st->conflicts++;
            continue;
        }
        char *roles = dir_join(p->roles, p->nroles, ',');
        emit(fn, arg, "%screate person %s login=%s roles=%s ssp=%s caller=%s%s (from %s)", w,
             p->id, p->login, roles && *roles ? roles : "-", p->ssp_access ? "on" : "off",
             p->is_caller ? "on" : "off", p->archived ? " archived" : "", p->sources);
        free(roles);
        if (p->generated)
            st->generated_persons++;
        else
            st->created_persons++;
next_person:;
    }
    for (int kind = 0; kind < 2; kind++) {
        const struct auth_import_account *v = kind == 0 ? plan->api : plan->sys;
        size_t n = kind == 0 ? plan->napi : plan->nsys;
        for (size_t i = 0; i < n; i++) {
            const struct auth_import_account *a = &v[i];
            char e2[300];
            int rc;
            if (kind == 0) {
                struct auth_api_account *cur = NULL;
                rc = auth_api_account_get(d, a->id, &cur, e2, sizeof(e2));
                auth_api_account_free(cur);
            } else {
                struct auth_system_account *cur = NULL;
                rc = auth_system_account_get(d, a->id, &cur, e2, sizeof(e2));
                auth_system_account_free(cur);
            }
            if (rc == 0) {
                st->unchanged_accounts++;
                continue;
            }
            if (rc != AUTH_DIR_ENOTFOUND) {
                snprintf(err, errlen, "%s", e2);
                return rc;
            }
            if (!dry_run) {
                rc = kind == 0
                     ? auth_api_account_create(d, a->id, a->note, (const char *const *)a->scopes,
                                               a->nscopes, NULL, NULL, e2, sizeof(e2))
                     : auth_system_account_create(d, a->id, a->note,
                                                  (const char *const *)a->scopes, a->nscopes,
                                                  e2, sizeof(e2));
                if (rc) {
                    if (is_fatal(rc)) {
                        snprintf(err, errlen, "%s", e2);
                        return rc;
                    }
                    emit(fn, arg, "conflict directory: %s: %s", a->source, e2);
                    st->conflicts++;
                    continue;
                }
            }
            emit(fn, arg, "%screate %s %s (from %s%s)", w,
                 kind == 0 ? "api-account" : "system-account", a->id, a->source,
                 kind == 0 ? "; no secret yet: run api-account rotate" : "");
            if (kind == 0)
                st->created_api++;
            else
                st->created_sys++;
        }
    }
    emit(fn, arg, "summary: %spersons created %zu, persons generated for operators %zu, roles "
         "granted %zu, unchanged persons %zu, api accounts created %zu, system accounts created "
         "%zu, unchanged accounts %zu, conflicts %zu", dry_run ? "(dry run) " : "",
         st->created_persons, st->generated_persons, st->granted_roles, st->unchanged_persons,
         st->created_api, st->created_sys, st->unchanged_accounts, st->conflicts);
    return 0;
}
