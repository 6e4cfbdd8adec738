/* gateway/log.c — error log (immediate, one write per line) and the per-worker buffered JSON
 * access log. Files are opened once by the main thread; writers only call write(). */
#include "gateway/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int gw_log_level_current = GW_LOG_INFO;

static int error_fd = 2;
static int access_fd = 1;
static bool access_on = true;
static pthread_mutex_t access_mu = PTHREAD_MUTEX_INITIALIZER; /* per flush, never per request */

static const char *level_names[] = { "error", "warn", "info", "debug" };

static int open_log(const char *path, int dflt, char *err, size_t errlen)
{
    if (!path || !strcmp(path, "stderr"))
        return 2;
    if (!strcmp(path, "stdout"))
        return 1;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open log %s: %s", path, strerror(e));
        return -e;
    }
    (void)dflt;
    return fd;
}

int gw_log_open(const struct gw_log_conf *conf, char *err, size_t errlen)
{
    int efd = open_log(conf->error_log, 2, err, errlen);
    if (efd < 0)
        return efd;
    int afd = 1;
    if (conf->access_log_enabled) {
        afd = conf->access_log ? open_log(conf->access_log, 1, err, errlen) : 1;
        if (afd < 0) {
            if (efd > 2)
                close(efd);
            return afd;
        }
    }
    error_fd = efd;
    access_fd = afd;
    access_on = conf->access_log_enabled;
    gw_log_level_current = conf->level;
    return 0;
}

void gw_log_set_level(enum gw_log_level level)
{
    __atomic_store_n(&gw_log_level_current, (int)level, __ATOMIC_RELAXED);
}
void gw_log_set_access_enabled(bool on) { __atomic_store_n(&access_on, on, __ATOMIC_RELAXED); }
bool gw_log_access_enabled(void) { return __atomic_load_n(&access_on, __ATOMIC_RELAXED); }

void gw_log_close(void)
{
    if (error_fd > 2)
        close(error_fd);
    if (access_fd > 2)
        close(access_fd);
    error_fd = 2;
    access_fd = 1;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;             /* nowhere left to report a failing log */
        }
        p += w;
        n -= (size_t)w;
    }
}

void gw_log_write(enum gw_log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000,
                     level_names[(unsigned)level < 4 ? (unsigned)level : 0]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    write_all(error_fd, line, len);
}

bool gw_json_escape(char *dst, size_t cap, size_t *pos, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t p = *pos;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            if (p + 2 > cap)
                return false;
            dst[p++] = '\\';
            dst[p++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            /* Control and non-ASCII bytes are escaped byte-wise: the log stays valid ASCII
             * JSON whatever a client sent. */
            if (p + 6 > cap)
                return false;
            memcpy(dst + p, "\\u00", 4);
            dst[p + 4] = hex[c >> 4];
            dst[p + 5] = hex[c & 15];
            p += 6;
        } else {
            if (p + 1 > cap)
                return false;
            dst[p++] = (char)c;
        }
    }
    *pos = p;
    return true;
}

static bool put(char *dst, size_t cap, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (*pos + n > cap)
        return false;
    memcpy(dst + *pos, s, n);
    *pos += n;
    return true;
}

static bool put_str(char *dst, size_t cap, size_t *pos, const char *key, const char *s,
                    size_t len)
{
    return put(dst, cap, pos, key) && gw_json_escape(dst, cap, pos, s, len) &&
           put(dst, cap, pos, "\"");
}

bool gw_access_append(struct gw_access_buf *b, const struct gw_access_rec *r)
{
    char line[4096];
    size_t p = 0, cap = sizeof line;
    char num[160];
    bool ok = put_str(line, cap, &p, "{\"time\":\"", r->time_iso, strlen(r->time_iso)) &&
              put_str(line, cap, &p, ",\"request_id\":\"", r->request_id, strlen(r->request_id)) &&
              put_str(line, cap, &p, ",\"client\":\"", r->client, strlen(r->client)) &&
              put_str(line, cap, &p, ",\"method\":\"", r->method, strlen(r->method)) &&
              put_str(line, cap, &p, ",\"path\":\"", r->path, r->path_len) &&
              put_str(line, cap, &p, ",\"route\":\"", r->route, strlen(r->route)) &&
              put_str(line, cap, &p, ",\"upstream\":\"", r->upstream, strlen(r->upstream));
    if (!ok) {
        /* An absurdly long path: log the line without it rather than not at all. */
        p = 0;
        put_str(line, cap, &p, "{\"time\":\"", r->time_iso, strlen(r->time_iso));
        put_str(line, cap, &p, ",\"request_id\":\"", r->request_id, strlen(r->request_id));
        put(line, cap, &p, ",\"path\":\"(too long)\"");
    }
    if (r->upstream_ms >= 0)
        snprintf(num, sizeof num,
                 ",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f,"
                 "\"upstream_ms\":%.3f}\n",
                 r->status, (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out,
                 r->total_ms, r->upstream_ms);
    else
        snprintf(num, sizeof num,
                 ",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f,"
                 "\"upstream_ms\":null}\n",
                 r->status, (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out,
                 r->total_ms);
    put(line, cap, &p, num);
    if (b->len + p > sizeof b->data)
        gw_access_flush(b);
    memcpy(b->data + b->len, line, p);
    b->len += p;
    return b->len >= GW_ACCESS_FLUSH_BYTES;
}

void gw_access_flush(struct gw_access_buf *b)
{
    if (b->len == 0)
        return;
    pthread_mutex_lock(&access_mu);
    write_all(access_fd, b->data, b->len);
    pthread_mutex_unlock(&access_mu);
    b->len = 0;
}
