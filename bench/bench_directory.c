/* bench/bench_directory.c — directory lookups per second and latency percentiles (by id, by
 * login, by email) against a real redis-server holding an imported directory. One thread, one
 * blocking connection: the figure is per work-pool thread. Built by bench_directory.sh.
 *
 * usage: bench_directory HOST PORT SECONDS_PER_KIND */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/directory.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_directory HOST PORT SECONDS\n");
        return 1;
    }
    char err[512];
    struct auth_redis_opts ro = { .host = argv[1], .port = atoi(argv[2]), .timeout_ms = 5000 };
    struct auth_redis *r;
    struct auth_dir *d;
    if (auth_redis_open(&ro, &r, err, sizeof(err)) || auth_dir_open(r, NULL, &d, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double secs = atof(argv[3]);
    /* Load the keys to look up: folded logins -> ids, folded emails. */
    struct auth_reply *logins = NULL, *emails = NULL;
    char *kl = auth_redis_key(r, "{dir}:idx:login"), *ke = auth_redis_key(r, "{dir}:idx:email");
    if (auth_redis_cmd(r, &logins, err, sizeof(err), "HGETALL", kl, NULL) ||
        auth_redis_cmd(r, &emails, err, sizeof(err), "HGETALL", ke, NULL)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    size_t nl = auth_reply_len(logins) / 2, ne = auth_reply_len(emails) / 2;
    if (!nl || !ne) {
        fprintf(stderr, "the directory is empty: import first\n");
        return 1;
    }
    printf("directory: %zu logins, %zu emails\n", nl, ne);
    size_t cap = 2000000;
    double *lat = malloc(cap * sizeof(*lat));
    const char *kinds[3] = { "id", "login", "email" };
    srand(42);
    for (int k = 0; k < 3; k++) {
        size_t n = 0, misses = 0;
        double t0 = now_s(), end = t0 + secs;
        while (n < cap) {
            size_t i = (size_t)rand() % (k == 2 ? ne : nl);
            const struct auth_reply *pair = k == 2 ? emails : logins;
            const char *key = auth_reply_str(auth_reply_elem(pair, 2 * i + (k == 0)), NULL);
            struct auth_person *p = NULL;
            double a = now_s();
            int rc = k == 0 ? auth_person_get(d, key, &p, err, sizeof(err))
                   : k == 1 ? auth_person_get_by_login(d, key, &p, err, sizeof(err))
                            : auth_person_get_by_email(d, key, &p, err, sizeof(err));
            double b = now_s();
            misses += rc != 0;
            auth_person_free(p);
            lat[n++] = (b - a) * 1e6;
            if (b >= end)
                break;
        }
        double elapsed = now_s() - t0;
        qsort(lat, n, sizeof(*lat), cmp_d);
        printf("lookup by %-5s: %8.0f/s  p50 %6.1f us  p99 %6.1f us  p99.9 %6.1f us  (%zu ops, "
               "%zu misses)\n", kinds[k], n / elapsed, lat[n / 2], lat[(size_t)(n * 0.99)],
               lat[(size_t)(n * 0.999)], n, misses);
    }
    free(lat);
    free(kl);
    free(ke);
    auth_reply_free(logins);
    auth_reply_free(emails);
    auth_dir_free(d);
    auth_redis_free(r);
    return 0;
}
