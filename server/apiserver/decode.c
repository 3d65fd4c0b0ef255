/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request bodies to objects: media types (JSON, YAML, and Kubernetes protobuf for the built-in
 * kinds, turned into the JSON the same request would carry by api/protobuf.c), size limits,
 * apiVersion/kind checks, and server-side field validation (fieldValidation=Strict|Warn|Ignore)
 * against the kind's schema. Unknown fields of built-in kinds are dropped, as decoding into
 * Kubernetes' typed structs drops them.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

#define MAX_OBJECT_BYTES (3u << 19) /* 1.5 MiB, etcd's request limit that Kubernetes inherits */

static bool media_is(const char *ct, const char *type)
{
    size_t n = strlen(type);
    return strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/*
 * Kubernetes has no protobuf form for custom resources and neither has edgek; built-in kinds
 * decode by their schema. The envelope names the body's kind, which for subresources
 * (pods/eviction, serviceaccounts/token) differs from the resource's; check_type_meta and the
 * handlers judge it as they judge a JSON body's.
 */
static json_t *decode_protobuf(apireq_t *r, ek_error_t **err)
{
    const ek_resource_t *res = r->rt.res;
    if (res && (res->flags & EK_RES_CUSTOM)) {
        char q[160];
        ek_error_status(err, 415,
                        "the body of the request was in an unknown format - accepted media "
                        "types include: application/json, application/yaml (protobuf is not "
                        "supported for custom resources such as %s)",
                        resource_qualified(res, q));
        return NULL;
    }
    char av[128] = "";
    if (res) {
        ek_resource_api_version(res, av);
    }
    return ek_protobuf_decode(r->body, r->body_len, av, res ? res->kind : "", 0, err);
}

json_t *decode_body(apireq_t *r, const char *want_json_ct, ek_error_t **err)
{
    const char *ct = apireq_header(r, "Content-Type");
    if (!ct || !*ct) {
        ct = "application/json";
    }
    if (r->body_len > MAX_OBJECT_BYTES) {
        ek_error_status(err, 413, "Request entity too large: limit is %u", MAX_OBJECT_BYTES);
        return NULL;
    }
    if (media_is(ct, "application/vnd.kubernetes.protobuf")) {
        return decode_protobuf(r, err);
    }
    bool yaml = media_is(ct, "application/yaml") || media_is(ct, "application/apply-patch+yaml");
    if (!yaml && !media_is(ct, "application/json") &&
        !(want_json_ct && media_is(ct, want_json_ct))) {
        ek_error_status(err, 415,
                        "the body of the request was in an unknown format - accepted media "
                        "types include: application/json, application/yaml");
        return NULL;
    }
    json_t *obj;
    if (yaml) {
        obj = ek_yaml_to_json(r->body, r->body_len, err);
        if (!obj) {
            ek_error_wrap(err, "error converting YAML to JSON");
        }
    } else {
        json_error_t je;
        obj = json_loadb(r->body, r->body_len, 0, &je);
        if (!obj) {
            ek_error_status(err, 400, "couldn't get version/kind; json parse error: %d:%d: %s",
                            je.line, je.column, je.text);
        }
    }
    return obj;
}

int check_type_meta(apireq_t *r, json_t *obj, ek_error_t **err)
{
    const ek_resource_t *res = r->rt.res;
    if (!json_is_object(obj)) {
        return ek_error_status(err, 400, "the body of the request must be a JSON object");
    }
    char av[128];
    ek_resource_api_version(res, av);
    const char *kind = ek_json_str(obj, "kind", NULL);
    const char *apiv = ek_json_str(obj, "apiVersion", NULL);
    /* Like kube-apiserver, the URL supplies what the body leaves out. */
    if (!kind || !*kind) {
        ek_json_set_str(obj, "kind", res->kind);
        kind = res->kind;
    }
    if (!apiv || !*apiv) {
        ek_json_set_str(obj, "apiVersion", av);
        apiv = ek_json_str(obj, "apiVersion", NULL);
    }
    if (strcmp(kind, res->kind) != 0) {
        return ek_error_status(err, 400,
                               "the kind in the data (%s) does not match the expected kind (%s)",
                               kind, res->kind);
    }
    if (!apiv || strcmp(apiv, av) != 0) {
        return ek_error_status(err, 400,
                               "the API version in the data (%s) does not match the expected "
                               "API version (%s)",
                               apiv ? apiv : "", av);
    }
    return 0;
}

struct field_check {
    ek_buf_t unknown; /* `unknown field "x"`, ... */
    ek_strlist_t *unknown_paths;
    ek_buf_t type_error; /* first decode error */
};

static void field_issue(ek_schema_issue_kind_t kind, const char *path, const char *detail,
                        void *data)
{
    struct field_check *fc = data;
    if (kind == EK_SCHEMA_UNKNOWN_FIELD) {
        ek_buf_printf(&fc->unknown, "%sunknown field \"%s\"", fc->unknown_paths->n ? ", " : "",
                      path);
        ek_strlist_add(fc->unknown_paths, path);
    } else if (kind == EK_SCHEMA_WRONG_TYPE && fc->type_error.len == 0) {
        ek_buf_puts(&fc->type_error, detail);
    }
    /* Enum and required problems are validation errors (422), reported by ek_validate. */
}

int schema_check_fields(const ek_resource_t *res, json_t *obj, const char *mode,
                        ek_strlist_t *unknown, ek_error_t **err)
{
    const ek_schema_type_t *t = res->schema_type ? ek_schema_type(res->schema_type) : NULL;
    if (!t) {
        return 0;
    }
    mode = mode ? mode : "Warn";
    bool strict = strcmp(mode, "Strict") == 0;
    struct field_check fc = { EK_BUF_INIT, unknown, EK_BUF_INIT };
    /* Strict refuses the body whole; otherwise unknown fields go, as typed decoding drops them. */
    if (strict) {
        ek_schema_check(t, obj, field_issue, &fc);
    } else {
        ek_schema_check_drop(t, obj, field_issue, &fc);
    }
    int rc = 0;
    if (fc.type_error.len) {
        rc = ek_error_status(err, 400, "%s in version \"%s\" cannot be handled as a %s: json: %s",
                             res->kind, res->version, res->kind, fc.type_error.data);
    } else if (unknown->n && strict) {
        rc = ek_error_status(err, 400,
                             "%s in version \"%s\" cannot be handled as a %s: strict decoding "
                             "error: %s",
                             res->kind, res->version, res->kind, fc.unknown.data);
    }
    ek_buf_free(&fc.unknown);
    ek_buf_free(&fc.type_error);
    return rc;
}

int check_fields(apireq_t *r, json_t *obj, ek_error_t **err)
{
    if (r->rt.res->flags & EK_RES_CUSTOM) {
        return custom_check_fields(r, obj, err);
    }
    ek_strlist_t unknown = { 0 };
    int rc = schema_check_fields(r->rt.res, obj, r->p.field_validation, &unknown, err);
    const char *mode = r->p.field_validation ? r->p.field_validation : "Warn";
    if (rc == 0 && strcmp(mode, "Warn") == 0) {
        for (size_t i = 0; i < unknown.n; i++) {
            apireq_warn(r, "unknown field \"%s\"", unknown.v[i]);
        }
    }
    ek_strlist_free(&unknown);
    return rc;
}
