/* gateway/principal.c — person cards to policy principals; see principal.h. */
#include "gateway/principal.h"

void gw_principal_person(const struct pol_policy *policy, const char *const *roles,
                         size_t nroles, bool ssp_access, bool is_caller,
                         struct pol_principal *pr)
{
    pol_principal_init(pr, POL_KIND_PERSON);
    for (size_t i = 0; i < nroles; i++)
        (void)pol_principal_add_role(policy, pr, roles[i]);     /* unknown: ignored */
    if (ssp_access)
        pr->flags |= POL_FLAG_HAS_SSP_ACCESS;
    if (is_caller)
        pr->flags |= POL_FLAG_IS_CALLER;
}

void gw_principal_from_card(const struct pol_policy *policy, const struct auth_person *card,
                            struct pol_principal *pr)
{
    if (!card || card->status != AUTH_PERSON_ACTIVE) {
        pol_principal_init(pr, POL_KIND_ANONYMOUS);
        return;
    }
    gw_principal_person(policy, (const char *const *)card->roles, card->nroles,
                        card->ssp_access, card->is_caller, pr);
}
