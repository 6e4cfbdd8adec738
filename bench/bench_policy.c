/* bench/bench_policy.c — cost of one pol_decide() on a policy of 300 routes x 3 rules.
 *
 * Not built by CMake (no timing in the test suite). Build and run by hand from the source
 * root after a normal build:
 *   gcc -O2 -std=c17 -D_GNU_SOURCE -I. bench/bench_policy.c -Lbuild/policy -lonegate_policy \
 *       -o /tmp/bench_policy && /tmp/bench_policy
 * Prints ns per decision for the allow path (deciding rule is the last one), the deny path
 * (message formatted) and the anonymous need_login path, cycling over all routes so the whole
 * policy is touched, plus the cost of mapping a person's role names to bits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy.h"

#define NROUTES 300
#define NROLES 64
#define ITERATIONS 6000000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static struct pol_policy *build(char paths[][32])
{
    char name[32], err[256];
    struct pol_pos pos = { 1, 1 };
    struct pol_builder *b = pol_builder_new();
    for (int i = 0; i < NROLES; i++) {
        snprintf(name, sizeof name, "role-%02d", i);
        pol_builder_declare_role(b, name, pos);
    }
    pol_builder_declare_scope(b, "incidents.read", pos);
    for (int r = 0; r < NROUTES; r++) {
        snprintf(paths[r], 32, "/app%03d/", r);
        pol_builder_add_route(b, (size_t)r, NULL, paths[r], pos);
        /* rule 0: POST under a sub-prefix, person with both flags */
        pol_builder_add_rule(b, pos);
        pol_builder_rule_method(b, "POST", pos);
        snprintf(name, sizeof name, "/app%03d/requests", r);
        pol_builder_rule_path(b, name, pos);
        pol_builder_add_alternative(b, pos);
        pol_builder_alt_kind(b, "person", pos);
        pol_builder_alt_flag(b, "has_ssp_access", pos);
        pol_builder_alt_flag(b, "is_caller", pos);
        /* rule 1: DELETE, api account with a scope */
        pol_builder_add_rule(b, pos);
        pol_builder_rule_method(b, "DELETE", pos);
        pol_builder_add_alternative(b, pos);
        pol_builder_alt_kind(b, "api_account", pos);
        pol_builder_alt_scope(b, "incidents.read", pos);
        /* rule 2: everything else, api account with scope or person with a role */
        pol_builder_add_rule(b, pos);
        pol_builder_add_alternative(b, pos);
        pol_builder_alt_kind(b, "api_account", pos);
        pol_builder_alt_scope(b, "incidents.read", pos);
        pol_builder_add_alternative(b, pos);
        pol_builder_alt_kind(b, "person", pos);
        snprintf(name, sizeof name, "role-%02d", r % NROLES);
        pol_builder_alt_role(b, name, pos);
    }
    struct pol_policy *p = pol_builder_compile(b, err, sizeof err);
    pol_builder_free(b);
    if (!p) {
        fprintf(stderr, "compile: %s\n", err);
        exit(1);
    }
    return p;
}

static double run(const struct pol_policy *p, char paths[][32], const char *method,
                  const struct pol_principal *pr, enum pol_verdict want)
{
    size_t lens[NROUTES];
    for (int r = 0; r < NROUTES; r++)
        lens[r] = strlen(paths[r]);
    struct pol_decision d;
    unsigned long bad = 0;
    double t0 = now_ns();
    for (int i = 0; i < ITERATIONS; i++) {
        int r = i % NROUTES;
        if (pol_decide(p, (size_t)r, method, paths[r], lens[r], pr, &d) != want)
            bad++;
    }
    double t = (now_ns() - t0) / ITERATIONS;
    if (bad) {
        fprintf(stderr, "unexpected verdicts: %lu (%s)\n", bad, d.message);
        exit(1);
    }
    return t;
}

int main(void)
{
    static char paths[NROUTES][32];
    struct pol_policy *p = build(paths);
    char name[32];

    struct pol_principal all, none, anon;
    pol_principal_init(&all, POL_KIND_PERSON);
    for (int i = 0; i < NROLES; i++) {
        snprintf(name, sizeof name, "role-%02d", i);
        pol_principal_add_role(p, &all, name);
    }
    pol_principal_init(&none, POL_KIND_PERSON);
    pol_principal_add_role(p, &none, "unrelated");
    pol_principal_init(&anon, POL_KIND_ANONYMOUS);

    double allow = run(p, paths, "GET", &all, POL_ALLOW);
    double deny = run(p, paths, "GET", &none, POL_DENY);
    double login = run(p, paths, "GET", &anon, POL_NEED_LOGIN);

    /* mapping 8 directory role names to bits, as gateway/identify does per request */
    const char *card[8] = { "role-03", "role-17", "role-42", "role-63", "role-00",
                            "coffee", "role-31", "role-50" };
    double t0 = now_ns();
    struct pol_principal pr;
    unsigned long sink = 0;
    for (int i = 0; i < ITERATIONS / 8; i++) {
        pol_principal_init(&pr, POL_KIND_PERSON);
        for (int k = 0; k < 8; k++)
            pol_principal_add_role(p, &pr, card[k]);
        sink += pr.roles.w[0];
    }
    double roles = (now_ns() - t0) / (ITERATIONS / 8);

    printf("policy: %d routes x 3 rules, %d roles\n", NROUTES, NROLES);
    printf("decide allow (3rd rule decides):   %6.1f ns\n", allow);
    printf("decide deny (message formatted):   %6.1f ns\n", deny);
    printf("decide need_login (anonymous):     %6.1f ns\n", login);
    printf("principal from 8 role names:       %6.1f ns%s\n", roles, sink ? "" : " ");
    pol_policy_free(p);
    return 0;
}
