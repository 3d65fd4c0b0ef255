/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ObjectMeta rules shared by every kind (apimachinery's ValidateObjectMeta and
 * ValidateObjectMetaUpdate plus the core finalizer rule): name and generateName per the
 * kind's name rule, namespace by scope, labels, annotations (keys and 256 KiB total),
 * ownerReferences, finalizers, managedFields, and the fields an update may not change. Also
 * label selectors: their validation and the matching the workload kinds need to check that
 * a selector selects its own template.
 */
#include <stdio.h>

#include "api/validate-internal.h"

#define ANNOTATIONS_MAX (256 * 1024)

void ek__v_label_name(ek_field_errors_t *e, const char *key, const char *path)
{
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (ek__is_qualified_name(key, &m)) {
        ek__fe_invalid_msgs(e, path, key, &m);
    }
}

void ek__v_labels(ek_field_errors_t *e, const json_t *map, const char *path)
{
    const char *k;
    json_t *v;
    if (!json_is_object(map)) {
        return;
    }
    json_object_foreach ((json_t *)map, k, v) {
        ek__v_label_name(e, k, path);
        const char *val = json_is_string(v) ? json_string_value(v) : "";
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_label_value(val, &m)) {
            ek__fe_invalid_msgs(e, path, val, &m);
        }
    }
}

void ek__v_annotations(ek_field_errors_t *e, const json_t *map, const char *path)
{
    const char *k;
    json_t *v;
    size_t total = 0;
    if (!json_is_object(map)) {
        return;
    }
    json_object_foreach ((json_t *)map, k, v) {
        /* A qualified name, except that case does not matter. */
        ek_autofree char *lower = ek_xstrdup(k);
        for (char *p = lower; *p; p++) {
            if (*p >= 'A' && *p <= 'Z') {
                *p = (char)(*p - 'A' + 'a');
            }
        }
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_qualified_name(lower, &m)) {
            ek__fe_invalid_msgs(e, path, k, &m);
        }
        total += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
    }
    if (total > ANNOTATIONS_MAX) {
        ek__fe_too_long(e, path, ANNOTATIONS_MAX);
    }
}

static void v_selector_requirement(ek_field_errors_t *e, const json_t *r, const char *path)
{
    const char *op = ek__sstr(r, "operator");
    size_t nvals = ek__validate_len(r, "values");
    ek_autofree char *vpath = ek__p("%s.values", path);
    if (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) {
        if (nvals == 0) {
            ek__fe_required(e, vpath, "must be specified when `operator` is 'In' or 'NotIn'");
        }
    } else if (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) {
        if (nvals > 0) {
            ek__fe_forbidden(e, vpath,
                             "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
        }
    } else {
        ek_autofree char *opath = ek__p("%s.operator", path);
        ek__fe_invalid_s(e, opath, op, "not a valid selector operator");
    }
    ek_autofree char *kpath = ek__p("%s.key", path);
    ek__v_label_name(e, ek__sstr(r, "key"), kpath);
    size_t i;
    json_t *val;
    json_array_foreach (ek__arr(r, "values"), i, val) {
        const char *s = json_is_string(val) ? json_string_value(val) : "";
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_label_value(s, &m)) {
            ek_autofree char *p = ek__p("%s[%zu]", vpath, i);
            ek__fe_invalid_msgs(e, p, s, &m);
        }
    }
}

void ek__v_label_selector(ek_field_errors_t *e, const json_t *sel, const char *path)
{
    if (!json_is_object(sel)) {
        return;
    }
    ek_autofree char *ml = ek__p("%s.matchLabels", path);
    ek__v_labels(e, ek__obj(sel, "matchLabels"), ml);
    size_t i;
    json_t *r;
    json_array_foreach (ek__arr(sel, "matchExpressions"), i, r) {
        ek_autofree char *p = ek__p("%s.matchExpressions[%zu]", path, i);
        v_selector_requirement(e, r, p);
    }
}

static bool has_value(const json_t *values, const char *v)
{
    size_t i;
    json_t *x;
    json_array_foreach (values, i, x) {
        if (json_is_string(x) && v && strcmp(json_string_value(x), v) == 0) {
            return true;
        }
    }
    return false;
}

static bool requirement_matches(const json_t *r, const json_t *labels)
{
    const char *key = ek__sstr(r, "key"), *op = ek__sstr(r, "operator");
    const char *val = ek__str(labels, key);
    const json_t *values = ek__arr(r, "values");
    if (strcmp(op, "In") == 0) {
        return val && has_value(values, val);
    }
    if (strcmp(op, "NotIn") == 0) {
        return !val || !has_value(values, val);
    }
    if (strcmp(op, "Exists") == 0) {
        return val != NULL;
    }
    if (strcmp(op, "DoesNotExist") == 0) {
        return val == NULL;
    }
    return false;
}

bool ek__selector_matches(const json_t *sel, const json_t *labels, bool *empty)
{
    *empty = false;
    if (!json_is_object(sel)) {
        return false; /* LabelSelectorAsSelector(nil) is labels.Nothing() */
    }
    const json_t *ml = ek__obj(sel, "matchLabels");
    const json_t *me = ek__arr(sel, "matchExpressions");
    *empty = json_object_size(ml) == 0 && json_array_size(me) == 0;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)ml, k, v) {
        const char *have = ek__str(labels, k);
        if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)) != 0) {
            return false;
        }
    }
    size_t i;
    json_t *r;
    json_array_foreach (me, i, r) {
        if (!requirement_matches(r, labels)) {
            return false;
        }
    }
    return true;
}

void ek__v_nonneg(ek_field_errors_t *e, const json_t *o, const char *key, const char *path)
{
    long long v;
    if (ek__int(o, key, &v) && v < 0) {
        ek__fe_invalid_i(e, path, v, EK_MSG_NEGATIVE);
    }
}

void ek__v_immutable(ek_field_errors_t *e, const json_t *nv, const json_t *ov, const char *path)
{
    if (!ek__equal(nv, ov)) {
        ek__fe_invalid_j(e, path, nv, EK_MSG_IMMUTABLE);
    }
}

/* "apps/v1" -> group "apps", version "v1"; "" when unparsable (schema.ParseGroupVersion). */
static void parse_api_version(const char *av, char *group, char *version, size_t len)
{
    group[0] = version[0] = 0;
    const char *slash = strchr(av, '/');
    if (!slash) {
        snprintf(version, len, "%s", av);
    } else if (!strchr(slash + 1, '/')) {
        snprintf(group, len, "%.*s", (int)(slash - av), av);
        snprintf(version, len, "%s", slash + 1);
    }
}

static char *go_owner_ref(const json_t *ref)
{
    ek_autofree char *av = ek__go_quote(ek__sstr(ref, "apiVersion"));
    ek_autofree char *kind = ek__go_quote(ek__sstr(ref, "kind"));
    ek_autofree char *name = ek__go_quote(ek__sstr(ref, "name"));
    ek_autofree char *uid = ek__go_quote(ek__sstr(ref, "uid"));
    /* Pointer fields print as addresses in Go; a fixed one keeps the text reproducible. */
    return ek_xasprintf(
        "v1.OwnerReference{APIVersion:%s, Kind:%s, Name:%s, UID:%s, "
        "Controller:%s, BlockOwnerDeletion:%s}",
        av, kind, name, uid, ek__has(ref, "controller") ? "(*bool)(0xc000000001)" : "(*bool)(nil)",
        ek__has(ref, "blockOwnerDeletion") ? "(*bool)(0xc000000002)" : "(*bool)(nil)");
}

static void v_owner_reference(ek_field_errors_t *e, const json_t *ref, const char *path)
{
    char group[128], version[128];
    parse_api_version(ek__sstr(ref, "apiVersion"), group, version, sizeof(group));
    const char *kind = ek__sstr(ref, "kind");
    ek_autofree char *pav = ek__p("%s.apiVersion", path);
    ek_autofree char *pk = ek__p("%s.kind", path);
    ek_autofree char *pn = ek__p("%s.name", path);
    ek_autofree char *pu = ek__p("%s.uid", path);
    if (!*version) {
        ek__fe_invalid_s(e, pav, ek__sstr(ref, "apiVersion"), "version must not be empty");
    }
    if (!*kind) {
        ek__fe_invalid_s(e, pk, kind, "must not be empty");
    }
    if (!*ek__sstr(ref, "name")) {
        ek__fe_invalid_s(e, pn, "", "must not be empty");
    }
    if (!*ek__sstr(ref, "uid")) {
        ek__fe_invalid_s(e, pu, "", "must not be empty");
    }
    if (!*group && strcmp(version, "v1") == 0 && strcmp(kind, "Event") == 0) {
        ek_autofree char *raw = go_owner_ref(ref);
        ek__fe_invalid_raw(e, path, raw, "/v1, Kind=Event is disallowed from being an owner");
    }
}

static void v_owner_references(ek_field_errors_t *e, const json_t *refs, const char *path)
{
    size_t i;
    json_t *ref;
    char *first = NULL;
    json_array_foreach (refs, i, ref) {
        v_owner_reference(e, ref, path);
        if (!ek__true(ref, "controller")) {
            continue;
        }
        ek_autofree char *cur = ek__p("%s/%s", ek__sstr(ref, "kind"), ek__sstr(ref, "name"));
        if (!first) {
            first = ek_steal(&cur);
            continue;
        }
        ek_autobuf b = EK_BUF_INIT;
        ek_buf_puts(&b, "[]v1.OwnerReference{");
        size_t j;
        json_t *r;
        json_array_foreach (refs, j, r) {
            ek_autofree char *one = go_owner_ref(r);
            ek_buf_printf(&b, "%s%s", j ? ", " : "", one);
        }
        ek_buf_putc(&b, '}');
        ek__fe_invalid_raw(e, path, b.data,
                           "Only one reference can have Controller set to true. Found \"true\" "
                           "in references for %s and %s",
                           first, cur);
    }
    free(first);
}

/* apimachinery ValidateFinalizers plus core's validateKubeFinalizerName. */
static void v_finalizers(ek_field_errors_t *e, const json_t *fins, const char *path, bool create)
{
    size_t i;
    json_t *f;
    bool orphan = false, foreground = false;
    json_array_foreach (fins, i, f) {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (create && ek__is_qualified_name(s, &m)) {
            ek__fe_invalid_msgs(e, path, s, &m);
        }
        orphan |= strcmp(s, "orphan") == 0;
        foreground |= strcmp(s, "foregroundDeletion") == 0;
    }
    if (create && orphan && foreground) {
        ek__fe_invalid_j(e, path, fins,
                         "finalizer orphan and foregroundDeletion cannot be both set");
    }
}

static void v_kube_finalizers(ek_field_errors_t *e, const json_t *fins)
{
    size_t i;
    json_t *f;
    json_array_foreach (fins, i, f) {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        /* The standard names, plus the one apiextensions-apiserver puts on CRDs. */
        if (strchr(s, '/') || strcmp(s, "kubernetes") == 0 || strcmp(s, "orphan") == 0 ||
            strcmp(s, "foregroundDeletion") == 0 ||
            strcmp(s, "customresourcecleanup.apiextensions.k8s.io") == 0) {
            continue;
        }
        ek_autofree char *p = ek__p("metadata.finalizers[%zu]", i);
        ek__fe_invalid_s(e, p, s,
                         "name is neither a standard finalizer name nor is it fully qualified");
    }
}

static void v_managed_fields(ek_field_errors_t *e, const json_t *mf)
{
    size_t i;
    json_t *f;
    json_array_foreach (mf, i, f) {
        const char *op = ek__sstr(f, "operation");
        if (strcmp(op, "Apply") != 0 && strcmp(op, "Update") != 0) {
            ek_autofree char *p = ek__p("metadata.managedFields[%zu].operation", i);
            ek__fe_invalid_s(e, p, op, "must be `Apply` or `Update`");
        }
        const char *ft = ek__sstr(f, "fieldsType");
        if (*ft && strcmp(ft, "FieldsV1") != 0) {
            ek_autofree char *p = ek__p("metadata.managedFields[%zu].fieldsType", i);
            ek__fe_invalid_s(e, p, ft, "must be `FieldsV1`");
        }
        if (strlen(ek__sstr(f, "manager")) > 128) {
            ek_autofree char *p = ek__p("metadata.managedFields[%zu].manager", i);
            ek__fe_too_long(e, p, 128);
        }
    }
}

/* The parts of ObjectMeta validated the same way on create and update. */
static void v_meta_common(ek_field_errors_t *e, const json_t *meta)
{
    ek__v_labels(e, ek__obj(meta, "labels"), "metadata.labels");
    ek__v_annotations(e, ek__obj(meta, "annotations"), "metadata.annotations");
    v_owner_references(e, ek__arr(meta, "ownerReferences"), "metadata.ownerReferences");
}

void ek__v_object_meta(ek_field_errors_t *e, const json_t *obj, bool namespaced,
                       ek__name_rule_t rule)
{
    const json_t *meta = ek__obj(obj, "metadata");
    const char *gen = ek__sstr(meta, "generateName"), *name = ek__sstr(meta, "name");
    ek__msgs_t m;
    if (*gen) {
        ek__msgs_init(&m);
        if (ek__name_check(rule, gen, true, &m)) {
            ek__fe_invalid_msgs(e, "metadata.generateName", gen, &m);
        }
    }
    if (!*name) {
        ek__fe_required(e, "metadata.name", "name or generateName is required");
    } else {
        ek__msgs_init(&m);
        if (ek__name_check(rule, name, false, &m)) {
            ek__fe_invalid_msgs(e, "metadata.name", name, &m);
        }
    }
    const char *ns = ek__sstr(meta, "namespace");
    if (namespaced) {
        ek__msgs_init(&m);
        if (!*ns) {
            ek__fe_required(e, "metadata.namespace", "");
        } else if (ek__is_dns1123_label(ns, &m)) {
            ek__fe_invalid_msgs(e, "metadata.namespace", ns, &m);
        }
    } else if (*ns) {
        ek__fe_forbidden(e, "metadata.namespace", "not allowed on this type");
    }
    ek__v_nonneg(e, meta, "generation", "metadata.generation");
    v_meta_common(e, meta);
    v_finalizers(e, ek__arr(meta, "finalizers"), "metadata.finalizers", true);
    v_managed_fields(e, ek__arr(meta, "managedFields"));
    v_kube_finalizers(e, ek__arr(meta, "finalizers"));
}

/* Renders an RFC 3339 time as Go's time.Time.String() does for UTC times. */
static char *go_time(const json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    int y, mo, d, h, mi, sec;
    if (s && sscanf(s, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &sec) == 6) {
        return ek_xasprintf("%04d-%02d-%02d %02d:%02d:%02d +0000 UTC", y, mo, d, h, mi, sec);
    }
    return ek_xstrdup(s ? s : "0001-01-01 00:00:00 +0000 UTC");
}

static void immutable_time(ek_field_errors_t *e, const json_t *nm, const json_t *om,
                           const char *key)
{
    const json_t *nv = json_object_get(nm, key), *ov = json_object_get(om, key);
    if (ek__equal(nv, ov)) {
        return;
    }
    ek_autofree char *p = ek__p("metadata.%s", key);
    ek_autofree char *raw = go_time(nv);
    ek__fe_invalid_raw(e, p, raw, EK_MSG_IMMUTABLE);
}

static void no_new_finalizers(ek_field_errors_t *e, const json_t *nf, const json_t *of)
{
    ek_autobuf b = EK_BUF_INIT;
    size_t i, n = 0;
    json_t *f;
    json_array_foreach (nf, i, f) {
        if (json_is_string(f) && !has_value(of, json_string_value(f))) {
            ek_autofree char *q = ek__go_quote(json_string_value(f));
            ek_buf_printf(&b, "%s%s", n++ ? ", " : "", q);
        }
    }
    if (n) {
        ek_autofree char *d = ek__p("no new finalizers can be added if the object is being "
                                    "deleted, found new finalizers []string{%s}",
                                    b.data);
        ek__fe_forbidden(e, "metadata.finalizers", d);
    }
}

void ek__v_object_meta_update(ek_field_errors_t *e, const json_t *obj, const json_t *old)
{
    const json_t *nm = ek__obj(obj, "metadata"), *om = ek__obj(old, "metadata");
    if (ek__has(om, "deletionTimestamp")) {
        no_new_finalizers(e, ek__arr(nm, "finalizers"), ek__arr(om, "finalizers"));
    }
    if (!*ek__sstr(nm, "resourceVersion")) {
        ek__fe_invalid_s(e, "metadata.resourceVersion", "", "must be specified for an update");
    }
    long long ng = ek__intd(nm, "generation", 0), og = ek__intd(om, "generation", 0);
    if (ng < og) {
        ek__fe_invalid_i(e, "metadata.generation", ng, "must not be decremented");
    }
    static const char *const strs[] = { "name", "namespace", "uid" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(strs); i++) {
        const char *nv = ek__sstr(nm, strs[i]), *ov = ek__sstr(om, strs[i]);
        if (strcmp(nv, ov) != 0) {
            ek_autofree char *p = ek__p("metadata.%s", strs[i]);
            ek__fe_invalid_s(e, p, nv, EK_MSG_IMMUTABLE);
        }
    }
    immutable_time(e, nm, om, "creationTimestamp");
    immutable_time(e, nm, om, "deletionTimestamp");
    const json_t *ngp = json_object_get(nm, "deletionGracePeriodSeconds");
    if (!ek__equal(ngp, json_object_get(om, "deletionGracePeriodSeconds"))) {
        ek__fe_invalid_j(e, "metadata.deletionGracePeriodSeconds", ngp, EK_MSG_IMMUTABLE);
    }
    v_meta_common(e, nm);
    v_managed_fields(e, ek__arr(nm, "managedFields"));
    v_kube_finalizers(e, ek__arr(nm, "finalizers"));
}
