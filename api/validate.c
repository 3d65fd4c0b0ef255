/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The entry point of validation and the field-error list it fills. ek_validate dispatches on
 * the resource's group and kind to the per-area validators (validate_*.c); every error is a
 * Kubernetes field.Error whose message is composed here exactly as ErrorBody() composes it
 * ("Required value", `Invalid value: "x": detail`, ...), with bad values rendered the way Go's
 * fmt renders the Go value Kubernetes validated, so kubectl shows the familiar text.
 */
#include <stdarg.h>
#include <stdio.h>

#include "api/validate-internal.h"

/* ---- the error list ---- */

static const char *type_string(const char *type)
{
    static const struct {
        const char *type, *text;
    } names[] = {
        { EK_FE_REQUIRED, "Required value" },
        { EK_FE_INVALID, "Invalid value" },
        { EK_FE_NOT_SUPPORTED, "Unsupported value" },
        { EK_FE_DUPLICATE, "Duplicate value" },
        { EK_FE_FORBIDDEN, "Forbidden" },
        { EK_FE_TOO_LONG, "Too long" },
        { EK_FE_TOO_MANY, "Too many" },
        { EK_FE_NOT_FOUND, "Not found" },
        { EK_FE_INTERNAL, "Internal error" },
        { EK_FE_TYPE_INVALID, "Invalid value" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(names); i++) {
        if (strcmp(names[i].type, type) == 0) {
            return names[i].text;
        }
    }
    return "Invalid value";
}

/* The types whose ErrorBody never prints the bad value. */
static bool omits_value(const char *type)
{
    return strcmp(type, EK_FE_REQUIRED) == 0 || strcmp(type, EK_FE_FORBIDDEN) == 0 ||
           strcmp(type, EK_FE_TOO_LONG) == 0 || strcmp(type, EK_FE_INTERNAL) == 0;
}

void ek__fe(ek_field_errors_t *e, const char *type, const char *field, const char *value,
            const char *detail)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_puts(&b, type_string(type));
    if (value && !omits_value(type)) {
        ek_buf_printf(&b, ": %s", value);
    }
    if (detail && *detail) {
        ek_buf_printf(&b, ": %s", detail);
    }
    e->v = ek_xrealloc(e->v, (e->n + 1) * sizeof(*e->v));
    ek_field_error_t *fe = &e->v[e->n++];
    fe->type = type;
    fe->field = ek_xstrdup(field ? field : "");
    fe->message = ek_buf_steal(&b, NULL);
}

void ek_field_errors_add(ek_field_errors_t *e, const char *type, const char *field,
                         const json_t *bad_value, const char *detail_fmt, ...)
{
    ek_autofree char *detail = NULL;
    if (detail_fmt) {
        va_list ap;
        va_start(ap, detail_fmt);
        if (vasprintf(&detail, detail_fmt, ap) < 0) {
            detail = NULL;
        }
        va_end(ap);
    }
    ek_autofree char *value = ek__go_json(bad_value);
    /* The public type strings are static; keep a pointer to our copy of the known ones. */
    static const char *const known[] = { EK_FE_REQUIRED,    EK_FE_INVALID,   EK_FE_NOT_SUPPORTED,
                                         EK_FE_DUPLICATE,   EK_FE_FORBIDDEN, EK_FE_TOO_LONG,
                                         EK_FE_TOO_MANY,    EK_FE_NOT_FOUND, EK_FE_INTERNAL,
                                         EK_FE_TYPE_INVALID };
    const char *t = EK_FE_INVALID;
    for (size_t i = 0; type && i < EK_ARRAY_SIZE(known); i++) {
        if (strcmp(type, known[i]) == 0) {
            t = known[i];
        }
    }
    ek__fe(e, t, field, value, detail);
}

void ek__fe_move(ek_field_errors_t *dst, ek_field_errors_t *src)
{
    if (src->n == 0) {
        return;
    }
    dst->v = ek_xrealloc(dst->v, (dst->n + src->n) * sizeof(*dst->v));
    memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
    dst->n += src->n;
    free(src->v);
    src->v = NULL;
    src->n = 0;
}

void ek_field_errors_free(ek_field_errors_t *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].field);
        free(e->v[i].message);
    }
    free(e->v);
    e->v = NULL;
    e->n = 0;
}

void ek__fe_required(ek_field_errors_t *e, const char *field, const char *detail)
{
    ek__fe(e, EK_FE_REQUIRED, field, NULL, detail);
}

void ek__fe_forbidden(ek_field_errors_t *e, const char *field, const char *detail)
{
    ek__fe(e, EK_FE_FORBIDDEN, field, NULL, detail);
}

void ek__fe_too_long(ek_field_errors_t *e, const char *field, long long max)
{
    char d[64];
    snprintf(d, sizeof(d), "must have at most %lld bytes", max);
    ek__fe(e, EK_FE_TOO_LONG, field, NULL, d);
}

#define VDETAIL(fmt)                           \
    ek_autofree char *detail = NULL;           \
    do {                                       \
        va_list ap;                            \
        va_start(ap, fmt);                     \
        if (vasprintf(&detail, fmt, ap) < 0) { \
            detail = NULL;                     \
        }                                      \
        va_end(ap);                            \
    } while (0)

void ek__fe_invalid_s(ek_field_errors_t *e, const char *field, const char *v, const char *fmt, ...)
{
    VDETAIL(fmt);
    ek_autofree char *q = ek__go_quote(v ? v : "");
    ek__fe(e, EK_FE_INVALID, field, q, detail);
}

void ek__fe_invalid_i(ek_field_errors_t *e, const char *field, long long v, const char *fmt, ...)
{
    VDETAIL(fmt);
    char q[32];
    snprintf(q, sizeof(q), "%lld", v);
    ek__fe(e, EK_FE_INVALID, field, q, detail);
}

void ek__fe_invalid_j(ek_field_errors_t *e, const char *field, const json_t *v, const char *fmt,
                      ...)
{
    VDETAIL(fmt);
    ek_autofree char *q = ek__go_json(v);
    ek__fe(e, EK_FE_INVALID, field, q, detail);
}

void ek__fe_invalid_raw(ek_field_errors_t *e, const char *field, const char *raw, const char *fmt,
                        ...)
{
    VDETAIL(fmt);
    ek__fe(e, EK_FE_INVALID, field, raw, detail);
}

static char *supported_values(const char *const *valid)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_puts(&b, "supported values: ");
    for (size_t i = 0; valid && valid[i]; i++) {
        ek_autofree char *q = ek__go_quote(valid[i]);
        ek_buf_printf(&b, "%s%s", i ? ", " : "", q);
    }
    return ek_buf_steal(&b, NULL);
}

void ek__fe_not_supported_raw(ek_field_errors_t *e, const char *field, const char *raw,
                              const char *const *valid)
{
    ek_autofree char *d = valid && valid[0] ? supported_values(valid) : NULL;
    ek__fe(e, EK_FE_NOT_SUPPORTED, field, raw, d);
}

void ek__fe_not_supported_s(ek_field_errors_t *e, const char *field, const char *v,
                            const char *const *valid)
{
    ek_autofree char *q = ek__go_quote(v ? v : "");
    ek__fe_not_supported_raw(e, field, q, valid);
}

void ek__fe_duplicate_s(ek_field_errors_t *e, const char *field, const char *v)
{
    ek_autofree char *q = ek__go_quote(v ? v : "");
    ek__fe(e, EK_FE_DUPLICATE, field, q, NULL);
}

void ek__fe_duplicate_raw(ek_field_errors_t *e, const char *field, const char *raw)
{
    ek__fe(e, EK_FE_DUPLICATE, field, raw, NULL);
}

void ek__fe_not_found_s(ek_field_errors_t *e, const char *field, const char *v)
{
    ek_autofree char *q = ek__go_quote(v ? v : "");
    ek__fe(e, EK_FE_NOT_FOUND, field, q, NULL);
}

void ek__fe_invalid_msgs(ek_field_errors_t *e, const char *field, const char *v,
                         const ek__msgs_t *m)
{
    for (const char *p = m->buf; m->n && *p; p += strlen(p) + 1) {
        ek__fe_invalid_s(e, field, v, "%s", p);
    }
}

/* ---- Go-style rendering of bad values ---- */

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) {
        return 1;
    }
    size_t n = (s[0] & 0xe0) == 0xc0   ? 2
               : (s[0] & 0xf0) == 0xe0 ? 3
               : (s[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (n == 0 || (n == 2 && s[0] < 0xc2)) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}

char *ek__go_quote(const char *s)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_putc(&b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_len(p);
        if (n == 0) {
            ek_buf_printf(&b, "\\x%02x", *p++);
            continue;
        }
        if (n > 1) {
            unsigned cp = n == 2 ? ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu) : 0x100;
            if (cp >= 0x80 && cp <= 0xa0) {
                ek_buf_printf(&b, "\\u%04x", cp); /* C1 controls and NBSP are not printable */
            } else {
                ek_buf_append(&b, p, n);
            }
            p += n;
            continue;
        }
        unsigned char c = *p++;
        switch (c) {
        case '"':
            ek_buf_puts(&b, "\\\"");
            break;
        case '\\':
            ek_buf_puts(&b, "\\\\");
            break;
        case '\a':
            ek_buf_puts(&b, "\\a");
            break;
        case '\b':
            ek_buf_puts(&b, "\\b");
            break;
        case '\f':
            ek_buf_puts(&b, "\\f");
            break;
        case '\n':
            ek_buf_puts(&b, "\\n");
            break;
        case '\r':
            ek_buf_puts(&b, "\\r");
            break;
        case '\t':
            ek_buf_puts(&b, "\\t");
            break;
        case '\v':
            ek_buf_puts(&b, "\\v");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                ek_buf_printf(&b, "\\x%02x", c);
            } else {
                ek_buf_putc(&b, (char)c);
            }
        }
    }
    ek_buf_putc(&b, '"');
    return ek_buf_steal(&b, NULL);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of an object, sorted as Go's fmt sorts map keys. Caller frees the array. */
static const char **sorted_keys(const json_t *o, size_t *n)
{
    *n = json_object_size(o);
    const char **keys = ek_xcalloc(*n ? *n : 1, sizeof(*keys));
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)o, k, v) {
        keys[i++] = k;
    }
    qsort(keys, *n, sizeof(*keys), cmp_keys);
    return keys;
}

static bool all_strings(const json_t *v)
{
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach (v, i, x) {
            if (!json_is_string(x)) {
                return false;
            }
        }
    } else {
        json_object_foreach ((json_t *)v, k, x) {
            if (!json_is_string(x)) {
                return false;
            }
        }
    }
    return true;
}

static void go_json_buf(const json_t *v, ek_buf_t *b);

static void go_object(const json_t *v, ek_buf_t *b)
{
    bool strs = all_strings(v);
    ek_buf_puts(b, strs ? "map[string]string{" : "map[string]interface {}{");
    size_t n;
    ek_autofree const char **keys = sorted_keys(v, &n);
    for (size_t i = 0; i < n; i++) {
        ek_autofree char *q = ek__go_quote(keys[i]);
        ek_buf_printf(b, "%s%s:", i ? ", " : "", q);
        go_json_buf(json_object_get(v, keys[i]), b);
    }
    ek_buf_putc(b, '}');
}

static void go_array(const json_t *v, ek_buf_t *b)
{
    ek_buf_puts(b, all_strings(v) ? "[]string{" : "[]interface {}{");
    size_t i;
    json_t *x;
    json_array_foreach (v, i, x) {
        if (i) {
            ek_buf_puts(b, ", ");
        }
        go_json_buf(x, b);
    }
    ek_buf_putc(b, '}');
}

static void go_json_buf(const json_t *v, ek_buf_t *b)
{
    char num[64];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING: {
        ek_autofree char *q = ek__go_quote(json_string_value(v));
        ek_buf_puts(b, q);
        break;
    }
    case JSON_INTEGER:
        ek_buf_printf(b, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        /* The shortest representation that reads back the same, as strconv does. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(num, sizeof(num), "%.*g", prec, json_real_value(v));
            if (strtod(num, NULL) == json_real_value(v)) {
                break;
            }
        }
        ek_buf_puts(b, num);
        break;
    case JSON_TRUE:
        ek_buf_puts(b, "true");
        break;
    case JSON_FALSE:
        ek_buf_puts(b, "false");
        break;
    case JSON_OBJECT:
        go_object(v, b);
        break;
    case JSON_ARRAY:
        go_array(v, b);
        break;
    case JSON_NULL:
        ek_buf_puts(b, "null");
        break;
    }
}

char *ek__go_json(const json_t *v)
{
    ek_autobuf b = EK_BUF_INIT;
    go_json_buf(v, &b);
    return ek_buf_steal(&b, NULL);
}

static void go_string_list(const json_t *list, ek_buf_t *b)
{
    if (!json_is_array(list)) {
        ek_buf_puts(b, "[]string(nil)");
        return;
    }
    go_array(list, b);
}

char *ek__go_selector(const json_t *sel)
{
    if (!json_is_object(sel)) {
        return ek_xstrdup("null");
    }
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_puts(&b, "v1.LabelSelector{MatchLabels:");
    const json_t *ml = ek__obj(sel, "matchLabels");
    if (ml) {
        go_object(ml, &b);
    } else {
        ek_buf_puts(&b, "map[string]string(nil)");
    }
    ek_buf_puts(&b, ", MatchExpressions:");
    const json_t *me = ek__arr(sel, "matchExpressions");
    if (!me) {
        ek_buf_puts(&b, "[]v1.LabelSelectorRequirement(nil)");
    } else {
        ek_buf_puts(&b, "[]v1.LabelSelectorRequirement{");
        size_t i;
        json_t *r;
        json_array_foreach (me, i, r) {
            ek_autofree char *k = ek__go_quote(ek__sstr(r, "key"));
            ek_autofree char *op = ek__go_quote(ek__sstr(r, "operator"));
            ek_buf_printf(&b, "%sv1.LabelSelectorRequirement{Key:%s, Operator:%s, Values:",
                          i ? ", " : "", k, op);
            go_string_list(ek__arr(r, "values"), &b);
            ek_buf_putc(&b, '}');
        }
        ek_buf_putc(&b, '}');
    }
    ek_buf_putc(&b, '}');
    return ek_buf_steal(&b, NULL);
}

char *ek__go_intstr(const json_t *v)
{
    if (json_is_integer(v)) {
        return ek_xasprintf("%lld", (long long)json_integer_value(v));
    }
    if (json_is_string(v)) {
        return ek_xstrdup(json_string_value(v));
    }
    return ek__go_json(v);
}

/* ---- JSON access ---- */

const char *ek__str(const json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *ek__sstr(const json_t *o, const char *key)
{
    const char *s = ek__str(o, key);
    return s ? s : "";
}

json_t *ek__obj(const json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_object(v) ? v : NULL;
}

json_t *ek__arr(const json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_array(v) ? v : NULL;
}

size_t ek__validate_len(const json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_array(v) ? json_array_size(v) : json_is_object(v) ? json_object_size(v) : 0;
}

bool ek__int(const json_t *o, const char *key, long long *out)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    if (!json_is_integer(v)) {
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

long long ek__intd(const json_t *o, const char *key, long long def)
{
    long long v;
    return ek__int(o, key, &v) ? v : def;
}

bool ek__true(const json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_true(v);
}

bool ek__has(const json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return v && !json_is_null(v);
}

bool ek__equal(const json_t *a, const json_t *b)
{
    bool an = !a || json_is_null(a), bn = !b || json_is_null(b);
    if (an || bn) {
        return an == bn;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

/* ---- base64 ---- */

char *ek__b64_decode(const char *s, size_t *len, size_t *bad)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    char *out = ek_xmalloc(n / 4 * 3 + 4);
    size_t o = 0, pad = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *pos = s[i] ? strchr(tbl, s[i]) : NULL;
        if (s[i] == '=' && i + 2 >= n && n % 4 == 0) {
            pad++;
            continue;
        }
        if (!pos || pad) {
            *bad = i;
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)(pos - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (n % 4 != 0) {
        *bad = n - n % 4;
        free(out);
        return NULL;
    }
    out[o] = 0;
    *len = o;
    return out;
}

/* ---- dispatch ---- */

static void v_binding(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    const json_t *t = ek__obj(o, "target");
    const char *kind = ek__sstr(t, "kind");
    if (*kind && strcmp(kind, "Node") != 0) {
        static const char *const valid[] = { "Node", "<empty>", NULL };
        ek__fe_not_supported_s(e, "target.kind", kind, valid);
    }
    if (!*ek__sstr(t, "name")) {
        ek__fe_required(e, "target.name", "");
    }
}

static const struct kind_rule {
    const char *group, *kind;
    ek__validate_fn fn;
} kind_rules[] = {
    { "", "Pod", ek__v_pod },
    { "", "Service", ek__v_service },
    { "", "ConfigMap", ek__v_configmap },
    { "", "Secret", ek__v_secret },
    { "", "Namespace", ek__v_namespace },
    { "", "Node", ek__v_node },
    { "", "PersistentVolume", ek__v_pv },
    { "", "PersistentVolumeClaim", ek__v_pvc },
    { "", "LimitRange", ek__v_limitrange },
    { "", "ResourceQuota", ek__v_resourcequota },
    { "", "ServiceAccount", ek__v_serviceaccount },
    { "", "Endpoints", ek__v_endpoints },
    { "", "Event", ek__v_event },
    { "", "Binding", v_binding },
    { "apps", "Deployment", ek__v_deployment },
    { "apps", "ReplicaSet", ek__v_replicaset },
    { "apps", "DaemonSet", ek__v_daemonset },
    { "apps", "StatefulSet", ek__v_statefulset },
    { "apps", "ControllerRevision", ek__v_controllerrevision },
    { "batch", "Job", ek__v_job },
    { "batch", "CronJob", ek__v_cronjob },
    { "autoscaling", "HorizontalPodAutoscaler", ek__v_hpa },
    { "networking.k8s.io", "Ingress", ek__v_ingress },
    { "networking.k8s.io", "IngressClass", ek__v_ingressclass },
    { "networking.k8s.io", "NetworkPolicy", ek__v_networkpolicy },
    { "discovery.k8s.io", "EndpointSlice", ek__v_endpointslice },
    { "coordination.k8s.io", "Lease", ek__v_lease },
    { "rbac.authorization.k8s.io", "Role", ek__v_role },
    { "rbac.authorization.k8s.io", "ClusterRole", ek__v_clusterrole },
    { "rbac.authorization.k8s.io", "RoleBinding", ek__v_rolebinding },
    { "rbac.authorization.k8s.io", "ClusterRoleBinding", ek__v_clusterrolebinding },
    { "storage.k8s.io", "StorageClass", ek__v_storageclass },
    { "policy", "PodDisruptionBudget", ek__v_pdb },
    { "scheduling.k8s.io", "PriorityClass", ek__v_priorityclass },
    { "events.k8s.io", "Event", ek__v_events_v1 },
    { "certificates.k8s.io", "CertificateSigningRequest", ek__v_csr },
    { "apiextensions.k8s.io", "CustomResourceDefinition", ek__v_crd },
};

int ek_validate(const ek_resource_t *r, const json_t *obj, const json_t *old,
                ek_field_errors_t *out)
{
    size_t before = out->n;
    for (size_t i = 0; i < EK_ARRAY_SIZE(kind_rules); i++) {
        if (strcmp(kind_rules[i].group, r->group) == 0 &&
            strcmp(kind_rules[i].kind, r->kind) == 0) {
            kind_rules[i].fn(out, obj, old);
            return (int)(out->n - before);
        }
    }
    /* Reviews are answered, not stored: Kubernetes runs no ObjectMeta rules on them. */
    if (r->flags & EK_RES_VIRTUAL) {
        return 0;
    }
    /* Custom resources and kinds without rules of their own: ObjectMeta, as for CRs. */
    if (old) {
        ek__v_object_meta_update(out, obj, old);
    } else {
        ek__v_object_meta(out, obj, r->namespaced, EK_NAME_SUBDOMAIN);
    }
    return (int)(out->n - before);
}

/* ---- quantities in objects ---- */

int ek__quantity_from_json(const json_t *v, ek_quantity_t *q)
{
    if (json_is_string(v)) {
        return ek_quantity_parse(json_string_value(v), q, NULL);
    }
    if (json_is_integer(v)) {
        ek_quantity_from_int64(q, json_integer_value(v), 0, EK_QUANTITY_DECIMAL_SI);
        return 0;
    }
    if (json_is_real(v)) {
        /* Kubernetes parses a number's text; nine decimals spell what manifests write. The
         * largest double needs 309 digits before the point. */
        char buf[352];
        snprintf(buf, sizeof(buf), "%.9f", json_real_value(v));
        return ek_quantity_parse(buf, q, NULL);
    }
    return -1;
}

bool ek__quantity_is_integer(const ek_quantity_t *q)
{
    int64_t milli;
    /* Beyond int64 milli units a value is whole at any practical precision. */
    return ek_quantity_milli(q, &milli, NULL) < 0 || milli % 1000 == 0;
}
