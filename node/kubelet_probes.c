/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Probes and lifecycle hooks. Every running container with probes has one prober state per
 * probe (liveness, readiness, startup), reset when a new instance of the container starts;
 * the pod's sync starts the probes that are due, each a job on a worker thread that runs the
 * handler (exec in the container through its shim, httpGet, tcpSocket; grpc is refused) and
 * reports back on the loop, where the outcome goes through the thresholds
 * (ek__kl_probe_record, the kubelet's prober worker). A readiness verdict changes the Ready
 * condition (and so the Endpoints); a failed liveness or startup verdict stops the container
 * (its preStop hook first) so that the pod worker restarts it per restartPolicy.
 *
 * Hooks run through the same handler code: postStart inside the start job right after the
 * process runs (a failure kills it), preStop before the stop signal when a pod is deleted or a
 * container fails its liveness probe, within the grace period. Probe and hook jobs do not mark
 * the pod busy (a probe must not wait for a 30 s stop); they count in p->probing instead, and
 * the pod record waits for them before it is freed. Each opens its own handle on the shim.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "node/kubelet-internal.h"

/* ---- the prober state machine (pure) ---- */

const char *ek__kl_probe_name(ek__kl_probe_kind_t kind)
{
    return kind == EK__KL_LIVENESS    ? "Liveness"
           : kind == EK__KL_READINESS ? "Readiness"
                                      : "Startup";
}

void ek__kl_probe_init(ek__kl_probe_t *pr, ek__kl_probe_kind_t kind, const json_t *spec,
                       int64_t started_ms)
{
    memset(pr, 0, sizeof(*pr));
    pr->kind = kind;
    long long d = ek_json_int(spec, 0, "initialDelaySeconds", NULL);
    long long per = ek_json_int(spec, 10, "periodSeconds", NULL);
    long long to = ek_json_int(spec, 1, "timeoutSeconds", NULL);
    long long ft = ek_json_int(spec, 3, "failureThreshold", NULL);
    long long st = ek_json_int(spec, 1, "successThreshold", NULL);
    pr->delay_ms = d > 0 ? d * 1000 : 0;
    pr->period_ms = (per > 0 ? per : 1) * 1000;
    pr->timeout_ms = (to > 0 ? to : 1) * 1000;
    pr->failure_threshold = ft > 0 ? (int)ft : 1;
    /* Liveness and startup probes must use 1 (the API refuses anything else). */
    pr->success_threshold = kind == EK__KL_READINESS && st > 0 ? (int)st : 1;
    pr->result = kind == EK__KL_READINESS ? 0 : kind == EK__KL_LIVENESS ? 1 : -1;
    pr->last = -1;
    pr->next_at = started_ms + pr->delay_ms;
}

bool ek__kl_probe_record(ek__kl_probe_t *pr, bool ok, int64_t now)
{
    int out = ok ? 1 : 0;
    pr->next_at = now + pr->period_ms;
    if (pr->on_hold) {
        return false;
    }
    if (pr->last == out) {
        pr->run++;
    } else {
        pr->last = out;
        pr->run = 1;
    }
    if ((!ok && pr->run < pr->failure_threshold) || (ok && pr->run < pr->success_threshold)) {
        return false;
    }
    bool changed = pr->result != out;
    pr->result = out;
    if (!ok && pr->kind != EK__KL_READINESS) {
        pr->on_hold = true; /* the container is restarted; a new instance gets a new state */
        pr->run = 0;
    }
    return changed;
}

/* ---- per container ---- */

struct kl_cprobes {
    int attempt; /* the instance these states are for */
    bool has[3];
    ek__kl_probe_t pr[3];
    bool killing; /* a probe failure is stopping the instance */
};

static const char *const probe_keys[3] = { "livenessProbe", "readinessProbe", "startupProbe" };

void ek__kl_probes_free(kl_ctr_t *c)
{
    free(c->probes);
    c->probes = NULL;
}

bool ek__kl_ctr_started(const kl_ctr_t *c)
{
    const struct kl_cprobes *cp = c->probes;
    if (!cp || cp->attempt != c->attempt || !cp->has[EK__KL_STARTUP]) {
        return true;
    }
    return cp->pr[EK__KL_STARTUP].result == 1;
}

bool ek__kl_ctr_ready(const kl_ctr_t *c)
{
    const struct kl_cprobes *cp = c->probes;
    if (!ek__kl_ctr_started(c) || (cp && cp->killing && cp->attempt == c->attempt)) {
        return false;
    }
    if (!cp || !cp->has[EK__KL_READINESS]) {
        return true;
    }
    return cp->attempt == c->attempt && cp->pr[EK__KL_READINESS].result == 1;
}

/* ---- handlers (worker thread) ---- */

/* What a handler needs, copied on the loop. */
typedef struct kl_action {
    json_t *h; /* the probe or the hook handler; owned */
    char *uid, *ctr, *host;
    int port; /* resolved for httpGet, tcpSocket and grpc; 0 when the name is unknown */
    int64_t timeout_ms;
    bool ok;
    char *msg; /* why it failed (or the exec output); caller frees */
} kl_action_t;

static void action_clear(kl_action_t *a)
{
    json_decref(a->h);
    free(a->uid);
    free(a->ctr);
    free(a->host);
    free(a->msg);
}

/* A port given by number or by the name of one of the container's ports. */
static int resolve_port(const json_t *ctr_spec, const json_t *port)
{
    if (json_is_integer(port)) {
        return (int)json_integer_value(port);
    }
    const char *name = json_string_value(port);
    if (!name) {
        return 0;
    }
    if (name[0] >= '0' && name[0] <= '9') {
        return atoi(name);
    }
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get(ctr_spec, "ports"), i, p) {
        if (ek_streq(ek_json_str(p, "name", NULL), name)) {
            return (int)ek_json_int(p, 0, "containerPort", NULL);
        }
    }
    return 0;
}

static void action_init(kl_action_t *a, kl_pod_t *p, kl_ctr_t *c, const json_t *handler,
                        int64_t timeout_ms)
{
    memset(a, 0, sizeof(*a));
    json_t *spec = ek__kl_ctr_spec(p, c);
    a->h = json_deep_copy(handler);
    a->uid = ek_xstrdup(p->uid);
    a->ctr = ek__kl_rt_name(c, c->attempt);
    const char *ip = ek__kl_pod_is_host_network(p) ? ek__kl_node_ip(p->kl) : p->ip;
    a->host = ek_xstrdup(ip ? ip : "127.0.0.1");
    json_t *port = NULL;
    const char *kinds[] = { "httpGet", "tcpSocket", "grpc" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(kinds) && !port; i++) {
        port = ek_json_path(handler, kinds[i], "port", NULL);
    }
    a->port = port ? resolve_port(spec, port) : 0;
    a->timeout_ms = timeout_ms;
}

static char *join_args(const json_t *cmd)
{
    ek_autobuf b = EK_BUF_INIT;
    size_t i;
    json_t *s;
    json_array_foreach (cmd, i, s) {
        ek_buf_printf(&b, "%s%s", i ? " " : "", json_string_value(s) ?: "");
    }
    return ek_buf_steal(&b, NULL);
}

/*
 * exec: the command runs inside the container (its namespaces, cgroup and identity) through
 * the shim, the same path `kubectl exec` takes; output and exit code as the kubelet reports.
 */
static void run_exec(ek_kubelet_t *kl, kl_action_t *a)
{
    json_t *cmd = ek_json_path(a->h, "exec", "command", NULL);
    size_t n = json_array_size(cmd);
    if (!n) {
        a->msg = ek_xstrdup("exec: no command");
        return;
    }
    const char **args = ek_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        args[i] = json_string_value(json_array_get(cmd, i)) ?: "";
    }
    ek_error_t *err = NULL;
    ek_rt_pod_t *rt = ek_rt_pod_open(kl->rt, a->uid, &err);
    char *out = NULL;
    int code = -1;
    int rc = rt ? ek_rt_exec_sync(rt, a->ctr, args, (int)a->timeout_ms, &out, &code, &err) : -1;
    if (rt) {
        ek_rt_pod_close(rt);
    }
    free(args);
    ek_autofree char *line = join_args(cmd);
    if (rc < 0) {
        a->msg = err && err->errnum == ETIMEDOUT
                     ? ek_xasprintf("command \"%s\" timed out", line)
                     : ek_xasprintf("command \"%s\" failed: %s", line, ek_error_msg(err));
    } else if (code != 0) {
        a->msg = out && *out ? ek_xstrdup(out)
                             : ek_xasprintf("command \"%s\" exited with %d", line, code);
    } else {
        a->ok = true;
    }
    free(out);
    ek_error_free(err);
}

static void run_http(kl_action_t *a)
{
    const json_t *g = json_object_get(a->h, "httpGet");
    const char *scheme = ek_json_str(g, "scheme", NULL) ?: "HTTP";
    const char *host = ek_json_str(g, "host", NULL) ?: a->host;
    const char *path = ek_json_str(g, "path", NULL) ?: "/";
    bool tls = strcasecmp(scheme, "HTTPS") == 0;
    ek_autofree char *url = ek_xasprintf("%s://%s:%d%s%s", tls ? "https" : "http", host, a->port,
                                         path[0] == '/' ? "" : "/", path);
    json_t *hs = json_object_get(g, "httpHeaders");
    size_t nh = json_array_size(hs);
    ek_http_header_t *h = ek_xcalloc(nh + 3, sizeof(*h));
    size_t k = 0;
    bool ua = false, accept = false;
    size_t i;
    json_t *e;
    json_array_foreach (hs, i, e) {
        h[k].name = (char *)(ek_json_str(e, "name", NULL) ?: "");
        h[k].value = (char *)(ek_json_str(e, "value", NULL) ?: "");
        ua = ua || strcasecmp(h[k].name, "User-Agent") == 0;
        accept = accept || strcasecmp(h[k].name, "Accept") == 0;
        k++;
    }
    if (!ua) {
        h[k++] = (ek_http_header_t){ "User-Agent", "kube-probe/1.32" };
    }
    if (!accept) {
        h[k++] = (ek_http_header_t){ "Accept", "*/*" };
    }
    ek_error_t *err = NULL;
    ek_tls_config_t *cfg = tls ? ek_tls_client_config_new(NULL, NULL, NULL, true, &err) : NULL;
    int status = -1;
    if (!tls || cfg) {
        ek_http_call_options_t o = { .method = "GET",
                                     .url = url,
                                     .headers = h,
                                     .n_headers = k,
                                     .timeout_ms = (uint64_t)a->timeout_ms,
                                     .tls = cfg };
        status = ek_http_fetch(&o, NULL, &err);
    }
    if (cfg) {
        ek_tls_config_unref(cfg);
    }
    free(h);
    if (status < 0) {
        a->msg = ek_xasprintf("Get \"%s\": %s", url, err ? ek_error_msg(err) : "failed");
    } else if (status >= 200 && status < 400) {
        a->ok = true;
    } else {
        a->msg = ek_xasprintf("HTTP probe failed with statuscode: %d", status);
    }
    ek_error_free(err);
}

/* A TCP connection that opens within the timeout. Returns 0 or an errno. */
static int dial(const char *host, int port, int64_t timeout_ms)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    int e = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd pf = { .fd = fd, .events = POLLOUT };
            int r = poll(&pf, 1, (int)timeout_ms);
            socklen_t len = sizeof(e);
            e = r == 0  ? ETIMEDOUT
                : r < 0 ? errno
                        : (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 ? errno : e);
        }
    }
    close(fd);
    return e;
}

static void run_tcp(kl_action_t *a)
{
    const char *host = ek_json_str(a->h, "tcpSocket", "host", NULL) ?: a->host;
    int e = dial(host, a->port, a->timeout_ms);
    if (e == 0) {
        a->ok = true;
    } else {
        char why[128];
        snprintf(why, sizeof(why), "%s", e == ETIMEDOUT ? "i/o timeout" : strerror(e));
        why[0] = (char)(why[0] >= 'A' && why[0] <= 'Z' ? why[0] + 32 : why[0]); /* as Go's */
        a->msg = ek_xasprintf("dial tcp %s:%d: %s%s", host, a->port,
                              e == ETIMEDOUT ? "" : "connect: ", why);
    }
}

static void run_sleep(kl_action_t *a)
{
    long long s = ek_json_int(a->h, 0, "sleep", "seconds", NULL);
    int64_t ms = EK_MIN(s * 1000, a->timeout_ms);
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    a->ok = true;
}

/* Runs the handler (blocking; worker thread): sets a->ok, or a->msg. */
static void action_run(ek_kubelet_t *kl, kl_action_t *a)
{
    if (json_object_get(a->h, "exec")) {
        run_exec(kl, a);
    } else if (json_object_get(a->h, "httpGet") || json_object_get(a->h, "tcpSocket") ||
               json_object_get(a->h, "grpc")) {
        if (a->port <= 0 || a->port > 65535) {
            a->msg = ek_xstrdup("unknown port: no such named port in the container");
        } else if (json_object_get(a->h, "httpGet")) {
            run_http(a);
        } else if (json_object_get(a->h, "tcpSocket")) {
            run_tcp(a);
        } else {
            a->ok = ek__kl_grpc_check(a->host, a->port, ek_json_str(a->h, "grpc", "service", NULL),
                                      a->timeout_ms, &a->msg);
        }
    } else if (json_object_get(a->h, "sleep")) {
        run_sleep(a);
    } else {
        a->msg = ek_xstrdup("missing handler: exec, httpGet, tcpSocket, grpc or sleep");
    }
}

/* The kind of handler, for hook event messages. */
static const char *handler_kind(const json_t *h)
{
    return json_object_get(h, "exec")      ? "Exec"
           : json_object_get(h, "httpGet") ? "HTTP"
           : json_object_get(h, "sleep")   ? "Sleep"
                                           : "Unknown";
}

/* ---- probe jobs ---- */

struct probe_job {
    kl_job_t j;
    kl_pod_t *p;
    char *ctr;
    int attempt;
    ek__kl_probe_kind_t kind;
    kl_action_t a;
};

static void probe_run(kl_job_t *j)
{
    struct probe_job *pj = ek_container_of(j, struct probe_job, j);
    action_run(j->kl, &pj->a);
}

static int64_t ctr_grace_ms(const kl_pod_t *p, const json_t *probe)
{
    json_t *g = json_object_get(probe, "terminationGracePeriodSeconds");
    long long s = json_is_integer(g)
                      ? json_integer_value(g)
                      : ek_json_int(p->obj, 30, "spec", "terminationGracePeriodSeconds", NULL);
    return s > 0 ? s * 1000 : 0;
}

static void restart_for_probe(kl_pod_t *p, kl_ctr_t *c, ek__kl_probe_kind_t kind);

static void probe_done(kl_job_t *j)
{
    struct probe_job *pj = ek_container_of(j, struct probe_job, j);
    kl_pod_t *p = pj->p;
    p->probing--;
    kl_ctr_t *c = ek__kl_ctr_by_name(p, pj->ctr);
    struct kl_cprobes *cp = c ? c->probes : NULL;
    bool live = !p->kl->stopping && !p->closing && !p->freeing;
    if (live && cp && cp->attempt == pj->attempt && c->attempt == pj->attempt) {
        ek__kl_probe_t *pr = &cp->pr[pj->kind];
        pr->running = false;
        if (!pj->a.ok && !pr->on_hold) {
            ek__kl_event(p, "Warning", "Unhealthy", "%s probe failed: %s",
                         ek__kl_probe_name(pj->kind), pj->a.msg ? pj->a.msg : "");
        }
        bool changed = ek__kl_probe_record(pr, pj->a.ok, ek_wall_ms());
        EK_LOG(EK_DEBUG, "kubelet", "probe pod=%s/%s container=%s probe=%s ok=%d result=%d", p->ns,
               p->name, c->name, ek__kl_probe_name(pj->kind), pj->a.ok, pr->result);
        if (changed && pr->result == 0 && pj->kind != EK__KL_READINESS) {
            restart_for_probe(p, c, pj->kind);
        }
    }
    action_clear(&pj->a);
    free(pj->ctr);
    free(pj);
    ek__kl_pod_sync(p); /* status, the next probe, or the record's free */
}

static void probe_start(kl_pod_t *p, kl_ctr_t *c, ek__kl_probe_kind_t kind, const json_t *spec)
{
    struct probe_job *pj = ek_new(struct probe_job);
    pj->j.run = probe_run;
    pj->j.done = probe_done;
    pj->p = p;
    pj->ctr = ek_xstrdup(c->name);
    pj->attempt = c->attempt;
    pj->kind = kind;
    ek__kl_probe_t *pr = &c->probes->pr[kind];
    action_init(&pj->a, p, c, spec, pr->timeout_ms);
    pr->running = true;
    p->probing++;
    ek__kl_job_queue(p->kl, &pj->j);
}

/* ---- stopping one container: preStop, then its stop signal, SIGKILL at the deadline ---- */

struct stop_job {
    kl_job_t j;
    kl_pod_t *p;
    char *name, *ctr; /* the container, its runtime instance */
    kl_action_t pre;  /* preStop, when h is set */
    int64_t grace_ms;
    char *hook_err;
};

/* preStop then stop (worker). Returns the hook's failure message (caller frees) or NULL. */
static char *stop_ctr(ek_kubelet_t *kl, kl_action_t *pre, const char *uid, const char *ctr,
                      int64_t grace_ms, bool signal_only)
{
    int64_t t0 = (int64_t)ek_now_ms();
    char *msg = NULL;
    if (pre->h) {
        pre->timeout_ms = grace_ms;
        action_run(kl, pre);
        if (!pre->ok) {
            msg = ek_steal(&pre->msg);
        }
    }
    /* The kubelet gives the container at least 2 s after a hook that used up the period. */
    int64_t left = EK_MAX(grace_ms - ((int64_t)ek_now_ms() - t0), 2000);
    ek_error_t *err = NULL;
    ek_rt_pod_t *rt = ek_rt_pod_open(kl->rt, uid, &err);
    int rc = !rt           ? -1
             : signal_only ? ek_rt_container_kill(rt, ctr, SIGTERM, &err)
                           : ek_rt_container_stop(rt, ctr, left, &err);
    if (rc < 0) {
        EK_LOG(EK_DEBUG, "kubelet", "stop container=%s: %s", ctr, ek_error_msg(err));
    }
    if (rt) {
        ek_rt_pod_close(rt);
    }
    ek_error_free(err);
    return msg;
}

static void stop_run(kl_job_t *j)
{
    struct stop_job *s = ek_container_of(j, struct stop_job, j);
    s->hook_err = stop_ctr(j->kl, &s->pre, s->p->uid, s->ctr, s->grace_ms, false);
}

static void hook_failed_event(kl_pod_t *p, const char *hook, const char *ctr, const json_t *h,
                              const char *msg)
{
    ek__kl_event(p, "Warning", hook,
                 "%s lifecycle hook for Container \"%s\" in Pod \"%s_%s(%s)\" "
                 "failed - error: %s",
                 handler_kind(h), ctr, p->name, p->ns, p->uid, msg);
}

static void stop_done(kl_job_t *j)
{
    struct stop_job *s = ek_container_of(j, struct stop_job, j);
    kl_pod_t *p = s->p;
    p->probing--;
    kl_ctr_t *c = ek__kl_ctr_by_name(p, s->name);
    if (s->hook_err && !p->kl->stopping) {
        hook_failed_event(p, "FailedPreStopHook", c ? c->name : "", s->pre.h, s->hook_err);
    }
    if (c && c->probes) {
        c->probes->killing = false;
    }
    free(s->hook_err);
    free(s->name);
    free(s->ctr);
    action_clear(&s->pre);
    free(s);
    ek__kl_pod_sync(p);
}

static void restart_for_probe(kl_pod_t *p, kl_ctr_t *c, ek__kl_probe_kind_t kind)
{
    if (c->probes->killing || !p->rt || p->rt_dead) {
        return;
    }
    json_t *spec = ek__kl_ctr_spec(p, c);
    ek__kl_event(p, "Normal", "Killing", "Container %s failed %s probe, will be restarted", c->name,
                 kind == EK__KL_LIVENESS ? "liveness" : "startup");
    c->probes->killing = true;
    struct stop_job *s = ek_new(struct stop_job);
    s->j.run = stop_run;
    s->j.done = stop_done;
    s->p = p;
    s->name = ek_xstrdup(c->name);
    s->ctr = ek__kl_rt_name(c, c->attempt);
    s->grace_ms = ctr_grace_ms(p, json_object_get(spec, probe_keys[kind]));
    json_t *pre = ek_json_path(spec, "lifecycle", "preStop", NULL);
    if (pre) {
        action_init(&s->pre, p, c, pre, s->grace_ms);
    }
    p->probing++; /* stop_run opens the sandbox by uid; the record waits for the job */
    ek__kl_job_queue(p->kl, &s->j);
}

/* ---- scheduling ---- */

static bool pod_deleting(const kl_pod_t *p)
{
    return p->gone || ek_json_str(p->obj, "metadata", "deletionTimestamp", NULL);
}

/* An instance the API already reports (an agent that restarted and adopted it): it keeps its
 * reported readiness and started state until the probes say otherwise, so a restarted agent
 * does not take ready pods out of their Endpoints. */
static void keep_reported(kl_pod_t *p, kl_ctr_t *c, struct kl_cprobes *cp)
{
    char buf[80];
    ek_autofree char *rn = ek__kl_rt_name(c, c->attempt);
    const char *id = ek__kl_container_id(p->uid, rn, buf);
    size_t i;
    json_t *st;
    json_array_foreach (ek_json_path(p->obj, "status",
                                     c->init ? "initContainerStatuses" : "containerStatuses", NULL),
                        i, st) {
        if (!ek_streq(ek_json_str(st, "name", NULL), c->name) ||
            !ek_streq(ek_json_str(st, "containerID", NULL), id)) {
            continue;
        }
        if (cp->has[EK__KL_STARTUP] && ek_json_bool(st, false, "started", NULL)) {
            cp->pr[EK__KL_STARTUP].result = 1;
        }
        if (cp->has[EK__KL_READINESS] && ek_json_bool(st, false, "ready", NULL)) {
            cp->pr[EK__KL_READINESS].result = 1;
        }
    }
}

/* Fresh states for a new instance of c (or none when it has no probes). */
static void probes_reset(kl_pod_t *p, kl_ctr_t *c, int64_t now)
{
    json_t *spec = ek__kl_ctr_spec(p, c);
    bool any = false;
    for (int k = 0; k < 3; k++) {
        any = any || json_is_object(json_object_get(spec, probe_keys[k]));
    }
    if (!any) {
        ek__kl_probes_free(c);
        return;
    }
    if (!c->probes) {
        c->probes = ek_new(struct kl_cprobes);
    }
    struct kl_cprobes *cp = c->probes;
    bool killing = cp->killing;
    memset(cp, 0, sizeof(*cp));
    cp->killing = killing;
    cp->attempt = c->attempt;
    int64_t started = c->cur.started_ns ? c->cur.started_ns / 1000000 : now;
    for (int k = 0; k < 3; k++) {
        json_t *ps = json_object_get(spec, probe_keys[k]);
        if (json_is_object(ps)) {
            cp->has[k] = true;
            ek__kl_probe_init(&cp->pr[k], (ek__kl_probe_kind_t)k, ps, started);
        }
    }
    keep_reported(p, c, cp);
}

void ek__kl_probes_sync(kl_pod_t *p, int64_t now)
{
    if (p->terminal || pod_deleting(p) || !p->rt || p->rt_dead || p->evicted) {
        return;
    }
    int64_t wake = 0;
    for (size_t i = 0; i < p->nc; i++) {
        kl_ctr_t *c = &p->c[i];
        if (c->attempt < 0 || c->cur.state != EK_RT_RUNNING || (c->init && !c->sidecar)) {
            continue;
        }
        if (!c->probes || c->probes->attempt != c->attempt) {
            probes_reset(p, c, now);
        }
        struct kl_cprobes *cp = c->probes;
        if (!cp || cp->killing) {
            continue;
        }
        json_t *spec = ek__kl_ctr_spec(p, c);
        bool started = ek__kl_ctr_started(c);
        for (int k = 0; k < 3; k++) {
            ek__kl_probe_t *pr = &cp->pr[k];
            /* The startup probe gates the others; it stops once it has succeeded. */
            if (!cp->has[k] || pr->running || pr->on_hold || (k != EK__KL_STARTUP && !started) ||
                (k == EK__KL_STARTUP && started)) {
                continue;
            }
            if (pr->next_at <= now) {
                probe_start(p, c, (ek__kl_probe_kind_t)k, json_object_get(spec, probe_keys[k]));
            } else if (!wake || pr->next_at < wake) {
                wake = pr->next_at;
            }
        }
    }
    if (wake) {
        ek__kl_pod_wake(p, wake);
    }
}

/* ---- preStop on pod deletion ---- */

struct prestop_item {
    kl_action_t pre;
    char *ctr;
    char *err;
};

struct prestop_job {
    kl_job_t j;
    struct prestop_item *it;
    size_t n;
    int64_t grace_ms;
    char *uid;
};

static void prestop_run(kl_job_t *j)
{
    struct prestop_job *s = ek_container_of(j, struct prestop_job, j);
    /* One container after the other: each hook within what is left of the period; then the
     * stop signal to all (SIGKILL comes from the pod worker at the deadline). */
    int64_t t0 = (int64_t)ek_now_ms();
    for (size_t i = 0; i < s->n; i++) {
        struct prestop_item *it = &s->it[i];
        if (it->pre.h) {
            it->pre.timeout_ms = EK_MAX(s->grace_ms - ((int64_t)ek_now_ms() - t0), 0);
            action_run(j->kl, &it->pre);
            if (!it->pre.ok) {
                it->err = ek_steal(&it->pre.msg);
            }
        }
    }
    ek_error_t *err = NULL;
    ek_rt_pod_t *rt = ek_rt_pod_open(j->kl->rt, s->uid, &err);
    for (size_t i = 0; rt && i < s->n; i++) {
        ek_rt_container_kill(rt, s->it[i].ctr, SIGTERM, NULL);
    }
    if (rt) {
        ek_rt_pod_close(rt);
    }
    ek_error_free(err);
}

static void prestop_done(kl_job_t *j)
{
    struct prestop_job *s = ek_container_of(j, struct prestop_job, j);
    kl_pod_t *p = j->pod;
    for (size_t i = 0; i < s->n; i++) {
        struct prestop_item *it = &s->it[i];
        if (it->err) {
            const char *dot = strrchr(it->ctr, '.');
            ek_autofree char *name =
                ek_xstrndup(it->ctr, dot ? (size_t)(dot - it->ctr) : strlen(it->ctr));
            hook_failed_event(p, "FailedPreStopHook", name, it->pre.h, it->err);
        }
        action_clear(&it->pre);
        free(it->ctr);
        free(it->err);
    }
    free(s->it);
    free(s->uid);
    free(s);
    ek__kl_pod_job_end(p);
}

bool ek__kl_prestop_start(kl_pod_t *p, int64_t deadline)
{
    bool any = false;
    for (size_t i = 0; i < p->nc; i++) {
        kl_ctr_t *c = &p->c[i];
        any = any || (c->attempt >= 0 && c->cur.state == EK_RT_RUNNING &&
                      ek_json_path(ek__kl_ctr_spec(p, c), "lifecycle", "preStop", NULL));
    }
    if (!any || !p->rt || p->rt_dead) {
        return false;
    }
    struct prestop_job *s = ek_new(struct prestop_job);
    s->j.pod = p;
    s->j.run = prestop_run;
    s->j.done = prestop_done;
    s->uid = ek_xstrdup(p->uid);
    s->grace_ms = EK_MAX(deadline - ek_wall_ms(), 0);
    s->it = ek_xcalloc(p->nc + 1, sizeof(*s->it));
    for (size_t i = 0; i < p->nc; i++) {
        kl_ctr_t *c = &p->c[i];
        if (c->attempt < 0 || (c->cur.state != EK_RT_RUNNING && c->cur.state != EK_RT_CREATED)) {
            continue;
        }
        struct prestop_item *it = &s->it[s->n++];
        json_t *pre = ek_json_path(ek__kl_ctr_spec(p, c), "lifecycle", "preStop", NULL);
        if (pre && c->cur.state == EK_RT_RUNNING) {
            action_init(&it->pre, p, c, pre, s->grace_ms);
        }
        it->ctr = ek__kl_rt_name(c, c->attempt);
    }
    ek__kl_job_queue(p->kl, &s->j);
    return true;
}

/* ---- postStart (inside the start job) ---- */

int ek__kl_poststart_run(ek_kubelet_t *kl, ek_rt_pod_t *rt, const char *ctr, const char *host,
                         const json_t *ctr_spec, int64_t grace_ms, char **msg)
{
    const json_t *h = ek_json_path(ctr_spec, "lifecycle", "postStart", NULL);
    *msg = NULL;
    if (!h) {
        return 0;
    }
    kl_action_t a = { .h = json_deep_copy(h),
                      .uid = ek_xstrdup(ek_rt_pod_uid(rt)),
                      .ctr = ek_xstrdup(ctr),
                      .host = ek_xstrdup(host ? host : "127.0.0.1"),
                      .timeout_ms = grace_ms > 0 ? grace_ms : 30000 };
    json_t *port = NULL;
    const char *kinds[] = { "httpGet", "tcpSocket" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(kinds) && !port; i++) {
        port = ek_json_path(h, kinds[i], "port", NULL);
    }
    a.port = port ? resolve_port(ctr_spec, port) : 0;
    action_run(kl, &a);
    int rc = 0;
    if (!a.ok) {
        const json_t *cmd = ek_json_path(h, "exec", "command", NULL);
        ek_autofree char *line = cmd ? join_args(cmd) : NULL;
        *msg = cmd ? ek_xasprintf("Exec lifecycle hook ([%s]) for Container \"%s\" failed - "
                                  "error: %s",
                                  line, ek_json_str(ctr_spec, "name", NULL) ?: "", a.msg ?: "")
                   : ek_xasprintf("%s lifecycle hook for Container \"%s\" failed - error: %s",
                                  handler_kind(h), ek_json_str(ctr_spec, "name", NULL) ?: "",
                                  a.msg ?: "");
        ek_rt_container_stop(rt, ctr, grace_ms, NULL);
        rc = -1;
    }
    action_clear(&a);
    return rc;
}
