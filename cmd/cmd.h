/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommand table: each entry point lives in its own cmd/<name>.c. */
#ifndef EK_CMD_CMD_H
#define EK_CMD_CMD_H

#include "lib/lib.h"

typedef struct ek_cmd {
    const char *name;
    const char *summary;
    const char *usage;      /* argument synopsis after the command name */
    const ek_flag_t *flags; /* may be NULL */
    /* argv[1..nargs] are the positional arguments; flags are already parsed. Returns exit status.
     */
    int (*run)(int nargs, char **argv);
    bool hidden; /* internal commands (shim) are not listed in help */
    /* Read when present and no --config / EDGEK_CONFIG_FILE is given (like k3s's config.yaml). */
    const char *default_config;
} ek_cmd_t;

extern const ek_cmd_t ek_cmd_version;
extern const ek_cmd_t ek_cmd_server;
extern const ek_cmd_t ek_cmd_db;
extern const ek_cmd_t ek_cmd_podnet;
extern const ek_cmd_t ek_cmd_shim;
extern const ek_cmd_t ek_cmd_image;
extern const ek_cmd_t ek_cmd_dns_test;

/* Prints "edgek: <msg>" on stderr for a failed command, frees err, returns 1. */
int ek_cmd_fail(ek_error_t *err);

#endif
