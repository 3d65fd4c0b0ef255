/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node as the scheduler sees it (framework.NodeInfo): allocatable resources, taints, the
 * unschedulable flag and images from the Node object, plus what its pods use — requests with
 * and without the scoring defaults, host ports, how many carry inter-pod affinity. Adding and
 * removing a pod is O(1) (ports aside), so the cache stays current without rescans.
 */
#include "server/scheduler/scheduler-internal.h"

const char sched_label_hostname[] = "kubernetes.io/hostname";
const char sched_label_zone[] = "topology.kubernetes.io/zone";

void sched_node_clear(sched_node_t *n)
{
    sched_res_free(&n->alloc);
    n->alloc_pods = 0;
    free(n->taints);
    n->taints = NULL;
    n->ntaints = 0;
    for (size_t i = 0; i < n->nimages; i++) {
        free(n->images[i].name);
    }
    free(n->images);
    n->images = NULL;
    n->nimages = 0;
    json_decref(n->obj);
    n->obj = NULL;
    n->labels = NULL;
    n->hostname = n->zone = NULL;
    n->unschedulable = false;
}

static void parse_images(sched_node_t *n)
{
    const json_t *imgs = ek_json_path(n->obj, "status", "images", NULL);
    size_t total = 0, i, k;
    json_t *img, *name;
    json_array_foreach (imgs, i, img) {
        total += json_array_size(ek_json_path(img, "names", NULL));
    }
    n->images = ek_xcalloc(total + 1, sizeof(*n->images));
    json_array_foreach (imgs, i, img) {
        int64_t size = ek_json_int(img, 0, "sizeBytes", NULL);
        json_array_foreach (ek_json_path(img, "names", NULL), k, name) {
            const char *s = json_string_value(name);
            if (s && !sched_node_image_size(n, s)) {
                n->images[n->nimages++] = (sched_image_t){ ek_xstrdup(s), size };
            }
        }
    }
}

void sched_node_set(sched_node_t *n, json_t *obj)
{
    json_incref(obj);
    sched_node_clear(n);
    n->obj = obj;
    n->labels = ek_json_path(obj, "metadata", "labels", NULL);
    n->hostname = json_string_value(json_object_get(n->labels, sched_label_hostname));
    n->zone = json_string_value(json_object_get(n->labels, sched_label_zone));
    sched_res_add_list(&n->alloc, ek_json_path(obj, "status", "allocatable", NULL), &n->alloc_pods);
    n->unschedulable = ek_json_bool(obj, 0, "spec", "unschedulable", NULL);
    const json_t *taints = ek_json_path(obj, "spec", "taints", NULL);
    n->taints = ek_xcalloc(json_array_size(taints) + 1, sizeof(*n->taints));
    size_t i;
    json_t *t;
    json_array_foreach (taints, i, t) {
        sched_taint_t *x = &n->taints[n->ntaints++];
        x->key = ek_json_str(t, "key", NULL) ?: "";
        x->value = ek_json_str(t, "value", NULL) ?: "";
        x->effect = sched_effect_parse(ek_json_str(t, "effect", NULL));
    }
    parse_images(n);
}

const char *sched_node_label(const sched_node_t *n, const char *key)
{
    if (key == sched_label_hostname) {
        return n->hostname; /* the default constraints' own key */
    }
    if (key == sched_label_zone) {
        return n->zone;
    }
    return json_string_value(json_object_get(n->labels, key));
}

int64_t sched_node_image_size(const sched_node_t *n, const char *image)
{
    for (size_t i = 0; i < n->nimages; i++) {
        if (strcmp(n->images[i].name, image) == 0) {
            return n->images[i].size ? n->images[i].size : 1;
        }
    }
    return 0;
}

/* ---- pods on the node ---- */

static sched_usedport_t *find_port(const sched_node_t *n, const char *ip, const char *proto,
                                   int port)
{
    for (size_t i = 0; i < n->nports; i++) {
        sched_usedport_t *u = &n->ports[i];
        if (u->port == port && strcmp(u->proto, proto) == 0 && strcmp(u->ip, ip) == 0) {
            return u;
        }
    }
    return NULL;
}

static void ports_change(sched_node_t *n, const sched_pod_t *p, int delta)
{
    for (size_t i = 0; i < p->nports; i++) {
        const sched_port_t *w = &p->ports[i];
        sched_usedport_t *u = find_port(n, w->ip, w->proto, w->port);
        if (!u && delta > 0) {
            n->ports = ek_xrealloc(n->ports, (n->nports + 1) * sizeof(*n->ports));
            u = &n->ports[n->nports++];
            *u = (sched_usedport_t){ ek_xstrdup(w->ip), ek_xstrdup(w->proto), w->port, 0 };
        }
        if (!u) {
            continue;
        }
        u->count += delta;
        if (u->count <= 0) {
            size_t at = (size_t)(u - n->ports), last = --n->nports;
            free(n->ports[at].ip);
            free(n->ports[at].proto);
            /* Keep the array dense; no stale copy is left behind. */
            n->ports[at] = n->ports[last];
            n->ports[last] = (sched_usedport_t){ 0 };
        }
    }
}

void sched_node_add_pod(sched_node_t *n, sched_pod_t *p)
{
    if (n->npods == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 8;
        n->pods = ek_xrealloc(n->pods, n->cap * sizeof(*n->pods));
    }
    p->node = n;
    p->slot = n->npods;
    n->pods[n->npods++] = p;
    sched_res_add(&n->used, &p->req, 1);
    n->nz_cpu += p->nz_cpu;
    n->nz_mem += p->nz_mem;
    ports_change(n, p, 1);
    n->n_affinity += sched_pod_has_affinity(p);
    n->n_req_anti += p->anti.n > 0;
}

void sched_node_remove_pod(sched_node_t *n, sched_pod_t *p)
{
    ek_assert(p->node == n && p->slot < n->npods && n->pods[p->slot] == p);
    n->pods[p->slot] = n->pods[--n->npods];
    n->pods[p->slot]->slot = p->slot;
    p->node = NULL;
    sched_res_add(&n->used, &p->req, -1);
    n->nz_cpu -= p->nz_cpu;
    n->nz_mem -= p->nz_mem;
    ports_change(n, p, -1);
    n->n_affinity -= sched_pod_has_affinity(p);
    n->n_req_anti -= p->anti.n > 0;
}

bool sched_node_port_conflict(const sched_node_t *n, const sched_port_t *want)
{
    if (want->port <= 0) {
        return false;
    }
    bool any_ip = strcmp(want->ip, "0.0.0.0") == 0;
    for (size_t i = 0; i < n->nports; i++) {
        const sched_usedport_t *u = &n->ports[i];
        if (u->port != want->port || strcmp(u->proto, want->proto) != 0) {
            continue;
        }
        if (any_ip || strcmp(u->ip, "0.0.0.0") == 0 || strcmp(u->ip, want->ip) == 0) {
            return true;
        }
    }
    return false;
}

void sched_node_free(sched_node_t *n)
{
    sched_node_clear(n);
    sched_res_free(&n->used);
    for (size_t i = 0; i < n->nports; i++) {
        free(n->ports[i].ip);
        free(n->ports[i].proto);
    }
    free(n->ports);
    free(n->pods);
    free(n->name);
    free(n);
}

json_t *sched_node_trim(json_t *node, void *data)
{
    EK_UNUSED(data);
    json_t *meta = json_object_get(node, "metadata");
    return json_pack("{s:s,s:s,s:{s:O*,s:O*,s:O*},s:O*,s:{s:O*,s:O*}}", "apiVersion", "v1", "kind",
                     "Node", "metadata", "name", json_object_get(meta, "name"), "resourceVersion",
                     json_object_get(meta, "resourceVersion"), "labels",
                     json_object_get(meta, "labels"), "spec", json_object_get(node, "spec"),
                     "status", "allocatable", ek_json_path(node, "status", "allocatable", NULL),
                     "images", ek_json_path(node, "status", "images", NULL));
}
