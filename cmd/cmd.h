/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommand table: each entry point lives in its own cmd/<name>.c. */
#ifndef EK_CMD_CMD_H
#define EK_CMD_CMD_H

#include "lib/lib.h"

typedef struct ek_cmd {
    const char *name;
    const char *summary;
    const char *usage;      /* argument synopsis after the command name */
    const ek_flag_t *flags; /* may be NULL */
    /* argv[1..nargs] are the positional arguments; flags are already parsed. Returns exit status.
     */
    int (*run)(int nargs, char **argv);
    bool hidden; /* internal commands (shim) are not listed in help */
    /* Read when present and no --config / EDGEK_CONFIG_FILE is given (like k3s's config.yaml). */
    const char *default_config;
} ek_cmd_t;

extern const ek_cmd_t ek_cmd_version;
extern const ek_cmd_t ek_cmd_server;
extern const ek_cmd_t ek_cmd_db;
extern const ek_cmd_t ek_cmd_podnet;
extern const ek_cmd_t ek_cmd_shim;
extern const ek_cmd_t ek_cmd_image;
extern const ek_cmd_t ek_cmd_dns_test;
extern const ek_cmd_t ek_cmd_check_config;
extern const ek_cmd_t ek_cmd_proxy_test;
extern const ek_cmd_t ek_cmd_token;
extern const ek_cmd_t ek_cmd_join;

/* The join token from --token, else the content of --token-file, else NULL (cmd/join.c).
 * Caller frees. */
char *ek_cmd_join_token(const char *tok, const char *file, ek_error_t **err);
/* The node name: given, else the host name, lowercased. Caller frees. */
char *ek_cmd_node_name(const char *given);
extern const ek_cmd_t ek_cmd_agent;

/* Flags of the node an agent runs, shared by `edgek server` (its local agent) and `edgek
 * agent` (cmd/agent.c). */
struct ek_cmd_agent_flags {
    ek_strlist_t node_labels;
    char *resolv_conf, *runtime_dir, *pod_log_dir, *cgroup_parent, *pod_network_backend;
    bool cgroup_nested;
    int kubelet_port, pod_max_pids, max_pods;
    bool disable_kube_proxy;
    char *proxy_metrics_addr;
};
extern struct ek_cmd_agent_flags ek_cmd_agent_flags;
#define EK_CMD_AGENT_FLAGS                                                                     \
    { "node-label",                                                                            \
      0,                                                                                       \
      EK_FLAG_LIST,                                                                            \
      &ek_cmd_agent_flags.node_labels,                                                         \
      NULL,                                                                                    \
      "KEY=VALUE",                                                                             \
      "a label of this node (repeatable)" },                                                   \
        { "resolv-conf",                                                                       \
          0,                                                                                   \
          EK_FLAG_STRING,                                                                      \
          &ek_cmd_agent_flags.resolv_conf,                                                     \
          NULL,                                                                                \
          "FILE",                                                                              \
          "upstreams of the cluster DNS and pods' dnsPolicy Default (default: the host's)" },  \
        { "pod-network-backend",                                                               \
          0,                                                                                   \
          EK_FLAG_STRING,                                                                      \
          &ek_cmd_agent_flags.pod_network_backend,                                             \
          NULL,                                                                                \
          "host-gw|vxlan|none",                                                                \
          "cross-node pod traffic: vxlan (default; VNI 1, UDP 8472), host-gw (routes via the " \
          "nodes' addresses; nodes must share a link) or none (no cross-node routes: pods "    \
          "reach only pods of their own node)" },                                              \
        { "runtime-dir",                                                                       \
          0,                                                                                   \
          EK_FLAG_STRING,                                                                      \
          &ek_cmd_agent_flags.runtime_dir,                                                     \
          NULL,                                                                                \
          "DIR",                                                                               \
          "state of the pod shims, on tmpfs (default /run/edgek)" },                           \
        { "pod-log-dir",                                                                       \
          0,                                                                                   \
          EK_FLAG_STRING,                                                                      \
          &ek_cmd_agent_flags.pod_log_dir,                                                     \
          NULL,                                                                                \
          "DIR",                                                                               \
          "container logs (default /var/log/pods)" },                                          \
        { "cgroup-parent",                                                                     \
          0,                                                                                   \
          EK_FLAG_STRING,                                                                      \
          &ek_cmd_agent_flags.cgroup_parent,                                                   \
          NULL,                                                                                \
          "NAME",                                                                              \
          "cgroup holding every pod (default edgek)" },                                        \
        { "cgroup-nested",                                                                     \
          0,                                                                                   \
          EK_FLAG_BOOL,                                                                        \
          &ek_cmd_agent_flags.cgroup_nested,                                                   \
          NULL,                                                                                \
          NULL,                                                                                \
          "put --cgroup-parent below this process's own cgroups (tests, nested agents)" },     \
        { "kubelet-port",                                                                      \
          0,                                                                                   \
          EK_FLAG_INT,                                                                         \
          &ek_cmd_agent_flags.kubelet_port,                                                    \
          NULL,                                                                                \
          "PORT",                                                                              \
          "the kubelet's HTTPS port (default 10250)" },                                        \
        { "pod-max-pids",                                                                      \
          0,                                                                                   \
          EK_FLAG_INT,                                                                         \
          &ek_cmd_agent_flags.pod_max_pids,                                                    \
          NULL,                                                                                \
          "N",                                                                                 \
          "process limit of each pod (default: none)" },                                       \
    {                                                                                          \
        "max-pods", 0, EK_FLAG_INT, &ek_cmd_agent_flags.max_pods, NULL, "N",                   \
            "pods this node takes (default 110)"                                               \
    }
/* Node pressure, image GC and autonomy flags (kubelet names), shared the same way. */
struct ek_cmd_health_flags {
    char *eviction_hard;
    int image_gc_high, image_gc_low;
    int64_t image_min_age_ms, housekeeping_ms, offline_after_ms;
};
extern struct ek_cmd_health_flags ek_cmd_health_flags;
#define EK_CMD_HEALTH_FLAGS                                                                      \
    { "eviction-hard",                                                                           \
      0,                                                                                         \
      EK_FLAG_STRING,                                                                            \
      &ek_cmd_health_flags.eviction_hard,                                                        \
      NULL,                                                                                      \
      "LIST",                                                                                    \
      "hard eviction thresholds (default memory.available<100Mi,nodefs.available<10%,"           \
      "imagefs.available<15%)" },                                                                \
        { "image-gc-high-threshold",                                                             \
          0,                                                                                     \
          EK_FLAG_INT,                                                                           \
          &ek_cmd_health_flags.image_gc_high,                                                    \
          NULL,                                                                                  \
          "PERCENT",                                                                             \
          "image disk use that starts image garbage collection (default 85)" },                  \
        { "image-gc-low-threshold",                                                              \
          0,                                                                                     \
          EK_FLAG_INT,                                                                           \
          &ek_cmd_health_flags.image_gc_low,                                                     \
          NULL,                                                                                  \
          "PERCENT",                                                                             \
          "image disk use image garbage collection goes down to (default 80)" },                 \
        { "minimum-image-ttl-duration",                                                          \
          0,                                                                                     \
          EK_FLAG_DURATION,                                                                      \
          &ek_cmd_health_flags.image_min_age_ms,                                                 \
          NULL,                                                                                  \
          "DURATION",                                                                            \
          "images seen for less than this are not collected (default 2m)" },                     \
        { "housekeeping-interval",                                                               \
          0,                                                                                     \
          EK_FLAG_DURATION,                                                                      \
          &ek_cmd_health_flags.housekeeping_ms,                                                  \
          NULL,                                                                                  \
          "DURATION",                                                                            \
          "how often node pressure is checked (default 10s)" },                                  \
    {                                                                                            \
        "offline-start-after", 0, EK_FLAG_DURATION, &ek_cmd_health_flags.offline_after_ms, NULL, \
            "DURATION",                                                                          \
            "start the locally cached pods when the API server has not listed them by then "     \
            "(default 5s)"                                                                       \
    }
/* The service proxy's flags, next to EK_CMD_AGENT_FLAGS in the same tables. */
#define EK_CMD_PROXY_FLAGS                                                                        \
    { "disable-kube-proxy",                                                                       \
      0,                                                                                          \
      EK_FLAG_BOOL,                                                                               \
      &ek_cmd_agent_flags.disable_kube_proxy,                                                     \
      NULL,                                                                                       \
      NULL,                                                                                       \
      "do not run the service proxy (table ip edgek-proxy)" },                                    \
    {                                                                                             \
        "proxy-metrics-bind-address", 0, EK_FLAG_STRING, &ek_cmd_agent_flags.proxy_metrics_addr,  \
            NULL, "IP:PORT", "the service proxy's /metrics (default 127.0.0.1:10249; empty: off)" \
    }
struct ek_agent_options;
/* Fills the node flags into o (the rest of o is the caller's). */
void ek_cmd_agent_options(struct ek_agent_options *o);
/* Checks the shared agent flags that can be wrong on their own (--pod-network-backend), so a
 * typo fails at once rather than when the node starts. */
int ek_cmd_agent_flags_check(ek_error_t **err);
/* Libuv's worker threads: enough for a burst of pods starting (set before the first use). */
void ek_cmd_worker_threads(void);

/* Prints "edgek: <msg>" on stderr for a failed command, frees err, returns 1. */
int ek_cmd_fail(ek_error_t *err);

#endif
