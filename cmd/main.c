/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edgek's entry point: dispatches argv[1] through the subcommand table. Unknown commands and
 * flags print usage on stderr and exit 2.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cmd/cmd.h"

/* One per line, so adding a command is a one-line change (and merges cleanly). */
/* clang-format off */
static const ek_cmd_t *const commands[] = {
    &ek_cmd_server,
    &ek_cmd_version,
    &ek_cmd_db,
    &ek_cmd_podnet,
    &ek_cmd_shim,
    &ek_cmd_image,
    &ek_cmd_agent,
    &ek_cmd_dns_test,
    &ek_cmd_proxy_test,
    &ek_cmd_check_config,
    &ek_cmd_token,
    &ek_cmd_join,
};
/* clang-format on */

static void print_usage(FILE *out)
{
    fprintf(out, "edgek: a Kubernetes-compatible cluster in one binary\n\n"
                 "Usage: edgek COMMAND [FLAGS] [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < EK_ARRAY_SIZE(commands); i++) {
        if (!commands[i]->hidden) {
            fprintf(out, "  %-14s %s\n", commands[i]->name, commands[i]->summary);
        }
    }
    fprintf(out, "  %-14s %s\n", "help", "show help for a command");
    fprintf(out, "\nRun `edgek help COMMAND` for a command's flags.\n");
}

static void print_cmd_usage(FILE *out, const ek_cmd_t *c)
{
    fprintf(out, "Usage: edgek %s [FLAGS]%s%s\n\n%s\n\nFlags:\n", c->name, *c->usage ? " " : "",
            c->usage, c->summary);
    ek_flags_usage(out, c->flags);
}

static const ek_cmd_t *find_cmd(const char *name)
{
    for (size_t i = 0; i < EK_ARRAY_SIZE(commands); i++) {
        if (strcmp(commands[i]->name, name) == 0) {
            return commands[i];
        }
    }
    return NULL;
}

int ek_cmd_fail(ek_error_t *err)
{
    fprintf(stderr, "edgek: %s\n", ek_error_msg(err));
    ek_error_free(err);
    return 1;
}

static int run_help(int argc, char **argv)
{
    if (argc < 3) {
        print_usage(stdout);
        return 0;
    }
    const ek_cmd_t *c = find_cmd(argv[2]);
    if (!c) {
        fprintf(stderr, "edgek: unknown command `%s`\n\n", argv[2]);
        print_usage(stderr);
        return 2;
    }
    print_cmd_usage(stdout, c);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        return run_help(argc, argv);
    }
    if (strcmp(name, "--version") == 0) {
        name = "version";
    }
    const ek_cmd_t *c = find_cmd(name);
    if (!c) {
        fprintf(stderr, "edgek: unknown command `%s`\n\n", name);
        print_usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_cmd_usage(stdout, c);
            return 0;
        }
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
    }
    if (c->default_config && !getenv("EDGEK_CONFIG_FILE") && access(c->default_config, R_OK) == 0) {
        setenv("EDGEK_CONFIG_FILE", c->default_config, 0);
    }
    ek_error_t *err = NULL;
    int nargs = 0;
    if (ek_flags_parse(c->flags, argc - 1, argv + 1, &nargs, &err) < 0) {
        fprintf(stderr, "edgek %s: %s\n\n", c->name, ek_error_msg(err));
        ek_error_free(err);
        print_cmd_usage(stderr, c);
        return 2;
    }
    int rc = c->run(nargs, argv + 1);
    ek_flags_free(c->flags);
    return rc;
}
