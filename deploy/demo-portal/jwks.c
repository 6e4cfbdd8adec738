/* jwks.c — the demo portal's copy of the issuer's public keys (RFC 7517 JWKS), as an
 * independent portal would keep it: a background thread fetches --jwks-url over plain HTTP at
 * start (retrying until onegate answers), every 300 s, and when a token names an unknown kid
 * (rate-limited). Keys become OpenSSL EVP_PKEYs once per fetch; the worker threads share the
 * current set by reference count. Nothing here uses onegate's own libraries. */
#include "portal.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#define JWKS_MAX_BYTES (1024 * 1024)
#define JWKS_PERIOD_S 300
#define JWKS_TIMEOUT_S 3
#define JWKS_RETRY_MAX_MS 2000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static int started, stopping, refresh_wanted;
static struct dp_keyset *current;   /* under lock */
static uint64_t attempts;           /* under lock */
static int64_t last_attempt_ms;     /* under lock */
static const struct dp_config *config;
static char host[256], port[8], path[1024];

int64_t dp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- key sets ------------------------------------------------------------------------ */

static void keyset_free(struct dp_keyset *ks)
{
    if (!ks)
        return;
    for (size_t i = 0; i < ks->nkeys; i++)
        EVP_PKEY_free(ks->keys[i].pkey);
    free(ks->keys);
    free(ks);
}

struct dp_keyset *dp_jwks_get(void)
{
    pthread_mutex_lock(&lock);
    struct dp_keyset *ks = current;
    if (ks)
        ks->refs++;
    pthread_mutex_unlock(&lock);
    return ks;
}

void dp_keyset_unref(struct dp_keyset *ks)
{
    if (!ks)
        return;
    pthread_mutex_lock(&lock);
    int last = --ks->refs == 0;
    pthread_mutex_unlock(&lock);
    if (last)
        keyset_free(ks);
}

const struct dp_key *dp_keyset_find(const struct dp_keyset *ks, const char *kid)
{
    for (size_t i = 0; i < ks->nkeys; i++)
        if (strcmp(ks->keys[i].kid, kid) == 0)
            return &ks->keys[i];
    return NULL;
}

int dp_jwks_refresh(void)
{
    int ok = 0;
    pthread_mutex_lock(&lock);
    if (started && (refresh_wanted ||
                    dp_now_ms() - last_attempt_ms >= (int64_t)config->jwks_min_refresh_s * 1000)) {
        refresh_wanted = 1;
        pthread_cond_signal(&wake);
        ok = 1;
    }
    pthread_mutex_unlock(&lock);
    return ok;
}

uint64_t dp_jwks_attempts(void)
{
    pthread_mutex_lock(&lock);
    uint64_t n = attempts;
    pthread_mutex_unlock(&lock);
    return n;
}

/* ---- JWK -> EVP_PKEY ----------------------------------------------------------------- */

static signed char b64url_map[256];
static pthread_once_t b64url_once = PTHREAD_ONCE_INIT;

static void b64url_init(void)
{
    memset(b64url_map, -1, sizeof b64url_map);
    const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 64; i++)
        b64url_map[(unsigned char)abc[i]] = (signed char)i;
}

long dp_b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    pthread_once(&b64url_once, b64url_init);
    if (n % 4 == 1)
        return -1;
    size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (len > cap)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_map[(unsigned char)s[i]];
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits && (acc & ((1u << bits) - 1)))
        return -1;                  /* non-canonical trailing bits */
    return (long)o;
}

/* Decodes the base64url member <name> of <jwk> into a new buffer. NULL when absent/bad. */
static unsigned char *member_bytes(json_t *jwk, const char *name, size_t *len)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    if (!s)
        return NULL;
    size_t n = strlen(s);
    unsigned char *buf = malloc(n + 1);
    long l = buf ? dp_b64url_decode(s, n, buf, n + 1) : -1;
    if (l <= 0) {
        free(buf);
        return NULL;
    }
    *len = (size_t)l;
    return buf;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/* EC P-256 public key from "x"/"y" (32 bytes each); OpenSSL checks the point is on the curve. */
static EVP_PKEY *ec_key(json_t *jwk)
{
    size_t xl = 0, yl = 0;
    unsigned char *x = member_bytes(jwk, "x", &xl), *y = member_bytes(jwk, "y", &yl);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (x && y && bld && xl == 32 && yl == 32 && crv && !strcmp(crv, "P-256")) {
        unsigned char point[65];
        point[0] = 0x04;            /* uncompressed */
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
            pkey = pkey_fromdata("EC", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return pkey;
}

/* RSA public key from "n"/"e"; at least 2048 bits. */
static EVP_PKEY *rsa_key(json_t *jwk)
{
    size_t nl = 0, el = 0;
    unsigned char *n = member_bytes(jwk, "n", &nl), *e = member_bytes(jwk, "e", &el);
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (n && e && bld && el <= 8) {
        bn = BN_bin2bn(n, (int)nl, NULL);
        be = BN_bin2bn(e, (int)el, NULL);
        if (bn && be && BN_num_bits(bn) >= 2048 &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
            pkey = pkey_fromdata("RSA", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pkey;
}

/* Parses a JWKS document into a new key set. Keys this portal cannot use (other types,
 * curves, "use" other than "sig", an "alg" that does not fit the key) are skipped; a
 * document that is not a JWKS is an error. Returns NULL with <why>. */
static struct dp_keyset *keyset_parse(const char *body, size_t len, char *why, size_t wlen)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *keys = json_object_get(doc, "keys");
    struct dp_keyset *ks = NULL;
    if (!json_is_array(keys)) {
        snprintf(why, wlen, "not a JWKS document");
        goto out;
    }
    ks = calloc(1, sizeof *ks);
    if (!ks || !(ks->keys = calloc(json_array_size(keys) + 1, sizeof *ks->keys))) {
        snprintf(why, wlen, "out of memory");
        keyset_free(ks);
        ks = NULL;
        goto out;
    }
    size_t i;
    json_t *jwk;
    json_array_foreach(keys, i, jwk) {
        const char *kty = json_string_value(json_object_get(jwk, "kty"));
        const char *kid = json_string_value(json_object_get(jwk, "kid"));
        const char *alg = json_string_value(json_object_get(jwk, "alg"));
        const char *use = json_string_value(json_object_get(jwk, "use"));
        if (!kty || !kid || !*kid || strlen(kid) >= sizeof ks->keys[0].kid ||
            (use && strcmp(use, "sig") != 0))
            continue;
        const char *key_alg = !strcmp(kty, "EC") ? "ES256" : !strcmp(kty, "RSA") ? "RS256" : NULL;
        if (!key_alg || (alg && strcmp(alg, key_alg) != 0) || dp_keyset_find(ks, kid))
            continue;
        EVP_PKEY *pkey = !strcmp(key_alg, "ES256") ? ec_key(jwk) : rsa_key(jwk);
        if (!pkey)
            continue;
        struct dp_key *k = &ks->keys[ks->nkeys++];
        snprintf(k->kid, sizeof k->kid, "%s", kid);
        snprintf(k->alg, sizeof k->alg, "%s", key_alg);
        k->pkey = pkey;
    }
out:
    json_decref(doc);
    return ks;
}

/* ---- fetching ------------------------------------------------------------------------ */

struct fetch {
    char *body;
    size_t len;
    int done, too_big;
};

static int on_fetch_body(http_parser *p, const char *at, size_t n)
{
    struct fetch *f = p->data;
    if (f->len + n > JWKS_MAX_BYTES) {
        f->too_big = 1;
        return -1;
    }
    char *b = realloc(f->body, f->len + n + 1);
    if (!b)
        return -1;
    memcpy(b + f->len, at, n);
    f->body = b;
    f->len += n;
    return 0;
}

static int on_fetch_complete(http_parser *p)
{
    ((struct fetch *)p->data)->done = 1;
    return 0;
}

/* One GET of the JWKS URL (blocking, bounded by JWKS_TIMEOUT_S per connect/read). Returns a
 * new key set, or NULL with <why>. */
static struct dp_keyset *fetch_once(char *why, size_t wlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    struct fetch f = {0};
    struct dp_keyset *ks = NULL;
    int fd = -1, rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(why, wlen, "%s: %s", host, gai_strerror(rc));
        return NULL;
    }
    struct timeval tv = {JWKS_TIMEOUT_S, 0};
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* also bounds connect */
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(why, wlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
        return NULL;
    }
    char req[1400];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nAccept: "
                     "application/json\r\nUser-Agent: demo-portal\r\nConnection: close\r\n\r\n",
                     path, host, port);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        snprintf(why, wlen, "cannot send the request: %s", strerror(errno));
        goto out;
    }
    http_parser parser;
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = &f;
    http_parser_settings s = {.on_body = on_fetch_body, .on_message_complete = on_fetch_complete};
    char buf[16384];
    for (;;) {
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(why, wlen, "reading the answer: %s", strerror(errno));
            goto out;
        }
        size_t used = http_parser_execute(&parser, &s, buf, (size_t)got);
        if (f.done)
            break;
        if (HTTP_PARSER_ERRNO(&parser) != HPE_OK || used != (size_t)got || got == 0) {
            snprintf(why, wlen, f.too_big ? "the JWKS is over 1 MiB" : "malformed or truncated "
                     "HTTP answer");
            goto out;
        }
    }
    if (parser.status_code != 200) {
        snprintf(why, wlen, "HTTP status %u", parser.status_code);
        goto out;
    }
    ks = keyset_parse(f.body ? f.body : "", f.len, why, wlen);
out:
    close(fd);
    free(f.body);
    return ks;
}

static void *fetcher(void *arg)
{
    int retry_ms = 100;
    unsigned failures = 0;          /* in a row: logged on the first and every 30th */
    pthread_mutex_lock(&lock);
    while (!stopping) {
        last_attempt_ms = dp_now_ms();
        refresh_wanted = 0;
        pthread_mutex_unlock(&lock);

        char why[300];
        struct dp_keyset *ks = fetch_once(why, sizeof why);

        pthread_mutex_lock(&lock);
        attempts++;
        struct dp_keyset *old = NULL;
        if (ks) {
            ks->refs = 1;
            ks->generation = current ? current->generation + 1 : 1;
            old = current;
            current = ks;
            retry_ms = 100;
            failures = 0;
            if (!config->quiet)
                fprintf(stderr, "demo-portal: JWKS fetched from %s (%zu usable keys)\n",
                        config->jwks_url, ks->nkeys);
        } else if (failures++ % 30 == 0) {
            fprintf(stderr, "demo-portal: JWKS fetch from %s failed: %s%s\n", config->jwks_url,
                    why, current ? " (keeping the keys we have)" : " (retrying)");
        }
        if (old && --old->refs == 0) {
            pthread_mutex_unlock(&lock);
            keyset_free(old);
            pthread_mutex_lock(&lock);
        }
        /* No keys yet: retry with backoff. Else wait for a refresh request or the period. */
        int64_t wait_ms = current ? JWKS_PERIOD_S * 1000 : retry_ms;
        if (!current && retry_ms < JWKS_RETRY_MAX_MS)
            retry_ms *= 2;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!stopping && !refresh_wanted &&
               pthread_cond_timedwait(&wake, &lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Splits http://HOST[:PORT]/PATH. Returns 0 or -1. */
static int parse_url(const char *url)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(url, strlen(url), 0, &u) != 0 || !(u.field_set & (1 << UF_HOST)) ||
        !(u.field_set & (1 << UF_SCHEMA)) || u.field_data[UF_SCHEMA].len != 4 ||
        strncmp(url + u.field_data[UF_SCHEMA].off, "http", 4) != 0 ||
        u.field_data[UF_HOST].len >= sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)u.field_data[UF_HOST].len,
             url + u.field_data[UF_HOST].off);
    snprintf(port, sizeof port, "%u", u.port ? u.port : 80);
    if (u.field_set & (1 << UF_PATH))
        snprintf(path, sizeof path, "%.*s%s%.*s", (int)u.field_data[UF_PATH].len,
                 url + u.field_data[UF_PATH].off, (u.field_set & (1 << UF_QUERY)) ? "?" : "",
                 (int)u.field_data[UF_QUERY].len, url + u.field_data[UF_QUERY].off);
    else
        snprintf(path, sizeof path, "/");
    return 0;
}

int dp_jwks_start(const struct dp_config *cfg)
{
    if (parse_url(cfg->jwks_url) != 0) {
        fprintf(stderr, "demo-portal: --jwks-url must be http://HOST[:PORT]/PATH (got '%s')\n",
                cfg->jwks_url);
        return -1;
    }
    config = cfg;
    if (pthread_create(&thread, NULL, fetcher, NULL) != 0) {
        fprintf(stderr, "demo-portal: cannot start the JWKS fetcher\n");
        return -1;
    }
    pthread_mutex_lock(&lock);
    started = 1;
    pthread_mutex_unlock(&lock);
    return 0;
}

void dp_jwks_stop(void)
{
    pthread_mutex_lock(&lock);
    int was = started;
    stopping = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    if (was)
        pthread_join(thread, NULL);
    pthread_mutex_lock(&lock);
    struct dp_keyset *ks = current;
    current = NULL;
    started = 0;
    pthread_mutex_unlock(&lock);
    dp_keyset_unref(ks);
}
