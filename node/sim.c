/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simulated nodes: stand-ins for kubelets, so the control plane (scheduler, controllers, node
 * lifecycle) can be tested and benchmarked at scale without running containers. Each node is
 * a real Node object with a Lease renewed on a timer; pods bound to a simulated node get a
 * Running/Ready status whose message says the pod is simulated, and deleted pods are removed
 * at once (as a kubelet does when their containers are gone).
 */
#include <stdio.h>
#include <time.h>

#include "node/node.h"

#define STOP_ANNOTATION "edgek.io/simulate-heartbeat"

struct ek_simnodes {
    ek_api_client_t *client;
    ek_simnodes_options_t opts;
    ek_informer_t *pods;
    ek_informer_t *nodes;
    uv_timer_t lease_timer;
    uint64_t ticks;
    ek_map_t marked; /* pod uid → 1 once its status was written */
    void (*stop_cb)(void *);
    void *stop_data;
    bool stopping;
};

static const ek_resource_t *R(const char *group, const char *plural)
{
    return ek_resource_find(group, "v1", plural);
}

static void ignore(int status, json_t *body, const ek_error_t *err, void *data)
{
    EK_UNUSED(body);
    EK_UNUSED(data);
    if (err && status != 409 && status != 404) {
        EK_LOG(EK_DEBUG, "simnodes", "call failed status=%d err=\"%s\"", status, ek_error_msg(err));
    }
}

static bool is_ours(ek_simnodes_t *s, const char *node)
{
    size_t n = strlen(s->opts.prefix);
    return node && strncmp(node, s->opts.prefix, n) == 0 && node[n] == '-';
}

static json_t *node_object(ek_simnodes_t *s, const char *name, int i)
{
    char ip[32], ts[21];
    snprintf(ip, sizeof(ip), "10.255.%d.%d", (i / 250) % 250, i % 250 + 1);
    ek_time_rfc3339(time(NULL), ts);
    json_t *conds = json_array();
    const char *types[][3] = { { "MemoryPressure", "False", "KubeletHasSufficientMemory" },
                               { "DiskPressure", "False", "KubeletHasNoDiskPressure" },
                               { "PIDPressure", "False", "KubeletHasSufficientPID" },
                               { "Ready", "True", "KubeletReady" } };
    for (size_t k = 0; k < EK_ARRAY_SIZE(types); k++) {
        json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", types[k][0],
                                               "status", types[k][1], "reason", types[k][2],
                                               "message", "simulated node", "lastHeartbeatTime", ts,
                                               "lastTransitionTime", ts));
    }
    json_t *cap = json_pack("{s:s,s:s,s:s,s:s}", "cpu", s->opts.cpu, "memory", s->opts.memory,
                            "pods", s->opts.pods, "ephemeral-storage", "100Gi");
    return json_pack(
        "{s:s,s:s,s:{s:s,s:{s:s,s:s,s:s,s:s},s:{s:s}},s:{},"
        "s:{s:O,s:o,s:o,s:[{s:s,s:s},{s:s,s:s}],s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}}}",
        "apiVersion", "v1", "kind", "Node", "metadata", "name", name, "labels",
        "kubernetes.io/hostname", name, "kubernetes.io/os", "linux", "kubernetes.io/arch", "amd64",
        "node.kubernetes.io/instance-type", "edgek-simulated", "annotations", "edgek.io/simulated",
        "true", "spec", "status", "capacity", cap, "allocatable", cap, "conditions", conds,
        "addresses", "type", "InternalIP", "address", ip, "type", "Hostname", "address", name,
        "nodeInfo", "kubeletVersion", "v1.32.4-edgek-simulated", "kubeProxyVersion", "",
        "containerRuntimeVersion", "simulated://none", "osImage", "simulated", "kernelVersion",
        "simulated", "operatingSystem", "linux", "architecture", "amd64", "machineID", name);
}

/* Server-side apply of the whole Lease: creates it the first time (or after a deletion). */
static void apply_lease(ek_simnodes_t *s, const char *name)
{
    const ek_resource_t *leases = ek_resource_find("coordination.k8s.io", "v1", "leases");
    struct timespec now;
    ek_wall_now(&now);
    char micro[28];
    ek_time_rfc3339_micro(&now, micro);
    json_t *patch =
        json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s}}", "apiVersion", "coordination.k8s.io/v1",
                  "kind", "Lease", "metadata", "name", name, "namespace", "kube-node-lease", "spec",
                  "holderIdentity", name, "leaseDurationSeconds", 40, "renewTime", micro);
    ek_api_patch(s->client, leases, "kube-node-lease", name, EK_SUB_NONE, "apply:simnodes", patch,
                 ignore, NULL);
    json_decref(patch);
}

typedef struct renew_ctx {
    ek_simnodes_t *s;
    char name[128];
} renew_ctx_t;

static void on_renewed(int status, json_t *body, const ek_error_t *err, void *data)
{
    renew_ctx_t *r = data;
    EK_UNUSED(body);
    if (status == 404 && !r->s->stopping) {
        apply_lease(r->s, r->name);
    } else {
        ignore(status, body, err, NULL);
    }
    free(r);
}

/* A renewal is a merge patch of renewTime, much cheaper for the API server than an apply. */
static void renew_lease(ek_simnodes_t *s, const char *name)
{
    const ek_resource_t *leases = ek_resource_find("coordination.k8s.io", "v1", "leases");
    struct timespec now;
    ek_wall_now(&now);
    char micro[28];
    ek_time_rfc3339_micro(&now, micro);
    json_t *patch = json_pack("{s:{s:s}}", "spec", "renewTime", micro);
    renew_ctx_t *r = ek_new(renew_ctx_t);
    r->s = s;
    snprintf(r->name, sizeof(r->name), "%s", name);
    if (!ek_api_patch(s->client, leases, "kube-node-lease", name, EK_SUB_NONE, "merge", patch,
                      on_renewed, r)) {
        free(r); /* the client is being freed */
    }
    json_decref(patch);
}

static bool heartbeat_stopped(ek_simnodes_t *s, const char *name)
{
    json_t *node = ek_informer_get(s->nodes, NULL, name);
    return ek_streq(ek_json_str(node, "metadata", "annotations", STOP_ANNOTATION, NULL), "stop");
}

/* The timer ticks LEASE_SLICES times per lease period and renews one slice of the nodes each
 * time, so the renewals of a thousand nodes do not all land in the same loop turn. */
#define LEASE_SLICES 10

static void on_lease_timer(uv_timer_t *t)
{
    ek_simnodes_t *s = t->data;
    int slice = (int)(s->ticks++ % LEASE_SLICES);
    for (int i = slice; i < s->opts.count; i += LEASE_SLICES) {
        char name[128];
        snprintf(name, sizeof(name), "%s-%d", s->opts.prefix, i);
        if (!heartbeat_stopped(s, name)) {
            renew_lease(s, name);
        }
    }
}

/* Puts Ready back to True when the lifecycle controller marked the node Unknown while its
 * heartbeat was stopped. */
static void refresh_ready(ek_simnodes_t *s, const char *name)
{
    json_t *node = ek_informer_get(s->nodes, NULL, name);
    size_t i;
    json_t *c;
    bool ready = false;
    json_array_foreach (ek_json_path(node, "status", "conditions", NULL), i, c) {
        ready = ready || (ek_streq(ek_json_str(c, "type", NULL), "Ready") &&
                          ek_streq(ek_json_str(c, "status", NULL), "True"));
    }
    if (!node || ready) {
        return;
    }
    char ts[21];
    ek_time_rfc3339(time(NULL), ts);
    json_t *patch = json_pack("{s:{s:[{s:s,s:s,s:s,s:s,s:s,s:s}]}}", "status", "conditions", "type",
                              "Ready", "status", "True", "reason", "KubeletReady", "message",
                              "simulated node", "lastHeartbeatTime", ts, "lastTransitionTime", ts);
    ek_api_patch(s->client, R("", "nodes"), NULL, name, EK_SUB_STATUS, "strategic", patch, ignore,
                 NULL);
    json_decref(patch);
}

static void on_node_change(json_t *old, json_t *node, void *data)
{
    ek_simnodes_t *s = data;
    EK_UNUSED(old);
    const char *name = ek_json_str(node, "metadata", "name", NULL);
    if (is_ours(s, name) && !heartbeat_stopped(s, name)) {
        refresh_ready(s, name);
    }
}

static void on_node_add(json_t *node, void *data)
{
    on_node_change(NULL, node, data);
}

static json_t *running_status(const json_t *pod, const char *node_ip)
{
    char ts[21], ip[32];
    ek_time_rfc3339(time(NULL), ts);
    const char *uid = ek_json_str(pod, "metadata", "uid", NULL);
    /* A stable fake pod address from the uid, in a range no real network uses here. */
    uint64_t h = ek_hash_str(uid ? uid : "");
    snprintf(ip, sizeof(ip), "10.254.%u.%u", (unsigned)(h >> 8) % 250, (unsigned)h % 250 + 1);
    json_t *statuses = json_array();
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(pod, "spec", "containers", NULL), i, c) {
        json_array_append_new(statuses,
                              json_pack("{s:s,s:b,s:b,s:i,s:{s:{s:s}},s:s,s:s,s:s}", "name",
                                        ek_json_str(c, "name", NULL), "ready", 1, "started", 1,
                                        "restartCount", 0, "state", "running", "startedAt", ts,
                                        "image", ek_json_str(c, "image", NULL) ?: "", "imageID",
                                        "simulated", "containerID", "simulated://none"));
    }
    json_t *conds = json_array();
    const char *types[] = { "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                            "PodScheduled" };
    for (size_t k = 0; k < EK_ARRAY_SIZE(types); k++) {
        json_array_append_new(conds, json_pack("{s:s,s:s,s:n,s:s}", "type", types[k], "status",
                                               "True", "lastProbeTime", "lastTransitionTime", ts));
    }
    return json_pack("{s:s,s:o,s:s,s:[{s:s}],s:s,s:[{s:s}],s:s,s:o,s:s,s:s}", "phase", "Running",
                     "conditions", conds, "hostIP", node_ip, "hostIPs", "ip", node_ip, "podIP", ip,
                     "podIPs", "ip", ip, "startTime", ts, "containerStatuses", statuses, "qosClass",
                     ek_json_str(pod, "status", "qosClass", NULL) ?: "BestEffort", "message",
                     "simulated by edgek: no containers run on this node");
}

static void on_pod(json_t *old, json_t *pod, void *data)
{
    ek_simnodes_t *s = data;
    EK_UNUSED(old);
    const char *node = ek_json_str(pod, "spec", "nodeName", NULL);
    if (!is_ours(s, node) || s->stopping) {
        return;
    }
    const char *ns = ek_json_str(pod, "metadata", "namespace", NULL);
    const char *name = ek_json_str(pod, "metadata", "name", NULL);
    const char *uid = ek_json_str(pod, "metadata", "uid", NULL);
    if (ek_json_str(pod, "metadata", "deletionTimestamp", NULL)) {
        json_t *opts =
            json_pack("{s:i,s:{s:s}}", "gracePeriodSeconds", 0, "preconditions", "uid", uid);
        ek_api_delete(s->client, R("", "pods"), ns, name, opts, ignore, NULL);
        json_decref(opts);
        return;
    }
    if (ek_map_get(&s->marked, uid) ||
        ek_streq(ek_json_str(pod, "status", "phase", NULL), "Running")) {
        return;
    }
    json_t *nodeobj = ek_informer_get(s->nodes, NULL, node);
    const char *node_ip = NULL;
    size_t i;
    json_t *a;
    json_array_foreach (ek_json_path(nodeobj, "status", "addresses", NULL), i, a) {
        if (ek_streq(ek_json_str(a, "type", NULL), "InternalIP")) {
            node_ip = ek_json_str(a, "address", NULL);
        }
    }
    json_t *patch = json_pack("{s:o}", "status", running_status(pod, node_ip ? node_ip : ""));
    ek_api_patch(s->client, R("", "pods"), ns, name, EK_SUB_STATUS, "merge", patch, ignore, NULL);
    json_decref(patch);
    ek_map_put(&s->marked, uid, (void *)1);
}

static void on_pod_add(json_t *pod, void *data)
{
    on_pod(NULL, pod, data);
}

static void on_pod_delete(json_t *pod, void *data)
{
    ek_simnodes_t *s = data;
    const char *uid = ek_json_str(pod, "metadata", "uid", NULL);
    if (uid) {
        ek_map_del(&s->marked, uid);
    }
}

int ek_simnodes_start(ek_api_client_t *client, const ek_simnodes_options_t *opts,
                      ek_simnodes_t **out, ek_error_t **err)
{
    EK_UNUSED(err);
    ek_simnodes_t *s = ek_new(ek_simnodes_t);
    s->client = client;
    s->opts = *opts;
    s->opts.prefix = opts->prefix ? opts->prefix : "sim";
    s->opts.cpu = opts->cpu ? opts->cpu : "4";
    s->opts.memory = opts->memory ? opts->memory : "8Gi";
    s->opts.pods = opts->pods ? opts->pods : "110";
    s->opts.lease_ms = opts->lease_ms ? opts->lease_ms : 10000;
    for (int i = 0; i < s->opts.count; i++) {
        char name[128];
        snprintf(name, sizeof(name), "%s-%d", s->opts.prefix, i);
        json_t *node = node_object(s, name, i);
        ek_api_create(client, R("", "nodes"), NULL, node, ignore, NULL);
        json_decref(node);
        apply_lease(s, name);
    }
    s->nodes = ek_informer_new(client, R("", "nodes"), NULL, NULL, NULL, 0);
    s->pods = ek_informer_new(client, R("", "pods"), NULL, NULL, NULL, 0);
    static const ek_informer_handlers_t nh = { on_node_add, on_node_change, NULL, NULL };
    static const ek_informer_handlers_t ph = { on_pod_add, on_pod, on_pod_delete, NULL };
    ek_informer_add_handlers(s->nodes, &nh, s);
    ek_informer_add_handlers(s->pods, &ph, s);
    ek_informer_start(s->nodes);
    ek_informer_start(s->pods);
    uv_timer_init(ek_api_client_loop(client), &s->lease_timer);
    s->lease_timer.data = s;
    uint64_t tick = EK_MAX(1, (uint64_t)s->opts.lease_ms / LEASE_SLICES);
    uv_timer_start(&s->lease_timer, on_lease_timer, tick, tick);
    EK_LOG(EK_INFO, "simnodes", "simulated nodes registered count=%d prefix=%s", s->opts.count,
           s->opts.prefix);
    *out = s;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    ek_simnodes_t *s = h->data;
    void (*cb)(void *) = s->stop_cb;
    void *data = s->stop_data;
    ek_map_free(&s->marked);
    free(s);
    if (cb) {
        cb(data);
    }
}

static void on_client_freed(void *data)
{
    ek_simnodes_t *s = data;
    uv_close((uv_handle_t *)&s->lease_timer, on_timer_closed);
}

void ek_simnodes_stop(ek_simnodes_t *s, void (*cb)(void *data), void *data)
{
    s->stopping = true;
    s->stop_cb = cb;
    s->stop_data = data;
    uv_timer_stop(&s->lease_timer);
    ek_informer_free(s->pods);
    ek_informer_free(s->nodes);
    ek_api_client_free(s->client, on_client_freed, s);
}
