/* auth/throttle.h — brute-force throttling of password logins (and, in issue 5, of the token
 * endpoint): failed attempts counted in Redis per account name and per client address, with
 * growing delays and a temporary lock. One round trip before an attempt (check, pipelined
 * over both counters) and one after it (record). Scheme: docs/DATA-MODEL.md, "Login
 * throttling".
 *
 * Unknown accounts are counted exactly like existing ones (the key is the name as entered,
 * folded), so neither the answer nor its timing says whether an account exists; the login
 * core spends a dummy password verification for unknown names.
 *
 * A struct auth_throttle is immutable and may be shared by all threads. The check is async
 * (event-loop thread of the auth_redis_async); the record is blocking (work-pool thread).
 * Returns 0 or a negative AUTH_THROTTLE_E*.
 */
#ifndef ONEGATE_AUTH_THROTTLE_H
#define ONEGATE_AUTH_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/redis_async.h"
#include "auth/redis_client.h"

enum auth_throttle_err {
    AUTH_THROTTLE_OK = 0,
    AUTH_THROTTLE_EREDIS = -1,      /* Redis down/timeout/error: refuse the attempt (fail closed) */
    AUTH_THROTTLE_EINVAL = -2,
    AUTH_THROTTLE_ENOMEM = -3,
};

/* One counter's figures. After the n-th failure within <window_ms> of the previous one, the
 * next attempt waits:  0 while n <= free_failures;  min(base_delay_ms * 2^(n-free-1),
 * max_delay_ms) after that;  lock_ms once n >= lock_after (the temporary lock). A success
 * resets the account counter (not the address counter). */
struct auth_throttle_rule {
    uint32_t free_failures;
    uint32_t base_delay_ms;
    uint32_t max_delay_ms;
    uint32_t lock_after;
    uint32_t lock_ms;
    uint32_t window_ms;
};

struct auth_throttle_opts {
    struct auth_throttle_rule account;  /* defaults: 3 free, 1 s doubling to 30 s, lock for
                                         * 15 min after 10, window 15 min */
    struct auth_throttle_rule addr;     /* defaults: 20 free, 1 s doubling to 30 s, lock for
                                         * 15 min after 100, window 15 min */
};

/* The defaults above. */
struct auth_throttle_opts auth_throttle_default_opts(void);

struct auth_throttle;

/* Validates <opts> (NULL = defaults; a rule with every field 0 takes its defaults) and
 * builds key names under <key_prefix> (NULL = "og:"). */
int auth_throttle_new(const struct auth_throttle_opts *opts, const char *key_prefix,
                      struct auth_throttle **out, char *err, size_t errlen);
void auth_throttle_free(struct auth_throttle *t);

/* Key names (new strings, caller frees; NULL on ENOMEM). The account key is
 * "<prefix>thr:a:<ASCII-folded name>" — the same as auth_dir_key_throttle() for valid login
 * names and emails, so that delete/anonymize remove it — or "<prefix>thr:a:h:<sha256 hex>"
 * for names that are not printable ASCII or longer than 254 bytes. The address key is
 * "<prefix>thr:ip:<addr>". */
char *auth_throttle_key_account(const struct auth_throttle *t, const char *login);
char *auth_throttle_key_addr(const struct auth_throttle *t, const char *addr);

/* rc 0 with <wait_ms> 0: go ahead; rc 0 with wait_ms > 0: refuse now, tell the client to
 * retry after that long; rc AUTH_THROTTLE_EREDIS: refuse (fail closed). */
typedef void auth_throttle_cb(int rc, uint32_t wait_ms, void *arg);

/* Caller-owned state of one check (embed it; valid until the callback ran or cancel). */
struct auth_throttle_op {
    auth_throttle_cb *cb_;
    void *arg_;
    struct auth_redis_call *call_[2];
    int pending_;
    int rc_;
    uint32_t wait_ms_;
};

/* Checks both counters (<addr> may be NULL: account only) in one pipelined round trip.
 * Returns 0 (then <cb> runs exactly once, later, unless cancelled) or an error at once
 * (<cb> never runs). */
int auth_throttle_check(const struct auth_throttle *t, struct auth_redis_async *ra,
                        const char *login, const char *addr,
                        struct auth_throttle_op *op, auth_throttle_cb *cb, void *arg);
void auth_throttle_op_cancel(struct auth_throttle_op *op);

/* Records the outcome of an attempt (blocking, one pipelined round trip): a failure counts
 * on both counters and returns the wait now imposed (<*wait_ms>, may be NULL); a success
 * deletes the account counter. */
int auth_throttle_record(const struct auth_throttle *t, struct auth_redis *r,
                         const char *login, const char *addr, bool success,
                         uint32_t *wait_ms, char *err, size_t errlen);

#endif
