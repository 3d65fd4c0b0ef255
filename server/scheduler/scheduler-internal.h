/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to server/scheduler: kube-scheduler's default profile in C. The pieces are pure
 * where they can be, so unit tests drive them without a loop or an API server:
 *   pod.c      a pod as the scheduler sees it (requests, tolerations, affinity, ports, spread)
 *   node.c     a node (allocatable, taints, images) and what its pods use
 *   cache.c    nodes and placed pods, updated incrementally (assume, confirm, forget)
 *   filter.c   PreFilter and Filter plugins, the per-node statuses and the FitError message
 *   score.c    PreScore, Score and NormalizeScore plugins, host selection
 *   preempt.c  DefaultPreemption: the dry run, victims and the "preemption: ..." message
 *   algo.c     one scheduling cycle (filter a share of the nodes, score, pick)
 *   queue.c    active queue by priority, backoff queue, unschedulable pods
 *   scheduler.c informers, the loop driver, binding, events and pod conditions
 * Everything runs on the loop thread.
 */
#ifndef EK_SERVER_SCHEDULER_INTERNAL_H
#define EK_SERVER_SCHEDULER_INTERNAL_H

#include "api/api.h"
#include "lib/lib.h"
#include "server/server.h"

#define SCHED_MAX_SCORE        100
#define SCHED_DEFAULT_CPU      100 /* millicores, schedutil.DefaultMilliCPURequest */
#define SCHED_DEFAULT_MEM      (200LL * 1024 * 1024) /* schedutil.DefaultMemoryRequest */
#define SCHED_DEFAULT_NAME     "default-scheduler"
#define SCHED_MIN_NODES_SCORED 100 /* minFeasibleNodesToFind */

/* Filter plugins as bits, in kube-scheduler's filter order (the first to fail reports). */
enum {
    PL_NODE_UNSCHEDULABLE = 1u << 0,
    PL_NODE_NAME = 1u << 1,
    PL_TAINT_TOLERATION = 1u << 2,
    PL_NODE_AFFINITY = 1u << 3,
    PL_NODE_PORTS = 1u << 4,
    PL_NODE_RESOURCES_FIT = 1u << 5,
    PL_POD_TOPOLOGY_SPREAD = 1u << 6,
    PL_INTER_POD_AFFINITY = 1u << 7,
    PL_SCHEDULING_GATES = 1u << 8,
};
const char *sched_plugin_name(unsigned bit);

/* The well-known topology labels (node.c); the system default spreading constraints use these
 * very arrays, which lets sched_node_label answer them from fields set once per node. */
extern const char sched_label_hostname[]; /* "kubernetes.io/hostname" */
extern const char sched_label_zone[];     /* "topology.kubernetes.io/zone" */

/* ---- resources (pod.c) ---- */

typedef struct sched_scalar {
    char *name; /* extended resources, hugepages-*: owned */
    int64_t value;
} sched_scalar_t;

typedef struct sched_res {
    int64_t cpu; /* millicores */
    int64_t mem; /* bytes */
    int64_t eph; /* bytes */
    sched_scalar_t *scalars;
    size_t nscalars;
} sched_res_t;

/* a += sign * b (scalars are matched by name). */
void sched_res_add(sched_res_t *a, const sched_res_t *b, int sign);
int64_t sched_res_scalar(const sched_res_t *r, const char *name);
void sched_res_free(sched_res_t *r);
/* Adds a ResourceList (cpu, memory, ephemeral-storage, scalars) to r; *pods gets "pods". */
void sched_res_add_list(sched_res_t *r, const json_t *list, int64_t *pods);
/* PodRequests as kube-scheduler 1.32 computes them: containers summed, then the max with each
 * init container (restartable init containers add up as sidecars), plus overhead. nonzero:
 * containers missing a cpu / memory request count 100m / 200Mi (the scoring defaults). */
void sched_pod_requests(const json_t *spec, bool nonzero, sched_res_t *out);

/* ---- taints and tolerations (pod.c, node.c) ---- */

typedef enum {
    EFFECT_ANY = 0, /* a toleration without effect */
    EFFECT_NO_SCHEDULE,
    EFFECT_PREFER_NO_SCHEDULE,
    EFFECT_NO_EXECUTE,
    EFFECT_OTHER,
} sched_effect_t;

typedef struct sched_taint {
    const char *key, *value; /* borrowed from the node object; value "" when unset */
    sched_effect_t effect;
} sched_taint_t;

typedef enum { TOL_EQUAL, TOL_EXISTS, TOL_OTHER } sched_tolop_t;

typedef struct sched_toleration {
    const char *key, *value; /* borrowed from the pod object; "" when unset */
    sched_tolop_t op;
    sched_effect_t effect;
} sched_toleration_t;

sched_effect_t sched_effect_parse(const char *s);
bool sched_toleration_tolerates(const sched_toleration_t *t, const sched_taint_t *taint);
bool sched_tolerations_tolerate(const sched_toleration_t *t, size_t n, const sched_taint_t *taint);

/* ---- node selectors (pod.c) ---- */

typedef enum {
    NSOP_IN,
    NSOP_NOT_IN,
    NSOP_EXISTS,
    NSOP_DOES_NOT_EXIST,
    NSOP_GT,
    NSOP_LT
} sched_nsop_t;

typedef struct sched_nsreq {
    const char *key;
    sched_nsop_t op;
    const char **values; /* borrowed strings, owned array */
    size_t nvalues;
    int64_t num; /* Gt / Lt */
} sched_nsreq_t;

typedef struct sched_nsterm {
    sched_nsreq_t *exprs;
    size_t nexprs;
    sched_nsreq_t *fields;
    size_t nfields;
    int32_t weight; /* preferred terms */
    bool broken;    /* a requirement did not parse: the term matches nothing */
} sched_nsterm_t;

typedef struct sched_nodesel {
    sched_nsterm_t *terms; /* empty terms are dropped (they select nothing) */
    size_t nterms;
} sched_nodesel_t;

/* Parses a NodeSelectorTerm list (required) or PreferredSchedulingTerm list (preferred: weight
 * and preference; weight 0 is dropped). json borrowed for as long as the selector lives. */
void sched_nodesel_parse(sched_nodesel_t *s, const json_t *terms, bool preferred);
void sched_nodesel_free(sched_nodesel_t *s);
bool sched_nsterm_matches(const sched_nsterm_t *t, const char *node_name, const json_t *labels);
/* Any term matches (required node affinity). */
bool sched_nodesel_matches(const sched_nodesel_t *s, const char *node_name, const json_t *labels);
/* Sum of the weights of matching terms (preferred node affinity). */
int64_t sched_nodesel_score(const sched_nodesel_t *s, const char *node_name, const json_t *labels);

/* ---- pods (pod.c) ---- */

/* Pods with the same namespace and labels share a group, so selector matches are computed once
 * per group and scheduling cycle (memo), not once per pod. */
typedef struct sched_group {
    char *key; /* "ns\0labels-canonical" */
    char *ns;
    json_t *labels; /* a reference to the first pod's labels object */
    int refs;
    uint64_t memo_tag[4];
    bool memo_val[4];
} sched_group_t;

typedef struct sched_aterm {
    ek_labelsel_t *sel;      /* labelSelector; nil selects nothing */
    const char **namespaces; /* explicit, or the pod's own when none and no selector */
    size_t nns;
    ek_labelsel_t *ns_sel; /* namespaceSelector, NULL when absent */
    const char *topology_key;
    int32_t weight; /* preferred terms; 1 for required ones */
} sched_aterm_t;

typedef struct sched_aterms {
    sched_aterm_t *v;
    size_t n;
} sched_aterms_t;

typedef struct sched_spread {
    int32_t max_skew;
    const char *topology_key;
    bool hard;           /* whenUnsatisfiable: DoNotSchedule */
    ek_labelsel_t *sel;  /* labelSelector with matchLabelKeys merged */
    int32_t min_domains; /* 1 when unset */
    bool honor_affinity; /* nodeAffinityPolicy (default Honor) */
    bool honor_taints;   /* nodeTaintsPolicy (default Ignore) */
} sched_spread_t;

typedef struct sched_port {
    const char *ip;    /* "0.0.0.0" when unset */
    const char *proto; /* "TCP" when unset */
    int port;
} sched_port_t;

typedef enum { POD_QUEUED, POD_ASSUMED, POD_BOUND } sched_podstate_t;

typedef struct sched_node sched_node_t;

typedef struct sched_pod {
    char *key; /* "ns/name" */
    const char *ns, *name, *uid;
    json_t *obj; /* reference; immutable */
    sched_group_t *group;
    sched_res_t req;        /* NodeResourcesFit / BalancedAllocation */
    int64_t nz_cpu, nz_mem; /* with the non-zero defaults (LeastAllocated) */
    sched_port_t *ports;
    size_t nports;
    sched_toleration_t *tols;
    size_t ntols;
    const json_t *node_selector; /* spec.nodeSelector, borrowed */
    bool has_req_affinity;
    sched_nodesel_t req_affinity;
    sched_nodesel_t pref_affinity;
    sched_aterms_t aff, anti, pref_aff, pref_anti;
    sched_spread_t *spread;
    size_t nspread;
    char **images; /* normalised names (":latest" added) */
    size_t nimages;
    int32_t priority;
    bool preempt_never;
    bool terminating;
    bool gated;
    int64_t start_ms; /* status.startTime (preemption ordering) */
    /* placement in the cache */
    sched_podstate_t state;
    sched_node_t *node;
    size_t slot;
} sched_pod_t;

typedef struct sched_cache sched_cache_t;

/* Parses a pod; NULL for objects that are not pods. Caller frees with sched_pod_free. */
sched_pod_t *sched_pod_new(sched_cache_t *c, json_t *obj);
void sched_pod_free(sched_cache_t *c, sched_pod_t *p);
/* Whether the pod has any inter-pod (anti-)affinity term. */
bool sched_pod_has_affinity(const sched_pod_t *p);
/* Affinity term p's namespace selection and label selector match pod q. ns_labels are the labels
 * of q's namespace (NULL when unknown). */
bool sched_aterm_matches(const sched_aterm_t *t, const sched_pod_t *q, const json_t *ns_labels);
/* What the scheduler's informers keep of a pod / node (ek_informer_set_transform): the
 * fields scheduling reads, sharing the values of obj. New reference. */
json_t *sched_pod_trim(json_t *pod, void *data);
json_t *sched_node_trim(json_t *node, void *data);
/* "name:latest" when the reference has no tag. Caller frees. */
char *sched_image_normalize(const char *image);

/* ---- nodes (node.c) ---- */

typedef struct sched_usedport {
    char *ip, *proto;
    int port;
    int count;
} sched_usedport_t;

typedef struct sched_image {
    char *name;
    int64_t size;
} sched_image_t;

struct sched_node {
    char *name;
    json_t *obj; /* NULL for a node that is gone but still holds pods */
    const json_t *labels;
    const char *hostname, *zone; /* the two labels spreading reads for every node */
    sched_res_t alloc;
    int64_t alloc_pods;
    sched_res_t used;       /* sum of the requests of its pods */
    int64_t nz_cpu, nz_mem; /* the same with non-zero defaults */
    sched_taint_t *taints;
    size_t ntaints;
    bool unschedulable;
    sched_pod_t **pods;
    size_t npods, cap;
    sched_usedport_t *ports;
    size_t nports;
    size_t n_affinity; /* pods with any inter-pod affinity term */
    size_t n_req_anti; /* pods with required anti-affinity */
    sched_image_t *images;
    size_t nimages;
    size_t index; /* position in the node list; SIZE_MAX when not listed */
};

/* Parses obj (referenced) into n's node fields, replacing the previous ones. */
void sched_node_set(sched_node_t *n, json_t *obj);
/* Drops what came from the Node object (the node is gone; its pods may remain). */
void sched_node_clear(sched_node_t *n);
/* Frees the node's own memory (its pods belong to the cache). */
void sched_node_free(sched_node_t *n);
void sched_node_add_pod(sched_node_t *n, sched_pod_t *p);
void sched_node_remove_pod(sched_node_t *n, sched_pod_t *p);
/* HostPortInfo.CheckConflict: would (ip, proto, port) clash with a port in use? */
bool sched_node_port_conflict(const sched_node_t *n, const sched_port_t *want);
const char *sched_node_label(const sched_node_t *n, const char *key);
int64_t sched_node_image_size(const sched_node_t *n, const char *image);

/* ---- the cache (cache.c) ---- */

/* Where the scheduler looks up objects other than pods and nodes (informers in the server,
 * plain maps in tests). Any function may be NULL. */
typedef struct sched_listers {
    /* The controller of a pod by kind ("ReplicaSet", "ReplicationController", "StatefulSet"). */
    json_t *(*get)(void *data, const char *kind, const char *ns, const char *name);
    /* Calls fn for each Service in ns. */
    void (*each_service)(void *data, const char *ns, void (*fn)(json_t *svc, void *d), void *d);
    /* A namespace's labels, or NULL. */
    const json_t *(*ns_labels)(void *data, const char *ns);
    void *data;
} sched_listers_t;

struct sched_cache {
    ek_map_t nodes;      /* name → sched_node_t* (also gone nodes that still hold pods) */
    sched_node_t **list; /* schedulable node objects, in the order they arrived */
    size_t nlist, caplist;
    ek_map_t pods;   /* key → sched_pod_t* placed on a node (assumed or bound) */
    ek_map_t groups; /* group key → sched_group_t* */
    ek_map_t images; /* image name → number of nodes having it (ImageLocality) */
    uint64_t memo_seq;
    size_t next_start; /* where the next search for feasible nodes starts */
    int percentage;    /* percentageOfNodesToScore; 0 = adaptive */
    unsigned seed;
    sched_listers_t listers;
};

void sched_cache_init(sched_cache_t *c, const sched_listers_t *listers, int percentage);
void sched_cache_free(sched_cache_t *c);
/* Adds or replaces a Node. Returns the node entry (borrowed). */
sched_node_t *sched_cache_set_node(sched_cache_t *c, json_t *obj);
void sched_cache_remove_node(sched_cache_t *c, const char *name);
sched_node_t *sched_cache_node(const sched_cache_t *c, const char *name);
/* Places p (owned by the cache from now on) on node name as assumed or bound; replaces a
 * pod with the same key. */
void sched_cache_place(sched_cache_t *c, sched_pod_t *p, const char *node, sched_podstate_t st);
/* Removes the pod with key and frees it; returns the node it was on (borrowed) or NULL. */
sched_node_t *sched_cache_remove_pod(sched_cache_t *c, const char *key);
sched_pod_t *sched_cache_pod(const sched_cache_t *c, const char *key);
sched_group_t *sched_group_get(sched_cache_t *c, const char *ns, json_t *labels);
void sched_group_put(sched_cache_t *c, sched_group_t *g);
/* A fresh tag for one matching session (memo). */
uint64_t sched_memo_tag(sched_cache_t *c);
const json_t *sched_ns_labels(const sched_cache_t *c, const char *ns);

/* ---- one scheduling cycle (filter.c, score.c, algo.c, preempt.c) ---- */

enum { ST_OK = 0, ST_UNSCHEDULABLE = 1, ST_UNRESOLVABLE = 2 };

/* A filter's verdict on one node. Reasons are static strings or point into buf. */
typedef struct sched_status {
    int code;
    unsigned plugin;
    const char *reasons[8];
    size_t nreasons;
    char buf[768];
    size_t used;
} sched_status_t;

/* Topology pair → count. */
typedef struct sched_tpcounts {
    ek_map_t m; /* "key\001value" → (intptr_t) count */
} sched_tpcounts_t;

void sched_tp_add(sched_tpcounts_t *t, const char *key, const char *value, long delta);
long sched_tp_get(const sched_tpcounts_t *t, const char *key, const char *value);
void sched_tp_free(sched_tpcounts_t *t);

typedef struct sched_spread_state {
    const sched_spread_t *c;
    ek_map_t counts; /* topology value → (intptr_t) matching pods */
    long min;        /* global minimum over the domains */
    size_t domains;
} sched_spread_state_t;

/* What PreFilter computes for the pod, read by Filter on every node. */
typedef struct sched_cycle {
    sched_cache_t *c;
    sched_pod_t *p;
    const json_t *ns_labels; /* labels of the pod's namespace */
    /* NodeAffinity: PreFilterResult (matchFields metadata.name In) */
    bool names_only;
    ek_map_t names;
    /* InterPodAffinity */
    bool ipa;
    sched_tpcounts_t existing_anti, aff, anti;
    /* PodTopologySpread (hard constraints) */
    sched_spread_state_t *spread;
    size_t nspread;
    /* resources of nominated pods to add on some nodes (preemption) */
    const sched_res_t *extra_req;
    const sched_node_t *extra_node;
} sched_cycle_t;

/* Why the pod fits nowhere: counts of reasons over the nodes (FitError.Diagnosis). */
typedef struct sched_diag {
    size_t nnodes;    /* NumAllNodes */
    ek_map_t reasons; /* reason → (uintptr_t) count */
    size_t nstatus;   /* nodes with a status */
    unsigned plugins; /* plugins that rejected at least one node */
    uint8_t *code;    /* per node index: ST_* + 1, 0 = no status */
    char *prefilter_msg;
    char *absent_reason; /* status of nodes a PreFilter ruled out, or NULL */
    int absent_code;
} sched_diag_t;

void sched_diag_init(sched_diag_t *d, size_t nnodes);
void sched_diag_free(sched_diag_t *d);
void sched_diag_add(sched_diag_t *d, size_t node_index, const sched_status_t *st);
/* FitError.Error(): "0/3 nodes are available: 1 node(s) ..., 2 Insufficient cpu." with the
 * reasons sorted as strings and, when given, " <postfilter>" appended. Caller frees. */
char *sched_diag_message(const sched_diag_t *d, const char *postfilter);

/* Runs PreFilter: 0 to go on, ST_* when PreFilter rejects the pod (message in diag). */
int sched_prefilter(sched_cycle_t *cy, sched_diag_t *d);
void sched_cycle_free(sched_cycle_t *cy);
/* Runs the filters on one node in plugin order; the first failure fills st. */
bool sched_filter_node(const sched_cycle_t *cy, const sched_node_t *n, sched_status_t *st);
/* nodeSelector and required node affinity (GetRequiredNodeAffinity(pod).Match). */
bool sched_node_affinity_ok(const sched_pod_t *p, const sched_node_t *n);
/* The first NoSchedule / NoExecute taint of n that p does not tolerate, or NULL. */
const sched_taint_t *sched_untolerated(const sched_pod_t *p, const sched_node_t *n);
/* countPodsMatchSelector: pods on n in namespace ns, not terminating, that sel selects (an
 * empty selector counts none); memoised per group under tag. */
long sched_count_matching(const sched_node_t *n, const ek_labelsel_t *sel, uint64_t tag,
                          const char *ns);
/* The node-local filters only (unschedulable, taints, node affinity, ports, resources). */
bool sched_filter_local(const sched_pod_t *p, const sched_node_t *n, sched_status_t *st);

/* Scores nodes (n > 1); writes the total weighted score of each into total[]. */
void sched_score_nodes(sched_cache_t *c, sched_pod_t *p, sched_node_t **nodes, size_t n,
                       int64_t *total);
/* Scoring primitives, exposed for tests. */
int64_t sched_least_allocated(int64_t requested, int64_t capacity);
int64_t sched_balanced(const int64_t *requested, const int64_t *alloc, size_t n);
void sched_normalize(int64_t *scores, size_t n, bool reverse);
int64_t sched_image_score(int64_t sum, size_t ncontainers);
/* The system default spreading selector of a pod (Services, RC, RS, StatefulSet); NULL when
 * empty. Caller frees. */
ek_labelsel_t *sched_default_selector(const sched_cache_t *c, const sched_pod_t *p);

typedef struct sched_victims {
    sched_node_t *node;
    sched_pod_t **pods; /* borrowed from the cache */
    size_t n;
} sched_victims_t;

/* DefaultPreemption's PostFilter. Either picks a node and its victims (*out, return 1) or
 * writes the " preemption: ..." message (return 0, *msg caller frees). */
int sched_preempt(sched_cache_t *c, sched_pod_t *p, const sched_diag_t *d, sched_victims_t *out,
                  char **msg);

typedef struct sched_result {
    sched_node_t *node;      /* the chosen node, or NULL */
    char *message;           /* why not, as kube-scheduler words it (caller frees) */
    unsigned plugins;        /* plugins that rejected some node */
    bool unresolvable;       /* no node, and none could take the pod by preemption */
    sched_victims_t victims; /* preemption: nominate victims.node, delete victims */
    size_t evaluated;
} sched_result_t;

/* One scheduling cycle for p against the cache. */
void sched_schedule(sched_cache_t *c, sched_pod_t *p, sched_result_t *r);
void sched_result_free(sched_result_t *r);
/* numFeasibleNodesToFind. */
size_t sched_nodes_to_find(int percentage, size_t nnodes);

/* ---- the queue (queue.c) ---- */

typedef enum { Q_NONE, Q_ACTIVE, Q_BACKOFF, Q_UNSCHED, Q_GATED, Q_INFLIGHT } sched_qwhere_t;

typedef struct sched_qpod {
    char *key;
    sched_pod_t *p; /* parsed pod, owned */
    sched_qwhere_t where;
    size_t heap_idx;
    uint64_t timestamp_ms; /* enqueued (ordering), or last failure (backoff) */
    uint64_t initial_ms;
    int attempts;
    unsigned plugins; /* plugins that rejected it last time */
    uint64_t unsched_since_ms;
    struct sched_qpod *uprev, *unext; /* the unschedulable list */
} sched_qpod_t;

typedef struct sched_queue {
    ek_map_t pods;         /* key → sched_qpod_t* */
    sched_qpod_t **active; /* heap: higher priority, then older first */
    size_t nactive, capactive;
    sched_qpod_t **backoff; /* heap: earliest backoff expiry first */
    size_t nbackoff, capbackoff;
    sched_qpod_t *unsched; /* pods no node could take, newest first */
    size_t nunsched;
    uint64_t initial_backoff_ms, max_backoff_ms;
} sched_queue_t;

void sched_queue_init(sched_queue_t *q, uint64_t initial_backoff_ms, uint64_t max_backoff_ms);
void sched_queue_free(sched_cache_t *c, sched_queue_t *q);
/* Adds or updates a pending pod (p owned by the queue). Returns the entry. */
sched_qpod_t *sched_queue_add(sched_cache_t *c, sched_queue_t *q, sched_pod_t *p, uint64_t now);
void sched_queue_delete(sched_cache_t *c, sched_queue_t *q, const char *key);
sched_qpod_t *sched_queue_get(const sched_queue_t *q, const char *key);
/* Highest-priority active pod, now in flight; NULL when none. */
sched_qpod_t *sched_queue_pop(sched_queue_t *q);
/* After a failed attempt: unschedulable (plugins rejected it) or an error (backoff). */
void sched_queue_failed(sched_queue_t *q, sched_qpod_t *qp, bool unschedulable, uint64_t now);
/* Moves backoff pods whose time has come to the active queue; returns the next expiry (ms from
 * now) or UINT64_MAX. */
uint64_t sched_queue_flush_backoff(sched_queue_t *q, uint64_t now);
/* Moves pods unschedulable for longer than max_ms (podMaxInUnschedulablePodsDuration). */
size_t sched_queue_flush_unschedulable(sched_queue_t *q, uint64_t max_ms, uint64_t now);
/* Moves unschedulable pods for which want(qp) says a cluster event may help (only the
 * unschedulable pods are visited). */
size_t sched_queue_move(sched_queue_t *q, bool (*want)(sched_qpod_t *qp, void *data), void *data,
                        uint64_t now);
uint64_t sched_queue_backoff_ms(const sched_queue_t *q, const sched_qpod_t *qp);
bool sched_queue_less(const sched_qpod_t *a, const sched_qpod_t *b);
size_t sched_queue_count(const sched_queue_t *q, sched_qwhere_t where);

#endif
