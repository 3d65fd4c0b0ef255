/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PreScore, Score and NormalizeScore of the default profile, with its weights:
 * TaintToleration 3, NodeAffinity 2, NodeResourcesFit (LeastAllocated) 1, PodTopologySpread 2
 * (the system default constraints when the pod has none), InterPodAffinity 2,
 * NodeResourcesBalancedAllocation 1, ImageLocality 1. Each plugin scores 0..100 per node;
 * the node's total is the weighted sum, as kube-scheduler 1.32 computes it.
 */
#include <math.h>
#include <stdio.h>

#include "server/scheduler/scheduler-internal.h"

#define W_TAINT    3
#define W_AFFINITY 2
#define W_FIT      1
#define W_SPREAD   2
#define W_IPA      2
#define W_BALANCED 1
#define W_IMAGE    1

/* ---- primitives ---- */

int64_t sched_least_allocated(int64_t requested, int64_t capacity)
{
    if (capacity == 0 || requested > capacity) {
        return 0;
    }
    return (capacity - requested) * SCHED_MAX_SCORE / capacity;
}

int64_t sched_balanced(const int64_t *requested, const int64_t *alloc, size_t n)
{
    double fr[8], total = 0;
    size_t k = 0;
    for (size_t i = 0; i < n && k < EK_ARRAY_SIZE(fr); i++) {
        if (alloc[i] == 0) {
            continue;
        }
        double f = (double)requested[i] / (double)alloc[i];
        fr[k++] = f > 1 ? 1 : f;
        total += fr[k - 1];
    }
    double std = 0;
    if (k == 2) {
        std = fabs((fr[0] - fr[1]) / 2);
    } else if (k > 2) {
        double mean = total / (double)k, sum = 0;
        for (size_t i = 0; i < k; i++) {
            sum += (fr[i] - mean) * (fr[i] - mean);
        }
        std = sqrt(sum / (double)k);
    }
    return (int64_t)((1 - std) * SCHED_MAX_SCORE);
}

/* DefaultNormalizeScore. */
void sched_normalize(int64_t *scores, size_t n, bool reverse)
{
    int64_t max = 0;
    for (size_t i = 0; i < n; i++) {
        max = EK_MAX(max, scores[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (max == 0) {
            scores[i] = reverse ? SCHED_MAX_SCORE : scores[i];
            continue;
        }
        int64_t s = SCHED_MAX_SCORE * scores[i] / max;
        scores[i] = reverse ? SCHED_MAX_SCORE - s : s;
    }
}

int64_t sched_image_score(int64_t sum, size_t ncontainers)
{
    const int64_t mb = 1024 * 1024, min = 23 * mb;
    int64_t max = 1000 * mb * (int64_t)ncontainers;
    if (max <= min) {
        return 0;
    }
    sum = sum < min ? min : sum > max ? max : sum;
    return SCHED_MAX_SCORE * (sum - min) / (max - min);
}

static void add_weighted(int64_t *total, const int64_t *s, size_t n, int w)
{
    for (size_t i = 0; i < n; i++) {
        total[i] += w * s[i];
    }
}

/* ---- TaintToleration, NodeAffinity, resources, images ---- */

static void score_taints(const sched_pod_t *p, sched_node_t **nodes, size_t n, int64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        s[i] = 0;
        for (size_t k = 0; k < nodes[i]->ntaints; k++) {
            const sched_taint_t *t = &nodes[i]->taints[k];
            if (t->effect != EFFECT_PREFER_NO_SCHEDULE) {
                continue;
            }
            bool tolerated = false;
            for (size_t j = 0; j < p->ntols && !tolerated; j++) {
                const sched_toleration_t *tol = &p->tols[j];
                tolerated =
                    (tol->effect == EFFECT_ANY || tol->effect == EFFECT_PREFER_NO_SCHEDULE) &&
                    sched_toleration_tolerates(tol, t);
            }
            s[i] += !tolerated;
        }
    }
    sched_normalize(s, n, true);
}

static void score_resources(const sched_pod_t *p, sched_node_t **nodes, size_t n, int64_t *fit,
                            int64_t *bal)
{
    for (size_t i = 0; i < n; i++) {
        const sched_node_t *nd = nodes[i];
        int64_t sum = 0, weights = 0;
        if (nd->alloc.cpu) {
            sum += sched_least_allocated(nd->nz_cpu + p->nz_cpu, nd->alloc.cpu);
            weights++;
        }
        if (nd->alloc.mem) {
            sum += sched_least_allocated(nd->nz_mem + p->nz_mem, nd->alloc.mem);
            weights++;
        }
        fit[i] = weights ? sum / weights : 0;
        int64_t req[2] = { nd->used.cpu + p->req.cpu, nd->used.mem + p->req.mem };
        int64_t alloc[2] = { nd->alloc.cpu, nd->alloc.mem };
        bal[i] = sched_balanced(req, alloc, 2);
    }
}

static void score_images(const sched_cache_t *c, const sched_pod_t *p, sched_node_t **nodes,
                         size_t n, int64_t *s)
{
    size_t containers = json_array_size(ek_json_path(p->obj, "spec", "containers", NULL)) +
                        json_array_size(ek_json_path(p->obj, "spec", "initContainers", NULL));
    for (size_t i = 0; i < n; i++) {
        int64_t sum = 0;
        for (size_t k = 0; c->images.n && k < p->nimages; k++) {
            int64_t size = sched_node_image_size(nodes[i], p->images[k]);
            if (size) {
                double spread = (double)(intptr_t)ek_map_get(&c->images, p->images[k]) /
                                (double)(c->nlist ? c->nlist : 1);
                sum += (int64_t)((double)size * spread);
            }
        }
        s[i] = sched_image_score(sum, containers);
    }
}

/* ---- InterPodAffinity ---- */

typedef struct ipa_state {
    sched_cache_t *c;
    const sched_pod_t *p;
    const json_t *ns_labels;
    sched_tpcounts_t score;
    const char *keys[32]; /* distinct topology keys that got a score */
    size_t nkeys;
    uint64_t *tags; /* per preferred term of the incoming pod */
} ipa_state_t;

static void ipa_add(ipa_state_t *s, const char *key, const sched_node_t *n, long w)
{
    const char *v = sched_node_label(n, key);
    if (!v) {
        return;
    }
    sched_tp_add(&s->score, key, v, w);
    for (size_t i = 0; i < s->nkeys; i++) {
        if (strcmp(s->keys[i], key) == 0) {
            return;
        }
    }
    if (s->nkeys < EK_ARRAY_SIZE(s->keys)) {
        s->keys[s->nkeys++] = key;
    }
}

static bool memo_match(ipa_state_t *s, const sched_aterm_t *t, uint64_t tag, const sched_pod_t *q)
{
    sched_group_t *g = q->group;
    size_t slot = tag & 3;
    if (g->memo_tag[slot] != tag) {
        g->memo_tag[slot] = tag;
        g->memo_val[slot] =
            sched_aterm_matches(t, q, t->ns_sel ? sched_ns_labels(s->c, q->ns) : NULL);
    }
    return g->memo_val[slot];
}

/* processExistingPod: the incoming pod's preferred terms against q, and q's terms against the
 * incoming pod (required affinity with hardPodAffinityWeight 1). */
static void ipa_existing(ipa_state_t *s, const sched_pod_t *q, const sched_node_t *n)
{
    const sched_pod_t *p = s->p;
    size_t t = 0;
    for (size_t i = 0; i < p->pref_aff.n; i++, t++) {
        if (memo_match(s, &p->pref_aff.v[i], s->tags[t], q)) {
            ipa_add(s, p->pref_aff.v[i].topology_key, n, p->pref_aff.v[i].weight);
        }
    }
    for (size_t i = 0; i < p->pref_anti.n; i++, t++) {
        if (memo_match(s, &p->pref_anti.v[i], s->tags[t], q)) {
            ipa_add(s, p->pref_anti.v[i].topology_key, n, -p->pref_anti.v[i].weight);
        }
    }
    const sched_aterms_t *lists[3] = { &q->aff, &q->pref_aff, &q->pref_anti };
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < lists[l]->n; i++) {
            const sched_aterm_t *term = &lists[l]->v[i];
            if (sched_aterm_matches(term, p, s->ns_labels)) {
                ipa_add(s, term->topology_key, n, l == 2 ? -term->weight : term->weight);
            }
        }
    }
}

static void score_ipa(sched_cache_t *c, const sched_pod_t *p, sched_node_t **nodes, size_t n,
                      int64_t *scores)
{
    ipa_state_t s = { .c = c, .p = p, .ns_labels = sched_ns_labels(c, p->ns) };
    bool own = p->pref_aff.n || p->pref_anti.n;
    size_t nt = p->pref_aff.n + p->pref_anti.n;
    s.tags = ek_xcalloc(nt + 1, sizeof(*s.tags));
    for (size_t i = 0; i < nt; i++) {
        s.tags[i] = sched_memo_tag(c);
    }
    for (size_t i = 0; i < c->nlist; i++) {
        const sched_node_t *nd = c->list[i];
        if (!json_object_size(nd->labels) || (!own && !nd->n_affinity)) {
            continue;
        }
        for (size_t k = 0; k < nd->npods; k++) {
            if (own || sched_pod_has_affinity(nd->pods[k])) {
                ipa_existing(&s, nd->pods[k], nd);
            }
        }
    }
    int64_t min = INT64_MAX, max = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        scores[i] = 0;
        for (size_t k = 0; k < s.nkeys; k++) {
            const char *v = sched_node_label(nodes[i], s.keys[k]);
            scores[i] += v ? sched_tp_get(&s.score, s.keys[k], v) : 0;
        }
        min = EK_MIN(min, scores[i]);
        max = EK_MAX(max, scores[i]);
    }
    for (size_t i = 0; s.score.m.n && i < n; i++) {
        double f = max > min
                       ? (double)SCHED_MAX_SCORE * (double)(scores[i] - min) / (double)(max - min)
                       : 0;
        scores[i] = (int64_t)f;
    }
    sched_tp_free(&s.score);
    free(s.tags);
}

/* ---- PodTopologySpread ---- */

typedef struct svc_ctx {
    const sched_pod_t *p;
    ek_buf_t *b;
} svc_ctx_t;

/* GetPodServices: a Service whose (non-nil) selector matches the pod adds its labels. */
static void add_service(json_t *svc, void *data)
{
    svc_ctx_t *x = data;
    const json_t *sel = ek_json_path(svc, "spec", "selector", NULL);
    if (!json_is_object(sel)) {
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)sel, k, v) {
        const char *have = json_string_value(json_object_get(x->p->group->labels, k));
        if (!have || !ek_streq(have, json_string_value(v))) {
            return;
        }
    }
    json_object_foreach ((json_t *)sel, k, v) {
        ek_buf_printf(x->b, "%s%s=%s", x->b->len ? "," : "", k, json_string_value(v));
    }
}

ek_labelsel_t *sched_default_selector(const sched_cache_t *c, const sched_pod_t *p)
{
    ek_autobuf b = EK_BUF_INIT;
    svc_ctx_t x = { p, &b };
    if (c->listers.each_service) {
        c->listers.each_service(c->listers.data, p->ns, add_service, &x);
    }
    size_t i;
    json_t *ref;
    json_array_foreach (ek_json_path(p->obj, "metadata", "ownerReferences", NULL), i, ref) {
        if (!ek_json_bool(ref, 0, "controller", NULL) || !c->listers.get) {
            continue;
        }
        const char *kind = ek_json_str(ref, "kind", NULL),
                   *av = ek_json_str(ref, "apiVersion", NULL);
        bool rc = ek_streq(kind, "ReplicationController") && ek_streq(av, "v1");
        bool apps = (ek_streq(kind, "ReplicaSet") || ek_streq(kind, "StatefulSet")) &&
                    ek_streq(av, "apps/v1");
        json_t *owner = rc || apps ? c->listers.get(c->listers.data, kind, p->ns,
                                                    ek_json_str(ref, "name", NULL))
                                   : NULL;
        const json_t *sel = ek_json_path(owner, "spec", "selector", NULL);
        if (rc) {
            const char *k;
            json_t *v;
            json_object_foreach ((json_t *)sel, k, v) {
                ek_buf_printf(&b, "%s%s=%s", b.len ? "," : "", k, json_string_value(v));
            }
        } else if (owner) {
            ek_labelsel_t *ls = ek_labelsel_from_json(sel, NULL);
            ek_autofree char *str =
                ls && !ek_labelsel_is_nothing(ls) ? ek_labelsel_string(ls) : NULL;
            if (str && *str) {
                ek_buf_printf(&b, "%s%s", b.len ? "," : "", str);
            }
            ek_labelsel_free(ls);
        }
        break;
    }
    ek_labelsel_t *sel = b.len ? ek_labelsel_parse(b.data, NULL) : NULL;
    if (sel && ek_labelsel_empty(sel)) {
        ek_labelsel_free(sel);
        sel = NULL;
    }
    return sel;
}

typedef struct spread_score {
    sched_spread_t *cons;
    size_t ncons;
    uint64_t *tags;
    bool require_all;
    ek_labelsel_t *default_sel;
    sched_spread_t defaults[2];
} spread_score_t;

/* The ScheduleAnyway constraints of the pod, or the system defaults (hostname maxSkew 3, zone
 * maxSkew 5) with the pod's default selector. Returns false when there are none. */
static bool spread_constraints(sched_cache_t *c, const sched_pod_t *p, spread_score_t *s)
{
    memset(s, 0, sizeof(*s));
    if (p->nspread) {
        s->cons = ek_xcalloc(p->nspread, sizeof(*s->cons));
        for (size_t i = 0; i < p->nspread; i++) {
            if (!p->spread[i].hard) {
                s->cons[s->ncons++] = p->spread[i];
            }
        }
        s->require_all = true;
    } else if ((s->default_sel = sched_default_selector(c, p))) {
        s->defaults[0] =
            (sched_spread_t){ 3, sched_label_hostname, false, s->default_sel, 1, true, false };
        s->defaults[1] =
            (sched_spread_t){ 5, sched_label_zone, false, s->default_sel, 1, true, false };
        s->cons = ek_xcalloc(2, sizeof(*s->cons));
        memcpy(s->cons, s->defaults, sizeof(s->defaults));
        s->ncons = 2;
    }
    s->tags = ek_xcalloc(s->ncons + 1, sizeof(*s->tags));
    for (size_t i = 0; i < s->ncons; i++) {
        /* Constraints sharing a selector share a tag, so each group is matched once. */
        s->tags[i] = i && s->cons[i].sel == s->cons[i - 1].sel ? s->tags[i - 1] : sched_memo_tag(c);
    }
    return s->ncons > 0;
}

static bool has_all_keys(const spread_score_t *s, const sched_node_t *n)
{
    for (size_t k = 0; k < s->ncons; k++) {
        if (!sched_node_label(n, s->cons[k].topology_key)) {
            return false;
        }
    }
    return true;
}

static bool is_hostname(const sched_spread_t *c)
{
    return strcmp(c->topology_key, sched_label_hostname) == 0;
}

/* Domains of the scored nodes (counts stored + 1, so 0 means "not a domain"), and the pod
 * counts of each domain over every node that the inclusion policies admit. */
static void spread_domains(sched_cache_t *c, const sched_pod_t *p, spread_score_t *s,
                           sched_node_t **nodes, size_t n, const bool *ignored, ek_map_t *pairs,
                           size_t *sizes)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; !ignored[i] && k < s->ncons; k++) {
            const char *v = sched_node_label(nodes[i], s->cons[k].topology_key) ?: "";
            if (!is_hostname(&s->cons[k]) && !ek_map_get(&pairs[k], v)) {
                ek_map_put(&pairs[k], v, (void *)1);
                sizes[k]++;
            }
        }
    }
    for (size_t k = 0; k < s->ncons; k++) {
        const sched_spread_t *con = &s->cons[k];
        if (is_hostname(con)) {
            continue; /* per-node counts are taken while scoring */
        }
        for (size_t i = 0; i < c->nlist; i++) {
            const sched_node_t *nd = c->list[i];
            /* A domain's count is only read for nodes carrying the label. */
            const char *v = sched_node_label(nd, con->topology_key);
            intptr_t cur = v ? (intptr_t)ek_map_get(&pairs[k], v) : 0;
            if (!cur || (s->require_all && !has_all_keys(s, nd)) ||
                (con->honor_affinity && !sched_node_affinity_ok(p, nd)) ||
                (con->honor_taints && sched_untolerated(p, nd))) {
                continue;
            }
            cur += sched_count_matching(nd, con->sel, s->tags[k], p->ns);
            ek_map_put(&pairs[k], v, (void *)cur);
        }
    }
}

static void spread_normalize(int64_t *scores, const bool *ignored, size_t n)
{
    int64_t min = INT64_MAX, max = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ignored[i]) {
            min = EK_MIN(min, scores[i]);
            max = EK_MAX(max, scores[i]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (ignored[i]) {
            scores[i] = 0;
        } else if (max == 0) {
            scores[i] = SCHED_MAX_SCORE;
        } else {
            scores[i] = SCHED_MAX_SCORE * (max + min - scores[i]) / max;
        }
    }
}

static void score_spread(sched_cache_t *c, const sched_pod_t *p, sched_node_t **nodes, size_t n,
                         int64_t *scores)
{
    spread_score_t s;
    memset(scores, 0, n * sizeof(*scores));
    if (!spread_constraints(c, p, &s)) {
        free(s.tags);
        free(s.cons);
        return;
    }
    bool *ignored = ek_xcalloc(n + 1, sizeof(bool));
    size_t nignored = 0;
    for (size_t i = 0; i < n; i++) {
        ignored[i] = s.require_all && !has_all_keys(&s, nodes[i]);
        nignored += ignored[i];
    }
    ek_map_t *pairs = ek_xcalloc(s.ncons, sizeof(ek_map_t));
    size_t *sizes = ek_xcalloc(s.ncons, sizeof(size_t));
    spread_domains(c, p, &s, nodes, n, ignored, pairs, sizes);
    for (size_t i = 0; i < n; i++) {
        double sc = 0;
        for (size_t k = 0; !ignored[i] && k < s.ncons; k++) {
            const sched_spread_t *con = &s.cons[k];
            const char *v = sched_node_label(nodes[i], con->topology_key);
            if (!v) {
                continue;
            }
            size_t size = is_hostname(con) ? n - nignored : sizes[k];
            long cnt = is_hostname(con) ? sched_count_matching(nodes[i], con->sel, s.tags[k], p->ns)
                                        : (long)(intptr_t)ek_map_get(&pairs[k], v) - 1;
            sc += (double)cnt * log((double)size + 2) + (double)(con->max_skew - 1);
        }
        scores[i] = (int64_t)llround(sc);
    }
    spread_normalize(scores, ignored, n);
    for (size_t k = 0; k < s.ncons; k++) {
        ek_map_free(&pairs[k]);
    }
    free(pairs);
    free(sizes);
    free(ignored);
    free(s.tags);
    free(s.cons);
    ek_labelsel_free(s.default_sel);
}

/* ---- all together ---- */

void sched_score_nodes(sched_cache_t *c, sched_pod_t *p, sched_node_t **nodes, size_t n,
                       int64_t *total)
{
    int64_t *s = ek_xcalloc(n + 1, sizeof(int64_t)), *s2 = ek_xcalloc(n + 1, sizeof(int64_t));
    memset(total, 0, n * sizeof(*total));
    score_taints(p, nodes, n, s);
    add_weighted(total, s, n, W_TAINT);
    if (p->pref_affinity.nterms) {
        for (size_t i = 0; i < n; i++) {
            s[i] = sched_nodesel_score(&p->pref_affinity, nodes[i]->name, nodes[i]->labels);
        }
        sched_normalize(s, n, false);
        add_weighted(total, s, n, W_AFFINITY);
    }
    score_resources(p, nodes, n, s, s2);
    add_weighted(total, s, n, W_FIT);
    add_weighted(total, s2, n, W_BALANCED);
    score_spread(c, p, nodes, n, s);
    add_weighted(total, s, n, W_SPREAD);
    score_ipa(c, p, nodes, n, s);
    add_weighted(total, s, n, W_IPA);
    if (c->images.n) {
        score_images(c, p, nodes, n, s);
        add_weighted(total, s, n, W_IMAGE);
    }
    free(s);
    free(s2);
}
