/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostPort: connections to a node address on (protocol, hostPort) are DNATed to the pod.
 * Table `ip edgek` holds a verdict map keyed by `meta l4proto . th dport` whose elements
 * jump to one chain per port (`hp-tcp-8080`), so adding or removing a pod's ports touches only
 * its own elements and chains, in one transaction. The scheduler keeps two pods from taking
 * the same (protocol, hostPort) on one node; a port is not told apart by hostIP here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#include "net/podnet/podnet-internal.h"

static const char *proto_name(uint8_t p)
{
    return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : p == IPPROTO_SCTP ? "sctp" : "ip";
}

static void port_rules(ek_podnet_t *pn, ek_nft_batch_t *b, const char *chain,
                       const ek_podnet_hostport_t *hp, struct in_addr ip)
{
    const char *t = EK_PODNET_TABLE;
    ek_nft_chain_add(b, t, chain);
    ek_nft_chain_flush(b, t, chain);
    /* From a pod on this bridge the answer would bypass the NAT: masquerade it. */
    ek_nft_rule_t *r = ek_nft_rule_add(b, t, chain);
    if (hp->host_ip.s_addr) {
        ek_nft_match_cidr(r, EK_NFT_IP_DADDR, hp->host_ip, 32, false);
    }
    ek_nft_match_cidr(r, EK_NFT_IP_SADDR, pn->node_net, pn->node_prefix, false);
    ek_nft_stmt_mark_set(r, EK_PODNET_MASQ_MARK);
    r = ek_nft_rule_add(b, t, chain);
    if (hp->host_ip.s_addr) {
        ek_nft_match_cidr(r, EK_NFT_IP_DADDR, hp->host_ip, 32, false);
    }
    ek_nft_stmt_dnat(r, ip, hp->container_port ? hp->container_port : hp->host_port);
}

static int one_port(ek_podnet_t *pn, const ek_podnet_hostport_t *hp, struct in_addr ip, bool add,
                    ek_error_t **err)
{
    char chain[32];
    snprintf(chain, sizeof(chain), "hp-%s-%u", proto_name(hp->proto), hp->host_port);
    ek_nft_key_t k = { 0 };
    ek_nft_key_proto(&k, hp->proto);
    ek_nft_key_port(&k, hp->host_port);
    ek_auto(ek_nft_batch_t) b = ek_nft_batch_new();
    if (add) {
        port_rules(pn, b, chain, hp, ip);
        ek_nft_elem_add(b, EK_PODNET_TABLE, HOSTPORT_MAP, &k, EK_NFT_GOTO, chain);
    } else {
        ek_nft_elem_del(b, EK_PODNET_TABLE, HOSTPORT_MAP, &k);
        ek_nft_chain_flush(b, EK_PODNET_TABLE, chain);
        ek_nft_chain_del(b, EK_PODNET_TABLE, chain);
    }
    ek_error_t *e = NULL;
    if (ek_nft_batch_commit(b, pn->netns_fd, &e) == 0 || (!add && e->errnum == ENOENT)) {
        ek_error_free(e); /* removing what is already gone is done */
        return 0;
    }
    if (err && !*err) {
        *err = e;
    } else {
        ek_error_free(e);
    }
    return ek_error_wrap(err, "hostPort %s/%u", proto_name(hp->proto), hp->host_port);
}

int ek__podnet_hostports(ek_podnet_t *pn, const ek_podnet_pod_t *pod, struct in_addr ip, bool add,
                         ek_error_t **err)
{
    /* One transaction per port, so a removal can pass over ports that are already gone. */
    for (size_t i = 0; i < pod->n_hostports; i++) {
        const ek_podnet_hostport_t *hp = &pod->hostports[i];
        if (hp->host_port == 0) {
            continue;
        }
        if (one_port(pn, hp, ip, add, err) < 0) {
            return -1;
        }
    }
    return 0;
}
