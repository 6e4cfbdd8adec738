/* gateway/endpoints/login.h — onegate's login endpoints under login.prefix (default "/-/"):
 *   GET  <prefix>login    the HTML login page (sets the pre-login CSRF cookie)
 *   POST <prefix>login    form login (CSRF token + same origin) or JSON login for scripts
 *   GET|POST <prefix>logout   ends the session for every portal and clears the cookie
 *   GET  <prefix>session  whoami: the person, roles, flags and the portals they may open now
 * Password checks run on the auth work pool through the login core (auth/login.h); the
 * event loop only parses, checks and answers. */
#ifndef ONEGATE_GATEWAY_ENDPOINTS_LOGIN_H
#define ONEGATE_GATEWAY_ENDPOINTS_LOGIN_H

#include "gateway/config.h"

#define GW_LOGIN_BODY_MAX_BYTES (16 * 1024)

/* Registers the three endpoints for <cfg>->login.prefix (main thread, before the workers
 * start). Returns 0 or -1. */
int gw_login_register(const struct gw_config *cfg);

#endif
