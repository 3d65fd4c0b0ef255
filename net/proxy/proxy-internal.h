/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to net/proxy. The proxy keeps three things per Service ("bucket", keyed "ns/name"):
 * the Service and its EndpointSlices reduced to what rules need (model.c), what its rules
 * should be right now (rules.c computes it on demand, never stores it), and what is in the
 * kernel for it (the "applied" state: chain names with a hash of their rules, affinity sets,
 * map elements). A sync diffs desired against applied for the buckets that changed and writes
 * the difference as a plan (plan.c): a flat list of operations that becomes one nftables
 * transaction on a worker thread (emit.c) or an nft script (the benchmark's peer, tests).
 */
#ifndef EK_NET_PROXY_INTERNAL_H
#define EK_NET_PROXY_INTERNAL_H

#include <netinet/in.h>
#include <uv.h>

#include "net/net.h"

#define PROXY_MASQ_MARK 0x4000u

/* The shared maps and sets of the table (kube-proxy's names). */
enum {
    MAP_SERVICE_IPS,           /* ip . proto . port : verdict */
    MAP_SERVICE_NODEPORTS,     /* proto . port : verdict */
    MAP_NO_ENDPOINT_SERVICES,  /* ip . proto . port : verdict */
    MAP_NO_ENDPOINT_NODEPORTS, /* proto . port : verdict */
    MAP_FIREWALL_IPS,          /* ip . proto . port : verdict */
    SET_CLUSTER_IPS,           /* ip */
    SET_NODEPORT_IPS,          /* ip (only with configured node addresses) */
    MAP_COUNT
};
extern const char *const ek__proxy_map_names[MAP_COUNT];

/* Static chain names. */
#define CH_SERVICES      "services"
#define CH_MARK_MASQ     "mark-for-masquerade"
#define CH_MASQUERADING  "masquerading"
#define CH_REJECT        "reject-chain"
#define CH_ENDPOINTS     "endpoints-check"
#define CH_FIREWALL      "firewall-check"
#define CH_CLUSTER_CHECK "cluster-ips-check"

/* ---- the model (model.c) ---- */

typedef struct psvc_port {
    char *name;
    uint8_t proto; /* IPPROTO_TCP, _UDP, _SCTP */
    uint16_t port;
    uint16_t node_port; /* 0: none */
} psvc_port_t;

typedef struct pcidr {
    struct in_addr net;
    int prefix;
} pcidr_t;

typedef struct psvc {
    struct in_addr cluster_ip; /* 0.0.0.0: none (headless services are not kept at all) */
    psvc_port_t *ports;
    size_t n_ports;
    struct in_addr *external_ips;
    size_t n_external;
    struct in_addr *lb_ips; /* status.loadBalancer.ingress[].ip */
    size_t n_lb;
    pcidr_t *source_ranges; /* loadBalancerSourceRanges */
    size_t n_ranges;
    bool etp_local, itp_local;
    uint32_t affinity_s; /* ClientIP timeout in seconds; 0: no affinity */
} psvc_t;

typedef struct pslice_port {
    char *name;
    uint8_t proto;
    uint16_t port;
} pslice_port_t;

typedef struct pep {
    struct in_addr ip;
    bool ready, serving, terminating;
    bool local; /* nodeName is ours */
} pep_t;

typedef struct pslice {
    char *name;
    pslice_port_t *ports;
    size_t n_ports;
    pep_t *eps;
    size_t n_eps;
} pslice_t;

/* What is in the kernel for one bucket. */
typedef struct achain {
    char *name;
    uint64_t hash; /* of its rules; 0 for an empty (flushed) chain */
    uint32_t n_rules;
    int64_t stale_since; /* ms on the loop clock; -1 while in use */
} achain_t;

typedef struct aset {
    char *name;
    uint32_t timeout_s;
} aset_t;

/* A map or set element; the key is what the kernel keys on. */
typedef struct aelem {
    uint8_t map;
    uint8_t proto;
    uint16_t port;
    struct in_addr ip;
    uint8_t verdict;     /* ek_nft_verdict_t */
    uint64_t chain_hash; /* of the target chain's name (0: none) */
} aelem_t;

/* A UDP service port's addresses and serving endpoints, for conntrack cleanup. */
typedef struct pdest {
    struct in_addr ip; /* 0.0.0.0 with a NodePort: any of the node's addresses */
    uint16_t port;
} pdest_t;

typedef struct audp {
    char *name; /* "ns/svc/udp/port" */
    pdest_t *addrs;
    size_t n_addrs;
    pdest_t *eps;
    size_t n_eps;
} audp_t;

typedef struct applied {
    achain_t *chains;
    size_t n_chains;
    aset_t *sets;
    size_t n_sets;
    aelem_t *elems;
    size_t n_elems;
    audp_t *udp;
    size_t n_udp;
} applied_t;

typedef struct bucket {
    char *key; /* "ns/name" */
    char *ns, *name;
    psvc_t *svc; /* NULL: no Service (yet), or one the proxy leaves alone */
    pslice_t **slices;
    size_t n_slices;
    applied_t applied;
    bool dirty;
    bool has_stale; /* applied has chains waiting to be deleted */
} bucket_t;

/* ---- plans (plan.c, emit.c) ---- */

enum {
    POP_TABLE_ADD,
    POP_TABLE_DEL,
    POP_BASE_CHAIN, /* name; type in data ("nat"/"filter"); hook and priority */
    POP_CHAIN_ADD,
    POP_CHAIN_FLUSH,
    POP_CHAIN_DEL,
    POP_RULES, /* chain in name; data/len: rules in the form of rules.c */
    POP_MAP_ADD,
    POP_SET_ADD, /* an affinity set: timeout */
    POP_SET_DEL,
    POP_ELEM_ADD,
    POP_ELEM_DEL,
};

typedef struct pop {
    uint8_t kind;
    uint8_t map; /* elements: MAP_*; POP_MAP_ADD: which shared map */
    uint8_t verdict;
    uint8_t proto;
    uint16_t port;
    struct in_addr ip;
    int32_t hook, prio;
    uint32_t name; /* arena offset of a NUL-terminated string, or UINT32_MAX */
    uint32_t data, len;
    uint64_t timeout_ms;
} pop_t;

/* A conntrack cleanup: UDP entries to any of addrs whose reply does not come from keep. */
typedef struct ct_task {
    pdest_t *addrs;
    size_t n_addrs;
    pdest_t *keep;
    size_t n_keep;
} ct_task_t;

typedef struct plan {
    const char *table;
    ek_buf_t arena;
    pop_t *ops;
    size_t n_ops, cap_ops;
    ct_task_t *ct;
    size_t n_ct;
    struct in_addr *node_ips; /* for NodePort conntrack entries */
    size_t n_node_ips;
    bool full;
} plan_t;

void ek__plan_init(plan_t *pl, const char *table);
void ek__plan_free(plan_t *pl);
/* Appends a string or bytes to the arena; returns the offset. */
uint32_t ek__plan_str(plan_t *pl, const char *s);
uint32_t ek__plan_bytes(plan_t *pl, const void *data, size_t len);
pop_t *ek__plan_op(plan_t *pl, uint8_t kind, const char *name);
const char *ek__plan_name(const plan_t *pl, const pop_t *op);

/* Builds the plan into a batch (one transaction). Thread-safe: touches only pl and b. */
void ek__plan_emit(const plan_t *pl, ek_nft_batch_t *b);
/* Writes the plan as an nft script (`nft -f` applies the same transaction). */
void ek__plan_text(const plan_t *pl, ek_buf_t *out);
/* Number of rules in a rules blob. */
uint32_t ek__rules_count(const uint8_t *data, size_t len);

/* ---- rules (rules.c): a small byte code both emitters read ---- */

enum {
    OP_END,             /* ends a rule */
    OP_SADDR,           /* ip saddr A                 (addr) */
    OP_DADDR,           /* ip daddr A                 (addr) */
    OP_SADDR_NET,       /* ip saddr N/P               (addr, u8) */
    OP_SADDR_NOT_NET,   /* ip saddr != N/P            (addr, u8) */
    OP_DADDR_NET,       /* ip daddr N/P               (addr, u8) */
    OP_DADDR_NOT_NET,   /* ip daddr != N/P            (addr, u8) */
    OP_PROTO,           /* meta l4proto P             (u8) */
    OP_PROTO_DPORT,     /* tcp dport N                (u8, u16) */
    OP_FIB_SADDR_LOCAL, /* fib saddr type local */
    OP_FIB_DADDR_LOCAL, /* fib daddr type local */
    OP_CT_NEW,          /* ct state new */
    OP_MARK_UNSET,      /* meta mark & M == 0         (u32) */
    OP_SADDR_IN,        /* ip saddr @set              (str, u32 timeout: part of the hash) */
    OP_DADDR_IN,        /* ip daddr @set              (str) */
    OP_UPDATE_SADDR,    /* update @set { ip saddr }   (str, u32 timeout) */
    OP_JUMP,            /* jump chain                 (str) */
    OP_GOTO,            /* goto chain                 (str) */
    OP_DNAT,            /* dnat to A:P                (addr, u16) */
    OP_NUMGEN_ZERO,     /* numgen random mod N == 0      (u32 N) */
    OP_VMAP_DPP,        /* ip daddr . meta l4proto . th dport vmap @map  (str) */
    OP_VMAP_PP,         /* meta l4proto . th dport vmap @map             (str) */
    OP_MARK_SET,        /* meta mark set meta mark | M   (u32) */
    OP_MARK_CLEAR,      /* meta mark set meta mark & ~M  (u32) */
    OP_MASQ_RANDOM,     /* masquerade fully-random */
    OP_REJECT,
    OP_REJECT_TCP_RESET,
    OP_DROP,
    OP_RETURN,
};

/* A chain's rules being written: ops appended to buf, rules counted. */
typedef struct rules {
    ek_buf_t buf;
    uint32_t n;
} rules_t;

void ek__r_op(rules_t *r, uint8_t op);
void ek__r_addr(rules_t *r, uint8_t op, struct in_addr a);
void ek__r_net(rules_t *r, uint8_t op, struct in_addr net, int prefix);
void ek__r_u8(rules_t *r, uint8_t op, uint8_t v);
void ek__r_proto_dport(rules_t *r, uint8_t proto, uint16_t port);
void ek__r_u32(rules_t *r, uint8_t op, uint32_t v);
void ek__r_str(rules_t *r, uint8_t op, const char *s);
void ek__r_str_u32(rules_t *r, uint8_t op, const char *s, uint32_t v);
void ek__r_dnat(rules_t *r, struct in_addr a, uint16_t port);
/* Ends the rule being written. */
void ek__r_end(rules_t *r);
uint64_t ek__hash64(const void *data, size_t len);

/* "tcp", "udp", "sctp". */
const char *ek__proto_name(uint8_t proto);

/* One bucket's desired state. */
typedef struct dchain {
    char *name;
    rules_t rules;
} dchain_t;

typedef struct desired {
    dchain_t *chains;
    size_t n_chains;
    aset_t *sets;
    size_t n_sets;
    aelem_t *elems;
    size_t n_elems;
    char **elem_chains; /* target chain names, parallel to elems (NULL: none) */
    audp_t *udp;
    size_t n_udp;
} desired_t;

struct ek_proxy;
void ek__desired_build(const struct ek_proxy *p, const bucket_t *b, desired_t *d);
void ek__desired_free(desired_t *d);
/* The static part of the table (base chains, shared maps, helper chains) into pl. */
void ek__plan_static(const struct ek_proxy *p, plan_t *pl);

/* ---- conntrack (conntrack.c) ---- */

/* Deletes the UDP conntrack entries the tasks name, in netns_fd. Returns how many, or -1. */
int ek__conntrack_cleanup(int netns_fd, const ct_task_t *tasks, size_t n,
                          const struct in_addr *node_ips, size_t n_node_ips, ek_error_t **err);

/* ---- the proxy (proxy.c, model.c, diff.c) ---- */

#define HIST_BUCKETS 15

typedef struct ek_proxy {
    uv_loop_t *loop;
    char *table;
    char *node_name;
    struct in_addr *node_ips;
    size_t n_node_ips;
    bool have_cluster_cidr, have_service_cidr;
    pcidr_t cluster_cidr, service_cidr;
    int netns_fd; /* our dup, or -1 */
    /* Kept open between transactions (closing costs an RCU grace period); used by the worker
     * of the one sync in flight, closed after a failure and when the proxy is freed. */
    ek_nft_sock_t *nft_sock;
    uint32_t min_sync_ms, stale_chain_ms;

    ek_map_t buckets;      /* "ns/name" → bucket_t* */
    ek_map_t slice_owner;  /* "ns/slice" → bucket_t* holding it */
    ek_map_t elem_owner;   /* element key → bucket_t* that has it in the kernel */
    ek_map_t elem_waiters; /* element key → ek_strlist_t* of buckets that wanted it */
    size_t n_dirty;
    bool started, full_pending, closing;
    int64_t next_stale_ms; /* earliest stale chain deadline, INT64_MAX when none */

    uv_timer_t timer; /* coalescing and retries */
    uv_timer_t stale_timer;
    int handles_open;
    struct sync_job *job; /* in flight, or NULL */
    uint32_t backoff_ms;
    void (*close_cb)(void *data);
    void *close_data;

    ek_proxy_sync_cb sync_cb;
    void *sync_data;
    double last_sync_unix;
    /* The benchmark's peer replays each transaction with `nft -f`: keep it as a script. */
    bool keep_plan_text;
    char *last_plan_text;
    ek_proxy_stats_t st;
    uint64_t hist[HIST_BUCKETS + 1];
    double hist_sum;
} ek_proxy_t;

bucket_t *ek__bucket_get(ek_proxy_t *p, const char *ns, const char *name, bool create);
void ek__bucket_dirty(ek_proxy_t *p, bucket_t *b);
/* Frees the bucket if nothing refers to it any more (no service, slices, or rules). */
void ek__bucket_maybe_free(ek_proxy_t *p, bucket_t *b);
void ek__psvc_free(psvc_t *s);
void ek__pslice_free(pslice_t *s);
void ek__applied_free(applied_t *a);
/* Asks for a sync soon (coalescing changes for min_sync_ms). */
void ek__proxy_kick(ek_proxy_t *p);

/* Appends to pl what turns b's applied state into d (and makes d the applied state). */
void ek__diff_bucket(ek_proxy_t *p, plan_t *pl, bucket_t *b, desired_t *d, int64_t now);
/* Deletes b's stale chains older than the stale delay; returns the next deadline. */
int64_t ek__diff_stale(ek_proxy_t *p, plan_t *pl, bucket_t *b, int64_t now);
/* Forgets every bucket's applied state (the table is about to be rebuilt). */
void ek__diff_forget_all(ek_proxy_t *p);

/* The sha256-based chain name base kube-proxy uses: "HASH8-<name>", truncated to 240. */
char *ek__chain_name(const char *prefix, const char *name);

#endif
