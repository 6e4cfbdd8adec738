/* gateway/principal.h — turns what auth/ knows about a caller into the policy's principal
 * (policy/policy.h): the one place where person cards meet role bits. Used per request by
 * gateway/identify.c and by `onegate policy explain`.
 */
#ifndef ONEGATE_GATEWAY_PRINCIPAL_H
#define ONEGATE_GATEWAY_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/directory.h"
#include "policy/policy.h"

/* A person principal built against <policy>: each of <roles> that the policy declares sets
 * its bit (names are matched exactly: an operator group is the role "group:<name>"; roles no
 * rule mentions are ignored), flags from <ssp_access> and <is_caller>. */
void gw_principal_person(const struct pol_policy *policy, const char *const *roles,
                         size_t nroles, bool ssp_access, bool is_caller,
                         struct pol_principal *pr);

/* The principal for a person card: a person principal when the card is active; anonymous
 * when it is archived or anonymized (such a person has no session; see DATA-MODEL.md). */
void gw_principal_from_card(const struct pol_policy *policy, const struct auth_person *card,
                            struct pol_principal *pr);

#endif
