/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod status as the kubelet reports it: the phase (getPhase), the conditions
 * PodReadyToStartContainers, Initialized, Ready and ContainersReady (PodScheduled and other
 * conditions the kubelet does not own are kept), container statuses with state, lastState,
 * restartCount, image, imageID, containerID and started, addresses, startTime and qosClass.
 * The builder is pure (a view of the containers in, a PodStatus out); the sender compares it
 * with what was last written and patches the status subresource only when it changed, one
 * write per pod at a time.
 */
#include <stdio.h>
#include <time.h>

#include <mbedtls/sha256.h>

#include "node/kubelet-internal.h"

/* ---- phase ---- */

struct counts {
    int pending_init, pending_sidecar, failed_init;
    int unknown, running, waiting, stopped, succeeded;
};

static void count_init(const ek__kl_cview_t *c, struct counts *k)
{
    if (c->sidecar) {
        switch (c->state) {
        case EK__KL_RUNNING:
            k->running++;
            break;
        case EK__KL_TERMINATED:
            break;
        case EK__KL_WAITING:
            if (!c->has_last) {
                k->pending_sidecar++;
                k->waiting++;
            }
            break;
        default:
            k->pending_sidecar++;
            k->unknown++;
        }
        return;
    }
    switch (c->state) {
    case EK__KL_RUNNING:
        k->pending_init++;
        break;
    case EK__KL_TERMINATED:
        k->failed_init += c->term.exit_code != 0;
        break;
    case EK__KL_WAITING:
        if (c->has_last) {
            k->failed_init += c->last.exit_code != 0;
        } else {
            k->pending_init++;
        }
        break;
    default:
        k->pending_init++;
    }
}

static void count_regular(const ek__kl_cview_t *c, struct counts *k)
{
    switch (c->state) {
    case EK__KL_RUNNING:
        k->running++;
        break;
    case EK__KL_TERMINATED:
        k->stopped++;
        k->succeeded += c->term.exit_code == 0;
        break;
    case EK__KL_WAITING:
        if (c->has_last) {
            k->stopped++;
        } else {
            k->waiting++;
        }
        break;
    default:
        k->unknown++;
    }
}

const char *ek__kl_phase(const ek__kl_pview_t *v)
{
    struct counts k = { 0 };
    for (size_t i = 0; i < v->n; i++) {
        if (v->c[i].init) {
            count_init(&v->c[i], &k);
        } else {
            count_regular(&v->c[i], &k);
        }
    }
    const char *policy = ek_json_str(v->pod, "spec", "restartPolicy", NULL) ?: "Always";
    if (k.failed_init > 0 && strcmp(policy, "Never") == 0) {
        return "Failed";
    }
    if (k.pending_init > 0 || (k.pending_sidecar > 0 && !v->terminal)) {
        return "Pending";
    }
    if (k.waiting > 0) {
        return "Pending";
    }
    if (k.running > 0 && k.unknown == 0) {
        return "Running";
    }
    if (k.running == 0 && k.stopped > 0 && k.unknown == 0) {
        if (v->terminal) {
            return k.stopped == k.succeeded ? "Succeeded" : "Failed";
        }
        if (strcmp(policy, "Always") == 0) {
            return "Running";
        }
        if (k.stopped == k.succeeded) {
            return "Succeeded";
        }
        return strcmp(policy, "Never") == 0 ? "Failed" : "Running";
    }
    return "Pending";
}

/* ---- conditions ---- */

static void name_list(ek_buf_t *b, const char *what, const ek_strlist_t *l)
{
    if (!l->n) {
        return;
    }
    ek_buf_printf(b, "%scontainers with %s status: [", b->len ? ", " : "", what);
    for (size_t i = 0; i < l->n; i++) {
        ek_buf_printf(b, "%s%s", i ? " " : "", l->v[i]);
    }
    ek_buf_putc(b, ']');
}

static json_t *condition(const char *type, bool ok, const char *reason, const char *message)
{
    json_t *c = json_pack("{s:s,s:s}", "type", type, "status", ok ? "True" : "False");
    if (reason) {
        ek_json_set_str(c, "reason", reason);
    }
    if (message && *message) {
        ek_json_set_str(c, "message", message);
    }
    return c;
}

static json_t *initialized(const ek__kl_pview_t *v, const char *phase)
{
    ek_strlist_t incomplete = { 0 };
    bool regular_started = false;
    for (size_t i = 0; i < v->n; i++) {
        const ek__kl_cview_t *c = &v->c[i];
        if (!c->init) {
            regular_started = regular_started || c->state == EK__KL_RUNNING ||
                              c->state == EK__KL_TERMINATED || c->has_last;
        } else if (c->sidecar ? c->state != EK__KL_RUNNING
                              : c->state != EK__KL_TERMINATED || c->term.exit_code != 0) {
            ek_strlist_add(&incomplete, c->name);
        }
    }
    json_t *out;
    if (strcmp(phase, "Succeeded") == 0) {
        out = condition("Initialized", true, "PodCompleted", NULL);
    } else if (regular_started || !incomplete.n) {
        out = condition("Initialized", true, NULL, NULL);
    } else {
        ek_autobuf msg = EK_BUF_INIT;
        name_list(&msg, "incomplete", &incomplete);
        out = condition("Initialized", false, "ContainersNotInitialized", msg.data);
    }
    ek_strlist_free(&incomplete);
    return out;
}

static json_t *containers_ready(const ek__kl_pview_t *v, const char *phase, const char *type)
{
    if (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0) {
        return condition(type, false, phase[0] == 'S' ? "PodCompleted" : "PodFailed", NULL);
    }
    ek_strlist_t unready = { 0 };
    for (size_t i = 0; i < v->n; i++) {
        if ((!v->c[i].init || v->c[i].sidecar) && !v->c[i].ready) {
            ek_strlist_add(&unready, v->c[i].name);
        }
    }
    json_t *out;
    if (unready.n) {
        ek_autobuf msg = EK_BUF_INIT;
        name_list(&msg, "unready", &unready);
        out = condition(type, false, "ContainersNotReady", msg.data);
    } else {
        out = condition(type, true, NULL, NULL);
    }
    ek_strlist_free(&unready);
    return out;
}

static const json_t *old_condition(const ek__kl_pview_t *v, const char *type)
{
    const json_t *prev = v->prev ? v->prev : ek_json_path(v->pod, "status", NULL);
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(prev, "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), type)) {
            return c;
        }
    }
    return NULL;
}

/* Kubelet-owned conditions first, then the others the pod already has (PodScheduled, added
 * when missing, as the kubelet does for pods bound without a scheduler). Transition times
 * stay while a condition's status does not change. */
static json_t *conditions(const ek__kl_pview_t *v, const char *phase)
{
    json_t *out = json_array();
    json_array_append_new(out,
                          condition("PodReadyToStartContainers", v->sandbox_ready, NULL, NULL));
    json_array_append_new(out, initialized(v, phase));
    json_array_append_new(out, containers_ready(v, phase, "Ready"));
    json_array_append_new(out, containers_ready(v, phase, "ContainersReady"));
    static const char *const ours[] = { "PodReadyToStartContainers", "Initialized", "Ready",
                                        "ContainersReady" };
    size_t i;
    json_t *c;
    bool scheduled = false;
    json_array_foreach (ek_json_path(v->pod, "status", "conditions", NULL), i, c) {
        const char *t = ek_json_str(c, "type", NULL);
        bool mine = false;
        for (size_t k = 0; k < EK_ARRAY_SIZE(ours); k++) {
            mine = mine || ek_streq(t, ours[k]);
        }
        if (!mine && t) {
            json_array_append(out, c);
            scheduled = scheduled || strcmp(t, "PodScheduled") == 0;
        }
    }
    if (!scheduled) {
        json_array_append_new(out, condition("PodScheduled", true, NULL, NULL));
    }
    json_array_foreach (out, i, c) {
        if (i >= EK_ARRAY_SIZE(ours) && json_object_get(c, "lastTransitionTime")) {
            continue;
        }
        const json_t *old = old_condition(v, ek_json_str(c, "type", NULL));
        const char *was = ek_json_str(old, "lastTransitionTime", NULL);
        bool same =
            old && ek_streq(ek_json_str(old, "status", NULL), ek_json_str(c, "status", NULL));
        json_object_set_new(c, "lastProbeTime", json_null());
        ek_json_set_str(c, "lastTransitionTime", same && was ? was : v->now);
    }
    return out;
}

/* ---- container statuses ---- */

static void set_time(json_t *o, const char *key, int64_t ns)
{
    char ts[21];
    ek_json_set_str(o, key, ek_time_rfc3339((time_t)(ns / 1000000000LL), ts));
}

static json_t *terminated(const ek__kl_term_t *t)
{
    json_t *o = json_pack("{s:i}", "exitCode", t->exit_code);
    if (t->signal) {
        json_object_set_new(o, "signal", json_integer(t->signal));
    }
    if (t->reason && *t->reason) {
        ek_json_set_str(o, "reason", t->reason);
    }
    if (t->message && *t->message) {
        ek_json_set_str(o, "message", t->message);
    }
    set_time(o, "startedAt", t->started_ns);
    set_time(o, "finishedAt", t->finished_ns);
    if (t->container_id) {
        ek_json_set_str(o, "containerID", t->container_id);
    }
    return o;
}

static json_t *container_status(const ek__kl_cview_t *c)
{
    json_t *state = json_object();
    if (c->state == EK__KL_RUNNING) {
        json_t *r = json_object();
        set_time(r, "startedAt", c->started_ns);
        json_object_set_new(state, "running", r);
    } else if (c->state == EK__KL_TERMINATED) {
        json_object_set_new(state, "terminated", terminated(&c->term));
    } else {
        json_t *w = json_object();
        ek_json_set_str(w, "reason", c->reason ? c->reason : "ContainerCreating");
        if (c->message && *c->message) {
            ek_json_set_str(w, "message", c->message);
        }
        json_object_set_new(state, "waiting", w);
    }
    json_t *last = json_object();
    if (c->has_last) {
        json_object_set_new(last, "terminated", terminated(&c->last));
    }
    json_t *o =
        json_pack("{s:s,s:o,s:o,s:b,s:i,s:s,s:s,s:b}", "name", c->name, "state", state, "lastState",
                  last, "ready", c->ready, "restartCount", c->restart_count, "image",
                  c->image ? c->image : "", "imageID", c->image_id ? c->image_id : "", "started",
                  c->state == EK__KL_RUNNING && !c->unstarted);
    if (c->container_id) {
        ek_json_set_str(o, "containerID", c->container_id);
    }
    return o;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(ek_json_str(*(json_t *const *)a, "name", NULL),
                  ek_json_str(*(json_t *const *)b, "name", NULL));
}

/* Regular containers sorted by name (SortedContainerStatuses); init containers in order. */
static json_t *statuses(const ek__kl_pview_t *v, bool init)
{
    size_t n = 0;
    json_t **tmp = ek_xcalloc(v->n + 1, sizeof(json_t *));
    for (size_t i = 0; i < v->n; i++) {
        if (v->c[i].init == init) {
            tmp[n++] = container_status(&v->c[i]);
        }
    }
    if (!init) {
        qsort(tmp, n, sizeof(json_t *), cmp_name);
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, tmp[i]);
    }
    free(tmp);
    return a;
}

json_t *ek__kl_pod_status(const ek__kl_pview_t *v)
{
    const char *phase = ek__kl_phase(v);
    json_t *s = json_pack("{s:s,s:o}", "phase", phase, "conditions", conditions(v, phase));
    if (v->host_ip) {
        ek_json_set_str(s, "hostIP", v->host_ip);
        json_object_set_new(s, "hostIPs", json_pack("[{s:s}]", "ip", v->host_ip));
    }
    if (v->pod_ip) {
        ek_json_set_str(s, "podIP", v->pod_ip);
        json_object_set_new(s, "podIPs", json_pack("[{s:s}]", "ip", v->pod_ip));
    }
    if (v->start_time) {
        ek_json_set_str(s, "startTime", v->start_time);
    }
    bool has_init = false;
    for (size_t i = 0; i < v->n; i++) {
        has_init = has_init || v->c[i].init;
    }
    if (has_init) {
        json_object_set_new(s, "initContainerStatuses", statuses(v, true));
    }
    json_object_set_new(s, "containerStatuses", statuses(v, false));
    const char *qos = ek_json_str(v->pod, "status", "qosClass", NULL);
    ek_json_set_str(s, "qosClass", qos ? qos : ek__kl_qos_class(v->pod));
    return s;
}

const char *ek__kl_container_id(const char *uid, const char *rt_name, char *buf)
{
    unsigned char sum[32];
    ek_autofree char *key = ek_xasprintf("%s/%s", uid, rt_name);
    mbedtls_sha256_ret((const unsigned char *)key, strlen(key), sum, 0);
    int n = snprintf(buf, 80, "edgek://");
    for (size_t i = 0; i < sizeof(sum); i++) {
        n += snprintf(buf + n, (size_t)(80 - n), "%02x", sum[i]);
    }
    return buf;
}

/* ---- the pod's status now, and sending it ---- */

/* "docker.io/library/busybox@sha256:…" as containerd reports imageID. Caller frees. */
static char *image_id(const ek_image_info_t *img)
{
    if (!img) {
        return NULL;
    }
    if (!img->n_names || !img->digest) {
        return ek_xstrdup(img->id);
    }
    const char *name = img->names[0];
    const char *slash = strrchr(name, '/');
    const char *colon = strrchr(slash ? slash : name, ':');
    const char *at = strchr(name, '@');
    size_t len = at ? (size_t)(at - name) : colon ? (size_t)(colon - name) : strlen(name);
    return ek_xasprintf("%.*s@%s", (int)len, name, img->digest);
}

static void fill_term(ek__kl_term_t *t, const ek_rt_status_t *st, const char *msg, char *cid)
{
    t->exit_code = st->exit_code;
    t->signal = 0; /* CRI runtimes report the exit code (128+n) only */
    t->reason = st->reason;
    if (st->state == EK_RT_UNKNOWN) {
        t->exit_code = 137;
        t->reason = "ContainerStatusUnknown";
        msg = "The container could not be located when the pod was terminated";
    }
    t->message = msg && *msg ? msg : st->message;
    t->started_ns = st->started_ns ? st->started_ns : st->created_ns;
    t->finished_ns = st->finished_ns ? st->finished_ns : t->started_ns;
    t->container_id = cid;
}

struct view_mem {
    ek_strlist_t strs; /* strings the view points into */
};

static char *keep(struct view_mem *m, char *s)
{
    if (s) {
        ek_strlist_add(&m->strs, s);
        free(s);
        return m->strs.v[m->strs.n - 1];
    }
    return NULL;
}

static bool deleting(const kl_pod_t *p)
{
    return p->gone || ek_json_str(p->obj, "metadata", "deletionTimestamp", NULL);
}

static void view_ctr(kl_pod_t *p, kl_ctr_t *c, ek__kl_cview_t *v, struct view_mem *m,
                     const char *dflt)
{
    char buf[80];
    v->name = c->name;
    v->init = c->init;
    v->sidecar = c->sidecar;
    v->restart_count = c->attempt > 0 ? c->attempt : 0;
    json_t *spec = ek__kl_ctr_spec(p, c);
    const char *spec_image = ek_json_str(spec, "image", NULL);
    v->image = spec_image;
    if (c->image && c->attempt >= 0) {
        v->image =
            keep(m, ek_image_ref_normalize(spec_image ? spec_image : "", NULL)) ?: spec_image;
        v->image_id = keep(m, image_id(c->image));
    }
    char *cur_id = NULL;
    if (c->attempt >= 0) {
        ek_autofree char *rn = ek__kl_rt_name(c, c->attempt);
        cur_id = keep(m, ek_xstrdup(ek__kl_container_id(p->uid, rn, buf)));
        v->container_id = cur_id;
    }
    if (c->have_prev) {
        ek_autofree char *rn = ek__kl_rt_name(c, c->prev_attempt);
        v->has_last = true;
        fill_term(&v->last, &c->prev, c->prev_msg,
                  keep(m, ek_xstrdup(ek__kl_container_id(p->uid, rn, buf))));
    }
    if (c->attempt < 0 || c->reason || c->cur.state == EK_RT_CREATED) {
        v->state = EK__KL_WAITING;
        v->reason = c->reason ? c->reason : dflt;
        v->message = c->reason ? c->message : NULL;
        if (c->attempt >= 0 && (c->cur.state == EK_RT_EXITED || c->cur.state == EK_RT_UNKNOWN)) {
            v->has_last = true; /* waiting to restart: the instance that ended is the last */
            fill_term(&v->last, &c->cur, c->cur_msg, cur_id);
        }
        return;
    }
    if (c->cur.state == EK_RT_RUNNING) {
        v->state = EK__KL_RUNNING;
        v->started_ns = c->cur.started_ns;
        v->ready = !deleting(p) && !p->terminal && !p->evicted && ek__kl_ctr_ready(c);
        v->unstarted = !ek__kl_ctr_started(c);
        return;
    }
    v->state = EK__KL_TERMINATED;
    fill_term(&v->term, &c->cur, c->cur_msg, cur_id);
}

json_t *ek__kl_pod_status_now(kl_pod_t *p)
{
    ek_kubelet_t *kl = p->kl;
    struct view_mem m = { 0 };
    ek__kl_cview_t *cv = ek_xcalloc(p->nc + 1, sizeof(*cv));
    bool has_init = false;
    for (size_t i = 0; i < p->nc; i++) {
        has_init = has_init || p->c[i].init;
    }
    for (size_t i = 0; i < p->nc; i++) {
        view_ctr(p, &p->c[i], &cv[i], &m, has_init ? "PodInitializing" : "ContainerCreating");
    }
    char now[21];
    ek_time_rfc3339(time(NULL), now);
    bool host = ek__kl_pod_is_host_network(p);
    ek__kl_pview_t v = {
        .pod = p->obj,
        .c = cv,
        .n = p->nc,
        .sandbox_ready = p->rt && !p->rt_dead && !p->torn_down && (host || p->ip),
        .terminal = p->terminal || deleting(p),
        .pod_ip = host ? ek__kl_node_ip(kl) : p->ip,
        .host_ip = ek__kl_node_ip(kl),
        .start_time = p->start_time,
        .now = now,
        .prev = p->sent,
    };
    json_t *st = ek__kl_pod_status(&v);
    if (p->evicted) {
        /* Evicted by the node (kubelet_evict.c): Failed, whatever the containers did. */
        ek_json_set_str(st, "phase", "Failed");
        ek_json_set_str(st, "reason", "Evicted");
        ek_json_set_str(st, "message", p->evicted);
    }
    free(cv);
    ek_strlist_free(&m.strs);
    return st;
}

/* Conditions compared without their times: a status whose only change would be a
 * transition time is not worth a write. */
static bool same_status(const json_t *a, const json_t *b)
{
    if (!a || !b) {
        return false;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static void status_done(int status, json_t *body, const ek_error_t *err, void *data)
{
    kl_pod_t *p = data;
    EK_UNUSED(body);
    ek_kubelet_t *kl = p->kl;
    p->status_busy = false;
    if (err && status != 404 && !kl->stopping) {
        /* Also when the server cannot be reached (status 0): written again once it can. */
        EK_LOG(EK_WARN, "kubelet", "pod status not written pod=%s/%s status=%d err=\"%s\"", p->ns,
               p->name, status, ek_error_msg(err));
        json_decref(p->sent);
        p->sent = NULL; /* written again at the next sync */
        if (status == 0) {
            p->status_retry_at = ek_wall_ms() + 5000; /* not in a tight loop meanwhile */
            ek__kl_pod_wake(p, p->status_retry_at);
        }
    }
    if (p->status_again && !kl->stopping) {
        p->status_again = false;
        ek__kl_pod_send_status(p);
    }
    if (!p->status_busy) {
        ek__kl_pod_sync(p); /* a pending final delete or free waits for this write */
    }
    ek__kl_call_end(kl);
}

void ek__kl_pod_send_status(kl_pod_t *p)
{
    ek_kubelet_t *kl = p->kl;
    if (p->frozen || p->gone || !p->obj || kl->stopping) {
        return;
    }
    if (p->status_busy) {
        p->status_again = true;
        return;
    }
    if (p->status_retry_at > ek_wall_ms()) {
        ek__kl_pod_wake(p, p->status_retry_at);
        return;
    }
    json_t *st = ek__kl_pod_status_now(p);
    json_t *api = ek_json_path(p->obj, "status", NULL);
    if (same_status(st, p->sent) || (!p->sent && same_status(st, api))) {
        json_decref(st);
        return;
    }
    json_t *diff = json_deep_copy(st);
    const char *k;
    json_t *v;
    json_object_foreach (p->sent ? p->sent : api, k, v) {
        if (!json_object_get(st, k) && strcmp(k, "nominatedNodeName") != 0) {
            json_object_set_new(diff, k, json_null());
        }
    }
    /* The uid makes a write for a pod that was deleted and created again under the same name
     * fail (uid is immutable) instead of landing on the new pod. */
    json_t *patch = json_pack("{s:{s:s},s:o}", "metadata", "uid", p->uid, "status", diff);
    json_decref(p->sent);
    p->sent = st;
    p->status_busy = true;
    ek__kl_call_begin(kl);
    ek_api_patch(kl->client, ek__kl_res("", "pods"), p->ns, p->name, EK_SUB_STATUS, "merge", patch,
                 status_done, p);
    json_decref(patch);
}
