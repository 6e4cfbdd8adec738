/* auth/admin_ops.h — the admin API's operations as JSON in, JSON out, HTTP status back; no
 * HTTP parsing here. The gateway's admin endpoint (gateway/endpoints/admin_api.c, later) is a
 * small adapter: authenticate (application_manager / bootstrap token), check same-origin and
 * Content-Type, parse the body with jansson (unparsable -> 400 itself), then call
 * auth_admin_dispatch on a work-pool thread (it blocks on Redis and may hash a password) and
 * send the result. Described in docs/openapi-admin.yaml.
 *
 * Errors are {"error": <machine name>, "detail": <sentence>} with 400 (body not an object,
 * bad query), 404 (no such route or record), 405 (method), 409 (conflict/version/state),
 * 422 (a value failed validation, unknown field, refused by the model), 503 (Redis). A
 * rejected call writes nothing. */
#ifndef ONEGATE_AUTH_ADMIN_OPS_H
#define ONEGATE_AUTH_ADMIN_OPS_H

#include <jansson.h>

#include "auth/directory.h"

/* <method> "GET", "POST", "PATCH", "DELETE"; <path> relative to the admin prefix without a
 * leading slash ("persons", "persons/<id>/archive", "api-accounts/<id>/rotate"); <query> the
 * raw query string without '?' or NULL; <body> the parsed request body or NULL. Returns the
 * HTTP status and a new JSON value in *out (never NULL on return). */
int auth_admin_dispatch(struct auth_dir *d, const char *method, const char *path,
                        const char *query, const json_t *body, json_t **out);

/* {"error": name, "detail": detail}: new reference. */
json_t *auth_admin_error(const char *name, const char *detail);

#endif
