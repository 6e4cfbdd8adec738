/* gateway/config_log.c — the log section of the configuration: level, error_log and
 * access_log destinations (config.h: gw_log_conf).
 */
#include "gateway/config_internal.h"

#include <stdlib.h>
#include <string.h>

static int field_log_level(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    struct gw_log_conf *log = base;
    const char *s;
    char b[64];
    if (conf_get_string(L, v, key, &s) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcmp(s, names[i])) {
            log->level = (enum gw_log_level)i;
            return 0;
        }
    }
    return conf_fail(L, conf_pos(v), "unknown log level '%s' (expected error, warn, info, debug)",
                     conf_shown(s, strlen(s), b));
}

/* A log destination: a path (non-empty, no controls) or one of the words handled by callers.
 * YAML 1.1 booleans are refused so that "access_log: false" is not a file named "false". */
static int log_path(struct conf_loader *L, const char *key, struct conf_node *v, const char *s,
                    char **out)
{
    static const char *const words[] = { "true", "false", "yes", "no", "on", "True", "False",
                                         "Yes", "No", "On", "Off", "TRUE", "FALSE" };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (conf_is_plain(v) && !strcmp(s, words[i]))
            return conf_fail(L, conf_pos(v), "expected %s for %s, got '%s'",
                             !strcmp(key, "access_log") ? "stdout, stderr, off or a file path"
                                                        : "stderr, stdout or a file path",
                             key, s);
    if (conf_check_chars(L, key, v, s, false, true) < 0)
        return -1;
    *out = strdup(s);
    return *out ? 0 : conf_fail(L, conf_pos(v), "out of memory");
}

static int field_error_log(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    struct gw_log_conf *log = base;
    const char *s;
    if (conf_get_string(L, v, key, &s) < 0)
        return -1;
    if (!strcmp(s, "stderr"))
        return 0;
    if (!strcmp(s, "off"))
        return conf_fail(L, conf_pos(v), "error_log cannot be turned off (use stderr or a path)");
    return log_path(L, key, v, !strcmp(s, "stdout") ? "/dev/stdout" : s, &log->error_log);
}

static int field_access_log(struct conf_loader *L, const char *key, struct conf_node *v, void *base)
{
    struct gw_log_conf *log = base;
    const char *s;
    if (conf_get_string(L, v, key, &s) < 0)
        return -1;
    if (!strcmp(s, "off")) {
        log->access_log_enabled = false;
        return 0;
    }
    log->access_log_enabled = true;
    if (!strcmp(s, "stdout"))
        return 0;
    return log_path(L, key, v, !strcmp(s, "stderr") ? "/dev/stderr" : s, &log->access_log);
}

static const struct conf_field log_fields[] = {
    { .key = "level", .type = CONF_CUSTOM, .fn = field_log_level },
    { .key = "error_log", .type = CONF_CUSTOM, .fn = field_error_log },
    { .key = "access_log", .type = CONF_CUSTOM, .fn = field_access_log },
};
const struct conf_section conf_log_section = { "in log", log_fields, 3, NULL };
