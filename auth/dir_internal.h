/* auth/dir_internal.h — shared between the directory's source files (dir_core.c, person.c,
 * api_account.c, system_account.c). Not for other modules. */
#ifndef ONEGATE_AUTH_DIR_INTERNAL_H
#define ONEGATE_AUTH_DIR_INTERNAL_H

#include "auth/directory.h"

struct auth_dir {
    struct auth_redis *r;               /* borrowed */
    struct auth_pw_params pw;
    uint32_t api_overlap_ms;
    bool no_schema_write;
    char actor[96];
    /* fixed key names, built once */
    char *k_idx_login, *k_idx_email, *k_idx_active, *k_idx_terms, *k_idx_all;
    char *k_version, *k_schema, *k_debug, *k_events;
    char *k_api_idx, *k_api_key, *k_api_audit, *k_sys_idx, *k_sys_audit;
    bool have_hmac_key;
    unsigned char hmac_key[AUTH_SECRET_KEY_BYTES];
};

/* Lua sources (dir_scripts.c). */
extern struct auth_redis_script auth_dir_script_person_put;
extern struct auth_redis_script auth_dir_script_person_delete;
extern struct auth_redis_script auth_dir_script_person_get_by;
extern struct auth_redis_script auth_dir_script_sessions_revoke;
extern struct auth_redis_script auth_dir_script_acct_put;
extern struct auth_redis_script auth_dir_script_acct_delete;

long long dir_now_ms(void);

/* Maps a Redis error from auth_redis_* to an AUTH_DIR_E* code. Scripts answer business
 * errors as "<CODE> <sentence>"; the sentence is left in <err>. */
int dir_map_redis_err(int redis_rc, char *err, size_t errlen);

/* Deletes every key named in the string elements of <members> that lies under our key prefix
 * (UNLINK, pipelined). Returns how many names were processed, or a negative AUTH_DIR_E*. */
long dir_unlink_members(struct auth_dir *d, const struct auth_reply *members,
                        char *err, size_t errlen);

/* PUBLISH <json> (compact) on the events channel; steals the reference. Errors are reported
 * as AUTH_DIR_EREDIS. */
int dir_publish(struct auth_dir *d, json_t *event, char *err, size_t errlen);

/* Loads (creating once, race-free with SET NX) the HMAC key for API secrets. */
int dir_hmac_key(struct auth_dir *d, char *err, size_t errlen);

/* Builds the start of an audit entry JSON (everything but the closing brace; the script adds
 * ',"version":N}'). New string. */
char *dir_audit_head(const struct auth_dir *d, const char *op, const char *detail);

/* Splits <s> on <sep> into a new sorted unique array of new strings. */
int dir_split(const char *s, char sep, char ***out, size_t *n);
/* Joins <v> with <sep> into a new string. */
char *dir_join(char *const *v, size_t n, char sep);

#endif

/* ---- accounts (api_account.c), shared with system_account.c ---- */
struct dir_acct_space {
    const char *tag;            /* "{api}" or "{sys}" */
    const char *kind;           /* "api_account" or "system_account" (event type) */
    char rec;                   /* 'a' or 's': key "<prefix><tag>:<rec>:<id>" */
};
extern const struct dir_acct_space dir_space_api, dir_space_sys;

/* Writes an account card through acct_put. <fields> are name/value pairs (2*nfields
 * strings). <read_version> as for persons. With <revoke>, revoked token keys are deleted and
 * an event published. Returns 0 and the new version in *version, or AUTH_DIR_E*. */
int dir_acct_put(struct auth_dir *d, const struct dir_acct_space *sp, const char *id,
                 bool create, unsigned long long read_version, const char *op, bool revoke,
                 const char *const *fields, size_t nfields, struct auth_revocation *rev,
                 unsigned long long *version, char *err, size_t errlen);
int dir_acct_delete(struct auth_dir *d, const struct dir_acct_space *sp, const char *id,
                    struct auth_revocation *rev, char *err, size_t errlen);
/* HGETALL of an account card; ENOTFOUND when absent. */
int dir_acct_read(struct auth_dir *d, const struct dir_acct_space *sp, const char *id,
                  struct auth_reply **flat, char *err, size_t errlen);
/* Value of <field> in a flat HGETALL reply (borrowed), or NULL. */
const char *dir_flat_get(const struct auth_reply *flat, const char *field);
/* Validates scopes and joins them with spaces (new string), or NULL with <err>/<*rc>. */
char *dir_scopes_join(const char *const *scopes, size_t n, int *rc, char *err, size_t errlen);
