/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to server/apiserver: the request model shared by the REST handlers, the object
 * cache that serves reads and watches from memory, and the server state. Everything here runs
 * on the server's loop thread.
 */
#ifndef EK_SERVER_APISERVER_INTERNAL_H
#define EK_SERVER_APISERVER_INTERNAL_H

#include <uv.h>

#include "api/api.h"
#include "lib/lib.h"
#include "server/server.h"
#include "storage/storage.h"

typedef struct apireq apireq_t;

/* ---- identity ---- */

typedef struct user {
    char *name;
    char *uid;
    ek_strlist_t groups;
} user_t;

void user_clear(user_t *u);
bool user_in_group(const user_t *u, const char *group);

/* ---- the object cache (store.c) ---- */

/* A published object: immutable, shared by the cache, event windows and responses. */
typedef struct obj {
    int refs;
    char *key;
    json_t *json; /* metadata.resourceVersion set */
    int64_t rev;  /* mod revision */
    int64_t create_rev;
    char *bytes; /* compact JSON, serialised on first use */
    size_t len;
} obj_t;

obj_t *obj_ref(obj_t *o);
void obj_unref(obj_t *o);
/* The object's JSON text (serialised once, then shared). */
const char *obj_bytes(obj_t *o, size_t *len);

typedef struct event {
    ek_kv_event_type_t type;
    int64_t rev;
    obj_t *obj;  /* new state (DELETED: last state with rev set to the deletion revision) */
    obj_t *prev; /* previous state or NULL */
} event_t;

typedef struct watcher watcher_t;

/* All objects under one storage prefix ("/registry/apps/deployments/"). */
typedef struct bucket {
    char *prefix;
    ek_map_t objs; /* key → obj_t* */
    event_t *ring; /* recent events, oldest at ring[head] */
    size_t ring_cap, ring_head, ring_n;
    int64_t evicted_rev; /* newest revision no longer in the ring (watch before it: 410) */
    watcher_t *watchers; /* intrusive list */
} bucket_t;

typedef struct store {
    /* Called after each event is applied to the cache (CRDs register their resources). */
    void (*hook)(bucket_t *b, const event_t *ev, void *data);
    void *hook_data;
    ek_kv_t *kv;
    ek_kv_watch_t *kv_watch;
    ek_map_t buckets; /* prefix → bucket_t* */
    ek_map_t pending; /* key → the last write this server made to it, awaiting its event */
    int64_t rev;      /* newest revision applied to the cache */
    size_t ring_cap;
} store_t;

int store_open(store_t *s, ek_kv_t *kv, size_t ring_cap, ek_error_t **err);
void store_close(store_t *s);
/* The bucket of a resource (created empty if missing). */
bucket_t *store_bucket(store_t *s, const ek_resource_t *r);
/* Current object or NULL. Borrowed (ref it to keep it beyond the current callback). */
obj_t *store_get(store_t *s, const ek_resource_t *r, const char *ns, const char *name);
/* Objects of r (in namespace ns, or all when ns is NULL), sorted by key. Caller frees the
 * array (entries borrowed). */
obj_t **store_list(store_t *s, const ek_resource_t *r, const char *ns, size_t *n);
/* The cached object of a store record if the cache holds that very revision, else NULL.
 * Borrowed. */
obj_t *store_find_entry(store_t *s, const ek_kv_entry_t *e);
/*
 * A write to key is about to be submitted with these bytes, serialised from obj: when its
 * event arrives, the cache publishes obj (referenced here; nobody may change it any more)
 * instead of parsing the bytes back. store_forget drops the expectation of a write that
 * failed (no event comes); it is a no-op once the event consumed it or a later write to the
 * same key replaced it.
 */
void store_expect(store_t *s, const char *key, json_t *obj, const char *bytes, size_t len);
void store_forget(store_t *s, const char *key, const json_t *obj);
/* Parses a stored value into a published object (rev set). NULL on garbage. */
obj_t *obj_from_entry(const ek_kv_entry_t *e);

/* ---- requests ---- */

typedef enum {
    ROUTE_NONE,
    ROUTE_VERSION,
    ROUTE_HEALTH, /* /healthz /livez /readyz (+ /<check>) */
    ROUTE_METRICS,
    ROUTE_API,           /* /api */
    ROUTE_APIS,          /* /apis */
    ROUTE_GROUP,         /* /apis/<group> */
    ROUTE_GROUP_VERSION, /* /api/v1, /apis/<group>/<version> */
    ROUTE_OPENAPI_V2,
    ROUTE_OPENAPI_V3, /* /openapi/v3 and /openapi/v3/<gv> */
    ROUTE_RESOURCE,   /* a collection, an object or a subresource */
} route_kind_t;

typedef struct route {
    route_kind_t kind;
    char *group;
    char *version;
    char *plural;
    char *ns;   /* namespace from the path, or NULL */
    char *name; /* object name, or NULL for a collection */
    ek_subresource_t sub;
    char *sub_path;           /* rest after a subresource (proxy paths) */
    const ek_resource_t *res; /* resolved resource (ROUTE_RESOURCE) */
    char *gv_path;            /* openapi: "api/v1", "apis/apps/v1" */
} route_t;

typedef struct params {
    char *label_selector;
    char *field_selector;
    char *resource_version;
    char *resource_version_match;
    char *cont;
    long long limit;
    bool watch;
    long long timeout_seconds; /* -1 = unset */
    bool allow_bookmarks;
    bool send_initial_events;
    bool dry_run;
    char *field_validation; /* Strict, Warn, Ignore; NULL = server default */
    char *field_manager;
    char *propagation_policy;
    long long grace_period; /* -1 = unset */
    char *include_object;   /* None, Metadata, Object */
    bool force;
    char *pretty;
} params_t;

typedef struct apireq_ops {
    /* Sends a complete response; takes body's data. */
    void (*respond)(apireq_t *r, int status, const char *content_type, ek_buf_t *body);
    void (*stream_begin)(apireq_t *r, int status, const char *content_type);
    /* -1 when the client is gone. */
    int (*stream_write)(apireq_t *r, const char *data, size_t len);
    size_t (*stream_pending)(apireq_t *r);
    void (*stream_end)(apireq_t *r);
    const char *(*header)(apireq_t *r, const char *name);
    void (*add_header)(apireq_t *r, const char *name, const char *value);
    /* Releases the transport side once the handler is done with the request. */
    void (*release)(apireq_t *r);
    /* The HTTP request behind r, for connection upgrades (node_proxy.c); NULL when the
     * transport cannot switch protocols (in-process clients). */
    ek_http_req_t *(*http_req)(apireq_t *r);
} apireq_ops_t;

typedef struct ek_apiserver ek_apiserver_t;

/* How a successful write is answered. */
typedef enum {
    ANSWER_OBJECT,         /* the stored object */
    ANSWER_SCALE,          /* its autoscaling/v1 Scale view */
    ANSWER_STATUS_CREATED, /* a Success Status with code 201 (binding, eviction) */
} answer_t;

struct apireq {
    ek_apiserver_t *srv;
    answer_t answer;
    const char *method;
    const char *path;
    const char *query;
    const char *body;
    size_t body_len;
    user_t user;
    route_t rt;
    params_t p;
    ek_strlist_t warnings;
    uint64_t start_ns;
    unsigned verb; /* EK_VERB_* (watch, list, ...) for metrics and authz */
    int status;    /* response status, for metrics */
    bool streaming;
    bool closed;        /* the client went away */
    watcher_t *watcher; /* active watch, if any */
    const apireq_ops_t *ops;
    void *tp; /* transport state */
    void (*on_close)(apireq_t *r);
    void *handler_data; /* an asynchronous handler's own state (node_proxy.c) */
};

/* Finishes a request: the handler's last call. */
void apireq_respond(apireq_t *r, int status, const char *content_type, ek_buf_t *body);
void apireq_respond_json(apireq_t *r, int status, const json_t *v);
const char *apireq_header(apireq_t *r, const char *name);
void apireq_warn(apireq_t *r, const char *fmt, ...) EK_PRINTF(2, 3);
void apireq_free(apireq_t *r);

/* Routing and parameters (route.c). */
int route_parse(const char *path, route_t *rt);
void route_clear(route_t *rt);
void params_parse(const char *query, params_t *p);
void params_clear(params_t *p);

/* ---- Status responses (status.c) ---- */

/* Sends a metav1.Status failure. details_kind/name may be NULL. */
void send_status(apireq_t *r, int code, const char *reason, const char *details_name,
                 const ek_resource_t *res, const char *fmt, ...) EK_PRINTF(6, 7);
void send_not_found(apireq_t *r, const ek_resource_t *res, const char *name);
void send_invalid(apireq_t *r, const ek_resource_t *res, const char *name,
                  const ek_field_errors_t *errs);
void send_success_status(apireq_t *r, const ek_resource_t *res, const char *name, const char *uid);
/* An ek_error_t with a status (400, 404, 409, 413, 415, 422, 500, 503, 507) as a Status. */
void send_error(apireq_t *r, const ek_resource_t *res, const char *name, const ek_error_t *err);
/* "deployments.apps" / "pods" */
const char *resource_qualified(const ek_resource_t *res, char buf[static 160]);

/* ---- handlers ---- */

/* Label/field selector filtering (filter.c). */
typedef struct filter filter_t;
filter_t *filter_new(const ek_resource_t *res, const char *ns, const char *label_selector,
                     const char *field_selector, ek_error_t **err);
bool filter_match(const filter_t *f, const json_t *obj);
void filter_free(filter_t *f);

/* Bodies (decode.c). */
json_t *decode_body(apireq_t *r, const char *want_json_ct, ek_error_t **err);
int check_type_meta(apireq_t *r, json_t *obj, ek_error_t **err);
/*
 * Server-side field validation of a create/update body against res's schema, no I/O: mode
 * "Strict" refuses unknown fields (400), "Warn" (NULL) and "Ignore" drop them from obj; a
 * field of the wrong type is a 400 in every mode. The unknown fields' paths are added to
 * unknown (caller frees). check_fields runs it for a request and turns Warn's unknown fields
 * into warnings.
 */
int schema_check_fields(const ek_resource_t *res, json_t *obj, const char *mode,
                        ek_strlist_t *unknown, ek_error_t **err);
int check_fields(apireq_t *r, json_t *obj, ek_error_t **err);

/* Per-kind write rules (strategy.c). */
int strategy_prepare_create(ek_apiserver_t *s, const ek_resource_t *res, json_t *obj,
                            ek_error_t **err);
int strategy_prepare_update(ek_apiserver_t *s, const ek_resource_t *res, json_t *obj,
                            const json_t *old, ek_error_t **err);
bool strategy_is_heartbeat(const ek_resource_t *res, const json_t *obj, const json_t *old);
const char *pod_qos_class(const json_t *pod);
void new_uid(char out[static 37]);
void generate_name_suffix(char out[static 6]);

/* The write path (write.c). */
void answer_object(apireq_t *r, int status, const json_t *obj);
void answer_entry(apireq_t *r, int status, const ek_kv_entry_t *e);
void write_object(apireq_t *r, json_t *obj, obj_t *old, bool system);
void write_object_detached(ek_apiserver_t *s, const ek_resource_t *res, json_t *obj, obj_t *old);
json_t *patch_document(apireq_t *r, const json_t *doc, const json_t *patch, ek_error_t **err);
void apply_create(apireq_t *r);

/* Subresources (subresources.c, node_proxy.c). */
json_t *scale_view(const ek_resource_t *res, const json_t *obj);
void handle_scale_get(apireq_t *r, obj_t *o);
void handle_scale_update(apireq_t *r, json_t *patch);
void handle_virtual(apireq_t *r);
void handle_subresource(apireq_t *r);
void handle_token_request(apireq_t *r);
void token_review(apireq_t *r, json_t *review);
void node_proxy(apireq_t *r);
/* The client (with the kubelet-client certificate) and a node's kubelet address. */
ek_http_client_t *node_kubelet_client(ek_apiserver_t *s, ek_error_t **err);
const char *node_address(const json_t *node);
/* metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics from the kubelets' summaries
 * (metrics_api.c). */
void handle_metrics_api(apireq_t *r);
/* Frees the client node_proxy keeps for kubelets (its calls are cancelled first). */
void node_proxy_close(ek_apiserver_t *s);

void handle_request(apireq_t *r);
void handle_discovery(apireq_t *r);
void handle_openapi(apireq_t *r);
void handle_openapi_v2(apireq_t *r);
void handle_get(apireq_t *r);
void handle_list(apireq_t *r);
void handle_watch(apireq_t *r);
void handle_create(apireq_t *r);
void handle_update(apireq_t *r);
void handle_patch(apireq_t *r);
void handle_delete(apireq_t *r);
void handle_delete_collection(apireq_t *r);
void handle_metrics(apireq_t *r);

/* Tables (table.c). */
bool wants_table(apireq_t *r);
/* A Table for objs (one row each); include_object "None"|"Metadata"|"Object". */
json_t *table_build(const ek_resource_t *res, obj_t **objs, size_t n, const char *include_object,
                    bool with_columns, int64_t rev);

/* Watchers (watch.c). */
void watchers_dispatch(bucket_t *b, const event_t *ev);
void watchers_close_all(store_t *s);

/* ---- authentication and authorization (authn.c, rbac.c) ---- */

/* Fills r->user from the client certificate or bearer token; false = 401 already sent. */
bool authn_request(apireq_t *r, const ek_tls_peer_t *peer);
/* A Secret's data[key], base64-decoded (caller frees), or NULL (absent, bad, holds NUL). */
char *secret_data(const json_t *secret, const char *key);
typedef struct authz_attrs {
    const char *verb; /* get, list, watch, create, update, patch, delete, ... */
    const char *group;
    const char *resource;    /* "pods" */
    const char *subresource; /* "log" or NULL */
    const char *ns;
    const char *name;
    const char *path;           /* non-resource requests */
    const char *field_selector; /* list/watch: the request's fieldSelector, or NULL */
} authz_attrs_t;
/* Node authorizer, then RBAC. *reason (caller frees, may stay NULL): why it was allowed, or
 * why the Node authorizer refused (appended to the 403 message, as Kubernetes does). */
bool authz_allowed(ek_apiserver_t *s, const user_t *u, const authz_attrs_t *a, char **reason);
/* What u may do in namespace ns (cluster-wide grants included), as a SelfSubjectRulesReview
 * status: {resourceRules, nonResourceRules, incomplete}. Caller owns it. */
json_t *authz_rules(ek_apiserver_t *s, const user_t *u, const char *ns);

/* ---- node identity: the Node authorizer and NodeRestriction admission (nodeauthz.c) ---- */

#define EK_NODES_GROUP              "system:nodes"
#define EK_DEFAULT_NODE_TOKEN_GROUP "system:bootstrappers:edgek:default-node-token"
/* Sent by a joining agent with its kubelet-client CSR; never stored in clear. */
#define EK_NODE_PASSWORD_HEADER "Edgek-Node-Password"

/* The node a user is (system:node:<name> in group system:nodes), or NULL. Borrowed from u. */
const char *node_identity(const user_t *u);
/* The Node authorizer for node: true = allowed; false = no opinion, with *reason (caller
 * frees) when it has one. Reads the cache (pods bound to the node are its graph). */
bool nodeauthz_allowed(ek_apiserver_t *s, const char *node, const authz_attrs_t *a, char **reason);
/* What a pod's spec may reference (env, envFrom, volumes, imagePullSecrets, its account). */
typedef enum { REF_SECRET, REF_CONFIGMAP, REF_PVC, REF_SA } ref_kind_t;
/* Whether pod references an object of that kind called name (NULL: any). */
bool pod_refs(const json_t *pod, ref_kind_t kind, const char *name);
/* The rules every node holds without a graph check, as RBAC rules (the system:node role). */
json_t *nodeauthz_rules_json(void);

/*
 * Admission: NodeRestriction for node users (except those also in system:masters: the server's
 * own in-process agent) and the CertificateSigningRequest create strategy (requester identity,
 * node passwords). Refusals answer the request (403 with Kubernetes' wording) and return -1.
 * admission_create may finish later (a node password to record): it ends with
 * create_admitted(r, obj) (write.c) or an answer; it takes a reference on obj.
 */
void admission_create(apireq_t *r, json_t *obj);
void create_admitted(apireq_t *r, json_t *obj);
int admission_update(apireq_t *r, const json_t *obj, const json_t *old);
int admission_delete(apireq_t *r, const json_t *obj);
int admission_token_request(apireq_t *r, const json_t *tr);
/* Whether NodeRestriction forbids a node to set or change the Node label key. */
bool node_label_forbidden(const char *key);

/* ---- the server ---- */

typedef struct metrics metrics_t;

struct ek_apiserver {
    uv_loop_t *loop;
    ek_apiserver_options_t opts;
    ek_kv_t *kv;
    store_t store;
    ek_pki_t *pki;
    ek_tls_config_t *tls;
    ek_http_server_t *http;
    ek_http_client_t *kubelet_http;      /* to kubelets (node_proxy.c), made at first use */
    ek_tls_config_t *kubelet_tls;        /* its TLS config (also for stream tunnels) */
    struct stream_proxy *stream_proxies; /* exec/attach/port-forward pipes in progress */
    metrics_t *metrics;
    bool ready;
    bool closing;
    char *join_secret; /* the server token's secret and user ("server"), or NULL */
    char *join_user;
    /* discovery and OpenAPI documents, rebuilt when the resource table changes */
    uint64_t docs_generation;
    ek_map_t docs; /* name → ek_buf_t* */
    void (*close_cb)(void *data);
    void *close_data;
};

/* Cached generated documents (discovery.c, openapi.c). */
const ek_buf_t *docs_get(ek_apiserver_t *s, const char *name,
                         void (*build)(ek_apiserver_t *s, const char *name, ek_buf_t *out));

/* Metrics (metrics.c). */
metrics_t *metrics_new(void);
void metrics_free(metrics_t *m);
void metrics_observe(metrics_t *m, const apireq_t *r);
void metrics_watch_delta(metrics_t *m, int delta);

/* CustomResourceDefinitions (crd.c). */
void crd_load_all(ek_apiserver_t *s);
void crd_store_hook(bucket_t *b, const event_t *ev, void *data);
/* Extra create/update checks of a CRD object (structural schemas); -1 after answering. */
int crd_admit(apireq_t *r, json_t *crd);
/* Prunes/defaults/validates a custom resource object; -1 after answering. */
int custom_admit(apireq_t *r, json_t *obj);
/* Unknown fields of a custom resource under fieldValidation (Strict → error). */
int custom_check_fields(apireq_t *r, json_t *obj, ek_error_t **err);
/* Table columns of a custom resource: Name, its printer columns (or Age). */
json_t *custom_table(const ek_resource_t *res, obj_t **objs, size_t n, const char *include,
                     bool with_columns, int64_t rev);

/* Bootstrap objects at first start (bootstrap.c). */
void bootstrap_run(ek_apiserver_t *s);

#endif
