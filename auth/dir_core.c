/* auth/dir_core.c — directory handle, key names, schema version and migrations, and helpers
 * shared by person.c, api_account.c and system_account.c. */
#include "auth/dir_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

long long dir_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int auth_dir_http_status(int rc)
{
    switch (rc) {
    case AUTH_DIR_OK: return 200;
    case AUTH_DIR_EINVAL: return 422;
    case AUTH_DIR_ENOTFOUND: return 404;
    case AUTH_DIR_ECONFLICT: case AUTH_DIR_ESTATE: case AUTH_DIR_EVERSION: return 409;
    case AUTH_DIR_EREFUSED: return 422;
    case AUTH_DIR_EDENIED: return 401;
    case AUTH_DIR_EREDIS: return 503;
    default: return 500;
    }
}

const char *auth_dir_err_name(int rc)
{
    switch (rc) {
    case AUTH_DIR_OK: return "ok";
    case AUTH_DIR_EINVAL: return "invalid";
    case AUTH_DIR_ENOTFOUND: return "not_found";
    case AUTH_DIR_ECONFLICT: return "conflict";
    case AUTH_DIR_ESTATE: return "wrong_state";
    case AUTH_DIR_EVERSION: return "version_mismatch";
    case AUTH_DIR_EREFUSED: return "refused";
    case AUTH_DIR_EREDIS: return "storage_unavailable";
    case AUTH_DIR_ENOMEM: return "out_of_memory";
    case AUTH_DIR_ESCHEMA: return "schema_too_new";
    case AUTH_DIR_EDENIED: return "denied";
    case AUTH_DIR_ECORRUPT: return "corrupt";
    default: return "internal";
    }
}

int dir_map_redis_err(int redis_rc, char *err, size_t errlen)
{
    static const struct { const char *word; int code; } map[] = {
        { "NOTFOUND ", AUTH_DIR_ENOTFOUND }, { "CONFLICT ", AUTH_DIR_ECONFLICT },
        { "STATE ", AUTH_DIR_ESTATE }, { "VERSION ", AUTH_DIR_EVERSION },
        { "CORRUPT ", AUTH_DIR_ECORRUPT }, { "INJECTED ", AUTH_DIR_EREDIS },
    };
    if (redis_rc == AUTH_REDIS_ENOMEM)
        return AUTH_DIR_ENOMEM;
    if (redis_rc != AUTH_REDIS_EREPLY)
        return AUTH_DIR_EREDIS;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        size_t n = strlen(map[i].word);
        if (strncmp(err, map[i].word, n) == 0) {
            memmove(err, err + n, strlen(err + n) + 1);
            /* Redis may append " script: ..." context; keep only our sentence. */
            char *sc = strstr(err, " script: ");
            if (sc)
                *sc = 0;
            return map[i].code;
        }
    }
    return AUTH_DIR_EREDIS;
}

long dir_unlink_members(struct auth_dir *d, const struct auth_reply *members,
                        char *err, size_t errlen)
{
    size_t n = members ? auth_reply_len(members) : 0;
    const char *prefix = auth_redis_prefix(d->r);
    size_t plen = strlen(prefix), queued = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *k = auth_reply_str(auth_reply_elem(members, i), &len);
        /* Only keys under our prefix: an index must never make us delete foreign data. */
        if (!k || len <= plen || memcmp(k, prefix, plen) != 0)
            continue;
        const char *argv[2] = { "UNLINK", k };
        size_t lens[2] = { 6, len };
        int rc = auth_redis_append_argv(d->r, 2, argv, lens, err, errlen);
        if (rc)
            return dir_map_redis_err(rc, err, errlen);
        queued++;
    }
    int first_rc = 0;
    for (size_t i = 0; i < queued; i++) {
        struct auth_reply *rep = NULL;
        int rc = auth_redis_get_reply(d->r, &rep, err, errlen);
        auth_reply_free(rep);
        if (rc && !first_rc)
            first_rc = rc;
        if (rc == AUTH_REDIS_EIO)
            break;
    }
    if (first_rc)
        return dir_map_redis_err(first_rc, err, errlen);
    return (long)n;
}

int dir_publish(struct auth_dir *d, json_t *event, char *err, size_t errlen)
{
    char *msg = json_dumps(event, JSON_COMPACT);
    json_decref(event);
    if (!msg)
        return AUTH_DIR_ENOMEM;
    struct auth_reply *rep = NULL;
    int rc = auth_redis_cmd(d->r, &rep, err, errlen, "PUBLISH", d->k_events, msg, NULL);
    auth_reply_free(rep);
    free(msg);
    return rc ? dir_map_redis_err(rc, err, errlen) : 0;
}

int dir_hmac_key(struct auth_dir *d, char *err, size_t errlen)
{
    if (d->have_hmac_key)
        return 0;
    struct auth_reply *rep = NULL;
    int rc = auth_redis_cmd(d->r, &rep, err, errlen, "GET", d->k_api_key, NULL);
    if (rc)
        return dir_map_redis_err(rc, err, errlen);
    if (auth_reply_type(rep) == AUTH_REPLY_NIL) {
        auth_reply_free(rep);
        unsigned char k[AUTH_SECRET_KEY_BYTES];
        char hex[2 * AUTH_SECRET_KEY_BYTES + 1];
        randombytes_buf(k, sizeof(k));
        sodium_bin2hex(hex, sizeof(hex), k, sizeof(k));
        sodium_memzero(k, sizeof(k));
        rc = auth_redis_cmd(d->r, &rep, err, errlen, "SET", d->k_api_key, hex, "NX", NULL);
        sodium_memzero(hex, sizeof(hex));
        auth_reply_free(rep);
        if (rc)
            return dir_map_redis_err(rc, err, errlen);
        rc = auth_redis_cmd(d->r, &rep, err, errlen, "GET", d->k_api_key, NULL);
        if (rc)
            return dir_map_redis_err(rc, err, errlen);
    }
    size_t len = 0;
    const char *hex = auth_reply_str(rep, &len);
    size_t bin_len = 0;
    int ok = hex && len == 2 * AUTH_SECRET_KEY_BYTES &&
             sodium_hex2bin(d->hmac_key, sizeof(d->hmac_key), hex, len, NULL, &bin_len, NULL) == 0 &&
             bin_len == AUTH_SECRET_KEY_BYTES;
    auth_reply_free(rep);
    if (!ok) {
        snprintf(err, errlen, "the API secret key in Redis is malformed");
        return AUTH_DIR_ECORRUPT;
    }
    d->have_hmac_key = true;
    return 0;
}

char *dir_audit_head(const struct auth_dir *d, const char *op, const char *detail)
{
    json_t *o = json_pack("{s:I,s:s,s:s}", "ts", (json_int_t)dir_now_ms(), "op", op,
                          "actor", d->actor);
    if (!o)
        return NULL;
    if (detail)
        json_object_set_new(o, "detail", json_string(detail));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s)
        s[strlen(s) - 1] = 0;   /* drop '}' : the script appends the version */
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void auth_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int dir_split(const char *s, char sep, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!s || !*s)
        return 0;
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == sep;
    char **v = calloc(cap, sizeof(*v));
    if (!v)
        return AUTH_DIR_ENOMEM;
    size_t k = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == sep || *p == 0) {
            if (p > start) {
                v[k] = strndup(start, (size_t)(p - start));
                if (!v[k]) {
                    auth_strv_free(v, k);
                    return AUTH_DIR_ENOMEM;
                }
                k++;
            }
            if (*p == 0)
                break;
            start = p + 1;
        }
    }
    qsort(v, k, sizeof(*v), cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u > 0 && strcmp(v[u - 1], v[i]) == 0) {
            free(v[i]);
            continue;
        }
        v[u++] = v[i];
    }
    *out = v;
    *n = u;
    return 0;
}

char *dir_join(char *const *v, size_t n, char sep)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    *p = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = sep;
        size_t l = strlen(v[i]);
        memcpy(p, v[i], l);
        p += l;
        *p = 0;
    }
    return s;
}

/* ---- schema version and migrations ---- */

/* A migration brings the stored layout from <from> to <from>+1 and stamps the new version.
 * Version 0 is "data written before the schema key existed" (none shipped); the table is
 * where the next layout change adds its step. */
typedef int migration_fn(struct auth_dir *d, char *err, size_t errlen);

static int migrate_0_to_1(struct auth_dir *d, char *err, size_t errlen)
{
    (void)d; (void)err; (void)errlen;
    return 0;   /* the layout of version 1 is the first; nothing to rewrite */
}

static const struct { int from; migration_fn *fn; } migrations[] = {
    { 0, migrate_0_to_1 },
};

int auth_dir_schema_version(struct auth_dir *d, char *err, size_t errlen)
{
    struct auth_reply *rep = NULL;
    int rc = auth_redis_cmd(d->r, &rep, err, errlen, "GET", d->k_schema, NULL);
    if (rc)
        return dir_map_redis_err(rc, err, errlen);
    int v = 0;
    const char *s = auth_reply_str(rep, NULL);
    if (s)
        v = atoi(s);
    auth_reply_free(rep);
    return v;
}

static int schema_check(struct auth_dir *d, char *err, size_t errlen)
{
    int v = auth_dir_schema_version(d, err, errlen);
    if (v < 0)
        return v;
    if (v > AUTH_DIR_SCHEMA_VERSION) {
        snprintf(err, errlen, "the directory in Redis has schema version %d, but this onegate "
                 "knows only up to %d: upgrade onegate", v, AUTH_DIR_SCHEMA_VERSION);
        return AUTH_DIR_ESCHEMA;
    }
    char ver[16];
    if (d->no_schema_write)
        return 0;
    while (v < AUTH_DIR_SCHEMA_VERSION) {
        for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
            if (migrations[i].from != v)
                continue;
            int rc = migrations[i].fn(d, err, errlen);
            if (rc)
                return rc;
        }
        v++;
        snprintf(ver, sizeof(ver), "%d", v);
        struct auth_reply *rep = NULL;
        int rc = auth_redis_cmd(d->r, &rep, err, errlen, "SET", d->k_schema, ver, NULL);
        auth_reply_free(rep);
        if (rc)
            return dir_map_redis_err(rc, err, errlen);
    }
    return 0;
}

static char *key(struct auth_dir *d, const char *tail)
{
    return auth_redis_key(d->r, "%s", tail);
}

int auth_dir_open(struct auth_redis *r, const struct auth_dir_opts *opts,
                  struct auth_dir **out, char *err, size_t errlen)
{
    *out = NULL;
    if (auth_password_init() != 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return AUTH_DIR_ENOMEM;
    }
    struct auth_dir *d = calloc(1, sizeof(*d));
    if (!d)
        return AUTH_DIR_ENOMEM;
    d->r = r;
    d->pw = auth_password_default_params();
    if (opts && opts->pw.memory_kib)
        d->pw = opts->pw;
    if (auth_password_params_check(&d->pw, err, errlen)) {
        free(d);
        return AUTH_DIR_EINVAL;
    }
    d->api_overlap_ms = opts ? opts->api_rotate_overlap_ms : 0;
    d->no_schema_write = opts && opts->no_schema_write;
    auth_dir_set_actor(d, opts && opts->actor ? opts->actor : "system");
    d->k_idx_login = key(d, "{dir}:idx:login");
    d->k_idx_email = key(d, "{dir}:idx:email");
    d->k_idx_active = key(d, "{dir}:idx:active");
    d->k_idx_terms = key(d, "{dir}:idx:terms");
    d->k_idx_all = key(d, "{dir}:idx:all");
    d->k_version = key(d, "{dir}:version");
    d->k_schema = key(d, "{dir}:schema");
    d->k_debug = key(d, "{dir}:debug:fail");
    d->k_events = key(d, "events");
    d->k_api_idx = key(d, "{api}:idx");
    d->k_api_key = key(d, "{api}:hmac_key");
    d->k_api_audit = key(d, "{api}:audit");
    d->k_sys_idx = key(d, "{sys}:idx");
    d->k_sys_audit = key(d, "{sys}:audit");
    if (!d->k_idx_login || !d->k_idx_email || !d->k_idx_active || !d->k_idx_terms ||
        !d->k_idx_all || !d->k_version || !d->k_schema || !d->k_debug || !d->k_events ||
        !d->k_api_idx || !d->k_api_key || !d->k_api_audit || !d->k_sys_idx || !d->k_sys_audit) {
        auth_dir_free(d);
        return AUTH_DIR_ENOMEM;
    }
    int rc = schema_check(d, err, errlen);
    if (rc) {
        auth_dir_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void auth_dir_free(struct auth_dir *d)
{
    if (!d)
        return;
    free(d->k_idx_login); free(d->k_idx_email); free(d->k_idx_active); free(d->k_idx_terms);
    free(d->k_idx_all); free(d->k_version); free(d->k_schema); free(d->k_debug);
    free(d->k_events); free(d->k_api_idx); free(d->k_api_key); free(d->k_api_audit);
    free(d->k_sys_idx); free(d->k_sys_audit);
    sodium_memzero(d->hmac_key, sizeof(d->hmac_key));
    free(d);
}

void auth_dir_set_actor(struct auth_dir *d, const char *actor)
{
    snprintf(d->actor, sizeof(d->actor), "%s", actor ? actor : "system");
}

struct auth_redis *auth_dir_redis(struct auth_dir *d)
{
    return d->r;
}

const struct auth_pw_params *auth_dir_pw_params(const struct auth_dir *d)
{
    return &d->pw;
}

char *auth_dir_key_person_sessions(const struct auth_dir *d, const char *person_id)
{
    return auth_redis_key(d->r, "{dir}:p:%s:sessions", person_id);
}

char *auth_dir_key_person_tokens(const struct auth_dir *d, const char *person_id)
{
    return auth_redis_key(d->r, "{dir}:p:%s:tokens", person_id);
}

char *auth_dir_key_api_tokens(const struct auth_dir *d, const char *client_id)
{
    return auth_redis_key(d->r, "{api}:a:%s:tokens", client_id);
}

char *auth_dir_key_throttle(const struct auth_dir *d, const char *folded_login)
{
    return auth_redis_key(d->r, "thr:a:%s", folded_login);
}

char *auth_dir_events_channel(const struct auth_dir *d)
{
    return strdup(d->k_events);
}
