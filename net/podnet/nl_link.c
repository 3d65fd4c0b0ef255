/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Links over rtnetlink: lookups and listing, creating bridges, veth pairs (the peer made
 * directly inside the pod's namespace, so no interface is ever renamed or moved) and VXLAN
 * devices, deleting, and changing state, MTU, master, namespace, name and hairpin mode.
 */
#include <errno.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "net/podnet/podnet-internal.h"

static struct ifinfomsg *put_ifinfo(struct nlmsghdr *nlh, int index)
{
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    return ifi;
}

static int parse_linkinfo(const struct nlattr *a, void *data)
{
    ek_nl_link_t *l = data;
    if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) == 0) {
        snprintf(l->kind, sizeof(l->kind), "%.*s", (int)mnl_attr_get_payload_len(a),
                 (const char *)mnl_attr_get_payload(a));
    }
    return MNL_CB_OK;
}

static int parse_link_attr(const struct nlattr *a, void *data)
{
    ek_nl_link_t *l = data;
    switch (mnl_attr_get_type(a)) {
    case IFLA_IFNAME:
        if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
            snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
        }
        break;
    case IFLA_MTU:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
            l->mtu = (int)mnl_attr_get_u32(a);
        }
        break;
    case IFLA_MASTER:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
            l->master = (int)mnl_attr_get_u32(a);
        }
        break;
    case IFLA_OPERSTATE:
        if (mnl_attr_validate(a, MNL_TYPE_U8) == 0) {
            l->operstate = mnl_attr_get_u8(a);
        }
        break;
    case IFLA_ADDRESS:
        if (mnl_attr_get_payload_len(a) == 6) {
            memcpy(l->mac, mnl_attr_get_payload(a), 6);
        }
        break;
    case IFLA_LINKINFO:
        mnl_attr_parse_nested(a, parse_linkinfo, l);
        break;
    }
    return MNL_CB_OK;
}

static void parse_link(const struct nlmsghdr *nlh, ek_nl_link_t *l)
{
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    memset(l, 0, sizeof(*l));
    l->index = ifi->ifi_index;
    l->flags = ifi->ifi_flags;
    mnl_attr_parse(nlh, sizeof(*ifi), parse_link_attr, l);
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
    if (nlh->nlmsg_type == RTM_NEWLINK) {
        parse_link(nlh, data);
    }
    return MNL_CB_OK;
}

int ek_nl_link_get(ek_nl_t *nl, const char *name, ek_nl_link_t *out, ek_error_t **err)
{
    if (strlen(name) >= IFNAMSIZ) {
        return ek_error_make(err, EINVAL, "link name `%s` is too long", name);
    }
    struct nlmsghdr *nlh = ek__nl_msg(nl, RTM_GETLINK, 0);
    put_ifinfo(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    char what[64];
    snprintf(what, sizeof(what), "get link %s", name);
    memset(out, 0, sizeof(*out));
    if (ek__nl_query(nl, nlh, get_cb, out, what, err) < 0) {
        return -1;
    }
    return 0;
}

struct link_vec {
    ek_nl_link_t *v;
    size_t n, cap;
};

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
    struct link_vec *lv = data;
    if (nlh->nlmsg_type != RTM_NEWLINK) {
        return MNL_CB_OK;
    }
    if (lv->n == lv->cap) {
        lv->cap = lv->cap ? lv->cap * 2 : 16;
        lv->v = ek_xrealloc(lv->v, lv->cap * sizeof(*lv->v));
    }
    parse_link(nlh, &lv->v[lv->n++]);
    return MNL_CB_OK;
}

int ek_nl_link_list(ek_nl_t *nl, ek_nl_link_cb cb, void *arg, ek_error_t **err)
{
    struct nlmsghdr *nlh = ek__nl_msg(nl, RTM_GETLINK, NLM_F_DUMP);
    put_ifinfo(nlh, 0);
    mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    /* Collect first, call after: cb may then change links through the same handle. */
    struct link_vec lv = { 0 };
    int rc = ek__nl_query(nl, nlh, list_cb, &lv, "list links", err);
    for (size_t i = 0; rc == 0 && i < lv.n; i++) {
        int r = cb(&lv.v[i], arg);
        if (r < 0) {
            rc = r;
        }
    }
    free(lv.v);
    return rc;
}

/* Starts RTM_NEWLINK for a new link `name` of kind; returns the IFLA_INFO_DATA nest or NULL. */
static struct nlmsghdr *new_link_msg(ek_nl_t *nl, const char *name, int mtu, const char *kind,
                                     struct nlattr **linkinfo)
{
    struct nlmsghdr *nlh = ek__nl_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    put_ifinfo(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    if (mtu > 0) {
        mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
    }
    *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
    return nlh;
}

int ek_nl_bridge_add(ek_nl_t *nl, const char *name, int mtu, const uint8_t *mac, ek_error_t **err)
{
    struct nlattr *li;
    struct nlmsghdr *nlh = new_link_msg(nl, name, mtu, "bridge", &li);
    mnl_attr_nest_end(nlh, li);
    if (mac) {
        mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
    }
    return ek__nl_send(nl, nlh, err, "add link %s (bridge)", name);
}

int ek_nl_veth_add(ek_nl_t *nl, const ek_nl_veth_t *v, ek_error_t **err)
{
    struct nlattr *li;
    struct nlmsghdr *nlh = new_link_msg(nl, v->name, v->mtu, "veth", &li);
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    /* The peer's attributes follow its own ifinfomsg inside the nest. */
    put_ifinfo(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, v->peer);
    if (v->mtu > 0) {
        mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)v->mtu);
    }
    if (v->peer_netns_fd >= 0) {
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)v->peer_netns_fd);
    }
    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, li);
    if (v->master > 0) {
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)v->master);
    }
    if (v->up) {
        struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
    }
    return ek__nl_send(nl, nlh, err, "add link %s (veth, peer %s)", v->name, v->peer);
}

int ek_nl_vxlan_add(ek_nl_t *nl, const char *name, const ek_nl_vxlan_t *v, ek_error_t **err)
{
    struct nlattr *li;
    struct nlmsghdr *nlh = new_link_msg(nl, name, v->mtu, "vxlan", &li);
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, v->vni);
    mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(v->port));
    if (v->local.s_addr) {
        mnl_attr_put(nlh, IFLA_VXLAN_LOCAL, sizeof(v->local), &v->local);
    }
    if (v->dev > 0) {
        mnl_attr_put_u32(nlh, IFLA_VXLAN_LINK, (uint32_t)v->dev);
    }
    mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, v->learning ? 1 : 0);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, li);
    return ek__nl_send(nl, nlh, err, "add link %s (vxlan id %u port %u)", name, v->vni, v->port);
}

int ek_nl_link_del(ek_nl_t *nl, const char *name, ek_error_t **err)
{
    struct nlmsghdr *nlh = ek__nl_msg(nl, RTM_DELLINK, 0);
    put_ifinfo(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    return ek__nl_send(nl, nlh, err, "delete link %s", name);
}

int ek_nl_link_set(ek_nl_t *nl, int index, const ek_nl_link_change_t *c, ek_error_t **err)
{
    struct nlmsghdr *nlh = ek__nl_msg(nl, RTM_NEWLINK, 0);
    struct ifinfomsg *ifi = put_ifinfo(nlh, index);
    if (c->up >= 0) {
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = c->up ? IFF_UP : 0;
    }
    if (c->mtu > 0) {
        mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)c->mtu);
    }
    if (c->master != 0) {
        mnl_attr_put_u32(nlh, IFLA_MASTER, c->master < 0 ? 0 : (uint32_t)c->master);
    }
    if (c->netns_fd >= 0) {
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)c->netns_fd);
    }
    if (c->name) {
        mnl_attr_put_strz(nlh, IFLA_IFNAME, c->name);
    }
    return ek__nl_send(nl, nlh, err, "set link %d%s%s%s%s%s", index,
                       c->up == 1   ? " up"
                       : c->up == 0 ? " down"
                                    : "",
                       c->mtu > 0 ? " mtu" : "", c->master ? " master" : "",
                       c->netns_fd >= 0 ? " netns" : "", c->name ? " name" : "");
}

int ek_nl_bridge_port_hairpin(ek_nl_t *nl, int index, bool on, ek_error_t **err)
{
    struct nlmsghdr *nlh = ek__nl_msg(nl, RTM_SETLINK, 0);
    struct ifinfomsg *ifi = put_ifinfo(nlh, index);
    ifi->ifi_family = AF_BRIDGE; /* handled by the bridge's port code, not the link core */
    struct nlattr *pi = mnl_attr_nest_start(nlh, IFLA_PROTINFO | NLA_F_NESTED);
    mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, on ? 1 : 0);
    mnl_attr_nest_end(nlh, pi);
    return ek__nl_send(nl, nlh, err, "set hairpin %s on bridge port %d", on ? "on" : "off", index);
}
