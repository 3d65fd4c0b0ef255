/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Endpoints controller, as Kubernetes' endpoints_controller.go: for every Service with a
 * selector (not ExternalName) an Endpoints object of the same name lists the selected pods'
 * addresses per port — ready pods (or all of them with publishNotReadyAddresses) under
 * addresses, the rest under notReadyAddresses, terminating pods left out unless published
 * anyway — with named target ports resolved per pod, and subsets repacked so that addresses
 * offering the same ports share one subset. At most 1000 addresses are kept (the rest is
 * dropped and the object annotated over-capacity). Endpoints of a deleted Service go too.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

#define MAX_ADDRESSES       1000
#define TRIGGER_ANNOTATION  "endpoints.kubernetes.io/last-change-trigger-time"
#define CAPACITY_ANNOTATION "endpoints.kubernetes.io/over-capacity"
#define LEADER_ANNOTATION   "control-plane.alpha.kubernetes.io/leader"

typedef struct epc {
    ctrl_t *c;
    ek_informer_t *svcs;
    ek_informer_t *pods;
    ek_informer_t *eps;
    const ek_resource_t *ep_res;
} epc_t;

/* ---- subsets (pure) ---- */

static json_t *endpoint_address(const json_t *pod, const json_t *svc, const char *ip)
{
    json_t *a = json_pack("{s:s,s:o}", "ip", ip, "targetRef", pod_target_ref(pod));
    const char *node = ek_json_str(pod, "spec", "nodeName", NULL);
    if (node && *node) {
        ek_json_set_str(a, "nodeName", node);
    }
    if (pod_sets_hostname(pod, svc)) {
        ek_json_set_str(a, "hostname", ek_json_str(pod, "spec", "hostname", NULL));
    }
    return a;
}

static json_t *endpoint_port(const json_t *sp, int port)
{
    const char *proto = ek_json_str(sp, "protocol", NULL);
    json_t *p = json_pack("{s:i,s:s}", "port", port, "protocol", proto ? proto : "TCP");
    const char *name = ek_json_str(sp, "name", NULL);
    if (name && *name) {
        ek_json_set_str(p, "name", name);
    }
    const char *app = ek_json_str(sp, "appProtocol", NULL);
    if (app) {
        ek_json_set_str(p, "appProtocol", app);
    }
    return p;
}

/* Records that addr (keyed ip/uid) serves port (NULL: a headless Service without ports);
 * ready wins over not ready, as Kubernetes' RepackSubsets. */
static void add_entry(json_t *byport, json_t *addrs, const json_t *port, const char *akey,
                      json_t *addr, bool ready)
{
    ek_autofree char *pk = port ? json_dumps(port, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    const char *k = pk ? pk : "-";
    json_t *e = json_object_get(byport, k);
    if (!e) {
        e = json_pack("{s:O?,s:{}}", "port", port, "addrs");
        json_object_set_new(byport, k, e);
    }
    if (!json_object_get(addrs, akey)) {
        json_object_set(addrs, akey, addr);
    }
    json_t *set = json_object_get(e, "addrs");
    if (!json_is_true(json_object_get(set, akey))) {
        json_object_set_new(set, akey, json_boolean(ready));
    }
}

static void ip_bytes(const char *ip, unsigned char out[16])
{
    memset(out, 0, 16);
    if (!ip) {
        return;
    }
    if (strchr(ip, ':')) {
        inet_pton(AF_INET6, ip, out);
    } else {
        /* As an IPv4-mapped address, so mixed lists still order like net.IP comparisons. */
        out[10] = out[11] = 0xff;
        inet_pton(AF_INET, ip, out + 12);
    }
}

static int cmp_addr(const void *pa, const void *pb)
{
    const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    unsigned char x[16], y[16];
    ip_bytes(ek_json_str(a, "ip", NULL), x);
    ip_bytes(ek_json_str(b, "ip", NULL), y);
    int r = memcmp(x, y, 16);
    if (r) {
        return r;
    }
    const char *ua = ek_json_str(a, "targetRef", "uid", NULL);
    const char *ub = ek_json_str(b, "targetRef", "uid", NULL);
    return strcmp(ua ? ua : "", ub ? ub : "");
}

static int cmp_port(const void *pa, const void *pb)
{
    const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    const char *na = ek_json_str(a, "name", NULL), *nb = ek_json_str(b, "name", NULL);
    int r = strcmp(na ? na : "", nb ? nb : "");
    if (r) {
        return r;
    }
    r = (int)(ek_json_int(a, 0, "port", NULL) - ek_json_int(b, 0, "port", NULL));
    if (r) {
        return r;
    }
    const char *pa2 = ek_json_str(a, "protocol", NULL), *pb2 = ek_json_str(b, "protocol", NULL);
    return strcmp(pa2 ? pa2 : "", pb2 ? pb2 : "");
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts a JSON array in place with cmp. */
static void sort_array(json_t *arr, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(arr);
    if (n < 2) {
        return;
    }
    json_t **v = ek_xcalloc(n, sizeof(json_t *));
    for (size_t i = 0; i < n; i++) {
        v[i] = json_incref(json_array_get(arr, i));
    }
    qsort(v, n, sizeof(json_t *), cmp);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, v[i]);
    }
    free(v);
}

/* One subset per set of addresses (with their readiness) that offer the same ports. */
static json_t *repack(json_t *byport, json_t *addrs)
{
    json_t *bysig = json_object();
    const char *pk;
    json_t *e;
    json_object_foreach (byport, pk, e) {
        json_t *set = json_object_get(e, "addrs");
        ek_autofree char *sig = json_dumps(set, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *g = json_object_get(bysig, sig);
        if (!g) {
            g = json_pack("{s:O,s:[]}", "addrs", set, "ports");
            json_object_set_new(bysig, sig, g);
        }
        json_t *port = json_object_get(e, "port");
        if (!json_is_null(port)) {
            json_array_append(json_object_get(g, "ports"), port);
        }
    }
    json_t *subsets = json_array();
    void *it;
    /* jansson iterates in insertion order; sort by signature for a stable answer. */
    size_t n = json_object_size(bysig), k = 0;
    const char **keys = ek_xcalloc(n + 1, sizeof(char *));
    for (it = json_object_iter(bysig); it; it = json_object_iter_next(bysig, it)) {
        keys[k++] = json_object_iter_key(it);
    }
    qsort(keys, k, sizeof(char *), cmp_cstr);
    for (size_t i = 0; i < k; i++) {
        json_t *g = json_object_get(bysig, keys[i]);
        json_t *ready = json_array(), *not_ready = json_array();
        const char *ak;
        json_t *r;
        json_object_foreach (json_object_get(g, "addrs"), ak, r) {
            json_array_append(json_is_true(r) ? ready : not_ready, json_object_get(addrs, ak));
        }
        sort_array(ready, cmp_addr);
        sort_array(not_ready, cmp_addr);
        json_t *ports = json_incref(json_object_get(g, "ports"));
        sort_array(ports, cmp_port);
        json_t *ss = json_object();
        json_object_set_new(ss, "addresses", ready);
        json_object_set_new(ss, "notReadyAddresses", not_ready);
        json_object_set_new(ss, "ports", ports);
        /* Empty lists are left out, as Go's omitempty does. */
        const char *names[] = { "addresses", "notReadyAddresses", "ports" };
        for (size_t j = 0; j < 3; j++) {
            if (json_array_size(json_object_get(ss, names[j])) == 0) {
                json_object_del(ss, names[j]);
            }
        }
        json_array_append_new(subsets, ss);
    }
    free(keys);
    json_decref(bysig);
    return subsets;
}

json_t *endpoints_subsets(const json_t *svc, json_t *const *pods, size_t n)
{
    bool publish = ek_json_bool(svc, 0, "spec", "publishNotReadyAddresses", NULL);
    bool v6 = svc_wants_ipv6(svc);
    const json_t *sports = ek_json_path(svc, "spec", "ports", NULL);
    json_t *byport = json_object(), *addrs = json_object();
    for (size_t i = 0; i < n; i++) {
        const json_t *pod = pods[i];
        const char *ip = pod_ip_of_family(pod, v6);
        if (!pod_in_endpoints(pod, publish) || !ip) {
            continue;
        }
        bool ready = publish || pod_is_ready(pod);
        json_t *addr = endpoint_address(pod, svc, ip);
        ek_autofree char *akey =
            ek_xasprintf("%s/%s", ip, ek_json_str(pod, "metadata", "uid", NULL) ?: "");
        if (json_array_size(sports) == 0 && svc_is_headless(svc)) {
            add_entry(byport, addrs, NULL, akey, addr, ready);
        }
        size_t k;
        json_t *sp;
        json_array_foreach (sports, k, sp) {
            int port = pod_find_port(pod, sp);
            if (port <= 0) {
                continue; /* this pod does not serve that port */
            }
            json_t *p = endpoint_port(sp, port);
            add_entry(byport, addrs, p, akey, addr, ready);
            json_decref(p);
        }
        json_decref(addr);
    }
    json_t *subsets = repack(byport, addrs);
    json_decref(byport);
    json_decref(addrs);
    return subsets;
}

/* Keeps at most max addresses, ready ones first. Returns whether any were dropped. */
static bool truncate_subsets(json_t *subsets, size_t max)
{
    size_t total = 0;
    const char *lists[] = { "addresses", "notReadyAddresses" };
    size_t i;
    json_t *ss;
    json_array_foreach (subsets, i, ss) {
        total += json_array_size(json_object_get(ss, lists[0])) +
                 json_array_size(json_object_get(ss, lists[1]));
    }
    if (total <= max) {
        return false;
    }
    size_t budget = max;
    for (size_t l = 0; l < 2; l++) {
        json_array_foreach (subsets, i, ss) {
            json_t *a = json_object_get(ss, lists[l]);
            while (json_array_size(a) > budget) {
                json_array_remove(a, json_array_size(a) - 1);
            }
            budget -= json_array_size(a);
        }
    }
    return true;
}

/* ---- the sync ---- */

/* The labels Endpoints carry: the Service's, plus the headless marker when it has no IP. */
static json_t *desired_labels(const json_t *svc)
{
    const json_t *l = ek_json_path(svc, "metadata", "labels", NULL);
    json_t *labels = l ? json_deep_copy(l) : json_object();
    json_object_del(labels, "service.kubernetes.io/headless");
    if (svc_is_headless(svc)) {
        ek_json_set_str(labels, "service.kubernetes.io/headless", "");
    }
    return labels;
}

static bool up_to_date(const json_t *cur, const json_t *subsets, const json_t *labels,
                       bool truncated)
{
    const json_t *cs = json_object_get(cur, "subsets");
    const json_t *cl = ek_json_path(cur, "metadata", "labels", NULL);
    bool marked = ek_json_str(cur, "metadata", "annotations", CAPACITY_ANNOTATION, NULL) != NULL;
    return (json_array_size(subsets) == 0 ? json_array_size(cs) == 0 : json_equal(cs, subsets)) &&
           (json_object_size(labels) == 0 ? json_object_size(cl) == 0 : json_equal(cl, labels)) &&
           marked == truncated;
}

/* Writes the Endpoints (cur: the cached one or NULL) with these subsets. */
static void write_endpoints(epc_t *s, pending_t *p, const json_t *svc, const json_t *cur,
                            json_t *subsets, bool truncated)
{
    json_t *labels = desired_labels(svc);
    if (cur && up_to_date(cur, subsets, labels, truncated)) {
        json_decref(labels);
        json_decref(subsets);
        return;
    }
    const char *ns = ek_json_str(svc, "metadata", "namespace", NULL);
    json_t *ep = cur ? json_deep_copy(cur)
                     : json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "Endpoints",
                                 "metadata", "name", ek_json_str(svc, "metadata", "name", NULL),
                                 "namespace", ns);
    json_t *md = ek_json_obj_ensure(ep, "metadata");
    if (json_object_size(labels) > 0) {
        json_object_set_new(md, "labels", labels);
    } else {
        json_object_del(md, "labels");
        json_decref(labels);
    }
    json_t *ann = ek_json_obj_ensure(md, "annotations");
    struct timespec now;
    ek_wall_now(&now);
    char ts[31];
    ek_json_set_str(ann, TRIGGER_ANNOTATION, ek_time_rfc3339_nano(&now, ts));
    if (truncated) {
        ek_json_set_str(ann, CAPACITY_ANNOTATION, "truncated");
    } else {
        json_object_del(ann, CAPACITY_ANNOTATION);
    }
    if (json_array_size(subsets) > 0) {
        json_object_set_new(ep, "subsets", subsets);
    } else {
        json_object_del(ep, "subsets");
        json_decref(subsets);
    }
    pending_add(p);
    ek_api_client_t *client = ctrl_manager(s->c)->client;
    if (cur) {
        ek_api_update(client, s->ep_res, ns, ep, EK_SUB_NONE, pending_call_done, p);
    } else {
        ek_api_create(client, s->ep_res, ns, ep, pending_call_done, p);
    }
    json_decref(ep);
}

static void sync_svc(ctrl_t *c, const char *key, void *data)
{
    epc_t *s = data;
    char *ns, *name;
    key_split(key, &ns, &name);
    json_t *svc = ek_informer_get(s->svcs, ns, name);
    json_t *cur = ek_informer_get(s->eps, ns, name);
    pending_t *p = pending_new(c, key);
    if (!svc) {
        /* The Service is gone: so are its Endpoints (except leader-election records). */
        if (cur && !ek_json_str(cur, "metadata", "annotations", LEADER_ANNOTATION, NULL)) {
            pending_add(p);
            ek_api_delete(ctrl_manager(c)->client, s->ep_res, ns, name, NULL, pending_call_done, p);
        }
    } else if (svc_managed(svc) && !ek_json_str(svc, "metadata", "deletionTimestamp", NULL)) {
        size_t n;
        json_t **pods = pods_of_service(s->pods, svc, &n);
        json_t *subsets = endpoints_subsets(svc, pods, n);
        free(pods);
        bool truncated = truncate_subsets(subsets, MAX_ADDRESSES);
        write_endpoints(s, p, svc, cur, subsets, truncated);
    }
    free(ns);
    free(name);
    pending_arm(p);
}

/* ---- event handlers ---- */

static void enqueue_svc(json_t *svc, void *data)
{
    ctrl_enqueue_obj(((epc_t *)data)->c, svc);
}

static void on_pod_add(json_t *pod, void *data)
{
    epc_t *s = data;
    each_service_of_pod(s->svcs, pod, enqueue_svc, s);
}

static void on_pod_update(json_t *old, json_t *pod, void *data)
{
    epc_t *s = data;
    if (json_equal(old, pod)) {
        return;
    }
    /* Services that selected it before and those that select it now. */
    each_service_of_pod(s->svcs, old, enqueue_svc, s);
    each_service_of_pod(s->svcs, pod, enqueue_svc, s);
}

static void on_svc_update(json_t *old, json_t *svc, void *data)
{
    EK_UNUSED(old);
    enqueue_svc(svc, data);
}

static void on_ep_add(json_t *ep, void *data)
{
    epc_t *s = data;
    /* Only the first list: Endpoints left over from Services deleted while we were down. */
    if (!ctrl_manager(s->c)->started) {
        ctrl_enqueue_obj(s->c, ep);
    }
}

static void on_ep_delete(json_t *ep, void *data)
{
    ctrl_enqueue_obj(((epc_t *)data)->c, ep);
}

void endpoints_controller_start(ctrl_manager_t *m)
{
    epc_t *s = ek_new(epc_t);
    s->ep_res = res_of("", "v1", "endpoints");
    s->svcs = mgr_informer(m, "", "v1", "services");
    s->pods = mgr_informer(m, "", "v1", "pods");
    s->eps = mgr_informer(m, "", "v1", "endpoints");
    s->c = ctrl_new(m, "endpoints", sync_svc, s, 5);
    static const ek_informer_handlers_t svc_h = { enqueue_svc, on_svc_update, enqueue_svc, NULL };
    static const ek_informer_handlers_t pod_h = { on_pod_add, on_pod_update, on_pod_add, NULL };
    static const ek_informer_handlers_t ep_h = { on_ep_add, NULL, on_ep_delete, NULL };
    ek_informer_add_handlers(s->svcs, &svc_h, s);
    ek_informer_add_handlers(s->pods, &pod_h, s);
    ek_informer_add_handlers(s->eps, &ep_h, s);
    mgr_own(m, s, free);
}
