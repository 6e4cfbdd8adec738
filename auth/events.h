/* auth/events.h — the directory's change and revocation events (channel "<prefix>events",
 * docs/DATA-MODEL.md), received on a subscriber connection of the worker's event_base and
 * delivered parsed, for revocation fan-out: the JWT cache evicts a person's or account's
 * tokens, later caches drop a person's card. One auth_events per worker thread.
 *
 * After any connection loss the subscriber resubscribes by itself and delivers an event with
 * <resync> set: messages may have been missed, so drop everything the events keep fresh. */
#ifndef ONEGATE_AUTH_EVENTS_H
#define ONEGATE_AUTH_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/redis_async.h"

struct event_base;

/* One event; every pointer is borrowed for the duration of the callback; absent fields are
 * "" (strings) or 0. */
struct auth_event {
    bool resync;                /* no message: (re)subscribed, earlier messages may be lost */
    const char *type;           /* "person.changed", "person.deleted", "person.revoked",
                                 * "session.revoked", "api_account.changed", ... */
    const char *id;             /* person id / client_id / system account name */
    const char *sid;            /* session.revoked: the session handle */
    const char *status;         /* person.changed */
    const char *reason;         /* *.revoked */
    const char *op;             /* *.changed */
    unsigned long long version;
    const char *raw;            /* the JSON text as received */
    size_t raw_len;
};

typedef void auth_events_cb(const struct auth_event *ev, void *arg);

struct auth_events;

/* Subscribes to "<opts->key_prefix>events" on <base>. Malformed messages are counted and
 * dropped. Returns 0 or an AUTH_REDIS_E* code with <err>. */
int auth_events_new(struct event_base *base, const struct auth_redis_async_opts *opts,
                    auth_events_cb *cb, void *arg, struct auth_events **out,
                    char *err, size_t errlen);
void auth_events_free(struct auth_events *ev);
bool auth_events_active(const struct auth_events *ev);
/* Messages dropped because they were not an event object. */
size_t auth_events_malformed(const struct auth_events *ev);

#endif
