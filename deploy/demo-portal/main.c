/* main.c — the demo portal process: command line, one event loop per thread sharing the
 * listening port (SO_REUSEPORT when --threads > 1), SIGTERM/SIGINT to exit 0. Connections
 * are handed to http.c. Contract: deploy/demo-portal/README.md. */
#include "portal.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/listener.h>
#include <event2/thread.h>

#define DP_MAX_THREADS 64

struct dp_worker {
    struct event_base *base;
    struct evconnlistener *listener;
    pthread_t thread;
    const struct dp_config *cfg;
    struct dp_conn *conns; /* open connections, freed at exit */
};

static struct dp_worker workers[DP_MAX_THREADS];
static int nworkers;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: demo-portal --listen HOST:PORT --title TITLE [--threads N] [--quiet]\n"
            "                   [--other-url URL]\n"
            "                   [--jwks-url http://HOST:PORT/.well-known/jwks.json\n"
            "                    --audience AUD [--issuer ISS] [--jwt-header NAME]\n"
            "                    [--leeway SECONDS] [--jwks-min-refresh SECONDS]]\n"
            "A demo upstream portal for onegate (see deploy/demo-portal/README.md).\n"
            "PORT 0 picks a free port; the line \"demo-portal listening on HOST:PORT\" is\n"
            "printed once ready. SIGTERM exits 0. With --jwks-url the forwarded token\n"
            "(\"<jwt-header>: Bearer <jwt>\", default Authorization) is verified against\n"
            "the JWKS and its claims are shown on the page and in /echo.\n");
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    struct dp_worker *w = arg;
    dp_accept(w->base, fd, w->cfg, &w->conns);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    /* EMFILE and the like: keep listening, the next accept may work. */
    fprintf(stderr, "demo-portal: accept: %s\n", strerror(errno));
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    for (int i = 0; i < nworkers; i++)
        event_base_loopbreak(workers[i].base);
}

static void *worker_run(void *arg)
{
    struct dp_worker *w = arg;
    event_base_dispatch(w->base);
    dp_jwt_thread_cleanup();
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'}, {"title", required_argument, NULL, 't'},
        {"threads", required_argument, NULL, 'n'}, {"quiet", no_argument, NULL, 'q'},
        {"other-url", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
        {"jwks-url", required_argument, NULL, 'J'}, {"audience", required_argument, NULL, 'A'},
        {"issuer", required_argument, NULL, 'I'}, {"jwt-header", required_argument, NULL, 'H'},
        {"leeway", required_argument, NULL, 'L'},
        {"jwks-min-refresh", required_argument, NULL, 'R'},
        {NULL, 0, NULL, 0},
    };
    struct dp_config cfg = {.title = "Demo portal", .jwt_header = "Authorization",
                            .leeway_s = 30, .jwks_min_refresh_s = 30};
    const char *listen = NULL;
    int threads = 1, opt, rc = 1;
    while ((opt = getopt_long(argc, argv, "l:t:n:qo:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': listen = optarg; break;
        case 't': cfg.title = optarg; break;
        case 'n': threads = atoi(optarg); break;
        case 'q': cfg.quiet = 1; break;
        case 'o': cfg.other_url = optarg; break;
        case 'J': cfg.jwks_url = optarg; break;
        case 'A': cfg.audience = optarg; break;
        case 'I': cfg.issuer = optarg; break;
        case 'H': cfg.jwt_header = optarg; break;
        case 'L': cfg.leeway_s = atoi(optarg); break;
        case 'R': cfg.jwks_min_refresh_s = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!listen || optind != argc || threads < 1 || threads > DP_MAX_THREADS ||
        cfg.leeway_s < 0 || cfg.leeway_s > 300 || cfg.jwks_min_refresh_s < 0 ||
        !cfg.jwks_url != !cfg.audience || (cfg.issuer && !cfg.jwks_url)) {
        if (!cfg.jwks_url != !cfg.audience)
            fprintf(stderr, "demo-portal: --jwks-url and --audience go together\n");
        usage(stderr);
        return 2;
    }

    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    /* libevent refuses port 0: parse with port 1, then ask for any port. */
    char parse_buf[160];
    size_t llen = strlen(listen);
    int any_port = llen >= 2 && strcmp(listen + llen - 2, ":0") == 0;
    snprintf(parse_buf, sizeof(parse_buf), "%.*s%s", (int)(any_port ? llen - 1 : llen), listen,
             any_port ? "1" : "");
    if (evutil_parse_sockaddr_port(parse_buf, (struct sockaddr *)&ss, &sslen) != 0) {
        fprintf(stderr, "demo-portal: bad --listen address '%s'\n", listen);
        return 2;
    }
    if (any_port && ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
    else if (any_port)
        ((struct sockaddr_in *)&ss)->sin_port = 0;
    signal(SIGPIPE, SIG_IGN);
    if (threads > 1 && evthread_use_pthreads() != 0) {
        fprintf(stderr, "demo-portal: no thread support in libevent\n");
        return 1;
    }

    struct event *sigterm = NULL, *sigint = NULL;
    if (cfg.jwks_url && dp_jwks_start(&cfg) != 0)
        return 2;
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    if (threads > 1)
        flags |= LEV_OPT_REUSEABLE_PORT;
    for (nworkers = 0; nworkers < threads; nworkers++) {
        struct dp_worker *w = &workers[nworkers];
        w->cfg = &cfg;
        w->base = event_base_new();
        if (!w->base) {
            fprintf(stderr, "demo-portal: event_base_new failed\n");
            goto out;
        }
        w->listener = evconnlistener_new_bind(w->base, on_accept, w, flags, 1024,
                                              (struct sockaddr *)&ss, sslen);
        if (!w->listener) {
            fprintf(stderr, "demo-portal: cannot listen on %s: %s\n", listen, strerror(errno));
            event_base_free(w->base);
            goto out;
        }
        evconnlistener_set_error_cb(w->listener, on_accept_error);
        if (nworkers == 0) {
            /* Port 0: every further listener binds the port the kernel chose. */
            socklen_t len = sizeof(ss);
            getsockname(evconnlistener_get_fd(w->listener), (struct sockaddr *)&ss, &len);
            sslen = (int)len;
        }
    }

    sigterm = evsignal_new(workers[0].base, SIGTERM, on_signal, NULL);
    sigint = evsignal_new(workers[0].base, SIGINT, on_signal, NULL);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL)) {
        fprintf(stderr, "demo-portal: cannot install signal handlers\n");
        goto out;
    }

    char host[128];
    int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    snprintf(host, sizeof(host), "%s", listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    printf("demo-portal listening on %s:%d\n", host, port);
    fflush(stdout);

    for (int i = 1; i < nworkers; i++) {
        if (pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]) != 0) {
            fprintf(stderr, "demo-portal: pthread_create failed\n");
            on_signal(-1, 0, NULL);
            for (int j = 1; j < i; j++)
                pthread_join(workers[j].thread, NULL);
            nworkers = i;
            goto out;
        }
    }
    event_base_dispatch(workers[0].base);
    for (int i = 1; i < nworkers; i++)
        pthread_join(workers[i].thread, NULL);
    dp_jwt_thread_cleanup();
    rc = 0;
out:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    /* Everything is released so that sanitizer builds exit clean. */
    for (int i = 0; i < nworkers; i++) {
        dp_conn_free_all(&workers[i].conns);
        evconnlistener_free(workers[i].listener);
        event_base_free(workers[i].base);
    }
    dp_jwks_stop();
    return rc;
}
