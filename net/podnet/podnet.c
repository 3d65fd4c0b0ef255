/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node side of the pod network: configuration, setup (forwarding, bridge `ek0` with the
 * gateway address, the VXLAN device, table `ip edgek`) and `--cleanup`. Every step is
 * idempotent, because an agent restarts under running pods and must adopt what it finds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/netfilter.h>

#include "net/podnet/podnet-internal.h"

int ek_podnet_backend_parse(const char *s, ek_podnet_backend_t *out, ek_error_t **err)
{
    static const char *const names[] = { "host-gw", "vxlan", "none" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(names); i++) {
        if (ek_streq(s, names[i])) {
            *out = (ek_podnet_backend_t)i;
            return 0;
        }
    }
    return ek_error_make(err, EINVAL,
                         "unknown pod network backend `%s` (want host-gw, vxlan "
                         "or none)",
                         s ? s : "");
}

const char *ek_podnet_backend_name(ek_podnet_backend_t b)
{
    return b == EK_PODNET_HOST_GW ? "host-gw" : b == EK_PODNET_VXLAN ? "vxlan" : "none";
}

char *ek_podnet_veth_name(const char *id, char *buf)
{
    /* FNV-1a plus a final mix: stable across restarts, so the name is found again from the
     * id alone, and ids differing in one character differ in every digit. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h = (h ^ *p) * 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    snprintf(buf, 16, EK_PODNET_VETH_PREFIX "%011llx", (unsigned long long)(h >> 20));
    return buf;
}

static int parse_config(ek_podnet_t *pn, const ek_podnet_config_t *cfg, ek_error_t **err)
{
    if (ek_cidr_parse(cfg->cluster_cidr, &pn->cluster_net, &pn->cluster_prefix, err) < 0 ||
        ek_cidr_parse(cfg->node_cidr, &pn->node_net, &pn->node_prefix, err) < 0) {
        return ek_error_wrap(err, "pod network");
    }
    pn->cluster_net.s_addr &= ek_cidr_mask(pn->cluster_prefix);
    pn->node_net.s_addr &= ek_cidr_mask(pn->node_prefix);
    if (pn->node_prefix < pn->cluster_prefix ||
        (pn->node_net.s_addr & ek_cidr_mask(pn->cluster_prefix)) != pn->cluster_net.s_addr) {
        return ek_error_make(err, EINVAL, "pod subnet %s is not inside the cluster CIDR %s",
                             cfg->node_cidr, cfg->cluster_cidr);
    }
    if (cfg->node_ip && ek_cidr_parse(cfg->node_ip, &pn->node_ip, &(int){ 0 }, err) < 0) {
        return ek_error_wrap(err, "node IP");
    }
    int dns_prefix = 0;
    if (cfg->cluster_dns && *cfg->cluster_dns &&
        (ek_cidr_parse(cfg->cluster_dns, &pn->cluster_dns, &dns_prefix, NULL) < 0 ||
         dns_prefix != 32 || !pn->cluster_dns.s_addr)) {
        return ek_error_make(err, EINVAL, "cluster DNS address `%s` is not an IPv4 address",
                             cfg->cluster_dns);
    }
    if (cfg->backend == EK_PODNET_VXLAN && !pn->node_ip.s_addr) {
        return ek_error_make(err, EINVAL, "the vxlan backend needs the node's IP");
    }
    pn->backend = cfg->backend;
    pn->mtu = cfg->mtu > 0 ? cfg->mtu : 1500;
    /* VXLAN adds 50 bytes (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14). */
    pn->pod_mtu = pn->backend == EK_PODNET_VXLAN ? pn->mtu - 50 : pn->mtu;
    return 0;
}

ek_podnet_t *ek_podnet_open(const ek_podnet_config_t *cfg, ek_error_t **err)
{
    ek_auto(ek_podnet_t) pn = ek_new(ek_podnet_t);
    pn->netns_fd = -1;
    if (parse_config(pn, cfg, err) < 0) {
        return NULL;
    }
    pn->bridge = ek_xstrdup(cfg->bridge ? cfg->bridge : EK_PODNET_BRIDGE);
    pn->uplink = cfg->uplink ? ek_xstrdup(cfg->uplink) : NULL;
    if (cfg->netns_fd >= 0 && (pn->netns_fd = fcntl(cfg->netns_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
        ek_error_make(err, errno, "duplicate the node's netns fd");
        return NULL;
    }
    pn->ipam_dir = ek_xasprintf("%s/agent/ipam", cfg->data_dir ? cfg->data_dir : ".");
    pn->ipam = ek_ipam_open(pn->ipam_dir, cfg->node_cidr, err);
    if (!pn->ipam) {
        return NULL;
    }
    pn->gateway = ek_ipam_gateway(pn->ipam);
    pn->nl = ek_nl_open(pn->netns_fd, err);
    return pn->nl ? ek_steal(&pn) : NULL;
}

void ek_podnet_close(ek_podnet_t *pn)
{
    if (!pn) {
        return;
    }
    ek_nl_close(pn->nl);
    ek_ipam_close(pn->ipam);
    if (pn->netns_fd >= 0) {
        close(pn->netns_fd);
    }
    free(pn->bridge);
    free(pn->uplink);
    free(pn->ipam_dir);
    free(pn);
}

int ek_podnet_pod_mtu(const ek_podnet_t *pn)
{
    return pn->pod_mtu;
}

struct in_addr ek_podnet_gateway(const ek_podnet_t *pn)
{
    return pn->gateway;
}

static int enable_forwarding(void *arg)
{
    /* /proc/sys/net shows the namespace of the thread that opens it. */
    ek_autoclose int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
    return fd < 0 || write(fd, "1\n", 2) != 2 ? -1 : 0;
}

/* Looks a link up; 1 found, 0 missing, -1 error. */
static int find_link(ek_nl_t *nl, const char *name, ek_nl_link_t *l, ek_error_t **err)
{
    ek_error_t *e = NULL;
    if (ek_nl_link_get(nl, name, l, &e) == 0) {
        return 1;
    }
    if (e->errnum == ENODEV) {
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

static int setup_bridge(ek_podnet_t *pn, ek_error_t **err)
{
    ek_nl_link_t l;
    int found = find_link(pn->nl, pn->bridge, &l, err);
    if (found < 0) {
        return -1;
    }
    if (found && strcmp(l.kind, "bridge") != 0) {
        return ek_error_make(err, EEXIST, "link %s exists and is a %s, not a bridge", pn->bridge,
                             l.kind[0] ? l.kind : "device");
    }
    /* A MAC of its own, derived from the gateway address: a bridge without one takes its
     * lowest port's and changes it as pods come and go, leaving every pod's ARP entry for
     * the gateway wrong. Derived, so a re-created bridge matches those entries. */
    uint8_t mac[6] = { 0x02, 0x65, 0x6b };
    memcpy(mac + 3, (const uint8_t *)&pn->gateway.s_addr + 1, 3);
    if (!found && (ek_nl_bridge_add(pn->nl, pn->bridge, pn->pod_mtu, mac, err) < 0 ||
                   ek_nl_link_get(pn->nl, pn->bridge, &l, err) < 0)) {
        return -1;
    }
    pn->bridge_index = l.index;
    ek_nl_link_change_t c = EK_NL_LINK_CHANGE_INIT;
    c.up = 1;
    c.mtu = pn->pod_mtu;
    ek_nl_batch_begin(pn->nl);
    ek_nl_link_set(pn->nl, l.index, &c, err);
    ek_nl_addr(pn->nl, EK_NL_REPLACE, l.index, pn->gateway, pn->node_prefix, err);
    return ek_nl_batch_commit(pn->nl, err);
}

static int setup_vxlan(ek_podnet_t *pn, ek_error_t **err)
{
    ek_nl_link_t l;
    int found = find_link(pn->nl, EK_PODNET_VXLAN_DEV, &l, err);
    if (found < 0) {
        return -1;
    }
    if (found && pn->backend != EK_PODNET_VXLAN) {
        return ek_nl_link_del(pn->nl, EK_PODNET_VXLAN_DEV, err);
    }
    if (pn->backend != EK_PODNET_VXLAN) {
        return 0;
    }
    /* An existing device is kept: its MAC is what the other nodes have in their FDB. */
    if (!found) {
        ek_nl_vxlan_t v = { .vni = EK_PODNET_VXLAN_VNI,
                            .port = EK_PODNET_VXLAN_PORT,
                            .local = pn->node_ip,
                            .mtu = pn->pod_mtu };
        if (pn->uplink) {
            ek_nl_link_t up;
            if (ek_nl_link_get(pn->nl, pn->uplink, &up, err) < 0) {
                return ek_error_wrap(err, "VXLAN uplink");
            }
            v.dev = up.index;
        }
        if (ek_nl_vxlan_add(pn->nl, EK_PODNET_VXLAN_DEV, &v, err) < 0 ||
            ek_nl_link_get(pn->nl, EK_PODNET_VXLAN_DEV, &l, err) < 0) {
            return -1;
        }
    }
    pn->vxlan_index = l.index;
    ek_nl_link_change_t c = EK_NL_LINK_CHANGE_INIT;
    c.up = 1;
    c.mtu = pn->pod_mtu;
    /* flannel's layout: the subnet's .0 as a /32, the next hop remote nodes route to. */
    ek_nl_batch_begin(pn->nl);
    ek_nl_addr(pn->nl, EK_NL_REPLACE, l.index, pn->node_net, 32, err);
    ek_nl_link_set(pn->nl, l.index, &c, err);
    return ek_nl_batch_commit(pn->nl, err);
}

void ek__podnet_table(ek_podnet_t *pn, ek_nft_batch_t *b)
{
    const char *t = EK_PODNET_TABLE;
    static const ek_nft_field_t hp_key[] = { EK_NFT_L4PROTO, EK_NFT_TH_DPORT };
    ek_nft_table_add(b, t);
    ek_nft_set_add(b, t, HOSTPORT_MAP, hp_key, 2, true);
    ek_nft_chain_add(b, t, "hostports");
    ek_nft_base_chain_add(b, t, "prerouting", "nat", NF_INET_PRE_ROUTING, EK_NFT_PRIO_DSTNAT);
    ek_nft_base_chain_add(b, t, "output", "nat", NF_INET_LOCAL_OUT, EK_NFT_PRIO_DSTNAT);
    ek_nft_base_chain_add(b, t, "postrouting", "nat", NF_INET_POST_ROUTING, EK_NFT_PRIO_SRCNAT);
    ek_nft_base_chain_add(b, t, "dns-prerouting", "nat", NF_INET_PRE_ROUTING, DNS_PRIO);
    ek_nft_base_chain_add(b, t, "dns-output", "nat", NF_INET_LOCAL_OUT, DNS_PRIO);
    static const char *const flush[] = { "hostports",   "prerouting",     "output",
                                         "postrouting", "dns-prerouting", "dns-output" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(flush); i++) {
        ek_nft_chain_flush(b, t, flush[i]);
    }
    ek_nft_stmt_vmap(ek_nft_rule_add(b, t, "hostports"), hp_key, 2, HOSTPORT_MAP);
    ek_nft_rule_t *r = ek_nft_rule_add(b, t, "prerouting");
    ek_nft_match_fib_daddr_local(r);
    ek_nft_stmt_verdict(r, EK_NFT_JUMP, "hostports");
    /* Local connections to 127/8 stay local: a hostPort must not hijack a loopback service. */
    r = ek_nft_rule_add(b, t, "output");
    ek_nft_match_cidr(r, EK_NFT_IP_DADDR, (struct in_addr){ htonl(0x7f000000) }, 8, true);
    ek_nft_match_fib_daddr_local(r);
    ek_nft_stmt_verdict(r, EK_NFT_JUMP, "hostports");
    /* Hairpin hostPort traffic (pod -> node:hostPort -> pod on this bridge). */
    r = ek_nft_rule_add(b, t, "postrouting");
    ek_nft_match_mark(r, EK_PODNET_MASQ_MARK, true);
    ek_nft_stmt_mark_clear(r, EK_PODNET_MASQ_MARK);
    ek_nft_stmt_masquerade(r, true);
    /* Egress: pods reaching outside the cluster CIDR (not multicast) leave as the node. */
    r = ek_nft_rule_add(b, t, "postrouting");
    ek_nft_match_cidr(r, EK_NFT_IP_SADDR, pn->cluster_net, pn->cluster_prefix, false);
    ek_nft_match_cidr(r, EK_NFT_IP_DADDR, pn->cluster_net, pn->cluster_prefix, true);
    ek_nft_match_cidr(r, EK_NFT_IP_DADDR, (struct in_addr){ htonl(0xe0000000) }, 4, true);
    ek_nft_stmt_masquerade(r, true);
    /* Cluster DNS: <cluster-dns>:53 -> <gateway>:53, from pods and from the node itself
     * (hostNetwork pods with ClusterFirstWithHostNet), so no query leaves the node. */
    static const char *const dns_chains[] = { "dns-prerouting", "dns-output" };
    static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };
    for (size_t i = 0; pn->cluster_dns.s_addr && i < EK_ARRAY_SIZE(dns_chains); i++) {
        for (size_t j = 0; j < EK_ARRAY_SIZE(protos); j++) {
            r = ek_nft_rule_add(b, t, dns_chains[i]);
            ek_nft_match_cidr(r, EK_NFT_IP_DADDR, pn->cluster_dns, 32, false);
            ek_nft_match_l4proto(r, protos[j]);
            ek_nft_match_port(r, EK_NFT_TH_DPORT, 53);
            ek_nft_stmt_dnat(r, pn->gateway, 53);
        }
    }
}

/* A /32 route for the cluster DNS address via the bridge: the node's own processes find a
 * route to it (before the output DNAT) even without a default route. */
static int setup_dns_route(ek_podnet_t *pn, ek_error_t **err)
{
    if (!pn->cluster_dns.s_addr) {
        return 0;
    }
    ek_nl_route_t rt = {
        .dst = pn->cluster_dns, .prefix = 32, .index = pn->bridge_index, .protocol = EK_RTPROT_EDGEK
    };
    return ek_nl_route(pn->nl, EK_NL_REPLACE, &rt, err);
}

int ek_podnet_setup(ek_podnet_t *pn, ek_error_t **err)
{
    if (ek_netns_run(pn->netns_fd, enable_forwarding, NULL) < 0) {
        return ek_error_make(err, errno, "enable IPv4 forwarding");
    }
    if (setup_bridge(pn, err) < 0 || setup_vxlan(pn, err) < 0 || setup_dns_route(pn, err) < 0) {
        return ek_error_wrap(err, "pod network setup");
    }
    ek_auto(ek_nft_batch_t) b = ek_nft_batch_new();
    ek__podnet_table(pn, b);
    if (ek_nft_batch_commit(b, pn->netns_fd, err) < 0) {
        return ek_error_wrap(err, "pod network setup: table ip " EK_PODNET_TABLE);
    }
    EK_LOG(EK_INFO, "podnet", "pod network ready bridge=%s backend=%s pod_mtu=%d", pn->bridge,
           ek_podnet_backend_name(pn->backend), pn->pod_mtu);
    return 0;
}

int ek_podnet_vtep_mac(ek_podnet_t *pn, uint8_t mac[6], ek_error_t **err)
{
    ek_nl_link_t l;
    if (pn->backend != EK_PODNET_VXLAN) {
        return ek_error_make(err, EINVAL, "no VXLAN device with the %s backend",
                             ek_podnet_backend_name(pn->backend));
    }
    if (ek_nl_link_get(pn->nl, EK_PODNET_VXLAN_DEV, &l, err) < 0) {
        return -1;
    }
    memcpy(mac, l.mac, 6);
    return 0;
}

struct cleanup {
    ek_nl_t *nl;
    ek_error_t **err;
    int count;
};

static int ignore_gone(int rc, ek_error_t **err, ek_error_t *e)
{
    if (rc == 0 || (e && (e->errnum == ENODEV || e->errnum == ESRCH || e->errnum == ENOENT))) {
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

static int cleanup_link(const ek_nl_link_t *l, void *arg)
{
    struct cleanup *c = arg;
    if (!ek_has_prefix(l->name, EK_PODNET_VETH_PREFIX) || strcmp(l->kind, "veth") != 0) {
        return 0;
    }
    ek_error_t *e = NULL;
    c->count++;
    int rc = ek_nl_link_del(c->nl, l->name, &e);
    return ignore_gone(rc, c->err, e);
}

static int cleanup_route(const ek_nl_route_t *r, void *arg)
{
    struct cleanup *c = arg;
    if (r->protocol != EK_RTPROT_EDGEK) {
        return 0;
    }
    ek_error_t *e = NULL;
    c->count++;
    int rc = ek_nl_route(c->nl, EK_NL_DEL, r, &e);
    return ignore_gone(rc, c->err, e);
}

int ek_podnet_cleanup(const ek_podnet_config_t *cfg, ek_error_t **err)
{
    ek_auto(ek_nl_t) nl = ek_nl_open(cfg->netns_fd, err);
    if (!nl) {
        return -1;
    }
    struct cleanup c = { .nl = nl, .err = err };
    const char *links[] = { cfg->bridge ? cfg->bridge : EK_PODNET_BRIDGE, EK_PODNET_VXLAN_DEV };
    for (size_t i = 0; i < EK_ARRAY_SIZE(links); i++) {
        ek_error_t *e = NULL;
        int rc = ek_nl_link_del(nl, links[i], &e); /* before e is read */
        if (ignore_gone(rc, err, e) < 0) {
            return ek_error_wrap(err, "pod network cleanup");
        }
    }
    if (ek_nl_link_list(nl, cleanup_link, &c, err) < 0 ||
        ek_nl_route_list(nl, cleanup_route, &c, err) < 0 ||
        ek_nft_table_delete(EK_PODNET_TABLE, cfg->netns_fd, err) < 0) {
        return ek_error_wrap(err, "pod network cleanup");
    }
    EK_LOG(EK_INFO, "podnet", "pod network removed veths_and_routes=%d", c.count);
    return 0;
}
