/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Create, update (PUT) and patch. Each builds the new object privately (decode, field
 * validation, system metadata, defaults, validation, the kind's strategy), then writes it to
 * the store with the expected revision and answers once the write is durable — from the
 * cache, which the store's watch has updated before the write's own callback runs.
 */
#include <stdio.h>
#include <time.h>

#include "server/apiserver/apiserver-internal.h"

#define PATCH_RETRIES 5

static const char *obj_name(const json_t *o)
{
    return ek_json_str(o, "metadata", "name", NULL);
}

static void now_rfc3339(char buf[static 21])
{
    ek_time_rfc3339(time(NULL), buf);
}

/* ---- finishing a write ---- */

typedef struct write_ctx {
    apireq_t *r;
    ek_apiserver_t *srv; /* outlives r, which the answer frees */
    bool system;
    bool applied; /* server-side apply: managedFields already computed */
    int ok_status;
    json_t *patch; /* PATCH: the decoded patch, for retries on conflict */
    int attempts;
    char *key;              /* of the submitted write the cache expects, or NULL */
    const json_t *expected; /* its object (identity only) */
} write_ctx_t;

static write_ctx_t *ctx_new(apireq_t *r, int ok_status)
{
    write_ctx_t *c = ek_new(write_ctx_t);
    c->r = r;
    c->srv = r->srv;
    c->ok_status = ok_status;
    return c;
}

static void forget_expected(write_ctx_t *c)
{
    if (c->key) {
        store_forget(&c->srv->store, c->key, c->expected);
        free(c->key);
        c->key = NULL;
        c->expected = NULL;
    }
}

static void ctx_free(write_ctx_t *c)
{
    forget_expected(c);
    json_decref(c->patch);
    free(c);
}

void answer_object(apireq_t *r, int status, const json_t *obj)
{
    switch (r->answer) {
    case ANSWER_SCALE: {
        ek_auto(json_t) s = scale_view(r->rt.res, obj);
        apireq_respond_json(r, 200, s);
        return;
    }
    case ANSWER_STATUS_CREATED: {
        ek_auto(json_t) st = json_pack("{s:s,s:s,s:{},s:s,s:i}", "kind", "Status", "apiVersion",
                                       "v1", "metadata", "status", "Success", "code", 201);
        apireq_respond_json(r, 201, st);
        return;
    }
    case ANSWER_OBJECT:
        break;
    }
    apireq_respond_json(r, status, obj);
}

void answer_entry(apireq_t *r, int status, const ek_kv_entry_t *e)
{
    /* The store's watch published this revision to the cache before the write's callback:
     * answer with that object and its JSON text (serialised once, shared with watchers and
     * later reads) rather than parsing and serialising the record again. A deleted record is
     * no longer cached and is parsed. */
    obj_t *o = obj_ref(store_find_entry(&r->srv->store, e));
    if (!o) {
        o = obj_from_entry(e);
    }
    if (!o) {
        send_status(r, 500, "InternalError", NULL, NULL,
                    "Internal error occurred: stored object "
                    "does not decode");
        return;
    }
    if (r->answer != ANSWER_OBJECT) {
        answer_object(r, status, o->json);
        obj_unref(o);
        return;
    }
    size_t len;
    const char *bytes = obj_bytes(o, &len);
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_append(&b, bytes, len);
    obj_unref(o);
    apireq_respond(r, status, "application/json", &b);
}

static void send_conflict(apireq_t *r, const char *name)
{
    char q[160];
    send_status(r, 409, "Conflict", name, r->rt.res,
                "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                "please apply your changes to the latest version and try again",
                resource_qualified(r->rt.res, q), name);
}

static void retry_patch(write_ctx_t *c);

static void on_written(int64_t rev, const ek_kv_entry_t *entry, const ek_error_t *err, void *data)
{
    write_ctx_t *c = data;
    apireq_t *r = c->r;
    EK_UNUSED(rev);
    if (err) {
        if (err->status == 409 && err->errnum == EEXIST) {
            char q[160];
            send_status(r, 409, "AlreadyExists", r->rt.name ? r->rt.name : NULL, r->rt.res,
                        "%s \"%s\" already exists", resource_qualified(r->rt.res, q),
                        r->rt.name ? r->rt.name : "");
        } else if (err->status == 409 && c->patch && ++c->attempts < PATCH_RETRIES) {
            forget_expected(c);
            retry_patch(c);
            return;
        } else if (err->status == 409) {
            send_conflict(r, r->rt.name ? r->rt.name : "");
        } else if (err->status == 404) {
            send_not_found(r, r->rt.res, r->rt.name ? r->rt.name : "");
        } else {
            send_error(r, r->rt.res, r->rt.name, err);
        }
    } else {
        answer_entry(r, c->ok_status, entry);
    }
    ctx_free(c);
}

static char *serialize_for_store(json_t *obj)
{
    /* The revision is the store's business: it is never part of the stored bytes. */
    json_object_del(ek_json_obj_ensure(obj, "metadata"), "resourceVersion");
    return ek_json_dumps(obj);
}

/*
 * The bytes to store for obj (caller frees). The cache is told to expect them, so that it
 * publishes obj itself instead of parsing the record back: obj must not change any more.
 */
static char *expect_write(write_ctx_t *c, const char *key, json_t *obj, size_t *len)
{
    char *bytes = serialize_for_store(obj);
    *len = strlen(bytes);
    forget_expected(c);
    c->key = ek_xstrdup(key);
    c->expected = obj;
    store_expect(&c->srv->store, key, obj, bytes, *len);
    return bytes;
}

static void respond_object(apireq_t *r, int status, json_t *obj)
{
    answer_object(r, status, obj);
}

/* ---- managed fields ---- */

/* The fieldManager parameter, or what kube-apiserver takes from the User-Agent. */
static const char *field_manager(apireq_t *r, char buf[static 129])
{
    if (r->p.field_manager && *r->p.field_manager) {
        return r->p.field_manager;
    }
    return ek_ssa_manager_from_user_agent(apireq_header(r, "User-Agent"), buf);
}

typedef struct ssa_req {
    ek_ssa_op_t op;
    ek_ssa_schema_t sc;
    char manager[129];
    char api_version[128];
    char now[21];
} ssa_req_t;

static void ssa_req_init(apireq_t *r, ssa_req_t *q)
{
    const ek_resource_t *res = r->rt.res;
    q->sc = ek_ssa_schema_for(res);
    q->op.manager = field_manager(r, q->manager);
    q->op.api_version = ek_resource_api_version(res, q->api_version);
    q->op.subresource = r->rt.sub == EK_SUB_NONE ? "" : ek_subresource_name(r->rt.sub);
    if (r->answer == ANSWER_SCALE) {
        /* The scale handler writes the workload itself; the entry still says "scale". */
        q->op.subresource = "scale";
    }
    now_rfc3339(q->now);
    q->op.now = q->now;
    if (r->rt.sub == EK_SUB_STATUS) {
        q->op.track = EK_SSA_TRACK_STATUS_ONLY;
    } else {
        q->op.track = (res->flags & EK_RES_STATUS) ? EK_SSA_TRACK_NO_STATUS : EK_SSA_TRACK_ALL;
    }
    q->op.force = r->p.force;
}

/*
 * An Update operation's managedFields, set on obj. kube-apiserver tracks the object as
 * decoded, defaults included, before the registry's strategy fills in what it allocates
 * (cluster IPs, job selectors): so the fields are computed on a defaulted copy of obj as it
 * is before the strategy runs.
 */
static void track_fields(apireq_t *r, json_t *obj, const json_t *old)
{
    const ek_resource_t *res = r->rt.res;
    ssa_req_t q = { 0 };
    ssa_req_init(r, &q);
    ek_auto(json_t) view = json_deep_copy(obj);
    if (r->rt.sub == EK_SUB_NONE && (res->flags & EK_RES_CUSTOM)) {
        const json_t *schema = ek_json_path(res->custom, "schema", NULL);
        if (schema) {
            ek_jsonschema_default(schema, view);
        }
    } else if (r->rt.sub == EK_SUB_NONE) {
        ek_defaults_apply(res, view);
    }
    ek_ssa_update(&q.sc, old, view, &q.op);
    json_t *mf = ek_json_path(view, "metadata", "managedFields", NULL);
    json_t *md = ek_json_obj_ensure(obj, "metadata");
    if (mf) {
        json_object_set(md, "managedFields", mf);
    } else {
        json_object_del(md, "managedFields");
    }
}

/* PatchOptions validation of an apply: a field manager is required. */
static int check_apply_options(apireq_t *r)
{
    const char *fm = r->p.field_manager;
    const char *detail = NULL, *reason = NULL;
    if (!fm || !*fm) {
        reason = "FieldValueRequired";
        detail = "Required value: is required for apply patch";
    } else if (strlen(fm) > 128) {
        reason = "FieldValueTooLong";
        detail = "Too long: may not be more than 128 bytes";
    }
    if (!detail) {
        return 0;
    }
    ek_autofree char *msg =
        ek_xasprintf("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: %s", detail);
    ek_auto(json_t) st = json_pack(
        "{s:s,s:s,s:{},s:s,s:s,s:s,s:{s:s,s:s,s:s,s:[{s:s,s:s,s:s}]},s:i}", "kind", "Status",
        "apiVersion", "v1", "metadata", "status", "Failure", "message", msg, "reason", "Invalid",
        "details", "name", "", "group", "meta.k8s.io", "kind", "PatchOptions", "causes", "reason",
        reason, "message", detail, "field", "fieldManager", "code", 422);
    apireq_respond_json(r, 422, st);
    return -1;
}

/* An apply conflict's Status, as NewApplyConflict builds it (causes taken). */
static void send_apply_conflict(apireq_t *r, const char *msg, json_t *causes)
{
    ek_auto(json_t) st =
        json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:{s:o},s:i}", "kind", "Status", "apiVersion", "v1",
                  "metadata", "status", "Failure", "message", msg, "reason", "Conflict", "details",
                  "causes", causes ? causes : json_array(), "code", 409);
    apireq_respond_json(r, 409, st);
}

/* Server-side apply of config over live (NULL: a create); on failure the answer is sent. */
static json_t *apply_config(apireq_t *r, const json_t *live, const json_t *config)
{
    ssa_req_t q = { 0 };
    ssa_req_init(r, &q);
    ek_error_t *err = NULL;
    json_t *causes = NULL;
    json_t *obj = ek_ssa_apply(&q.sc, live, config, &q.op, &causes, &err);
    if (!obj && err && err->status == 409) {
        send_apply_conflict(r, ek_error_msg(err), causes);
        causes = NULL;
    } else if (!obj) {
        send_error(r, r->rt.res, r->rt.name, err);
    }
    json_decref(causes);
    ek_error_free(err);
    return obj;
}

/* ---- shared preparation ---- */

/* Defaults + validation; on failure the response is sent and -1 returned. */
static int admit(apireq_t *r, json_t *obj, const json_t *old)
{
    const ek_resource_t *res = r->rt.res;
    if (res->flags & EK_RES_CUSTOM) {
        return custom_admit(r, obj);
    }
    ek_defaults_apply(res, obj);
    if (!strcmp(res->group, "apiextensions.k8s.io") && crd_admit(r, obj) < 0) {
        return -1;
    }
    ek_field_errors_t errs = { 0 };
    ek_validate(res, obj, old, &errs);
    if (errs.n) {
        send_invalid(r, res, obj_name(obj), &errs);
        ek_field_errors_free(&errs);
        return -1;
    }
    return 0;
}

/* The namespace exists and is not being deleted (NamespaceLifecycle admission). */
static int check_namespace(apireq_t *r, const char *name)
{
    const ek_resource_t *nsres = ek_resource_find("", "v1", "namespaces");
    obj_t *ns = store_get(&r->srv->store, nsres, NULL, r->rt.ns);
    if (!ns) {
        send_not_found(r, nsres, r->rt.ns);
        return -1;
    }
    const char *phase = ek_json_str(ns->json, "status", "phase", NULL);
    if (phase && strcmp(phase, "Terminating") == 0) {
        send_status(r, 403, "Forbidden", name, r->rt.res,
                    "%s \"%s\" is forbidden: unable to create new content in namespace %s "
                    "because it is being terminated",
                    r->rt.res->plural, name ? name : "", r->rt.ns);
        return -1;
    }
    return 0;
}

/* ---- create ---- */

static int prepare_create_meta(apireq_t *r, json_t *obj, ek_error_t **err)
{
    const ek_resource_t *res = r->rt.res;
    json_t *md = ek_json_obj_ensure(obj, "metadata");
    const char *rv = ek_json_str(md, "resourceVersion", NULL);
    if (rv && *rv) {
        return ek_error_status(err, 500,
                               "resourceVersion should not be set on objects to be created");
    }
    if (res->namespaced) {
        const char *ns = ek_json_str(md, "namespace", NULL);
        if (ns && *ns && strcmp(ns, r->rt.ns) != 0) {
            return ek_error_status(err, 400,
                                   "the namespace of the provided object does not "
                                   "match the namespace sent on the request");
        }
        ek_json_set_str(md, "namespace", r->rt.ns);
    } else {
        json_object_del(md, "namespace");
    }
    const char *name = ek_json_str(md, "name", NULL);
    const char *gen = ek_json_str(md, "generateName", NULL);
    if ((!name || !*name) && gen && *gen) {
        char sfx[6];
        generate_name_suffix(sfx);
        ek_autofree char *n = ek_xasprintf("%s%s", gen, sfx);
        ek_json_set_str(md, "name", n);
    }
    char uid[37], ts[21];
    new_uid(uid);
    now_rfc3339(ts);
    ek_json_set_str(md, "uid", uid);
    ek_json_set_str(md, "creationTimestamp", ts);
    json_object_del(md, "deletionTimestamp");
    json_object_del(md, "deletionGracePeriodSeconds");
    json_object_del(md, "selfLink");
    if (res->flags & EK_RES_GENERATION) {
        json_object_set_new(md, "generation", json_integer(1));
    } else {
        json_object_del(md, "generation");
    }
    return 0;
}

void handle_create(apireq_t *r)
{
    const ek_resource_t *res = r->rt.res;
    if (res->flags & EK_RES_VIRTUAL) {
        handle_virtual(r);
        return;
    }
    if (r->rt.name) {
        send_status(r, 405, "MethodNotAllowed", NULL, NULL,
                    "the server does not allow this method on the requested resource");
        return;
    }
    ek_error_t *err = NULL;
    ek_auto(json_t) obj = decode_body(r, NULL, &err);
    if (!obj || check_type_meta(r, obj, &err) < 0 || check_fields(r, obj, &err) < 0 ||
        prepare_create_meta(r, obj, &err) < 0) {
        send_error(r, res, NULL, err);
        ek_error_free(err);
        return;
    }
    if (res->namespaced && check_namespace(r, obj_name(obj)) < 0) {
        return;
    }
    track_fields(r, obj, NULL);
    admission_create(r, obj);
}

/* The rest of a create, once admission (noderestriction.c) let it through. */
void create_admitted(apireq_t *r, json_t *obj)
{
    const ek_resource_t *res = r->rt.res;
    const char *name = obj_name(obj);
    ek_error_t *err = NULL;
    if (strategy_prepare_create(r->srv, res, obj, &err) < 0) {
        send_error(r, res, name, err);
        ek_error_free(err);
        return;
    }
    if (admit(r, obj, NULL) < 0) {
        return;
    }
    if (r->p.dry_run) {
        respond_object(r, 201, obj);
        return;
    }
    free(r->rt.name);
    r->rt.name = ek_xstrdup(name);
    ek_autofree char *key = ek_resource_key(res, r->rt.ns, name);
    write_ctx_t *c = ctx_new(r, 201);
    size_t len;
    ek_autofree char *bytes = expect_write(c, key, obj, &len);
    ek_kv_create(r->srv->kv, key, bytes, len, res->ttl_s, 0, on_written, c);
}

/* ---- update ---- */

/* Builds the object an update stores from the client's version and the stored one. */
static int merge_update(apireq_t *r, json_t *obj, const json_t *old, ek_error_t **err)
{
    const ek_resource_t *res = r->rt.res;
    json_t *md = ek_json_obj_ensure(obj, "metadata");
    const json_t *omd = json_object_get(old, "metadata");
    const char *name = ek_json_str(md, "name", NULL);
    if (name && strcmp(name, r->rt.name) != 0) {
        return ek_error_status(err, 400,
                               "the name of the object (%s) does not match the name on the URL "
                               "(%s)",
                               name, r->rt.name);
    }
    if (res->namespaced) {
        const char *ns = ek_json_str(md, "namespace", NULL);
        if (ns && *ns && strcmp(ns, r->rt.ns) != 0) {
            return ek_error_status(err, 400,
                                   "the namespace of the provided object does not "
                                   "match the namespace sent on the request");
        }
    }
    if (r->rt.sub == EK_SUB_FINALIZE) {
        /* Namespace finalize: only spec.finalizers may change. */
        json_t *fins = ek_json_path(obj, "spec", "finalizers", NULL);
        json_t *merged = json_deep_copy(old);
        json_object_set_new(ek_json_obj_ensure(merged, "spec"), "finalizers",
                            fins ? json_incref(fins) : json_array());
        json_object_clear(obj);
        json_object_update(obj, merged);
        json_decref(merged);
        return 0;
    }
    if (r->rt.sub == EK_SUB_STATUS || r->rt.sub == EK_SUB_APPROVAL) {
        /* Status writes change the status and nothing else, except that apps/v1 workloads'
         * status strategies keep only spec and labels: their controllers write revision
         * annotations with the status (deployment.kubernetes.io/revision). */
        json_t *status = json_object_get(obj, "status");
        json_t *merged = json_deep_copy(old);
        json_object_set_new(merged, "status", status ? json_incref(status) : json_object());
        if (ek_streq(res->group, "apps") && r->rt.sub == EK_SUB_STATUS) {
            json_t *ann = json_object_get(md, "annotations");
            json_t *mmd = ek_json_obj_ensure(merged, "metadata");
            if (ann) {
                json_object_set(mmd, "annotations", ann);
            } else {
                json_object_del(mmd, "annotations");
            }
        }
        ek_autofree char *rv = ek_json_str(md, "resourceVersion", NULL)
                                   ? ek_xstrdup(ek_json_str(md, "resourceVersion", NULL))
                                   : NULL;
        json_object_clear(obj);
        json_object_update(obj, merged);
        json_decref(merged);
        md = ek_json_obj_ensure(obj, "metadata");
        if (rv && *rv) {
            ek_json_set_str(md, "resourceVersion", rv);
        }
        return 0;
    }
    /* An unconditional update is validated as an update of the current version. */
    if (!ek_json_str(md, "resourceVersion", NULL) || !*ek_json_str(md, "resourceVersion", NULL)) {
        json_t *orv = json_object_get(omd, "resourceVersion");
        if (orv) {
            json_object_set(md, "resourceVersion", orv);
        }
    }
    static const char *const keep[] = { "name",
                                        "namespace",
                                        "uid",
                                        "creationTimestamp",
                                        "deletionTimestamp",
                                        "deletionGracePeriodSeconds",
                                        "generation",
                                        "selfLink" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(keep); i++) {
        json_t *v = json_object_get(omd, keep[i]);
        if (v) {
            json_object_set(md, keep[i], v);
        } else {
            json_object_del(md, keep[i]);
        }
    }
    if ((res->flags & EK_RES_STATUS) && r->rt.sub == EK_SUB_NONE) {
        json_t *st = json_object_get(old, "status");
        if (st) {
            /* A copy: defaulting and the strategy edit obj, and old is published (immutable). */
            json_object_set_new(obj, "status", json_deep_copy(st));
        } else {
            json_object_del(obj, "status");
        }
    }
    if (res->flags & EK_RES_GENERATION) {
        bool changed;
        if (res->flags & EK_RES_CUSTOM) {
            ek_auto(json_t) a = json_deep_copy(obj);
            ek_auto(json_t) b = json_deep_copy(old);
            json_object_del(a, "metadata");
            json_object_del(a, "status");
            json_object_del(b, "metadata");
            json_object_del(b, "status");
            changed = !json_equal(a, b);
        } else {
            changed = !json_equal(json_object_get(obj, "spec"), json_object_get(old, "spec"));
        }
        long long g = ek_json_int(old, 1, "metadata", "generation", NULL);
        json_object_set_new(md, "generation", json_integer(changed ? g + 1 : g));
    }
    return 0;
}

/* Same object apart from the revision? Then nothing needs writing. */
static bool unchanged(const json_t *obj, const json_t *old)
{
    ek_auto(json_t) a = json_deep_copy(obj);
    ek_auto(json_t) b = json_deep_copy(old);
    json_object_del(ek_json_obj_ensure(a, "metadata"), "resourceVersion");
    json_object_del(ek_json_obj_ensure(b, "metadata"), "resourceVersion");
    return json_equal(a, b);
}

/* Being deleted and nothing left to wait for? (Pods are removed by their kubelet instead; a
 * namespace also waits for its spec.finalizers, which the namespace controller removes through
 * the finalize subresource once the namespace is empty.) */
static bool finalized(const ek_resource_t *res, const json_t *obj)
{
    if (!*res->group && strcmp(res->plural, "namespaces") == 0 &&
        json_array_size(ek_json_path(obj, "spec", "finalizers", NULL)) > 0) {
        return false;
    }
    return ek_json_str(obj, "metadata", "deletionTimestamp", NULL) &&
           json_array_size(ek_json_path(obj, "metadata", "finalizers", NULL)) == 0 &&
           !(res->flags & EK_RES_GRACEFUL);
}

/* Validates and writes obj over old (both private/borrowed); answers the request. */
static void write_update(apireq_t *r, json_t *obj, obj_t *old, write_ctx_t *c)
{
    bool system = c->system;
    const ek_resource_t *res = r->rt.res;
    ek_error_t *err = NULL;
    /* System writes (deletion marks, bindings) keep the stored managedFields as they are. */
    if (!system && !c->applied) {
        track_fields(r, obj, old->json);
    }
    if (strategy_prepare_update(r->srv, res, obj, old->json, &err) < 0) {
        send_error(r, res, r->rt.name, err);
        ek_error_free(err);
        ctx_free(c);
        return;
    }
    /* System writes (deletion marks, bindings) are not user updates: no update validation,
     * as kube-apiserver's delete and binding paths do not run it either. */
    if (!system && (admission_update(r, obj, old->json) < 0 || admit(r, obj, old->json) < 0)) {
        ctx_free(c);
        return;
    }
    if (r->p.dry_run || unchanged(obj, old->json)) {
        if (!r->p.dry_run) {
            ek_json_set_str(ek_json_obj_ensure(obj, "metadata"), "resourceVersion",
                            ek_json_str(old->json, "metadata", "resourceVersion", NULL));
        }
        respond_object(r, 200, obj);
        ctx_free(c);
        return;
    }
    ek_autofree char *key = ek_resource_key(res, r->rt.ns, r->rt.name);
    if (finalized(res, obj)) {
        /* The last finalizer of an object being deleted is gone: the update deletes it. */
        ek_kv_delete(r->srv->kv, key, old->rev, on_written, c);
        return;
    }
    int flags = strategy_is_heartbeat(res, obj, old->json) ? EK_KV_VOLATILE : 0;
    size_t len;
    ek_autofree char *bytes = expect_write(c, key, obj, &len);
    ek_kv_update(r->srv->kv, key, bytes, len, old->rev, res->ttl_s, flags, on_written, c);
}

/* Checks a client-given resourceVersion against the stored one. */
static bool rv_matches(const json_t *obj, const obj_t *old)
{
    const char *rv = ek_json_str(obj, "metadata", "resourceVersion", NULL);
    if (!rv || !*rv) {
        return true;
    }
    return strtoll(rv, NULL, 10) == old->rev;
}

void handle_update(apireq_t *r)
{
    const ek_resource_t *res = r->rt.res;
    if (r->rt.sub == EK_SUB_SCALE) {
        handle_scale_update(r, NULL);
        return;
    }
    ek_error_t *err = NULL;
    ek_auto(json_t) obj = decode_body(r, NULL, &err);
    if (!obj || check_type_meta(r, obj, &err) < 0 || check_fields(r, obj, &err) < 0) {
        send_error(r, res, r->rt.name, err);
        ek_error_free(err);
        return;
    }
    obj_t *old = store_get(&r->srv->store, res, r->rt.ns, r->rt.name);
    if (!old) {
        send_not_found(r, res, r->rt.name);
        return;
    }
    if (!rv_matches(obj, old)) {
        send_conflict(r, r->rt.name);
        return;
    }
    if (merge_update(r, obj, old->json, &err) < 0) {
        send_error(r, res, r->rt.name, err);
        ek_error_free(err);
        return;
    }
    write_ctx_t *c = ctx_new(r, 200);
    write_update(r, obj, old, c);
}

/* ---- patch ---- */

static json_t *apply_patch(apireq_t *r, const json_t *cur, const json_t *patch, ek_error_t **err)
{
    const char *ct = apireq_header(r, "Content-Type");
    const ek_resource_t *res = r->rt.res;
    if (!ct) {
        ek_error_status(err, 415,
                        "the body of the request was in an unknown format - accepted "
                        "media types include: application/json-patch+json, "
                        "application/merge-patch+json, application/apply-patch+yaml, "
                        "application/strategic-merge-patch+json");
        return NULL;
    }
    if (ek_has_prefix(ct, "application/json-patch+json")) {
        return ek_patch_json(cur, patch, err);
    }
    if (ek_has_prefix(ct, "application/merge-patch+json")) {
        return ek_patch_merge(cur, patch, err);
    }
    /* Apply reaches here only for subresource views (scale): merged like a strategic merge
     * patch, without field ownership. Objects are applied by apply_config. */
    if (ek_has_prefix(ct, "application/strategic-merge-patch+json") ||
        ek_has_prefix(ct, "application/apply-patch+yaml")) {
        if (res->flags & EK_RES_NO_SMP) {
            ek_error_status(err, 415,
                            "strategic merge patch is not supported for %s: use a JSON merge "
                            "patch (kubectl patch --type merge)",
                            res->kind);
            return NULL;
        }
        ek_smp_schema_t schema = ek_smp_schema_builtin(res->group, res->kind);
        return ek_patch_strategic(cur, patch, &schema, err);
    }
    ek_error_status(err, 415,
                    "the body of the request was in an unknown format - accepted media "
                    "types include: application/json-patch+json, "
                    "application/merge-patch+json, application/apply-patch+yaml, "
                    "application/strategic-merge-patch+json");
    return NULL;
}

static void run_patch(write_ctx_t *c)
{
    apireq_t *r = c->r;
    const ek_resource_t *res = r->rt.res;
    obj_t *old = store_get(&r->srv->store, res, r->rt.ns, r->rt.name);
    if (!old) {
        const char *ct = apireq_header(r, "Content-Type");
        if (ct && ek_has_prefix(ct, "application/apply-patch+yaml")) {
            ctx_free(c);
            apply_create(r);
            return;
        }
        send_not_found(r, res, r->rt.name);
        ctx_free(c);
        return;
    }
    ek_error_t *err = NULL;
    const char *ct = apireq_header(r, "Content-Type");
    json_t *patched;
    if (ct && ek_has_prefix(ct, "application/apply-patch+yaml")) {
        if (check_type_meta(r, c->patch, &err) < 0) {
            send_error(r, res, r->rt.name, err);
            ek_error_free(err);
            json_decref(c->patch);
            free(c);
            return;
        }
        if (!(patched = apply_config(r, old->json, c->patch))) {
            json_decref(c->patch);
            free(c);
            return;
        }
        c->applied = true;
    } else {
        patched = apply_patch(r, old->json, c->patch, &err);
    }
    if (!patched || check_fields(r, patched, &err) < 0) {
        send_error(r, res, r->rt.name, err);
        ek_error_free(err);
        json_decref(patched);
        ctx_free(c);
        return;
    }
    /* A resourceVersion the patch sets (any patch type) is a precondition. */
    const char *prv = ek_json_str(patched, "metadata", "resourceVersion", NULL);
    if (prv && *prv && strtoll(prv, NULL, 10) != old->rev) {
        send_conflict(r, r->rt.name);
        json_decref(patched);
        ctx_free(c);
        return;
    }
    json_object_del(ek_json_obj_ensure(patched, "metadata"), "resourceVersion");
    if (merge_update(r, patched, old->json, &err) < 0) {
        send_error(r, res, r->rt.name, err);
        ek_error_free(err);
        json_decref(patched);
        ctx_free(c);
        return;
    }
    write_update(r, patched, old, c);
    json_decref(patched);
}

static void retry_patch(write_ctx_t *c)
{
    run_patch(c);
}

void handle_patch(apireq_t *r)
{
    ek_error_t *err = NULL;
    const char *ct = apireq_header(r, "Content-Type");
    json_t *patch;
    if (ct && ek_has_prefix(ct, "application/apply-patch+yaml")) {
        if (check_apply_options(r) < 0) {
            return;
        }
        patch = ek_yaml_to_json(r->body, r->body_len, &err);
    } else {
        patch = ek_json_parse(r->body, r->body_len, &err);
    }
    if (!patch) {
        send_error(r, r->rt.res, r->rt.name, err);
        ek_error_free(err);
        return;
    }
    if (r->rt.sub == EK_SUB_SCALE) {
        /* Scale patches apply to the Scale view of the object. */
        handle_scale_update(r, patch);
        return;
    }
    write_ctx_t *c = ctx_new(r, 200);
    c->patch = patch;
    run_patch(c);
}

/* Server-side apply of an object that does not exist yet: create it from the applied config. */
void apply_create(apireq_t *r)
{
    ek_error_t *err = NULL;
    ek_auto(json_t) config = ek_yaml_to_json(r->body, r->body_len, &err);
    const ek_resource_t *res = r->rt.res;
    if (!config || check_type_meta(r, config, &err) < 0 || check_fields(r, config, &err) < 0) {
        send_error(r, res, r->rt.name, err);
        ek_error_free(err);
        return;
    }
    ek_auto(json_t) obj = apply_config(r, NULL, config);
    if (!obj) {
        return;
    }
    if (prepare_create_meta(r, obj, &err) < 0) {
        send_error(r, res, r->rt.name, err);
        ek_error_free(err);
        return;
    }
    if (strcmp(obj_name(obj) ? obj_name(obj) : "", r->rt.name) != 0) {
        send_status(r, 400, "BadRequest", r->rt.name, res,
                    "the name of the object (%s) does not match the name on the URL (%s)",
                    obj_name(obj) ? obj_name(obj) : "", r->rt.name);
        return;
    }
    if ((res->namespaced && check_namespace(r, r->rt.name) < 0)) {
        return;
    }
    admission_create(r, obj);
}

/* Writes a server-built object over old with the answer path of an update: validated like
 * one (scale), or as a system write without update validation (deletion marks, binding). */
void write_object(apireq_t *r, json_t *obj, obj_t *old, bool system)
{
    write_ctx_t *c = ctx_new(r, 200);
    c->system = system;
    write_update(r, obj, old, c);
}

/* Applies a patch (by the request's Content-Type) to a document: for subresource views. */
json_t *patch_document(apireq_t *r, const json_t *doc, const json_t *patch, ek_error_t **err)
{
    return apply_patch(r, doc, patch, err);
}

struct detached {
    char *key;
};

static void on_detached_written(int64_t rev, const ek_kv_entry_t *entry, const ek_error_t *err,
                                void *data)
{
    struct detached *d = data;
    EK_UNUSED(rev);
    EK_UNUSED(entry);
    if (err && err->status != 409 && err->status != 404) {
        EK_LOG(EK_WARN, "apiserver", "background write failed key=%s err=\"%s\"", d->key,
               ek_error_msg(err));
    }
    free(d->key);
    free(d);
}

void write_object_detached(ek_apiserver_t *s, const ek_resource_t *res, json_t *obj, obj_t *old)
{
    struct detached *d = ek_new(struct detached);
    d->key = ek_xstrdup(old->key);
    if (finalized(res, obj)) {
        ek_kv_delete(s->kv, d->key, old->rev, on_detached_written, d);
        return;
    }
    ek_autofree char *bytes = serialize_for_store(obj);
    ek_kv_update(s->kv, d->key, bytes, strlen(bytes), old->rev, res->ttl_s, 0, on_detached_written,
                 d);
}
