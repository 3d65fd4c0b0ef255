/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api/: the Kubernetes object model every part speaks — the resource table, object metadata
 * helpers, quantities, label and field selectors, patches (JSON merge, strategic merge, JSON
 * patch), and the API client with informer caches. This is the part's one public header.
 */
#ifndef EK_API_API_H
#define EK_API_API_H

#include "lib/lib.h"

/* ---- selectors, quantities, patches (api/selector.c, api/quantity.c, api/patch.c) ---- */

/* ---- resource table and object helpers (api/resources.c, api/object.c) ---- */

/* ---- API client and informers (api/client.c, api/informer.c) ---- */

#endif
