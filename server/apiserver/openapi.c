/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenAPI v3, generated from the schema tables and the resource table: an index at
 * /openapi/v3 naming one document per group-version (with a content hash, so kubectl can
 * cache them), and each document's paths (kubectl looks for the kind's PATCH operation and
 * its fieldValidation parameter to delegate validation to us) and components.schemas (which
 * `kubectl explain` renders). /openapi/v2 (protobuf, for older kubectl) is in openapi_v2.c.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

static void ref_name(const ek_schema_type_t *t, char *buf, size_t len)
{
    char name[256];
    ek_schema_openapi_name(t, name, sizeof(name));
    snprintf(buf, len, "#/components/schemas/%s", name);
}

static json_t *ty_schema(const ek_schema_ty_t *t, json_t *pending);

static json_t *prim(const char *type, const char *format)
{
    json_t *o = json_pack("{s:s}", "type", type);
    if (format) {
        ek_json_set_str(o, "format", format);
    }
    return o;
}

static json_t *ty_schema(const ek_schema_ty_t *t, json_t *pending)
{
    switch (t->kind) {
    case EK_ST_STRING:
        return prim("string", NULL);
    case EK_ST_BOOL:
        return prim("boolean", NULL);
    case EK_ST_INT32:
        return prim("integer", "int32");
    case EK_ST_INT64:
        return prim("integer", "int64");
    case EK_ST_NUMBER:
        return prim("number", "double");
    case EK_ST_BYTES:
        return prim("string", "byte");
    case EK_ST_QUANTITY:
        return json_pack("{s:[{s:s}]}", "allOf", "$ref",
                         "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity");
    case EK_ST_INTSTR:
        return json_pack("{s:[{s:s}]}", "allOf", "$ref",
                         "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    case EK_ST_TIME:
        return json_pack("{s:[{s:s}]}", "allOf", "$ref",
                         "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time");
    case EK_ST_ANY:
        return json_pack("{s:b}", "x-kubernetes-preserve-unknown-fields", 1);
    case EK_ST_OBJECT:
        return json_pack("{s:s,s:b}", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
    case EK_ST_ARRAY:
        return json_pack("{s:s,s:o}", "type", "array", "items", ty_schema(t->elem, pending));
    case EK_ST_MAP:
        return json_pack("{s:s,s:o}", "type", "object", "additionalProperties",
                         ty_schema(t->elem, pending));
    case EK_ST_REF: {
        char ref[300];
        ref_name(t->ref, ref, sizeof(ref));
        json_array_append_new(pending, json_string(t->ref->name));
        return json_pack("{s:[{s:s}]}", "allOf", "$ref", ref);
    }
    }
    return json_object();
}

static json_t *type_schema(const ek_schema_type_t *t, json_t *pending)
{
    json_t *props = json_object();
    json_t *required = json_array();
    for (size_t i = 0; i < t->n_fields; i++) {
        const ek_schema_field_t *f = &t->fields[i];
        json_t *p = ty_schema(f->ty, pending);
        if (*f->description) {
            ek_json_set_str(p, "description", f->description);
        }
        if (f->n_enum) {
            json_t *e = json_array();
            for (size_t k = 0; k < f->n_enum; k++) {
                json_array_append_new(e, json_string(f->enum_values[k]));
            }
            json_object_set_new(p, "enum", e);
        }
        if (f->merge_key) {
            ek_json_set_str(p, "x-kubernetes-patch-merge-key", f->merge_key);
            ek_json_set_str(p, "x-kubernetes-patch-strategy",
                            f->flags & EK_SF_RETAIN_KEYS ? "merge,retainKeys" : "merge");
            ek_json_set_str(p, "x-kubernetes-list-type", "map");
            json_object_set_new(p, "x-kubernetes-list-map-keys", json_pack("[s]", f->merge_key));
        } else if (f->flags & EK_SF_SET) {
            ek_json_set_str(p, "x-kubernetes-patch-strategy", "merge");
            ek_json_set_str(p, "x-kubernetes-list-type", "set");
        } else if (f->flags & EK_SF_RETAIN_KEYS) {
            ek_json_set_str(p, "x-kubernetes-patch-strategy", "retainKeys");
        } else if (f->ty->kind == EK_ST_ARRAY) {
            ek_json_set_str(p, "x-kubernetes-list-type", "atomic");
        }
        if (f->default_value) {
            ek_json_set_str(p, "default", f->default_value);
        }
        json_object_set_new(props, f->name, p);
        if (f->flags & EK_SF_REQUIRED) {
            json_array_append_new(required, json_string(f->name));
        }
    }
    json_t *o = json_pack("{s:s,s:s,s:o}", "description", t->description, "type", "object",
                          "properties", props);
    if (json_array_size(required)) {
        json_object_set_new(o, "required", required);
    } else {
        json_decref(required);
    }
    return o;
}

static void add_gvk(json_t *schema, const ek_resource_t *r)
{
    json_object_set_new(
        schema, "x-kubernetes-group-version-kind",
        json_pack("[{s:s,s:s,s:s}]", "group", r->group, "kind", r->kind, "version", r->version));
}

static void add_builtin_schemas(json_t *schemas)
{
    json_object_set_new(schemas, "io.k8s.apimachinery.pkg.api.resource.Quantity",
                        json_pack("{s:s,s:[{s:s},{s:s}]}", "description",
                                  "A fixed-point number with an optional unit suffix "
                                  "(e.g. 100m, 1.5, 2Gi).",
                                  "oneOf", "type", "string", "type", "number"));
    json_object_set_new(schemas, "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                        json_pack("{s:s,s:s,s:[{s:s},{s:s}]}", "description",
                                  "An integer or a string (e.g. a port number or name).", "format",
                                  "int-or-string", "oneOf", "type", "integer", "type", "string"));
    json_object_set_new(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
                        json_pack("{s:s,s:s,s:s}", "description",
                                  "A time in RFC 3339 form, to the second, in UTC.", "type",
                                  "string", "format", "date-time"));
    json_object_set_new(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
                        json_pack("{s:s,s:s}", "description",
                                  "A patch body, in the format its content type names.", "type",
                                  "object"));
}

static json_t *param(const char *name, const char *in, bool required)
{
    return json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", name, "in", in, "required", required,
                     "schema", "type", "string");
}

static json_t *op(const ek_resource_t *r, const char *action, const char *verb_desc,
                  const char *kind_ref, bool with_body, bool write, bool patch)
{
    json_t *o = json_object();
    char desc[256];
    snprintf(desc, sizeof(desc), "%s %s", verb_desc, r->kind);
    ek_json_set_str(o, "description", desc);
    ek_json_set_str(o, "x-kubernetes-action", action);
    json_object_set_new(
        o, "x-kubernetes-group-version-kind",
        json_pack("{s:s,s:s,s:s}", "group", r->group, "kind", r->kind, "version", r->version));
    json_t *params = json_array();
    if (write) {
        json_array_append_new(params, param("dryRun", "query", false));
        json_array_append_new(params, param("fieldManager", "query", false));
        json_array_append_new(params, param("fieldValidation", "query", false));
    }
    if (patch) {
        json_array_append_new(params, param("force", "query", false));
    }
    json_object_set_new(o, "parameters", params);
    json_t *ref = json_pack("{s:s}", "$ref", kind_ref);
    if (with_body) {
        json_t *content = json_object();
        if (patch) {
            const char *types[] = { "application/json-patch+json", "application/merge-patch+json",
                                    "application/strategic-merge-patch+json",
                                    "application/apply-patch+yaml" };
            for (size_t i = 0; i < EK_ARRAY_SIZE(types); i++) {
                if (i == 2 && (r->flags & EK_RES_NO_SMP)) {
                    continue;
                }
                json_object_set_new(content, types[i],
                                    json_pack("{s:{s:s}}", "schema", "$ref",
                                              "#/components/schemas/"
                                              "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"));
            }
        } else {
            json_object_set_new(content, "application/json", json_pack("{s:O}", "schema", ref));
        }
        json_object_set_new(o, "requestBody",
                            json_pack("{s:o,s:b}", "content", content, "required", 1));
    }
    json_object_set_new(o, "responses",
                        json_pack("{s:{s:s,s:{s:{s:O}}}}", "200", "description", "OK", "content",
                                  "application/json", "schema", ref));
    json_decref(ref);
    return o;
}

static void add_paths(json_t *paths, const ek_resource_t *r, const char *kind_ref)
{
    char base[256], item[600], coll[512];
    if (*r->group) {
        snprintf(base, sizeof(base), "/apis/%s/%s", r->group, r->version);
    } else {
        snprintf(base, sizeof(base), "/api/%s", r->version);
    }
    snprintf(coll, sizeof(coll), "%s%s/%s", base, r->namespaced ? "/namespaces/{namespace}" : "",
             r->plural);
    snprintf(item, sizeof(item), "%s/{name}", coll);
    json_t *c = json_object();
    if (r->verbs & EK_VERB_LIST) {
        json_object_set_new(c, "get",
                            op(r, "list", "list objects of kind", kind_ref, false, false, false));
    }
    if (r->verbs & EK_VERB_CREATE) {
        json_object_set_new(c, "post", op(r, "post", "create a", kind_ref, true, true, false));
    }
    json_object_set_new(paths, coll, c);
    if (!(r->verbs & (EK_VERB_GET | EK_VERB_UPDATE | EK_VERB_PATCH | EK_VERB_DELETE))) {
        return;
    }
    json_t *i = json_object();
    if (r->verbs & EK_VERB_GET) {
        json_object_set_new(i, "get",
                            op(r, "get", "read the specified", kind_ref, false, false, false));
    }
    if (r->verbs & EK_VERB_UPDATE) {
        json_object_set_new(i, "put",
                            op(r, "put", "replace the specified", kind_ref, true, true, false));
    }
    if (r->verbs & EK_VERB_PATCH) {
        json_object_set_new(
            i, "patch",
            op(r, "patch", "partially update the specified", kind_ref, true, true, true));
    }
    if (r->verbs & EK_VERB_DELETE) {
        json_object_set_new(i, "delete",
                            op(r, "delete", "delete a", kind_ref, false, false, false));
    }
    json_object_set_new(paths, item, i);
}

/* The closure of named types reachable from pending, added to schemas. */
static void add_reachable(json_t *schemas, json_t *pending)
{
    while (json_array_size(pending)) {
        ek_autofree char *name = ek_xstrdup(json_string_value(json_array_get(pending, 0)));
        json_array_remove(pending, 0);
        const ek_schema_type_t *t = ek_schema_type(name);
        if (!t) {
            continue;
        }
        char oname[256];
        ek_schema_openapi_name(t, oname, sizeof(oname));
        if (json_object_get(schemas, oname)) {
            continue;
        }
        json_object_set_new(schemas, oname, type_schema(t, pending));
    }
}

static void build_gv_doc(ek_apiserver_t *s, const char *name, ek_buf_t *out)
{
    EK_UNUSED(s);
    /* name: "openapi:<group>/<version>" */
    const char *gvs = name + strlen("openapi:");
    const char *slash = strchr(gvs, '/');
    ek_autofree char *group = ek_xstrndup(gvs, (size_t)(slash - gvs));
    const char *version = slash + 1;
    json_t *paths = json_object();
    json_t *schemas = json_object();
    ek_auto(json_t) pending = json_array();
    add_builtin_schemas(schemas);
    for (size_t i = 0, n = ek_resource_count(); i < n; i++) {
        const ek_resource_t *r = ek_resource_at(i);
        if (strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0) {
            continue;
        }
        char ref[300];
        const ek_schema_type_t *t = r->schema_type ? ek_schema_type(r->schema_type) : NULL;
        if (t) {
            char oname[256];
            ek_schema_openapi_name(t, oname, sizeof(oname));
            snprintf(ref, sizeof(ref), "#/components/schemas/%s", oname);
            json_t *ts = type_schema(t, pending);
            add_gvk(ts, r);
            json_object_set_new(schemas, oname, ts);
        } else if (r->custom && json_object_get(r->custom, "openapi")) {
            const char *oname = ek_json_str(r->custom, "openapi_name", NULL);
            snprintf(ref, sizeof(ref), "#/components/schemas/%s", oname);
            json_t *ts = json_deep_copy(json_object_get(r->custom, "openapi"));
            add_gvk(ts, r);
            json_object_set_new(schemas, oname, ts);
            json_array_append_new(pending, json_string("ObjectMeta"));
        } else {
            continue;
        }
        add_paths(paths, r, ref);
    }
    add_reachable(schemas, pending);
    json_t *doc = json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:o}}", "openapi", "3.0.0", "info", "title",
                            "Kubernetes", "version", "v1.32.4", "paths", paths, "components",
                            "schemas", schemas);
    ek_json_dump_buf(doc, out);
    json_decref(doc);
}

static void build_index(ek_apiserver_t *s, const char *name, ek_buf_t *out)
{
    EK_UNUSED(name);
    json_t *paths = json_object();
    for (size_t i = 0, n = ek_resource_count(); i < n; i++) {
        const ek_resource_t *r = ek_resource_at(i);
        char key[256], doc[300];
        if (*r->group) {
            snprintf(key, sizeof(key), "apis/%s/%s", r->group, r->version);
        } else {
            snprintf(key, sizeof(key), "api/%s", r->version);
        }
        if (json_object_get(paths, key)) {
            continue;
        }
        snprintf(doc, sizeof(doc), "openapi:%s/%s", r->group, r->version);
        const ek_buf_t *d = docs_get(s, doc, build_gv_doc);
        char url[400];
        snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%016llX", key,
                 (unsigned long long)ek_hash_str(d->data ? d->data : ""));
        json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
    }
    json_t *idx = json_pack("{s:o}", "paths", paths);
    ek_json_dump_buf(idx, out);
    json_decref(idx);
}

void handle_openapi(apireq_t *r)
{
    if (r->rt.kind == ROUTE_OPENAPI_V2) {
        handle_openapi_v2(r);
        return;
    }
    if (r->rt.gv_path && !*r->rt.gv_path) {
        send_status(r, 404, "NotFound", NULL, NULL,
                    "the server could not find the requested resource");
        return;
    }
    ek_apiserver_t *s = r->srv;
    const ek_buf_t *doc;
    if (!r->rt.gv_path) {
        doc = docs_get(s, "openapi-index", build_index);
    } else {
        /* "api/v1" or "apis/<group>/<version>" */
        char name[300];
        const char *gv = r->rt.gv_path;
        if (ek_has_prefix(gv, "api/")) {
            snprintf(name, sizeof(name), "openapi:/%s", gv + 4);
        } else if (ek_has_prefix(gv, "apis/")) {
            snprintf(name, sizeof(name), "openapi:%s", gv + 5);
        } else {
            name[0] = '\0';
        }
        bool known = false;
        const char *gvs = name + strlen("openapi:");
        for (size_t i = 0, n = ek_resource_count(); *name && i < n && !known; i++) {
            const ek_resource_t *res = ek_resource_at(i);
            char want[256];
            snprintf(want, sizeof(want), "%s/%s", res->group, res->version);
            known = strcmp(want, gvs) == 0;
        }
        if (!known) {
            send_status(r, 404, "NotFound", NULL, NULL,
                        "the server could not find the requested resource");
            return;
        }
        doc = docs_get(s, name, build_gv_doc);
    }
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_append(&b, doc->data, doc->len);
    if (r->rt.gv_path && strstr(r->query, "hash=")) {
        r->ops->add_header(r, "Cache-Control", "public, immutable");
    }
    apireq_respond(r, 200, "application/json", &b);
}
