/* gateway/config_addr.c — addresses and networks as written in the configuration.
 *
 * gw_addr_parse turns "a.b.c.d:port" / "[v6]:port" into a sockaddr for listeners, upstream
 * servers and Redis (never DNS: a config that needs a resolver at load time can hang or change
 * meaning). gw_cidr_* decide whether a client is a trusted proxy, once per request.
 */
#include "gateway/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Parses a decimal port 1..65535 from the whole of <s>. Returns the port or -1. */
static int parse_port(const char *s)
{
    long v = 0;
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || p - s >= 5)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v >= 1 && v <= 65535 ? (int)v : -1;
}

/* See config.h. Accepts exactly "a.b.c.d:port" or "[v6]:port" (no zone id, no host names,
 * port 1..65535); <out>->text keeps the input. Returns 0, or -1 leaving <out> zeroed. */
int gw_addr_parse(const char *text, struct gw_addr *out)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port;
    size_t tlen = text ? strlen(text) : 0;

    memset(out, 0, sizeof(*out));
    if (tlen == 0 || tlen >= sizeof(out->text))
        return -1;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host))
            return -1;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port = close + 2;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
        int p = parse_port(port);
        if (p < 0 || inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            goto bad;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)p);
        out->len = sizeof(*sin6);
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof(host))
            return -1;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port = colon + 1;
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
        int p = parse_port(port);
        if (p < 0 || inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            goto bad;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)p);
        out->len = sizeof(*sin);
    }
    memcpy(out->text, text, tlen + 1);
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return -1;
}

/* Parses a prefix length 0..<max> from the whole of <s>. Returns it or -1. */
static int parse_prefix_len(const char *s, int max)
{
    int v = 0;
    if (!*s || strlen(s) > 3)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v <= max ? v : -1;
}

/* See config.h. A network whose address has bits set beyond the prefix ("10.0.0.1/8") is
 * refused: it is most likely a typo, and silently widening it would trust more hosts than
 * the author meant. Returns 0, or -1 leaving <out> zeroed. */
int gw_cidr_parse(const char *text, struct gw_cidr *out)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = text ? strchr(text, '/') : NULL;
    size_t alen = slash ? (size_t)(slash - text) : (text ? strlen(text) : 0);

    memset(out, 0, sizeof(*out));
    if (alen == 0 || alen >= sizeof(addr))
        return -1;
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, out->addr) == 1) {
        out->family = AF_INET;
    } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
        out->family = AF_INET6;
    } else {
        goto bad;
    }
    int max = out->family == AF_INET ? 32 : 128;
    int plen = slash ? parse_prefix_len(slash + 1, max) : max;
    if (plen < 0)
        goto bad;
    out->prefix_len = (uint8_t)plen;
    for (int bit = plen; bit < max; bit++)
        if (out->addr[bit / 8] & (0x80u >> (bit % 8)))
            goto bad;
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return -1;
}

/* True when the first <plen> bits of <a> and <b> agree. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned plen)
{
    unsigned bytes = plen / 8, rest = plen % 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* See config.h. An IPv4 client and its IPv4-mapped IPv6 form (::ffff:a.b.c.d, as a dual-stack
 * listener reports it) are the same client: both match "a.b.c.d/n" and "::ffff:a.b.c.d/96+n". */
bool gw_cidr_match_any(const struct gw_cidr *cidrs, size_t n, const struct sockaddr *sa)
{
    uint8_t v4[4], v6[16];
    bool have_v4 = false, have_v6 = false;

    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        memcpy(v4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        memcpy(v6, v4mapped_prefix, 12);
        memcpy(v6 + 12, v4, 4);
        have_v4 = have_v6 = true;
    } else if (sa->sa_family == AF_INET6) {
        memcpy(v6, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        have_v6 = true;
        if (memcmp(v6, v4mapped_prefix, 12) == 0) {
            memcpy(v4, v6 + 12, 4);
            have_v4 = true;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct gw_cidr *c = &cidrs[i];
        if (c->family == AF_INET && have_v4 && prefix_equal(c->addr, v4, c->prefix_len))
            return true;
        if (c->family == AF_INET6 && have_v6 && prefix_equal(c->addr, v6, c->prefix_len))
            return true;
    }
    return false;
}
