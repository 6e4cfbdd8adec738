/* gateway/log.h — error log with levels, and the JSON access log.
 *
 * The error log is written line by line with one write() (errors are rare; debug lines are
 * filtered by the level check before anything is formatted). The access log is buffered per
 * worker and flushed when the buffer passes a size or a short timer fires, so logging a
 * request costs no system call. Never pass secrets (cookies, Authorization, tokens) to either.
 */
#ifndef ONEGATE_GATEWAY_LOG_H
#define ONEGATE_GATEWAY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"

extern int gw_log_level_current;   /* enum gw_log_level; read without locking (an int) */

/* The one logging macro: checks the level before formatting anything. */
#define GW_LOG(level, ...)                                                              \
    do {                                                                                \
        if ((int)(level) <= __atomic_load_n(&gw_log_level_current, __ATOMIC_RELAXED))    \
            gw_log_write((level), __VA_ARGS__);                                         \
    } while (0)

void gw_log_write(enum gw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Opens the error log and access log named by <conf> (NULL paths = stderr/stdout) and sets
 * the level. Returns 0, or -errno with a message in <err>. Called from the main thread only;
 * on reload only the level is changed (files stay open). */
int gw_log_open(const struct gw_log_conf *conf, char *err, size_t errlen);
void gw_log_set_level(enum gw_log_level level);
void gw_log_set_access_enabled(bool on);
bool gw_log_access_enabled(void);
void gw_log_close(void);

/* A per-worker access-log buffer: appended by one thread, flushed by that same thread. */
#define GW_ACCESS_BUF_BYTES 65536
#define GW_ACCESS_FLUSH_BYTES 32768

struct gw_access_buf {
    char data[GW_ACCESS_BUF_BYTES];
    size_t len;
};

/* One request's access-log record; strings are borrowed for the duration of the call. */
struct gw_access_rec {
    const char *time_iso;       /* "2024-01-01T12:00:00.123Z" */
    const char *request_id;
    const char *client;
    const char *method;
    const char *path;  size_t path_len;   /* without query */
    const char *route;          /* label or "-" */
    const char *upstream;       /* name or "-" */
    int status;
    uint64_t bytes_in, bytes_out;
    double total_ms, upstream_ms;   /* upstream_ms < 0: no upstream */
};

/* Appends one JSON line to <b>. Returns true when the buffer should be flushed now. */
bool gw_access_append(struct gw_access_buf *b, const struct gw_access_rec *r);
/* Writes the buffered lines to the access log and empties <b>. */
void gw_access_flush(struct gw_access_buf *b);

/* Appends <s> (len bytes) JSON-escaped to dst (capacity cap, starting at *pos); returns false
 * when it did not fit (then *pos is unchanged). Exposed for the unit tests. */
bool gw_json_escape(char *dst, size_t cap, size_t *pos, const char *s, size_t len);

#endif
