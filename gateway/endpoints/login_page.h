/* gateway/endpoints/login_page.h — the HTML login page: a plain, accessible form that works
 * without JavaScript (labelled username and password fields, a hidden CSRF token, a hidden
 * return_to), rendered from the built-in template or the operator's branded one
 * (login.template; placeholders are checked when the config loads). Every value is
 * HTML-escaped here. */
#ifndef ONEGATE_GATEWAY_ENDPOINTS_LOGIN_PAGE_H
#define ONEGATE_GATEWAY_ENDPOINTS_LOGIN_PAGE_H

#include <stddef.h>

#include "gateway/config.h"

struct gw_login_page {
    const char *title;          /* login.page_title */
    const char *action;         /* the form's URL: "<login prefix>login" */
    const char *csrf;           /* the pre-login token */
    const char *return_to;      /* validated target, or "" */
    const char *username;       /* to refill after a failure, or "" */
    const char *error;          /* one generic sentence, or NULL */
};

/* Renders <pg> with <cfg>'s template (or the built-in one). Returns a new NUL-terminated
 * string (caller frees) and its length in <len>, or NULL on ENOMEM. */
char *gw_login_page_render(const struct gw_config *cfg, const struct gw_login_page *pg,
                           size_t *len);

#endif
