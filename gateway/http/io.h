/* gateway/http/io.h — the tiny transport under every connection (client or upstream).
 *
 * Plain sockets are driven with our own read/write events: one recv() per readiness into
 * evbuffer_reserve_space (no FIONREAD ioctl, unlike bufferevent_socket), and writes go out
 * directly with writev when data is queued; EV_WRITE is armed only after a partial write and
 * disarmed once the output is empty, so a steady keep-alive exchange costs no epoll_ctl.
 * The recv/send pair is an ops table so that TLS (SSL_read/SSL_write) can slot in later.
 */
#ifndef ONEGATE_GATEWAY_HTTP_IO_H
#define ONEGATE_GATEWAY_HTTP_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/buffer.h>

/* Backpressure: stop feeding a buffer above HIGH, resume below LOW. */
#define GW_IO_HIGH_WATER (256u * 1024u)
#define GW_IO_LOW_WATER  (64u * 1024u)
#define GW_IO_READ_CHUNK 16384u

struct gw_io;

struct gw_io_ops {
    /* Like recv(2): bytes read, 0 at end of stream, -1 with errno set. */
    ssize_t (*recv)(struct gw_io *io, void *buf, size_t len);
    /* Writes from io->out: bytes written, -1 with errno set. */
    ssize_t (*send)(struct gw_io *io);
};

extern const struct gw_io_ops gw_io_plain_ops;

struct gw_io {
    int fd;
    struct event rev;           /* EV_READ | EV_PERSIST */
    struct event wev;           /* EV_WRITE | EV_PERSIST, armed only while output is pending */
    struct evbuffer *in;
    struct evbuffer *out;
    const struct gw_io_ops *ops;
    bool rd_on, wr_on, inited;
};

/* Sets up <io> on a connected (or connecting) non-blocking <fd> with callbacks <rcb>/<wcb>
 * (libevent signature, <arg> passed through). Nothing is armed yet. Returns 0 or -ENOMEM;
 * on failure <fd> is left open for the caller. */
int gw_io_init(struct gw_io *io, struct event_base *base, int fd, event_callback_fn rcb,
               event_callback_fn wcb, void *arg);

/* Removes events, frees buffers, closes the fd. Safe on a zeroed or already closed io. */
void gw_io_close(struct gw_io *io);

/* Reads: one recv per call, more only while each recv fills its whole space and fewer than
 * <max_total> bytes have come. Returns bytes read (>0), 0 at end of stream, -EAGAIN when
 * nothing was ready, or another -errno. */
ssize_t gw_io_read(struct gw_io *io, size_t max_total);

/* Writes as much of io->out as the socket takes now (unless EV_WRITE is already armed for an
 * earlier partial write); arms EV_WRITE when some is left, disarms it when empty. Returns 0, or -errno on a write error (connection is dead). */
int gw_io_flush(struct gw_io *io);
/* The same, from the EV_WRITE callback: always tries to write. */
int gw_io_flush_ready(struct gw_io *io);

/* Turns read readiness on or off (an epoll_ctl only when the state changes). */
void gw_io_read_on(struct gw_io *io, bool on);
/* Arms write readiness regardless of output (used to learn when a connect() completes). */
void gw_io_write_on(struct gw_io *io, bool on);

static inline size_t gw_io_out_len(const struct gw_io *io) { return evbuffer_get_length(io->out); }
static inline size_t gw_io_in_len(const struct gw_io *io) { return evbuffer_get_length(io->in); }

/* True when the connection has input we have not looked at: bytes already in its input
 * buffer, or its read event was reported ready by the poll of the loop pass now running and
 * its callback has not run yet. No system call: it reads the event's public flags
 * (event2/event_struct.h), which libevent sets when it queues the callback. Used to refuse a
 * pooled connection that an upstream wrote to (or closed) while it sat idle. */
bool gw_io_input_pending(const struct gw_io *io);

#endif
