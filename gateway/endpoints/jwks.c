/* gateway/endpoints/jwks.c — GET /.well-known/jwks.json (the public keys of the running
 * configuration's key set, signing key first) and GET /.well-known/openid-configuration (a
 * minimal discovery document: issuer, JWKS and OAuth endpoints, grant types, algorithms).
 *
 * Both are cacheable (Cache-Control: public, max-age=300) with a strong ETag over the body, so
 * verifiers re-fetch cheaply; during a key rotation the new key is published a full cache
 * period before it signs (docs/CONFIG.md, jwt). Registered by gateway/tokens.c.
 */
#include "gateway/endpoints/token_endpoints.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "auth/jwt_keys.h"
#include "gateway/http/request.h"

#define JWKS_MAX_AGE_S 300

/* Answers <body,len> with an ETag (first 128 bits of its SHA-256, hex) and cache headers, or
 * 304 when If-None-Match carries that ETag (or "*"). */
static void respond_cacheable(struct gw_req *r, const char *body, size_t len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char etag[40], extra[160];
    SHA256((const unsigned char *)body, len, md);
    etag[0] = '"';
    for (int i = 0; i < 16; i++)
        snprintf(etag + 1 + 2 * i, 3, "%02x", md[i]);
    etag[33] = '"';
    etag[34] = '\0';
    snprintf(extra, sizeof extra, "Cache-Control: public, max-age=%d\r\nETag: %s\r\n"
             "Access-Control-Allow-Origin: *\r\n", JWKS_MAX_AGE_S, etag);
    const char *inm = gw_req_header(r, "If-None-Match");
    if (inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
        gw_req_respond(r, 304, NULL, extra, NULL, 0);
        return;
    }
    gw_req_respond(r, 200, "application/json", extra, body, len);
}

static bool method_is_get(struct gw_req *r)
{
    const char *m = gw_req_method(r);
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
        return true;
    gw_req_respond(r, 405, "text/plain; charset=utf-8", "Allow: GET, HEAD\r\n",
                   "method not allowed\n", 19);
    return false;
}

void gw_endpoint_jwks(struct gw_req *r, void *ctx)
{
    const struct gw_config *cfg = r->wc->cfg;
    if (!method_is_get(r))
        return;
    if (!cfg->jwt.configured) {
        gw_req_respond_error(r, 404, "no signing keys are configured");
        return;
    }
    size_t len = 0;
    const char *jwks = auth_jwt_keyset_jwks(cfg->jwt.keyset, &len);
    respond_cacheable(r, jwks, len);
}

/* "<issuer without trailing '/'><path>" as a new JSON string. */
static json_t *url_of(const char *issuer, const char *path)
{
    size_t n = strlen(issuer);
    while (n && issuer[n - 1] == '/')
        n--;
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s%s", (int)n, issuer, path);
    return json_string(buf);
}

void gw_endpoint_openid_configuration(struct gw_req *r, void *ctx)
{
    const struct gw_config *cfg = r->wc->cfg;
    if (!method_is_get(r))
        return;
    if (!cfg->jwt.configured) {
        gw_req_respond_error(r, 404, "no signing keys are configured");
        return;
    }
    const char *iss = cfg->jwt.issuer;
    const struct auth_jwt_key *sk = auth_jwt_keyset_signing_key(cfg->jwt.keyset);
    const char *alg = auth_jwt_alg_name(auth_jwt_key_alg(sk));
    json_t *doc = json_pack("{s:s,s:o,s:[s],s:[s],s:[s]}", "issuer", iss,
                            "jwks_uri", url_of(iss, "/.well-known/jwks.json"),
                            "id_token_signing_alg_values_supported", alg,
                            "subject_types_supported", "public",
                            "claims_supported", "sub");
    if (doc && cfg->oauth.configured) {
        json_t *scopes = json_array();
        for (size_t i = 0; scopes && i < pol_policy_scope_count(cfg->policy); i++)
            json_array_append_new(scopes, json_string(pol_policy_scope_name(cfg->policy,
                                                                             (int)i)));
        json_t *auth = json_pack("[s,s]", "client_secret_basic", "client_secret_post");
        json_object_set_new(doc, "token_endpoint", url_of(iss, "/oauth/token"));
        json_object_set_new(doc, "introspection_endpoint", url_of(iss, "/oauth/introspect"));
        json_object_set_new(doc, "revocation_endpoint", url_of(iss, "/oauth/revoke"));
        json_object_set_new(doc, "grant_types_supported", json_pack("[s]", "client_credentials"));
        json_object_set_new(doc, "token_endpoint_auth_methods_supported", json_deep_copy(auth));
        json_object_set_new(doc, "introspection_endpoint_auth_methods_supported",
                            json_deep_copy(auth));
        json_object_set_new(doc, "revocation_endpoint_auth_methods_supported", auth);
        json_object_set_new(doc, "access_token_signing_alg_values_supported",
                            json_pack("[s]", alg));
        if (scopes)
            json_object_set_new(doc, "scopes_supported", scopes);
    }
    char *body = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!body) {
        gw_req_respond_error(r, 500, "out of memory");
        return;
    }
    respond_cacheable(r, body, strlen(body));
    free(body);
}
