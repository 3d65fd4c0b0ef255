/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler's cache: every node and every pod placed on one, kept current from informer
 * events and from the scheduler's own decisions. A pod the scheduler has chosen a node for is
 * placed at once as "assumed", so the next pod sees it before the binding comes back through
 * the watch; the informer's update confirms it, a failed binding forgets it. A node that goes
 * away while pods still point at it stays as an unlisted entry until they are gone.
 *
 * Pods are grouped by namespace and labels: label selectors are evaluated once per group and
 * matching session (a memo tag), which is what keeps spreading and affinity cheap with
 * thousands of pods made from the same template.
 */
#include <stdio.h>

#include "server/scheduler/scheduler-internal.h"

void sched_cache_init(sched_cache_t *c, const sched_listers_t *listers, int percentage)
{
    memset(c, 0, sizeof(*c));
    if (listers) {
        c->listers = *listers;
    }
    c->percentage = percentage;
    c->seed = (unsigned)ek_now_ns();
}

void sched_cache_free(sched_cache_t *c)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&c->pods, &it, &k, &v)) {
        sched_pod_t *p = v;
        p->node = NULL;
        sched_pod_free(c, p);
    }
    ek_map_free(&c->pods);
    it = 0;
    while (ek_map_next(&c->nodes, &it, &k, &v)) {
        sched_node_free(v);
    }
    ek_map_free(&c->nodes);
    ek_assert(c->groups.n == 0);
    ek_map_free(&c->groups);
    ek_map_free(&c->images);
    free(c->list);
    memset(c, 0, sizeof(*c));
}

/* ---- nodes ---- */

sched_node_t *sched_cache_node(const sched_cache_t *c, const char *name)
{
    return ek_map_get(&c->nodes, name);
}

static sched_node_t *node_entry(sched_cache_t *c, const char *name)
{
    sched_node_t *n = ek_map_get(&c->nodes, name);
    if (!n) {
        n = ek_new(sched_node_t);
        n->name = ek_xstrdup(name);
        n->index = SIZE_MAX;
        ek_map_put(&c->nodes, name, n);
    }
    return n;
}

static void images_count(sched_cache_t *c, const sched_node_t *n, int delta)
{
    for (size_t i = 0; i < n->nimages; i++) {
        intptr_t cnt = (intptr_t)ek_map_get(&c->images, n->images[i].name) + delta;
        if (cnt > 0) {
            ek_map_put(&c->images, n->images[i].name, (void *)cnt);
        } else {
            ek_map_del(&c->images, n->images[i].name);
        }
    }
}

sched_node_t *sched_cache_set_node(sched_cache_t *c, json_t *obj)
{
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    if (!name) {
        return NULL;
    }
    sched_node_t *n = node_entry(c, name);
    images_count(c, n, -1);
    sched_node_set(n, obj);
    images_count(c, n, 1);
    if (n->index == SIZE_MAX) {
        if (c->nlist == c->caplist) {
            c->caplist = c->caplist ? c->caplist * 2 : 64;
            c->list = ek_xrealloc(c->list, c->caplist * sizeof(*c->list));
        }
        n->index = c->nlist;
        c->list[c->nlist++] = n;
    }
    return n;
}

static void drop_if_unused(sched_cache_t *c, sched_node_t *n)
{
    if (!n->obj && n->npods == 0) {
        ek_map_del(&c->nodes, n->name);
        sched_node_free(n);
    }
}

void sched_cache_remove_node(sched_cache_t *c, const char *name)
{
    sched_node_t *n = ek_map_get(&c->nodes, name);
    if (!n || n->index == SIZE_MAX) {
        return;
    }
    memmove(&c->list[n->index], &c->list[n->index + 1],
            (c->nlist - n->index - 1) * sizeof(*c->list));
    c->nlist--;
    for (size_t i = n->index; i < c->nlist; i++) {
        c->list[i]->index = i;
    }
    n->index = SIZE_MAX;
    images_count(c, n, -1);
    /* Keep the entry (unlisted, no object) while pods still point at it. */
    sched_node_clear(n);
    if (c->next_start >= c->nlist) {
        c->next_start = 0;
    }
    drop_if_unused(c, n);
}

/* ---- pods ---- */

sched_pod_t *sched_cache_pod(const sched_cache_t *c, const char *key)
{
    return ek_map_get(&c->pods, key);
}

void sched_cache_place(sched_cache_t *c, sched_pod_t *p, const char *node, sched_podstate_t st)
{
    sched_pod_t *old = ek_map_get(&c->pods, p->key);
    if (old && old != p) {
        sched_cache_remove_pod(c, p->key);
    }
    sched_node_t *n = node_entry(c, node);
    if (p->node && p->node != n) {
        sched_node_t *prev = p->node;
        sched_node_remove_pod(prev, p);
        drop_if_unused(c, prev);
    }
    if (!p->node) {
        sched_node_add_pod(n, p);
    }
    p->state = st;
    ek_map_put(&c->pods, p->key, p);
}

sched_node_t *sched_cache_remove_pod(sched_cache_t *c, const char *key)
{
    sched_pod_t *p = ek_map_del(&c->pods, key);
    if (!p) {
        return NULL;
    }
    sched_node_t *n = p->node;
    if (n) {
        sched_node_remove_pod(n, p);
    }
    sched_pod_free(c, p);
    if (n && !n->obj && n->npods == 0) {
        drop_if_unused(c, n);
        return NULL;
    }
    return n;
}

/* ---- groups and the memo ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "ns\001k=v\002k=v..." with keys sorted: equal label sets give equal keys. */
static char *group_key(const char *ns, const json_t *labels)
{
    size_t n = json_object_size(labels), i = 0;
    const char **keys = ek_xcalloc(n + 1, sizeof(*keys));
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)labels, k, v) {
        keys[i++] = k;
    }
    qsort(keys, i, sizeof(*keys), cmp_str);
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, ns);
    ek_buf_putc(&b, '\001');
    for (size_t j = 0; j < i; j++) {
        ek_buf_printf(&b, "%s=%s\002", keys[j],
                      json_string_value(json_object_get(labels, keys[j])) ?: "");
    }
    free(keys);
    return ek_buf_steal(&b, NULL);
}

sched_group_t *sched_group_get(sched_cache_t *c, const char *ns, json_t *labels)
{
    char *key = group_key(ns, labels);
    sched_group_t *g = ek_map_get(&c->groups, key);
    if (g) {
        free(key);
        g->refs++;
        return g;
    }
    g = ek_new(sched_group_t);
    g->key = key;
    g->ns = ek_xstrdup(ns);
    g->labels = labels ? json_incref(labels) : NULL;
    g->refs = 1;
    ek_map_put(&c->groups, key, g);
    return g;
}

void sched_group_put(sched_cache_t *c, sched_group_t *g)
{
    if (!g || --g->refs > 0) {
        return;
    }
    ek_map_del(&c->groups, g->key);
    json_decref(g->labels);
    free(g->key);
    free(g->ns);
    free(g);
}

uint64_t sched_memo_tag(sched_cache_t *c)
{
    return ++c->memo_seq;
}

const json_t *sched_ns_labels(const sched_cache_t *c, const char *ns)
{
    return c->listers.ns_labels ? c->listers.ns_labels(c->listers.data, ns) : NULL;
}
