/* gateway/endpoints/login_page.c — renders the login page; see login_page.h. */
#include "gateway/endpoints/login_page.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/http/headers.h"

/* The built-in page: no script, no external resources, labels tied to inputs, the error
 * announced to screen readers (role="alert"). */
static const char builtin_template[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>{{title}}</title>\n"
    "<style>\n"
    "body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}\n"
    "label{display:block;margin-top:1rem;font-weight:600}\n"
    "input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem;"
    "box-sizing:border-box}\n"
    "button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}\n"
    ".error{color:#a00;border:1px solid #a00;padding:.5rem}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<main>\n"
    "<h1>{{title}}</h1>\n"
    "{{error}}\n"
    "<form method=\"post\" action=\"{{action}}\">\n"
    "<input type=\"hidden\" name=\"csrf\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"return_to\" value=\"{{return_to}}\">\n"
    "<label for=\"username\">Username or email</label>\n"
    "<input type=\"text\" id=\"username\" name=\"username\" value=\"{{username}}\" "
    "autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required autofocus>\n"
    "<label for=\"password\">Password</label>\n"
    "<input type=\"password\" id=\"password\" name=\"password\" "
    "autocomplete=\"current-password\" required>\n"
    "<button type=\"submit\">Sign in</button>\n"
    "</form>\n"
    "</main>\n"
    "</body>\n"
    "</html>\n";

static void add_escaped(struct gw_sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': gw_sbuf_adds(b, "&amp;"); break;
        case '<': gw_sbuf_adds(b, "&lt;"); break;
        case '>': gw_sbuf_adds(b, "&gt;"); break;
        case '"': gw_sbuf_adds(b, "&quot;"); break;
        case '\'': gw_sbuf_adds(b, "&#39;"); break;
        default: gw_sbuf_add(b, s, 1);
        }
    }
}

static void add_value(struct gw_sbuf *b, const struct gw_login_page *pg, const char *name,
                      size_t n)
{
#define IS(lit) (n == sizeof(lit) - 1 && !memcmp(name, lit, n))
    if (IS("title")) {
        add_escaped(b, pg->title);
    } else if (IS("action")) {
        add_escaped(b, pg->action);
    } else if (IS("csrf")) {
        add_escaped(b, pg->csrf);
    } else if (IS("return_to")) {
        add_escaped(b, pg->return_to);
    } else if (IS("username")) {
        add_escaped(b, pg->username);
    } else if (IS("error")) {
        if (pg->error && *pg->error) {
            gw_sbuf_adds(b, "<p class=\"error\" role=\"alert\">");
            add_escaped(b, pg->error);
            gw_sbuf_adds(b, "</p>");
        }
    }
    /* {{portals}} renders nothing on the login page: the list needs a session */
#undef IS
}

char *gw_login_page_render(const struct gw_config *cfg, const struct gw_login_page *pg,
                           size_t *len)
{
    const char *t = cfg->login.template_text ? cfg->login.template_text : builtin_template;
    struct gw_sbuf b = { 0 };
    const char *p = t;
    for (;;) {
        const char *open = strstr(p, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (!open || !close) {
            gw_sbuf_adds(&b, p);
            break;
        }
        gw_sbuf_add(&b, p, (size_t)(open - p));
        add_value(&b, pg, open + 2, (size_t)(close - open - 2));
        p = close + 2;
    }
    gw_sbuf_add(&b, "", 1);
    if (b.oom) {
        gw_sbuf_free(&b);
        return NULL;
    }
    *len = b.len - 1;
    return b.p;
}
