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

#endif
