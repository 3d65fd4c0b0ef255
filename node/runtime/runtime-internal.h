/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the runtime's files share: the on-disk layout of a pod's state directory, the wire
 * format between the agent and a shim, the cgroup helpers, the CRI log writer, and the code
 * that runs in a container's first process between clone and exec. Nothing here is seen
 * outside node/runtime.
 *
 * State directory of one pod (<state_dir>/pods/<uid>/):
 *   pod.json                 the pod spec plus resolved cgroup dirs (written by the agent)
 *   shim.sock                the shim's SOCK_SEQPACKET control socket
 *   shim.pid, shim.log       the shim's PID (agent's namespace) and its diagnostics
 *   netns                    bind mount of the pod's network namespace (not with hostNetwork)
 *   shm/                     the pod's /dev/shm (tmpfs)
 *   containers/<name>/       spec.json (agent), state.json (shim), rootfs/, upper/, work/
 */
#ifndef EK_NODE_RUNTIME_INTERNAL_H
#define EK_NODE_RUNTIME_INTERNAL_H

#include <sys/types.h>

#include "node/node.h"

/* Largest control message (a request or a reply is one SOCK_SEQPACKET datagram). */
#define EK__RT_MSG_MAX 65536
/* Most file descriptors one message carries (exec: stdin, stdout, stderr). */
#define EK__RT_MAX_FDS 3
/* Most cgroup hierarchies a container joins (v1: memory, cpu, cpuacct, pids, devices). */
#define EK__RT_MAX_HIER 6

/* ---- cgroups (cgroup.c) ---- */

/* One cgroup as a directory in every hierarchy we use (v2: one). Owns its strings. */
typedef struct ek__cg {
    int version; /* 1 or 2 */
    size_t n;
    char *name[EK__RT_MAX_HIER]; /* controller of each hierarchy ("memory"; v2: "unified") */
    char *dir[EK__RT_MAX_HIER];  /* absolute directory */
} ek__cg_t;

/* Finds the hierarchies under root (default /sys/fs/cgroup) and the parent's directory in
 * each; nested puts parent below this process's own cgroups. */
int ek__cg_layout(const char *root, const char *parent, bool nested, ek__cg_t *out,
                  ek_error_t **err);
/* out = base with "/<rel>" appended to every directory. */
void ek__cg_child(const ek__cg_t *base, const char *rel, ek__cg_t *out);
void ek__cg_free(ek__cg_t *cg);
json_t *ek__cg_to_json(const ek__cg_t *cg);
int ek__cg_from_json(const json_t *j, ek__cg_t *out, ek_error_t **err);
/* mkdir -p every directory; v2 enables the controllers in cgroup.subtree_control of the
 * `top` nearest ancestors, highest first (so that the leaf's limit files exist), never in the
 * leaf itself (a cgroup with enabled controllers cannot hold processes). */
int ek__cg_create(const ek__cg_t *cg, int top, ek_error_t **err);
int ek__cg_set_limits(const ek__cg_t *cg, const ek_rt_resources_t *r, ek_error_t **err);
/* v1 devices controller: the default allow list (all devices when privileged). v2 needs a
 * BPF program; not done yet, so a no-op there. */
int ek__cg_set_devices(const ek__cg_t *cg, bool privileged, ek_error_t **err);
/* Moves pid (in the caller's PID namespace) into the cgroup in every hierarchy. */
int ek__cg_enter(const ek__cg_t *cg, pid_t pid, ek_error_t **err);
/* Processes the kernel's OOM killer has killed in this cgroup so far. */
uint64_t ek__cg_oom_kills(const ek__cg_t *cg);
/* Kills what is left inside and removes the directories (missing ones are fine). */
int ek__cg_remove(const ek__cg_t *cg, ek_error_t **err);
/* Usage read from a cgroup's files (stats.c). */
int ek__rt_cg_usage(const ek__cg_t *cg, ek_rt_usage_t *out, ek_error_t **err);
/* The v2 cpu.weight the kubelet derives from v1 cpu.shares. */
uint64_t ek__cg_shares_to_weight(uint64_t shares);

/* ---- specs and their JSON form (spec.c) ---- */

/* A container spec decoded from spec.json: the struct plus what its pointers borrow. */
typedef struct ek__rt_cspec {
    ek_rt_container_spec_t s;
    json_t *json;     /* owns the strings */
    void *arrays[12]; /* allocations for the NULL-terminated string arrays */
    gid_t *groups;
    ek_rt_mount_t *mounts;
} ek__rt_cspec_t;

json_t *ek__rt_pod_spec_to_json(const ek_rt_pod_spec_t *spec);
json_t *ek__rt_container_spec_to_json(const ek_rt_container_spec_t *spec);
int ek__rt_container_spec_from_json(json_t *j, ek__rt_cspec_t *out, ek_error_t **err);
int ek__rt_cspec_load(const char *path, ek__rt_cspec_t *out, ek_error_t **err);
void ek__rt_cspec_free(ek__rt_cspec_t *c);
/* NULL-terminated string array from a JSON array of strings (strings borrowed; caller frees
 * the array). NULL when j is not an array. */
const char **ek__rt_strv(const json_t *j);
json_t *ek__rt_strv_json(const char *const *v);
json_t *ek__rt_status_to_json(const ek_rt_status_t *st);
void ek__rt_status_from_json(const json_t *j, ek_rt_status_t *st);
/* Container and pod names that are safe as one path component. */
bool ek__rt_name_ok(const char *s, size_t max);
/* Writes a file through a temporary and a rename, without fsync: state files live on tmpfs
 * (/run) and describe processes that do not survive a reboot anyway. */
int ek__rt_write_file(const char *path, const char *data, size_t len, ek_error_t **err);
int ek__rt_write_json(const char *path, const json_t *j, ek_error_t **err);

/* ---- the wire (proto.c) ---- */

/* Sends one message with up to EK__RT_MAX_FDS descriptors. */
int ek__rt_send(int fd, const char *data, size_t len, const int *fds, size_t nfds,
                ek_error_t **err);
int ek__rt_send_json(int fd, const json_t *j, const int *fds, size_t nfds, ek_error_t **err);
/* Receives one message into buf (NUL-terminated; returns its length, 0 on EOF); received
 * descriptors go to fds (CLOEXEC), their number to *nfds. */
ssize_t ek__rt_recv(int fd, char *buf, size_t cap, int *fds, size_t *nfds, ek_error_t **err);
/* Connects to a shim's socket (paths longer than sun_path go through /proc/self/fd). */
int ek__rt_connect(const char *path, ek_error_t **err);
/* Raw fork-like clone(2) with extra flags; *pidfd gets a pidfd when flags has CLONE_PIDFD.
 * Child: 0. Safe in a multithreaded parent as long as the child only makes system calls. */
pid_t ek__rt_clone(unsigned long flags, int *pidfd);
/* The pid of the process behind pidfd as /proc sees it (our "host" PID). */
pid_t ek__rt_pidfd_pid(int pidfd);

/* ---- the agent's side (client.c, client_ctr.c) ---- */

/* Time allowed for requests that do not wait for a container: create and remove may wait on
 * a cgroup or a mount, start on an exec. */
#define EK__RT_QUICK_MS 60000

struct ek_rt {
    char *state_dir, *pods_dir, *shim_exe;
    char *cgroup_parent;
    ek__cg_t cg; /* cgroup_parent in every hierarchy */
};

struct ek_rt_pod {
    ek_rt_t *rt;
    char *uid, *dir, *sock, *netns;
    pid_t shim_pid;
};

struct ek_rt_exec {
    int fd; /* the exec's own connection: the exit reply arrives on it */
    pid_t pid;
    bool done;
    int exit_code;
};

/* Waits for and parses one reply on fd; NULL on error, timeout or an error reply (whose
 * message and errno become *err). */
json_t *ek__rt_recv_reply(int fd, int timeout_ms, ek_error_t **err);
/* One request on a new connection to the pod's shim; req is consumed. */
json_t *ek__rt_call(ek_rt_pod_t *pod, json_t *req, int timeout_ms, ek_error_t **err);

/* ---- CRI logs (crilog.c) ---- */

/* A line fragment kept until its newline arrives. */
#define EK__RT_CARRY 2048
typedef struct ek__rt_carry {
    size_t len;
    char buf[EK__RT_CARRY];
} ek__rt_carry_t;

typedef struct ek__rt_log {
    char *path;
    int fd;
    int64_t size, max_size;
    int max_files;
    int64_t rot_time; /* second of the last rotation, and how many happened in it */
    int rot_seq;
} ek__rt_log_t;

int ek__rt_log_open(ek__rt_log_t *l, const char *path, int64_t max_size, int max_files,
                    ek_error_t **err);
/* Writes what a stream produced: complete lines as "F" entries, a fragment longer than the
 * carry as "P"; at eof the kept fragment goes out as "F". Rotates past max_size. */
void ek__rt_log_write(ek__rt_log_t *l, const char *stream, ek__rt_carry_t *c, const char *data,
                      size_t n, bool eof);
void ek__rt_log_close(ek__rt_log_t *l);

/* ---- the container's first process (init.c, mounts.c, caps.c) ---- */

/* Messages on the sync socket between the shim and a container child. */
enum {
    EK__RT_SYNC_GO = 'G',    /* shim -> child: placed in the cgroup, set up */
    EK__RT_SYNC_READY = 'R', /* child -> shim: ready to exec */
    EK__RT_SYNC_START = 'S', /* shim -> child: exec now */
    EK__RT_SYNC_ERROR = 'E', /* child -> shim: failed (errnum, message) */
};
typedef struct ek__rt_sync_msg {
    char kind;
    int errnum;
    int exit_code;
    char msg[500];
} ek__rt_sync_msg_t;

/* What a child needs besides the spec. */
typedef struct ek__rt_child {
    const ek_rt_container_spec_t *spec;
    const char *ctr_dir; /* <pod>/containers/<name> */
    const char *shm_dir; /* the pod's shm tmpfs, or NULL */
    int cgroup_version;
    int sync_fd;
    int stdio[3]; /* -1: /dev/null */
    bool new_pidns;
    bool exec;                    /* an exec'd process, not the container's init */
    int ctr_pidfd;                /* exec: the container's init */
    const char *const *args;      /* exec: the program and its arguments */
    const char *const *extra_env; /* exec: added to the container's env */
    const char *cwd;              /* exec: overrides spec->cwd */
} ek__rt_child_t;

/* Runs in the child after clone; never returns. */
EK_NORETURN void ek__rt_child_main(const ek__rt_child_t *c);
/* Builds the container's filesystem and pivots into it (mounts.c). */
int ek__rt_setup_rootfs(const ek__rt_child_t *c, ek_error_t **err);
/* Capability set from the spec as a bit mask over 0..63 (caps.c). */
int ek__rt_caps_mask(const ek_rt_container_spec_t *spec, int last_cap, uint64_t *mask,
                     ek_error_t **err);
/* Bounding set, then (after the uid change) permitted/effective; inheritable and ambient
 * cleared. */
int ek__rt_caps_drop_bounding(uint64_t mask, int last_cap, ek_error_t **err);
int ek__rt_caps_apply(uint64_t mask, ek_error_t **err);
int ek__rt_cap_last(void);
/* "NET_RAW" / "CAP_NET_RAW" -> number; -1 if unknown. */
int ek__rt_cap_from_name(const char *name);

/* Kubernetes' default masked and read-only paths. */
extern const char *const ek__rt_default_masked[];
extern const char *const ek__rt_default_readonly[];

#endif
