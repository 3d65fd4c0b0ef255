/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PreFilter and Filter, as kube-scheduler 1.32's default profile runs them: NodeUnschedulable,
 * NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, PodTopologySpread,
 * InterPodAffinity, in that order, the first failing plugin giving the node's status. The
 * statuses are folded into a FitError diagnosis whose message reads exactly like
 * kube-scheduler's: "0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2
 * Insufficient cpu." (reasons counted, then sorted as strings).
 */
#include <stdarg.h>
#include <stdio.h>

#include "server/scheduler/scheduler-internal.h"

#define REASON_UNSCHEDULABLE "node(s) were unschedulable"
#define REASON_AFFINITY      "node(s) didn't match Pod's node affinity/selector"
#define REASON_PORTS         "node(s) didn't have free ports for the requested pod ports"
#define REASON_SPREAD        "node(s) didn't match pod topology spread constraints"
#define REASON_SPREAD_LABEL  REASON_SPREAD " (missing required label)"
#define REASON_POD_AFF       "node(s) didn't match pod affinity rules"
#define REASON_POD_ANTI      "node(s) didn't match pod anti-affinity rules"
#define REASON_EXISTING_ANTI "node(s) didn't satisfy existing pods anti-affinity rules"

const char *sched_plugin_name(unsigned bit)
{
    switch (bit) {
    case PL_NODE_UNSCHEDULABLE:
        return "NodeUnschedulable";
    case PL_NODE_NAME:
        return "NodeName";
    case PL_TAINT_TOLERATION:
        return "TaintToleration";
    case PL_NODE_AFFINITY:
        return "NodeAffinity";
    case PL_NODE_PORTS:
        return "NodePorts";
    case PL_NODE_RESOURCES_FIT:
        return "NodeResourcesFit";
    case PL_POD_TOPOLOGY_SPREAD:
        return "PodTopologySpread";
    case PL_INTER_POD_AFFINITY:
        return "InterPodAffinity";
    case PL_SCHEDULING_GATES:
        return "SchedulingGates";
    }
    return "Unknown";
}

/* ---- topology pair counts ---- */

static char *tp_key(const char *key, const char *value, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s\001%s", key, value);
    return n >= 0 && (size_t)n < len ? buf : ek_xasprintf("%s\001%s", key, value);
}

void sched_tp_add(sched_tpcounts_t *t, const char *key, const char *value, long delta)
{
    char buf[256];
    char *k = tp_key(key, value, buf, sizeof(buf));
    long v = (long)(intptr_t)ek_map_get(&t->m, k) + delta;
    ek_map_put(&t->m, k, (void *)(intptr_t)v);
    if (k != buf) {
        free(k);
    }
}

long sched_tp_get(const sched_tpcounts_t *t, const char *key, const char *value)
{
    if (!t->m.n) {
        return 0;
    }
    char buf[256];
    char *k = tp_key(key, value, buf, sizeof(buf));
    long v = (long)(intptr_t)ek_map_get(&t->m, k);
    if (k != buf) {
        free(k);
    }
    return v;
}

void sched_tp_free(sched_tpcounts_t *t)
{
    ek_map_free(&t->m);
}

/* ---- statuses and the diagnosis ---- */

static void st_fail(sched_status_t *st, int code, unsigned plugin, const char *reason)
{
    st->code = code;
    st->plugin = plugin;
    if (st->nreasons < EK_ARRAY_SIZE(st->reasons)) {
        st->reasons[st->nreasons++] = reason;
    }
}

/* A reason formatted into the status's own buffer. */
static void st_failf(sched_status_t *st, int code, unsigned plugin, const char *fmt, ...)
    EK_PRINTF(4, 5);
static void st_failf(sched_status_t *st, int code, unsigned plugin, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof(st->buf) - st->used;
    int n = vsnprintf(st->buf + st->used, room, fmt, ap);
    va_end(ap);
    const char *r = st->buf + st->used;
    st->used += n >= 0 && (size_t)n < room ? (size_t)n + 1 : room;
    st_fail(st, code, plugin, r);
}

void sched_diag_init(sched_diag_t *d, size_t nnodes)
{
    memset(d, 0, sizeof(*d));
    d->nnodes = nnodes;
    d->code = ek_xcalloc(nnodes + 1, 1);
}

void sched_diag_free(sched_diag_t *d)
{
    ek_map_free(&d->reasons);
    free(d->code);
    free(d->prefilter_msg);
    free(d->absent_reason);
    memset(d, 0, sizeof(*d));
}

void sched_diag_add(sched_diag_t *d, size_t node_index, const sched_status_t *st)
{
    for (size_t i = 0; i < st->nreasons; i++) {
        uintptr_t n = (uintptr_t)ek_map_get(&d->reasons, st->reasons[i]);
        ek_map_put(&d->reasons, st->reasons[i], (void *)(n + 1));
    }
    if (node_index < d->nnodes && !d->code[node_index]) {
        d->code[node_index] = (uint8_t)(st->code + 1);
        d->nstatus++;
    }
    d->plugins |= st->plugin;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *sched_diag_message(const sched_diag_t *d, const char *postfilter)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_printf(&b, "0/%zu nodes are available:", d->nnodes);
    if (d->prefilter_msg) {
        ek_buf_printf(&b, " %s.", d->prefilter_msg);
    } else {
        size_t n = d->reasons.n + 1, k = 0;
        char **items = ek_xcalloc(n + 1, sizeof(char *));
        size_t it = 0;
        const char *reason;
        void *v;
        while (ek_map_next(&d->reasons, &it, &reason, &v)) {
            uintptr_t cnt = (uintptr_t)v;
            if (d->absent_reason && strcmp(reason, d->absent_reason) == 0) {
                cnt += d->nnodes - d->nstatus;
            }
            items[k++] = ek_xasprintf("%zu %s", (size_t)cnt, reason);
        }
        if (d->absent_reason && d->nstatus < d->nnodes &&
            !ek_map_get(&d->reasons, d->absent_reason)) {
            items[k++] = ek_xasprintf("%zu %s", d->nnodes - d->nstatus, d->absent_reason);
        }
        /* Sorted as Go's sort.Strings sorts "<count> <reason>": byte-wise, counts included. */
        qsort(items, k, sizeof(char *), cmp_cstr);
        for (size_t i = 0; i < k; i++) {
            ek_buf_printf(&b, "%s%s", i ? ", " : " ", items[i]);
            free(items[i]);
        }
        free(items);
        if (k) {
            ek_buf_putc(&b, '.');
        }
    }
    if (postfilter && *postfilter) {
        ek_buf_printf(&b, " %s", postfilter);
    }
    return ek_buf_steal(&b, NULL);
}

/* ---- node-local filters ---- */

/* nodeSelector and required node affinity (GetRequiredNodeAffinity(pod).Match). */
bool sched_node_affinity_ok(const sched_pod_t *p, const sched_node_t *n)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)p->node_selector, k, v) {
        const char *have = json_string_value(json_object_get(n->labels, k));
        if (!have || !ek_streq(have, json_string_value(v))) {
            return false;
        }
    }
    return !p->has_req_affinity || sched_nodesel_matches(&p->req_affinity, n->name, n->labels);
}

/* The first NoSchedule / NoExecute taint the pod does not tolerate, or NULL. */
const sched_taint_t *sched_untolerated(const sched_pod_t *p, const sched_node_t *n)
{
    for (size_t i = 0; i < n->ntaints; i++) {
        const sched_taint_t *t = &n->taints[i];
        if ((t->effect == EFFECT_NO_SCHEDULE || t->effect == EFFECT_NO_EXECUTE) &&
            !sched_tolerations_tolerate(p->tols, p->ntols, t)) {
            return t;
        }
    }
    return NULL;
}

static bool fit_resources(const sched_pod_t *p, const sched_node_t *n, sched_status_t *st)
{
    size_t before = st->nreasons;
    if ((int64_t)n->npods + 1 > n->alloc_pods) {
        st_fail(st, ST_UNSCHEDULABLE, PL_NODE_RESOURCES_FIT, "Too many pods");
    }
    const sched_res_t *r = &p->req;
    if (r->cpu > 0 && r->cpu > n->alloc.cpu - n->used.cpu) {
        st_fail(st, ST_UNSCHEDULABLE, PL_NODE_RESOURCES_FIT, "Insufficient cpu");
    }
    if (r->mem > 0 && r->mem > n->alloc.mem - n->used.mem) {
        st_fail(st, ST_UNSCHEDULABLE, PL_NODE_RESOURCES_FIT, "Insufficient memory");
    }
    if (r->eph > 0 && r->eph > n->alloc.eph - n->used.eph) {
        st_fail(st, ST_UNSCHEDULABLE, PL_NODE_RESOURCES_FIT, "Insufficient ephemeral-storage");
    }
    for (size_t i = 0; i < r->nscalars; i++) {
        const sched_scalar_t *s = &r->scalars[i];
        int64_t free_ = sched_res_scalar(&n->alloc, s->name) - sched_res_scalar(&n->used, s->name);
        if (s->value > 0 && s->value > free_) {
            st_failf(st, ST_UNSCHEDULABLE, PL_NODE_RESOURCES_FIT, "Insufficient %s", s->name);
        }
    }
    return st->nreasons == before;
}

static const sched_taint_t unschedulable_taint = { "node.kubernetes.io/unschedulable", "",
                                                   EFFECT_NO_SCHEDULE };

bool sched_filter_local(const sched_pod_t *p, const sched_node_t *n, sched_status_t *st)
{
    st->code = ST_OK;
    st->nreasons = 0;
    st->used = 0;
    st->plugin = 0;
    if (n->unschedulable && !sched_tolerations_tolerate(p->tols, p->ntols, &unschedulable_taint)) {
        st_fail(st, ST_UNRESOLVABLE, PL_NODE_UNSCHEDULABLE, REASON_UNSCHEDULABLE);
        return false;
    }
    const sched_taint_t *t = sched_untolerated(p, n);
    if (t) {
        st_failf(st, ST_UNRESOLVABLE, PL_TAINT_TOLERATION, "node(s) had untolerated taint {%s: %s}",
                 t->key, t->value);
        return false;
    }
    if (!sched_node_affinity_ok(p, n)) {
        st_fail(st, ST_UNRESOLVABLE, PL_NODE_AFFINITY, REASON_AFFINITY);
        return false;
    }
    for (size_t i = 0; i < p->nports; i++) {
        if (sched_node_port_conflict(n, &p->ports[i])) {
            st_fail(st, ST_UNSCHEDULABLE, PL_NODE_PORTS, REASON_PORTS);
            return false;
        }
    }
    return fit_resources(p, n, st);
}

/* ---- PreFilter ---- */

/* Whether inter-pod affinity term t matches pod q, memoised per group under tag. */
static bool aterm_memo(sched_cache_t *c, const sched_aterm_t *t, uint64_t tag, const sched_pod_t *q)
{
    sched_group_t *g = q->group;
    size_t slot = tag & 3;
    if (g->memo_tag[slot] != tag) {
        g->memo_tag[slot] = tag;
        g->memo_val[slot] = sched_aterm_matches(t, q, t->ns_sel ? sched_ns_labels(c, q->ns) : NULL);
    }
    return g->memo_val[slot];
}

/* Pods on n that count for spreading: same namespace, not terminating, selected. */
long sched_count_matching(const sched_node_t *n, const ek_labelsel_t *sel, uint64_t tag,
                          const char *ns)
{
    if (ek_labelsel_empty(sel)) {
        return 0; /* countPodsMatchSelector counts nothing for an empty selector */
    }
    long cnt = 0;
    for (size_t i = 0; i < n->npods; i++) {
        const sched_pod_t *q = n->pods[i];
        sched_group_t *g = q->group;
        size_t slot = tag & 3;
        if (g->memo_tag[slot] != tag) {
            /* The group fixes the namespace too: one answer per group and session. */
            g->memo_tag[slot] = tag;
            g->memo_val[slot] = strcmp(g->ns, ns) == 0 && ek_labelsel_matches(sel, g->labels);
        }
        cnt += !q->terminating && g->memo_val[slot];
    }
    return cnt;
}

/* getExistingAntiAffinityCounts: topology pairs where a placed pod's required anti-affinity
 * matches the incoming pod. */
static void existing_anti_counts(sched_cycle_t *cy)
{
    sched_cache_t *c = cy->c;
    for (size_t i = 0; i < c->nlist; i++) {
        const sched_node_t *n = c->list[i];
        for (size_t k = 0; n->n_req_anti && k < n->npods; k++) {
            const sched_pod_t *q = n->pods[k];
            for (size_t t = 0; t < q->anti.n; t++) {
                const sched_aterm_t *term = &q->anti.v[t];
                const char *v = sched_node_label(n, term->topology_key);
                if (v && sched_aterm_matches(term, cy->p, cy->ns_labels)) {
                    sched_tp_add(&cy->existing_anti, term->topology_key, v, 1);
                }
            }
        }
    }
}

/* getIncomingAffinityAntiAffinityCounts over every placed pod. */
static void incoming_counts(sched_cycle_t *cy, const sched_aterms_t *terms, sched_tpcounts_t *out)
{
    sched_cache_t *c = cy->c;
    for (size_t t = 0; t < terms->n; t++) {
        const sched_aterm_t *term = &terms->v[t];
        uint64_t tag = sched_memo_tag(c);
        for (size_t i = 0; i < c->nlist; i++) {
            const sched_node_t *n = c->list[i];
            const char *v = n->npods ? sched_node_label(n, term->topology_key) : NULL;
            for (size_t k = 0; v && k < n->npods; k++) {
                if (aterm_memo(c, term, tag, n->pods[k])) {
                    sched_tp_add(out, term->topology_key, v, 1);
                }
            }
        }
    }
}

static bool all_topology_keys(const sched_cycle_t *cy, const sched_node_t *n)
{
    for (size_t i = 0; i < cy->nspread; i++) {
        if (!sched_node_label(n, cy->spread[i].c->topology_key)) {
            return false;
        }
    }
    return true;
}

/* PodTopologySpread's PreFilter for DoNotSchedule constraints: matching pods per domain. */
static void spread_prefilter(sched_cycle_t *cy)
{
    const sched_pod_t *p = cy->p;
    size_t hard = 0;
    for (size_t i = 0; i < p->nspread; i++) {
        hard += p->spread[i].hard;
    }
    if (!hard) {
        return;
    }
    cy->spread = ek_xcalloc(hard, sizeof(*cy->spread));
    for (size_t i = 0; i < p->nspread; i++) {
        if (p->spread[i].hard) {
            cy->spread[cy->nspread++].c = &p->spread[i];
        }
    }
    uint64_t *tags = ek_xcalloc(cy->nspread, sizeof(*tags));
    for (size_t i = 0; i < cy->nspread; i++) {
        tags[i] = sched_memo_tag(cy->c);
    }
    for (size_t i = 0; i < cy->c->nlist; i++) {
        const sched_node_t *n = cy->c->list[i];
        if (!all_topology_keys(cy, n)) {
            continue;
        }
        for (size_t k = 0; k < cy->nspread; k++) {
            sched_spread_state_t *s = &cy->spread[k];
            if ((s->c->honor_affinity && !sched_node_affinity_ok(p, n)) ||
                (s->c->honor_taints && sched_untolerated(p, n))) {
                continue;
            }
            const char *v = sched_node_label(n, s->c->topology_key);
            long cnt = (long)(intptr_t)ek_map_get(&s->counts, v);
            cnt += sched_count_matching(n, s->c->sel, tags[k], p->ns);
            ek_map_put(&s->counts, v, (void *)(intptr_t)cnt);
        }
    }
    free(tags);
    for (size_t k = 0; k < cy->nspread; k++) {
        sched_spread_state_t *s = &cy->spread[k];
        s->min = INT32_MAX;
        s->domains = s->counts.n;
        size_t it = 0;
        const char *key;
        void *v;
        while (ek_map_next(&s->counts, &it, &key, &v)) {
            s->min = EK_MIN(s->min, (long)(intptr_t)v);
        }
    }
}

/* NodeAffinity's PreFilter: terms naming nodes by metadata.name narrow the nodes to look at.
 * Returns ST_UNRESOLVABLE when the terms contradict each other. */
static int node_names_prefilter(sched_cycle_t *cy)
{
    const json_t *terms =
        ek_json_path(cy->p->obj, "spec", "affinity", "nodeAffinity",
                     "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", NULL);
    if (!cy->p->has_req_affinity || !json_array_size(terms)) {
        return 0;
    }
    ek_map_t names = EK_MAP_INIT;
    size_t i, k;
    json_t *term, *f;
    json_array_foreach (terms, i, term) {
        ek_map_t mine = EK_MAP_INIT;
        bool any = false;
        json_array_foreach (ek_json_path(term, "matchFields", NULL), k, f) {
            if (!ek_streq(ek_json_str(f, "key", NULL), "metadata.name") ||
                !ek_streq(ek_json_str(f, "operator", NULL), "In")) {
                continue;
            }
            const json_t *vals = ek_json_path(f, "values", NULL);
            ek_map_t next = EK_MAP_INIT;
            for (size_t j = 0; j < json_array_size(vals); j++) {
                const char *v = json_string_value(json_array_get(vals, j));
                if (v && (!any || ek_map_get(&mine, v))) {
                    ek_map_put(&next, v, (void *)1);
                }
            }
            ek_map_free(&mine);
            mine = next;
            any = true;
        }
        if (!any) {
            ek_map_free(&names);
            return 0; /* this term may pick any node */
        }
        size_t it = 0;
        const char *key;
        void *v;
        while (ek_map_next(&mine, &it, &key, &v)) {
            ek_map_put(&names, key, (void *)1);
        }
        ek_map_free(&mine);
    }
    cy->names_only = true;
    cy->names = names;
    return names.n ? 0 : ST_UNRESOLVABLE;
}

int sched_prefilter(sched_cycle_t *cy, sched_diag_t *d)
{
    const sched_pod_t *p = cy->p;
    cy->ns_labels = sched_ns_labels(cy->c, p->ns);
    if (node_names_prefilter(cy)) {
        d->prefilter_msg = ek_xstrdup("pod affinity terms conflict");
        d->plugins |= PL_NODE_AFFINITY;
        return ST_UNRESOLVABLE;
    }
    existing_anti_counts(cy);
    incoming_counts(cy, &p->aff, &cy->aff);
    incoming_counts(cy, &p->anti, &cy->anti);
    cy->ipa = cy->existing_anti.m.n || p->aff.n || p->anti.n;
    spread_prefilter(cy);
    return 0;
}

void sched_cycle_free(sched_cycle_t *cy)
{
    ek_map_free(&cy->names);
    sched_tp_free(&cy->existing_anti);
    sched_tp_free(&cy->aff);
    sched_tp_free(&cy->anti);
    for (size_t i = 0; i < cy->nspread; i++) {
        ek_map_free(&cy->spread[i].counts);
    }
    free(cy->spread);
    memset(cy, 0, sizeof(*cy));
}

/* ---- Filter: the plugins that need PreFilter's state ---- */

static bool spread_filter(const sched_cycle_t *cy, const sched_node_t *n, sched_status_t *st)
{
    const json_t *own = cy->p->group->labels;
    for (size_t i = 0; i < cy->nspread; i++) {
        const sched_spread_state_t *s = &cy->spread[i];
        const char *v = sched_node_label(n, s->c->topology_key);
        if (!v) {
            st_fail(st, ST_UNRESOLVABLE, PL_POD_TOPOLOGY_SPREAD, REASON_SPREAD_LABEL);
            return false;
        }
        long min = (long)s->domains < s->c->min_domains ? 0 : s->min;
        long self = ek_labelsel_matches(s->c->sel, own) ? 1 : 0;
        long match = (long)(intptr_t)ek_map_get(&s->counts, v);
        if (match + self - min > s->c->max_skew) {
            st_fail(st, ST_UNSCHEDULABLE, PL_POD_TOPOLOGY_SPREAD, REASON_SPREAD);
            return false;
        }
    }
    return true;
}

static bool matches_own_terms(const sched_cycle_t *cy)
{
    for (size_t i = 0; i < cy->p->aff.n; i++) {
        if (!sched_aterm_matches(&cy->p->aff.v[i], cy->p, cy->ns_labels)) {
            return false;
        }
    }
    return cy->p->aff.n > 0;
}

static bool affinity_ok(const sched_cycle_t *cy, const sched_node_t *n)
{
    bool exist = true;
    for (size_t i = 0; i < cy->p->aff.n; i++) {
        const char *key = cy->p->aff.v[i].topology_key;
        const char *v = sched_node_label(n, key);
        if (!v) {
            return false; /* every topology label must be on the node */
        }
        if (sched_tp_get(&cy->aff, key, v) <= 0) {
            exist = false;
        }
    }
    /* The first pod of a group with affinity to itself may go anywhere it would match. */
    return exist || (!cy->aff.m.n && matches_own_terms(cy));
}

static bool anti_ok(const sched_cycle_t *cy, const sched_node_t *n)
{
    for (size_t i = 0; cy->anti.m.n && i < cy->p->anti.n; i++) {
        const char *key = cy->p->anti.v[i].topology_key;
        const char *v = sched_node_label(n, key);
        if (v && sched_tp_get(&cy->anti, key, v) > 0) {
            return false;
        }
    }
    return true;
}

static bool existing_anti_ok(const sched_cycle_t *cy, const sched_node_t *n)
{
    if (!cy->existing_anti.m.n) {
        return true;
    }
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)n->labels, k, v) {
        const char *s = json_string_value(v);
        if (s && sched_tp_get(&cy->existing_anti, k, s) > 0) {
            return false;
        }
    }
    return true;
}

bool sched_filter_node(const sched_cycle_t *cy, const sched_node_t *n, sched_status_t *st)
{
    if (!sched_filter_local(cy->p, n, st)) {
        return false;
    }
    if (cy->nspread && !spread_filter(cy, n, st)) {
        return false;
    }
    if (!cy->ipa) {
        return true;
    }
    if (!affinity_ok(cy, n)) {
        st_fail(st, ST_UNRESOLVABLE, PL_INTER_POD_AFFINITY, REASON_POD_AFF);
        return false;
    }
    if (!anti_ok(cy, n)) {
        st_fail(st, ST_UNSCHEDULABLE, PL_INTER_POD_AFFINITY, REASON_POD_ANTI);
        return false;
    }
    if (!existing_anti_ok(cy, n)) {
        st_fail(st, ST_UNSCHEDULABLE, PL_INTER_POD_AFFINITY, REASON_EXISTING_ANTI);
        return false;
    }
    return true;
}
