/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: what the API server does to a create/update body, without I/O. The first
 * byte picks a built-in resource (byte % n) and the field validation mode (Warn, Strict,
 * Ignore by byte / n); the rest is the JSON body. As the server: type meta filled in from the
 * resource, the schema check with unknown-field removal (schema_check_fields, the server's own
 * code); then as a create: system metadata, ek_defaults_prepare_create, ek_defaults_apply,
 * ek_validate; as an update: the body with the created object's system metadata, defaulted
 * and validated against the created object; and the raw body as a strategic merge patch of
 * the created object (the kind's merge metadata), field-checked, defaulted and validated like
 * a PATCH. Nothing may crash, leak or trip UBSan; after removal no unknown field is left;
 * defaulting twice changes nothing; the patch leaves its inputs alone; every field error has
 * a type, a field and a message; refusals carry the statuses the server answers with.
 */
#include "server/apiserver/apiserver-internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ek_resource_t *resources[128];
static size_t n_resources;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ek_error_t *err = NULL;
    ek_assert(ek_schema_load(&err) == 0);
    for (size_t i = 0; i < ek_resource_count() && n_resources < EK_ARRAY_SIZE(resources); i++) {
        const ek_resource_t *r = ek_resource_at(i);
        if (!(r->flags & (EK_RES_CUSTOM | EK_RES_VIRTUAL)) && r->schema_type) {
            resources[n_resources++] = r;
        }
    }
    ek_assert(n_resources > 0);
    return 0;
}

static void count_unknown(ek_schema_issue_kind_t kind, const char *path, const char *detail,
                          void *data)
{
    *(int *)data += kind == EK_SCHEMA_UNKNOWN_FIELD;
}

/* check_type_meta: the URL fills in what the body leaves out; a mismatch is a 400. */
static bool type_meta(const ek_resource_t *res, json_t *obj)
{
    char av[128];
    ek_resource_api_version(res, av);
    const char *kind = ek_json_str(obj, "kind", NULL);
    const char *apiv = ek_json_str(obj, "apiVersion", NULL);
    if ((kind && *kind && strcmp(kind, res->kind) != 0) || (apiv && *apiv && strcmp(apiv, av))) {
        return false;
    }
    ek_json_set_str(obj, "kind", res->kind);
    ek_json_set_str(obj, "apiVersion", av);
    return true;
}

/* schema_check_fields, then (unless it refused the body) nothing unknown may be left. */
static bool fields(const ek_resource_t *res, json_t *obj, const char *mode)
{
    ek_strlist_t unknown = { 0 };
    ek_error_t *err = NULL;
    int rc = schema_check_fields(res, obj, mode, &unknown, &err);
    ek_strlist_free(&unknown);
    if (rc < 0) {
        ek_assert(err && err->status == 400 && err->msg && *err->msg);
        ek_error_free(err);
        return false;
    }
    int left = 0;
    ek_schema_check(ek_schema_type(res->schema_type), obj, count_unknown, &left);
    ek_assert(left == 0);
    return true;
}

static void validate(const ek_resource_t *res, const json_t *obj, const json_t *old)
{
    ek_field_errors_t errs = { 0 };
    int n = ek_validate(res, obj, old, &errs);
    ek_assert(n >= 0 && (size_t)n == errs.n);
    for (size_t i = 0; i < errs.n; i++) {
        ek_assert(errs.v[i].type && errs.v[i].field && errs.v[i].message);
        ek_assert(*errs.v[i].message);
    }
    ek_field_errors_free(&errs);
}

/* Defaults obj, and checks that defaulting again changes nothing. */
static void defaults(const ek_resource_t *res, json_t *obj)
{
    ek_defaults_apply(res, obj);
    json_t *again = json_deep_copy(obj);
    ek_defaults_apply(res, again);
    ek_assert(json_equal(again, obj));
    json_decref(again);
}

/* What prepare_create_meta sets before the kind's defaults and validation. */
static void create_meta(const ek_resource_t *res, json_t *obj)
{
    json_t *md = ek_json_obj_ensure(obj, "metadata");
    if (res->namespaced) {
        ek_json_set_str(md, "namespace", "default");
    } else {
        json_object_del(md, "namespace");
    }
    const char *gen = ek_json_str(md, "generateName", NULL);
    const char *name = ek_json_str(md, "name", NULL);
    if ((!name || !*name) && gen && *gen) {
        ek_autofree char *n = ek_xasprintf("%sx7k2q", gen);
        ek_json_set_str(md, "name", n);
    }
    ek_json_set_str(md, "uid", "6f1c2a9e-0d4b-4e7a-9a51-000000000001");
    ek_json_set_str(md, "creationTimestamp", "2026-01-01T00:00:00Z");
    json_object_del(md, "resourceVersion");
    json_object_set_new(md, "generation", json_integer(1));
}

/* What merge_update carries from the stored object into an update. */
static void update_meta(json_t *obj, const json_t *old)
{
    static const char *const keep[] = {
        "name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "generation"
    };
    json_t *md = ek_json_obj_ensure(obj, "metadata");
    const json_t *omd = json_object_get(old, "metadata");
    for (size_t i = 0; i < EK_ARRAY_SIZE(keep); i++) {
        json_t *v = json_object_get(omd, keep[i]);
        if (v) {
            json_object_set(md, keep[i], v);
        } else {
            json_object_del(md, keep[i]);
        }
    }
    ek_json_set_str(md, "resourceVersion", "2");
}

static void as_update(const ek_resource_t *res, const json_t *body, const json_t *old)
{
    json_t *obj = json_deep_copy(body);
    update_meta(obj, old);
    defaults(res, obj);
    validate(res, obj, old);
    json_decref(obj);
}

static void as_patch(const ek_resource_t *res, const json_t *raw, const json_t *old,
                     const char *mode)
{
    json_t *before = json_deep_copy(old), *raw_before = json_deep_copy(raw);
    ek_smp_schema_t schema = ek_smp_schema_builtin(res->group, res->kind);
    ek_error_t *err = NULL;
    json_t *patched = ek_patch_strategic(old, raw, &schema, &err);
    ek_assert(json_equal(before, old) && json_equal(raw_before, raw));
    json_decref(before);
    json_decref(raw_before);
    if (!patched) {
        ek_assert(err && err->msg && *err->msg);
        ek_assert(err->status == 400 || err->status == 422 || err->status == 500);
        ek_error_free(err);
        return;
    }
    if (json_is_object(patched) && fields(res, patched, mode)) {
        update_meta(patched, old);
        defaults(res, patched);
        validate(res, patched, old);
    }
    json_decref(patched);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const modes[] = { NULL, "Strict", "Ignore" };
    if (size < 1) {
        return 0;
    }
    const ek_resource_t *res = resources[data[0] % n_resources];
    const char *mode = modes[data[0] / n_resources % EK_ARRAY_SIZE(modes)];
    json_t *raw = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    json_t *obj = json_is_object(raw) ? json_deep_copy(raw) : NULL;
    if (obj && type_meta(res, obj) && fields(res, obj, mode)) {
        json_t *created = json_deep_copy(obj);
        create_meta(res, created);
        ek_defaults_prepare_create(res, created);
        defaults(res, created);
        validate(res, created, NULL);
        ek_json_set_str(ek_json_obj_ensure(created, "metadata"), "resourceVersion", "1");
        as_update(res, obj, created);
        as_patch(res, raw, created, mode);
        json_decref(created);
    }
    json_decref(obj);
    json_decref(raw);
    return 0;
}
