/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server/: the control plane — apiserver/ (REST API), auth/ (PKI, tokens, RBAC),
 * controllers/, scheduler/. This is the part's one public header.
 */
#ifndef EK_SERVER_SERVER_H
#define EK_SERVER_SERVER_H

#include "lib/lib.h"

/* ---- auth: PKI and credentials (server/auth/pki.c) ---- */

/* ---- the server process (server/apiserver/) ---- */

#endif
