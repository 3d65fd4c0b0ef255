/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek shim <pod dir>` (hidden): the per-pod process the runtime starts. The agent runs it
 * itself in the pod's fresh namespaces; it is not meant to be typed.
 */
#include <stdio.h>

#include "cmd/cmd.h"
#include "node/node.h"

static int run_shim(int nargs, char **argv)
{
    if (nargs != 1) {
        fprintf(stderr, "edgek shim: takes the pod's state directory\n");
        return 2;
    }
    return ek_rt_shim_main(argv[1]);
}

const ek_cmd_t ek_cmd_shim = {
    .name = "shim",
    .summary = "the per-pod container shim (started by the agent)",
    .usage = "POD_DIR",
    .run = run_shim,
    .hidden = true,
};
