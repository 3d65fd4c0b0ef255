/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The other core/v1 kinds (core validation): ConfigMaps and Secrets (keys, 1 MiB, the
 * type-specific keys, immutability), Namespaces, ServiceAccounts, Nodes (taints, resources,
 * pod CIDRs), PersistentVolumes and claims (access modes, capacity and requests, exactly one
 * volume source, what may change once bound), LimitRanges, ResourceQuotas and Events.
 */
#include <stdio.h>

#include "api/validate-internal.h"

#define MAX_SECRET_SIZE (1024 * 1024)

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void v_config_keys(ek_field_errors_t *e, const json_t *map, const char *base)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)map, k, v) {
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_config_map_key(k, &m)) {
            ek_autofree char *p = ek__p("%s[%s]", base, k);
            ek__fe_invalid_msgs(e, p, k, &m);
        }
    }
}

/* Decoded length of a base64 value, or -1 (with *bad set) when it is not base64. */
static long base64_decoded_len(const char *s, size_t *bad)
{
    size_t n;
    ek_autofree char *raw = ek__b64_decode(s, &n, bad);
    return raw ? (long)n : -1;
}

static void immutable_data(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (!ek__true(old, "immutable")) {
        return;
    }
    if (!ek__true(o, "immutable")) {
        ek__fe_forbidden(e, "immutable", "field is immutable when `immutable` is set");
    }
    static const char *const keys[] = { "data", "binaryData" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(keys); i++) {
        if (!ek__equal(json_object_get(o, keys[i]), json_object_get(old, keys[i]))) {
            ek__fe_forbidden(e, keys[i], "field is immutable when `immutable` is set");
        }
    }
}

void ek__v_configmap(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
        immutable_data(e, o, old);
    }
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    const json_t *data = ek__obj(o, "data"), *bin = ek__obj(o, "binaryData");
    size_t total = 0;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)data, k, v) {
        ek__msgs_t m;
        ek__msgs_init(&m);
        ek_autofree char *p = ek__p("data[%s]", k);
        if (ek__is_config_map_key(k, &m)) {
            ek__fe_invalid_msgs(e, p, k, &m);
        }
        if (json_object_get(bin, k)) {
            ek__fe_invalid_s(e, p, k, "duplicate of key present in binaryData");
        }
        total += json_is_string(v) ? json_string_length(v) : 0;
    }
    v_config_keys(e, bin, "binaryData");
    json_object_foreach ((json_t *)bin, k, v) {
        size_t bad = 0;
        long n = json_is_string(v) ? base64_decoded_len(json_string_value(v), &bad) : 0;
        if (n < 0) {
            /* Kubernetes rejects this while decoding the body (400); here it is a field error. */
            ek_autofree char *p = ek__p("binaryData[%s]", k);
            ek__fe_invalid_s(e, p, json_string_value(v), "illegal base64 data at input byte %zu",
                             bad);
        }
        total += n > 0 ? (size_t)n : 0;
    }
    if (total > MAX_SECRET_SIZE) {
        ek__fe_too_long(e, "[]", MAX_SECRET_SIZE);
    }
}

static void v_secret_type(ek_field_errors_t *e, const json_t *o, const json_t *data)
{
    const char *t = ek__sstr(o, "type");
    if (strcmp(t, "kubernetes.io/service-account-token") == 0) {
        const char *sa = ek__str(ek__obj(ek__obj(o, "metadata"), "annotations"),
                                 "kubernetes.io/service-account.name");
        if (!sa || !*sa) {
            ek__fe_required(e, "metadata.annotations[kubernetes.io/service-account.name]", "");
        }
    } else if (strcmp(t, "kubernetes.io/dockercfg") == 0 ||
               strcmp(t, "kubernetes.io/dockerconfigjson") == 0) {
        const char *key =
            strcmp(t, "kubernetes.io/dockercfg") == 0 ? ".dockercfg" : ".dockerconfigjson";
        ek_autofree char *p = ek__p("data[%s]", key);
        const json_t *v = json_object_get(data, key);
        if (!v) {
            ek__fe_required(e, p, "");
            return;
        }
        size_t n, bad;
        const char *b64 = json_is_string(v) ? json_string_value(v) : "";
        ek_autofree char *raw = ek__b64_decode(b64, &n, &bad);
        json_error_t je;
        ek_auto(json_t) doc = raw ? json_loadb(raw, n, 0, &je) : NULL;
        bool ok = json_is_object(doc);
        if (!ok) {
            ek__fe_invalid_s(e, p, "<secret contents redacted>",
                             "invalid character looking for beginning of value");
        }
    } else if (strcmp(t, "kubernetes.io/basic-auth") == 0) {
        if (!json_object_get(data, "username") && !json_object_get(data, "password")) {
            ek__fe_required(e, "data[username]", "");
            ek__fe_required(e, "data[password]", "");
        }
    } else if (strcmp(t, "kubernetes.io/ssh-auth") == 0) {
        const char *k = ek__str(data, "ssh-privatekey");
        if (!k || !*k) {
            ek__fe_required(e, "data[ssh-privatekey]", "");
        }
    } else if (strcmp(t, "kubernetes.io/tls") == 0) {
        if (!json_object_get(data, "tls.crt")) {
            ek__fe_required(e, "data[tls.crt]", "");
        }
        if (!json_object_get(data, "tls.key")) {
            ek__fe_required(e, "data[tls.key]", "");
        }
    }
}

void ek__v_secret(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
        const char *nt = ek__sstr(o, "type"), *ot = ek__sstr(old, "type");
        if (strcmp(nt, ot) != 0) {
            ek__fe_invalid_s(e, "type", nt, EK_MSG_IMMUTABLE);
        }
        immutable_data(e, o, old);
    }
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    const json_t *data = ek__obj(o, "data");
    size_t total = 0;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)data, k, v) {
        ek__msgs_t m;
        ek__msgs_init(&m);
        ek_autofree char *p = ek__p("data[%s]", k);
        if (ek__is_config_map_key(k, &m)) {
            ek__fe_invalid_msgs(e, p, k, &m);
        }
        size_t bad = 0;
        long n = json_is_string(v) ? base64_decoded_len(json_string_value(v), &bad) : 0;
        if (n < 0) {
            /* Kubernetes rejects this while decoding the body (400); here it is a field error. */
            ek__fe_invalid_s(e, p, "<secret contents redacted>",
                             "illegal base64 data at input byte %zu", bad);
        } else {
            total += (size_t)n;
        }
    }
    if (total > MAX_SECRET_SIZE) {
        ek__fe_too_long(e, "data", MAX_SECRET_SIZE);
    }
    v_secret_type(e, o, data);
}

void ek__v_namespace(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
        return;
    }
    ek__v_object_meta(e, o, false, EK_NAME_LABEL);
    size_t i;
    json_t *f;
    json_array_foreach (ek__arr(ek__obj(o, "spec"), "finalizers"), i, f) {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        ek__v_label_name(e, s, "spec.finalizers");
        if (!strchr(s, '/') && strcmp(s, "kubernetes") != 0 && strcmp(s, "orphan") != 0 &&
            strcmp(s, "foregroundDeletion") != 0) {
            ek__fe_invalid_s(e, "spec.finalizers", s,
                             "name is neither a standard finalizer name nor is it fully qualified");
        }
    }
}

void ek__v_serviceaccount(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    }
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
}

/* ---- nodes ---- */

static void v_taints(ek_field_errors_t *e, const json_t *taints)
{
    static const char *const effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute", NULL };
    size_t i, j;
    json_t *t;
    json_array_foreach (taints, i, t) {
        /* Kubernetes reports node taints under metadata.taints. */
        ek_autofree char *ip = ek__p("metadata.taints[%zu]", i);
        ek_autofree char *kp = ek__p("%s.key", ip);
        ek__v_label_name(e, ek__sstr(t, "key"), kp);
        const char *value = ek__sstr(t, "value"), *effect = ek__sstr(t, "effect");
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_label_value(value, &m)) {
            ek_autofree char *vp = ek__p("%s.value", ip);
            ek_autobuf b = EK_BUF_INIT;
            for (const char *p = m.buf; *p; p += strlen(p) + 1) {
                ek_buf_printf(&b, "%s%s", b.len ? ";" : "", p);
            }
            ek__fe_invalid_s(e, vp, value, "%s", b.data);
        }
        ek_autofree char *ep = ek__p("%s.effect", ip);
        if (!*effect) {
            ek__fe_required(e, ep, "");
        } else if (!in_list(effect, effects)) {
            ek__fe_not_supported_s(e, ep, effect, effects);
        }
        for (j = 0; j < i; j++) {
            const json_t *o = json_array_get(taints, j);
            if (strcmp(ek__sstr(o, "key"), ek__sstr(t, "key")) == 0 &&
                strcmp(ek__sstr(o, "effect"), effect) == 0) {
                ek_autofree char *raw = ek__p("core.Taint{Key:\"%s\", Value:\"%s\", Effect:\"%s\", "
                                              "TimeAdded:(*v1.Time)(nil)}",
                                              ek__sstr(t, "key"), value, effect);
                ek__fe(e, EK_FE_DUPLICATE, ip, raw, "taints must be unique by key and effect pair");
                break;
            }
        }
    }
}

static void v_node_resources(ek_field_errors_t *e, const json_t *status)
{
    static const char *const lists[] = { "capacity", "allocatable" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(lists); i++) {
        const char *k;
        json_t *v;
        json_object_foreach (ek__obj(status, lists[i]), k, v) {
            ek_autofree char *p = ek__p("status.%s.%s", lists[i], k);
            ek_quantity_t q;
            ek__v_resource_quantity(e, k, v, p, &q);
        }
    }
}

static void v_pod_cidrs(ek_field_errors_t *e, const json_t *spec)
{
    const json_t *cidrs = ek__arr(spec, "podCIDRs");
    size_t i, j;
    json_t *c;
    json_array_foreach (cidrs, i, c) {
        const char *s = json_is_string(c) ? json_string_value(c) : "";
        if (!ek__is_cidr(s)) {
            ek_autofree char *p = ek__p("spec.podCIDRs[%zu]", i);
            ek__fe_invalid_s(e, p, s,
                             "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
        }
    }
    if (json_array_size(cidrs) > 1) {
        int f0 = ek__is_cidr(json_string_value(json_array_get(cidrs, 0)));
        int f1 = ek__is_cidr(json_string_value(json_array_get(cidrs, 1)));
        if (json_array_size(cidrs) > 2 || f0 == f1) {
            ek__fe_invalid_j(e, "spec.podCIDRs", cidrs,
                             "may specify no more than one CIDR for each IP family");
        }
        json_array_foreach (cidrs, i, c) {
            for (j = 0; j < i; j++) {
                if (json_equal(c, json_array_get(cidrs, j))) {
                    ek_autofree char *p = ek__p("spec.podCIDRs[%zu]", i);
                    ek__fe_duplicate_s(e, p, json_string_value(c));
                    break;
                }
            }
        }
    }
}

void ek__v_node(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    const json_t *spec = ek__obj(o, "spec");
    if (!old) {
        ek__v_object_meta(e, o, false, EK_NAME_SUBDOMAIN);
        v_taints(e, ek__arr(spec, "taints"));
        v_node_resources(e, ek__obj(o, "status"));
        v_pod_cidrs(e, spec);
        return;
    }
    const json_t *os = ek__obj(old, "spec");
    ek__v_object_meta_update(e, o, old);
    v_node_resources(e, ek__obj(o, "status"));
    const json_t *ocidrs = ek__arr(os, "podCIDRs");
    if (json_array_size(ocidrs) > 0 && !ek__equal(ocidrs, ek__arr(spec, "podCIDRs"))) {
        ek__fe_forbidden(e, "spec.podCIDRs",
                         "node updates may not change podCIDR except from \"\" to valid");
    }
    const char *opid = ek__sstr(os, "providerID");
    if (*opid && strcmp(opid, ek__sstr(spec, "providerID")) != 0) {
        ek__fe_forbidden(e, "spec.providerID",
                         "node updates may not change providerID except from \"\" to valid");
    }
    v_taints(e, ek__arr(spec, "taints"));
    if (strcmp(ek__sstr(spec, "externalID"), ek__sstr(os, "externalID")) != 0) {
        ek__fe_forbidden(e, "spec.externalID", "may not be updated");
    }
}

/* ---- persistent volumes and claims ---- */

static const char *const access_modes[] = { "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                            "ReadWriteOncePod", NULL };
static const char *const volume_modes[] = { "Block", "Filesystem", NULL };

static void v_access_modes(ek_field_errors_t *e, const json_t *spec, const char *path,
                           const char *required_detail)
{
    const json_t *modes = ek__arr(spec, "accessModes");
    ek_autofree char *p = ek__p("%s.accessModes", path);
    if (json_array_size(modes) == 0 && required_detail) {
        ek__fe_required(e, p, required_detail);
    }
    bool rwop = false, other = false;
    size_t i;
    json_t *m;
    json_array_foreach (modes, i, m) {
        const char *s = json_is_string(m) ? json_string_value(m) : "";
        if (!in_list(s, access_modes)) {
            ek__fe_not_supported_s(e, p, s, access_modes);
        }
        if (strcmp(s, "ReadWriteOncePod") == 0) {
            rwop = true;
        } else if (in_list(s, access_modes)) {
            other = true;
        }
    }
    if (rwop && other) {
        ek__fe_forbidden(e, p, "may not use ReadWriteOncePod with other access modes");
    }
}

static void v_class_name(ek_field_errors_t *e, const json_t *spec, const char *key,
                         const char *path)
{
    const char *sc = ek__str(spec, key);
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (sc && *sc && ek__is_dns1123_subdomain(sc, &m)) {
        ek_autofree char *p = ek__p("%s.%s", path, key);
        ek__fe_invalid_msgs(e, p, sc, &m);
    }
}

static void v_volume_mode(ek_field_errors_t *e, const json_t *spec, const char *path)
{
    const char *vm = ek__str(spec, "volumeMode");
    if (vm && !in_list(vm, volume_modes)) {
        ek_autofree char *p = ek__p("%s.volumeMode", path);
        ek__fe_not_supported_s(e, p, vm, volume_modes);
    }
}

static void v_data_source(ek_field_errors_t *e, const json_t *ds, const char *path)
{
    if (!ds) {
        return;
    }
    const char *kind = ek__sstr(ds, "kind"), *group = ek__sstr(ds, "apiGroup");
    if (!*ek__sstr(ds, "name")) {
        ek_autofree char *p = ek__p("%s.name", path);
        ek__fe_required(e, p, "");
    }
    if (!*kind) {
        ek_autofree char *p = ek__p("%s.kind", path);
        ek__fe_required(e, p, "");
    }
    if (!*group && strcmp(kind, "PersistentVolumeClaim") != 0) {
        ek__fe_invalid_s(e, path, kind,
                         "must be 'PersistentVolumeClaim' when referencing the default apiGroup");
    }
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (*group && ek__is_dns1123_subdomain(group, &m)) {
        ek_autofree char *p = ek__p("%s.apiGroup", path);
        ek__fe_invalid_msgs(e, p, group, &m);
    }
}

void ek__v_pvc_spec(ek_field_errors_t *e, const json_t *spec, const char *path)
{
    if (ek__validate_len(spec, "accessModes") == 0) {
        ek_autofree char *am = ek__p("%s.accessModes", path);
        ek__fe_required(e, am, "at least 1 access mode is required");
    }
    ek_autofree char *sp = ek__p("%s.selector", path);
    ek__v_label_selector(e, ek__obj(spec, "selector"), sp);
    v_access_modes(e, spec, path, NULL);
    ek_autofree char *rp = ek__p("%s.resources[storage]", path);
    const json_t *storage =
        json_object_get(ek__obj(ek__obj(spec, "resources"), "requests"), "storage");
    ek_quantity_t q;
    char buf[EK_QUANTITY_STRLEN];
    if (!storage) {
        ek__fe_required(e, rp, "");
    } else if (ek__quantity_from_json(storage, &q) < 0) {
        ek__fe_invalid_j(e, rp, storage,
                         "quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    } else if (q.sign <= 0) {
        ek__fe_invalid_s(e, rp, ek_quantity_format(&q, buf), "must be greater than zero");
    } else {
        ek__v_resource_quantity(e, "storage", storage, rp, &q);
    }
    v_class_name(e, spec, "storageClassName", path);
    v_volume_mode(e, spec, path);
    ek_autofree char *dsp = ek__p("%s.dataSource", path);
    v_data_source(e, ek__obj(spec, "dataSource"), dsp);
    ek_autofree char *dsrp = ek__p("%s.dataSourceRef", path);
    v_data_source(e, ek__obj(spec, "dataSourceRef"), dsrp);
    v_class_name(e, spec, "volumeAttributesClassName", path);
}

/* A cmp.Diff-like rendering of the differing top-level fields of two specs. */
static char *spec_diff(const char *type, const json_t *old, const json_t *nw)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_printf(&b, "  %s{\n", type);
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)nw, k, v) {
        if (!ek__equal(json_object_get(old, k), v)) {
            ek_autofree char *os = ek__go_json(json_object_get(old, k));
            ek_autofree char *ns = ek__go_json(v);
            ek_buf_printf(&b, "- \t%c%s: %s,\n+ \t%c%s: %s,\n",
                          k[0] - 32 * (k[0] >= 'a' && k[0] <= 'z'), k + 1, os,
                          k[0] - 32 * (k[0] >= 'a' && k[0] <= 'z'), k + 1, ns);
        }
    }
    json_object_foreach ((json_t *)old, k, v) {
        if (!json_object_get(nw, k)) {
            ek_autofree char *os = ek__go_json(v);
            ek_buf_printf(&b, "- \t%c%s: %s,\n", k[0] - 32 * (k[0] >= 'a' && k[0] <= 'z'), k + 1,
                          os);
        }
    }
    ek_buf_puts(&b, "  }\n");
    return ek_buf_steal(&b, NULL);
}

static int qty_cmp_json(const json_t *a, const json_t *b)
{
    ek_quantity_t qa, qb;
    ek_quantity_from_int64(&qa, 0, 0, EK_QUANTITY_DECIMAL_SI);
    ek_quantity_from_int64(&qb, 0, 0, EK_QUANTITY_DECIMAL_SI);
    if (a) {
        ek__quantity_from_json(a, &qa);
    }
    if (b) {
        ek__quantity_from_json(b, &qb);
    }
    return ek_quantity_cmp(&qa, &qb);
}

static const json_t *storage_request(const json_t *spec)
{
    return json_object_get(ek__obj(ek__obj(spec, "resources"), "requests"), "storage");
}

static void v_pvc_update(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    const json_t *ns = ek__obj(o, "spec"), *os = ek__obj(old, "spec");
    ek_auto(json_t) nc = json_deep_copy(ns ? ns : json_object());
    ek_auto(json_t) oc = json_deep_copy(os ? os : json_object());
    if (!*ek__sstr(os, "volumeName")) {
        json_t *vn = json_object_get(nc, "volumeName");
        if (vn) {
            json_object_set(oc, "volumeName", vn);
        }
    }
    if (!ek__has(os, "storageClassName") && ek__has(ns, "storageClassName")) {
        json_object_set(oc, "storageClassName", json_object_get(nc, "storageClassName"));
    }
    bool bound = strcmp(ek__sstr(ek__obj(o, "status"), "phase"), "Bound") == 0;
    json_t *nreq = ek__obj(ek__obj(nc, "resources"), "requests");
    if (bound && nreq) {
        const json_t *osz = storage_request(os);
        if (osz) {
            json_object_set(nreq, "storage", (json_t *)osz);
        } else {
            json_object_del(nreq, "storage");
        }
    }
    if (bound && ek__has(nc, "volumeAttributesClassName")) {
        json_object_set(nc, "volumeAttributesClassName",
                        json_object_get(oc, "volumeAttributesClassName"));
    }
    if (!ek__equal(nc, oc)) {
        ek_autofree char *diff = spec_diff("core.PersistentVolumeClaimSpec", oc, nc);
        ek_autofree char *d = ek__p("spec is immutable after creation except resources.requests "
                                    "and volumeAttributesClassName for bound claims\n%s",
                                    diff);
        ek__fe_forbidden(e, "spec", d);
    }
    /* RecoverVolumeExpansionFailure (beta in 1.32): shrink only down to status.capacity. */
    const json_t *cap = json_object_get(ek__obj(ek__obj(old, "status"), "capacity"), "storage");
    if (qty_cmp_json(storage_request(ns), storage_request(os)) < 0 &&
        qty_cmp_json(storage_request(ns), cap) <= 0) {
        ek__fe_forbidden(e, "spec.resources.requests.storage",
                         "field can not be less than status.capacity");
    }
    ek__v_immutable(e, json_object_get(ns, "volumeMode"), json_object_get(os, "volumeMode"),
                    "volumeMode");
}

void ek__v_pvc(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    }
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    ek__v_pvc_spec(e, ek__obj(o, "spec"), "spec");
    if (old) {
        v_pvc_update(e, o, old);
    }
}

/* In validatePersistentVolumeSpec's order; "flexVolume" is never reported as a second type. */
static const char *const pv_sources[] = { "hostPath",
                                          "gcePersistentDisk",
                                          "awsElasticBlockStore",
                                          "glusterfs",
                                          "flocker",
                                          "nfs",
                                          "rbd",
                                          "quobyte",
                                          "cephfs",
                                          "iscsi",
                                          "cinder",
                                          "fc",
                                          "flexVolume",
                                          "azureFile",
                                          "vsphereVolume",
                                          "photonPersistentDisk",
                                          "portworxVolume",
                                          "azureDisk",
                                          "scaleIO",
                                          "local",
                                          "storageos",
                                          "csi",
                                          NULL };

static void v_pv_source(ek_field_errors_t *e, const json_t *spec, const char *key)
{
    const json_t *s = ek__obj(spec, key);
    ek_autofree char *p = ek__p("spec.%s", key);
    if (strcmp(key, "hostPath") == 0 || strcmp(key, "local") == 0) {
        const char *hp = ek__sstr(s, "path");
        ek_autofree char *pp = ek__p("%s.path", p);
        if (!*hp) {
            ek__fe_required(e, pp, "");
        } else if (strstr(hp, "/../") || strncmp(hp, "../", 3) == 0 || strcmp(hp, "..") == 0 ||
                   (strlen(hp) >= 3 && strcmp(hp + strlen(hp) - 3, "/..") == 0)) {
            ek__fe_invalid_s(e, pp, hp, "must not contain '..'");
        }
    } else if (strcmp(key, "nfs") == 0) {
        if (!*ek__sstr(s, "server")) {
            ek__fe_required(e, "spec.nfs.server", "");
        }
        if (!*ek__sstr(s, "path")) {
            ek__fe_required(e, "spec.nfs.path", "");
        }
        if (ek__sstr(s, "path")[0] != '/') {
            ek__fe_invalid_s(e, "spec.nfs.path", ek__sstr(s, "path"), "must be an absolute path");
        }
    } else if (strcmp(key, "csi") == 0) {
        ek__v_csi_driver(e, ek__sstr(s, "driver"), "spec.csi.driver");
        if (!*ek__sstr(s, "volumeHandle")) {
            ek__fe_required(e, "spec.csi.volumeHandle", "");
        }
    }
}

static void v_pv_capacity(ek_field_errors_t *e, const json_t *spec)
{
    const json_t *cap = ek__obj(spec, "capacity");
    if (json_object_size(cap) == 0) {
        ek__fe_required(e, "spec.capacity", "");
    }
    if (!json_object_get(cap, "storage") || json_object_size(cap) > 1) {
        static const char *const valid[] = { "storage", NULL };
        ek_autobuf b = EK_BUF_INIT;
        ek_buf_puts(&b, "core.ResourceList{");
        const char *k;
        json_t *v;
        int n = 0;
        json_object_foreach ((json_t *)cap, k, v) {
            ek_autofree char *qk = ek__go_quote(k);
            ek_autofree char *qv = ek__go_json(v);
            ek_buf_printf(&b, "%s%s:%s", n++ ? ", " : "", qk, qv);
        }
        ek_buf_putc(&b, '}');
        ek__fe_not_supported_raw(e, "spec.capacity",
                                 json_object_size(cap) ? b.data : "core.ResourceList(nil)", valid);
    }
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)cap, k, v) {
        ek_autofree char *p = ek__p("spec.capacity[%s]", k);
        ek_quantity_t q;
        char buf[EK_QUANTITY_STRLEN];
        if (ek__quantity_from_json(v, &q) < 0) {
            ek__fe_invalid_j(e, p, v, "must be a valid resource quantity");
            continue;
        }
        if (q.sign < 0) {
            ek_quantity_t whole = q;
            ek_quantity_round_up(&whole, 0);
            ek__fe_invalid_raw(e, p, ek_quantity_format(&whole, buf),
                               "must be a valid resource quantity");
        }
        if (q.sign <= 0) {
            ek__fe_invalid_s(e, p, ek_quantity_format(&q, buf), "must be greater than zero");
        }
    }
}

static void v_pv_spec(ek_field_errors_t *e, const json_t *spec)
{
    v_access_modes(e, spec, "spec", "");
    v_pv_capacity(e, spec);
    const char *rp = ek__sstr(spec, "persistentVolumeReclaimPolicy");
    static const char *const policies[] = { "Delete", "Recycle", "Retain", NULL };
    if (*rp && !in_list(rp, policies)) {
        ek__fe_not_supported_s(e, "spec.persistentVolumeReclaimPolicy", rp, policies);
    }
    const json_t *na = ek__obj(spec, "nodeAffinity");
    if (na) {
        const json_t *req = ek__obj(na, "required");
        if (req) {
            ek__v_node_selector(e, req, "spec.nodeAffinity.required");
        } else {
            ek__fe_required(e, "spec.nodeAffinity.required",
                            "must specify required node constraints");
        }
    }
    int n = 0;
    for (size_t i = 0; pv_sources[i]; i++) {
        if (!ek__obj(spec, pv_sources[i])) {
            continue;
        }
        if (n > 0 && strcmp(pv_sources[i], "flexVolume") != 0) {
            ek_autofree char *p = ek__p("spec.%s", pv_sources[i]);
            ek__fe_forbidden(e, p, "may not specify more than 1 volume type");
            continue;
        }
        n++;
        v_pv_source(e, spec, pv_sources[i]);
        if (strcmp(pv_sources[i], "local") == 0 && !na) {
            ek__fe_required(e, "spec.nodeAffinity", "Local volume requires node affinity");
        }
    }
    if (n == 0) {
        ek__fe_required(e, "spec", "must specify a volume type");
    }
    const json_t *hp = ek__obj(spec, "hostPath");
    if (hp && strcmp(rp, "Recycle") == 0 &&
        strspn(ek__sstr(hp, "path"), "/") == strlen(ek__sstr(hp, "path")) &&
        *ek__sstr(hp, "path")) {
        ek__fe_forbidden(e, "spec.persistentVolumeReclaimPolicy",
                         "may not be 'recycle' for a hostPath mount of '/'");
    }
    v_class_name(e, spec, "storageClassName", "spec");
    v_volume_mode(e, spec, "spec");
}

void ek__v_pv(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    }
    ek__v_object_meta(e, o, false, EK_NAME_SUBDOMAIN);
    const json_t *spec = ek__obj(o, "spec");
    v_pv_spec(e, spec);
    if (!old) {
        return;
    }
    const json_t *os = ek__obj(old, "spec");
    ek_auto(json_t) nsrc = json_object();
    ek_auto(json_t) osrc = json_object();
    for (size_t i = 0; pv_sources[i]; i++) {
        json_t *v = json_object_get(spec, pv_sources[i]), *ov = json_object_get(os, pv_sources[i]);
        if (v) {
            json_object_set(nsrc, pv_sources[i], v);
        }
        if (ov) {
            json_object_set(osrc, pv_sources[i], ov);
        }
    }
    /* A CSI controllerExpandSecretRef may be added later. */
    json_t *ncsi = ek__obj(nsrc, "csi"), *ocsi = ek__obj(osrc, "csi");
    if (ncsi && ocsi && !ek__has(ocsi, "controllerExpandSecretRef")) {
        json_t *copy = json_deep_copy(ncsi);
        json_object_del(copy, "controllerExpandSecretRef");
        json_object_set_new(nsrc, "csi", copy);
    }
    if (!json_equal(nsrc, osrc)) {
        ek_autofree char *diff = spec_diff("core.PersistentVolumeSource", osrc, nsrc);
        ek_autofree char *d =
            ek__p("spec.persistentvolumesource is immutable after creation\n%s", diff);
        ek__fe_forbidden(e, "spec.persistentvolumesource", d);
    }
    ek__v_immutable(e, json_object_get(spec, "volumeMode"), json_object_get(os, "volumeMode"),
                    "volumeMode");
    if (ek__has(os, "nodeAffinity") &&
        !ek__equal(json_object_get(spec, "nodeAffinity"), json_object_get(os, "nodeAffinity"))) {
        ek__fe_invalid_j(e, "nodeAffinity", json_object_get(spec, "nodeAffinity"),
                         EK_MSG_IMMUTABLE ", except for updating from beta label to GA");
    }
}

/* ---- limit ranges and quotas ---- */

static bool is_standard_limit_type(const char *t)
{
    return strcmp(t, "Pod") == 0 || strcmp(t, "Container") == 0 ||
           strcmp(t, "PersistentVolumeClaim") == 0;
}

static void v_limit_names(ek_field_errors_t *e, const json_t *item, const char *key,
                          const char *type, const char *path)
{
    const char *k;
    json_t *v;
    bool container = strcmp(type, "Pod") == 0 || strcmp(type, "Container") == 0;
    json_object_foreach (ek__obj(item, key), k, v) {
        ek_autofree char *p = ek__p("%s.%s[%s]", path, key, k);
        ek__v_resource_name(e, k, p, container ? 1 : 0);
    }
}

static bool get_qty(const json_t *item, const char *list, const char *k, ek_quantity_t *q)
{
    const json_t *v = json_object_get(ek__obj(item, list), k);
    return v && ek__quantity_from_json(v, q) == 0;
}

static void v_limit_pair(ek_field_errors_t *e, const json_t *item, const char *k, const char *path)
{
    ek_quantity_t min, max, def, defreq, ratio;
    bool hmin = get_qty(item, "min", k, &min), hmax = get_qty(item, "max", k, &max);
    bool hdef = get_qty(item, "default", k, &def),
         hdr = get_qty(item, "defaultRequest", k, &defreq);
    bool hratio = get_qty(item, "maxLimitRequestRatio", k, &ratio);
    char a[EK_QUANTITY_STRLEN], b[EK_QUANTITY_STRLEN];
#define QS(q, buf) ek_quantity_format(&(q), buf)
    if (hmin && hmax && ek_quantity_cmp(&min, &max) > 0) {
        ek_autofree char *p = ek__p("%s.min[%s]", path, k);
        ek__fe_invalid_raw(e, p, QS(min, a), "min value %s is greater than max value %s", a,
                           QS(max, b));
    }
    if (hdr && hmin && ek_quantity_cmp(&min, &defreq) > 0) {
        ek_autofree char *p = ek__p("%s.defaultRequest[%s]", path, k);
        ek__fe_invalid_raw(e, p, QS(defreq, b),
                           "min value %s is greater than default request value %s", QS(min, a), b);
    }
    if (hdr && hmax && ek_quantity_cmp(&defreq, &max) > 0) {
        ek_autofree char *p = ek__p("%s.defaultRequest[%s]", path, k);
        ek__fe_invalid_raw(e, p, QS(defreq, a),
                           "default request value %s is greater than max value %s", a, QS(max, b));
    }
    if (hdr && hdef && ek_quantity_cmp(&defreq, &def) > 0) {
        ek_autofree char *p = ek__p("%s.defaultRequest[%s]", path, k);
        ek__fe_invalid_raw(e, p, QS(defreq, a),
                           "default request value %s is greater than default limit value %s", a,
                           QS(def, b));
    }
    if (hdef && hmin && ek_quantity_cmp(&min, &def) > 0) {
        ek_autofree char *p = ek__p("%s.default[%s]", path, k);
        ek__fe_invalid_raw(e, p, QS(min, a), "min value %s is greater than default value %s", a,
                           QS(def, b));
    }
    if (hdef && hmax && ek_quantity_cmp(&def, &max) > 0) {
        ek_autofree char *p = ek__p("%s.default[%s]", path, k);
        ek__fe_invalid_raw(e, p, QS(max, b), "default value %s is greater than max value %s",
                           QS(def, a), b);
    }
    ek_quantity_t one;
    ek_quantity_from_int64(&one, 1, 0, EK_QUANTITY_DECIMAL_SI);
    if (hratio && ek_quantity_cmp(&ratio, &one) < 0) {
        ek_autofree char *p = ek__p("%s.maxLimitRequestRatio[%s]", path, k);
        ek__fe_invalid_raw(e, p, QS(ratio, a), "ratio %s is less than 1", a);
    }
#undef QS
}

static void v_limit_item(ek_field_errors_t *e, const json_t *item, json_t *types, const char *ip)
{
    ek_autofree char *tp = ek__p("%s.type", ip);
    const char *type = ek__sstr(item, "type");
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (ek__is_qualified_name(type, &m)) {
        ek__fe_invalid_msgs(e, tp, type, &m);
    } else if (!strchr(type, '/') && !is_standard_limit_type(type)) {
        ek__fe_invalid_s(e, tp, type, "must be a standard limit type or fully qualified");
    }
    if (json_object_get(types, type)) {
        ek__fe_duplicate_s(e, tp, type);
    }
    json_object_set_new(types, type, json_true());
    v_limit_names(e, item, "max", type, ip);
    v_limit_names(e, item, "min", type, ip);
    if (strcmp(type, "Pod") == 0) {
        static const char *const forbidden[] = { "default", "defaultRequest" };
        for (size_t f = 0; f < EK_ARRAY_SIZE(forbidden); f++) {
            if (ek__validate_len(item, forbidden[f]) > 0) {
                ek_autofree char *fp = ek__p("%s.%s", ip, forbidden[f]);
                ek__fe_forbidden(e, fp, "may not be specified when `type` is 'Pod'");
            }
        }
    } else {
        v_limit_names(e, item, "default", type, ip);
        v_limit_names(e, item, "defaultRequest", type, ip);
    }
    if (strcmp(type, "PersistentVolumeClaim") == 0 &&
        !json_object_get(ek__obj(item, "min"), "storage") &&
        !json_object_get(ek__obj(item, "max"), "storage")) {
        ek_autofree char *lp = ek__p("%s.limits", ip);
        ek__fe_required(
            e, lp, "either minimum or maximum storage value is required, but neither was provided");
    }
    v_limit_names(e, item, "maxLimitRequestRatio", type, ip);
    ek_auto(json_t) keys = json_object();
    static const char *const lists[] = { "max", "min", "default", "defaultRequest",
                                         "maxLimitRequestRatio" };
    for (size_t l = 0; l < EK_ARRAY_SIZE(lists); l++) {
        const char *k;
        json_t *v;
        json_object_foreach (ek__obj(item, lists[l]), k, v) {
            json_object_set_new(keys, k, json_true());
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach (keys, k, v) {
        v_limit_pair(e, item, k, ip);
    }
}

void ek__v_limitrange(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    }
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    ek_auto(json_t) types = json_object();
    size_t i;
    json_t *item;
    json_array_foreach (ek__arr(ek__obj(o, "spec"), "limits"), i, item) {
        ek_autofree char *ip = ek__p("spec.limits[%zu]", i);
        v_limit_item(e, item, types, ip);
    }
}

static const char *const quota_resources[] = { "pods",
                                               "memory",
                                               "cpu",
                                               "ephemeral-storage",
                                               "requests.cpu",
                                               "requests.memory",
                                               "requests.storage",
                                               "requests.ephemeral-storage",
                                               "limits.cpu",
                                               "limits.memory",
                                               "limits.ephemeral-storage",
                                               "persistentvolumeclaims",
                                               "configmaps",
                                               "replicationcontrollers",
                                               "resourcequotas",
                                               "secrets",
                                               "services",
                                               "services.nodeports",
                                               "services.loadbalancers",
                                               NULL };

static void v_quota_list(ek_field_errors_t *e, const json_t *list, const char *path)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)list, k, v) {
        ek_autofree char *p = ek__p("%s[%s]", path, k);
        if (ek__v_resource_name(e, k, p, 0) == 0 && !strchr(k, '/') &&
            !in_list(k, quota_resources) && strncmp(k, "hugepages-", 10) != 0 &&
            strncmp(k, "requests.hugepages-", 19) != 0) {
            ek__fe_invalid_s(e, p, k, "must be a standard resource for quota");
        }
        ek_quantity_t q;
        ek__v_resource_quantity(e, k, v, p, &q);
    }
}

static void v_quota_scopes(ek_field_errors_t *e, const json_t *spec)
{
    static const char *const scopes[] = { "Terminating",
                                          "NotTerminating",
                                          "BestEffort",
                                          "NotBestEffort",
                                          "PriorityClass",
                                          "CrossNamespacePodAffinity",
                                          NULL };
    const json_t *list = ek__arr(spec, "scopes");
    bool be = false, nbe = false, term = false, nterm = false;
    size_t i;
    json_t *s;
    json_array_foreach (list, i, s) {
        const char *v = json_is_string(s) ? json_string_value(s) : "";
        if (!in_list(v, scopes)) {
            ek__fe_invalid_j(e, "spec.scopes", list, "unsupported scope");
        }
        be |= strcmp(v, "BestEffort") == 0;
        nbe |= strcmp(v, "NotBestEffort") == 0;
        term |= strcmp(v, "Terminating") == 0;
        nterm |= strcmp(v, "NotTerminating") == 0;
    }
    if ((be && nbe) || (term && nterm)) {
        ek__fe_invalid_j(e, "spec.scopes", list, "conflicting scopes");
    }
}

void ek__v_resourcequota(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    } else {
        ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    }
    const json_t *spec = ek__obj(o, "spec");
    v_quota_list(e, ek__obj(spec, "hard"), "spec.hard");
    v_quota_scopes(e, spec);
    if (old) {
        const json_t *os = ek__obj(old, "spec");
        if (!ek__equal(ek__arr(spec, "scopes"), ek__arr(os, "scopes"))) {
            ek__fe_invalid_j(e, "spec.scopes", ek__arr(spec, "scopes"), EK_MSG_IMMUTABLE);
        }
        return;
    }
    const json_t *status = ek__obj(o, "status");
    v_quota_list(e, ek__obj(status, "hard"), "status.hard");
    v_quota_list(e, ek__obj(status, "used"), "status.used");
}

/* ---- events ---- */

/* An Event accessor over both shapes: core/v1 names and events.k8s.io/v1 names. */
typedef struct event_view {
    const char *ns, *involved_ns, *reporting_controller, *reporting_instance, *action, *reason,
        *message;
    bool has_event_time;
} event_view_t;

static void legacy_event(ek_field_errors_t *e, const event_view_t *v, const char *rc_field)
{
    if (!v->has_event_time) {
        if (!*v->involved_ns) {
            if (*v->ns && strcmp(v->ns, "default") != 0) {
                ek__fe_invalid_s(e, "involvedObject.namespace", v->involved_ns,
                                 "does not match event.namespace");
            }
        } else if (strcmp(v->ns, v->involved_ns) != 0) {
            ek__fe_invalid_s(e, "involvedObject.namespace", v->involved_ns,
                             "does not match event.namespace");
        }
    } else {
        if (!*v->involved_ns && strcmp(v->ns, "default") != 0 &&
            strcmp(v->ns, "kube-system") != 0) {
            ek__fe_invalid_s(e, "involvedObject.namespace", v->involved_ns,
                             "does not match event.namespace");
        }
        if (!*v->reporting_controller) {
            ek__fe_required(e, rc_field, "");
        }
        ek__v_label_name(e, v->reporting_controller, rc_field);
        static const struct {
            const char *field;
            size_t limit;
            bool required;
        } limits[] = { { "reportingInstance", 128, true },
                       { "action", 128, true },
                       { "reason", 128, true },
                       { "message", 1024, false } };
        const char *vals[] = { v->reporting_instance, v->action, v->reason, v->message };
        for (size_t i = 0; i < EK_ARRAY_SIZE(limits); i++) {
            if (limits[i].required && !*vals[i]) {
                ek__fe_required(e, limits[i].field, "");
            }
            if (strlen(vals[i]) > limits[i].limit) {
                ek__fe_invalid_s(e, limits[i].field, "", "can have at most %zu characters",
                                 limits[i].limit);
            }
        }
    }
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (ek__is_dns1123_subdomain(v->ns, &m)) {
        ek__fe_invalid_msgs(e, "namespace", v->ns, &m);
    }
}

void ek__v_event(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    const json_t *io = ek__obj(o, "involvedObject");
    event_view_t v = {
        .ns = ek__sstr(ek__obj(o, "metadata"), "namespace"),
        .involved_ns = ek__sstr(io, "namespace"),
        .reporting_controller = ek__sstr(o, "reportingComponent"),
        .reporting_instance = ek__sstr(o, "reportingInstance"),
        .action = ek__sstr(o, "action"),
        .reason = ek__sstr(o, "reason"),
        .message = ek__sstr(o, "message"),
        .has_event_time = ek__has(o, "eventTime"),
    };
    /* core/v1 requests get only the legacy rules, on create and on update. */
    legacy_event(e, &v, "reportingComponent");
    (void)old;
}

void ek__v_events_v1(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    const json_t *reg = ek__obj(o, "regarding");
    event_view_t v = {
        .ns = ek__sstr(ek__obj(o, "metadata"), "namespace"),
        .involved_ns = ek__sstr(reg, "namespace"),
        .reporting_controller = ek__sstr(o, "reportingController"),
        .reporting_instance = ek__sstr(o, "reportingInstance"),
        .action = ek__sstr(o, "action"),
        .reason = ek__sstr(o, "reason"),
        .message = ek__sstr(o, "note"),
        .has_event_time = ek__has(o, "eventTime"),
    };
    legacy_event(e, &v, "reportingController");
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    if (!v.has_event_time) {
        ek__fe_required(e, "eventTime", "");
    }
    const char *type = ek__sstr(o, "type");
    if (strcmp(type, "Normal") != 0 && strcmp(type, "Warning") != 0) {
        ek__fe_invalid_s(e, "type", "", "has invalid value: %s", type);
    }
    static const char *const unset[] = { "deprecatedFirstTimestamp", "deprecatedLastTimestamp" };
    static const char *const names[] = { "firstTimestamp", "lastTimestamp" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(unset); i++) {
        if (ek__has(o, unset[i])) {
            ek__fe_invalid_s(e, names[i], "", "needs to be unset");
        }
    }
    if (ek__intd(o, "deprecatedCount", 0) != 0) {
        ek__fe_invalid_s(e, "count", "", "needs to be unset");
    }
    const json_t *src = ek__obj(o, "deprecatedSource");
    if (*ek__sstr(src, "component") || *ek__sstr(src, "host")) {
        ek__fe_invalid_s(e, "source", "", "needs to be unset");
    }
    if (old) {
        static const char *const immutable[] = {
            "regarding",         "reason",   "note", "action", "reportingController",
            "reportingInstance", "eventTime"
        };
        static const char *const internal[] = {
            "involvedObject",    "reason",   "message", "action", "reportingController",
            "reportingInstance", "eventTime"
        };
        for (size_t i = 0; i < EK_ARRAY_SIZE(immutable); i++) {
            ek__v_immutable(e, json_object_get(o, immutable[i]), json_object_get(old, immutable[i]),
                            internal[i]);
        }
    }
}
