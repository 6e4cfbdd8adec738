/* tests/fuzz/fuzz_config.c — libFuzzer driver for the configuration loader (gateway/config.c).
 *
 * Feeds arbitrary bytes to gw_config_load_string. Every input must either load (then the
 * route table and the policy answer a few lookups and everything is freed) or fail with a
 * message of the form "name:LINE:COL: ..." — never crash, leak, or leave the error buffer
 * unterminated.
 * Build: CC=clang cmake -S . -B build-fuzz -DONEGATE_FUZZ=ON && cmake --build build-fuzz
 * Run:   build-fuzz/tests/fuzz_config -max_total_time=60 tests/data/config deploy
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[GW_CONFIG_ERR_MAX];
    memset(err, 'x', sizeof(err));
    struct gw_config *cfg = gw_config_load_string((const char *)data, size, "f.yaml", err,
                                                  sizeof(err));
    if (!cfg) {
        int line = 0, col = 0;
        if (memchr(err, '\0', sizeof(err)) == NULL ||
            sscanf(err, "f.yaml:%d:%d: ", &line, &col) != 2 || line < 1 || col < 1)
            abort();
        return 0;
    }
    if (cfg->nlisteners == 0 || !cfg->route_table || !cfg->policy || cfg->workers < 1 ||
        err[0] != '\0')
        abort();
    /* the compiled policy answers for every route; an anonymous request never gets allow
     * except on a public route, whatever the rules say */
    struct pol_principal anon;
    pol_principal_init(&anon, POL_KIND_ANONYMOUS);
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const struct gw_route_conf *r = &cfg->routes[i];
        size_t id;
        if (r->upstream_index >= cfg->nupstreams ||
            strcmp(cfg->upstreams[r->upstream_index].name, r->upstream) != 0)
            abort();
        /* a route's own prefix, on its own host, must find a route at least that long */
        const char *host = r->host ? r->host : "no-such-host.invalid";
        if (pol_route_table_lookup(cfg->route_table, host, strlen(host), r->path_prefix,
                                   strlen(r->path_prefix), &id) != 0 || id >= cfg->nroutes ||
            strlen(cfg->routes[id].path_prefix) < strlen(r->path_prefix))
            abort();
        struct pol_decision d;
        enum pol_verdict v = pol_decide(cfg->policy, i, "GET", r->path_prefix,
                                        strlen(r->path_prefix), &anon, &d);
        if (d.reason == POL_REASON_UNKNOWN_ROUTE ||
            (v == POL_ALLOW && d.reason != POL_REASON_PUBLIC))
            abort();
    }
    gw_config_free(cfg);
    return 0;
}
