/* auth/directory.h — the One User directory in Redis: person cards (the leading card), roles
 * and flags, API accounts and system accounts, and their lifecycle.
 *
 * Blocking API over one auth_redis (redis_client.h): call it from onegatectl or a work-pool
 * thread, never from an event loop. An auth_dir is not thread-safe; give each thread its own
 * (auth_dir_open is cheap). The Redis layout, scripts and events are in docs/DATA-MODEL.md.
 *
 * Conventions: functions return 0 or a negative AUTH_DIR_E* and write one human sentence to
 * <err> (never a password or secret). Objects returned through out-parameters are new and
 * owned by the caller (free with the matching *_free).
 */
#ifndef ONEGATE_AUTH_DIRECTORY_H
#define ONEGATE_AUTH_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/ident.h"
#include "auth/password.h"
#include "auth/redis_client.h"
#include "auth/secret.h"

#define AUTH_DIR_SCHEMA_VERSION 1
#define AUTH_DIR_AUDIT_MAX 200          /* entries kept per person / per account keyspace */
#define AUTH_DIR_LIST_MAX 500           /* page size cap for listings */

enum auth_dir_err {
    AUTH_DIR_OK = 0,
    AUTH_DIR_EINVAL = -1,       /* a value failed validation (HTTP 422) */
    AUTH_DIR_ENOTFOUND = -2,    /* no such person/account (404) */
    AUTH_DIR_ECONFLICT = -3,    /* login/email/id already taken (409) */
    AUTH_DIR_ESTATE = -4,       /* not allowed in the record's current status (409) */
    AUTH_DIR_EVERSION = -5,     /* expected version did not match (409) */
    AUTH_DIR_EREFUSED = -6,     /* the model forbids it, e.g. deleting an operator alone (422) */
    AUTH_DIR_EREDIS = -7,       /* Redis unreachable or failed; nothing or all was written (503) */
    AUTH_DIR_ENOMEM = -8,
    AUTH_DIR_ESCHEMA = -9,      /* the stored schema is newer than this binary */
    AUTH_DIR_EDENIED = -10,     /* credentials did not verify (401) */
    AUTH_DIR_ECORRUPT = -11,    /* a key holds an unexpected type; nothing was written (500) */
};

/* Maps an AUTH_DIR_E* code to the HTTP status the admin API answers with. */
int auth_dir_http_status(int rc);
/* Short machine name of a code ("not_found", "conflict", ...). */
const char *auth_dir_err_name(int rc);

struct auth_dir_opts {
    struct auth_pw_params pw;   /* zero = defaults */
    const char *actor;          /* written into audit entries, e.g. "cli:root"; no PII */
    uint32_t api_rotate_overlap_ms; /* default overlap for secret rotation; default 0 */
    bool no_schema_write;       /* check the schema version but never stamp or migrate
                                 * (dry runs: write nothing at all) */
};

struct auth_dir;

/* Opens the directory over <r> (borrowed; must outlive the directory). Checks the schema
 * version key: an empty Redis is stamped with AUTH_DIR_SCHEMA_VERSION, an older schema is
 * migrated, a newer one is refused (AUTH_DIR_ESCHEMA). */
int auth_dir_open(struct auth_redis *r, const struct auth_dir_opts *opts,
                  struct auth_dir **out, char *err, size_t errlen);
void auth_dir_free(struct auth_dir *d);
void auth_dir_set_actor(struct auth_dir *d, const char *actor);
struct auth_redis *auth_dir_redis(struct auth_dir *d);
const struct auth_pw_params *auth_dir_pw_params(const struct auth_dir *d);

/* Schema version stored in Redis (0 when unstamped), or a negative AUTH_DIR_E*. */
int auth_dir_schema_version(struct auth_dir *d, char *err, size_t errlen);

/* ---- key names other modules share (new strings, caller frees; NULL on ENOMEM) ---- */
/* The set of session keys of a person. The sessions module SADDs the full key name of every
 * session it creates; revocation deletes every member (only names under the key prefix). */
char *auth_dir_key_person_sessions(const struct auth_dir *d, const char *person_id);
/* The set of token-record keys of a person (same contract as sessions). */
char *auth_dir_key_person_tokens(const struct auth_dir *d, const char *person_id);
/* The set of token-record keys of an API account. */
char *auth_dir_key_api_tokens(const struct auth_dir *d, const char *client_id);
/* Login throttle key for a folded login name or email; anonymize/delete remove these. */
char *auth_dir_key_throttle(const struct auth_dir *d, const char *folded_login);
/* Pub/sub channel for change and revocation events: "<prefix>events". */
char *auth_dir_events_channel(const struct auth_dir *d);

/* ---- persons ---- */

enum auth_person_status {
    AUTH_PERSON_ACTIVE = 0,
    AUTH_PERSON_ARCHIVED,
    AUTH_PERSON_ANONYMIZED,
};
const char *auth_person_status_name(enum auth_person_status s);

struct auth_person {
    char id[AUTH_UUID_LEN + 1];
    char *login;                /* as entered; "" once anonymized */
    char *email;                /* "" when none */
    char *name;
    char *pwhash;               /* "" when no password is set */
    bool ssp_access;
    bool is_caller;
    char **roles;               /* sorted, unique */
    size_t nroles;
    enum auth_person_status status;
    long long created_ms;
    long long updated_ms;
    unsigned long long version; /* bumped by every write */
};

void auth_person_free(struct auth_person *p);
bool auth_person_has_role(const struct auth_person *p, const char *role);
/* JSON view for the admin API and CLI (no password hash; "has_password" instead). New
 * reference. */
json_t *auth_person_to_json(const struct auth_person *p);

struct auth_person_input {
    const char *id;             /* NULL = new random UUID; else a UUID (the importer's) */
    const char *login;
    const char *email;          /* NULL or "" = none */
    const char *name;           /* NULL = the login */
    const char *password;       /* NULL = no password (cannot log in until one is set) */
    const char *pwhash;         /* a ready argon2id hash instead of <password>; or NULL */
    bool ssp_access;            /* automatic paths leave both flags off */
    bool is_caller;
    const char *const *roles;
    size_t nroles;
    bool archived;              /* create in status archived (legacy import) */
};

/* Creates a person. AUTH_DIR_ECONFLICT when the id, login or email is taken; EINVAL on a bad
 * value. On success *out (may be NULL if not wanted) holds the stored card. */
int auth_person_create(struct auth_dir *d, const struct auth_person_input *in,
                       struct auth_person **out, char *err, size_t errlen);

struct auth_person_patch {
    const char *login;          /* NULL = unchanged */
    const char *email;          /* NULL = unchanged, "" = clear */
    const char *name;
    const char *password;       /* NULL = unchanged */
    int ssp_access;             /* -1 unchanged, 0 clear, 1 set */
    int is_caller;
    unsigned long long expected_version; /* 0 = any */
};
#define AUTH_PERSON_PATCH_INIT { .ssp_access = -1, .is_caller = -1 }

/* Applies <patch> to an active or archived person. ESTATE on an anonymized person. */
int auth_person_update(struct auth_dir *d, const char *id, const struct auth_person_patch *patch,
                       struct auth_person **out, char *err, size_t errlen);
int auth_person_grant(struct auth_dir *d, const char *id, const char *role,
                      struct auth_person **out, char *err, size_t errlen);
/* Revoking "operator" also removes the person's operator groups. */
int auth_person_revoke_role(struct auth_dir *d, const char *id, const char *role,
                            struct auth_person **out, char *err, size_t errlen);

int auth_person_get(struct auth_dir *d, const char *id, struct auth_person **out,
                    char *err, size_t errlen);
int auth_person_get_by_login(struct auth_dir *d, const char *login, struct auth_person **out,
                             char *err, size_t errlen);
int auth_person_get_by_email(struct auth_dir *d, const char *email, struct auth_person **out,
                             char *err, size_t errlen);
/* By id, then login, then email: what the CLI accepts as "<person>". */
int auth_person_find(struct auth_dir *d, const char *ref, struct auth_person **out,
                     char *err, size_t errlen);

/* What a revoking call removed before it returned. */
struct auth_revocation {
    size_t sessions;
    size_t tokens;
};

/* Delete: removes the card (and so every role, the operator role included), its indexes and
 * audit trail, deletes every session and token in the person's index keys and publishes a
 * revocation event — all before returning. */
int auth_person_delete(struct auth_dir *d, const char *id, unsigned long long expected_version,
                       struct auth_revocation *rev, char *err, size_t errlen);
/* Archive: keeps the card, leaves login/search, revokes all sessions and tokens. */
int auth_person_archive(struct auth_dir *d, const char *id, struct auth_revocation *rev,
                        char *err, size_t errlen);
/* Unarchive: login works again (old sessions stay revoked). ECONFLICT if the login or email
 * was taken meanwhile. */
int auth_person_unarchive(struct auth_dir *d, const char *id, char *err, size_t errlen);
/* Anonymize (irreversible): login/email/name replaced by a pseudonym, password, roles and
 * flags cleared, sessions/tokens revoked, throttle keys and audit trail scrubbed. */
int auth_person_anonymize(struct auth_dir *d, const char *id, struct auth_revocation *rev,
                          char *err, size_t errlen);

/* "Delete the operator" is not an operation: always fails with AUTH_DIR_EREFUSED and a
 * sentence naming the person to delete or the role to revoke (ENOTFOUND if <ref> names
 * nobody). */
int auth_operator_delete(struct auth_dir *d, const char *ref, char *err, size_t errlen);

struct auth_person_page {
    struct auth_person **items;
    size_t n;
    char *next_cursor;          /* NULL on the last page; opaque, pass back as <cursor> */
};
void auth_person_page_free(struct auth_person_page *pg);

enum auth_person_list_scope {
    AUTH_LIST_ACTIVE = 0,       /* active persons, by login (what search serves) */
    AUTH_LIST_ALL,              /* every card incl. archived/anonymized, by id (admin) */
};

/* Lists persons, <limit> (1..AUTH_DIR_LIST_MAX) per page. With <query> (prefix of a login,
 * email or any word of the name, case-insensitive ASCII) only active persons match. API and
 * system accounts live in other keyspaces and are never returned. */
int auth_person_list(struct auth_dir *d, enum auth_person_list_scope scope, const char *query,
                     const char *cursor, size_t limit, struct auth_person_page *out,
                     char *err, size_t errlen);

/* Session keys in the person's index (new array of new strings; free with
 * auth_strv_free). */
int auth_person_sessions(struct auth_dir *d, const char *id, char ***keys, size_t *n,
                         char *err, size_t errlen);
/* Revokes one session (<session_key> as listed) or all (NULL), deleting the session keys
 * and publishing a revocation event before returning. */
int auth_person_sessions_revoke(struct auth_dir *d, const char *id, const char *session_key,
                                struct auth_revocation *rev, char *err, size_t errlen);

/* Audit trail of a person, newest first (JSON array, new reference). */
int auth_person_audit(struct auth_dir *d, const char *id, json_t **out, char *err, size_t errlen);

void auth_strv_free(char **v, size_t n);

/* ---- API accounts (own keyspace; never persons) ---- */

struct auth_api_account {
    char *client_id;
    char *note;                 /* owner note */
    char **scopes;
    size_t nscopes;
    bool disabled;
    bool has_secret;
    long long prev_secret_until_ms; /* 0 = no old secret valid */
    long long created_ms;
    long long updated_ms;
    unsigned long long version;
};
void auth_api_account_free(struct auth_api_account *a);
json_t *auth_api_account_to_json(const struct auth_api_account *a);

/* Creates an account; <client_id> NULL = generated ("api-" + 16 hex). When <secret_out> is
 * non-NULL a new secret is generated, stored hashed and written there (shown once); with
 * NULL the account has no usable secret until rotated. */
int auth_api_account_create(struct auth_dir *d, const char *client_id, const char *note,
                            const char *const *scopes, size_t nscopes,
                            char secret_out[AUTH_SECRET_TEXT_MAX],
                            struct auth_api_account **out, char *err, size_t errlen);
int auth_api_account_get(struct auth_dir *d, const char *client_id,
                         struct auth_api_account **out, char *err, size_t errlen);
/* New secret into <secret_out>; the old one keeps working for <overlap_ms> (0 = stops at
 * once, and its tokens are revoked at once). */
int auth_api_account_rotate(struct auth_dir *d, const char *client_id, uint32_t overlap_ms,
                            char secret_out[AUTH_SECRET_TEXT_MAX],
                            struct auth_revocation *rev, char *err, size_t errlen);
/* Disable (revokes tokens) / enable. */
int auth_api_account_set_disabled(struct auth_dir *d, const char *client_id, bool disabled,
                                  struct auth_revocation *rev, char *err, size_t errlen);
int auth_api_account_delete(struct auth_dir *d, const char *client_id,
                            struct auth_revocation *rev, char *err, size_t errlen);
/* Checks a presented secret in constant time (against the current secret and, within the
 * overlap, the previous one). 0 when valid and the account is enabled; AUTH_DIR_EDENIED
 * otherwise (unknown accounts cost the same HMAC). *out optional. */
int auth_api_account_verify(struct auth_dir *d, const char *client_id, const char *secret,
                            struct auth_api_account **out, char *err, size_t errlen);
/* Page through accounts by client id. <*items> new array; free each and the array. */
int auth_api_account_list(struct auth_dir *d, const char *cursor, size_t limit,
                          struct auth_api_account ***items, size_t *n, char **next_cursor,
                          char *err, size_t errlen);

/* ---- system accounts (built-in service identities: no person card, no SSP) ---- */

struct auth_system_account {
    char *name;
    char *description;
    char **scopes;
    size_t nscopes;
    long long created_ms;
    unsigned long long version;
};
void auth_system_account_free(struct auth_system_account *s);
json_t *auth_system_account_to_json(const struct auth_system_account *s);
int auth_system_account_create(struct auth_dir *d, const char *name, const char *description,
                               const char *const *scopes, size_t nscopes,
                               char *err, size_t errlen);
int auth_system_account_get(struct auth_dir *d, const char *name,
                            struct auth_system_account **out, char *err, size_t errlen);
int auth_system_account_delete(struct auth_dir *d, const char *name,
                               struct auth_revocation *rev, char *err, size_t errlen);
int auth_system_account_list(struct auth_dir *d, struct auth_system_account ***items,
                             size_t *n, char *err, size_t errlen);

#endif
