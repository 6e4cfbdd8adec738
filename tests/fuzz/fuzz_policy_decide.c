/* tests/fuzz/fuzz_policy_decide.c — libFuzzer driver for the request-time policy code that
 * sees client bytes: pol_path_is_normal, pol_decide and pol_explain on arbitrary methods and
 * paths, against the example policy of docs/POLICY.md.
 *
 * Input: byte 0 picks the principal (kind, flags, roles, scopes), bytes up to the first '\n'
 * after it are the method, the rest is the path (not NUL-terminated for pol_decide).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

static struct pol_policy *policy;

static struct pol_pos at(int line)
{
    return (struct pol_pos){ line, 1 };
}

static void build(void)
{
    char err[256];
    struct pol_builder *b = pol_builder_new();
    pol_builder_declare_role(b, "operator", at(1));
    pol_builder_declare_role(b, "application_manager", at(1));
    pol_builder_declare_scope(b, "incidents.read", at(2));
    pol_builder_add_route(b, 0, NULL, "/ssp/static/", at(4));
    pol_builder_route_public(b, true, at(6));
    pol_builder_add_route(b, 1, NULL, "/ssp/", at(7));
    pol_builder_add_rule(b, at(10));
    pol_builder_rule_method(b, "POST", at(10));
    pol_builder_rule_path(b, "/ssp/requests", at(11));
    pol_builder_add_alternative(b, at(13));
    pol_builder_alt_kind(b, "person", at(13));
    pol_builder_alt_flag(b, "has_ssp_access", at(13));
    pol_builder_alt_flag(b, "is_caller", at(13));
    pol_builder_add_rule(b, at(14));
    pol_builder_add_alternative(b, at(15));
    pol_builder_alt_kind(b, "person", at(15));
    pol_builder_alt_flag(b, "has_ssp_access", at(15));
    pol_builder_add_route(b, 2, NULL, "/api", at(20));
    pol_builder_add_rule(b, at(23));
    pol_builder_rule_method(b, "GET", at(23));
    pol_builder_add_alternative(b, at(24));
    pol_builder_alt_kind(b, "api_account", at(24));
    pol_builder_alt_scope(b, "incidents.read", at(24));
    pol_builder_add_alternative(b, at(25));
    pol_builder_alt_kind(b, "person", at(25));
    pol_builder_alt_role(b, "operator", at(25));
    pol_builder_add_route(b, 3, NULL, "/nothing/", at(30));
    policy = pol_builder_compile(b, err, sizeof err);
    pol_builder_free(b);
    if (!policy)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!policy)
        build();
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    struct pol_principal pr;
    pol_principal_init(&pr, (enum pol_kind)(sel & 3));
    pr.flags = (sel >> 2) & 3;
    if (sel & 16)
        pol_principal_add_role(policy, &pr, "operator");
    if (sel & 32)
        pol_principal_add_scope(policy, &pr, "incidents.read");

    const uint8_t *nl = memchr(data + 1, '\n', size - 1);
    size_t mlen = nl ? (size_t)(nl - data - 1) : 0;
    char method[16];
    if (mlen >= sizeof method)
        mlen = sizeof method - 1;
    memcpy(method, data + 1, mlen);
    method[mlen] = '\0';
    const uint8_t *path = nl ? nl + 1 : data + 1;
    size_t pathlen = size - (size_t)(path - data);

    /* an exact-size heap copy, so ASan catches any read past pathlen */
    char *p = malloc(pathlen ? pathlen : 1);
    if (!p)
        return 0;
    memcpy(p, path, pathlen);
    struct pol_decision d;
    enum pol_verdict v = pol_decide(policy, (size_t)(sel >> 6), method, p, pathlen, &pr, &d);
    if (v != d.verdict || memchr(d.message, '\0', sizeof d.message) == NULL)
        abort();
    if (!pol_path_is_normal(p, pathlen) && (v != POL_DENY ||
                                            d.reason != POL_REASON_PATH_NOT_NORMAL))
        abort();
    /* nobody without identity passes except through a public route */
    if (v == POL_ALLOW && pr.kind == POL_KIND_ANONYMOUS && d.reason != POL_REASON_PUBLIC)
        abort();
    free(p);

    /* pol_explain wants a NUL-terminated path: stop at the first NUL */
    char *z = malloc(pathlen + 1);
    if (!z)
        return 0;
    memcpy(z, path, pathlen);
    z[pathlen] = '\0';
    char out[512];
    int n = pol_explain(policy, (size_t)(sel >> 6), method, z, &pr, out, sizeof out);
    if (n < 0 || strlen(out) != ((size_t)n < sizeof out ? (size_t)n : sizeof out - 1))
        abort();
    free(z);
    return 0;
}
