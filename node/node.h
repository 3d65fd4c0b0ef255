/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/: the kubelet — pod workers, status, probes, volumes, logs/exec/port-forward, stats;
 * runtime/ (pod shim, containers, cgroups, mounts); image/ (store, import, registry pull).
 * This is the part's one public header.
 */
#ifndef EK_NODE_NODE_H
#define EK_NODE_NODE_H

#include "api/api.h"
#include "lib/lib.h"

/* ---- images (node/image) ---- */

/*
 * The image store: content-addressed metadata blobs (manifests, configs, indexes) under
 * <root>/blobs/sha256/, every layer unpacked once under <root>/layers/<diffid>/rootfs (an
 * overlayfs lower directory shared by every image that has that layer), and <root>/index.json
 * (image records and their names, replaced atomically). Reference counts are derived from
 * index.json and the container holds (<root>/holds/) at open; garbage collection removes what
 * neither names nor holds reach. Several processes may share a store (an flock serialises
 * changes). Unless a comment says otherwise, functions are blocking and run on one thread
 * (the loop thread in the agent); the asynchronous calls need the store's loop.
 */
typedef struct ek_image_store ek_image_store_t;

/* One image as the kubelet needs it. Caller frees with ek_image_info_free. */
typedef struct ek_image_info {
    char *id;       /* image id: the config digest, "sha256:<hex>" */
    char *digest;   /* repo digest: what the name points at (index or manifest) */
    char *manifest; /* the platform manifest's digest */
    char *platform; /* "linux/arm64", "linux/arm/v7", ... */
    char **names;   /* normalised references ("docker.io/library/busybox:latest") */
    size_t n_names;
    uint64_t size;  /* bytes of the unpacked layers */
    json_t *config; /* the config's "config" object: Entrypoint, Cmd, Env, WorkingDir, User,
                       ExposedPorts, ... ({} when absent); owned */
    char **layers;  /* unpacked layer directories, lowest first (absolute paths) */
    size_t n_layers;
} ek_image_info_t;
void ek_image_info_free(ek_image_info_t *info);
EK_DEFINE_CLEANUP(ek_image_info_t, ek_image_info_free)
/* overlayfs lowerdir= value: the layers topmost first, ':'-separated. Caller frees. */
char *ek_image_lowerdir(const ek_image_info_t *info);

/* A parsed, normalised Docker reference (pure; see ek_image_ref_parse). */
typedef struct ek_image_ref {
    char *domain; /* "docker.io", "registry.local:5000" */
    char *path;   /* "library/busybox" */
    char *tag;    /* "latest", or NULL when only a digest was given */
    char *digest; /* "sha256:<hex>" or NULL */
    char *name;   /* domain/path */
    char *full;   /* domain/path[:tag][@digest] */
} ek_image_ref_t;
/* Docker's normalisation: "busybox" → docker.io/library/busybox:latest, "index.docker.io" →
 * docker.io, a tag-less digest reference keeps no tag. Errors name the reference. */
int ek_image_ref_parse(const char *s, ek_image_ref_t *out, ek_error_t **err);
void ek_image_ref_free(ek_image_ref_t *r);
/* The normalised form of s (caller frees), or NULL with err. */
char *ek_image_ref_normalize(const char *s, ek_error_t **err);

/* The node's platform ("linux/amd64", "linux/arm64", "linux/arm/v7"). Borrowed, static. */
const char *ek_image_node_platform(void);

typedef struct ek_image_store_options {
    const char *registries_yaml; /* NULL: /etc/edgek/registries.yaml (missing file = none) */
    const char *platform;        /* NULL: the node's */
    uint64_t max_layer_bytes;    /* uncompressed size limit per layer; 0 = 16 GiB */
    uint64_t max_image_bytes;    /* uncompressed size limit per import/pull; 0 = 64 GiB */
    bool progress;               /* pulls draw a progress line on stderr */
} ek_image_store_options_t;

/* Opens (creating if needed) the store in dir, e.g. <data-dir>/agent/images. Removes
 * leftovers of imports that crashed. Caller closes. opts may be NULL. */
ek_image_store_t *ek_image_store_open(const char *dir, const ek_image_store_options_t *opts,
                                      ek_error_t **err);
void ek_image_store_close(ek_image_store_t *s);
/* The store's root directory. Borrowed. */
const char *ek_image_store_dir(const ek_image_store_t *s);

typedef struct ek_image_import_options {
    const char *platform; /* NULL: the store's; "all": every platform */
} ek_image_import_options_t;
/*
 * Imports an OCI layout or `docker save` archive (.tar, .tar.gz/.tgz, .tar.zst), every image
 * in it. Blocking (decompresses and unpacks; layers in parallel on a private loop's worker
 * threads). On success *names (if not NULL) holds the imported references or digests
 * (caller frees with ek_strlist_free). On failure nothing of the archive is visible.
 */
int ek_image_import(ek_image_store_t *s, const char *path, const ek_image_import_options_t *o,
                    ek_strlist_t *names, ek_error_t **err);

/* Resolves a reference (any form ek_image_ref_parse takes, an image id "sha256:<hex>", or
 * an unambiguous id prefix of at least 12 hex digits). NULL with a 404-status error when
 * absent. Caller frees. */
ek_image_info_t *ek_image_resolve(ek_image_store_t *s, const char *ref, ek_error_t **err);
/* Every image (one entry per image, all its names), sorted by first name. Caller frees
 * each and the array. */
ek_image_info_t **ek_image_list(ek_image_store_t *s, size_t *n, ek_error_t **err);
/* Removes a name; the image goes when it has no names left and no holds. An image id (or
 * prefix) removes all its names. A held image fails with status 409. */
int ek_image_remove(ek_image_store_t *s, const char *ref, ek_error_t **err);
/* Removes images without names and no holds, then unreferenced layers and blobs. Returns
 * the bytes freed. */
int64_t ek_image_prune(ek_image_store_t *s, ek_error_t **err);
/* Garbage collection only (layers and blobs no image uses). Returns the bytes freed. */
int64_t ek_image_gc(ek_image_store_t *s, ek_error_t **err);

/* Container holds: while key (a container id) holds an image id, GC, rm and prune keep it.
 * Holds are files, so they survive an agent restart. Holding again replaces. */
int ek_image_hold(ek_image_store_t *s, const char *key, const char *image_id, ek_error_t **err);
int ek_image_release(ek_image_store_t *s, const char *key, ek_error_t **err);

typedef enum {
    EK_IMAGE_PULL_IF_NOT_PRESENT = 0,
    EK_IMAGE_PULL_ALWAYS,
    EK_IMAGE_PULL_NEVER,
} ek_image_pull_policy_t;
/* "Always"/"IfNotPresent"/"Never" → policy; Kubernetes' default (Always for :latest or no
 * tag, else IfNotPresent) when s is NULL or empty. -1 for an unknown value. */
int ek_image_pull_policy_parse(const char *s, const char *ref);

/* err is borrowed; info is owned by the callback (free it). Called on the loop thread. */
typedef void (*ek_image_ensure_cb)(ek_image_info_t *info, ek_error_t *err, void *data);
typedef struct ek_image_pull_options {
    const char *auth_json; /* kubernetes.io/dockerconfigjson contents (several may be
                              concatenated as a JSON array), or NULL */
    uint64_t timeout_ms;   /* stall timeout per request; 0 = 60 s */
} ek_image_pull_options_t;
/*
 * Makes sure ref is in the store (pulling per policy) and reports its record. Asynchronous
 * on loop (loop thread only): registry I/O on the loop through lib/http, unpacking on worker
 * threads. Returns -1 (err set) only for immediate failures (bad reference); afterwards cb
 * runs exactly once. A failed pull leaves nothing behind.
 */
int ek_image_ensure(ek_image_store_t *s, uv_loop_t *loop, const char *ref,
                    ek_image_pull_policy_t policy, const ek_image_pull_options_t *o,
                    ek_image_ensure_cb cb, void *data, ek_error_t **err);
/* Blocking pull on a private loop (CLI, tests). Caller frees the result. */
ek_image_info_t *ek_image_pull(ek_image_store_t *s, const char *ref,
                               const ek_image_pull_options_t *o, ek_error_t **err);

/*
 * Air-gap directory (k3s convention): imports every archive in dir (.tar, .tar.gz, .tgz,
 * .tar.zst, .tzst) now, skipping those already imported unchanged, then watches dir and
 * imports archives that appear or change (once their size is stable). Imports run on
 * worker threads; loop thread only. Stop with ek_image_airgap_stop (cb after the last
 * handle closed; may be NULL).
 */
typedef struct ek_image_airgap ek_image_airgap_t;
ek_image_airgap_t *ek_image_airgap_start(ek_image_store_t *s, uv_loop_t *loop, const char *dir,
                                         ek_error_t **err);
/* Imports finished so far, successful or not (for tests). */
unsigned ek_image_airgap_imports(const ek_image_airgap_t *a);
void ek_image_airgap_stop(ek_image_airgap_t *a, void (*cb)(void *data), void *data);

/* ---- container runtime and pod shim (node/runtime) ---- */
/*
 * Runs pods without containerd or runc. A pod sandbox is one `edgek shim` process plus its
 * state directory <state_dir>/pods/<uid>/. The shim holds the pod's network, IPC and UTS
 * namespaces (and, for a shared PID namespace, is the pod's PID 1), forks the containers,
 * writes their CRI logs, records their exits and runs exec'd processes. The agent talks to a
 * shim over the unix socket in that directory; shims outlive the agent, and ek_rt_adopt finds
 * them again after a restart.
 *
 * Every call here is synchronous (it may block for the time stated, never on the event loop)
 * and may be called from any thread, but not concurrently on one pod handle. Strings passed in
 * specs are borrowed for the duration of the call.
 */
#include <sys/types.h>

typedef struct ek_rt ek_rt_t;           /* the agent's side of the runtime: configuration only */
typedef struct ek_rt_pod ek_rt_pod_t;   /* a handle on one pod sandbox (its shim) */
typedef struct ek_rt_exec ek_rt_exec_t; /* one exec'd process */

typedef struct ek_rt_config {
    const char *state_dir;     /* default "/run/edgek/runtime"; pods live in <state_dir>/pods */
    const char *shim_exe;      /* run as `<shim_exe> shim <pod dir>`; default "/proc/self/exe" */
    const char *cgroup_root;   /* where the hierarchies are mounted; default "/sys/fs/cgroup" */
    const char *cgroup_parent; /* our subtree in every hierarchy; default "edgek" */
    bool cgroup_nested;        /* put cgroup_parent below this process's own cgroups (tests,
                                  nested agents) instead of below each hierarchy's root */
} ek_rt_config_t;

typedef enum ek_rt_qos {
    EK_RT_QOS_BURSTABLE = 0,
    EK_RT_QOS_GUARANTEED,
    EK_RT_QOS_BESTEFFORT,
} ek_rt_qos_t;

/* cgroup limits of a pod or a container; 0 means "not set" for every field. */
typedef struct ek_rt_resources {
    int64_t memory_limit;  /* bytes */
    int64_t cpu_quota_us;  /* CPU time per period */
    int64_t cpu_period_us; /* default 100000 when a quota is set */
    int64_t cpu_shares;    /* v1 cpu.shares (2..262144); v2 gets the kubelet's weight mapping */
    int64_t pids_limit;
} ek_rt_resources_t;

typedef struct ek_rt_pod_spec {
    const char *uid; /* required; [A-Za-z0-9._-], names the state and cgroup directories */
    const char *name, *namespace;
    const char *hostname; /* UTS hostname (not with host_network) */
    bool host_network, host_ipc, host_pid;
    bool share_pid; /* shareProcessNamespace: the shim is the pod's PID 1 */
    ek_rt_qos_t qos;
    ek_rt_resources_t resources; /* pod-level cgroup limits */
    const char *const *sysctls;  /* NULL-terminated "name=value" (namespaced ones only) */
    int64_t shm_size;            /* bytes of the pod's /dev/shm; default 64 MiB */
} ek_rt_pod_spec_t;

typedef enum ek_rt_propagation {
    EK_RT_PROP_PRIVATE = 0,
    EK_RT_PROP_HOST_TO_CONTAINER, /* rslave */
    EK_RT_PROP_BIDIRECTIONAL,     /* rshared */
} ek_rt_propagation_t;

typedef struct ek_rt_mount {
    const char *destination; /* absolute path inside the container */
    const char *source;      /* host path for a bind mount; NULL for tmpfs */
    bool tmpfs;
    bool readonly;
    ek_rt_propagation_t propagation;
    const char *options; /* tmpfs options ("size=16m"); may be NULL */
} ek_rt_mount_t;

typedef struct ek_rt_container_spec {
    const char *name; /* DNS label, unique in the pod */
    /* Root filesystem: overlayfs of layers (lowest first) plus upper/work dirs (default: in the
     * container's state dir), or the plain directory rootfs_dir when layers is NULL. */
    const char *const *layers;
    const char *upper_dir, *work_dir;
    const char *rootfs_dir;
    const char *const *args; /* NULL-terminated; args[0] is looked up in the env's PATH */
    const char *const *env;  /* NULL-terminated "K=V" */
    const char *cwd;         /* default "/" */
    /* Identity: run_as_user/group < 0 take the image's user (image_user: "uid[:gid]" or
     * "name[:group]", resolved in the container's /etc/passwd and /etc/group). */
    const char *image_user;
    int64_t run_as_user, run_as_group;
    bool run_as_non_root;
    const gid_t *supplemental_groups; /* fsGroup included by the caller */
    size_t n_supplemental_groups;
    const char *const *cap_add, *const *cap_drop; /* "NET_ADMIN" or "CAP_NET_ADMIN"; "ALL" */
    bool privileged;
    bool no_new_privs; /* allowPrivilegeEscalation: false */
    bool readonly_rootfs;
    bool unmasked_proc; /* procMount: Unmasked: none of the default masked/read-only paths */
    const char *const *masked_paths, *const *readonly_paths; /* NULL: Kubernetes' defaults */
    const ek_rt_mount_t *mounts;
    size_t n_mounts;
    ek_rt_resources_t resources;
    const char *log_path; /* CRI log file (directories are created); required */
    int64_t log_max_size; /* rotate past this many bytes; default 10 MiB */
    int log_max_files;    /* files kept, the live one included; default 5 */
    int stop_signal;      /* default SIGTERM */
} ek_rt_container_spec_t; /* every host path in it must be absolute */

typedef enum ek_rt_state {
    EK_RT_CREATED = 0,
    EK_RT_RUNNING,
    EK_RT_EXITED,
    EK_RT_UNKNOWN, /* the shim is gone: last state recorded on disk is in the other fields */
} ek_rt_state_t;

typedef struct ek_rt_status {
    char *name;
    ek_rt_state_t state;
    pid_t pid;     /* in the agent's PID namespace; 0 when not running */
    int exit_code; /* 128+signal when killed by a signal */
    int signal;    /* the killing signal, 0 for a normal exit */
    bool oom_killed;
    int64_t created_ns, started_ns, finished_ns; /* wall clock, ns since the epoch; 0 = not yet */
    char *reason;  /* "Completed", "Error", "OOMKilled", "StartError"; NULL while not exited */
    char *message; /* why a start failed; may be NULL */
} ek_rt_status_t;

/* Frees what a status owns (not the struct itself). */
void ek_rt_status_clear(ek_rt_status_t *st);

/* A runtime with cfg's settings (copied); finds the cgroup layout. Caller frees with
 * ek_rt_close, which leaves every shim running. */
ek_rt_t *ek_rt_open(const ek_rt_config_t *cfg, ek_error_t **err);
void ek_rt_close(ek_rt_t *rt);
/* 1 or 2: the cgroup version containers are placed with. */
int ek_rt_cgroup_version(const ek_rt_t *rt);

/* Creates the pod sandbox: state dir, shim, namespaces, pod cgroup. Blocks until the shim
 * serves (about a millisecond; at most 10 s). *out is the caller's (ek_rt_pod_close). */
int ek_rt_pod_create(ek_rt_t *rt, const ek_rt_pod_spec_t *spec, ek_rt_pod_t **out,
                     ek_error_t **err);
/* Finds every pod in the state dir after a restart and reconnects to its shim; nothing is
 * restarted. *pods (caller frees with ek_rt_pods_free) includes pods whose shim is gone
 * (ek_rt_pod_alive false) so that the caller can remove them. */
int ek_rt_adopt(ek_rt_t *rt, ek_rt_pod_t ***pods, size_t *n, ek_error_t **err);
void ek_rt_pods_free(ek_rt_pod_t **pods, size_t n);
/* Opens the pod with this uid (as adopt does for one). */
ek_rt_pod_t *ek_rt_pod_open(ek_rt_t *rt, const char *uid, ek_error_t **err);
/* Frees the handle; the shim and its containers go on. */
void ek_rt_pod_close(ek_rt_pod_t *pod);
const char *ek_rt_pod_uid(const ek_rt_pod_t *pod);
/* A path that pins the pod's network namespace (for the pod network code); NULL with
 * host_network. Borrowed; valid until ek_rt_pod_remove. */
const char *ek_rt_pod_netns(const ek_rt_pod_t *pod);
pid_t ek_rt_pod_shim_pid(const ek_rt_pod_t *pod);
bool ek_rt_pod_alive(ek_rt_pod_t *pod);
/* Stops every container (stop signal, SIGKILL after grace_ms); the sandbox stays. Blocks
 * until all have exited. */
int ek_rt_pod_stop(ek_rt_pod_t *pod, int64_t grace_ms, ek_error_t **err);
/* Stops what still runs (SIGKILL), ends the shim, removes the pod's cgroups, unmounts its
 * namespace and shm pins and deletes its state dir. Also cleans up after a dead shim. Frees
 * pod, even on failure. */
int ek_rt_pod_remove(ek_rt_pod_t *pod, ek_error_t **err);

/* Creates a container: cgroup with limits, log file, a process with its mount (and PID)
 * namespace, root filesystem, identity and capabilities set, waiting to exec. */
int ek_rt_container_create(ek_rt_pod_t *pod, const ek_rt_container_spec_t *spec, ek_error_t **err);
/* Execs the created container's process; returns once it runs. A failed exec (missing
 * program: exit code 127, reason StartError) is an error with the cause. */
int ek_rt_container_start(ek_rt_pod_t *pod, const char *name, ek_error_t **err);
int ek_rt_container_kill(ek_rt_pod_t *pod, const char *name, int sig, ek_error_t **err);
/* Graceful stop: the stop signal, then SIGKILL after grace_ms; blocks until exited. */
int ek_rt_container_stop(ek_rt_pod_t *pod, const char *name, int64_t grace_ms, ek_error_t **err);
/* Blocks until the container has exited (timeout_ms < 0: no limit; ETIMEDOUT). */
int ek_rt_container_wait(ek_rt_pod_t *pod, const char *name, int timeout_ms, ek_rt_status_t *st,
                         ek_error_t **err);
int ek_rt_container_status(ek_rt_pod_t *pod, const char *name, ek_rt_status_t *st,
                           ek_error_t **err);
/* All containers of the pod; *sts is the caller's (ek_rt_status_clear each, then free). */
int ek_rt_container_list(ek_rt_pod_t *pod, ek_rt_status_t **sts, size_t *n, ek_error_t **err);
/* A stream of the pod's container state changes (started, exited, failed to start), for the
 * kubelet's event loop instead of polling: the returned connection is readable (POLLIN) when
 * an event waits; read it with ek_rt_events_read; close it when done. */
int ek_rt_pod_events(ek_rt_pod_t *pod, ek_error_t **err);
/* Reads one event: the container's new status (blocks unless fd is readable). ECONNRESET
 * once the shim has gone. */
int ek_rt_events_read(int fd, ek_rt_status_t *st, ek_error_t **err);
/* Removes an exited (or never started) container: cgroup, state, writable layer. The log
 * file stays (the kubelet owns log retention). */
int ek_rt_container_remove(ek_rt_pod_t *pod, const char *name, ek_error_t **err);

typedef struct ek_rt_exec_spec {
    const char *const *args;            /* NULL-terminated */
    const char *const *env;             /* added to the container's environment; may be NULL */
    const char *cwd;                    /* default: the container's */
    int stdin_fd, stdout_fd, stderr_fd; /* -1: /dev/null; the caller keeps its own fds */
} ek_rt_exec_spec_t;

/* Runs a process in a running container's namespaces, cgroup, identity and capabilities.
 * Returns once it runs; *out is the caller's (ek_rt_exec_free). */
int ek_rt_exec_start(ek_rt_pod_t *pod, const char *container, const ek_rt_exec_spec_t *spec,
                     ek_rt_exec_t **out, ek_error_t **err);
/* Readable (POLLIN) once the process has exited: for an event loop. Borrowed. */
int ek_rt_exec_fd(const ek_rt_exec_t *ex);
pid_t ek_rt_exec_pid(const ek_rt_exec_t *ex);
/* Waits for the exit (timeout_ms < 0: no limit; ETIMEDOUT); *exit_code is 128+signal when
 * killed by one. */
int ek_rt_exec_wait(ek_rt_exec_t *ex, int timeout_ms, int *exit_code, ek_error_t **err);
int ek_rt_exec_kill(ek_rt_exec_t *ex, int sig, ek_error_t **err);
void ek_rt_exec_free(ek_rt_exec_t *ex);
/* Runs args to completion with stdout and stderr captured together (at most 1 MiB kept):
 * for exec probes and `kubectl exec` without a terminal. Killed after timeout_ms (> 0), then
 * ETIMEDOUT. *output is the caller's. */
int ek_rt_exec_sync(ek_rt_pod_t *pod, const char *container, const char *const *args,
                    int timeout_ms, char **output, int *exit_code, ek_error_t **err);

/* Resource usage of a cgroup (node/runtime/stats.c). */
typedef struct ek_rt_usage {
    uint64_t cpu_ns;             /* CPU time used since the cgroup was made */
    uint64_t memory_usage;       /* bytes charged */
    uint64_t memory_working_set; /* usage minus inactive file pages (what the kubelet reports) */
} ek_rt_usage_t;
/* The pod's cgroup (container NULL) or one container's (its runtime name). Blocking (file
 * reads); any thread. */
int ek_rt_usage(ek_rt_pod_t *pod, const char *container, ek_rt_usage_t *out, ek_error_t **err);
/* The whole node from /proc/stat and /proc/meminfo (working set: MemTotal - MemAvailable). */
int ek_rt_node_usage(ek_rt_usage_t *out, uint64_t *memory_total, ek_error_t **err);

/* The shim process: `edgek shim <pod dir>` (hidden). Returns the exit status. */
int ek_rt_shim_main(const char *pod_dir);

/* ---- kubelet (node/) ---- */

/*
 * The agent: a kubelet driving the image store, the runtime and the pod network for one
 * node (node/agent.c, node/kubelet*.c). It registers the node's Node (capacity, addresses,
 * labels, images) and renews its Lease, runs the pods bound to the node as real containers
 * (one shim each; shims outlive the agent and a new agent adopts them), reports their status
 * and events, and serves the kubelet's HTTPS endpoint (container logs) to the API server. It
 * also runs the node's cluster DNS server (net/dns) on the bridge's gateway, port 53, which the
 * pod network steers the cluster DNS address to.
 * Loop thread only; everything that blocks (runtime calls, netlink, volume files, image
 * unpacking) runs on libuv's worker threads and reports back to the loop.
 */
typedef struct ek_agent ek_agent_t;

typedef struct ek_agent_options {
    const char *data_dir;        /* <data-dir>: images and air-gap archives in agent/images, IPAM in
                                    agent/ipam, pod volumes and files in agent/pods */
    const char *node_name;       /* default: the host name, lowercased */
    const char *const *node_ips; /* InternalIP addresses; none: the first global IPv4 address
                                    of an up interface that is not ours, else 127.0.0.1 */
    size_t n_node_ips;
    const char *const *node_labels; /* extra "key=value" labels (--node-label) */
    size_t n_node_labels;
    const char *const *node_taints; /* "key[=value]:Effect", set at registration (--node-taint;
                                       checked by ek_agent_taint_parse) */
    size_t n_node_taints;
    const char *const *external_ips; /* ExternalIP addresses (--node-external-ip) */
    size_t n_external_ips;
    bool control_plane;       /* a server's local agent: node-role labels */
    const char *cluster_cidr; /* default 10.42.0.0/16 */
    /* Cross-node pod traffic (--pod-network-backend): "host-gw" (a route per remote node via
     * its address; nodes share a link), "vxlan" (VNI 1, UDP 8472, device ek.vxlan; the VTEP
     * MAC is published in the Node's edgek.io/vtep-mac annotation) or "none" (no cross-node
     * routes). NULL: vxlan. Every node of a cluster must use the same one. */
    const char *pod_network_backend;
    const char *cluster_dns;    /* pods' nameserver for dnsPolicy ClusterFirst; 10.43.0.10 */
    const char *cluster_domain; /* default cluster.local */
    const char *resolv_conf;    /* the host resolv.conf: the cluster DNS server's upstreams and
                                   what pods with dnsPolicy Default get; default
                                   /etc/resolv.conf, or systemd-resolved's upstream file when
                                   that one only names a loopback stub */
    const char *runtime_dir;    /* shim state (tmpfs); default /run/edgek: <dir>/runtime */
    const char *pod_log_dir;    /* CRI logs; default /var/log/pods */
    const char *cgroup_parent;  /* default "edgek" */
    bool cgroup_nested;         /* cgroup_parent below this process's own cgroups (tests) */
    int kubelet_port;           /* HTTPS port of the kubelet endpoint; 0: 10250, -1: any free */
    const char *serving_cert_pem, *serving_key_pem; /* its certificate (leaf + chain) and key */
    const char *client_ca_pem; /* clients of that endpoint must hold a certificate from this CA
                                  with organization system:masters (the API server's) */
    int64_t pod_max_pids;      /* pids limit of each pod's cgroup; 0 = none */
    int max_pods;              /* capacity "pods"; default 110 */
    int64_t lease_ms;          /* Lease renewal period; default 10000 */
    /* node pressure and autonomy */
    const char *eviction_hard;       /* kubelet's --eviction-hard: "memory.available<100Mi,
                                        nodefs.available<10%,imagefs.available<15%" by default */
    int image_gc_high, image_gc_low; /* image disk use (percent) that starts GC, and its goal;
                                        0: the defaults, 85 and 80 */
    int64_t image_gc_min_age_ms;     /* images first seen more recently stay; 0: 2 min, < 0: none */
    int64_t housekeeping_ms;         /* pressure checks; default 10000 */
    int64_t offline_after_ms; /* start the cached pods when the pods are not listed from the API
                                 within this long; default 5000 */
    /* the service proxy (net/proxy) */
    bool disable_proxy;       /* --disable-kube-proxy */
    const char *service_cidr; /* default 10.43.0.0/16 */
    /* The node services' own client (an identity that may read cluster-wide what they route,
     * which a node's may not); owned by the agent from ek_agent_start on (also on failure),
     * freed after the main one's users. NULL: they use the main client. */
    ek_api_client_t *services_client;
    const char *proxy_metrics_addr; /* IP:PORT of its /metrics; NULL: 127.0.0.1:10249; "": off */
} ek_agent_options_t;

/* Starts the agent on client's loop; takes ownership of client (also on failure). Strings in
 * opts are copied. Fails only on local problems (image store, runtime, kubelet port). */
int ek_agent_start(ek_api_client_t *client, const ek_agent_options_t *opts, ek_agent_t **out,
                   ek_error_t **err);
/* Stops the agent: informers, timers, the endpoint, then the client; pods and their shims keep
 * running. cb (may be NULL) runs once everything is closed and freed. */
void ek_agent_stop(ek_agent_t *a, void (*cb)(void *data), void *data);
/* This node's name. Borrowed. */
const char *ek_agent_node_name(const ek_agent_t *a);
/* A taint as --node-taint takes it, `key[=value]:Effect` (NoSchedule, PreferNoSchedule or
 * NoExecute): the Taint object, or NULL with *err. Caller owns. */
json_t *ek_agent_taint_parse(const char *s, ek_error_t **err);
/* The kubelet endpoint's port (the one bound; 0 when it is off). */
int ek_agent_kubelet_port(const ek_agent_t *a);
/* What the agent shares with the node services started next to the kubelet (see
 * start_node_services in node/kubelet.c): its API client (its identity, its loop) and its
 * informers, already started, so a service adds handlers instead of watching again. resource
 * is "pods" (this node's), "services", "nodes" (this node only), "namespaces" or
 * "endpointslices" (the last two through the node services' client when the agent has one);
 * NULL for anything else (ConfigMaps and Secrets are watched one by one, as pods reference
 * them: a node may not list them). Borrowed; valid until ek_agent_stop. */
ek_api_client_t *ek_agent_client(const ek_agent_t *a);
ek_informer_t *ek_agent_informer(const ek_agent_t *a, const char *resource);

/*
 * Simulated nodes (node/sim.c), for tests and scale benchmarks — never the default. Each
 * registers a Node with the given capacity and keeps its Lease fresh; pods bound to it are
 * marked Running and Ready without running anything (their status message says so) and are
 * removed at once when deleted. Annotating a Node with edgek.io/simulate-heartbeat=stop makes
 * it stop heartbeating (to test node failure); removing the annotation resumes it.
 */
typedef struct ek_simnodes ek_simnodes_t;
typedef struct ek_simnodes_options {
    int count;
    const char *prefix; /* node names <prefix>-<i>; default "sim" */
    const char *cpu;    /* capacity; defaults 4, 8Gi, 110 pods */
    const char *memory;
    const char *pods;
    int64_t lease_ms; /* renew interval; default 10000 */
} ek_simnodes_options_t;

/* Takes ownership of client. */
int ek_simnodes_start(ek_api_client_t *client, const ek_simnodes_options_t *opts,
                      ek_simnodes_t **out, ek_error_t **err);
void ek_simnodes_stop(ek_simnodes_t *s, void (*cb)(void *data), void *data);

/* ---- host requirements (node/hostcheck.c) ---- */

/*
 * What a node needs from its kernel, read from what the running system says about itself
 * (procfs, sysfs, /boot): the kernel version and configuration, cgroups (v1, v2 or hybrid,
 * the controllers and why one is missing), overlayfs, FUSE. `edgek check-config` adds the
 * live probes (namespaces, test mounts, netlink) and prints the report. Every path is read
 * below `root` ("" for the real system), so tests feed crafted files. Not thread-safe.
 */
typedef enum { EK_HC_OK, EK_HC_MISSING, EK_HC_UNKNOWN } ek_hc_state_t;

typedef struct ek_hc_item {
    char section[16]; /* "kernel", "namespaces", "cgroups", "filesystems", "network", "devices" */
    char name[40];
    bool required;
    ek_hc_state_t state;
    char detail[256]; /* what was found, or why it is missing */
    char fix[256];    /* what to do about a missing item ("" if nothing to say) */
} ek_hc_item_t;

typedef struct ek_hc_report {
    ek_hc_item_t *items; /* owned; free with ek_hc_report_free */
    size_t n, cap;
    char cgroup_mode[8]; /* "v1", "v2", "hybrid" or "none", once ek_hc_cgroups ran */
} ek_hc_report_t;

/* Appends an item; detail is a printf format. Returns the item (borrowed, valid until the
 * next add) so a caller may fill in `fix`. */
ek_hc_item_t *ek_hc_add(ek_hc_report_t *r, const char *section, const char *name, bool required,
                        ek_hc_state_t state, const char *fmt, ...) EK_PRINTF(6, 7);
void ek_hc_report_free(ek_hc_report_t *r);
/* Number of required items in the given state. */
size_t ek_hc_count(const ek_hc_report_t *r, bool required, ek_hc_state_t state);

/* The minimum kernel: openat2 (5.6) and setns on a pidfd (5.8) have no fallback. */
#define EK_HC_MIN_KERNEL_MAJOR 5
#define EK_HC_MIN_KERNEL_MINOR 8

/* Kernel release (<root>/proc/sys/kernel/osrelease) against the minimum. */
void ek_hc_kernel_version(ek_hc_report_t *r, const char *root);
/* Kernel options from <root>/proc/config.gz or <root>/boot/config-<release>, when present. */
void ek_hc_kernel_config(ek_hc_report_t *r, const char *root);
/* cgroup layout (<root>/proc/self/mountinfo), controllers (<root>/proc/cgroups, v2's
 * cgroup.controllers) and, for a disabled memory controller, the Raspberry Pi fix (reading
 * <root>/proc/cmdline and <root>/boot/firmware/cmdline.txt or <root>/boot/cmdline.txt). */
void ek_hc_cgroups(ek_hc_report_t *r, const char *root);
/* overlayfs is in <root>/proc/filesystems (the live test mount is check-config's). */
bool ek_hc_overlay_listed(const char *root);
/* <root>/dev/fuse is a character device. */
void ek_hc_fuse(ek_hc_report_t *r, const char *root);

/* Parsers, public for tests. All take NUL-terminated text. */
/* A /proc/cgroups row: 1 and its hierarchy id and enabled flag if `name` is listed, else 0. */
int ek_hc_proc_cgroups(const char *text, const char *name, int *hierarchy, int *enabled);
/* /proc/filesystems lists fs (with or without "nodev"). */
bool ek_hc_filesystems_has(const char *text, const char *fs);
/* The kernel command line enables (1) or disables (0) a cgroup controller, or says nothing
 * (-1): the last of cgroup_disable=LIST, cgroup_enable=LIST and, for memory, Raspberry Pi's
 * cgroup_memory=0|1 wins. */
int ek_hc_cmdline_cgroup(const char *cmdline, const char *controller);
/* A kernel config option: 'y', 'm', or 0 when unset or absent. */
char ek_hc_config_value(const char *config, const char *option);
/* "6.1.21-v8+" → 6, 1; -1 when unreadable. */
int ek_hc_parse_release(const char *release, int *major, int *minor);
/* The cgroup layout a /proc/self/mountinfo shows: "v1", "v2", "hybrid" or "none"; v2_mount
 * receives the cgroup2 mount point ("" if none). */
const char *ek_hc_mountinfo_mode(const char *mountinfo, char *v2_mount, size_t len);

/* ---- joining a cluster (node/bootstrap.c) ---- */

/*
 * An agent's credentials, obtained with a join token as k3s's agents do: fetch the cluster CA
 * from <server>/cacerts without trusting the connection, refuse it unless its SHA-256 is the
 * hash the token names, then (TLS now verified against that CA) create a
 * CertificateSigningRequest for CN=system:node:<node>, O=system:nodes (signer
 * kubernetes.io/kube-apiserver-client-kubelet) with the token as bearer token and the node
 * password in header Edgek-Node-Password, wait until the server approved and signed it, and
 * store the result under dir (0600 where secret):
 *   server-ca.crt, client-kubelet.crt, client-kubelet.key, node-password, kubelet.kubeconfig,
 * and the agent's own identity for its node services (client-agent.crt/.key: CN
 * system:edgek-agent:<node>, O system:edgek:agents, requested with the node's certificate).
 * Credentials already there for the same node and CA are reused unless they are within a
 * third of their lifetime of expiring; then they are renewed with themselves (a node renewing
 * its own: selfnodeclient), falling back to the token. Blocking (minutes at most: timeout_s).
 */
typedef struct ek_join_options {
    const char *server;    /* https://host:port */
    const char *token;     /* K10<hash>::server:<secret>, K10<hash>::<id>.<secret>, bare... */
    const char *node_name; /* lowercase DNS name */
    const char *dir;       /* where the credentials live (<data-dir>/agent) */
    int timeout_s;         /* waiting for the certificate; default 60 */
    int64_t cert_seconds;  /* expirationSeconds asked for; 0 = the signer's default */
} ek_join_options_t;

typedef struct ek_join_creds {
    char *ca_pem, *cert_pem, *key_pem;
    char *agent_cert_pem, *agent_key_pem; /* the node services' identity */
    char *kubeconfig_path;
    int64_t not_before, not_after; /* of cert_pem, Unix seconds */
    bool issued;                   /* a new certificate was obtained (not reused) */
} ek_join_creds_t;

int ek_join(const ek_join_options_t *o, ek_join_creds_t *out, ek_error_t **err);
/* Renews now with the current credentials in o->dir (the token when they no longer work). */
int ek_join_renew(const ek_join_options_t *o, ek_join_creds_t *out, ek_error_t **err);
void ek_join_creds_clear(ek_join_creds_t *c);
/* When credentials valid over [not_before, not_after] should be renewed (2/3 of the way). */
int64_t ek_join_renew_at(int64_t not_before, int64_t not_after);
/* Lowercase hex SHA-256 of text (a CA's PEM, as in K10 tokens); out holds 65 bytes. */
void ek_join_ca_hash(const char *text, size_t len, char out[65]);

#endif
