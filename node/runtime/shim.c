/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek shim <pod dir>`: one small process per pod. The agent starts it inside the pod's new
 * network, IPC and UTS namespaces (and, with a shared PID namespace, as that namespace's
 * PID 1); it sets those up (hostname, loopback, sysctls, the pod's /dev/shm, a bind mount that
 * pins the network namespace), creates the pod's cgroup, and then serves its control socket
 * in a plain epoll loop: no libuv, no threads, no heap churn, because there is one of these
 * per pod and each must stay well under a megabyte. It is its containers' subreaper, pumps
 * their output into CRI logs and records their exits on disk, so that an agent that restarts
 * finds everything as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "node/runtime/shim-internal.h"

shim_t ek__shim;
#define S ek__shim

static char msgbuf[EK__RT_MSG_MAX + 1];
static int sig_kind = W_SIGNAL, listen_kind = W_LISTEN;
static int sigfd = -1, lfd = -1;

void ek__shim_watch(void *w, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
    if (epoll_ctl(S.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        EK_LOG(EK_ERROR, "shim", "epoll add fd=%d: %s", fd, strerror(errno));
    }
}

void ek__shim_unwatch(int fd)
{
    /* Explicitly: a child cloned while fd was open holds the same file description until it
     * execs, and epoll would keep reporting it with a dangling pointer. */
    epoll_ctl(S.epfd, EPOLL_CTL_DEL, fd, NULL);
}

json_t *ek__shim_ok(void)
{
    return json_pack("{s:b}", "ok", 1);
}

void ek__shim_reply(conn_t *c, json_t *reply)
{
    ek_error_t *err = NULL;
    if (c && ek__rt_send_json(c->fd, reply, NULL, 0, &err) < 0) {
        EK_LOG(EK_DEBUG, "shim", "reply: %s", ek_error_msg(err));
        ek_error_free(err);
    }
    json_decref(reply);
}

static json_t *error_reply(ek_error_t *err)
{
    json_t *r = json_pack("{s:s,s:i}", "error", ek_error_msg(err), "errno", err ? err->errnum : 0);
    ek_error_free(err);
    return r;
}

static json_t *op_hello(void)
{
    char self[32] = "";
    ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    return json_pack("{s:b,s:i,s:s}", "ok", 1, "pid", atoi(self), "version", ek_version);
}

void ek__shim_broadcast(const ek_rt_status_t *st)
{
    ek_auto(json_t) ev = json_pack("{s:o}", "event", ek__rt_status_to_json(st));
    for (conn_t *c = S.conns, *next; c; c = next) {
        next = c->next;
        ek_error_t *err = NULL;
        if (c->events && ek__rt_send_json(c->fd, ev, NULL, 0, &err) < 0) {
            /* A subscriber that does not keep up is dropped rather than let the shim block or
             * lose events silently: it sees EOF and lists again. */
            EK_LOG(EK_WARN, "shim", "drop event subscriber: %s", ek_error_msg(err));
            ek_error_free(err);
            ek__shim_forget_conn(c);
        }
    }
}

static json_t *dispatch(conn_t *c, const char *op, const json_t *req, int *fds, size_t nfds,
                        ek_error_t **err)
{
    if (strcmp(op, "hello") == 0) {
        return op_hello();
    } else if (strcmp(op, "create") == 0) {
        return ek__shim_create(req, err);
    } else if (strcmp(op, "start") == 0) {
        return ek__shim_start(req, err);
    } else if (strcmp(op, "kill") == 0) {
        return ek__shim_kill(req, err);
    } else if (strcmp(op, "stop") == 0) {
        return ek__shim_stop(c, req, err);
    } else if (strcmp(op, "wait") == 0) {
        return ek__shim_wait(c, req, err);
    } else if (strcmp(op, "status") == 0) {
        return ek__shim_status(req, err);
    } else if (strcmp(op, "list") == 0) {
        return ek__shim_list();
    } else if (strcmp(op, "remove") == 0) {
        return ek__shim_remove(req, err);
    } else if (strcmp(op, "exec") == 0) {
        return ek__shim_exec(c, req, fds, nfds, err);
    } else if (strcmp(op, "signal") == 0) {
        return ek__shim_exec_signal(c, req, err);
    } else if (strcmp(op, "stopall") == 0) {
        return ek__shim_stop_all(c, req, false, err);
    } else if (strcmp(op, "events") == 0) {
        c->events = true;
        return ek__shim_ok();
    } else if (strcmp(op, "shutdown") == 0) {
        return ek__shim_stop_all(c, req, true, err);
    }
    ek_error_make(err, EINVAL, "unknown operation `%s`", op);
    return NULL;
}

/* Memory that events later in the same epoll batch may still point at: freed after it. */
static void *graveyard[64];
static size_t n_graves;

void ek__shim_defer_free(void *p)
{
    if (n_graves == EK_ARRAY_SIZE(graveyard)) {
        free(graveyard[--n_graves]); /* cannot happen with a batch of 16 events */
    }
    graveyard[n_graves++] = p;
}

static void bury(void)
{
    while (n_graves > 0) {
        free(graveyard[--n_graves]);
    }
}

void ek__shim_forget_conn(conn_t *c)
{
    for (conn_t **pp = &S.conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    for (xproc_t *x = S.xprocs; x; x = x->next) {
        if (x->conn == c) {
            x->conn = NULL;
        }
    }
    ek__shim_unwatch(c->fd);
    close(c->fd);
    c->kind = 0; /* events still queued for it are skipped */
    ek__shim_defer_free(c);
}

static void on_conn(conn_t *c)
{
    int fds[EK__RT_MAX_FDS];
    size_t nfds = 0;
    ek_error_t *err = NULL;
    ssize_t n = ek__rt_recv(c->fd, msgbuf, sizeof(msgbuf), fds, &nfds, &err);
    if (n < 0 && err && err->errnum == EAGAIN) {
        ek_error_free(err);
        return;
    }
    if (n <= 0) {
        ek_error_free(err);
        ek__shim_forget_conn(c);
        return;
    }
    json_t *req = ek_json_parse(msgbuf, (size_t)n, &err);
    const char *op = req ? ek_json_str(req, "op", NULL) : NULL;
    json_t *reply = NULL;
    if (req && !op) {
        ek_error_make(&err, EINVAL, "request without `op`");
    } else if (op) {
        reply = dispatch(c, op, req, fds, nfds, &err);
    }
    for (size_t i = 0; i < nfds; i++) {
        if (fds[i] >= 0) {
            close(fds[i]); /* exec dups what it keeps */
        }
    }
    json_decref(req);
    if (!reply && err) {
        reply = error_reply(err);
    }
    if (reply) {
        ek__shim_reply(c, reply);
    }
}

static void on_listen(void)
{
    /* Non-blocking: a peer that stops reading must never stall the pod's shim. */
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        return;
    }
    conn_t *c = ek_new(conn_t);
    c->kind = W_CONN;
    c->fd = fd;
    c->next = S.conns;
    S.conns = c;
    ek__shim_watch(c, fd);
}

static void on_signal(void)
{
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    }
    ek__shim_reap();
}

static void loop(void)
{
    struct epoll_event evs[16];
    while (!S.done) {
        int timeout = ek__shim_timers();
        int n = epoll_wait(S.epfd, evs, (int)EK_ARRAY_SIZE(evs), timeout);
        if (n < 0 && errno != EINTR) {
            EK_LOG(EK_ERROR, "shim", "epoll_wait: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n && !S.done; i++) {
            int kind = *(int *)evs[i].data.ptr;
            if (kind == 0) {
                continue;
            } else if (kind == W_SIGNAL) {
                on_signal();
            } else if (kind == W_LISTEN) {
                on_listen();
            } else if (kind == W_CONN) {
                on_conn(evs[i].data.ptr);
            } else if (kind == W_STREAM) {
                ek__shim_pump(evs[i].data.ptr, false);
            }
        }
        bury();
    }
}

/* ---- start-up ---- */

static int loopback_up(ek_error_t **err)
{
    ek_autoclose int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        return ek_error_make(err, errno, "loopback flags");
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
        return ek_error_make(err, errno, "loopback up");
    }
    return 0;
}

static int pin_netns(ek_error_t **err)
{
    int fd = open("netns", O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0) {
        return ek_error_make(err, errno, "create netns pin");
    }
    close(fd);
    if (mount("/proc/self/ns/net", "netns", NULL, MS_BIND, NULL) < 0) {
        return ek_error_make(err, errno, "pin network namespace");
    }
    return 0;
}

static int set_sysctls(const json_t *pod, ek_error_t **err)
{
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(pod, "sysctls"), i, e) {
        const char *kv = json_string_value(e);
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq || memchr(kv, '/', (size_t)(eq - kv)) || strstr(kv, "..")) {
            return ek_error_make(err, EINVAL, "bad sysctl `%s`", kv ? kv : "");
        }
        char path[256];
        int n = snprintf(path, sizeof(path), "/proc/sys/%.*s", (int)(eq - kv), kv);
        for (char *p = path + 10; p < path + n; p++) {
            *p = *p == '.' ? '/' : *p;
        }
        ek_autoclose int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, eq + 1, strlen(eq + 1)) < 0) {
            return ek_error_make(err, errno, "sysctl `%s`", kv);
        }
    }
    return 0;
}

static int setup_shm(const json_t *pod, ek_error_t **err)
{
    long long size = ek_json_int(pod, 0, "shmSize", NULL);
    char opts[64];
    snprintf(opts, sizeof(opts), "mode=1777,size=%lld", size > 0 ? size : 64LL << 20);
    if (mkdir("shm", 0755) < 0 && errno != EEXIST) {
        return ek_error_make(err, errno, "create shm dir");
    }
    if (mount("shm", "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0) {
        return ek_error_make(err, errno, "mount the pod's shm");
    }
    S.shm_dir = ek_xasprintf("%s/shm", S.dir);
    return 0;
}

static int pod_cgroup(const json_t *pod, ek_error_t **err)
{
    if (ek__cg_from_json(json_object_get(pod, "cgroup"), &S.pod_cg, err) < 0) {
        return -1;
    }
    ek_rt_resources_t r = { 0 };
    json_t *res = json_object_get(pod, "resources");
    r.memory_limit = ek_json_int(res, 0, "memoryLimit", NULL);
    r.cpu_quota_us = ek_json_int(res, 0, "cpuQuotaUs", NULL);
    r.cpu_period_us = ek_json_int(res, 0, "cpuPeriodUs", NULL);
    r.cpu_shares = ek_json_int(res, 0, "cpuShares", NULL);
    r.pids_limit = ek_json_int(res, 0, "pidsLimit", NULL);
    int top = (int)ek_json_int(pod, 1, "cgroupDepth", NULL);
    if (ek__cg_create(&S.pod_cg, top, err) < 0 || ek__cg_set_limits(&S.pod_cg, &r, err) < 0) {
        return -1;
    }
    return 0;
}

static int setup_namespaces(const json_t *pod, ek_error_t **err)
{
    const char *hostname = ek_json_str(pod, "hostname", NULL);
    bool host_net = ek_json_bool(pod, false, "hostNetwork", NULL);
    if (!host_net && hostname && sethostname(hostname, strlen(hostname)) < 0) {
        return ek_error_make(err, errno, "set hostname `%s`", hostname);
    }
    if (!host_net && (loopback_up(err) < 0 || pin_netns(err) < 0)) {
        return -1;
    }
    if (set_sysctls(pod, err) < 0) {
        return -1;
    }
    if (!ek_json_bool(pod, false, "hostIPC", NULL) && setup_shm(pod, err) < 0) {
        return -1;
    }
    return 0;
}

static int setup_loop(ek_error_t **err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    /* The pod goes away through the API only: a stray signal must not end it. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    S.epfd = epoll_create1(EPOLL_CLOEXEC);
    lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (sigfd < 0 || S.epfd < 0 || lfd < 0) {
        return ek_error_make(err, errno, "set up the loop");
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "shim.sock"); /* cwd is the pod dir */
    unlink(sa.sun_path);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
        return ek_error_make(err, errno, "listen on `%s/shim.sock`", S.dir);
    }
    ek__shim_watch(&sig_kind, sigfd);
    ek__shim_watch(&listen_kind, lfd);
    return 0;
}

static int setup(const char *dir, ek_error_t **err)
{
    S.dir = ek_xstrdup(dir);
    S.own_pidns_fd = -1;
    if (chdir(dir) < 0) {
        return ek_error_make(err, errno, "enter `%s`", dir);
    }
    size_t len;
    ek_autofree char *data = ek_file_read("pod.json", 1 << 20, &len, err);
    ek_auto(json_t) pod = data ? ek_json_parse(data, len, err) : NULL;
    if (!pod) {
        return ek_error_wrap(err, "read pod.json");
    }
    S.new_pidns = getpid() == 1;
    S.host_pid = ek_json_bool(pod, false, "hostPID", NULL);
    S.last_cap = ek__rt_cap_last();
    S.own_pidns_fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
        return ek_error_make(err, errno, "become subreaper");
    }
    if (setup_namespaces(pod, err) < 0 || pod_cgroup(pod, err) < 0 || setup_loop(err) < 0) {
        return -1;
    }
    char self[32] = "";
    ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    return ek__rt_write_file("shim.pid", self, strlen(self), err);
}

void ek__shim_teardown(void)
{
    ek_error_t *err = NULL;
    for (ctr_t *c = S.ctrs; c; c = c->next) {
        if (ek__cg_remove(&c->cg, &err) < 0) {
            EK_LOG(EK_WARN, "shim", "%s", ek_error_msg(err));
            ek_error_clear(&err);
        }
    }
    if (ek__cg_remove(&S.pod_cg, &err) < 0) {
        EK_LOG(EK_WARN, "shim", "%s", ek_error_msg(err));
        ek_error_clear(&err);
    }
    umount2("netns", MNT_DETACH);
    umount2("shm", MNT_DETACH);
}

static void free_all(void)
{
    while (S.conns) {
        ek__shim_forget_conn(S.conns);
    }
    while (S.xprocs) {
        xproc_t *x = S.xprocs;
        S.xprocs = x->next;
        close(x->pidfd);
        free(x);
    }
    while (S.ctrs) {
        ctr_t *c = S.ctrs;
        S.ctrs = c->next;
        ek__cg_free(&c->cg);
        ek__rt_log_close(&c->log);
        ek_rt_status_clear(&c->st);
        free(c->dir);
        free(c);
    }
    bury();
    ek__cg_free(&S.pod_cg);
    free(S.shm_dir);
    free(S.dir);
}

int ek_rt_shim_main(const char *pod_dir)
{
    ek_error_t *err = NULL;
    /* fd 3 is the agent's readiness pipe: one line, "R" or "E<message>". */
    int ready = fcntl(3, F_GETFD) >= 0 ? 3 : -1;
    if (ready >= 0) {
        fcntl(ready, F_SETFD, FD_CLOEXEC);
    }
    if (setup(pod_dir, &err) < 0) {
        char line[600];
        int n = snprintf(line, sizeof(line), "E%s\n", ek_error_msg(err));
        if (ready >= 0 && write(ready, line, (size_t)EK_MIN(n, (int)sizeof(line) - 1)) < 0) {
            n = 0;
        }
        EK_LOG(EK_ERROR, "shim", "start: %s", ek_error_msg(err));
        ek_error_free(err);
        free_all();
        return 1;
    }
    if (ready >= 0) {
        if (write(ready, "R\n", 2) < 0) {
            EK_LOG(EK_WARN, "shim", "readiness pipe: %s", strerror(errno));
        }
        close(ready);
    }
    loop();
    free_all();
    return 0;
}
