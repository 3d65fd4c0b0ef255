/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the kubelet (node/agent.c, node/kubelet*.c): the agent's state, one record per
 * pod and per container, the worker jobs that carry blocking work off the loop, and the pure
 * pieces (environment, command lines, status, resolv.conf, resources) that the unit tests
 * call directly. Everything except a job's run function is loop-thread only.
 *
 * A pod's containers are runtime containers named "<base>.<attempt>": base is the container's
 * name (shortened with a hash when long), attempt counts from 0 and is the container's
 * restartCount. The kubelet keeps the newest instance and the one before it (for
 * `logs --previous` and lastState), as the real kubelet's garbage collection does, so after a
 * restart the runtime alone tells it every container's restart count and last state.
 */
#ifndef EK_NODE_KUBELET_INTERNAL_H
#define EK_NODE_KUBELET_INTERNAL_H

#include <uv.h>

#include "net/net.h"
#include "node/node.h"

#define EK__KL_BACKOFF_INITIAL_MS 10000
#define EK__KL_BACKOFF_MAX_MS     300000
#define EK__KL_STATUS_REPORT_MS   300000 /* heartbeat-only Node status at least this often */

typedef struct ek_agent ek_kubelet_t;
typedef struct kl_pod kl_pod_t;
typedef struct kl_job kl_job_t;
typedef struct kl_logreq kl_logreq_t;

/* ---- pure helpers (kubelet_env.c, kubelet_spec.c, kubelet_status.c, kubelet_dns.c) ---- */

/* Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): $(NAME) becomes
 * lookup(NAME) when that is not NULL and stays as written otherwise, $$ is one $, anything else
 * is copied. Caller frees. */
typedef const char *(*ek__kl_lookup_fn)(const char *name, void *data);
char *ek__kl_expand(const char *in, ek__kl_lookup_fn lookup, void *data);

/* Where env and volume sources come from (informer caches in the kubelet, JSON in tests).
 * Each returns the object or NULL; borrowed. */
typedef struct ek__kl_sources {
    json_t *(*configmap)(const char *ns, const char *name, void *data);
    json_t *(*secret)(const char *ns, const char *name, void *data);
    /* Services of ns that feed Docker-link variables (enableServiceLinks), plus
     * default/kubernetes; NULL-terminated array of borrowed objects (caller frees the array). */
    json_t **(*services)(const char *ns, void *data);
    void *data;
    /* Node facts for fieldRef / resourceFieldRef. */
    const char *node_name;
    const char *host_ip;
    const char *pod_ip;
    int64_t node_cpu_milli; /* allocatable: resourceFieldRef's default without a limit */
    int64_t node_memory;
} ek__kl_sources_t;

/* One environment variable; an ordered list of them. */
typedef struct ek__kl_env {
    char **names, **values;
    size_t n;
} ek__kl_env_t;
void ek__kl_env_set(ek__kl_env_t *e, const char *name, const char *value);
const char *ek__kl_env_get(const ek__kl_env_t *e, const char *name);
void ek__kl_env_free(ek__kl_env_t *e);

/*
 * The container's environment as the kubelet builds it (makeEnvironmentVariables): envFrom
 * (prefixed keys; invalid names skipped and listed in *skipped, caller frees), then env
 * ($(VAR) expansion of values against what came before and the service variables, valueFrom
 * configMapKeyRef/secretKeyRef/fieldRef/resourceFieldRef), then the service variables not
 * already set. Errors read as the kubelet's (`configmap "x" not found`, `couldn't find key k
 * in ConfigMap ns/x`) and become CreateContainerConfigError.
 */
int ek__kl_make_env(const json_t *pod, const json_t *ctr, const ek__kl_sources_t *src,
                    ek__kl_env_t *out, char **skipped, ek_error_t **err);
/* The value of a fieldRef path of the pod (metadata.name, metadata.labels['x'], status.podIP,
 * ...); caller frees; NULL with err for an unsupported path. */
char *ek__kl_field_ref(const json_t *pod, const char *path, const ek__kl_sources_t *src,
                       ek_error_t **err);
/* A resourceFieldRef value (limits.cpu, requests.memory, ... with divisor) of container cname;
 * caller frees. */
char *ek__kl_resource_ref(const json_t *pod, const char *cname, const json_t *ref,
                          const ek__kl_sources_t *src, ek_error_t **err);

/*
 * The process to run: command/args of the container merged with the image's Entrypoint/Cmd
 * as Kubernetes does (command replaces Entrypoint and drops Cmd; args alone replace Cmd), each
 * word $(VAR)-expanded against env. Returns a NULL-terminated list (caller frees each and the
 * list); an empty result is an error ("no command specified").
 */
char **ek__kl_command(const json_t *ctr, const json_t *image_config, const ek__kl_env_t *env,
                      ek_error_t **err);
/* Image Env first, then the container's (later names replace earlier ones), as "K=V" strings
 * (NULL-terminated; caller frees each and the list). hostname adds HOSTNAME as containerd does. */
char **ek__kl_env_strings(const json_t *image_config, const ek__kl_env_t *env,
                          const char *hostname);

/* Resources → cgroup limits as the kubelet maps them. */
void ek__kl_container_resources(const json_t *ctr, ek_rt_resources_t *out);
void ek__kl_pod_resources(const json_t *pod, int64_t pids_limit, ek_rt_resources_t *out);
/* "Guaranteed", "Burstable" or "BestEffort" computed from the spec (as the API server does). */
const char *ek__kl_qos_class(const json_t *pod);

/* resolv.conf for the pod per dnsPolicy and dnsConfig. host_resolv is the host file's text.
 * Caller frees. */
char *ek__kl_resolv_conf(const json_t *pod, const char *host_resolv, const char *cluster_dns,
                         const char *cluster_domain);
/* The pod's /etc/hosts (kubelet-managed), /etc/hostname content and hostname. Caller frees. */
char *ek__kl_hosts_file(const json_t *pod, const char *pod_ip, const char *cluster_domain,
                        const char *host_hosts);
char *ek__kl_pod_hostname(const json_t *pod, const char *node_hostname);

/* What the status builder knows about one container (spec order: init containers first). */
typedef enum {
    EK__KL_NONE = 0, /* never created */
    EK__KL_WAITING,  /* reason/message say why */
    EK__KL_RUNNING,
    EK__KL_TERMINATED, /* ended, not to be restarted (or not yet decided) */
} ek__kl_cstate_t;

typedef struct ek__kl_term {
    int exit_code, signal;
    const char *reason, *message;
    int64_t started_ns, finished_ns;
    const char *container_id;
} ek__kl_term_t;

typedef struct ek__kl_cview {
    const char *name;
    bool init, sidecar;
    ek__kl_cstate_t state;
    const char *reason, *message; /* EK__KL_WAITING */
    int64_t started_ns;           /* EK__KL_RUNNING */
    ek__kl_term_t term;           /* EK__KL_TERMINATED */
    bool has_last;
    ek__kl_term_t last;
    int restart_count;
    bool ready;
    bool unstarted; /* running, but its startup probe has not succeeded yet */
    const char *image, *image_id, *container_id;
} ek__kl_cview_t;

typedef struct ek__kl_pview {
    const json_t *pod; /* spec and the previous status (lastTransitionTime, startTime) */
    ek__kl_cview_t *c; /* init containers, then containers, in spec order */
    size_t n;
    bool sandbox_ready; /* PodReadyToStartContainers */
    bool terminal;      /* nothing will be started again (deleted or finished) */
    const char *pod_ip, *host_ip;
    const char *start_time; /* RFC 3339 */
    const char *now;        /* RFC 3339: transition times */
    const json_t *prev;     /* the status last written, if newer than pod's; may be NULL */
} ek__kl_pview_t;

/* The pod phase (kubelet's getPhase). */
const char *ek__kl_phase(const ek__kl_pview_t *v);
/* The whole PodStatus object. Caller owns. */
json_t *ek__kl_pod_status(const ek__kl_pview_t *v);

/* "edgek://<64 hex>": a stable container id for pod uid, runtime name. buf >= 80 bytes. */
const char *ek__kl_container_id(const char *uid, const char *rt_name, char *buf);

/* ---- the agent ---- */

typedef struct kl_ctr {
    char *name;
    char *base; /* runtime base name: <base>.<attempt> */
    bool init, sidecar;
    int attempt; /* newest runtime instance; -1: none yet */
    ek_rt_status_t cur;
    bool have_prev;
    int prev_attempt;
    ek_rt_status_t prev;
    char *cur_msg, *prev_msg; /* termination messages (file or log tail) */
    char *reason, *message;   /* waiting reason shown instead of cur's state, or NULL */
    ek_image_info_t *image;   /* resolved for the spec's image */
    char *image_ref;          /* which spec image `image` is for */
    bool pulling;
    int64_t pull_backoff_ms, pull_retry_at, pull_updated;
    int64_t backoff_ms, backoff_updated; /* crash loop back-off (flowcontrol.Backoff) */
    struct kl_cprobes *probes;           /* kubelet_probes.c; NULL without probes */
} kl_ctr_t;

struct kl_pod {
    ek_kubelet_t *kl;
    char *uid, *ns, *name;
    json_t *obj;     /* newest object from the informer */
    bool gone;       /* deleted from the API */
    ek_rt_pod_t *rt; /* sandbox, once created or adopted */
    bool rt_dead;    /* its shim went away */
    char *ip;
    kl_ctr_t *c; /* init containers, then containers */
    size_t nc;
    bool busy, dirty; /* a job runs; sync again after it */
    int ev_fd;
    uv_poll_t poll;
    uv_timer_t timer;
    int64_t wake_at; /* wall ms the timer is set for, 0 = none */
    int handles;     /* open uv handles; freed when 0 after close */
    bool freeing;
    /* volumes */
    char *vol_applied; /* hash of the volume plan on disk */
    char *vol_error;
    int64_t vol_retry_at;
    json_t *tokens; /* projected service account tokens: "vol/path" → {token, refresh} */
    int calls;      /* token requests and the final delete in flight */
    int pulls;      /* image pulls in flight */
    bool closing;
    /* lifecycle */
    char *start_time;
    bool initialized; /* init containers done once: sidecar restarts no longer block */
    bool terminal;    /* finished: nothing restarts */
    bool frozen;      /* terminal before this agent started: its API status is final */
    bool killing, sigkilled;
    int64_t kill_deadline;
    bool torn_down;
    bool logs_removed;
    bool delete_sent;
    int64_t sandbox_retry_at, sandbox_backoff;
    char *sandbox_error;
    /* status */
    json_t *sent; /* last status written */
    bool status_busy, status_again;
    /* health (kubelet_probes.c, kubelet_evict.c, kubelet_cache.c) */
    int probing;   /* probe, hook and probe-kill jobs in flight: the record waits for them */
    char *evicted; /* why the node evicted it ("The node was low on resource: memory. ") */
    bool cached;   /* started from the local cache: the API has not confirmed it yet */
    bool admitted; /* passed the node's pressure admission once (kubelet_evict.c) */
    int64_t status_retry_at; /* the server could not be reached: next status write */
};

struct kl_job {
    uv_work_t work;
    kl_pod_t *pod; /* NULL for agent-wide jobs */
    ek_kubelet_t *kl;
    void (*run)(kl_job_t *j);  /* worker thread */
    void (*done)(kl_job_t *j); /* loop thread; frees the job */
    ek_error_t *err;
};

struct ek_agent {
    uv_loop_t *loop;
    ek_api_client_t *client;
    /* options, copied */
    char *data_dir, *node_name, *node_ip, *hostname;
    ek_strlist_t node_ips, node_labels, node_taints, external_ips;
    bool control_plane;
    char *cluster_cidr, *cluster_dns, *cluster_domain;
    char *host_resolv, *host_hosts; /* contents */
    char *pods_dir, *log_dir;
    int64_t pod_max_pids, lease_ms;
    int max_pods;
    /* parts */
    ek_image_store_t *images;
    ek_image_airgap_t *airgap;
    ek_rt_t *rt;
    ek_podnet_t *net;
    uv_mutex_t net_mu;
    char *pod_cidr;
    bool net_ready, net_busy;
    char *net_error;
    /* cross-node routes (kubelet_routes.c) */
    ek_podnet_backend_t backend;
    char vtep_mac[18];        /* this node's VTEP MAC (VXLAN), once the network is set up */
    bool vtep_patching;       /* its annotation is being written */
    ek_informer_t *all_nodes; /* every Node, through the node services' identity */
    ek_map_t routes;          /* node name → ek_podnet_remote_t programmed */
    bool routes_busy, routes_dirty, routes_failed;
    ek_informer_t *pods, *node, *services, *namespaces, *slices;
    ek_api_client_t *svc_client; /* the node services' identity, or NULL (ek_agent_options_t) */
    /* ConfigMaps and Secrets are watched one by one, as pods reference them ("c|ns|name" or
     * "s|ns|name" → informer): a node's identity may read only what its pods use. */
    ek_map_t watched;
    /* cluster DNS (kubelet_dnsserver.c) */
    char *resolv_path; /* the file its upstreams come from */
    ek_dns_t *dns;
    char *dns_addr; /* "gateway:53" once listening */
    ek_event_recorder_t *rec;
    ek_map_t by_uid; /* uid → kl_pod_t */
    bool adopted, adopting;
    int jobs;  /* in flight */
    int calls; /* API calls whose callbacks reach kubelet memory */
    /* node */
    uv_timer_t lease_timer;
    bool lease_on;
    bool registered, registering;
    json_t *node_sent;
    int64_t node_sent_at;
    bool node_busy, node_again;         /* a status patch in flight; another wanted after it */
    int64_t cpu_milli, memory, storage; /* capacity */
    /* kubelet endpoint */
    ek_tls_config_t *tls;
    ek_http_server_t *http;
    int port;
    kl_logreq_t *logs;         /* streams in progress */
    struct kl_stream *streams; /* exec, attach, port-forward sessions (kubelet_exec.c) */
    /* health: pressure, eviction, image GC (kubelet_evict.c); the local cache (kubelet_cache.c) */
    struct kl_health *health;
    struct kl_cache *cache;
    /* the service proxy (kubelet_proxy.c) */
    ek_proxy_t *proxy;
    int proxy_lists; /* informers (services, slices) that have listed */
    ek_http_server_t *proxy_http;
    /* stopping */
    bool stopping;
    int closing; /* handles and parts still closing */
    void (*stop_cb)(void *data);
    void *stop_data;
};

/* Jobs (kubelet.c): run on a worker, then done on the loop. A pod job marks the pod busy;
 * its done function must call ek__kl_pod_job_end. */
void ek__kl_job_queue(ek_kubelet_t *kl, kl_job_t *j);
void ek__kl_pod_job_end(kl_pod_t *p);
/* API call bookkeeping: a call whose callback touches the kubelet counts itself. */
void ek__kl_call_begin(ek_kubelet_t *kl);
void ek__kl_call_end(ek_kubelet_t *kl);
void ek__kl_maybe_finish_stop(ek_kubelet_t *kl);
const ek_resource_t *ek__kl_res(const char *group, const char *plural);
/* Records an event about the pod. */
void ek__kl_event(kl_pod_t *p, const char *type, const char *reason, const char *fmt, ...)
    EK_PRINTF(4, 5);
bool ek__kl_pod_is_host_network(const kl_pod_t *p);
/* The sources (informer caches) for env and volumes of pod p. */
void ek__kl_sources(kl_pod_t *p, ek__kl_sources_t *s);
/* A Secret of ns, through its own watch (NULL until it arrives). Borrowed. */
json_t *ek__kl_secret(ek_kubelet_t *kl, const char *ns, const char *name);
/* The API's ConfigMap or Secret (plural "configmaps", "secrets") through its one-object watch,
 * without the local cache's fallback; borrowed, NULL until it has arrived. */
json_t *ek__kl_watched(ek_kubelet_t *kl, const char *plural, const char *ns, const char *name);

/* Cluster DNS (kubelet_dnsserver.c), a node service: started and stopped with the agent, it
 * listens once the pod network is ready (on its gateway, port 53). */
/* The resolv.conf the server's upstreams (and dnsPolicy Default pods) come from: path when
 * given, else /etc/resolv.conf, or systemd-resolved's upstream file when that one only names
 * loopback stubs. Caller frees. */
char *ek__kl_host_resolv_path(const char *path);
int ek__kl_dns_start(ek_kubelet_t *kl, ek_error_t **err);
void ek__kl_dns_net_ready(ek_kubelet_t *kl, struct in_addr gateway);
void ek__kl_dns_stop(ek_kubelet_t *kl);

/* Pods (kubelet_pod.c). */
kl_pod_t *ek__kl_pod_get(ek_kubelet_t *kl, json_t *obj);
void ek__kl_pod_sync(kl_pod_t *p);
void ek__kl_pod_deleted(kl_pod_t *p);
void ek__kl_pod_release(kl_pod_t *p);
void ek__kl_pod_wake(kl_pod_t *p, int64_t at);
void ek__kl_pod_start_events(kl_pod_t *p, int fd);
void ek__kl_pod_stop_events(kl_pod_t *p);
/* The termination message of c's newest instance: its terminationMessagePath file, or with
 * FallbackToLogsOnError and a failure the log's last lines. Caller frees; NULL if none. */
char *ek__kl_termination_message(kl_pod_t *p, kl_ctr_t *c);
void ek__kl_pod_apply_status(kl_pod_t *p, const ek_rt_status_t *st);
kl_ctr_t *ek__kl_ctr_by_name(kl_pod_t *p, const char *name);
json_t *ek__kl_ctr_spec(const kl_pod_t *p, const kl_ctr_t *c);
char *ek__kl_rt_name(const kl_ctr_t *c, int attempt);
char *ek__kl_log_path(const ek_kubelet_t *kl, const char *ns, const char *name, const char *uid,
                      const char *ctr, int attempt);
void ek__kl_adopt(ek_kubelet_t *kl);

/* Jobs of one pod (kubelet_jobs.c); each marks the pod busy until it reports. */
void ek__kl_job_volumes(kl_pod_t *p, json_t *plan, const char *hash);
void ek__kl_job_sandbox(kl_pod_t *p);
void ek__kl_job_start(kl_pod_t *p, kl_ctr_t **cs, size_t n);
void ek__kl_job_kill(kl_pod_t *p, int sig);
void ek__kl_job_teardown(kl_pod_t *p, bool remove_logs);
void ek__kl_job_remove_logs(kl_pod_t *p);
/* Whether c's image is in the store (pulling it per imagePullPolicy when not); sets c's
 * waiting reason (ErrImagePull, ImagePullBackOff, ErrImageNeverPull, InvalidImageName). */
bool ek__kl_image_ready(kl_pod_t *p, kl_ctr_t *c, int64_t now);
void ek__kl_set_reason(kl_ctr_t *c, const char *reason, const char *message);
/* Runs sync for every pod (the network became ready, adoption finished). */
void ek__kl_sync_all(ek_kubelet_t *kl);

/* Containers (kubelet_spec.c): a runtime spec built on the loop, used by a job. */
typedef struct kl_cspec {
    ek_rt_container_spec_t s;
    char *rt_name;
    ek_strlist_t own; /* strings the spec points into */
    char **args, **env;
    const char **layers, **cap_add, **cap_drop;
    ek_rt_mount_t *mounts;
    gid_t *groups;
    char *term_path; /* host file behind terminationMessagePath */
    char *image_id;
    char *hold_key;
    ek_strlist_t mkdirs; /* subPath directories to create first */
    size_t n_mounts_cap;
} kl_cspec_t;
/* Builds the spec of container c's next attempt; NULL with err (CreateContainerConfigError). */
kl_cspec_t *ek__kl_cspec_build(kl_pod_t *p, kl_ctr_t *c, int attempt, ek_error_t **err);
void ek__kl_cspec_free(kl_cspec_t *cs);
/* Host directory of the pod's kubelet files: <data>/agent/pods/<uid>. Caller frees. */
char *ek__kl_pod_dir(const ek_kubelet_t *kl, const char *uid);
/* Host path a volume of the pod is mounted from (NULL for unsupported kinds). Caller frees. */
char *ek__kl_volume_path(const ek_kubelet_t *kl, const json_t *pod, const json_t *vol);

/* Volumes (kubelet_volumes.c). */
/* The pod's volume plan: the files of every configMap/secret/downwardAPI/projected volume and
 * the checks of hostPath and emptyDir, or NULL with err when a source is missing. Caller owns. */
json_t *ek__kl_volume_plan(kl_pod_t *p, ek_error_t **err);
/* Makes the plan real on disk (blocking; worker thread). */
int ek__kl_volumes_apply(const char *pod_dir, const json_t *plan, ek_error_t **err);
/* Unmounts and removes everything under the pod's directory (blocking). */
int ek__kl_volumes_cleanup(const char *pod_dir, ek_error_t **err);
/* Files written atomically as the kubelet's AtomicWriter does (..data symlink swap). files:
 * {"rel/path": {"data": base64, "mode": n}}. */
int ek__kl_atomic_write(const char *dir, const json_t *files, int64_t uid, int64_t gid,
                        ek_error_t **err);

/* Status (kubelet_status.c). */
void ek__kl_pod_send_status(kl_pod_t *p);
json_t *ek__kl_pod_status_now(kl_pod_t *p);

/* Node (kubelet_node.c). */
int ek__kl_node_start(ek_kubelet_t *kl, ek_error_t **err);
void ek__kl_node_stop(ek_kubelet_t *kl);
void ek__kl_node_changed(ek_kubelet_t *kl);

/* Cross-node routes (kubelet_routes.c). The annotation a node publishes its VTEP MAC in. */
#define EK_VTEP_MAC_ANNOTATION "edgek.io/vtep-mac"
void ek__kl_routes_start(ek_kubelet_t *kl);
/* Recomputes the remote entries from the Nodes and programs the difference on a worker. */
void ek__kl_routes_sync(ek_kubelet_t *kl);
/* Syncs again if the last batch had failures (called on the lease tick). */
void ek__kl_routes_retry(ek_kubelet_t *kl);
void ek__kl_routes_stop(ek_kubelet_t *kl);
void ek__kl_routes_free(ek_kubelet_t *kl);
/* The node's first InternalIP as chosen at start. */
const char *ek__kl_node_ip(const ek_kubelet_t *kl);

/* Streaming endpoints (kubelet_exec.c): /exec, /attach, /portForward upgrades. */
void ek__kl_stream_handle(ek_kubelet_t *kl, ek_http_req_t *req);
void ek__kl_streams_stop(ek_kubelet_t *kl);
/* The status-channel message for an exit code (reason NULL), or a failure with reason and
 * message. Caller owns. */
json_t *ek__kl_exec_status(int exit_code, const char *reason, const char *message);
/* A resize message {"Width":W,"Height":H}; -1 when malformed. */
int ek__kl_parse_resize(const char *json, size_t len, unsigned short *cols, unsigned short *rows);

/* Stats (kubelet_stats.c): /stats/summary, /metrics/resource. True if it answered. */
bool ek__kl_stats_handle(ek_kubelet_t *kl, ek_http_req_t *req);

/* Logs endpoint (kubelet_logs.c). */
int ek__kl_logs_start(ek_kubelet_t *kl, const ek_agent_options_t *o, ek_error_t **err);
void ek__kl_logs_stop(ek_kubelet_t *kl);

/* The service proxy (kubelet_proxy.c): started after the informers, stopped before them. */
int ek__kl_proxy_start(ek_kubelet_t *kl, const ek_agent_options_t *o, ek_error_t **err);
void ek__kl_proxy_stop(ek_kubelet_t *kl);
/* A container of pod p changed state: followers of its log may finish. */
void ek__kl_logs_poke(ek_kubelet_t *kl, const char *uid);
/* CRI log line → output (pure, for tests): parses "<ts> <stream> <P|F> <text>"; *ts_ns gets
 * the time. Returns 0, or -1 for a malformed line. */
/* The last lines (at most max_lines and max_bytes) of a CRI log, as text. Caller frees. */
char *ek__kl_log_tail(const char *path, int max_lines, size_t max_bytes);
int ek__kl_cri_parse(const char *line, size_t len, int64_t *ts_ns, const char **stream,
                     bool *partial, const char **text, size_t *text_len);

/* ---- probes and lifecycle hooks (kubelet_probes.c) ---- */

typedef enum {
    EK__KL_LIVENESS = 0,
    EK__KL_READINESS,
    EK__KL_STARTUP,
} ek__kl_probe_kind_t;

/* One probe of one container instance: its settings and the prober worker's state. */
typedef struct ek__kl_probe {
    ek__kl_probe_kind_t kind;
    int64_t delay_ms, period_ms, timeout_ms;
    int failure_threshold, success_threshold;
    int result;      /* 1 success, 0 failure, -1 unknown (startup, before its first verdict) */
    int last, run;   /* the last outcome and how many times in a row it came */
    int64_t next_at; /* wall ms of the next run */
    bool running, on_hold;
} ek__kl_probe_t;

/* A probe from its spec (the API's defaults for missing fields) for a container started at
 * started_ms: the first run is initialDelaySeconds after that, the result starts as
 * Kubernetes' (readiness failure, liveness success, startup unknown). Pure. */
void ek__kl_probe_init(ek__kl_probe_t *pr, ek__kl_probe_kind_t kind, const json_t *spec,
                       int64_t started_ms);
/* Records one run's outcome at now; the result changes only after failureThreshold failures
 * or successThreshold successes in a row. A failed liveness or startup verdict puts the probe
 * on hold (the container is restarted). Returns true when the result changed. Pure. */
bool ek__kl_probe_record(ek__kl_probe_t *pr, bool ok, int64_t now);
/* "Liveness", "Readiness", "Startup". */
const char *ek__kl_probe_name(ek__kl_probe_kind_t kind);

/* Starts the probes that are due for pod p's running containers and sets the pod's timer
 * for the next ones. Loop thread. */
void ek__kl_probes_sync(kl_pod_t *p, int64_t now);
/* Whether c's startup probe (if any) succeeded, and whether c is ready (started, running and
 * its readiness probe, if any, passing). */
bool ek__kl_ctr_started(const kl_ctr_t *c);
bool ek__kl_ctr_ready(const kl_ctr_t *c);
void ek__kl_probes_free(kl_ctr_t *c);
/* Pod deletion: runs the preStop hooks of the running containers within the grace period,
 * then sends the stop signal. Returns false when no container has one (the caller signals). */
bool ek__kl_prestop_start(kl_pod_t *p, int64_t deadline);
/* postStart of a container just started (worker thread, in the start job): runs the hook and
 * on failure kills the container and returns -1 with a message (caller frees) for the
 * FailedPostStartHook event. host: the pod IP; hook: lifecycle.postStart. */
int ek__kl_poststart_run(ek_kubelet_t *kl, ek_rt_pod_t *rt, const char *ctr, const char *host,
                         const json_t *ctr_spec, int64_t grace_ms, char **msg);

/* gRPC health checks (kubelet_grpc.c). The request bytes (preface, SETTINGS, HEADERS, DATA)
 * for one grpc.health.v1.Health/Check on stream 1; caller frees. */
char *ek__kl_grpc_request(const char *authority, const char *service, size_t *len);
/* What the reader has learnt from the server's frames. */
typedef struct ek__kl_grpc_reader {
    int status; /* HealthCheckResponse.status once a whole message came; -1 before */
    bool ended, reset, goaway;
    int acks_due; /* SETTINGS frames to acknowledge */
    bool ping_due;
    uint8_t ping[8];
    ek_buf_t data; /* stream 1's DATA so far */
} ek__kl_grpc_reader_t;
/* Consumes the whole frames at the start of buf; returns the bytes used, or -1 with err for
 * a frame no server may send. Pure. */
ssize_t ek__kl_grpc_feed(ek__kl_grpc_reader_t *r, const uint8_t *buf, size_t len, ek_error_t **err);
/* The call (blocking, worker thread): true when the service is SERVING; else *msg says why
 * (caller frees). */
bool ek__kl_grpc_check(const char *host, int port, const char *service, int64_t timeout_ms,
                       char **msg);

/* ---- node pressure, eviction, image GC (kubelet_evict.c) ---- */

/* Eviction thresholds ("memory.available<100Mi,nodefs.available<10%,..."): each signal's
 * minimum as bytes or percent. Returns -1 with err for bad text. */
typedef struct ek__kl_thresholds {
    int64_t memory_bytes;                /* memory.available */
    double nodefs_pct, imagefs_pct;      /* nodefs.available, imagefs.available */
    int64_t nodefs_bytes, imagefs_bytes; /* when given as quantities */
    int64_t pids;                        /* pid.available; 0 = none */
} ek__kl_thresholds_t;
int ek__kl_thresholds_parse(const char *text, ek__kl_thresholds_t *t, ek_error_t **err);

/* One pod as the eviction ranking sees it. */
typedef struct ek__kl_evict_cand {
    const char *uid;
    const char *qos;  /* BestEffort, Burstable, Guaranteed */
    int64_t priority; /* spec.priority */
    int64_t usage;    /* bytes of the starved resource in use (0 when unknown) */
    int64_t requests; /* bytes of it requested */
    bool critical;    /* static/mirror or system-node-critical: never evicted */
} ek__kl_evict_cand_t;
/* Sorts candidates most-evictable first: BestEffort, then Burstable (those over their
 * requests first), then Guaranteed; within a class lower priority, then larger usage above
 * requests. Critical pods go last. Pure. */
void ek__kl_evict_rank(ek__kl_evict_cand_t *c, size_t n);

/* Admission of a pod not started yet: false (the pod then ends Failed, reason Evicted) when
 * the node's pressure refuses it, as the kubelet's eviction admission does. */
bool ek__kl_admit(kl_pod_t *p);
int ek__kl_health_start(ek_kubelet_t *kl, const ek_agent_options_t *o, ek_error_t **err);
void ek__kl_health_stop(ek_kubelet_t *kl);
/* The node's pressure conditions (index 0 MemoryPressure, 1 DiskPressure, 2 PIDPressure):
 * true when under pressure, with the kubelet's reason and message. */
bool ek__kl_pressure(const ek_kubelet_t *kl, int i, const char **reason, const char **msg);

/* ---- the local cache of pods, ConfigMaps, Secrets and the Node (kubelet_cache.c) ---- */

int ek__kl_cache_start(ek_kubelet_t *kl, const ek_agent_options_t *o, ek_error_t **err);
void ek__kl_cache_stop(ek_kubelet_t *kl);
/* Informer events: write what changed (only when it did), drop what went. */
void ek__kl_cache_pod(ek_kubelet_t *kl, const json_t *pod, bool deleted);
void ek__kl_cache_source(ek_kubelet_t *kl, const char *kind, const json_t *obj, bool deleted);
void ek__kl_cache_node(ek_kubelet_t *kl, const json_t *node);
/* The cached object while the informer has not synced (kind "configmaps", "secrets"), or
 * the cached Node. Borrowed; NULL when absent. */
json_t *ek__kl_cache_get(ek_kubelet_t *kl, const char *kind, const char *ns, const char *name);
json_t *ek__kl_cache_node_get(ek_kubelet_t *kl);
/* The pods informer synced: cached pods the API no longer has are deleted. */
void ek__kl_cache_synced(ek_kubelet_t *kl);

#endif
