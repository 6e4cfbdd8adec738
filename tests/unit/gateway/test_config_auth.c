/* tests/unit/gateway/test_config_auth.c — the config sections the admin API and the login
 * path read (gateway/config.c): `admin:` (prefix, bootstrap token file) and `auth:` (argon2id
 * parameters, work pool). Each error is checked with its exact "file:line:column: message".
 * Token files are written to a private temp directory with the modes under test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"

#define LISTEN "listen: [127.0.0.1:8080]\n"
#define UPS "upstreams:\n  a:\n    servers: [127.0.0.1:9101]\n"
#define ROUTES "routes:\n  - path: /\n    upstream: a\n"
#define MINIMAL LISTEN UPS ROUTES
#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef"

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/og-cfgauth-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes <content> to <tmpdir>/<name> with <mode>; returns the path in <buf>. */
static const char *write_file(const char *name, const char *content, mode_t mode, char *buf,
                              size_t cap)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(buf, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(content, 1, strlen(content), f);
    fclose(f);
    ck_assert_int_eq(chmod(buf, mode), 0);
    return buf;
}

static struct gw_config *load(const char *yaml, char *err)
{
    return gw_config_load_string(yaml, strlen(yaml), "t.yaml", err, GW_CONFIG_ERR_MAX);
}

static void expect_error(const char *yaml, const char *want)
{
    char err[GW_CONFIG_ERR_MAX] = "";
    struct gw_config *cfg = load(yaml, err);
    if (cfg) {
        gw_config_free(cfg);
        ck_abort_msg("accepted, expected error: %s\n--- yaml:\n%s", want, yaml);
    }
    if (strcmp(err, want) != 0)
        ck_abort_msg("wrong error\n want: %s\n got:  %s\n--- yaml:\n%s", want, err, yaml);
}

static struct gw_config *expect_ok(const char *yaml)
{
    char err[GW_CONFIG_ERR_MAX] = "";
    struct gw_config *cfg = load(yaml, err);
    if (!cfg)
        ck_abort_msg("refused: %s\n--- yaml:\n%s", err, yaml);
    return cfg;
}

START_TEST(defaults)
{
    struct gw_config *cfg = expect_ok(MINIMAL);
    ck_assert_str_eq(cfg->admin.prefix, "/admin/v1/");
    ck_assert_ptr_null(cfg->admin.bootstrap_token);
    ck_assert_ptr_null(cfg->admin.bootstrap_token_file);
    ck_assert_uint_eq(cfg->auth.argon2_memory_kib, 19456);
    ck_assert_uint_eq(cfg->auth.argon2_iterations, 2);
    ck_assert_uint_eq(cfg->auth.argon2_parallelism, 1);
    ck_assert_uint_eq(cfg->auth.work_threads, 2);
    ck_assert_uint_eq(cfg->auth.work_queue_max, 1024);
    gw_config_free(cfg);
}
END_TEST

START_TEST(explicit_values)
{
    char path[300], yaml[1024];
    make_tmpdir();
    /* surrounding whitespace and the final newline are not part of the token */
    write_file("token", "  " TOKEN "\n\n", 0600, path, sizeof path);
    snprintf(yaml, sizeof yaml, MINIMAL
             "admin:\n  prefix: /manage/\n  bootstrap_token_file: %s\n"
             "auth:\n  argon2id: { memory_kib: 65536, iterations: 3, parallelism: 1 }\n"
             "  work_threads: 4\n  work_queue_max: 10\n", path);
    struct gw_config *cfg = expect_ok(yaml);
    ck_assert_str_eq(cfg->admin.prefix, "/manage/");
    ck_assert_str_eq(cfg->admin.bootstrap_token, TOKEN);
    ck_assert_str_eq(cfg->admin.bootstrap_token_file, path);
    ck_assert_uint_eq(cfg->auth.argon2_memory_kib, 65536);
    ck_assert_uint_eq(cfg->auth.argon2_iterations, 3);
    ck_assert_uint_eq(cfg->auth.work_threads, 4);
    ck_assert_uint_eq(cfg->auth.work_queue_max, 10);
    gw_config_free(cfg);
    remove_tmpdir();
}
END_TEST

/* A relative token path is resolved against the config file's directory. */
START_TEST(relative_token_path)
{
    char path[300], cfgpath[300], err[GW_CONFIG_ERR_MAX];
    make_tmpdir();
    write_file("admin.token", TOKEN, 0600, path, sizeof path);
    write_file("og.yaml", MINIMAL "admin:\n  bootstrap_token_file: admin.token\n", 0644,
               cfgpath, sizeof cfgpath);
    struct gw_config *cfg = gw_config_load(cfgpath, err, sizeof err);
    if (!cfg)
        ck_abort_msg("refused: %s", err);
    ck_assert_str_eq(cfg->admin.bootstrap_token_file, path);
    ck_assert_str_eq(cfg->admin.bootstrap_token, TOKEN);
    gw_config_free(cfg);
    remove_tmpdir();
}
END_TEST

START_TEST(admin_errors)
{
    char path[300], yaml[1024], want[600];
    make_tmpdir();
    expect_error(MINIMAL "admin:\n  prefx: /a/\n",
                 "t.yaml:9:3: unknown key 'prefx' in admin (expected prefix, "
                 "bootstrap_token_file)");
    expect_error(MINIMAL "admin:\n  prefix: admin/\n",
                 "t.yaml:9:11: prefix must start and end with '/' (got 'admin/')");
    expect_error(MINIMAL "admin:\n  prefix: /admin\n",
                 "t.yaml:9:11: prefix must start and end with '/' (got '/admin')");
    expect_error(MINIMAL "admin:\n  prefix: /a?b/\n",
                 "t.yaml:9:11: prefix must not contain '?' or '#' (got '/a?b/')");
    expect_error(MINIMAL "admin: [1]\n", "t.yaml:8:8: expected a mapping for admin, got a list");
    expect_error(MINIMAL "admin:\n  prefix: /-/admin/\n",
                 "t.yaml:9:11: admin prefix '/-/admin/' and builtin_prefix '/-/' must not "
                 "contain one another");
    expect_error(MINIMAL "builtin_prefix: /admin/v1/x/\n",
                 "t.yaml:8:17: admin prefix '/admin/v1/' and builtin_prefix '/admin/v1/x/' must "
                 "not contain one another");
    expect_error(MINIMAL "admin:\n  bootstrap_token_file: /nonexistent/og-token\n",
                 "t.yaml:9:25: cannot open bootstrap_token_file '/nonexistent/og-token': No such "
                 "file or directory");

    write_file("world", TOKEN, 0604, path, sizeof path);
    snprintf(yaml, sizeof yaml, MINIMAL "admin:\n  bootstrap_token_file: %s\n", path);
    snprintf(want, sizeof want, "t.yaml:9:25: bootstrap_token_file '%s' must not be accessible "
             "to other users (chmod 600)", path);
    expect_error(yaml, want);

    write_file("short", "abc\n", 0600, path, sizeof path);
    snprintf(yaml, sizeof yaml, MINIMAL "admin:\n  bootstrap_token_file: %s\n", path);
    snprintf(want, sizeof want, "t.yaml:9:25: the token in bootstrap_token_file '%s' is shorter "
             "than 32 characters (use e.g. `openssl rand -hex 32`)", path);
    expect_error(yaml, want);

    write_file("spaces", TOKEN " " TOKEN "\n", 0600, path, sizeof path);
    snprintf(yaml, sizeof yaml, MINIMAL "admin:\n  bootstrap_token_file: %s\n", path);
    snprintf(want, sizeof want, "t.yaml:9:25: bootstrap_token_file '%s' must hold one token of "
             "visible ASCII characters", path);
    expect_error(yaml, want);

    write_file("empty", "", 0600, path, sizeof path);
    snprintf(yaml, sizeof yaml, MINIMAL "admin:\n  bootstrap_token_file: %s\n", path);
    snprintf(want, sizeof want, "t.yaml:9:25: the token in bootstrap_token_file '%s' is shorter "
             "than 32 characters (use e.g. `openssl rand -hex 32`)", path);
    expect_error(yaml, want);

    /* the token never appears in a message, even when the file is refused for its content */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file("big", big, 0600, path, sizeof path);
    snprintf(yaml, sizeof yaml, MINIMAL "admin:\n  bootstrap_token_file: %s\n", path);
    char err[GW_CONFIG_ERR_MAX];
    ck_assert_ptr_null(load(yaml, err));
    ck_assert_ptr_nonnull(strstr(err, "is larger than 4096 bytes"));
    ck_assert_ptr_null(strstr(err, "xxxxxxxx"));
    remove_tmpdir();
}
END_TEST

START_TEST(auth_errors)
{
    expect_error(MINIMAL "auth:\n  threads: 2\n",
                 "t.yaml:9:3: unknown key 'threads' in auth (expected argon2id, work_threads, "
                 "work_queue_max)");
    expect_error(MINIMAL "auth:\n  argon2id: { m: 1 }\n",
                 "t.yaml:9:15: unknown key 'm' in auth.argon2id (expected memory_kib, "
                 "iterations, parallelism)");
    expect_error(MINIMAL "auth:\n  argon2id:\n    parallelism: 4\n",
                 "t.yaml:10:18: argon2id parallelism must be 1 (libsodium computes one lane)");
    expect_error(MINIMAL "auth:\n  argon2id:\n    memory_kib: 4\n",
                 "t.yaml:10:17: memory_kib out of range: 4 (expected 8..4194304)");
    expect_error(MINIMAL "auth:\n  argon2id:\n    iterations: 0\n",
                 "t.yaml:10:17: iterations out of range: 0 (expected 1..64)");
    expect_error(MINIMAL "auth:\n  argon2id:\n    iterations: two\n",
                 "t.yaml:10:17: expected an integer for iterations, got 'two'");
    expect_error(MINIMAL "auth:\n  work_threads: 0\n",
                 "t.yaml:9:17: work_threads out of range: 0 (expected 1..64)");
    expect_error(MINIMAL "auth:\n  work_queue_max: -1\n",
                 "t.yaml:9:19: work_queue_max must not be negative (got -1)");
    expect_error(MINIMAL "auth: 3\n", "t.yaml:8:7: expected a mapping for auth, got '3'");
    expect_error(MINIMAL "auth:\n  argon2id: []\n",
                 "t.yaml:9:13: expected a mapping for argon2id, got a list");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_auth");
    TCase *tc = tcase_create("admin_auth");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, explicit_values);
    tcase_add_test(tc, relative_token_path);
    tcase_add_test(tc, admin_errors);
    tcase_add_test(tc, auth_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
