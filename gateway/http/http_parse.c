/* gateway/http/http_parse.c — the http-parser 2.9 boundary: head framing and chunked decoding.
 * Nothing else in onegate includes http_parser.h. */
#include "gateway/http/http_parse.h"

#include <http_parser.h>
#include <string.h>

/* Exported by libhttp_parser 2.9 but missing from its header (LIBRARY-FACTS.md). */
int http_message_needs_eof(const http_parser *parser);

struct head_ctx {
    struct gw_hp_head *h;
    struct gw_hp_field *fields;
    size_t max_fields;
    bool overflow;
    bool response_to_head;
    bool in_value;
};

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct head_ctx *x = p->data;
    x->h->target = at;
    x->h->target_len = len;
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
    struct head_ctx *x = p->data;
    if (x->h->nfields >= x->max_fields) {
        x->overflow = true;
        return 1;
    }
    struct gw_hp_field *f = &x->fields[x->h->nfields++];
    f->name = at;
    f->name_len = (uint32_t)len;
    f->value = at + len;
    f->value_len = 0;
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    struct head_ctx *x = p->data;
    if (x->h->nfields == 0)
        return 1;
    struct gw_hp_field *f = &x->fields[x->h->nfields - 1];
    while (len > 0 && is_ows(*at)) {
        at++;
        len--;
    }
    while (len > 0 && is_ows(at[len - 1]))
        len--;
    f->value = at;
    f->value_len = (uint32_t)len;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct head_ctx *x = p->data;
    return x->response_to_head ? 1 : 0;        /* 1: the response has no body */
}

static const http_parser_settings head_settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
};

int gw_hp_parse_head(bool is_request, const char *buf, size_t len, bool response_to_head,
                     struct gw_hp_head *h, struct gw_hp_field *fields, size_t max_fields,
                     const char **why)
{
    http_parser p;
    struct head_ctx x = { .h = h, .fields = fields, .max_fields = max_fields,
                          .response_to_head = response_to_head && !is_request };
    memset(h, 0, sizeof *h);
    http_parser_init(&p, is_request ? HTTP_REQUEST : HTTP_RESPONSE);
    p.data = &x;
    size_t n = http_parser_execute(&p, &head_settings, buf, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&p);
    if (x.overflow) {
        *why = "too many header fields";
        return -1;
    }
    /* An upgrade request stops the parser at the end of its head; anything else must have
     * consumed the whole head without error. */
    if (e != HPE_OK || (n != len && !p.upgrade)) {
        *why = e != HPE_OK ? http_errno_description(e) : "trailing bytes after head";
        return -1;
    }
    if (is_request) {
        h->method = http_method_str((enum http_method)p.method);
        h->method_len = strlen(h->method);
        if (memcmp(buf, h->method, h->method_len) != 0 || buf[h->method_len] != ' ') {
            *why = "unknown method";
            return -1;
        }
        h->method = buf;                       /* borrowed slice, like every other field */
    } else {
        h->status = (int)p.status_code;
    }
    h->http_major = p.http_major;
    h->http_minor = p.http_minor;
    h->chunked = (p.flags & F_CHUNKED) != 0;
    h->has_content_length = (p.flags & F_CONTENTLENGTH) != 0;
    h->content_length = h->has_content_length ? p.content_length : 0;
    h->upgrade = p.upgrade;
    h->keep_alive = http_should_keep_alive(&p) != 0;
    h->needs_eof = !is_request && !response_to_head && http_message_needs_eof(&p);
    if (p.uses_transfer_encoding && !h->chunked) {
        *why = "unsupported transfer coding";
        return -1;
    }
    return 0;
}

/* ---- chunked bodies ----
 *
 * http-parser 2.9.4 as Debian builds it (without HTTP_PARSER_STRICT) takes ANY two bytes after
 * a chunk's data as its CRLF ("5\r\nhelloXX0\r\n\r\n" parses), any byte after the CR of a
 * chunk-size line or of the empty line ending the trailers as its LF, bare LF in trailer lines
 * and control bytes in chunk extensions. So the decoder walks the raw framing bytes itself and
 * only hands them to the parser once they are proven well-formed: the parser is fed the
 * chunk-size line, then exactly the chunk's data (size from on_chunk_header), then the CRLF we
 * checked, then the trailer lines we checked. The state below survives any split of the input
 * across calls, down to one byte per call. */

enum chunk_phase {
    CH_SIZE_LINE,       /* chunk-size [ext] up to CR (parser checks the hex and ';') */
    CH_SIZE_LF,         /* the CR was seen: the next byte must be LF */
    CH_DATA,            /* <remaining> bytes of chunk data */
    CH_DATA_CR,         /* CRLF after the data */
    CH_DATA_LF,
    CH_TRAILER_START,   /* start of a trailer line or of the final empty line */
    CH_TRAILER_LINE,    /* inside a trailer field line, up to CR */
    CH_TRAILER_LF,      /* CR of a trailer line seen: LF must follow */
    CH_FINAL_LF,        /* CR of the final empty line seen: LF must follow */
};

struct chunked_state {
    http_parser p;
    gw_hp_data_cb *cb;
    void *arg;
    uint64_t remaining;         /* data bytes left in the current chunk (CH_DATA) */
    uint8_t phase;              /* enum chunk_phase */
    bool header_seen;           /* on_chunk_header fired for the line just fed */
};

_Static_assert(sizeof(struct chunked_state) <= sizeof(((struct gw_hp_chunked *)0)->opaque),
               "gw_hp_chunked opaque storage too small");

static int ch_on_body(http_parser *p, const char *at, size_t len)
{
    struct chunked_state *s = (struct chunked_state *)p;
    return s->cb(s->arg, at, len) ? 1 : 0;
}

static int ch_on_chunk_header(http_parser *p)
{
    struct chunked_state *s = (struct chunked_state *)p;
    s->remaining = p->content_length;           /* this chunk's size */
    s->header_seen = true;
    return 0;
}

static int ch_on_complete(http_parser *p)
{
    struct gw_hp_chunked *c = p->data;
    c->done = true;
    http_parser_pause(p, 1);                   /* stop exactly at the end of the message */
    return 0;
}

static const http_parser_settings chunk_settings = {
    .on_body = ch_on_body,
    .on_chunk_header = ch_on_chunk_header,
    .on_message_complete = ch_on_complete,
};

static const char synth_req[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
static const char synth_resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

static int noop_cb(void *arg, const char *d, size_t n) { return 0; }

void gw_hp_chunked_init(struct gw_hp_chunked *c, bool is_request)
{
    struct chunked_state *s = (struct chunked_state *)c->opaque;
    memset(c, 0, sizeof *c);
    http_parser_init(&s->p, is_request ? HTTP_REQUEST : HTTP_RESPONSE);
    s->p.data = c;
    s->cb = noop_cb;
    /* Bring the parser into its chunked-body state with a synthetic head; the real head was
     * parsed and checked separately. */
    const char *h = is_request ? synth_req : synth_resp;
    http_parser_execute(&s->p, &chunk_settings, h, strlen(h));
}

/* Runs the parser over buf[0..len), all of which must be consumed. Returns 0 or -1. */
static int ch_exec(struct chunked_state *s, struct gw_hp_chunked *c, const char *buf, size_t len)
{
    size_t n = http_parser_execute(&s->p, &chunk_settings, buf, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&s->p);
    if (e == HPE_PAUSED && c->done)
        return n == len ? 0 : -1;
    if (e != HPE_OK || n != len)
        return -1;
    return 0;
}

/* A byte allowed inside a chunk-size line (after the size: extensions) or a trailer line:
 * visible ASCII, SP, HTAB, obs-text. No CTL, so no bare CR or LF. */
static bool line_byte_ok(unsigned char b)
{
    return b == '\t' || (b >= 0x20 && b != 0x7f);
}

ssize_t gw_hp_chunked_feed(struct gw_hp_chunked *c, const char *buf, size_t len,
                           gw_hp_data_cb *cb, void *arg)
{
    struct chunked_state *s = (struct chunked_state *)c->opaque;
    if (c->done)
        return 0;
    s->cb = cb;
    s->arg = arg;
    size_t i = 0;
    while (i < len && !c->done) {
        const unsigned char b = (unsigned char)buf[i];
        size_t take = 1;                        /* bytes of buf checked in this step */
        switch ((enum chunk_phase)s->phase) {
        case CH_SIZE_LINE: {
            /* Check up to (and including) the CR in one go; the parser judges the digits. */
            size_t j = i;
            while (j < len && buf[j] != '\r') {
                if (!line_byte_ok((unsigned char)buf[j]))
                    return -1;
                j++;
            }
            if (j < len) {
                j++;                            /* the CR */
                s->phase = CH_SIZE_LF;
            }
            take = j - i;
            break;
        }
        case CH_SIZE_LF:
            if (b != '\n')
                return -1;
            s->header_seen = false;
            if (ch_exec(s, c, buf + i, 1) < 0 || !s->header_seen)
                return -1;
            s->phase = s->remaining ? CH_DATA : CH_TRAILER_START;
            i++;
            continue;
        case CH_DATA: {
            size_t avail = len - i;
            take = s->remaining < avail ? (size_t)s->remaining : avail;
            s->remaining -= take;
            if (s->remaining == 0)
                s->phase = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (b != '\r')
                return -1;
            s->phase = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (b != '\n')
                return -1;
            s->phase = CH_SIZE_LINE;
            break;
        case CH_TRAILER_START:
            if (b == '\r') {
                s->phase = CH_FINAL_LF;
                break;
            }
            if (b == ' ' || b == '\t' || !line_byte_ok(b))
                return -1;                      /* obs-fold or a control byte */
            s->phase = CH_TRAILER_LINE;
            break;
        case CH_TRAILER_LINE:
            if (b == '\r')
                s->phase = CH_TRAILER_LF;
            else if (!line_byte_ok(b))
                return -1;
            break;
        case CH_TRAILER_LF:
            if (b != '\n')
                return -1;
            s->phase = CH_TRAILER_START;
            break;
        case CH_FINAL_LF:
            if (b != '\n')
                return -1;
            if (ch_exec(s, c, buf + i, 1) < 0 || !c->done)
                return -1;
            return (ssize_t)(i + 1);
        }
        if (take && ch_exec(s, c, buf + i, take) < 0)
            return -1;
        i += take;
    }
    return (ssize_t)i;
}
