/* SPDX-License-Identifier: Apache-2.0 */
/* `edgek version`: edgek's own version, the Kubernetes API level it implements, the commit. */
#include <stdio.h>
#include <sys/utsname.h>

#include "cmd/cmd.h"

static int run_version(int nargs, char **argv)
{
    EK_UNUSED(argv);
    if (nargs > 0) {
        fprintf(stderr, "edgek version: takes no arguments\n");
        return 2;
    }
    struct utsname u;
    uname(&u);
    printf("edgek version %s (commit %s)\n", ek_version, ek_git_commit);
    printf("kubernetes api %s\n", ek_kube_version);
    printf("platform linux/%s\n", u.machine);
    return 0;
}

const ek_cmd_t ek_cmd_version = {
    .name = "version",
    .summary = "print the version, the Kubernetes API level and the git commit",
    .usage = "",
    .run = run_version,
};
