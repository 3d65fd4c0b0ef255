/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /openapi/v2 as kubectl 1.27–1.29 read it: only as protobuf (gnostic's openapi_v2.Document),
 * generated from the same resource and schema tables as v3. kubectl uses it to find out that
 * the server validates fields itself (the PATCH operation's fieldValidation parameter, matched
 * through the x-kubernetes-group-version-kind extension) and, for explain and client-side
 * apply, the definitions. Field numbers below are those of gnostic's OpenAPIv2.proto.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

/* Document */
#define DOC_SWAGGER     1
#define DOC_INFO        2
#define DOC_PATHS       8
#define DOC_DEFINITIONS 9
/* Info */
#define INFO_TITLE   1
#define INFO_VERSION 2
/* Paths, NamedPathItem, PathItem */
#define PATHS_PATH  2
#define NAMED_NAME  1
#define NAMED_VALUE 2
#define PATH_GET    2
#define PATH_PUT    3
#define PATH_POST   4
#define PATH_DELETE 5
#define PATH_PATCH  8
/* Operation */
#define OP_DESCRIPTION 3
#define OP_ID          5
#define OP_CONSUMES    7
#define OP_PARAMETERS  8
#define OP_RESPONSES   9
#define OP_VENDOR_EXT  13
/* ParametersItem → Parameter → Body/NonBody → QueryParameterSubSchema */
#define PITEM_PARAMETER   1
#define PARAM_BODY        1
#define PARAM_NONBODY     2
#define NONBODY_QUERY     3
#define QUERY_REQUIRED    1
#define QUERY_IN          2
#define QUERY_DESCRIPTION 3
#define QUERY_NAME        4
#define QUERY_TYPE        6
#define BODY_NAME         2
#define BODY_IN           3
#define BODY_REQUIRED     4
#define BODY_SCHEMA       5
/* Responses, NamedResponseValue, ResponseValue, Response */
#define RESPONSES_CODE    1
#define RVALUE_RESPONSE   1
#define RESPONSE_DESC     1
#define RESPONSE_SCHEMA   2
#define SCHEMAITEM_SCHEMA 1
/* Schema */
#define SCHEMA_REF         1
#define SCHEMA_FORMAT      2
#define SCHEMA_DESCRIPTION 4
#define SCHEMA_REQUIRED    19
#define SCHEMA_ENUM        20
#define SCHEMA_ADDL        21
#define SCHEMA_TYPE        22
#define SCHEMA_ITEMS       23
#define SCHEMA_PROPERTIES  25
#define SCHEMA_VENDOR_EXT  31
#define ADDL_SCHEMA        1
#define TYPEITEM_VALUE     1
#define ITEMS_SCHEMA       1
#define PROPS_ADDL         1
/* Definitions, NamedSchema; NamedAny, Any */
#define DEFS_ADDL 1
#define ANY_YAML  2

/* A vendor extension: name and the YAML text of its value. */
static void vendor_ext(ek_buf_t *b, uint32_t field, const char *name, const char *yaml)
{
    ek_autobuf any = EK_BUF_INIT;
    ek_autobuf named = EK_BUF_INIT;
    ek_pb_string(&any, ANY_YAML, yaml);
    ek_pb_string(&named, NAMED_NAME, name);
    ek_pb_message(&named, NAMED_VALUE, &any);
    ek_pb_message(b, field, &named);
}

static void type_item(ek_buf_t *schema, const char *type)
{
    ek_autobuf t = EK_BUF_INIT;
    ek_pb_string(&t, TYPEITEM_VALUE, type);
    ek_pb_message(schema, SCHEMA_TYPE, &t);
}

static void ref(ek_buf_t *schema, const char *name)
{
    char r[300];
    snprintf(r, sizeof(r), "#/definitions/%s", name);
    ek_pb_string(schema, SCHEMA_REF, r);
}

static void ty_schema(ek_buf_t *s, const ek_schema_ty_t *t)
{
    ek_autobuf sub = EK_BUF_INIT;
    ek_autobuf wrap = EK_BUF_INIT;
    switch (t->kind) {
    case EK_ST_STRING:
        type_item(s, "string");
        return;
    case EK_ST_BOOL:
        type_item(s, "boolean");
        return;
    case EK_ST_INT32:
    case EK_ST_INT64:
        type_item(s, "integer");
        ek_pb_string(s, SCHEMA_FORMAT, t->kind == EK_ST_INT32 ? "int32" : "int64");
        return;
    case EK_ST_NUMBER:
        type_item(s, "number");
        ek_pb_string(s, SCHEMA_FORMAT, "double");
        return;
    case EK_ST_BYTES:
        type_item(s, "string");
        ek_pb_string(s, SCHEMA_FORMAT, "byte");
        return;
    case EK_ST_QUANTITY:
        ref(s, "io.k8s.apimachinery.pkg.api.resource.Quantity");
        return;
    case EK_ST_INTSTR:
        ref(s, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
        return;
    case EK_ST_TIME:
        ref(s, "io.k8s.apimachinery.pkg.apis.meta.v1.Time");
        return;
    case EK_ST_ANY:
        return;
    case EK_ST_OBJECT:
        type_item(s, "object");
        return;
    case EK_ST_ARRAY:
        type_item(s, "array");
        ty_schema(&sub, t->elem);
        ek_pb_message(&wrap, ITEMS_SCHEMA, &sub);
        ek_pb_message(s, SCHEMA_ITEMS, &wrap);
        return;
    case EK_ST_MAP:
        type_item(s, "object");
        ty_schema(&sub, t->elem);
        ek_pb_message(&wrap, ADDL_SCHEMA, &sub);
        ek_pb_message(s, SCHEMA_ADDL, &wrap);
        return;
    case EK_ST_REF: {
        char name[256];
        ek_schema_openapi_name(t->ref, name, sizeof(name));
        ref(s, name);
        return;
    }
    }
}

static void field_schema(ek_buf_t *s, const ek_schema_field_t *f)
{
    ty_schema(s, f->ty);
    if (*f->description) {
        ek_pb_string(s, SCHEMA_DESCRIPTION, f->description);
    }
    if (f->merge_key) {
        char yaml[128];
        snprintf(yaml, sizeof(yaml), "%s\n", f->merge_key);
        vendor_ext(s, SCHEMA_VENDOR_EXT, "x-kubernetes-patch-merge-key", yaml);
        vendor_ext(s, SCHEMA_VENDOR_EXT, "x-kubernetes-patch-strategy",
                   f->flags & EK_SF_RETAIN_KEYS ? "merge,retainKeys\n" : "merge\n");
    } else if (f->flags & EK_SF_SET) {
        vendor_ext(s, SCHEMA_VENDOR_EXT, "x-kubernetes-patch-strategy", "merge\n");
    } else if (f->flags & EK_SF_RETAIN_KEYS) {
        vendor_ext(s, SCHEMA_VENDOR_EXT, "x-kubernetes-patch-strategy", "retainKeys\n");
    }
}

static const ek_resource_t *kind_resource(const ek_schema_type_t *t)
{
    for (size_t i = 0, n = ek_resource_count(); i < n; i++) {
        const ek_resource_t *r = ek_resource_at(i);
        if (r->schema_type && ek_schema_type(r->schema_type) == t) {
            return r;
        }
    }
    return NULL;
}

static void gvk_yaml(const ek_resource_t *r, bool list, char *buf, size_t len)
{
    snprintf(buf, len, "%sgroup: \"%s\"\n%skind: %s\n%sversion: %s\n", list ? "- " : "", r->group,
             list ? "  " : "", r->kind, list ? "  " : "", r->version);
}

static void type_definition(ek_buf_t *defs, const ek_schema_type_t *t)
{
    ek_autobuf s = EK_BUF_INIT;
    ek_pb_string(&s, SCHEMA_DESCRIPTION, t->description);
    for (size_t i = 0; i < t->n_fields; i++) {
        if (t->fields[i].flags & EK_SF_REQUIRED) {
            ek_pb_string(&s, SCHEMA_REQUIRED, t->fields[i].name);
        }
    }
    type_item(&s, "object");
    ek_autobuf props = EK_BUF_INIT;
    for (size_t i = 0; i < t->n_fields; i++) {
        ek_autobuf fs = EK_BUF_INIT;
        ek_autobuf named = EK_BUF_INIT;
        field_schema(&fs, &t->fields[i]);
        ek_pb_string(&named, NAMED_NAME, t->fields[i].name);
        ek_pb_message(&named, NAMED_VALUE, &fs);
        ek_pb_message(&props, PROPS_ADDL, &named);
    }
    ek_pb_message(&s, SCHEMA_PROPERTIES, &props);
    const ek_resource_t *r = kind_resource(t);
    if (r) {
        char yaml[256];
        gvk_yaml(r, true, yaml, sizeof(yaml));
        vendor_ext(&s, SCHEMA_VENDOR_EXT, "x-kubernetes-group-version-kind", yaml);
    }
    char name[256];
    ek_schema_openapi_name(t, name, sizeof(name));
    ek_autobuf named = EK_BUF_INIT;
    ek_pb_string(&named, NAMED_NAME, name);
    ek_pb_message(&named, NAMED_VALUE, &s);
    ek_pb_message(defs, DEFS_ADDL, &named);
}

static void simple_definition(ek_buf_t *defs, const char *name, const char *type,
                              const char *format, const char *desc)
{
    ek_autobuf s = EK_BUF_INIT;
    ek_pb_string(&s, SCHEMA_DESCRIPTION, desc);
    type_item(&s, type);
    if (format) {
        ek_pb_string(&s, SCHEMA_FORMAT, format);
    }
    ek_autobuf named = EK_BUF_INIT;
    ek_pb_string(&named, NAMED_NAME, name);
    ek_pb_message(&named, NAMED_VALUE, &s);
    ek_pb_message(defs, DEFS_ADDL, &named);
}

static void query_param(ek_buf_t *op, const char *name, const char *type)
{
    ek_autobuf q = EK_BUF_INIT, nb = EK_BUF_INIT, p = EK_BUF_INIT, item = EK_BUF_INIT;
    ek_pb_string(&q, QUERY_IN, "query");
    ek_pb_string(&q, QUERY_NAME, name);
    ek_pb_string(&q, QUERY_TYPE, type);
    ek_pb_message(&nb, NONBODY_QUERY, &q);
    ek_pb_message(&p, PARAM_NONBODY, &nb);
    ek_pb_message(&item, PITEM_PARAMETER, &p);
    ek_pb_message(op, OP_PARAMETERS, &item);
}

static void body_param(ek_buf_t *op, const char *schema_ref)
{
    ek_autobuf s = EK_BUF_INIT, body = EK_BUF_INIT, p = EK_BUF_INIT, item = EK_BUF_INIT;
    ref(&s, schema_ref);
    ek_pb_string(&body, BODY_NAME, "body");
    ek_pb_string(&body, BODY_IN, "body");
    ek_pb_bool(&body, BODY_REQUIRED, true);
    ek_pb_message(&body, BODY_SCHEMA, &s);
    ek_pb_message(&p, PARAM_BODY, &body);
    ek_pb_message(&item, PITEM_PARAMETER, &p);
    ek_pb_message(op, OP_PARAMETERS, &item);
}

static void operation(ek_buf_t *path_item, uint32_t which, const ek_resource_t *r,
                      const char *def_name, const char *action)
{
    ek_autobuf op = EK_BUF_INIT;
    char desc[256];
    snprintf(desc, sizeof(desc), "%s %s", action, r->kind);
    ek_pb_string(&op, OP_DESCRIPTION, desc);
    snprintf(desc, sizeof(desc), "%s%s%s", action, r->kind, r->namespaced ? "Namespaced" : "");
    ek_pb_string(&op, OP_ID, desc);
    bool write = which == PATH_PUT || which == PATH_POST || which == PATH_PATCH;
    if (which == PATH_PATCH) {
        const char *types[] = { "application/json-patch+json", "application/merge-patch+json",
                                "application/strategic-merge-patch+json",
                                "application/apply-patch+yaml" };
        for (size_t i = 0; i < EK_ARRAY_SIZE(types); i++) {
            if (i == 2 && (r->flags & EK_RES_NO_SMP)) {
                continue;
            }
            ek_pb_string(&op, OP_CONSUMES, types[i]);
        }
        body_param(&op, "io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
    } else if (write) {
        body_param(&op, def_name);
    }
    if (write) {
        query_param(&op, "dryRun", "string");
        query_param(&op, "fieldManager", "string");
        query_param(&op, "fieldValidation", "string");
    }
    if (which == PATH_PATCH) {
        query_param(&op, "force", "boolean");
    }
    ek_autobuf s = EK_BUF_INIT, si = EK_BUF_INIT, resp = EK_BUF_INIT, rv = EK_BUF_INIT,
               named = EK_BUF_INIT, responses = EK_BUF_INIT;
    ref(&s, def_name);
    ek_pb_message(&si, SCHEMAITEM_SCHEMA, &s);
    ek_pb_string(&resp, RESPONSE_DESC, "OK");
    ek_pb_message(&resp, RESPONSE_SCHEMA, &si);
    ek_pb_message(&rv, RVALUE_RESPONSE, &resp);
    ek_pb_string(&named, NAMED_NAME, "200");
    ek_pb_message(&named, NAMED_VALUE, &rv);
    ek_pb_message(&responses, RESPONSES_CODE, &named);
    ek_pb_message(&op, OP_RESPONSES, &responses);
    char yaml[256];
    gvk_yaml(r, false, yaml, sizeof(yaml));
    vendor_ext(&op, OP_VENDOR_EXT, "x-kubernetes-group-version-kind", yaml);
    ek_pb_message(path_item, which, &op);
}

static void add_path(ek_buf_t *paths, const char *path, ek_buf_t *item)
{
    ek_autobuf named = EK_BUF_INIT;
    ek_pb_string(&named, NAMED_NAME, path);
    ek_pb_message(&named, NAMED_VALUE, item);
    ek_pb_message(paths, PATHS_PATH, &named);
}

static void resource_paths(ek_buf_t *paths, const ek_resource_t *r, const char *def_name)
{
    char base[256], coll[512], one[600];
    if (*r->group) {
        snprintf(base, sizeof(base), "/apis/%s/%s", r->group, r->version);
    } else {
        snprintf(base, sizeof(base), "/api/%s", r->version);
    }
    snprintf(coll, sizeof(coll), "%s%s/%s", base, r->namespaced ? "/namespaces/{namespace}" : "",
             r->plural);
    snprintf(one, sizeof(one), "%s/{name}", coll);
    ek_autobuf c = EK_BUF_INIT, i = EK_BUF_INIT;
    if (r->verbs & EK_VERB_LIST) {
        operation(&c, PATH_GET, r, def_name, "list");
    }
    if (r->verbs & EK_VERB_CREATE) {
        operation(&c, PATH_POST, r, def_name, "create");
    }
    add_path(paths, coll, &c);
    if (r->verbs & EK_VERB_GET) {
        operation(&i, PATH_GET, r, def_name, "read");
    }
    if (r->verbs & EK_VERB_UPDATE) {
        operation(&i, PATH_PUT, r, def_name, "replace");
    }
    if (r->verbs & EK_VERB_DELETE) {
        operation(&i, PATH_DELETE, r, def_name, "delete");
    }
    if (r->verbs & EK_VERB_PATCH) {
        operation(&i, PATH_PATCH, r, def_name, "patch");
    }
    if (i.len) {
        add_path(paths, one, &i);
    }
}

static void build_v2(ek_apiserver_t *s, const char *name, ek_buf_t *out)
{
    EK_UNUSED(s);
    EK_UNUSED(name);
    ek_autobuf info = EK_BUF_INIT, paths = EK_BUF_INIT, defs = EK_BUF_INIT;
    ek_pb_string(out, DOC_SWAGGER, "2.0");
    ek_pb_string(&info, INFO_TITLE, "Kubernetes");
    ek_pb_string(&info, INFO_VERSION, "v1.32.4");
    ek_pb_message(out, DOC_INFO, &info);
    for (size_t i = 0, n = ek_resource_count(); i < n; i++) {
        const ek_resource_t *r = ek_resource_at(i);
        const ek_schema_type_t *t = r->schema_type ? ek_schema_type(r->schema_type) : NULL;
        char def_name[256];
        if (t) {
            ek_schema_openapi_name(t, def_name, sizeof(def_name));
        } else if (r->custom && ek_json_str(r->custom, "openapi_name", NULL)) {
            snprintf(def_name, sizeof(def_name), "%s",
                     ek_json_str(r->custom, "openapi_name", NULL));
        } else {
            continue;
        }
        resource_paths(&paths, r, def_name);
    }
    ek_pb_message(out, DOC_PATHS, &paths);
    simple_definition(&defs, "io.k8s.apimachinery.pkg.api.resource.Quantity", "string", NULL,
                      "A fixed-point number with an optional unit suffix (e.g. 100m, 2Gi).");
    simple_definition(&defs, "io.k8s.apimachinery.pkg.util.intstr.IntOrString", "string",
                      "int-or-string", "An integer or a string.");
    simple_definition(&defs, "io.k8s.apimachinery.pkg.apis.meta.v1.Time", "string", "date-time",
                      "A time in RFC 3339 form.");
    simple_definition(&defs, "io.k8s.apimachinery.pkg.apis.meta.v1.Patch", "object", NULL,
                      "A patch body, in the format its content type names.");
    const ek_schema_type_t *types;
    size_t n = ek_schema_types(&types);
    for (size_t i = 0; i < n; i++) {
        type_definition(&defs, &types[i]);
    }
    ek_pb_message(out, DOC_DEFINITIONS, &defs);
}

void handle_openapi_v2(apireq_t *r)
{
    const ek_buf_t *doc = docs_get(r->srv, "openapi-v2", build_v2);
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_append(&b, doc->data, doc->len);
    /* Go's mime parser rejects the "@" of the requested type, so answer with plain bytes. */
    apireq_respond(r, 200, "application/octet-stream", &b);
}
