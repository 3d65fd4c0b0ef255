/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server-side table printers: the columns and cells `kubectl get` shows, as kube-apiserver
 * 1.32 computes them (pkg/printers/internalversion). This file holds the lookup by group and
 * kind, the default printer for kinds without one, Kubernetes' HumanDuration, and the cell,
 * time and label-selector helpers every printer shares. The printers themselves live in
 * printers_pod.c, printers_core.c, printers_apps.c and printers_cluster.c.
 *
 * kubectl prints what it gets: header names upper-cased, string cells as they are, any other
 * cell with Go's fmt.Sprint (integers as digits, booleans as true/false), and columns with
 * priority > 0 only under -o wide. A "date" column is not reformatted, so the default
 * printer's CREATED AT shows the RFC 3339 timestamp itself.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "api/printers-internal.h"

/* ---- the default printer ---- */

static const ek_column_t default_columns[] = {
    EK__COL_NAME,
    { "Created At", "date", "", "When the object was created, in UTC (RFC 3339).", 0 },
};

/*
 * kube-apiserver's default table convertor prints the creation time in UTC to the second,
 * and Go's zero time for an object without one.
 */
static void default_row(const json_t *obj, time_t now, json_t *cells)
{
    EK_UNUSED(now);
    ek__cell_name(cells, obj);
    struct timespec ts;
    if (!ek__time(ek_json_path(obj, "metadata", "creationTimestamp", NULL), &ts)) {
        ek__cell_str(cells, "0001-01-01T00:00:00Z");
        return;
    }
    char buf[21];
    ek__cell_str(cells, ek_time_rfc3339(ts.tv_sec, buf));
}

static const ek_printer_t default_printer = EK__PRINTER(default_columns, default_row);

/* ---- lookup ---- */

struct printer_entry {
    const char *group;
    const char *kind;
    const ek_printer_t *printer;
};

/*
 * Kinds Kubernetes 1.32 prints with the default convertor (Role, ClusterRole, LimitRange,
 * CustomResourceDefinition, ...) are deliberately absent.
 */
static const struct printer_entry printers[] = {
    { "", "Pod", &ek__printer_pod },
    { "", "Node", &ek__printer_node },
    { "", "Namespace", &ek__printer_namespace },
    { "", "Service", &ek__printer_service },
    { "", "Endpoints", &ek__printer_endpoints },
    { "", "ConfigMap", &ek__printer_configmap },
    { "", "Secret", &ek__printer_secret },
    { "", "ServiceAccount", &ek__printer_serviceaccount },
    { "", "Event", &ek__printer_event },
    { "", "PersistentVolume", &ek__printer_pv },
    { "", "PersistentVolumeClaim", &ek__printer_pvc },
    { "", "ResourceQuota", &ek__printer_resourcequota },
    { "", "PodTemplate", &ek__printer_podtemplate },
    { "", "ReplicationController", &ek__printer_replicationcontroller },
    { "", "ComponentStatus", &ek__printer_componentstatus },
    { "events.k8s.io", "Event", &ek__printer_events_event },
    { "apps", "Deployment", &ek__printer_deployment },
    { "apps", "ReplicaSet", &ek__printer_replicaset },
    { "apps", "DaemonSet", &ek__printer_daemonset },
    { "apps", "StatefulSet", &ek__printer_statefulset },
    { "apps", "ControllerRevision", &ek__printer_controllerrevision },
    { "batch", "Job", &ek__printer_job },
    { "batch", "CronJob", &ek__printer_cronjob },
    { "autoscaling", "HorizontalPodAutoscaler", &ek__printer_hpa },
    { "policy", "PodDisruptionBudget", &ek__printer_pdb },
    { "networking.k8s.io", "Ingress", &ek__printer_ingress },
    { "networking.k8s.io", "IngressClass", &ek__printer_ingressclass },
    { "networking.k8s.io", "NetworkPolicy", &ek__printer_networkpolicy },
    { "discovery.k8s.io", "EndpointSlice", &ek__printer_endpointslice },
    { "coordination.k8s.io", "Lease", &ek__printer_lease },
    { "rbac.authorization.k8s.io", "RoleBinding", &ek__printer_rolebinding },
    { "rbac.authorization.k8s.io", "ClusterRoleBinding", &ek__printer_clusterrolebinding },
    { "storage.k8s.io", "StorageClass", &ek__printer_storageclass },
    { "storage.k8s.io", "VolumeAttachment", &ek__printer_volumeattachment },
    { "storage.k8s.io", "CSINode", &ek__printer_csinode },
    { "storage.k8s.io", "CSIDriver", &ek__printer_csidriver },
    { "scheduling.k8s.io", "PriorityClass", &ek__printer_priorityclass },
    { "certificates.k8s.io", "CertificateSigningRequest", &ek__printer_csr },
    { "admissionregistration.k8s.io", "MutatingWebhookConfiguration",
      &ek__printer_mutatingwebhook },
    { "admissionregistration.k8s.io", "ValidatingWebhookConfiguration",
      &ek__printer_validatingwebhook },
    { "node.k8s.io", "RuntimeClass", &ek__printer_runtimeclass },
};

const ek_printer_t *ek_printer_for(const char *group, const char *kind)
{
    const char *g = group ? group : "";
    for (size_t i = 0; kind && i < EK_ARRAY_SIZE(printers); i++) {
        if (strcmp(printers[i].kind, kind) == 0 && strcmp(printers[i].group, g) == 0) {
            return printers[i].printer;
        }
    }
    return &default_printer;
}

/* ---- HumanDuration ---- */

#define NS_PER_S   INT64_C(1000000000)
#define NS_PER_MIN (60 * NS_PER_S)
#define NS_PER_H   (60 * NS_PER_MIN)

/* Below two minutes, or negative: seconds, with up to one second of clock skew forgiven. */
static bool human_short(int64_t ns, char *buf)
{
    int64_t s = ns / NS_PER_S; /* truncates toward zero, as Go's int(d.Seconds()) */
    if (s < -1) {
        snprintf(buf, 16, "<invalid>");
    } else if (s < 0) {
        snprintf(buf, 16, "0s");
    } else if (s < 120) {
        snprintf(buf, 16, "%llds", (long long)s);
    } else {
        return false;
    }
    return true;
}

/* "<a><unit_a>" or, when b is not zero, "<a><unit_a><b><unit_b>". */
static void two_units(char *buf, long long a, const char *ua, long long b, const char *ub)
{
    if (b == 0) {
        snprintf(buf, 16, "%lld%s", a, ua);
    } else {
        snprintf(buf, 16, "%lld%s%lld%s", a, ua, b, ub);
    }
}

/*
 * Two or three significant figures: precise while an age is short, coarser as it grows
 * ("1m30s", "12m", "3h12m", "20h", "2d3h", "85d", "2y30d", "9y").
 */
const char *ek__human_duration(int64_t ns, char buf[static 16])
{
    if (human_short(ns, buf)) {
        return buf;
    }
    long long m = ns / NS_PER_MIN, h = ns / NS_PER_H, d = h / 24;
    if (m < 10) {
        two_units(buf, m, "m", (ns / NS_PER_S) % 60, "s");
    } else if (m < 3 * 60) {
        two_units(buf, m, "m", 0, "");
    } else if (h < 8) {
        two_units(buf, h, "h", m % 60, "m");
    } else if (h < 48) {
        two_units(buf, h, "h", 0, "");
    } else if (h < 8 * 24) {
        two_units(buf, d, "d", h % 24, "h");
    } else if (h < 2 * 365 * 24) {
        two_units(buf, d, "d", 0, "");
    } else if (h < 8 * 365 * 24) {
        two_units(buf, d / 365, "y", d % 365, "d");
    } else {
        two_units(buf, d / 365, "y", 0, "");
    }
    return buf;
}

/* Seconds beyond which a duration no longer fits int64 nanoseconds. */
#define MAX_SECONDS (INT64_MAX / NS_PER_S - 1)

static int64_t saturate_ns(int64_t s, long nsec)
{
    if (s > MAX_SECONDS) {
        return INT64_MAX;
    }
    if (s < -MAX_SECONDS) {
        return INT64_MIN;
    }
    return s * NS_PER_S + nsec;
}

int64_t ek__since_ns(const struct timespec *t, time_t now)
{
    return saturate_ns((int64_t)now - (int64_t)t->tv_sec, -t->tv_nsec);
}

int64_t ek__sub_ns(const struct timespec *to, const struct timespec *from)
{
    return saturate_ns((int64_t)to->tv_sec - (int64_t)from->tv_sec, to->tv_nsec - from->tv_nsec);
}

const char *ek_human_age(time_t t, time_t now, char buf[static 16])
{
    struct timespec ts = { .tv_sec = t, .tv_nsec = 0 };
    return ek__human_duration(ek__since_ns(&ts, now), buf);
}

/* 0001-01-01T00:00:00Z, Go's zero time.Time, in Unix seconds. */
#define GO_ZERO_TIME INT64_C(-62135596800)

bool ek__time(const json_t *ts, struct timespec *out)
{
    const char *s = json_is_string(ts) ? json_string_value(ts) : NULL;
    if (!s || ek_time_parse_rfc3339(s, out) < 0) {
        return false;
    }
    return !((int64_t)out->tv_sec == GO_ZERO_TIME && out->tv_nsec == 0);
}

/* ---- cells ---- */

void ek__cell_str(json_t *cells, const char *s)
{
    json_array_append_new(cells, json_string(s ? s : ""));
}

void ek__cell_take(json_t *cells, char *s)
{
    ek__cell_str(cells, s);
    free(s);
}

void ek__cell_strf(json_t *cells, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int r = vasprintf(&s, fmt, ap);
    ek_assert(r >= 0); /* only fails when out of memory */
    va_end(ap);
    ek__cell_take(cells, s);
}

void ek__cell_int(json_t *cells, long long v)
{
    json_array_append_new(cells, json_integer(v));
}

void ek__cell_bool(json_t *cells, bool v)
{
    json_array_append_new(cells, json_boolean(v));
}

void ek__cell_name(json_t *cells, const json_t *obj)
{
    ek__cell_str(cells, ek_json_str(obj, "metadata", "name", NULL));
}

void ek__cell_since(json_t *cells, const json_t *ts, time_t now)
{
    struct timespec t;
    char buf[16];
    ek__cell_str(cells,
                 ek__time(ts, &t) ? ek__human_duration(ek__since_ns(&t, now), buf) : "<unknown>");
}

void ek__cell_age(json_t *cells, const json_t *obj, time_t now)
{
    ek__cell_since(cells, ek_json_path(obj, "metadata", "creationTimestamp", NULL), now);
}

void ek__cells_containers(json_t *cells, const json_t *containers)
{
    ek_autobuf names = EK_BUF_INIT;
    ek_autobuf images = EK_BUF_INIT;
    size_t i;
    const json_t *c;
    json_array_foreach (containers, i, c) {
        if (i > 0) {
            ek_buf_putc(&names, ',');
            ek_buf_putc(&images, ',');
        }
        ek_buf_puts(&names, ek__or(ek_json_str(c, "name", NULL), ""));
        ek_buf_puts(&images, ek__or(ek_json_str(c, "image", NULL), ""));
    }
    ek__cell_str(cells, names.data);
    ek__cell_str(cells, images.data);
}

/* ---- object helpers ---- */

const char *ek__or(const char *s, const char *def)
{
    return s && *s ? s : def;
}

size_t ek__printer_len(const json_t *v)
{
    if (json_is_array(v)) {
        return json_array_size(v);
    }
    return json_is_object(v) ? json_object_size(v) : 0;
}

bool ek__deleting(const json_t *obj)
{
    return ek_json_str(obj, "metadata", "deletionTimestamp", NULL) != NULL;
}

bool ek__cond_true(const json_t *conditions, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach (conditions, i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), type)) {
            return ek_streq(ek_json_str(c, "status", NULL), "True");
        }
    }
    return false;
}

/*
 * Printed as stored. Kubernetes prints Quantity.String(), the canonical form; that matches
 * as long as the API server stores quantities canonicalized ("1000m" is stored as "1").
 * A bare JSON number is accepted too.
 */
char *ek__quantity(const json_t *q, const char *def)
{
    if (json_is_string(q)) {
        return ek_xstrdup(json_string_value(q));
    }
    if (json_is_integer(q)) {
        return ek_xasprintf("%lld", (long long)json_integer_value(q));
    }
    if (json_is_real(q)) {
        return ek_xasprintf("%g", json_real_value(q));
    }
    return def ? ek_xstrdup(def) : NULL;
}

char *ek__intstr(const json_t *v)
{
    if (json_is_integer(v)) {
        return ek_xasprintf("%lld", (long long)json_integer_value(v));
    }
    return json_is_string(v) ? ek_xstrdup(json_string_value(v)) : NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void ek__sort_strings(const char **v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_str);
}

char *ek__join_sorted_unique(const char **v, size_t n, const char *sep)
{
    ek__sort_strings(v, n);
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(v[i], v[i - 1]) != 0) {
            ek_buf_printf(&b, "%s%s", b.len ? sep : "", v[i]);
        }
    }
    return ek_buf_steal(&b, NULL);
}

char *ek__lb_ingress(const json_t *ingress)
{
    ek_autofree const char **v = ek_xcalloc(ek__printer_len(ingress) + 1, sizeof(*v));
    size_t i, n = 0;
    const json_t *in;
    json_array_foreach (ingress, i, in) {
        const char *ip = ek_json_str(in, "ip", NULL);
        const char *host = ek_json_str(in, "hostname", NULL);
        if (ip && *ip) {
            v[n++] = ip;
        } else if (host && *host) {
            v[n++] = host;
        }
    }
    return ek__join_sorted_unique(v, n, ",");
}

/* ---- labels and selectors ---- */

char *ek__format_labels(const json_t *labels)
{
    size_t n = ek__printer_len(labels);
    if (!json_is_object(labels) || n == 0) {
        return ek_xstrdup("<none>");
    }
    ek_autofree const char **keys = ek_xcalloc(n, sizeof(*keys));
    size_t k = 0;
    const char *key;
    const json_t *v;
    json_object_foreach ((json_t *)labels, key, v) {
        keys[k++] = key;
    }
    qsort(keys, n, sizeof(*keys), cmp_str);
    ek_buf_t b = EK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const char *val = ek_json_str(labels, keys[i], NULL);
        ek_buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i], val ? val : "");
    }
    return ek_buf_steal(&b, NULL);
}

/* A label name or value segment: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends. */
static bool label_segment_ok(const char *s, size_t n, bool allow_empty)
{
    if (n == 0) {
        return allow_empty;
    }
    if (n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

/* A DNS-1123 subdomain: lower-case alphanumerics, '-' and '.', at most 253 characters. */
static bool dns_subdomain_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

/* A label key: an optional DNS subdomain prefix and '/', then a name segment. */
static bool label_key_ok(const char *key)
{
    const char *slash = strchr(key, '/');
    if (!slash) {
        return label_segment_ok(key, strlen(key), false);
    }
    return dns_subdomain_ok(key, (size_t)(slash - key)) &&
           label_segment_ok(slash + 1, strlen(slash + 1), false);
}

struct requirement {
    const char *key;
    char *text; /* the requirement as labels.Requirement.String() writes it */
};

/* "k in (a,b)": the operator's spelling, then the values sorted, in parentheses for sets. */
static char *requirement_text(const char *key, const char *op, const char **vals, size_t n)
{
    qsort(vals, n, sizeof(*vals), cmp_str);
    ek_buf_t b = EK_BUF_INIT;
    bool set = strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0;
    if (strcmp(op, "DoesNotExist") == 0) {
        ek_buf_putc(&b, '!');
    }
    ek_buf_puts(&b, key);
    if (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) {
        return ek_buf_steal(&b, NULL);
    }
    ek_buf_puts(&b, set ? (op[0] == 'I' ? " in (" : " notin (") : "=");
    for (size_t i = 0; i < n; i++) {
        ek_buf_printf(&b, "%s%s", i ? "," : "", vals[i]);
    }
    if (set) {
        ek_buf_putc(&b, ')');
    }
    return ek_buf_steal(&b, NULL);
}

/* How many values each operator takes: exactly one, at least one, or none. */
static bool value_count_ok(const char *op, size_t n)
{
    if (strcmp(op, "=") == 0) {
        return n == 1;
    }
    if (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) {
        return n > 0;
    }
    if (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) {
        return n == 0;
    }
    return false; /* not an operator a LabelSelector may use */
}

/* Checks one requirement as labels.NewRequirement does; NULL when it is invalid. */
static char *requirement(const char *key, const char *op, const char **vals, size_t n)
{
    if (!key || !label_key_ok(key) || !value_count_ok(op, n)) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!vals[i] || !label_segment_ok(vals[i], strlen(vals[i]), true)) {
            return NULL;
        }
    }
    return requirement_text(key, op, vals, n);
}

/* A matchExpressions entry; its values must be a list of strings. */
static char *expression(const json_t *expr)
{
    const json_t *values = ek_json_path(expr, "values", NULL);
    if (values && !json_is_array(values) && !json_is_null(values)) {
        return NULL;
    }
    size_t n = ek__printer_len(values);
    ek_autofree const char **vals = ek_xcalloc(n ? n : 1, sizeof(*vals));
    for (size_t i = 0; i < n; i++) {
        vals[i] = json_string_value(json_array_get(values, i));
    }
    return requirement(ek_json_str(expr, "key", NULL),
                       ek__or(ek_json_str(expr, "operator", NULL), ""), vals, n);
}

static void free_requirements(struct requirement *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].text);
    }
    free(r);
}

/* Collects matchLabels then matchExpressions; false when one of them is invalid. */
static bool collect_requirements(const json_t *sel, struct requirement *r, size_t *n)
{
    const char *key;
    const json_t *v;
    json_object_foreach ((json_t *)ek_json_path(sel, "matchLabels", NULL), key, v) {
        const char *val = json_string_value(v);
        r[*n].key = key;
        r[*n].text = requirement(key, "=", &val, 1);
        if (!r[(*n)++].text) {
            return false;
        }
    }
    size_t i;
    json_array_foreach (ek_json_path(sel, "matchExpressions", NULL), i, v) {
        r[*n].key = ek_json_str(v, "key", NULL);
        r[*n].text = expression(v);
        if (!r[(*n)++].text) {
            return false;
        }
    }
    return true;
}

char *ek__selector_string(const json_t *sel)
{
    size_t cap = ek__printer_len(ek_json_path(sel, "matchLabels", NULL)) +
                 ek__printer_len(ek_json_path(sel, "matchExpressions", NULL));
    if (cap == 0) {
        return ek_xstrdup(""); /* nil selects nothing, empty everything: both print as "" */
    }
    struct requirement *r = ek_xcalloc(cap, sizeof(*r));
    size_t n = 0;
    if (!collect_requirements(sel, r, &n)) {
        free_requirements(r, n);
        return NULL;
    }
    /* Sorted by key; a stable insertion sort keeps equal keys in the order given. */
    for (size_t i = 1; i < n; i++) {
        struct requirement cur = r[i];
        size_t j = i;
        for (; j > 0 && strcmp(r[j - 1].key, cur.key) > 0; j--) {
            r[j] = r[j - 1];
        }
        r[j] = cur;
    }
    ek_buf_t b = EK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        ek_buf_printf(&b, "%s%s", i ? "," : "", r[i].text);
    }
    free_requirements(r, n);
    return ek_buf_steal(&b, NULL);
}

char *ek__format_selector(const json_t *sel)
{
    char *s = ek__selector_string(sel);
    if (!s) {
        return ek_xstrdup("<error>");
    }
    if (!*s) {
        free(s);
        return ek_xstrdup("<none>");
    }
    return s;
}
