/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Pod printer: READY, STATUS and RESTARTS as kubectl users know them. STATUS is the
 * phase, overridden by the first init container still in the way ("Init:1/2",
 * "Init:CrashLoopBackOff"), then by the containers' own waiting or terminated reasons
 * ("ErrImagePull", "OOMKilled", "Completed"), and finally by deletion ("Terminating", or
 * "Unknown" for a pod lost with its node). Restartable init containers (sidecars) count in
 * READY, and their restarts stay in RESTARTS once the pod is initialized.
 */
#include <stdio.h>

#include "api/printers-internal.h"

static const ek_column_t pod_columns[] = {
    EK__COL_NAME,
    EK__COL("Ready", "string", "Ready containers out of all containers (sidecars included)."),
    EK__COL("Status", "string", "The pod's phase, or why its containers are not running."),
    EK__COL("Restarts", "string", "Container restarts, and how long ago the last one was."),
    EK__COL_AGE,
    EK__COL_WIDE("IP", "string", "The pod's first IP address."),
    EK__COL_WIDE("Node", "string", "The node the pod is bound to."),
    EK__COL_WIDE("Nominated Node", "string", "The node a preempting pod expects to run on."),
    EK__COL_WIDE("Readiness Gates", "string", "Readiness gates whose condition is True."),
};

/* A restart count with the latest time one of those containers last terminated. */
struct restarts {
    long long count;
    struct timespec last;
    bool have_last;
};

struct pod_state {
    ek_buf_t reason;
    int ready;
    int total;
    struct restarts all;     /* every container seen so far */
    struct restarts sidecar; /* restartable init containers only */
};

static void set_reason(struct pod_state *ps, const char *prefix, const char *s)
{
    ek_buf_reset(&ps->reason);
    ek_buf_puts(&ps->reason, prefix);
    ek_buf_puts(&ps->reason, s);
}

static void count_restarts(struct restarts *r, const json_t *status)
{
    r->count += ek_json_int(status, 0, "restartCount", NULL);
    struct timespec t;
    if (!ek__time(ek_json_path(status, "lastState", "terminated", "finishedAt", NULL), &t)) {
        return;
    }
    if (!r->have_last || ek__sub_ns(&t, &r->last) > 0) {
        r->last = t;
        r->have_last = true;
    }
}

static const json_t *find_named(const json_t *list, const char *name)
{
    size_t i;
    const json_t *c;
    json_array_foreach (list, i, c) {
        if (name && ek_streq(ek_json_str(c, "name", NULL), name)) {
            return c;
        }
    }
    return NULL;
}

/* An init container that keeps running beside the app containers (a sidecar). */
static bool restartable(const json_t *spec_container)
{
    return ek_streq(ek_json_str(spec_container, "restartPolicy", NULL), "Always");
}

/* "Init:OOMKilled", or the signal or exit code when the runtime gave no reason. */
static void terminated_reason(struct pod_state *ps, const json_t *term, const char *prefix)
{
    const char *reason = ek_json_str(term, "reason", NULL);
    long long sig = ek_json_int(term, 0, "signal", NULL);
    ek_buf_reset(&ps->reason);
    if (reason && *reason) {
        ek_buf_printf(&ps->reason, "%s%s", prefix, reason);
    } else if (sig != 0) {
        ek_buf_printf(&ps->reason, "%sSignal:%lld", prefix, sig);
    } else {
        ek_buf_printf(&ps->reason, "%sExitCode:%lld", prefix,
                      ek_json_int(term, 0, "exitCode", NULL));
    }
}

/*
 * Walks the init containers in order and stops at the first one still in the way. Returns
 * true when that one is initializing (or failed) the pod.
 */
static bool scan_init_containers(struct pod_state *ps, const json_t *pod)
{
    const json_t *specs = ek_json_path(pod, "spec", "initContainers", NULL);
    size_t i;
    const json_t *st;
    json_array_foreach (ek_json_path(pod, "status", "initContainerStatuses", NULL), i, st) {
        bool sidecar = restartable(find_named(specs, ek_json_str(st, "name", NULL)));
        count_restarts(&ps->all, st);
        if (sidecar) {
            count_restarts(&ps->sidecar, st);
        }
        const json_t *term = ek_json_path(st, "state", "terminated", NULL);
        const char *waiting = ek_json_str(st, "state", "waiting", "reason", NULL);
        if (json_is_object(term) && ek_json_int(term, 0, "exitCode", NULL) == 0) {
            continue;
        }
        if (sidecar && ek_json_bool(st, false, "started", NULL)) {
            ps->ready += ek_json_bool(st, false, "ready", NULL) ? 1 : 0;
            continue;
        }
        if (json_is_object(term)) {
            terminated_reason(ps, term, "Init:");
        } else if (waiting && *waiting && strcmp(waiting, "PodInitializing") != 0) {
            set_reason(ps, "Init:", waiting);
        } else {
            ek_buf_reset(&ps->reason);
            ek_buf_printf(&ps->reason, "Init:%zu/%zu", i, ek__printer_len(specs));
        }
        return true;
    }
    return false;
}

/* Any Ready condition that is True (unlike the first-match lookups elsewhere). */
static bool has_ready_condition(const json_t *pod)
{
    size_t i;
    const json_t *c;
    json_array_foreach (ek_json_path(pod, "status", "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), "Ready") &&
            ek_streq(ek_json_str(c, "status", NULL), "True")) {
            return true;
        }
    }
    return false;
}

/* The last container (in spec order) with a waiting or terminated reason decides. */
static void scan_containers(struct pod_state *ps, const json_t *pod)
{
    const json_t *list = ek_json_path(pod, "status", "containerStatuses", NULL);
    bool running = false;
    ps->all = ps->sidecar;
    for (size_t i = ek__printer_len(list); i-- > 0;) {
        const json_t *st = json_array_get(list, i);
        const char *waiting = ek_json_str(st, "state", "waiting", "reason", NULL);
        const json_t *term = ek_json_path(st, "state", "terminated", NULL);
        count_restarts(&ps->all, st);
        if (waiting && *waiting) {
            set_reason(ps, "", waiting);
        } else if (json_is_object(term)) {
            terminated_reason(ps, term, "");
        } else if (ek_json_bool(st, false, "ready", NULL) &&
                   json_is_object(ek_json_path(st, "state", "running", NULL))) {
            running = true;
            ps->ready++;
        }
    }
    /* A pod whose finished containers left others running is not "Completed". */
    if (running && strcmp(ps->reason.data, "Completed") == 0) {
        set_reason(ps, "", has_ready_condition(pod) ? "Running" : "NotReady");
    }
}

static void pod_status(struct pod_state *ps, const json_t *pod)
{
    const char *phase = ek__or(ek_json_str(pod, "status", "phase", NULL), "");
    const char *status_reason = ek_json_str(pod, "status", "reason", NULL);
    set_reason(ps, "", ek__or(status_reason, phase));
    size_t i;
    const json_t *c;
    json_array_foreach (ek_json_path(pod, "status", "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), "PodScheduled") &&
            ek_streq(ek_json_str(c, "reason", NULL), "SchedulingGated")) {
            set_reason(ps, "", "SchedulingGated");
        }
    }
    const json_t *conds = ek_json_path(pod, "status", "conditions", NULL);
    if (!scan_init_containers(ps, pod) || ek__cond_true(conds, "Initialized")) {
        scan_containers(ps, pod);
    }
    if (!ek__deleting(pod)) {
        return;
    }
    if (ek_streq(status_reason, "NodeLost")) {
        set_reason(ps, "", "Unknown");
    } else if (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0) {
        set_reason(ps, "", "Terminating");
    }
}

static void restarts_cell(json_t *cells, const struct restarts *r, time_t now)
{
    if (r->count == 0 || !r->have_last) {
        ek__cell_strf(cells, "%lld", r->count);
        return;
    }
    char buf[16];
    ek__cell_strf(cells, "%lld (%s ago)", r->count,
                  ek__human_duration(ek__since_ns(&r->last, now), buf));
}

/* The status's podIP wins over podIPs, as the v1-to-internal conversion decides. */
static const char *pod_ip(const json_t *pod)
{
    const char *ip = ek_json_str(pod, "status", "podIP", NULL);
    if (ip && *ip) {
        return ip;
    }
    const json_t *ips = ek_json_path(pod, "status", "podIPs", NULL);
    return ek__or(ek_json_str(json_array_get(ips, 0), "ip", NULL), "<none>");
}

static void readiness_gates_cell(json_t *cells, const json_t *pod)
{
    const json_t *gates = ek_json_path(pod, "spec", "readinessGates", NULL);
    if (ek__printer_len(gates) == 0) {
        ek__cell_str(cells, "<none>");
        return;
    }
    const json_t *conds = ek_json_path(pod, "status", "conditions", NULL);
    size_t i, n = 0;
    const json_t *g;
    json_array_foreach (gates, i, g) {
        n += ek__cond_true(conds, ek_json_str(g, "conditionType", NULL)) ? 1 : 0;
    }
    ek__cell_strf(cells, "%zu/%zu", n, ek__printer_len(gates));
}

static void pod_row(const json_t *pod, time_t now, json_t *cells)
{
    struct pod_state ps = { .reason = EK_BUF_INIT };
    const json_t *inits = ek_json_path(pod, "spec", "initContainers", NULL);
    size_t i;
    const json_t *c;
    ps.total = (int)ek__printer_len(ek_json_path(pod, "spec", "containers", NULL));
    json_array_foreach (inits, i, c) {
        ps.total += restartable(c) ? 1 : 0;
    }
    pod_status(&ps, pod);
    ek__cell_name(cells, pod);
    ek__cell_strf(cells, "%d/%d", ps.ready, ps.total);
    ek__cell_str(cells, ps.reason.data);
    restarts_cell(cells, &ps.all, now);
    ek__cell_age(cells, pod, now);
    ek__cell_str(cells, pod_ip(pod));
    ek__cell_str(cells, ek__or(ek_json_str(pod, "spec", "nodeName", NULL), "<none>"));
    ek__cell_str(cells, ek__or(ek_json_str(pod, "status", "nominatedNodeName", NULL), "<none>"));
    readiness_gates_cell(cells, pod);
    ek_buf_free(&ps.reason);
}

const ek_printer_t ek__printer_pod = EK__PRINTER(pod_columns, pod_row);
