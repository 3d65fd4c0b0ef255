/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One scheduling cycle, as schedulePod does it: PreFilter, then Filter over the nodes starting
 * where the last search stopped until enough feasible nodes are found (percentageOfNodesToScore:
 * 50% minus 1% per 125 nodes, at least 5% and 100 nodes), then Score and a random pick among the
 * best. When no node fits, the diagnosis becomes the FitError message and DefaultPreemption
 * either finds victims or adds its own "preemption: ..." sentence.
 */
#include "server/scheduler/scheduler-internal.h"

size_t sched_nodes_to_find(int percentage, size_t nnodes)
{
    if (nnodes < SCHED_MIN_NODES_SCORED) {
        return nnodes;
    }
    long pct = percentage;
    if (pct <= 0) {
        pct = 50 - (long)nnodes / 125;
        pct = pct < 5 ? 5 : pct;
    }
    size_t n = nnodes * (size_t)pct / 100;
    return n < SCHED_MIN_NODES_SCORED ? SCHED_MIN_NODES_SCORED : n;
}

void sched_result_free(sched_result_t *r)
{
    free(r->message);
    free(r->victims.pods);
    memset(r, 0, sizeof(*r));
}

/* selectHost: the best total score, ties broken at random (reservoir sampling). */
static sched_node_t *select_host(sched_cache_t *c, sched_node_t **nodes, const int64_t *score,
                                 size_t n)
{
    size_t best = 0, ties = 1;
    for (size_t i = 1; i < n; i++) {
        if (score[i] > score[best]) {
            best = i;
            ties = 1;
        } else if (score[i] == score[best] && (size_t)rand_r(&c->seed) % ++ties == 0) {
            best = i;
        }
    }
    return nodes[best];
}

static void no_fit(sched_cache_t *c, sched_pod_t *p, sched_diag_t *d, sched_result_t *r)
{
    r->plugins = d->plugins;
    char *post = NULL;
    if (sched_preempt(c, p, d, &r->victims, &post) == 1) {
        r->message = sched_diag_message(d, NULL);
    } else {
        r->message = sched_diag_message(d, post);
        r->unresolvable = true;
    }
    free(post);
}

/* The nodes a PreFilterResult leaves (metadata.name terms), in list order. */
static sched_node_t **named_nodes(sched_cache_t *c, const sched_cycle_t *cy, size_t *n)
{
    sched_node_t **v = ek_xcalloc(cy->names.n + 1, sizeof(*v));
    *n = 0;
    for (size_t i = 0; i < c->nlist; i++) {
        if (ek_map_get(&cy->names, c->list[i]->name)) {
            v[(*n)++] = c->list[i];
        }
    }
    return v;
}

/* Filters candidates from c->next_start until `want` fit; returns how many fit. */
static size_t find_feasible(sched_cache_t *c, const sched_cycle_t *cy, sched_node_t **cand,
                            size_t ncand, sched_node_t **feasible, sched_diag_t *d,
                            sched_result_t *r)
{
    size_t want = sched_nodes_to_find(c->percentage, ncand), nf = 0, i = 0;
    sched_status_t st;
    for (; i < ncand && nf < want; i++) {
        sched_node_t *n = cand[(c->next_start + i) % ncand];
        if (sched_filter_node(cy, n, &st)) {
            feasible[nf++] = n;
        } else {
            sched_diag_add(d, n->index, &st);
        }
    }
    r->evaluated = i;
    c->next_start = (c->next_start + i) % c->nlist;
    return nf;
}

void sched_schedule(sched_cache_t *c, sched_pod_t *p, sched_result_t *r)
{
    memset(r, 0, sizeof(*r));
    if (!c->nlist) {
        r->message = ek_xstrdup("no nodes available to schedule pods");
        r->unresolvable = true;
        return;
    }
    sched_cycle_t cy = { .c = c, .p = p };
    sched_diag_t d;
    sched_diag_init(&d, c->nlist);
    int pre = sched_prefilter(&cy, &d);
    if (pre) {
        d.absent_code = pre; /* every node carries PreFilter's verdict */
        no_fit(c, p, &d, r);
        goto out;
    }
    size_t ncand = c->nlist;
    sched_node_t **cand = c->list, **named = NULL;
    if (cy.names_only) {
        cand = named = named_nodes(c, &cy, &ncand);
        d.absent_reason = ek_xstrdup("node(s) didn't satisfy plugin(s) [NodeAffinity]");
        d.absent_code = ST_UNRESOLVABLE;
    }
    sched_node_t **feasible = ek_xcalloc(ncand + 1, sizeof(*feasible));
    size_t nf = ncand ? find_feasible(c, &cy, cand, ncand, feasible, &d, r) : 0;
    if (nf == 0) {
        no_fit(c, p, &d, r);
    } else if (nf == 1) {
        r->node = feasible[0];
    } else {
        int64_t *score = ek_xcalloc(nf, sizeof(*score));
        sched_score_nodes(c, p, feasible, nf, score);
        r->node = select_host(c, feasible, score, nf);
        free(score);
    }
    free(feasible);
    free(named);
out:
    sched_cycle_free(&cy);
    sched_diag_free(&d);
}
