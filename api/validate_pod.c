/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pods and pod templates (core validation's ValidatePodSpec, ValidatePodCreate,
 * ValidatePodUpdate and ValidatePodTemplateSpec): the spec-level rules (grace period,
 * volumes, containers and init containers, host network, restart and DNS policies, node
 * selector, security context, affinity, DNS config, gates, topology spread, tolerations,
 * names of referenced objects) and the short list of fields a pod update may change.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>

#include "api/validate-internal.h"

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* One name field checked with a name rule, reported as Invalid per message. */
static void v_name_field(ek_field_errors_t *e, const json_t *o, const char *key,
                         ek__name_rule_t rule, const char *base)
{
    const char *v = ek__str(o, key);
    if (!v || !*v) {
        return;
    }
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (ek__name_check(rule, v, false, &m)) {
        ek_autofree char *p = ek__p("%s.%s", base, key);
        ek__fe_invalid_msgs(e, p, v, &m);
    }
}

/* ---- containers ---- */

typedef struct podctx {
    const json_t *vols;
    bool has_grace;
    long long grace;
    bool host_users;
} podctx_t;

static const long long *grace_of(const podctx_t *c)
{
    return c->has_grace ? &c->grace : NULL;
}

/* Host ports must not collide within the list (protocol/hostIP/port). */
static void v_host_ports(ek_field_errors_t *e, const json_t *ctrs, size_t first, size_t count,
                         const char *path)
{
    ek_auto(json_t) seen = json_object();
    for (size_t ci = 0; ci < count; ci++) {
        const json_t *c = json_array_get(ctrs, first + ci);
        size_t pi;
        json_t *p;
        json_array_foreach (ek__arr(c, "ports"), pi, p) {
            long long hp = ek__intd(p, "hostPort", 0);
            if (hp == 0) {
                continue;
            }
            ek_autofree char *key =
                ek__p("%s/%s/%lld", ek__sstr(p, "protocol"), ek__sstr(p, "hostIP"), hp);
            if (json_object_get(seen, key)) {
                ek_autofree char *fp = ek__p("%s[%zu].ports[%zu].hostPort", path, ci, pi);
                ek__fe_duplicate_s(e, fp, key);
            } else {
                json_object_set_new(seen, key, json_true());
            }
        }
    }
}

static void v_containers(ek_field_errors_t *e, const json_t *ctrs, const podctx_t *c,
                         const char *path)
{
    if (json_array_size(ctrs) == 0) {
        ek__fe_required(e, path, "");
        return;
    }
    ek_auto(json_t) names = json_object();
    size_t i;
    json_t *ctr;
    json_array_foreach (ctrs, i, ctr) {
        ek_autofree char *cp = ek__p("%s[%zu]", path, i);
        ek__v_container_common(e, ctr, c->vols, c->host_users, cp);
        const char *name = ek__sstr(ctr, "name");
        if (json_object_get(names, name)) {
            ek_autofree char *np = ek__p("%s.name", cp);
            ek__fe_duplicate_s(e, np, name);
        } else {
            json_object_set_new(names, name, json_true());
        }
        ek__v_probes_and_lifecycle(e, ctr, grace_of(c), cp);
        if (ek__has(ctr, "restartPolicy")) {
            ek_autofree char *rp = ek__p("%s.restartPolicy", cp);
            ek__fe_forbidden(e, rp, "may not be set for non-init containers");
        }
    }
    v_host_ports(e, ctrs, 0, json_array_size(ctrs), path);
}

static void v_init_container_hooks(ek_field_errors_t *e, const json_t *ctr, const char *cp)
{
    static const char *const fields[] = { "lifecycle", "livenessProbe", "readinessProbe",
                                          "startupProbe" };
    for (size_t k = 0; k < EK_ARRAY_SIZE(fields); k++) {
        if (ek__has(ctr, fields[k])) {
            ek_autofree char *fp = ek__p("%s.%s", cp, fields[k]);
            ek__fe_forbidden(e, fp,
                             "may not be set for init containers without restartPolicy=Always");
        }
    }
}

static void v_init_containers(ek_field_errors_t *e, const json_t *inits, const json_t *regular,
                              const podctx_t *c, const char *path)
{
    ek_auto(json_t) names = json_object();
    size_t i;
    json_t *ctr;
    json_array_foreach (regular, i, ctr) {
        json_object_set_new(names, ek__sstr(ctr, "name"), json_true());
    }
    json_array_foreach (inits, i, ctr) {
        ek_autofree char *cp = ek__p("%s[%zu]", path, i);
        ek__v_container_common(e, ctr, c->vols, c->host_users, cp);
        const char *rp = ek__str(ctr, "restartPolicy");
        bool always = rp && strcmp(rp, "Always") == 0;
        if (rp && !always) {
            static const char *const valid[] = { "Always", NULL };
            ek_autofree char *rpp = ek__p("%s.restartPolicy", cp);
            ek__fe_not_supported_s(e, rpp, rp, valid);
        }
        const char *name = ek__sstr(ctr, "name");
        if (json_object_get(names, name)) {
            ek_autofree char *np = ek__p("%s.name", cp);
            ek__fe_duplicate_s(e, np, name);
        } else if (*name) {
            json_object_set_new(names, name, json_true());
        }
        /* Init containers run one at a time: Kubernetes checks each alone, as index 0. */
        v_host_ports(e, inits, i, 1, path);
        if (always) {
            ek__v_probes_and_lifecycle(e, ctr, grace_of(c), cp);
        } else {
            v_init_container_hooks(e, ctr, cp);
        }
    }
}

/* ---- spec-level rules ---- */

static void v_host_network_deps(ek_field_errors_t *e, const json_t *spec, bool is_pod,
                                const char *path)
{
    if (!ek__true(spec, "hostNetwork")) {
        return;
    }
    size_t i, j;
    json_t *c, *p;
    json_array_foreach (ek__arr(spec, "containers"), i, c) {
        json_array_foreach (ek__arr(c, "ports"), j, p) {
            long long hp = ek__intd(p, "hostPort", 0), cp = ek__intd(p, "containerPort", 0);
            if ((is_pod || hp != 0) && hp != cp) {
                ek_autofree char *fp = ek__p("%s.containers[%zu].ports[%zu].hostPort", path, i, j);
                ek__fe_invalid_i(e, fp, hp,
                                 "must match `containerPort` when `hostNetwork` is true");
            }
        }
    }
}

static void v_enum(ek_field_errors_t *e, const json_t *o, const char *key, const char *base,
                   const char *const *valid)
{
    const char *v = ek__sstr(o, key);
    ek_autofree char *p = ek__p("%s.%s", base, key);
    if (!*v) {
        ek__fe_required(e, p, "");
    } else if (!in_list(v, valid)) {
        ek__fe_not_supported_s(e, p, v, valid);
    }
}

/* Which namespace a sysctl belongs to, as component-helpers' sysctl.GetNamespace. */
static int sysctl_namespace(const char *s)
{
    static const char *const ipc_prefixes[] = { "kernel.shm", "kernel.msg", "fs.mqueue.", NULL };
    if (strncmp(s, "net.", 4) == 0 || strncmp(s, "net/", 4) == 0) {
        return 1;
    }
    if (strcmp(s, "kernel.sem") == 0) {
        return 2;
    }
    for (size_t i = 0; ipc_prefixes[i]; i++) {
        if (strncmp(s, ipc_prefixes[i], strlen(ipc_prefixes[i])) == 0) {
            return 2;
        }
    }
    return 0;
}

static bool valid_sysctl_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253) {
        return false;
    }
    const char *p = s;
    for (;;) {
        size_t len = strcspn(p, "./");
        if (len == 0 || !((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9'))) {
            return false;
        }
        char last = p[len - 1];
        if (!((last >= 'a' && last <= 'z') || (last >= '0' && last <= '9'))) {
            return false;
        }
        for (size_t i = 0; i < len; i++) {
            char ch = p[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) {
                return false;
            }
        }
        if (!p[len]) {
            return true;
        }
        p += len + 1;
    }
}

static void v_sysctls(ek_field_errors_t *e, const json_t *spec, const json_t *sysctls,
                      const char *path)
{
    ek_auto(json_t) seen = json_object();
    size_t i;
    json_t *s;
    json_array_foreach (sysctls, i, s) {
        const char *name = ek__sstr(s, "name");
        ek_autofree char *np = ek__p("%s[%zu].name", path, i);
        if (!*name) {
            ek__fe_required(e, np, "");
        } else if (!valid_sysctl_name(name)) {
            ek__fe_invalid_s(
                e, np, name,
                "must have at most 253 characters and match regex "
                "^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$");
        } else if (json_object_get(seen, name)) {
            ek__fe_duplicate_s(e, np, name);
        }
        int ns = sysctl_namespace(name);
        if (ns == 1 && ek__true(spec, "hostNetwork")) {
            ek__fe_invalid_s(e, np, name, "may not be specified when 'hostNetwork' is true");
        } else if (ns == 2 && ek__true(spec, "hostIPC")) {
            ek__fe_invalid_s(e, np, name, "may not be specified when 'hostIPC' is true");
        }
        json_object_set_new(seen, name, json_true());
    }
}

static void v_pod_security(ek_field_errors_t *e, const json_t *spec, const char *path)
{
    const json_t *sc = ek__obj(spec, "securityContext");
    if (!sc) {
        return;
    }
    ek__v_id_range(e, sc, "fsGroup", path);
    ek__v_id_range(e, sc, "runAsUser", path);
    ek__v_id_range(e, sc, "runAsGroup", path);
    size_t i;
    json_t *g;
    json_array_foreach (ek__arr(sc, "supplementalGroups"), i, g) {
        long long v = json_is_integer(g) ? json_integer_value(g) : 0;
        if (v < 0 || v > 4294967295LL) {
            ek_autofree char *p = ek__p("%s.supplementalGroups[%zu]", path, i);
            ek__fe_invalid_i(e, p, v, "must be between 0 and 4294967295, inclusive");
        }
    }
    if (ek__true(spec, "shareProcessNamespace") && ek__true(spec, "hostPID")) {
        ek_autofree char *p = ek__p("%s.shareProcessNamespace", path);
        ek__fe_invalid_raw(e, p, "true",
                           "ShareProcessNamespace and HostPID cannot both be enabled");
    }
    ek_autofree char *sp = ek__p("%s.sysctls", path);
    v_sysctls(e, spec, ek__arr(sc, "sysctls"), sp);
    static const char *const fsg[] = { "Always", "OnRootMismatch", NULL };
    const char *fp = ek__str(sc, "fsGroupChangePolicy");
    if (fp && !in_list(fp, fsg)) {
        ek_autofree char *p = ek__p("%s.fsGroupChangePolicy", path);
        ek__fe_not_supported_s(e, p, fp, fsg);
    }
    ek_autofree char *sec = ek__p("%s.seccompProfile", path);
    ek__v_seccomp(e, ek__obj(sc, "seccompProfile"), sec);
    ek_autofree char *aa = ek__p("%s.appArmorProfile", path);
    ek__v_apparmor(e, ek__obj(sc, "appArmorProfile"), aa);
    static const char *const sgp[] = { "Merge", "Strict", NULL };
    const char *sg = ek__str(sc, "supplementalGroupsPolicy");
    if (sg && !in_list(sg, sgp)) {
        ek_autofree char *p = ek__p("%s.supplementalGroupsPolicy", path);
        ek__fe_not_supported_s(e, p, sg, sgp);
    }
    static const char *const selp[] = { "MountOption", "Recursive", NULL };
    const char *sel = ek__str(sc, "seLinuxChangePolicy");
    if (sel && !in_list(sel, selp)) {
        ek_autofree char *p = ek__p("%s.seLinuxChangePolicy", path);
        ek__fe_not_supported_s(e, p, sel, selp);
    }
}

static void v_node_selector_requirement(ek_field_errors_t *e, const json_t *r, bool check_values,
                                        const char *path)
{
    const char *op = ek__sstr(r, "operator");
    size_t n = ek__validate_len(r, "values");
    ek_autofree char *vp = ek__p("%s.values", path);
    if (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) {
        if (n == 0) {
            ek__fe_required(e, vp, "must be specified when `operator` is 'In' or 'NotIn'");
        }
    } else if (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) {
        if (n > 0) {
            ek__fe_forbidden(e, vp,
                             "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
        }
    } else if (strcmp(op, "Gt") == 0 || strcmp(op, "Lt") == 0) {
        if (n != 1) {
            ek__fe_required(e, vp,
                            "must be specified single value when `operator` is 'Lt' or 'Gt'");
        }
    } else {
        ek_autofree char *op_p = ek__p("%s.operator", path);
        ek__fe_invalid_s(e, op_p, op, "not a valid selector operator");
    }
    ek_autofree char *kp = ek__p("%s.key", path);
    ek__v_label_name(e, ek__sstr(r, "key"), kp);
    size_t i;
    json_t *v;
    json_array_foreach (check_values ? ek__arr(r, "values") : NULL, i, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_label_value(s, &m)) {
            ek_autofree char *ip = ek__p("%s[%zu]", vp, i);
            ek__fe_invalid_msgs(e, ip, s, &m);
        }
    }
}

static void v_node_field_requirement(ek_field_errors_t *e, const json_t *r, const char *path)
{
    const char *op = ek__sstr(r, "operator");
    if (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) {
        if (ek__validate_len(r, "values") != 1) {
            ek_autofree char *vp = ek__p("%s.values", path);
            ek__fe_required(e, vp,
                            "must be only one value when `operator` is 'In' or 'NotIn' for node "
                            "field selector");
        }
    } else {
        ek_autofree char *op_p = ek__p("%s.operator", path);
        ek__fe_invalid_s(e, op_p, op, "not a valid selector operator");
    }
    const char *key = ek__sstr(r, "key");
    if (strcmp(key, "metadata.name") != 0) {
        ek_autofree char *kp = ek__p("%s.key", path);
        ek__fe_invalid_s(e, kp, key, "not a valid field selector key");
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach (ek__arr(r, "values"), i, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_dns1123_subdomain(s, &m)) {
            ek_autofree char *ip = ek__p("%s.values[%zu]", path, i);
            ek__fe_invalid_msgs(e, ip, s, &m);
        }
    }
}

static void v_node_selector_term(ek_field_errors_t *e, const json_t *t, bool check_values,
                                 const char *path)
{
    size_t j;
    json_t *r;
    json_array_foreach (ek__arr(t, "matchExpressions"), j, r) {
        ek_autofree char *p = ek__p("%s.matchExpressions[%zu]", path, j);
        v_node_selector_requirement(e, r, check_values, p);
    }
    json_array_foreach (ek__arr(t, "matchFields"), j, r) {
        ek_autofree char *p = ek__p("%s.matchFields[%zu]", path, j);
        v_node_field_requirement(e, r, p);
    }
}

void ek__v_node_selector(ek_field_errors_t *e, const json_t *ns, const char *path)
{
    ek_autofree char *tp = ek__p("%s.nodeSelectorTerms", path);
    const json_t *terms = ek__arr(ns, "nodeSelectorTerms");
    if (json_array_size(terms) == 0) {
        ek__fe_required(e, tp, "must have at least one node selector term");
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach (terms, i, t) {
        ek_autofree char *p = ek__p("%s[%zu]", tp, i);
        v_node_selector_term(e, t, true, p);
    }
}

static void v_weight(ek_field_errors_t *e, const json_t *o, const char *path)
{
    long long w = ek__intd(o, "weight", 0);
    if (w <= 0 || w > 100) {
        ek_autofree char *p = ek__p("%s.weight", path);
        ek__fe_invalid_i(e, p, w, "must be in the range 1-100");
    }
}

static void v_pod_affinity_term(ek_field_errors_t *e, const json_t *t, const char *path)
{
    ek_autofree char *lp = ek__p("%s.labelSelector", path);
    ek__v_label_selector(e, ek__obj(t, "labelSelector"), lp);
    ek_autofree char *nsp = ek__p("%s.namespaceSelector", path);
    ek__v_label_selector(e, ek__obj(t, "namespaceSelector"), nsp);
    size_t i;
    json_t *ns;
    json_array_foreach (ek__arr(t, "namespaces"), i, ns) {
        const char *s = json_is_string(ns) ? json_string_value(ns) : "";
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_dns1123_label(s, &m)) {
            ek_autofree char *p = ek__p("%s.namespace", path);
            ek__fe_invalid_msgs(e, p, s, &m);
        }
    }
    ek_autofree char *tk = ek__p("%s.topologyKey", path);
    if (!*ek__sstr(t, "topologyKey")) {
        ek__fe_required(e, tk, "can not be empty");
    }
    ek__v_label_name(e, ek__sstr(t, "topologyKey"), tk);
}

static void v_pod_affinity(ek_field_errors_t *e, const json_t *pa, const char *path)
{
    size_t i;
    json_t *t;
    ek_autofree char *rp = ek__p("%s.requiredDuringSchedulingIgnoredDuringExecution", path);
    json_array_foreach (ek__arr(pa, "requiredDuringSchedulingIgnoredDuringExecution"), i, t) {
        ek_autofree char *p = ek__p("%s[%zu]", rp, i);
        v_pod_affinity_term(e, t, p);
    }
    ek_autofree char *pp = ek__p("%s.preferredDuringSchedulingIgnoredDuringExecution", path);
    json_array_foreach (ek__arr(pa, "preferredDuringSchedulingIgnoredDuringExecution"), i, t) {
        ek_autofree char *p = ek__p("%s[%zu]", pp, i);
        v_weight(e, t, p);
        ek_autofree char *tp = ek__p("%s.podAffinityTerm", p);
        v_pod_affinity_term(e, ek__obj(t, "podAffinityTerm"), tp);
    }
}

static void v_affinity(ek_field_errors_t *e, const json_t *a, const char *path)
{
    const json_t *na = ek__obj(a, "nodeAffinity");
    if (na) {
        const json_t *req = ek__obj(na, "requiredDuringSchedulingIgnoredDuringExecution");
        if (req) {
            ek_autofree char *p =
                ek__p("%s.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution", path);
            ek__v_node_selector(e, req, p);
        }
        size_t i;
        json_t *t;
        json_array_foreach (ek__arr(na, "preferredDuringSchedulingIgnoredDuringExecution"), i, t) {
            ek_autofree char *p = ek__p(
                "%s.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[%zu]", path, i);
            v_weight(e, t, p);
            ek_autofree char *pp = ek__p("%s.preference", p);
            v_node_selector_term(e, ek__obj(t, "preference"), false, pp);
        }
    }
    static const char *const kinds[] = { "podAffinity", "podAntiAffinity" };
    for (size_t k = 0; k < EK_ARRAY_SIZE(kinds); k++) {
        const json_t *pa = ek__obj(a, kinds[k]);
        if (pa) {
            ek_autofree char *p = ek__p("%s.%s", path, kinds[k]);
            v_pod_affinity(e, pa, p);
        }
    }
}

/* DNS search domains: at most 32, 2048 characters in all, each a subdomain. */
static void v_dns_searches(ek_field_errors_t *e, const json_t *search, const char *path)
{
    size_t i;
    json_t *v;
    ek_autofree char *sp = ek__p("%s.searches", path);
    size_t total = 0;
    json_array_foreach (search, i, v) {
        total += (i ? 1 : 0) + (json_is_string(v) ? json_string_length(v) : 0);
    }
    if (json_array_size(search) > 32) {
        ek__fe_invalid_j(e, sp, search, "must not have more than 32 search paths");
    }
    if (total > 2048) {
        ek__fe_invalid_j(e, sp, search,
                         "must not have more than 2048 characters (including spaces) in the search "
                         "list");
    }
    json_array_foreach (search, i, v) {
        ek_autofree char *s = ek_xstrdup(json_is_string(v) ? json_string_value(v) : "");
        size_t n = strlen(s);
        if (n && s[n - 1] == '.') {
            s[n - 1] = 0;
        }
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_dns1123_subdomain(s, &m)) {
            ek_autofree char *p = ek__p("%s[%zu]", sp, i);
            ek__fe_invalid_msgs(e, p, s, &m);
        }
    }
}

static void v_dns_config(ek_field_errors_t *e, const json_t *spec, const char *path)
{
    const json_t *dc = ek__obj(spec, "dnsConfig");
    bool none = strcmp(ek__sstr(spec, "dnsPolicy"), "None") == 0;
    ek_autofree char *nsp = ek__p("%s.nameservers", path);
    if (none && !dc) {
        ek__fe_required(e, path, "must provide `dnsConfig` when `dnsPolicy` is None");
        return;
    }
    if (none && ek__validate_len(dc, "nameservers") == 0) {
        ek__fe_required(e, nsp,
                        "must provide at least one DNS nameserver when `dnsPolicy` is None");
        return;
    }
    if (!dc) {
        return;
    }
    const json_t *ns = ek__arr(dc, "nameservers");
    if (json_array_size(ns) > 3) {
        ek__fe_invalid_j(e, nsp, ns, "must not have more than 3 nameservers");
    }
    size_t i;
    json_t *v;
    json_array_foreach (ns, i, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (!ek__ip_family(s)) {
            ek_autofree char *p = ek__p("%s[%zu]", nsp, i);
            ek__fe_invalid_s(e, p, s,
                             "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
        }
    }
    v_dns_searches(e, ek__arr(dc, "searches"), path);
    json_array_foreach (ek__arr(dc, "options"), i, v) {
        if (!*ek__sstr(v, "name")) {
            ek_autofree char *p = ek__p("%s.options[%zu]", path, i);
            ek__fe_required(e, p, "must not be empty");
        }
    }
}

static void v_gates(ek_field_errors_t *e, const json_t *spec, const char *path)
{
    size_t i;
    json_t *g;
    json_array_foreach (ek__arr(spec, "readinessGates"), i, g) {
        ek_autofree char *p = ek__p("%s.readinessGates[%zu].conditionType", path, i);
        ek__v_label_name(e, ek__sstr(g, "conditionType"), p);
    }
    ek_auto(json_t) seen = json_object();
    json_array_foreach (ek__arr(spec, "schedulingGates"), i, g) {
        const char *name = ek__sstr(g, "name");
        ek_autofree char *p = ek__p("%s.schedulingGates[%zu]", path, i);
        ek__v_label_name(e, name, p);
        if (json_object_get(seen, name)) {
            ek__fe_duplicate_s(e, p, name);
        }
        json_object_set_new(seen, name, json_true());
    }
}

static void v_topology_spread(ek_field_errors_t *e, const json_t *list, const char *path)
{
    static const char *const actions[] = { "DoNotSchedule", "ScheduleAnyway", NULL };
    static const char *const policies[] = { "Honor", "Ignore", NULL };
    size_t i, n = json_array_size(list);
    for (i = 0; i < n; i++) {
        const json_t *c = json_array_get(list, i);
        ek_autofree char *cp = ek__p("%s[%zu]", path, i);
        long long skew = ek__intd(c, "maxSkew", 0);
        if (skew <= 0) {
            ek_autofree char *p = ek__p("%s.maxSkew", cp);
            ek__fe_invalid_i(e, p, skew, "must be greater than zero");
        }
        const char *key = ek__sstr(c, "topologyKey"), *act = ek__sstr(c, "whenUnsatisfiable");
        if (!*key) {
            ek_autofree char *p = ek__p("%s.topologyKey", cp);
            ek__fe_required(e, p, "can not be empty");
        }
        if (!in_list(act, actions)) {
            ek_autofree char *p = ek__p("%s.whenUnsatisfiable", cp);
            ek__fe_not_supported_s(e, p, act, actions);
        }
        for (size_t j = i + 1; j < n; j++) {
            const json_t *o = json_array_get(list, j);
            if (strcmp(key, ek__sstr(o, "topologyKey")) == 0 &&
                strcmp(act, ek__sstr(o, "whenUnsatisfiable")) == 0) {
                ek_autofree char *p = ek__p("%s.{topologyKey, whenUnsatisfiable}", cp);
                ek_autofree char *v = ek__p("{%s, %s}", key, act);
                ek__fe_duplicate_s(e, p, v);
                break;
            }
        }
        long long md;
        if (ek__int(c, "minDomains", &md)) {
            ek_autofree char *p = ek__p("%s.minDomains", cp);
            if (md <= 0) {
                ek__fe_invalid_i(e, p, md, "must be greater than zero");
            }
            if (strcmp(act, "DoNotSchedule") != 0) {
                ek__fe_invalid_i(
                    e, p, md, "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not %s",
                    act);
            }
        }
        static const char *const pk[] = { "nodeAffinityPolicy", "nodeTaintsPolicy" };
        for (size_t k = 0; k < EK_ARRAY_SIZE(pk); k++) {
            const char *pv = ek__str(c, pk[k]);
            if (pv && !in_list(pv, policies)) {
                ek_autofree char *p = ek__p("%s.%s", cp, pk[k]);
                ek__fe_not_supported_s(e, p, pv, policies);
            }
        }
        ek_autofree char *lp = ek__p("%s.labelSelector", cp);
        ek__v_label_selector(e, ek__obj(c, "labelSelector"), lp);
    }
}

void ek__v_toleration_list(ek_field_errors_t *e, const json_t *tols, const char *path)
{
    size_t i;
    json_t *t;
    json_array_foreach (tols, i, t) {
        ek_autofree char *ip = ek__p("%s[%zu]", path, i);
        ek_autofree char *op_p = ek__p("%s.operator", ip);
        ek_autofree char *ef_p = ek__p("%s.effect", ip);
        const char *key = ek__sstr(t, "key"), *op = ek__sstr(t, "operator");
        const char *effect = ek__sstr(t, "effect"), *value = ek__sstr(t, "value");
        if (*key) {
            ek_autofree char *kp = ek__p("%s.key", ip);
            ek__v_label_name(e, key, kp);
        }
        if (!*key && strcmp(op, "Exists") != 0) {
            ek__fe_invalid_s(e, op_p, op,
                             "operator must be Exists when `key` is empty, which means \"match "
                             "all values and all keys\"");
        }
        if (ek__has(t, "tolerationSeconds") && strcmp(effect, "NoExecute") != 0) {
            ek__fe_invalid_s(e, ef_p, effect,
                             "effect must be 'NoExecute' when `tolerationSeconds` is set");
        }
        if (!*op || strcmp(op, "Equal") == 0) {
            ek__msgs_t m;
            ek__msgs_init(&m);
            if (ek__is_label_value(value, &m)) {
                /* Kubernetes joins the messages with ";" into one error. */
                ek_autobuf b = EK_BUF_INIT;
                for (const char *p = m.buf; *p; p += strlen(p) + 1) {
                    ek_buf_printf(&b, "%s%s", b.len ? ";" : "", p);
                }
                ek__fe_invalid_s(e, op_p, value, "%s", b.data);
            }
        } else if (strcmp(op, "Exists") == 0) {
            if (*value) {
                ek__fe_invalid_s(e, op_p, value, "value must be empty when `operator` is 'Exists'");
            }
        } else {
            static const char *const ops[] = { "Equal", "Exists", NULL };
            ek__fe_not_supported_s(e, op_p, op, ops);
        }
        static const char *const effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute",
                                               NULL };
        if (*effect && !in_list(effect, effects)) {
            ek__fe_not_supported_s(e, ef_p, effect, effects);
        }
    }
}

static void v_host_aliases(ek_field_errors_t *e, const json_t *list, const char *path)
{
    size_t i, j;
    json_t *a, *h;
    json_array_foreach (list, i, a) {
        const char *ip = ek__sstr(a, "ip");
        if (!ek__ip_family(ip)) {
            ek_autofree char *p = ek__p("%s[%zu].ip", path, i);
            ek__fe_invalid_s(e, p, ip,
                             "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
        }
        json_array_foreach (ek__arr(a, "hostnames"), j, h) {
            const char *s = json_is_string(h) ? json_string_value(h) : "";
            ek__msgs_t m;
            ek__msgs_init(&m);
            if (ek__is_dns1123_subdomain(s, &m)) {
                ek_autofree char *p = ek__p("%s[%zu].hostnames[%zu]", path, i, j);
                ek__fe_invalid_msgs(e, p, s, &m);
            }
        }
    }
}

static void v_scalars(ek_field_errors_t *e, const json_t *spec, const char *path)
{
    v_name_field(e, spec, "serviceAccountName", EK_NAME_SUBDOMAIN, path);
    v_name_field(e, spec, "nodeName", EK_NAME_SUBDOMAIN, path);
    long long ads;
    if (ek__int(spec, "activeDeadlineSeconds", &ads) && (ads < 1 || ads > INT_MAX)) {
        ek_autofree char *p = ek__p("%s.activeDeadlineSeconds", path);
        ek__fe_invalid_i(e, p, ads, "must be between 1 and 2147483647, inclusive");
    }
    v_name_field(e, spec, "hostname", EK_NAME_LABEL, path);
    v_name_field(e, spec, "subdomain", EK_NAME_LABEL, path);
    ek_autofree char *tp = ek__p("%s.tolerations", path);
    ek__v_toleration_list(e, ek__arr(spec, "tolerations"), tp);
    ek_autofree char *hp = ek__p("%s.hostAliases", path);
    v_host_aliases(e, ek__arr(spec, "hostAliases"), hp);
    v_name_field(e, spec, "priorityClassName", EK_NAME_SUBDOMAIN, path);
    const char *rc = ek__str(spec, "runtimeClassName");
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (rc && ek__is_dns1123_subdomain(rc, &m)) {
        ek_autofree char *p = ek__p("%s.runtimeClassName", path);
        ek__fe_invalid_msgs(e, p, rc, &m);
    }
    const char *pp = ek__str(spec, "preemptionPolicy");
    if (pp) {
        static const char *const valid[] = { "PreemptLowerPriority", "Never", NULL };
        ek_autofree char *p = ek__p("%s.preemptionPolicy", path);
        if (!*pp) {
            ek__fe_required(e, p, "");
        } else if (!in_list(pp, valid)) {
            ek__fe_not_supported_s(e, p, pp, valid);
        }
    }
    const json_t *os = ek__obj(spec, "os");
    if (os) {
        ek_autofree char *p = ek__p("%s.os", path);
        const char *name = ek__sstr(os, "name");
        static const char *const valid[] = { "linux", "windows", NULL };
        if (!*name) {
            ek_autofree char *np = ek__p("%s.name", p);
            ek__fe_required(e, np, "cannot be empty");
        } else if (!in_list(name, valid)) {
            ek__fe_not_supported_s(e, p, name, valid);
        }
    }
}

/* ValidatePodSpec. */
static void v_pod_spec(ek_field_errors_t *e, const json_t *spec, bool is_pod, const char *path)
{
    podctx_t c = { 0 };
    ek_autofree char *tg = ek__p("%s.terminationGracePeriodSeconds", path);
    c.has_grace = ek__int(spec, "terminationGracePeriodSeconds", &c.grace);
    if (!ek__has(spec, "terminationGracePeriodSeconds")) {
        ek__fe_required(e, tg, "");
    }
    const json_t *sc = ek__obj(spec, "securityContext");
    c.host_users = !json_is_false(json_object_get(sc, "hostUsers"));
    ek_autofree char *vp = ek__p("%s.volumes", path);
    ek_auto(json_t) vols = ek__v_volumes(e, ek__arr(spec, "volumes"), vp);
    c.vols = vols;
    ek_autofree char *cp = ek__p("%s.containers", path);
    v_containers(e, ek__arr(spec, "containers"), &c, cp);
    ek_autofree char *ip = ek__p("%s.initContainers", path);
    v_init_containers(e, ek__arr(spec, "initContainers"), ek__arr(spec, "containers"), &c, ip);
    v_host_network_deps(e, spec, is_pod, path);
    static const char *const restart[] = { "Always", "OnFailure", "Never", NULL };
    v_enum(e, spec, "restartPolicy", path, restart);
    static const char *const dns[] = { "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None",
                                       NULL };
    v_enum(e, spec, "dnsPolicy", path, dns);
    ek_autofree char *nsp = ek__p("%s.nodeSelector", path);
    ek__v_labels(e, ek__obj(spec, "nodeSelector"), nsp);
    ek_autofree char *scp = ek__p("%s.securityContext", path);
    v_pod_security(e, spec, scp);
    ek_autofree char *ap = ek__p("%s.affinity", path);
    v_affinity(e, ek__obj(spec, "affinity"), ap);
    ek_autofree char *dp = ek__p("%s.dnsConfig", path);
    v_dns_config(e, spec, dp);
    v_gates(e, spec, path);
    ek_autofree char *tsp = ek__p("%s.topologySpreadConstraints", path);
    v_topology_spread(e, ek__arr(spec, "topologySpreadConstraints"), tsp);
    if (!c.host_users) {
        static const char *const hosts[] = { "hostNetwork", "HostPID", "HostIPC" };
        static const char *const keys[] = { "hostNetwork", "hostPID", "hostIPC" };
        for (size_t i = 0; i < EK_ARRAY_SIZE(keys); i++) {
            if (ek__true(spec, keys[i])) {
                ek_autofree char *p = ek__p("%s.%s", path, hosts[i]);
                ek__fe_forbidden(e, p, "when `pod.Spec.HostUsers` is false");
            }
        }
    }
    v_scalars(e, spec, path);
}

/* ---- templates ---- */

void ek__v_pod_template(ek_field_errors_t *e, const json_t *tmpl, const char *path)
{
    const json_t *meta = ek__obj(tmpl, "metadata");
    ek_autofree char *lp = ek__p("%s.labels", path);
    ek__v_labels(e, ek__obj(meta, "labels"), lp);
    ek_autofree char *ap = ek__p("%s.annotations", path);
    ek__v_annotations(e, ek__obj(meta, "annotations"), ap);
    const json_t *spec = ek__obj(tmpl, "spec");
    ek_autofree char *sp = ek__p("%s.spec", path);
    v_pod_spec(e, spec, false, sp);
    if (ek__validate_len(spec, "ephemeralContainers") > 0) {
        ek_autofree char *ep = ek__p("%s.spec.ephemeralContainers", path);
        ek__fe_forbidden(e, ep, "ephemeral containers not allowed in pod template");
    }
}

/* ---- pods ---- */

static void v_pod_annotations(ek_field_errors_t *e, const json_t *meta)
{
    const char *cost =
        ek__str(ek__obj(meta, "annotations"), "controller.kubernetes.io/pod-deletion-cost");
    if (!cost) {
        return;
    }
    char *end;
    long long v = strtoll(cost, &end, 10);
    if (!*cost || *end || v < INT_MIN || v > INT_MAX) {
        ek__fe_invalid_s(e, "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]",
                         cost, "must be a 32bit integer");
    }
}

static void v_image_whitespace(ek_field_errors_t *e, const json_t *ctrs, const char *path)
{
    size_t i;
    json_t *c;
    json_array_foreach (ctrs, i, c) {
        const char *img = ek__sstr(c, "image");
        size_t n = strlen(img);
        if (n && (isspace((unsigned char)img[0]) || isspace((unsigned char)img[n - 1]))) {
            ek_autofree char *p = ek__p("%s[%zu].image", path, i);
            ek__fe_invalid_s(e, p, img, "must not have leading or trailing whitespace");
        }
    }
}

/* validatePodMetadataAndSpec. */
static void v_pod_metadata_and_spec(ek_field_errors_t *e, const json_t *pod)
{
    ek__v_object_meta(e, pod, true, EK_NAME_SUBDOMAIN);
    v_pod_annotations(e, ek__obj(pod, "metadata"));
    const json_t *spec = ek__obj(pod, "spec");
    v_pod_spec(e, spec, true, "spec");
    if (!*ek__sstr(spec, "serviceAccountName")) {
        size_t i, j;
        json_t *v, *s;
        json_array_foreach (ek__arr(spec, "volumes"), i, v) {
            json_array_foreach (ek__arr(ek__obj(v, "projected"), "sources"), j, s) {
                if (ek__obj(s, "serviceAccountToken")) {
                    ek_autofree char *p =
                        ek__p("spec.volumes[%zu].projected.sources[%zu].serviceAccountToken", i, j);
                    ek__fe_forbidden(e, p,
                                     "must not be specified when serviceAccountName is not set");
                }
            }
        }
    }
    v_image_whitespace(e, ek__arr(spec, "containers"), "spec.containers");
    v_image_whitespace(e, ek__arr(spec, "initContainers"), "spec.initContainers");
}

static bool v_container_updates(ek_field_errors_t *e, const json_t *nc, const json_t *oc,
                                const char *path)
{
    if (json_array_size(nc) != json_array_size(oc)) {
        ek__fe_forbidden(e, path, "pod updates may not add or remove containers");
        return false;
    }
    size_t i;
    json_t *c;
    json_array_foreach (nc, i, c) {
        const char *img = ek__sstr(c, "image");
        ek_autofree char *p = ek__p("%s[%zu].image", path, i);
        size_t n = strlen(img);
        if (n == 0) {
            ek__fe_required(e, p, "");
        } else if (isspace((unsigned char)img[0]) || isspace((unsigned char)img[n - 1])) {
            ek__fe_invalid_s(e, p, img, "must not have leading or trailing whitespace");
        }
    }
    return true;
}

static bool v_deadline_update(ek_field_errors_t *e, const json_t *ns, const json_t *os)
{
    long long nv, ov;
    bool has_n = ek__int(ns, "activeDeadlineSeconds", &nv);
    bool has_o = ek__int(os, "activeDeadlineSeconds", &ov);
    if (has_n) {
        if (nv < 0 || nv > INT_MAX) {
            ek__fe_invalid_i(e, "spec.activeDeadlineSeconds", nv,
                             "must be between 0 and 2147483647, inclusive");
            return false;
        }
        if (has_o && ov < nv) {
            ek__fe_invalid_i(e, "spec.activeDeadlineSeconds", nv,
                             "must be less than or equal to previous value");
            return false;
        }
    } else if (has_o) {
        ek__fe_invalid_raw(e, "spec.activeDeadlineSeconds", "null",
                           "must not update from a positive integer to nil value");
    }
    return true;
}

/* Equality of tolerations ignoring tolerationSeconds. */
static bool toleration_equal(const json_t *a, const json_t *b)
{
    ek_auto(json_t) ca = json_deep_copy(a);
    ek_auto(json_t) cb = json_deep_copy(b);
    json_object_del(ca, "tolerationSeconds");
    json_object_del(cb, "tolerationSeconds");
    return json_equal(ca, cb);
}

static void v_only_added_tolerations(ek_field_errors_t *e, const json_t *nt, const json_t *ot)
{
    size_t i, j;
    json_t *o, *n;
    json_array_foreach (ot, i, o) {
        bool found = false;
        json_array_foreach (nt, j, n) {
            found |= toleration_equal(o, n);
        }
        if (!found) {
            ek__fe_forbidden(
                e, "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds");
            return;
        }
    }
    ek__v_toleration_list(e, nt, "spec.tolerations");
}

static void v_only_deleted_gates(ek_field_errors_t *e, const json_t *ng, const json_t *og)
{
    size_t i, j;
    json_t *n, *o;
    json_array_foreach (ng, i, n) {
        bool old = false;
        json_array_foreach (og, j, o) {
            old |= strcmp(ek__sstr(n, "name"), ek__sstr(o, "name")) == 0;
        }
        if (!old) {
            ek_autofree char *p = ek__p("spec.schedulingGates[%zu].name", i);
            ek_autofree char *d =
                ek__p("only deletion is allowed, but found new scheduling gate '%s'",
                      ek__sstr(n, "name"));
            ek__fe_forbidden(e, p, d);
        }
    }
}

static void copy_images(json_t *munged, const json_t *old, const char *key)
{
    size_t i;
    json_t *c;
    json_array_foreach (ek__arr(munged, key), i, c) {
        json_t *img = json_object_get(json_array_get(ek__arr(old, key), i), "image");
        if (img) {
            json_object_set(c, "image", img);
        } else {
            json_object_del(c, "image");
        }
    }
}

static void copy_member(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v) {
        json_object_set(dst, key, v);
    } else {
        json_object_del(dst, key);
    }
}

/* "RestartPolicy" from "restartPolicy": the Go field name cmp.Diff prints. */
static void go_field(const char *key, char *buf, size_t len)
{
    snprintf(buf, len, "%s", key);
    if (buf[0] >= 'a' && buf[0] <= 'z') {
        buf[0] = (char)(buf[0] - 'a' + 'A');
    }
}

/* A cmp.Diff-like listing of the top-level spec fields that differ. */
static char *spec_diff(const json_t *old, const json_t *munged)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_puts(&b, "  core.PodSpec{\n");
    ek_auto(json_t) keys = json_object();
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)old, k, v) {
        json_object_set_new(keys, k, json_true());
    }
    json_object_foreach ((json_t *)munged, k, v) {
        json_object_set_new(keys, k, json_true());
    }
    json_object_foreach (keys, k, v) {
        const json_t *ov = json_object_get(old, k), *nv = json_object_get(munged, k);
        if (ek__equal(ov, nv)) {
            continue;
        }
        char f[128];
        go_field(k, f, sizeof(f));
        ek_autofree char *os = ek__go_json(ov);
        ek_autofree char *ns = ek__go_json(nv);
        ek_buf_printf(&b, "- \t%s: %s,\n+ \t%s: %s,\n", f, os, f, ns);
    }
    ek_buf_puts(&b, "  }\n");
    return ek_buf_steal(&b, NULL);
}

static void v_pod_spec_unchanged(ek_field_errors_t *e, const json_t *ns, const json_t *os)
{
    if (ek__equal(ns, os)) {
        return;
    }
    ek_auto(json_t) m = json_deep_copy(ns);
    copy_images(m, os, "containers");
    copy_images(m, os, "initContainers");
    copy_member(m, os, "activeDeadlineSeconds");
    copy_member(m, os, "schedulingGates");
    copy_member(m, os, "tolerations");
    long long og, mg;
    if (ek__int(os, "terminationGracePeriodSeconds", &og) && og < 0 &&
        ek__int(m, "terminationGracePeriodSeconds", &mg) && mg == 1) {
        copy_member(m, os, "terminationGracePeriodSeconds");
    }
    if (ek__validate_len(os, "schedulingGates") > 0) {
        copy_member(m, os, "nodeSelector"); /* gated pods may add node selectors */
    }
    if (ek__equal(m, os)) {
        return;
    }
    ek_autofree char *diff = spec_diff(os, m);
    ek_autofree char *d = ek__p(
        "pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
        "set to 1 if it was previously negative)\n%s",
        diff);
    ek__fe_forbidden(e, "spec", d);
}

static void v_pod_update(ek_field_errors_t *e, const json_t *pod, const json_t *old)
{
    ek__v_object_meta_update(e, pod, old);
    v_pod_metadata_and_spec(e, pod);
    const json_t *ns = ek__obj(pod, "spec"), *os = ek__obj(old, "spec");
    if (!v_container_updates(e, ek__arr(ns, "containers"), ek__arr(os, "containers"),
                             "spec.containers") ||
        !v_container_updates(e, ek__arr(ns, "initContainers"), ek__arr(os, "initContainers"),
                             "spec.initContainers") ||
        !v_deadline_update(e, ns, os)) {
        return;
    }
    v_only_added_tolerations(e, ek__arr(ns, "tolerations"), ek__arr(os, "tolerations"));
    v_only_deleted_gates(e, ek__arr(ns, "schedulingGates"), ek__arr(os, "schedulingGates"));
    v_pod_spec_unchanged(e, ns, os);
}

void ek__v_pod(ek_field_errors_t *e, const json_t *pod, const json_t *old)
{
    if (old) {
        v_pod_update(e, pod, old);
        return;
    }
    v_pod_metadata_and_spec(e, pod);
    const json_t *spec = ek__obj(pod, "spec");
    if (ek__validate_len(spec, "ephemeralContainers") > 0) {
        ek__fe_forbidden(e, "spec.ephemeralContainers", "cannot be set on create");
    }
    if (*ek__sstr(spec, "nodeName") && ek__validate_len(spec, "schedulingGates") > 0) {
        ek__fe_forbidden(e, "spec.nodeName",
                         "cannot be set until all schedulingGates have been cleared");
    }
}
