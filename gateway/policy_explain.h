/* gateway/policy_explain.h — `onegate policy explain`: for application managers debugging
 * access, prints how the role policy of a config file decides one request of one person. */
#ifndef ONEGATE_GATEWAY_POLICY_EXPLAIN_H
#define ONEGATE_GATEWAY_POLICY_EXPLAIN_H

/* onegate policy explain --config FILE --person LOGIN|EMAIL|ID --request "METHOD /path"
 *                        [--host HOST]
 * Reads the person through the directory (Redis from the config's redis: section), builds
 * the principal as the gateway does per request, and prints pol_explain()'s account and the
 * verdict. Exit status: 0 allow, 1 refused (need_login, need_token, deny), 2 usage or
 * configuration error, 3 person not found, 4 Redis unreachable. <argv>[0] is "policy". */
int gw_policy_explain_main(int argc, char **argv);

#endif
