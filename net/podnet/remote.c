/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Routes to the other nodes' pod subnets, driven by their Node objects. host-gw: one route
 * via the node's address (the nodes share an L2 segment). VXLAN, as flannel lays it out: a
 * route to the subnet via its .0 address onlink on ek.vxlan, a permanent neighbour entry
 * giving that .0 the remote VTEP's MAC, and an FDB entry sending that MAC to the node's
 * address. All routes carry EK_RTPROT_EDGEK so cleanup finds exactly ours.
 */
#include <errno.h>

#include "net/podnet/podnet-internal.h"

static int vxlan_index(ek_podnet_t *pn, ek_error_t **err)
{
    if (pn->vxlan_index == 0) {
        ek_nl_link_t l;
        if (ek_nl_link_get(pn->nl, EK_PODNET_VXLAN_DEV, &l, err) < 0) {
            return ek_error_wrap(err, "VXLAN backend not set up");
        }
        pn->vxlan_index = l.index;
    }
    return pn->vxlan_index;
}

static ek_nl_route_t remote_route(ek_podnet_t *pn, const ek_podnet_remote_t *r, int vx)
{
    ek_nl_route_t rt = { .dst = r->pod_net, .prefix = r->pod_prefix, .protocol = EK_RTPROT_EDGEK };
    rt.dst.s_addr &= ek_cidr_mask(r->pod_prefix);
    if (pn->backend == EK_PODNET_VXLAN) {
        rt.gw = rt.dst;
        rt.index = vx;
        rt.onlink = true;
    } else {
        rt.gw = r->node_ip;
    }
    return rt;
}

int ek_podnet_remote_add(ek_podnet_t *pn, const ek_podnet_remote_t *r, ek_error_t **err)
{
    if (pn->backend == EK_PODNET_NONE) {
        return 0;
    }
    int vx = pn->backend == EK_PODNET_VXLAN ? vxlan_index(pn, err) : 0;
    if (vx < 0) {
        return -1;
    }
    ek_nl_route_t rt = remote_route(pn, r, vx);
    ek_nl_batch_begin(pn->nl);
    if (pn->backend == EK_PODNET_VXLAN) {
        ek_nl_neigh(pn->nl, EK_NL_REPLACE, vx, rt.gw, r->vtep_mac, err);
        ek_nl_fdb(pn->nl, EK_NL_REPLACE, vx, r->vtep_mac, r->node_ip, err);
    }
    ek_nl_route(pn->nl, EK_NL_REPLACE, &rt, err);
    if (ek_nl_batch_commit(pn->nl, err) < 0) {
        return ek_error_wrap(err, "route to remote pod subnet");
    }
    return 0;
}

/* Runs one deletion; an entry that is already gone counts as deleted. */
static int gone_ok(int rc, ek_error_t *e, ek_error_t **err)
{
    if (rc == 0 || e->errnum == ESRCH || e->errnum == ENOENT || e->errnum == ENODEV) {
        ek_error_free(e);
        return 0;
    }
    if (err && !*err) {
        *err = e;
    } else {
        ek_error_free(e);
    }
    return -1;
}

int ek_podnet_remote_del(ek_podnet_t *pn, const ek_podnet_remote_t *r, ek_error_t **err)
{
    if (pn->backend == EK_PODNET_NONE) {
        return 0;
    }
    int vx = pn->backend == EK_PODNET_VXLAN ? vxlan_index(pn, err) : 0;
    if (vx < 0) {
        return -1;
    }
    ek_nl_route_t rt = remote_route(pn, r, vx);
    ek_error_t *e = NULL;
    int rc = ek_nl_route(pn->nl, EK_NL_DEL, &rt, &e);
    if (gone_ok(rc, e, err) < 0) {
        return -1;
    }
    if (pn->backend == EK_PODNET_VXLAN) {
        e = NULL;
        rc = ek_nl_neigh(pn->nl, EK_NL_DEL, vx, rt.gw, r->vtep_mac, &e);
        if (gone_ok(rc, e, err) < 0) {
            return -1;
        }
        e = NULL;
        rc = ek_nl_fdb(pn->nl, EK_NL_DEL, vx, r->vtep_mac, r->node_ip, &e);
        if (gone_ok(rc, e, err) < 0) {
            return -1;
        }
    }
    return 0;
}
