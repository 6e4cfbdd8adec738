/* gateway/http/errors.c — error pages and local response heads. */
#include "gateway/http/errors.h"

#include <stdio.h>
#include <string.h>

bool gw_accept_prefers_json(const char *accept, size_t len)
{
    if (!accept)
        return false;
    const char *json = memmem(accept, len, "json", 4);
    if (!json)
        return false;
    const char *html = memmem(accept, len, "text/html", 9);
    return !html || json < html;
}

void gw_response_build(struct gw_sbuf *o, int status, const char *content_type,
                       const char *extra, const void *body, size_t len, const char *request_id,
                       const char *date, bool keep_alive, bool http10, bool head_only)
{
    gw_sbuf_add(o, "HTTP/1.1 ", 9);
    gw_sbuf_addu(o, (unsigned)status);
    gw_sbuf_add(o, " ", 1);
    gw_sbuf_adds(o, gw_status_reason(status));
    gw_sbuf_add(o, "\r\n", 2);
    if (date) {
        gw_sbuf_add(o, "Date: ", 6);
        gw_sbuf_adds(o, date);
        gw_sbuf_add(o, "\r\n", 2);
    }
    gw_sbuf_adds(o, "Server: onegate\r\n");
    if (content_type) {
        gw_sbuf_add(o, "Content-Type: ", 14);
        gw_sbuf_adds(o, content_type);
        gw_sbuf_add(o, "\r\n", 2);
    }
    gw_sbuf_add(o, "Content-Length: ", 16);
    gw_sbuf_addu(o, len);
    gw_sbuf_add(o, "\r\n", 2);
    if (request_id && *request_id) {
        gw_sbuf_add(o, "X-Request-Id: ", 14);
        gw_sbuf_adds(o, request_id);
        gw_sbuf_add(o, "\r\n", 2);
    }
    if (extra)
        gw_sbuf_adds(o, extra);
    if (!keep_alive)
        gw_sbuf_adds(o, "Connection: close\r\n");
    else if (http10)
        gw_sbuf_adds(o, "Connection: keep-alive\r\n");
    gw_sbuf_add(o, "\r\n", 2);
    if (!head_only && len)
        gw_sbuf_add(o, body, len);
}

/* Escapes for both HTML text and JSON strings: only safe characters pass through. */
static void add_escaped(struct gw_sbuf *b, const char *s, bool json)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '<' || c == '>' || c == '&' || c == '"' || c == '\\' || c == '\'' ||
            c < 0x20 || c >= 0x7f) {
            char tmp[12];
            snprintf(tmp, sizeof tmp, json ? "\\u%04x" : "&#%u;", c);
            gw_sbuf_adds(b, tmp);
        } else {
            gw_sbuf_add(b, s, 1);
        }
    }
}

void gw_error_build(struct gw_sbuf *out, int status, const char *detail, const char *request_id,
                    const char *date, bool json, bool keep_alive, bool http10, bool head_only)
{
    struct gw_sbuf body = {0};
    const char *reason = gw_status_reason(status);
    const char *rid = request_id ? request_id : "";
    if (!detail)
        detail = reason;
    if (json) {
        gw_sbuf_adds(&body, "{\"status\":");
        gw_sbuf_addu(&body, (unsigned)status);
        gw_sbuf_adds(&body, ",\"error\":\"");
        add_escaped(&body, reason, true);
        gw_sbuf_adds(&body, "\",\"message\":\"");
        add_escaped(&body, detail, true);
        gw_sbuf_adds(&body, "\",\"request_id\":\"");
        add_escaped(&body, rid, true);
        gw_sbuf_adds(&body, "\"}\n");
    } else {
        char code[8];
        snprintf(code, sizeof code, "%d ", status);
        gw_sbuf_adds(&body, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
        gw_sbuf_adds(&body, code);
        add_escaped(&body, reason, false);
        gw_sbuf_adds(&body, "</title></head>\n<body><h1>");
        gw_sbuf_adds(&body, code);
        add_escaped(&body, reason, false);
        gw_sbuf_adds(&body, "</h1>\n<p>");
        add_escaped(&body, detail, false);
        gw_sbuf_adds(&body, "</p>\n<p>Request id: <code>");
        add_escaped(&body, rid, false);
        gw_sbuf_adds(&body, "</code></p></body></html>\n");
    }
    gw_response_build(out, status,
                      json ? "application/json" : "text/html; charset=utf-8", NULL,
                      body.p, body.oom ? 0 : body.len, rid, date, keep_alive, http10, head_only);
    gw_sbuf_free(&body);
}
