/* auth/jwt_cache.c — per-worker LRU of verified tokens (see jwt_cache.h for the contract).
 * A chained hash table on SHA-256(token) plus a doubly linked recency list; everything is
 * O(1) except the explicit evictions, which scan (they are rare: revocations, account
 * changes). Each entry is one allocation: key, claims reference, links and the caller's aux.
 */
#include "auth/jwt_cache.h"
#include "auth/jwt_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    unsigned char key[32];          /* SHA-256 of the token bytes */
    struct auth_jwt_claims *claims; /* one reference held */
    struct entry *hnext;            /* hash chain */
    struct entry *prev, *next;      /* recency list: head = most recently used */
    _Alignas(max_align_t) unsigned char aux[]; /* the cache's aux_bytes of caller data */
};

struct auth_jwt_cache {
    size_t max, n;
    size_t aux_bytes;
    size_t mask;                    /* buckets - 1 (power of two) */
    struct entry **buckets;
    struct entry *head, *tail;
    uint64_t generation;            /* key set the entries were verified with; 0 = none */
    uint64_t epoch;
    EVP_MD *sha256;
    EVP_MD_CTX *md;                 /* reused: this cache belongs to one thread */
    struct auth_jwt_cache_stats st;
};

struct auth_jwt_cache *auth_jwt_cache_new(size_t max_entries)
{
    return auth_jwt_cache_new_aux(max_entries, 0);
}

struct auth_jwt_cache *auth_jwt_cache_new_aux(size_t max_entries, size_t aux_bytes)
{
    struct auth_jwt_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max = max_entries ? max_entries : AUTH_JWT_CACHE_DEFAULT_ENTRIES;
    c->aux_bytes = aux_bytes;
    size_t nb = 16;
    while (nb < c->max * 2)
        nb *= 2;
    c->mask = nb - 1;
    c->buckets = calloc(nb, sizeof *c->buckets);
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->md = EVP_MD_CTX_new();
    c->epoch = 1;
    if (!c->buckets || !c->sha256 || !c->md) {
        auth_jwt_cache_free(c);
        return NULL;
    }
    return c;
}

static void entry_destroy(struct entry *e)
{
    auth_jwt_claims_unref(e->claims);
    free(e);
}

void auth_jwt_cache_free(struct auth_jwt_cache *c)
{
    if (!c)
        return;
    for (struct entry *e = c->head, *nx; e; e = nx) {
        nx = e->next;
        entry_destroy(e);
    }
    free(c->buckets);
    EVP_MD_CTX_free(c->md);
    EVP_MD_free(c->sha256);
    free(c);
}

static int hash_token(struct auth_jwt_cache *c, const char *tok, size_t len, unsigned char *out)
{
    unsigned int n = 0;
    if (EVP_DigestInit_ex2(c->md, c->sha256, NULL) != 1 ||
        EVP_DigestUpdate(c->md, tok, len) != 1 || EVP_DigestFinal_ex(c->md, out, &n) != 1)
        return AUTH_JWT_E_CRYPTO;
    return 0;
}

static size_t bucket_of(const struct auth_jwt_cache *c, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)h & c->mask;
}

static void list_unlink(struct auth_jwt_cache *c, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(struct auth_jwt_cache *c, struct entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

/* Unlinks <e> from its chain and the list and frees it. */
static void entry_remove(struct auth_jwt_cache *c, struct entry *e)
{
    struct entry **pp = &c->buckets[bucket_of(c, e->key)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    list_unlink(c, e);
    entry_destroy(e);
    c->n--;
}

void auth_jwt_cache_clear(struct auth_jwt_cache *c)
{
    while (c->head) {
        entry_remove(c, c->head);
        c->st.evictions_explicit++;
    }
    c->epoch++;
}

/* Empties the cache if the key set changed since the entries were verified. */
static void sync_generation(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks)
{
    uint64_t g = auth_jwt_keyset_generation(ks);
    if (c->generation != g) {
        if (c->n)
            auth_jwt_cache_clear(c);
        c->generation = g;
    }
}

/* The entry of <token,len> that passes <o>, moved to the front of the recency list; the
 * lookup contract of jwt_cache.h with the entry instead of a reference (*out NULL on a miss). */
static int find_entry(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks,
                      const struct auth_jwt_verify_opts *o, const char *token, size_t len,
                      struct entry **out, char *err, size_t errlen)
{
    unsigned char key[32];
    int rc;

    *out = NULL;
    if (!c || !ks || !o || !o->issuer || !token)
        return jwt_fail(err, errlen, AUTH_JWT_E_INVAL, "cache lookup misconfigured");
    size_t max = o->max_token_bytes ? o->max_token_bytes : AUTH_JWT_DEFAULT_MAX_TOKEN_BYTES;
    if (len > max)
        return jwt_fail(err, errlen, AUTH_JWT_E_TOO_LARGE, "token of %zu bytes is over %zu",
                        len, max);
    sync_generation(c, ks);
    if (c->n == 0) {
        c->st.misses++;
        return 0;
    }
    if ((rc = hash_token(c, token, len, key)) < 0)
        return jwt_fail(err, errlen, rc, "SHA-256 failed");
    struct entry *e = c->buckets[bucket_of(c, key)];
    while (e && memcmp(e->key, key, sizeof key) != 0)
        e = e->hnext;
    if (!e) {
        c->st.misses++;
        return 0;
    }
    rc = auth_jwt_claims_check(e->claims, o, err, errlen);
    if (rc == AUTH_JWT_E_EXPIRED) {
        entry_remove(c, e);
        c->st.evictions_expired++;
    }
    if (rc < 0)
        return rc;
    c->st.hits++;
    if (c->head != e) {
        list_unlink(c, e);
        list_push_front(c, e);
    }
    *out = e;
    return 0;
}

int auth_jwt_cache_lookup(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks,
                          const struct auth_jwt_verify_opts *o, const char *token, size_t len,
                          struct auth_jwt_claims **out, char *err, size_t errlen)
{
    struct entry *e;
    int rc = find_entry(c, ks, o, token, len, &e, err, errlen);
    *out = e ? auth_jwt_claims_ref(e->claims) : NULL;
    return rc;
}

int auth_jwt_cache_find(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks,
                        const struct auth_jwt_verify_opts *o, const char *token, size_t len,
                        struct auth_jwt_cache_hit *hit, char *err, size_t errlen)
{
    static const char hex[] = "0123456789abcdef";
    struct entry *e;
    int rc = find_entry(c, ks, o, token, len, &e, err, errlen);
    hit->claims = NULL;
    hit->aux = NULL;
    hit->fp[0] = '\0';
    if (!e)
        return rc;
    hit->claims = e->claims;
    hit->aux = c->aux_bytes ? e->aux : NULL;
    /* the key is SHA-256(token): its first bytes are the fingerprint (jwt_verify.h) */
    for (int i = 0; i < AUTH_JWT_FP_LEN / 2; i++) {
        hit->fp[2 * i] = hex[e->key[i] >> 4];
        hit->fp[2 * i + 1] = hex[e->key[i] & 15];
    }
    hit->fp[AUTH_JWT_FP_LEN] = '\0';
    return 0;
}

int auth_jwt_cache_insert(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks,
                          const char *token, size_t len, struct auth_jwt_claims *claims,
                          uint64_t epoch)
{
    unsigned char key[32];
    int rc;

    if (!c || !ks || !token || !claims)
        return AUTH_JWT_E_INVAL;
    sync_generation(c, ks);
    if (epoch != c->epoch)
        return 0;
    if ((rc = hash_token(c, token, len, key)) < 0)
        return rc;
    size_t b = bucket_of(c, key);
    for (struct entry *e = c->buckets[b]; e; e = e->hnext)
        if (memcmp(e->key, key, sizeof key) == 0)
            return 0;
    /* Make room: least recently used first. */
    while (c->n >= c->max && c->tail) {
        entry_remove(c, c->tail);
        c->st.evictions_lru++;
    }
    struct entry *e = calloc(1, sizeof *e + c->aux_bytes);
    if (!e)
        return AUTH_JWT_E_NOMEM;
    memcpy(e->key, key, sizeof key);
    e->claims = auth_jwt_claims_ref(claims);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    list_push_front(c, e);
    c->n++;
    c->st.inserts++;
    return 0;
}

int auth_jwt_cache_verify(struct auth_jwt_cache *c, const struct auth_jwt_keyset *ks,
                          const struct auth_jwt_verify_opts *o, const char *token, size_t len,
                          struct auth_jwt_claims **out, bool *hit, char *err, size_t errlen)
{
    if (hit)
        *hit = false;
    int rc = auth_jwt_cache_lookup(c, ks, o, token, len, out, err, errlen);
    if (rc < 0 || *out) {
        if (hit)
            *hit = rc == 0;
        return rc;
    }
    uint64_t epoch = c->epoch;
    if ((rc = auth_jwt_verify(ks, o, token, len, out, err, errlen)) < 0)
        return rc;
    rc = auth_jwt_cache_insert(c, ks, token, len, *out, epoch);
    if (rc < 0) {
        /* The token is valid; failing to remember it only costs speed. */
        rc = 0;
    }
    return rc;
}

uint64_t auth_jwt_cache_epoch(const struct auth_jwt_cache *c) { return c->epoch; }

static size_t evict_matching(struct auth_jwt_cache *c, const char *jti, const char *sub)
{
    size_t n = 0;
    for (struct entry *e = c->head, *nx; e; e = nx) {
        nx = e->next;
        if ((jti && strcmp(e->claims->jti, jti) == 0) ||
            (sub && strcmp(e->claims->sub, sub) == 0)) {
            entry_remove(c, e);
            n++;
        }
    }
    c->st.evictions_explicit += n;
    c->epoch++;
    return n;
}

size_t auth_jwt_cache_evict_jti(struct auth_jwt_cache *c, const char *jti)
{
    return jti ? evict_matching(c, jti, NULL) : 0;
}

size_t auth_jwt_cache_evict_subject(struct auth_jwt_cache *c, const char *sub)
{
    return sub ? evict_matching(c, NULL, sub) : 0;
}

void auth_jwt_cache_get_stats(const struct auth_jwt_cache *c, struct auth_jwt_cache_stats *s)
{
    *s = c->st;
    s->entries = c->n;
}
