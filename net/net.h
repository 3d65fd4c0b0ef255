/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net/: podnet/ (bridge, veth, IPAM, routes, VXLAN), proxy/ (nftables Service/NodePort
 * proxy), dns/, ingress/, policy/. This is the part's one public header.
 */
#ifndef EK_NET_NET_H
#define EK_NET_NET_H

#include "api/api.h"
#include "lib/lib.h"

/* ---- netlink and nftables plumbing, pod network (net/podnet) ---- */

/* ---- service proxy (net/proxy) ---- */

/* ---- cluster DNS (net/dns) ---- */

#endif
