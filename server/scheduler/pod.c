/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pod as the scheduler sees it: parsed once when it is queued or placed, so that filters and
 * scores never walk JSON. Resource requests follow resourcehelper.PodRequests (sidecars,
 * overhead, the non-zero scoring defaults); node selectors follow component-helpers'
 * nodeaffinity (empty terms select nothing, Gt/Lt compare integers, matchFields know only
 * metadata.name); pod affinity terms get the namespaces kube-scheduler derives for them.
 */
#include <errno.h>
#include <stdio.h>

#include "server/scheduler/scheduler-internal.h"

/* ---- resources ---- */

static sched_scalar_t *scalar_slot(sched_res_t *r, const char *name, bool create)
{
    for (size_t i = 0; i < r->nscalars; i++) {
        if (strcmp(r->scalars[i].name, name) == 0) {
            return &r->scalars[i];
        }
    }
    if (!create) {
        return NULL;
    }
    r->scalars = ek_xrealloc(r->scalars, (r->nscalars + 1) * sizeof(*r->scalars));
    r->scalars[r->nscalars] = (sched_scalar_t){ ek_xstrdup(name), 0 };
    return &r->scalars[r->nscalars++];
}

void sched_res_add(sched_res_t *a, const sched_res_t *b, int sign)
{
    a->cpu += sign * b->cpu;
    a->mem += sign * b->mem;
    a->eph += sign * b->eph;
    for (size_t i = 0; i < b->nscalars; i++) {
        scalar_slot(a, b->scalars[i].name, true)->value += sign * b->scalars[i].value;
    }
}

static void res_max(sched_res_t *a, const sched_res_t *b)
{
    a->cpu = EK_MAX(a->cpu, b->cpu);
    a->mem = EK_MAX(a->mem, b->mem);
    a->eph = EK_MAX(a->eph, b->eph);
    for (size_t i = 0; i < b->nscalars; i++) {
        sched_scalar_t *s = scalar_slot(a, b->scalars[i].name, true);
        s->value = EK_MAX(s->value, b->scalars[i].value);
    }
}

int64_t sched_res_scalar(const sched_res_t *r, const char *name)
{
    sched_scalar_t *s = scalar_slot((sched_res_t *)r, name, false);
    return s ? s->value : 0;
}

void sched_res_free(sched_res_t *r)
{
    for (size_t i = 0; i < r->nscalars; i++) {
        free(r->scalars[i].name);
    }
    free(r->scalars);
    memset(r, 0, sizeof(*r));
}

/* schedutil.IsScalarResourceName: extended resources (a domain other than kubernetes.io),
 * hugepages, prefixed native and attachable volume resources. */
static bool is_scalar(const char *name)
{
    if (ek_has_prefix(name, "hugepages-") || ek_has_prefix(name, "attachable-volumes-")) {
        return true;
    }
    return strchr(name, '/') && !ek_has_prefix(name, "requests.");
}

static int64_t quantity(const json_t *v, bool milli)
{
    ek_quantity_t q;
    int64_t out = 0;
    const char *s = json_string_value(v);
    if (!s || ek_quantity_parse(s, &q, NULL) < 0) {
        return 0;
    }
    if ((milli ? ek_quantity_milli(&q, &out, NULL) : ek_quantity_value(&q, &out, NULL)) < 0) {
        return INT64_MAX / 4; /* too large to ever fit */
    }
    return out;
}

void sched_res_add_list(sched_res_t *r, const json_t *list, int64_t *pods)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)list, k, v) {
        if (strcmp(k, "cpu") == 0) {
            r->cpu += quantity(v, true);
        } else if (strcmp(k, "memory") == 0) {
            r->mem += quantity(v, false);
        } else if (strcmp(k, "ephemeral-storage") == 0) {
            r->eph += quantity(v, false);
        } else if (strcmp(k, "pods") == 0) {
            if (pods) {
                *pods += quantity(v, false);
            }
        } else if (is_scalar(k)) {
            scalar_slot(r, k, true)->value += quantity(v, false);
        }
    }
}

/* One container's requests, with the scoring defaults for a missing cpu / memory. */
static void container_requests(const json_t *c, bool nonzero, sched_res_t *out)
{
    const json_t *req = ek_json_path(c, "resources", "requests", NULL);
    sched_res_add_list(out, req, NULL);
    if (nonzero && !json_object_get(req, "cpu")) {
        out->cpu += SCHED_DEFAULT_CPU;
    }
    if (nonzero && !json_object_get(req, "memory")) {
        out->mem += SCHED_DEFAULT_MEM;
    }
}

void sched_pod_requests(const json_t *spec, bool nonzero, sched_res_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(spec, "containers", NULL), i, c) {
        container_requests(c, nonzero, out);
    }
    sched_res_t sidecars = { 0 }, init_max = { 0 };
    json_array_foreach (ek_json_path(spec, "initContainers", NULL), i, c) {
        sched_res_t one = { 0 };
        container_requests(c, nonzero, &one);
        if (ek_streq(ek_json_str(c, "restartPolicy", NULL), "Always")) {
            /* A sidecar runs alongside everything started after it. */
            sched_res_add(out, &one, 1);
            sched_res_add(&sidecars, &one, 1);
            res_max(&init_max, &sidecars);
        } else {
            sched_res_add(&one, &sidecars, 1);
            res_max(&init_max, &one);
        }
        sched_res_free(&one);
    }
    res_max(out, &init_max);
    sched_res_free(&sidecars);
    sched_res_free(&init_max);
    sched_res_add_list(out, ek_json_path(spec, "overhead", NULL), NULL);
}

/* ---- taints and tolerations ---- */

sched_effect_t sched_effect_parse(const char *s)
{
    if (!s || !*s) {
        return EFFECT_ANY;
    }
    if (strcmp(s, "NoSchedule") == 0) {
        return EFFECT_NO_SCHEDULE;
    }
    if (strcmp(s, "PreferNoSchedule") == 0) {
        return EFFECT_PREFER_NO_SCHEDULE;
    }
    if (strcmp(s, "NoExecute") == 0) {
        return EFFECT_NO_EXECUTE;
    }
    return EFFECT_OTHER;
}

/* Toleration.ToleratesTaint: an empty effect or key matches any, an empty operator is Equal. */
bool sched_toleration_tolerates(const sched_toleration_t *t, const sched_taint_t *taint)
{
    if (t->effect != EFFECT_ANY && t->effect != taint->effect) {
        return false;
    }
    if (*t->key && strcmp(t->key, taint->key) != 0) {
        return false;
    }
    switch (t->op) {
    case TOL_EQUAL:
        return strcmp(t->value, taint->value) == 0;
    case TOL_EXISTS:
        return true;
    default:
        return false;
    }
}

bool sched_tolerations_tolerate(const sched_toleration_t *t, size_t n, const sched_taint_t *taint)
{
    for (size_t i = 0; i < n; i++) {
        if (sched_toleration_tolerates(&t[i], taint)) {
            return true;
        }
    }
    return false;
}

static void parse_tolerations(sched_pod_t *p, const json_t *arr)
{
    size_t i;
    json_t *t;
    p->tols = ek_xcalloc(json_array_size(arr) + 1, sizeof(*p->tols));
    json_array_foreach (arr, i, t) {
        const char *op = ek_json_str(t, "operator", NULL);
        sched_toleration_t *x = &p->tols[p->ntols++];
        x->key = ek_json_str(t, "key", NULL) ?: "";
        x->value = ek_json_str(t, "value", NULL) ?: "";
        x->op = !op || !*op || strcmp(op, "Equal") == 0 ? TOL_EQUAL
                : strcmp(op, "Exists") == 0             ? TOL_EXISTS
                                                        : TOL_OTHER;
        x->effect = sched_effect_parse(ek_json_str(t, "effect", NULL));
    }
}

/* ---- node selectors ---- */

static bool parse_nsreq(sched_nsreq_t *r, const json_t *j, bool field)
{
    const char *op = ek_json_str(j, "operator", NULL);
    const json_t *vals = ek_json_path(j, "values", NULL);
    r->key = ek_json_str(j, "key", NULL) ?: "";
    r->nvalues = json_array_size(vals);
    r->values = ek_xcalloc(r->nvalues + 1, sizeof(*r->values));
    for (size_t i = 0; i < r->nvalues; i++) {
        r->values[i] = json_string_value(json_array_get(vals, i)) ?: "";
    }
    static const char *const ops[] = { "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt" };
    size_t k = 0;
    while (k < EK_ARRAY_SIZE(ops) && !ek_streq(op, ops[k])) {
        k++;
    }
    if (k == EK_ARRAY_SIZE(ops) || (field && k > NSOP_NOT_IN)) {
        return false;
    }
    r->op = (sched_nsop_t)k;
    if (field) {
        return r->nvalues == 1; /* a field requirement takes exactly one value */
    }
    switch (r->op) {
    case NSOP_IN:
    case NSOP_NOT_IN:
        return r->nvalues > 0;
    case NSOP_EXISTS:
    case NSOP_DOES_NOT_EXIST:
        return r->nvalues == 0;
    default: {
        char *end;
        errno = 0;
        r->num = r->nvalues == 1 ? strtoll(r->values[0], &end, 10) : 0;
        return r->nvalues == 1 && *r->values[0] && !*end && errno == 0;
    }
    }
}

static void parse_nsreqs(sched_nsterm_t *t, const json_t *arr, bool field)
{
    size_t n = json_array_size(arr);
    sched_nsreq_t *v = ek_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        if (!parse_nsreq(&v[i], json_array_get(arr, i), field)) {
            t->broken = true;
        }
    }
    if (field) {
        t->fields = v;
        t->nfields = n;
    } else {
        t->exprs = v;
        t->nexprs = n;
    }
}

void sched_nodesel_parse(sched_nodesel_t *s, const json_t *terms, bool preferred)
{
    memset(s, 0, sizeof(*s));
    s->terms = ek_xcalloc(json_array_size(terms) + 1, sizeof(*s->terms));
    size_t i;
    json_t *j;
    json_array_foreach (terms, i, j) {
        const json_t *term = preferred ? ek_json_path(j, "preference", NULL) : j;
        const json_t *exprs = ek_json_path(term, "matchExpressions", NULL);
        const json_t *fields = ek_json_path(term, "matchFields", NULL);
        int32_t weight = preferred ? (int32_t)ek_json_int(j, 0, "weight", NULL) : 1;
        if ((!json_array_size(exprs) && !json_array_size(fields)) || weight == 0) {
            continue; /* an empty term selects nothing */
        }
        sched_nsterm_t *t = &s->terms[s->nterms++];
        t->weight = weight;
        if (json_array_size(exprs)) {
            parse_nsreqs(t, exprs, false);
        }
        if (json_array_size(fields)) {
            parse_nsreqs(t, fields, true);
        }
    }
}

void sched_nodesel_free(sched_nodesel_t *s)
{
    for (size_t i = 0; i < s->nterms; i++) {
        for (size_t k = 0; k < s->terms[i].nexprs; k++) {
            free(s->terms[i].exprs[k].values);
        }
        for (size_t k = 0; k < s->terms[i].nfields; k++) {
            free(s->terms[i].fields[k].values);
        }
        free(s->terms[i].exprs);
        free(s->terms[i].fields);
    }
    free(s->terms);
    memset(s, 0, sizeof(*s));
}

static bool has_value(const sched_nsreq_t *r, const char *v)
{
    for (size_t i = 0; i < r->nvalues; i++) {
        if (strcmp(r->values[i], v) == 0) {
            return true;
        }
    }
    return false;
}

/* labels.Requirement.Matches over node labels. */
static bool nsreq_matches(const sched_nsreq_t *r, const char *v)
{
    switch (r->op) {
    case NSOP_IN:
        return v && has_value(r, v);
    case NSOP_NOT_IN:
        return !v || !has_value(r, v);
    case NSOP_EXISTS:
        return v != NULL;
    case NSOP_DOES_NOT_EXIST:
        return v == NULL;
    case NSOP_GT:
    case NSOP_LT: {
        if (!v || !*v) {
            return false;
        }
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (*end || errno) {
            return false;
        }
        return r->op == NSOP_GT ? x > r->num : x < r->num;
    }
    }
    return false;
}

bool sched_nsterm_matches(const sched_nsterm_t *t, const char *node_name, const json_t *labels)
{
    if (t->broken) {
        return false;
    }
    for (size_t i = 0; i < t->nexprs; i++) {
        const char *v = json_string_value(json_object_get(labels, t->exprs[i].key));
        if (!nsreq_matches(&t->exprs[i], v)) {
            return false;
        }
    }
    for (size_t i = 0; i < t->nfields; i++) {
        const sched_nsreq_t *r = &t->fields[i];
        const char *v = strcmp(r->key, "metadata.name") == 0 ? node_name : "";
        bool eq = strcmp(v, r->values[0]) == 0;
        if (eq != (r->op == NSOP_IN)) {
            return false;
        }
    }
    return true;
}

bool sched_nodesel_matches(const sched_nodesel_t *s, const char *node_name, const json_t *labels)
{
    for (size_t i = 0; i < s->nterms; i++) {
        if (sched_nsterm_matches(&s->terms[i], node_name, labels)) {
            return true;
        }
    }
    return false;
}

int64_t sched_nodesel_score(const sched_nodesel_t *s, const char *node_name, const json_t *labels)
{
    int64_t score = 0;
    for (size_t i = 0; i < s->nterms; i++) {
        if (sched_nsterm_matches(&s->terms[i], node_name, labels)) {
            score += s->terms[i].weight;
        }
    }
    return score;
}

/* ---- inter-pod affinity and topology spread ---- */

/* A label selector with the pod's own values of match keys added (key in (v)) and of
 * mismatch keys excluded (key notin (v)), as matchLabelKeys / mismatchLabelKeys ask. An
 * invalid selector selects nothing. */
static ek_labelsel_t *selector_with_keys(const json_t *sel_json, const json_t *match,
                                         const json_t *mismatch, const json_t *labels)
{
    ek_labelsel_t *sel = ek_labelsel_from_json(sel_json, NULL);
    if (!sel) {
        return ek_labelsel_nothing();
    }
    if (ek_labelsel_is_nothing(sel) || (!json_array_size(match) && !json_array_size(mismatch))) {
        return sel;
    }
    ek_autobuf b = EK_BUF_INIT;
    ek_autofree char *base = ek_labelsel_string(sel);
    ek_buf_puts(&b, base);
    const json_t *lists[2] = { match, mismatch };
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *k;
        json_array_foreach (lists[l], i, k) {
            const char *v = json_string_value(json_object_get(labels, json_string_value(k)));
            if (v) {
                ek_buf_printf(&b, "%s%s %s (%s)", b.len ? "," : "", json_string_value(k),
                              l ? "notin" : "in", v);
            }
        }
    }
    ek_labelsel_t *merged = ek_labelsel_parse(b.data ? b.data : "", NULL);
    if (!merged) {
        return sel;
    }
    ek_labelsel_free(sel);
    return merged;
}

static void parse_aterm(sched_pod_t *p, sched_aterm_t *t, const json_t *j, int32_t weight)
{
    const json_t *labels = ek_json_path(p->obj, "metadata", "labels", NULL);
    t->sel = selector_with_keys(ek_json_path(j, "labelSelector", NULL),
                                ek_json_path(j, "matchLabelKeys", NULL),
                                ek_json_path(j, "mismatchLabelKeys", NULL), labels);
    const json_t *nss = ek_json_path(j, "namespaces", NULL);
    const json_t *nsel = ek_json_path(j, "namespaceSelector", NULL);
    t->namespaces = ek_xcalloc(json_array_size(nss) + 1, sizeof(*t->namespaces));
    size_t i;
    json_t *v;
    json_array_foreach (nss, i, v) {
        t->namespaces[t->nns++] = json_string_value(v) ?: "";
    }
    if (!t->nns && (!nsel || json_is_null(nsel))) {
        t->namespaces[t->nns++] = p->ns;
    }
    if (nsel && !json_is_null(nsel)) {
        t->ns_sel = ek_labelsel_from_json(nsel, NULL);
    }
    t->topology_key = ek_json_str(j, "topologyKey", NULL) ?: "";
    t->weight = weight;
}

static void parse_aterms(sched_pod_t *p, sched_aterms_t *out, const json_t *arr, bool weighted)
{
    out->v = ek_xcalloc(json_array_size(arr) + 1, sizeof(*out->v));
    size_t i;
    json_t *j;
    json_array_foreach (arr, i, j) {
        if (weighted) {
            parse_aterm(p, &out->v[out->n++], ek_json_path(j, "podAffinityTerm", NULL),
                        (int32_t)ek_json_int(j, 0, "weight", NULL));
        } else {
            parse_aterm(p, &out->v[out->n++], j, 1);
        }
    }
}

static void free_aterms(sched_aterms_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        ek_labelsel_free(a->v[i].sel);
        ek_labelsel_free(a->v[i].ns_sel);
        free(a->v[i].namespaces);
    }
    free(a->v);
}

bool sched_aterm_matches(const sched_aterm_t *t, const sched_pod_t *q, const json_t *ns_labels)
{
    bool ns_ok = false;
    for (size_t i = 0; i < t->nns && !ns_ok; i++) {
        ns_ok = strcmp(t->namespaces[i], q->ns) == 0;
    }
    if (!ns_ok && t->ns_sel) {
        ns_ok = ek_labelsel_matches(t->ns_sel, ns_labels);
    }
    return ns_ok && ek_labelsel_matches(t->sel, q->group->labels);
}

bool sched_pod_has_affinity(const sched_pod_t *p)
{
    return p->aff.n || p->anti.n || p->pref_aff.n || p->pref_anti.n;
}

static void parse_spread(sched_pod_t *p, const json_t *arr)
{
    const json_t *labels = ek_json_path(p->obj, "metadata", "labels", NULL);
    p->spread = ek_xcalloc(json_array_size(arr) + 1, sizeof(*p->spread));
    size_t i;
    json_t *j;
    json_array_foreach (arr, i, j) {
        sched_spread_t *s = &p->spread[p->nspread++];
        s->max_skew = (int32_t)ek_json_int(j, 1, "maxSkew", NULL);
        s->topology_key = ek_json_str(j, "topologyKey", NULL) ?: "";
        s->hard = !ek_streq(ek_json_str(j, "whenUnsatisfiable", NULL), "ScheduleAnyway");
        s->sel = selector_with_keys(ek_json_path(j, "labelSelector", NULL),
                                    ek_json_path(j, "matchLabelKeys", NULL), NULL, labels);
        s->min_domains = (int32_t)ek_json_int(j, 1, "minDomains", NULL);
        s->honor_affinity = !ek_streq(ek_json_str(j, "nodeAffinityPolicy", NULL), "Ignore");
        s->honor_taints = ek_streq(ek_json_str(j, "nodeTaintsPolicy", NULL), "Honor");
    }
}

/* ---- the pod ---- */

char *sched_image_normalize(const char *image)
{
    const char *colon = strrchr(image, ':'), *slash = strrchr(image, '/');
    if (!colon || (slash && colon < slash)) {
        return ek_xasprintf("%s:latest", image);
    }
    return ek_xstrdup(image);
}

static void parse_containers(sched_pod_t *p, const json_t *spec)
{
    const json_t *cs = ek_json_path(spec, "containers", NULL);
    const json_t *ics = ek_json_path(spec, "initContainers", NULL);
    p->images = ek_xcalloc(json_array_size(cs) + json_array_size(ics) + 1, sizeof(char *));
    size_t nports = 0, i, k;
    json_t *c, *port;
    json_array_foreach (cs, i, c) {
        nports += json_array_size(ek_json_path(c, "ports", NULL));
    }
    p->ports = ek_xcalloc(nports + 1, sizeof(*p->ports));
    json_array_foreach (cs, i, c) {
        json_array_foreach (ek_json_path(c, "ports", NULL), k, port) {
            long long hp = ek_json_int(port, 0, "hostPort", NULL);
            if (hp > 0) {
                sched_port_t *x = &p->ports[p->nports++];
                x->port = (int)hp;
                x->ip = ek_json_str(port, "hostIP", NULL);
                x->ip = x->ip && *x->ip ? x->ip : "0.0.0.0";
                x->proto = ek_json_str(port, "protocol", NULL);
                x->proto = x->proto && *x->proto ? x->proto : "TCP";
            }
        }
    }
    const json_t *lists[2] = { ics, cs };
    for (int l = 0; l < 2; l++) {
        json_array_foreach (lists[l], i, c) {
            const char *img = ek_json_str(c, "image", NULL);
            if (img && *img) {
                p->images[p->nimages++] = sched_image_normalize(img);
            }
        }
    }
}

static void parse_affinity(sched_pod_t *p, const json_t *aff)
{
    const json_t *na = ek_json_path(aff, "nodeAffinity", NULL);
    const json_t *req = ek_json_path(na, "requiredDuringSchedulingIgnoredDuringExecution", NULL);
    if (req && !json_is_null(req)) {
        p->has_req_affinity = true;
        sched_nodesel_parse(&p->req_affinity, ek_json_path(req, "nodeSelectorTerms", NULL), false);
    }
    sched_nodesel_parse(&p->pref_affinity,
                        ek_json_path(na, "preferredDuringSchedulingIgnoredDuringExecution", NULL),
                        true);
    const char *req_k = "requiredDuringSchedulingIgnoredDuringExecution";
    const char *pref_k = "preferredDuringSchedulingIgnoredDuringExecution";
    parse_aterms(p, &p->aff, ek_json_path(aff, "podAffinity", req_k, NULL), false);
    parse_aterms(p, &p->anti, ek_json_path(aff, "podAntiAffinity", req_k, NULL), false);
    parse_aterms(p, &p->pref_aff, ek_json_path(aff, "podAffinity", pref_k, NULL), true);
    parse_aterms(p, &p->pref_anti, ek_json_path(aff, "podAntiAffinity", pref_k, NULL), true);
}

sched_pod_t *sched_pod_new(sched_cache_t *c, json_t *obj)
{
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    if (!name) {
        return NULL;
    }
    sched_pod_t *p = ek_new(sched_pod_t);
    p->obj = json_incref(obj);
    p->name = name;
    p->ns = ek_json_str(obj, "metadata", "namespace", NULL) ?: "";
    p->uid = ek_json_str(obj, "metadata", "uid", NULL) ?: "";
    p->key = ek_xasprintf("%s/%s", p->ns, p->name);
    p->group = sched_group_get(c, p->ns, ek_json_path(obj, "metadata", "labels", NULL));
    const json_t *spec = ek_json_path(obj, "spec", NULL);
    sched_pod_requests(spec, false, &p->req);
    sched_res_t nz;
    sched_pod_requests(spec, true, &nz);
    p->nz_cpu = nz.cpu;
    p->nz_mem = nz.mem;
    sched_res_free(&nz);
    parse_containers(p, spec);
    parse_tolerations(p, ek_json_path(spec, "tolerations", NULL));
    p->node_selector = ek_json_path(spec, "nodeSelector", NULL);
    parse_affinity(p, ek_json_path(spec, "affinity", NULL));
    parse_spread(p, ek_json_path(spec, "topologySpreadConstraints", NULL));
    p->priority = (int32_t)ek_json_int(spec, 0, "priority", NULL);
    p->preempt_never = ek_streq(ek_json_str(spec, "preemptionPolicy", NULL), "Never");
    p->terminating = ek_json_str(obj, "metadata", "deletionTimestamp", NULL) != NULL;
    p->gated = json_array_size(ek_json_path(spec, "schedulingGates", NULL)) > 0;
    struct timespec ts;
    const char *st = ek_json_str(obj, "status", "startTime", NULL);
    p->start_ms = st && ek_time_parse_rfc3339(st, &ts) == 0
                      ? (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000
                      : -1;
    return p;
}

void sched_pod_free(sched_cache_t *c, sched_pod_t *p)
{
    if (!p) {
        return;
    }
    sched_group_put(c, p->group);
    sched_res_free(&p->req);
    free(p->ports);
    free(p->tols);
    sched_nodesel_free(&p->req_affinity);
    sched_nodesel_free(&p->pref_affinity);
    free_aterms(&p->aff);
    free_aterms(&p->anti);
    free_aterms(&p->pref_aff);
    free_aterms(&p->pref_anti);
    for (size_t i = 0; i < p->nspread; i++) {
        ek_labelsel_free(p->spread[i].sel);
    }
    free(p->spread);
    for (size_t i = 0; i < p->nimages; i++) {
        free(p->images[i]);
    }
    free(p->images);
    json_decref(p->obj);
    free(p->key);
    free(p);
}

/* ---- what the scheduler keeps of a pod ---- */

/* Copies the members named in keys that obj has (values shared, not copied). */
static void keep_members(json_t *dst, const json_t *obj, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        if (v) {
            json_object_set(dst, keys[i], v);
        }
    }
}

static json_t *trim_containers(const json_t *list)
{
    json_t *out = json_array();
    size_t i, k;
    json_t *c, *port;
    json_array_foreach (list, i, c) {
        static const char *const keys[] = { "name", "image", "restartPolicy" };
        json_t *t = json_object();
        keep_members(t, c, keys, EK_ARRAY_SIZE(keys));
        json_t *req = ek_json_path(c, "resources", "requests", NULL);
        if (req) {
            json_object_set_new(t, "resources", json_pack("{s:O}", "requests", req));
        }
        json_t *ports = json_array();
        json_array_foreach (ek_json_path(c, "ports", NULL), k, port) {
            if (ek_json_int(port, 0, "hostPort", NULL) > 0) {
                json_array_append(ports, port);
            }
        }
        json_object_set_new(t, "ports", ports);
        json_array_append_new(out, t);
    }
    return out;
}

json_t *sched_pod_trim(json_t *pod, void *data)
{
    EK_UNUSED(data);
    static const char *const top[] = { "apiVersion", "kind" };
    static const char *const meta[] = { "name",
                                        "namespace",
                                        "uid",
                                        "labels",
                                        "resourceVersion",
                                        "ownerReferences",
                                        "deletionTimestamp" };
    static const char *const spec[] = { "nodeName",        "schedulerName",
                                        "priority",        "preemptionPolicy",
                                        "nodeSelector",    "affinity",
                                        "tolerations",     "topologySpreadConstraints",
                                        "schedulingGates", "overhead" };
    static const char *const status[] = { "phase", "startTime", "nominatedNodeName" };
    json_t *out = json_object(), *m = json_object(), *sp = json_object(), *st = json_object();
    keep_members(out, pod, top, EK_ARRAY_SIZE(top));
    keep_members(m, json_object_get(pod, "metadata"), meta, EK_ARRAY_SIZE(meta));
    const json_t *ps = json_object_get(pod, "spec");
    keep_members(sp, ps, spec, EK_ARRAY_SIZE(spec));
    json_object_set_new(sp, "containers", trim_containers(json_object_get(ps, "containers")));
    if (json_object_get(ps, "initContainers")) {
        json_object_set_new(sp, "initContainers",
                            trim_containers(json_object_get(ps, "initContainers")));
    }
    keep_members(st, json_object_get(pod, "status"), status, EK_ARRAY_SIZE(status));
    json_t *conds = json_array();
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(pod, "status", "conditions", NULL), i, c) {
        const char *type = ek_json_str(c, "type", NULL);
        if (ek_streq(type, "PodScheduled") || ek_streq(type, "DisruptionTarget")) {
            json_array_append(conds, c);
        }
    }
    json_object_set_new(st, "conditions", conds);
    json_object_set_new(out, "metadata", m);
    json_object_set_new(out, "spec", sp);
    json_object_set_new(out, "status", st);
    return out;
}
