/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The logger. Lines are assembled in a stack buffer and written with one write(2) so lines
 * from several threads never interleave.
 */
#include "lib/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define MAX_OVERRIDES 32

struct override {
    char comp[32];
    int level;
};

static int default_level = EK_INFO;
static struct override overrides[MAX_OVERRIDES];
static int n_overrides;
static int log_fd = 2;
int ek__log_max = EK_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };
static const char *const level_tags[] = { "ERROR", "WARN ", "INFO ", "DEBUG", "TRACE" };

int ek_log_level_parse(const char *name)
{
    for (size_t i = 0; i < EK_ARRAY_SIZE(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return (int)i;
        }
    }
    if (strcmp(name, "warning") == 0) {
        return EK_WARN;
    }
    return -1;
}

static void recompute_max(void)
{
    int max = default_level;
    for (int i = 0; i < n_overrides; i++) {
        max = EK_MAX(max, overrides[i].level);
    }
    ek__log_max = max;
}

bool ek_log_enabled(int level, const char *comp)
{
    for (int i = 0; i < n_overrides; i++) {
        if (strcmp(overrides[i].comp, comp) == 0) {
            return level <= overrides[i].level;
        }
    }
    return level <= default_level;
}

int ek_log_configure(const char *spec, ek_error_t **err)
{
    int new_default = default_level;
    struct override new_over[MAX_OVERRIDES] = { 0 };
    int n = 0;
    ek_autofree char *copy = ek_xstrdup(spec);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        const char *lvl = eq ? eq + 1 : tok;
        int l = ek_log_level_parse(lvl);
        if (l < 0) {
            return ek_error_make(err, 0,
                                 "unknown log level `%s` (want error|warn|info|debug|trace)", lvl);
        }
        if (!eq) {
            new_default = l;
            continue;
        }
        *eq = '\0';
        if (n == MAX_OVERRIDES || strlen(tok) >= sizeof(new_over[0].comp)) {
            return ek_error_make(err, 0, "too many or too long log components in `%s`", spec);
        }
        snprintf(new_over[n].comp, sizeof(new_over[n].comp), "%s", tok);
        new_over[n].level = l;
        n++;
    }
    default_level = new_default;
    memcpy(overrides, new_over, sizeof(new_over[0]) * (size_t)n);
    n_overrides = n;
    recompute_max();
    return 0;
}

void ek_log_verbose(int n)
{
    default_level = EK_MIN(EK_TRACE, default_level + n);
    recompute_max();
}

void ek_log_set_fd(int fd)
{
    log_fd = fd;
}

void ek_log_write(int level, const char *comp, const char *fmt, ...)
{
    int saved = errno;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s ", ts.tv_nsec / 1000000,
                          level_tags[level < 0          ? 0
                                     : level > EK_TRACE ? EK_TRACE
                                                        : level],
                          comp);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (m < 0) {
        m = 0;
    }
    n = EK_MIN(n + (size_t)m, sizeof(line) - 2);
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, n);
    EK_UNUSED(w);
    errno = saved;
}
