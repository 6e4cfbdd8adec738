/* gateway/http/head_check.c — strict validation of raw request/response heads (RFC 9110/9112
 * syntax), the gate every message passes before http-parser and before anything is forwarded. */
#include "gateway/http/head_check.h"

#include <stdint.h>
#include <string.h>

/* RFC 9110 §5.6.2 tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA. */
static const unsigned char tchar_tab[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

bool gw_is_tchar(unsigned char c)
{
    return tchar_tab[c];
}

int gw_head_find_end(const char *buf, size_t len, size_t *scan_pos,
                     const struct gw_head_limits *lim, size_t *head_len)
{
    size_t pos = *scan_pos;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl)
            break;
        size_t i = (size_t)(nl - buf);
        if (i == 0 || buf[i - 1] != '\r')
            return -400;                        /* bare LF */
        if (*scan_pos == 0 && pos == 0 && i - 1 > lim->max_line_bytes)
            return -414;
        if (i >= 3 && buf[i - 2] == '\n') {
            size_t n = i + 1;
            if (n > lim->max_head_bytes)
                return -431;
            *head_len = n;
            return GW_HEAD_DONE;
        }
        pos = i + 1;
        *scan_pos = pos;
    }
    if (*scan_pos == 0 && len > (size_t)lim->max_line_bytes + 1)
        return -414;                            /* still no end of the first line */
    if (len >= lim->max_head_bytes)
        return -431;
    return GW_HEAD_MORE;
}

static bool is_vchar_or_obs(unsigned char c) { return c >= 0x21 && c != 0x7f; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* The first byte at or after <p> that is below 0x20 (CTL, HTAB, CR) or DEL, or <end>. Eight
 * bytes at a time: a word is skipped only when none of its bytes is below 0x20 (bytes of
 * 0x80 and up are obs-text, allowed) and none equals 0x7f; a flagged word is finished byte by
 * byte, so borrows between bytes cannot hide anything. <end> - 4 is the head's final CRLFCRLF,
 * so the scan always stops inside the head. */
static const char *skip_value_bytes(const char *p, const char *end)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, sizeof x);
        uint64_t below = (x - 0x20 * ones) & ~x & highs;
        uint64_t d = x ^ (0x7f * ones);
        uint64_t del = (d - ones) & ~d & highs;
        if (below | del)
            break;
        p += 8;
    }
    while (p < end && (unsigned char)*p >= 0x20 && (unsigned char)*p != 0x7f)
        p++;
    return p;
}

/* "HTTP/d.d" at p; returns true and advances *p. */
static bool parse_version(const char **p, const char *end)
{
    const char *s = *p;
    if (end - s < 8 || memcmp(s, "HTTP/", 5) != 0 || !is_digit((unsigned char)s[5]) ||
        s[6] != '.' || !is_digit((unsigned char)s[7]))
        return false;
    *p = s + 8;
    return true;
}

static int check_request_line(const char *s, const char *eol, const char **why)
{
    const char *p = s;
    while (p < eol && gw_is_tchar((unsigned char)*p))
        p++;
    if (p == s || p >= eol || *p != ' ') {
        *why = "malformed method";
        return 400;
    }
    p++;
    const char *t = p;
    while (p < eol && (unsigned char)*p >= 0x21 && (unsigned char)*p <= 0x7e)
        p++;
    if (p == t || p >= eol || *p != ' ') {
        *why = "malformed request target";
        return 400;
    }
    /* No fragment in a request target (RFC 9112 §3.2): upstreams drop it, so "/a#x" would be
     * decided by the policy as a path other than the one the upstream serves. */
    if (memchr(t, '#', (size_t)(p - t))) {
        *why = "fragment in request target";
        return 400;
    }
    p++;
    if (!parse_version(&p, eol) || p != eol) {
        *why = "malformed HTTP version";
        return 400;
    }
    if (s[eol - s - 3] != '1') {                /* major version must be 1 */
        *why = "unsupported HTTP version";
        return 400;
    }
    return 0;
}

static int check_status_line(const char *s, const char *eol, const char **why)
{
    const char *p = s;
    if (!parse_version(&p, eol) || p >= eol || *p != ' ') {
        *why = "malformed status line";
        return 400;
    }
    p++;
    if (eol - p < 3 || !is_digit((unsigned char)p[0]) || !is_digit((unsigned char)p[1]) ||
        !is_digit((unsigned char)p[2])) {
        *why = "malformed status code";
        return 400;
    }
    p += 3;
    if (p == eol)
        return 0;                               /* no reason phrase: tolerated */
    if (*p != ' ') {
        *why = "malformed status line";
        return 400;
    }
    for (p++; p < eol; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != '\t' && c != ' ' && !is_vchar_or_obs(c)) {
            *why = "control character in reason phrase";
            return 400;
        }
    }
    return 0;
}

int gw_head_validate(const char *buf, size_t head_len, bool is_request,
                     const struct gw_head_limits *lim, const char **why)
{
    *why = "ok";
    if (head_len > lim->max_head_bytes) {
        *why = "header section too large";
        return 431;
    }
    if (head_len < 4 || memcmp(buf + head_len - 4, "\r\n\r\n", 4) != 0) {
        *why = "incomplete head";
        return 400;
    }
    const char *end = buf + head_len;
    /* first line */
    const char *eol = memchr(buf, '\r', head_len);
    if (!eol || eol[1] != '\n') {
        *why = "control character in first line";
        return 400;
    }
    if (is_request && (size_t)(eol - buf) > lim->max_line_bytes) {
        *why = "request line too long";
        return 414;
    }
    int st = is_request ? check_request_line(buf, eol, why) : check_status_line(buf, eol, why);
    if (st)
        return st;
    uint32_t nfields = 0;
    const char *p = eol + 2;
    while (p < end) {
        if (p[0] == '\r') {                     /* the empty line that ends the head */
            if (p + 2 != end || p[1] != '\n') {
                *why = "malformed end of head";
                return 400;
            }
            return 0;
        }
        if (p[0] == ' ' || p[0] == '\t') {
            *why = "obsolete line folding";
            return 400;
        }
        const char *n = p;
        while (p < end && gw_is_tchar((unsigned char)*p))
            p++;
        if (p == n) {
            *why = "malformed header name";
            return 400;
        }
        if (*p != ':') {
            *why = (*p == ' ' || *p == '\t') ? "whitespace in or after header name"
                                            : "invalid character in header name";
            return 400;
        }
        p++;
        for (;; p++) {
            p = skip_value_bytes(p, end);
            unsigned char c = (unsigned char)*p;
            if (c == '\r') {
                if (p[1] != '\n') {
                    *why = "bare CR in header value";
                    return 400;
                }
                p += 2;
                break;
            }
            if (c != '\t' && c != ' ' && !is_vchar_or_obs(c)) {
                *why = "control character in header value";
                return 400;
            }
        }
        if (++nfields > lim->max_headers) {
            *why = "too many header fields";
            return 431;
        }
    }
    *why = "incomplete head";
    return 400;
}
