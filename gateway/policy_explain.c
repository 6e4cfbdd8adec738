/* gateway/policy_explain.c — `onegate policy explain`; see policy_explain.h. Runs in its own
 * short-lived process: blocking Redis is fine here. Prints no password hash or secret (the
 * card is summarised by login, id, status, roles and flags). */
#include "gateway/policy_explain.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/directory.h"
#include "gateway/config.h"
#include "gateway/principal.h"

static int usage(void)
{
    fprintf(stderr, "usage: onegate policy explain --config FILE --person LOGIN|EMAIL|ID "
            "--request \"METHOD /path\" [--host HOST]\n");
    return 2;
}

/* Redis host and port of the config's redis: section. */
static void redis_target(const struct gw_config *cfg, char *host, size_t hlen, int *port)
{
    const struct sockaddr *sa = (const struct sockaddr *)&cfg->redis.addr.ss;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)hlen);
        *port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)hlen);
        *port = ntohs(s4->sin_port);
    }
}

static int explain(const struct gw_config *cfg, const struct auth_person *p,
                   const char *method, const char *path, const char *host)
{
    struct pol_principal pr;
    gw_principal_from_card(cfg->policy, p, &pr);
    printf("person: %s (id %s, %s); roles:", p->login[0] ? p->login : "(anonymized)", p->id,
           auth_person_status_name(p->status));
    for (size_t i = 0; i < p->nroles; i++)
        printf(" %s%s", p->roles[i],
               pol_policy_role_bit(cfg->policy, p->roles[i]) < 0 ? " (not in roles:, ignored)"
                                                                 : "");
    printf("%s; flags:%s%s%s\n", p->nroles ? "" : " none", p->ssp_access ? " has_ssp_access" : "",
           p->is_caller ? " is_caller" : "", !p->ssp_access && !p->is_caller ? " none" : "");
    if (p->status != AUTH_PERSON_ACTIVE)
        printf("note: a %s person cannot have a session; the request is decided as anonymous\n",
               auth_person_status_name(p->status));

    size_t route;
    if (pol_route_table_lookup(cfg->route_table, host, host ? strlen(host) : 0, path,
                               strcspn(path, "?"), &route) != 0) {
        printf("route: none for host %s path %s\nverdict: not found (404): no route\n",
               host ? host : "(any)", path);
        return 1;
    }
    int need = pol_explain(cfg->policy, route, method, path, &pr, NULL, 0);
    char *buf = malloc((size_t)need + 1);
    if (!buf) {
        fprintf(stderr, "onegate: out of memory\n");
        return 2;
    }
    pol_explain(cfg->policy, route, method, path, &pr, buf, (size_t)need + 1);
    fputs(buf, stdout);
    if (need > 0 && buf[need - 1] != '\n')
        putchar('\n');
    free(buf);
    struct pol_decision d;
    enum pol_verdict v = pol_decide(cfg->policy, route, method, path, strcspn(path, "?"), &pr,
                                    &d);
    return v == POL_ALLOW ? 0 : 1;
}

int gw_policy_explain_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "person", required_argument, NULL, 'p' },
        { "request", required_argument, NULL, 'r' },
        { "host", required_argument, NULL, 'H' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *person = NULL, *request = NULL, *host = NULL;
    int c;
    if (argc < 2 || strcmp(argv[1], "explain") != 0)
        return usage();
    optind = 2;
    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'p': person = optarg; break;
        case 'r': request = optarg; break;
        case 'H': host = optarg; break;
        default: return usage();
        }
    }
    if (!config || !person || !request || optind != argc)
        return usage();
    char method[24], path[4096];
    const char *sp = strchr(request, ' ');
    if (!sp || (size_t)(sp - request) >= sizeof method || sp == request || sp[1] != '/' ||
        strlen(sp + 1) >= sizeof path) {
        fprintf(stderr, "onegate: --request must look like \"POST /ssp/requests\"\n");
        return 2;
    }
    memcpy(method, request, (size_t)(sp - request));
    method[sp - request] = '\0';
    snprintf(path, sizeof path, "%s", sp + 1);

    char err[GW_CONFIG_ERR_MAX];
    struct gw_config *cfg = gw_config_load(config, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    char rhost[64];
    int rport;
    redis_target(cfg, rhost, sizeof rhost, &rport);
    struct auth_redis_opts ro = {
        .host = rhost, .port = rport, .connect_timeout_ms = 2000,
        .timeout_ms = cfg->redis.timeout_ms < 2000 ? 2000 : cfg->redis.timeout_ms,
        .key_prefix = cfg->redis.key_prefix,
    };
    struct auth_redis *r = NULL;
    struct auth_dir *d = NULL;
    struct auth_person *p = NULL;
    int rc = 4;
    /* read-only: never stamp or migrate the schema from a debugging command */
    struct auth_dir_opts dopts = { .actor = "cli:policy-explain", .no_schema_write = true };
    if (auth_redis_open(&ro, &r, err, sizeof err) != 0 ||
        auth_dir_open(r, &dopts, &d, err, sizeof err) != 0) {
        fprintf(stderr, "onegate: %s\n", err);
        goto out;
    }
    int frc = auth_person_find(d, person, &p, err, sizeof err);
    if (frc == AUTH_DIR_ENOTFOUND) {
        fprintf(stderr, "onegate: no person '%s' (give a login, email or id)\n", person);
        rc = 3;
        goto out;
    }
    if (frc) {
        fprintf(stderr, "onegate: %s\n", err);
        goto out;
    }
    rc = explain(cfg, p, method, path, host);
out:
    auth_person_free(p);
    auth_dir_free(d);
    auth_redis_free(r);
    gw_config_free(cfg);
    return rc;
}
