/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ServiceLB, in k3s's style: a LoadBalancer Service is answered on every node's address (the
 * agents' service proxy accepts the Service's port on the addresses listed in its
 * status.loadBalancer.ingress), so its status lists the InternalIP of every Ready node,
 * sorted. k3s runs a klipper-lb DaemonSet to forward those ports; edgek's proxy does it in
 * nftables, so only the status is written here. A Service with spec.loadBalancerClass belongs
 * to another implementation and is left alone; a Service that stops being a LoadBalancer has
 * its ingress removed.
 */
#include "server/controllers/controllers-internal.h"

typedef struct servicelb {
    ctrl_t *c;
    ek_informer_t *svcs;
    ek_informer_t *nodes;
    const ek_resource_t *svc_res;
} servicelb_t;

static bool node_ready(const json_t *node)
{
    json_t *c = find_condition(ek_json_path(node, "status", "conditions", NULL), "Ready");
    return c && ek_streq(ek_json_str(c, "status", NULL), "True");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *servicelb_ingress(const json_t *svc, json_t *const *nodes, size_t n)
{
    const json_t *spec = json_object_get(svc, "spec");
    if (json_object_get(spec, "loadBalancerClass")) {
        return NULL;
    }
    json_t *ingress = json_array();
    if (!ek_streq(ek_json_str(spec, "type", NULL), "LoadBalancer")) {
        return ingress;
    }
    const char **ips = ek_xcalloc(n ? n : 1, sizeof(*ips));
    size_t n_ips = 0;
    for (size_t i = 0; i < n; i++) {
        if (!node_ready(nodes[i]) ||
            json_is_true(ek_json_path(nodes[i], "spec", "unschedulable", NULL))) {
            continue;
        }
        size_t k;
        json_t *a;
        json_array_foreach (ek_json_path(nodes[i], "status", "addresses", NULL), k, a) {
            if (ek_streq(ek_json_str(a, "type", NULL), "InternalIP") &&
                ek_json_str(a, "address", NULL)) {
                ips[n_ips++] = ek_json_str(a, "address", NULL);
                break;
            }
        }
    }
    qsort(ips, n_ips, sizeof(*ips), cmp_str);
    for (size_t i = 0; i < n_ips; i++) {
        if (i == 0 || strcmp(ips[i], ips[i - 1]) != 0) {
            json_array_append_new(ingress, json_pack("{s:s}", "ip", ips[i]));
        }
    }
    free(ips);
    return ingress;
}

typedef struct collect {
    json_t **v;
    size_t n;
} collect_t;

static void collect(json_t *obj, void *data)
{
    collect_t *c = data;
    c->v = ek_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    c->v[c->n++] = obj;
}

static void sync_svc(ctrl_t *c, const char *key, void *data)
{
    servicelb_t *s = data;
    ek_autofree char *ns = NULL, *name = NULL;
    key_split(key, &ns, &name);
    json_t *svc = ek_informer_get(s->svcs, ns, name);
    if (!svc) {
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    collect_t nodes = { 0 };
    ek_informer_each(s->nodes, collect, &nodes);
    ek_auto(json_t) want = servicelb_ingress(svc, nodes.v, nodes.n);
    free(nodes.v);
    json_t *have = ek_json_path(svc, "status", "loadBalancer", "ingress", NULL);
    if (!want || (json_array_size(want) == 0 && json_array_size(have) == 0) ||
        (have && json_equal(want, have))) {
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    /* An update with the cached resourceVersion: a concurrent write makes it retry. */
    json_t *obj = json_deep_copy(svc);
    json_t *status = ek_json_obj_ensure(obj, "status");
    if (json_array_size(want)) {
        json_object_set_new(status, "loadBalancer", json_pack("{s:O}", "ingress", want));
    } else {
        json_object_set_new(status, "loadBalancer", json_object());
    }
    pending_t *p = pending_new(c, key);
    pending_add(p);
    ek_api_update(ctrl_manager(c)->client, s->svc_res, ns, obj, EK_SUB_STATUS, pending_call_done,
                  p);
    json_decref(obj);
    pending_arm(p);
}

static void on_svc(json_t *svc, void *data)
{
    ctrl_enqueue_obj(((servicelb_t *)data)->c, svc);
}

static void on_svc_update(json_t *old, json_t *svc, void *data)
{
    EK_UNUSED(old);
    on_svc(svc, data);
}

static void enqueue_lb(json_t *svc, void *data)
{
    if (ek_streq(ek_json_str(svc, "spec", "type", NULL), "LoadBalancer")) {
        on_svc(svc, data);
    }
}

/* A node came, went, or changed its address or readiness: every LoadBalancer is looked at. */
static void on_node(json_t *node, void *data)
{
    EK_UNUSED(node);
    servicelb_t *s = data;
    ek_informer_each(s->svcs, enqueue_lb, s);
}

static void on_node_update(json_t *old, json_t *node, void *data)
{
    if (node_ready(old) == node_ready(node) &&
        json_equal(ek_json_path(old, "status", "addresses", NULL),
                   ek_json_path(node, "status", "addresses", NULL)) &&
        json_equal(ek_json_path(old, "spec", "unschedulable", NULL),
                   ek_json_path(node, "spec", "unschedulable", NULL))) {
        return; /* heartbeats */
    }
    on_node(node, data);
}

void servicelb_controller_start(ctrl_manager_t *m)
{
    servicelb_t *s = ek_new(servicelb_t);
    s->svc_res = res_of("", "v1", "services");
    s->svcs = mgr_informer(m, "", "v1", "services");
    s->nodes = mgr_informer(m, "", "v1", "nodes");
    s->c = ctrl_new(m, "service-lb-controller", sync_svc, s, 2);
    static const ek_informer_handlers_t svc_h = { .on_add = on_svc, .on_update = on_svc_update };
    static const ek_informer_handlers_t node_h = { .on_add = on_node,
                                                   .on_update = on_node_update,
                                                   .on_delete = on_node };
    ek_informer_add_handlers(s->svcs, &svc_h, s);
    ek_informer_add_handlers(s->nodes, &node_h, s);
    mgr_own(m, s, free);
}
