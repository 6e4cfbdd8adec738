/* gateway/http/io.c — plain-socket transport: recv into reserved evbuffer space, writev out of
 * the evbuffer, write readiness only while a write is pending. */
#include "gateway/http/io.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t plain_recv(struct gw_io *io, void *buf, size_t len)
{
    return recv(io->fd, buf, len, 0);
}

static ssize_t plain_send(struct gw_io *io)
{
    return evbuffer_write(io->out, io->fd);
}

const struct gw_io_ops gw_io_plain_ops = { .recv = plain_recv, .send = plain_send };

int gw_io_init(struct gw_io *io, struct event_base *base, int fd, event_callback_fn rcb,
               event_callback_fn wcb, void *arg)
{
    memset(io, 0, sizeof *io);
    io->fd = fd;
    io->ops = &gw_io_plain_ops;
    io->in = evbuffer_new();
    io->out = evbuffer_new();
    if (!io->in || !io->out)
        goto fail;
    if (event_assign(&io->rev, base, fd, EV_READ | EV_PERSIST, rcb, arg) != 0 ||
        event_assign(&io->wev, base, fd, EV_WRITE | EV_PERSIST, wcb, arg) != 0)
        goto fail;
    io->inited = true;
    return 0;
fail:
    if (io->in)
        evbuffer_free(io->in);
    if (io->out)
        evbuffer_free(io->out);
    io->in = io->out = NULL;
    io->fd = -1;
    return -ENOMEM;
}

void gw_io_close(struct gw_io *io)
{
    if (!io->inited)
        return;
    if (io->rd_on)
        event_del(&io->rev);
    if (io->wr_on)
        event_del(&io->wev);
    io->rd_on = io->wr_on = false;
    evbuffer_free(io->in);
    evbuffer_free(io->out);
    io->in = io->out = NULL;
    if (io->fd >= 0)
        close(io->fd);
    io->fd = -1;
    io->inited = false;
}

ssize_t gw_io_read(struct gw_io *io, size_t max_total)
{
    size_t total = 0;
    size_t want = GW_IO_READ_CHUNK;
    for (;;) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(io->in, (ev_ssize_t)want, &v, 1) < 1)
            return total ? (ssize_t)total : -ENOMEM;
        size_t room = v.iov_len < want ? v.iov_len : want;
        ssize_t n = io->ops->recv(io, v.iov_base, room);
        if (n > 0) {
            v.iov_len = (size_t)n;
            evbuffer_commit_space(io->in, &v, 1);
            total += (size_t)n;
            /* Read again only when this recv filled all the space we offered. */
            if ((size_t)n < room || total >= max_total)
                return (ssize_t)total;
            want = 65536;
            continue;
        }
        if (n == 0)
            return (ssize_t)total;              /* EOF now, or seen again on the next call */
        if (errno == EINTR)
            continue;
        if (total)
            return (ssize_t)total;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

int gw_io_flush(struct gw_io *io)
{
    /* A write is already waiting for EV_WRITE: the socket was full a moment ago, so trying
     * now would most likely cost an EAGAIN. The write event will send the new bytes too. */
    if (io->wr_on)
        return 0;
    return gw_io_flush_ready(io);
}

int gw_io_flush_ready(struct gw_io *io)
{
    while (evbuffer_get_length(io->out) > 0) {
        ssize_t n = io->ops->send(io);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -errno;
        }
        if (n == 0)
            break;
        /* A short write means the socket buffer is full: wait for EV_WRITE. A full write of
         * what writev took (at most 128 chains) may leave more: loop. */
        if (evbuffer_get_length(io->out) > 0 && (size_t)n < 65536)
            break;
    }
    bool pending = evbuffer_get_length(io->out) > 0;
    if (pending && !io->wr_on) {
        event_add(&io->wev, NULL);
        io->wr_on = true;
    } else if (!pending && io->wr_on) {
        event_del(&io->wev);
        io->wr_on = false;
    }
    return 0;
}

bool gw_io_input_pending(const struct gw_io *io)
{
    if (!io->inited)
        return false;
    if (evbuffer_get_length(io->in) > 0)
        return true;
    /* EVLIST_ACTIVE: readiness polled in this pass, callback queued behind the one running. */
    return io->rd_on &&
           (io->rev.ev_evcallback.evcb_flags & (EVLIST_ACTIVE | EVLIST_ACTIVE_LATER)) != 0;
}

void gw_io_read_on(struct gw_io *io, bool on)
{
    if (on == io->rd_on || !io->inited)
        return;
    if (on)
        event_add(&io->rev, NULL);
    else
        event_del(&io->rev);
    io->rd_on = on;
}

void gw_io_write_on(struct gw_io *io, bool on)
{
    if (on == io->wr_on || !io->inited)
        return;
    if (on)
        event_add(&io->wev, NULL);
    else
        event_del(&io->wev);
    io->wr_on = on;
}
