/* SPDX-License-Identifier: Apache-2.0 */
/* Build identity, set by the Makefile: edgek's version, its git commit, the Kubernetes level. */
#include "lib/common.h"

#ifndef EK_VERSION
#define EK_VERSION "v0.1.0-dev"
#endif
#ifndef EK_GIT_COMMIT
#define EK_GIT_COMMIT "unknown"
#endif

const char ek_version[] = EK_VERSION;
const char ek_git_commit[] = EK_GIT_COMMIT;
const char ek_kube_version[] = "v1.32.4";
