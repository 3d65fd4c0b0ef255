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
/*
 * Three layers, each usable alone: rtnetlink on libmnl (ek_nl_*: links, addresses, routes,
 * neighbours, FDB), nftables on libnftnl (ek_nft_*: one netlink transaction per batch, rule
 * building helpers the service proxy reuses), and the pod network built on them (ek_ipam_*,
 * ek_podnet_*). Everything here blocks on netlink or the disk: call it from a worker thread,
 * never the loop thread. One handle is used by one thread at a time.
 *
 * Namespaces: a netns is given as an fd (-1 = the caller's own). Work inside another netns
 * happens on sockets opened there by a short-lived helper thread (ek_netns_run), so the
 * calling thread never changes namespace.
 */
#include <netinet/in.h>

/*
 * Runs fn(arg) on a helper thread that has joined the network namespace netns_fd (or directly,
 * when netns_fd < 0) and returns its result. Returns -1 with errno set if setns fails.
 */
int ek_netns_run(int netns_fd, int (*fn)(void *arg), void *arg);
/* Parses "10.42.1.0/24" (or a bare address, prefix 32). Returns 0, or -1 (EINVAL) with err. */
int ek_cidr_parse(const char *s, struct in_addr *net, int *prefix, ek_error_t **err);
/* The netmask of a prefix length, network byte order. */
uint32_t ek_cidr_mask(int prefix);
/* Parses "aa:bb:cc:dd:ee:ff". Returns 0 or -1. */
int ek_mac_parse(const char *s, uint8_t mac[6]);
/* Formats a MAC into buf (at least 18 bytes); returns buf. */
char *ek_mac_format(const uint8_t mac[6], char *buf);

/* -- rtnetlink (net/podnet/nl*.c) -- */
typedef struct ek_nl ek_nl_t;

/* A route protocol number of our own, so cleanup removes our routes and nobody else's. */
#define EK_RTPROT_EDGEK 238

/* Opens an rtnetlink socket inside netns_fd (-1: the caller's namespace). Caller closes. */
ek_nl_t *ek_nl_open(int netns_fd, ek_error_t **err);
void ek_nl_close(ek_nl_t *nl);
EK_DEFINE_CLEANUP(ek_nl_t, ek_nl_close)

/*
 * Batching: between begin and commit, change requests (not lookups) are queued and sent in as
 * few sendmsg calls as fit and return 0 at once; commit sends the rest, waits for every
 * acknowledgement and reports the first failure with what it attempted. The kernel applies
 * each message on its own (rtnetlink has no transactions): later ones still run after a
 * failure.
 */
void ek_nl_batch_begin(ek_nl_t *nl);
int ek_nl_batch_commit(ek_nl_t *nl, ek_error_t **err);

typedef struct ek_nl_link {
    int index;
    int mtu;
    unsigned flags; /* IFF_* */
    int master;     /* ifindex of the bridge it is enslaved to, 0 if none */
    int operstate;  /* IF_OPER_* (RFC 2863), set by the kernel after a carrier change */
    uint8_t mac[6];
    char name[16];
    char kind[16]; /* "bridge", "veth", "vxlan", ... ("" for none) */
} ek_nl_link_t;
typedef int (*ek_nl_link_cb)(const ek_nl_link_t *link, void *arg);

/* Looks a link up by name. A missing link fails with errnum ENODEV. */
int ek_nl_link_get(ek_nl_t *nl, const char *name, ek_nl_link_t *out, ek_error_t **err);
/* Calls cb for every link; a cb returning < 0 stops the walk (and the result is that value). */
int ek_nl_link_list(ek_nl_t *nl, ek_nl_link_cb cb, void *arg, ek_error_t **err);
/*
 * Creates a bridge (mtu 0: kernel default; mac NULL: it follows its lowest port's, changing as
 * ports come and go). Fails with EEXIST if the name is taken.
 */
int ek_nl_bridge_add(ek_nl_t *nl, const char *name, int mtu, const uint8_t *mac, ek_error_t **err);

typedef struct ek_nl_veth {
    const char *name;  /* host end, in nl's namespace */
    const char *peer;  /* other end, created directly in peer_netns_fd */
    int peer_netns_fd; /* -1: same namespace as name */
    int mtu;           /* both ends; 0 = default */
    int master;        /* ifindex of a bridge for the host end, 0 = none */
    bool up;           /* bring the host end up */
} ek_nl_veth_t;
int ek_nl_veth_add(ek_nl_t *nl, const ek_nl_veth_t *v, ek_error_t **err);

typedef struct ek_nl_vxlan {
    uint32_t vni;
    uint16_t port;        /* UDP destination port, host order (flannel/k3s: 8472) */
    struct in_addr local; /* source address of the tunnel; 0.0.0.0 = any */
    int dev;              /* ifindex of the underlying device, 0 = any */
    int mtu;              /* 0 = default */
    bool learning;        /* source MAC learning; off when the FDB is programmed */
} ek_nl_vxlan_t;
int ek_nl_vxlan_add(ek_nl_t *nl, const char *name, const ek_nl_vxlan_t *v, ek_error_t **err);
/* Deletes a link (a veth takes its peer with it). Missing: fails with ENODEV. */
int ek_nl_link_del(ek_nl_t *nl, const char *name, ek_error_t **err);

typedef struct ek_nl_link_change {
    int up;           /* 1 up, 0 down, -1 unchanged */
    int mtu;          /* 0 unchanged */
    int master;       /* bridge ifindex; 0 unchanged; -1 release from its bridge */
    int netns_fd;     /* move to this namespace; -1 unchanged */
    const char *name; /* rename (the link must be down); NULL unchanged */
} ek_nl_link_change_t;
#define EK_NL_LINK_CHANGE_INIT                                        \
    {                                                                 \
        .up = -1, .mtu = 0, .master = 0, .netns_fd = -1, .name = NULL \
    }
int ek_nl_link_set(ek_nl_t *nl, int index, const ek_nl_link_change_t *c, ek_error_t **err);
/* Hairpin (reflective relay) on a bridge port, so a pod reaches itself through a NAT. */
int ek_nl_bridge_port_hairpin(ek_nl_t *nl, int index, bool on, ek_error_t **err);

typedef enum {
    EK_NL_ADD,     /* create; fails with EEXIST if present */
    EK_NL_REPLACE, /* create or replace */
    EK_NL_DEL,     /* delete; fails with ESRCH/ENOENT/EADDRNOTAVAIL if absent */
} ek_nl_op_t;

int ek_nl_addr(ek_nl_t *nl, ek_nl_op_t op, int index, struct in_addr addr, int prefix,
               ek_error_t **err);

typedef struct ek_nl_route {
    struct in_addr dst;
    int prefix;        /* 0 with dst 0.0.0.0 = default route */
    struct in_addr gw; /* 0.0.0.0 = none (a device route) */
    int index;         /* output device, 0 = let the kernel pick from gw */
    bool onlink;       /* gw is reachable on index even though no address says so */
    int protocol;      /* RTPROT_*, EK_RTPROT_EDGEK; 0 = RTPROT_BOOT (on delete: any) */
} ek_nl_route_t;
typedef int (*ek_nl_route_cb)(const ek_nl_route_t *route, void *arg);
int ek_nl_route(ek_nl_t *nl, ek_nl_op_t op, const ek_nl_route_t *r, ek_error_t **err);
/* Calls cb for every IPv4 unicast route of the main table. */
int ek_nl_route_list(ek_nl_t *nl, ek_nl_route_cb cb, void *arg, ek_error_t **err);
/* A permanent ARP entry addr -> mac on index (EK_NL_DEL ignores mac). */
int ek_nl_neigh(ek_nl_t *nl, ek_nl_op_t op, int index, struct in_addr addr, const uint8_t mac[6],
                ek_error_t **err);
/* A permanent forwarding entry on a vxlan device: frames for mac go to the VTEP at dst. */
int ek_nl_fdb(ek_nl_t *nl, ek_nl_op_t op, int index, const uint8_t mac[6], struct in_addr dst,
              ek_error_t **err);

/* -- nftables (net/podnet/nft*.c) -- */
/*
 * A batch is one nftables transaction: every object added to it is applied by the kernel
 * all-or-nothing at commit. Builders never fail (out of memory aborts; misuse asserts); the
 * kernel's verdict comes at commit, naming the operation that failed. The family is IPv4
 * (`ip`) throughout. Nothing here ever flushes the ruleset or names a table it was not given.
 */
typedef struct ek_nft_batch ek_nft_batch_t;
typedef struct ek_nft_rule ek_nft_rule_t;

/* The packet fields a rule matches or a map is keyed on (their nft types in brackets). */
typedef enum {
    EK_NFT_IP_SADDR, /* ip saddr [ipv4_addr] */
    EK_NFT_IP_DADDR, /* ip daddr [ipv4_addr] */
    EK_NFT_L4PROTO,  /* meta l4proto [inet_proto] */
    EK_NFT_TH_SPORT, /* th sport [inet_service] */
    EK_NFT_TH_DPORT, /* th dport [inet_service] */
    EK_NFT_MARK,     /* meta mark [mark] */
    EK_NFT_NUMGEN,   /* only as a map key: integer 0..mod-1 (numgen) */
} ek_nft_field_t;

/* A set or map key value: the fields' values, concatenated in order. */
typedef struct ek_nft_key {
    uint8_t data[16];
    uint32_t len;     /* each field padded to 32 bits, as in registers */
    uint32_t nfields; /* a single-field key is sent unpadded */
    uint32_t first_len;
} ek_nft_key_t;
void ek_nft_key_ip(ek_nft_key_t *k, struct in_addr a);
void ek_nft_key_proto(ek_nft_key_t *k, uint8_t proto);
void ek_nft_key_port(ek_nft_key_t *k, uint16_t port); /* host order */
void ek_nft_key_u32(ek_nft_key_t *k, uint32_t v);     /* mark, numgen value */

/* Verdicts for ek_nft_stmt_verdict and map elements (EK_NFT_NONE: a plain set's element). */
typedef enum {
    EK_NFT_NONE,
    EK_NFT_ACCEPT,
    EK_NFT_DROP,
    EK_NFT_RETURN,
    EK_NFT_JUMP,
    EK_NFT_GOTO,
} ek_nft_verdict_t;

/* Standard hook priorities (nft's names). */
#define EK_NFT_PRIO_DSTNAT (-100)
#define EK_NFT_PRIO_FILTER 0
#define EK_NFT_PRIO_SRCNAT 100

ek_nft_batch_t *ek_nft_batch_new(void);
void ek_nft_batch_free(ek_nft_batch_t *b);
EK_DEFINE_CLEANUP(ek_nft_batch_t, ek_nft_batch_free)
/* Number of operations queued. */
size_t ek_nft_batch_len(const ek_nft_batch_t *b);
/*
 * Sends the batch as one transaction in netns_fd (-1: the caller's). All or nothing: on failure
 * nothing changed and err names the first operation the kernel refused ("add rule ip edgek
 * postrouting: ..."). The batch is emptied either way and can be reused.
 */
int ek_nft_batch_commit(ek_nft_batch_t *b, int netns_fd, ek_error_t **err);
/*
 * A nftables netlink socket kept for many commits, for callers that commit often (the service
 * proxy): closing one makes the kernel wait for an RCU grace period (~10 ms here), which would
 * otherwise be part of every commit. One thread at a time.
 */
typedef struct ek_nft_sock ek_nft_sock_t;
ek_nft_sock_t *ek_nft_sock_open(int netns_fd, ek_error_t **err);
void ek_nft_sock_close(ek_nft_sock_t *s);
/* ek_nft_batch_commit on an open socket. */
int ek_nft_batch_commit_on(ek_nft_batch_t *b, ek_nft_sock_t *s, ek_error_t **err);

/* Creates the table if missing (an existing one is kept, with its contents). */
void ek_nft_table_add(ek_nft_batch_t *b, const char *table);
/* Deletes the table and everything in it (fails at commit with ENOENT if missing). */
void ek_nft_table_del(ek_nft_batch_t *b, const char *table);
/* Regular chain (a jump/goto target); kept if it exists. */
void ek_nft_chain_add(ek_nft_batch_t *b, const char *table, const char *chain);
/* Base chain: type "nat" or "filter", hook NF_INET_*, priority; policy accept. */
void ek_nft_base_chain_add(ek_nft_batch_t *b, const char *table, const char *chain,
                           const char *type, int hook, int prio);
void ek_nft_chain_flush(ek_nft_batch_t *b, const char *table, const char *chain);
/* The chain must be empty or flushed earlier in the batch, and unreferenced. */
void ek_nft_chain_del(ek_nft_batch_t *b, const char *table, const char *chain);

/* A set keyed by the concatenation of fields; verdict_map: its elements carry verdicts. */
void ek_nft_set_add(ek_nft_batch_t *b, const char *table, const char *set,
                    const ek_nft_field_t *fields, size_t nfields, bool verdict_map);
void ek_nft_set_del(ek_nft_batch_t *b, const char *table, const char *set);
/* Removes every element. */
void ek_nft_set_flush(ek_nft_batch_t *b, const char *table, const char *set);
/* For a verdict map, v and chain (JUMP/GOTO) are the element's verdict; EK_NFT_NONE for sets. */
void ek_nft_elem_add(ek_nft_batch_t *b, const char *table, const char *set, const ek_nft_key_t *k,
                     ek_nft_verdict_t v, const char *chain);
void ek_nft_elem_del(ek_nft_batch_t *b, const char *table, const char *set, const ek_nft_key_t *k);
/* n elements at once (a few messages instead of n). v may be NULL (a plain set); chains[i] for
 * JUMP/GOTO verdicts. */
void ek_nft_elems_add(ek_nft_batch_t *b, const char *table, const char *set,
                      const ek_nft_key_t *keys, size_t n, const ek_nft_verdict_t *v,
                      const char *const *chains);
/* A set whose elements rules add and refresh (`flags dynamic,timeout; timeout N`). */
void ek_nft_set_add_timeout(ek_nft_batch_t *b, const char *table, const char *set,
                            const ek_nft_field_t *fields, size_t nfields, uint64_t timeout_ms);

/*
 * Appends a rule to chain; add matches then statements to the returned builder (borrowed; it
 * stays valid until the next call on the batch). Each helper reads as the nft syntax it makes.
 */
ek_nft_rule_t *ek_nft_rule_add(ek_nft_batch_t *b, const char *table, const char *chain);
/* ip saddr|daddr [!=] net/prefix */
void ek_nft_match_cidr(ek_nft_rule_t *r, ek_nft_field_t f, struct in_addr net, int prefix,
                       bool negate);
/* meta l4proto proto */
void ek_nft_match_l4proto(ek_nft_rule_t *r, uint8_t proto);
/* th sport|dport port (host order) */
void ek_nft_match_port(ek_nft_rule_t *r, ek_nft_field_t f, uint16_t port);
/* meta mark & bits == bits (set) or == 0 (!set) */
void ek_nft_match_mark(ek_nft_rule_t *r, uint32_t bits, bool set);
/* numgen random mod mod == 0: true with probability 1/mod */
void ek_nft_match_numgen_zero(ek_nft_rule_t *r, uint32_t mod);
/* fib daddr type local: the packet is for one of this node's addresses */
void ek_nft_match_fib_daddr_local(ek_nft_rule_t *r);
/* fib saddr type local: the packet comes from one of this node's addresses */
void ek_nft_match_fib_saddr_local(ek_nft_rule_t *r);
/* ct state new */
void ek_nft_match_ct_new(ek_nft_rule_t *r);
/* iifname|oifname [!=] name */
void ek_nft_match_ifname(ek_nft_rule_t *r, bool out, const char *name, bool negate);
/* f1 . f2 ... [!=] @set */
void ek_nft_match_set(ek_nft_rule_t *r, const ek_nft_field_t *fields, size_t n, const char *set,
                      bool negate);
void ek_nft_stmt_counter(ek_nft_rule_t *r);
/* meta mark set mark | bits */
void ek_nft_stmt_mark_set(ek_nft_rule_t *r, uint32_t bits);
/* meta mark set mark & ~bits */
void ek_nft_stmt_mark_clear(ek_nft_rule_t *r, uint32_t bits);
void ek_nft_stmt_masquerade(ek_nft_rule_t *r, bool fully_random);
/* dnat to addr[:port] (port 0: keep the destination port) */
void ek_nft_stmt_dnat(ek_nft_rule_t *r, struct in_addr addr, uint16_t port);
/* f1 . f2 ... vmap @map */
void ek_nft_stmt_vmap(ek_nft_rule_t *r, const ek_nft_field_t *fields, size_t n, const char *map);
/* numgen random mod mod vmap @map (map keyed by EK_NFT_NUMGEN) */
void ek_nft_stmt_numgen_vmap(ek_nft_rule_t *r, uint32_t mod, const char *map);
/* update @set { f1 . f2 ... } (adds the key or refreshes its timeout) */
void ek_nft_stmt_set_update(ek_nft_rule_t *r, const ek_nft_field_t *fields, size_t n,
                            const char *set);
/* reject (ICMP port unreachable, which a TCP connect reports as "connection refused") */
void ek_nft_stmt_reject(ek_nft_rule_t *r);
/* reject with tcp reset (only after a TCP match). A reset refuses a connect() at once even when
 * it arrives while connect() still holds the socket, where an ICMP error only becomes a soft
 * error and the SYN is retried a second later (a pod reaching its own node over a veth). */
void ek_nft_stmt_reject_tcp_reset(ek_nft_rule_t *r);
void ek_nft_stmt_verdict(ek_nft_rule_t *r, ek_nft_verdict_t v, const char *chain);

/* Whether table exists in netns_fd. Returns 1, 0, or -1 with err. */
int ek_nft_table_exists(const char *table, int netns_fd, ek_error_t **err);
/* Deletes table in netns_fd if it exists (idempotent; other tables are never touched). */
int ek_nft_table_delete(const char *table, int netns_fd, ek_error_t **err);

/* -- IPAM (net/podnet/ipam.c) -- */
/*
 * Addresses for one node's pod subnet, like CNI host-local: one file per allocated address
 * under dir (named by the address, holding the owner's id), `last_reserved_ip` for round-robin,
 * a lock file serialising allocators across processes. The network address, the gateway (.1)
 * and the broadcast address are never handed out.
 */
typedef struct ek_ipam ek_ipam_t;

/* Creates dir if needed. cidr is the node's pod subnet ("10.42.1.0/24", prefix 16..30). */
ek_ipam_t *ek_ipam_open(const char *dir, const char *cidr, ek_error_t **err);
void ek_ipam_close(ek_ipam_t *ipam);
EK_DEFINE_CLEANUP(ek_ipam_t, ek_ipam_close)
/* The gateway address (first host address of the subnet). */
struct in_addr ek_ipam_gateway(const ek_ipam_t *ipam);
int ek_ipam_prefix(const ek_ipam_t *ipam);
/*
 * Allocates an address for id, starting after the last one handed out (so a crash-looping pod
 * does not get its old address back at once). An id that already holds one gets it again.
 * Fails with ENOSPC when the subnet is full.
 */
int ek_ipam_alloc(ek_ipam_t *ipam, const char *id, struct in_addr *out, ek_error_t **err);
/* Releases every address id holds. Returns how many (0 is not an error). */
int ek_ipam_release(ek_ipam_t *ipam, const char *id, ek_error_t **err);
/* The address id holds: 1 found, 0 none, -1 error. */
int ek_ipam_lookup(ek_ipam_t *ipam, const char *id, struct in_addr *out, ek_error_t **err);
/*
 * Releases the addresses of every id not in live[0..n) (pods that died while the agent was
 * down) and files outside the subnet. Returns how many were released.
 */
int ek_ipam_reconcile(ek_ipam_t *ipam, const char *const *live, size_t n, ek_error_t **err);

/* -- the pod network (net/podnet/podnet.c, remote.c, hostport.c) -- */
typedef enum {
    EK_PODNET_HOST_GW,
    EK_PODNET_VXLAN,
    EK_PODNET_NONE,
} ek_podnet_backend_t;

/* "host-gw", "vxlan", "none". Returns 0 or -1 (EINVAL) with err. */
int ek_podnet_backend_parse(const char *s, ek_podnet_backend_t *out, ek_error_t **err);
const char *ek_podnet_backend_name(ek_podnet_backend_t b);

#define EK_PODNET_BRIDGE     "ek0"
#define EK_PODNET_VXLAN_DEV  "ek.vxlan"
#define EK_PODNET_VXLAN_VNI  1
#define EK_PODNET_VXLAN_PORT 8472
#define EK_PODNET_TABLE      "edgek"
/* Host ends of pod veths are named EK_PODNET_VETH_PREFIX + 11 hex digits of the pod id's hash. */
#define EK_PODNET_VETH_PREFIX "ekv"
/* Marks hairpin hostPort traffic for masquerade (CNI portmap's bit; the proxy uses 0x4000). */
#define EK_PODNET_MASQ_MARK 0x2000

typedef struct ek_podnet_config {
    const char *data_dir;     /* IPAM lives in <data_dir>/agent/ipam */
    const char *cluster_cidr; /* "10.42.0.0/16" */
    const char *node_cidr;    /* this node's pod subnet, "10.42.1.0/24" */
    const char *node_ip;      /* this node's address (VXLAN source); may be NULL otherwise */
    const char *uplink;       /* device carrying node_ip (VXLAN dev); NULL = any */
    ek_podnet_backend_t backend;
    int mtu;            /* the uplink's MTU (0: 1500); pods get mtu - 50 with VXLAN */
    int netns_fd;       /* the node's network namespace (tests); -1 = the caller's */
    const char *bridge; /* NULL: EK_PODNET_BRIDGE */
    /* The cluster DNS address ("10.43.0.10"): its port 53 (UDP and TCP) is steered to the
     * gateway's port 53, where the node's own DNS server listens, for pods (prerouting) and
     * the node's processes (output, with a /32 route via the bridge so the address is
     * reachable without a default route). NULL: no steering. */
    const char *cluster_dns;
} ek_podnet_config_t;

typedef struct ek_podnet ek_podnet_t;

typedef struct ek_podnet_hostport {
    uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP */
    uint16_t host_port;
    uint16_t container_port;
    struct in_addr host_ip; /* 0.0.0.0: every node address */
} ek_podnet_hostport_t;

typedef struct ek_podnet_pod {
    const char *id;         /* pod (sandbox) id: the IPAM owner and the veth name's source */
    int netns_fd;           /* the pod's network namespace, or -1 and netns_path */
    const char *netns_path; /* e.g. /proc/<shim>/ns/net or a bind-mounted netns file */
    const ek_podnet_hostport_t *hostports;
    size_t n_hostports;
} ek_podnet_pod_t;

/* A remote node: its pod subnet, its address and (VXLAN) its VTEP MAC. */
typedef struct ek_podnet_remote {
    struct in_addr pod_net;
    int pod_prefix;
    struct in_addr node_ip;
    uint8_t vtep_mac[6];
} ek_podnet_remote_t;

/* Parses the configuration and opens IPAM and netlink; changes nothing yet. Caller closes. */
ek_podnet_t *ek_podnet_open(const ek_podnet_config_t *cfg, ek_error_t **err);
void ek_podnet_close(ek_podnet_t *pn);
EK_DEFINE_CLEANUP(ek_podnet_t, ek_podnet_close)
/*
 * Makes the node ready for pods, idempotently (an agent restart keeps running pods' links,
 * addresses and hostPorts): IPv4 forwarding on, the bridge with the gateway address, the VXLAN
 * device for that backend (removed for the others), and table `ip edgek` with the egress
 * masquerade and hostPort chains, and the cluster DNS steering when cfg->cluster_dns is set.
 */
int ek_podnet_setup(ek_podnet_t *pn, ek_error_t **err);
/* The pods' MTU (the uplink's, less 50 for VXLAN). */
int ek_podnet_pod_mtu(const ek_podnet_t *pn);
/* The bridge's address (the pods' gateway, the subnet's first host address). */
struct in_addr ek_podnet_gateway(const ek_podnet_t *pn);
/* The VXLAN device's MAC (for the Node's annotation). Fails unless set up with VXLAN. */
int ek_podnet_vtep_mac(ek_podnet_t *pn, uint8_t mac[6], ek_error_t **err);
/*
 * Connects a pod: an address from IPAM, a veth pair (host end on the bridge, hairpin on; `eth0`
 * in the pod's namespace with the address, up, default route via the gateway), loopback up and
 * the pod's hostPort DNAT rules. Attaching the same id again recreates its veth with the same
 * address. hostNetwork pods are not attached: they use the node's namespace as it is.
 */
int ek_podnet_attach(ek_podnet_t *pn, const ek_podnet_pod_t *pod, struct in_addr *ip,
                     ek_error_t **err);
/*
 * Disconnects a pod: removes its hostPort rules (pod->hostports), its veth (if still there;
 * the pod's namespace may be gone already) and releases its address. Idempotent.
 */
int ek_podnet_detach(ek_podnet_t *pn, const ek_podnet_pod_t *pod, ek_error_t **err);
/*
 * After an agent restart, given the ids of the pods still alive: releases the addresses of
 * the others and removes veths on the bridge that belong to none of them. Returns how many
 * addresses were released.
 */
int ek_podnet_reconcile(ek_podnet_t *pn, const char *const *live, size_t n, ek_error_t **err);
/* Routes (host-gw) or route + neighbour + FDB entry (VXLAN) for a remote node; idempotent. */
int ek_podnet_remote_add(ek_podnet_t *pn, const ek_podnet_remote_t *r, ek_error_t **err);
/* Removes them; entries already gone are not an error. */
int ek_podnet_remote_del(ek_podnet_t *pn, const ek_podnet_remote_t *r, ek_error_t **err);
/*
 * `edgek agent --cleanup`: removes the bridge, the VXLAN device, every pod veth (by its
 * prefix), every route with protocol EK_RTPROT_EDGEK and table `ip edgek` from the node's
 * namespace. Touches nothing else; IPAM files stay (reconcile frees them). Idempotent.
 */
int ek_podnet_cleanup(const ek_podnet_config_t *cfg, ek_error_t **err);
/* The host end's name for a pod id (buf at least 16 bytes); returns buf. */
char *ek_podnet_veth_name(const char *id, char *buf);

/* ---- service proxy (net/proxy) ---- */

/*
 * kube-proxy's nftables mode (KEP-3866) for one node, in table `ip edgek-proxy` and nowhere
 * else: ClusterIPs, NodePorts (on the node's addresses), LoadBalancer ingress IPs and
 * externalIPs to ready endpoints chosen at random (numgen), traffic policies (Local: only this
 * node's endpoints, client address kept), ClientIP session affinity, hairpin, masquerade only
 * where needed (mark 0x4000), TCP/UDP/SCTP, reject for services without endpoints. Headless
 * and ExternalName services, and those labelled service.kubernetes.io/service-proxy-name, are
 * left alone.
 *
 * Everything here is for the loop thread. Changes are coalesced for min_sync_ms and applied as
 * one nftables transaction on a libuv worker thread: only the chains and map elements of the
 * services that changed (a full rebuild at start, on ek_proxy_resync and after a failure).
 * Stale UDP conntrack entries of removed endpoints are deleted after each sync (ctnetlink).
 */
typedef struct ek_proxy ek_proxy_t;

typedef struct ek_proxy_config {
    const char *node_name;        /* endpoints with this nodeName are local */
    const ek_strlist_t *node_ips; /* NodePorts answer on these; NULL/empty: on every local
                                     address but 127.0.0.0/8 (fib daddr type local) */
    const char *cluster_cidr;     /* pod range "10.42.0.0/16": ClusterIP traffic from outside it
                                     is masqueraded, pod traffic to external IPs is not subject
                                     to externalTrafficPolicy; NULL: neither */
    const char *service_cidr;     /* "10.43.0.0/16": traffic to unallocated ClusterIPs is
                                     dropped; NULL: no such rule */
    int netns_fd;                 /* the node's namespace (dup'ed); -1: the calling thread's */
    const char *table;            /* NULL: EK_PROXY_TABLE */
    uint32_t min_sync_ms;         /* coalescing delay after a change; 0: 10 */
    uint32_t stale_chain_ms;      /* how long unused chains wait, flushed, before they are
                                     deleted (kernels before 6.2 need the delay); 0: 1000 */
} ek_proxy_config_t;

#define EK_PROXY_TABLE "edgek-proxy"

typedef struct ek_proxy_stats {
    uint64_t syncs_full, syncs_partial, sync_failures;
    uint64_t conntrack_deleted;
    size_t last_messages; /* netlink messages of the last transaction */
    double last_plan_ms;  /* diffing on the loop thread */
    double last_apply_ms; /* the transaction (and conntrack cleanup) on the worker */
    bool last_full;
    size_t services, endpoints; /* service ports and endpoint chains programmed */
    size_t chains, rules, elements, sets;
} ek_proxy_stats_t;

/* After every sync attempt (err NULL on success; borrowed). */
typedef void (*ek_proxy_sync_cb)(const ek_proxy_stats_t *st, const ek_error_t *err, void *data);

/* A proxy that syncs nothing until ek_proxy_start. Caller closes with ek_proxy_close. */
ek_proxy_t *ek_proxy_new(uv_loop_t *loop, const ek_proxy_config_t *cfg, ek_error_t **err);
/* Begins syncing with a full rebuild (replacing any table a previous run left). Call once the
 * Service and EndpointSlice informers have synced, so the first ruleset is complete. */
void ek_proxy_start(ek_proxy_t *p);
/* Rebuilds the whole table in one transaction, soon. */
void ek_proxy_resync(ek_proxy_t *p);
/* The node's addresses changed: NodePorts follow (a full rebuild). */
int ek_proxy_set_node_ips(ek_proxy_t *p, const ek_strlist_t *node_ips, ek_error_t **err);
void ek_proxy_on_sync(ek_proxy_t *p, ek_proxy_sync_cb cb, void *data);
/*
 * Stops syncing, waits for a transaction in flight, frees p and calls done (may be NULL) from
 * the loop. The table stays: traffic keeps flowing while the agent restarts, and the next
 * start rebuilds it.
 */
void ek_proxy_close(ek_proxy_t *p, void (*done)(void *data), void *data);
/* Deletes the proxy's table in netns_fd (`--cleanup`); idempotent. Blocks on netlink. */
int ek_proxy_cleanup(int netns_fd, const char *table, ek_error_t **err);

/* Informer events; the objects are borrowed (the proxy keeps what it needs). Upserts fail
 * (400) only for objects without a name or namespace, or with a '/' in one. */
int ek_proxy_service_upsert(ek_proxy_t *p, const json_t *svc, ek_error_t **err);
void ek_proxy_service_delete(ek_proxy_t *p, const json_t *svc);
int ek_proxy_endpointslice_upsert(ek_proxy_t *p, const json_t *slice, ek_error_t **err);
void ek_proxy_endpointslice_delete(ek_proxy_t *p, const json_t *slice);
/* Dispatches on kind (Service, EndpointSlice; others are ignored). */
int ek_proxy_object_upsert(ek_proxy_t *p, const json_t *obj, ek_error_t **err);
void ek_proxy_object_delete(ek_proxy_t *p, const json_t *obj);
/* Handler sets for the agent's Service and EndpointSlice (discovery.k8s.io/v1) informers, with
 * the proxy as data; malformed objects are logged (component "proxy") and skipped. */
extern const ek_informer_handlers_t ek_proxy_service_handlers;
extern const ek_informer_handlers_t ek_proxy_endpointslice_handlers;

void ek_proxy_get_stats(const ek_proxy_t *p, ek_proxy_stats_t *st);
/* Prometheus text for the agent's /metrics: kube-proxy's sync duration histogram and counts,
 * and the size of the ruleset. Appended to out. */
void ek_proxy_metrics(const ek_proxy_t *p, ek_buf_t *out);
/* The whole ruleset the proxy wants now, as the nft script of a full rebuild (the benchmark's
 * `nft -f` peer, debugging). Caller frees. */
char *ek_proxy_ruleset_script(ek_proxy_t *p);

/* ---- cluster DNS (net/dns) ---- */

/*
 * The cluster DNS server every agent runs on its loop: it answers the cluster domain from an
 * index the agent feeds with informer events (Kubernetes DNS specification 1.1.0, as CoreDNS's
 * kubernetes plugin answers it with `pods insecure`), and forwards every other name to the
 * host's upstream resolvers through a small cache. UDP and TCP; EDNS0 payload sizes; answers
 * over UDP beyond the client's size are truncated with TC set.
 *
 * Everything here is for the loop thread only. The upsert/delete functions take the objects an
 * informer delivers (borrowed, not kept: the server copies the few fields it needs).
 */
typedef struct ek_dns ek_dns_t;

typedef struct ek_dns_config {
    const char *domain;            /* cluster domain; NULL: "cluster.local" */
    uint32_t ttl;                  /* TTL of cluster answers in s; 0: 5 (CoreDNS's default) */
    const ek_strlist_t *upstreams; /* "IP", "IP:PORT" or "[IPv6]:PORT"; NULL/empty: none, so
                                      names outside the cluster get SERVFAIL at once */
    uint32_t upstream_timeout_ms;  /* per upstream try; 0: 2000 */
    size_t cache_entries;          /* forwarded answers kept; 0: 4096 */
    size_t cache_bytes;            /* and their bytes; 0: 4 MiB */
    uint32_t cache_max_ttl;        /* cap on the TTL of cached answers in s; 0: 30 (k3s's
                                      `cache 30`) */
    const ek_strlist_t *ns_ips;    /* addresses of the domain's NS name (ns.dns.<domain>),
                                      usually the cluster DNS service IP; may be NULL */
} ek_dns_config_t;

/* A server with no listener yet. Caller owns it; free with ek_dns_close. */
ek_dns_t *ek_dns_new(uv_loop_t *loop, const ek_dns_config_t *cfg, ek_error_t **err);
/* Adds a UDP and a TCP listener on "IP:PORT" or "[IPv6]:PORT" (e.g. "10.43.0.10:53"). */
int ek_dns_listen(ek_dns_t *d, const char *addr, ek_error_t **err);
/* The port a listener got (for "IP:0"), by the order of ek_dns_listen calls; 0 if none. */
int ek_dns_listen_port(const ek_dns_t *d, size_t idx);
/*
 * Closes the listeners and every pending query, then frees d and calls done (if not NULL)
 * from the loop once all its handles are closed.
 */
void ek_dns_close(ek_dns_t *d, void (*done)(void *data), void *data);

/*
 * The nameservers of a resolv.conf (`nameserver` lines, as glibc reads them) appended to out
 * as "IP:53" / "[IPv6]:53" strings. A file without any is not an error (out stays empty).
 */
int ek_dns_resolv_conf(const char *path, ek_strlist_t *out, ek_error_t **err);

/* Informer events. Upserts fail (400) only for objects without name/namespace. */
int ek_dns_namespace_upsert(ek_dns_t *d, const json_t *ns, ek_error_t **err);
void ek_dns_namespace_delete(ek_dns_t *d, const json_t *ns);
int ek_dns_service_upsert(ek_dns_t *d, const json_t *svc, ek_error_t **err);
void ek_dns_service_delete(ek_dns_t *d, const json_t *svc);
int ek_dns_endpointslice_upsert(ek_dns_t *d, const json_t *slice, ek_error_t **err);
void ek_dns_endpointslice_delete(ek_dns_t *d, const json_t *slice);
int ek_dns_pod_upsert(ek_dns_t *d, const json_t *pod, ek_error_t **err);
void ek_dns_pod_delete(ek_dns_t *d, const json_t *pod);
/* Dispatches on the object's kind (Namespace, Service, EndpointSlice, Pod; others ignored). */
int ek_dns_object_upsert(ek_dns_t *d, const json_t *obj, ek_error_t **err);

/*
 * Informer handler sets that keep the index current: add them to the agent's informers for
 * Namespaces, Services, EndpointSlices (discovery.k8s.io/v1) and Pods, with the server as the
 * data pointer: `ek_informer_add_handlers(inf, &ek_dns_service_handlers, d)`. The Pod informer
 * is optional: only PTR answers for pod IPs outside any endpoint, and endpoints whose slice has
 * no hostname, use it. A malformed object is logged (component "dns") and skipped.
 */
extern const ek_informer_handlers_t ek_dns_namespace_handlers;
extern const ek_informer_handlers_t ek_dns_service_handlers;
extern const ek_informer_handlers_t ek_dns_endpointslice_handlers;
extern const ek_informer_handlers_t ek_dns_pod_handlers;

typedef struct ek_dns_stats {
    uint64_t queries;    /* messages that parsed as queries */
    uint64_t cluster;    /* answered from the index */
    uint64_t forwarded;  /* sent upstream (after coalescing) */
    uint64_t cache_hits; /* answered from the cache */
    uint64_t servfail;   /* SERVFAIL because no upstream answered */
    uint64_t errors;     /* FORMERR/NOTIMP/REFUSED answers and dropped messages */
    uint64_t truncated;  /* UDP answers sent with TC */
    size_t cache_entries;
    size_t pending; /* questions waiting for an upstream */
} ek_dns_stats_t;

void ek_dns_get_stats(const ek_dns_t *d, ek_dns_stats_t *st);

#endif
