/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to net/podnet: the rtnetlink handle's insides and the request helpers the link,
 * address and route files share; the nftables batch's insides shared by nft.c and nft_rule.c;
 * the pod network's state shared by podnet.c, attach.c, hostport.c and remote.c.
 */
#ifndef EK_NET_PODNET_INTERNAL_H
#define EK_NET_PODNET_INTERNAL_H

#include <stdio.h> /* libnftnl/rule.h uses FILE */
#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>

#include "net/net.h"

/* ---- rtnetlink (nl.c) ---- */

/* Space for a batch; a message that does not fit sends the batch so far first. */
#define EK_NL_BATCH_LIMIT (32 * 1024)
/* Requests per sendmsg while batching (their acknowledgements must fit the receive buffer). */
#define EK_NL_BATCH_MAX_MSGS 128
/* No request of ours comes near this; the batch buffer holds the limit plus one of them. */
#define EK_NL_MSG_MAX 4096

struct ek_nl {
    struct mnl_socket *sock;
    uint32_t portid;
    uint32_t seq;
    char *buf;                     /* one request, or the batch being filled */
    struct mnl_nlmsg_batch *batch; /* non-NULL between ek_nl_batch_begin and commit */
    uint32_t batch_first_seq;      /* seq of the batch's first unsent message */
    char **desc;                   /* what each unsent message attempts, by seq - first */
    size_t n_desc, cap_desc;
    ek_error_t *batch_err; /* the first failure of this batch */
};

/* A handle on an rtnetlink socket opened elsewhere (binds it; takes it over, also on error). */
ek_nl_t *ek__nl_wrap(struct mnl_socket *sock, ek_error_t **err);
/* Starts a request of type with flags (NLM_F_REQUEST is added, and NLM_F_ACK but to gets). */
struct nlmsghdr *ek__nl_msg(ek_nl_t *nl, uint16_t type, uint16_t flags);
/*
 * Sends the request (or queues it while batching) and waits for its acknowledgement. The
 * printf-style description names what was attempted in an error. Returns 0 or -1.
 */
int ek__nl_send(ek_nl_t *nl, struct nlmsghdr *nlh, ek_error_t **err, const char *fmt, ...)
    EK_PRINTF(4, 5);
/*
 * Sends a request that is answered with data (a get, or a dump when NLM_F_DUMP is set in
 * the flags given to ek__nl_msg) and calls cb for every answer message. cb must not use nl.
 */
int ek__nl_query(ek_nl_t *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg, const char *what,
                 ek_error_t **err);
/* "10.42.1.0/24" into buf (at least 19 bytes); returns buf. */
char *ek__cidr_format(struct in_addr net, int prefix, char *buf);

/* ---- nftables (nft.c, nft_rule.c) ---- */

struct ek_nft_rule {
    struct nftnl_rule *r;
};

/* Starts a fresh rule; the batch serialises it when the next operation is added. */
void ek__nft_rule_init(ek_nft_rule_t *rule, const char *table, const char *chain);
/* Loads the concatenation of fields into consecutive registers; returns the first. */
int ek__nft_load_fields(ek_nft_rule_t *r, const ek_nft_field_t *fields, size_t n);
/* Key length in bytes (each field takes whole 32-bit registers) and nft's type id. */
uint32_t ek__nft_fields_len(const ek_nft_field_t *fields, size_t n);
uint32_t ek__nft_fields_type(const ek_nft_field_t *fields, size_t n);
/* The kernel's verdict code (NF_ACCEPT, NFT_JUMP, ...) for v (not EK_NFT_NONE). */
int32_t ek__nft_verdict_code(ek_nft_verdict_t v);

/* ---- the pod network (podnet.c, attach.c, hostport.c, remote.c) ---- */

/* The verdict map of table ip edgek: meta l4proto . th dport -> goto the port's chain. */
#define HOSTPORT_MAP "hostport-ports"

struct ek_podnet {
    char *bridge;
    char *uplink;
    char *ipam_dir;
    ek_podnet_backend_t backend;
    struct in_addr cluster_net, node_net, node_ip, gateway;
    int cluster_prefix, node_prefix;
    int mtu, pod_mtu;
    int netns_fd; /* our dup of the node's namespace, or -1 */
    ek_nl_t *nl;  /* in the node's namespace */
    ek_ipam_t *ipam;
    int bridge_index, vxlan_index;
    struct in_addr cluster_dns; /* 0.0.0.0: no DNS steering */
};

/* Base chains of table ip edgek steering the cluster DNS address to the node's server: first
 * among the nat chains (all of which run inside the kernel's NAT hook at -100, so filter chains
 * before -100 still see the original address: the service proxy must leave kube-dns alone,
 * which its service-proxy-name label tells it). */
#define DNS_PRIO (-150)

/* hostPort DNAT for one pod: add (replacing the ports' chains) or remove, one transaction. */
int ek__podnet_hostports(ek_podnet_t *pn, const ek_podnet_pod_t *pod, struct in_addr ip, bool add,
                         ek_error_t **err);
/* Fills the static part of table ip edgek into b (chains flushed and rebuilt; maps kept). */
void ek__podnet_table(ek_podnet_t *pn, ek_nft_batch_t *b);
/* Opens the pod's namespace from pod->netns_fd or pod->netns_path (caller closes). */
int ek__podnet_pod_netns(const ek_podnet_pod_t *pod, ek_error_t **err);

#endif
