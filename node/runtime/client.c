/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's side of the runtime: starts shims, and turns every ek_rt_* call into one
 * request on a fresh connection to the pod's shim (a unix connect costs microseconds, and a
 * handle with no open socket has nothing to go stale when a shim or the agent restarts).
 * Specs travel as files in the pod's state directory, requests and replies as one JSON
 * datagram each. When a shim is gone, statuses come from the state files it left.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "node/runtime/runtime-internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* The shim works from the pod's directory: every path it is given must be absolute. */
static int absolute(char **path, ek_error_t **err)
{
    char *real = realpath(*path, NULL);
    if (!real) {
        return ek_error_make(err, errno, "resolve `%s`", *path);
    }
    free(*path);
    *path = real;
    return 0;
}

ek_rt_t *ek_rt_open(const ek_rt_config_t *cfg, ek_error_t **err)
{
    ek_rt_t *rt = ek_new(ek_rt_t);
    rt->state_dir = ek_xstrdup(cfg->state_dir ? cfg->state_dir : "/run/edgek/runtime");
    rt->pods_dir = ek_xasprintf("%s/pods", rt->state_dir);
    rt->shim_exe = ek_xstrdup(cfg->shim_exe ? cfg->shim_exe : "/proc/self/exe");
    rt->cgroup_parent = ek_xstrdup(cfg->cgroup_parent ? cfg->cgroup_parent : "edgek");
    if (ek_mkdir_p(rt->pods_dir, 0700, err) < 0 || absolute(&rt->state_dir, err) < 0 ||
        absolute(&rt->pods_dir, err) < 0 ||
        ek__cg_layout(cfg->cgroup_root ? cfg->cgroup_root : "/sys/fs/cgroup", rt->cgroup_parent,
                      cfg->cgroup_nested, &rt->cg, err) < 0) {
        ek_rt_close(rt);
        return NULL;
    }
    return rt;
}

void ek_rt_close(ek_rt_t *rt)
{
    if (!rt) {
        return;
    }
    ek__cg_free(&rt->cg);
    free(rt->state_dir);
    free(rt->pods_dir);
    free(rt->shim_exe);
    free(rt->cgroup_parent);
    free(rt);
}

int ek_rt_cgroup_version(const ek_rt_t *rt)
{
    return rt->cg.version;
}

/* ---- requests ---- */

static int reply_error(const json_t *reply, ek_error_t **err)
{
    int e = (int)ek_json_int(reply, 0, "errno", NULL);
    ek_error_make(err, 0, "%s", ek_json_str(reply, "error", NULL));
    if (err && *err) {
        (*err)->errnum = e ? e : EIO;
    }
    return -1;
}

json_t *ek__rt_recv_reply(int fd, int timeout_ms, ek_error_t **err)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
        ek_error_make(err, ETIMEDOUT, "no answer from the shim");
        return NULL;
    }
    ek_autofree char *buf = ek_xmalloc(EK__RT_MSG_MAX + 1);
    ssize_t n = ek__rt_recv(fd, buf, EK__RT_MSG_MAX + 1, NULL, NULL, err);
    if (n <= 0) {
        if (n == 0) {
            ek_error_make(err, ECONNRESET, "the shim closed the connection");
        }
        return NULL;
    }
    json_t *reply = ek_json_parse(buf, (size_t)n, err);
    if (reply && ek_json_str(reply, "error", NULL)) {
        reply_error(reply, err);
        json_decref(reply);
        return NULL;
    }
    return reply;
}

json_t *ek__rt_call(ek_rt_pod_t *pod, json_t *req, int timeout_ms, ek_error_t **err)
{
    ek_auto(json_t) r = req;
    ek_autoclose int fd = ek__rt_connect(pod->sock, err);
    if (fd < 0 || ek__rt_send_json(fd, r, NULL, 0, err) < 0) {
        return NULL;
    }
    return ek__rt_recv_reply(fd, timeout_ms, err);
}

static int call_ok(ek_rt_pod_t *pod, json_t *req, int timeout_ms, ek_error_t **err)
{
    json_t *reply = ek__rt_call(pod, req, timeout_ms, err);
    json_decref(reply);
    return reply ? 0 : -1;
}

/* ---- pods ---- */

static ek_rt_pod_t *pod_handle(ek_rt_t *rt, const char *uid)
{
    ek_rt_pod_t *pod = ek_new(ek_rt_pod_t);
    pod->rt = rt;
    pod->uid = ek_xstrdup(uid);
    pod->dir = ek_xasprintf("%s/%s", rt->pods_dir, uid);
    pod->sock = ek_xasprintf("%s/shim.sock", pod->dir);
    return pod;
}

void ek_rt_pod_close(ek_rt_pod_t *pod)
{
    if (!pod) {
        return;
    }
    free(pod->uid);
    free(pod->dir);
    free(pod->sock);
    free(pod->netns);
    free(pod);
}

const char *ek_rt_pod_uid(const ek_rt_pod_t *pod)
{
    return pod->uid;
}

const char *ek_rt_pod_netns(const ek_rt_pod_t *pod)
{
    return pod->netns;
}

pid_t ek_rt_pod_shim_pid(const ek_rt_pod_t *pod)
{
    return pod->shim_pid;
}

bool ek_rt_pod_alive(ek_rt_pod_t *pod)
{
    ek_error_t *err = NULL;
    json_t *r = ek__rt_call(pod, json_pack("{s:s}", "op", "hello"), 5000, &err);
    ek_error_free(err);
    if (r) {
        pod->shim_pid = (pid_t)ek_json_int(r, 0, "pid", NULL);
    }
    json_decref(r);
    return r != NULL;
}

static char *qos_rel(const ek_rt_pod_spec_t *spec)
{
    const char *q = spec->qos == EK_RT_QOS_GUARANTEED   ? ""
                    : spec->qos == EK_RT_QOS_BESTEFFORT ? "besteffort/"
                                                        : "burstable/";
    return ek_xasprintf("kubepods/%spod%s", q, spec->uid);
}

static int count_parts(const char *p)
{
    int n = *p != '\0';
    for (; *p; p++) {
        n += *p == '/';
    }
    return n;
}

static json_t *pod_record(ek_rt_t *rt, const ek_rt_pod_spec_t *spec)
{
    json_t *j = ek__rt_pod_spec_to_json(spec);
    ek_autofree char *rel = qos_rel(spec);
    ek__cg_t cg;
    ek__cg_child(&rt->cg, rel, &cg);
    json_object_set_new(j, "cgroup", ek__cg_to_json(&cg));
    /* Levels whose subtree_control must offer controllers: every ancestor of the pod's cgroup
     * inside our parent, and the parent's own parent. */
    json_object_set_new(j, "cgroupDepth",
                        json_integer(count_parts(rt->cgroup_parent) + count_parts(rel)));
    ek__cg_free(&cg);
    return j;
}

/* The shim's readiness pipe carries "P<pid>" from the intermediate process, then "R" (or
 * "E<message>", or "U<errno>" when unshare failed). */
static int read_ready(int fd, pid_t *pid, ek_error_t **err)
{
    char buf[1024];
    size_t len = 0;
    uint64_t deadline = ek_now_ms() + 10000;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int64_t left = (int64_t)(deadline - ek_now_ms());
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            return ek_error_make(err, ETIMEDOUT, "shim did not start");
        }
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    bool ready = false;
    for (char *line = buf, *next; *line; line = next) {
        next = strchrnul(line, '\n');
        char kind = *line;
        if (*next) {
            *next++ = '\0';
        }
        if (kind == 'P') {
            *pid = (pid_t)atoi(line + 1);
        } else if (kind == 'R') {
            ready = true;
        } else if (kind == 'E') {
            return ek_error_make(err, EIO, "shim: %s", line + 1);
        } else if (kind == 'U') {
            return ek_error_make(err, atoi(line + 1), "create pod namespaces");
        }
    }
    return ready ? 0
                 : ek_error_make(err, ECHILD,
                                 "shim exited before it was ready (see "
                                 "shim.log)");
}

/* Async-signal-safe from here to exec: the agent may have threads. */
static EK_NORETURN void shim_child(const char *exe, char *const argv[], int null_fd, int log_fd,
                                   int ready_fd)
{
    setsid();
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    dup2(ready_fd, 3);
    syscall(SYS_close_range, 4U, ~0U, 0U);
    execve(exe, argv, environ);
    _exit(127);
}

static EK_NORETURN void intermediate(const ek_rt_pod_spec_t *spec, const char *exe,
                                     char *const argv[], int null_fd, int log_fd, int ready_fd)
{
    int flags = (spec->host_network ? 0 : CLONE_NEWNET | CLONE_NEWUTS) |
                (spec->host_ipc ? 0 : CLONE_NEWIPC) |
                (spec->share_pid && !spec->host_pid ? CLONE_NEWPID : 0);
    char line[32];
    if (unshare(flags) < 0) {
        int n = snprintf(line, sizeof(line), "U%d\n", errno);
        ssize_t w = write(ready_fd, line, (size_t)n);
        _exit(w < 0 ? 2 : 1);
    }
    pid_t pid = ek__rt_clone(0, NULL);
    if (pid == 0) {
        shim_child(exe, argv, null_fd, log_fd, ready_fd);
    }
    int n = snprintf(line, sizeof(line), "P%d\n", (int)pid);
    ssize_t w = write(ready_fd, line, (size_t)n);
    _exit(pid < 0 || w < 0);
}

/* Starts the shim twice removed (so that it is nobody's child here) in the pod's new
 * namespaces, and waits until it serves. */
static int spawn_shim(ek_rt_t *rt, ek_rt_pod_t *pod, const ek_rt_pod_spec_t *spec, ek_error_t **err)
{
    ek_autofree char *log_path = ek_xasprintf("%s/shim.log", pod->dir);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        return ek_error_make(err, errno, "pipe");
    }
    /* Above 10, so that the dup2s into 0..3 in the child cannot clobber one another. */
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int fds[3] = { fcntl(log_fd, F_DUPFD_CLOEXEC, 10), fcntl(null_fd, F_DUPFD_CLOEXEC, 10),
                   fcntl(p[1], F_DUPFD_CLOEXEC, 10) };
    close(log_fd);
    close(null_fd);
    close(p[1]);
    char *argv[] = { rt->shim_exe, "shim", pod->dir, NULL };
    pid_t mid = fds[0] < 0 || fds[1] < 0 || fds[2] < 0 ? -1 : ek__rt_clone(0, NULL);
    if (mid == 0) {
        intermediate(spec, rt->shim_exe, argv, fds[1], fds[0], fds[2]);
    }
    int e = errno;
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    int rc = mid < 0 ? ek_error_make(err, e, "start shim") : read_ready(p[0], &pod->shim_pid, err);
    close(p[0]);
    while (mid > 0 && waitpid(mid, NULL, 0) < 0 && errno == EINTR) {
    }
    return rc;
}

/* Unmounts, removes cgroups and the state dir of a pod whose shim is gone. */
static int cleanup_dead(ek_rt_pod_t *pod, ek_error_t **err)
{
    ek_autofree char *netns = ek_xasprintf("%s/netns", pod->dir);
    ek_autofree char *shm = ek_xasprintf("%s/shm", pod->dir);
    ek_autofree char *rec = ek_xasprintf("%s/pod.json", pod->dir);
    umount2(netns, MNT_DETACH);
    umount2(shm, MNT_DETACH);
    size_t len;
    ek_autofree char *data = ek_file_read(rec, 1 << 20, &len, NULL);
    ek_auto(json_t) j = data ? ek_json_parse(data, len, NULL) : NULL;
    ek__cg_t cg;
    if (j && ek__cg_from_json(json_object_get(j, "cgroup"), &cg, NULL) == 0) {
        int rc = ek__cg_remove(&cg, err);
        ek__cg_free(&cg);
        if (rc < 0) {
            return -1;
        }
    }
    return ek_rm_rf(pod->dir, err);
}

int ek_rt_pod_create(ek_rt_t *rt, const ek_rt_pod_spec_t *spec, ek_rt_pod_t **out, ek_error_t **err)
{
    *out = NULL;
    if (!ek__rt_name_ok(spec->uid, 128)) {
        return ek_error_make(err, EINVAL, "bad pod uid `%s`", spec->uid ? spec->uid : "");
    }
    ek_rt_pod_t *pod = pod_handle(rt, spec->uid);
    if (mkdir(pod->dir, 0700) < 0) {
        int e = errno;
        ek_rt_pod_close(pod);
        return ek_error_make(err, e, "create pod sandbox `%s`", spec->uid);
    }
    ek_autofree char *ctrs = ek_xasprintf("%s/containers", pod->dir);
    ek_autofree char *rec = ek_xasprintf("%s/pod.json", pod->dir);
    ek_auto(json_t) j = pod_record(rt, spec);
    if (mkdir(ctrs, 0700) < 0 || ek__rt_write_json(rec, j, err) < 0 ||
        spawn_shim(rt, pod, spec, err) < 0) {
        if (err && !*err) {
            ek_error_make(err, errno, "create `%s`", ctrs);
        }
        ek_error_wrap(err, "create pod sandbox `%s`", spec->uid);
        cleanup_dead(pod, NULL);
        ek_rt_pod_close(pod);
        return -1;
    }
    if (!spec->host_network) {
        pod->netns = ek_xasprintf("%s/netns", pod->dir);
    }
    *out = pod;
    return 0;
}

ek_rt_pod_t *ek_rt_pod_open(ek_rt_t *rt, const char *uid, ek_error_t **err)
{
    if (!ek__rt_name_ok(uid, 128)) {
        ek_error_make(err, EINVAL, "bad pod uid `%s`", uid ? uid : "");
        return NULL;
    }
    ek_rt_pod_t *pod = pod_handle(rt, uid);
    ek_autofree char *rec = ek_xasprintf("%s/pod.json", pod->dir);
    size_t len;
    ek_autofree char *data = ek_file_read(rec, 1 << 20, &len, err);
    ek_auto(json_t) j = data ? ek_json_parse(data, len, err) : NULL;
    if (!j) {
        ek_rt_pod_close(pod);
        ek_error_wrap(err, "open pod sandbox `%s`", uid);
        return NULL;
    }
    if (!ek_json_bool(j, false, "hostNetwork", NULL)) {
        pod->netns = ek_xasprintf("%s/netns", pod->dir);
    }
    if (!ek_rt_pod_alive(pod)) {
        ek_autofree char *pidfile = ek_xasprintf("%s/shim.pid", pod->dir);
        ek_autofree char *pid = ek_file_read(pidfile, 64, NULL, NULL);
        pod->shim_pid = pid ? (pid_t)atoi(pid) : 0;
    }
    return pod;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ek_rt_adopt(ek_rt_t *rt, ek_rt_pod_t ***pods, size_t *n, ek_error_t **err)
{
    *pods = NULL;
    *n = 0;
    DIR *d = opendir(rt->pods_dir);
    if (!d) {
        return ek_error_make(err, errno, "open `%s`", rt->pods_dir);
    }
    size_t cap = 0, count = 0;
    char **names = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !ek__rt_name_ok(de->d_name, 128)) {
            continue;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            names = ek_xrealloc(names, cap * sizeof(char *));
        }
        names[count++] = ek_xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof(char *), cmp_names);
    ek_rt_pod_t **out = ek_xcalloc(count + 1, sizeof(*out));
    for (size_t i = 0; i < count; i++) {
        ek_error_t *e = NULL;
        out[*n] = ek_rt_pod_open(rt, names[i], &e);
        if (out[*n]) {
            (*n)++;
        } else {
            EK_LOG(EK_WARN, "runtime", "adopt pod=%s: %s", names[i], ek_error_msg(e));
            ek_error_free(e);
        }
        free(names[i]);
    }
    free(names);
    *pods = out;
    return 0;
}

void ek_rt_pods_free(ek_rt_pod_t **pods, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ek_rt_pod_close(pods[i]);
    }
    free(pods);
}

int ek_rt_pod_stop(ek_rt_pod_t *pod, int64_t grace_ms, ek_error_t **err)
{
    json_t *req = json_pack("{s:s,s:I}", "op", "stopall", "graceMs", (json_int_t)grace_ms);
    if (call_ok(pod, req, (int)EK_MIN(grace_ms + EK__RT_QUICK_MS, INT32_MAX), err) < 0) {
        return ek_error_wrap(err, "stop pod `%s`", pod->uid);
    }
    return 0;
}

/* Waits (at most 10 s) until the shim process has ended. */
static void wait_shim_gone(pid_t pid)
{
    int fd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    if (fd < 0) {
        return;
    }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (poll(&p, 1, 10000) < 0 && errno == EINTR) {
    }
    close(fd);
}

int ek_rt_pod_remove(ek_rt_pod_t *pod, ek_error_t **err)
{
    int rc = 0;
    if (ek_rt_pod_alive(pod)) {
        json_t *req = json_pack("{s:s,s:i}", "op", "shutdown", "graceMs", 0);
        rc = call_ok(pod, req, EK__RT_QUICK_MS, err);
        wait_shim_gone(pod->shim_pid);
    }
    if (rc == 0) {
        rc = cleanup_dead(pod, err);
    }
    if (rc < 0) {
        ek_error_wrap(err, "remove pod `%s`", pod->uid);
    }
    ek_rt_pod_close(pod);
    return rc;
}
