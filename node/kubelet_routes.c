/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cross-node pod routing (--pod-network-backend), flannel's job in k3s: the agent watches every
 * Node (through the node services' identity: a node's own may read only its Node) and, for
 * each other node with a spec.podCIDR, an InternalIP and (VXLAN) the VTEP MAC it published in
 * its edgek.io/vtep-mac annotation, programs the remote entry (ek_podnet_remote_add: a route via
 * the node's address for host-gw; route, neighbour and FDB entry for VXLAN). Entries follow
 * the Nodes: a changed CIDR, address or MAC replaces the entry, a deleted Node removes it. The
 * netlink work runs on a worker, one batch at a time; what failed is retried on the next Node
 * event or lease tick. With `none` nothing is programmed. All nodes must use one backend.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "node/kubelet-internal.h"

typedef struct route_op {
    char *node;
    bool add;
    bool ok;
    ek_podnet_remote_t r;
} route_op_t;

struct route_job {
    kl_job_t j;
    route_op_t *ops;
    size_t n;
};

static ek_podnet_remote_t *dup_remote(const ek_podnet_remote_t *r)
{
    ek_podnet_remote_t *d = ek_new(ek_podnet_remote_t);
    *d = *r;
    return d;
}

static void route_run(kl_job_t *j)
{
    struct route_job *rj = ek_container_of(j, struct route_job, j);
    ek_kubelet_t *kl = j->kl;
    uv_mutex_lock(&kl->net_mu);
    for (size_t i = 0; i < rj->n; i++) {
        route_op_t *op = &rj->ops[i];
        ek_error_t *err = NULL;
        if (!kl->net) {
            break;
        }
        int rc = op->add ? ek_podnet_remote_add(kl->net, &op->r, &err)
                         : ek_podnet_remote_del(kl->net, &op->r, &err);
        op->ok = rc == 0;
        if (err) {
            char net[INET_ADDRSTRLEN], ip[INET_ADDRSTRLEN];
            EK_LOG(EK_WARN, "kubelet", "pod route %s failed node=%s cidr=%s/%d via=%s err=\"%s\"",
                   op->add ? "add" : "delete", op->node,
                   inet_ntop(AF_INET, &op->r.pod_net, net, sizeof(net)), op->r.pod_prefix,
                   inet_ntop(AF_INET, &op->r.node_ip, ip, sizeof(ip)), ek_error_msg(err));
            ek_error_free(err);
        }
    }
    uv_mutex_unlock(&kl->net_mu);
}

static void route_done(kl_job_t *j)
{
    struct route_job *rj = ek_container_of(j, struct route_job, j);
    ek_kubelet_t *kl = j->kl;
    kl->routes_busy = false;
    for (size_t i = 0; i < rj->n; i++) {
        route_op_t *op = &rj->ops[i];
        if (!op->ok) {
            kl->routes_failed = true;
        } else if (op->add) {
            char net[INET_ADDRSTRLEN], ip[INET_ADDRSTRLEN];
            EK_LOG(EK_INFO, "kubelet", "pod route added node=%s cidr=%s/%d via=%s backend=%s",
                   op->node, inet_ntop(AF_INET, &op->r.pod_net, net, sizeof(net)), op->r.pod_prefix,
                   inet_ntop(AF_INET, &op->r.node_ip, ip, sizeof(ip)),
                   ek_podnet_backend_name(kl->backend));
            free(ek_map_put(&kl->routes, op->node, dup_remote(&op->r)));
        } else {
            EK_LOG(EK_INFO, "kubelet", "pod route removed node=%s", op->node);
            free(ek_map_del(&kl->routes, op->node));
        }
        free(op->node);
    }
    free(rj->ops);
    free(rj);
    if (kl->routes_dirty && !kl->stopping) {
        ek__kl_routes_sync(kl);
    }
}

/* What a Node asks for; false when it is incomplete (no CIDR, address or MAC yet). */
static bool wanted(const ek_kubelet_t *kl, const json_t *node, ek_podnet_remote_t *r)
{
    memset(r, 0, sizeof(*r));
    const char *cidr = ek_json_str(node, "spec", "podCIDR", NULL);
    if (!cidr || ek_cidr_parse(cidr, &r->pod_net, &r->pod_prefix, NULL) < 0) {
        return false;
    }
    const char *ip = NULL;
    size_t i;
    json_t *a;
    json_array_foreach (ek_json_path(node, "status", "addresses", NULL), i, a) {
        if (!ip && ek_streq(ek_json_str(a, "type", NULL), "InternalIP")) {
            ip = ek_json_str(a, "address", NULL);
        }
    }
    if (!ip || inet_pton(AF_INET, ip, &r->node_ip) != 1) {
        return false;
    }
    if (kl->backend == EK_PODNET_VXLAN) {
        const char *mac =
            ek_json_str(node, "metadata", "annotations", EK_VTEP_MAC_ANNOTATION, NULL);
        return mac && ek_mac_parse(mac, r->vtep_mac) == 0;
    }
    return true;
}

static bool same(const ek_podnet_remote_t *a, const ek_podnet_remote_t *b)
{
    return a->pod_net.s_addr == b->pod_net.s_addr && a->pod_prefix == b->pod_prefix &&
           a->node_ip.s_addr == b->node_ip.s_addr && memcmp(a->vtep_mac, b->vtep_mac, 6) == 0;
}

struct plan {
    ek_kubelet_t *kl;
    ek_map_t want; /* node name → ek_podnet_remote_t */
};

static void collect(json_t *node, void *data)
{
    struct plan *p = data;
    const char *name = ek_json_str(node, "metadata", "name", NULL);
    ek_podnet_remote_t r;
    if (name && !ek_streq(name, p->kl->node_name) && wanted(p->kl, node, &r)) {
        free(ek_map_put(&p->want, name, dup_remote(&r)));
    }
}

static void push(struct route_job *rj, const char *node, bool add, const ek_podnet_remote_t *r)
{
    rj->ops = ek_xrealloc(rj->ops, (rj->n + 1) * sizeof(*rj->ops));
    rj->ops[rj->n++] = (route_op_t){ .node = ek_xstrdup(node), .add = add, .r = *r };
}

void ek__kl_routes_sync(ek_kubelet_t *kl)
{
    kl->routes_dirty = true;
    if (kl->backend == EK_PODNET_NONE || !kl->all_nodes || !kl->net_ready || kl->routes_busy ||
        kl->stopping || !ek_informer_synced(kl->all_nodes)) {
        return;
    }
    kl->routes_dirty = false;
    kl->routes_failed = false;
    struct plan p = { .kl = kl };
    ek_informer_each(kl->all_nodes, collect, &p);
    struct route_job *rj = ek_new(struct route_job);
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->routes, &it, &k, &v)) {
        ek_podnet_remote_t *w = ek_map_get(&p.want, k);
        if (!w || !same(w, v)) {
            push(rj, k, false, v);
        }
    }
    it = 0;
    while (ek_map_next(&p.want, &it, &k, &v)) {
        ek_podnet_remote_t *have = ek_map_get(&kl->routes, k);
        if (!have || !same(have, v)) {
            push(rj, k, true, v);
        }
        free(v);
    }
    ek_map_free(&p.want);
    if (!rj->n) {
        free(rj);
        return;
    }
    kl->routes_busy = true;
    rj->j.run = route_run;
    rj->j.done = route_done;
    ek__kl_job_queue(kl, &rj->j);
}

void ek__kl_routes_retry(ek_kubelet_t *kl)
{
    if (kl->routes_failed) {
        ek__kl_routes_sync(kl);
    }
}

static void on_nodes(json_t *obj, void *data)
{
    EK_UNUSED(obj);
    ek__kl_routes_sync(data);
}

static void on_nodes_update(json_t *old, json_t *obj, void *data)
{
    EK_UNUSED(old);
    EK_UNUSED(obj);
    ek__kl_routes_sync(data);
}

static void on_nodes_synced(void *data)
{
    ek__kl_routes_sync(data);
}

void ek__kl_routes_start(ek_kubelet_t *kl)
{
    if (kl->backend == EK_PODNET_NONE) {
        return;
    }
    ek_api_client_t *c = kl->svc_client ? kl->svc_client : kl->client;
    kl->all_nodes = ek_informer_new(c, ek__kl_res("", "nodes"), NULL, NULL, NULL, 0);
    static const ek_informer_handlers_t h = { on_nodes, on_nodes_update, on_nodes,
                                              on_nodes_synced };
    ek_informer_add_handlers(kl->all_nodes, &h, kl);
    ek_informer_start(kl->all_nodes);
}

void ek__kl_routes_stop(ek_kubelet_t *kl)
{
    if (kl->all_nodes) {
        ek_informer_free(kl->all_nodes);
        kl->all_nodes = NULL;
    }
}

void ek__kl_routes_free(ek_kubelet_t *kl)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->routes, &it, &k, &v)) {
        free(v);
    }
    ek_map_free(&kl->routes);
}
