/* gateway/endpoints/origin.c — the same-origin check; see origin.h. */
#include "gateway/endpoints/origin.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int gw_origin_check(struct gw_req *r, char *why, size_t len)
{
    const char *sfs = gw_req_header(r, "sec-fetch-site");
    if (sfs && strcasecmp(sfs, "same-origin") != 0 && strcasecmp(sfs, "none") != 0) {
        snprintf(why, len, "cross-site request refused (Sec-Fetch-Site is not same-origin)");
        return -1;
    }
    const char *origin = gw_req_header(r, "origin");
    if (!origin)
        return 0;
    char host[300], self[320];
    gw_req_host(r, host, sizeof host);
    snprintf(self, sizeof self, "%s://%s", gw_req_is_tls(r) ? "https" : "http", host);
    if (!host[0] || strcasecmp(origin, self) != 0) {
        snprintf(why, len, "cross-origin request refused (Origin does not match %.200s)", self);
        return -1;
    }
    return 0;
}
