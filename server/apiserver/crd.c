/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CustomResourceDefinitions: each served version of a CRD becomes a row of the resource table
 * (discovery, routing, OpenAPI and tables follow at once), kept in step with the CRD objects by
 * a hook on the store's event stream. The server also plays apiextensions-apiserver's
 * controllers: it marks new CRDs NamesAccepted and Established, and when a CRD is deleted it
 * deletes every custom object first (the customresourcecleanup finalizer), then lets the CRD go.
 * Custom objects are pruned, defaulted and validated with the version's structural schema.
 */
#include <ctype.h>
#include <stdio.h>
#include <time.h>

#include "server/apiserver/apiserver-internal.h"

#define CLEANUP_FINALIZER "customresourcecleanup.apiextensions.k8s.io"
#define CRD_PREFIX        "/registry/apiextensions.k8s.io/customresourcedefinitions/"

static char *join_words(const json_t *arr)
{
    if (!json_array_size(arr)) {
        return NULL;
    }
    ek_buf_t b = EK_BUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v) {
        if (json_is_string(v)) {
            ek_buf_printf(&b, "%s%s", b.len ? " " : "", json_string_value(v));
        }
    }
    return ek_buf_steal(&b, NULL);
}

/* "stable.example.com" → "com.example.stable" (OpenAPI definition names of CRDs). */
static char *reverse_group(const char *g)
{
    ek_buf_t b = EK_BUF_INIT;
    const char *end = g + strlen(g);
    while (end > g) {
        const char *dot = end;
        while (dot > g && dot[-1] != '.') {
            dot--;
        }
        ek_buf_printf(&b, "%s%.*s", b.len ? "." : "", (int)(end - dot), dot);
        end = dot > g ? dot - 1 : g;
    }
    return ek_buf_steal(&b, NULL);
}

/* The OpenAPI form of a version's schema: metadata refers to ObjectMeta. */
static json_t *openapi_schema(const json_t *schema)
{
    json_t *s = schema ? json_deep_copy(schema) : json_pack("{s:s}", "type", "object");
    json_t *props = ek_json_obj_ensure(s, "properties");
    json_object_set_new(props, "metadata",
                        json_pack("{s:[{s:s}],s:s}", "allOf", "$ref",
                                  "#/components/schemas/"
                                  "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                                  "description", "Standard object metadata."));
    json_object_set_new(props, "apiVersion",
                        json_pack("{s:s,s:s}", "type", "string", "description",
                                  "The versioned schema of this representation of an object."));
    json_object_set_new(props, "kind",
                        json_pack("{s:s,s:s}", "type", "string", "description",
                                  "The REST resource this object represents."));
    return s;
}

static void register_version(const json_t *crd, const json_t *ver)
{
    const json_t *spec = json_object_get(crd, "spec");
    const json_t *names = json_object_get(spec, "names");
    const char *group = ek_json_str(spec, "group", NULL);
    const char *kind = ek_json_str(names, "kind", NULL);
    const char *plural = ek_json_str(names, "plural", NULL);
    const char *vname = ek_json_str(ver, "name", NULL);
    if (!group || !kind || !plural || !vname) {
        return;
    }
    ek_autofree char *singular = ek_xstrdup(ek_json_str(names, "singular", NULL) ?: kind);
    for (char *c = singular; *c; c++) {
        *c = (char)tolower((unsigned char)*c);
    }
    bool status = ek_json_path(ver, "subresources", "status", NULL) != NULL;
    bool scale = ek_json_path(ver, "subresources", "scale", NULL) != NULL;
    const json_t *schema = ek_json_path(ver, "schema", "openAPIV3Schema", NULL);
    ek_autofree char *rg = reverse_group(group);
    ek_autofree char *oname = ek_xasprintf("%s.%s.%s", rg, vname, kind);
    json_t *custom = json_pack("{s:O?,s:O?,s:O?,s:o,s:s}", "schema", schema, "columns",
                               json_object_get(ver, "additionalPrinterColumns"), "scale",
                               ek_json_path(ver, "subresources", "scale", NULL), "openapi",
                               openapi_schema(schema), "openapi_name", oname);
    ek_autofree char *shorts = join_words(json_object_get(names, "shortNames"));
    ek_autofree char *cats = join_words(json_object_get(names, "categories"));
    ek_resource_t r = {
        .group = group,
        .version = vname,
        .kind = kind,
        .plural = plural,
        .singular = singular,
        .namespaced = !ek_streq(ek_json_str(spec, "scope", NULL), "Cluster"),
        .short_names = shorts,
        .categories = cats,
        .verbs = EK_VERBS_ALL,
        .subresources =
            (status ? EK_SUBBIT(EK_SUB_STATUS) : 0) | (scale ? EK_SUBBIT(EK_SUB_SCALE) : 0),
        .flags = EK_RES_CUSTOM | EK_RES_NO_SMP | EK_RES_GENERATION | (status ? EK_RES_STATUS : 0),
        .custom = custom,
    };
    ek_resource_add(&r);
    json_decref(custom);
}

/* Removes this CRD's rows that are no longer served (or all, when crd is going away). */
static void unregister(const char *group, const char *plural, const json_t *keep_versions)
{
    for (size_t i = ek_resource_count(); i-- > 0;) {
        const ek_resource_t *r = ek_resource_at(i);
        if (!(r->flags & EK_RES_CUSTOM) || strcmp(r->group, group) || strcmp(r->plural, plural)) {
            continue;
        }
        bool keep = false;
        size_t k;
        json_t *v;
        json_array_foreach ((json_t *)keep_versions, k, v) {
            keep = keep || (ek_json_bool(v, 0, "served", NULL) &&
                            ek_streq(ek_json_str(v, "name", NULL), r->version));
        }
        if (!keep) {
            ek_autofree char *g = ek_xstrdup(r->group), *ver = ek_xstrdup(r->version),
                             *pl = ek_xstrdup(r->plural);
            ek_resource_remove(g, ver, pl);
        }
    }
}

static void register_crd(const json_t *crd)
{
    const json_t *spec = json_object_get(crd, "spec");
    const char *group = ek_json_str(spec, "group", NULL);
    const char *plural = ek_json_str(spec, "names", "plural", NULL);
    if (!group || !plural) {
        return;
    }
    const json_t *versions = json_object_get(spec, "versions");
    unregister(group, plural, versions);
    size_t i;
    json_t *v;
    json_array_foreach ((json_t *)versions, i, v) {
        if (ek_json_bool(v, 0, "served", NULL)) {
            register_version(crd, v);
        }
    }
}

/* ---- status and cleanup (the apiextensions controllers' part) ---- */

static bool has_condition(const json_t *crd, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(crd, "status", "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), type) &&
            ek_streq(ek_json_str(c, "status", NULL), "True")) {
            return true;
        }
    }
    return false;
}

static const char *storage_version(const json_t *crd)
{
    size_t i;
    json_t *v;
    json_array_foreach (ek_json_path(crd, "spec", "versions", NULL), i, v) {
        if (ek_json_bool(v, 0, "storage", NULL)) {
            return ek_json_str(v, "name", NULL);
        }
    }
    return NULL;
}

static void establish(ek_apiserver_t *s, obj_t *o)
{
    const json_t *crd = o->json;
    if (has_condition(crd, "Established") && has_condition(crd, "NamesAccepted")) {
        return;
    }
    char ts[21];
    ek_time_rfc3339(time(NULL), ts);
    json_t *obj = json_deep_copy(crd);
    json_t *st = ek_json_obj_ensure(obj, "status");
    json_object_set(st, "acceptedNames", ek_json_path(crd, "spec", "names", NULL));
    json_object_set_new(st, "conditions",
                        json_pack("[{s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s}]", "type",
                                  "NamesAccepted", "status", "True", "reason", "NoConflicts",
                                  "message", "no conflicts found", "lastTransitionTime", ts, "type",
                                  "Established", "status", "True", "reason", "InitialNamesAccepted",
                                  "message", "the initial names have been accepted",
                                  "lastTransitionTime", ts));
    const char *sv = storage_version(crd);
    json_object_set_new(st, "storedVersions", sv ? json_pack("[s]", sv) : json_array());
    write_object_detached(
        s, ek_resource_find("apiextensions.k8s.io", "v1", "customresourcedefinitions"), obj, o);
    json_decref(obj);
}

/* Deletes every object of a CRD being deleted; once none is left, drops the finalizer. */
static void cleanup(ek_apiserver_t *s, obj_t *o)
{
    const json_t *spec = ek_json_path(o->json, "spec", NULL);
    const char *group = ek_json_str(spec, "group", NULL);
    const char *plural = ek_json_str(spec, "names", "plural", NULL);
    if (!group || !plural) {
        return;
    }
    ek_autofree char *prefix = ek_xasprintf("/registry/%s/%s/", group, plural);
    bucket_t *b = ek_map_get(&s->store.buckets, prefix);
    if (b && b->objs.n > 0) {
        size_t it = 0;
        const char *k;
        void *v;
        while (ek_map_next(&b->objs, &it, &k, &v)) {
            obj_t *cr = v;
            ek_kv_delete(s->kv, cr->key, cr->rev, NULL, NULL);
        }
        return; /* the last DELETED event brings us back here */
    }
    json_t *obj = json_deep_copy(o->json);
    json_t *fins = ek_json_path(obj, "metadata", "finalizers", NULL);
    size_t i;
    json_t *f;
    json_array_foreach (fins, i, f) {
        if (ek_streq(json_string_value(f), CLEANUP_FINALIZER)) {
            json_array_remove(fins, i);
            break;
        }
    }
    write_object_detached(
        s, ek_resource_find("apiextensions.k8s.io", "v1", "customresourcedefinitions"), obj, o);
    json_decref(obj);
}

static void crd_changed(ek_apiserver_t *s, const event_t *ev)
{
    const json_t *crd = ev->obj->json;
    if (ev->type == EK_KV_DELETED) {
        const char *group = ek_json_str(crd, "spec", "group", NULL);
        const char *plural = ek_json_str(crd, "spec", "names", "plural", NULL);
        if (group && plural) {
            unregister(group, plural, NULL);
        }
        return;
    }
    if (ek_json_str(crd, "metadata", "deletionTimestamp", NULL)) {
        cleanup(s, ev->obj);
        return;
    }
    register_crd(crd);
    establish(s, ev->obj);
}

void crd_store_hook(bucket_t *b, const event_t *ev, void *data)
{
    ek_apiserver_t *s = data;
    if (strcmp(b->prefix, CRD_PREFIX) == 0) {
        crd_changed(s, ev);
        return;
    }
    /* An object of a CRD being deleted went away: maybe that CRD can go now. */
    if (ev->type == EK_KV_DELETED && b->objs.n == 0) {
        bucket_t *crds = ek_map_get(&s->store.buckets, CRD_PREFIX);
        size_t it = 0;
        const char *k;
        void *v;
        while (crds && ek_map_next(&crds->objs, &it, &k, &v)) {
            obj_t *o = v;
            const char *g = ek_json_str(o->json, "spec", "group", NULL);
            const char *pl = ek_json_str(o->json, "spec", "names", "plural", NULL);
            ek_autofree char *prefix = ek_xasprintf("/registry/%s/%s/", g ? g : "", pl ? pl : "");
            if (strcmp(prefix, b->prefix) == 0 &&
                ek_json_str(o->json, "metadata", "deletionTimestamp", NULL)) {
                cleanup(s, o);
                return;
            }
        }
    }
}

void crd_load_all(ek_apiserver_t *s)
{
    bucket_t *b = ek_map_get(&s->store.buckets, CRD_PREFIX);
    size_t it = 0;
    const char *k;
    void *v;
    while (b && ek_map_next(&b->objs, &it, &k, &v)) {
        obj_t *o = v;
        register_crd(o->json);
        if (ek_json_str(o->json, "metadata", "deletionTimestamp", NULL)) {
            cleanup(s, o);
        } else {
            establish(s, o);
        }
    }
}

/* ---- custom objects ---- */

static const json_t *schema_of(const ek_resource_t *res)
{
    return ek_json_path(res->custom, "schema", NULL);
}

int custom_check_fields(apireq_t *r, json_t *obj, ek_error_t **err)
{
    const json_t *schema = schema_of(r->rt.res);
    if (!schema) {
        return 0;
    }
    ek_auto(json_t) pruned = json_array();
    ek_jsonschema_prune(schema, obj, pruned);
    if (!json_array_size(pruned)) {
        return 0;
    }
    const char *mode = r->p.field_validation ? r->p.field_validation : "Warn";
    size_t i;
    json_t *p;
    if (strcmp(mode, "Strict") == 0) {
        ek_autobuf msg = EK_BUF_INIT;
        json_array_foreach (pruned, i, p) {
            ek_buf_printf(&msg, "%sunknown field \"%s\"", i ? ", " : "", json_string_value(p));
        }
        return ek_error_status(err, 400,
                               "%s in version \"%s\" cannot be handled as a %s: strict "
                               "decoding error: %s",
                               r->rt.res->kind, r->rt.res->version, r->rt.res->kind, msg.data);
    }
    if (strcmp(mode, "Warn") == 0) {
        json_array_foreach (pruned, i, p) {
            apireq_warn(r, "unknown field \"%s\"", json_string_value(p));
        }
    }
    return 0;
}

int custom_admit(apireq_t *r, json_t *obj)
{
    const ek_resource_t *res = r->rt.res;
    const json_t *schema = schema_of(res);
    ek_field_errors_t errs = { 0 };
    if (schema) {
        ek_jsonschema_default(schema, obj);
    }
    ek_validate(res, obj, NULL, &errs);
    if (schema) {
        ek_jsonschema_validate(schema, obj, &errs);
    }
    if (errs.n) {
        send_invalid(r, res, ek_json_str(obj, "metadata", "name", NULL), &errs);
        ek_field_errors_free(&errs);
        return -1;
    }
    return 0;
}

int crd_admit(apireq_t *r, json_t *crd)
{
    size_t i;
    json_t *v;
    json_array_foreach (ek_json_path(crd, "spec", "versions", NULL), i, v) {
        char msg[512];
        const json_t *schema = ek_json_path(v, "schema", "openAPIV3Schema", NULL);
        if (ek_jsonschema_check_structural(schema, msg, sizeof(msg)) < 0) {
            ek_field_errors_t errs = { 0 };
            char field[700];
            snprintf(field, sizeof(field), "spec.versions[%zu].schema.%s", i, msg);
            /* msg is "path: Reason: detail"; split it for the cause. */
            char *colon = strstr(field, ": ");
            const char *detail = colon ? colon + 2 : "must be structural";
            if (colon) {
                *colon = '\0';
            }
            ek_field_errors_add(&errs, "FieldValueInvalid", field, NULL, "%s", detail);
            send_invalid(r, r->rt.res, ek_json_str(crd, "metadata", "name", NULL), &errs);
            ek_field_errors_free(&errs);
            return -1;
        }
    }
    return 0;
}

/* ---- tables ---- */

/* A JSONPath as printer columns write them: .a.b, [n], [*] (first), [?(@.k=="v")]. Borrowed. */
static const json_t *eval_path(const json_t *v, const char *path)
{
    const char *p = path;
    if (*p == '{') {
        p++;
    }
    while (v && *p && *p != '}') {
        if (*p == '.') {
            p++;
            const char *e = p;
            while (*e && *e != '.' && *e != '[' && *e != '}') {
                e++;
            }
            ek_autofree char *key = ek_xstrndup(p, (size_t)(e - p));
            v = json_object_get(v, key);
            p = e;
        } else if (*p == '[') {
            const char *close = strchr(p, ']');
            if (!close || !json_is_array(v)) {
                return NULL;
            }
            if (p[1] == '?') {
                /* [?(@.field=="value")] */
                char field[128], val[256];
                if (sscanf(p, "[?(@.%127[^=]==\"%255[^\"]\")]", field, val) != 2) {
                    return NULL;
                }
                const json_t *found = NULL;
                size_t i;
                json_t *item;
                json_array_foreach ((json_t *)v, i, item) {
                    if (!found && ek_streq(ek_json_str(item, field, NULL), val)) {
                        found = item;
                    }
                }
                v = found;
                close = strstr(p, ")]") ? strstr(p, ")]") + 1 : close;
            } else {
                long idx = p[1] == '*' ? 0 : strtol(p + 1, NULL, 10);
                v = json_array_get(v, idx < 0 ? json_array_size(v) + (size_t)idx : (size_t)idx);
            }
            p = close + 1;
        } else {
            return NULL;
        }
    }
    return v;
}

json_t *custom_table(const ek_resource_t *res, obj_t **objs, size_t n, const char *include,
                     bool with_columns, int64_t rev)
{
    const json_t *cols = ek_json_path(res->custom, "columns", NULL);
    json_t *t = json_pack("{s:s,s:s}", "kind", "Table", "apiVersion", "meta.k8s.io/v1");
    char rv[24];
    snprintf(rv, sizeof(rv), "%lld", (long long)rev);
    json_object_set_new(t, "metadata", json_pack("{s:s}", "resourceVersion", rv));
    if (with_columns) {
        json_t *defs = json_array();
        json_array_append_new(defs,
                              json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", "Name", "type", "string",
                                        "format", "name", "description",
                                        "Name must be unique within a namespace.", "priority", 0));
        size_t i;
        json_t *c;
        json_array_foreach ((json_t *)cols, i, c) {
            json_array_append_new(
                defs, json_pack("{s:s,s:s,s:s,s:s,s:I}", "name", ek_json_str(c, "name", NULL) ?: "",
                                "type", ek_json_str(c, "type", NULL) ?: "string", "format",
                                ek_json_str(c, "format", NULL) ?: "", "description",
                                ek_json_str(c, "description", NULL) ?: "", "priority",
                                (json_int_t)ek_json_int(c, 0, "priority", NULL)));
        }
        if (!json_array_size(cols)) {
            json_array_append_new(defs,
                                  json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", "Age", "type", "date",
                                            "format", "", "description",
                                            "Time since the object was created.", "priority", 0));
        }
        json_object_set_new(t, "columnDefinitions", defs);
    }
    json_t *rows = json_array();
    time_t now = time(NULL);
    for (size_t r = 0; r < n; r++) {
        const json_t *o = objs[r]->json;
        json_t *cells = json_array();
        json_array_append_new(cells, json_string(ek_json_str(o, "metadata", "name", NULL) ?: ""));
        json_t *age_col =
            json_pack("[{s:s,s:s}]", "jsonPath", ".metadata.creationTimestamp", "type", "date");
        const json_t *use = json_array_size(cols) ? cols : age_col;
        size_t i;
        json_t *c;
        json_array_foreach ((json_t *)use, i, c) {
            const json_t *v = eval_path(o, ek_json_str(c, "jsonPath", NULL) ?: "");
            struct timespec ts;
            char age[16];
            if (v && ek_streq(ek_json_str(c, "type", NULL), "date") && json_is_string(v) &&
                ek_time_parse_rfc3339(json_string_value(v), &ts) == 0) {
                json_array_append_new(cells, json_string(ek_human_age(ts.tv_sec, now, age)));
            } else if (v && !json_is_object(v) && !json_is_array(v)) {
                json_array_append(cells, (json_t *)v);
            } else if (v) {
                ek_autofree char *text = ek_json_dumps(v);
                json_array_append_new(cells, json_string(text));
            } else {
                json_array_append_new(cells, json_null());
            }
        }
        json_decref(age_col);
        json_t *row = json_pack("{s:o}", "cells", cells);
        if (!include || strcmp(include, "None") != 0) {
            json_t *md = json_object_get(o, "metadata");
            json_object_set_new(row, "object",
                                include && !strcmp(include, "Object")
                                    ? json_incref((json_t *)o)
                                    : json_pack("{s:s,s:s,s:O}", "kind", "PartialObjectMetadata",
                                                "apiVersion", "meta.k8s.io/v1", "metadata", md));
        }
        json_array_append_new(rows, row);
    }
    json_object_set_new(t, "rows", rows);
    return t;
}
