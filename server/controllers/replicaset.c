/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ReplicaSet controller, as Kubernetes' replica_set.go: keep spec.replicas active pods
 * matching the selector — adopting orphans that match, releasing owned pods that stopped
 * matching, creating from the template, deleting the least valuable pods first (unscheduled,
 * pending, not ready, most recently ready, most restarted, newest) — and report status.
 * "Expectations" remember creates and deletes in flight until the pod informer has seen them,
 * so a sync does not act twice on a stale cache. Pods are indexed by their controller's uid
 * (orphans by namespace), as client-go's controllerUIDIndex: a sync reads the pods it owns and
 * the orphans it may adopt, not every pod of the namespace.
 */
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

#define MAX_BURST        500
#define EXPECTATIONS_TTL 300

struct expect {
    int adds;
    int dels;
    time_t set_at;
};

typedef struct rsc {
    ctrl_t *c;
    ek_informer_t *rs;
    ek_informer_t *pods;
    const ek_resource_t *rs_res;
    const ek_resource_t *pod_res;
    ek_map_t expect; /* rs key → struct expect* */
    ek_map_t index;  /* controller uid, or ORPHANS + namespace → ek_map_t* of pod keys */
} rsc_t;

#define ORPHANS "\001" /* no uid starts with it */

/* ---- the pod index ---- */

/* Index bucket of a pod: its controller's uid, or ORPHANS + namespace. Caller frees. */
static char *index_bucket(const json_t *pod)
{
    const json_t *ref = controller_ref(pod);
    const char *uid = ref ? ek_json_str(ref, "uid", NULL) : NULL;
    if (uid) {
        return ek_xstrdup(uid);
    }
    const char *ns = ek_json_str(pod, "metadata", "namespace", NULL);
    return ek_xasprintf(ORPHANS "%s", ns ? ns : "");
}

static void index_add(rsc_t *s, const json_t *pod)
{
    ek_autofree char *bucket = index_bucket(pod);
    ek_autofree char *key = obj_key(pod);
    ek_map_t *set = ek_map_get(&s->index, bucket);
    if (!set) {
        set = ek_new(ek_map_t);
        ek_map_put(&s->index, bucket, set);
    }
    ek_map_put(set, key, (void *)1);
}

static void index_del(rsc_t *s, const json_t *pod)
{
    ek_autofree char *bucket = index_bucket(pod);
    ek_autofree char *key = obj_key(pod);
    ek_map_t *set = ek_map_get(&s->index, bucket);
    if (set) {
        ek_map_del(set, key);
        if (!set->n) {
            ek_map_del(&s->index, bucket);
            ek_map_free(set);
            free(set);
        }
    }
}

/* ---- expectations ---- */

static bool expectations_met(rsc_t *s, const char *key)
{
    struct expect *e = ek_map_get(&s->expect, key);
    if (!e) {
        return true;
    }
    if ((e->adds <= 0 && e->dels <= 0) || time(NULL) - e->set_at > EXPECTATIONS_TTL) {
        free(ek_map_del(&s->expect, key));
        return true;
    }
    return false;
}

static void expect_set(rsc_t *s, const char *key, int adds, int dels)
{
    struct expect *e = ek_map_get(&s->expect, key);
    if (!e) {
        e = ek_new(struct expect);
        ek_map_put(&s->expect, key, e);
    }
    e->adds = adds;
    e->dels = dels;
    e->set_at = time(NULL);
}

static void expect_observed(rsc_t *s, const char *key, bool add)
{
    struct expect *e = ek_map_get(&s->expect, key);
    if (e) {
        if (add) {
            e->adds--;
        } else {
            e->dels--;
        }
    }
}

/* ---- event handlers ---- */

/* The ReplicaSet (key) controlling pod, if it exists. Caller frees. */
static char *owner_key(rsc_t *s, const json_t *pod)
{
    const json_t *ref = controller_ref(pod);
    if (!ref || !ek_streq(ek_json_str(ref, "kind", NULL), "ReplicaSet")) {
        return NULL;
    }
    const char *ns = ek_json_str(pod, "metadata", "namespace", NULL);
    const char *name = ek_json_str(ref, "name", NULL);
    json_t *rs = ek_informer_get(s->rs, ns, name);
    if (!rs || !ek_streq(ek_json_str(rs, "metadata", "uid", NULL), ek_json_str(ref, "uid", NULL))) {
        return NULL;
    }
    return obj_key(rs);
}

struct match_ctx {
    rsc_t *s;
    const json_t *pod;
};

static void enqueue_if_selects(json_t *rs, void *data)
{
    struct match_ctx *m = data;
    if (!ek_streq(ek_json_str(rs, "metadata", "namespace", NULL),
                  ek_json_str(m->pod, "metadata", "namespace", NULL))) {
        return;
    }
    ek_auto(ek_labelsel_t) sel =
        ek_labelsel_from_json(ek_json_path(rs, "spec", "selector", NULL), NULL);
    if (sel && !ek_labelsel_empty(sel) &&
        ek_labelsel_matches(sel, ek_json_path(m->pod, "metadata", "labels", NULL))) {
        ctrl_enqueue_obj(m->s->c, rs);
    }
}

static void enqueue_owners(rsc_t *s, const json_t *pod)
{
    ek_autofree char *key = owner_key(s, pod);
    if (key) {
        ctrl_enqueue(s->c, key);
    } else if (!controller_ref(pod)) {
        struct match_ctx m = { s, pod };
        ek_informer_each(s->rs, enqueue_if_selects, &m);
    }
}

static void on_pod_add(json_t *pod, void *data)
{
    rsc_t *s = data;
    index_add(s, pod);
    ek_autofree char *key = owner_key(s, pod);
    if (key) {
        expect_observed(s, key, true);
    }
    enqueue_owners(s, pod);
}

static void on_pod_update(json_t *old, json_t *pod, void *data)
{
    rsc_t *s = data;
    if (json_equal(old, pod)) {
        return; /* a resync: the ReplicaSet's own resync covers it */
    }
    index_del(s, old);
    index_add(s, pod);
    enqueue_owners(s, old);
    enqueue_owners(s, pod);
    /* A pod that just became ready becomes available after minReadySeconds. */
    ek_autofree char *key = owner_key(s, pod);
    if (key && !pod_is_ready(old) && pod_is_ready(pod)) {
        char *ns, *name;
        key_split(key, &ns, &name);
        json_t *rs = ek_informer_get(s->rs, ns, name);
        long long mrs = ek_json_int(rs, 0, "spec", "minReadySeconds", NULL);
        if (mrs > 0) {
            ctrl_enqueue_after(s->c, key, (uint64_t)mrs * 1000 + 100);
        }
        free(ns);
        free(name);
    }
}

static void on_pod_delete(json_t *pod, void *data)
{
    rsc_t *s = data;
    index_del(s, pod);
    ek_autofree char *key = owner_key(s, pod);
    if (key) {
        expect_observed(s, key, false);
        ctrl_enqueue(s->c, key);
    }
}

static void on_rs_add(json_t *rs, void *data)
{
    ctrl_enqueue_obj(((rsc_t *)data)->c, rs);
}

static void on_rs_update(json_t *old, json_t *rs, void *data)
{
    EK_UNUSED(old);
    ctrl_enqueue_obj(((rsc_t *)data)->c, rs);
}

static void on_rs_delete(json_t *rs, void *data)
{
    rsc_t *s = data;
    ek_autofree char *key = obj_key(rs);
    free(ek_map_del(&s->expect, key));
}

/* ---- choosing pods to delete ---- */

static int phase_rank(const json_t *pod)
{
    const char *p = ek_json_str(pod, "status", "phase", NULL);
    if (ek_streq(p, "Pending")) {
        return 0;
    }
    if (ek_streq(p, "Running")) {
        return 2;
    }
    return 1; /* Unknown */
}

static int64_t ready_since(const json_t *pod)
{
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(pod, "status", "conditions", NULL), i, c) {
        struct timespec t;
        const char *ts = ek_json_str(c, "lastTransitionTime", NULL);
        if (ek_streq(ek_json_str(c, "type", NULL), "Ready") && ts &&
            ek_time_parse_rfc3339(ts, &t) == 0) {
            return t.tv_sec;
        }
    }
    return 0;
}

static long long restarts(const json_t *pod)
{
    long long n = 0;
    size_t i;
    json_t *cs;
    json_array_foreach (ek_json_path(pod, "status", "containerStatuses", NULL), i, cs) {
        n = EK_MAX(n, ek_json_int(cs, 0, "restartCount", NULL));
    }
    return n;
}

static long long deletion_cost(const json_t *pod)
{
    const char *v = ek_json_str(pod, "metadata", "annotations",
                                "controller.kubernetes.io/pod-deletion-cost", NULL);
    return v ? atoll(v) : 0;
}

/* Kubernetes' ActivePods ordering: the pod to delete first sorts first. */
static int cmp_delete_first(const void *pa, const void *pb)
{
    const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    bool na = ek_json_str(a, "spec", "nodeName", NULL) != NULL;
    bool nb = ek_json_str(b, "spec", "nodeName", NULL) != NULL;
    if (na != nb) {
        return na ? 1 : -1;
    }
    int pr = phase_rank(a) - phase_rank(b);
    if (pr) {
        return pr;
    }
    bool ra = pod_is_ready(a), rb = pod_is_ready(b);
    if (ra != rb) {
        return ra ? 1 : -1;
    }
    long long ca = deletion_cost(a), cb = deletion_cost(b);
    if (ca != cb) {
        return ca < cb ? -1 : 1;
    }
    if (ra && rb) {
        int64_t sa = ready_since(a), sb = ready_since(b);
        if (sa != sb) {
            return sa > sb ? -1 : 1; /* ready for less time goes first */
        }
    }
    long long xa = restarts(a), xb = restarts(b);
    if (xa != xb) {
        return xa > xb ? -1 : 1;
    }
    const char *ta = ek_json_str(a, "metadata", "creationTimestamp", NULL);
    const char *tb = ek_json_str(b, "metadata", "creationTimestamp", NULL);
    return -strcmp(ta ? ta : "", tb ? tb : ""); /* newer first */
}

/* ---- the sync ---- */

struct podlist {
    json_t **v;
    size_t n, cap;
    const char *ns;
};

/* Appends the pods of one index bucket that the informer still holds. */
static void collect_bucket(rsc_t *s, const char *bucket, struct podlist *l)
{
    const ek_map_t *set = ek_map_get(&s->index, bucket);
    const char *key;
    void *v;
    for (size_t i = 0; set && ek_map_next(set, &i, &key, &v);) {
        char *ns, *name;
        key_split(key, &ns, &name);
        json_t *pod = ek_informer_get(s->pods, ns, name);
        free(ns);
        free(name);
        if (!pod) {
            continue;
        }
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 16;
            l->v = ek_xrealloc(l->v, l->cap * sizeof(*l->v));
        }
        l->v[l->n++] = pod;
    }
}

struct create_ctx {
    pending_t *p;
    rsc_t *s;
    char *key;
};

static void on_created(int status, json_t *body, const ek_error_t *err, void *data)
{
    struct create_ctx *cc = data;
    if (err) {
        /* This pod will never be observed: do not wait for it. */
        expect_observed(cc->s, cc->key, true);
    }
    pending_call_done(status, body, err, cc->p);
    free(cc->key);
    free(cc);
}

static json_t *pod_from_template(rsc_t *s, const json_t *rs)
{
    const json_t *tmpl = ek_json_path(rs, "spec", "template", NULL);
    json_t *pod = json_object();
    ek_json_set_str(pod, "apiVersion", "v1");
    ek_json_set_str(pod, "kind", "Pod");
    json_t *md = json_object();
    ek_autofree char *gen = ek_xasprintf("%s-", ek_json_str(rs, "metadata", "name", NULL));
    ek_json_set_str(md, "generateName", gen);
    ek_json_set_str(md, "namespace", ek_json_str(rs, "metadata", "namespace", NULL));
    const char *keep[] = { "labels", "annotations", "finalizers" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(keep); i++) {
        json_t *v = ek_json_path(tmpl, "metadata", keep[i], NULL);
        if (v) {
            json_object_set_new(md, keep[i], json_deep_copy(v));
        }
    }
    json_object_set_new(md, "ownerReferences", json_pack("[o]", owner_ref(s->rs_res, rs, true)));
    json_object_set_new(pod, "metadata", md);
    json_t *spec = ek_json_path(tmpl, "spec", NULL);
    json_object_set_new(pod, "spec", spec ? json_deep_copy(spec) : json_object());
    return pod;
}

static void patch_owner(rsc_t *s, pending_t *p, const json_t *pod, json_t *refs_patch)
{
    json_t *patch = json_pack("{s:{s:o,s:s}}", "metadata", "ownerReferences", refs_patch, "uid",
                              ek_json_str(pod, "metadata", "uid", NULL));
    pending_add(p);
    ek_api_patch(ctrl_manager(s->c)->client, s->pod_res,
                 ek_json_str(pod, "metadata", "namespace", NULL),
                 ek_json_str(pod, "metadata", "name", NULL), EK_SUB_NONE, "strategic", patch,
                 pending_call_done, p);
    json_decref(patch);
}

/* Pods this ReplicaSet controls after adopting matching orphans and releasing non-matching
 * pods it owned (both by patching ownerReferences). Caller frees the array. */
static json_t **claim(rsc_t *s, pending_t *p, const json_t *rs, const ek_labelsel_t *sel,
                      struct podlist *all, size_t *n)
{
    json_t **out = ek_xcalloc(all->n + 1, sizeof(json_t *));
    size_t k = 0;
    const char *uid = ek_json_str(rs, "metadata", "uid", NULL);
    bool deleting = ek_json_str(rs, "metadata", "deletionTimestamp", NULL) != NULL;
    for (size_t i = 0; i < all->n; i++) {
        json_t *pod = all->v[i];
        const json_t *ref = controller_ref(pod);
        bool matches = ek_labelsel_matches(sel, ek_json_path(pod, "metadata", "labels", NULL));
        if (ref && ek_streq(ek_json_str(ref, "uid", NULL), uid)) {
            if (matches && !deleting) {
                out[k++] = pod;
            } else if (!deleting) {
                patch_owner(s, p, pod, json_pack("[{s:s,s:s}]", "$patch", "delete", "uid", uid));
            }
        } else if (!ref && matches && !deleting && pod_is_active(pod)) {
            patch_owner(s, p, pod, json_pack("[o]", owner_ref(s->rs_res, rs, true)));
            out[k++] = pod;
        }
    }
    *n = k;
    return out;
}

static bool labels_superset(const json_t *labels, const json_t *want)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)want, k, v) {
        if (!json_equal(json_object_get(labels, k), v)) {
            return false;
        }
    }
    return true;
}

static void update_status(rsc_t *s, pending_t *p, const json_t *rs, json_t **pods, size_t n)
{
    long long mrs = ek_json_int(rs, 0, "spec", "minReadySeconds", NULL);
    const json_t *tl = ek_json_path(rs, "spec", "template", "metadata", "labels", NULL);
    time_t now = time(NULL);
    long long replicas = 0, labeled = 0, ready = 0, avail = 0;
    bool waiting = false;
    for (size_t i = 0; i < n; i++) {
        if (!pod_is_active(pods[i])) {
            continue;
        }
        replicas++;
        labeled += labels_superset(ek_json_path(pods[i], "metadata", "labels", NULL), tl);
        if (pod_is_ready(pods[i])) {
            ready++;
            bool av = pod_is_available(pods[i], mrs, now);
            avail += av;
            waiting = waiting || !av;
        }
    }
    json_t *st =
        json_pack("{s:I,s:I,s:I,s:I,s:I}", "replicas", (json_int_t)replicas, "fullyLabeledReplicas",
                  (json_int_t)labeled, "readyReplicas", (json_int_t)ready, "availableReplicas",
                  (json_int_t)avail, "observedGeneration",
                  (json_int_t)ek_json_int(rs, 0, "metadata", "generation", NULL));
    json_t *conds = ek_json_path(rs, "status", "conditions", NULL);
    if (conds) {
        json_object_set(st, "conditions", conds);
    }
    if (!json_equal(st, json_object_get(rs, "status"))) {
        json_t *obj = json_deep_copy(rs);
        json_object_set_new(obj, "status", st);
        pending_add(p);
        ek_api_update(ctrl_manager(s->c)->client, s->rs_res,
                      ek_json_str(rs, "metadata", "namespace", NULL), obj, EK_SUB_STATUS,
                      pending_call_done, p);
        json_decref(obj);
    } else {
        json_decref(st);
    }
    if (waiting && mrs > 0 && p->result == SYNC_OK) {
        p->result = (int)(mrs * 1000 + 100); /* look again when they become available */
    }
}

static void manage(rsc_t *s, pending_t *p, const char *key, const json_t *rs, json_t **pods,
                   size_t n)
{
    long long want = ek_json_int(rs, 1, "spec", "replicas", NULL);
    json_t **active = ek_xcalloc(n + 1, sizeof(json_t *));
    size_t na = 0;
    for (size_t i = 0; i < n; i++) {
        if (pod_is_active(pods[i])) {
            active[na++] = pods[i];
        }
    }
    long long diff = (long long)na - want;
    ek_api_client_t *client = ctrl_manager(s->c)->client;
    const char *ns = ek_json_str(rs, "metadata", "namespace", NULL);
    if (diff < 0) {
        int adds = (int)EK_MIN(-diff, MAX_BURST);
        expect_set(s, key, adds, 0);
        for (int i = 0; i < adds; i++) {
            json_t *pod = pod_from_template(s, rs);
            struct create_ctx *cc = ek_new(struct create_ctx);
            cc->p = p;
            cc->s = s;
            cc->key = ek_xstrdup(key);
            pending_add(p);
            ek_api_create(client, s->pod_res, ns, pod, on_created, cc);
            json_decref(pod);
        }
    } else if (diff > 0) {
        int dels = (int)EK_MIN(diff, MAX_BURST);
        qsort(active, na, sizeof(*active), cmp_delete_first);
        expect_set(s, key, 0, dels);
        for (int i = 0; i < dels; i++) {
            pending_add(p);
            ek_api_delete(client, s->pod_res, ns, ek_json_str(active[i], "metadata", "name", NULL),
                          NULL, pending_call_done, p);
        }
    }
    free(active);
}

static void sync_rs(ctrl_t *c, const char *key, void *data)
{
    rsc_t *s = data;
    char *ns, *name;
    key_split(key, &ns, &name);
    json_t *rs = ek_informer_get(s->rs, ns, name);
    free(name);
    if (!rs) {
        free(ek_map_del(&s->expect, key));
        free(ns);
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    json_incref(rs);
    ek_error_t *err = NULL;
    ek_auto(ek_labelsel_t) sel =
        ek_labelsel_from_json(ek_json_path(rs, "spec", "selector", NULL), &err);
    ek_error_free(err);
    if (!sel) {
        json_decref(rs);
        free(ns);
        ctrl_done(c, key, SYNC_OK); /* an invalid selector cannot be acted on */
        return;
    }
    bool needs_sync = expectations_met(s, key);
    /* The pods it owns and the orphans of its namespace: claim() ignores the others. */
    struct podlist all = { .ns = ns };
    collect_bucket(s, ek_json_str(rs, "metadata", "uid", NULL), &all);
    ek_autofree char *orphans = ek_xasprintf(ORPHANS "%s", ns);
    collect_bucket(s, orphans, &all);
    pending_t *p = pending_new(c, key);
    size_t n;
    json_t **owned = claim(s, p, rs, sel, &all, &n);
    if (needs_sync && !ek_json_str(rs, "metadata", "deletionTimestamp", NULL)) {
        manage(s, p, key, rs, owned, n);
    }
    update_status(s, p, rs, owned, n);
    free(owned);
    free(all.v);
    free(ns);
    json_decref(rs);
    pending_arm(p);
}

static void rsc_free(void *state)
{
    rsc_t *s = state;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&s->expect, &it, &k, &v)) {
        free(v);
    }
    ek_map_free(&s->expect);
    for (size_t i = 0; ek_map_next(&s->index, &i, &k, &v);) {
        ek_map_free(v);
        free(v);
    }
    ek_map_free(&s->index);
    free(s);
}

void replicaset_controller_start(ctrl_manager_t *m)
{
    rsc_t *s = ek_new(rsc_t);
    s->rs_res = res_of("apps", "v1", "replicasets");
    s->pod_res = res_of("", "v1", "pods");
    s->rs = mgr_informer(m, "apps", "v1", "replicasets");
    s->pods = mgr_informer(m, "", "v1", "pods");
    s->c = ctrl_new(m, "replicaset", sync_rs, s, 5);
    static const ek_informer_handlers_t rs_h = { on_rs_add, on_rs_update, on_rs_delete, NULL };
    static const ek_informer_handlers_t pod_h = { on_pod_add, on_pod_update, on_pod_delete, NULL };
    ek_informer_add_handlers(s->rs, &rs_h, s);
    ek_informer_add_handlers(s->pods, &pod_h, s);
    mgr_own(m, s, rsc_free);
}
