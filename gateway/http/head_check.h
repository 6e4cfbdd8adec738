/* gateway/http/head_check.h — strict checks on the raw bytes of a message head.
 *
 * Runs before http-parser sees anything (http-parser lets obs-fold, bare LF and whitespace in
 * or before header names through: LIBRARY-FACTS.md). First gw_head_find_end() finds where the
 * head ends as bytes arrive (failing fast on bare LF and oversize heads); then
 * gw_head_validate() checks every byte of the complete head. Both are pure functions.
 */
#ifndef ONEGATE_GATEWAY_HTTP_HEAD_CHECK_H
#define ONEGATE_GATEWAY_HTTP_HEAD_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_head_limits {
    uint32_t max_head_bytes;    /* whole head incl. first line and final CRLF; over: 431 */
    uint32_t max_line_bytes;    /* first line without CRLF; over: 414 */
    uint32_t max_headers;       /* header fields; over: 431 */
};

enum { GW_HEAD_DONE = 0, GW_HEAD_MORE = 1 };

/* Looks for the end of the head ("\r\n\r\n") in buf[0..len), resuming at *scan_pos (start
 * with 0; updated on GW_HEAD_MORE). Returns GW_HEAD_DONE with *head_len set (bytes up to and
 * including the final CRLF), GW_HEAD_MORE when more bytes are needed, or a negative HTTP
 * status: -400 (bare LF), -414 (first line too long), -431 (head too large). */
int gw_head_find_end(const char *buf, size_t len, size_t *scan_pos,
                     const struct gw_head_limits *lim, size_t *head_len);

/* Validates a complete head buf[0..head_len) as found by gw_head_find_end. <is_request>
 * selects request-line or status-line syntax. Returns 0, or a positive HTTP status (400, 414,
 * 431) with a static reason in *why. A response head failing here must become a 502. */
int gw_head_validate(const char *buf, size_t head_len, bool is_request,
                     const struct gw_head_limits *lim, const char **why);

/* RFC 9110 token character. */
bool gw_is_tchar(unsigned char c);

#endif
