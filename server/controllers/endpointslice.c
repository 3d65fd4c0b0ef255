/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The EndpointSlice controller, as Kubernetes' endpointslice controller: for every Service
 * with a selector (not ExternalName), slices of at most 100 endpoints of the Service's address
 * type, one set of slices per distinct set of resolved ports (named target ports resolve per
 * pod, so pods may differ). Each endpoint carries its conditions — serving (the pod is Ready),
 * terminating (being deleted) and ready (serving and not terminating, or always with
 * publishNotReadyAddresses) — its nodeName, zone (the node's topology.kubernetes.io/zone),
 * hostname and a targetRef to the pod; no topology hints. A Service with no endpoints keeps
 * one empty placeholder slice. Slices are labelled kubernetes.io/service-name and
 * endpointslice.kubernetes.io/managed-by, and owned by the Service so the garbage collector
 * removes them with it.
 *
 * Slices are named by the server (generateName), so a sync must not run on a cache that has not
 * seen its own earlier writes yet: a per-Service tracker remembers the resourceVersion written
 * (or the deletion) of each slice until the informer has caught up, as Kubernetes'
 * endpointSliceTracker does.
 */
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

#define MAX_PER_SLICE      100
#define MANAGED_BY         "endpointslice-controller.k8s.io"
#define LABEL_SERVICE      "kubernetes.io/service-name"
#define LABEL_MANAGED_BY   "endpointslice.kubernetes.io/managed-by"
#define LABEL_HEADLESS     "service.kubernetes.io/headless"
#define TRIGGER_ANNOTATION "endpoints.kubernetes.io/last-change-trigger-time"
#define STALE_RETRY_MS     1000

typedef struct esc {
    ctrl_t *c;
    ek_informer_t *svcs;
    ek_informer_t *pods;
    ek_informer_t *slices;
    ek_informer_t *nodes;
    const ek_resource_t *slice_res;
    const ek_resource_t *svc_res;
    ek_map_t tracker; /* service key → json object: slice name → written rv (-1 deleted) */
} esc_t;

/* ---- desired endpoints (pure but for the node lookup) ---- */

static json_t *slice_endpoint(const json_t *pod, const json_t *svc, const char *ip,
                              ek_informer_t *nodes)
{
    bool publish = ek_json_bool(svc, 0, "spec", "publishNotReadyAddresses", NULL);
    bool serving = pod_is_ready(pod);
    bool terminating = ek_json_str(pod, "metadata", "deletionTimestamp", NULL) != NULL;
    bool ready = publish || (serving && !terminating);
    json_t *ep =
        json_pack("{s:[s],s:{s:b,s:b,s:b},s:o}", "addresses", ip, "conditions", "ready", ready,
                  "serving", serving, "terminating", terminating, "targetRef", pod_target_ref(pod));
    const char *node = ek_json_str(pod, "spec", "nodeName", NULL);
    if (node && *node) {
        ek_json_set_str(ep, "nodeName", node);
        json_t *n = nodes ? ek_informer_get(nodes, NULL, node) : NULL;
        const char *zone =
            ek_json_str(n, "metadata", "labels", "topology.kubernetes.io/zone", NULL);
        if (zone && *zone) {
            ek_json_set_str(ep, "zone", zone);
        }
    }
    if (pod_sets_hostname(pod, svc)) {
        ek_json_set_str(ep, "hostname", ek_json_str(pod, "spec", "hostname", NULL));
    }
    return ep;
}

/* The Service's ports as this pod serves them (named target ports resolved). */
static json_t *slice_ports(const json_t *pod, const json_t *svc)
{
    json_t *ports = json_array();
    size_t i;
    json_t *sp;
    json_array_foreach (ek_json_path(svc, "spec", "ports", NULL), i, sp) {
        int port = pod_find_port(pod, sp);
        if (port <= 0) {
            continue;
        }
        const char *name = ek_json_str(sp, "name", NULL);
        const char *proto = ek_json_str(sp, "protocol", NULL);
        json_t *p = json_pack("{s:s,s:i,s:s}", "name", name ? name : "", "port", port, "protocol",
                              proto ? proto : "TCP");
        const char *app = ek_json_str(sp, "appProtocol", NULL);
        if (app) {
            ek_json_set_str(p, "appProtocol", app);
        }
        json_array_append_new(ports, p);
    }
    return ports;
}

static int cmp_endpoint(const void *pa, const void *pb)
{
    const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    const char *na = ek_json_str(a, "targetRef", "name", NULL);
    const char *nb = ek_json_str(b, "targetRef", "name", NULL);
    return strcmp(na ? na : "", nb ? nb : "");
}

static int cmp_group(const void *pa, const void *pb)
{
    ek_autofree char *a =
        json_dumps(json_object_get(*(json_t *const *)pa, "ports"), JSON_COMPACT | JSON_SORT_KEYS);
    ek_autofree char *b =
        json_dumps(json_object_get(*(json_t *const *)pb, "ports"), JSON_COMPACT | JSON_SORT_KEYS);
    return strcmp(a, b);
}

/* Sorts a JSON array in place. */
static void sort_json(json_t *arr, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(arr);
    json_t **v = ek_xcalloc(n + 1, sizeof(json_t *));
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

json_t *endpointslice_groups(const json_t *svc, json_t *const *pods, size_t n, ek_informer_t *nodes)
{
    bool v6 = svc_wants_ipv6(svc);
    json_t *byports = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *ip = pod_ip_of_family(pods[i], v6);
        if (!ip || !pod_in_endpoints(pods[i], true)) {
            continue;
        }
        json_t *ports = slice_ports(pods[i], svc);
        ek_autofree char *sig = json_dumps(ports, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *g = json_object_get(byports, sig);
        if (!g) {
            g = json_pack("{s:O,s:[]}", "ports", ports, "endpoints");
            json_object_set_new(byports, sig, g);
        }
        json_decref(ports);
        json_array_append_new(json_object_get(g, "endpoints"),
                              slice_endpoint(pods[i], svc, ip, nodes));
    }
    json_t *groups = json_array();
    const char *k;
    json_t *g;
    json_object_foreach (byports, k, g) {
        sort_json(json_object_get(g, "endpoints"), cmp_endpoint);
        json_array_append(groups, g);
    }
    json_decref(byports);
    sort_json(groups, cmp_group);
    return groups;
}

/* ---- the tracker of our own writes ---- */

static void track(esc_t *s, const char *key, const char *slice, long long rv)
{
    json_t *t = ek_map_get(&s->tracker, key);
    if (!t) {
        t = json_object();
        ek_map_put(&s->tracker, key, t);
    }
    json_object_set_new(t, slice, json_integer(rv));
}

static void untrack_all(esc_t *s, const char *key)
{
    json_decref(ek_map_del(&s->tracker, key));
}

/* Has the slice informer seen every write this controller made for the Service? A written
 * slice that is gone again counts as seen once the informer is past the write's revision
 * (someone deleted it since). */
static bool caught_up(esc_t *s, const char *key, const char *ns)
{
    json_t *t = ek_map_get(&s->tracker, key);
    const char *irv = ek_informer_revision(s->slices);
    long long seen = irv ? atoll(irv) : 0;
    const char *name;
    json_t *rv;
    json_object_foreach (t, name, rv) {
        json_t *cur = ek_informer_get(s->slices, ns, name);
        const char *crv = ek_json_str(cur, "metadata", "resourceVersion", NULL);
        long long want = json_integer_value(rv);
        if ((want < 0 && cur) || (want >= 0 && crv && atoll(crv) < want) ||
            (want >= 0 && !cur && seen < want)) {
            return false;
        }
    }
    untrack_all(s, key);
    return true;
}

struct wctx {
    esc_t *s;
    pending_t *p;
    char *key;
    char *name; /* deletes: the slice deleted */
};

static void on_written(int status, json_t *body, const ek_error_t *err, void *data)
{
    struct wctx *w = data;
    if (!err && !w->name) {
        const char *name = ek_json_str(body, "metadata", "name", NULL);
        const char *rv = ek_json_str(body, "metadata", "resourceVersion", NULL);
        if (name && rv) {
            track(w->s, w->key, name, atoll(rv));
        }
    } else if (w->name && (!err || status == 404)) {
        track(w->s, w->key, w->name, -1);
    }
    pending_call_done(status, body, err, w->p);
    free(w->key);
    free(w->name);
    free(w);
}

static struct wctx *wctx_new(esc_t *s, pending_t *p, const char *key, const char *deleted)
{
    struct wctx *w = ek_new(struct wctx);
    w->s = s;
    w->p = p;
    w->key = ek_xstrdup(key);
    w->name = deleted ? ek_xstrdup(deleted) : NULL;
    pending_add(p);
    return w;
}

/* ---- reconciling the slices ---- */

static json_t *slice_labels(const json_t *svc)
{
    json_t *labels = json_object();
    const char *k;
    json_t *v;
    json_object_foreach (ek_json_path(svc, "metadata", "labels", NULL), k, v) {
        if (strcmp(k, LABEL_SERVICE) != 0 && strcmp(k, LABEL_MANAGED_BY) != 0 &&
            strcmp(k, LABEL_HEADLESS) != 0) {
            json_object_set(labels, k, v);
        }
    }
    if (svc_is_headless(svc)) {
        ek_json_set_str(labels, LABEL_HEADLESS, "");
    }
    ek_json_set_str(labels, LABEL_SERVICE, ek_json_str(svc, "metadata", "name", NULL));
    ek_json_set_str(labels, LABEL_MANAGED_BY, MANAGED_BY);
    return labels;
}

static bool owned_by(const json_t *slice, const json_t *svc)
{
    const json_t *ref = controller_ref(slice);
    return ref &&
           ek_streq(ek_json_str(ref, "uid", NULL), ek_json_str(svc, "metadata", "uid", NULL));
}

/* Equal lists, an absent list counting as empty. */
static bool lists_equal(const json_t *a, const json_t *b)
{
    return json_array_size(a) == 0 ? json_array_size(b) == 0 : json_equal(a, b);
}

/* The slice's wanted content; cur (may be NULL) is the slice it replaces. */
struct want {
    const json_t *svc;
    const char *addr_type;
    const json_t *ports;
    json_t *endpoints; /* owned */
};

static bool slice_matches(const json_t *cur, const struct want *w, const json_t *labels)
{
    return ek_streq(ek_json_str(cur, "addressType", NULL), w->addr_type) &&
           lists_equal(json_object_get(cur, "ports"), w->ports) &&
           lists_equal(json_object_get(cur, "endpoints"), w->endpoints) &&
           json_equal(ek_json_path(cur, "metadata", "labels", NULL), labels) &&
           owned_by(cur, w->svc);
}

static void write_slice(esc_t *s, pending_t *p, const char *key, const json_t *cur, struct want *w)
{
    json_t *labels = slice_labels(w->svc);
    if (cur && slice_matches(cur, w, labels)) {
        json_decref(labels);
        return;
    }
    const char *ns = ek_json_str(w->svc, "metadata", "namespace", NULL);
    json_t *obj = cur ? json_deep_copy(cur) : json_object();
    ek_json_set_str(obj, "apiVersion", "discovery.k8s.io/v1");
    ek_json_set_str(obj, "kind", "EndpointSlice");
    json_t *md = ek_json_obj_ensure(obj, "metadata");
    if (!cur) {
        ek_autofree char *gen = ek_xasprintf("%s-", ek_json_str(w->svc, "metadata", "name", NULL));
        ek_json_set_str(md, "generateName", gen);
        ek_json_set_str(md, "namespace", ns);
    }
    json_object_set_new(md, "labels", labels);
    json_object_set_new(md, "ownerReferences",
                        json_pack("[o]", owner_ref(s->svc_res, w->svc, true)));
    struct timespec now;
    ek_wall_now(&now);
    char ts[31];
    ek_json_set_str(ek_json_obj_ensure(md, "annotations"), TRIGGER_ANNOTATION,
                    ek_time_rfc3339_nano(&now, ts));
    ek_json_set_str(obj, "addressType", w->addr_type);
    json_object_set(obj, "endpoints", w->endpoints);
    if (json_array_size(w->ports) > 0) {
        json_object_set(obj, "ports", (json_t *)w->ports);
    } else {
        json_object_del(obj, "ports");
    }
    ek_api_client_t *client = ctrl_manager(s->c)->client;
    struct wctx *wc = wctx_new(s, p, key, NULL);
    if (cur) {
        ek_api_update(client, s->slice_res, ns, obj, EK_SUB_NONE, on_written, wc);
    } else {
        ek_api_create(client, s->slice_res, ns, obj, on_written, wc);
    }
    json_decref(obj);
}

/* The wanted slices: each port group cut into slices of at most MAX_PER_SLICE endpoints;
 * a Service without endpoints gets one empty placeholder. Caller frees each endpoints array
 * and the array itself. */
static struct want *wanted(const json_t *svc, const json_t *groups, size_t *n)
{
    const char *at = svc_wants_ipv6(svc) ? "IPv6" : "IPv4";
    size_t cap = 1, k = 0;
    size_t i;
    json_t *g;
    json_array_foreach (groups, i, g) {
        cap += json_array_size(json_object_get(g, "endpoints")) / MAX_PER_SLICE + 1;
    }
    struct want *v = ek_xcalloc(cap, sizeof(*v));
    json_array_foreach (groups, i, g) {
        json_t *eps = json_object_get(g, "endpoints");
        for (size_t off = 0; off < json_array_size(eps); off += MAX_PER_SLICE) {
            json_t *chunk = json_array();
            for (size_t j = off; j < json_array_size(eps) && j < off + MAX_PER_SLICE; j++) {
                json_array_append(chunk, json_array_get(eps, j));
            }
            v[k++] = (struct want){ svc, at, json_object_get(g, "ports"), chunk };
        }
    }
    if (k == 0) {
        v[k++] = (struct want){ svc, at, NULL, json_array() };
    }
    *n = k;
    return v;
}

struct slist {
    const json_t *svc;
    json_t **v;
    size_t n, cap;
};

static void collect_slices(json_t *slice, void *data)
{
    struct slist *l = data;
    const json_t *labels = ek_json_path(slice, "metadata", "labels", NULL);
    if (!ek_streq(ek_json_str(slice, "metadata", "namespace", NULL),
                  ek_json_str(l->svc, "metadata", "namespace", NULL)) ||
        !ek_streq(ek_json_str(labels, LABEL_SERVICE, NULL),
                  ek_json_str(l->svc, "metadata", "name", NULL)) ||
        !ek_streq(ek_json_str(labels, LABEL_MANAGED_BY, NULL), MANAGED_BY)) {
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = ek_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = slice;
}

static int cmp_slice_name(const void *pa, const void *pb)
{
    const char *a = ek_json_str(*(json_t *const *)pa, "metadata", "name", NULL);
    const char *b = ek_json_str(*(json_t *const *)pb, "metadata", "name", NULL);
    return strcmp(a ? a : "", b ? b : "");
}

/* Existing slices go to the wanted slices with the same ports first, then any left over are
 * recycled for the rest (an update instead of a create and a delete); the remainder is
 * deleted. */
static void reconcile(esc_t *s, pending_t *p, const char *key, const json_t *svc,
                      const json_t *groups)
{
    struct slist have = { .svc = svc };
    ek_informer_each(s->slices, collect_slices, &have);
    qsort(have.v, have.n, sizeof(json_t *), cmp_slice_name);
    size_t nw;
    struct want *w = wanted(svc, groups, &nw);
    const json_t **pick = ek_xcalloc(nw + 1, sizeof(json_t *));
    bool *used = ek_xcalloc(have.n + 1, sizeof(bool));
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < nw; i++) {
            for (size_t j = 0; j < have.n && !pick[i]; j++) {
                const json_t *h = have.v[j];
                bool fits = owned_by(h, svc) &&
                            ek_streq(ek_json_str(h, "addressType", NULL), w[i].addr_type) &&
                            (pass == 1 || lists_equal(json_object_get(h, "ports"), w[i].ports));
                if (!used[j] && fits) {
                    used[j] = true;
                    pick[i] = h;
                }
            }
        }
    }
    for (size_t i = 0; i < nw; i++) {
        write_slice(s, p, key, pick[i], &w[i]);
        json_decref(w[i].endpoints);
    }
    for (size_t j = 0; j < have.n; j++) {
        if (!used[j]) {
            const char *name = ek_json_str(have.v[j], "metadata", "name", NULL);
            ek_api_delete(ctrl_manager(s->c)->client, s->slice_res,
                          ek_json_str(svc, "metadata", "namespace", NULL), name, NULL, on_written,
                          wctx_new(s, p, key, name));
        }
    }
    free(used);
    free(pick);
    free(w);
    free(have.v);
}

static void sync_svc(ctrl_t *c, const char *key, void *data)
{
    esc_t *s = data;
    char *ns, *name;
    key_split(key, &ns, &name);
    json_t *svc = ek_informer_get(s->svcs, ns, name);
    free(name);
    if (!svc) {
        untrack_all(s, key); /* the garbage collector removes the slices it owned */
        free(ns);
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    if (!caught_up(s, key, ns)) {
        free(ns);
        ctrl_done(c, key, STALE_RETRY_MS); /* the slice events also bring it back */
        return;
    }
    free(ns);
    pending_t *p = pending_new(c, key);
    if (svc_managed(svc) && !ek_json_str(svc, "metadata", "deletionTimestamp", NULL)) {
        json_incref(svc);
        size_t n;
        json_t **pods = pods_of_service(s->pods, svc, &n);
        json_t *groups = endpointslice_groups(svc, pods, n, s->nodes);
        free(pods);
        reconcile(s, p, key, svc, groups);
        json_decref(groups);
        json_decref(svc);
    }
    pending_arm(p);
}

/* ---- event handlers ---- */

static void enqueue_svc(json_t *svc, void *data)
{
    ctrl_enqueue_obj(((esc_t *)data)->c, svc);
}

static void on_svc_update(json_t *old, json_t *svc, void *data)
{
    EK_UNUSED(old);
    enqueue_svc(svc, data);
}

static void on_pod_add(json_t *pod, void *data)
{
    esc_t *s = data;
    each_service_of_pod(s->svcs, pod, enqueue_svc, s);
}

static void on_pod_update(json_t *old, json_t *pod, void *data)
{
    esc_t *s = data;
    if (!json_equal(old, pod)) {
        each_service_of_pod(s->svcs, old, enqueue_svc, s);
        each_service_of_pod(s->svcs, pod, enqueue_svc, s);
    }
}

static void on_slice(json_t *slice, void *data)
{
    esc_t *s = data;
    const json_t *labels = ek_json_path(slice, "metadata", "labels", NULL);
    const char *svc = ek_json_str(labels, LABEL_SERVICE, NULL);
    if (svc && ek_streq(ek_json_str(labels, LABEL_MANAGED_BY, NULL), MANAGED_BY)) {
        ek_autofree char *key =
            ek_xasprintf("%s/%s", ek_json_str(slice, "metadata", "namespace", NULL), svc);
        ctrl_enqueue(s->c, key);
    }
}

static void on_slice_update(json_t *old, json_t *slice, void *data)
{
    EK_UNUSED(old);
    on_slice(slice, data);
}

static void esc_free(void *state)
{
    esc_t *s = state;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&s->tracker, &it, &k, &v)) {
        json_decref(v);
    }
    ek_map_free(&s->tracker);
    free(s);
}

void endpointslice_controller_start(ctrl_manager_t *m)
{
    esc_t *s = ek_new(esc_t);
    s->slice_res = res_of("discovery.k8s.io", "v1", "endpointslices");
    s->svc_res = res_of("", "v1", "services");
    s->svcs = mgr_informer(m, "", "v1", "services");
    s->pods = mgr_informer(m, "", "v1", "pods");
    s->slices = mgr_informer(m, "discovery.k8s.io", "v1", "endpointslices");
    s->nodes = mgr_informer(m, "", "v1", "nodes");
    s->c = ctrl_new(m, "endpointslice", sync_svc, s, 5);
    static const ek_informer_handlers_t svc_h = { enqueue_svc, on_svc_update, enqueue_svc, NULL };
    static const ek_informer_handlers_t pod_h = { on_pod_add, on_pod_update, on_pod_add, NULL };
    static const ek_informer_handlers_t slice_h = { NULL, on_slice_update, on_slice, NULL };
    ek_informer_add_handlers(s->svcs, &svc_h, s);
    ek_informer_add_handlers(s->pods, &pod_h, s);
    ek_informer_add_handlers(s->slices, &slice_h, s);
    mgr_own(m, s, esc_free);
}
