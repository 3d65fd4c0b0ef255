/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node lifecycle, as Kubernetes' node lifecycle and taint eviction controllers:
 *
 *  - health: a node is heard from when its Lease (kube-node-lease/<node>) is renewed or its
 *    Ready condition's lastHeartbeatTime moves. Silent for longer than the grace period
 *    (--node-monitor-grace-period, 40 s), its Ready, MemoryPressure, DiskPressure and
 *    PIDPressure conditions become Unknown ("Kubelet stopped posting node status."), a
 *    NodeNotReady event is recorded and its pods are marked Ready=False.
 *  - taints: NoSchedule taints follow the conditions (not-ready, unreachable, memory-, disk-,
 *    pid-pressure, network-unavailable, unschedulable); the NoExecute taints
 *    node.kubernetes.io/not-ready and /unreachable follow Ready=False and Ready=Unknown —
 *    except while every zone is fully disrupted (the control plane more likely lost the
 *    network than every node died: nothing is evicted), or while a small zone is partially
 *    disrupted (evictions there stop, as Kubernetes' rate 0 for zones of <= 50 nodes).
 *  - eviction: a pod on a node with NoExecute taints it does not tolerate is deleted at once;
 *    one that tolerates them for tolerationSeconds (the API server adds 300 s for not-ready
 *    and unreachable to every new pod) is deleted that long after the taints were seen
 *    (TaintManagerEviction events; a DisruptionTarget condition first); removing the taints in
 *    time cancels it.
 *
 * Health is tracked in memory with the loop's clock, so after a restart every node gets a full
 * grace period before it can be marked.
 */
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

#define LEASE_NS              "kube-node-lease"
#define TAINT_NOT_READY       "node.kubernetes.io/not-ready"
#define TAINT_UNREACHABLE     "node.kubernetes.io/unreachable"
#define LARGE_CLUSTER         50
#define UNHEALTHY_FRACTION    0.55
#define TAINT_AFTER_STATUS_MS 50

struct health {
    uint64_t probe_ms; /* loop time we last heard from the node */
    char *renew;       /* the Lease's renewTime seen then */
    char *heartbeat;   /* the Ready condition's lastHeartbeatTime seen then */
    const char *ready; /* Ready as this controller sees it now: "True", "False", "Unknown" */
    bool stale;        /* silent for longer than the grace period */
    bool registered;
};

typedef struct nlc {
    ctrl_manager_t *m;
    ctrl_t *monitor; /* one key: the periodic pass over all nodes */
    ctrl_t *nodes_c; /* per node */
    ctrl_t *evict;   /* per pod */
    ek_informer_t *nodes;
    ek_informer_t *leases;
    ek_informer_t *pods;
    const ek_resource_t *node_res;
    const ek_resource_t *pod_res;
    ek_map_t health;    /* node → struct health* */
    ek_map_t zones;     /* zone key → state (ZONE_*) as a pointer-sized int */
    ek_map_t scheduled; /* pod key → loop time its eviction was first scheduled (+1) */
    bool all_disrupted;
    uint64_t period_ms;
} nlc_t;

enum { ZONE_NORMAL = 1, ZONE_PARTIAL, ZONE_FULL };

/* ---- tolerations (pure) ---- */

static bool tolerates(const json_t *tol, const json_t *taint)
{
    const char *effect = ek_json_str(tol, "effect", NULL);
    const char *key = ek_json_str(tol, "key", NULL);
    const char *op = ek_json_str(tol, "operator", NULL);
    if (effect && *effect && !ek_streq(effect, ek_json_str(taint, "effect", NULL))) {
        return false;
    }
    if (key && *key && !ek_streq(key, ek_json_str(taint, "key", NULL))) {
        return false;
    }
    if (ek_streq(op, "Exists")) {
        return true;
    }
    if (op && *op && !ek_streq(op, "Equal")) {
        return false;
    }
    const char *v = ek_json_str(tol, "value", NULL), *tv = ek_json_str(taint, "value", NULL);
    return strcmp(v ? v : "", tv ? tv : "") == 0;
}

int64_t eviction_delay_ms(const json_t *taints, const json_t *tolerations)
{
    int64_t min_s = -1;
    size_t i;
    json_t *t;
    json_array_foreach (taints, i, t) {
        if (!ek_streq(ek_json_str(t, "effect", NULL), "NoExecute")) {
            continue;
        }
        const json_t *used = NULL;
        size_t k;
        json_t *tol;
        json_array_foreach (tolerations, k, tol) {
            if (tolerates(tol, t)) {
                used = tol; /* the first matching toleration counts, as Kubernetes */
                break;
            }
        }
        if (!used) {
            return 0;
        }
        json_t *secs = json_object_get(used, "tolerationSeconds");
        if (json_is_integer(secs)) {
            int64_t s = json_integer_value(secs);
            if (s <= 0) {
                return 0;
            }
            min_s = min_s < 0 ? s : EK_MIN(min_s, s);
        }
    }
    return min_s < 0 ? -1 : min_s * 1000;
}

/* ---- zones ---- */

static char *zone_key(const json_t *node)
{
    const json_t *l = ek_json_path(node, "metadata", "labels", NULL);
    const char *region = ek_json_str(l, "topology.kubernetes.io/region", NULL);
    const char *zone = ek_json_str(l, "topology.kubernetes.io/zone", NULL);
    return ek_xasprintf("%s:%s", region ? region : "", zone ? zone : "");
}

int zone_state(int ready, int not_ready)
{
    if (ready == 0 && not_ready > 0) {
        return ZONE_FULL;
    }
    if (not_ready > 2 && (double)not_ready / (ready + not_ready) >= UNHEALTHY_FRACTION) {
        return ZONE_PARTIAL;
    }
    return ZONE_NORMAL;
}

/* ---- health ---- */

static struct health *health_of(nlc_t *s, const char *name)
{
    struct health *h = ek_map_get(&s->health, name);
    if (!h) {
        h = ek_new(struct health);
        ek_map_put(&s->health, name, h);
    }
    return h;
}

static void health_free(struct health *h)
{
    if (h) {
        free(h->renew);
        free(h->heartbeat);
        free(h);
    }
}

static void replace(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? ek_xstrdup(v) : NULL;
}

/* Equal strings, or both absent. */
static bool same(const char *a, const char *b)
{
    return a == b || ek_streq(a, b);
}

/* Updates what we know of the node's heartbeats and decides its Ready status as of now. */
static void observe_health(nlc_t *s, const json_t *node, struct health *h, uint64_t now)
{
    const char *name = ek_json_str(node, "metadata", "name", NULL);
    json_t *lease = ek_informer_get(s->leases, LEASE_NS, name);
    const char *renew = ek_json_str(lease, "spec", "renewTime", NULL);
    const json_t *ready = find_condition(ek_json_path(node, "status", "conditions", NULL), "Ready");
    const char *hb = ek_json_str(ready, "lastHeartbeatTime", NULL);
    if (!h->probe_ms || !same(renew, h->renew) || !same(hb, h->heartbeat)) {
        h->probe_ms = now ? now : 1;
        replace(&h->renew, renew);
        replace(&h->heartbeat, hb);
    }
    h->stale = now - h->probe_ms > (uint64_t)s->m->opts.node_monitor_grace_ms;
    const char *st = ek_json_str(ready, "status", NULL);
    h->ready = h->stale                ? "Unknown"
               : ek_streq(st, "True")  ? "True"
               : ek_streq(st, "False") ? "False"
                                       : "Unknown";
}

struct pass {
    nlc_t *s;
    uint64_t now;
    json_t *zones; /* zone key → [ready, not ready] */
};

static void visit_node(json_t *node, void *data)
{
    struct pass *ps = data;
    nlc_t *s = ps->s;
    const char *name = ek_json_str(node, "metadata", "name", NULL);
    struct health *h = health_of(s, name);
    observe_health(s, node, h, ps->now);
    ek_autofree char *zk = zone_key(node);
    json_t *z = json_object_get(ps->zones, zk);
    if (!z) {
        z = json_pack("[i,i]", 0, 0);
        json_object_set_new(ps->zones, zk, z);
    }
    size_t slot = ek_streq(h->ready, "True") ? 0 : 1;
    json_array_set_new(z, slot, json_integer(json_integer_value(json_array_get(z, slot)) + 1));
    ctrl_enqueue(s->nodes_c, name);
}

/* Every period: heartbeats, zone states, then a sync of every node. */
static void sync_monitor(ctrl_t *c, const char *key, void *data)
{
    nlc_t *s = data;
    struct pass ps = { s, uv_now(s->m->loop), json_object() };
    ek_informer_each(s->nodes, visit_node, &ps);
    ek_map_free(&s->zones);
    bool all_full = json_object_size(ps.zones) > 0;
    const char *zk;
    json_t *z;
    json_object_foreach (ps.zones, zk, z) {
        int st = zone_state((int)json_integer_value(json_array_get(z, 0)),
                            (int)json_integer_value(json_array_get(z, 1)));
        int size = (int)(json_integer_value(json_array_get(z, 0)) +
                         json_integer_value(json_array_get(z, 1)));
        /* Small zones under partial disruption stop evicting: Kubernetes' rate there is 0. */
        if (st == ZONE_PARTIAL && size > LARGE_CLUSTER) {
            st = ZONE_NORMAL;
        }
        ek_map_put(&s->zones, zk, (void *)(uintptr_t)st);
        all_full = all_full && st == ZONE_FULL;
    }
    if (all_full != s->all_disrupted) {
        EK_LOG(EK_INFO, "nodelifecycle", "%s",
               all_full ? "every zone is fully disrupted: evictions stop"
                        : "zones no longer fully disrupted: evictions resume");
    }
    s->all_disrupted = all_full;
    json_decref(ps.zones);
    ctrl_done(c, key, (int)s->period_ms);
}

/* ---- node sync ---- */

/* Sets the kubelet's conditions to Unknown (the node went silent). Returns whether Ready was
 * True until now. */
static bool mark_unknown(nlc_t *s, pending_t *p, const json_t *node, const char *now)
{
    static const char *const types[] = { "Ready", "MemoryPressure", "DiskPressure", "PIDPressure" };
    const json_t *conds = ek_json_path(node, "status", "conditions", NULL);
    const json_t *ready = find_condition(conds, "Ready");
    bool was_ready = ek_streq(ek_json_str(ready, "status", NULL), "True");
    json_t *changes = json_array();
    for (size_t i = 0; i < EK_ARRAY_SIZE(types); i++) {
        const json_t *c = find_condition(conds, types[i]);
        if (ek_streq(ek_json_str(c, "status", NULL), "Unknown")) {
            continue;
        }
        json_t *n = c ? json_deep_copy(c) : json_object();
        ek_json_set_str(n, "type", types[i]);
        ek_json_set_str(n, "status", "Unknown");
        ek_json_set_str(n, "reason", c ? "NodeStatusUnknown" : "NodeStatusNeverUpdated");
        ek_json_set_str(n, "message",
                        c ? "Kubelet stopped posting node status."
                          : "Kubelet never posted node status.");
        if (!c) {
            ek_json_set_str(n, "lastHeartbeatTime",
                            ek_json_str(node, "metadata", "creationTimestamp", NULL));
        }
        ek_json_set_str(n, "lastTransitionTime", now);
        json_array_append_new(changes, n);
    }
    if (json_array_size(changes) > 0) {
        /* A strategic merge by condition type: the kubelet's other conditions stay. */
        json_t *patch = json_pack("{s:{s:o}}", "status", "conditions", changes);
        pending_add(p);
        ek_api_patch(s->m->client, s->node_res, NULL, ek_json_str(node, "metadata", "name", NULL),
                     EK_SUB_STATUS, "strategic", patch, pending_call_done, p);
        json_decref(patch);
    } else {
        json_decref(changes);
    }
    return was_ready;
}

struct mark_ctx {
    nlc_t *s;
    pending_t *p;
    const char *node;
    const char *now;
};

static void mark_pod(json_t *pod, void *data)
{
    struct mark_ctx *mc = data;
    const json_t *ready = find_condition(ek_json_path(pod, "status", "conditions", NULL), "Ready");
    if (!ek_streq(ek_json_str(pod, "spec", "nodeName", NULL), mc->node) || !ready ||
        ek_streq(ek_json_str(ready, "status", NULL), "False")) {
        return;
    }
    json_t *patch = json_pack("{s:{s:[{s:s,s:s,s:s}]}}", "status", "conditions", "type", "Ready",
                              "status", "False", "lastTransitionTime", mc->now);
    pending_add(mc->p);
    ek_api_patch(mc->s->m->client, mc->s->pod_res, ek_json_str(pod, "metadata", "namespace", NULL),
                 ek_json_str(pod, "metadata", "name", NULL), EK_SUB_STATUS, "strategic", patch,
                 pending_call_done, mc->p);
    json_decref(patch);
    ek_event_record(mc->s->m->events, pod, "Warning", "NodeNotReady", "Node is not ready");
}

/* ---- taints ---- */

/* NoSchedule taints by condition (Kubernetes' TaintNodesByCondition). */
static const char *const condition_taints[][3] = {
    /* condition, status, taint key */
    { "Ready", "False", TAINT_NOT_READY },
    { "Ready", "Unknown", TAINT_UNREACHABLE },
    { "MemoryPressure", "True", "node.kubernetes.io/memory-pressure" },
    { "DiskPressure", "True", "node.kubernetes.io/disk-pressure" },
    { "PIDPressure", "True", "node.kubernetes.io/pid-pressure" },
    { "NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable" },
};

static bool managed_taint(const json_t *t)
{
    const char *key = ek_json_str(t, "key", NULL);
    const char *effect = ek_json_str(t, "effect", NULL);
    if (ek_streq(effect, "NoExecute")) {
        return ek_streq(key, TAINT_NOT_READY) || ek_streq(key, TAINT_UNREACHABLE);
    }
    if (!ek_streq(effect, "NoSchedule")) {
        return false;
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(condition_taints); i++) {
        if (ek_streq(key, condition_taints[i][2])) {
            return true;
        }
    }
    return ek_streq(key, "node.kubernetes.io/unschedulable");
}

static const json_t *find_taint(const json_t *taints, const char *key, const char *effect)
{
    size_t i;
    json_t *t;
    json_array_foreach (taints, i, t) {
        if (ek_streq(ek_json_str(t, "key", NULL), key) &&
            ek_streq(ek_json_str(t, "effect", NULL), effect)) {
            return t;
        }
    }
    return NULL;
}

/* Appends key:effect to out, keeping an existing taint (and its timeAdded) as it is. */
static void want_taint(json_t *out, const json_t *have, const char *key, const char *effect,
                       const char *now)
{
    const json_t *t = find_taint(have, key, effect);
    if (t) {
        json_array_append(out, (json_t *)t);
    } else if (strcmp(effect, "NoExecute") == 0) {
        json_array_append_new(
            out, json_pack("{s:s,s:s,s:s}", "key", key, "effect", effect, "timeAdded", now));
    } else {
        json_array_append_new(out, json_pack("{s:s,s:s}", "key", key, "effect", effect));
    }
}

/* The NoExecute taint this node should carry (NULL: none), given disruption. */
static const char *no_execute_taint(nlc_t *s, const json_t *node, const char *ready,
                                    const json_t *have)
{
    const char *key = ek_streq(ready, "False")     ? TAINT_NOT_READY
                      : ek_streq(ready, "Unknown") ? TAINT_UNREACHABLE
                                                   : NULL;
    if (!key || s->all_disrupted) {
        return NULL;
    }
    ek_autofree char *zk = zone_key(node);
    if ((uintptr_t)ek_map_get(&s->zones, zk) == ZONE_PARTIAL &&
        !find_taint(have, TAINT_NOT_READY, "NoExecute") &&
        !find_taint(have, TAINT_UNREACHABLE, "NoExecute")) {
        return NULL; /* no new evictions here; an existing taint may still swap */
    }
    return key;
}

static void update_taints(nlc_t *s, pending_t *p, const json_t *node, const struct health *h,
                          const char *now)
{
    const json_t *have = ek_json_path(node, "spec", "taints", NULL);
    const json_t *conds = ek_json_path(node, "status", "conditions", NULL);
    json_t *want = json_array();
    size_t i;
    json_t *t;
    json_array_foreach (have, i, t) {
        if (!managed_taint(t)) {
            json_array_append(want, t);
        }
    }
    for (size_t k = 0; k < EK_ARRAY_SIZE(condition_taints); k++) {
        const json_t *c = find_condition(conds, condition_taints[k][0]);
        const char *st = strcmp(condition_taints[k][0], "Ready") == 0
                             ? h->ready
                             : (h->stale ? "Unknown" : ek_json_str(c, "status", NULL));
        if (ek_streq(st, condition_taints[k][1])) {
            want_taint(want, have, condition_taints[k][2], "NoSchedule", now);
        }
    }
    if (ek_json_bool(node, 0, "spec", "unschedulable", NULL)) {
        want_taint(want, have, "node.kubernetes.io/unschedulable", "NoSchedule", now);
    }
    const char *nx = no_execute_taint(s, node, h->ready, have);
    if (nx) {
        want_taint(want, have, nx, "NoExecute", now);
    }
    if (json_array_size(want) == json_array_size(have) &&
        (json_array_size(want) == 0 || json_equal(want, have))) {
        json_decref(want);
        return;
    }
    /* Guarded by the resourceVersion seen: a concurrent edit of the taints wins, we retry. */
    json_t *patch = json_pack("{s:{s:s},s:{s:o}}", "metadata", "resourceVersion",
                              ek_json_str(node, "metadata", "resourceVersion", NULL) ?: "", "spec",
                              "taints", json_array_size(want) ? want : json_null());
    if (!json_array_size(want)) {
        json_decref(want);
    }
    pending_add(p);
    ek_api_patch(s->m->client, s->node_res, NULL, ek_json_str(node, "metadata", "name", NULL),
                 EK_SUB_NONE, "merge", patch, pending_call_done, p);
    json_decref(patch);
}

static void sync_node(ctrl_t *c, const char *name, void *data)
{
    nlc_t *s = data;
    json_t *node = ek_informer_get(s->nodes, NULL, name);
    struct health *h = ek_map_get(&s->health, name);
    if (!node || !h || !h->ready) {
        ctrl_done(c, name, SYNC_OK);
        return;
    }
    char now[21];
    ek_time_rfc3339(time(NULL), now);
    pending_t *p = pending_new(c, name);
    if (!h->registered) {
        h->registered = true;
        ek_event_record(s->m->events, node, "Normal", "RegisteredNode",
                        "Node %s event: Registered Node %s in Controller", name, name);
    }
    int before = p->outstanding;
    if (h->stale && mark_unknown(s, p, node, now)) {
        /* Ready just went from True to Unknown here: its pods are not ready either. */
        ek_event_record(s->m->events, node, "Normal", "NodeNotReady",
                        "Node %s status is now: NodeNotReady", name);
        struct mark_ctx mc = { s, p, name, now };
        ek_informer_each(s->pods, mark_pod, &mc);
    }
    if (p->outstanding == before) {
        update_taints(s, p, node, h, now);
    } else {
        /* Taints follow once the status write is in: two writes to one node at once would
         * conflict. */
        p->result = TAINT_AFTER_STATUS_MS;
    }
    pending_arm(p);
}

/* ---- taint eviction ---- */

static bool has_no_execute(const json_t *node)
{
    size_t i;
    json_t *t;
    json_array_foreach (ek_json_path(node, "spec", "taints", NULL), i, t) {
        if (ek_streq(ek_json_str(t, "effect", NULL), "NoExecute")) {
            return true;
        }
    }
    return false;
}

static void cancel_eviction(nlc_t *s, const char *key, const json_t *pod)
{
    if (ek_map_del(&s->scheduled, key) && pod) {
        ek_event_record(s->m->events, pod, "Normal", "TaintManagerEviction",
                        "Cancelling deletion of Pod %s", key);
    }
}

struct evict_ctx {
    nlc_t *s;
    pending_t *p;
    char *ns, *name;
};

/* The DisruptionTarget condition is written: now the deletion (one after the other, as
 * writes to one object must be). */
static void on_marked(int status, json_t *body, const ek_error_t *err, void *data)
{
    struct evict_ctx *e = data;
    if ((!err || status == 404) && !e->s->m->stopping) {
        pending_add(e->p);
        ek_api_delete(e->s->m->client, e->s->pod_res, e->ns, e->name, NULL, pending_call_done,
                      e->p);
    }
    pending_call_done(status, body, err, e->p);
    free(e->ns);
    free(e->name);
    free(e);
}

/* The scheduled entry stays until the pod is seen terminating or gone, so a failed attempt
 * is retried at once rather than after another toleration period. */
static void evict(nlc_t *s, ctrl_t *c, const char *key, const json_t *pod)
{
    EK_LOG(EK_INFO, "nodelifecycle", "evicting pod=%s node=%s", key,
           ek_json_str(pod, "spec", "nodeName", NULL));
    ek_event_record(s->m->events, pod, "Normal", "TaintManagerEviction",
                    "Marking for deletion Pod %s", key);
    char now[21];
    ek_time_rfc3339(time(NULL), now);
    json_t *patch = json_pack(
        "{s:{s:[{s:s,s:s,s:s,s:s,s:s}]}}", "status", "conditions", "type", "DisruptionTarget",
        "status", "True", "reason", "DeletionByTaintManager", "message",
        "Taint manager: deleting due to NoExecute taint", "lastTransitionTime", now);
    struct evict_ctx *e = ek_new(struct evict_ctx);
    e->s = s;
    e->p = pending_new(c, key);
    e->ns = ek_xstrdup(ek_json_str(pod, "metadata", "namespace", NULL));
    e->name = ek_xstrdup(ek_json_str(pod, "metadata", "name", NULL));
    pending_t *p = e->p;
    pending_add(p);
    ek_api_patch(s->m->client, s->pod_res, e->ns, e->name, EK_SUB_STATUS, "strategic", patch,
                 on_marked, e);
    json_decref(patch);
    pending_arm(p);
}

static void sync_pod(ctrl_t *c, const char *key, void *data)
{
    nlc_t *s = data;
    char *ns, *name;
    key_split(key, &ns, &name);
    json_t *pod = ek_informer_get(s->pods, ns, name);
    free(ns);
    free(name);
    const char *node_name = ek_json_str(pod, "spec", "nodeName", NULL);
    json_t *node = node_name ? ek_informer_get(s->nodes, NULL, node_name) : NULL;
    if (!pod || !has_no_execute(node) || ek_json_str(pod, "metadata", "deletionTimestamp", NULL)) {
        cancel_eviction(s, key, pod && !has_no_execute(node) ? pod : NULL);
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    int64_t delay = eviction_delay_ms(ek_json_path(node, "spec", "taints", NULL),
                                      ek_json_path(pod, "spec", "tolerations", NULL));
    if (delay < 0) {
        cancel_eviction(s, key, pod); /* tolerated forever */
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    uint64_t now = uv_now(s->m->loop);
    uintptr_t since = (uintptr_t)ek_map_get(&s->scheduled, key);
    if (!since) {
        since = (uintptr_t)now + 1;
        ek_map_put(&s->scheduled, key, (void *)since);
    }
    uint64_t due = since - 1 + (uint64_t)delay;
    if (now >= due) {
        evict(s, c, key, pod);
        return;
    }
    ctrl_done(c, key, (int)EK_MIN(due - now, (uint64_t)1 << 30));
}

/* ---- event handlers ---- */

struct on_node {
    nlc_t *s;
    const char *node;
};

static void enqueue_if_on(json_t *pod, void *data)
{
    struct on_node *on = data;
    if (ek_streq(ek_json_str(pod, "spec", "nodeName", NULL), on->node)) {
        ctrl_enqueue_obj(on->s->evict, pod);
    }
}

static void enqueue_pods_on(nlc_t *s, const json_t *node)
{
    struct on_node on = { s, ek_json_str(node, "metadata", "name", NULL) };
    ek_informer_each(s->pods, enqueue_if_on, &on);
}

static json_t *no_execute_of(const json_t *node)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach (ek_json_path(node, "spec", "taints", NULL), i, t) {
        if (ek_streq(ek_json_str(t, "effect", NULL), "NoExecute")) {
            json_array_append(out, t);
        }
    }
    return out;
}

static void on_node_add(json_t *node, void *data)
{
    nlc_t *s = data;
    ctrl_enqueue(s->nodes_c, ek_json_str(node, "metadata", "name", NULL));
    if (has_no_execute(node)) {
        enqueue_pods_on(s, node);
    }
}

static void on_node_update(json_t *old, json_t *node, void *data)
{
    nlc_t *s = data;
    json_t *a = no_execute_of(old), *b = no_execute_of(node);
    if (!json_equal(a, b)) {
        enqueue_pods_on(s, node);
    }
    json_decref(a);
    json_decref(b);
}

static void on_node_delete(json_t *node, void *data)
{
    nlc_t *s = data;
    const char *name = ek_json_str(node, "metadata", "name", NULL);
    ek_event_record(s->m->events, node, "Normal", "RemovingNode",
                    "Node %s event: Removing Node %s from Controller", name, name);
    health_free(ek_map_del(&s->health, name));
    enqueue_pods_on(s, node);
}

static void on_pod_add(json_t *pod, void *data)
{
    nlc_t *s = data;
    if (ek_json_str(pod, "spec", "nodeName", NULL)) {
        ctrl_enqueue_obj(s->evict, pod);
    }
}

static void on_pod_update(json_t *old, json_t *pod, void *data)
{
    nlc_t *s = data;
    if (!ek_streq(ek_json_str(old, "spec", "nodeName", NULL),
                  ek_json_str(pod, "spec", "nodeName", NULL)) ||
        !json_equal(ek_json_path(old, "spec", "tolerations", NULL) ?: json_null(),
                    ek_json_path(pod, "spec", "tolerations", NULL) ?: json_null())) {
        ctrl_enqueue_obj(s->evict, pod);
    }
}

static void on_pod_delete(json_t *pod, void *data)
{
    nlc_t *s = data;
    ek_autofree char *key = obj_key(pod);
    ek_map_del(&s->scheduled, key);
}

static void nlc_free(void *state)
{
    nlc_t *s = state;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&s->health, &it, &k, &v)) {
        health_free(v);
    }
    ek_map_free(&s->health);
    ek_map_free(&s->zones);
    ek_map_free(&s->scheduled);
    free(s);
}

void nodelifecycle_controller_start(ctrl_manager_t *m)
{
    nlc_t *s = ek_new(nlc_t);
    s->m = m;
    s->node_res = res_of("", "v1", "nodes");
    s->pod_res = res_of("", "v1", "pods");
    s->nodes = mgr_informer(m, "", "v1", "nodes");
    s->leases = mgr_informer(m, "coordination.k8s.io", "v1", "leases");
    s->pods = mgr_informer(m, "", "v1", "pods");
    /* Kubernetes looks every 5 s against a 40 s grace; a shortened grace is looked at as
     * finely, relative to it. */
    s->period_ms = (uint64_t)EK_MAX(100, EK_MIN(5000, m->opts.node_monitor_grace_ms / 8));
    s->monitor = ctrl_new(m, "nodelifecycle-monitor", sync_monitor, s, 1);
    s->nodes_c = ctrl_new(m, "nodelifecycle", sync_node, s, 4);
    s->evict = ctrl_new(m, "taint-eviction", sync_pod, s, 8);
    static const ek_informer_handlers_t node_h = { on_node_add, on_node_update, on_node_delete,
                                                   NULL };
    static const ek_informer_handlers_t pod_h = { on_pod_add, on_pod_update, on_pod_delete, NULL };
    ek_informer_add_handlers(s->nodes, &node_h, s);
    ek_informer_add_handlers(s->pods, &pod_h, s);
    ctrl_enqueue(s->monitor, "all");
    mgr_own(m, s, nlc_free);
}
