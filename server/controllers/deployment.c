/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Deployment controller, as Kubernetes' pkg/controller/deployment: a Deployment owns
 * ReplicaSets named <deployment>-<pod-template-hash>; the one whose template matches is the
 * "new" one, the others are old. Rolling updates grow the new ReplicaSet within maxSurge and
 * shrink old ones within maxUnavailable; Recreate scales old ones to zero, waits for their pods
 * to go, then scales up the new one. Changing spec.replicas mid-rollout scales every active
 * ReplicaSet in proportion; paused Deployments only scale. Revisions live in the
 * deployment.kubernetes.io/revision annotations; old ReplicaSets beyond revisionHistoryLimit
 * are deleted; status and the Available/Progressing conditions (with progressDeadlineSeconds)
 * are what `kubectl rollout status` reads.
 *
 * One sync plans every change on copies of the objects (the Deployment's annotations and
 * status, each ReplicaSet's size and annotations), then writes them: a new ReplicaSet first,
 * then one update per changed ReplicaSet and one status update of the Deployment, each with
 * the cached resourceVersion, so a stale cache costs a 409 and a retry, never a wrong write.
 */
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

#define ANN_REVISION       "deployment.kubernetes.io/revision"
#define ANN_REV_HISTORY    "deployment.kubernetes.io/revision-history"
#define ANN_DESIRED        "deployment.kubernetes.io/desired-replicas"
#define ANN_MAX            "deployment.kubernetes.io/max-replicas"
#define ANN_LAST_APPLIED   "kubectl.kubernetes.io/last-applied-configuration"
#define ANN_ROLLBACK_TO    "deprecated.deployment.rollback.to"
#define MAX_REV_HIST_CHARS 2000
#define NO_LIMIT           2147483647LL

typedef struct dc {
    ctrl_t *c;
    ek_event_recorder_t *events; /* as "deployment-controller", the source kubectl shows */
    ek_informer_t *deps;
    ek_informer_t *rss;
    ek_informer_t *pods;
    const ek_resource_t *dep_res;
    const ek_resource_t *rs_res;
} dc_t;

/* A ReplicaSet as one sync sees it. */
typedef struct rsw {
    json_t *obj;  /* the cached object (a reference), or the object to create */
    json_t *want; /* a copy carrying this sync's changes; NULL while there are none */
    const char *name;
    int32_t replicas; /* spec.replicas as planned */
    int32_t st_replicas, st_ready, st_avail;
    long long revision;
    char created[32]; /* creationTimestamp (RFC 3339 sorts as time) */
    bool create;
    bool del;
    int32_t from;   /* spec.replicas before this sync, for the event */
    const char *op; /* "up"/"down" once scaled */
} rsw_t;

typedef struct dsync {
    dc_t *s;
    char *key;
    json_t *orig; /* the cached Deployment (a reference) */
    json_t *d;    /* a copy: annotations and status as the sync leaves them */
    int32_t replicas;
    rsw_t **rs; /* claimed ReplicaSets (and the one to create, last) */
    size_t n;
    rsw_t *new_rs;
    rsw_t **old;
    size_t nold;
    int outstanding;
    int result;
    uint64_t requeue_ms;
} dsync_t;

/* ---- small helpers ---- */

static const char *ann(const json_t *obj, const char *key)
{
    return ek_json_str(obj, "metadata", "annotations", key, NULL);
}

static void ann_set(json_t *obj, const char *key, const char *v)
{
    ek_json_set_str(ek_json_obj_ensure(ek_json_obj_ensure(obj, "metadata"), "annotations"), key, v);
}

static int32_t ann_int(const json_t *obj, const char *key, bool *ok)
{
    const char *v = ann(obj, key);
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    *ok = v && *v && !*end;
    return *ok ? (int32_t)n : 0;
}

static bool has_limit(const json_t *d, const char *field)
{
    const json_t *v = ek_json_path(d, "spec", field, NULL);
    return v && json_is_integer(v) && json_integer_value(v) != NO_LIMIT;
}

static bool has_progress_deadline(const json_t *d)
{
    return has_limit(d, "progressDeadlineSeconds");
}

static json_t *rs_want(rsw_t *r)
{
    if (!r->want) {
        r->want = json_deep_copy(r->obj);
    }
    return r->want;
}

static const json_t *rs_cur(const rsw_t *r)
{
    return r->want ? r->want : r->obj;
}

static void rs_load(rsw_t *r, json_t *obj)
{
    r->obj = json_incref(obj);
    r->name = ek_json_str(obj, "metadata", "name", NULL);
    r->replicas = r->from = (int32_t)ek_json_int(obj, 1, "spec", "replicas", NULL);
    r->st_replicas = (int32_t)ek_json_int(obj, 0, "status", "replicas", NULL);
    r->st_ready = (int32_t)ek_json_int(obj, 0, "status", "readyReplicas", NULL);
    r->st_avail = (int32_t)ek_json_int(obj, 0, "status", "availableReplicas", NULL);
    const char *rev = ann(obj, ANN_REVISION);
    r->revision = rev ? atoll(rev) : 0;
    const char *ts = ek_json_str(obj, "metadata", "creationTimestamp", NULL);
    snprintf(r->created, sizeof(r->created), "%s", ts ? ts : "");
}

/* ---- conditions (deployment_util.go's Get/Set/RemoveDeploymentCondition) ---- */

static json_t *cond_get(const json_t *status, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(status, "conditions"), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), type)) {
            return c;
        }
    }
    return NULL;
}

static void cond_remove(json_t *status, const char *type)
{
    json_t *conds = json_object_get(status, "conditions");
    for (size_t i = json_array_size(conds); i-- > 0;) {
        if (ek_streq(ek_json_str(json_array_get(conds, i), "type", NULL), type)) {
            json_array_remove(conds, i);
        }
    }
    if (conds && json_array_size(conds) == 0) {
        json_object_del(status, "conditions");
    }
}

static json_t *cond_new(const char *type, const char *st, const char *reason, const char *msg)
{
    char now[21];
    ek_time_rfc3339(time(NULL), now);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", st, "lastUpdateTime", now,
                     "lastTransitionTime", now, "reason", reason, "message", msg);
}

/* Same status and reason: nothing changes. Same status: keep lastTransitionTime. */
static void cond_set(json_t *status, json_t *c)
{
    const char *type = ek_json_str(c, "type", NULL);
    json_t *cur = cond_get(status, type);
    if (cur && ek_streq(ek_json_str(cur, "status", NULL), ek_json_str(c, "status", NULL))) {
        if (ek_streq(ek_json_str(cur, "reason", NULL), ek_json_str(c, "reason", NULL))) {
            json_decref(c);
            return;
        }
        json_object_set(c, "lastTransitionTime", json_object_get(cur, "lastTransitionTime"));
    }
    cond_remove(status, type);
    json_t *conds = json_object_get(status, "conditions");
    if (!conds) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    json_array_append_new(conds, c);
}

static json_t *dstatus(dsync_t *x)
{
    return ek_json_obj_ensure(x->d, "status");
}

/* ---- sorting (controller.ReplicaSetsByCreationTimestamp and friends) ---- */

static int by_age(const void *pa, const void *pb)
{
    const rsw_t *a = *(rsw_t *const *)pa, *b = *(rsw_t *const *)pb;
    int c = strcmp(a->created, b->created);
    return c ? c : strcmp(a->name, b->name);
}

static int by_age_newest_first(const void *pa, const void *pb)
{
    return -by_age(pa, pb);
}

static int by_size_newer(const void *pa, const void *pb)
{
    const rsw_t *a = *(rsw_t *const *)pa, *b = *(rsw_t *const *)pb;
    if (a->replicas != b->replicas) {
        return a->replicas > b->replicas ? -1 : 1;
    }
    return -by_age(pa, pb);
}

static int by_size_older(const void *pa, const void *pb)
{
    const rsw_t *a = *(rsw_t *const *)pa, *b = *(rsw_t *const *)pb;
    if (a->replicas != b->replicas) {
        return a->replicas > b->replicas ? -1 : 1;
    }
    return by_age(pa, pb);
}

static int by_revision(const void *pa, const void *pb)
{
    const rsw_t *a = *(rsw_t *const *)pa, *b = *(rsw_t *const *)pb;
    if (a->revision != b->revision) {
        return a->revision < b->revision ? -1 : 1;
    }
    return by_age(pa, pb);
}

/* ---- scaling one ReplicaSet ---- */

static void set_replicas_annotations(dsync_t *x, rsw_t *r)
{
    char desired[16], max[16];
    snprintf(desired, sizeof(desired), "%d", x->replicas);
    snprintf(max, sizeof(max), "%d", x->replicas + deploy_max_surge(x->d));
    const json_t *cur = rs_cur(r);
    if (!ek_streq(ann(cur, ANN_DESIRED), desired) || !ek_streq(ann(cur, ANN_MAX), max)) {
        ann_set(rs_want(r), ANN_DESIRED, desired);
        ann_set(rs_want(r), ANN_MAX, max);
    }
}

/* scaleReplicaSet: the new size and the replica annotations, in one write. Returns whether the
 * size changed. op is the word the event uses ("up"/"down"). */
static bool scale_rs(dsync_t *x, rsw_t *r, int32_t size, const char *op)
{
    bool changed = r->replicas != size;
    set_replicas_annotations(x, r);
    if (changed) {
        json_object_set_new(ek_json_obj_ensure(rs_want(r), "spec"), "replicas", json_integer(size));
        r->replicas = size;
        r->op = op;
    }
    return changed;
}

/* scaleReplicaSetAndRecordEvent */
static bool scale_rs_to(dsync_t *x, rsw_t *r, int32_t size)
{
    if (r->replicas == size) {
        return false;
    }
    return scale_rs(x, r, size, r->replicas < size ? "up" : "down");
}

static int32_t sum_replicas(rsw_t **v, size_t n)
{
    int32_t t = 0;
    for (size_t i = 0; i < n; i++) {
        t += v[i] ? v[i]->replicas : 0;
    }
    return t;
}

static int32_t sum_avail(rsw_t **v, size_t n)
{
    int32_t t = 0;
    for (size_t i = 0; i < n; i++) {
        t += v[i] ? v[i]->st_avail : 0;
    }
    return t;
}

/* The active (spec.replicas > 0) ReplicaSets among v; caller frees the array. */
static rsw_t **active(rsw_t **v, size_t n, size_t *out)
{
    rsw_t **a = ek_xcalloc(n + 1, sizeof(*a));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] && v[i]->replicas > 0) {
            a[k++] = v[i];
        }
    }
    *out = k;
    return a;
}

/* All claimed ReplicaSets with the new one (if any) last, as `append(oldRSs, newRS)`. */
static rsw_t **all_rs(dsync_t *x, size_t *n)
{
    rsw_t **a = ek_xcalloc(x->nold + 2, sizeof(*a));
    memcpy(a, x->old, x->nold * sizeof(*a));
    *n = x->nold;
    if (x->new_rs) {
        a[(*n)++] = x->new_rs;
    }
    return a;
}

/* ---- the new ReplicaSet and revisions (getNewReplicaSet) ---- */

static bool skip_copy(const char *k)
{
    static const char *const skip[] = { ANN_LAST_APPLIED, ANN_REVISION, ANN_REV_HISTORY,
                                        ANN_DESIRED,      ANN_MAX,      ANN_ROLLBACK_TO };
    for (size_t i = 0; i < EK_ARRAY_SIZE(skip); i++) {
        if (strcmp(k, skip[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* copyDeploymentAnnotationsToReplicaSet: change-cause and the like follow the Deployment. */
static void copy_annotations(dsync_t *x, rsw_t *r)
{
    const char *k;
    json_t *v;
    json_object_foreach (ek_json_path(x->d, "metadata", "annotations", NULL), k, v) {
        if (skip_copy(k) || !json_is_string(v) ||
            ek_streq(ann(rs_cur(r), k), json_string_value(v))) {
            continue;
        }
        ann_set(rs_want(r), k, json_string_value(v));
    }
}

/* SetNewReplicaSetAnnotations: the new ReplicaSet's revision only ever grows; a revision it
 * had before (a rollback to it) moves into its revision-history. */
static void set_new_rs_annotations(dsync_t *x, rsw_t *r, long long new_rev, bool exists)
{
    copy_annotations(x, r);
    const char *old = ann(rs_cur(r), ANN_REVISION);
    char *end = NULL;
    long long old_rev = old && *old ? strtoll(old, &end, 10) : 0;
    if (old && *old && *end) {
        return; /* not a number: leave it alone, as Kubernetes does */
    }
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", new_rev);
    if (old_rev < new_rev) {
        ek_autofree char *old_copy = old ? ek_xstrdup(old) : NULL;
        ann_set(rs_want(r), ANN_REVISION, buf);
        if (old_copy) {
            ek_autofree char *h = deploy_revision_history(ann(rs_cur(r), ANN_REV_HISTORY), old_copy,
                                                          MAX_REV_HIST_CHARS);
            if (h) {
                ann_set(rs_want(r), ANN_REV_HISTORY, h);
            }
        }
    }
    if (!exists) {
        set_replicas_annotations(x, r);
    }
}

static void set_deployment_revision(dsync_t *x, const char *rev)
{
    if (rev && !ek_streq(ann(x->d, ANN_REVISION), rev)) {
        ann_set(x->d, ANN_REVISION, rev);
    }
}

/* FindNewReplicaSet: the oldest ReplicaSet whose template matches the Deployment's. */
static rsw_t *find_new(dsync_t *x)
{
    const json_t *tmpl = ek_json_path(x->d, "spec", "template", NULL);
    qsort(x->rs, x->n, sizeof(*x->rs), by_age);
    for (size_t i = 0; i < x->n; i++) {
        if (template_equal_ignore_hash(ek_json_path(x->rs[i]->obj, "spec", "template", NULL),
                                       tmpl)) {
            return x->rs[i];
        }
    }
    return NULL;
}

static void split_old(dsync_t *x)
{
    free(x->old);
    x->old = ek_xcalloc(x->n + 1, sizeof(*x->old));
    x->nold = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (x->rs[i] != x->new_rs) {
            x->old[x->nold++] = x->rs[i];
        }
    }
}

static json_t *new_rs_object(dsync_t *x, const char *hash)
{
    const json_t *d = x->d;
    json_t *tmpl = json_deep_copy(ek_json_path(d, "spec", "template", NULL));
    json_t *labels = ek_json_obj_ensure(ek_json_obj_ensure(tmpl, "metadata"), "labels");
    ek_json_set_str(labels, POD_TEMPLATE_HASH_LABEL, hash);
    json_t *sel = json_deep_copy(ek_json_path(d, "spec", "selector", NULL));
    ek_json_set_str(ek_json_obj_ensure(sel, "matchLabels"), POD_TEMPLATE_HASH_LABEL, hash);
    ek_autofree char *name = ek_xasprintf("%s-%s", ek_json_str(d, "metadata", "name", NULL), hash);
    json_t *rs = json_pack("{s:s,s:s,s:{s:s,s:s,s:[o],s:O},s:{s:i,s:o,s:o}}", "apiVersion",
                           "apps/v1", "kind", "ReplicaSet", "metadata", "name", name, "namespace",
                           ek_json_str(d, "metadata", "namespace", NULL), "ownerReferences",
                           owner_ref(x->s->dep_res, d, true), "labels", labels, "spec", "replicas",
                           0, "selector", sel, "template", tmpl);
    long long mrs = ek_json_int(d, 0, "spec", "minReadySeconds", NULL);
    if (mrs) {
        json_object_set_new(json_object_get(rs, "spec"), "minReadySeconds", json_integer(mrs));
    }
    return rs;
}

/* A template hash already taken by a ReplicaSet that is not this Deployment's new one: bump
 * status.collisionCount so the next sync hashes differently. */
static bool hash_collides(dsync_t *x, const char *name)
{
    json_t *other =
        ek_informer_get(x->s->rss, ek_json_str(x->d, "metadata", "namespace", NULL), name);
    if (!other) {
        return false;
    }
    const json_t *ref = controller_ref(other);
    if (ref &&
        ek_streq(ek_json_str(ref, "uid", NULL), ek_json_str(x->d, "metadata", "uid", NULL)) &&
        template_equal_ignore_hash(ek_json_path(x->d, "spec", "template", NULL),
                                   ek_json_path(other, "spec", "template", NULL))) {
        return false; /* ours; the cache will show it claimed shortly */
    }
    long long cc = ek_json_int(x->d, 0, "status", "collisionCount", NULL);
    json_object_set_new(dstatus(x), "collisionCount", json_integer(cc + 1));
    x->result = SYNC_RETRY;
    EK_LOG(EK_INFO, "deployment", "hash collision deployment=%s rs=%s collisionCount=%lld", x->key,
           name, cc + 1);
    return true;
}

static void progressing(dsync_t *x, const char *reason, const char *what, const char *name)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s \"%s\"", what, name);
    cond_set(dstatus(x), cond_new("Progressing", "True", reason, msg));
}

static int create_new_rs(dsync_t *x, const char *new_rev)
{
    ek_autofree char *hash =
        pod_template_hash(ek_json_path(x->d, "spec", "template", NULL),
                          ek_json_path(x->d, "status", "collisionCount", NULL));
    ek_autofree char *name =
        ek_xasprintf("%s-%s", ek_json_str(x->d, "metadata", "name", NULL), hash);
    if (hash_collides(x, name)) {
        return -1;
    }
    json_t *obj = new_rs_object(x, hash);
    rsw_t *r = ek_new(rsw_t);
    rs_load(r, obj);
    json_decref(obj);
    r->create = true;
    x->rs = ek_xrealloc(x->rs, (x->n + 1) * sizeof(*x->rs));
    x->rs[x->n++] = r;
    x->new_rs = r;
    split_old(x);
    size_t n;
    ek_autofree rsw_t **all = all_rs(x, &n);
    r->replicas = deploy_new_rs_replicas(x->d, sum_replicas(all, n), 0);
    json_object_set_new(json_object_get(r->obj, "spec"), "replicas", json_integer(r->replicas));
    r->op = "up";
    r->want = json_incref(r->obj);
    set_new_rs_annotations(x, r, atoll(new_rev), false);
    set_deployment_revision(x, new_rev);
    if (has_progress_deadline(x->d)) {
        progressing(x, "NewReplicaSetCreated", "Created new replica set", r->name);
    }
    return 0;
}

/* getAllReplicaSetsAndSyncRevision: finds (or, when asked, plans) the new ReplicaSet and syncs
 * the revision annotations. Returns -1 when a hash collision needs another sync. */
static int sync_revision(dsync_t *x, bool create)
{
    x->new_rs = find_new(x);
    split_old(x);
    long long max_old = 0;
    for (size_t i = 0; i < x->nold; i++) {
        max_old = EK_MAX(max_old, x->old[i]->revision);
    }
    char new_rev[24];
    snprintf(new_rev, sizeof(new_rev), "%lld", max_old + 1);
    rsw_t *r = x->new_rs;
    if (r) {
        set_new_rs_annotations(x, r, max_old + 1, true);
        long long mrs = ek_json_int(x->d, 0, "spec", "minReadySeconds", NULL);
        if (ek_json_int(rs_cur(r), 0, "spec", "minReadySeconds", NULL) != mrs) {
            json_object_set_new(ek_json_obj_ensure(rs_want(r), "spec"), "minReadySeconds",
                                json_integer(mrs));
        }
        set_deployment_revision(x, ann(rs_cur(r), ANN_REVISION));
        if (has_progress_deadline(x->d) && !cond_get(dstatus(x), "Progressing")) {
            progressing(x, "FoundNewReplicaSet", "Found new replica set", r->name);
        }
        return 0;
    }
    return create ? create_new_rs(x, new_rev) : 0;
}

/* ---- scaling (sync.go's scale) ---- */

/* FindActiveOrLatest: the only active ReplicaSet, or the newest when none is active. */
static rsw_t *active_or_latest(dsync_t *x)
{
    if (!x->new_rs && x->nold == 0) {
        return NULL;
    }
    qsort(x->old, x->nold, sizeof(*x->old), by_age_newest_first);
    size_t n, na;
    ek_autofree rsw_t **all = all_rs(x, &n);
    ek_autofree rsw_t **act = active(all, n, &na);
    if (na == 0) {
        return x->new_rs ? x->new_rs : x->old[0];
    }
    return na == 1 ? act[0] : NULL;
}

/* IsSaturated: the new ReplicaSet has all the desired pods, all available. */
static bool saturated(dsync_t *x, const rsw_t *r)
{
    bool ok;
    if (!r) {
        return false;
    }
    int32_t desired = ann_int(rs_cur(r), ANN_DESIRED, &ok);
    return ok && r->replicas == x->replicas && desired == x->replicas && r->st_avail == x->replicas;
}

static void scale_proportionally(dsync_t *x)
{
    size_t n, na;
    ek_autofree rsw_t **all = all_rs(x, &n);
    ek_autofree rsw_t **act = active(all, n, &na);
    int32_t surge = deploy_max_surge(x->d);
    int32_t allowed = x->replicas > 0 ? x->replicas + surge : 0;
    int32_t to_add = allowed - sum_replicas(act, na);
    /* Scaling up favours newer ReplicaSets of equal size, scaling down older ones. */
    qsort(act, na, sizeof(*act), to_add > 0 ? by_size_newer : by_size_older);
    const char *op = to_add > 0 ? "up" : to_add < 0 ? "down" : "";
    prop_rs_t *p = ek_xcalloc(na + 1, sizeof(*p));
    for (size_t i = 0; i < na; i++) {
        bool ok;
        p[i].replicas = act[i]->replicas;
        p[i].max_annotation = ann_int(rs_cur(act[i]), ANN_MAX, &ok);
    }
    deploy_scale_proportionally(p, na, x->replicas, surge,
                                (int32_t)ek_json_int(x->d, 0, "status", "replicas", NULL));
    for (size_t i = 0; i < na; i++) {
        scale_rs(x, act[i], p[i].new_size, op);
    }
    free(p);
}

static void scale(dsync_t *x)
{
    rsw_t *one = active_or_latest(x);
    if (one) {
        scale_rs_to(x, one, x->replicas);
        return;
    }
    if (saturated(x, x->new_rs)) {
        /* Old ReplicaSets adopted while the new one is complete go to zero. */
        for (size_t i = 0; i < x->nold; i++) {
            if (x->old[i]->replicas > 0) {
                scale_rs_to(x, x->old[i], 0);
            }
        }
        return;
    }
    if (!ek_streq(ek_json_str(x->d, "spec", "strategy", "type", NULL), "Recreate")) {
        scale_proportionally(x);
    }
}

/* isScalingEvent: an active ReplicaSet was sized for another spec.replicas. */
static bool scaling_event(dsync_t *x)
{
    size_t n;
    ek_autofree rsw_t **all = all_rs(x, &n);
    for (size_t i = 0; i < n; i++) {
        bool ok;
        int32_t desired = ann_int(rs_cur(all[i]), ANN_DESIRED, &ok);
        if (all[i]->replicas > 0 && ok && desired != x->replicas) {
            return true;
        }
    }
    return false;
}

/* ---- cleanup (revisionHistoryLimit) ---- */

static void cleanup(dsync_t *x)
{
    if (!has_limit(x->d, "revisionHistoryLimit")) {
        return;
    }
    long long limit = ek_json_int(x->d, 0, "spec", "revisionHistoryLimit", NULL);
    rsw_t **alive = ek_xcalloc(x->nold + 1, sizeof(*alive));
    size_t na = 0;
    for (size_t i = 0; i < x->nold; i++) {
        if (!ek_json_str(x->old[i]->obj, "metadata", "deletionTimestamp", NULL)) {
            alive[na++] = x->old[i];
        }
    }
    long long diff = (long long)na - limit;
    qsort(alive, na, sizeof(*alive), by_revision);
    for (long long i = 0; i < diff; i++) {
        rsw_t *r = alive[i];
        long long gen = ek_json_int(r->obj, 0, "metadata", "generation", NULL);
        long long seen = ek_json_int(r->obj, 0, "status", "observedGeneration", NULL);
        /* Only ReplicaSets that are down to zero and known to be so. */
        if (r->st_replicas != 0 || r->replicas != 0 || gen > seen) {
            continue;
        }
        r->del = true;
    }
    free(alive);
}

/* ---- rolling updates (rolling.go) ---- */

static bool reconcile_new(dsync_t *x)
{
    rsw_t *r = x->new_rs;
    if (r->replicas == x->replicas) {
        return false;
    }
    if (r->replicas > x->replicas) {
        return scale_rs_to(x, r, x->replicas);
    }
    size_t n;
    ek_autofree rsw_t **all = all_rs(x, &n);
    return scale_rs_to(x, r, deploy_new_rs_replicas(x->d, sum_replicas(all, n), r->replicas));
}

/* cleanupUnhealthyReplicas: old pods that are not available go first; removing them cannot
 * lower availability. */
static int32_t cleanup_unhealthy(dsync_t *x, rsw_t **old, size_t n, int32_t max_cleanup)
{
    qsort(old, n, sizeof(*old), by_age);
    int32_t total = 0;
    for (size_t i = 0; i < n && total < max_cleanup; i++) {
        rsw_t *r = old[i];
        if (r->replicas == 0 || r->replicas == r->st_avail) {
            continue;
        }
        int32_t down = EK_MIN(max_cleanup - total, r->replicas - r->st_avail);
        scale_rs_to(x, r, r->replicas - down);
        total += down;
    }
    return total;
}

/* scaleDownOldReplicaSetsForRollingUpdate: old (active) ReplicaSets shrink, oldest first, as
 * far as the available pods stay at or above spec.replicas - maxUnavailable. */
static int32_t scale_down_old_rolling(dsync_t *x, rsw_t **old, size_t n)
{
    int32_t min_avail = x->replicas - deploy_max_unavailable(x->d);
    int32_t avail = sum_avail(old, n) + x->new_rs->st_avail;
    if (avail <= min_avail) {
        return 0;
    }
    qsort(old, n, sizeof(*old), by_age);
    int32_t total = 0, want = avail - min_avail;
    for (size_t i = 0; i < n && total < want; i++) {
        rsw_t *r = old[i];
        if (r->replicas == 0) {
            continue;
        }
        int32_t down = EK_MIN(r->replicas, want - total);
        scale_rs_to(x, r, r->replicas - down);
        total += down;
    }
    return total;
}

static bool reconcile_old(dsync_t *x)
{
    size_t n, na;
    ek_autofree rsw_t **old = active(x->old, x->nold, &n);
    if (sum_replicas(old, n) == 0) {
        return false;
    }
    ek_autofree rsw_t **all = all_rs(x, &na);
    int32_t min_avail = x->replicas - deploy_max_unavailable(x->d);
    int32_t new_unavail = x->new_rs->replicas - x->new_rs->st_avail;
    int32_t max_down = sum_replicas(all, na) - min_avail - new_unavail;
    if (max_down <= 0) {
        return false;
    }
    int32_t cleaned = cleanup_unhealthy(x, old, n, max_down);
    int32_t scaled = scale_down_old_rolling(x, old, n);
    return cleaned + scaled > 0;
}

/* ---- Recreate (recreate.go) ---- */

struct old_pods_ctx {
    dsync_t *x;
    bool running;
};

static void check_old_pod(json_t *pod, void *data)
{
    struct old_pods_ctx *o = data;
    dsync_t *x = o->x;
    if (o->running || !ek_streq(ek_json_str(pod, "metadata", "namespace", NULL),
                                ek_json_str(x->d, "metadata", "namespace", NULL))) {
        return;
    }
    const json_t *ref = controller_ref(pod);
    const char *phase = ek_json_str(pod, "status", "phase", NULL);
    if (!ref || ek_streq(phase, "Succeeded") || ek_streq(phase, "Failed")) {
        return;
    }
    const char *uid = ek_json_str(ref, "uid", NULL);
    for (size_t i = 0; i < x->nold; i++) {
        if (ek_streq(uid, ek_json_str(x->old[i]->obj, "metadata", "uid", NULL))) {
            o->running = true;
            return;
        }
    }
}

/* oldPodsRunning: old ReplicaSets report pods, or pods they own have not ended. */
static bool old_pods_running(dsync_t *x)
{
    for (size_t i = 0; i < x->nold; i++) {
        if (x->old[i]->st_replicas > 0) {
            return true;
        }
    }
    struct old_pods_ctx o = { x, false };
    ek_informer_each(x->s->pods, check_old_pod, &o);
    return o.running;
}

static bool deployment_complete(dsync_t *x, const json_t *st);
static void sync_rollout_status(dsync_t *x);

static void rollout_recreate(dsync_t *x)
{
    /* No new ReplicaSet yet: it must not start before the old pods are gone. */
    if (sync_revision(x, false) < 0) {
        return;
    }
    bool scaled_down = false;
    for (size_t i = 0; i < x->nold; i++) {
        if (x->old[i]->replicas > 0) {
            scaled_down |= scale_rs_to(x, x->old[i], 0);
        }
    }
    if (scaled_down || old_pods_running(x)) {
        sync_rollout_status(x);
        return;
    }
    if (!x->new_rs && sync_revision(x, true) < 0) {
        return;
    }
    scale_rs_to(x, x->new_rs, x->replicas);
    if (deployment_complete(x, json_object_get(x->d, "status"))) {
        cleanup(x);
    }
    sync_rollout_status(x);
}

static void rollout_rolling(dsync_t *x)
{
    if (sync_revision(x, true) < 0) {
        return;
    }
    if (reconcile_new(x) || reconcile_old(x)) {
        sync_rollout_status(x);
        return;
    }
    if (deployment_complete(x, json_object_get(x->d, "status"))) {
        cleanup(x);
    }
    sync_rollout_status(x);
}

/* ---- status (sync.go's calculateStatus, progress.go) ---- */

static void set_count(json_t *st, const char *k, long long v)
{
    if (v != 0) { /* omitempty, as the Go types serialise */
        json_object_set_new(st, k, json_integer(v));
    }
}

static json_t *calculate_status(dsync_t *x)
{
    size_t n;
    ek_autofree rsw_t **all = all_rs(x, &n);
    int32_t replicas = 0, ready = 0, avail = sum_avail(all, n);
    for (size_t i = 0; i < n; i++) {
        replicas += all[i]->st_replicas;
        ready += all[i]->st_ready;
    }
    int32_t unavail = EK_MAX(sum_replicas(all, n) - avail, 0);
    json_t *st = json_object();
    set_count(st, "observedGeneration", ek_json_int(x->d, 0, "metadata", "generation", NULL));
    set_count(st, "replicas", replicas);
    set_count(st, "updatedReplicas", x->new_rs ? x->new_rs->st_replicas : 0);
    set_count(st, "readyReplicas", ready);
    set_count(st, "availableReplicas", avail);
    set_count(st, "unavailableReplicas", unavail);
    json_t *conds = ek_json_path(x->d, "status", "conditions", NULL);
    if (conds) {
        json_object_set_new(st, "conditions", json_deep_copy(conds));
    }
    json_t *cc = ek_json_path(x->d, "status", "collisionCount", NULL);
    if (cc) {
        json_object_set(st, "collisionCount", cc);
    }
    if (avail >= x->replicas - deploy_max_unavailable(x->d)) {
        cond_set(st, cond_new("Available", "True", "MinimumReplicasAvailable",
                              "Deployment has minimum availability."));
    } else {
        cond_set(st, cond_new("Available", "False", "MinimumReplicasUnavailable",
                              "Deployment does not have minimum availability."));
    }
    return st;
}

static int32_t st_int(const json_t *st, const char *k)
{
    return (int32_t)ek_json_int(st, 0, k, NULL);
}

static bool deployment_complete(dsync_t *x, const json_t *st)
{
    return st_int(st, "updatedReplicas") == x->replicas && st_int(st, "replicas") == x->replicas &&
           st_int(st, "availableReplicas") == x->replicas &&
           ek_json_int(st, 0, "observedGeneration", NULL) >=
               ek_json_int(x->d, 0, "metadata", "generation", NULL);
}

/* DeploymentProgressing: more updated, ready or available pods, or fewer old ones. */
static bool deployment_progressing(const json_t *old, const json_t *st)
{
    int32_t old_old = st_int(old, "replicas") - st_int(old, "updatedReplicas");
    int32_t new_old = st_int(st, "replicas") - st_int(st, "updatedReplicas");
    return st_int(st, "updatedReplicas") > st_int(old, "updatedReplicas") || new_old < old_old ||
           st_int(st, "readyReplicas") > st_int(old, "readyReplicas") ||
           st_int(st, "availableReplicas") > st_int(old, "availableReplicas");
}

static time_t cond_updated(const json_t *c)
{
    struct timespec t = { 0 };
    const char *ts = ek_json_str(c, "lastUpdateTime", NULL);
    if (ts) {
        ek_time_parse_rfc3339(ts, &t);
    }
    return t.tv_sec;
}

static long long deadline_s(dsync_t *x)
{
    return ek_json_int(x->d, 600, "spec", "progressDeadlineSeconds", NULL);
}

static bool timed_out(dsync_t *x, const json_t *st)
{
    const json_t *c = cond_get(st, "Progressing");
    if (!c || ek_streq(ek_json_str(c, "reason", NULL), "NewReplicaSetAvailable")) {
        return false;
    }
    if (ek_streq(ek_json_str(c, "reason", NULL), "ProgressDeadlineExceeded")) {
        return true;
    }
    return cond_updated(c) + deadline_s(x) < time(NULL);
}

static void rs_progress(dsync_t *x, json_t *st, const char *cstatus, const char *reason,
                        const char *what)
{
    char msg[512];
    if (x->new_rs) {
        snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" %s", x->new_rs->name, what);
    } else {
        snprintf(msg, sizeof(msg), "Deployment \"%s\" %s",
                 ek_json_str(x->d, "metadata", "name", NULL), what);
    }
    json_t *c = cond_new("Progressing", cstatus, reason, msg);
    json_t *cur = cond_get(st, "Progressing");
    if (ek_streq(reason, "ReplicaSetUpdated") && cur) {
        /* Progress refreshes lastUpdateTime even with the same reason. */
        if (ek_streq(ek_json_str(cur, "status", NULL), "True")) {
            json_object_set(c, "lastTransitionTime", json_object_get(cur, "lastTransitionTime"));
        }
        cond_remove(st, "Progressing");
    }
    cond_set(st, c);
}

static void estimate_progress(dsync_t *x, json_t *st)
{
    const json_t *old = json_object_get(x->d, "status");
    if (deployment_complete(x, st)) {
        rs_progress(x, st, "True", "NewReplicaSetAvailable", "has successfully progressed.");
    } else if (deployment_progressing(old, st)) {
        rs_progress(x, st, "True", "ReplicaSetUpdated", "is progressing.");
    } else if (timed_out(x, st)) {
        rs_progress(x, st, "False", "ProgressDeadlineExceeded", "has timed out progressing.");
    }
}

/* requeueStuckDeployment: look again when the progress deadline would pass. */
static void requeue_stuck(dsync_t *x, const json_t *st)
{
    const json_t *c = cond_get(json_object_get(x->d, "status"), "Progressing");
    if (!has_progress_deadline(x->d) || !c || deployment_complete(x, st) ||
        ek_streq(ek_json_str(c, "reason", NULL), "ProgressDeadlineExceeded")) {
        return;
    }
    long long after = (long long)cond_updated(c) + deadline_s(x) - (long long)time(NULL);
    x->requeue_ms = after < 1 ? 1000 : (uint64_t)(after + 1) * 1000;
}

/* getReplicaFailures: a ReplicaSet's ReplicaFailure condition (pods it could not create),
 * the new ReplicaSet's first. Caller owns the condition. */
static json_t *replica_failure(dsync_t *x)
{
    size_t n;
    ek_autofree rsw_t **all = all_rs(x, &n);
    const json_t *c =
        x->new_rs ? cond_get(json_object_get(x->new_rs->obj, "status"), "ReplicaFailure") : NULL;
    for (size_t i = 0; !c && i < n; i++) {
        c = cond_get(json_object_get(all[i]->obj, "status"), "ReplicaFailure");
    }
    if (!c) {
        return NULL;
    }
    const char *ts = ek_json_str(c, "lastTransitionTime", NULL);
    json_t *d = json_pack("{s:s,s:s}", "type", "ReplicaFailure", "status",
                          ek_json_str(c, "status", NULL) ? ek_json_str(c, "status", NULL) : "");
    if (ts) {
        ek_json_set_str(d, "lastUpdateTime", ts);
        ek_json_set_str(d, "lastTransitionTime", ts);
    }
    const char *keys[] = { "reason", "message" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(keys); i++) {
        if (ek_json_str(c, keys[i], NULL)) {
            ek_json_set_str(d, keys[i], ek_json_str(c, keys[i], NULL));
        }
    }
    return d;
}

/* syncRolloutStatus */
static void sync_rollout_status(dsync_t *x)
{
    json_t *st = calculate_status(x);
    if (!has_progress_deadline(x->d)) {
        cond_remove(st, "Progressing");
    }
    const json_t *cur = cond_get(json_object_get(x->d, "status"), "Progressing");
    bool complete_before = st_int(st, "replicas") == st_int(st, "updatedReplicas") && cur &&
                           ek_streq(ek_json_str(cur, "reason", NULL), "NewReplicaSetAvailable");
    if (has_progress_deadline(x->d) && !complete_before) {
        estimate_progress(x, st);
    }
    json_t *failure = replica_failure(x);
    if (failure) {
        cond_set(st, failure);
    } else {
        cond_remove(st, "ReplicaFailure");
    }
    if (json_equal(st, json_object_get(x->d, "status"))) {
        requeue_stuck(x, st);
        json_decref(st);
        return;
    }
    json_object_set_new(x->d, "status", st);
}

/* syncDeploymentStatus: counts and availability only (scaling, paused, being deleted). */
static void sync_status(dsync_t *x)
{
    json_t *st = calculate_status(x);
    json_object_set_new(x->d, "status", st);
}

/* ---- writing the plan ---- */

static void dsync_free(dsync_t *x)
{
    for (size_t i = 0; i < x->n; i++) {
        json_decref(x->rs[i]->obj);
        json_decref(x->rs[i]->want);
        free(x->rs[i]);
    }
    free(x->rs);
    free(x->old);
    json_decref(x->orig);
    json_decref(x->d);
    free(x->key);
    free(x);
}

static void dsync_release(dsync_t *x)
{
    if (--x->outstanding > 0) {
        return;
    }
    ctrl_t *c = x->s->c;
    if (!ctrl_manager(c)->stopping) {
        int res = x->result;
        if (res == SYNC_OK && x->requeue_ms) {
            res = (int)EK_MIN(x->requeue_ms, (uint64_t)INT32_MAX);
        }
        ctrl_done(c, x->key, res);
    }
    dsync_free(x);
}

struct call_ctx {
    dsync_t *x;
    rsw_t *r; /* the ReplicaSet written, or NULL */
};

static void record_scaling(dsync_t *x, rsw_t *r)
{
    if (r->op && r->replicas != r->from) {
        ek_event_record(x->s->events, x->orig, "Normal", "ScalingReplicaSet",
                        "Scaled %s replica set %s from %d to %d", r->op, r->name, r->from,
                        r->replicas);
    }
}

static void on_written(int status, json_t *body, const ek_error_t *err, void *data)
{
    struct call_ctx *cc = data;
    dsync_t *x = cc->x;
    if (err && !(status == 404 && cc->r && cc->r->del)) {
        EK_LOG(EK_DEBUG, "deployment", "write failed deployment=%s status=%d err=\"%s\"", x->key,
               status, ek_error_msg(err));
        x->result = SYNC_RETRY;
    } else if (!err && cc->r && !cc->r->del) {
        record_scaling(x, cc->r);
    }
    EK_UNUSED(body);
    free(cc);
    dsync_release(x);
}

static void write_rs(dsync_t *x, rsw_t *r)
{
    ek_api_client_t *client = ctrl_manager(x->s->c)->client;
    const char *ns = ek_json_str(x->d, "metadata", "namespace", NULL);
    struct call_ctx *cc = ek_new(struct call_ctx);
    cc->x = x;
    cc->r = r;
    x->outstanding++;
    if (r->del) {
        ek_api_delete(client, x->s->rs_res, ns, r->name, NULL, on_written, cc);
    } else {
        ek_api_update(client, x->s->rs_res, ns, r->want, EK_SUB_NONE, on_written, cc);
    }
}

static void write_rest(dsync_t *x)
{
    for (size_t i = 0; i < x->n; i++) {
        rsw_t *r = x->rs[i];
        if (r->create) {
            continue;
        }
        if (r->del || (r->want && !json_equal(r->want, r->obj))) {
            write_rs(x, r);
        }
    }
    if (!json_equal(x->d, x->orig)) {
        struct call_ctx *cc = ek_new(struct call_ctx);
        cc->x = x;
        x->outstanding++;
        ek_api_update(ctrl_manager(x->s->c)->client, x->s->dep_res,
                      ek_json_str(x->d, "metadata", "namespace", NULL), x->d, EK_SUB_STATUS,
                      on_written, cc);
    }
    dsync_release(x);
}

static void on_rs_created(int status, json_t *body, const ek_error_t *err, void *data)
{
    dsync_t *x = data;
    rsw_t *r = x->new_rs;
    if (!err) {
        record_scaling(x, r);
        write_rest(x);
        return;
    }
    EK_UNUSED(body);
    x->result = SYNC_RETRY;
    if (status != 409 && status != 0) {
        /* Kubernetes reports a failed create on the Deployment (FailedCreate). */
        char msg[512];
        snprintf(msg, sizeof(msg), "Failed to create new replica set \"%s\": %s", r->name,
                 ek_error_msg(err));
        ek_event_record(x->s->events, x->orig, "Warning", "ReplicaSetCreateError", "%s", msg);
        if (has_progress_deadline(x->d)) {
            json_decref(x->d);
            x->d = json_deep_copy(x->orig);
            cond_set(dstatus(x), cond_new("Progressing", "False", "ReplicaSetCreateError", msg));
            /* Write nothing else planned on the new ReplicaSet's account. */
            for (size_t i = 0; i < x->n; i++) {
                if (x->rs[i] == r) {
                    x->rs[i] = x->rs[--x->n];
                    break;
                }
            }
            json_decref(r->obj);
            json_decref(r->want);
            free(r);
            x->new_rs = NULL;
            for (size_t i = 0; i < x->n; i++) {
                json_decref(x->rs[i]->want);
                x->rs[i]->want = NULL;
                x->rs[i]->del = false;
            }
            write_rest(x);
            return;
        }
    }
    dsync_release(x);
}

static void write_plan(dsync_t *x)
{
    /* The sync's own hold on x is dropped by write_rest. */
    if (x->new_rs && x->new_rs->create) {
        /* The new ReplicaSet first: nothing else is written if it cannot be created. */
        ek_api_create(ctrl_manager(x->s->c)->client, x->s->rs_res,
                      ek_json_str(x->d, "metadata", "namespace", NULL), x->new_rs->want,
                      on_rs_created, x);
        return;
    }
    write_rest(x);
}

/* ---- claiming ReplicaSets (ControllerRefManager.ClaimReplicaSets) ---- */

struct claim_ctx {
    dsync_t *x;
    const ek_labelsel_t *sel;
    bool deleting;
};

static void release_rs(dsync_t *x, const json_t *rs)
{
    json_t *patch = json_pack("{s:{s:[{s:s,s:s}],s:s}}", "metadata", "ownerReferences", "$patch",
                              "delete", "uid", ek_json_str(x->d, "metadata", "uid", NULL), "uid",
                              ek_json_str(rs, "metadata", "uid", NULL));
    struct call_ctx *cc = ek_new(struct call_ctx);
    cc->x = x;
    x->outstanding++;
    ek_api_patch(
        ctrl_manager(x->s->c)->client, x->s->rs_res, ek_json_str(rs, "metadata", "namespace", NULL),
        ek_json_str(rs, "metadata", "name", NULL), EK_SUB_NONE, "strategic", patch, on_written, cc);
    json_decref(patch);
}

static void add_claimed(dsync_t *x, json_t *rs, bool adopt)
{
    rsw_t *r = ek_new(rsw_t);
    rs_load(r, rs);
    if (adopt) {
        /* The adoption is written with the sync's other changes, in one update. */
        json_t *refs = ek_json_path(rs_want(r), "metadata", "ownerReferences", NULL);
        if (!refs) {
            refs = json_array();
            json_object_set_new(json_object_get(r->want, "metadata"), "ownerReferences", refs);
        }
        json_array_append_new(refs, owner_ref(x->s->dep_res, x->d, true));
    }
    x->rs = ek_xrealloc(x->rs, (x->n + 1) * sizeof(*x->rs));
    x->rs[x->n++] = r;
}

static void claim_one(json_t *rs, void *data)
{
    struct claim_ctx *cl = data;
    dsync_t *x = cl->x;
    if (!ek_streq(ek_json_str(rs, "metadata", "namespace", NULL),
                  ek_json_str(x->d, "metadata", "namespace", NULL))) {
        return;
    }
    const json_t *ref = controller_ref(rs);
    bool match = ek_labelsel_matches(cl->sel, ek_json_path(rs, "metadata", "labels", NULL));
    if (ref) {
        if (!ek_streq(ek_json_str(ref, "uid", NULL), ek_json_str(x->d, "metadata", "uid", NULL))) {
            return; /* someone else's */
        }
        if (match) {
            add_claimed(x, rs, false);
        } else if (!cl->deleting) {
            release_rs(x, rs);
        }
        return;
    }
    if (cl->deleting || !match || ek_json_str(rs, "metadata", "deletionTimestamp", NULL)) {
        return;
    }
    add_claimed(x, rs, true);
}

/* ---- the sync ---- */

/* checkPausedConditions: Progressing Unknown while paused, and once resumed. */
static void paused_conditions(dsync_t *x)
{
    if (!has_progress_deadline(x->d)) {
        return;
    }
    json_t *st = dstatus(x);
    const json_t *c = cond_get(st, "Progressing");
    const char *reason = c ? ek_json_str(c, "reason", NULL) : NULL;
    if (ek_streq(reason, "ProgressDeadlineExceeded")) {
        return; /* a reported lack of progress stays */
    }
    bool paused = ek_json_bool(x->d, 0, "spec", "paused", NULL);
    bool was = ek_streq(reason, "DeploymentPaused");
    if (paused && !was) {
        cond_set(st,
                 cond_new("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"));
    } else if (!paused && was) {
        cond_set(st,
                 cond_new("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed"));
    }
}

/* sync.go's sync: scaling (and, while paused, cleanup) without rolling anything out. */
static void sync_scale(dsync_t *x)
{
    if (sync_revision(x, false) < 0) {
        return;
    }
    scale(x);
    if (ek_json_bool(x->d, 0, "spec", "paused", NULL)) {
        cleanup(x);
    }
    sync_status(x);
}

static bool selects_everything(const json_t *d)
{
    const json_t *sel = ek_json_path(d, "spec", "selector", NULL);
    return json_object_size(json_object_get(sel, "matchLabels")) == 0 &&
           json_array_size(json_object_get(sel, "matchExpressions")) == 0;
}

static void plan(dsync_t *x)
{
    if (ek_json_str(x->d, "metadata", "deletionTimestamp", NULL)) {
        if (sync_revision(x, false) == 0) {
            sync_status(x);
        }
        return;
    }
    paused_conditions(x);
    if (ek_json_bool(x->d, 0, "spec", "paused", NULL)) {
        sync_scale(x);
        return;
    }
    if (sync_revision(x, false) < 0) {
        return;
    }
    if (scaling_event(x)) {
        sync_scale(x);
    } else if (ek_streq(ek_json_str(x->d, "spec", "strategy", "type", NULL), "Recreate")) {
        rollout_recreate(x);
    } else {
        rollout_rolling(x);
    }
}

static void sync_deployment(ctrl_t *c, const char *key, void *data)
{
    dc_t *s = data;
    char *ns, *name;
    key_split(key, &ns, &name);
    json_t *d = ek_informer_get(s->deps, ns, name);
    free(ns);
    free(name);
    if (!d) {
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    dsync_t *x = ek_new(dsync_t);
    x->s = s;
    x->key = ek_xstrdup(key);
    x->orig = json_incref(d);
    x->d = json_deep_copy(d);
    x->replicas = (int32_t)ek_json_int(d, 1, "spec", "replicas", NULL);
    x->outstanding = 1;
    if (selects_everything(d)) {
        ek_event_record(s->events, d, "Warning", "SelectingAll",
                        "This deployment is selecting all pods. A non-empty selector is "
                        "required.");
        long long gen = ek_json_int(d, 0, "metadata", "generation", NULL);
        if (ek_json_int(d, 0, "status", "observedGeneration", NULL) < gen) {
            json_object_set_new(dstatus(x), "observedGeneration", json_integer(gen));
        }
        write_rest(x);
        return;
    }
    ek_error_t *err = NULL;
    ek_auto(ek_labelsel_t) sel =
        ek_labelsel_from_json(ek_json_path(d, "spec", "selector", NULL), &err);
    ek_error_free(err);
    if (sel) {
        struct claim_ctx cl = { x, sel,
                                ek_json_str(d, "metadata", "deletionTimestamp", NULL) != NULL };
        ek_informer_each(s->rss, claim_one, &cl);
        plan(x);
    }
    write_plan(x);
}

/* ---- event handlers ---- */

/* The Deployment controlling rs, if it still exists with that uid. Caller frees its key. */
static char *owner_key(dc_t *s, const json_t *obj, const char *kind, ek_informer_t *inf)
{
    const json_t *ref = controller_ref(obj);
    if (!ref || !ek_streq(ek_json_str(ref, "kind", NULL), kind)) {
        return NULL;
    }
    json_t *o = ek_informer_get(inf, ek_json_str(obj, "metadata", "namespace", NULL),
                                ek_json_str(ref, "name", NULL));
    if (!o || !ek_streq(ek_json_str(o, "metadata", "uid", NULL), ek_json_str(ref, "uid", NULL))) {
        return NULL;
    }
    EK_UNUSED(s);
    return obj_key(o);
}

struct orphan_ctx {
    dc_t *s;
    const json_t *rs;
};

static void enqueue_if_selects(json_t *d, void *data)
{
    struct orphan_ctx *o = data;
    if (!ek_streq(ek_json_str(d, "metadata", "namespace", NULL),
                  ek_json_str(o->rs, "metadata", "namespace", NULL))) {
        return;
    }
    ek_auto(ek_labelsel_t) sel =
        ek_labelsel_from_json(ek_json_path(d, "spec", "selector", NULL), NULL);
    if (sel && !ek_labelsel_empty(sel) &&
        ek_labelsel_matches(sel, ek_json_path(o->rs, "metadata", "labels", NULL))) {
        ctrl_enqueue_obj(o->s->c, d);
    }
}

/* An owned ReplicaSet wakes its Deployment; an orphan wakes every Deployment that could
 * adopt it. */
static void enqueue_for_rs(dc_t *s, const json_t *rs)
{
    ek_autofree char *key = owner_key(s, rs, "Deployment", s->deps);
    if (key) {
        ctrl_enqueue(s->c, key);
    } else if (!controller_ref(rs)) {
        struct orphan_ctx o = { s, rs };
        ek_informer_each(s->deps, enqueue_if_selects, &o);
    }
}

static void on_rs_add(json_t *rs, void *data)
{
    enqueue_for_rs(data, rs);
}

static void on_rs_update(json_t *old, json_t *rs, void *data)
{
    dc_t *s = data;
    if (ek_streq(ek_json_str(old, "metadata", "resourceVersion", NULL),
                 ek_json_str(rs, "metadata", "resourceVersion", NULL))) {
        return; /* a resync: the Deployment's own covers it */
    }
    if (!json_equal(controller_ref(old), controller_ref(rs))) {
        enqueue_for_rs(s, old);
    }
    enqueue_for_rs(s, rs);
}

static void on_rs_delete(json_t *rs, void *data)
{
    dc_t *s = data;
    ek_autofree char *key = owner_key(s, rs, "Deployment", s->deps);
    if (key) {
        ctrl_enqueue(s->c, key);
    }
}

/* Recreate waits for old pods to go: their deletion may let it proceed. */
static void on_pod_delete(json_t *pod, void *data)
{
    dc_t *s = data;
    const json_t *ref = controller_ref(pod);
    if (!ref || !ek_streq(ek_json_str(ref, "kind", NULL), "ReplicaSet")) {
        return;
    }
    json_t *rs = ek_informer_get(s->rss, ek_json_str(pod, "metadata", "namespace", NULL),
                                 ek_json_str(ref, "name", NULL));
    ek_autofree char *key = rs ? owner_key(s, rs, "Deployment", s->deps) : NULL;
    if (!key) {
        return;
    }
    char *ns, *name;
    key_split(key, &ns, &name);
    json_t *d = ek_informer_get(s->deps, ns, name);
    if (ek_streq(ek_json_str(d, "spec", "strategy", "type", NULL), "Recreate")) {
        ctrl_enqueue(s->c, key);
    }
    free(ns);
    free(name);
}

static void on_dep_add(json_t *d, void *data)
{
    ctrl_enqueue_obj(((dc_t *)data)->c, d);
}

static void on_dep_update(json_t *old, json_t *d, void *data)
{
    EK_UNUSED(old);
    ctrl_enqueue_obj(((dc_t *)data)->c, d);
}

static void dc_free(void *state)
{
    dc_t *s = state;
    ek_event_recorder_free(s->events);
    free(s);
}

void deployment_controller_start(ctrl_manager_t *m)
{
    dc_t *s = ek_new(dc_t);
    s->dep_res = res_of("apps", "v1", "deployments");
    s->rs_res = res_of("apps", "v1", "replicasets");
    s->deps = mgr_informer(m, "apps", "v1", "deployments");
    s->rss = mgr_informer(m, "apps", "v1", "replicasets");
    s->pods = mgr_informer(m, "", "v1", "pods");
    s->c = ctrl_new(m, "deployment", sync_deployment, s, 5);
    static const ek_informer_handlers_t dep_h = { on_dep_add, on_dep_update, on_dep_add, NULL };
    static const ek_informer_handlers_t rs_h = { on_rs_add, on_rs_update, on_rs_delete, NULL };
    static const ek_informer_handlers_t pod_h = { NULL, NULL, on_pod_delete, NULL };
    ek_informer_add_handlers(s->deps, &dep_h, s);
    ek_informer_add_handlers(s->rss, &rs_h, s);
    ek_informer_add_handlers(s->pods, &pod_h, s);
    s->events = ek_event_recorder_new(m->client, "deployment-controller", NULL);
    mgr_own(m, s, dc_free);
}
