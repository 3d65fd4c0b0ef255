/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Subresources and kinds that are answered rather than stored: scale (autoscaling/v1 Scale
 * views of workloads), pods/binding (the scheduler's write), pods/eviction, and the
 * authentication/authorization reviews behind `kubectl auth can-i` and `kubectl auth whoami`.
 * Streams to a node (log, exec, attach, port-forward, proxy) are routed by node_proxy.c.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

/* ---- scale ---- */

json_t *scale_view(const ek_resource_t *res, const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    json_t *s = json_object();
    ek_json_set_str(s, "kind", "Scale");
    ek_json_set_str(s, "apiVersion", "autoscaling/v1");
    json_t *smd = json_object();
    static const char *const keep[] = { "name", "namespace", "uid", "resourceVersion",
                                        "creationTimestamp" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(keep); i++) {
        json_t *v = json_object_get(md, keep[i]);
        if (v) {
            json_object_set(smd, keep[i], v);
        }
    }
    json_object_set_new(s, "metadata", smd);
    json_object_set_new(
        s, "spec",
        json_pack("{s:I}", "replicas", (json_int_t)ek_json_int(obj, 1, "spec", "replicas", NULL)));
    json_t *st =
        json_pack("{s:I}", "replicas", (json_int_t)ek_json_int(obj, 0, "status", "replicas", NULL));
    ek_error_t *err = NULL;
    ek_auto(ek_labelsel_t) ls =
        ek_labelsel_from_json(ek_json_path(obj, "spec", "selector", NULL), &err);
    ek_error_free(err);
    ek_autofree char *sel = ls ? ek_labelsel_string(ls) : NULL;
    if (sel && *sel) {
        ek_json_set_str(st, "selector", sel);
    }
    json_object_set_new(s, "status", st);
    EK_UNUSED(res);
    return s;
}

void handle_scale_get(apireq_t *r, obj_t *o)
{
    ek_auto(json_t) s = scale_view(r->rt.res, o->json);
    apireq_respond_json(r, 200, s);
}

void handle_scale_update(apireq_t *r, json_t *patch)
{
    const ek_resource_t *res = r->rt.res;
    obj_t *old = store_get(&r->srv->store, res, r->rt.ns, r->rt.name);
    if (!old) {
        json_decref(patch);
        send_not_found(r, res, r->rt.name);
        return;
    }
    ek_error_t *err = NULL;
    json_t *scale;
    if (patch) {
        ek_auto(json_t) view = scale_view(res, old->json);
        scale = patch_document(r, view, patch, &err);
        json_decref(patch);
    } else {
        scale = decode_body(r, NULL, &err);
    }
    if (!scale) {
        send_error(r, res, r->rt.name, err);
        ek_error_free(err);
        return;
    }
    const char *rv = ek_json_str(scale, "metadata", "resourceVersion", NULL);
    if (!patch && rv && *rv && strtoll(rv, NULL, 10) != old->rev) {
        json_decref(scale);
        char q[160];
        send_status(r, 409, "Conflict", r->rt.name, res,
                    "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                    "please apply your changes to the latest version and try again",
                    resource_qualified(res, q), r->rt.name);
        return;
    }
    json_t *replicas = ek_json_path(scale, "spec", "replicas", NULL);
    if (!json_is_integer(replicas) || json_integer_value(replicas) < 0) {
        json_decref(scale);
        ek_field_errors_t errs = { 0 };
        ek_field_errors_add(&errs, "FieldValueInvalid", "spec.replicas", replicas,
                            "must be greater than or equal to 0");
        send_invalid(r, res, r->rt.name, &errs);
        ek_field_errors_free(&errs);
        return;
    }
    json_t *obj = json_deep_copy(old->json);
    json_object_set(ek_json_obj_ensure(obj, "spec"), "replicas", replicas);
    json_decref(scale);
    long long g = ek_json_int(old->json, 1, "metadata", "generation", NULL);
    if (!json_equal(ek_json_path(obj, "spec", NULL), ek_json_path(old->json, "spec", NULL))) {
        json_object_set_new(ek_json_obj_ensure(obj, "metadata"), "generation", json_integer(g + 1));
    }
    /* Validated and written as the workload itself, answered as a Scale. */
    r->rt.sub = EK_SUB_NONE;
    r->answer = ANSWER_SCALE;
    write_object(r, obj, old, false);
    json_decref(obj);
}

/* ---- pods/binding ---- */

static void handle_binding(apireq_t *r)
{
    const ek_resource_t *pods = r->rt.res;
    ek_error_t *err = NULL;
    ek_auto(json_t) b = decode_body(r, NULL, &err);
    if (!b) {
        send_error(r, pods, r->rt.name, err);
        ek_error_free(err);
        return;
    }
    const char *node = ek_json_str(b, "target", "name", NULL);
    obj_t *old = store_get(&r->srv->store, pods, r->rt.ns, r->rt.name);
    if (!old) {
        send_not_found(r, pods, r->rt.name);
        return;
    }
    if (!node || !*node) {
        ek_field_errors_t errs = { 0 };
        ek_field_errors_add(&errs, "FieldValueRequired", "target.name", NULL, "Required value");
        send_invalid(r, ek_resource_find("", "v1", "bindings"), r->rt.name, &errs);
        ek_field_errors_free(&errs);
        return;
    }
    const char *cur = ek_json_str(old->json, "spec", "nodeName", NULL);
    if (cur && *cur) {
        send_status(r, 409, "Conflict", r->rt.name, pods,
                    "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is already "
                    "assigned to node \"%s\"",
                    r->rt.name, r->rt.name, cur);
        return;
    }
    if (ek_json_str(old->json, "metadata", "deletionTimestamp", NULL)) {
        send_status(
            r, 409, "Conflict", r->rt.name, pods,
            "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is being deleted, "
            "cannot be assigned to a host",
            r->rt.name, r->rt.name);
        return;
    }
    json_t *obj = json_deep_copy(old->json);
    ek_json_set_str(ek_json_obj_ensure(obj, "spec"), "nodeName", node);
    /* PodScheduled=True, as the binding REST storage records it. */
    json_t *st = ek_json_obj_ensure(obj, "status");
    json_t *conds = json_object_get(st, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    char ts[21];
    ek_time_rfc3339(time(NULL), ts);
    size_t i;
    json_t *c;
    json_array_foreach (conds, i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), "PodScheduled")) {
            json_array_remove(conds, i);
            break;
        }
    }
    json_array_append_new(conds, json_pack("{s:s,s:s,s:n,s:s}", "type", "PodScheduled", "status",
                                           "True", "lastProbeTime", "lastTransitionTime", ts));
    r->rt.sub = EK_SUB_NONE;
    r->answer = ANSWER_STATUS_CREATED;
    write_object(r, obj, old, true);
    json_decref(obj);
}

/* ---- pods/eviction ---- */

static void handle_eviction(apireq_t *r)
{
    /* Eviction deletes the pod gracefully; disruption budgets are checked by the policy code
     * when PodDisruptionBudgets are enforced. */
    ek_error_t *err = NULL;
    ek_auto(json_t) ev = decode_body(r, NULL, &err);
    if (!ev) {
        send_error(r, r->rt.res, r->rt.name, err);
        ek_error_free(err);
        return;
    }
    json_t *grace = ek_json_path(ev, "deleteOptions", "gracePeriodSeconds", NULL);
    if (json_is_integer(grace)) {
        r->p.grace_period = json_integer_value(grace);
    }
    r->body = "";
    r->body_len = 0;
    r->rt.sub = EK_SUB_NONE;
    r->answer = ANSWER_STATUS_CREATED;
    handle_delete(r);
}

/* ---- reviews (authorization.k8s.io, authentication.k8s.io) ---- */

static json_t *user_info_json(const user_t *u)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < u->groups.n; i++) {
        json_array_append_new(groups, json_string(u->groups.v[i]));
    }
    json_t *ui = json_pack("{s:s,s:o}", "username", u->name ? u->name : "", "groups", groups);
    if (u->uid) {
        ek_json_set_str(ui, "uid", u->uid);
    }
    return ui;
}

static void review_access(apireq_t *r, json_t *review, const user_t *u)
{
    json_t *ra = ek_json_path(review, "spec", "resourceAttributes", NULL);
    json_t *nra = ek_json_path(review, "spec", "nonResourceAttributes", NULL);
    authz_attrs_t a = { 0 };
    if (ra) {
        a.verb = ek_json_str(ra, "verb", NULL);
        a.group = ek_json_str(ra, "group", NULL);
        a.resource = ek_json_str(ra, "resource", NULL);
        a.subresource = ek_json_str(ra, "subresource", NULL);
        a.ns = ek_json_str(ra, "namespace", NULL);
        a.name = ek_json_str(ra, "name", NULL);
        if (a.ns && !*a.ns) {
            a.ns = NULL;
        }
        if (a.subresource && !*a.subresource) {
            a.subresource = NULL;
        }
        if (!a.group) {
            a.group = "";
        }
    } else if (nra) {
        a.verb = ek_json_str(nra, "verb", NULL);
        a.path = ek_json_str(nra, "path", NULL);
    }
    ek_autofree char *reason = NULL;
    bool ok = a.verb && authz_allowed(r->srv, u, &a, &reason);
    json_t *st = json_pack("{s:b}", "allowed", ok);
    if (reason) {
        ek_json_set_str(st, "reason", reason);
    }
    json_object_set_new(review, "status", st);
    apireq_respond_json(r, 201, review);
}

void handle_virtual(apireq_t *r)
{
    const ek_resource_t *res = r->rt.res;
    ek_error_t *err = NULL;
    if (strcmp(res->group, "metrics.k8s.io") == 0) {
        handle_metrics_api(r);
        return;
    }
    if (strcmp(r->method, "POST") != 0) {
        send_status(r, 405, "MethodNotAllowed", NULL, NULL,
                    "the server does not allow this method on the requested resource");
        return;
    }
    ek_auto(json_t) body = decode_body(r, NULL, &err);
    if (!body) {
        send_error(r, res, NULL, err);
        ek_error_free(err);
        return;
    }
    if (strcmp(res->kind, "SelfSubjectAccessReview") == 0) {
        review_access(r, body, &r->user);
        return;
    }
    if (strcmp(res->kind, "SubjectAccessReview") == 0 ||
        strcmp(res->kind, "LocalSubjectAccessReview") == 0) {
        user_t u = { 0 };
        u.name = ek_xstrdup(ek_json_str(body, "spec", "user", NULL) ?: "");
        size_t i;
        json_t *g;
        json_array_foreach (ek_json_path(body, "spec", "groups", NULL), i, g) {
            if (json_is_string(g)) {
                ek_strlist_add(&u.groups, json_string_value(g));
            }
        }
        review_access(r, body, &u);
        user_clear(&u);
        return;
    }
    if (strcmp(res->kind, "SelfSubjectRulesReview") == 0) {
        /* kubectl auth can-i --list */
        const char *ns = ek_json_str(body, "spec", "namespace", NULL);
        json_object_set_new(body, "status", authz_rules(r->srv, &r->user, ns));
        apireq_respond_json(r, 201, body);
        return;
    }
    if (strcmp(res->kind, "SelfSubjectReview") == 0) {
        json_object_set_new(body, "status",
                            json_pack("{s:o}", "userInfo", user_info_json(&r->user)));
        apireq_respond_json(r, 201, body);
        return;
    }
    if (strcmp(res->kind, "TokenReview") == 0) {
        token_review(r, body);
        return;
    }
    if (strcmp(res->kind, "Binding") == 0) {
        /* POST /api/v1/namespaces/NS/bindings: the old form of pods/binding. */
        free(r->rt.name);
        r->rt.name = ek_xstrdup(ek_json_str(body, "metadata", "name", NULL) ?: "");
        r->rt.res = ek_resource_find("", "v1", "pods");
        handle_binding(r);
        return;
    }
    send_status(r, 405, "MethodNotAllowed", NULL, NULL,
                "the server does not allow this method on the requested resource");
}

void handle_subresource(apireq_t *r)
{
    switch (r->rt.sub) {
    case EK_SUB_BINDING:
        if (r->verb == EK_VERB_CREATE) {
            handle_binding(r);
            return;
        }
        break;
    case EK_SUB_EVICTION:
        if (r->verb == EK_VERB_CREATE) {
            handle_eviction(r);
            return;
        }
        break;
    case EK_SUB_TOKEN:
        if (r->verb == EK_VERB_CREATE) {
            handle_token_request(r);
            return;
        }
        break;
    case EK_SUB_LOG:
    case EK_SUB_EXEC:
    case EK_SUB_ATTACH:
    case EK_SUB_PORTFORWARD:
    case EK_SUB_PROXY:
        node_proxy(r);
        return;
    default:
        break;
    }
    send_status(r, 405, "MethodNotAllowed", NULL, NULL,
                "the server does not allow this method on the requested resource");
}
