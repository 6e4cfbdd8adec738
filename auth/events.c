/* auth/events.c — parses the JSON events of the "<prefix>events" channel (docs/DATA-MODEL.md)
 * received through auth_redis_sub and hands them to one callback per worker. */
#include "auth/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct auth_events {
    struct auth_redis_sub *sub;
    auth_events_cb *cb;
    void *arg;
    size_t malformed;
};

static const char *field(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : "";
}

static void on_message(const char *msg, size_t len, void *arg)
{
    struct auth_events *ev = arg;
    struct auth_event e = { .type = "", .id = "", .sid = "", .status = "", .reason = "",
                            .op = "", .raw = msg ? msg : "", .raw_len = msg ? len : 0 };
    if (!msg) {
        e.resync = true;
        ev->cb(&e, ev->arg);
        return;
    }
    json_t *o = json_loadb(msg, len, 0, NULL);
    if (!json_is_object(o) || !json_is_string(json_object_get(o, "type"))) {
        ev->malformed++;
        json_decref(o);
        return;
    }
    e.type = field(o, "type");
    e.id = field(o, "id");
    e.sid = field(o, "sid");
    e.status = field(o, "status");
    e.reason = field(o, "reason");
    e.op = field(o, "op");
    json_t *v = json_object_get(o, "version");
    if (json_is_integer(v) && json_integer_value(v) > 0)
        e.version = (unsigned long long)json_integer_value(v);
    ev->cb(&e, ev->arg);
    json_decref(o);
}

int auth_events_new(struct event_base *base, const struct auth_redis_async_opts *opts,
                    auth_events_cb *cb, void *arg, struct auth_events **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    const char *prefix = opts && opts->key_prefix ? opts->key_prefix : AUTH_REDIS_DEFAULT_PREFIX;
    if (strlen(prefix) > AUTH_REDIS_PREFIX_MAX) {
        snprintf(err, errlen, "redis key prefix too long");
        return AUTH_REDIS_EINVAL;
    }
    char channel[AUTH_REDIS_PREFIX_MAX + 8];
    snprintf(channel, sizeof(channel), "%sevents", prefix);
    struct auth_events *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return AUTH_REDIS_ENOMEM;
    ev->cb = cb;
    ev->arg = arg;
    int rc = auth_redis_sub_new(base, opts, channel, on_message, ev, &ev->sub, err, errlen);
    if (rc) {
        free(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

void auth_events_free(struct auth_events *ev)
{
    if (!ev)
        return;
    auth_redis_sub_free(ev->sub);
    free(ev);
}

bool auth_events_active(const struct auth_events *ev)
{
    return auth_redis_sub_active(ev->sub);
}

size_t auth_events_malformed(const struct auth_events *ev)
{
    return ev->malformed;
}
