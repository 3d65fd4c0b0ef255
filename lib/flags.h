/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line flags described by a table: GNU long options, an optional short letter, an
 * EDGEK_* environment equivalent, and the same names as keys of the YAML config file
 * (`--config FILE`, like k3s's config.yaml). Precedence: command line > environment >
 * config file > the default already stored in the target variable.
 */
#ifndef EK_LIB_FLAGS_H
#define EK_LIB_FLAGS_H

#include <stdio.h>

#include "lib/common.h"
#include "lib/error.h"

typedef enum {
    EK_FLAG_BOOL,   /* bool *; `--x`, `--x=true|false` */
    EK_FLAG_STRING, /* char ** (owned by the flags module after parsing; free with ek_flags_free) */
    EK_FLAG_INT,    /* int * */
    EK_FLAG_LIST,   /* ek_strlist_t *; repeatable, comma-separated values split */
    EK_FLAG_DURATION, /* int64_t * in milliseconds; Go syntax (10s, 5m, 1h) */
} ek_flag_type_t;

typedef struct ek_strlist {
    char **v;
    size_t n;
} ek_strlist_t;

void ek_strlist_add(ek_strlist_t *l, const char *s);
void ek_strlist_free(ek_strlist_t *l);

typedef struct ek_flag {
    const char *name; /* long option and config key */
    char short_name;  /* 0 if none */
    ek_flag_type_t type;
    void *ptr;
    const char *env; /* environment variable or NULL */
    const char *metavar;
    const char *help;
} ek_flag_t;

/*
 * Parses argv[1..] against flags (terminated by an entry with name NULL). Positional
 * arguments are moved to the front of argv[1..]; *nargs receives their count. `--config`,
 * `--log-level` and `-v` are always accepted. Errors are usage errors (exit 2).
 */
int ek_flags_parse(const ek_flag_t *flags, int argc, char **argv, int *nargs, ek_error_t **err);
void ek_flags_usage(FILE *out, const ek_flag_t *flags);
/* Frees the strings and lists the flags module allocated into the targets. */
void ek_flags_free(const ek_flag_t *flags);

#endif
