/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/: the kubelet — pod workers, status, probes, volumes, logs/exec/port-forward, stats;
 * runtime/ (pod shim, containers, cgroups, mounts); image/ (store, import, registry pull).
 * This is the part's one public header.
 */
#ifndef EK_NODE_NODE_H
#define EK_NODE_NODE_H

#include "api/api.h"
#include "lib/lib.h"

/* ---- images (node/image) ---- */

/* ---- container runtime and pod shim (node/runtime) ---- */

/* ---- kubelet (node/) ---- */

/*
 * Simulated nodes (node/sim.c), for tests and scale benchmarks — never the default. Each
 * registers a Node with the given capacity and keeps its Lease fresh; pods bound to it are
 * marked Running and Ready without running anything (their status message says so) and are
 * removed at once when deleted. Annotating a Node with edgek.io/simulate-heartbeat=stop makes
 * it stop heartbeating (to test node failure); removing the annotation resumes it.
 */
typedef struct ek_simnodes ek_simnodes_t;
typedef struct ek_simnodes_options {
    int count;
    const char *prefix; /* node names <prefix>-<i>; default "sim" */
    const char *cpu;    /* capacity; defaults 4, 8Gi, 110 pods */
    const char *memory;
    const char *pods;
    int64_t lease_ms; /* renew interval; default 10000 */
} ek_simnodes_options_t;

/* Takes ownership of client. */
int ek_simnodes_start(ek_api_client_t *client, const ek_simnodes_options_t *opts,
                      ek_simnodes_t **out, ek_error_t **err);
void ek_simnodes_stop(ek_simnodes_t *s, void (*cb)(void *data), void *data);

#endif
