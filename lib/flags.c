/* SPDX-License-Identifier: Apache-2.0 */
/* Table-driven flag parsing over getopt_long, with environment and config-file layers. */
#include "lib/flags.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>

#include "lib/fs.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/yaml.h"

/* Strings this module allocated into flag targets, freed by ek_flags_free. */
static ek_strlist_t owned;

void ek_strlist_add(ek_strlist_t *l, const char *s)
{
    l->v = ek_xrealloc(l->v, (l->n + 2) * sizeof(char *));
    l->v[l->n++] = ek_xstrdup(s);
    l->v[l->n] = NULL;
}

void ek_strlist_free(ek_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static char *config_path;
static char *log_level;
static int verbosity;

static const ek_flag_t common_flags[] = {
    { "config", 'c', EK_FLAG_STRING, &config_path, "EDGEK_CONFIG_FILE", "FILE",
      "YAML file holding the same keys as the flags" },
    { "log-level", 0, EK_FLAG_STRING, &log_level, "EDGEK_LOG_LEVEL", "LEVELS",
      "error|warn|info|debug|trace, with per-component overrides (info,kv=debug)" },
    { "verbose", 'v', EK_FLAG_BOOL, NULL, NULL, NULL, "more logging (repeatable)" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

static int set_value(const ek_flag_t *f, const char *val, const char *origin, ek_error_t **err)
{
    switch (f->type) {
    case EK_FLAG_BOOL: {
        bool *b = f->ptr;
        if (!val || strcmp(val, "true") == 0 || strcmp(val, "1") == 0) {
            *b = true;
        } else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0) {
            *b = false;
        } else {
            return ek_error_make(err, 0, "%s: --%s wants true or false, not `%s`", origin, f->name,
                                 val);
        }
        return 0;
    }
    case EK_FLAG_STRING: {
        char *s = ek_xstrdup(val ? val : "");
        ek_strlist_add(&owned, "");
        free(owned.v[owned.n - 1]);
        owned.v[owned.n - 1] = s;
        *(char **)f->ptr = s;
        return 0;
    }
    case EK_FLAG_INT: {
        char *end;
        errno = 0;
        long v = strtol(val ? val : "", &end, 10);
        if (!val || !*val || *end || errno || v < INT_MIN || v > INT_MAX) {
            return ek_error_make(err, 0, "%s: --%s wants an integer, not `%s`", origin, f->name,
                                 val ? val : "");
        }
        *(int *)f->ptr = (int)v;
        return 0;
    }
    case EK_FLAG_DURATION:
        if (ek_duration_parse_ms(val ? val : "", f->ptr, err) < 0) {
            return ek_error_wrap(err, "%s: --%s", origin, f->name);
        }
        return 0;
    case EK_FLAG_LIST: {
        ek_autofree char *copy = ek_xstrdup(val ? val : "");
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            ek_strlist_add(f->ptr, t);
        }
        return 0;
    }
    }
    return ek_error_make(err, 0, "bad flag type");
}

static const ek_flag_t *find_flag(const ek_flag_t *flags, const char *name)
{
    for (const ek_flag_t *f = flags; f->name; f++) {
        if (strcmp(f->name, name) == 0) {
            return f;
        }
    }
    return NULL;
}

static int apply_config_value(const ek_flag_t *f, json_t *v, const char *path, ek_error_t **err)
{
    if (f->type == EK_FLAG_LIST && json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach (v, i, item) {
            ek_autofree char *s =
                json_is_string(item) ? ek_xstrdup(json_string_value(item)) : ek_json_dumps(item);
            if (set_value(f, s, path, err) < 0) {
                return -1;
            }
        }
        return 0;
    }
    if (json_is_string(v)) {
        return set_value(f, json_string_value(v), path, err);
    }
    if (json_is_boolean(v)) {
        return set_value(f, json_is_true(v) ? "true" : "false", path, err);
    }
    if (json_is_number(v) || json_is_null(v)) {
        ek_autofree char *s = ek_json_dumps(v);
        return set_value(f, json_is_null(v) ? "" : s, path, err);
    }
    return ek_error_make(err, 0, "%s: key `%s` has an unsupported value type", path, f->name);
}

static int load_config(const ek_flag_t *flags, const bool *set, const char *path, ek_error_t **err)
{
    size_t len;
    ek_autofree char *text = ek_file_read(path, 1 << 20, &len, err);
    if (!text) {
        return ek_error_wrap(err, "config file");
    }
    ek_auto(json_t) doc = ek_yaml_to_json(text, len, err);
    if (!doc) {
        return ek_error_wrap(err, "config file `%s`", path);
    }
    if (json_is_null(doc)) {
        return 0;
    }
    if (!json_is_object(doc)) {
        return ek_error_make(err, 0, "config file `%s`: want a mapping of flag names", path);
    }
    const char *key;
    json_t *v;
    json_object_foreach (doc, key, v) {
        const ek_flag_t *f = find_flag(flags, key);
        if (!f) {
            /* One config file serves server and agent, as in k3s: keys for the other are fine. */
            EK_LOG(EK_DEBUG, "config", "ignoring key not used by this command key=%s", key);
            continue;
        }
        if (set[f - flags]) {
            continue;
        }
        if (apply_config_value(f, v, path, err) < 0) {
            return -1;
        }
    }
    return 0;
}

static size_t count_flags(const ek_flag_t *flags)
{
    size_t n = 0;
    while (flags && flags[n].name) {
        n++;
    }
    return n;
}

int ek_flags_parse(const ek_flag_t *flags, int argc, char **argv, int *nargs, ek_error_t **err)
{
    size_t nf = count_flags(flags), nc = count_flags(common_flags);
    ek_autofree struct option *opts = ek_xcalloc(nf + nc + 1, sizeof(struct option));
    ek_autofree bool *set = ek_xcalloc(nf + 1, sizeof(bool));
    char shorts[128] = "+";
    size_t ns = 1;
    for (size_t i = 0; i < nf + nc; i++) {
        const ek_flag_t *f = i < nf ? &flags[i] : &common_flags[i - nf];
        opts[i].name = f->name;
        opts[i].has_arg = f->type == EK_FLAG_BOOL ? optional_argument : required_argument;
        opts[i].val = 256 + (int)i;
        if (f->short_name && ns + 3 < sizeof(shorts)) {
            shorts[ns++] = f->short_name;
            if (f->type != EK_FLAG_BOOL) {
                shorts[ns++] = ':';
            }
        }
    }
    shorts[ns] = '\0';
    /* Positional arguments may come anywhere: collect them as we go ("+" stops at each). */
    ek_autofree char **pos = ek_xcalloc((size_t)argc + 1, sizeof(char *));
    int npos = 0;
    optind = 1;
    opterr = 0;
    while (optind < argc) {
        int idx = -1;
        int c = getopt_long(argc, argv, shorts, opts, &idx);
        if (c == -1) {
            if (optind < argc && strcmp(argv[optind - 1], "--") == 0) {
                while (optind < argc) {
                    pos[npos++] = argv[optind++];
                }
                break;
            }
            pos[npos++] = argv[optind++];
            continue;
        }
        if (c == '?' || c == ':') {
            const char *bad = argv[optind - 1];
            if (c == ':' || (optopt && strchr(shorts, optopt) && optopt != '?')) {
                return ek_error_make(err, 0, "flag `%s` needs a value", bad);
            }
            return ek_error_make(err, 0, "unknown flag `%s`", bad);
        }
        size_t i = SIZE_MAX;
        if (c >= 256) {
            i = (size_t)(c - 256);
        } else {
            for (size_t k = 0; k < nf + nc; k++) {
                const ek_flag_t *f = k < nf ? &flags[k] : &common_flags[k - nf];
                if (f->short_name == c) {
                    i = k;
                    break;
                }
            }
        }
        if (i == SIZE_MAX) {
            return ek_error_make(err, 0, "unknown flag `-%c`", c);
        }
        const ek_flag_t *f = i < nf ? &flags[i] : &common_flags[i - nf];
        if (f->ptr == NULL) { /* -v */
            verbosity++;
            continue;
        }
        if (set_value(f, optarg, "command line", err) < 0) {
            return -1;
        }
        if (i < nf) {
            set[i] = true;
        }
    }
    for (int i = 0; i < npos; i++) {
        argv[1 + i] = pos[i];
    }
    argv[1 + npos] = NULL;
    *nargs = npos;
    for (size_t i = 0; i < nf + nc; i++) {
        const ek_flag_t *f = i < nf ? &flags[i] : &common_flags[i - nf];
        const char *ev = f->env ? getenv(f->env) : NULL;
        if (ev && f->ptr && (i >= nf || !set[i])) {
            if (set_value(f, ev, f->env, err) < 0) {
                return -1;
            }
            if (i < nf) {
                set[i] = true;
            }
        }
    }
    if (config_path && *config_path && load_config(flags, set, config_path, err) < 0) {
        return -1;
    }
    if (log_level && ek_log_configure(log_level, err) < 0) {
        return ek_error_wrap(err, "--log-level");
    }
    ek_log_verbose(verbosity);
    return 0;
}

static void usage_line(FILE *out, const ek_flag_t *f)
{
    char left[64];
    if (f->short_name) {
        snprintf(left, sizeof(left), "-%c, --%s%s%s", f->short_name, f->name, f->metavar ? " " : "",
                 f->metavar ? f->metavar : "");
    } else {
        snprintf(left, sizeof(left), "    --%s%s%s", f->name, f->metavar ? " " : "",
                 f->metavar ? f->metavar : "");
    }
    fprintf(out, "  %-34s %s", left, f->help ? f->help : "");
    if (f->env) {
        fprintf(out, " [$%s]", f->env);
    }
    fprintf(out, "\n");
}

void ek_flags_usage(FILE *out, const ek_flag_t *flags)
{
    for (const ek_flag_t *f = flags; f && f->name; f++) {
        usage_line(out, f);
    }
    for (const ek_flag_t *f = common_flags; f->name; f++) {
        usage_line(out, f);
    }
}

void ek_flags_free(const ek_flag_t *flags)
{
    for (const ek_flag_t *f = flags; f && f->name; f++) {
        if (f->type == EK_FLAG_LIST) {
            ek_strlist_free(f->ptr);
        }
    }
    ek_strlist_free(&owned);
}
