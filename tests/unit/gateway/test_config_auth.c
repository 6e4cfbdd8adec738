/* tests/unit/gateway/test_config_auth.c — the config sections the admin API and the login
 * path read (gateway/config.c): `admin:` (prefix, bootstrap token file), `auth:` (argon2id
 * parameters, work pool), `sessions:` (cookie, timeouts, portals, throttle) and `login:`
 * (prefix, template). Each error is checked with its exact "file:line:column: message".
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
    ck_assert_uint_eq(cfg->auth.work_nice, 10);
    ck_assert(cfg->auth.work_sched_idle);
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
             "  work_threads: 4\n  work_queue_max: 10\n  work_nice: 0\n  work_sched: normal\n",
             path);
    struct gw_config *cfg = expect_ok(yaml);
    ck_assert_str_eq(cfg->admin.prefix, "/manage/");
    ck_assert_str_eq(cfg->admin.bootstrap_token, TOKEN);
    ck_assert_str_eq(cfg->admin.bootstrap_token_file, path);
    ck_assert_uint_eq(cfg->auth.argon2_memory_kib, 65536);
    ck_assert_uint_eq(cfg->auth.argon2_iterations, 3);
    ck_assert_uint_eq(cfg->auth.work_threads, 4);
    ck_assert_uint_eq(cfg->auth.work_queue_max, 10);
    ck_assert_uint_eq(cfg->auth.work_nice, 0);
    ck_assert(!cfg->auth.work_sched_idle);
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
                 "work_queue_max, work_nice, work_sched)");
    expect_error(MINIMAL "auth:\n  work_sched: batch\n",
                 "t.yaml:9:15: work_sched must be idle or normal, got 'batch'");
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
    expect_error(MINIMAL "auth:\n  work_nice: 20\n",
                 "t.yaml:9:14: work_nice out of range: 20 (expected 0..19)");
    expect_error(MINIMAL "auth:\n  work_nice: -5\n",
                 "t.yaml:9:14: work_nice must not be negative (got -5)");
    expect_error(MINIMAL "auth: 3\n", "t.yaml:8:7: expected a mapping for auth, got '3'");
    expect_error(MINIMAL "auth:\n  argon2id: []\n",
                 "t.yaml:9:13: expected a mapping for argon2id, got a list");
}
END_TEST

START_TEST(sessions_defaults_and_values)
{
    struct gw_config *cfg = expect_ok(MINIMAL);
    ck_assert_str_eq(cfg->sessions.cookie_name, "onegate_session");
    ck_assert_uint_eq(cfg->sessions.idle_timeout_ms, 1800000);
    ck_assert_uint_eq(cfg->sessions.absolute_timeout_ms, 43200000);
    ck_assert_uint_eq(cfg->sessions.refresh_interval_ms, 60000);
    ck_assert(!cfg->sessions.insecure_dev_cookies);
    ck_assert_str_eq(cfg->sessions.person_header, "X-Onegate-Person");
    ck_assert_uint_eq(cfg->sessions.nportals, 0);
    ck_assert_uint_eq(cfg->sessions.nstrip_headers, 0);
    ck_assert_uint_eq(cfg->sessions.throttle.account.free_failures, 3);
    ck_assert_uint_eq(cfg->sessions.throttle.account.lock_failures, 10);
    ck_assert_uint_eq(cfg->sessions.throttle.address.free_failures, 20);
    ck_assert_uint_eq(cfg->sessions.throttle.address.lock_failures, 100);
    ck_assert_str_eq(cfg->login.prefix, "/-/");
    ck_assert_str_eq(cfg->login.page_title, "Sign in");
    ck_assert_ptr_null(cfg->login.template_text);
    gw_config_free(cfg);

    cfg = expect_ok(MINIMAL
        "sessions:\n"
        "  cookie_name: og_s\n"
        "  idle_timeout_ms: 2000\n"
        "  absolute_timeout_ms: 5000\n"
        "  refresh_interval_ms: 500\n"
        "  insecure_dev_cookies: true\n"
        "  person_header: X-Person\n"
        "  strip_headers: [X-Remote-User, x-employee-ID]\n"
        "  portals:\n"
        "    - { name: ssp, title: Self-Service Portal, path: /ssp/ }\n"
        "    - { name: operator, title: Operator portal, path: /operator/, host: ops.example }\n"
        "  throttle:\n"
        "    account: { window_ms: 60000, free_failures: 1, delay_base_ms: 10, delay_max_ms: 20,"
        " lock_failures: 4, lock_ms: 3000 }\n"
        "    address: { free_failures: 2, lock_failures: 9 }\n"
        "login:\n  prefix: /auth/\n  page_title: Welcome to the portals\n");
    ck_assert_str_eq(cfg->sessions.cookie_name, "og_s");
    ck_assert_uint_eq(cfg->sessions.idle_timeout_ms, 2000);
    ck_assert_uint_eq(cfg->sessions.absolute_timeout_ms, 5000);
    ck_assert_uint_eq(cfg->sessions.refresh_interval_ms, 500);
    ck_assert(cfg->sessions.insecure_dev_cookies);
    ck_assert_str_eq(cfg->sessions.person_header, "X-Person");
    ck_assert_uint_eq(cfg->sessions.nstrip_headers, 2);
    ck_assert_str_eq(cfg->sessions.strip_headers[0], "x-remote-user");
    ck_assert_str_eq(cfg->sessions.strip_headers[1], "x-employee-id");
    ck_assert_uint_eq(cfg->sessions.nportals, 2);
    ck_assert_str_eq(cfg->sessions.portals[0].title, "Self-Service Portal");
    ck_assert_ptr_null(cfg->sessions.portals[0].host);
    ck_assert_str_eq(cfg->sessions.portals[1].host, "ops.example");
    ck_assert_str_eq(cfg->sessions.portals[1].path, "/operator/");
    ck_assert_uint_eq(cfg->sessions.throttle.account.window_ms, 60000);
    ck_assert_uint_eq(cfg->sessions.throttle.account.lock_failures, 4);
    ck_assert_uint_eq(cfg->sessions.throttle.account.lock_ms, 3000);
    ck_assert_uint_eq(cfg->sessions.throttle.address.lock_failures, 9);
    ck_assert_uint_eq(cfg->sessions.throttle.address.free_failures, 2);
    ck_assert_uint_eq(cfg->sessions.throttle.address.window_ms, 900000);
    ck_assert_str_eq(cfg->login.prefix, "/auth/");
    ck_assert_str_eq(cfg->login.page_title, "Welcome to the portals");
    gw_config_free(cfg);
}
END_TEST

START_TEST(sessions_errors)
{
    expect_error(MINIMAL "sessions:\n  cookie: x\n",
                 "t.yaml:9:3: unknown key 'cookie' in sessions (expected cookie_name, "
                 "idle_timeout_ms, absolute_timeout_ms, refresh_interval_ms, insecure_dev_cookies, "
                 "person_header, strip_headers, portals, throttle)");
    expect_error(MINIMAL "sessions:\n  cookie_name: \"a b\"\n",
                 "t.yaml:9:16: invalid cookie_name 'a b' (expected 1 to 64 token characters)");
    expect_error(MINIMAL "sessions:\n  cookie_name: \"a;b\"\n",
                 "t.yaml:9:16: invalid cookie_name 'a;b' (expected 1 to 64 token characters)");
    expect_error(MINIMAL "sessions:\n  cookie_name: __Host-s\n",
                 "t.yaml:9:16: cookie_name '__Host-s' must not carry a __Host-/__Secure- prefix "
                 "(onegate adds __Host- over TLS)");
    expect_error(MINIMAL "sessions:\n  idle_timeout_ms: 10\n",
                 "t.yaml:9:20: idle_timeout_ms out of range: 10 (expected 1000..4294967295)");
    expect_error(MINIMAL "sessions:\n  idle_timeout_ms: 60000\n  absolute_timeout_ms: 30000\n",
                 "t.yaml:10:24: absolute_timeout_ms (30000) must not be less than "
                 "idle_timeout_ms (60000)");
    expect_error(MINIMAL "sessions:\n  idle_timeout_ms: 60000\n  refresh_interval_ms: 60000\n",
                 "t.yaml:10:24: refresh_interval_ms (60000) must be less than idle_timeout_ms "
                 "(60000)");
    expect_error(MINIMAL "sessions:\n  insecure_dev_cookies: yes\n",
                 "t.yaml:9:25: expected true or false for insecure_dev_cookies, got 'yes'");
    expect_error("listen: [127.0.0.1:1, 0.0.0.0:2]\n" UPS ROUTES
                 "sessions:\n  insecure_dev_cookies: true\n",
                 "t.yaml:9:25: insecure_dev_cookies needs every listener on a loopback address "
                 "(0.0.0.0:2 at 1:23 is not)");
    expect_error(MINIMAL "sessions:\n  person_header: \"X Person\"\n",
                 "t.yaml:9:18: invalid header name 'X Person' for person_header (expected 1 to "
                 "64 token characters)");
    expect_error(MINIMAL "sessions:\n  strip_headers: [X-Ok, \"X:Bad\"]\n",
                 "t.yaml:9:25: invalid header name 'X:Bad' for strip_headers (expected 1 to 64 "
                 "token characters)");
    expect_error(MINIMAL "sessions:\n  strip_headers: X-One\n",
                 "t.yaml:9:18: expected a list for strip_headers, got 'X-One'");
    expect_error(MINIMAL "sessions:\n  portals:\n    - { name: a, path: /a/ }\n",
                 "t.yaml:10:7: missing required key 'title' in portal");
    expect_error(MINIMAL "sessions:\n  portals:\n    - { name: a, title: A, path: a/ }\n",
                 "t.yaml:10:34: route path must start with '/' (got 'a/')");
    expect_error(MINIMAL "sessions:\n  portals:\n    - { name: a, title: A, path: /a/, "
                 "host: \"x:80\" }\n",
                 "t.yaml:10:45: invalid host 'x:80' (expected a host name or address without "
                 "port)");
    expect_error(MINIMAL "sessions:\n  portals:\n    - { name: a, title: A, path: /a/ }\n"
                 "    - { name: a, title: B, path: /b/ }\n",
                 "t.yaml:11:7: duplicate portal 'a' (first at 10:7)");
    expect_error(MINIMAL "sessions:\n  portals:\n    - { name: a, title: \"A\\tB\", path: /a/ }\n",
                 "t.yaml:10:25: title must not contain control characters (got 'A?B')");
    expect_error(MINIMAL "sessions:\n  throttle:\n    account: { delay_base_ms: 2000, "
                 "delay_max_ms: 1500 }\n",
                 "t.yaml:10:51: delay_max_ms (1500) must not be less than delay_base_ms (2000)");
    expect_error(MINIMAL "sessions:\n  throttle:\n    address: { free_failures: 5, "
                 "lock_failures: 5 }\n",
                 "t.yaml:10:49: lock_failures (5) must be greater than free_failures (5)");
    expect_error(MINIMAL "sessions:\n  throttle:\n    account: { lock_ms: 1 }\n",
                 "t.yaml:10:25: lock_ms out of range: 1 (expected 1000..4294967295)");
    expect_error(MINIMAL "sessions:\n  throttle: { lock_ms: 1000 }\n",
                 "t.yaml:9:15: unknown key 'lock_ms' in sessions.throttle (expected account, "
                 "address)");
}
END_TEST

START_TEST(login_template)
{
    char path[300], yaml[1024], want[600];
    make_tmpdir();
    write_file("login.html", "<h1>{{title}}</h1>{{error}}<form action=\"{{action}}\">"
               "<input name=csrf value=\"{{csrf}}\">{{return_to}}{{username}}</form>{{portals}}",
               0644, path, sizeof path);
    snprintf(yaml, sizeof yaml, MINIMAL "login:\n  template: %s\n", path);
    struct gw_config *cfg = expect_ok(yaml);
    ck_assert_str_eq(cfg->login.template_path, path);
    ck_assert_ptr_nonnull(strstr(cfg->login.template_text, "<h1>{{title}}</h1>"));
    gw_config_free(cfg);

    write_file("bad.html", "<p>\n{{action}}{{csrf}}\n{{user}}</p>", 0644, path, sizeof path);
    snprintf(yaml, sizeof yaml, MINIMAL "login:\n  template: %s\n", path);
    snprintf(want, sizeof want, "t.yaml:9:13: template '%s' line 3: unknown placeholder "
             "'{{user}}' (use {{title}}, {{error}}, {{action}}, {{csrf}}, {{return_to}}, "
             "{{username}}, {{portals}})", path);
    expect_error(yaml, want);

    write_file("nocsrf.html", "<form action=\"{{action}}\"></form>", 0644, path, sizeof path);
    snprintf(yaml, sizeof yaml, MINIMAL "login:\n  template: %s\n", path);
    snprintf(want, sizeof want, "t.yaml:9:13: template '%s' must contain {{action}} and "
             "{{csrf}}", path);
    expect_error(yaml, want);

    expect_error(MINIMAL "login:\n  template: /nonexistent/login.html\n",
                 "t.yaml:9:13: cannot open template '/nonexistent/login.html': No such file or "
                 "directory");
    expect_error(MINIMAL "login:\n  prefix: /auth\n",
                 "t.yaml:9:11: prefix must start and end with '/' (got '/auth')");
    expect_error(MINIMAL "login:\n  page: x\n",
                 "t.yaml:9:3: unknown key 'page' in login (expected prefix, template, page_title)");
    remove_tmpdir();
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
    tcase_add_test(tc, sessions_defaults_and_values);
    tcase_add_test(tc, sessions_errors);
    tcase_add_test(tc, login_template);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
