/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler as a component: informers for pods (not finished ones), nodes, namespaces and
 * the objects that define default spreading (Services, ReplicaSets, StatefulSets) feed the
 * cache and the queue; an idle handle runs scheduling cycles while the active queue has pods,
 * a few milliseconds at a time so the API server keeps its share of the loop; bindings go out
 * as POST pods/<name>/binding with the pod assumed on its node meanwhile. Failures become a
 * FailedScheduling event and the PodScheduled=False condition with kube-scheduler's message,
 * and the pod waits for a cluster event that could help it (queueing hints: a new or changed
 * node it would pass, a deleted pod that frees room, pods and namespaces changing what
 * inter-pod affinity or spreading sees).
 */
#include <stdio.h>
#include <time.h>

#include "server/scheduler/scheduler-internal.h"

#define SLICE_NS          (4 * 1000 * 1000) /* scheduling per loop turn */
#define MAX_UNSCHED_MS    (5 * 60 * 1000)   /* podMaxInUnschedulablePodsDuration */
#define LEFTOVER_CHECK_MS (30 * 1000)
#define NOTE_LIMIT        1024 /* validation.NoteLengthLimit for event messages */

struct ek_scheduler {
    ek_api_client_t *client;
    uv_loop_t *loop;
    ek_scheduler_options_t opts;
    char *name;
    const ek_resource_t *pod_res;
    ek_informer_t *pods, *nodes, *namespaces, *services, *rss, *sss;
    ek_event_recorder_t *events;
    sched_cache_t cache;
    sched_queue_t queue;
    uv_idle_t idle;
    uv_timer_t flush;
    uv_timer_t sync;
    int open_handles;
    bool synced, stopping;
    size_t binding;       /* bindings in flight */
    uint64_t burst_start; /* first cycle since the queue was last empty (ms) */
    uint64_t burst_bound;
    ek_scheduler_stats_t stats;
    void (*stop_cb)(void *data);
    void *stop_data;
};

typedef struct bind_ctx {
    ek_scheduler_t *s;
    char *key, *ns, *name, *uid, *node;
} bind_ctx_t;

static void kick(ek_scheduler_t *s);
static void burst_end(ek_scheduler_t *s);
static void arm_flush(ek_scheduler_t *s, uint64_t ms);

/* ---- listers for the cache ---- */

static json_t *lister_get(void *data, const char *kind, const char *ns, const char *name)
{
    ek_scheduler_t *s = data;
    ek_informer_t *inf = ek_streq(kind, "ReplicaSet")    ? s->rss
                         : ek_streq(kind, "StatefulSet") ? s->sss
                                                         : NULL;
    return inf && name ? ek_informer_get(inf, ns, name) : NULL;
}

typedef struct svc_each {
    const char *ns;
    void (*fn)(json_t *svc, void *d);
    void *d;
} svc_each_t;

static void svc_filter(json_t *svc, void *data)
{
    svc_each_t *e = data;
    if (ek_streq(ek_json_str(svc, "metadata", "namespace", NULL), e->ns)) {
        e->fn(svc, e->d);
    }
}

static void lister_services(void *data, const char *ns, void (*fn)(json_t *svc, void *d), void *d)
{
    ek_scheduler_t *s = data;
    svc_each_t e = { ns, fn, d };
    if (s->services) {
        ek_informer_each(s->services, svc_filter, &e);
    }
}

static const json_t *lister_ns_labels(void *data, const char *ns)
{
    ek_scheduler_t *s = data;
    return ek_json_path(ek_informer_get(s->namespaces, NULL, ns), "metadata", "labels", NULL);
}

/* ---- API writes: events, conditions, bindings ---- */

static void ignore_result(int status, json_t *body, const ek_error_t *err, void *data)
{
    EK_UNUSED(body);
    EK_UNUSED(data);
    if (err && status != 404 && status != 409) {
        EK_LOG(EK_DEBUG, "scheduler", "write failed status=%d err=\"%s\"", status,
               ek_error_msg(err));
    }
}

/* The object events point at: enough of the pod for involvedObject. Caller owns. */
static json_t *pod_ref(const json_t *pod)
{
    return json_pack("{s:s,s:s,s:{s:s?,s:s?,s:s?,s:s?}}", "apiVersion", "v1", "kind", "Pod",
                     "metadata", "namespace", ek_json_str(pod, "metadata", "namespace", NULL),
                     "name", ek_json_str(pod, "metadata", "name", NULL), "uid",
                     ek_json_str(pod, "metadata", "uid", NULL), "resourceVersion",
                     ek_json_str(pod, "metadata", "resourceVersion", NULL));
}

static void record(ek_scheduler_t *s, const json_t *pod, const char *type, const char *reason,
                   const char *msg)
{
    ek_autofree char *cut = NULL;
    if (strlen(msg) > NOTE_LIMIT) {
        cut = ek_xasprintf("%.*s ...", NOTE_LIMIT - 4, msg);
        msg = cut;
    }
    json_t *ref = pod_ref(pod);
    ek_event_record(s->events, ref, type, reason, "%s", msg);
    json_decref(ref);
}

/* updatePod: PodScheduled=False with reason and message (and the nominated node), written
 * only when something changes; lastTransitionTime moves only when the status does. */
static void set_unscheduled(ek_scheduler_t *s, const json_t *pod, const char *reason,
                            const char *msg, const char *nominate)
{
    const json_t *cur = NULL;
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(pod, "status", "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), "PodScheduled")) {
            cur = c;
        }
    }
    bool was_false = ek_streq(ek_json_str(cur, "status", NULL), "False");
    bool nom_change =
        nominate && !ek_streq(ek_json_str(pod, "status", "nominatedNodeName", NULL), nominate);
    if (was_false && ek_streq(ek_json_str(cur, "reason", NULL), reason) &&
        ek_streq(ek_json_str(cur, "message", NULL), msg) && !nom_change) {
        return;
    }
    char ts[21];
    const char *ltt = was_false ? ek_json_str(cur, "lastTransitionTime", NULL) : NULL;
    json_t *cond = json_pack("{s:s,s:s,s:s,s:s,s:n,s:s}", "type", "PodScheduled", "status", "False",
                             "reason", reason, "message", msg, "lastProbeTime",
                             "lastTransitionTime", ltt ? ltt : ek_time_rfc3339(time(NULL), ts));
    json_t *patch = json_pack("{s:{s:[o]}}", "status", "conditions", cond);
    if (nom_change) {
        ek_json_set_str(json_object_get(patch, "status"), "nominatedNodeName", nominate);
    }
    ek_api_patch(s->client, s->pod_res, ek_json_str(pod, "metadata", "namespace", NULL),
                 ek_json_str(pod, "metadata", "name", NULL), EK_SUB_STATUS, "strategic", patch,
                 ignore_result, NULL);
    json_decref(patch);
}

/* prepareCandidate: mark each victim DisruptionTarget, delete it, say why. */
static void evict_victims(ek_scheduler_t *s, const sched_pod_t *p, const sched_victims_t *v)
{
    char ts[21];
    ek_time_rfc3339(time(NULL), ts);
    for (size_t i = 0; i < v->n; i++) {
        const sched_pod_t *q = v->pods[i];
        ek_autofree char *why =
            ek_xasprintf("%s: preempting to accommodate a higher priority pod", s->name);
        json_t *patch =
            json_pack("{s:{s:[{s:s,s:s,s:s,s:s,s:s}]}}", "status", "conditions", "type",
                      "DisruptionTarget", "status", "True", "reason", "PreemptionByScheduler",
                      "message", why, "lastTransitionTime", ts);
        ek_api_patch(s->client, s->pod_res, q->ns, q->name, EK_SUB_STATUS, "strategic", patch,
                     ignore_result, NULL);
        json_decref(patch);
        ek_api_delete(s->client, s->pod_res, q->ns, q->name, NULL, ignore_result, NULL);
        ek_autofree char *msg =
            ek_xasprintf("Preempted by pod %s on node %s", p->uid, v->node->name);
        record(s, q->obj, "Normal", "Preempted", msg);
        s->stats.preemptions++;
    }
}

/* ---- queueing hints ---- */

typedef struct hint {
    const sched_node_t *node; /* the node an event concerns, or NULL */
    unsigned plugins;         /* pods rejected by any of these move regardless */
} hint_t;

/* Would the event help this pod? A node-local re-check against the node concerned, or a plugin
 * whose verdict depends on what changed. */
static bool hint_want(sched_qpod_t *qp, void *data)
{
    const hint_t *h = data;
    if (qp->plugins & h->plugins) {
        return true;
    }
    sched_status_t st;
    return h->node && h->node->obj && qp->p && sched_filter_local(qp->p, h->node, &st);
}

static void move_pods(ek_scheduler_t *s, const sched_node_t *node, unsigned plugins)
{
    if (!s->queue.nunsched) {
        return;
    }
    hint_t h = { node, plugins };
    uint64_t now = ek_now_ms();
    if (sched_queue_move(&s->queue, hint_want, &h, now)) {
        /* Moved pods still backing off wait in the backoff queue: wake up when it expires. */
        uint64_t next = sched_queue_flush_backoff(&s->queue, now);
        if (next != UINT64_MAX) {
            arm_flush(s, next);
        }
        kick(s);
    }
}

/* ---- the cycle ---- */

static void bind_ctx_free(bind_ctx_t *b)
{
    free(b->key);
    free(b->ns);
    free(b->name);
    free(b->uid);
    free(b->node);
    free(b);
}

/* A failed binding: forget the assumed pod and retry after backoff if it still waits. */
static void bind_failed(ek_scheduler_t *s, bind_ctx_t *b, const ek_error_t *err)
{
    s->stats.errors++;
    sched_pod_t *assumed = sched_cache_pod(&s->cache, b->key);
    if (assumed && assumed->state == POD_ASSUMED) {
        sched_node_t *n = sched_cache_remove_pod(&s->cache, b->key);
        move_pods(s, n, PL_INTER_POD_AFFINITY | PL_POD_TOPOLOGY_SPREAD);
    }
    sched_qpod_t *qp = sched_queue_get(&s->queue, b->key);
    json_t *pod = ek_informer_get(s->pods, b->ns, b->name);
    if (!qp || !pod || ek_json_str(pod, "spec", "nodeName", NULL)) {
        sched_queue_delete(&s->cache, &s->queue, b->key);
        return;
    }
    const char *msg = ek_error_msg(err);
    EK_LOG(EK_INFO, "scheduler", "binding failed pod=%s node=%s err=\"%s\"", b->key, b->node, msg);
    if (!qp->p) {
        qp->p = sched_pod_new(&s->cache, pod);
    }
    record(s, pod, "Warning", "FailedScheduling", msg);
    set_unscheduled(s, pod, "SchedulerError", msg, NULL);
    sched_queue_failed(&s->queue, qp, false, ek_now_ms());
    arm_flush(s, sched_queue_backoff_ms(&s->queue, qp));
}

/* A large burst of work (a restart, a big scale-up) ends with one line of figures. */
static void burst_end(ek_scheduler_t *s)
{
    if (s->binding || s->queue.nactive || !s->burst_start) {
        return;
    }
    uint64_t ms = ek_now_ms() - s->burst_start;
    if (s->burst_bound >= 1000) {
        EK_LOG(EK_INFO, "scheduler", "queue drained bound=%llu ms=%llu per_s=%.0f pending=%zu",
               (unsigned long long)s->burst_bound, (unsigned long long)ms,
               ms ? (double)s->burst_bound * 1000.0 / (double)ms : 0.0, (size_t)s->queue.pods.n);
    }
    s->burst_start = 0;
    s->burst_bound = 0;
}

static void on_bound(int status, json_t *body, const ek_error_t *err, void *data)
{
    EK_UNUSED(status);
    EK_UNUSED(body);
    bind_ctx_t *b = data;
    ek_scheduler_t *s = b->s;
    s->binding--;
    if (s->stopping) {
        bind_ctx_free(b);
        return;
    }
    if (err) {
        bind_failed(s, b, err);
    } else {
        s->stats.bound++;
        s->burst_bound++;
        json_t *ref = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind", "Pod",
                                "metadata", "namespace", b->ns, "name", b->name, "uid", b->uid);
        ek_event_record(s->events, ref, "Normal", "Scheduled", "Successfully assigned %s/%s to %s",
                        b->ns, b->name, b->node);
        json_decref(ref);
        sched_qpod_t *qp = sched_queue_get(&s->queue, b->key);
        if (qp && qp->where == Q_INFLIGHT) {
            sched_queue_delete(&s->cache, &s->queue, b->key);
        }
    }
    bind_ctx_free(b);
    burst_end(s);
}

static void bind_pod(ek_scheduler_t *s, sched_qpod_t *qp, sched_node_t *n)
{
    sched_pod_t *p = qp->p;
    bind_ctx_t *b = ek_new(bind_ctx_t);
    b->s = s;
    b->key = ek_xstrdup(p->key);
    b->ns = ek_xstrdup(p->ns);
    b->name = ek_xstrdup(p->name);
    b->uid = ek_xstrdup(p->uid);
    b->node = ek_xstrdup(n->name);
    json_t *binding =
        json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind",
                  "Binding", "metadata", "name", p->name, "namespace", p->ns, "uid", p->uid,
                  "target", "apiVersion", "v1", "kind", "Node", "name", n->name);
    /* Assume: the next cycle sees this pod on its node before the watch says so. */
    qp->p = NULL;
    sched_cache_place(&s->cache, p, n->name, POD_ASSUMED);
    ek_autofree char *path = ek_api_path(s->pod_res, b->ns, b->name, EK_SUB_BINDING);
    if (ek_api_request(s->client, "POST", path, NULL, binding, on_bound, b)) {
        s->binding++;
    } else {
        bind_ctx_free(b); /* the client is closing */
    }
    json_decref(binding);
}

static void unschedulable(ek_scheduler_t *s, sched_qpod_t *qp, sched_result_t *r)
{
    sched_pod_t *p = qp->p;
    s->stats.unschedulable++;
    const char *nominate = NULL;
    if (r->victims.node) {
        evict_victims(s, p, &r->victims);
        nominate = r->victims.node->name;
    }
    EK_LOG(EK_DEBUG, "scheduler", "unschedulable pod=%s msg=\"%s\"", p->key, r->message);
    record(s, p->obj, "Warning", "FailedScheduling", r->message);
    set_unscheduled(s, p->obj, "Unschedulable", r->message, nominate);
    qp->plugins = r->plugins;
    sched_queue_failed(&s->queue, qp, true, ek_now_ms());
    arm_flush(s, LEFTOVER_CHECK_MS);
}

static void schedule_one(ek_scheduler_t *s, sched_qpod_t *qp)
{
    sched_pod_t *p = qp->p;
    s->stats.attempts++;
    if (!p || p->terminating || sched_cache_pod(&s->cache, p->key)) {
        /* Being deleted, or already on a node: nothing to do (skipPodSchedule). */
        sched_queue_delete(&s->cache, &s->queue, qp->key);
        return;
    }
    if (!s->burst_start) {
        s->burst_start = ek_now_ms();
    }
    sched_result_t r;
    sched_schedule(&s->cache, p, &r);
    if (r.node) {
        bind_pod(s, qp, r.node);
    } else {
        unschedulable(s, qp, &r);
    }
    sched_result_free(&r);
}

static void on_idle(uv_idle_t *h)
{
    ek_scheduler_t *s = h->data;
    uint64_t start = ek_now_ns();
    while (!s->stopping) {
        sched_qpod_t *qp = sched_queue_pop(&s->queue);
        if (!qp) {
            uv_idle_stop(h);
            burst_end(s);
            return;
        }
        schedule_one(s, qp);
        if (ek_now_ns() - start > SLICE_NS) {
            return; /* let the rest of the loop run; the idle handle comes back */
        }
    }
}

static void kick(ek_scheduler_t *s)
{
    if (s->synced && !s->stopping && s->queue.nactive && !uv_is_active((uv_handle_t *)&s->idle)) {
        uv_idle_start(&s->idle, on_idle);
    }
}

/* Backoff expiries and pods unschedulable for too long. */
static void on_flush(uv_timer_t *t)
{
    ek_scheduler_t *s = t->data;
    uint64_t now = ek_now_ms();
    uint64_t next = sched_queue_flush_backoff(&s->queue, now);
    sched_queue_flush_unschedulable(&s->queue, MAX_UNSCHED_MS, now);
    kick(s);
    if (s->queue.nunsched) {
        next = EK_MIN(next, LEFTOVER_CHECK_MS);
    }
    if (next != UINT64_MAX) {
        uv_timer_start(t, on_flush, next, 0);
    }
}

static void arm_flush(ek_scheduler_t *s, uint64_t ms)
{
    if (!uv_is_active((uv_handle_t *)&s->flush) || uv_timer_get_due_in(&s->flush) > ms) {
        uv_timer_start(&s->flush, on_flush, ms, 0);
    }
}

/* ---- informer handlers ---- */

static const char *node_of(const json_t *pod)
{
    const char *n = ek_json_str(pod, "spec", "nodeName", NULL);
    return n && *n ? n : NULL;
}

static bool responsible(const ek_scheduler_t *s, const json_t *pod)
{
    const char *n = ek_json_str(pod, "spec", "schedulerName", NULL);
    return n && *n ? strcmp(n, s->name) == 0 : strcmp(s->name, SCHED_DEFAULT_NAME) == 0;
}

/* A pod on a node: into the cache (confirming an assumed pod), out of the queue. */
static void assigned_pod(ek_scheduler_t *s, json_t *old, json_t *pod)
{
    sched_pod_t *p = sched_pod_new(&s->cache, pod);
    if (!p) {
        return;
    }
    sched_queue_delete(&s->cache, &s->queue, p->key);
    sched_pod_t *prev = sched_cache_pod(&s->cache, p->key);
    bool resized = prev && (prev->req.cpu > p->req.cpu || prev->req.mem > p->req.mem);
    bool relabeled = !old || !node_of(old) || (prev && prev->group != p->group);
    sched_cache_place(&s->cache, p, node_of(pod), POD_BOUND);
    if (relabeled || resized) {
        move_pods(s, resized ? p->node : NULL, PL_INTER_POD_AFFINITY | PL_POD_TOPOLOGY_SPREAD);
    }
}

static void pending_pod(ek_scheduler_t *s, json_t *pod)
{
    const char *ns = ek_json_str(pod, "metadata", "namespace", NULL);
    const char *name = ek_json_str(pod, "metadata", "name", NULL);
    if (!name) {
        return;
    }
    if (!responsible(s, pod) || ek_json_str(pod, "metadata", "deletionTimestamp", NULL)) {
        ek_autofree char *key = ek_xasprintf("%s/%s", ns ? ns : "", name);
        sched_queue_delete(&s->cache, &s->queue, key);
        return;
    }
    sched_pod_t *p = sched_pod_new(&s->cache, pod);
    sched_queue_add(&s->cache, &s->queue, p, ek_now_ms());
    kick(s);
}

static void on_pod_update(json_t *old, json_t *pod, void *data)
{
    ek_scheduler_t *s = data;
    if (node_of(pod)) {
        assigned_pod(s, old, pod);
    } else {
        pending_pod(s, pod);
    }
}

static void on_pod_add(json_t *pod, void *data)
{
    on_pod_update(NULL, pod, data);
}

static void on_pod_delete(json_t *pod, void *data)
{
    ek_scheduler_t *s = data;
    ek_autofree char *key =
        ek_xasprintf("%s/%s", ek_json_str(pod, "metadata", "namespace", NULL) ?: "",
                     ek_json_str(pod, "metadata", "name", NULL) ?: "");
    sched_queue_delete(&s->cache, &s->queue, key);
    if (sched_cache_pod(&s->cache, key)) {
        sched_node_t *n = sched_cache_remove_pod(&s->cache, key);
        move_pods(s, n, PL_INTER_POD_AFFINITY | PL_POD_TOPOLOGY_SPREAD);
    }
}

static bool node_changed(const json_t *a, const json_t *b)
{
    static const char *const paths[][2] = {
        { "metadata", "labels" },    { "spec", "taints" },   { "spec", "unschedulable" },
        { "status", "allocatable" }, { "status", "images" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(paths); i++) {
        const json_t *x = ek_json_path(a, paths[i][0], paths[i][1], NULL);
        const json_t *y = ek_json_path(b, paths[i][0], paths[i][1], NULL);
        if (!(x == y || (x && y && json_equal(x, y)))) {
            return true;
        }
    }
    return false;
}

static void on_node_update(json_t *old, json_t *node, void *data)
{
    ek_scheduler_t *s = data;
    sched_node_t *n = sched_cache_set_node(&s->cache, node);
    if (n && (!old || node_changed(old, node))) {
        move_pods(s, n, 0);
    }
}

static void on_node_add(json_t *node, void *data)
{
    on_node_update(NULL, node, data);
}

static void on_node_delete(json_t *node, void *data)
{
    ek_scheduler_t *s = data;
    const char *name = ek_json_str(node, "metadata", "name", NULL);
    if (name) {
        sched_cache_remove_node(&s->cache, name);
    }
}

static void on_ns_update(json_t *old, json_t *ns, void *data)
{
    const json_t *a = ek_json_path(old, "metadata", "labels", NULL);
    const json_t *b = ek_json_path(ns, "metadata", "labels", NULL);
    if (!(a == b || (a && b && json_equal(a, b)))) {
        move_pods(data, NULL, PL_INTER_POD_AFFINITY);
    }
}

static void on_ns_add(json_t *ns, void *data)
{
    on_ns_update(NULL, ns, data);
}

/* ---- start and stop ---- */

static bool all_synced(const ek_scheduler_t *s)
{
    ek_informer_t *const infs[] = { s->pods, s->nodes, s->namespaces, s->services, s->rss, s->sss };
    for (size_t i = 0; i < EK_ARRAY_SIZE(infs); i++) {
        if (infs[i] && !ek_informer_synced(infs[i])) {
            return false;
        }
    }
    return true;
}

static void on_sync_timer(uv_timer_t *t)
{
    ek_scheduler_t *s = t->data;
    if (!all_synced(s)) {
        return;
    }
    uv_timer_stop(t);
    s->synced = true;
    EK_LOG(EK_INFO, "scheduler", "informers synced, scheduling name=%s nodes=%zu pending=%zu",
           s->name, s->cache.nlist, (size_t)s->queue.pods.n);
    kick(s);
}

static ek_informer_t *informer(ek_scheduler_t *s, const char *group, const char *plural,
                               const char *field_sel, const ek_informer_handlers_t *h,
                               json_t *(*trim)(json_t *obj, void *data))
{
    const ek_resource_t *r = ek_resource_find(group, "v1", plural);
    if (!r) {
        return NULL;
    }
    ek_informer_t *inf = ek_informer_new(s->client, r, NULL, NULL, field_sel, 0);
    if (trim) {
        ek_informer_set_transform(inf, trim, NULL);
    }
    if (h) {
        ek_informer_add_handlers(inf, h, s);
    }
    ek_informer_start(inf);
    return inf;
}

int ek_scheduler_start(ek_api_client_t *client, const ek_scheduler_options_t *opts,
                       ek_scheduler_t **out, ek_error_t **err)
{
    EK_UNUSED(err);
    ek_scheduler_t *s = ek_new(ek_scheduler_t);
    s->client = client;
    s->loop = ek_api_client_loop(client);
    if (opts) {
        s->opts = *opts;
    }
    s->name = ek_xstrdup(s->opts.name && *s->opts.name ? s->opts.name : SCHED_DEFAULT_NAME);
    s->pod_res = ek_resource_find("", "v1", "pods");
    sched_listers_t listers = { lister_get, lister_services, lister_ns_labels, s };
    sched_cache_init(&s->cache, &listers, s->opts.percentage_of_nodes_to_score);
    sched_queue_init(&s->queue, (uint64_t)s->opts.initial_backoff_ms,
                     (uint64_t)s->opts.max_backoff_ms);
    s->events = ek_event_recorder_new(client, s->name, NULL);
    static const ek_informer_handlers_t pod_h = { on_pod_add, on_pod_update, on_pod_delete, NULL };
    static const ek_informer_handlers_t node_h = { on_node_add, on_node_update, on_node_delete,
                                                   NULL };
    static const ek_informer_handlers_t ns_h = { on_ns_add, on_ns_update, NULL, NULL };
    /* Finished pods hold no resources: kube-scheduler's informer leaves them out too. */
    /* Only the fields scheduling reads are kept: a pod's status, env, volumes and the like
     * would otherwise stay in memory for every pod in the cluster. */
    s->pods = informer(s, "", "pods", "status.phase!=Succeeded,status.phase!=Failed", &pod_h,
                       sched_pod_trim);
    s->nodes = informer(s, "", "nodes", NULL, &node_h, sched_node_trim);
    s->namespaces = informer(s, "", "namespaces", NULL, &ns_h, NULL);
    s->services = informer(s, "", "services", NULL, NULL, NULL);
    s->rss = informer(s, "apps", "replicasets", NULL, NULL, NULL);
    s->sss = informer(s, "apps", "statefulsets", NULL, NULL, NULL);
    uv_idle_init(s->loop, &s->idle);
    uv_timer_init(s->loop, &s->flush);
    uv_timer_init(s->loop, &s->sync);
    s->idle.data = s->flush.data = s->sync.data = s;
    s->open_handles = 3;
    uv_timer_start(&s->sync, on_sync_timer, 10, 20);
    *out = s;
    return 0;
}

void ek_scheduler_stats(const ek_scheduler_t *s, ek_scheduler_stats_t *out)
{
    *out = s->stats;
    out->pending = s->queue.pods.n;
}

static void on_handle_closed(uv_handle_t *h)
{
    ek_scheduler_t *s = h->data;
    if (--s->open_handles > 0) {
        return;
    }
    void (*cb)(void *) = s->stop_cb;
    void *data = s->stop_data;
    sched_queue_free(&s->cache, &s->queue);
    sched_cache_free(&s->cache);
    ek_event_recorder_free(s->events);
    free(s->name);
    free(s);
    if (cb) {
        cb(data);
    }
}

static void on_client_freed(void *data)
{
    ek_scheduler_t *s = data;
    uv_close((uv_handle_t *)&s->idle, on_handle_closed);
    uv_close((uv_handle_t *)&s->flush, on_handle_closed);
    uv_close((uv_handle_t *)&s->sync, on_handle_closed);
}

void ek_scheduler_stop(ek_scheduler_t *s, void (*cb)(void *data), void *data)
{
    s->stopping = true;
    s->stop_cb = cb;
    s->stop_data = data;
    uv_idle_stop(&s->idle);
    uv_timer_stop(&s->flush);
    uv_timer_stop(&s->sync);
    ek_informer_t *infs[] = { s->pods, s->nodes, s->namespaces, s->services, s->rss, s->sss };
    for (size_t i = 0; i < EK_ARRAY_SIZE(infs); i++) {
        ek_informer_free(infs[i]);
    }
    /* Bindings still in flight end (cancelled) before the client reports it is freed. */
    ek_api_client_free(s->client, on_client_freed, s);
}
