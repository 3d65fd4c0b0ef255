/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pods on and off the network: attach (address, veth pair, the pod side's addresses and
 * routes, hostPorts), detach, and reconcile after an agent restart. The pod's side is
 * configured through a netlink socket opened inside its namespace, in one batch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/if_ether.h>
#include <netpacket/packet.h>
#include <sys/socket.h>

#include "net/podnet/podnet-internal.h"

#define POD_IFNAME "eth0"
/* RFC 2863 "up" (IF_OPER_UP in linux/if.h, which clashes with net/if.h). */
#define OPER_UP 6
/* The loopback device has this index in every namespace. */
#define LOOPBACK_INDEX 1

int ek__podnet_pod_netns(const ek_podnet_pod_t *pod, ek_error_t **err)
{
    if (pod->netns_fd >= 0) {
        int fd = fcntl(pod->netns_fd, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? ek_error_make(err, errno, "duplicate netns fd of pod %s", pod->id) : fd;
    }
    if (!pod->netns_path) {
        return ek_error_make(err, EINVAL, "pod %s: no network namespace given", pod->id);
    }
    int fd = open(pod->netns_path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? ek_error_make(err, errno, "open netns `%s`", pod->netns_path) : fd;
}

/* Deletes a link, treating "already gone" as done. */
static int del_link(ek_nl_t *nl, const char *name, ek_error_t **err)
{
    ek_error_t *e = NULL;
    if (ek_nl_link_del(nl, name, &e) == 0 || e->errnum == ENODEV) {
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

static int bridge_index(ek_podnet_t *pn, ek_error_t **err)
{
    if (pn->bridge_index == 0) {
        ek_nl_link_t l;
        if (ek_nl_link_get(pn->nl, pn->bridge, &l, err) < 0) {
            return ek_error_wrap(err, "pod network not set up");
        }
        pn->bridge_index = l.index;
    }
    return pn->bridge_index;
}

/* Host side: the veth with its peer born as eth0 in the pod, on the bridge, hairpin on. */
static int host_side(ek_podnet_t *pn, const char *veth, int netns, ek_error_t **err)
{
    int br = bridge_index(pn, err);
    if (br < 0 || del_link(pn->nl, veth, err) < 0) {
        return -1;
    }
    ek_nl_veth_t v = { .name = veth,
                       .peer = POD_IFNAME,
                       .peer_netns_fd = netns,
                       .mtu = pn->pod_mtu,
                       .master = br,
                       .up = true };
    ek_nl_link_t l;
    if (ek_nl_veth_add(pn->nl, &v, err) < 0 || ek_nl_link_get(pn->nl, veth, &l, err) < 0) {
        return -1;
    }
    return ek_nl_bridge_port_hairpin(pn->nl, l.index, true, err);
}

struct pod_sockets {
    struct mnl_socket *rtnl;
    int packet;
};

/* Both sockets the pod side needs, opened with one trip into its namespace (setns is slow). */
static int open_pod_sockets(void *arg)
{
    struct pod_sockets *ps = arg;
    ps->packet = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
    ps->rtnl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    return ps->rtnl ? 0 : -1;
}

/*
 * A gratuitous ARP from the pod's new interface: neighbours that cached another MAC for this
 * address (the pod's previous veth, or an earlier pod with the same address) update at once
 * instead of after their entry goes stale. Best effort, as in CNI's bridge plugin.
 */
static void announce(int fd, const ek_nl_link_t *eth, struct in_addr ip)
{
    if (fd < 0) {
        return;
    }
    struct ether_arp arp = { 0 };
    arp.arp_hrd = htons(ARPHRD_ETHER);
    arp.arp_pro = htons(ETH_P_IP);
    arp.arp_hln = 6;
    arp.arp_pln = 4;
    arp.arp_op = htons(ARPOP_REQUEST);
    memcpy(arp.arp_sha, eth->mac, 6);
    memcpy(arp.arp_spa, &ip, 4);
    memcpy(arp.arp_tpa, &ip, 4);
    struct sockaddr_ll to = { .sll_family = AF_PACKET,
                              .sll_protocol = htons(ETH_P_ARP),
                              .sll_ifindex = eth->index,
                              .sll_halen = 6 };
    memset(to.sll_addr, 0xff, 6);
    if (sendto(fd, &arp, sizeof(arp), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
        EK_LOG(EK_DEBUG, "podnet", "gratuitous ARP failed err=%s", strerror(errno));
    }
}

/* Pod side, one batch: lo up, eth0 address and up, default route via the gateway. */
static int pod_side(ek_podnet_t *pn, int netns, struct in_addr ip, ek_error_t **err)
{
    struct pod_sockets ps = { .packet = -1 };
    if (ek_netns_run(netns, open_pod_sockets, &ps) < 0) {
        int e = errno;
        if (ps.packet >= 0) {
            close(ps.packet);
        }
        return ek_error_make(err, e, "open sockets in the pod's namespace");
    }
    ek_autoclose int packet = ps.packet;
    ek_auto(ek_nl_t) nl = ek__nl_wrap(ps.rtnl, err);
    ek_nl_link_t eth;
    if (!nl || ek_nl_link_get(nl, POD_IFNAME, &eth, err) < 0) {
        return -1;
    }
    ek_nl_link_change_t up = EK_NL_LINK_CHANGE_INIT;
    up.up = 1;
    ek_nl_route_t def = { .gw = pn->gateway, .index = eth.index };
    ek_nl_batch_begin(nl);
    ek_nl_link_set(nl, LOOPBACK_INDEX, &up, err);
    ek_nl_addr(nl, EK_NL_REPLACE, eth.index, ip, pn->node_prefix, err);
    ek_nl_link_set(nl, eth.index, &up, err);
    ek_nl_route(nl, EK_NL_REPLACE, &def, err);
    if (ek_nl_batch_commit(nl, err) < 0) {
        return -1;
    }
    /* The kernel activates the device's queue asynchronously after the carrier comes up (and
     * drops what is sent before); operstate turns UP at that point. */
    for (int i = 0; i < 200 && eth.operstate != OPER_UP; i++) {
        usleep(500);
        if (ek_nl_link_get(nl, POD_IFNAME, &eth, err) < 0) {
            return -1;
        }
    }
    announce(packet, &eth, ip);
    return 0;
}

int ek_podnet_attach(ek_podnet_t *pn, const ek_podnet_pod_t *pod, struct in_addr *ip,
                     ek_error_t **err)
{
    char veth[IFNAMSIZ];
    ek_podnet_veth_name(pod->id, veth);
    ek_autoclose int netns = ek__podnet_pod_netns(pod, err);
    if (netns < 0) {
        return ek_error_wrap(err, "attach pod %s", pod->id);
    }
    if (ek_ipam_alloc(pn->ipam, pod->id, ip, err) < 0) {
        return ek_error_wrap(err, "attach pod %s", pod->id);
    }
    if (host_side(pn, veth, netns, err) < 0 || pod_side(pn, netns, *ip, err) < 0 ||
        ek__podnet_hostports(pn, pod, *ip, true, err) < 0) {
        /* Undo, so a retry starts clean and no address leaks. */
        del_link(pn->nl, veth, NULL);
        ek_ipam_release(pn->ipam, pod->id, NULL);
        return ek_error_wrap(err, "attach pod %s", pod->id);
    }
    char a[INET_ADDRSTRLEN];
    EK_LOG(EK_DEBUG, "podnet", "pod attached id=%s ip=%s veth=%s", pod->id,
           inet_ntop(AF_INET, ip, a, sizeof(a)), veth);
    return 0;
}

int ek_podnet_detach(ek_podnet_t *pn, const ek_podnet_pod_t *pod, ek_error_t **err)
{
    char veth[IFNAMSIZ];
    struct in_addr ip;
    int have = ek_ipam_lookup(pn->ipam, pod->id, &ip, err);
    if (have < 0 || (have > 0 && ek__podnet_hostports(pn, pod, ip, false, err) < 0) ||
        del_link(pn->nl, ek_podnet_veth_name(pod->id, veth), err) < 0 ||
        ek_ipam_release(pn->ipam, pod->id, err) < 0) {
        return ek_error_wrap(err, "detach pod %s", pod->id);
    }
    return 0;
}

struct stray {
    ek_podnet_t *pn;
    char (*keep)[IFNAMSIZ];
    size_t n_keep;
    ek_error_t **err;
};

static int stray_cb(const ek_nl_link_t *l, void *arg)
{
    struct stray *s = arg;
    if (!ek_has_prefix(l->name, EK_PODNET_VETH_PREFIX) || strcmp(l->kind, "veth") != 0) {
        return 0;
    }
    for (size_t i = 0; i < s->n_keep; i++) {
        if (strcmp(s->keep[i], l->name) == 0) {
            return 0;
        }
    }
    EK_LOG(EK_INFO, "podnet", "removing veth of a pod that is gone veth=%s", l->name);
    return del_link(s->pn->nl, l->name, s->err);
}

int ek_podnet_reconcile(ek_podnet_t *pn, const char *const *live, size_t n, ek_error_t **err)
{
    int released = ek_ipam_reconcile(pn->ipam, live, n, err);
    if (released < 0) {
        return -1;
    }
    struct stray s = { .pn = pn, .n_keep = n, .err = err };
    s.keep = ek_xcalloc(n ? n : 1, sizeof(*s.keep));
    for (size_t i = 0; i < n; i++) {
        ek_podnet_veth_name(live[i], s.keep[i]);
    }
    int rc = ek_nl_link_list(pn->nl, stray_cb, &s, err);
    free(s.keep);
    return rc < 0 ? ek_error_wrap(err, "reconcile pod veths") : released;
}
