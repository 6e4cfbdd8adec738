/* gateway/http/http_parse.h — onegate's own small interface to an HTTP/1.x framing parser.
 *
 * This is the ONLY module that touches http-parser (Debian's 2.9.4); swapping in llhttp means
 * rewriting http_parse.c alone. Two services: parse one complete, already strictly checked
 * head (gw_hp_parse_head), and decode a chunked body incrementally (gw_hp_chunked_*).
 * Content-Length and close-delimited bodies need no parser: the caller counts bytes.
 */
#ifndef ONEGATE_GATEWAY_HTTP_PARSE_H
#define ONEGATE_GATEWAY_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gw_hp_field {
    const char *name;           /* borrowed from the parsed buffer */
    const char *value;          /* leading and trailing whitespace removed */
    uint32_t name_len;
    uint32_t value_len;
};

struct gw_hp_head {
    const char *method;         /* requests: borrowed slice */
    size_t method_len;
    const char *target;         /* requests: raw request-target */
    size_t target_len;
    int status;                 /* responses */
    int http_major, http_minor;
    bool keep_alive;            /* version + Connection semantics (http_should_keep_alive) */
    bool chunked;               /* Transfer-Encoding: chunked */
    bool has_content_length;
    uint64_t content_length;
    bool upgrade;               /* request: Upgrade + Connection: upgrade; response: 101 */
    bool needs_eof;             /* response body ends when the connection closes */
    size_t nfields;
};

/* Parses the complete head buf[0..len) (it must end with CRLFCRLF). <response_to_head> tells
 * a response parser that the request was HEAD (no body). Fills <h> and up to <max_fields>
 * entries of <fields> with slices of <buf>. Returns 0, or -1 with a static reason in *why
 * (framing errors: duplicate or invalid Content-Length, TE+CL, bad Transfer-Encoding, ...). */
int gw_hp_parse_head(bool is_request, const char *buf, size_t len, bool response_to_head,
                     struct gw_hp_head *h, struct gw_hp_field *fields, size_t max_fields,
                     const char **why);

/* Incremental chunked-body decoder. Opaque storage sized for the parser. */
struct gw_hp_chunked {
    uint64_t opaque[8];
    bool done;                  /* the last chunk and trailer section have been consumed */
};

typedef int gw_hp_data_cb(void *arg, const char *data, size_t len);

/* Prepares <c> to decode a chunked body of a request or response. */
void gw_hp_chunked_init(struct gw_hp_chunked *c, bool is_request);

/* Feeds buf[0..len). Calls <cb> with each piece of decoded body data (a non-zero return from
 * <cb> aborts with -1). Returns the number of bytes consumed; when the body ends inside buf,
 * consumption stops exactly after it and c->done is set. Returns -1 on a framing error. */
ssize_t gw_hp_chunked_feed(struct gw_hp_chunked *c, const char *buf, size_t len,
                           gw_hp_data_cb *cb, void *arg);

#endif
