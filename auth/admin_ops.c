/* auth/admin_ops.c — admin API operations over the directory, JSON in and out. See
 * admin_ops.h. Validation happens before any directory call, so a bad request writes
 * nothing. */
#include "auth/admin_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEG_MAX 4

json_t *auth_admin_error(const char *name, const char *detail)
{
    return json_pack("{s:s,s:s}", "error", name, "detail", detail ? detail : "");
}

static int dir_error(int rc, const char *err, json_t **out)
{
    *out = auth_admin_error(auth_dir_err_name(rc), err);
    return auth_dir_http_status(rc);
}

static int bad(int status, const char *name, const char *detail, json_t **out)
{
    *out = auth_admin_error(name, detail);
    return status;
}

/* Checks that <body> is an object whose keys are all in <allowed> (NULL-terminated). */
static int check_body(const json_t *body, const char *const *allowed, json_t **out)
{
    if (!json_is_object(body))
        return bad(400, "bad_request", "the request body must be a JSON object", out);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok) {
            char d[160];
            snprintf(d, sizeof(d), "unknown field \"%.80s\"", k);
            return bad(422, "invalid", d, out);
        }
    }
    return 0;
}

/* Optional typed fields: 0 ok (absent or right type), else an error written to *out. */
static int opt_str(const json_t *body, const char *k, const char **v, json_t **out)
{
    json_t *j = json_object_get(body, k);
    *v = NULL;
    if (!j)
        return 0;
    if (!json_is_string(j)) {
        char d[120];
        snprintf(d, sizeof(d), "\"%s\" must be a string", k);
        return bad(422, "invalid", d, out);
    }
    *v = json_string_value(j);
    return 0;
}

static int opt_bool(const json_t *body, const char *k, int *v, json_t **out)
{
    json_t *j = json_object_get(body, k);
    *v = -1;
    if (!j)
        return 0;
    if (!json_is_boolean(j)) {
        char d[120];
        snprintf(d, sizeof(d), "\"%s\" must be true or false", k);
        return bad(422, "invalid", d, out);
    }
    *v = json_is_true(j);
    return 0;
}

/* String array field into a new vector of borrowed strings. */
static int opt_strv(const json_t *body, const char *k, const char ***v, size_t *n, json_t **out)
{
    json_t *j = json_object_get(body, k), *e;
    size_t i;
    *v = NULL;
    *n = 0;
    if (!j)
        return 0;
    if (!json_is_array(j) || json_array_size(j) > 64) {
        char d[120];
        snprintf(d, sizeof(d), "\"%s\" must be an array of at most 64 strings", k);
        return bad(422, "invalid", d, out);
    }
    *v = calloc(json_array_size(j) + 1, sizeof(**v));
    if (!*v)
        return bad(500, "internal", "out of memory", out);
    json_array_foreach(j, i, e) {
        if (!json_is_string(e)) {
            free(*v);
            *v = NULL;
            char d[120];
            snprintf(d, sizeof(d), "\"%s\" must be an array of strings", k);
            return bad(422, "invalid", d, out);
        }
        (*v)[(*n)++] = json_string_value(e);
    }
    return 0;
}

/* Value of <name> in a raw query string (no decoding beyond '+' and %XX). New string. */
static char *query_get(const char *q, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            char *v = malloc(len - nl);
            size_t k = 0;
            if (!v)
                return NULL;
            for (size_t i = nl + 1; i < len; i++) {
                unsigned x;
                if (p[i] == '+')
                    v[k++] = ' ';
                else if (p[i] == '%' && i + 2 < len + 1 && sscanf(p + i + 1, "%2x", &x) == 1) {
                    v[k++] = (char)x;
                    i += 2;
                } else
                    v[k++] = p[i];
            }
            v[k] = 0;
            return v;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static json_t *revocation_json(const char *result, const struct auth_revocation *rev)
{
    return json_pack("{s:s,s:I,s:I}", "result", result, "revoked_sessions",
                     (json_int_t)rev->sessions, "revoked_tokens", (json_int_t)rev->tokens);
}

static int person_reply(struct auth_dir *d, int rc, struct auth_person *p, const char *err,
                        int ok_status, json_t **out)
{
    if (rc)
        return dir_error(rc, err, out);
    *out = auth_person_to_json(p);
    auth_person_free(p);
    return ok_status;
}

static int persons_collection(struct auth_dir *d, const char *method, const char *query,
                              const json_t *body, json_t **out)
{
    char err[512] = "";
    if (strcmp(method, "GET") == 0) {
        char *q = query_get(query, "q"), *cursor = query_get(query, "cursor");
        char *lim = query_get(query, "limit"), *status = query_get(query, "status");
        long limit = lim ? strtol(lim, NULL, 10) : 50;
        int st = 0;
        if (limit < 1 || limit > AUTH_DIR_LIST_MAX)
            st = bad(400, "bad_request", "limit must be 1 to 500", out);
        else if (status && strcmp(status, "all") != 0 && strcmp(status, "active") != 0)
            st = bad(400, "bad_request", "status must be active or all", out);
        else if (status && strcmp(status, "all") == 0 && q && *q)
            st = bad(400, "bad_request", "search (q) covers active persons only", out);
        if (!st) {
            struct auth_person_page pg;
            int rc = auth_person_list(d, status && strcmp(status, "all") == 0 ? AUTH_LIST_ALL
                                      : AUTH_LIST_ACTIVE, q, cursor, (size_t)limit, &pg, err,
                                      sizeof(err));
            if (rc == AUTH_DIR_EINVAL)
                st = bad(400, "bad_request", err, out);
            else if (rc)
                st = dir_error(rc, err, out);
            else {
                json_t *items = json_array();
                for (size_t i = 0; i < pg.n; i++)
                    json_array_append_new(items, auth_person_to_json(pg.items[i]));
                *out = json_pack("{s:o,s:s?}", "items", items, "next_cursor", pg.next_cursor);
                auth_person_page_free(&pg);
                st = 200;
            }
        }
        free(q);
        free(cursor);
        free(lim);
        free(status);
        return st;
    }
    if (strcmp(method, "POST") != 0)
        return bad(405, "method_not_allowed", "use GET or POST", out);
    static const char *const allowed[] = { "login", "email", "name", "password",
                                           "has_ssp_access", "is_caller", "roles", NULL };
    int st = check_body(body, allowed, out);
    const char *login, *email, *name, *password;
    int ssp, caller;
    const char **roles = NULL;
    size_t nroles = 0;
    if (st || (st = opt_str(body, "login", &login, out)) || (st = opt_str(body, "email", &email, out)) ||
        (st = opt_str(body, "name", &name, out)) || (st = opt_str(body, "password", &password, out)) ||
        (st = opt_bool(body, "has_ssp_access", &ssp, out)) ||
        (st = opt_bool(body, "is_caller", &caller, out)) ||
        (st = opt_strv(body, "roles", &roles, &nroles, out)))
        return st;
    if (!login) {
        free(roles);
        return bad(422, "invalid", "\"login\" is required", out);
    }
    struct auth_person_input in = { .login = login, .email = email, .name = name,
                                    .password = password, .ssp_access = ssp == 1,
                                    .is_caller = caller == 1, .roles = roles, .nroles = nroles };
    struct auth_person *p = NULL;
    int rc = auth_person_create(d, &in, &p, err, sizeof(err));
    free(roles);
    return person_reply(d, rc, p, err, 201, out);
}

static int person_item(struct auth_dir *d, const char *method, const char *id, const char *action,
                       const char *arg, const json_t *body, json_t **out)
{
    char err[512] = "";
    struct auth_person *p = NULL;
    struct auth_revocation rev = { 0 };
    int rc = 0;
    if (!action) {
        if (strcmp(method, "GET") == 0) {
            rc = auth_person_get(d, id, &p, err, sizeof(err));
            return person_reply(d, rc, p, err, 200, out);
        }
        if (strcmp(method, "DELETE") == 0) {
            rc = auth_person_delete(d, id, 0, &rev, err, sizeof(err));
            if (rc)
                return dir_error(rc, err, out);
            *out = revocation_json("deleted", &rev);
            return 200;
        }
        if (strcmp(method, "PATCH") != 0)
            return bad(405, "method_not_allowed", "use GET, PATCH or DELETE", out);
        static const char *const allowed[] = { "login", "email", "name", "password",
                                               "has_ssp_access", "is_caller", "version", NULL };
        struct auth_person_patch pt = AUTH_PERSON_PATCH_INIT;
        int st = check_body(body, allowed, out);
        if (st || (st = opt_str(body, "login", &pt.login, out)) ||
            (st = opt_str(body, "email", &pt.email, out)) ||
            (st = opt_str(body, "name", &pt.name, out)) ||
            (st = opt_str(body, "password", &pt.password, out)) ||
            (st = opt_bool(body, "has_ssp_access", &pt.ssp_access, out)) ||
            (st = opt_bool(body, "is_caller", &pt.is_caller, out)))
            return st;
        json_t *v = json_object_get(body, "version");
        if (v && (!json_is_integer(v) || json_integer_value(v) < 1))
            return bad(422, "invalid", "\"version\" must be a positive integer", out);
        pt.expected_version = v ? (unsigned long long)json_integer_value(v) : 0;
        rc = auth_person_update(d, id, &pt, &p, err, sizeof(err));
        return person_reply(d, rc, p, err, 200, out);
    }
    if (strcmp(action, "roles") == 0) {
        if (strcmp(method, "POST") == 0 && !arg) {
            static const char *const allowed[] = { "role", NULL };
            const char *role;
            int st = check_body(body, allowed, out);
            if (st || (st = opt_str(body, "role", &role, out)))
                return st;
            if (!role)
                return bad(422, "invalid", "\"role\" is required", out);
            rc = auth_person_grant(d, id, role, &p, err, sizeof(err));
            return person_reply(d, rc, p, err, 200, out);
        }
        if (strcmp(method, "DELETE") == 0 && arg) {
            rc = auth_person_revoke_role(d, id, arg, &p, err, sizeof(err));
            return person_reply(d, rc, p, err, 200, out);
        }
        return bad(405, "method_not_allowed", "POST roles or DELETE roles/<role>", out);
    }
    if (strcmp(action, "sessions") == 0) {
        if (strcmp(method, "GET") == 0 && !arg) {
            char **keys = NULL;
            size_t n = 0;
            rc = auth_person_sessions(d, id, &keys, &n, err, sizeof(err));
            if (rc)
                return dir_error(rc, err, out);
            json_t *arr = json_array();
            for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, json_string(keys[i]));
            auth_strv_free(keys, n);
            *out = json_pack("{s:o}", "sessions", arr);
            return 200;
        }
        if (strcmp(method, "DELETE") == 0) {
            rc = auth_person_sessions_revoke(d, id, arg, &rev, err, sizeof(err));
            if (rc)
                return dir_error(rc, err, out);
            *out = revocation_json("revoked", &rev);
            return 200;
        }
        return bad(405, "method_not_allowed", "GET or DELETE sessions", out);
    }
    if (arg)
        return bad(404, "not_found", "no such admin resource", out);
    if (strcmp(method, "POST") != 0)
        return bad(405, "method_not_allowed", "use POST", out);
    if (body && !json_is_object(body))
        return bad(400, "bad_request", "the request body must be a JSON object", out);
    if (body && json_object_size(body) > 0)
        return bad(422, "invalid", "this action takes an empty object", out);
    if (strcmp(action, "archive") == 0)
        rc = auth_person_archive(d, id, &rev, err, sizeof(err));
    else if (strcmp(action, "anonymize") == 0)
        rc = auth_person_anonymize(d, id, &rev, err, sizeof(err));
    else if (strcmp(action, "unarchive") == 0)
    {
        rc = auth_person_unarchive(d, id, err, sizeof(err));
        if (rc == 0)
            rc = auth_person_get(d, id, &p, err, sizeof(err));
        return person_reply(d, rc, p, err, 200, out);
    }
    else
        return bad(404, "not_found", "no such admin resource", out);
    if (rc)
        return dir_error(rc, err, out);
    *out = revocation_json(strcmp(action, "archive") == 0 ? "archived" : "anonymized", &rev);
    return 200;
}

static int api_reply(struct auth_dir *d, const char *id, const char *secret, json_t **out,
                     int status)
{
    char err[512];
    struct auth_api_account *a = NULL;
    int rc = auth_api_account_get(d, id, &a, err, sizeof(err));
    if (rc)
        return dir_error(rc, err, out);
    *out = auth_api_account_to_json(a);
    if (secret)
        json_object_set_new(*out, "client_secret", json_string(secret));
    auth_api_account_free(a);
    return status;
}

static int api_accounts(struct auth_dir *d, const char *method, const char *id,
                        const char *action, const char *query, const json_t *body, json_t **out)
{
    char err[512] = "", secret[AUTH_SECRET_TEXT_MAX];
    struct auth_revocation rev = { 0 };
    int rc = 0, st = 0;
    if (!id) {
        if (strcmp(method, "GET") == 0) {
            char *cursor = query_get(query, "cursor"), *lim = query_get(query, "limit");
            long limit = lim ? strtol(lim, NULL, 10) : 100;
            free(lim);
            struct auth_api_account **v = NULL;
            size_t n = 0;
            char *next = NULL;
            rc = limit < 1 || limit > AUTH_DIR_LIST_MAX ? AUTH_DIR_EINVAL
                 : auth_api_account_list(d, cursor, (size_t)limit, &v, &n, &next, err, sizeof(err));
            free(cursor);
            if (rc == AUTH_DIR_EINVAL)
                return bad(400, "bad_request", err[0] ? err : "limit must be 1 to 500", out);
            if (rc)
                return dir_error(rc, err, out);
            json_t *items = json_array();
            for (size_t i = 0; i < n; i++) {
                json_array_append_new(items, auth_api_account_to_json(v[i]));
                auth_api_account_free(v[i]);
            }
            free(v);
            *out = json_pack("{s:o,s:s?}", "items", items, "next_cursor", next);
            free(next);
            return 200;
        }
        if (strcmp(method, "POST") != 0)
            return bad(405, "method_not_allowed", "use GET or POST", out);
        static const char *const allowed[] = { "client_id", "note", "scopes", NULL };
        const char *cid, *note, **scopes = NULL;
        size_t ns = 0;
        if ((st = check_body(body, allowed, out)) || (st = opt_str(body, "client_id", &cid, out)) ||
            (st = opt_str(body, "note", &note, out)) ||
            (st = opt_strv(body, "scopes", &scopes, &ns, out)))
            return st;
        struct auth_api_account *a = NULL;
        rc = auth_api_account_create(d, cid, note, scopes, ns, secret, &a, err, sizeof(err));
        free(scopes);
        if (rc)
            return dir_error(rc, err, out);
        *out = auth_api_account_to_json(a);
        json_object_set_new(*out, "client_secret", json_string(secret));
        memset(secret, 0, sizeof(secret));
        auth_api_account_free(a);
        st = 201;
        return st;
    }
    if (!action) {
        if (strcmp(method, "GET") == 0)
            return api_reply(d, id, NULL, out, 200);
        if (strcmp(method, "DELETE") == 0) {
            rc = auth_api_account_delete(d, id, &rev, err, sizeof(err));
            if (rc)
                return dir_error(rc, err, out);
            *out = revocation_json("deleted", &rev);
            return 200;
        }
        return bad(405, "method_not_allowed", "use GET or DELETE", out);
    }
    if (strcmp(method, "POST") != 0)
        return bad(405, "method_not_allowed", "use POST", out);
    if (body && !json_is_object(body))
        return bad(400, "bad_request", "the request body must be a JSON object", out);
    if (strcmp(action, "rotate") == 0) {
        static const char *const allowed[] = { "overlap_ms", NULL };
        if (body && (st = check_body(body, allowed, out)))
            return st;
        json_t *ov = body ? json_object_get(body, "overlap_ms") : NULL;
        if (ov && (!json_is_integer(ov) || json_integer_value(ov) < 0 ||
                   json_integer_value(ov) > 7LL * 24 * 3600 * 1000))
            return bad(422, "invalid", "\"overlap_ms\" must be 0 to 604800000", out);
        rc = auth_api_account_rotate(d, id, ov ? (uint32_t)json_integer_value(ov) : 0, secret,
                                     &rev, err, sizeof(err));
        if (rc)
            return dir_error(rc, err, out);
        st = api_reply(d, id, secret, out, 200);
        memset(secret, 0, sizeof(secret));
        return st;
    }
    if (body && json_object_size(body) > 0)
        return bad(422, "invalid", "this action takes an empty object", out);
    if (strcmp(action, "disable") == 0 || strcmp(action, "enable") == 0) {
        rc = auth_api_account_set_disabled(d, id, action[0] == 'd', &rev, err, sizeof(err));
        if (rc)
            return dir_error(rc, err, out);
        return api_reply(d, id, NULL, out, 200);
    }
    return bad(404, "not_found", "no such admin resource", out);
}

int auth_admin_dispatch(struct auth_dir *d, const char *method, const char *path,
                        const char *query, const json_t *body, json_t **out)
{
    char buf[512], *seg[SEG_MAX + 1] = { 0 };
    int n = 0;
    *out = NULL;
    if (!path || strlen(path) >= sizeof(buf))
        return bad(404, "not_found", "no such admin resource", out);
    snprintf(buf, sizeof(buf), "%s", path[0] == '/' ? path + 1 : path);
    for (char *s = buf, *save = NULL, *t; (t = strtok_r(s, "/", &save)); s = NULL) {
        if (n == SEG_MAX)
            return bad(404, "not_found", "no such admin resource", out);
        seg[n++] = t;
    }
    if (n == 0)
        return bad(404, "not_found", "no such admin resource", out);
    if (strcmp(seg[0], "persons") == 0) {
        if (n == 1)
            return persons_collection(d, method, query, body, out);
        return person_item(d, method, seg[1], seg[2], seg[3], body, out);
    }
    if (strcmp(seg[0], "api-accounts") == 0 && n <= 3)
        return api_accounts(d, method, seg[1], seg[2], query, body, out);
    if (strcmp(seg[0], "operators") == 0 && n == 2) {
        char err[512];
        if (strcmp(method, "DELETE") != 0)
            return bad(405, "method_not_allowed", "operators are roles on persons; see "
                       "/persons", out);
        return dir_error(auth_operator_delete(d, seg[1], err, sizeof(err)), err, out);
    }
    return bad(404, "not_found", "no such admin resource", out);
}
