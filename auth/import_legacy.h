/* auth/import_legacy.h — migration from legacy cards (a JSON export of person cards, operator
 * cards, API accounts and system accounts) into the One User directory.
 *
 * Two steps: auth_import_plan() is pure (no Redis): it links operators to persons, generates
 * person cards for unlinked operators (flags off), and lists every conflict without guessing.
 * auth_import_apply() compares the plan with the directory and creates or grants only what is
 * missing, so a second run changes nothing and an interrupted run can simply be re-run.
 * Ids are derived from legacy ids (name-based UUIDs), which is what makes re-runs idempotent.
 * Export format: docs/DATA-MODEL.md ("Legacy import"). */
#ifndef ONEGATE_AUTH_IMPORT_LEGACY_H
#define ONEGATE_AUTH_IMPORT_LEGACY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "auth/directory.h"

struct auth_import_person {
    char id[AUTH_UUID_LEN + 1];
    char *login, *email, *name;
    bool ssp_access, is_caller, archived;
    char **roles;
    size_t nroles;
    bool generated;             /* made for an unlinked operator */
    char *sources;              /* "person P-1 + operator O-7" */
};

struct auth_import_account {
    char *id;                   /* client id / system account name */
    char *note;
    char **scopes;
    size_t nscopes;
    char *source;
};

struct auth_import_plan {
    struct auth_import_person *persons;
    size_t npersons;
    struct auth_import_account *api;
    size_t napi;
    struct auth_import_account *sys;
    size_t nsys;
    char **conflicts;           /* "<kind>: <detail>", one per case */
    size_t nconflicts;
    char **notes;               /* informational lines (e.g. a login not carried over) */
    size_t nnotes;
    size_t in_persons, in_operators, in_api, in_sys;
};

/* Builds the plan from a parsed export. <match_email>: link an unlinked operator to an
 * unlinked person with the same (folded) email; without it such cases are conflicts.
 * Returns 0 and a new plan (free with auth_import_plan_free), or AUTH_DIR_EINVAL when the
 * document is not an export (<err> says where). */
int auth_import_plan(const json_t *export_doc, bool match_email, struct auth_import_plan **out,
                     char *err, size_t errlen);
void auth_import_plan_free(struct auth_import_plan *p);

struct auth_import_stats {
    size_t created_persons, generated_persons, granted_roles, unchanged_persons;
    size_t created_api, created_sys, unchanged_accounts;
    size_t conflicts;           /* plan conflicts + conflicts with the live directory */
};

/* One output line (no trailing newline). */
typedef void auth_import_line_fn(void *arg, const char *line);

/* Applies (or with <dry_run> only describes) the plan. Every change and conflict is one line
 * through <fn>. Returns 0 or the first storage error (AUTH_DIR_EREDIS...); conflicts are not
 * errors (they are counted). */
int auth_import_apply(struct auth_dir *d, const struct auth_import_plan *plan, bool dry_run,
                      auth_import_line_fn *fn, void *arg, struct auth_import_stats *st,
                      char *err, size_t errlen);

#endif
