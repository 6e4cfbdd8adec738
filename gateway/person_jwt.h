/* gateway/person_jwt.h — the person token a portal receives (issue 5): for a request allowed
 * as a person on a route with an `audience`, the header line "<jwt_header>: Bearer <jwt>".
 * One token per session, person version, audience and claim set is minted (auth/jwt_mint.h)
 * and reused from the worker's cache (gateway/tokens.h) until renew_before_ms before its
 * expiry, a key reload, or a change of the person card; so signing happens on the request
 * path only when a token must be renewed.
 */
#ifndef ONEGATE_GATEWAY_PERSON_JWT_H
#define ONEGATE_GATEWAY_PERSON_JWT_H

#include <stdint.h>

#include "auth/session.h"
#include "gateway/endpoints/endpoint.h"

/* The token for <info>'s person and <audience> with the optional claims of <name>/<email>
 * under <r>'s configuration: borrowed (valid until the next call on this worker) in <*jwt>,
 * its exp in <*exp>. Returns 0, or -1 (no jwt: section, out of memory, signing failed). */
int gw_person_jwt_get(struct gw_req *r, const struct auth_session_info *info,
                      const char *audience, bool name, bool email, const char **jwt,
                      int64_t *exp);

/* The token header for <r>'s route: its name in <*name> and the token in <*jwt> (both
 * borrowed: the token as for gw_person_jwt_get); both NULL when the route forwards no token.
 * The caller writes "<name>: Bearer <jwt>\r\n". Returns 0 or -1. */
int gw_person_jwt_header(struct gw_req *r, const struct auth_session_info *info,
                         const char **name, const char **jwt);

#endif
