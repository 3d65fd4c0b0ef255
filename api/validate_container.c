/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Containers (core validation's validateContainerCommon, validateContainers and
 * validateInitContainers): name and image, ports, env and envFrom with the downward API
 * selectors, volume mounts against the pod's volumes, pull and termination-message
 * policies, resources (names, quantities, requests <= limits), probes and lifecycle
 * handlers, and the container security context.
 */
#include <stdio.h>

#include "api/validate-internal.h"

#define QTY_FORMAT_MSG                              \
    "quantities must match the regular expression " \
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- resource names and quantities (also used by quota, limit ranges, PVs) ---- */

static bool is_native_resource(const char *n)
{
    return !strchr(n, '/') || strstr(n, "kubernetes.io/");
}

static bool is_extended_resource(const char *n)
{
    if (is_native_resource(n) || strncmp(n, "requests.", 9) == 0) {
        return false;
    }
    ek_autofree char *q = ek__p("requests.%s", n);
    ek__msgs_t m;
    ek__msgs_init(&m);
    return ek__is_qualified_name(q, &m) == 0;
}

static bool is_hugepages(const char *n)
{
    return strncmp(n, "hugepages-", 10) == 0;
}

static bool is_overcommit_allowed(const char *n)
{
    return is_native_resource(n) && !is_hugepages(n);
}

static const char *const standard_resources[] = { "cpu",
                                                  "memory",
                                                  "ephemeral-storage",
                                                  "requests.cpu",
                                                  "requests.memory",
                                                  "requests.ephemeral-storage",
                                                  "limits.cpu",
                                                  "limits.memory",
                                                  "limits.ephemeral-storage",
                                                  "pods",
                                                  "services",
                                                  "replicationcontrollers",
                                                  "resourcequotas",
                                                  "secrets",
                                                  "persistentvolumeclaims",
                                                  "requests.storage",
                                                  "configmaps",
                                                  "services.loadbalancers",
                                                  "services.nodeports",
                                                  NULL };

static const char *const integer_resources[] = { "pods",
                                                 "services",
                                                 "replicationcontrollers",
                                                 "resourcequotas",
                                                 "secrets",
                                                 "configmaps",
                                                 "persistentvolumeclaims",
                                                 "services.nodeports",
                                                 "services.loadbalancers",
                                                 NULL };

static bool is_quota_hugepages(const char *n)
{
    return is_hugepages(n) || strncmp(n, "requests.hugepages-", 19) == 0;
}

/* validateResourceName and its container / quota refinements; returns errors added. */
size_t ek__v_resource_name(ek_field_errors_t *e, const char *n, const char *path, int kind)
{
    size_t before = e->n;
    ek__msgs_t m;
    ek__msgs_init(&m);
    bool plain = !strchr(n, '/');
    if (ek__is_qualified_name(n, &m)) {
        ek__fe_invalid_msgs(e, path, n, &m);
    } else if (plain && !in_list(n, standard_resources) && !is_quota_hugepages(n)) {
        ek__fe_invalid_s(e, path, n, "must be a standard resource type or fully qualified");
    }
    /* validateContainerResourceName adds its own rule whatever the generic one said. */
    if (kind == 1) {
        if (plain && strcmp(n, "cpu") != 0 && strcmp(n, "memory") != 0 &&
            strcmp(n, "ephemeral-storage") != 0 && !is_hugepages(n)) {
            ek__fe_invalid_s(e, path, n, "must be a standard resource for containers");
        } else if (!plain && !is_native_resource(n) && !is_extended_resource(n)) {
            ek__fe_invalid_s(e, path, n, "doesn't follow extended resource name standard");
        }
    }
    return e->n - before;
}

/* ValidateResourceQuantityValue; *q receives the parsed value. Returns -1 if unparsable. */
int ek__v_resource_quantity(ek_field_errors_t *e, const char *name, const json_t *v,
                            const char *path, ek_quantity_t *q)
{
    if (ek__quantity_from_json(v, q) < 0) {
        ek__fe_invalid_j(e, path, v, QTY_FORMAT_MSG);
        return -1;
    }
    char buf[EK_QUANTITY_STRLEN];
    if (q->sign < 0) {
        ek__fe_invalid_s(e, path, ek_quantity_format(q, buf), EK_MSG_NEGATIVE);
    }
    if ((in_list(name, integer_resources) || is_extended_resource(name)) &&
        !ek__quantity_is_integer(q)) {
        ek__fe_invalid_raw(e, path, ek_quantity_format(q, buf), "must be an integer");
    }
    return 0;
}

static void v_limits(ek_field_errors_t *e, const json_t *lims, const char *lpath, bool *cpumem,
                     bool *huge)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)lims, k, v) {
        ek_autofree char *p = ek__p("%s[%s]", lpath, k);
        ek__v_resource_name(e, k, p, 1);
        ek_quantity_t q;
        ek__v_resource_quantity(e, k, v, p, &q);
        *huge |= is_hugepages(k);
        *cpumem |= strcmp(k, "cpu") == 0 || strcmp(k, "memory") == 0;
    }
}

static void v_request_vs_limit(ek_field_errors_t *e, const char *k, const ek_quantity_t *rq,
                               const json_t *lims, const char *rpath, const char *lpath)
{
    const json_t *lv = json_object_get(lims, k);
    ek_quantity_t lq;
    char rb[EK_QUANTITY_STRLEN], lb[EK_QUANTITY_STRLEN];
    if (lv && ek__quantity_from_json(lv, &lq) == 0) {
        int c = ek_quantity_cmp(rq, &lq);
        ek_quantity_format(rq, rb);
        ek_quantity_format(&lq, lb);
        if (c != 0 && !is_overcommit_allowed(k)) {
            ek__fe_invalid_s(e, rpath, rb, "must be equal to %s limit of %s", k, lb);
        } else if (c > 0) {
            ek__fe_invalid_s(e, rpath, rb, "must be less than or equal to %s limit of %s", k, lb);
        }
    } else if (!lv && !is_overcommit_allowed(k)) {
        ek__fe_required(e, lpath, "Limit must be set for non overcommitable resources");
    }
}

void ek__v_resource_requirements(ek_field_errors_t *e, const json_t *res, const char *path)
{
    ek_autofree char *lpath = ek__p("%s.limits", path);
    ek_autofree char *rpath = ek__p("%s.requests", path);
    const json_t *lims = ek__obj(res, "limits");
    bool cpumem = false, huge = false;
    v_limits(e, lims, lpath, &cpumem, &huge);
    const char *k;
    json_t *v;
    json_object_foreach (ek__obj(res, "requests"), k, v) {
        ek_autofree char *p = ek__p("%s[%s]", rpath, k);
        ek__v_resource_name(e, k, p, 1);
        ek_quantity_t q;
        if (ek__v_resource_quantity(e, k, v, p, &q) == 0) {
            v_request_vs_limit(e, k, &q, lims, rpath, lpath);
        }
        huge |= is_hugepages(k);
        cpumem |= strcmp(k, "cpu") == 0 || strcmp(k, "memory") == 0;
    }
    if (!cpumem && huge) {
        ek__fe_forbidden(e, path, "HugePages require cpu or memory");
    }
    size_t i;
    json_t *c;
    /* Dynamic resource allocation is off in 1.32: a claim only needs a name here. */
    json_array_foreach (ek__arr(res, "claims"), i, c) {
        if (!*ek__sstr(c, "name")) {
            ek_autofree char *cp = ek__p("%s.claims[%zu]", path, i);
            ek__fe_required(e, cp, "");
        }
    }
}

/* ---- ports, env ---- */

static void v_ports(ek_field_errors_t *e, const json_t *ports, const char *path)
{
    ek_auto(json_t) names = json_object();
    size_t i;
    json_t *p;
    json_array_foreach (ports, i, p) {
        ek_autofree char *ip = ek__p("%s[%zu]", path, i);
        ek_autofree char *np = ek__p("%s.name", ip);
        const char *name = ek__sstr(p, "name");
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (*name) {
            if (ek__is_port_name(name, &m)) {
                ek__fe_invalid_msgs(e, np, name, &m);
            } else if (json_object_get(names, name)) {
                ek__fe_duplicate_s(e, np, name);
            } else {
                json_object_set_new(names, name, json_true());
            }
        }
        long long cp = ek__intd(p, "containerPort", 0), hp = ek__intd(p, "hostPort", 0);
        ek_autofree char *cpp = ek__p("%s.containerPort", ip);
        if (cp == 0) {
            ek__fe_required(e, cpp, "");
        } else if (!ek__is_port_num(cp)) {
            ek__fe_invalid_i(e, cpp, cp, EK_MSG_PORT_RANGE);
        }
        if (hp != 0 && !ek__is_port_num(hp)) {
            ek_autofree char *hpp = ek__p("%s.hostPort", ip);
            ek__fe_invalid_i(e, hpp, hp, EK_MSG_PORT_RANGE);
        }
        const char *proto = ek__sstr(p, "protocol");
        ek_autofree char *pp = ek__p("%s.protocol", ip);
        static const char *const protos[] = { "SCTP", "TCP", "UDP", NULL };
        if (!*proto) {
            ek__fe_required(e, pp, "");
        } else if (!in_list(proto, protos)) {
            ek__fe_not_supported_s(e, pp, proto, protos);
        }
    }
}

/* pods.ConvertDownwardAPIFieldLabel: NULL when fine, else the conversion error. */
static char *convert_field_label(const char *version, const char *label)
{
    static const char *const labels[] = {
        "metadata.annotations", "metadata.labels", "metadata.name",      "metadata.namespace",
        "metadata.uid",         "spec.nodeName",   "spec.restartPolicy", "spec.serviceAccountName",
        "spec.schedulerName",   "status.phase",    "status.hostIP",      "status.hostIPs",
        "status.podIP",         "status.podIPs",   "spec.host",          NULL
    };
    if (strcmp(version, "v1") != 0) {
        return ek__p("unsupported pod version: %s", version);
    }
    size_t n = strlen(label);
    const char *open = strstr(label, "['");
    if (n > 2 && strcmp(label + n - 2, "']") == 0 && open && open != label) {
        size_t plen = (size_t)(open - label);
        if ((plen == 20 && strncmp(label, "metadata.annotations", 20) == 0) ||
            (plen == 15 && strncmp(label, "metadata.labels", 15) == 0)) {
            return NULL;
        }
        return ek__p("field label does not support subscript: %s", label);
    }
    return in_list(label, labels) ? NULL : ek__p("field label not supported: %s", label);
}

void ek__v_field_selector(ek_field_errors_t *e, const json_t *fs, const char *const *allowed,
                          const char *path)
{
    const char *av = ek__sstr(fs, "apiVersion"), *fp = ek__sstr(fs, "fieldPath");
    ek_autofree char *avp = ek__p("%s.apiVersion", path);
    ek_autofree char *fpp = ek__p("%s.fieldPath", path);
    if (!*av) {
        ek__fe_required(e, avp, "");
        return;
    }
    if (!*fp) {
        ek__fe_required(e, fpp, "");
        return;
    }
    ek_autofree char *err = convert_field_label(av, fp);
    if (err) {
        ek__fe_invalid_s(e, fpp, fp, "error converting fieldPath: %s", err);
        return;
    }
    const char *internal = strcmp(fp, "spec.host") == 0 ? "spec.nodeName" : fp;
    const char *open = strstr(internal, "['");
    if (open && open != internal && strstr(open, "']")) {
        ek_autofree char *sub = ek_xstrndup(open + 2, strlen(open) - 4);
        bool ann = strncmp(internal, "metadata.annotations", 20) == 0;
        for (char *p = sub; ann && *p; p++) {
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        }
        ek__v_label_name(e, sub, path);
    } else if (!in_list(internal, allowed)) {
        ek__fe_not_supported_s(e, fpp, internal, allowed);
    }
}

void ek__v_resource_field_selector(ek_field_errors_t *e, const json_t *rf, bool volume,
                                   const char *path)
{
    static const char *const exprs[] = { "limits.cpu",
                                         "limits.ephemeral-storage",
                                         "limits.memory",
                                         "requests.cpu",
                                         "requests.ephemeral-storage",
                                         "requests.memory",
                                         NULL };
    const char *res = ek__sstr(rf, "resource");
    if (volume && !*ek__sstr(rf, "containerName")) {
        ek_autofree char *p = ek__p("%s.containerName", path);
        ek__fe_required(e, p, "");
    } else if (!*res) {
        ek_autofree char *p = ek__p("%s.resource", path);
        ek__fe_required(e, p, "");
    } else if (!in_list(res, exprs) && strncmp(res, "requests.hugepages-", 19) != 0 &&
               strncmp(res, "limits.hugepages-", 17) != 0) {
        ek_autofree char *p = ek__p("%s.resource", path);
        ek__fe_not_supported_s(e, p, res, exprs);
    }
    const json_t *div = json_object_get(rf, "divisor");
    ek_quantity_t q;
    char buf[EK_QUANTITY_STRLEN];
    if (div && ek__quantity_from_json(div, &q) == 0 && q.sign != 0 &&
        (strcmp(res, "limits.cpu") == 0 || strcmp(res, "requests.cpu") == 0)) {
        ek_quantity_format(&q, buf);
        if (strcmp(buf, "1m") != 0 && strcmp(buf, "1") != 0) {
            ek_autofree char *p = ek__p("%s.divisor", path);
            ek__fe_invalid_s(e, p, res,
                             "only divisor's values 1m and 1 are supported with the cpu resource");
        }
    }
}

static void v_key_selector(ek_field_errors_t *e, const json_t *s, const char *path)
{
    const char *name = ek__sstr(s, "name"), *key = ek__sstr(s, "key");
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (ek__is_dns1123_subdomain(name, &m)) {
        ek_autofree char *p = ek__p("%s.name", path);
        ek__fe_invalid_msgs(e, p, name, &m);
    }
    ek_autofree char *kp = ek__p("%s.key", path);
    ek__msgs_init(&m);
    if (!*key) {
        ek__fe_required(e, kp, "");
    } else if (ek__is_config_map_key(key, &m)) {
        ek__fe_invalid_msgs(e, kp, key, &m);
    }
}

static const char *const env_field_paths[] = { "metadata.name",
                                               "metadata.namespace",
                                               "metadata.uid",
                                               "spec.nodeName",
                                               "spec.serviceAccountName",
                                               "status.hostIP",
                                               "status.hostIPs",
                                               "status.podIP",
                                               "status.podIPs",
                                               NULL };

static void v_value_from(ek_field_errors_t *e, const json_t *ev, const char *path)
{
    const json_t *vf = ek__obj(ev, "valueFrom");
    if (!vf) {
        return;
    }
    int n = 0;
    const json_t *x;
    if ((x = ek__obj(vf, "fieldRef"))) {
        n++;
        ek_autofree char *p = ek__p("%s.fieldRef", path);
        ek__v_field_selector(e, x, env_field_paths, p);
    }
    if ((x = ek__obj(vf, "resourceFieldRef"))) {
        n++;
        ek_autofree char *p = ek__p("%s.resourceFieldRef", path);
        ek__v_resource_field_selector(e, x, false, p);
    }
    if ((x = ek__obj(vf, "configMapKeyRef"))) {
        n++;
        ek_autofree char *p = ek__p("%s.configMapKeyRef", path);
        v_key_selector(e, x, p);
    }
    if ((x = ek__obj(vf, "secretKeyRef"))) {
        n++;
        ek_autofree char *p = ek__p("%s.secretKeyRef", path);
        v_key_selector(e, x, p);
    }
    if (n == 0) {
        ek__fe_invalid_s(e, path, "",
                         "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` "
                         "or `secretKeyRef`");
    } else if (*ek__sstr(ev, "value")) {
        ek__fe_invalid_s(e, path, "", "may not be specified when `value` is not empty");
    } else if (n > 1) {
        ek__fe_invalid_s(e, path, "", "may not have more than one field specified at a time");
    }
}

static void v_env(ek_field_errors_t *e, const json_t *env, const char *path)
{
    size_t i;
    json_t *ev;
    json_array_foreach (env, i, ev) {
        ek_autofree char *ip = ek__p("%s[%zu]", path, i);
        ek_autofree char *np = ek__p("%s.name", ip);
        const char *name = ek__sstr(ev, "name");
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (!*name) {
            ek__fe_required(e, np, "");
        } else if (ek__is_env_var_name(name, &m)) {
            ek__fe_invalid_msgs(e, np, name, &m);
        }
        ek_autofree char *vp = ek__p("%s.valueFrom", ip);
        v_value_from(e, ev, vp);
    }
}

static void v_env_from_ref(ek_field_errors_t *e, const json_t *ref, const char *path)
{
    const char *name = ek__sstr(ref, "name");
    ek_autofree char *np = ek__p("%s.name", path);
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (!*name) {
        ek__fe_required(e, np, "");
    } else if (ek__name_check(EK_NAME_SUBDOMAIN, name, true, &m)) {
        ek__fe_invalid_msgs(e, np, name, &m);
    }
}

static void v_env_from(ek_field_errors_t *e, const json_t *list, const char *path)
{
    size_t i;
    json_t *ef;
    json_array_foreach (list, i, ef) {
        ek_autofree char *ip = ek__p("%s[%zu]", path, i);
        const char *prefix = ek__sstr(ef, "prefix");
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (*prefix && ek__is_env_var_name(prefix, &m)) {
            ek_autofree char *pp = ek__p("%s.prefix", ip);
            ek__fe_invalid_msgs(e, pp, prefix, &m);
        }
        int n = 0;
        const json_t *x;
        if ((x = ek__obj(ef, "configMapRef"))) {
            n++;
            ek_autofree char *p = ek__p("%s.configMapRef", ip);
            v_env_from_ref(e, x, p);
        }
        if ((x = ek__obj(ef, "secretRef"))) {
            n++;
            ek_autofree char *p = ek__p("%s.secretRef", ip);
            v_env_from_ref(e, x, p);
        }
        if (n == 0) {
            ek__fe_invalid_s(e, path, "", "must specify one of: `configMapRef` or `secretRef`");
        } else if (n > 1) {
            ek__fe_invalid_s(e, path, "", "may not have more than one field specified at a time");
        }
    }
}

/* ---- mounts ---- */

static bool device_has(const json_t *devices, const char *key, const char *value)
{
    size_t i;
    json_t *d;
    json_array_foreach (devices, i, d) {
        if (strcmp(ek__sstr(d, key), value) == 0) {
            return true;
        }
    }
    return false;
}

static void v_mount_propagation(ek_field_errors_t *e, const json_t *mnt, const json_t *ctr,
                                const char *path)
{
    const char *mp = ek__str(mnt, "mountPropagation");
    if (!mp) {
        return;
    }
    static const char *const valid[] = { "Bidirectional", "HostToContainer", "None", NULL };
    if (!in_list(mp, valid)) {
        ek__fe_not_supported_s(e, path, mp, valid);
    }
    if (strcmp(mp, "Bidirectional") == 0 &&
        !ek__true(ek__obj(ctr, "securityContext"), "privileged")) {
        ek__fe_forbidden(e, path,
                         "Bidirectional mount propagation is available only to privileged "
                         "containers");
    }
}

static void v_recursive_read_only(ek_field_errors_t *e, const json_t *mnt, const char *path)
{
    const char *rro = ek__str(mnt, "recursiveReadOnly");
    if (!rro || strcmp(rro, "Disabled") == 0) {
        return;
    }
    if (strcmp(rro, "Enabled") == 0 || strcmp(rro, "IfPossible") == 0) {
        if (!ek__true(mnt, "readOnly")) {
            ek__fe_forbidden(e, path, "may only be specified when readOnly is true");
        }
        const char *mp = ek__str(mnt, "mountPropagation");
        if (mp && strcmp(mp, "None") != 0) {
            ek__fe_forbidden(e, path,
                             "may only be specified when mountPropagation is None or not "
                             "specified");
        }
        return;
    }
    static const char *const valid[] = { "Disabled", "Enabled", "IfPossible", NULL };
    ek__fe_not_supported_s(e, path, rro, valid);
}

static void v_mounts(ek_field_errors_t *e, const json_t *ctr, const json_t *vols, const char *path)
{
    const json_t *devices = ek__arr(ctr, "volumeDevices");
    ek_auto(json_t) seen = json_object();
    size_t i;
    json_t *mnt;
    json_array_foreach (ek__arr(ctr, "volumeMounts"), i, mnt) {
        ek_autofree char *ip = ek__p("%s[%zu]", path, i);
        ek_autofree char *np = ek__p("%s.name", ip);
        ek_autofree char *mp = ek__p("%s.mountPath", ip);
        const char *name = ek__sstr(mnt, "name"), *mpath = ek__sstr(mnt, "mountPath");
        if (!*name) {
            ek__fe_required(e, np, "");
        }
        if (!json_object_get(vols, name)) {
            ek__fe_not_found_s(e, np, name);
        }
        if (!*mpath) {
            ek__fe_required(e, mp, "");
        }
        if (json_object_get(seen, mpath)) {
            ek__fe_invalid_s(e, mp, mpath, "must be unique");
        }
        json_object_set_new(seen, mpath, json_true());
        if (device_has(devices, "name", name)) {
            ek__fe_invalid_s(e, np, name, "must not already exist in volumeDevices");
        }
        if (device_has(devices, "devicePath", mpath)) {
            ek__fe_invalid_s(e, mp, mpath, "must not already exist as a path in volumeDevices");
        }
        const char *sub = ek__sstr(mnt, "subPath"), *subx = ek__sstr(mnt, "subPathExpr");
        /* Kubernetes reports these two against the list path, without the index. */
        if (*sub) {
            ek_autofree char *sp = ek__p("%s.subPath", path);
            ek__v_local_descending(e, sub, sp);
        }
        if (*subx) {
            if (*sub) {
                ek_autofree char *xp = ek__p("%s.subPathExpr", ip);
                ek__fe_invalid_s(e, xp, subx, "subPathExpr and subPath are mutually exclusive");
            }
            ek_autofree char *sp = ek__p("%s.subPathExpr", path);
            ek__v_local_descending(e, subx, sp);
        }
        ek_autofree char *pp = ek__p("%s.mountPropagation", path);
        v_mount_propagation(e, mnt, ctr, pp);
        ek_autofree char *rp = ek__p("%s.recursiveReadOnly", path);
        v_recursive_read_only(e, mnt, rp);
    }
}

static void v_devices(ek_field_errors_t *e, const json_t *ctr, const json_t *vols, const char *path)
{
    const json_t *mounts = ek__arr(ctr, "volumeMounts");
    ek_auto(json_t) names = json_object();
    ek_auto(json_t) paths = json_object();
    size_t i;
    json_t *d;
    json_array_foreach (ek__arr(ctr, "volumeDevices"), i, d) {
        ek_autofree char *np = ek__p("%s[%zu].name", path, i);
        ek_autofree char *dp = ek__p("%s[%zu].devicePath", path, i);
        const char *name = ek__sstr(d, "name"), *dev = ek__sstr(d, "devicePath");
        const json_t *vol = json_object_get(vols, name);
        if (!*name) {
            ek__fe_required(e, np, "");
        }
        if (json_object_get(names, name)) {
            ek__fe_invalid_s(e, np, name, "must be unique");
        }
        if (vol && !ek__obj(vol, "persistentVolumeClaim") && !ek__obj(vol, "ephemeral")) {
            ek__fe_invalid_s(e, np, name,
                             "can only use volume source type of PersistentVolumeClaim or "
                             "Ephemeral for block mode");
        }
        if (!vol) {
            ek__fe_not_found_s(e, np, name);
        }
        if (!*dev) {
            ek__fe_required(e, dp, "");
        }
        if (json_object_get(paths, dev)) {
            ek__fe_invalid_s(e, dp, dev, "must be unique");
        }
        json_object_set_new(paths, dev, json_true());
        if (device_has(mounts, "name", name)) {
            ek__fe_invalid_s(e, np, name, "must not already exist in volumeMounts");
        }
        if (device_has(mounts, "mountPath", dev)) {
            ek__fe_invalid_s(e, dp, dev, "must not already exist as a path in volumeMounts");
        }
        if (*name) {
            json_object_set_new(names, name, json_true());
        }
    }
}

/* ---- probes and handlers ---- */

static void v_port_num_or_name(ek_field_errors_t *e, const json_t *port, const char *path)
{
    if (json_is_string(port)) {
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_port_name(json_string_value(port), &m)) {
            ek__fe_invalid_msgs(e, path, json_string_value(port), &m);
        }
        return;
    }
    long long p = json_is_integer(port) ? json_integer_value(port) : 0;
    if (!ek__is_port_num(p)) {
        ek__fe_invalid_i(e, path, p, EK_MSG_PORT_RANGE);
    }
}

static void v_http_get(ek_field_errors_t *e, const json_t *h, const char *path)
{
    if (!*ek__sstr(h, "path")) {
        ek_autofree char *p = ek__p("%s.path", path);
        ek__fe_required(e, p, "");
    }
    ek_autofree char *pp = ek__p("%s.port", path);
    v_port_num_or_name(e, json_object_get(h, "port"), pp);
    static const char *const schemes[] = { "HTTP", "HTTPS", NULL };
    const char *scheme = ek__sstr(h, "scheme");
    if (!in_list(scheme, schemes)) {
        ek_autofree char *p = ek__p("%s.scheme", path);
        ek__fe_not_supported_s(e, p, scheme, schemes);
    }
    size_t i;
    json_t *hd;
    json_array_foreach (ek__arr(h, "httpHeaders"), i, hd) {
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_http_header_name(ek__sstr(hd, "name"), &m)) {
            ek_autofree char *p = ek__p("%s.httpHeaders", path);
            ek__fe_invalid_msgs(e, p, ek__sstr(hd, "name"), &m);
        }
    }
}

static void v_sleep(ek_field_errors_t *e, const json_t *s, const long long *grace, const char *path)
{
    long long secs = ek__intd(s, "seconds", 0);
    if (grace && (secs <= 0 || secs > *grace)) {
        ek__fe_invalid_i(e, path, secs,
                         "must be greater than 0 and less than terminationGracePeriodSeconds "
                         "(%lld). Enable AllowPodLifecycleSleepActionZeroValue feature gate for "
                         "zero sleep.",
                         *grace);
    }
}

/* validateHandler: exactly one of exec, httpGet, tcpSocket, grpc (probes), sleep (hooks). */
static void v_handler(ek_field_errors_t *e, const json_t *h, bool probe, const long long *grace,
                      const char *path)
{
    static const char *const kinds[] = { "exec", "httpGet", "tcpSocket", "grpc", "sleep" };
    int n = 0;
    for (size_t i = 0; i < EK_ARRAY_SIZE(kinds); i++) {
        const json_t *x = ek__obj(h, kinds[i]);
        if (!x || (probe && i == 4) || (!probe && i == 3)) {
            continue;
        }
        ek_autofree char *kp = ek__p("%s.%s", path, kinds[i]);
        if (n++ > 0) {
            ek__fe_forbidden(e, kp, "may not specify more than 1 handler type");
            continue;
        }
        if (i == 0 && ek__validate_len(x, "command") == 0) {
            ek_autofree char *cp = ek__p("%s.command", kp);
            ek__fe_required(e, cp, "");
        } else if (i == 1) {
            v_http_get(e, x, kp);
        } else if (i == 2 || i == 3) {
            ek_autofree char *pp = ek__p("%s.port", kp);
            json_t *port = json_object_get(x, "port");
            ek_auto(json_t) zero = json_integer(0);
            v_port_num_or_name(e, port ? port : zero, pp);
        } else if (i == 4) {
            v_sleep(e, x, grace, kp);
        }
    }
    if (n == 0) {
        ek__fe_required(e, path, "must specify a handler type");
    }
}

static void v_probe(ek_field_errors_t *e, const json_t *p, const char *kind, const long long *grace,
                    const char *path)
{
    v_handler(e, p, true, grace, path);
    static const char *const ints[] = { "initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                                        "successThreshold", "failureThreshold" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(ints); i++) {
        ek_autofree char *ip = ek__p("%s.%s", path, ints[i]);
        ek__v_nonneg(e, p, ints[i], ip);
    }
    long long tg;
    ek_autofree char *tgp = ek__p("%s.terminationGracePeriodSeconds", path);
    if (ek__int(p, "terminationGracePeriodSeconds", &tg) && tg <= 0) {
        ek__fe_invalid_i(e, tgp, tg, "must be greater than 0");
    }
    if (strcmp(kind, "readinessProbe") == 0) {
        if (ek__int(p, "terminationGracePeriodSeconds", &tg)) {
            ek__fe_invalid_i(e, tgp, tg, "must not be set for readinessProbes");
        }
    } else {
        long long st = ek__intd(p, "successThreshold", 0);
        if (st != 1) {
            ek_autofree char *sp = ek__p("%s.successThreshold", path);
            ek__fe_invalid_i(e, sp, st, "must be 1");
        }
    }
}

void ek__v_probes_and_lifecycle(ek_field_errors_t *e, const json_t *ctr, const long long *grace,
                                const char *path)
{
    const json_t *lc = ek__obj(ctr, "lifecycle");
    static const char *const hooks[] = { "postStart", "preStop" };
    for (size_t i = 0; lc && i < EK_ARRAY_SIZE(hooks); i++) {
        const json_t *h = ek__obj(lc, hooks[i]);
        if (h) {
            ek_autofree char *hp = ek__p("%s.lifecycle.%s", path, hooks[i]);
            v_handler(e, h, false, grace, hp);
        }
    }
    static const char *const probes[] = { "livenessProbe", "readinessProbe", "startupProbe" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(probes); i++) {
        const json_t *p = ek__obj(ctr, probes[i]);
        if (p) {
            ek_autofree char *pp = ek__p("%s.%s", path, probes[i]);
            v_probe(e, p, probes[i], grace, pp);
        }
    }
}

/* ---- security context ---- */

void ek__v_id_range(ek_field_errors_t *e, const json_t *o, const char *key, const char *path)
{
    long long v;
    if (ek__int(o, key, &v) && (v < 0 || v > 4294967295LL)) {
        ek_autofree char *p = ek__p("%s.%s", path, key);
        ek__fe_invalid_i(e, p, v, "must be between 0 and 4294967295, inclusive");
    }
}

void ek__v_seccomp(ek_field_errors_t *e, const json_t *sp, const char *path)
{
    if (!sp) {
        return;
    }
    const char *t = ek__sstr(sp, "type");
    ek_autofree char *tp = ek__p("%s.type", path);
    static const char *const types[] = { "Localhost", "RuntimeDefault", "Unconfined", NULL };
    if (!*t) {
        ek__fe_required(e, tp, "type is required when seccompProfile is set");
    } else if (!in_list(t, types)) {
        ek__fe_not_supported_s(e, tp, t, types);
    }
    ek_autofree char *lp = ek__p("%s.localhostProfile", path);
    const char *lprof = ek__str(sp, "localhostProfile");
    if (strcmp(t, "Localhost") == 0) {
        if (!lprof) {
            ek__fe_required(e, lp, "must be set when seccomp type is Localhost");
        } else {
            ek__v_local_descending(e, lprof, lp);
        }
    } else if (lprof) {
        ek_autofree char *raw =
            ek__p("&core.SeccompProfile{Type:\"%s\", LocalhostProfile:\"%s\"}", t, lprof);
        ek__fe_invalid_raw(e, lp, raw, "can only be set when seccomp type is Localhost");
    }
}

void ek__v_apparmor(ek_field_errors_t *e, const json_t *ap, const char *path)
{
    if (!ap) {
        return;
    }
    const char *t = ek__sstr(ap, "type"), *lp = ek__str(ap, "localhostProfile");
    ek_autofree char *lpp = ek__p("%s.localhostProfile", path);
    ek_autofree char *tp = ek__p("%s.type", path);
    if (strcmp(t, "Localhost") == 0) {
        if (!lp || !*lp) {
            ek__fe_required(e, lpp, "must be set when AppArmor type is Localhost");
        }
    } else if (strcmp(t, "RuntimeDefault") == 0 || strcmp(t, "Unconfined") == 0) {
        if (lp) {
            ek__fe_invalid_s(e, lpp, lp, "can only be set when AppArmor type is Localhost");
        }
    } else if (!*t) {
        ek__fe_required(e, tp, "type is required when appArmorProfile is set");
    } else {
        static const char *const types[] = { "Localhost", "RuntimeDefault", "Unconfined", NULL };
        ek__fe_not_supported_s(e, tp, t, types);
    }
}

static void v_container_security(ek_field_errors_t *e, const json_t *sc, bool host_users,
                                 const char *path)
{
    if (!sc) {
        return;
    }
    ek__v_id_range(e, sc, "runAsUser", path);
    ek__v_id_range(e, sc, "runAsGroup", path);
    const char *pm = ek__str(sc, "procMount");
    if (pm) {
        ek_autofree char *pp = ek__p("%s.procMount", path);
        static const char *const valid[] = { "Default", "Unmasked", NULL };
        if (!in_list(pm, valid)) {
            ek__fe_not_supported_s(e, pp, pm, valid);
        }
        if (host_users && strcmp(pm, "Unmasked") == 0) {
            ek__fe_invalid_s(e, pp, pm, "`hostUsers` must be false to use `Unmasked`");
        }
    }
    ek_autofree char *sp = ek__p("%s.seccompProfile", path);
    ek__v_seccomp(e, ek__obj(sc, "seccompProfile"), sp);
    json_t *ape = json_object_get(sc, "allowPrivilegeEscalation");
    if (json_is_false(ape)) {
        ek_autofree char *raw = ek__go_json(sc);
        if (ek__true(sc, "privileged")) {
            ek__fe_invalid_raw(e, path, raw,
                               "cannot set `allowPrivilegeEscalation` to false and `privileged` "
                               "to true");
        }
        size_t i;
        json_t *cap;
        json_array_foreach (ek__arr(ek__obj(sc, "capabilities"), "add"), i, cap) {
            if (json_is_string(cap) && strcmp(json_string_value(cap), "CAP_SYS_ADMIN") == 0) {
                ek__fe_invalid_raw(e, path, raw,
                                   "cannot set `allowPrivilegeEscalation` to false and "
                                   "`capabilities.Add` CAP_SYS_ADMIN");
            }
        }
    }
    ek_autofree char *aa = ek__p("%s.appArmorProfile", path);
    ek__v_apparmor(e, ek__obj(sc, "appArmorProfile"), aa);
}

/* ---- the container itself ---- */

void ek__v_container_common(ek_field_errors_t *e, const json_t *ctr, const json_t *vols,
                            bool host_users, const char *path)
{
    const char *name = ek__sstr(ctr, "name");
    ek_autofree char *np = ek__p("%s.name", path);
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (!*name) {
        ek__fe_required(e, np, "");
    } else if (ek__is_dns1123_label(name, &m)) {
        ek__fe_invalid_msgs(e, np, name, &m);
    }
    if (!*ek__sstr(ctr, "image")) {
        ek_autofree char *ip = ek__p("%s.image", path);
        ek__fe_required(e, ip, "");
    }
    const char *tmp = ek__sstr(ctr, "terminationMessagePolicy");
    ek_autofree char *tp = ek__p("%s.terminationMessagePolicy", path);
    static const char *const tmps[] = { "File", "FallbackToLogsOnError", NULL };
    if (!*tmp) {
        ek__fe_required(e, tp, "");
    } else if (!in_list(tmp, tmps)) {
        ek__fe_not_supported_s(e, tp, tmp, tmps);
    }
    ek_autofree char *pp = ek__p("%s.ports", path);
    v_ports(e, ek__arr(ctr, "ports"), pp);
    ek_autofree char *ep = ek__p("%s.env", path);
    v_env(e, ek__arr(ctr, "env"), ep);
    ek_autofree char *efp = ek__p("%s.envFrom", path);
    v_env_from(e, ek__arr(ctr, "envFrom"), efp);
    ek_autofree char *mp = ek__p("%s.volumeMounts", path);
    v_mounts(e, ctr, vols, mp);
    ek_autofree char *dp = ek__p("%s.volumeDevices", path);
    v_devices(e, ctr, vols, dp);
    const char *ipp = ek__sstr(ctr, "imagePullPolicy");
    ek_autofree char *ippp = ek__p("%s.imagePullPolicy", path);
    static const char *const pulls[] = { "Always", "IfNotPresent", "Never", NULL };
    if (!*ipp) {
        ek__fe_required(e, ippp, "");
    } else if (!in_list(ipp, pulls)) {
        ek__fe_not_supported_s(e, ippp, ipp, pulls);
    }
    ek_autofree char *rp = ek__p("%s.resources", path);
    ek__v_resource_requirements(e, ek__obj(ctr, "resources"), rp);
    ek_autofree char *sp = ek__p("%s.securityContext", path);
    v_container_security(e, ek__obj(ctr, "securityContext"), host_users, sp);
}
