/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The garbage collector, as Kubernetes' garbagecollector: a graph of owners and dependents,
 * keyed by uid, built from informers over every built-in kind that commonly has
 * ownerReferences. Three things are driven from it:
 *
 *  - dangling owners: an object whose owners are all gone (by uid; an owner not in the graph is
 *    looked up live first, so a slow informer never condemns a dependent) is deleted, with the
 *    propagation its own finalizers ask for; one that still has a live owner only loses the
 *    references to the gone ones;
 *  - foreground deletion: an owner being deleted with the foregroundDeletion finalizer has its
 *    dependents deleted (themselves in foreground when they have dependents), and loses the
 *    finalizer once no dependent with blockOwnerDeletion is left;
 *  - orphaning: an owner being deleted with the orphan finalizer has its references removed
 *    from every dependent, then loses the finalizer.
 *
 * The API server deletes an object when its last finalizer goes. Two work queues hold uids:
 * attempt-to-delete and attempt-to-orphan. A periodic pass (gc_interval) re-checks objects
 * whose owners were never observed, which also catches owners of kinds that are not watched.
 */
#include <stdio.h>

#include "server/controllers/controllers-internal.h"

#define FG_FINALIZER       "foregroundDeletion"
#define ORPHAN_FINALIZER   "orphan"
#define MAX_ABSENT         4096
#define ORPHAN_RECHECK_MS  1000
#define UNBLOCK_RECHECK_MS 100

/* The kinds whose objects enter the graph (group, plural; all v1). */
static const char *const watched[][2] = {
    { "", "pods" },
    { "apps", "replicasets" },
    { "apps", "deployments" },
    { "apps", "daemonsets" },
    { "apps", "statefulsets" },
    { "apps", "controllerrevisions" },
    { "batch", "jobs" },
    { "batch", "cronjobs" },
    { "", "services" },
    { "", "endpoints" },
    { "discovery.k8s.io", "endpointslices" },
    { "", "configmaps" },
    { "", "secrets" },
    { "", "serviceaccounts" },
    { "", "persistentvolumeclaims" },
    { "", "nodes" },
    { "coordination.k8s.io", "leases" },
};

typedef struct gnode {
    char *uid;
    const ek_resource_t *res; /* NULL while virtual (referenced, never observed) */
    json_t *obj;              /* the latest observed object, or NULL while virtual */
    ek_map_t dependents;      /* uid → gnode_t* */
} gnode_t;

typedef struct gc gc_t;

struct watch {
    gc_t *g;
    const ek_resource_t *res;
};

struct gc {
    ctrl_manager_t *m;
    ctrl_t *del;    /* attempt-to-delete, by uid */
    ctrl_t *orphan; /* attempt-to-orphan, by uid */
    ctrl_t *resync;
    ek_map_t nodes;  /* uid → gnode_t* */
    ek_map_t absent; /* owner uids confirmed gone */
    ek_map_t seen;   /* owner uids confirmed present though not observed (unwatched kinds):
                        1 = solid, 2 = deleting its dependents; cleared every pass */
    struct watch w[EK_ARRAY_SIZE(watched)];
};

/* ---- the decision (pure) ---- */

int gc_decide(int solid, int dangling, int waiting, bool has_dependents,
              bool dependent_deleting_dependents, bool orphan_fin, bool fg_fin)
{
    if (solid + dangling + waiting == 0) {
        return GC_KEEP; /* no owners at all: not ours to collect */
    }
    if (solid > 0) {
        return dangling + waiting > 0 ? GC_REMOVE_REFS : GC_KEEP;
    }
    if (waiting > 0 && has_dependents) {
        /* An owner waits for us and we have dependents: go foreground, so ours are deleted
         * first. If a dependent also waits for its own, our references must stop blocking
         * first, or the owners and dependents could wait on each other forever. */
        return dependent_deleting_dependents ? GC_UNBLOCK_DELETE_FOREGROUND : GC_DELETE_FOREGROUND;
    }
    if (orphan_fin) {
        return GC_DELETE_ORPHAN;
    }
    return fg_fin ? GC_DELETE_FOREGROUND : GC_DELETE_BACKGROUND;
}

/* ---- object helpers ---- */

static bool has_fin(const json_t *obj, const char *f)
{
    size_t i;
    json_t *v;
    json_array_foreach (ek_json_path(obj, "metadata", "finalizers", NULL), i, v) {
        if (ek_streq(json_string_value(v), f)) {
            return true;
        }
    }
    return false;
}

static bool deleting(const json_t *obj)
{
    return obj && ek_json_str(obj, "metadata", "deletionTimestamp", NULL) != NULL;
}

/* Being deleted and waiting for its dependents to go first. */
static bool deleting_dependents(const json_t *obj)
{
    return deleting(obj) && has_fin(obj, FG_FINALIZER);
}

static bool orphaning(const json_t *obj)
{
    return deleting(obj) && has_fin(obj, ORPHAN_FINALIZER);
}

static const json_t *refs_of(const json_t *obj)
{
    return ek_json_path(obj, "metadata", "ownerReferences", NULL);
}

/* The ownerReference of obj to the owner uid, or NULL. */
static const json_t *ref_to(const json_t *obj, const char *uid)
{
    size_t i;
    json_t *r;
    json_array_foreach (refs_of(obj), i, r) {
        if (ek_streq(ek_json_str(r, "uid", NULL), uid)) {
            return r;
        }
    }
    return NULL;
}

/* ---- the graph ---- */

static gnode_t *node_get(gc_t *g, const char *uid)
{
    return uid ? ek_map_get(&g->nodes, uid) : NULL;
}

static gnode_t *node_ensure(gc_t *g, const char *uid)
{
    gnode_t *n = ek_map_get(&g->nodes, uid);
    if (!n) {
        n = ek_new(gnode_t);
        n->uid = ek_xstrdup(uid);
        ek_map_put(&g->nodes, uid, n);
    }
    return n;
}

/* Frees a virtual node nobody refers to any more. */
static void node_maybe_free(gc_t *g, gnode_t *n)
{
    if (n->obj || n->dependents.n > 0) {
        return;
    }
    ek_map_del(&g->nodes, n->uid);
    ek_map_free(&n->dependents);
    free(n->uid);
    free(n);
}

static void enqueue_dependents(gc_t *g, gnode_t *n)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&n->dependents, &it, &k, &v)) {
        ctrl_enqueue(g->del, k);
    }
}

/* An owner waiting on its dependents may be able to finish now. */
static void owner_changed(gc_t *g, gnode_t *o)
{
    if (deleting_dependents(o->obj)) {
        ctrl_enqueue(g->del, o->uid);
    }
    if (orphaning(o->obj)) {
        ctrl_enqueue(g->orphan, o->uid);
    }
}

/* Links n under the owners in refs; an owner not observed yet needs a look. */
static void link_owners(gc_t *g, gnode_t *n, const json_t *refs)
{
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r) {
        const char *ouid = ek_json_str(r, "uid", NULL);
        if (!ouid) {
            continue;
        }
        gnode_t *o = node_ensure(g, ouid);
        ek_map_put(&o->dependents, n->uid, n);
        if (!o->obj) {
            ctrl_enqueue(g->del, n->uid);
        }
    }
}

/* Unlinks n from the owners in old_refs it no longer references (all of them if new_obj is
 * NULL), or whose reference stopped blocking. */
static void unlink_owners(gc_t *g, gnode_t *n, const json_t *old_refs, const json_t *new_obj)
{
    size_t i;
    json_t *r;
    json_array_foreach (old_refs, i, r) {
        const char *ouid = ek_json_str(r, "uid", NULL);
        gnode_t *o = node_get(g, ouid);
        if (!o) {
            continue;
        }
        const json_t *now = new_obj ? ref_to(new_obj, ouid) : NULL;
        if (!now) {
            ek_map_del(&o->dependents, n->uid);
            owner_changed(g, o);
            node_maybe_free(g, o);
        } else if (ek_json_bool(r, 0, "blockOwnerDeletion", NULL) &&
                   !ek_json_bool(now, 0, "blockOwnerDeletion", NULL)) {
            owner_changed(g, o);
        }
    }
}

static void observe(gc_t *g, const ek_resource_t *res, json_t *obj)
{
    const char *uid = ek_json_str(obj, "metadata", "uid", NULL);
    if (!uid) {
        return;
    }
    gnode_t *n = node_ensure(g, uid);
    json_t *old = n->obj;
    n->obj = json_incref(obj);
    n->res = res;
    unlink_owners(g, n, refs_of(old), obj);
    link_owners(g, n, refs_of(obj));
    /* Deletions that wait for the collector start here (or at the first list). */
    if (orphaning(obj) && !orphaning(old)) {
        ctrl_enqueue(g->orphan, uid);
    }
    if (deleting_dependents(obj) && !deleting_dependents(old)) {
        ctrl_enqueue(g->del, uid);
        enqueue_dependents(g, n);
    }
    json_decref(old);
}

static void forget(gc_t *g, json_t *obj)
{
    gnode_t *n = node_get(g, ek_json_str(obj, "metadata", "uid", NULL));
    if (!n || !n->obj) {
        return;
    }
    unlink_owners(g, n, refs_of(n->obj), NULL);
    json_decref(n->obj);
    n->obj = NULL;
    n->res = NULL;
    if (n->dependents.n > 0) {
        /* Its dependents still point at it: they are dangling now. */
        if (g->absent.n >= MAX_ABSENT) {
            ek_map_free(&g->absent);
        }
        ek_map_put(&g->absent, n->uid, (void *)1);
        enqueue_dependents(g, n);
    }
    node_maybe_free(g, n);
}

static void on_add(json_t *obj, void *data)
{
    struct watch *w = data;
    observe(w->g, w->res, obj);
}

static void on_update(json_t *old, json_t *obj, void *data)
{
    struct watch *w = data;
    if (old != obj) {
        observe(w->g, w->res, obj);
    }
}

static void on_delete(json_t *obj, void *data)
{
    struct watch *w = data;
    forget(w->g, obj);
}

/* ---- writes ---- */

static const char *obj_ns(const json_t *obj)
{
    return ek_json_str(obj, "metadata", "namespace", NULL);
}

static const char *obj_name(const json_t *obj)
{
    return ek_json_str(obj, "metadata", "name", NULL);
}

static void delete_obj(gc_t *g, pending_t *p, gnode_t *n, const char *policy)
{
    json_t *opts =
        json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
                  "propagationPolicy", policy, "preconditions", "uid", n->uid, "resourceVersion",
                  ek_json_str(n->obj, "metadata", "resourceVersion", NULL) ?: "");
    EK_LOG(EK_DEBUG, "gc", "deleting kind=%s object=%s/%s policy=%s", n->res->kind,
           obj_ns(n->obj) ?: "", obj_name(n->obj), policy);
    pending_add(p);
    ek_api_delete(g->m->client, n->res, obj_ns(n->obj), obj_name(n->obj), opts, pending_call_done,
                  p);
    json_decref(opts);
}

/* A strategic merge patch of n's ownerReferences (elements merged by uid). */
static void patch_refs(gc_t *g, pending_t *p, gnode_t *n, json_t *refs_patch)
{
    json_t *patch =
        json_pack("{s:{s:o,s:s}}", "metadata", "ownerReferences", refs_patch, "uid", n->uid);
    pending_add(p);
    ek_api_patch(g->m->client, n->res, obj_ns(n->obj), obj_name(n->obj), EK_SUB_NONE, "strategic",
                 patch, pending_call_done, p);
    json_decref(patch);
}

/* Removes n's references to the owner uids listed. When none would be left the field goes
 * (a merge patch guarded by the resourceVersion seen), as Kubernetes stores no empty list. */
static void drop_refs(gc_t *g, pending_t *p, gnode_t *n, const json_t *uids)
{
    json_t *dels = json_array();
    size_t left = 0, i;
    json_t *r;
    json_array_foreach (refs_of(n->obj), i, r) {
        bool drop = false;
        size_t k;
        json_t *u;
        json_array_foreach (uids, k, u) {
            drop = drop || ek_streq(ek_json_str(r, "uid", NULL), json_string_value(u));
        }
        if (drop) {
            json_array_append_new(
                dels, json_pack("{s:s,s:O}", "$patch", "delete", "uid", json_object_get(r, "uid")));
        } else {
            left++;
        }
    }
    if (left > 0) {
        patch_refs(g, p, n, dels);
        return;
    }
    json_decref(dels);
    json_t *patch = json_pack("{s:{s:n,s:s}}", "metadata", "ownerReferences", "resourceVersion",
                              ek_json_str(n->obj, "metadata", "resourceVersion", NULL) ?: "");
    pending_add(p);
    ek_api_patch(g->m->client, n->res, obj_ns(n->obj), obj_name(n->obj), EK_SUB_NONE, "merge",
                 patch, pending_call_done, p);
    json_decref(patch);
}

/* Removes finalizer f from n, guarded by the observed resourceVersion. */
static void remove_finalizer(gc_t *g, pending_t *p, gnode_t *n, const char *f)
{
    json_t *fins = json_array();
    size_t i;
    json_t *v;
    json_array_foreach (ek_json_path(n->obj, "metadata", "finalizers", NULL), i, v) {
        if (!ek_streq(json_string_value(v), f)) {
            json_array_append(fins, v);
        }
    }
    json_t *patch = json_pack("{s:{s:o,s:s}}", "metadata", "finalizers", fins, "resourceVersion",
                              ek_json_str(n->obj, "metadata", "resourceVersion", NULL) ?: "");
    EK_LOG(EK_DEBUG, "gc", "removing finalizer kind=%s object=%s/%s finalizer=%s", n->res->kind,
           obj_ns(n->obj) ?: "", obj_name(n->obj), f);
    pending_add(p);
    ek_api_patch(g->m->client, n->res, obj_ns(n->obj), obj_name(n->obj), EK_SUB_NONE, "merge",
                 patch, pending_call_done, p);
    json_decref(patch);
}

/* ---- attempt to delete ---- */

enum { OWNER_UNKNOWN, OWNER_SOLID, OWNER_DANGLING, OWNER_WAITING };

static int classify(gc_t *g, const json_t *ref)
{
    const char *uid = ek_json_str(ref, "uid", NULL);
    gnode_t *o = node_get(g, uid);
    if (o && o->obj) {
        return deleting_dependents(o->obj) ? OWNER_WAITING : OWNER_SOLID;
    }
    if (!uid || ek_map_get(&g->absent, uid)) {
        return OWNER_DANGLING;
    }
    uintptr_t seen = (uintptr_t)ek_map_get(&g->seen, uid);
    return seen == 1 ? OWNER_SOLID : seen == 2 ? OWNER_WAITING : OWNER_UNKNOWN;
}

/* Blocks until its dependents with blockOwnerDeletion are gone, then lets go. */
static void process_deleting_dependents(gc_t *g, ctrl_t *c, gnode_t *n)
{
    int blocking = 0;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&n->dependents, &it, &k, &v)) {
        gnode_t *d = v;
        const json_t *ref = d->obj ? ref_to(d->obj, n->uid) : NULL;
        if (ref && ek_json_bool(ref, 0, "blockOwnerDeletion", NULL)) {
            blocking++;
            if (!deleting_dependents(d->obj)) {
                ctrl_enqueue(g->del, d->uid);
            }
        }
    }
    pending_t *p = pending_new(c, n->uid);
    if (blocking == 0) {
        remove_finalizer(g, p, n, FG_FINALIZER);
    }
    pending_arm(p);
}

static bool any_dependent_deleting_dependents(gnode_t *n)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&n->dependents, &it, &k, &v)) {
        if (deleting_dependents(((gnode_t *)v)->obj)) {
            return true;
        }
    }
    return false;
}

/* Carries out gc_decide's answer for n; bad lists the uids of its dangling and waiting
 * owners, waiting those of the waiting ones. */
static void act(gc_t *g, pending_t *p, gnode_t *n, int decision, const json_t *bad,
                const json_t *waiting)
{
    size_t i;
    json_t *u;
    json_t *refs = json_array();
    switch (decision) {
    case GC_REMOVE_REFS:
        drop_refs(g, p, n, bad);
        break;
    case GC_UNBLOCK_DELETE_FOREGROUND:
        json_array_foreach (waiting, i, u) {
            const json_t *r = ref_to(n->obj, json_string_value(u));
            if (ek_json_bool(r, 0, "blockOwnerDeletion", NULL)) {
                json_array_append_new(refs,
                                      json_pack("{s:O,s:b}", "uid", u, "blockOwnerDeletion", 0));
            }
        }
        if (json_array_size(refs) > 0) {
            /* The delete follows once the patch shows (one write to an object at a time). */
            patch_refs(g, p, n, json_incref(refs));
            p->result = UNBLOCK_RECHECK_MS;
        } else {
            delete_obj(g, p, n, "Foreground");
        }
        break;
    case GC_DELETE_FOREGROUND:
        delete_obj(g, p, n, "Foreground");
        break;
    case GC_DELETE_ORPHAN:
        delete_obj(g, p, n, "Orphan");
        break;
    case GC_DELETE_BACKGROUND:
        delete_obj(g, p, n, "Background");
        break;
    default:
        break;
    }
    json_decref(refs);
}

static void look_up_owners(gc_t *g, ctrl_t *c, gnode_t *n);

static void attempt(gc_t *g, ctrl_t *c, const char *uid, bool may_look_up)
{
    gnode_t *n = node_get(g, uid);
    /* Being deleted is a one-way trip: wait for the deletion, unless it waits for us. */
    if (!n || !n->obj || (deleting(n->obj) && !deleting_dependents(n->obj))) {
        ctrl_done(c, uid, SYNC_OK);
        return;
    }
    if (deleting_dependents(n->obj)) {
        process_deleting_dependents(g, c, n);
        return;
    }
    int count[4] = { 0 };
    json_t *bad = json_array(), *waiting = json_array();
    size_t i;
    json_t *ref;
    json_array_foreach (refs_of(n->obj), i, ref) {
        int k = classify(g, ref);
        count[k]++;
        if (k == OWNER_DANGLING || k == OWNER_WAITING) {
            json_array_append_new(bad, json_string(ek_json_str(ref, "uid", NULL) ?: ""));
        }
        if (k == OWNER_WAITING) {
            json_array_append_new(waiting, json_string(ek_json_str(ref, "uid", NULL)));
        }
    }
    if (count[OWNER_UNKNOWN] > 0 && may_look_up) {
        json_decref(bad);
        json_decref(waiting);
        look_up_owners(g, c, n);
        return;
    }
    /* Owners still unknown after a look (unresolvable kinds) count as alive. */
    int d =
        gc_decide(count[OWNER_SOLID] + count[OWNER_UNKNOWN], count[OWNER_DANGLING],
                  count[OWNER_WAITING], n->dependents.n > 0, any_dependent_deleting_dependents(n),
                  has_fin(n->obj, ORPHAN_FINALIZER), has_fin(n->obj, FG_FINALIZER));
    pending_t *p = pending_new(c, uid);
    act(g, p, n, d, bad, waiting);
    json_decref(bad);
    json_decref(waiting);
    pending_arm(p);
}

/* ---- live look-ups of owners the graph has not observed ---- */

struct lookup {
    gc_t *g;
    ctrl_t *c;
    char *uid; /* the dependent */
    int outstanding;
    bool failed;
};

struct lookup_call {
    struct lookup *l;
    char *owner_uid;
};

static void lookup_release(struct lookup *l)
{
    if (--l->outstanding > 0) {
        return;
    }
    if (!l->g->m->stopping) {
        if (l->failed) {
            ctrl_done(l->c, l->uid, SYNC_RETRY);
        } else {
            attempt(l->g, l->c, l->uid, false);
        }
    }
    free(l->uid);
    free(l);
}

static void on_owner_got(int status, json_t *body, const ek_error_t *err, void *data)
{
    struct lookup_call *lc = data;
    gc_t *g = lc->l->g;
    const char *uid = ek_json_str(body, "metadata", "uid", NULL);
    if (status == 404 || (!err && !ek_streq(uid, lc->owner_uid))) {
        if (g->absent.n >= MAX_ABSENT) {
            ek_map_free(&g->absent);
        }
        ek_map_put(&g->absent, lc->owner_uid, (void *)1);
    } else if (!err) {
        ek_map_put(&g->seen, lc->owner_uid, (void *)(uintptr_t)(deleting_dependents(body) ? 2 : 1));
    } else {
        lc->l->failed = true;
    }
    lookup_release(lc->l);
    free(lc->owner_uid);
    free(lc);
}

/* The resource an ownerReference names, or NULL if no such kind is served. */
static const ek_resource_t *ref_resource(const json_t *ref)
{
    const char *av = ek_json_str(ref, "apiVersion", NULL);
    const char *kind = ek_json_str(ref, "kind", NULL);
    if (!av || !kind) {
        return NULL;
    }
    const char *slash = strchr(av, '/');
    ek_autofree char *group = slash ? ek_xstrndup(av, (size_t)(slash - av)) : ek_xstrdup("");
    const ek_resource_t *r = ek_resource_by_kind(group, slash ? slash + 1 : av, kind);
    return r ? r : ek_resource_by_kind(group, NULL, kind);
}

static void look_up_owners(gc_t *g, ctrl_t *c, gnode_t *n)
{
    struct lookup *l = ek_new(struct lookup);
    l->g = g;
    l->c = c;
    l->uid = ek_xstrdup(n->uid);
    l->outstanding = 1;
    size_t i;
    json_t *ref;
    json_array_foreach (refs_of(n->obj), i, ref) {
        const ek_resource_t *res = ref_resource(ref);
        const char *name = ek_json_str(ref, "name", NULL);
        if (classify(g, ref) != OWNER_UNKNOWN || !res || !name) {
            continue;
        }
        struct lookup_call *lc = ek_new(struct lookup_call);
        lc->l = l;
        lc->owner_uid = ek_xstrdup(ek_json_str(ref, "uid", NULL));
        l->outstanding++;
        ek_api_get(g->m->client, res, res->namespaced ? obj_ns(n->obj) : NULL, name, on_owner_got,
                   lc);
    }
    lookup_release(l);
}

static void sync_delete(ctrl_t *c, const char *uid, void *data)
{
    attempt(data, c, uid, true);
}

/* ---- attempt to orphan ---- */

static void sync_orphan(ctrl_t *c, const char *uid, void *data)
{
    gc_t *g = data;
    gnode_t *n = node_get(g, uid);
    if (!n || !orphaning(n->obj)) {
        ctrl_done(c, uid, SYNC_OK);
        return;
    }
    pending_t *p = pending_new(c, uid);
    if (n->dependents.n == 0) {
        remove_finalizer(g, p, n, ORPHAN_FINALIZER);
    } else {
        size_t it = 0;
        const char *k;
        void *v;
        while (ek_map_next(&n->dependents, &it, &k, &v)) {
            gnode_t *d = v;
            if (d->obj && ref_to(d->obj, uid)) {
                json_t *uids = json_pack("[s]", uid);
                drop_refs(g, p, d, uids);
                json_decref(uids);
            }
        }
        /* The dependents' updates bring us back; this is only the safety net. */
        p->result = ORPHAN_RECHECK_MS;
    }
    pending_arm(p);
}

/* ---- the periodic pass ---- */

static void sync_resync(ctrl_t *c, const char *key, void *data)
{
    gc_t *g = data;
    ek_map_free(&g->seen); /* owners of unwatched kinds may have gone meanwhile */
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&g->nodes, &it, &k, &v)) {
        gnode_t *n = v;
        if (!n->obj) {
            continue;
        }
        size_t i;
        json_t *ref;
        json_array_foreach (refs_of(n->obj), i, ref) {
            gnode_t *o = node_get(g, ek_json_str(ref, "uid", NULL));
            if (!o || !o->obj) {
                ctrl_enqueue(g->del, k);
            }
        }
        if (deleting_dependents(n->obj)) {
            ctrl_enqueue(g->del, k);
        }
        if (orphaning(n->obj)) {
            ctrl_enqueue(g->orphan, k);
        }
    }
    ctrl_done(c, key, (int)EK_MIN(g->m->opts.gc_interval_ms, (int64_t)1 << 30));
}

static void gc_free(void *state)
{
    gc_t *g = state;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&g->nodes, &it, &k, &v)) {
        gnode_t *n = v;
        json_decref(n->obj);
        ek_map_free(&n->dependents);
        free(n->uid);
        free(n);
    }
    ek_map_free(&g->nodes);
    ek_map_free(&g->absent);
    ek_map_free(&g->seen);
    free(g);
}

void gc_controller_start(ctrl_manager_t *m)
{
    gc_t *g = ek_new(gc_t);
    g->m = m;
    g->del = ctrl_new(m, "garbagecollector", sync_delete, g, 20);
    g->orphan = ctrl_new(m, "garbagecollector-orphan", sync_orphan, g, 5);
    g->resync = ctrl_new(m, "garbagecollector-resync", sync_resync, g, 1);
    static const ek_informer_handlers_t h = { on_add, on_update, on_delete, NULL };
    for (size_t i = 0; i < EK_ARRAY_SIZE(watched); i++) {
        g->w[i].g = g;
        g->w[i].res = res_of(watched[i][0], "v1", watched[i][1]);
        ek_informer_add_handlers(mgr_informer(m, watched[i][0], "v1", watched[i][1]), &h, &g->w[i]);
    }
    /* The first pass runs once the informers have synced, then every gc_interval. */
    ctrl_enqueue_after(g->resync, "all", (uint64_t)m->opts.gc_interval_ms);
    mgr_own(m, g, gc_free);
}
