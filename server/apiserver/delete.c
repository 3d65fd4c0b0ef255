/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DELETE of one object and of a collection. Deletion is immediate unless something must
 * happen first: finalizers (the object gets a deletionTimestamp and stays until they are
 * removed), foreground or orphan propagation (which add the foregroundDeletion / orphan
 * finalizers for the garbage collector), or graceful pod termination (deletionTimestamp and
 * grace period; the kubelet removes the pod once its containers are gone).
 */
#include <stdio.h>
#include <time.h>

#include "server/apiserver/apiserver-internal.h"

typedef struct delete_opts {
    long long grace;   /* -1 = unset */
    char *propagation; /* Orphan, Background, Foreground or NULL */
    char *pre_uid;
    char *pre_rv;
    bool dry_run;
} delete_opts_t;

static void opts_clear(delete_opts_t *o)
{
    free(o->propagation);
    free(o->pre_uid);
    free(o->pre_rv);
}

static int parse_opts(apireq_t *r, delete_opts_t *o, ek_error_t **err)
{
    memset(o, 0, sizeof(*o));
    o->grace = r->p.grace_period;
    o->dry_run = r->p.dry_run;
    if (r->p.propagation_policy) {
        o->propagation = ek_xstrdup(r->p.propagation_policy);
    }
    if (r->body_len == 0) {
        return 0;
    }
    ek_auto(json_t) body = decode_body(r, NULL, err);
    if (!body) {
        return -1;
    }
    if (json_is_integer(json_object_get(body, "gracePeriodSeconds"))) {
        o->grace = json_integer_value(json_object_get(body, "gracePeriodSeconds"));
    }
    const char *prop = ek_json_str(body, "propagationPolicy", NULL);
    if (prop) {
        free(o->propagation);
        o->propagation = ek_xstrdup(prop);
    } else if (ek_json_bool(body, 0, "orphanDependents", NULL)) {
        free(o->propagation);
        o->propagation = ek_xstrdup("Orphan");
    }
    const char *uid = ek_json_str(body, "preconditions", "uid", NULL);
    const char *rv = ek_json_str(body, "preconditions", "resourceVersion", NULL);
    o->pre_uid = uid ? ek_xstrdup(uid) : NULL;
    o->pre_rv = rv ? ek_xstrdup(rv) : NULL;
    json_t *dr = json_object_get(body, "dryRun");
    if (json_array_size(dr) > 0) {
        o->dry_run = true;
    }
    if (o->propagation && strcmp(o->propagation, "Orphan") != 0 &&
        strcmp(o->propagation, "Background") != 0 && strcmp(o->propagation, "Foreground") != 0) {
        return ek_error_status(err, 422,
                               "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: "
                               "Unsupported value: \"%s\": supported values: \"Foreground\", "
                               "\"Background\", \"Orphan\"",
                               o->propagation);
    }
    return 0;
}

typedef struct del_ctx {
    apireq_t *r;
    bool collection_item;
    struct collection *coll;
} del_ctx_t;

struct collection {
    apireq_t *r;
    int pending;
    bool failed;
};

static void collection_done(struct collection *c)
{
    if (--c->pending > 0) {
        return;
    }
    apireq_t *r = c->r;
    free(c);
    send_success_status(r, r->rt.res, NULL, NULL);
}

static void on_deleted(int64_t rev, const ek_kv_entry_t *entry, const ek_error_t *err, void *data)
{
    del_ctx_t *d = data;
    apireq_t *r = d->r;
    EK_UNUSED(rev);
    if (d->coll) {
        collection_done(d->coll);
        free(d);
        return;
    }
    free(d);
    if (err && err->status == 404) {
        send_not_found(r, r->rt.res, r->rt.name);
        return;
    }
    if (err && err->status == 409) {
        char q[160];
        send_status(r, 409, "Conflict", r->rt.name, r->rt.res,
                    "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                    "please apply your changes to the latest version and try again",
                    resource_qualified(r->rt.res, q), r->rt.name);
        return;
    }
    if (err) {
        send_error(r, r->rt.res, r->rt.name, err);
        return;
    }
    answer_entry(r, 200, entry);
}

static bool has_finalizer(const json_t *obj, const char *f)
{
    size_t i;
    json_t *v;
    json_array_foreach (ek_json_path(obj, "metadata", "finalizers", NULL), i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), f) == 0) {
            return true;
        }
    }
    return false;
}

/* Pod grace: the request's, else the pod's terminationGracePeriodSeconds, else 30; zero
 * for pods that never ran on a node or have already finished. */
static long long pod_grace(const json_t *pod, long long requested)
{
    if (!ek_json_str(pod, "spec", "nodeName", NULL)) {
        return 0;
    }
    const char *phase = ek_json_str(pod, "status", "phase", NULL);
    if (phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)) {
        return 0;
    }
    if (requested >= 0) {
        return requested;
    }
    return ek_json_int(pod, 30, "spec", "terminationGracePeriodSeconds", NULL);
}

/* Starts the deletion of one stored object; the answer goes through on_deleted (or the
 * update path when the object must linger). */
static void delete_one(apireq_t *r, obj_t *o, const delete_opts_t *opts, del_ctx_t *d)
{
    const ek_resource_t *res = r->rt.res;
    const json_t *cur = o->json;
    const char *prop = opts->propagation;
    bool pending = ek_json_str(cur, "metadata", "deletionTimestamp", NULL) != NULL;
    long long grace = (res->flags & EK_RES_GRACEFUL) ? pod_grace(cur, opts->grace) : 0;
    bool has_finalizers = json_array_size(ek_json_path(cur, "metadata", "finalizers", NULL)) > 0;
    bool needs_fin =
        (prop && strcmp(prop, "Foreground") == 0 && !has_finalizer(cur, "foregroundDeletion")) ||
        (prop && strcmp(prop, "Orphan") == 0 && !has_finalizer(cur, "orphan"));
    bool is_ns = strcmp(res->plural, "namespaces") == 0 && !*res->group;
    if (grace == 0 && !has_finalizers && !needs_fin && !is_ns) {
        ek_autofree char *key =
            ek_resource_key(res, r->rt.ns, ek_json_str(cur, "metadata", "name", NULL));
        if (opts->dry_run) {
            if (d->coll) {
                collection_done(d->coll);
                free(d);
            } else {
                free(d);
                answer_object(r, 200, cur);
            }
            return;
        }
        ek_kv_delete(r->srv->kv, key, o->rev, on_deleted, d);
        return;
    }
    /* The object lingers: mark it and let finalizers, the kubelet or controllers finish. */
    json_t *obj = json_deep_copy(cur);
    json_t *md = ek_json_obj_ensure(obj, "metadata");
    char ts[21];
    time_t now = time(NULL);
    if (!pending) {
        ek_json_set_str(md, "deletionTimestamp", ek_time_rfc3339(now + grace, ts));
        json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(grace));
    } else if ((res->flags & EK_RES_GRACEFUL) && opts->grace >= 0 &&
               opts->grace < ek_json_int(cur, 0, "metadata", "deletionGracePeriodSeconds", NULL)) {
        /* A second delete may only shorten the grace period. */
        ek_json_set_str(md, "deletionTimestamp", ek_time_rfc3339(now + opts->grace, ts));
        json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(opts->grace));
    }
    if (needs_fin) {
        json_t *fins = json_object_get(md, "finalizers");
        if (!json_is_array(fins)) {
            fins = json_array();
            json_object_set_new(md, "finalizers", fins);
        }
        json_array_append_new(
            fins, json_string(strcmp(prop, "Orphan") == 0 ? "orphan" : "foregroundDeletion"));
    }
    if (is_ns) {
        ek_json_set_str(ek_json_obj_ensure(obj, "status"), "phase", "Terminating");
    }
    if (d->coll) {
        collection_done(d->coll);
        free(d);
        if (!opts->dry_run) {
            write_object_detached(r->srv, res, obj, o);
        }
        json_decref(obj);
        return;
    }
    free(d);
    if (opts->dry_run) {
        answer_object(r, 200, obj);
        json_decref(obj);
        return;
    }
    write_object(r, obj, o, true);
    json_decref(obj);
}

void handle_delete(apireq_t *r)
{
    const ek_resource_t *res = r->rt.res;
    ek_error_t *err = NULL;
    delete_opts_t opts;
    if (parse_opts(r, &opts, &err) < 0) {
        send_error(r, res, r->rt.name, err);
        ek_error_free(err);
        opts_clear(&opts);
        return;
    }
    obj_t *o = store_get(&r->srv->store, res, r->rt.ns, r->rt.name);
    if (!o) {
        send_not_found(r, res, r->rt.name);
        opts_clear(&opts);
        return;
    }
    if (admission_delete(r, o->json) < 0) {
        opts_clear(&opts);
        return;
    }
    const char *uid = ek_json_str(o->json, "metadata", "uid", NULL);
    if ((opts.pre_uid && (!uid || strcmp(opts.pre_uid, uid) != 0)) ||
        (opts.pre_rv && strtoll(opts.pre_rv, NULL, 10) != o->rev)) {
        char q[160];
        send_status(
            r, 409, "Conflict", r->rt.name, res,
            "Operation cannot be fulfilled on %s \"%s\": Precondition failed: %s in "
            "precondition: %s, %s in object meta: %s",
            resource_qualified(res, q), r->rt.name, opts.pre_uid ? "UID" : "ResourceVersion",
            opts.pre_uid ? opts.pre_uid : opts.pre_rv, opts.pre_uid ? "UID" : "ResourceVersion",
            opts.pre_uid ? (uid ? uid : "")
                         : ek_json_str(o->json, "metadata", "resourceVersion", NULL));
        opts_clear(&opts);
        return;
    }
    del_ctx_t *d = ek_new(del_ctx_t);
    d->r = r;
    delete_one(r, o, &opts, d);
    opts_clear(&opts);
}

void handle_delete_collection(apireq_t *r)
{
    const ek_resource_t *res = r->rt.res;
    ek_error_t *err = NULL;
    delete_opts_t opts;
    if (parse_opts(r, &opts, &err) < 0) {
        send_error(r, res, NULL, err);
        ek_error_free(err);
        opts_clear(&opts);
        return;
    }
    filter_t *f = filter_new(res, r->rt.ns, r->p.label_selector, r->p.field_selector, &err);
    if (!f) {
        send_error(r, res, NULL, err);
        ek_error_free(err);
        opts_clear(&opts);
        return;
    }
    size_t n;
    ek_autofree obj_t **all = store_list(&r->srv->store, res, r->rt.ns, &n);
    struct collection *c = ek_new(struct collection);
    c->r = r;
    c->pending = 1;
    for (size_t i = 0; i < n; i++) {
        if (!filter_match(f, all[i]->json)) {
            continue;
        }
        c->pending++;
        del_ctx_t *d = ek_new(del_ctx_t);
        d->r = r;
        d->coll = c;
        delete_one(r, all[i], &opts, d);
    }
    filter_free(f);
    opts_clear(&opts);
    collection_done(c);
}
