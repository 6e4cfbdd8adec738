/* tests/unit/auth/test_session.c — auth/session.c and auth/events.c against a real
 * redis-server and a real event_base: create/touch, idle and absolute expiry, sliding refresh
 * only after the interval, logout, revoke and revoke-all, the login race (stale person
 * version, archived/deleted person), fail-closed on a paused Redis, and the events the
 * directory and session operations publish. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/directory.h"
#include "auth/events.h"
#include "auth/session.h"
#include "redis_test_util.h"

static struct test_redis srv;
static struct event_base *base;
static struct auth_redis *r;
static struct auth_dir *dir;
static struct auth_redis_async *ra;
static char err[512];

static void setup(void)
{
    ck_assert_int_eq(test_redis_start(&srv), 0);
    base = event_base_new();
    struct auth_redis_opts o = { .port = srv.port };
    ck_assert_int_eq(auth_redis_open(&o, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_dir_open(r, NULL, &dir, err, sizeof(err)), 0);
    struct auth_redis_async_opts ao = { .port = srv.port, .timeout_ms = 300,
                                        .reconnect_min_ms = 20, .reconnect_max_ms = 100 };
    ck_assert_int_eq(auth_redis_async_new(base, &ao, &ra, err, sizeof(err)), 0);
}

static void teardown(void)
{
    auth_redis_async_free(ra);
    auth_dir_free(dir);
    auth_redis_free(r);
    event_base_free(base);
    test_redis_destroy(&srv);
}

static long long mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void run_until(volatile int *flag, int want, int ms)
{
    long long end = mono_ms() + ms;
    while (*flag < want && mono_ms() < end) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(100);
    }
}

static struct auth_person *mkperson(const char *login)
{
    struct auth_person_input in = { .login = login, .name = "Pat Example", .ssp_access = true,
                                    .email = NULL };
    const char *roles[] = { "operator" };
    in.roles = roles;
    in.nroles = 1;
    struct auth_person *p = NULL;
    ck_assert_msg(auth_person_create(dir, &in, &p, err, sizeof(err)) == 0, "%s", err);
    return p;
}

static struct auth_sessions *mksessions(uint32_t idle, uint32_t absolute, uint32_t refresh)
{
    struct auth_session_opts o = { .idle_ms = idle, .absolute_ms = absolute,
                                   .refresh_ms = refresh };
    struct auth_sessions *ss = NULL;
    ck_assert_msg(auth_sessions_new(&o, NULL, &ss, err, sizeof(err)) == 0, "%s", err);
    return ss;
}

static void mksession(struct auth_sessions *ss, const struct auth_person *p,
                      struct auth_session_created *c)
{
    struct auth_session_new n = { .person_id = p->id, .person_version = p->version,
                                  .client_addr = "192.0.2.7", .user_agent = "test-agent/1.0",
                                  .portal = "ssp" };
    ck_assert_msg(auth_session_create(ss, r, &n, c, err, sizeof(err)) == 0, "%s", err);
}

/* a synchronous view of one touch */
struct touch_res {
    int calls, rc;
    char sid[64], pid[64], login[64], roles[128], portal[32], fp[16];
    bool ssp, caller, refreshed;
    unsigned long long version, login_version;
    long long seen, exp, auth;
    size_t nroles;
};

static void touch_cb(int rc, const struct auth_session_info *in, void *arg)
{
    struct touch_res *t = arg;
    t->calls++;
    t->rc = rc;
    if (rc)
        return;
    snprintf(t->sid, sizeof(t->sid), "%s", in->sid);
    snprintf(t->pid, sizeof(t->pid), "%s", in->person_id);
    snprintf(t->login, sizeof(t->login), "%s", in->login);
    snprintf(t->portal, sizeof(t->portal), "%s", in->portal);
    snprintf(t->fp, sizeof(t->fp), "%s", in->fingerprint);
    t->roles[0] = 0;
    for (size_t i = 0; i < in->nroles; i++) {
        strcat(t->roles, in->roles[i]);
        strcat(t->roles, ";");
    }
    t->nroles = in->nroles;
    t->ssp = in->ssp_access;
    t->caller = in->is_caller;
    t->refreshed = in->refreshed;
    t->version = in->person_version;
    t->login_version = in->login_person_version;
    t->seen = in->last_seen_ms;
    t->exp = in->expires_ms;
    t->auth = in->auth_time_ms;
}

static struct touch_res touch(struct auth_sessions *ss, const char *cookie, const char *portal)
{
    struct touch_res t = { 0 };
    struct auth_session_op op;
    int rc = auth_session_touch(ss, ra, cookie, strlen(cookie), portal, &op, touch_cb, &t);
    if (rc) {
        t.rc = rc;
        return t;
    }
    run_until(&t.calls, 1, 3000);
    ck_assert_int_eq(t.calls, 1);
    return t;
}

static long long redis_int(const char *a0, const char *a1, const char *a2)
{
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), a0, a1, a2, NULL), 0);
    long long v = auth_reply_int(rep);
    auth_reply_free(rep);
    return v;
}

static void session_key(struct auth_sessions *ss, const char *cookie, char *key)
{
    ck_assert_int_eq(auth_session_key(ss, cookie, strlen(cookie), key), 0);
}

START_TEST(create_and_touch)
{
    struct auth_sessions *ss = mksessions(60000, 3600000, 1000);
    struct auth_person *p = mkperson("pat");
    struct auth_session_created c;
    mksession(ss, p, &c);
    ck_assert_uint_eq(strlen(c.cookie), AUTH_SESSION_COOKIE_LEN);
    ck_assert_uint_eq(strlen(c.sid), AUTH_SESSION_SID_LEN);
    ck_assert_int_eq(c.expires_ms - c.auth_time_ms, 3600000);
    char key[AUTH_SESSION_KEY_MAX];
    session_key(ss, c.cookie, key);
    ck_assert(strncmp(key, "og:{dir}:s:", 11) == 0);
    ck_assert_uint_eq(strlen(key), 11 + 64);
    /* stored under the hash; the cookie itself appears nowhere in Redis */
    ck_assert_int_eq(redis_int("EXISTS", key, NULL), 1);
    struct auth_reply *dump = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &dump, err, sizeof(err), "KEYS", "*", NULL), 0);
    for (size_t i = 0; i < auth_reply_len(dump); i++) {
        const char *k = auth_reply_str(auth_reply_elem(dump, i), NULL);
        ck_assert_ptr_null(strstr(k, c.cookie));
        struct auth_reply *t = NULL;
        auth_redis_cmd(r, &t, err, sizeof(err), "TYPE", k, NULL);
        if (strcmp(auth_reply_str(t, NULL), "hash") == 0) {
            struct auth_reply *h = NULL;
            ck_assert_int_eq(auth_redis_cmd(r, &h, err, sizeof(err), "HGETALL", k, NULL), 0);
            for (size_t j = 0; j < auth_reply_len(h); j++)
                ck_assert_ptr_null(strstr(auth_reply_str(auth_reply_elem(h, j), NULL), c.cookie));
            auth_reply_free(h);
        }
        auth_reply_free(t);
    }
    auth_reply_free(dump);
    /* indexed for revocation, with a TTL */
    char *idx = auth_dir_key_person_sessions(dir, p->id);
    ck_assert_int_eq(redis_int("SISMEMBER", idx, key), 1);
    long long pttl = redis_int("PTTL", key, NULL);
    ck_assert_msg(pttl > 59000 && pttl <= 60000, "pttl %lld", pttl);
    struct touch_res t = touch(ss, c.cookie, "operator");
    ck_assert_int_eq(t.rc, 0);
    ck_assert_str_eq(t.sid, c.sid);
    ck_assert_str_eq(t.pid, p->id);
    ck_assert_str_eq(t.login, "pat");
    ck_assert_str_eq(t.roles, "operator;");
    ck_assert(t.ssp);
    ck_assert(!t.caller);
    ck_assert_uint_eq(t.version, p->version);
    ck_assert_uint_eq(t.login_version, p->version);
    ck_assert_str_eq(t.portal, "ssp");        /* no refresh yet: portal not recorded */
    ck_assert(!t.refreshed);
    char fp[AUTH_SESSION_FP_LEN + 1];
    auth_session_fingerprint(key, fp);
    ck_assert_str_eq(t.fp, fp);
    ck_assert_uint_eq(strlen(fp), 8);
    /* admin listing: sid, address, agent; never the key or cookie */
    json_t *list = NULL;
    ck_assert_int_eq(auth_session_list(ss, r, p->id, &list, err, sizeof(err)), 0);
    ck_assert_uint_eq(json_array_size(list), 1);
    json_t *e = json_array_get(list, 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "sid")), c.sid);
    ck_assert_str_eq(json_string_value(json_object_get(e, "client_addr")), "192.0.2.7");
    ck_assert_str_eq(json_string_value(json_object_get(e, "user_agent")), "test-agent/1.0");
    json_decref(list);
    /* a card change shows on the next touch, no new login */
    struct auth_person_patch patch = AUTH_PERSON_PATCH_INIT;
    patch.ssp_access = 0;
    patch.is_caller = 1;
    struct auth_person *p2 = NULL;
    ck_assert_int_eq(auth_person_update(dir, p->id, &patch, &p2, err, sizeof(err)), 0);
    t = touch(ss, c.cookie, NULL);
    ck_assert_int_eq(t.rc, 0);
    ck_assert(!t.ssp);
    ck_assert(t.caller);
    ck_assert_uint_eq(t.version, p2->version);
    ck_assert_uint_eq(t.login_version, p->version);
    free(idx);
    auth_person_free(p);
    auth_person_free(p2);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(malformed_cookie_no_roundtrip)
{
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct touch_res t = { 0 };
    struct auth_session_op op;
    const char *bad[] = { "", "short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/", NULL };
    for (int i = 0; bad[i]; i++)
        ck_assert_int_eq(auth_session_touch(ss, ra, bad[i], strlen(bad[i]), NULL, &op,
                                            touch_cb, &t), AUTH_SESSION_EINVAL);
    /* well-formed but unknown */
    t = touch(ss, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL);
    ck_assert_int_eq(t.rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(t.calls, 1);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(idle_expiry)
{
    struct auth_sessions *ss = mksessions(300, 10000, 100);
    struct auth_person *p = mkperson("idle");
    struct auth_session_created c;
    mksession(ss, p, &c);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);
    usleep(450 * 1000);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    char key[AUTH_SESSION_KEY_MAX];
    session_key(ss, c.cookie, key);
    ck_assert_int_eq(redis_int("EXISTS", key, NULL), 0);   /* gone by TTL */
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(sliding_refresh_only_after_interval)
{
    struct auth_sessions *ss = mksessions(600, 20000, 250);
    struct auth_person *p = mkperson("slide");
    struct auth_session_created c;
    mksession(ss, p, &c);
    char key[AUTH_SESSION_KEY_MAX];
    session_key(ss, c.cookie, key);
    /* within the interval: no write, TTL keeps falling */
    usleep(100 * 1000);
    struct touch_res t = touch(ss, c.cookie, "operator");
    ck_assert_int_eq(t.rc, 0);
    ck_assert(!t.refreshed);
    ck_assert_int_eq(t.seen, c.auth_time_ms);
    ck_assert_str_eq(t.portal, "ssp");
    long long pttl = redis_int("PTTL", key, NULL);
    ck_assert_msg(pttl < 520, "pttl %lld", pttl);
    /* past the interval: refreshed, last seen and portal recorded, TTL back to idle */
    usleep(200 * 1000);
    t = touch(ss, c.cookie, "operator");
    ck_assert_int_eq(t.rc, 0);
    ck_assert(t.refreshed);
    ck_assert_int_ge(t.seen, c.auth_time_ms + 250);
    ck_assert_str_eq(t.portal, "operator");
    pttl = redis_int("PTTL", key, NULL);
    ck_assert_msg(pttl > 550, "pttl %lld", pttl);
    /* activity every 200 ms keeps it alive well past the idle timeout */
    long long start = mono_ms();
    while (mono_ms() - start < 1500) {
        usleep(200 * 1000);
        ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);
    }
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(absolute_expiry)
{
    struct auth_sessions *ss = mksessions(1000, 1000, 100);
    struct auth_person *p = mkperson("abs");
    struct auth_session_created c;
    mksession(ss, p, &c);
    /* shorter absolute than idle is refused at configuration */
    struct auth_sessions *bad = NULL;
    struct auth_session_opts o = { .idle_ms = 2000, .absolute_ms = 1000, .refresh_ms = 100 };
    ck_assert_int_eq(auth_sessions_new(&o, NULL, &bad, err, sizeof(err)), AUTH_SESSION_EINVAL);
    o = (struct auth_session_opts){ .idle_ms = 1000, .absolute_ms = 5000, .refresh_ms = 1000 };
    ck_assert_int_eq(auth_sessions_new(&o, NULL, &bad, err, sizeof(err)), AUTH_SESSION_EINVAL);
    /* activity refreshes the idle TTL but never past the absolute expiry */
    long long start = mono_ms();
    int ok = 0;
    while (mono_ms() - start < 900) {
        usleep(120 * 1000);
        if (touch(ss, c.cookie, NULL).rc == 0)
            ok++;
    }
    ck_assert_int_ge(ok, 5);
    usleep(250 * 1000);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(create_race_stale_or_inactive)
{
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct auth_person *p = mkperson("race");
    char *idx = auth_dir_key_person_sessions(dir, p->id);
    /* the card changed after the password check saw version v */
    struct auth_person *p2 = NULL;
    ck_assert_int_eq(auth_person_grant(dir, p->id, "application_manager", &p2, err,
                                       sizeof(err)), 0);
    struct auth_session_new n = { .person_id = p->id, .person_version = p->version };
    struct auth_session_created c;
    ck_assert_int_eq(auth_session_create(ss, r, &n, &c, err, sizeof(err)), AUTH_SESSION_ESTALE);
    ck_assert_str_eq(c.cookie, "");
    ck_assert_int_eq(redis_int("EXISTS", idx, NULL), 0);
    /* archived meanwhile */
    ck_assert_int_eq(auth_person_archive(dir, p->id, NULL, err, sizeof(err)), 0);
    struct auth_person *p3 = NULL;
    ck_assert_int_eq(auth_person_get(dir, p->id, &p3, err, sizeof(err)), 0);
    n.person_version = p3->version;
    ck_assert_int_eq(auth_session_create(ss, r, &n, &c, err, sizeof(err)),
                     AUTH_SESSION_EINACTIVE);
    /* deleted meanwhile */
    ck_assert_int_eq(auth_person_delete(dir, p->id, 0, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_session_create(ss, r, &n, &c, err, sizeof(err)),
                     AUTH_SESSION_EINACTIVE);
    ck_assert_int_eq(redis_int("EXISTS", idx, NULL), 0);
    struct auth_reply *k = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &k, err, sizeof(err), "KEYS", "og:{dir}:s:*", NULL), 0);
    ck_assert_uint_eq(auth_reply_len(k), 0);
    auth_reply_free(k);
    free(idx);
    auth_person_free(p);
    auth_person_free(p2);
    auth_person_free(p3);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(touch_refuses_inactive_person)
{
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct auth_person *a = mkperson("arch"), *d = mkperson("del"), *x = mkperson("anon"),
                       *raw = mkperson("raw");
    struct auth_session_created ca, cd, cx, cr;
    mksession(ss, a, &ca);
    mksession(ss, d, &cd);
    mksession(ss, x, &cx);
    mksession(ss, raw, &cr);
    struct auth_revocation rev;
    ck_assert_int_eq(auth_person_archive(dir, a->id, &rev, err, sizeof(err)), 0);
    ck_assert_uint_eq(rev.sessions, 1);
    ck_assert_int_eq(auth_person_delete(dir, d->id, 0, &rev, err, sizeof(err)), 0);
    ck_assert_uint_eq(rev.sessions, 1);
    ck_assert_int_eq(auth_person_anonymize(dir, x->id, &rev, err, sizeof(err)), 0);
    ck_assert_uint_eq(rev.sessions, 1);
    ck_assert_int_eq(touch(ss, ca.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(touch(ss, cd.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(touch(ss, cx.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    /* unarchive does not bring old sessions back */
    ck_assert_int_eq(auth_person_unarchive(dir, a->id, err, sizeof(err)), 0);
    ck_assert_int_eq(touch(ss, ca.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    /* even if the index were bypassed: a card not active (or gone) refuses the session */
    char card[128], key[AUTH_SESSION_KEY_MAX];
    snprintf(card, sizeof(card), "og:{dir}:p:%s", raw->id);
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "HSET", card, "status",
                                    "archived", NULL), 0);
    auth_reply_free(rep);
    ck_assert_int_eq(touch(ss, cr.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    session_key(ss, cr.cookie, key);
    ck_assert_int_eq(redis_int("EXISTS", key, NULL), 0);   /* and it was deleted */
    auth_person_free(a);
    auth_person_free(d);
    auth_person_free(x);
    auth_person_free(raw);
    auth_sessions_free(ss);
}
END_TEST

struct done_res {
    int calls, rc;
    size_t n;
};

static void done_cb(int rc, size_t n, void *arg)
{
    struct done_res *d = arg;
    d->calls++;
    d->rc = rc;
    d->n = n;
}

struct evlog {
    int n, resyncs;
    char types[16][32];
    char ids[16][40];
    char sids[16][32];
    char reasons[16][24];
};

static void ev_cb(const struct auth_event *e, void *arg)
{
    struct evlog *l = arg;
    if (e->resync) {
        l->resyncs++;
        return;
    }
    if (l->n >= 16)
        return;
    snprintf(l->types[l->n], 32, "%s", e->type);
    snprintf(l->ids[l->n], 40, "%s", e->id);
    snprintf(l->sids[l->n], 32, "%s", e->sid);
    snprintf(l->reasons[l->n], 24, "%s", e->reason);
    l->n++;
}

START_TEST(logout_revoke_and_events)
{
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct auth_person *p = mkperson("multi");
    struct evlog log = { 0 };
    struct auth_events *ev = NULL;
    struct auth_redis_async_opts ao = { .port = srv.port };
    ck_assert_int_eq(auth_events_new(base, &ao, ev_cb, &log, &ev, err, sizeof(err)), 0);
    run_until(&log.resyncs, 1, 2000);
    ck_assert(auth_events_active(ev));
    char *idx = auth_dir_key_person_sessions(dir, p->id);
    struct auth_session_created c[4];
    for (int i = 0; i < 4; i++)
        mksession(ss, p, &c[i]);
    ck_assert_int_eq(redis_int("SCARD", idx, NULL), 4);
    /* logout of one: gone from Redis and from the index at once, event with its sid */
    struct done_res d = { 0 };
    struct auth_session_op op;
    ck_assert_int_eq(auth_session_logout(ss, ra, c[0].cookie, AUTH_SESSION_COOKIE_LEN, &op,
                                         done_cb, &d), 0);
    run_until(&d.calls, 1, 2000);
    ck_assert_int_eq(d.rc, 0);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_int_eq(redis_int("SCARD", idx, NULL), 3);
    ck_assert_int_eq(touch(ss, c[0].cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    d = (struct done_res){ 0 };
    ck_assert_int_eq(auth_session_logout(ss, ra, c[0].cookie, AUTH_SESSION_COOKIE_LEN, &op,
                                         done_cb, &d), 0);
    run_until(&d.calls, 1, 2000);
    ck_assert_int_eq(d.rc, AUTH_SESSION_ENOTFOUND);
    /* revoke one by its public handle (admin) */
    ck_assert_int_eq(auth_session_revoke_sid(ss, r, p->id, c[1].sid, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_session_revoke_sid(ss, r, p->id, c[1].sid, err, sizeof(err)),
                     AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(touch(ss, c[1].cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(touch(ss, c[2].cookie, NULL).rc, 0);
    /* revoke all through the index */
    d = (struct done_res){ 0 };
    ck_assert_int_eq(auth_session_revoke_all_async(ss, ra, p->id, "logout_all", &op, done_cb,
                                                   &d), 0);
    run_until(&d.calls, 1, 2000);
    ck_assert_int_eq(d.rc, 0);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_int_eq(touch(ss, c[2].cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(touch(ss, c[3].cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(redis_int("EXISTS", idx, NULL), 0);
    /* a directory operation's events reach the subscriber */
    struct auth_revocation rev;
    struct auth_session_created c5;
    mksession(ss, p, &c5);
    ck_assert_int_eq(auth_person_archive(dir, p->id, &rev, err, sizeof(err)), 0);
    int want = 5;   /* session.revoked x2, person.revoked, person.changed, person.revoked */
    run_until(&log.n, want, 2000);
    ck_assert_int_ge(log.n, want);
    ck_assert_str_eq(log.types[0], "session.revoked");
    ck_assert_str_eq(log.sids[0], c[0].sid);
    ck_assert_str_eq(log.reasons[0], "logout");
    ck_assert_str_eq(log.types[1], "session.revoked");
    ck_assert_str_eq(log.sids[1], c[1].sid);
    ck_assert_str_eq(log.types[2], "person.revoked");
    ck_assert_str_eq(log.reasons[2], "logout_all");
    int saw_changed = 0, saw_archive = 0;
    for (int i = 3; i < log.n; i++) {
        ck_assert_str_eq(log.ids[i], p->id);
        saw_changed += strcmp(log.types[i], "person.changed") == 0;
        saw_archive += strcmp(log.types[i], "person.revoked") == 0 &&
                       strcmp(log.reasons[i], "archive") == 0;
    }
    ck_assert_int_eq(saw_changed, 1);
    ck_assert_int_eq(saw_archive, 1);
    ck_assert_int_eq(touch(ss, c5.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    auth_events_free(ev);
    free(idx);
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(fail_closed_when_redis_stalls)
{
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct auth_person *p = mkperson("stall");
    struct auth_session_created c;
    mksession(ss, p, &c);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);
    test_redis_pause(&srv);
    struct touch_res t = touch(ss, c.cookie, NULL);
    test_redis_resume(&srv);
    ck_assert_int_eq(t.rc, AUTH_SESSION_EREDIS);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);
    /* cancelled touch: callback never runs */
    struct touch_res never = { 0 };
    struct auth_session_op op;
    ck_assert_int_eq(auth_session_touch(ss, ra, c.cookie, AUTH_SESSION_COOKIE_LEN, NULL, &op,
                                        touch_cb, &never), 0);
    auth_session_op_cancel(&op);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);
    ck_assert_int_eq(never.calls, 0);
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(index_pruned_of_expired_sessions)
{
    struct auth_sessions *ss = mksessions(200, 400, 100);
    struct auth_person *p = mkperson("prune");
    char *idx = auth_dir_key_person_sessions(dir, p->id);
    struct auth_session_created c;
    for (int i = 0; i < 16; i++)
        mksession(ss, p, &c);
    ck_assert_int_eq(redis_int("SCARD", idx, NULL), 16);
    usleep(450 * 1000);
    mksession(ss, p, &c);
    ck_assert_int_eq(redis_int("SCARD", idx, NULL), 1);
    free(idx);
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

/* ---- the cache hit path (auth/session.c: plain HMGETs instead of the script) ---- */

/* calls of <cmd> ("evalsha", "hmget") so far, from INFO commandstats */
static long long cmd_calls(const char *cmd)
{
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "INFO", "commandstats", NULL), 0);
    char pat[64];
    snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", cmd);
    const char *s = strstr(auth_reply_str(rep, NULL), pat);
    long long n = s ? atoll(s + strlen(pat)) : 0;
    auth_reply_free(rep);
    return n;
}

static void set_field(const char *key, const char *field, const char *val)
{
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "HSET", key, field, val, NULL), 0);
    auth_reply_free(rep);
}

START_TEST(hit_path_same_answer_no_script)
{
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct auth_person *p = mkperson("hit");
    struct auth_session_created c;
    mksession(ss, p, &c);
    struct touch_res a = touch(ss, c.cookie, NULL);     /* miss: the script fills the cache */
    ck_assert_int_eq(a.rc, 0);
    long long ev = cmd_calls("evalsha"), hm = cmd_calls("hmget");
    struct touch_res b = touch(ss, c.cookie, "operator");
    ck_assert_int_eq(b.rc, 0);
    ck_assert_int_eq(cmd_calls("evalsha"), ev);         /* no script on a hit */
    ck_assert_int_eq(cmd_calls("hmget"), hm + 1);       /* the session, with its card copy */
    ck_assert_str_eq(b.sid, a.sid);
    ck_assert_str_eq(b.pid, p->id);
    ck_assert_str_eq(b.login, "hit");
    ck_assert_str_eq(b.roles, "operator;");
    ck_assert_str_eq(b.fp, a.fp);
    ck_assert_str_eq(b.portal, "ssp");                  /* recorded only on refresh */
    ck_assert(!b.refreshed);
    ck_assert(b.ssp);
    ck_assert_int_eq(b.exp, c.expires_ms);
    ck_assert_int_eq(b.auth, c.auth_time_ms);
    ck_assert_uint_eq(b.version, a.version);
    ck_assert_uint_eq(b.login_version, p->version);
    /* a card change through the directory shows on the next (hit) touch: the directory's
     * script rewrote the session's copy in the same step as the card */
    struct auth_person *q = NULL;
    ck_assert_int_eq(auth_person_grant(dir, p->id, "application_manager", &q, err, sizeof(err)), 0);
    auth_person_free(q);
    struct auth_person_patch patch = AUTH_PERSON_PATCH_INIT;
    patch.ssp_access = 0;
    patch.name = "Hit Renamed";
    ck_assert_int_eq(auth_person_update(dir, p->id, &patch, &q, err, sizeof(err)), 0);
    ev = cmd_calls("evalsha");
    b = touch(ss, c.cookie, NULL);
    ck_assert_int_eq(b.rc, 0);
    ck_assert_str_eq(b.roles, "application_manager;operator;");
    ck_assert(!b.ssp);
    ck_assert_uint_eq(b.version, q->version);
    ck_assert_uint_eq(b.login_version, p->version);
    ck_assert_int_eq(cmd_calls("evalsha"), ev);
    auth_person_free(q);
    /* a write behind the directory's back (not a supported path) is corrected by the next
     * script touch, which reads the card itself: here a cache miss (another sessions object,
     * as another worker's would be) */
    char card[128];
    snprintf(card, sizeof(card), "og:{dir}:p:%s", p->id);
    set_field(card, "roles", "operator");
    struct auth_sessions *ss2 = mksessions(0, 0, 0);
    b = touch(ss2, c.cookie, NULL);
    ck_assert_int_eq(b.rc, 0);
    ck_assert_str_eq(b.roles, "operator;");
    ck_assert_int_eq(cmd_calls("evalsha"), ev + 1);
    char key[AUTH_SESSION_KEY_MAX];                     /* and the copy was rewritten */
    session_key(ss, c.cookie, key);
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "HGET", key, "card", NULL), 0);
    ck_assert_ptr_nonnull(strstr(auth_reply_str(rep, NULL), "\x1f" "operator\x1f"));
    auth_reply_free(rep);
    auth_sessions_free(ss2);
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(hit_path_sees_revocation)
{
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct auth_person *p = mkperson("hitrev");
    struct auth_session_created c1, c2;
    mksession(ss, p, &c1);
    mksession(ss, p, &c2);
    ck_assert_int_eq(touch(ss, c1.cookie, NULL).rc, 0);
    ck_assert_int_eq(touch(ss, c2.cookie, NULL).rc, 0);
    ck_assert_int_eq(touch(ss, c1.cookie, NULL).rc, 0);     /* hits */
    ck_assert_int_eq(touch(ss, c2.cookie, NULL).rc, 0);
    /* revoked by another process (admin, blocking client) while the cache holds both */
    size_t n = 0;
    ck_assert_int_eq(auth_session_revoke_sid(ss, r, p->id, c1.sid, err, sizeof(err)), 0);
    long long ev = cmd_calls("evalsha");       /* the revocation was a script too */
    ck_assert_int_eq(touch(ss, c1.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(cmd_calls("evalsha"), ev);             /* decided on the hit path */
    ck_assert_int_eq(touch(ss, c2.cookie, NULL).rc, 0);
    ck_assert_int_eq(auth_session_revoke_all(ss, r, p->id, "test", &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(touch(ss, c2.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(touch(ss, c2.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(hit_path_refuses_inactive_person)
{
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct auth_person *a = mkperson("hitarch"), *d = mkperson("hitdel"),
                       *raw = mkperson("hitraw");
    struct auth_session_created ca, cd, cr;
    mksession(ss, a, &ca);
    mksession(ss, d, &cd);
    mksession(ss, raw, &cr);
    const char *ck[] = { ca.cookie, cd.cookie, cr.cookie };
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(touch(ss, ck[i], NULL).rc, 0);
        ck_assert_int_eq(touch(ss, ck[i], NULL).rc, 0);
    }
    struct auth_revocation rev;
    ck_assert_int_eq(auth_person_archive(dir, a->id, &rev, err, sizeof(err)), 0);
    ck_assert_int_eq(auth_person_delete(dir, d->id, 0, &rev, err, sizeof(err)), 0);
    long long ev = cmd_calls("evalsha");       /* after the directory's own scripts */
    /* archive and delete removed the sessions in their own scripts: refused on the hit path */
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(touch(ss, ck[i], NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(cmd_calls("evalsha"), ev);
    /* a copy saying the person is not active is refused on the hit path too */
    char card[128], key[AUTH_SESSION_KEY_MAX];
    session_key(ss, cr.cookie, key);
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "HGET", key, "card", NULL), 0);
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", auth_reply_str(rep, NULL));
    auth_reply_free(rep);
    char *st = strchr(copy, '\x1f');
    ck_assert_ptr_nonnull(st);
    ck_assert(strncmp(st + 1, "active\x1f", 7) == 0);
    char tampered[600];
    snprintf(tampered, sizeof(tampered), "%.*s\x1f" "archived%s", (int)(st - copy), copy,
             st + 7);
    set_field(key, "card", tampered);
    ck_assert_int_eq(touch(ss, cr.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(cmd_calls("evalsha"), ev);
    /* the entry was dropped: the next touch takes the script, which reads the card itself */
    ck_assert_int_eq(touch(ss, cr.cookie, NULL).rc, 0);
    ck_assert_int_eq(cmd_calls("evalsha"), ev + 1);
    /* status changed behind the index's back: the script refuses and deletes the session */
    snprintf(card, sizeof(card), "og:{dir}:p:%s", raw->id);
    set_field(card, "status", "archived");
    struct auth_sessions *ss2 = mksessions(0, 0, 0);       /* a cache miss: the script */
    ck_assert_int_eq(redis_int("EXISTS", key, NULL), 1);
    ck_assert_int_eq(touch(ss2, cr.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(redis_int("EXISTS", key, NULL), 0);
    ck_assert_int_eq(touch(ss, cr.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    auth_sessions_free(ss2);
    auth_person_free(a);
    auth_person_free(d);
    auth_person_free(raw);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(hit_path_without_card_copy)
{
    /* a session without its card copy (as an older version wrote them) is refused on the hit
     * path, and the next touch takes the script, which writes the copy */
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct auth_person *p = mkperson("nocopy");
    struct auth_session_created c;
    mksession(ss, p, &c);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);     /* a hit */
    char key[AUTH_SESSION_KEY_MAX];
    session_key(ss, c.cookie, key);
    ck_assert_int_eq(redis_int("HDEL", key, "card"), 1);
    long long ev = cmd_calls("evalsha");
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(cmd_calls("evalsha"), ev);
    struct touch_res t = touch(ss, c.cookie, NULL);
    ck_assert_int_eq(t.rc, 0);
    ck_assert_str_eq(t.login, "nocopy");
    ck_assert_int_eq(cmd_calls("evalsha"), ev + 1);
    ck_assert_int_eq(redis_int("HEXISTS", key, "card"), 1);
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(hit_path_absolute_expiry)
{
    /* the gateway checks the session's exp itself on a hit (exp never changes: it is cached
     * with the entry, and a hit is taken only before it) */
    struct auth_sessions *ss;
    struct auth_person *p;
    struct auth_session_created c;
    /* idle 1000 = absolute 1000, refresh 900: touches at ~100 ms steps are hits after the
     * first; past the absolute expiry none succeeds */
    ss = mksessions(1000, 1000, 900);
    p = mkperson("hitabs2");
    mksession(ss, p, &c);
    long long start = mono_ms();
    int ok = 0;
    while (mono_ms() - start < 800) {
        usleep(100 * 1000);
        if (touch(ss, c.cookie, NULL).rc == 0)
            ok++;
    }
    ck_assert_int_ge(ok, 5);
    usleep(300 * 1000);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, AUTH_SESSION_ENOTFOUND);
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(hit_path_fails_closed)
{
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct auth_person *p = mkperson("hitdown");
    struct auth_session_created c;
    mksession(ss, p, &c);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);
    /* stalled: the read times out */
    test_redis_pause(&srv);
    struct touch_res t = touch(ss, c.cookie, NULL);
    test_redis_resume(&srv);
    ck_assert_int_eq(t.rc, AUTH_SESSION_EREDIS);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);
    /* a cancelled hit: its callback never runs */
    struct touch_res never = { 0 };
    struct auth_session_op op;
    ck_assert_int_eq(auth_session_touch(ss, ra, c.cookie, AUTH_SESSION_COOKIE_LEN, NULL, &op,
                                        touch_cb, &never), 0);
    auth_session_op_cancel(&op);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, 0);
    ck_assert_int_eq(never.calls, 0);
    /* an error reply (the key holds something else): EREDIS, not "logged in" */
    char key[AUTH_SESSION_KEY_MAX];
    session_key(ss, c.cookie, key);
    struct auth_reply *rep = NULL;
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "DEL", key, NULL), 0);
    auth_reply_free(rep);
    ck_assert_int_eq(auth_redis_cmd(r, &rep, err, sizeof(err), "SET", key, "x", NULL), 0);
    auth_reply_free(rep);
    ck_assert_int_eq(touch(ss, c.cookie, NULL).rc, AUTH_SESSION_EREDIS);
    /* Redis gone: the hit fails closed, at once or by callback */
    test_redis_kill(&srv);
    t = touch(ss, c.cookie, NULL);
    ck_assert_int_eq(t.rc, AUTH_SESSION_EREDIS);
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

/* the caller may free the op inside its callback (as gateway endpoints do) and still read
 * <info> there: it must not point into the op (ASan catches it in the sanitized build) */
struct freeing_res {
    struct auth_session_op *op;
    struct touch_res t;
};

static void freeing_cb(int rc, const struct auth_session_info *in, void *arg)
{
    struct freeing_res *f = arg;
    free(f->op);
    f->op = NULL;
    touch_cb(rc, in, &f->t);
}

START_TEST(hit_path_op_freed_in_callback)
{
    struct auth_sessions *ss = mksessions(0, 0, 0);
    struct auth_person *p = mkperson("hitfree");
    struct auth_session_created c;
    mksession(ss, p, &c);
    for (int i = 0; i < 2; i++) {           /* miss (script), then hit */
        struct freeing_res f = { .op = malloc(sizeof(struct auth_session_op)) };
        ck_assert_ptr_nonnull(f.op);
        ck_assert_int_eq(auth_session_touch(ss, ra, c.cookie, AUTH_SESSION_COOKIE_LEN, "ssp",
                                            f.op, freeing_cb, &f), 0);
        run_until(&f.t.calls, 1, 3000);
        ck_assert_int_eq(f.t.calls, 1);
        ck_assert_int_eq(f.t.rc, 0);
        ck_assert_str_eq(f.t.pid, p->id);
        ck_assert_str_eq(f.t.sid, c.sid);
        ck_assert_str_eq(f.t.portal, "ssp");
    }
    auth_person_free(p);
    auth_sessions_free(ss);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, create_and_touch);
    tcase_add_test(tc, malformed_cookie_no_roundtrip);
    tcase_add_test(tc, idle_expiry);
    tcase_add_test(tc, sliding_refresh_only_after_interval);
    tcase_add_test(tc, absolute_expiry);
    tcase_add_test(tc, create_race_stale_or_inactive);
    tcase_add_test(tc, touch_refuses_inactive_person);
    tcase_add_test(tc, logout_revoke_and_events);
    tcase_add_test(tc, fail_closed_when_redis_stalls);
    tcase_add_test(tc, index_pruned_of_expired_sessions);
    tcase_add_test(tc, hit_path_same_answer_no_script);
    tcase_add_test(tc, hit_path_sees_revocation);
    tcase_add_test(tc, hit_path_refuses_inactive_person);
    tcase_add_test(tc, hit_path_without_card_copy);
    tcase_add_test(tc, hit_path_absolute_expiry);
    tcase_add_test(tc, hit_path_fails_closed);
    tcase_add_test(tc, hit_path_op_freed_in_callback);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
