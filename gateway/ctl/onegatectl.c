/* gateway/ctl/onegatectl.c — the directory from a shell: persons, roles and flags, API and
 * system accounts, sessions, and the legacy import. Talks to Redis directly through auth/
 * (blocking calls are fine here: there is no event loop), so the first application manager
 * can be created before anyone can log in.
 *
 * Exit status: 0 ok, 1 usage, 2 not found, 3 conflict/wrong state/refused, 4 invalid value,
 * 5 Redis unavailable or other failure, 6 credentials denied. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pwd.h>

#include <jansson.h>

#include "auth/admin_ops.h"
#include "auth/directory.h"
#include "auth/import_legacy.h"
#include "auth/redis_client.h"
#ifdef ONEGATE_HAVE_CONFIG
#include "gateway/config.h"
#endif

#define ERR_MAX 512

struct ctl {
    struct auth_redis *redis;
    struct auth_dir *dir;
    bool json;
};

static int usage(void)
{
    fputs(
"usage: onegatectl [-c FILE] [--redis HOST:PORT] [--prefix P] [--json] COMMAND ...\n"
"  person add --login L [--email E] [--name N] [--role R]... [--ssp on|off] [--caller on|off]\n"
"             [--password-stdin]   (both flags default to off)\n"
"  person get|delete|archive|unarchive|anonymize|audit PERSON\n"
"  person list [--query Q] [--all] [--limit N] [--cursor C]\n"
"  person update PERSON [--login L] [--email E] [--name N] [--password-stdin]\n"
"  person set-flags PERSON [--ssp on|off] [--caller on|off]\n"
"  person grant|revoke PERSON ROLE...\n"
"  operator delete PERSON             (refused: delete the person instead)\n"
"  api-account create [--client-id ID] [--note N] [--scope S]...\n"
"  api-account get|disable|enable|delete ID | list\n"
"  api-account rotate ID [--overlap-ms N]\n"
"  api-account verify ID              (reads the secret from stdin)\n"
"  system-account create NAME [--description D] [--scope S]... | get|delete NAME | list\n"
"  sessions list PERSON | sessions revoke PERSON [--session KEY]\n"
"  import FILE [--dry-run] [--match-email]\n"
"  schema\n"
"  admin-call METHOD PATH [QUERY] [--body-stdin]   (the admin API without HTTP; prints\n"
"             the status line, then the JSON answer; exit 0 for 2xx)\n"
"PERSON is an id, a login name or an email address. Roles: operator, application_manager,\n"
"group:<name>. Redis settings come from the config file's redis: section (-c) or --redis.\n",
          stderr);
    return 1;
}

static int exit_code(int rc)
{
    switch (rc) {
    case 0: return 0;
    case AUTH_DIR_ENOTFOUND: return 2;
    case AUTH_DIR_ECONFLICT: case AUTH_DIR_ESTATE: case AUTH_DIR_EVERSION:
    case AUTH_DIR_EREFUSED: return 3;
    case AUTH_DIR_EINVAL: return 4;
    case AUTH_DIR_EDENIED: return 6;
    default: return 5;
    }
}

static int fail(int rc, const char *err)
{
    fprintf(stderr, "onegatectl: %s: %s\n", auth_dir_err_name(rc), err);
    return exit_code(rc);
}

static int failf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("onegatectl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(j);
}

/* Reads one line from stdin into <buf> (newline stripped). Returns 0 or -1. */
static int read_stdin_line(char *buf, size_t len)
{
    if (!fgets(buf, (int)len, stdin))
        return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

static void print_person_table_head(void)
{
    printf("%-36s  %-20s  %-28s  %-22s  %-10s  %-3s  %-6s  %s\n", "ID", "LOGIN", "EMAIL", "NAME",
           "STATUS", "SSP", "CALLER", "ROLES");
}

static void print_person_row(const struct auth_person *p)
{
    char roles[512] = "";
    size_t k = 0;
    for (size_t i = 0; i < p->nroles && k < sizeof(roles) - 1; i++)
        k += (size_t)snprintf(roles + k, sizeof(roles) - k, "%s%s", i ? "," : "", p->roles[i]);
    printf("%-36s  %-20s  %-28s  %-22s  %-10s  %-3s  %-6s  %s\n", p->id, p->login,
           *p->email ? p->email : "-", p->name, auth_person_status_name(p->status),
           p->ssp_access ? "yes" : "no", p->is_caller ? "yes" : "no", *roles ? roles : "-");
}

static int show_person(struct ctl *c, const struct auth_person *p)
{
    if (c->json) {
        print_json(auth_person_to_json(p));
    } else {
        print_person_table_head();
        print_person_row(p);
    }
    return 0;
}

static void print_revocation(struct ctl *c, const char *what, const char *id,
                             const struct auth_revocation *rev)
{
    if (c->json)
        print_json(json_pack("{s:s,s:s,s:I,s:I}", "result", what, "id", id,
                             "revoked_sessions", (json_int_t)rev->sessions,
                             "revoked_tokens", (json_int_t)rev->tokens));
    else
        printf("%s %s; revoked %zu session(s) and %zu token(s)\n", what, id, rev->sessions,
               rev->tokens);
}

static int flag_value(const char *s, int *out)
{
    if (strcmp(s, "on") == 0 || strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
        *out = 1;
    else if (strcmp(s, "off") == 0 || strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* Resolves PERSON (id, login or email) to an id. */
static int resolve(struct ctl *c, const char *ref, char id[AUTH_UUID_LEN + 1], char *err)
{
    struct auth_person *p = NULL;
    int rc = auth_person_find(c->dir, ref, &p, err, ERR_MAX);
    if (rc == 0) {
        snprintf(id, AUTH_UUID_LEN + 1, "%s", p->id);
        auth_person_free(p);
    }
    return rc;
}

static int cmd_person(struct ctl *c, int argc, char **argv)
{
    char err[ERR_MAX] = "";
    char id[AUTH_UUID_LEN + 1];
    if (argc < 2)
        return usage();
    const char *sub = argv[1];
    static const struct option opts[] = {
        { "login", required_argument, 0, 'l' }, { "email", required_argument, 0, 'e' },
        { "name", required_argument, 0, 'n' }, { "role", required_argument, 0, 'r' },
        { "ssp", required_argument, 0, 's' }, { "caller", required_argument, 0, 'C' },
        { "password-stdin", no_argument, 0, 'P' }, { "query", required_argument, 0, 'q' },
        { "all", no_argument, 0, 'a' }, { "limit", required_argument, 0, 'L' },
        { "cursor", required_argument, 0, 'u' }, { 0, 0, 0, 0 },
    };
    const char *login = NULL, *email = NULL, *name = NULL, *query = NULL, *cursor = NULL;
    const char *roles[32];
    size_t nroles = 0;
    int ssp = -1, caller = -1, opt;
    bool pw_stdin = false, all = false;
    long limit = 50;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': login = optarg; break;
        case 'e': email = optarg; break;
        case 'n': name = optarg; break;
        case 'r':
            if (nroles == 32)
                return failf(1, "too many --role");
            roles[nroles++] = optarg;
            break;
        case 's':
            if (flag_value(optarg, &ssp))
                return failf(1, "--ssp takes on or off");
            break;
        case 'C':
            if (flag_value(optarg, &caller))
                return failf(1, "--caller takes on or off");
            break;
        case 'P': pw_stdin = true; break;
        case 'q': query = optarg; break;
        case 'a': all = true; break;
        case 'L': limit = strtol(optarg, NULL, 10); break;
        case 'u': cursor = optarg; break;
        default: return usage();
        }
    }
    /* getopt permutes: operands are now at argv[optind..] */
    char **rest = argv + optind;
    int nrest = argc - optind;
    char password[AUTH_PW_MAX_BYTES + 2] = "";
    if (pw_stdin && read_stdin_line(password, sizeof(password)))
        return failf(1, "--password-stdin: no password on standard input");
    int rc = 0;

    if (strcmp(sub, "add") == 0) {
        if (!login || nrest)
            return usage();
        struct auth_person_input in = {
            .login = login, .email = email, .name = name,
            .password = pw_stdin ? password : NULL,
            .ssp_access = ssp == 1, .is_caller = caller == 1,
            .roles = roles, .nroles = nroles,
        };
        struct auth_person *p = NULL;
        rc = auth_person_create(c->dir, &in, &p, err, sizeof(err));
        memset(password, 0, sizeof(password));
        if (rc)
            return fail(rc, err);
        show_person(c, p);
        auth_person_free(p);
        return 0;
    }
    if (strcmp(sub, "list") == 0) {
        struct auth_person_page pg;
        rc = auth_person_list(c->dir, all ? AUTH_LIST_ALL : AUTH_LIST_ACTIVE, query, cursor,
                              limit > 0 ? (size_t)limit : 0, &pg, err, sizeof(err));
        if (rc)
            return fail(rc, err);
        if (c->json) {
            json_t *items = json_array();
            for (size_t i = 0; i < pg.n; i++)
                json_array_append_new(items, auth_person_to_json(pg.items[i]));
            print_json(json_pack("{s:o,s:s?}", "items", items, "next_cursor", pg.next_cursor));
        } else {
            print_person_table_head();
            for (size_t i = 0; i < pg.n; i++)
                print_person_row(pg.items[i]);
            if (pg.next_cursor)
                printf("(more: --cursor %s)\n", pg.next_cursor);
        }
        auth_person_page_free(&pg);
        return 0;
    }
    bool multi = strcmp(sub, "grant") == 0 || strcmp(sub, "revoke") == 0;
    if (nrest < 1 || (!multi && nrest != 1))
        return usage();
    rc = resolve(c, rest[0], id, err);
    if (rc)
        return fail(rc, err);

    struct auth_person *p = NULL;
    struct auth_revocation rev = { 0 };
    if (strcmp(sub, "get") == 0) {
        rc = auth_person_get(c->dir, id, &p, err, sizeof(err));
    } else if (strcmp(sub, "update") == 0 || strcmp(sub, "set-flags") == 0) {
        struct auth_person_patch pt = AUTH_PERSON_PATCH_INIT;
        pt.login = login;
        pt.email = email;
        pt.name = name;
        pt.password = pw_stdin ? password : NULL;
        pt.ssp_access = ssp;
        pt.is_caller = caller;
        rc = auth_person_update(c->dir, id, &pt, &p, err, sizeof(err));
        memset(password, 0, sizeof(password));
    } else if (strcmp(sub, "grant") == 0 || strcmp(sub, "revoke") == 0) {
        if (nrest < 2)
            return usage();
        for (int i = 1; i < nrest && rc == 0; i++) {
            auth_person_free(p);
            p = NULL;
            rc = sub[0] == 'g' ? auth_person_grant(c->dir, id, rest[i], &p, err, sizeof(err))
                               : auth_person_revoke_role(c->dir, id, rest[i], &p, err, sizeof(err));
        }
    } else if (strcmp(sub, "delete") == 0) {
        rc = auth_person_delete(c->dir, id, 0, &rev, err, sizeof(err));
        if (rc == 0)
            print_revocation(c, "deleted", id, &rev);
        return rc ? fail(rc, err) : 0;
    } else if (strcmp(sub, "archive") == 0) {
        rc = auth_person_archive(c->dir, id, &rev, err, sizeof(err));
        if (rc == 0)
            print_revocation(c, "archived", id, &rev);
        return rc ? fail(rc, err) : 0;
    } else if (strcmp(sub, "anonymize") == 0) {
        rc = auth_person_anonymize(c->dir, id, &rev, err, sizeof(err));
        if (rc == 0)
            print_revocation(c, "anonymized", id, &rev);
        return rc ? fail(rc, err) : 0;
    } else if (strcmp(sub, "unarchive") == 0) {
        rc = auth_person_unarchive(c->dir, id, err, sizeof(err));
        if (rc == 0)
            rc = auth_person_get(c->dir, id, &p, err, sizeof(err));
    } else if (strcmp(sub, "audit") == 0) {
        json_t *a = NULL;
        rc = auth_person_audit(c->dir, id, &a, err, sizeof(err));
        if (rc == 0)
            print_json(a);
        return rc ? fail(rc, err) : 0;
    } else {
        return usage();
    }
    if (rc == 0 && p)
        show_person(c, p);
    auth_person_free(p);
    return rc ? fail(rc, err) : 0;
}

static int cmd_operator(struct ctl *c, int argc, char **argv)
{
    char err[ERR_MAX];
    if (argc != 3 || strcmp(argv[1], "delete") != 0)
        return usage();
    return fail(auth_operator_delete(c->dir, argv[2], err, sizeof(err)), err);
}

static int show_api(struct ctl *c, const struct auth_api_account *a, const char *secret)
{
    if (c->json) {
        json_t *j = auth_api_account_to_json(a);
        if (secret)
            json_object_set_new(j, "client_secret", json_string(secret));
        print_json(j);
        return 0;
    }
    printf("client_id: %s\nstatus:    %s\nscopes:   ", a->client_id,
           a->disabled ? "disabled" : "active");
    for (size_t i = 0; i < a->nscopes; i++)
        printf(" %s", a->scopes[i]);
    printf("\nnote:      %s\n", a->note);
    if (secret)
        printf("client_secret: %s\n(shown once: store it now)\n", secret);
    return 0;
}

static int cmd_api(struct ctl *c, int argc, char **argv)
{
    char err[ERR_MAX] = "";
    if (argc < 2)
        return usage();
    const char *sub = argv[1];
    static const struct option opts[] = {
        { "client-id", required_argument, 0, 'i' }, { "note", required_argument, 0, 'n' },
        { "scope", required_argument, 0, 's' }, { "overlap-ms", required_argument, 0, 'o' },
        { 0, 0, 0, 0 },
    };
    const char *cid = NULL, *note = NULL, *scopes[32];
    size_t nscopes = 0;
    long overlap = 0;
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'i': cid = optarg; break;
        case 'n': note = optarg; break;
        case 's':
            if (nscopes == 32)
                return failf(1, "too many --scope");
            scopes[nscopes++] = optarg;
            break;
        case 'o': overlap = strtol(optarg, NULL, 10); break;
        default: return usage();
        }
    }
    char **rest = argv + optind;
    int nrest = argc - optind;
    char secret[AUTH_SECRET_TEXT_MAX];
    struct auth_api_account *a = NULL;
    struct auth_revocation rev = { 0 };
    int rc;
    if (strcmp(sub, "create") == 0) {
        rc = auth_api_account_create(c->dir, cid, note, scopes, nscopes, secret, &a, err,
                                     sizeof(err));
        if (rc == 0)
            show_api(c, a, secret);
        auth_api_account_free(a);
        memset(secret, 0, sizeof(secret));
        return rc ? fail(rc, err) : 0;
    }
    if (strcmp(sub, "list") == 0) {
        struct auth_api_account **v = NULL;
        size_t n = 0;
        char *next = NULL;
        rc = auth_api_account_list(c->dir, NULL, AUTH_DIR_LIST_MAX, &v, &n, &next, err,
                                   sizeof(err));
        if (rc)
            return fail(rc, err);
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++) {
            if (c->json)
                json_array_append_new(items, auth_api_account_to_json(v[i]));
            else
                printf("%-40s  %-8s  %s\n", v[i]->client_id, v[i]->disabled ? "disabled" : "active",
                       v[i]->note);
            auth_api_account_free(v[i]);
        }
        if (c->json)
            print_json(json_pack("{s:o,s:s?}", "items", items, "next_cursor", next));
        else
            json_decref(items);
        free(v);
        free(next);
        return 0;
    }
    if (nrest != 1)
        return usage();
    const char *id = rest[0];
    if (strcmp(sub, "get") == 0) {
        rc = auth_api_account_get(c->dir, id, &a, err, sizeof(err));
        if (rc == 0)
            show_api(c, a, NULL);
    } else if (strcmp(sub, "rotate") == 0) {
        if (overlap < 0 || overlap > 7 * 24 * 3600 * 1000L)
            return failf(1, "--overlap-ms must be 0 to 604800000");
        rc = auth_api_account_rotate(c->dir, id, (uint32_t)overlap, secret, &rev, err,
                                     sizeof(err));
        if (rc == 0)
            rc = auth_api_account_get(c->dir, id, &a, err, sizeof(err));
        if (rc == 0)
            show_api(c, a, secret);
        memset(secret, 0, sizeof(secret));
    } else if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) {
        rc = auth_api_account_set_disabled(c->dir, id, sub[0] == 'd', &rev, err, sizeof(err));
        if (rc == 0)
            print_revocation(c, sub[0] == 'd' ? "disabled" : "enabled", id, &rev);
    } else if (strcmp(sub, "delete") == 0) {
        rc = auth_api_account_delete(c->dir, id, &rev, err, sizeof(err));
        if (rc == 0)
            print_revocation(c, "deleted", id, &rev);
    } else if (strcmp(sub, "verify") == 0) {
        char in[256];
        if (read_stdin_line(in, sizeof(in)))
            return failf(1, "verify: no secret on standard input");
        rc = auth_api_account_verify(c->dir, id, in, NULL, err, sizeof(err));
        memset(in, 0, sizeof(in));
        if (rc == 0)
            puts("valid");
    } else {
        return usage();
    }
    auth_api_account_free(a);
    return rc ? fail(rc, err) : 0;
}

static int cmd_system(struct ctl *c, int argc, char **argv)
{
    char err[ERR_MAX] = "";
    if (argc < 2)
        return usage();
    const char *sub = argv[1];
    static const struct option opts[] = {
        { "description", required_argument, 0, 'd' }, { "scope", required_argument, 0, 's' },
        { 0, 0, 0, 0 },
    };
    const char *desc = NULL, *scopes[32];
    size_t nscopes = 0;
    int opt, rc;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'd')
            desc = optarg;
        else if (opt == 's' && nscopes < 32)
            scopes[nscopes++] = optarg;
        else
            return usage();
    }
    char **rest = argv + optind;
    int nrest = argc - optind;
    if (strcmp(sub, "list") == 0) {
        struct auth_system_account **v = NULL;
        size_t n = 0;
        rc = auth_system_account_list(c->dir, &v, &n, err, sizeof(err));
        if (rc)
            return fail(rc, err);
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++) {
            if (c->json)
                json_array_append_new(items, auth_system_account_to_json(v[i]));
            else
                printf("%-40s  %s\n", v[i]->name, v[i]->description);
            auth_system_account_free(v[i]);
        }
        if (c->json)
            print_json(json_pack("{s:o}", "items", items));
        else
            json_decref(items);
        free(v);
        return 0;
    }
    if (nrest != 1)
        return usage();
    struct auth_system_account *s = NULL;
    struct auth_revocation rev = { 0 };
    if (strcmp(sub, "create") == 0) {
        rc = auth_system_account_create(c->dir, rest[0], desc, scopes, nscopes, err, sizeof(err));
        if (rc == 0)
            rc = auth_system_account_get(c->dir, rest[0], &s, err, sizeof(err));
    } else if (strcmp(sub, "get") == 0) {
        rc = auth_system_account_get(c->dir, rest[0], &s, err, sizeof(err));
    } else if (strcmp(sub, "delete") == 0) {
        rc = auth_system_account_delete(c->dir, rest[0], &rev, err, sizeof(err));
        if (rc == 0)
            print_revocation(c, "deleted", rest[0], &rev);
    } else {
        return usage();
    }
    if (rc == 0 && s) {
        if (c->json)
            print_json(auth_system_account_to_json(s));
        else
            printf("%s  %s\n", s->name, s->description);
    }
    auth_system_account_free(s);
    return rc ? fail(rc, err) : 0;
}

static int cmd_sessions(struct ctl *c, int argc, char **argv)
{
    char err[ERR_MAX] = "", id[AUTH_UUID_LEN + 1];
    static const struct option opts[] = { { "session", required_argument, 0, 's' }, { 0, 0, 0, 0 } };
    const char *session = NULL;
    int opt, rc;
    if (argc < 2)
        return usage();
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt != 's')
            return usage();
        session = optarg;
    }
    if (argc - optind != 1)
        return usage();
    rc = resolve(c, argv[optind], id, err);
    if (rc)
        return fail(rc, err);
    if (strcmp(argv[1], "list") == 0) {
        char **keys = NULL;
        size_t n = 0;
        rc = auth_person_sessions(c->dir, id, &keys, &n, err, sizeof(err));
        if (rc)
            return fail(rc, err);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            if (c->json)
                json_array_append_new(arr, json_string(keys[i]));
            else
                puts(keys[i]);
        }
        if (c->json)
            print_json(json_pack("{s:s,s:o}", "person", id, "sessions", arr));
        else
            json_decref(arr);
        auth_strv_free(keys, n);
        return 0;
    }
    if (strcmp(argv[1], "revoke") == 0) {
        struct auth_revocation rev = { 0 };
        rc = auth_person_sessions_revoke(c->dir, id, session, &rev, err, sizeof(err));
        if (rc == 0)
            print_revocation(c, "sessions revoked for", id, &rev);
        return rc ? fail(rc, err) : 0;
    }
    return usage();
}

static void import_line(void *arg, const char *line)
{
    (void)arg;
    puts(line);
}

static int cmd_import(struct ctl *c, int argc, char **argv)
{
    char err[ERR_MAX] = "";
    static const struct option opts[] = {
        { "dry-run", no_argument, 0, 'd' }, { "match-email", no_argument, 0, 'm' }, { 0, 0, 0, 0 },
    };
    bool dry = false, match = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'd')
            dry = true;
        else if (opt == 'm')
            match = true;
        else
            return usage();
    }
    if (argc - optind != 1)
        return usage();
    json_error_t je;
    json_t *doc = json_load_file(argv[optind], 0, &je);
    if (!doc)
        return failf(4, "%s:%d:%d: %s", argv[optind], je.line, je.column, je.text);
    struct auth_import_plan *plan = NULL;
    int rc = auth_import_plan(doc, match, &plan, err, sizeof(err));
    json_decref(doc);
    if (rc)
        return fail(rc, err);
    printf("input: %zu persons, %zu operators, %zu api accounts, %zu system accounts\n",
           plan->in_persons, plan->in_operators, plan->in_api, plan->in_sys);
    struct auth_import_stats st;
    auth_dir_set_actor(c->dir, "import");
    rc = auth_import_apply(c->dir, plan, dry, import_line, NULL, &st, err, sizeof(err));
    auth_import_plan_free(plan);
    if (rc)
        return fail(rc, err);
    (void)c;
    return 0;
}

static int cmd_admin_call(struct ctl *c, int argc, char **argv)
{
    bool body_stdin = false;
    const char *pos[3] = { 0 };
    int npos = 0;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--body-stdin") == 0)
            body_stdin = true;
        else if (npos < 3)
            pos[npos++] = argv[k];
        else
            return usage();
    }
    if (npos < 2)
        return usage();
    json_t *body = NULL;
    if (body_stdin) {
        json_error_t je;
        body = json_loadf(stdin, JSON_DECODE_ANY, &je);
        if (!body) {
            printf("400\n");
            print_json(auth_admin_error("bad_request", "the request body is not JSON"));
            return 4;
        }
    }
    json_t *out = NULL;
    auth_dir_set_actor(c->dir, "admin-call");
    int status = auth_admin_dispatch(c->dir, pos[0], pos[1], pos[2], body, &out);
    json_decref(body);
    printf("%d\n", status);
    print_json(out);
    return status >= 200 && status < 300 ? 0 : 3;
}

static int parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= hostlen)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *redis_addr = NULL, *prefix = NULL;
    bool json = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc)
            redis_addr = argv[++i];
        else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
            prefix = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return usage(), 0;
        else
            return usage();
    }
    if (i >= argc)
        return usage();

    char host[256] = "127.0.0.1", err[ERR_MAX] = "";
    int port = 6379;
    uint32_t timeout_ms = 2000;
    char *cfg_prefix = NULL;
    if (config) {
#ifdef ONEGATE_HAVE_CONFIG
        struct gw_config *cfg = gw_config_load(config, err, sizeof(err));
        if (!cfg)
            return failf(4, "%s", err);
        char hp[sizeof(cfg->redis.addr.text)];
        snprintf(hp, sizeof(hp), "%s", cfg->redis.addr.text);
        if (hp[0] == '[') {     /* "[v6]:port" */
            char *rb = strchr(hp, ']');
            if (rb) {
                *rb = 0;
                snprintf(host, sizeof(host), "%s", hp + 1);
                port = atoi(rb + 2);
            }
        } else if (parse_hostport(hp, host, sizeof(host), &port)) {
            gw_config_free(cfg);
            return failf(4, "%s: redis address \"%s\" is not HOST:PORT", config, hp);
        }
        if (cfg->redis.timeout_ms)
            timeout_ms = cfg->redis.timeout_ms;
        if (cfg->redis.key_prefix)
            cfg_prefix = strdup(cfg->redis.key_prefix);
        gw_config_free(cfg);
#else
        return failf(1, "this onegatectl was built without the config loader; use --redis");
#endif
    }
    if (redis_addr && parse_hostport(redis_addr, host, sizeof(host), &port))
        return failf(1, "--redis takes HOST:PORT");
    /* Long operations (import, bulk revocation) deserve a roomier deadline than requests. */
    if (timeout_ms < 2000)
        timeout_ms = 2000;

    struct auth_redis_opts ro = {
        .host = host, .port = port, .connect_timeout_ms = 2000, .timeout_ms = timeout_ms,
        .key_prefix = prefix ? prefix : cfg_prefix,
    };
    struct ctl c = { .json = json };
    int rc = auth_redis_open(&ro, &c.redis, err, sizeof(err));
    free(cfg_prefix);
    if (rc)
        return failf(5, "%s", err);
    char actor[96];
    struct passwd *pw = getpwuid(getuid());
    snprintf(actor, sizeof(actor), "cli:%s", pw ? pw->pw_name : "unknown");
    struct auth_dir_opts dopts = { .actor = actor };
    for (int k = i; k < argc; k++)
        if (strcmp(argv[k], "--dry-run") == 0)
            dopts.no_schema_write = true;   /* a dry run writes nothing, not even the stamp */
    rc = auth_dir_open(c.redis, &dopts, &c.dir, err, sizeof(err));
    if (rc) {
        auth_redis_free(c.redis);
        return fail(rc, err);
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    int code;
    if (strcmp(cmd, "person") == 0)
        code = cmd_person(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "operator") == 0)
        code = cmd_operator(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "api-account") == 0)
        code = cmd_api(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "system-account") == 0)
        code = cmd_system(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "sessions") == 0)
        code = cmd_sessions(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "import") == 0)
        code = cmd_import(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "admin-call") == 0)
        code = cmd_admin_call(&c, sub_argc, sub_argv);
    else if (strcmp(cmd, "schema") == 0) {
        int v = auth_dir_schema_version(c.dir, err, sizeof(err));
        code = v < 0 ? fail(v, err) : (printf("schema %d (this onegatectl: %d)\n", v,
                                              AUTH_DIR_SCHEMA_VERSION), 0);
    } else
        code = usage();
    auth_dir_free(c.dir);
    auth_redis_free(c.redis);
    return code;
}
