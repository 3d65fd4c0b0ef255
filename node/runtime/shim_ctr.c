/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim's container and exec operations. create prepares the cgroup, the log and the
 * writable layer, then clones the container's first process (new mount and PID namespaces;
 * net, IPC and UTS are the shim's own, that is the pod's) and waits until it has built its
 * root and is ready to exec; start lets it exec. Exits are recorded in state.json as they
 * happen, so a new agent (or one reading a dead shim's directory) sees them. exec clones a
 * process straight into a running container's PID namespace (setns on the shim's
 * pid_for_children, then back), so no intermediate process is needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "node/runtime/shim-internal.h"

#define S ek__shim

/* How long a child may take to build its root before create gives up. */
#define SETUP_TIMEOUT_MS 30000

static char rbuf[16384];

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static ctr_t *find(const char *name)
{
    for (ctr_t *c = S.ctrs; c; c = c->next) {
        if (name && strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

static ctr_t *find_req(const json_t *req, ek_error_t **err)
{
    const char *name = ek_json_str(req, "name", NULL);
    ctr_t *c = find(name);
    if (!c) {
        ek_error_make(err, ENOENT, "no container `%s` in this pod", name ? name : "");
    }
    return c;
}

static void save_state(ctr_t *c)
{
    ek_autofree char *path = ek_xasprintf("%s/state.json", c->dir);
    ek_auto(json_t) j = ek__rt_status_to_json(&c->st);
    ek_error_t *err = NULL;
    if (ek__rt_write_json(path, j, &err) < 0) {
        EK_LOG(EK_WARN, "shim", "record state: %s", ek_error_msg(err));
        ek_error_free(err);
    }
}

static json_t *status_reply(const ctr_t *c)
{
    return json_pack("{s:b,s:o}", "ok", 1, "status", ek__rt_status_to_json(&c->st));
}

/* One message from a child, waiting at most timeout_ms. 1: message, 0: EOF (it exec'd or
 * died), -1: timeout or error. */
static int sync_read(int fd, ek__rt_sync_msg_t *m, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        return -1;
    }
    ssize_t n;
    do {
        n = recv(fd, m, sizeof(*m), 0);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? 1 : n == 0 ? 0 : -1;
}

static int sync_send(int fd, char kind)
{
    ek__rt_sync_msg_t m = { .kind = kind };
    return send(fd, &m, sizeof(m), MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static void kill_and_reap(pid_t pid, int pidfd)
{
    send_signal(pidfd, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

/* GO, then wait for READY: the child has its root and identity. */
static int child_setup(pid_t pid, int pidfd, int sync_fd, const ek__cg_t *cg, ek_error_t **err)
{
    if (ek__cg_enter(cg, pid, err) < 0) {
        return -1;
    }
    ek__rt_sync_msg_t m;
    if (sync_send(sync_fd, EK__RT_SYNC_GO) < 0) {
        return ek_error_make(err, errno, "start container process");
    }
    int r = sync_read(sync_fd, &m, SETUP_TIMEOUT_MS);
    if (r > 0 && m.kind == EK__RT_SYNC_READY) {
        return 0;
    }
    if (r > 0 && m.kind == EK__RT_SYNC_ERROR) {
        ek_error_make(err, 0, "%s", m.msg);
        (*err)->errnum = m.errnum;
        return -1;
    }
    EK_UNUSED(pidfd);
    return ek_error_make(err, r < 0 ? ETIMEDOUT : ECHILD, "container process died in setup");
}

static void stream_init(stream_t *s, ctr_t *c, const char *name, int fd)
{
    s->kind = W_STREAM;
    s->ctr = c;
    s->name = name;
    s->fd = fd;
    s->carry.len = 0;
    fcntl(fd, F_SETFL, O_NONBLOCK);
}

static int spawn(ctr_t *c, const ek_rt_container_spec_t *spec, ek_error_t **err)
{
    int outp[2], errp[2], sp[2];
    if (pipe2(outp, O_CLOEXEC) < 0) {
        return ek_error_make(err, errno, "pipe");
    }
    if (pipe2(errp, O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        close(outp[0]);
        close(outp[1]);
        return ek_error_make(err, errno, "pipe");
    }
    c->own_pidns = !S.new_pidns && !S.host_pid;
    ek__rt_child_t ch = {
        .spec = spec,
        .ctr_dir = c->dir,
        .shm_dir = S.shm_dir,
        .cgroup_version = S.pod_cg.version,
        .sync_fd = sp[1],
        .stdio = { -1, outp[1], errp[1] },
        .new_pidns = c->own_pidns,
        .ctr_pidfd = -1,
    };
    unsigned long flags = CLONE_NEWNS | CLONE_PIDFD | (c->own_pidns ? CLONE_NEWPID : 0);
    c->pidfd = -1;
    pid_t pid = ek__rt_clone(flags, &c->pidfd);
    if (pid == 0) {
        ek__rt_child_main(&ch);
    }
    int e = errno;
    close(sp[1]);
    close(outp[1]);
    close(errp[1]);
    stream_init(&c->out, c, "stdout", outp[0]);
    stream_init(&c->err, c, "stderr", errp[0]);
    c->sync_fd = sp[0];
    if (pid < 0) {
        return ek_error_make(err, e, "clone container process");
    }
    c->pid = pid;
    if (child_setup(pid, c->pidfd, c->sync_fd, &c->cg, err) < 0) {
        kill_and_reap(pid, c->pidfd);
        c->pid = 0;
        return -1;
    }
    c->oom_base = ek__cg_oom_kills(&c->cg);
    c->st.pid = ek__rt_pidfd_pid(c->pidfd);
    return 0;
}

static int prepare(ctr_t *c, const ek_rt_container_spec_t *spec, ek_error_t **err)
{
    c->stop_signal = spec->stop_signal > 0 ? spec->stop_signal : SIGTERM;
    ek__cg_child(&S.pod_cg, c->name, &c->cg);
    if (ek__cg_create(&c->cg, 1, err) < 0 || ek__cg_set_limits(&c->cg, &spec->resources, err) < 0 ||
        ek__cg_set_devices(&c->cg, spec->privileged, err) < 0) {
        return -1;
    }
    ek_autofree char *rootfs = ek_xasprintf("%s/rootfs", c->dir);
    if (ek_mkdir_p(rootfs, 0755, err) < 0) {
        return -1;
    }
    if (spec->layers && spec->layers[0]) {
        ek_autofree char *upper = ek_xasprintf("%s/upper", c->dir);
        ek_autofree char *work = ek_xasprintf("%s/work", c->dir);
        if (ek_mkdir_p(spec->upper_dir ? spec->upper_dir : upper, 0755, err) < 0 ||
            ek_mkdir_p(spec->work_dir ? spec->work_dir : work, 0755, err) < 0) {
            return -1;
        }
    }
    return ek__rt_log_open(&c->log, spec->log_path, spec->log_max_size, spec->log_max_files, err);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
    }
    *fd = -1;
}

static void close_stream(stream_t *s)
{
    if (s->fd >= 0) {
        ek__shim_unwatch(s->fd);
    }
    close_fd(&s->fd);
}

static void ctr_free(ctr_t *c)
{
    close_stream(&c->out);
    close_stream(&c->err);
    close_fd(&c->sync_fd);
    close_fd(&c->pidfd);
    ek__rt_log_close(&c->log);
    ek__cg_free(&c->cg);
    ek_rt_status_clear(&c->st);
    free(c->dir);
    c->out.kind = c->err.kind = 0;
    ek__shim_defer_free(c);
}

json_t *ek__shim_create(const json_t *req, ek_error_t **err)
{
    const char *name = ek_json_str(req, "name", NULL);
    if (!ek__rt_name_ok(name, 63)) {
        ek_error_make(err, EINVAL, "bad container name `%s`", name ? name : "");
        return NULL;
    }
    if (find(name)) {
        ek_error_make(err, EEXIST, "container `%s` exists in this pod", name);
        return NULL;
    }
    ctr_t *c = ek_new(ctr_t);
    c->out.fd = c->err.fd = c->sync_fd = c->pidfd = c->log.fd = -1;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->dir = ek_xasprintf("%s/containers/%s", S.dir, name);
    ek_autofree char *spec_path = ek_xasprintf("%s/spec.json", c->dir);
    ek__rt_cspec_t cs;
    if (ek__rt_cspec_load(spec_path, &cs, err) < 0) {
        ctr_free(c);
        return NULL;
    }
    int rc = prepare(c, &cs.s, err) < 0 ? -1 : spawn(c, &cs.s, err);
    ek__rt_cspec_free(&cs);
    if (rc < 0) {
        ek__cg_remove(&c->cg, NULL);
        ctr_free(c);
        ek_error_wrap(err, "create container `%s`", name);
        return NULL;
    }
    c->st.name = ek_xstrdup(name);
    c->st.state = EK_RT_CREATED;
    c->st.created_ns = wall_ns();
    ek__shim_watch(&c->out, c->out.fd);
    ek__shim_watch(&c->err, c->err.fd);
    c->next = S.ctrs;
    S.ctrs = c;
    save_state(c);
    return status_reply(c);
}

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? ek_xstrdup(s) : NULL;
}

json_t *ek__shim_start(const json_t *req, ek_error_t **err)
{
    ctr_t *c = find_req(req, err);
    if (!c) {
        return NULL;
    }
    if (c->st.state != EK_RT_CREATED || c->sync_fd < 0) {
        ek_error_make(err, EINVAL, "container `%s` is not waiting to start", c->name);
        return NULL;
    }
    ek__rt_sync_msg_t m;
    int r = sync_send(c->sync_fd, EK__RT_SYNC_START) < 0 ? -1 : sync_read(c->sync_fd, &m, -1);
    close_fd(&c->sync_fd);
    if (r == 0) {
        c->st.state = EK_RT_RUNNING;
        c->st.started_ns = wall_ns();
        save_state(c);
        ek__shim_broadcast(&c->st);
        return status_reply(c);
    }
    /* The exec failed: the child has exited with 127 or 126 and said why. */
    kill_and_reap(c->pid, c->pidfd);
    close_fd(&c->pidfd);
    c->pid = 0;
    c->st.pid = 0;
    c->st.state = EK_RT_EXITED;
    c->st.exit_code = r > 0 ? m.exit_code : 128;
    c->st.finished_ns = c->st.started_ns = wall_ns();
    set_str(&c->st.reason, "StartError");
    set_str(&c->st.message, r > 0 ? m.msg : "container process died before exec");
    save_state(c);
    ek__shim_broadcast(&c->st);
    ek_error_make(err, r > 0 ? m.errnum : ECHILD, "start container `%s`: %s", c->name,
                  c->st.message);
    return NULL;
}

json_t *ek__shim_kill(const json_t *req, ek_error_t **err)
{
    ctr_t *c = find_req(req, err);
    if (!c) {
        return NULL;
    }
    int sig = (int)ek_json_int(req, SIGKILL, "signal", NULL);
    if (c->pid <= 0 || send_signal(c->pidfd, sig) < 0) {
        ek_error_make(err, c->pid <= 0 ? ESRCH : errno, "signal container `%s`", c->name);
        return NULL;
    }
    return ek__shim_ok();
}

/* Starts a graceful stop of c: its stop signal now, SIGKILL at the deadline. */
static void begin_stop(ctr_t *c, int64_t grace_ms)
{
    if (c->pid <= 0) {
        return;
    }
    bool started = c->st.state == EK_RT_RUNNING;
    if (!started || grace_ms <= 0) {
        send_signal(c->pidfd, SIGKILL);
        return;
    }
    send_signal(c->pidfd, c->stop_signal);
    uint64_t at = ek_now_ms() + (uint64_t)grace_ms;
    if (c->kill_at_ms == 0 || at < c->kill_at_ms) {
        c->kill_at_ms = at;
    }
}

json_t *ek__shim_wait(conn_t *conn, const json_t *req, ek_error_t **err)
{
    ctr_t *c = find_req(req, err);
    if (!c) {
        return NULL;
    }
    if (c->st.state == EK_RT_EXITED) {
        return status_reply(c);
    }
    snprintf(conn->wait_for, sizeof(conn->wait_for), "%s", c->name);
    return NULL;
}

json_t *ek__shim_stop(conn_t *conn, const json_t *req, ek_error_t **err)
{
    ctr_t *c = find_req(req, err);
    if (!c) {
        return NULL;
    }
    begin_stop(c, ek_json_int(req, 0, "graceMs", NULL));
    return ek__shim_wait(conn, req, err);
}

json_t *ek__shim_status(const json_t *req, ek_error_t **err)
{
    ctr_t *c = find_req(req, err);
    return c ? status_reply(c) : NULL;
}

json_t *ek__shim_list(void)
{
    json_t *a = json_array();
    for (ctr_t *c = S.ctrs; c; c = c->next) {
        json_array_append_new(a, ek__rt_status_to_json(&c->st));
    }
    return json_pack("{s:b,s:o}", "ok", 1, "containers", a);
}

json_t *ek__shim_remove(const json_t *req, ek_error_t **err)
{
    ctr_t *c = find_req(req, err);
    if (!c) {
        return NULL;
    }
    if (c->st.state == EK_RT_RUNNING) {
        ek_error_make(err, EBUSY, "container `%s` is running: stop it first", c->name);
        return NULL;
    }
    if (c->pid > 0) { /* created, never started */
        kill_and_reap(c->pid, c->pidfd);
    }
    if (ek__cg_remove(&c->cg, err) < 0) {
        return NULL;
    }
    ek_rm_rf(c->dir, NULL);
    for (ctr_t **pp = &S.ctrs; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    ctr_free(c);
    return ek__shim_ok();
}

void ek__shim_pump(stream_t *s, bool drain)
{
    while (s->fd >= 0) {
        ssize_t n = read(s->fd, rbuf, sizeof(rbuf));
        if (n > 0) {
            ek__rt_log_write(&s->ctr->log, s->name, &s->carry, rbuf, (size_t)n, false);
            if (!drain) {
                return; /* one read per wake-up keeps busy containers from starving others */
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        ek__rt_log_write(&s->ctr->log, s->name, &s->carry, "", 0, true);
        close_stream(s);
    }
}

int ek__shim_timers(void)
{
    uint64_t now = ek_now_ms();
    int64_t next = -1;
    for (ctr_t *c = S.ctrs; c; c = c->next) {
        if (c->kill_at_ms == 0) {
            continue;
        }
        if (now >= c->kill_at_ms) {
            send_signal(c->pidfd, SIGKILL);
            c->kill_at_ms = 0;
        } else if (next < 0 || (int64_t)(c->kill_at_ms - now) < next) {
            next = (int64_t)(c->kill_at_ms - now);
        }
    }
    return (int)next;
}

static bool any_alive(void)
{
    for (ctr_t *c = S.ctrs; c; c = c->next) {
        if (c->pid > 0) {
            return true;
        }
    }
    return false;
}

static void check_all_stopped(void)
{
    if (any_alive()) {
        return;
    }
    for (conn_t *c = S.conns, *next; c; c = next) {
        next = c->next;
        if (!c->wait_all) {
            continue;
        }
        c->wait_all = false;
        if (c->shutdown) {
            ek__shim_teardown();
            S.done = true;
        }
        ek__shim_reply(c, ek__shim_ok());
    }
}

json_t *ek__shim_stop_all(conn_t *conn, const json_t *req, bool shutdown, ek_error_t **err)
{
    EK_UNUSED(err);
    int64_t grace = ek_json_int(req, 0, "graceMs", NULL);
    for (ctr_t *c = S.ctrs; c; c = c->next) {
        begin_stop(c, grace);
    }
    conn->wait_all = true;
    conn->shutdown = shutdown;
    check_all_stopped();
    return NULL;
}

static void ctr_exited(ctr_t *c, int status)
{
    /* In its own PID namespace, every process of the container is gone once init is reaped,
     * so the pipes hold all there is: drain them first, and the log is complete when a
     * waiter hears about the exit. */
    ek__shim_pump(&c->out, true);
    ek__shim_pump(&c->err, true);
    c->st.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    c->st.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + c->st.signal;
    c->st.oom_killed = ek__cg_oom_kills(&c->cg) > c->oom_base;
    set_str(&c->st.reason, c->st.oom_killed       ? "OOMKilled"
                           : c->st.exit_code == 0 ? "Completed"
                                                  : "Error");
    c->st.state = EK_RT_EXITED;
    c->st.finished_ns = wall_ns();
    c->st.pid = 0;
    c->pid = 0;
    c->kill_at_ms = 0;
    close_fd(&c->pidfd);
    close_fd(&c->sync_fd);
    save_state(c);
    ek__shim_broadcast(&c->st);
    for (conn_t *w = S.conns; w; w = w->next) {
        if (strcmp(w->wait_for, c->name) == 0) {
            w->wait_for[0] = '\0';
            ek__shim_reply(w, status_reply(c));
        }
    }
}

static void exec_exited(xproc_t *x, int status)
{
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + sig;
    if (x->conn) {
        ek__shim_reply(x->conn,
                       json_pack("{s:b,s:i,s:i}", "ok", 1, "exitCode", code, "signal", sig));
    }
    for (xproc_t **pp = &S.xprocs; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    }
    close(x->pidfd);
    free(x);
}

void ek__shim_reap(void)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            break;
        }
        for (ctr_t *c = S.ctrs; c; c = c->next) {
            if (c->pid == pid) {
                ctr_exited(c, status);
                break;
            }
        }
        for (xproc_t *x = S.xprocs; x; x = x->next) {
            if (x->pid == pid) {
                exec_exited(x, status);
                break;
            }
        }
    }
    check_all_stopped();
}

/* ---- exec ---- */

static pid_t exec_clone(ctr_t *c, const ek__rt_child_t *ch, int *pidfd, ek_error_t **err)
{
    /* pid_for_children to the container's namespace for this one clone, then back. */
    if (c->own_pidns && setns(c->pidfd, CLONE_NEWPID) < 0) {
        return ek_error_make(err, errno, "enter the container's PID namespace");
    }
    pid_t pid = ek__rt_clone(CLONE_PIDFD, pidfd);
    if (pid == 0) {
        ek__rt_child_main(ch);
    }
    int e = errno;
    if (c->own_pidns && setns(S.own_pidns_fd, CLONE_NEWPID) < 0) {
        EK_LOG(EK_ERROR, "shim", "restore PID namespace: %s", strerror(errno));
    }
    if (pid < 0) {
        return ek_error_make(err, e, "clone exec process");
    }
    return pid;
}

static json_t *exec_error(ek_error_t **err, int code)
{
    json_t *r = json_pack("{s:s,s:i,s:i}", "error", ek_error_msg(*err), "errno", (*err)->errnum,
                          "exitCode", code);
    ek_error_clear(err);
    return r;
}

static json_t *exec_run(conn_t *conn, ctr_t *c, const ek__rt_child_t *ch, int sync_fd,
                        ek_error_t **err)
{
    int pidfd = -1;
    pid_t pid = exec_clone(c, ch, &pidfd, err);
    close(ch->sync_fd);
    if (pid < 0) {
        return NULL;
    }
    ek__rt_sync_msg_t m = { 0 };
    int r = -1;
    if (child_setup(pid, pidfd, sync_fd, &c->cg, err) == 0) {
        r = sync_send(sync_fd, EK__RT_SYNC_START) < 0 ? -1 : sync_read(sync_fd, &m, -1);
        if (r != 0) {
            ek_error_make(err, r > 0 ? m.errnum : ECHILD, "%s",
                          r > 0 ? m.msg : "exec process died before exec");
        }
    }
    if (r != 0) {
        kill_and_reap(pid, pidfd);
        close(pidfd);
        return exec_error(err, r > 0 ? m.exit_code : 126);
    }
    xproc_t *x = ek_new(xproc_t);
    x->pid = pid;
    x->pidfd = pidfd;
    x->conn = conn;
    x->next = S.xprocs;
    S.xprocs = x;
    return json_pack("{s:b,s:i}", "ok", 1, "pid", (int)ek__rt_pidfd_pid(pidfd));
}

json_t *ek__shim_exec(conn_t *conn, const json_t *req, int *fds, size_t nfds, ek_error_t **err)
{
    ctr_t *c = find(ek_json_str(req, "container", NULL));
    if (!c || c->st.state != EK_RT_RUNNING) {
        ek_error_make(err, c ? EINVAL : ENOENT, "container `%s` is not running",
                      ek_json_str(req, "container", NULL) ? ek_json_str(req, "container", NULL)
                                                          : "");
        return NULL;
    }
    ek_autofree const char **args = ek__rt_strv(json_object_get(req, "args"));
    ek_autofree const char **env = ek__rt_strv(json_object_get(req, "env"));
    if (!args || !args[0]) {
        ek_error_make(err, EINVAL, "exec needs a command");
        return NULL;
    }
    ek_autofree char *spec_path = ek_xasprintf("%s/spec.json", c->dir);
    ek__rt_cspec_t cs;
    int sp[2];
    if (ek__rt_cspec_load(spec_path, &cs, err) < 0) {
        return NULL;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        ek__rt_cspec_free(&cs);
        ek_error_make(err, errno, "socketpair");
        return NULL;
    }
    ek__rt_child_t ch = {
        .spec = &cs.s,
        .ctr_dir = c->dir,
        .cgroup_version = S.pod_cg.version,
        .sync_fd = sp[1],
        .stdio = { -1, -1, -1 },
        .exec = true,
        .ctr_pidfd = c->pidfd,
        .args = args,
        .extra_env = env,
        .cwd = ek_json_str(req, "cwd", NULL),
    };
    for (size_t i = 0; i < nfds && i < 3; i++) {
        ch.stdio[i] = fds[i];
    }
    json_t *reply = exec_run(conn, c, &ch, sp[0], err);
    close(sp[0]);
    ek__rt_cspec_free(&cs);
    return reply;
}

json_t *ek__shim_exec_signal(conn_t *conn, const json_t *req, ek_error_t **err)
{
    for (xproc_t *x = S.xprocs; x; x = x->next) {
        if (x->conn == conn) {
            send_signal(x->pidfd, (int)ek_json_int(req, SIGKILL, "signal", NULL));
            return NULL; /* the exit reply follows */
        }
    }
    ek_error_make(err, ESRCH, "no exec process on this connection");
    return NULL;
}
