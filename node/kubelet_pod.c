/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod workers. Each pod bound to this node has one record; every informer event, runtime
 * event, finished job and timer runs the pod's sync, which looks at the record and starts at
 * most one job (kubelet_jobs.c) for the next step: volumes, then the sandbox (shim and
 * network), then init containers one at a time (sidecars must be running before the next),
 * then the containers, each restarted per restartPolicy with the kubelet's crash-loop
 * back-off (10 s doubling to 5 min; forgotten after 10 min without a restart). A deleted pod
 * gets its stop signal, SIGKILL at the end of its grace period, its sandbox removed, a final
 * status and then the API delete. A finished pod (restartPolicy Never/OnFailure) keeps its
 * record and statuses but loses its sandbox.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "node/kubelet-internal.h"

/* ---- records ---- */

static char *base_name(const char *name)
{
    if (strlen(name) <= 56) {
        return ek_xstrdup(name);
    }
    return ek_xasprintf("%.47s-%08x", name, (unsigned)ek_hash_str(name));
}

json_t *ek__kl_ctr_spec(const kl_pod_t *p, const kl_ctr_t *c)
{
    size_t i;
    json_t *s;
    json_array_foreach (
        ek_json_path(p->obj, "spec", c->init ? "initContainers" : "containers", NULL), i, s) {
        if (ek_streq(ek_json_str(s, "name", NULL), c->name)) {
            return s;
        }
    }
    return NULL;
}

kl_ctr_t *ek__kl_ctr_by_name(kl_pod_t *p, const char *name)
{
    for (size_t i = 0; i < p->nc; i++) {
        if (strcmp(p->c[i].name, name) == 0) {
            return &p->c[i];
        }
    }
    return NULL;
}

static void ctrs_init(kl_pod_t *p)
{
    json_t *init = ek_json_path(p->obj, "spec", "initContainers", NULL);
    json_t *reg = ek_json_path(p->obj, "spec", "containers", NULL);
    p->nc = json_array_size(init) + json_array_size(reg);
    p->c = ek_xcalloc(p->nc + 1, sizeof(kl_ctr_t));
    size_t k = 0, i;
    json_t *s;
    json_array_foreach (init, i, s) {
        p->c[k].init = true;
        p->c[k].sidecar = ek_streq(ek_json_str(s, "restartPolicy", NULL), "Always");
        p->c[k++].name = ek_xstrdup(ek_json_str(s, "name", NULL) ?: "");
    }
    json_array_foreach (reg, i, s) {
        p->c[k++].name = ek_xstrdup(ek_json_str(s, "name", NULL) ?: "");
    }
    for (k = 0; k < p->nc; k++) {
        p->c[k].base = base_name(p->c[k].name);
        p->c[k].attempt = -1;
    }
}

static void on_timer(uv_timer_t *t)
{
    kl_pod_t *p = t->data;
    p->wake_at = 0;
    ek__kl_pod_sync(p);
}

kl_pod_t *ek__kl_pod_get(ek_kubelet_t *kl, json_t *obj)
{
    const char *uid = ek_json_str(obj, "metadata", "uid", NULL);
    if (!uid || kl->stopping) {
        return NULL;
    }
    kl_pod_t *p = ek_map_get(&kl->by_uid, uid);
    if (p) {
        json_decref(p->obj);
        p->obj = json_incref(obj);
        return p;
    }
    p = ek_new(kl_pod_t);
    p->kl = kl;
    p->uid = ek_xstrdup(uid);
    p->ns = ek_xstrdup(ek_json_str(obj, "metadata", "namespace", NULL) ?: "default");
    p->name = ek_xstrdup(ek_json_str(obj, "metadata", "name", NULL) ?: "");
    p->obj = json_incref(obj);
    p->ev_fd = -1;
    ctrs_init(p);
    const char *phase = ek_json_str(obj, "status", "phase", NULL);
    /* Finished before this agent saw it: its recorded status is final, nothing runs again. */
    p->terminal = p->frozen = ek_streq(phase, "Succeeded") || ek_streq(phase, "Failed");
    const char *st = ek_json_str(obj, "status", "startTime", NULL);
    char now[21];
    p->start_time = ek_xstrdup(st ? st : ek_time_rfc3339(time(NULL), now));
    const char *ip = ek_json_str(obj, "status", "podIP", NULL);
    p->ip = ip && !ek_json_bool(obj, false, "spec", "hostNetwork", NULL) ? ek_xstrdup(ip) : NULL;
    uv_timer_init(kl->loop, &p->timer);
    p->timer.data = p;
    p->handles = 1;
    ek_map_put(&kl->by_uid, uid, p);
    return p;
}

static void free_ctr(kl_ctr_t *c)
{
    free(c->name);
    free(c->base);
    ek_rt_status_clear(&c->cur);
    ek_rt_status_clear(&c->prev);
    free(c->cur_msg);
    free(c->prev_msg);
    free(c->reason);
    free(c->message);
    if (c->image) {
        ek_image_info_free(c->image);
    }
    free(c->image_ref);
    ek__kl_probes_free(c);
}

static void handle_closed(uv_handle_t *h)
{
    kl_pod_t *p = h->data;
    if (--p->handles > 0) {
        return;
    }
    ek_kubelet_t *kl = p->kl;
    ek_map_del(&kl->by_uid, p->uid);
    for (size_t i = 0; i < p->nc; i++) {
        free_ctr(&p->c[i]);
    }
    free(p->c);
    if (p->rt) {
        ek_rt_pod_close(p->rt);
    }
    json_decref(p->obj);
    json_decref(p->sent);
    json_decref(p->tokens);
    free(p->uid);
    free(p->ns);
    free(p->name);
    free(p->ip);
    free(p->vol_applied);
    free(p->vol_error);
    free(p->start_time);
    free(p->sandbox_error);
    free(p->evicted);
    free(p);
    ek__kl_maybe_finish_stop(kl);
}

void ek__kl_pod_stop_events(kl_pod_t *p)
{
    if (p->ev_fd >= 0) {
        uv_poll_stop(&p->poll);
        uv_close((uv_handle_t *)&p->poll, handle_closed);
        close(p->ev_fd);
        p->ev_fd = -1;
    }
}

/* Frees the record once nothing refers to it any more: no job, status write, token request
 * or pull in flight. The shim is left alone. */
static void maybe_free(kl_pod_t *p)
{
    if (p->busy || p->status_busy || p->calls > 0 || p->pulls > 0 || p->probing > 0 || p->closing) {
        return;
    }
    p->closing = true;
    ek__kl_pod_stop_events(p);
    uv_close((uv_handle_t *)&p->timer, handle_closed);
}

void ek__kl_pod_release(kl_pod_t *p)
{
    p->freeing = true;
    maybe_free(p);
}

void ek__kl_pod_deleted(kl_pod_t *p)
{
    p->gone = true;
    ek__kl_pod_sync(p);
}

void ek__kl_pod_wake(kl_pod_t *p, int64_t at)
{
    if (at <= 0 || p->closing || (p->wake_at && p->wake_at <= at)) {
        return;
    }
    int64_t now = ek_wall_ms();
    p->wake_at = at;
    uv_timer_start(&p->timer, on_timer, (uint64_t)(at > now ? at - now : 0), 0);
}

/* ---- runtime events ---- */

static int state_rank(ek_rt_state_t s)
{
    return s == EK_RT_CREATED ? 0 : s == EK_RT_RUNNING ? 1 : 2;
}

/* "<base>.<attempt>" → container record and attempt. */
static kl_ctr_t *ctr_of_rt_name(kl_pod_t *p, const char *name, int *attempt)
{
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (!dot) {
        return NULL;
    }
    *attempt = atoi(dot + 1);
    for (size_t i = 0; i < p->nc; i++) {
        if (strlen(p->c[i].base) == (size_t)(dot - name) &&
            strncmp(p->c[i].base, name, (size_t)(dot - name)) == 0) {
            return &p->c[i];
        }
    }
    return NULL;
}

static void copy_status(ek_rt_status_t *dst, const ek_rt_status_t *src)
{
    ek_rt_status_clear(dst);
    *dst = *src;
    dst->name = src->name ? ek_xstrdup(src->name) : NULL;
    dst->reason = src->reason ? ek_xstrdup(src->reason) : NULL;
    dst->message = src->message ? ek_xstrdup(src->message) : NULL;
}

void ek__kl_pod_apply_status(kl_pod_t *p, const ek_rt_status_t *st)
{
    int attempt;
    kl_ctr_t *c = ctr_of_rt_name(p, st->name, &attempt);
    if (!c || attempt != c->attempt || state_rank(st->state) < state_rank(c->cur.state)) {
        return;
    }
    bool exited_now = st->state == EK_RT_EXITED && c->cur.state != EK_RT_EXITED;
    copy_status(&c->cur, st);
    if (exited_now) {
        free(c->cur_msg);
        c->cur_msg = ek__kl_termination_message(p, c);
        EK_LOG(EK_DEBUG, "kubelet", "container exited pod=%s/%s container=%s code=%d reason=%s",
               p->ns, p->name, c->name, st->exit_code, st->reason ? st->reason : "");
        ek__kl_logs_poke(p->kl, p->uid);
    }
}

static void on_events(uv_poll_t *h, int status, int events)
{
    kl_pod_t *p = ek_container_of(h, kl_pod_t, poll);
    EK_UNUSED(events);
    ek_rt_status_t st = { 0 };
    ek_error_t *err = NULL;
    if (status < 0 || ek_rt_events_read(p->ev_fd, &st, &err) < 0) {
        /* The shim is gone (or its stream broke): the sandbox must be made again. */
        EK_LOG(EK_WARN, "kubelet", "pod sandbox lost pod=%s/%s err=\"%s\"", p->ns, p->name,
               err ? ek_error_msg(err) : uv_strerror(status));
        ek_error_free(err);
        ek__kl_pod_stop_events(p);
        p->rt_dead = true;
        ek__kl_logs_poke(p->kl, p->uid);
        ek__kl_pod_sync(p);
        return;
    }
    ek__kl_pod_apply_status(p, &st);
    ek_rt_status_clear(&st);
    ek__kl_pod_sync(p);
}

void ek__kl_pod_start_events(kl_pod_t *p, int fd)
{
    if (p->closing || fd < 0) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    ek__kl_pod_stop_events(p);
    p->ev_fd = fd;
    uv_poll_init(p->kl->loop, &p->poll, fd);
    p->poll.data = p;
    p->handles++;
    uv_poll_start(&p->poll, UV_READABLE, on_events);
}

/* ---- sync ---- */

static bool deleting(const kl_pod_t *p)
{
    return p->gone || ek_json_str(p->obj, "metadata", "deletionTimestamp", NULL);
}

static bool is_running(const kl_ctr_t *c)
{
    return c->attempt >= 0 && (c->cur.state == EK_RT_RUNNING || c->cur.state == EK_RT_CREATED);
}

static bool has_exited(const kl_ctr_t *c)
{
    return c->attempt >= 0 && (c->cur.state == EK_RT_EXITED || c->cur.state == EK_RT_UNKNOWN);
}

void ek__kl_set_reason(kl_ctr_t *c, const char *reason, const char *message)
{
    if (reason != c->reason) {
        free(c->reason);
        c->reason = reason ? ek_xstrdup(reason) : NULL;
    }
    if (message != c->message) {
        free(c->message);
        c->message = message ? ek_xstrdup(message) : NULL;
    }
}

static const char *restart_policy(const kl_pod_t *p)
{
    return ek_json_str(p->obj, "spec", "restartPolicy", NULL) ?: "Always";
}

/* Go's time.Duration text for whole seconds: "10s", "1m20s", "5m0s". */
static void go_duration(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms / 1000;
    if (s < 60) {
        snprintf(buf, len, "%llds", (long long)s);
    } else {
        snprintf(buf, len, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
    }
}

/* The crash-loop back-off of a container that exited and is to run again (flowcontrol.Backoff:
 * the first restart is immediate, then 10 s doubling to 5 min, reset once a container has
 * gone 10 min without needing one). True when it may start now. */
static bool backoff_ok(kl_pod_t *p, kl_ctr_t *c, int64_t now)
{
    if (!has_exited(c)) {
        return true;
    }
    int64_t fin = c->cur.finished_ns / 1000000;
    if (c->backoff_ms > 0 && now - c->backoff_updated > 2 * EK__KL_BACKOFF_MAX_MS) {
        c->backoff_ms = 0;
    }
    if (c->backoff_ms > 0 && now - fin < c->backoff_ms) {
        char d[32], msg[512];
        go_duration(c->backoff_ms, d, sizeof(d));
        snprintf(msg, sizeof(msg), "back-off %s restarting failed container=%s pod=%s_%s(%s)", d,
                 c->name, p->name, p->ns, p->uid);
        if (!ek_streq(c->reason, "CrashLoopBackOff")) {
            ek__kl_event(p, "Warning", "BackOff",
                         "Back-off restarting failed container %s in pod %s_%s(%s)", c->name,
                         p->name, p->ns, p->uid);
        }
        ek__kl_set_reason(c, "CrashLoopBackOff", msg);
        ek__kl_pod_wake(p, fin + c->backoff_ms);
        return false;
    }
    c->backoff_ms = c->backoff_ms ? EK_MIN(2 * c->backoff_ms, EK__KL_BACKOFF_MAX_MS)
                                  : EK__KL_BACKOFF_INITIAL_MS;
    c->backoff_updated = now;
    return true;
}

/* Whether c, which has exited, runs again under the pod's restartPolicy. */
static bool restarts(const kl_pod_t *p, const kl_ctr_t *c)
{
    const char *policy = restart_policy(p);
    if (c->sidecar) {
        return true;
    }
    if (c->init) {
        return strcmp(policy, "Never") != 0 && c->cur.exit_code != 0;
    }
    return strcmp(policy, "Always") == 0 ||
           (strcmp(policy, "OnFailure") == 0 && c->cur.exit_code != 0);
}

static void candidate(kl_pod_t *p, kl_ctr_t *c, int64_t now, kl_ctr_t **todo, size_t *n)
{
    if (ek__kl_image_ready(p, c, now) && backoff_ok(p, c, now)) {
        todo[(*n)++] = c;
    }
}

/* Init containers in order: a regular one must have succeeded, a sidecar must be running,
 * before the next one starts. Returns true when initialization is complete. */
static bool decide_init(kl_pod_t *p, int64_t now, kl_ctr_t **todo, size_t *n)
{
    for (size_t i = 0; i < p->nc && p->c[i].init; i++) {
        kl_ctr_t *c = &p->c[i];
        if (is_running(c)) {
            if (c->sidecar) {
                continue;
            }
            return false;
        }
        if (!c->sidecar && has_exited(c) && c->cur.exit_code == 0) {
            continue;
        }
        if (has_exited(c) && !restarts(p, c)) {
            p->terminal = true; /* an init container failed under restartPolicy Never */
            return false;
        }
        candidate(p, c, now, todo, n);
        return false;
    }
    return true;
}

static void decide(kl_pod_t *p, int64_t now, kl_ctr_t **todo, size_t *n)
{
    /* Once initialized, sidecars restart on their own without holding the containers up. */
    if (!p->initialized && !decide_init(p, now, todo, n)) {
        return;
    }
    p->initialized = true;
    bool any_left = false;
    for (size_t i = 0; i < p->nc; i++) {
        kl_ctr_t *c = &p->c[i];
        if (c->init && !(c->sidecar && has_exited(c))) {
            continue;
        }
        if (c->attempt < 0 || (has_exited(c) && restarts(p, c))) {
            any_left = any_left || !c->init;
            candidate(p, c, now, todo, n);
        } else if (is_running(c) && !c->init) {
            any_left = true;
        }
    }
    if (!any_left) {
        p->terminal = true; /* every container has finished for good */
    }
}

static int64_t grace_ms(const kl_pod_t *p)
{
    json_t *g = ek_json_path(p->obj, "metadata", "deletionGracePeriodSeconds", NULL);
    long long s = json_is_integer(g)
                      ? json_integer_value(g)
                      : ek_json_int(p->obj, 30, "spec", "terminationGracePeriodSeconds", NULL);
    if (p->gone && !json_is_integer(g)) {
        s = EK_MIN(s, 2);
    }
    return s > 0 ? s * 1000 : 0;
}

/* Stops what still runs: the stop signal, SIGKILL at the grace period's end. True while
 * something runs. */
static bool kill_running(kl_pod_t *p, int64_t now, int64_t grace)
{
    bool any = false;
    for (size_t i = 0; i < p->nc; i++) {
        if (is_running(&p->c[i])) {
            if (!p->rt || p->rt_dead) {
                /* Its shim is gone, and the container with it. */
                p->c[i].cur.state = EK_RT_UNKNOWN;
                p->c[i].cur.exit_code = 137;
                p->c[i].cur.finished_ns = now * 1000000;
                continue;
            }
            any = true;
        }
    }
    if (!any) {
        return false;
    }
    if (!p->killing) {
        p->killing = true;
        p->kill_deadline = now + grace;
        for (size_t i = 0; i < p->nc; i++) {
            if (is_running(&p->c[i])) {
                ek__kl_event(p, "Normal", "Killing", "Stopping container %s", p->c[i].name);
            }
        }
        p->sigkilled = grace == 0;
        /* preStop hooks first (kubelet_probes.c), which send the stop signal after them. */
        if (grace == 0 || !ek__kl_prestop_start(p, p->kill_deadline)) {
            ek__kl_job_kill(p, grace == 0 ? SIGKILL : SIGTERM);
        }
        ek__kl_pod_wake(p, p->kill_deadline);
        return true;
    }
    if (now >= p->kill_deadline && !p->sigkilled) {
        p->sigkilled = true;
        ek__kl_job_kill(p, SIGKILL);
        return true;
    }
    if (!p->sigkilled) {
        ek__kl_pod_wake(p, p->kill_deadline);
    }
    return true;
}

static void delete_done(int status, json_t *body, const ek_error_t *err, void *data)
{
    kl_pod_t *p = data;
    EK_UNUSED(body);
    p->calls--;
    if (err && status != 404 && status != 409) {
        EK_LOG(EK_WARN, "kubelet", "pod not deleted pod=%s/%s err=\"%s\"", p->ns, p->name,
               ek_error_msg(err));
        p->delete_sent = false;
        ek__kl_pod_wake(p, ek_wall_ms() + 2000);
    }
    ek__kl_pod_sync(p);
    ek__kl_call_end(p->kl);
}

/* Deletion: stop, remove the sandbox, write the final status, then delete the object (grace
 * 0, preconditioned on the uid); once the informer reports it gone, the logs go too. */
static void terminate(kl_pod_t *p, int64_t now)
{
    p->terminal = true;
    if (kill_running(p, now, grace_ms(p))) {
        return;
    }
    if (!p->torn_down) {
        ek__kl_job_teardown(p, p->gone);
        return;
    }
    if (p->gone) {
        if (!p->logs_removed) {
            ek__kl_job_remove_logs(p);
        } else {
            ek__kl_pod_release(p);
        }
        return;
    }
    ek__kl_pod_send_status(p);
    if (p->status_busy || p->delete_sent) {
        return;
    }
    json_t *opts =
        json_pack("{s:i,s:{s:s}}", "gracePeriodSeconds", 0, "preconditions", "uid", p->uid);
    p->delete_sent = true;
    p->calls++;
    ek__kl_call_begin(p->kl);
    ek_api_delete(p->kl->client, ek__kl_res("", "pods"), p->ns, p->name, opts, delete_done, p);
    json_decref(opts);
}

/* A finished pod: sidecars stopped, sandbox removed, statuses kept. */
static void finish(kl_pod_t *p, int64_t now)
{
    long long g = ek_json_int(p->obj, 30, "spec", "terminationGracePeriodSeconds", NULL);
    if (kill_running(p, now, g > 0 ? g * 1000 : 0)) {
        return;
    }
    if (!p->torn_down && (p->rt || !p->frozen)) {
        ek__kl_job_teardown(p, false);
    }
}

static void volume_failed(kl_pod_t *p, const char *msg, int64_t retry_at)
{
    if (!ek_streq(p->vol_error, msg) || retry_at) {
        ek__kl_event(p, "Warning", "FailedMount", "%s", msg);
    }
    free(p->vol_error);
    p->vol_error = ek_xstrdup(msg);
    ek__kl_pod_wake(p, retry_at);
}

/* Volumes first: a missing source keeps the pod in ContainerCreating; changed content is
 * written again (atomically) while the pod runs. True when the pod may go on. */
static bool volumes_ready(kl_pod_t *p, int64_t now)
{
    ek_error_t *err = NULL;
    json_t *plan = ek__kl_volume_plan(p, &err);
    if (!plan) {
        if (err->errnum != EAGAIN) {
            volume_failed(p, ek_error_msg(err), 0);
        }
        ek_error_free(err);
        return p->vol_applied != NULL;
    }
    ek_autofree char *dump = ek_json_dumps(plan);
    char hash[48];
    snprintf(hash, sizeof(hash), "%016llx%08zx", (unsigned long long)ek_hash_str(dump),
             strlen(dump));
    if (ek_streq(p->vol_applied, hash)) {
        json_decref(plan);
        return true;
    }
    if (p->vol_retry_at > now) {
        json_decref(plan);
        ek__kl_pod_wake(p, p->vol_retry_at);
        return p->vol_applied != NULL;
    }
    ek__kl_job_volumes(p, plan, hash);
    return false;
}

/* Network, shim, namespaces: what every container of the pod shares. */
static bool sandbox_ready(kl_pod_t *p, int64_t now)
{
    if (p->rt && !p->rt_dead) {
        return true;
    }
    if (p->rt_dead) {
        ek__kl_event(p, "Normal", "SandboxChanged",
                     "Pod sandbox changed, it will be killed and re-created.");
        kill_running(p, now, 0);
        ek__kl_job_teardown(p, false);
        return false;
    }
    if (!ek__kl_pod_is_host_network(p) && !p->kl->net_ready) {
        return false; /* the node has no pod network yet; ek__kl_sync_all runs once it has */
    }
    if (p->sandbox_retry_at > now) {
        ek__kl_pod_wake(p, p->sandbox_retry_at);
        return false;
    }
    ek__kl_job_sandbox(p);
    return false;
}

static void run(kl_pod_t *p, int64_t now)
{
    if (!ek__kl_admit(p)) { /* refused under node pressure (kubelet_evict.c) */
        ek__kl_pod_send_status(p);
        return;
    }
    if (!volumes_ready(p, now) || p->busy || !sandbox_ready(p, now) || p->busy) {
        return;
    }
    kl_ctr_t **todo = ek_xcalloc(p->nc + 1, sizeof(kl_ctr_t *));
    size_t n = 0;
    decide(p, now, todo, &n);
    if (p->terminal) {
        finish(p, now);
    } else if (n > 0) {
        ek__kl_job_start(p, todo, n);
    }
    free(todo);
}

void ek__kl_pod_sync(kl_pod_t *p)
{
    ek_kubelet_t *kl = p->kl;
    if (p->freeing) {
        maybe_free(p);
        return;
    }
    if (kl->stopping || p->closing) {
        return;
    }
    if (p->busy) {
        p->dirty = true;
        if (kl->adopted) {
            ek__kl_probes_sync(p, ek_wall_ms()); /* probes do not wait for jobs */
        }
        return;
    }
    if (!kl->adopted) {
        return;
    }
    int64_t now = ek_wall_ms();
    if (deleting(p)) {
        terminate(p, now);
    } else if (p->terminal) {
        finish(p, now);
    } else {
        run(p, now);
        ek__kl_probes_sync(p, now);
    }
    if (!p->freeing) {
        ek__kl_pod_send_status(p);
    }
}

void ek__kl_sync_all(ek_kubelet_t *kl)
{
    ek_strlist_t uids = { 0 };
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->by_uid, &it, &k, &v)) {
        ek_strlist_add(&uids, k);
    }
    for (size_t i = 0; i < uids.n; i++) {
        kl_pod_t *p = ek_map_get(&kl->by_uid, uids.v[i]);
        if (p) {
            ek__kl_pod_sync(p);
        }
    }
    ek_strlist_free(&uids);
}
