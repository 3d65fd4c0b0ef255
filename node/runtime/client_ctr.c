/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's container and exec calls. A container spec is written to
 * containers/<name>/spec.json before `create` names it (specs may be larger than a control
 * message, and exec reads it again later). Statuses of a pod whose shim is gone come from the
 * state.json files the shim kept, with a still-running state turned into EK_RT_UNKNOWN.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "node/runtime/runtime-internal.h"

static json_t *named(const char *op, const char *name)
{
    return json_pack("{s:s,s:s}", "op", op, "name", name ? name : "");
}

static int status_call(ek_rt_pod_t *pod, json_t *req, int timeout_ms, ek_rt_status_t *st,
                       ek_error_t **err)
{
    json_t *r = ek__rt_call(pod, req, timeout_ms, err);
    if (!r) {
        return -1;
    }
    if (st) {
        ek__rt_status_from_json(json_object_get(r, "status"), st);
    }
    json_decref(r);
    return 0;
}

static const char *relative_path(const ek_rt_container_spec_t *s)
{
    const char *one[] = { s->log_path, s->rootfs_dir, s->upper_dir, s->work_dir };
    for (size_t i = 0; i < EK_ARRAY_SIZE(one); i++) {
        if (one[i] && one[i][0] != '/') {
            return one[i];
        }
    }
    for (size_t i = 0; s->layers && s->layers[i]; i++) {
        if (s->layers[i][0] != '/') {
            return s->layers[i];
        }
    }
    for (size_t i = 0; i < s->n_mounts; i++) {
        if (s->mounts[i].source && s->mounts[i].source[0] != '/') {
            return s->mounts[i].source;
        }
    }
    return NULL;
}

int ek_rt_container_create(ek_rt_pod_t *pod, const ek_rt_container_spec_t *spec, ek_error_t **err)
{
    if (!ek__rt_name_ok(spec->name, 63)) {
        return ek_error_make(err, EINVAL, "bad container name `%s`", spec->name ? spec->name : "");
    }
    const char *rel = relative_path(spec);
    if (rel) {
        return ek_error_make(err, EINVAL, "container `%s`: path `%s` must be absolute", spec->name,
                             rel);
    }
    ek_autofree char *dir = ek_xasprintf("%s/containers/%s", pod->dir, spec->name);
    ek_autofree char *state = ek_xasprintf("%s/state.json", dir);
    ek_autofree char *path = ek_xasprintf("%s/spec.json", dir);
    if (ek_path_exists(state)) {
        return ek_error_make(err, EEXIST, "container `%s` exists in pod `%s`", spec->name,
                             pod->uid);
    }
    ek_auto(json_t) j = ek__rt_container_spec_to_json(spec);
    if (ek_mkdir_p(dir, 0700, err) < 0 || ek__rt_write_json(path, j, err) < 0 ||
        status_call(pod, named("create", spec->name), EK__RT_QUICK_MS, NULL, err) < 0) {
        return ek_error_wrap(err, "pod `%s`", pod->uid);
    }
    return 0;
}

int ek_rt_container_start(ek_rt_pod_t *pod, const char *name, ek_error_t **err)
{
    return status_call(pod, named("start", name), EK__RT_QUICK_MS, NULL, err);
}

int ek_rt_container_kill(ek_rt_pod_t *pod, const char *name, int sig, ek_error_t **err)
{
    json_t *req = named("kill", name);
    json_object_set_new(req, "signal", json_integer(sig));
    return status_call(pod, req, EK__RT_QUICK_MS, NULL, err);
}

int ek_rt_container_stop(ek_rt_pod_t *pod, const char *name, int64_t grace_ms, ek_error_t **err)
{
    json_t *req = named("stop", name);
    json_object_set_new(req, "graceMs", json_integer(grace_ms));
    return status_call(pod, req, (int)EK_MIN(grace_ms + EK__RT_QUICK_MS, INT32_MAX), NULL, err);
}

int ek_rt_container_wait(ek_rt_pod_t *pod, const char *name, int timeout_ms, ek_rt_status_t *st,
                         ek_error_t **err)
{
    return status_call(pod, named("wait", name), timeout_ms, st, err);
}

/* The record a dead shim left for name; EK_RT_UNKNOWN unless it had exited. */
static int status_from_disk(ek_rt_pod_t *pod, const char *name, ek_rt_status_t *st,
                            ek_error_t **err)
{
    ek_autofree char *path = ek_xasprintf("%s/containers/%s/state.json", pod->dir, name);
    size_t len;
    ek_autofree char *data = ek_file_read(path, 1 << 20, &len, err);
    ek_auto(json_t) j = data ? ek_json_parse(data, len, err) : NULL;
    if (!j) {
        return -1;
    }
    ek__rt_status_from_json(j, st);
    if (st->state != EK_RT_EXITED) {
        st->state = EK_RT_UNKNOWN;
        st->pid = 0;
    }
    return 0;
}

static bool shim_gone(const ek_error_t *e)
{
    return e && (e->errnum == ECONNREFUSED || e->errnum == ENOENT) &&
           strstr(e->msg, "connect to shim");
}

int ek_rt_container_status(ek_rt_pod_t *pod, const char *name, ek_rt_status_t *st, ek_error_t **err)
{
    ek_error_t *e = NULL;
    if (status_call(pod, named("status", name), EK__RT_QUICK_MS, st, &e) == 0) {
        return 0;
    }
    if (shim_gone(e) && ek__rt_name_ok(name, 63)) {
        ek_error_free(e);
        return status_from_disk(pod, name, st, err);
    }
    if (err && !*err) {
        *err = e;
    } else {
        ek_error_free(e);
    }
    return -1;
}

int ek_rt_container_list(ek_rt_pod_t *pod, ek_rt_status_t **sts, size_t *n, ek_error_t **err)
{
    *sts = NULL;
    *n = 0;
    json_t *r = ek__rt_call(pod, json_pack("{s:s}", "op", "list"), EK__RT_QUICK_MS, err);
    if (!r) {
        return -1;
    }
    json_t *a = json_object_get(r, "containers");
    *sts = ek_xcalloc(json_array_size(a) + 1, sizeof(ek_rt_status_t));
    for (size_t i = 0; i < json_array_size(a); i++) {
        ek__rt_status_from_json(json_array_get(a, i), &(*sts)[(*n)++]);
    }
    json_decref(r);
    return 0;
}

int ek_rt_container_remove(ek_rt_pod_t *pod, const char *name, ek_error_t **err)
{
    return status_call(pod, named("remove", name), EK__RT_QUICK_MS, NULL, err);
}

int ek_rt_pod_events(ek_rt_pod_t *pod, ek_error_t **err)
{
    ek_auto(json_t) req = json_pack("{s:s}", "op", "events");
    int fd = ek__rt_connect(pod->sock, err);
    if (fd < 0) {
        return -1;
    }
    json_t *ack = ek__rt_send_json(fd, req, NULL, 0, err) < 0
                      ? NULL
                      : ek__rt_recv_reply(fd, EK__RT_QUICK_MS, err);
    if (!ack) {
        close(fd);
        return -1;
    }
    json_decref(ack);
    return fd;
}

int ek_rt_events_read(int fd, ek_rt_status_t *st, ek_error_t **err)
{
    json_t *ev = ek__rt_recv_reply(fd, -1, err);
    json_t *s = ev ? json_object_get(ev, "event") : NULL;
    if (!s) {
        json_decref(ev);
        return ev ? ek_error_make(err, EPROTO, "not an event") : -1;
    }
    ek__rt_status_from_json(s, st);
    json_decref(ev);
    return 0;
}

/* ---- exec ---- */

int ek_rt_exec_start(ek_rt_pod_t *pod, const char *container, const ek_rt_exec_spec_t *spec,
                     ek_rt_exec_t **out, ek_error_t **err)
{
    *out = NULL;
    ek_auto(json_t) req =
        json_pack("{s:s,s:s,s:o}", "op", "exec", "container", container ? container : "", "args",
                  ek__rt_strv_json(spec->args));
    if (spec->env) {
        json_object_set_new(req, "env", ek__rt_strv_json(spec->env));
    }
    if (spec->cwd) {
        json_object_set_new(req, "cwd", json_string(spec->cwd));
    }
    int fds[3] = { spec->stdin_fd, spec->stdout_fd, spec->stderr_fd };
    int opened[3] = { -1, -1, -1 };
    for (int i = 0; i < 3; i++) {
        if (fds[i] < 0) {
            fds[i] = opened[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
        }
    }
    int fd = ek__rt_connect(pod->sock, err);
    int rc = fd < 0 ? -1 : ek__rt_send_json(fd, req, fds, 3, err);
    for (int i = 0; i < 3; i++) {
        if (opened[i] >= 0) {
            close(opened[i]);
        }
    }
    json_t *reply = rc < 0 ? NULL : ek__rt_recv_reply(fd, EK__RT_QUICK_MS, err);
    if (!reply) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    ek_rt_exec_t *ex = ek_new(ek_rt_exec_t);
    ex->fd = fd;
    ex->pid = (pid_t)ek_json_int(reply, 0, "pid", NULL);
    json_decref(reply);
    *out = ex;
    return 0;
}

int ek_rt_exec_fd(const ek_rt_exec_t *ex)
{
    return ex->fd;
}

pid_t ek_rt_exec_pid(const ek_rt_exec_t *ex)
{
    return ex->pid;
}

int ek_rt_exec_wait(ek_rt_exec_t *ex, int timeout_ms, int *exit_code, ek_error_t **err)
{
    if (!ex->done) {
        json_t *r = ek__rt_recv_reply(ex->fd, timeout_ms, err);
        if (!r) {
            return -1;
        }
        ex->exit_code = (int)ek_json_int(r, -1, "exitCode", NULL);
        ex->done = true;
        json_decref(r);
    }
    if (exit_code) {
        *exit_code = ex->exit_code;
    }
    return 0;
}

int ek_rt_exec_kill(ek_rt_exec_t *ex, int sig, ek_error_t **err)
{
    if (ex->done) {
        return 0;
    }
    ek_auto(json_t) req = json_pack("{s:s,s:i}", "op", "signal", "signal", sig);
    return ek__rt_send_json(ex->fd, req, NULL, 0, err);
}

void ek_rt_exec_free(ek_rt_exec_t *ex)
{
    if (ex) {
        close(ex->fd);
        free(ex);
    }
}

/* Reads what is there (non-blocking) into b, keeping at most max bytes. 0 at EOF. */
static int read_some(int fd, ek_buf_t *b, size_t max)
{
    char tmp[4096];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n == 0 ? 0 : 1;
        }
        if (b->len < max) {
            ek_buf_append(b, tmp, EK_MIN((size_t)n, max - b->len));
        }
    }
}

int ek_rt_exec_sync(ek_rt_pod_t *pod, const char *container, const char *const *args,
                    int timeout_ms, char **output, int *exit_code, ek_error_t **err)
{
    *output = NULL;
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
        return ek_error_make(err, errno, "pipe");
    }
    ek_rt_exec_spec_t spec = { .args = args, .stdin_fd = -1, .stdout_fd = p[1], .stderr_fd = p[1] };
    ek_rt_exec_t *ex = NULL;
    int rc = ek_rt_exec_start(pod, container, &spec, &ex, err);
    close(p[1]);
    ek_autobuf out = EK_BUF_INIT;
    uint64_t deadline = ek_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : INT32_MAX);
    bool open_pipe = true;
    while (rc == 0 && !ex->done) {
        struct pollfd pf[2] = { { .fd = ex->fd, .events = POLLIN },
                                { .fd = p[0], .events = POLLIN } };
        int64_t left = (int64_t)(deadline - ek_now_ms());
        if (left <= 0) {
            ek_rt_exec_kill(ex, SIGKILL, NULL);
            ek_rt_exec_wait(ex, 5000, NULL, NULL);
            rc = ek_error_make(err, ETIMEDOUT, "exec timed out after %d ms", timeout_ms);
            break;
        }
        if (poll(pf, open_pipe ? 2 : 1, (int)left) < 0 && errno != EINTR) {
            rc = ek_error_make(err, errno, "poll");
        } else if (open_pipe && (pf[1].revents & (POLLIN | POLLHUP))) {
            open_pipe = read_some(p[0], &out, 1 << 20) != 0;
        } else if (pf[0].revents) {
            rc = ek_rt_exec_wait(ex, 0, exit_code, err);
        }
    }
    if (open_pipe) {
        read_some(p[0], &out, 1 << 20); /* what is left once the process has exited */
    }
    close(p[0]);
    ek_rt_exec_free(ex);
    if (rc == 0) {
        *output = ek_buf_steal(&out, NULL);
    }
    return rc;
}
