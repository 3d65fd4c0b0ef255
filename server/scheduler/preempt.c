/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DefaultPreemption's PostFilter. Nodes that failed with a resolvable status (Unschedulable)
 * are tried without their lower-priority pods; if the pod then fits, victims are reprieved one
 * by one from the most important down, and the node with the least damage wins (lowest
 * highest-victim priority, lowest priority sum, fewest victims, youngest victims). When no node
 * can be freed, the dry run's own statuses become the " preemption: 0/3 nodes are available:
 * ..." sentence kube-scheduler appends to FailedScheduling messages: "Preemption is not
 * helpful for scheduling" for the nodes no eviction can fix, "No preemption victims found for
 * incoming pod" where nothing has a lower priority. PodDisruptionBudgets are not consulted.
 */
#include <stdio.h>

#include "server/scheduler/scheduler-internal.h"

#define NOT_HELPFUL "Preemption is not helpful for scheduling"
#define NO_VICTIMS  "No preemption victims found for incoming pod"

static int64_t start_ms(const sched_pod_t *p)
{
    return p->start_ms >= 0 ? p->start_ms : ek_wall_ms();
}

/* MoreImportantPod, most important first. */
static int cmp_importance(const void *a, const void *b)
{
    const sched_pod_t *x = *(sched_pod_t *const *)a, *y = *(sched_pod_t *const *)b;
    if (x->priority != y->priority) {
        return x->priority > y->priority ? -1 : 1;
    }
    int64_t sx = start_ms(x), sy = start_ms(y);
    return sx < sy ? -1 : sx > sy;
}

/* Does p fit on n as it is now? Full filters (with a fresh PreFilter) when the pod's cycle
 * depends on other pods, else the node-local ones. */
static bool fits(sched_cache_t *c, sched_pod_t *p, sched_node_t *n, bool full, sched_status_t *st)
{
    if (!full) {
        return sched_filter_local(p, n, st);
    }
    sched_cycle_t cy = { .c = c, .p = p };
    sched_diag_t d;
    sched_diag_init(&d, c->nlist);
    bool ok = sched_prefilter(&cy, &d) == 0 && sched_filter_node(&cy, n, st);
    sched_cycle_free(&cy);
    sched_diag_free(&d);
    return ok;
}

/* SelectVictimsOnNode. Returns true with the victims in *v, or false with the status. */
static bool select_victims(sched_cache_t *c, sched_pod_t *p, sched_node_t *n, bool full,
                           sched_victims_t *v, sched_status_t *st)
{
    sched_pod_t **lower = ek_xcalloc(n->npods + 1, sizeof(*lower));
    size_t nl = 0;
    for (size_t i = 0; i < n->npods; i++) {
        if (n->pods[i]->priority < p->priority) {
            lower[nl++] = n->pods[i];
        }
    }
    memset(st, 0, sizeof(*st));
    if (!nl) {
        free(lower);
        st->code = ST_UNRESOLVABLE;
        st->reasons[st->nreasons++] = NO_VICTIMS;
        return false;
    }
    for (size_t i = 0; i < nl; i++) {
        sched_node_remove_pod(n, lower[i]);
    }
    bool ok = fits(c, p, n, full, st);
    v->node = n;
    v->pods = ek_xcalloc(nl + 1, sizeof(*v->pods));
    v->n = 0;
    qsort(lower, nl, sizeof(*lower), cmp_importance);
    for (size_t i = 0; i < nl; i++) {
        sched_node_add_pod(n, lower[i]);
        sched_status_t tmp;
        if (ok && !fits(c, p, n, full, &tmp)) {
            sched_node_remove_pod(n, lower[i]);
            v->pods[v->n++] = lower[i];
        }
    }
    /* Put back every victim: this was a dry run. */
    for (size_t i = 0; i < v->n; i++) {
        sched_node_add_pod(n, v->pods[i]);
    }
    free(lower);
    if (!ok || !v->n) {
        free(v->pods);
        v->pods = NULL;
        v->n = 0;
        v->node = NULL;
        return false;
    }
    return true;
}

typedef struct rank {
    int32_t highest;
    int64_t sum;
    size_t n;
    int64_t earliest; /* earliest start among the highest-priority victims */
} rank_t;

static rank_t rank_of(const sched_victims_t *v)
{
    rank_t r = { INT32_MIN, 0, v->n, INT64_MAX };
    for (size_t i = 0; i < v->n; i++) {
        r.highest = EK_MAX(r.highest, v->pods[i]->priority);
        r.sum += (int64_t)v->pods[i]->priority + INT32_MAX + 1;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (v->pods[i]->priority == r.highest) {
            r.earliest = EK_MIN(r.earliest, start_ms(v->pods[i]));
        }
    }
    return r;
}

/* pickOneNodeForPreemption's order (no PodDisruptionBudgets: no violations anywhere). */
static bool better(const rank_t *a, const rank_t *b)
{
    if (a->highest != b->highest) {
        return a->highest < b->highest;
    }
    if (a->sum != b->sum) {
        return a->sum < b->sum;
    }
    if (a->n != b->n) {
        return a->n < b->n;
    }
    return a->earliest > b->earliest;
}

static bool terminating_by_preemption(const sched_pod_t *q)
{
    size_t i;
    json_t *cond;
    json_array_foreach (ek_json_path(q->obj, "status", "conditions", NULL), i, cond) {
        if (ek_streq(ek_json_str(cond, "type", NULL), "DisruptionTarget") &&
            ek_streq(ek_json_str(cond, "reason", NULL), "PreemptionByScheduler")) {
            return q->terminating;
        }
    }
    return false;
}

/* PodEligibleToPreemptOthers; NULL when eligible, else the reason. */
static const char *not_eligible(sched_cache_t *c, const sched_pod_t *p, const sched_diag_t *d)
{
    if (p->preempt_never) {
        return "not eligible due to preemptionPolicy=Never.";
    }
    const char *nom = ek_json_str(p->obj, "status", "nominatedNodeName", NULL);
    sched_node_t *n = nom && *nom ? sched_cache_node(c, nom) : NULL;
    if (!n || n->index == SIZE_MAX) {
        return NULL;
    }
    int code = d->code[n->index] ? d->code[n->index] - 1 : d->absent_code;
    for (size_t i = 0; code != ST_UNRESOLVABLE && i < n->npods; i++) {
        if (n->pods[i]->priority < p->priority && terminating_by_preemption(n->pods[i])) {
            return "not eligible due to a terminating pod on the nominated node.";
        }
    }
    return NULL;
}

int sched_preempt(sched_cache_t *c, sched_pod_t *p, const sched_diag_t *d, sched_victims_t *out,
                  char **msg)
{
    memset(out, 0, sizeof(*out));
    *msg = NULL;
    const char *why = not_eligible(c, p, d);
    if (why) {
        *msg = ek_xasprintf("preemption: %s", why);
        return 0;
    }
    bool full = sched_pod_has_affinity(p) || p->nspread > 0;
    for (size_t i = 0; !full && i < c->nlist; i++) {
        full = c->list[i]->n_req_anti > 0;
    }
    sched_diag_t pd;
    sched_diag_init(&pd, c->nlist);
    pd.absent_reason = ek_xstrdup(NOT_HELPFUL);
    pd.absent_code = ST_UNRESOLVABLE;
    rank_t best_rank = { 0 };
    for (size_t i = 0; i < c->nlist; i++) {
        int code = d->code[i] ? d->code[i] - 1 : d->absent_code;
        if (code != ST_UNSCHEDULABLE) {
            continue;
        }
        sched_victims_t v = { 0 };
        sched_status_t st;
        if (!select_victims(c, p, c->list[i], full, &v, &st)) {
            sched_diag_add(&pd, i, &st);
            continue;
        }
        rank_t r = rank_of(&v);
        bool take = !out->node || better(&r, &best_rank);
        sched_pod_t **dropped = take ? out->pods : v.pods;
        if (take) {
            *out = v;
            best_rank = r;
        }
        free(dropped);
    }
    int rc = out->node ? 1 : 0;
    if (!rc) {
        ek_autofree char *m = sched_diag_message(&pd, NULL);
        *msg = ek_xasprintf("preemption: %s", m);
    }
    sched_diag_free(&pd);
    return rc;
}
