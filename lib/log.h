/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging: one line per event, "<time> <LEVEL> <component> <message key=value ...>".
 * Levels are set per component (`--log-level info,kv=debug`); the level is checked before
 * any formatting happens, so a disabled EK_LOG costs one comparison.
 */
#ifndef EK_LIB_LOG_H
#define EK_LIB_LOG_H

#include "lib/common.h"
#include "lib/error.h"

enum ek_log_level {
    EK_ERROR = 0,
    EK_WARN = 1,
    EK_INFO = 2,
    EK_DEBUG = 3,
    EK_TRACE = 4,
};

/* Highest level enabled for any component: the cheap first check of EK_LOG. */
extern int ek__log_max;

bool ek_log_enabled(int level, const char *comp);
void ek_log_write(int level, const char *comp, const char *fmt, ...) EK_PRINTF(3, 4);

#define EK_LOG(level, comp, ...)                                         \
    do {                                                                 \
        if ((level) <= ek__log_max && ek_log_enabled((level), (comp))) { \
            ek_log_write((level), (comp), __VA_ARGS__);                  \
        }                                                                \
    } while (0)

/*
 * Parses "info", "debug,kv=trace,http=warn": a default level and per-component overrides.
 * Replaces the current configuration. Not thread-safe: call at start-up.
 */
int ek_log_configure(const char *spec, ek_error_t **err);
/* Raises the default level by n steps (each -v). */
void ek_log_verbose(int n);
/* Sends log lines to fd (default 2). */
void ek_log_set_fd(int fd);
/* "info" -> EK_INFO; -1 if unknown. */
int ek_log_level_parse(const char *name);

#endif
