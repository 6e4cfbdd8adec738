/* gateway/tokens.c — process and per-worker state of the token features (see tokens.h):
 * endpoint registration, the OAuth throttle, and per worker the verified-token cache with its
 * event subscriber, the failed-verification buckets and the minted person tokens.
 */
#include "gateway/tokens.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/events.h"
#include "gateway/bearer.h"
#include "gateway/endpoints/endpoint.h"
#include "gateway/endpoints/token_endpoints.h"
#include "gateway/log.h"
#include "gateway/worker.h"

#define BAD_SLOTS 4096              /* per worker; direct mapped by address hash */
#define PERSON_SLOTS 4096           /* per worker; direct mapped by session/audience hash */
#define PERSON_KEY_MAX 160

struct bad_slot {
    char ip[INET6_ADDRSTRLEN];
    double tokens;
    uint64_t last_us;
};

struct person_slot {
    char key[PERSON_KEY_MAX];       /* "<sid>\x1f<audience>\x1f<claims>" */
    unsigned long long version;
    uint64_t keyset_gen;
    int64_t exp;
    char *jwt;
};

struct gw_tok_worker {
    struct gw_worker *w;
    struct auth_jwt_cache *cache;
    struct auth_events *events;
    struct bad_slot *bad;           /* [BAD_SLOTS] */
    struct gw_sig_cap sig;          /* signature checks of unknown tokens, all clients */
    struct person_slot *person;     /* [PERSON_SLOTS] */
    struct gw_tok_stats stats;
};

static struct {
    int nworkers;
    struct gw_tok_worker **workers;     /* slot i touched only by worker i */
    struct auth_throttle *throttle;
    char redis_host[INET6_ADDRSTRLEN];
    char *key_prefix;
    struct auth_redis_async_opts aopts;
    char *jwt_path;                     /* "<builtin_prefix>jwt" */
} T;

const struct auth_throttle *gw_tokens_throttle(void)
{
    return T.throttle;
}

static int reg(const char *prefix, gw_endpoint_fn *fn)
{
    struct gw_endpoint ep = { .prefix = prefix, .exact = true, .handle = fn, .ctx = NULL };
    return gw_endpoint_register(&ep);
}

int gw_tokens_init(const struct gw_config *cfg, int nworkers, char *err, size_t errlen)
{
    T.nworkers = nworkers > 0 ? nworkers : 1;
    T.workers = calloc((size_t)T.nworkers, sizeof *T.workers);
    T.key_prefix = strdup(cfg->redis.key_prefix ? cfg->redis.key_prefix : "og:");
    if (!T.workers || !T.key_prefix) {
        snprintf(err, errlen, "tokens: out of memory");
        return -1;
    }
    int port;
    const struct sockaddr *sa = (const struct sockaddr *)&cfg->redis.addr.ss;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, T.redis_host, sizeof T.redis_host);
        port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, T.redis_host, sizeof T.redis_host);
        port = ntohs(s4->sin_port);
    }
    T.aopts = (struct auth_redis_async_opts){
        .host = T.redis_host, .port = port, .connect_timeout_ms = cfg->redis.timeout_ms,
        .timeout_ms = cfg->redis.timeout_ms, .key_prefix = T.key_prefix,
    };
    if (!cfg->jwt.configured)
        return 0;
    if (reg("/.well-known/jwks.json", gw_endpoint_jwks) != 0 ||
        reg("/.well-known/openid-configuration", gw_endpoint_openid_configuration) != 0) {
        snprintf(err, errlen, "tokens: cannot register the JWKS endpoints");
        return -1;
    }
    if (asprintf(&T.jwt_path, "%sjwt", cfg->builtin_prefix) < 0) {
        T.jwt_path = NULL;
        snprintf(err, errlen, "tokens: out of memory");
        return -1;
    }
    if (reg(T.jwt_path, gw_endpoint_session_jwt) != 0) {
        snprintf(err, errlen, "tokens: cannot register %s", T.jwt_path);
        return -1;
    }
    if (!cfg->oauth.configured)
        return 0;
    const struct gw_throttle_rule_conf *c = &cfg->oauth.client, *a = &cfg->oauth.address;
    struct auth_throttle_opts to = {
        .account = { c->free_failures, c->delay_base_ms, c->delay_max_ms, c->lock_failures,
                     c->lock_ms, c->window_ms },
        .addr = { a->free_failures, a->delay_base_ms, a->delay_max_ms, a->lock_failures,
                  a->lock_ms, a->window_ms },
    };
    /* own key space: a client_id never shares a counter with a person's login name */
    char prefix[AUTH_REDIS_PREFIX_MAX + 8];
    snprintf(prefix, sizeof prefix, "%soauth:", T.key_prefix);
    if (auth_throttle_new(&to, prefix, &T.throttle, err, errlen) != 0)
        return -1;
    if (reg("/oauth/token", gw_endpoint_oauth_token) != 0 ||
        reg("/oauth/introspect", gw_endpoint_oauth_introspect) != 0 ||
        reg("/oauth/revoke", gw_endpoint_oauth_revoke) != 0) {
        snprintf(err, errlen, "tokens: cannot register the OAuth endpoints");
        return -1;
    }
    return 0;
}

static void person_clear(struct gw_tok_worker *tw)
{
    for (size_t i = 0; i < PERSON_SLOTS; i++) {
        free(tw->person[i].jwt);
        memset(&tw->person[i], 0, sizeof tw->person[i]);
    }
}

void gw_tokens_free(void)
{
    for (int i = 0; T.workers && i < T.nworkers; i++) {
        struct gw_tok_worker *tw = T.workers[i];
        if (!tw)
            continue;
        auth_events_free(tw->events);
        auth_jwt_cache_free(tw->cache);
        if (tw->person)
            person_clear(tw);
        free(tw->person);
        free(tw->bad);
        free(tw);
    }
    free(T.workers);
    auth_throttle_free(T.throttle);
    free(T.key_prefix);
    free(T.jwt_path);
    memset(&T, 0, sizeof T);
}

/* ---- events: revocation fan-out into this worker's caches ---- */

static bool starts(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static void on_event(const struct auth_event *ev, void *arg)
{
    struct gw_tok_worker *tw = arg;
    if (ev->resync) {
        auth_jwt_cache_clear(tw->cache);
        return;
    }
    if (!strcmp(ev->type, "token.revoked")) {
        auth_jwt_cache_evict_jti(tw->cache, ev->id);
    } else if (starts(ev->type, "api_account.") || starts(ev->type, "system_account.") ||
               starts(ev->type, "person.")) {
        if (*ev->id)
            auth_jwt_cache_evict_subject(tw->cache, ev->id);
    } else if (!strcmp(ev->type, "session.revoked") && *ev->sid) {
        gw_tok_person_forget_sid(tw, ev->sid);
    }
}

struct gw_tok_worker *gw_tokens_worker(struct gw_worker *w, const struct gw_config *cfg)
{
    if (!T.workers || w->id < 0 || w->id >= T.nworkers)
        return NULL;
    struct gw_tok_worker *tw = T.workers[w->id];
    if (tw)
        return tw;
    tw = calloc(1, sizeof *tw);
    if (!tw)
        return NULL;
    tw->w = w;
    tw->cache = auth_jwt_cache_new_aux(cfg->jwt.cache_entries, gw_bearer_cache_aux_bytes());
    tw->bad = calloc(BAD_SLOTS, sizeof *tw->bad);
    tw->person = calloc(PERSON_SLOTS, sizeof *tw->person);
    if (!tw->cache || !tw->bad || !tw->person) {
        auth_jwt_cache_free(tw->cache);
        free(tw->bad);
        free(tw->person);
        free(tw);
        return NULL;
    }
    char err[200];
    /* Without a subscriber no revocation would reach the cache: then nothing is cached
     * (every token is checked in Redis) until a later request retries. */
    if (auth_events_new(w->base, &T.aopts, on_event, tw, &tw->events, err, sizeof err) != 0) {
        GW_LOG(GW_LOG_ERROR, "worker %d: token events subscriber: %s", w->id, err);
        tw->events = NULL;
    }
    T.workers[w->id] = tw;
    return tw;
}

struct auth_jwt_cache *gw_tok_cache(struct gw_tok_worker *tw)
{
    /* A cache whose revocation feed is down must not answer: every lookup misses and every
     * verified token is re-checked in Redis. */
    if (!tw->events || !auth_events_active(tw->events)) {
        auth_jwt_cache_clear(tw->cache);
        return NULL;
    }
    return tw->cache;
}

/* ---- failed-verification buckets ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct bad_slot *bad_slot(struct gw_tok_worker *tw, const char *ip, uint32_t burst,
                                 uint32_t per_s)
{
    struct bad_slot *b = &tw->bad[hash_str(ip) % BAD_SLOTS];
    uint64_t now = mono_us();
    if (strcmp(b->ip, ip) != 0) {
        snprintf(b->ip, sizeof b->ip, "%s", ip);
        b->tokens = burst;
        b->last_us = now;
        return b;
    }
    b->tokens += (double)(now - b->last_us) * per_s / 1e6;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_us = now;
    return b;
}

bool gw_tok_bad_allowed(struct gw_tok_worker *tw, const char *ip, uint32_t burst,
                        uint32_t per_s)
{
    return bad_slot(tw, ip, burst, per_s)->tokens >= 1.0;
}

void gw_tok_bad_spend(struct gw_tok_worker *tw, const char *ip, uint32_t burst, uint32_t per_s)
{
    struct bad_slot *b = bad_slot(tw, ip, burst, per_s);
    b->tokens = b->tokens >= 1.0 ? b->tokens - 1.0 : 0.0;
}

/* ---- cap on signature checks ---- */

static double sig_cap_refill(struct gw_sig_cap *c, uint32_t per_s, uint64_t now_us)
{
    double cap = per_s / 10 ? per_s / 10 : 1;
    if (!c->last_us) {
        c->tokens = cap;
    } else if (now_us > c->last_us) {
        c->tokens += (double)(now_us - c->last_us) * per_s / 1e6;
        if (c->tokens > cap)
            c->tokens = cap;
    }
    if (now_us > c->last_us)
        c->last_us = now_us;
    return c->tokens;
}

bool gw_sig_cap_allowed(struct gw_sig_cap *c, uint32_t per_s, uint64_t now_us)
{
    return !per_s || sig_cap_refill(c, per_s, now_us) >= 1.0;
}

void gw_sig_cap_spend(struct gw_sig_cap *c, uint32_t per_s, uint64_t now_us)
{
    if (!per_s)
        return;
    sig_cap_refill(c, per_s, now_us);
    c->tokens = c->tokens >= 1.0 ? c->tokens - 1.0 : 0.0;
}

bool gw_tok_sig_allowed(struct gw_tok_worker *tw, uint32_t per_s)
{
    return !per_s || gw_sig_cap_allowed(&tw->sig, per_s, mono_us());
}

void gw_tok_sig_spend(struct gw_tok_worker *tw, uint32_t per_s)
{
    if (per_s)
        gw_sig_cap_spend(&tw->sig, per_s, mono_us());
}

/* ---- minted person tokens ---- */

static struct person_slot *person_slot(struct gw_tok_worker *tw, const char *key,
                                       const char *audience, unsigned claims, char *full)
{
    snprintf(full, PERSON_KEY_MAX, "%s\x1f%s\x1f%u", key, audience, claims);
    return &tw->person[hash_str(full) % PERSON_SLOTS];
}

const char *gw_tok_person_get(struct gw_tok_worker *tw, const char *key,
                              unsigned long long person_version, const char *audience,
                              unsigned claims, uint64_t keyset_gen, int64_t now_s,
                              uint32_t renew_before_s, int64_t *exp)
{
    char full[PERSON_KEY_MAX];
    struct person_slot *p = person_slot(tw, key, audience, claims, full);
    if (!p->jwt || strcmp(p->key, full) != 0 || p->version != person_version ||
        p->keyset_gen != keyset_gen || p->exp - (int64_t)renew_before_s <= now_s)
        return NULL;
    if (exp)
        *exp = p->exp;
    return p->jwt;
}

void gw_tok_person_put(struct gw_tok_worker *tw, const char *key,
                       unsigned long long person_version, const char *audience,
                       unsigned claims, uint64_t keyset_gen, const char *jwt, int64_t exp)
{
    char full[PERSON_KEY_MAX];
    struct person_slot *p = person_slot(tw, key, audience, claims, full);
    char *copy = strdup(jwt);
    if (!copy)
        return;                     /* not cached: the next request mints again */
    free(p->jwt);
    snprintf(p->key, sizeof p->key, "%s", full);
    p->version = person_version;
    p->keyset_gen = keyset_gen;
    p->exp = exp;
    p->jwt = copy;
}

void gw_tok_person_forget_sid(struct gw_tok_worker *tw, const char *sid)
{
    size_t n = strlen(sid);
    for (size_t i = 0; i < PERSON_SLOTS; i++) {
        struct person_slot *p = &tw->person[i];
        if (p->jwt && !strncmp(p->key, sid, n) && p->key[n] == '\x1f') {
            free(p->jwt);
            memset(p, 0, sizeof *p);
        }
    }
}

void gw_tok_get_stats(struct gw_tok_worker *tw, struct gw_tok_stats *out)
{
    *out = tw->stats;
}

void gw_tok_count_bad_refused(struct gw_tok_worker *tw)
{
    tw->stats.bad_refused++;
}

void gw_tok_count_minted(struct gw_tok_worker *tw, bool reused)
{
    if (reused)
        tw->stats.reused++;
    else
        tw->stats.minted++;
}
