/* gateway/config_tokens.c — the token sections of the configuration: jwt (signing and
 * published keys, token bounds) and oauth (the API-account token endpoint), and their
 * cross-references with routes.
 */
#include "gateway/config_internal.h"

#include <stdlib.h>
#include <string.h>

#include "auth/jwt_keys.h"

/* -- jwt (keys and token bounds) and oauth (the API-account endpoints), issue 5 -- */

/* Loads the key file named by scalar <v> into the set being built (<ks>), signing or
 * published; the message of a failure names the resolved path at <v>'s position. Keeps the
 * resolved path in <*stored>. Returns 0 or -1. */
static int load_jwt_key(struct conf_loader *L, const char *key, struct conf_node *v,
                        struct auth_jwt_keyset *ks, bool signing, char **stored)
{
    const char *s;
    char kerr[GW_CONFIG_ERR_MAX];
    struct auth_jwt_key *k = NULL;
    if (conf_get_string(L, v, key, &s) < 0 || conf_check_chars(L, key, v, s, false, true) < 0)
        return -1;
    char *path = conf_path_near_config(L, s);
    if (!path)
        return conf_fail(L, conf_pos(v), "out of memory");
    free(*stored);
    *stored = path;
    kerr[0] = '\0';
    if (auth_jwt_key_load_file(path, signing, &k, kerr, sizeof kerr) != 0)
        return conf_fail(L, conf_pos(v), "%s: %s", key, kerr);
    if (auth_jwt_keyset_add(ks, k, signing, kerr, sizeof kerr) != 0)
        return conf_fail(L, conf_pos(v), "%s '%s': %s", key, path, kerr);
    return 0;
}

static int field_jwt_signing_key(struct conf_loader *L, const char *key, struct conf_node *v,
                                 void *base)
{
    struct gw_jwt_conf *j = base;
    return load_jwt_key(L, key, v, j->keyset, true, &j->signing_key);
}

static int field_jwt_published_keys(struct conf_loader *L, const char *key, struct conf_node *v,
                                    void *base)
{
    struct gw_jwt_conf *j = base;
    if (conf_want(L, v, CONF_LIST, "a list", key) < 0)
        return -1;
    size_t n = conf_list_len(v);
    if (n == 0)
        return 0;
    j->published_keys = calloc(n, sizeof(char *));
    if (!j->published_keys)
        return conf_fail(L, conf_pos(v), "out of memory");
    for (size_t i = 0; i < n; i++) {
        j->npublished_keys = i + 1;
        if (load_jwt_key(L, "published key", conf_list_item(L, v, i),
                         j->keyset, false, &j->published_keys[i]) < 0)
            return -1;
    }
    return 0;
}
static int finish_jwt(struct conf_loader *L, struct conf_node *map, void *base)
{
    struct gw_jwt_conf *j = base;
    char kerr[GW_CONFIG_ERR_MAX];
    if (j->token_lifetime_ms % 1000)
        return conf_fail(L, conf_pos_of_key(L, map, "token_lifetime_ms"),
                         "token_lifetime_ms must be whole seconds (a multiple of 1000)");
    if (j->renew_before_ms >= j->token_lifetime_ms)
        return conf_fail(L, conf_pos_of_key(L, map, "renew_before_ms"),
                         "renew_before_ms (%u) must be less than token_lifetime_ms (%u)",
                         j->renew_before_ms, j->token_lifetime_ms);
    kerr[0] = '\0';
    if (auth_jwt_keyset_seal(j->keyset, kerr, sizeof kerr) != 0)
        return conf_fail(L, conf_pos(map), "jwt keys: %s", kerr);
    j->configured = true;
    return 0;
}

static const struct conf_field jwt_fields[] = {
    { .key = "issuer", .type = CONF_STR, .offset = offsetof(struct gw_jwt_conf, issuer),
      .required = true, .check = conf_check_jwt_string },
    { .key = "signing_key", .type = CONF_CUSTOM, .required = true, .fn = field_jwt_signing_key },
    { .key = "published_keys", .type = CONF_CUSTOM, .fn = field_jwt_published_keys },
    { .key = "token_lifetime_ms", .type = CONF_U32,
      .offset = offsetof(struct gw_jwt_conf, token_lifetime_ms), .min = 10000,
      .max = 86400000 },
    { .key = "renew_before_ms", .type = CONF_U32,
      .offset = offsetof(struct gw_jwt_conf, renew_before_ms), .min = 0, .max = 86400000 },
    { .key = "leeway_ms", .type = CONF_U32, .offset = offsetof(struct gw_jwt_conf, leeway_ms),
      .min = 0, .max = 300000 },
    { .key = "max_token_bytes", .type = CONF_U32,
      .offset = offsetof(struct gw_jwt_conf, max_token_bytes), .min = 256, .max = 65536 },
    { .key = "cache_entries", .type = CONF_U32,
      .offset = offsetof(struct gw_jwt_conf, cache_entries), .min = 1, .max = 10000000 },
    { .key = "bad_token_burst", .type = CONF_U32,
      .offset = offsetof(struct gw_jwt_conf, bad_token_burst), .min = 1, .max = 1000000 },
    { .key = "bad_token_per_s", .type = CONF_U32,
      .offset = offsetof(struct gw_jwt_conf, bad_token_per_s), .min = 1, .max = 1000000 },
    { .key = "max_signature_checks_per_s", .type = CONF_U32,
      .offset = offsetof(struct gw_jwt_conf, max_signature_checks_per_s), .min = 0,
      .max = 1000000 },
};
static const struct conf_section jwt_section = {
    "in jwt", jwt_fields, sizeof(jwt_fields) / sizeof(jwt_fields[0]), finish_jwt
};

/* See config_internal.h: the jwt section, with a new key set that gw_config_free releases. */
int conf_field_jwt(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    struct gw_config *cfg = base;
    cfg->jwt.keyset = auth_jwt_keyset_new();
    if (!cfg->jwt.keyset)
        return conf_fail(L, conf_pos(v), "out of memory");
    return conf_parse_section(L, &jwt_section, v, &cfg->jwt, key);
}

/* -- oauth (the API-account endpoints, issue 5): figures as sessions.throttle -- */

/* oauth.throttle: the same rules as sessions.throttle (config_auth.c), client and address. */
static int field_oauth_throttle(struct conf_loader *L, const char *key, struct conf_node *v,
                                void *base)
{
    return conf_parse_section(L, &conf_oauth_throttle_section, v, base, key);
}

static const struct conf_field oauth_fields[] = {
    { .key = "token_lifetime_ms", .type = CONF_U32,
      .offset = offsetof(struct gw_oauth_conf, token_lifetime_ms), .min = 10000,
      .max = 86400000 },
    { .key = "audience", .type = CONF_STR, .offset = offsetof(struct gw_oauth_conf, audience),
      .check = conf_check_jwt_string },
    { .key = "max_body_bytes", .type = CONF_U32,
      .offset = offsetof(struct gw_oauth_conf, max_body_bytes), .min = 256, .max = 1048576 },
    { .key = "throttle", .type = CONF_CUSTOM, .fn = field_oauth_throttle },
};

static int finish_oauth(struct conf_loader *L, struct conf_node *map, void *base)
{
    struct gw_oauth_conf *o = base;
    if (o->token_lifetime_ms % 1000)
        return conf_fail(L, conf_pos_of_key(L, map, "token_lifetime_ms"),
                         "token_lifetime_ms must be whole seconds (a multiple of 1000)");
    o->configured = true;
    return 0;
}

const struct conf_section conf_oauth_section = {
    "in oauth", oauth_fields, sizeof(oauth_fields) / sizeof(oauth_fields[0]), finish_oauth
};

/* -- once every key is read (called by finish_top in config.c) -- */

/* Cross-references of the JWT settings: oauth: and per-route audiences need jwt:; the oauth
 * token lifetime defaults to jwt's. Returns 0 or -1. */
int conf_tokens_finish(struct conf_loader *L, struct conf_node *map, struct gw_config *cfg)
{
    if (cfg->oauth.configured && !cfg->jwt.configured)
        return conf_fail(L, conf_pos_of_key(L, map, "oauth"), "oauth needs a jwt section "
                         "(issuer and signing key)");
    if (!cfg->oauth.token_lifetime_ms)
        cfg->oauth.token_lifetime_ms = cfg->jwt.token_lifetime_ms;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        struct gw_route_conf *r = &cfg->routes[i];
        if ((r->audience || r->jwt_header || r->jwt_claim_name || r->jwt_claim_email) &&
            !cfg->jwt.configured)
            return conf_fail(L, r->pos, "route %s forwards a JWT (audience, jwt_header, "
                             "jwt_claims) but there is no jwt section", r->path_prefix);
        if ((r->jwt_header || r->jwt_claim_name || r->jwt_claim_email) && !r->audience)
            return conf_fail(L, r->pos, "route %s: jwt_header and jwt_claims need an audience",
                             r->path_prefix);
        if (!r->jwt_header && !(r->jwt_header = strdup("Authorization")))
            return conf_fail(L, r->pos, "out of memory");
    }
    return 0;
}
