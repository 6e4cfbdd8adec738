/* auth/ident.h — validation and normalisation of identity attributes (login names, emails,
 * display names, roles, scopes, account ids) and UUIDs. Pure functions, no I/O.
 *
 * Normalisation choice: login names and emails are ASCII only and compared after ASCII case
 * folding. We do not carry Unicode tables, so instead of guessing at NFC/NFKC equivalence we
 * reject non-ASCII logins and emails outright (internationalised domains are accepted in
 * their punycode "xn--" form). Display names may be any valid UTF-8 without control
 * characters; they are not unique and are searched by ASCII-folded word prefix. */
#ifndef ONEGATE_AUTH_IDENT_H
#define ONEGATE_AUTH_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_LOGIN_MAX 128
#define AUTH_EMAIL_MAX 254
#define AUTH_NAME_MAX 200
#define AUTH_ROLE_MAX 70
#define AUTH_UUID_LEN 36

/* Validate <in> and write its folded form (lowercase) into <out> (>= AUTH_LOGIN_MAX+1 /
 * AUTH_EMAIL_MAX+1 bytes). Return 0, or -1 with a sentence in <err>. */
int auth_login_normalize(const char *in, char *out, char *err, size_t errlen);
int auth_email_normalize(const char *in, char *out, char *err, size_t errlen);

/* Display name: valid UTF-8, 1..AUTH_NAME_MAX bytes, no control characters, no leading or
 * trailing space. Returns 0 or -1 with <err>. */
int auth_name_check(const char *in, char *err, size_t errlen);

/* Roles: "operator", "application_manager", or an operator group "group:<name>" where name is
 * [a-z0-9][a-z0-9_-]{0,62}. Returns 0 or -1 with <err>. */
int auth_role_check(const char *role, char *err, size_t errlen);
bool auth_role_is_group(const char *role);

/* OAuth scope token (RFC 6749 §3.3 characters), 1..64 bytes. */
int auth_scope_check(const char *scope, char *err, size_t errlen);

/* API-account client ids and system-account names: [a-z0-9][a-z0-9._-]{2,63}. */
int auth_account_id_check(const char *id, char *err, size_t errlen);

/* Lowercase canonical UUID text (8-4-4-4-12). */
bool auth_uuid_valid(const char *s);
/* Random version-4 UUID into <out> (37 bytes). Returns 0 or -1. */
int auth_uuid_v4(char out[AUTH_UUID_LEN + 1]);
/* Name-based UUID (version 8, SHA-256 of <ns> "\0" <name>): the same input always gives the
 * same id; used to make the legacy import idempotent. */
void auth_uuid_from_name(const char *ns, const char *name, char out[AUTH_UUID_LEN + 1]);

/* ASCII lowercase copy of <in> into <out> (same length + NUL). */
void auth_ascii_fold(const char *in, char *out);

#endif
