/* gateway/main.c — the onegate process: command line, configuration check, worker start,
 * signals (SIGHUP reload, SIGTERM/SIGINT drain) handled on the main thread's own event loop.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "gateway/config.h"
#include "gateway/endpoints/admin_api.h"
#include "gateway/endpoints/login.h"
#include "gateway/log.h"
#include "gateway/policy_explain.h"
#include "gateway/services.h"
#include "gateway/tokens.h"
#include "gateway/worker.h"

struct main_ctx {
    struct event_base *base;
    struct gw_rtconf *rt;           /* current configuration (main thread's reference) */
    struct gw_services *svc;        /* auth work pool; outlives the workers' loops */
    struct event *retry_ev;         /* retries the pool while Redis is unreachable */
    char *path;
    bool stopping;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: onegate -c FILE          run with configuration FILE (also --config FILE)\n"
            "       onegate --check-config FILE   validate FILE and exit (0 ok, 1 error)\n"
            "       onegate policy explain --config FILE --person LOGIN --request \"POST /path\"\n"
            "               [--host HOST]    how the role policy decides that request\n"
            "       onegate --version\n"
            "       onegate --help\n"
            "signals: SIGHUP reloads routes, upstreams and limits; SIGTERM/SIGINT drain and exit\n");
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    struct main_ctx *m = arg;
    if (m->stopping)
        return;
    char err[GW_CONFIG_ERR_MAX];
    struct gw_config *cfg = gw_config_load(m->path, err, sizeof err);
    if (!cfg) {
        GW_LOG(GW_LOG_ERROR, "reload failed, keeping the running configuration: %s", err);
        return;
    }
    const struct gw_config *old = m->rt->cfg;
    if (cfg->nlisteners != old->nlisteners || cfg->workers != old->workers)
        GW_LOG(GW_LOG_WARN, "reload: listen and workers changes need a restart; ignored");
    if (strcmp(cfg->admin.prefix, old->admin.prefix) != 0 ||
        strcmp(cfg->redis.addr.text, old->redis.addr.text) != 0 ||
        strcmp(cfg->redis.key_prefix, old->redis.key_prefix) != 0 ||
        memcmp(&cfg->auth, &old->auth, sizeof cfg->auth) != 0)
        GW_LOG(GW_LOG_WARN, "reload: admin.prefix, redis and auth changes need a restart; "
               "ignored");
    struct gw_rtconf *rt = gw_rtconf_new(cfg);
    if (!rt) {
        GW_LOG(GW_LOG_ERROR, "reload failed: out of memory");
        return;
    }
    gw_log_set_level(rt->cfg->log.level);
    gw_workers_reload(rt);
    gw_rtconf_unref(m->rt);
    m->rt = rt;
    GW_LOG(GW_LOG_INFO, "configuration reloaded from %s (%zu routes, %zu upstreams)", m->path,
           rt->cfg->nroutes, rt->cfg->nupstreams);
}

/* Retries starting the auth work pool while Redis has been unreachable since start. */
static void on_services_retry(evutil_socket_t fd, short what, void *arg)
{
    struct main_ctx *m = arg;
    if (!m->stopping && !gw_services_retry(m->svc)) {
        struct timeval tv = { 1, 0 };
        evtimer_add(m->retry_ev, &tv);
    }
}

static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
    struct main_ctx *m = arg;
    if (m->stopping)
        return;
    m->stopping = true;
    GW_LOG(GW_LOG_INFO, "signal %d: draining (up to %u ms)", (int)sig,
           m->rt->cfg->limits.drain_timeout_ms);
    gw_workers_drain();
    event_base_loopbreak(m->base);
}

static int check_config(const char *path)
{
    char err[GW_CONFIG_ERR_MAX];
    struct gw_config *cfg = gw_config_load(path, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s: ok\n", path);
    gw_config_free(cfg);
    return 0;
}

static int run(const char *path)
{
    char err[GW_CONFIG_ERR_MAX];
    struct main_ctx m = { 0 };
    int rc = 1;
    m.path = strdup(path);
    struct gw_config *cfg = gw_config_load(path, err, sizeof err);
    if (!cfg || !m.path) {
        fprintf(stderr, "onegate: %s\n", cfg ? "out of memory" : err);
        free(m.path);
        if (cfg)
            gw_config_free(cfg);
        return 1;
    }
    if (gw_log_open(&cfg->log, err, sizeof err) != 0) {
        fprintf(stderr, "onegate: %s\n", err);
        gw_config_free(cfg);
        free(m.path);
        return 1;
    }
    int nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nworkers < 1)
        nworkers = 1;
    m.rt = gw_rtconf_new(cfg);
    if (!m.rt) {
        fprintf(stderr, "onegate: out of memory\n");
        free(m.path);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    /* Workers inherit a mask without these signals: only the main thread receives them. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    struct event *ev_hup = NULL, *ev_term = NULL, *ev_int = NULL;
    /* the pool's threads inherit the blocked signals too */
    if (gw_services_new(m.rt->cfg, nworkers, &m.svc, err, sizeof err) != 0 ||
        gw_admin_api_register(m.rt->cfg, m.svc) != 0 || gw_login_register(m.rt->cfg) != 0) {
        GW_LOG(GW_LOG_ERROR, "%s", m.svc ? "cannot register the admin and login endpoints" : err);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        goto out;
    }
    if (gw_tokens_init(m.rt->cfg, nworkers, err, sizeof err) != 0) {
        GW_LOG(GW_LOG_ERROR, "%s", err);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        goto out;
    }
    if (gw_workers_create(m.rt, nworkers, err, sizeof err) != 0) {
        GW_LOG(GW_LOG_ERROR, "%s", err);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        goto out;
    }
    m.base = event_base_new();
    if (!m.base) {
        GW_LOG(GW_LOG_ERROR, "cannot create the main event loop");
        gw_tokens_free();
    gw_services_free(m.svc);
        m.svc = NULL;
        gw_workers_destroy();
        goto out;
    }
    ev_hup = evsignal_new(m.base, SIGHUP, on_sighup, &m);
    ev_term = evsignal_new(m.base, SIGTERM, on_sigterm, &m);
    ev_int = evsignal_new(m.base, SIGINT, on_sigterm, &m);
    if (!ev_hup || !ev_term || !ev_int || evsignal_add(ev_hup, NULL) || evsignal_add(ev_term, NULL) ||
        evsignal_add(ev_int, NULL)) {
        GW_LOG(GW_LOG_ERROR, "cannot install signal handlers");
        gw_tokens_free();
    gw_services_free(m.svc);
        m.svc = NULL;
        gw_workers_destroy();
        goto out;
    }
    m.retry_ev = evtimer_new(m.base, on_services_retry, &m);
    if (m.retry_ev && !gw_services_retry(m.svc)) {
        struct timeval tv = { 1, 0 };
        evtimer_add(m.retry_ev, &tv);
    }
    if (gw_workers_start() != 0) {
        gw_workers_drain();
        gw_workers_join();
        gw_tokens_free();
    gw_services_free(m.svc);
        m.svc = NULL;
        gw_workers_destroy();
        goto out;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    for (size_t i = 0; i < m.rt->cfg->nlisteners; i++)
        GW_LOG(GW_LOG_INFO, "onegate %s listening on %s with %d worker%s", ONEGATE_VERSION,
               m.rt->cfg->listeners[i].addr.text, nworkers, nworkers == 1 ? "" : "s");
    event_base_dispatch(m.base);
    gw_workers_join();
    /* last completions run here, while the workers' bases still exist */
    gw_tokens_free();
    gw_services_free(m.svc);
    m.svc = NULL;
    gw_workers_destroy();
    GW_LOG(GW_LOG_INFO, "drained, exiting");
    rc = 0;
out:
    if (m.retry_ev)
        event_free(m.retry_ev);
    if (ev_hup)
        event_free(ev_hup);
    if (ev_term)
        event_free(ev_term);
    if (ev_int)
        event_free(ev_int);
    if (m.base)
        event_base_free(m.base);
    gw_tokens_free();
    gw_services_free(m.svc);
    gw_rtconf_unref(m.rt);
    gw_log_close();
    free(m.path);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", required_argument, NULL, 't' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL;
    int c;
    if (argc >= 2 && strcmp(argv[1], "policy") == 0)
        return gw_policy_explain_main(argc - 1, argv + 1);
    while ((c = getopt_long(argc, argv, "c:t:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 't':
            return check_config(optarg);
        case 'V':
            printf("onegate %s\n", ONEGATE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config || optind != argc) {
        usage(stderr);
        return 2;
    }
    return run(config);
}
