/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node as the API sees it: the Node object (labels, capacity and allocatable from the
 * machine, addresses, node info, the kubelet endpoint's port, the images in the store),
 * registered once and then updated through the status subresource only when something other
 * than heartbeat times changed, or every 5 minutes; the Lease in kube-node-lease renewed every
 * 10 s (the API server keeps renewals in memory: no disk write per renewal). When the node
 * controller gives the Node a podCIDR, the pod network is set up for it on a worker and the
 * pods waiting for a network are synced.
 */
#include <stdio.h>
#include <sys/utsname.h>
#include <time.h>

#include "node/kubelet-internal.h"

const char *ek__kl_node_ip(const ek_kubelet_t *kl)
{
    return kl->node_ip;
}

static void quiet_done(int status, json_t *body, const ek_error_t *err, void *data)
{
    ek_kubelet_t *kl = data;
    EK_UNUSED(body);
    if (err && status != 409 && status != 0) {
        EK_LOG(EK_DEBUG, "kubelet", "node call failed status=%d err=\"%s\"", status,
               ek_error_msg(err));
    }
    ek__kl_call_end(kl);
}

static const char *arch(void)
{
    const char *p = ek_image_node_platform(); /* "linux/arm/v7" */
    static char buf[32];
    const char *a = strchr(p, '/');
    snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(a ? a + 1 : p, "/"), a ? a + 1 : p);
    return buf;
}

static json_t *node_labels(const ek_kubelet_t *kl)
{
    json_t *l = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kubernetes.io/hostname", kl->node_name,
                          "kubernetes.io/os", "linux", "kubernetes.io/arch", arch(),
                          "beta.kubernetes.io/os", "linux", "beta.kubernetes.io/arch", arch(),
                          "node.kubernetes.io/instance-type", "edgek");
    if (kl->control_plane) {
        ek_json_set_str(l, "node-role.kubernetes.io/control-plane", "true");
        ek_json_set_str(l, "node-role.kubernetes.io/master", "true");
    }
    for (size_t i = 0; i < kl->node_labels.n; i++) {
        const char *kv = kl->node_labels.v[i];
        const char *eq = strchr(kv, '=');
        ek_autofree char *k = ek_xstrndup(kv, eq ? (size_t)(eq - kv) : strlen(kv));
        ek_json_set_str(l, k, eq ? eq + 1 : "");
    }
    return l;
}

json_t *ek_agent_taint_parse(const char *s, ek_error_t **err)
{
    const char *colon = strrchr(s, ':');
    static const char *const effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute" };
    bool known = false;
    for (size_t i = 0; colon && i < EK_ARRAY_SIZE(effects); i++) {
        known = known || strcmp(colon + 1, effects[i]) == 0;
    }
    if (!colon || colon == s || !known) {
        ek_error_make(err, 0,
                      "invalid taint `%s`: want key[=value]:Effect with Effect NoSchedule, "
                      "PreferNoSchedule or NoExecute",
                      s);
        return NULL;
    }
    const char *eq = memchr(s, '=', (size_t)(colon - s));
    ek_autofree char *key = ek_xstrndup(s, (size_t)((eq ? eq : colon) - s));
    json_t *t = json_pack("{s:s,s:s}", "key", key, "effect", colon + 1);
    if (eq && eq + 1 < colon) {
        ek_autofree char *value = ek_xstrndup(eq + 1, (size_t)(colon - eq - 1));
        ek_json_set_str(t, "value", value);
    }
    return t;
}

/* spec at registration: the --node-taint taints (a node may not change them later). */
static json_t *node_spec(const ek_kubelet_t *kl)
{
    json_t *spec = json_object();
    if (kl->node_taints.n) {
        json_t *taints = json_array();
        for (size_t i = 0; i < kl->node_taints.n; i++) {
            json_t *t = ek_agent_taint_parse(kl->node_taints.v[i], NULL);
            if (t) {
                json_array_append_new(taints, t);
            }
        }
        json_object_set_new(spec, "taints", taints);
    }
    return spec;
}

static json_t *node_addresses(const ek_kubelet_t *kl)
{
    json_t *a = json_pack("[{s:s,s:s}]", "type", "InternalIP", "address", kl->node_ip);
    for (size_t i = 0; i < kl->external_ips.n; i++) {
        json_array_append_new(
            a, json_pack("{s:s,s:s}", "type", "ExternalIP", "address", kl->external_ips.v[i]));
    }
    json_array_append_new(a, json_pack("{s:s,s:s}", "type", "Hostname", "address", kl->hostname));
    return a;
}

static char *os_image(void)
{
    ek_autofree char *osr = ek_file_read("/etc/os-release", 65536, NULL, NULL);
    const char *p = osr ? strstr(osr, "PRETTY_NAME=") : NULL;
    if (!p) {
        return ek_xstrdup("Linux");
    }
    p += 12;
    bool q = *p == '"';
    p += q;
    return ek_xstrndup(p, strcspn(p, q ? "\"" : "\n"));
}

static char *first_line(const char *path)
{
    ek_autofree char *s = ek_file_read(path, 4096, NULL, NULL);
    return ek_xstrndup(s ? s : "", s ? strcspn(s, "\n") : 0);
}

static json_t *node_info(void)
{
    struct utsname u;
    uname(&u);
    ek_autofree char *osimg = os_image();
    ek_autofree char *mid = first_line("/etc/machine-id");
    ek_autofree char *boot = first_line("/proc/sys/kernel/random/boot_id");
    ek_autofree char *uuid = first_line("/sys/class/dmi/id/product_uuid");
    ek_autofree char *kv = ek_xasprintf("%s+edgek", ek_kube_version);
    ek_autofree char *rv = ek_xasprintf("edgek://%s", ek_version);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "machineID", mid, "systemUUID",
                     *uuid ? uuid : mid, "bootID", boot, "kernelVersion", u.release, "osImage",
                     osimg, "containerRuntimeVersion", rv, "kubeletVersion", kv, "kubeProxyVersion",
                     "", "operatingSystem", "linux", "architecture", arch());
}

static json_t *images(ek_kubelet_t *kl)
{
    json_t *out = json_array();
    size_t n = 0;
    ek_image_info_t **list = ek_image_list(kl->images, &n, NULL);
    for (size_t i = 0; i < n; i++) {
        ek_image_info_t *im = list[i];
        json_t *names = json_array();
        if (im->n_names && im->digest) {
            const char *nm = im->names[0];
            const char *slash = strrchr(nm, '/');
            const char *colon = strrchr(slash ? slash : nm, ':');
            int len = colon ? (int)(colon - nm) : (int)strlen(nm);
            json_array_append_new(names, json_sprintf("%.*s@%s", len, nm, im->digest));
        }
        for (size_t k = 0; k < im->n_names; k++) {
            json_array_append_new(names, json_string(im->names[k]));
        }
        json_array_append_new(
            out, json_pack("{s:o,s:I}", "names", names, "sizeBytes", (json_int_t)im->size));
        ek_image_info_free(im);
    }
    free(list);
    return out;
}

static json_t *resources(const ek_kubelet_t *kl, bool allocatable)
{
    /* Allocatable keeps the kubelet's default hard eviction threshold for memory aside. */
    int64_t mem = kl->memory - (allocatable ? 100 * 1024 * 1024 : 0);
    char cpu[32], m[32], pods[32], eph[32];
    snprintf(cpu, sizeof(cpu), "%lld", (long long)(kl->cpu_milli / 1000));
    snprintf(m, sizeof(m), "%lldKi", (long long)(mem / 1024));
    snprintf(pods, sizeof(pods), "%d", kl->max_pods);
    snprintf(eph, sizeof(eph), "%lldKi", (long long)(kl->storage / 1024));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "cpu", cpu, "memory", m, "pods", pods,
                     "ephemeral-storage", eph, "hugepages-1Gi", "0", "hugepages-2Mi", "0");
}

static json_t *node_condition(const char *type, bool ok, const char *reason, const char *msg,
                              const json_t *prev, const char *now)
{
    const char *was = NULL;
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(prev, "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), type) &&
            ek_streq(ek_json_str(c, "status", NULL), ok ? "True" : "False")) {
            was = ek_json_str(c, "lastTransitionTime", NULL);
        }
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", ok ? "True" : "False",
                     "reason", reason, "message", msg, "lastHeartbeatTime", now,
                     "lastTransitionTime", was ? was : now);
}

static json_t *node_status(ek_kubelet_t *kl)
{
    char now[21];
    ek_time_rfc3339(time(NULL), now);
    const json_t *prev = kl->node_sent;
    json_t *conds = json_array();
    static const char *const pressure[] = { "MemoryPressure", "DiskPressure", "PIDPressure" };
    for (int i = 0; i < 3; i++) {
        const char *reason, *msg;
        bool on = ek__kl_pressure(kl, i, &reason, &msg); /* kubelet_evict.c */
        json_array_append_new(conds, node_condition(pressure[i], on, reason, msg, prev, now));
    }
    if (kl->net_ready) {
        json_array_append_new(conds, node_condition("Ready", true, "KubeletReady",
                                                    "kubelet is posting ready status", prev, now));
    } else {
        ek_autofree char *msg =
            ek_xasprintf("container runtime network not ready: NetworkReady=false "
                         "reason:NetworkPluginNotReady message:%s",
                         kl->net_error ? kl->net_error : "the node has no pod CIDR yet");
        json_array_append_new(conds,
                              node_condition("Ready", false, "KubeletNotReady", msg, prev, now));
    }
    return json_pack("{s:o,s:o,s:o,s:o,s:{s:{s:i}},s:o,s:o}", "capacity", resources(kl, false),
                     "allocatable", resources(kl, true), "conditions", conds, "addresses",
                     node_addresses(kl), "daemonEndpoints", "kubeletEndpoint", "Port", kl->port,
                     "nodeInfo", node_info(), "images", images(kl));
}

/* Equal but for heartbeat times: no write needed before the report period ends. */
static bool only_heartbeat(const json_t *a, const json_t *b)
{
    if (!a || !b) {
        return false;
    }
    ek_auto(json_t) x = json_deep_copy(a);
    ek_auto(json_t) y = json_deep_copy(b);
    json_t *both[2] = { x, y };
    for (int k = 0; k < 2; k++) {
        size_t i;
        json_t *c;
        json_array_foreach (json_object_get(both[k], "conditions"), i, c) {
            json_object_del(c, "lastHeartbeatTime");
        }
    }
    return json_equal(x, y);
}

static void send_node_status(ek_kubelet_t *kl, bool force);

static void status_done(int status, json_t *body, const ek_error_t *err, void *data)
{
    ek_kubelet_t *kl = data;
    EK_UNUSED(body);
    kl->node_busy = false;
    if (err) {
        EK_LOG(EK_WARN, "kubelet", "node status not written status=%d err=\"%s\"", status,
               ek_error_msg(err));
        json_decref(kl->node_sent);
        kl->node_sent = NULL;
    }
    if (kl->node_again && !kl->stopping) {
        /* What changed meanwhile (the pod network turning ready) goes out now, not at the
         * next heartbeat. */
        kl->node_again = false;
        send_node_status(kl, false);
    }
    ek__kl_call_end(kl);
}

static void send_node_status(ek_kubelet_t *kl, bool force)
{
    if (kl->node_busy) {
        kl->node_again = true;
        return;
    }
    if (!kl->registered || kl->stopping) {
        return;
    }
    json_t *st = node_status(kl);
    int64_t now = ek_wall_ms();
    if (!force && only_heartbeat(st, kl->node_sent) &&
        now - kl->node_sent_at < EK__KL_STATUS_REPORT_MS) {
        json_decref(st);
        return;
    }
    json_decref(kl->node_sent);
    kl->node_sent = json_incref(st);
    kl->node_sent_at = now;
    kl->node_busy = true;
    json_t *patch = json_pack("{s:o}", "status", st);
    ek__kl_call_begin(kl);
    ek_api_patch(kl->client, ek__kl_res("", "nodes"), NULL, kl->node_name, EK_SUB_STATUS, "merge",
                 patch, status_done, kl);
    json_decref(patch);
}

static void renew_lease(ek_kubelet_t *kl)
{
    struct timespec ts;
    ek_wall_now(&ts);
    char micro[28];
    ek_time_rfc3339_micro(&ts, micro);
    json_t *lease = json_pack(
        "{s:s,s:s,s:{s:s,s:s},s:{s:s,s:i,s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind",
        "Lease", "metadata", "name", kl->node_name, "namespace", "kube-node-lease", "spec",
        "holderIdentity", kl->node_name, "leaseDurationSeconds", 40, "renewTime", micro);
    json_t *node = ek_informer_get(kl->node, NULL, kl->node_name);
    const char *uid = ek_json_str(node, "metadata", "uid", NULL);
    if (uid) {
        json_object_set_new(json_object_get(lease, "metadata"), "ownerReferences",
                            json_pack("[{s:s,s:s,s:s,s:s}]", "apiVersion", "v1", "kind", "Node",
                                      "name", kl->node_name, "uid", uid));
    }
    ek__kl_call_begin(kl);
    ek_api_patch(kl->client, ek__kl_res("coordination.k8s.io", "leases"), "kube-node-lease",
                 kl->node_name, EK_SUB_NONE, "apply:kubelet", lease, quiet_done, kl);
    json_decref(lease);
}

static void node_event(ek_kubelet_t *kl, const char *type, const char *reason, const char *msg)
{
    json_t *ref = json_pack("{s:s,s:s,s:{s:s,s:s}}", "kind", "Node", "apiVersion", "v1", "metadata",
                            "name", kl->node_name, "uid", kl->node_name);
    ek_event_record(kl->rec, ref, type, reason, "%s", msg);
    json_decref(ref);
}

static void registered(int status, json_t *body, const ek_error_t *err, void *data)
{
    ek_kubelet_t *kl = data;
    EK_UNUSED(body);
    kl->registering = false;
    if (err && status != 409) {
        EK_LOG(EK_WARN, "kubelet", "node registration failed status=%d err=\"%s\"", status,
               ek_error_msg(err));
    } else if (!kl->stopping) {
        kl->registered = true;
        EK_LOG(EK_INFO, "kubelet", "node registered node=%s", kl->node_name);
        node_event(kl, "Normal", "Starting", "Starting kubelet.");
        send_node_status(kl, true);
        renew_lease(kl);
    }
    ek__kl_call_end(kl);
}

static void existing_patched(int status, json_t *body, const ek_error_t *err, void *data)
{
    registered(status == 404 ? 500 : status, body, err, data);
}

static void created(int status, json_t *body, const ek_error_t *err, void *data)
{
    ek_kubelet_t *kl = data;
    if (status != 409 || kl->stopping) {
        registered(status, body, err, data);
        return;
    }
    /* A Node of this name exists (an agent restart): our labels go onto it. */
    json_t *patch = json_pack("{s:{s:o}}", "metadata", "labels", node_labels(kl));
    ek_api_patch(kl->client, ek__kl_res("", "nodes"), NULL, kl->node_name, EK_SUB_NONE, "merge",
                 patch, existing_patched, kl);
    json_decref(patch);
}

static void register_node(ek_kubelet_t *kl)
{
    kl->registering = true;
    json_t *node = json_pack("{s:s,s:s,s:{s:s,s:o,s:{s:s,s:s}},s:o,s:o}", "apiVersion", "v1",
                             "kind", "Node", "metadata", "name", kl->node_name, "labels",
                             node_labels(kl), "annotations", "node.alpha.kubernetes.io/ttl", "0",
                             "volumes.kubernetes.io/controller-managed-attach-detach", "true",
                             "spec", node_spec(kl), "status", node_status(kl));
    ek__kl_call_begin(kl);
    ek_api_create(kl->client, ek__kl_res("", "nodes"), NULL, node, created, kl);
    json_decref(node);
}

static void on_lease_timer(uv_timer_t *t)
{
    ek_kubelet_t *kl = t->data;
    if (kl->stopping) {
        return;
    }
    if (!kl->registered) {
        if (!kl->registering) {
            register_node(kl);
        }
        return;
    }
    renew_lease(kl);
    send_node_status(kl, false);
    ek__kl_routes_retry(kl);
}

/* ---- the pod network ---- */

struct net_job {
    kl_job_t j;
    char *cidr;
    ek_strlist_t live;
    ek_podnet_t *pn;
    char mac[18]; /* the VTEP's (VXLAN) */
};

static void net_run(kl_job_t *j)
{
    struct net_job *n = ek_container_of(j, struct net_job, j);
    ek_kubelet_t *kl = j->kl;
    ek_podnet_config_t cfg = { .data_dir = kl->data_dir,
                               .cluster_cidr = kl->cluster_cidr,
                               .node_cidr = n->cidr,
                               .node_ip = kl->node_ip,
                               .backend = kl->backend,
                               .netns_fd = -1,
                               .cluster_dns = kl->cluster_dns };
    n->pn = ek_podnet_open(&cfg, &j->err);
    if (!n->pn || ek_podnet_setup(n->pn, &j->err) < 0 ||
        ek_podnet_reconcile(n->pn, (const char *const *)n->live.v, n->live.n, &j->err) < 0) {
        if (n->pn) {
            ek_podnet_close(n->pn);
            n->pn = NULL;
        }
        return;
    }
    uint8_t mac[6];
    if (kl->backend == EK_PODNET_VXLAN && ek_podnet_vtep_mac(n->pn, mac, &j->err) == 0) {
        ek_mac_format(mac, n->mac);
    }
    if (j->err) {
        ek_podnet_close(n->pn);
        n->pn = NULL;
    }
}

static void vtep_patched(int status, json_t *body, const ek_error_t *err, void *data)
{
    ek_kubelet_t *kl = data;
    EK_UNUSED(body);
    kl->vtep_patching = false;
    if (err) {
        EK_LOG(EK_WARN, "kubelet", "publishing the VTEP MAC failed status=%d err=\"%s\"", status,
               ek_error_msg(err));
    }
    ek__kl_call_end(kl);
}

/* VXLAN: the Node's edgek.io/vtep-mac annotation says this node's VTEP MAC (other nodes'
 * FDB and neighbour entries point there). Written when it differs. */
static void publish_vtep(ek_kubelet_t *kl)
{
    if (!kl->vtep_mac[0] || kl->vtep_patching || kl->stopping || !kl->registered) {
        return;
    }
    json_t *node = ek_informer_get(kl->node, NULL, kl->node_name);
    if (!node ||
        ek_streq(ek_json_str(node, "metadata", "annotations", EK_VTEP_MAC_ANNOTATION, NULL),
                 kl->vtep_mac)) {
        return;
    }
    kl->vtep_patching = true;
    json_t *patch =
        json_pack("{s:{s:{s:s}}}", "metadata", "annotations", EK_VTEP_MAC_ANNOTATION, kl->vtep_mac);
    ek__kl_call_begin(kl);
    ek_api_patch(kl->client, ek__kl_res("", "nodes"), NULL, kl->node_name, EK_SUB_NONE, "merge",
                 patch, vtep_patched, kl);
    json_decref(patch);
}

static void net_done(kl_job_t *j)
{
    struct net_job *n = ek_container_of(j, struct net_job, j);
    ek_kubelet_t *kl = j->kl;
    kl->net_busy = false;
    if (j->err) {
        EK_LOG(EK_WARN, "kubelet", "pod network setup failed cidr=%s err=\"%s\"", n->cidr,
               ek_error_msg(j->err));
        free(kl->net_error);
        kl->net_error = ek_xstrdup(ek_error_msg(j->err));
        ek_error_free(j->err);
    } else {
        uv_mutex_lock(&kl->net_mu);
        if (kl->net) {
            ek_podnet_close(kl->net);
        }
        kl->net = n->pn;
        uv_mutex_unlock(&kl->net_mu);
        free(kl->pod_cidr);
        kl->pod_cidr = ek_xstrdup(n->cidr);
        kl->net_ready = true;
        snprintf(kl->vtep_mac, sizeof(kl->vtep_mac), "%s", n->mac);
        EK_LOG(EK_INFO, "kubelet", "pod network ready cidr=%s backend=%s%s%s", n->cidr,
               ek_podnet_backend_name(kl->backend), n->mac[0] ? " vtep-mac=" : "", n->mac);
        ek__kl_dns_net_ready(kl, ek_podnet_gateway(kl->net));
        if (!kl->stopping) {
            send_node_status(kl, false);
            ek__kl_sync_all(kl);
            publish_vtep(kl);
            ek__kl_routes_sync(kl);
        }
    }
    free(n->cidr);
    ek_strlist_free(&n->live);
    free(n);
}

void ek__kl_node_changed(ek_kubelet_t *kl)
{
    publish_vtep(kl);
    json_t *node = ek_informer_get(kl->node, NULL, kl->node_name);
    if (!node) {
        node = ek__kl_cache_node_get(kl); /* started without the API server (kubelet_cache.c) */
    }
    const char *cidr = ek_json_str(node, "spec", "podCIDR", NULL);
    if (!cidr || !kl->adopted || kl->net_busy || kl->stopping || ek_streq(cidr, kl->pod_cidr)) {
        return;
    }
    kl->net_busy = true;
    struct net_job *n = ek_new(struct net_job);
    n->j.run = net_run;
    n->j.done = net_done;
    n->cidr = ek_xstrdup(cidr);
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->by_uid, &it, &k, &v)) {
        kl_pod_t *p = v;
        if (p->rt && !p->torn_down) {
            ek_strlist_add(&n->live, k);
        }
    }
    ek__kl_job_queue(kl, &n->j);
}

static void timer_closed(uv_handle_t *h)
{
    ek_kubelet_t *kl = h->data;
    kl->closing--;
    ek__kl_maybe_finish_stop(kl);
}

int ek__kl_node_start(ek_kubelet_t *kl, ek_error_t **err)
{
    EK_UNUSED(err);
    uv_timer_init(kl->loop, &kl->lease_timer);
    kl->lease_timer.data = kl;
    kl->lease_on = true;
    kl->closing++;
    uv_timer_start(&kl->lease_timer, on_lease_timer, 0, (uint64_t)kl->lease_ms);
    return 0;
}

void ek__kl_node_stop(ek_kubelet_t *kl)
{
    if (kl->lease_on) {
        kl->lease_on = false;
        uv_timer_stop(&kl->lease_timer);
        uv_close((uv_handle_t *)&kl->lease_timer, timer_closed);
    }
}
