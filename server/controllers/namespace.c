/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The namespace controller, as Kubernetes' namespace deleter: a namespace being deleted
 * (deletionTimestamp set, phase Terminating, spec.finalizers still holding "kubernetes") has
 * every namespaced resource of the resource table deleted as a collection (background
 * propagation, so the garbage collector finishes owned objects), then listed to see what
 * remains. While something remains the namespace's status conditions say what
 * (NamespaceContentRemaining, NamespaceFinalizersRemaining, NamespaceDeletionContentFailure)
 * and the pass repeats; once nothing remains the "kubernetes" finalizer is removed through the
 * finalize subresource, and the API server deletes the namespace.
 */
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

#define FINALIZER       "kubernetes"
#define FAST_PASSES     30
#define FAST_REQUEUE_MS 1000
#define SLOW_REQUEUE_MS 10000

typedef struct nsc {
    ctrl_t *c;
    ek_informer_t *ns;
    const ek_resource_t *ns_res;
    ek_map_t passes; /* namespace → passes so far (as a pointer-sized count) */
} nsc_t;

/* One deletion pass over a namespace's content. */
typedef struct nspass {
    nsc_t *s;
    ctrl_t *c;
    char *key;
    json_t *ns;
    int outstanding;
    json_t *remaining;  /* "plural.group" → instances left */
    json_t *finalizers; /* finalizer → instances carrying it */
    json_t *failures;   /* error messages */
} nspass_t;

/* One resource of the pass: delete the collection, then list what is left. */
struct nsres {
    nspass_t *pass;
    char *group, *version, *plural;
};

/* ---- conditions (kube's namespaceConditionUpdater) ---- */

static const char *const cond_types[] = {
    "NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining"
};
static const char *const ok_reasons[] = { "ResourcesDiscovered", "ParsedGroupVersions",
                                          "ContentDeleted", "ContentRemoved",
                                          "ContentHasNoFinalizers" };
static const char *const ok_messages[] = {
    "All resources successfully discovered", "All legacy kube types successfully parsed",
    "All content successfully deleted, may be waiting on finalization",
    "All content successfully removed", "All content-preserving finalizers finished"
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a <verb> 1 resource instances, b <verb> 2 ..." from an object of counts, sorted. Caller
 * frees. */
static char *join_counts(const json_t *counts, const char *verb)
{
    size_t n = json_object_size(counts), k = 0;
    char **parts = ek_xcalloc(n + 1, sizeof(char *));
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)counts, key, v) {
        parts[k++] = ek_xasprintf("%s %s %lld resource instances", key, verb,
                                  (long long)json_integer_value(v));
    }
    qsort(parts, k, sizeof(char *), cmp_str);
    ek_buf_t b = EK_BUF_INIT;
    for (size_t i = 0; i < k; i++) {
        ek_buf_printf(&b, "%s%s", i ? ", " : "", parts[i]);
        free(parts[i]);
    }
    free(parts);
    return ek_buf_steal(&b, NULL);
}

bool ns_deletion_conditions(json_t *conds, const json_t *remaining, const json_t *finalizers,
                            const json_t *failures, const char *now)
{
    bool changed = false;
    for (size_t i = 0; i < EK_ARRAY_SIZE(cond_types); i++) {
        ek_autofree char *msg = NULL;
        const char *reason = NULL;
        if (i == 2 && json_array_size(failures) > 0) {
            size_t n = json_array_size(failures);
            const char **v = ek_xcalloc(n, sizeof(char *));
            for (size_t k = 0; k < n; k++) {
                v[k] = json_string_value(json_array_get(failures, k));
            }
            qsort(v, n, sizeof(char *), cmp_str);
            ek_buf_t b = EK_BUF_INIT;
            for (size_t k = 0; k < n; k++) {
                ek_buf_printf(&b, "%s%s", k ? ", " : "", v[k] ? v[k] : "");
            }
            free(v);
            ek_autofree char *all = ek_buf_steal(&b, NULL);
            msg = ek_xasprintf("Failed to delete all resource types, %zu remaining: %s", n, all);
            reason = "ContentDeletionFailed";
        } else if (i == 3 && json_object_size(remaining) > 0) {
            ek_autofree char *list = join_counts(remaining, "has");
            msg = ek_xasprintf("Some resources are remaining: %s", list);
            reason = "SomeResourcesRemain";
        } else if (i == 4 && json_object_size(finalizers) > 0) {
            ek_autofree char *list = join_counts(finalizers, "in");
            msg = ek_xasprintf("Some content in the namespace has finalizers remaining: %s", list);
            reason = "SomeFinalizersRemain";
        }
        changed |= set_condition(conds, cond_types[i], reason ? "True" : "False",
                                 reason ? reason : ok_reasons[i], msg ? msg : ok_messages[i], now);
    }
    return changed;
}

/* ---- one pass ---- */

static void pass_free(nspass_t *ps)
{
    free(ps->key);
    json_decref(ps->ns);
    json_decref(ps->remaining);
    json_decref(ps->finalizers);
    json_decref(ps->failures);
    free(ps);
}

static uintptr_t passes_bump(nsc_t *s, const char *name)
{
    uintptr_t n = (uintptr_t)ek_map_get(&s->passes, name) + 1;
    ek_map_put(&s->passes, name, (void *)n);
    return n;
}

static void on_final_call(int status, json_t *body, const ek_error_t *err, void *data)
{
    pending_call_done(status, body, err, data);
}

/* Everything listed: finalize an empty namespace, else record why it is not empty yet. */
static void pass_finish(nspass_t *ps)
{
    nsc_t *s = ps->s;
    ek_api_client_t *client = ctrl_manager(ps->c)->client;
    bool failed = json_array_size(ps->failures) > 0;
    bool left = json_object_size(ps->remaining) > 0;
    pending_t *p = pending_new(ps->c, ps->key);
    if (!failed && !left) {
        json_t *obj = json_deep_copy(ps->ns);
        json_t *fins = json_array();
        size_t i;
        json_t *f;
        json_array_foreach (ek_json_path(ps->ns, "spec", "finalizers", NULL), i, f) {
            if (!ek_streq(json_string_value(f), FINALIZER)) {
                json_array_append(fins, f);
            }
        }
        json_object_set_new(ek_json_obj_ensure(obj, "spec"), "finalizers", fins);
        json_object_del(ek_json_obj_ensure(obj, "metadata"), "resourceVersion");
        pending_add(p);
        ek_api_update(client, s->ns_res, NULL, obj, EK_SUB_FINALIZE, on_final_call, p);
        json_decref(obj);
        ek_map_del(&s->passes, ps->key);
    } else {
        json_t *obj = json_deep_copy(ps->ns);
        json_t *st = ek_json_obj_ensure(obj, "status");
        json_t *conds = json_object_get(st, "conditions");
        if (!json_is_array(conds)) {
            conds = json_array();
            json_object_set_new(st, "conditions", conds);
        }
        char now[21];
        ek_time_rfc3339(time(NULL), now);
        if (ns_deletion_conditions(conds, ps->remaining, ps->finalizers, ps->failures, now)) {
            json_object_del(ek_json_obj_ensure(obj, "metadata"), "resourceVersion");
            pending_add(p);
            ek_api_update(client, s->ns_res, NULL, obj, EK_SUB_STATUS, on_final_call, p);
        }
        json_decref(obj);
        uintptr_t n = passes_bump(s, ps->key);
        p->result = failed ? SYNC_RETRY : (n < FAST_PASSES ? FAST_REQUEUE_MS : SLOW_REQUEUE_MS);
    }
    pass_free(ps);
    pending_arm(p);
}

static void pass_release(nspass_t *ps)
{
    if (--ps->outstanding == 0) {
        pass_finish(ps);
    }
}

static void nsres_free(struct nsres *r)
{
    free(r->group);
    free(r->version);
    free(r->plural);
    free(r);
}

static void count_remaining(nspass_t *ps, const char *what, const json_t *items)
{
    json_object_set_new(ps->remaining, what, json_integer((json_int_t)json_array_size(items)));
    size_t i;
    json_t *item;
    json_array_foreach (items, i, item) {
        size_t k;
        json_t *f;
        json_array_foreach (ek_json_path(item, "metadata", "finalizers", NULL), k, f) {
            const char *name = json_string_value(f);
            if (name) {
                json_t *n = json_object_get(ps->finalizers, name);
                json_object_set_new(ps->finalizers, name,
                                    json_integer(n ? json_integer_value(n) + 1 : 1));
            }
        }
    }
}

static void on_listed(int status, json_t *body, const ek_error_t *err, void *data)
{
    struct nsres *r = data;
    nspass_t *ps = r->pass;
    ek_autofree char *what = ek_xasprintf("%s.%s", r->plural, r->group);
    if (err && status != 404 && status != 405) {
        json_array_append_new(ps->failures, json_sprintf("%s: %s", what, ek_error_msg(err)));
    } else if (!err && json_array_size(json_object_get(body, "items")) > 0) {
        count_remaining(ps, what, json_object_get(body, "items"));
    }
    nsres_free(r);
    pass_release(ps);
}

static void on_collection_deleted(int status, json_t *body, const ek_error_t *err, void *data)
{
    struct nsres *r = data;
    nspass_t *ps = r->pass;
    EK_UNUSED(body);
    const ek_resource_t *res = ek_resource_find(r->group, r->version, r->plural);
    if (ctrl_manager(ps->c)->stopping || !res || status == 404 || status == 405) {
        nsres_free(r); /* gone from the table meanwhile, or not deletable */
        pass_release(ps);
        return;
    }
    if (err) {
        json_array_append_new(ps->failures,
                              json_sprintf("%s.%s: %s", r->plural, r->group, ek_error_msg(err)));
    }
    ek_api_list(ctrl_manager(ps->c)->client, res, ps->key, NULL, NULL, on_listed, r);
}

/* Namespaced kinds stored in their own right (not views of another resource's storage). */
static bool deletable(const ek_resource_t *res)
{
    unsigned need = EK_VERB_DELETECOLLECTION | EK_VERB_LIST;
    return res->namespaced && !(res->flags & EK_RES_VIRTUAL) && !res->storage_plural &&
           (res->verbs & need) == need;
}

static void start_pass(nsc_t *s, ctrl_t *c, const char *key, json_t *ns)
{
    nspass_t *ps = ek_new(nspass_t);
    ps->s = s;
    ps->c = c;
    ps->key = ek_xstrdup(key);
    ps->ns = json_incref(ns);
    ps->remaining = json_object();
    ps->finalizers = json_object();
    ps->failures = json_array();
    ps->outstanding = 1;
    json_t *opts = json_pack("{s:s,s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1",
                             "propagationPolicy", "Background");
    for (size_t i = 0; i < ek_resource_count(); i++) {
        const ek_resource_t *res = ek_resource_at(i);
        if (!deletable(res)) {
            continue;
        }
        struct nsres *r = ek_new(struct nsres);
        r->pass = ps;
        r->group = ek_xstrdup(res->group);
        r->version = ek_xstrdup(res->version);
        r->plural = ek_xstrdup(res->plural);
        ps->outstanding++;
        ek_api_delete(ctrl_manager(c)->client, res, key, NULL, opts, on_collection_deleted, r);
    }
    json_decref(opts);
    pass_release(ps);
}

static bool has_finalizer(const json_t *ns)
{
    size_t i;
    json_t *f;
    json_array_foreach (ek_json_path(ns, "spec", "finalizers", NULL), i, f) {
        if (ek_streq(json_string_value(f), FINALIZER)) {
            return true;
        }
    }
    return false;
}

static void sync_ns(ctrl_t *c, const char *key, void *data)
{
    nsc_t *s = data;
    json_t *ns = ek_informer_get(s->ns, NULL, key);
    if (!ns || !ek_json_str(ns, "metadata", "deletionTimestamp", NULL) || !has_finalizer(ns)) {
        ek_map_del(&s->passes, key);
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    start_pass(s, c, key, ns);
}

static void on_ns_add(json_t *ns, void *data)
{
    ctrl_enqueue_obj(((nsc_t *)data)->c, ns);
}

static void on_ns_update(json_t *old, json_t *ns, void *data)
{
    nsc_t *s = data;
    /* Only the start of a deletion matters here; later passes requeue themselves. */
    if (ek_json_str(ns, "metadata", "deletionTimestamp", NULL) &&
        !ek_json_str(old, "metadata", "deletionTimestamp", NULL)) {
        ctrl_enqueue_obj(s->c, ns);
    }
}

static void on_ns_delete(json_t *ns, void *data)
{
    nsc_t *s = data;
    ek_map_del(&s->passes, ek_json_str(ns, "metadata", "name", NULL));
}

static void nsc_free(void *state)
{
    nsc_t *s = state;
    ek_map_free(&s->passes);
    free(s);
}

void namespace_controller_start(ctrl_manager_t *m)
{
    nsc_t *s = ek_new(nsc_t);
    s->ns_res = res_of("", "v1", "namespaces");
    s->ns = mgr_informer(m, "", "v1", "namespaces");
    s->c = ctrl_new(m, "namespace", sync_ns, s, 4);
    static const ek_informer_handlers_t h = { on_ns_add, on_ns_update, on_ns_delete, NULL };
    ek_informer_add_handlers(s->ns, &h, s);
    mgr_own(m, s, nsc_free);
}
