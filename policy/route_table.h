/* policy/route_table.h — host + longest-path-prefix route lookup.
 *
 * Built once per configuration, then read concurrently by every worker without locks.
 * Knows nothing of HTTP or upstreams: a route is (host or any, path prefix) -> caller's index.
 */
#ifndef ONEGATE_POLICY_ROUTE_TABLE_H
#define ONEGATE_POLICY_ROUTE_TABLE_H

#include <stddef.h>

struct pol_route_table;

struct pol_route_spec {
    const char *host;           /* NULL = any host; matched case-insensitively, exact */
    const char *path_prefix;    /* starts with '/' */
    size_t id;                  /* returned by lookup; the caller's route index */
};

/* Builds a table from <n> specs (copied; the specs may be freed afterwards).
 * Returns a new table (free with pol_route_table_free) or NULL on ENOMEM or when two specs
 * have the same host and prefix (then *dup_index is set to the second one, if non-NULL). */
struct pol_route_table *pol_route_table_build(const struct pol_route_spec *specs, size_t n,
                                              size_t *dup_index);

void pol_route_table_free(struct pol_route_table *t);

/* Finds the route for a request. <host> may carry ":port" and one trailing dot (both
 * ignored) and need not be NUL-terminated; <path> is the request target's path (no query),
 * not NUL-terminated.
 * A route with a matching host beats an any-host route; among those, the longest prefix wins.
 * Prefix "/a" matches "/a", "/a/..." and "/a?..." but not "/ab"; prefix "/a/" matches "/a/...".
 * Returns 0 and sets *id, or -1 when nothing matches. Allocation-free; safe from any thread. */
int pol_route_table_lookup(const struct pol_route_table *t, const char *host, size_t hostlen,
                           const char *path, size_t pathlen, size_t *id);

#endif
