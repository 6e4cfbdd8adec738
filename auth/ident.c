/* auth/ident.c — identity attribute validation and normalisation. See ident.h. */
#include "auth/ident.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/password.h"

void auth_ascii_fold(const char *in, char *out)
{
    size_t i = 0;
    for (; in[i]; i++) {
        char c = in[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    out[i] = 0;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int auth_login_normalize(const char *in, char *out, char *err, size_t errlen)
{
    size_t n = in ? strlen(in) : 0;
    if (n == 0 || n > AUTH_LOGIN_MAX) {
        snprintf(err, errlen, "login must be 1 to %d characters", AUTH_LOGIN_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (!(is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '@' || c == '+')) {
            snprintf(err, errlen, "login may contain only ASCII letters, digits and . _ - @ + "
                     "(non-ASCII logins are refused rather than normalised)");
            return -1;
        }
    }
    if (!is_alnum(in[0])) {
        snprintf(err, errlen, "login must start with a letter or digit");
        return -1;
    }
    auth_ascii_fold(in, out);
    return 0;
}

int auth_email_normalize(const char *in, char *out, char *err, size_t errlen)
{
    size_t n = in ? strlen(in) : 0;
    const char *at = in ? strrchr(in, '@') : NULL;
    if (n == 0 || n > AUTH_EMAIL_MAX || !at || at == in || strchr(in, '@') != at) {
        snprintf(err, errlen, "email must look like name@example.org (at most %d characters)",
                 AUTH_EMAIL_MAX);
        return -1;
    }
    size_t local = (size_t)(at - in);
    if (local > 64 || in[0] == '.' || at[-1] == '.' || strstr(in, "..")) {
        snprintf(err, errlen, "email local part is malformed");
        return -1;
    }
    for (size_t i = 0; i < local; i++) {
        char c = in[i];
        if (!(is_alnum(c) || strchr("!#$%&'*+/=?^_`{|}~.-", c))) {
            snprintf(err, errlen, "email may contain only ASCII characters (use the punycode "
                     "form for international domains)");
            return -1;
        }
    }
    const char *dom = at + 1;
    size_t dn = strlen(dom), label = 0;
    bool dot = false;
    if (dn == 0 || dom[0] == '.' || dom[dn - 1] == '.' || dom[0] == '-') {
        snprintf(err, errlen, "email domain is malformed");
        return -1;
    }
    for (size_t i = 0; i < dn; i++) {
        char c = dom[i];
        if (c == '.') {
            if (label == 0 || dom[i - 1] == '-') {
                snprintf(err, errlen, "email domain is malformed");
                return -1;
            }
            dot = true;
            label = 0;
            continue;
        }
        if (!(is_alnum(c) || c == '-') || ++label > 63 || (label == 1 && c == '-')) {
            snprintf(err, errlen, "email domain is malformed (ASCII letters, digits, hyphens)");
            return -1;
        }
    }
    if (!dot) {
        snprintf(err, errlen, "email domain needs at least one dot");
        return -1;
    }
    auth_ascii_fold(in, out);
    return 0;
}

/* Length of the UTF-8 sequence at <s> if valid (no overlongs, no surrogates, <= U+10FFFF),
 * else 0; stores the code point in <cp>. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf && (s[1] & 0xc0) == 0x80) {
        *cp = ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu);
        return 2;
    }
    if ((s[0] & 0xf0) == 0xe0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80) {
        *cp = ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
        if (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))
            return 0;
        return 3;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 &&
        (s[3] & 0xc0) == 0x80) {
        *cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) |
              (s[3] & 0x3fu);
        if (*cp < 0x10000 || *cp > 0x10ffff)
            return 0;
        return 4;
    }
    return 0;
}

int auth_name_check(const char *in, char *err, size_t errlen)
{
    size_t n = in ? strlen(in) : 0;
    if (n == 0 || n > AUTH_NAME_MAX) {
        snprintf(err, errlen, "name must be 1 to %d bytes", AUTH_NAME_MAX);
        return -1;
    }
    if (in[0] == ' ' || in[n - 1] == ' ') {
        snprintf(err, errlen, "name must not start or end with a space");
        return -1;
    }
    const unsigned char *s = (const unsigned char *)in;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t k = utf8_seq(s + i, &cp);
        if (k == 0) {
            snprintf(err, errlen, "name is not valid UTF-8");
            return -1;
        }
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 ||
            cp == 0x2029) {
            snprintf(err, errlen, "name must not contain control characters");
            return -1;
        }
        i += k;
    }
    return 0;
}

static bool group_name_ok(const char *g)
{
    size_t n = strlen(g);
    if (n == 0 || n > 63 || !((g[0] >= 'a' && g[0] <= 'z') || (g[0] >= '0' && g[0] <= '9')))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = g[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool auth_role_is_group(const char *role)
{
    return strncmp(role, "group:", 6) == 0;
}

int auth_role_check(const char *role, char *err, size_t errlen)
{
    if (role && (strcmp(role, "operator") == 0 || strcmp(role, "application_manager") == 0))
        return 0;
    if (role && auth_role_is_group(role) && group_name_ok(role + 6))
        return 0;
    snprintf(err, errlen, "unknown role \"%.70s\": use operator, application_manager or "
             "group:<name> (lowercase letters, digits, _ and -)", role ? role : "");
    return -1;
}

int auth_scope_check(const char *scope, char *err, size_t errlen)
{
    size_t n = scope ? strlen(scope) : 0;
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)scope[i];
        ok = c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
    }
    if (!ok) {
        snprintf(err, errlen, "scope must be 1 to 64 printable ASCII characters without "
                 "spaces, quotes or backslashes");
        return -1;
    }
    return 0;
}

int auth_account_id_check(const char *id, char *err, size_t errlen)
{
    size_t n = id ? strlen(id) : 0;
    bool ok = n >= 3 && n <= 64 &&
              ((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= '0' && id[0] <= '9'));
    for (size_t i = 0; ok && i < n; i++) {
        char c = id[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
             c == '-';
    }
    if (!ok) {
        snprintf(err, errlen, "id must be 3 to 64 characters: lowercase letters, digits, . _ -, "
                 "starting with a letter or digit");
        return -1;
    }
    return 0;
}

bool auth_uuid_valid(const char *s)
{
    if (!s || strlen(s) != AUTH_UUID_LEN)
        return false;
    for (int i = 0; i < AUTH_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

static void format_uuid(unsigned char b[16], char out[AUTH_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = 0;
}

int auth_uuid_v4(char out[AUTH_UUID_LEN + 1])
{
    unsigned char b[16];
    if (auth_password_init() != 0)
        return -1;
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    format_uuid(b, out);
    return 0;
}

void auth_uuid_from_name(const char *ns, const char *name, char out[AUTH_UUID_LEN + 1])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)ns, strlen(ns) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)name, strlen(name));
    crypto_hash_sha256_final(&st, d);
    d[6] = (unsigned char)((d[6] & 0x0f) | 0x80);
    d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
    format_uuid(d, out);
}
