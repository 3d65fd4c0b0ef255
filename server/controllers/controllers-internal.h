/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to server/controllers: the controller framework. A controller is a work queue of
 * object keys ("ns/name") fed by shared informers, and an asynchronous sync function that
 * reads desired state from the informers' caches, makes API calls, and reports back with
 * ctrl_done(). Failed syncs are retried with per-key exponential backoff; a key is never
 * synced twice at once; a key added while it syncs is synced again afterwards.
 */
#ifndef EK_SERVER_CONTROLLERS_INTERNAL_H
#define EK_SERVER_CONTROLLERS_INTERNAL_H

#include <uv.h>

#include "api/api.h"
#include "lib/lib.h"
#include "server/server.h"

typedef struct ctrl ctrl_t;
typedef struct ctrl_manager ctrl_manager_t;

/* What a sync reports. */
enum {
    SYNC_OK = 0,    /* done; forget failures */
    SYNC_RETRY = -1 /* failed: retry with backoff */
    /* > 0: done, sync again after that many milliseconds */
};

typedef void (*ctrl_sync_fn)(ctrl_t *c, const char *key, void *data);

struct ctrl_manager {
    uv_loop_t *loop;
    ek_api_client_t *client;
    ek_map_t informers; /* "group/version/plural" → ek_informer_t* */
    ctrl_t **ctrls;
    size_t n_ctrls;
    ek_event_recorder_t *events;
    bool started;
    bool stopping;
    uv_timer_t start_timer; /* waits for informers to sync */
    ek_controllers_options_t opts;
    void **states; /* per-controller state, freed at the end */
    void (**state_free)(void *state);
    size_t n_states;
    void (*stop_cb)(void *data);
    void *stop_data;
};

/* Registers a controller's private state to be freed after the client is gone. */
void mgr_own(ctrl_manager_t *m, void *state, void (*free_fn)(void *state));

/* The shared informer of a resource (all namespaces), created on first use. Borrowed. */
ek_informer_t *mgr_informer(ctrl_manager_t *m, const char *group, const char *version,
                            const char *plural);
const ek_resource_t *res_of(const char *group, const char *version, const char *plural);

ctrl_t *ctrl_new(ctrl_manager_t *m, const char *name, ctrl_sync_fn sync, void *data, int workers);
void ctrl_enqueue(ctrl_t *c, const char *key);
void ctrl_enqueue_after(ctrl_t *c, const char *key, uint64_t ms);
/* Enqueues the key of an object ("ns/name" or "name"). */
void ctrl_enqueue_obj(ctrl_t *c, const json_t *obj);
/* Ends a sync started for key: SYNC_OK, SYNC_RETRY, or > 0 to resync after that many ms. */
void ctrl_done(ctrl_t *c, const char *key, int result);
ctrl_manager_t *ctrl_manager(ctrl_t *c);
const char *ctrl_name(const ctrl_t *c);
void ctrl_free(ctrl_t *c);
void ctrl_kick(ctrl_t *c);

/* "ns/name" (or "name") of an object; caller frees. Splits a key back. */
char *obj_key(const json_t *obj);
void key_split(const char *key, char **ns, char **name);

/* ---- helpers shared by controllers ---- */

/* The controller ownerReference of obj (controller: true), or NULL. Borrowed. */
const json_t *controller_ref(const json_t *obj);
/* An ownerReference to owner (apiVersion/kind from res), with controller and
 * blockOwnerDeletion set as asked. Caller owns. */
json_t *owner_ref(const ek_resource_t *res, const json_t *owner, bool controller);
bool pod_is_active(const json_t *pod);
bool pod_is_ready(const json_t *pod);
/* Ready for at least min_ready_s as of now. */
bool pod_is_available(const json_t *pod, int64_t min_ready_s, time_t now);

/* A namespace that exists and is not being deleted. */
bool ns_is_active(const json_t *ns);
/* The condition of that type in a conditions array, or NULL. Borrowed. */
json_t *find_condition(const json_t *conds, const char *type);
/* Sets a condition in conds (an array, changed in place) as Kubernetes' condition helpers do:
 * lastTransitionTime moves to now only when the status changes. Returns whether anything
 * changed. reason/message may be NULL (removed). */
bool set_condition(json_t *conds, const char *type, const char *status, const char *reason,
                   const char *message, const char *now);

/* A counter of outstanding async API calls for one sync: the sync ends when it reaches 0. */
typedef struct pending {
    ctrl_t *ctrl;
    char *key;
    int outstanding;
    int result;
    void (*finish)(struct pending *p); /* optional, before ctrl_done */
    void *data;
} pending_t;

pending_t *pending_new(ctrl_t *c, const char *key);
/* An ek_api_done_cb that counts one call finished (failures mark the sync for retry, except
 * 404 on deletes and 409 AlreadyExists on creates, which are harmless races). */
void pending_call_done(int status, json_t *body, const ek_error_t *err, void *data);
void pending_add(pending_t *p);
/* Call once after issuing every call: ends the sync when nothing is outstanding. */
void pending_arm(pending_t *p);
/* Deletes obj (of res, in ns; NULL for cluster scope) only if it is still the object seen (a
 * uid precondition), and ends the sync of key when the call returns (retry on failure). */
void delete_seen_object(ctrl_t *c, const char *key, const ek_resource_t *res, const char *ns,
                        const json_t *obj);

/* ---- Deployments (deployment_util.c, podhash.c): pure helpers, unit-tested ---- */

#define POD_TEMPLATE_HASH_LABEL "pod-template-hash"

/* intstr.GetScaledValueFromIntOrPercent: an integer, or "N%" of total rounded up or down;
 * absent is 0. -1 for anything else. */
int intstr_scaled(const json_t *v, int total, bool round_up, int *out);
/* ResolveFenceposts of a Deployment's rollingUpdate (both zero → one unavailable). */
void deploy_fenceposts(const json_t *d, int32_t *surge, int32_t *unavail);
/* MaxSurge / MaxUnavailable: 0 unless RollingUpdate; unavailable capped at spec.replicas. */
int32_t deploy_max_surge(const json_t *d);
int32_t deploy_max_unavailable(const json_t *d);
/* NewRSNewReplicas: the new ReplicaSet's size given the sum of every ReplicaSet's
 * spec.replicas (all_replicas) and its own (new_replicas). */
int32_t deploy_new_rs_replicas(const json_t *d, int32_t all_replicas, int32_t new_replicas);

/* One active ReplicaSet in proportional scaling, sorted as Kubernetes sorts them. */
typedef struct prop_rs {
    int32_t replicas;       /* spec.replicas */
    int32_t max_annotation; /* deployment.kubernetes.io/max-replicas, 0 if absent */
    int32_t new_size;       /* out */
} prop_rs_t;
int32_t deploy_proportion(const prop_rs_t *rs, int32_t desired, int32_t max_surge,
                          int32_t status_replicas, int32_t to_add, int32_t added);
/* Sets new_size of each: the deployment's allowed size (desired + surge) shared in
 * proportion, leftovers to v[0]. status_replicas: the deployment's status.replicas. */
void deploy_scale_proportionally(prop_rs_t *v, size_t n, int32_t desired, int32_t max_surge,
                                 int32_t status_replicas);
/* The revision-history annotation after appending old_rev, within limit characters, or NULL
 * when it cannot fit. Caller frees. */
char *deploy_revision_history(const char *history, const char *old_rev, size_t limit);
/* apimachinery's semantic equality on JSON: absent, null and Go zero values are equal. */
bool json_semantic_equal(const json_t *a, const json_t *b);
/* EqualIgnoreHash: pod templates equal apart from the pod-template-hash label. */
bool template_equal_ignore_hash(const json_t *a, const json_t *b);
/* controller.ComputeHash: FNV-32a of the template as Kubernetes prints it (go-spew over the
 * Go types of k8s.io/api 1.32), plus the collision count, in the safe-encoding alphabet.
 * collision may be NULL. Caller frees. */
char *pod_template_hash(const json_t *tmpl, const json_t *collision);
/* The text the hash is taken over (for tests). Caller frees. */
char *pod_template_spew(const json_t *tmpl);
/* ---- Services and their pods (endpointutil.c) ---- */

/* The Service's selector (a non-empty map) matches the pod, in the same namespace. */
bool svc_selects(const json_t *svc, const json_t *pod);
/* The endpoint controllers manage this Service: it has a selector and is not ExternalName. */
bool svc_managed(const json_t *svc);
bool svc_is_headless(const json_t *svc);
/* The Service's primary IP family is IPv6 (spec.ipFamilies[0], else its cluster IP). */
bool svc_wants_ipv6(const json_t *svc);
/* Kubernetes' ShouldPodBeInEndpoints: not terminal, has an address, and not terminating
 * unless include_terminating. */
bool pod_in_endpoints(const json_t *pod, bool include_terminating);
/* The pod's address of that family, or NULL. Borrowed. */
const char *pod_ip_of_family(const json_t *pod, bool v6);
/* Kubernetes' FindPort: the port number a Service port's targetPort means for this pod (a
 * name is looked up in its containers' ports with the same protocol), or -1. */
int pod_find_port(const json_t *pod, const json_t *svc_port);
/* The pod's hostname goes into the Service's endpoints (spec.subdomain names the Service). */
bool pod_sets_hostname(const json_t *pod, const json_t *svc);
/* {kind: Pod, namespace, name, uid}. Caller owns. */
json_t *pod_target_ref(const json_t *pod);
/* Calls fn for every Service in svcs that selects pod. */
void each_service_of_pod(ek_informer_t *svcs, const json_t *pod,
                         void (*fn)(json_t *svc, void *data), void *data);
/* The pods (borrowed from the informer) the Service selects; caller frees the array. */
json_t **pods_of_service(ek_informer_t *pods, const json_t *svc, size_t *n);

/* ---- pure decisions, unit-tested (tests/unit/server_controllers.c) ---- */

/* ServiceLB: the status.loadBalancer.ingress a Service should have given the nodes (the
 * InternalIP of each Ready, schedulable node, sorted, as [{ip}]); an empty array for a Service
 * that is not a LoadBalancer; NULL for one with a loadBalancerClass (not ours). Caller owns. */
json_t *servicelb_ingress(const json_t *svc, json_t *const *nodes, size_t n);

/* The namespace deletion conditions for what a pass found: remaining ("plural.group" → count),
 * finalizers (finalizer → count), failures (array of messages). Updates conds in place. */
bool ns_deletion_conditions(json_t *conds, const json_t *remaining, const json_t *finalizers,
                            const json_t *failures, const char *now);

/* The Endpoints subsets of a Service for these pods (all in its namespace, selected by it),
 * repacked and sorted as Kubernetes' RepackSubsets. Caller owns. */
json_t *endpoints_subsets(const json_t *svc, json_t *const *pods, size_t n);

/* The EndpointSlice content of a Service for these pods: an array of {ports, endpoints} groups
 * (one per distinct set of resolved ports, sorted), endpoints sorted by pod name. nodes (may
 * be NULL) gives zones. Caller owns. */
json_t *endpointslice_groups(const json_t *svc, json_t *const *pods, size_t n,
                             ek_informer_t *nodes);

/* What the garbage collector does with an object, from the state of its owners (counts of
 * solid ones, gone ones and ones deleting their dependents in foreground), whether it has
 * dependents (and one of them deletes its own in foreground) and its own finalizers. */
enum {
    GC_KEEP,
    GC_REMOVE_REFS, /* drop the references to gone and waiting owners */
    GC_DELETE_BACKGROUND,
    GC_DELETE_FOREGROUND,
    GC_DELETE_ORPHAN,
    GC_UNBLOCK_DELETE_FOREGROUND, /* unblock the waiting owners, then delete in foreground */
};
int gc_decide(int solid, int dangling, int waiting, bool has_dependents,
              bool dependent_deleting_dependents, bool orphan_fin, bool fg_fin);

/* How long until a pod on a node with these taints is evicted, as the taint eviction
 * controller decides from its tolerations: 0 at once (a NoExecute taint is not tolerated, or
 * only for <= 0 s), -1 never (no NoExecute taint, or tolerated without a limit), else the
 * shortest tolerationSeconds of the tolerations used, in ms. */
int64_t eviction_delay_ms(const json_t *taints, const json_t *tolerations);
/* A zone's state from its ready and not-ready node counts: 1 normal, 2 partially disrupted
 * (> 2 not ready and at least 55 %), 3 fully disrupted (none ready). */
int zone_state(int ready, int not_ready);

/* ---- certificate signing requests (csrutil.c): pure checks, unit-tested ---- */

#define SIGNER_KUBELET_CLIENT   "kubernetes.io/kube-apiserver-client-kubelet"
#define SIGNER_KUBELET_SERVING  "kubernetes.io/kubelet-serving"
#define SIGNER_APISERVER_CLIENT "kubernetes.io/kube-apiserver-client"
#define CSR_NODE_PREFIX         "system:node:"
/* An agent's own components (proxy, DNS, routes): CN system:edgek-agent:<node>. */
#define CSR_AGENT_PREFIX "system:edgek-agent:"
#define CSR_AGENT_GROUP  "system:edgek:agents"

/* The condition of that type whose status is not False, or NULL. Borrowed. */
const json_t *csr_condition(const json_t *csr, const char *type);
/* Decodes spec.request and inspects it; *pem (may be NULL): the PEM, caller frees. -1 when
 * malformed. info: clear with ek_pki_csr_info_clear. */
int csr_read(const json_t *csr, ek_pki_csr_info_t *info, char **pem);
/* NULL when the request has the shape the signer accepts, else why not (static text). */
const char *csr_kubelet_client_problem(const ek_pki_csr_info_t *i, const json_t *usages);
const char *csr_kubelet_serving_problem(const ek_pki_csr_info_t *i, const json_t *usages);
const char *csr_agent_client_problem(const ek_pki_csr_info_t *i, const json_t *usages,
                                     const char *username);
/* Every SAN is the node's name or one of its status.addresses. */
bool csr_sans_match_node(const ek_pki_csr_info_t *i, const json_t *node);
/* spec.expirationSeconds when given (>= 600), else 0. */
int64_t csr_duration_s(const json_t *csr);
/* When the CSR cleaner deletes a request (Unix seconds; 0 = not its business), as
 * kube-controller-manager's csrcleaner: denied or failed ones an hour after the decision,
 * issued ones an hour after approval (or when their certificate expires, if sooner), pending
 * ones a day after creation. */
#define CSR_DECIDED_TTL_S 3600
#define CSR_PENDING_TTL_S (24 * 3600)
int64_t csr_cleanup_at(const json_t *csr);

/* The controllers. */
void replicaset_controller_start(ctrl_manager_t *m);
void nodeipam_controller_start(ctrl_manager_t *m);
void deployment_controller_start(ctrl_manager_t *m);
void csrapproving_controller_start(ctrl_manager_t *m);
void csrsigning_controller_start(ctrl_manager_t *m);
void tokencleaner_controller_start(ctrl_manager_t *m);
void csrcleaner_controller_start(ctrl_manager_t *m);
void nodepassword_controller_start(ctrl_manager_t *m);
void endpoints_controller_start(ctrl_manager_t *m);
void endpointslice_controller_start(ctrl_manager_t *m);
void gc_controller_start(ctrl_manager_t *m);
void namespace_controller_start(ctrl_manager_t *m);
void serviceaccount_controller_start(ctrl_manager_t *m);
void rootca_controller_start(ctrl_manager_t *m);
void nodelifecycle_controller_start(ctrl_manager_t *m);
void servicelb_controller_start(ctrl_manager_t *m);

#endif
