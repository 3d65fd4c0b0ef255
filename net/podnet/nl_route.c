/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Addresses, routes, neighbours and bridge/VXLAN forwarding entries over rtnetlink. Every
 * change names the operation and its arguments in its error, so "add route 10.42.2.0/24 via
 * 192.168.5.2: Network is unreachable" says what went wrong without a debugger.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "net/podnet/podnet-internal.h"

static const char *op_name(ek_nl_op_t op)
{
    return op == EK_NL_DEL ? "delete" : op == EK_NL_REPLACE ? "replace" : "add";
}

static uint16_t op_flags(ek_nl_op_t op)
{
    switch (op) {
    case EK_NL_ADD:
        return NLM_F_CREATE | NLM_F_EXCL;
    case EK_NL_REPLACE:
        return NLM_F_CREATE | NLM_F_REPLACE;
    default:
        return 0;
    }
}

int ek_nl_addr(ek_nl_t *nl, ek_nl_op_t op, int index, struct in_addr addr, int prefix,
               ek_error_t **err)
{
    struct nlmsghdr *nlh =
        ek__nl_msg(nl, op == EK_NL_DEL ? RTM_DELADDR : RTM_NEWADDR, op_flags(op));
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (uint8_t)prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (uint32_t)index;
    mnl_attr_put(nlh, IFA_LOCAL, sizeof(addr), &addr);
    mnl_attr_put(nlh, IFA_ADDRESS, sizeof(addr), &addr);
    char c[20];
    return ek__nl_send(nl, nlh, err, "%s address %s on link %d", op_name(op),
                       ek__cidr_format(addr, prefix, c), index);
}

static void route_desc(const ek_nl_route_t *r, char *buf, size_t len)
{
    char dst[20], gw[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &r->gw, gw, sizeof(gw));
    snprintf(buf, len, "%s%s%s dev %d%s", ek__cidr_format(r->dst, r->prefix, dst),
             r->gw.s_addr ? " via " : "", r->gw.s_addr ? gw : "", r->index,
             r->onlink ? " onlink" : "");
}

int ek_nl_route(ek_nl_t *nl, ek_nl_op_t op, const ek_nl_route_t *r, ek_error_t **err)
{
    struct nlmsghdr *nlh =
        ek__nl_msg(nl, op == EK_NL_DEL ? RTM_DELROUTE : RTM_NEWROUTE, op_flags(op));
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = (uint8_t)r->prefix;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_type = RTN_UNICAST;
    if (op == EK_NL_DEL) {
        /* Match any scope; a protocol, when given, keeps us to our own routes. */
        rtm->rtm_scope = RT_SCOPE_NOWHERE;
        rtm->rtm_protocol = (uint8_t)r->protocol;
    } else {
        rtm->rtm_scope = r->gw.s_addr ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
        rtm->rtm_protocol = (uint8_t)(r->protocol ? r->protocol : RTPROT_BOOT);
    }
    if (r->onlink) {
        rtm->rtm_flags |= RTNH_F_ONLINK;
    }
    if (r->prefix > 0) {
        mnl_attr_put(nlh, RTA_DST, sizeof(r->dst), &r->dst);
    }
    if (r->gw.s_addr) {
        mnl_attr_put(nlh, RTA_GATEWAY, sizeof(r->gw), &r->gw);
    }
    if (r->index > 0) {
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->index);
    }
    char d[96];
    route_desc(r, d, sizeof(d));
    return ek__nl_send(nl, nlh, err, "%s route %s", op_name(op), d);
}

struct route_vec {
    ek_nl_route_t *v;
    size_t n, cap;
};

static int route_attr(const struct nlattr *a, void *data)
{
    ek_nl_route_t *r = data;
    int type = mnl_attr_get_type(a);
    if ((type == RTA_DST || type == RTA_GATEWAY) && mnl_attr_get_payload_len(a) == 4) {
        memcpy(type == RTA_DST ? &r->dst : &r->gw, mnl_attr_get_payload(a), 4);
    } else if (type == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
        r->index = (int)mnl_attr_get_u32(a);
    } else if (type == RTA_TABLE && mnl_attr_validate(a, MNL_TYPE_U32) == 0 &&
               mnl_attr_get_u32(a) != RT_TABLE_MAIN) {
        r->prefix = -1; /* another table: skipped below */
    }
    return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
    struct route_vec *rv = data;
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
    if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_type != RTN_UNICAST ||
        rtm->rtm_table != RT_TABLE_MAIN) {
        return MNL_CB_OK;
    }
    ek_nl_route_t r = { .prefix = rtm->rtm_dst_len, .protocol = rtm->rtm_protocol };
    r.onlink = rtm->rtm_flags & RTNH_F_ONLINK;
    mnl_attr_parse(nlh, sizeof(*rtm), route_attr, &r);
    if (r.prefix < 0) {
        return MNL_CB_OK;
    }
    if (rv->n == rv->cap) {
        rv->cap = rv->cap ? rv->cap * 2 : 16;
        rv->v = ek_xrealloc(rv->v, rv->cap * sizeof(*rv->v));
    }
    rv->v[rv->n++] = r;
    return MNL_CB_OK;
}

int ek_nl_route_list(ek_nl_t *nl, ek_nl_route_cb cb, void *arg, ek_error_t **err)
{
    struct nlmsghdr *nlh = ek__nl_msg(nl, RTM_GETROUTE, NLM_F_DUMP);
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = AF_INET;
    struct route_vec rv = { 0 };
    int rc = ek__nl_query(nl, nlh, route_cb, &rv, "list routes", err);
    for (size_t i = 0; rc == 0 && i < rv.n; i++) {
        int r = cb(&rv.v[i], arg);
        if (r < 0) {
            rc = r;
        }
    }
    free(rv.v);
    return rc;
}

static struct nlmsghdr *neigh_msg(ek_nl_t *nl, ek_nl_op_t op, int family, int index, uint8_t ntf)
{
    struct nlmsghdr *nlh =
        ek__nl_msg(nl, op == EK_NL_DEL ? RTM_DELNEIGH : RTM_NEWNEIGH, op_flags(op));
    struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
    nd->ndm_family = (uint8_t)family;
    nd->ndm_ifindex = index;
    nd->ndm_state = NUD_PERMANENT;
    nd->ndm_flags = ntf;
    return nlh;
}

int ek_nl_neigh(ek_nl_t *nl, ek_nl_op_t op, int index, struct in_addr addr, const uint8_t mac[6],
                ek_error_t **err)
{
    struct nlmsghdr *nlh = neigh_msg(nl, op, AF_INET, index, 0);
    mnl_attr_put(nlh, NDA_DST, sizeof(addr), &addr);
    if (op != EK_NL_DEL) {
        mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
    }
    char a[INET_ADDRSTRLEN], m[18];
    inet_ntop(AF_INET, &addr, a, sizeof(a));
    return ek__nl_send(nl, nlh, err, "%s neighbour %s lladdr %s on link %d", op_name(op), a,
                       op != EK_NL_DEL ? ek_mac_format(mac, m) : "-", index);
}

int ek_nl_fdb(ek_nl_t *nl, ek_nl_op_t op, int index, const uint8_t mac[6], struct in_addr dst,
              ek_error_t **err)
{
    /* NTF_SELF: the entry belongs to the VXLAN device's own table, not to a bridge's. */
    struct nlmsghdr *nlh = neigh_msg(nl, op, AF_BRIDGE, index, NTF_SELF);
    mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
    mnl_attr_put(nlh, NDA_DST, sizeof(dst), &dst);
    char a[INET_ADDRSTRLEN], m[18];
    inet_ntop(AF_INET, &dst, a, sizeof(a));
    return ek__nl_send(nl, nlh, err, "%s fdb %s dst %s on link %d", op_name(op),
                       ek_mac_format(mac, m), a, index);
}
