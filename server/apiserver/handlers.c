/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request dispatch (authentication, authorization, routing to a handler by verb) and the
 * read handlers: GET of one object and LIST of a collection, both served from the cache,
 * as JSON or as a Table for kubectl.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

static void send_version(apireq_t *r)
{
    ek_auto(json_t) v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor",
                                  "32", "gitVersion", "v1.32.4+edgek", "gitCommit", ek_git_commit,
                                  "gitTreeState", "clean", "buildDate", "2026-11-25T00:00:00Z",
                                  "goVersion", "none (edgek is C)", "compiler", "gcc", "platform",
#if defined(__aarch64__)
                                  "linux/arm64"
#elif defined(__arm__)
                                  "linux/arm"
#else
                                  "linux/amd64"
#endif
    );
    apireq_respond_json(r, 200, v);
}

static void send_health(apireq_t *r)
{
    ek_buf_t b = EK_BUF_INIT;
    bool ok = r->srv->ready;
    if (ek_has_suffix(r->path, "z") && strchr(r->path + 1, '/') == NULL) {
        ek_buf_puts(&b, ok ? "ok" : "not ready");
    } else {
        ek_buf_puts(&b, ok ? "ok" : "not ready");
    }
    apireq_respond(r, ok ? 200 : 503, "text/plain; charset=utf-8", &b);
}

static const char *verb_of(apireq_t *r)
{
    const char *m = r->method;
    bool named = r->rt.name != NULL;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
        if (r->p.watch) {
            r->verb = EK_VERB_WATCH;
            return "watch";
        }
        r->verb = named ? EK_VERB_GET : EK_VERB_LIST;
        return named ? "get" : "list";
    }
    if (strcmp(m, "POST") == 0) {
        r->verb = EK_VERB_CREATE;
        return "create";
    }
    if (strcmp(m, "PUT") == 0) {
        r->verb = EK_VERB_UPDATE;
        return "update";
    }
    if (strcmp(m, "PATCH") == 0) {
        r->verb = EK_VERB_PATCH;
        return "patch";
    }
    if (strcmp(m, "DELETE") == 0) {
        r->verb = named ? EK_VERB_DELETE : EK_VERB_DELETECOLLECTION;
        return named ? "delete" : "deletecollection";
    }
    return NULL;
}

/* Verbs of non-resource requests are the lower-cased HTTP method (get, post, put, ...). */
static const char *path_verb(const char *method)
{
    static const char *const methods[] = { "get",    "post", "put",    "patch",
                                           "delete", "head", "options" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(methods); i++) {
        if (strcasecmp(method, methods[i]) == 0) {
            return methods[i];
        }
    }
    return "get";
}

/* 403 as kube-apiserver words it; the authorizer's reason (the Node authorizer's) ends it. */
static void send_forbidden(apireq_t *r, const char *verb, const authz_attrs_t *a,
                           const char *reason)
{
    char why[512] = "";
    if (reason && *reason) {
        snprintf(why, sizeof(why), ": %s", reason);
    }
    if (r->rt.kind != ROUTE_RESOURCE) {
        send_status(r, 403, "Forbidden", NULL, NULL, "forbidden: User \"%s\" cannot %s path \"%s\"",
                    r->user.name, strcasecmp(r->method, "GET") == 0 ? "get" : verb, r->path);
        return;
    }
    char res[200];
    snprintf(res, sizeof(res), "%s%s%s", r->rt.plural, a->subresource ? "/" : "",
             a->subresource ? a->subresource : "");
    char where[200] = "";
    if (a->ns) {
        snprintf(where, sizeof(where), " in the namespace \"%s\"", a->ns);
    } else {
        snprintf(where, sizeof(where), " at the cluster scope");
    }
    char q[160];
    const char *qual = r->rt.res ? resource_qualified(r->rt.res, q) : r->rt.plural;
    if (r->rt.name && !(r->rt.res && strcmp(r->rt.res->plural, "namespaces") == 0)) {
        send_status(r, 403, "Forbidden", r->rt.name, r->rt.res,
                    "%s \"%s\" is forbidden: User \"%s\" cannot %s resource \"%s\" in API group "
                    "\"%s\"%s%s",
                    qual, r->rt.name, r->user.name, verb, res, r->rt.group, where, why);
    } else {
        send_status(r, 403, "Forbidden", r->rt.name, r->rt.res,
                    "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group "
                    "\"%s\"%s%s",
                    qual, r->user.name, verb, res, r->rt.group, where, why);
    }
}

static bool authorize(apireq_t *r, const char *verb)
{
    authz_attrs_t a = { 0 };
    a.verb = r->rt.kind == ROUTE_RESOURCE ? verb : path_verb(r->method);
    if (r->rt.kind == ROUTE_RESOURCE) {
        a.group = r->rt.group;
        a.resource = r->rt.plural;
        a.subresource = r->rt.sub ? ek_subresource_name(r->rt.sub) : NULL;
        a.ns = r->rt.ns;
        a.name = r->rt.name;
        if (r->rt.res && !r->rt.res->namespaced) {
            a.ns = NULL;
        }
        if (r->rt.res && strcmp(r->rt.res->plural, "namespaces") == 0 && r->rt.name) {
            a.ns = r->rt.name;
        }
        a.field_selector = r->p.field_selector;
    } else {
        a.path = r->path;
    }
    /* A list or watch of one object by name is authorized as that name, as Kubernetes'
     * RequestInfoFactory does (a kubelet watches its own Node and its pods' secrets so). */
    ek_autofree char *sel_name = NULL;
    if (!a.name && a.resource && (r->verb == EK_VERB_LIST || r->verb == EK_VERB_WATCH)) {
        ek_auto(ek_fieldsel_t) fs = ek_fieldsel_parse(r->p.field_selector ?: "", NULL);
        const char *n = fs ? ek_fieldsel_exact(fs, "metadata.name") : NULL;
        sel_name = n ? ek_xstrdup(n) : NULL;
        a.name = sel_name;
    }
    ek_autofree char *reason = NULL;
    if (authz_allowed(r->srv, &r->user, &a, &reason)) {
        return true;
    }
    send_forbidden(r, verb, &a, reason);
    return false;
}

static void dispatch_resource(apireq_t *r)
{
    const ek_resource_t *res = r->rt.res;
    unsigned verb = r->verb;
    if (r->rt.sub != EK_SUB_NONE) {
        if (!(res->subresources & EK_SUBBIT(r->rt.sub)) || !r->rt.name) {
            send_status(r, 404, "NotFound", NULL, NULL,
                        "the server could not find the requested resource");
            return;
        }
        switch (r->rt.sub) {
        case EK_SUB_STATUS:
        case EK_SUB_SCALE:
        case EK_SUB_FINALIZE:
        case EK_SUB_APPROVAL:
            break;
        default:
            handle_subresource(r);
            return;
        }
    } else if (!(res->verbs & verb)) {
        send_status(r, 405, "MethodNotAllowed", NULL, NULL,
                    "the server does not allow this method on the requested resource");
        return;
    }
    if (res->namespaced && !r->rt.ns && verb != EK_VERB_LIST && verb != EK_VERB_WATCH &&
        !(res->flags & EK_RES_VIRTUAL)) {
        send_status(r, 404, "NotFound", NULL, NULL,
                    "the server could not find the requested resource");
        return;
    }
    switch (verb) {
    case EK_VERB_GET:
        handle_get(r);
        break;
    case EK_VERB_LIST:
        handle_list(r);
        break;
    case EK_VERB_WATCH:
        handle_watch(r);
        break;
    case EK_VERB_CREATE:
        handle_create(r);
        break;
    case EK_VERB_UPDATE:
        handle_update(r);
        break;
    case EK_VERB_PATCH:
        handle_patch(r);
        break;
    case EK_VERB_DELETE:
        handle_delete(r);
        break;
    case EK_VERB_DELETECOLLECTION:
        handle_delete_collection(r);
        break;
    }
}

void handle_request(apireq_t *r)
{
    if (route_parse(r->path, &r->rt) < 0) {
        send_status(r, 404, "NotFound", NULL, NULL,
                    "the server could not find the requested resource");
        return;
    }
    params_parse(r->query, &r->p);
    const char *verb = verb_of(r);
    if (!verb) {
        send_status(r, 405, "MethodNotAllowed", NULL, NULL,
                    "the server does not allow this method on the requested resource");
        return;
    }
    if (r->rt.kind == ROUTE_RESOURCE) {
        r->rt.res = ek_resource_find(r->rt.group, r->rt.version, r->rt.plural);
        if (r->rt.ns && r->rt.res && !r->rt.res->namespaced) {
            r->rt.res = NULL;
        }
    }
    if (!authorize(r, verb)) {
        return;
    }
    switch (r->rt.kind) {
    case ROUTE_VERSION:
        send_version(r);
        return;
    case ROUTE_HEALTH:
        send_health(r);
        return;
    case ROUTE_METRICS:
        handle_metrics(r);
        return;
    case ROUTE_API:
    case ROUTE_APIS:
    case ROUTE_GROUP:
    case ROUTE_GROUP_VERSION:
        handle_discovery(r);
        return;
    case ROUTE_OPENAPI_V2:
    case ROUTE_OPENAPI_V3:
        handle_openapi(r);
        return;
    case ROUTE_RESOURCE:
        if (!r->rt.res) {
            send_status(r, 404, "NotFound", NULL, NULL,
                        "the server could not find the requested resource");
            return;
        }
        dispatch_resource(r);
        return;
    case ROUTE_NONE:
        break;
    }
    send_status(r, 404, "NotFound", NULL, NULL, "the server could not find the requested resource");
}

/* ---- GET ---- */

void handle_get(apireq_t *r)
{
    const ek_resource_t *res = r->rt.res;
    if (res->flags & EK_RES_VIRTUAL) {
        handle_virtual(r);
        return;
    }
    obj_t *o = store_get(&r->srv->store, res, r->rt.ns, r->rt.name);
    if (!o) {
        send_not_found(r, res, r->rt.name);
        return;
    }
    if (r->rt.sub == EK_SUB_SCALE) {
        handle_scale_get(r, o);
        return;
    }
    if (wants_table(r)) {
        ek_auto(json_t) t = table_build(res, &o, 1, r->p.include_object, true, o->rev);
        ek_autobuf b = EK_BUF_INIT;
        ek_json_dump_buf(t, &b);
        apireq_respond(r, 200, "application/json;as=Table;v=v1;g=meta.k8s.io", &b);
        return;
    }
    size_t len;
    const char *bytes = obj_bytes(o, &len);
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_append(&b, bytes, len);
    apireq_respond(r, 200, "application/json", &b);
}

/* ---- LIST ---- */

/* Continue tokens: base64url of {"rv":N,"start":"<last key returned>"}. */
static char *encode_continue(int64_t rev, const char *key)
{
    ek_auto(json_t) t = json_pack("{s:I,s:s}", "rv", (json_int_t)rev, "start", key);
    ek_autofree char *s = ek_json_dumps(t);
    return ek_base64url_encode(s, strlen(s));
}

static int decode_continue(const char *tok, int64_t *rev, char **key, ek_error_t **err)
{
    size_t len;
    ek_autofree char *raw = ek_base64url_decode(tok, &len);
    ek_auto(json_t) t = raw ? json_loadb(raw, len, 0, NULL) : NULL;
    const char *start = ek_json_str(t, "start", NULL);
    if (!start || !json_is_integer(json_object_get(t, "rv"))) {
        return ek_error_status(err, 400,
                               "continue key is not valid: incorrect encoded start "
                               "resourceVersion (version meta.k8s.io/v1)");
    }
    *rev = json_integer_value(json_object_get(t, "rv"));
    *key = ek_xstrdup(start);
    return 0;
}

/* Checks resourceVersion semantics for a read from the cache at revision cur. */
static int check_list_rv(apireq_t *r, int64_t cur)
{
    const char *rv = r->p.resource_version;
    if (!rv || !*rv || strcmp(rv, "0") == 0) {
        return 0;
    }
    char *end;
    long long want = strtoll(rv, &end, 10);
    if (*end || want < 0) {
        send_status(r, 400, "BadRequest", NULL, NULL, "invalid resource version: %s", rv);
        return -1;
    }
    if (r->p.resource_version_match && strcmp(r->p.resource_version_match, "Exact") == 0 &&
        want != cur) {
        send_status(r, 410, "Expired", NULL, NULL,
                    "The resourceVersion for the provided list is too old.");
        return -1;
    }
    if (want > cur) {
        send_status(r, 504, "Timeout", NULL, NULL,
                    "Too large resource version: %lld, current: %lld", want, (long long)cur);
        return -1;
    }
    return 0;
}

static void list_respond_json(apireq_t *r, obj_t **objs, size_t n, int64_t rev, const char *cont,
                              long long remaining)
{
    const ek_resource_t *res = r->rt.res;
    char av[128];
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_printf(&b,
                  "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":"
                  "{\"resourceVersion\":\"%lld\"",
                  res->kind, ek_resource_api_version(res, av), (long long)rev);
    if (cont) {
        ek_buf_printf(&b, ",\"continue\":\"%s\"", cont);
        if (remaining > 0) {
            ek_buf_printf(&b, ",\"remainingItemCount\":%lld", remaining);
        }
    }
    ek_buf_puts(&b, "},\"items\":[");
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *bytes = obj_bytes(objs[i], &len);
        if (i) {
            ek_buf_putc(&b, ',');
        }
        ek_buf_append(&b, bytes, len);
    }
    ek_buf_puts(&b, "]}\n");
    apireq_respond(r, 200, "application/json", &b);
}

void handle_list(apireq_t *r)
{
    const ek_resource_t *res = r->rt.res;
    if (res->flags & EK_RES_VIRTUAL) {
        handle_virtual(r);
        return;
    }
    ek_error_t *err = NULL;
    filter_t *f = filter_new(res, r->rt.ns, r->p.label_selector, r->p.field_selector, &err);
    if (!f) {
        send_error(r, NULL, NULL, err);
        ek_error_free(err);
        return;
    }
    int64_t rev = r->srv->store.rev;
    ek_autofree char *start = NULL;
    if (r->p.cont && *r->p.cont) {
        int64_t tok_rev;
        if (decode_continue(r->p.cont, &tok_rev, &start, &err) < 0) {
            send_error(r, NULL, NULL, err);
            ek_error_free(err);
            filter_free(f);
            return;
        }
    } else if (check_list_rv(r, rev) < 0) {
        filter_free(f);
        return;
    }
    size_t n;
    ek_autofree obj_t **all = store_list(&r->srv->store, res, r->rt.ns, &n);
    ek_autofree obj_t **sel = ek_xcalloc(n + 1, sizeof(obj_t *));
    size_t m = 0, total = 0;
    const char *last = NULL;
    bool more = false;
    for (size_t i = 0; i < n; i++) {
        if (start && strcmp(all[i]->key, start) <= 0) {
            continue;
        }
        if (!filter_match(f, all[i]->json)) {
            continue;
        }
        total++;
        if (r->p.limit > 0 && m == (size_t)r->p.limit) {
            more = true;
            continue;
        }
        sel[m++] = all[i];
        last = all[i]->key;
    }
    filter_free(f);
    ek_autofree char *cont = more ? encode_continue(rev, last) : NULL;
    long long remaining = (long long)(total - m);
    if (wants_table(r)) {
        ek_auto(json_t) t = table_build(res, sel, m, r->p.include_object, true, rev);
        if (cont) {
            json_t *md = ek_json_obj_ensure(t, "metadata");
            ek_json_set_str(md, "continue", cont);
            json_object_set_new(md, "remainingItemCount", json_integer(remaining));
        }
        ek_autobuf b = EK_BUF_INIT;
        ek_json_dump_buf(t, &b);
        apireq_respond(r, 200, "application/json;as=Table;v=v1;g=meta.k8s.io", &b);
        return;
    }
    list_respond_json(r, sel, m, rev, cont, remaining);
}
