/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kinds outside core, apps and batch: networking (Ingress, IngressClass, NetworkPolicy),
 * RBAC, PodDisruptionBudgets, PriorityClasses, StorageClasses, Leases, EndpointSlices,
 * HorizontalPodAutoscalers, CertificateSigningRequests and a plausible subset of
 * CustomResourceDefinition rules (names, group, scope, versions; the structural schema is
 * checked elsewhere).
 */
#include <ctype.h>
#include <stdio.h>

#include "api/validate-internal.h"

#define IP_MSG   "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
#define CIDR_MSG "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void meta(ek_field_errors_t *e, const json_t *o, const json_t *old, bool namespaced,
                 ek__name_rule_t rule)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    } else {
        ek__v_object_meta(e, o, namespaced, rule);
    }
}

static void v_segment(ek_field_errors_t *e, const char *v, const char *path)
{
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (!*v) {
        ek__fe_required(e, path, "");
    } else if (ek__is_path_segment_name(v, &m)) {
        ek__fe_invalid_msgs(e, path, v, &m);
    }
}

static void v_name_with(ek_field_errors_t *e, ek__name_rule_t rule, const char *v, const char *path)
{
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (ek__name_check(rule, v, false, &m)) {
        ek__fe_invalid_msgs(e, path, v, &m);
    }
}

/* ---- networking ---- */

static void v_ingress_backend(ek_field_errors_t *e, const json_t *b, const char *path)
{
    const json_t *res = ek__obj(b, "resource"), *svc = ek__obj(b, "service");
    if (res && svc) {
        ek__fe_invalid_s(e, path, "", "cannot set both resource and service backends");
        return;
    }
    if (res) {
        ek_autofree char *kp = ek__p("%s.resource.kind", path);
        ek_autofree char *np = ek__p("%s.resource.name", path);
        const char *group = ek__str(res, "apiGroup");
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (group && ek__is_dns1123_subdomain(group, &m)) {
            ek_autofree char *gp = ek__p("%s.resource.apiGroup", path);
            ek__fe_invalid_msgs(e, gp, group, &m);
        }
        v_segment(e, ek__sstr(res, "kind"), kp);
        v_segment(e, ek__sstr(res, "name"), np);
        return;
    }
    if (!svc) {
        ek__fe_invalid_s(e, path, "", "resource or service backend is required");
        return;
    }
    const char *name = ek__sstr(svc, "name");
    ek_autofree char *np = ek__p("%s.service.name", path);
    if (!*name) {
        ek__fe_required(e, np, "");
    } else {
        v_name_with(e, EK_NAME_DNS1035, name, np);
    }
    const json_t *port = ek__obj(svc, "port");
    const char *pname = ek__sstr(port, "name");
    long long pnum = ek__intd(port, "number", 0);
    if (*pname && pnum) {
        ek__fe_invalid_s(e, path, "", "cannot set both port name & port number");
    } else if (*pname) {
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_port_name(pname, &m)) {
            ek_autofree char *pp = ek__p("%s.service.port.name", path);
            ek__fe_invalid_msgs(e, pp, pname, &m);
        }
    } else if (pnum) {
        if (!ek__is_port_num(pnum)) {
            ek_autofree char *pp = ek__p("%s.service.port.number", path);
            ek__fe_invalid_i(e, pp, pnum, EK_MSG_PORT_RANGE);
        }
    } else {
        ek__fe_required(e, path, "port name or number is required");
    }
}

static void v_ingress_path(ek_field_errors_t *e, const json_t *p, const char *path)
{
    const char *pt = ek__str(p, "pathType"), *hp = ek__sstr(p, "path");
    ek_autofree char *ptp = ek__p("%s.pathType", path);
    ek_autofree char *pp = ek__p("%s.path", path);
    if (!pt) {
        ek__fe_required(e, ptp, "pathType must be specified");
        return;
    }
    if (strcmp(pt, "Exact") == 0 || strcmp(pt, "Prefix") == 0) {
        if (hp[0] != '/') {
            ek__fe_invalid_s(e, pp, hp, "must be an absolute path");
        }
        static const char *const seqs[] = { "//", "/./", "/../", "%2f", "%2F", NULL };
        for (size_t i = 0; *hp && seqs[i]; i++) {
            if (strstr(hp, seqs[i])) {
                ek__fe_invalid_s(e, pp, hp, "must not contain '%s'", seqs[i]);
            }
        }
        static const char *const sufs[] = { "/..", "/.", NULL };
        for (size_t i = 0; *hp && sufs[i]; i++) {
            if (ek_has_suffix(hp, sufs[i])) {
                ek__fe_invalid_s(e, pp, hp, "cannot end with '%s'", sufs[i]);
            }
        }
    } else if (strcmp(pt, "ImplementationSpecific") == 0) {
        if (*hp && hp[0] != '/') {
            ek__fe_invalid_s(e, pp, hp, "must be an absolute path");
        }
    } else {
        static const char *const valid[] = { "Exact", "ImplementationSpecific", "Prefix", NULL };
        ek__fe_not_supported_s(e, ptp, pt, valid);
    }
    ek_autofree char *bp = ek__p("%s.backend", path);
    v_ingress_backend(e, ek__obj(p, "backend"), bp);
}

static void v_host(ek_field_errors_t *e, const char *host, const char *path, bool rule)
{
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (rule && ek__ip_family(host)) {
        ek__fe_invalid_s(e, path, host, "must be a DNS name, not an IP address");
    }
    if (strchr(host, '*') ? ek__is_wildcard_dns1123_subdomain(host, &m)
                          : ek__is_dns1123_subdomain(host, &m)) {
        ek__fe_invalid_msgs(e, path, host, &m);
    }
}

static void v_ingress_spec(ek_field_errors_t *e, const json_t *spec)
{
    const json_t *rules = ek__arr(spec, "rules"), *def = ek__obj(spec, "defaultBackend");
    if (json_array_size(rules) == 0 && !def) {
        ek_autofree char *raw = rules ? ek_xstrdup("[]networking.IngressRule{}")
                                      : ek_xstrdup("[]networking.IngressRule(nil)");
        ek__fe_invalid_raw(e, "spec", raw, "either `defaultBackend` or `rules` must be specified");
    }
    if (def) {
        v_ingress_backend(e, def, "spec.defaultBackend");
    }
    size_t i, j;
    json_t *r, *p;
    json_array_foreach (rules, i, r) {
        const char *host = ek__sstr(r, "host");
        if (*host) {
            ek_autofree char *hp = ek__p("spec.rules[%zu].host", i);
            v_host(e, host, hp, true);
        }
        const json_t *http = ek__obj(r, "http");
        if (!http) {
            continue;
        }
        if (ek__validate_len(http, "paths") == 0) {
            ek_autofree char *pp = ek__p("spec.rules[%zu].http.paths", i);
            ek__fe_required(e, pp, "");
        }
        json_array_foreach (ek__arr(http, "paths"), j, p) {
            ek_autofree char *pp = ek__p("spec.rules[%zu].http.paths[%zu]", i, j);
            v_ingress_path(e, p, pp);
        }
    }
    json_array_foreach (ek__arr(spec, "tls"), i, r) {
        json_array_foreach (ek__arr(r, "hosts"), j, p) {
            ek_autofree char *hp = ek__p("spec.tls[%zu].hosts[%zu]", i, j);
            v_host(e, json_is_string(p) ? json_string_value(p) : "", hp, false);
        }
        const char *sn = ek__sstr(r, "secretName");
        if (*sn) {
            ek_autofree char *sp = ek__p("spec.tls[%zu].secretName", i);
            v_name_with(e, EK_NAME_SUBDOMAIN, sn, sp);
        }
    }
    const char *cls = ek__str(spec, "ingressClassName");
    if (cls) {
        v_name_with(e, EK_NAME_SUBDOMAIN, cls, "spec.ingressClassName");
    }
}

void ek__v_ingress(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    }
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    v_ingress_spec(e, ek__obj(o, "spec"));
    const char *ann =
        ek__str(ek__obj(ek__obj(o, "metadata"), "annotations"), "kubernetes.io/ingress.class");
    const char *cls = ek__str(ek__obj(o, "spec"), "ingressClassName");
    if (!old && ann && cls && strcmp(ann, cls) != 0) {
        ek__fe_invalid_s(e, "annotations.kubernetes.io/ingress.class", ann,
                         "must match `ingressClassName` when both are specified");
    }
}

void ek__v_ingressclass(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    const json_t *spec = ek__obj(o, "spec");
    if (old) {
        ek__v_object_meta_update(e, o, old);
        ek__v_immutable(e, json_object_get(spec, "controller"),
                        json_object_get(ek__obj(old, "spec"), "controller"), "spec.controller");
    }
    ek__v_object_meta(e, o, false, EK_NAME_SUBDOMAIN);
    const char *ctl = ek__sstr(spec, "controller");
    if (!*ctl) {
        ek__fe_required(e, "spec.controller", "");
    } else {
        if (strlen(ctl) > 250) {
            ek__fe_too_long(e, "spec.controller", 250);
        }
        const char *slash = strchr(ctl, '/');
        if (!slash || slash == ctl || !slash[1]) {
            ek__fe_invalid_s(e, "spec.controller", ctl,
                             "must be a domain-prefixed path (such as \"acme.io/foo\")");
        } else {
            ek_autofree char *host = ek_xstrndup(ctl, (size_t)(slash - ctl));
            v_name_with(e, EK_NAME_SUBDOMAIN, host, "spec.controller");
        }
    }
    const json_t *params = ek__obj(spec, "parameters");
    if (params) {
        v_segment(e, ek__sstr(params, "kind"), "spec.parameters.kind");
        v_segment(e, ek__sstr(params, "name"), "spec.parameters.name");
        const char *scope = ek__str(params, "scope");
        static const char *const scopes[] = { "Cluster", "Namespace", NULL };
        if (!scope) {
            ek__fe_required(e, "spec.parameters.scope", "");
        } else if (!in_list(scope, scopes)) {
            ek__fe_not_supported_s(e, "spec.parameters.scope", scope, scopes);
        } else if (strcmp(scope, "Namespace") == 0 && !ek__has(params, "namespace")) {
            ek__fe_required(e, "spec.parameters.namespace",
                            "`parameters.scope` is set to 'Namespace'");
        } else if (strcmp(scope, "Cluster") == 0 && ek__has(params, "namespace")) {
            ek__fe_forbidden(e, "spec.parameters.namespace",
                             "`parameters.scope` is set to 'Cluster'");
        }
    }
}

static void v_np_port(ek_field_errors_t *e, const json_t *p, const char *path)
{
    const char *proto = ek__str(p, "protocol");
    static const char *const protos[] = { "TCP", "UDP", "SCTP", NULL };
    if (proto && !in_list(proto, protos)) {
        ek_autofree char *pp = ek__p("%s.protocol", path);
        ek__fe_not_supported_s(e, pp, proto, protos);
    }
    const json_t *port = json_object_get(p, "port");
    long long end;
    bool has_end = ek__int(p, "endPort", &end);
    ek_autofree char *pp = ek__p("%s.port", path);
    ek_autofree char *ep = ek__p("%s.endPort", path);
    if (json_is_integer(port)) {
        long long v = json_integer_value(port);
        if (!ek__is_port_num(v)) {
            ek__fe_invalid_i(e, pp, v, EK_MSG_PORT_RANGE);
        }
        if (has_end && end < v) {
            ek__fe_invalid_i(e, ep, end, "must be greater than or equal to `port`");
        }
        if (has_end && !ek__is_port_num(end)) {
            ek__fe_invalid_i(e, ep, end, EK_MSG_PORT_RANGE);
        }
    } else if (json_is_string(port)) {
        if (has_end) {
            ek__fe_invalid_i(e, ep, end, "may not be specified when `port` is non-numeric");
        }
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_port_name(json_string_value(port), &m)) {
            ek__fe_invalid_msgs(e, pp, json_string_value(port), &m);
        }
    } else if (has_end) {
        ek__fe_invalid_i(e, ep, end, "may not be specified when `port` is not specified");
    }
}

static void v_ip_block(ek_field_errors_t *e, const json_t *b, const char *path)
{
    const char *cidr = ek__sstr(b, "cidr");
    ek_autofree char *cp = ek__p("%s.cidr", path);
    if (!*cidr) {
        ek__fe_required(e, cp, "");
        return;
    }
    if (!ek__is_cidr(cidr)) {
        ek__fe_invalid_s(e, cp, cidr, CIDR_MSG);
        return;
    }
    size_t i;
    json_t *x;
    json_array_foreach (ek__arr(b, "except"), i, x) {
        const char *s = json_is_string(x) ? json_string_value(x) : "";
        ek_autofree char *xp = ek__p("%s.except[%zu]", path, i);
        if (!ek__is_cidr(s)) {
            ek__fe_invalid_s(e, xp, s, CIDR_MSG);
        }
    }
}

static void v_np_peer(ek_field_errors_t *e, const json_t *peer, const char *path)
{
    int n = 0;
    static const char *const sels[] = { "podSelector", "namespaceSelector" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(sels); i++) {
        const json_t *s = ek__obj(peer, sels[i]);
        if (s) {
            n++;
            ek_autofree char *sp = ek__p("%s.%s", path, sels[i]);
            ek__v_label_selector(e, s, sp);
        }
    }
    const json_t *ipb = ek__obj(peer, "ipBlock");
    if (ipb) {
        n++;
        ek_autofree char *bp = ek__p("%s.ipBlock", path);
        v_ip_block(e, ipb, bp);
    }
    if (n == 0) {
        ek__fe_required(e, path, "must specify a peer");
    } else if (n > 1 && ipb) {
        ek__fe_forbidden(e, path, "may not specify both ipBlock and another peer");
    }
}

static void v_np_rules(ek_field_errors_t *e, const json_t *spec, const char *dir, const char *peers)
{
    size_t i, j;
    json_t *r, *x;
    json_array_foreach (ek__arr(spec, dir), i, r) {
        json_array_foreach (ek__arr(r, "ports"), j, x) {
            ek_autofree char *p = ek__p("spec.%s[%zu].ports[%zu]", dir, i, j);
            v_np_port(e, x, p);
        }
        json_array_foreach (ek__arr(r, peers), j, x) {
            ek_autofree char *p = ek__p("spec.%s[%zu].%s[%zu]", dir, i, peers, j);
            v_np_peer(e, x, p);
        }
    }
}

void ek__v_networkpolicy(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    meta(e, o, old, true, EK_NAME_SUBDOMAIN);
    const json_t *spec = ek__obj(o, "spec");
    ek__v_label_selector(e, ek__obj(spec, "podSelector"), "spec.podSelector");
    v_np_rules(e, spec, "ingress", "from");
    v_np_rules(e, spec, "egress", "to");
    const json_t *types = ek__arr(spec, "policyTypes");
    if (json_array_size(types) > 2) {
        ek_autofree char *raw = ek__go_json(types);
        ek__fe_invalid_raw(e, "spec.policyTypes", raw, "may not specify more than two policyTypes");
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach (types, i, t) {
        static const char *const valid[] = { "Ingress", "Egress", NULL };
        const char *s = json_is_string(t) ? json_string_value(t) : "";
        if (!in_list(s, valid)) {
            ek_autofree char *p = ek__p("spec.policyTypes[%zu]", i);
            ek__fe_not_supported_s(e, p, s, valid);
        }
    }
}

/* ---- RBAC ---- */

static void v_policy_rule(ek_field_errors_t *e, const json_t *r, bool namespaced, const char *path)
{
    ek_autofree char *vp = ek__p("%s.verbs", path);
    if (ek__validate_len(r, "verbs") == 0) {
        ek__fe_required(e, vp, "verbs must contain at least one value");
    }
    const json_t *urls = ek__arr(r, "nonResourceURLs");
    if (json_array_size(urls) > 0) {
        ek_autofree char *up = ek__p("%s.nonResourceURLs", path);
        if (namespaced) {
            ek__fe_invalid_j(e, up, urls, "namespaced rules cannot apply to non-resource URLs");
        }
        if (ek__validate_len(r, "apiGroups") || ek__validate_len(r, "resources") ||
            ek__validate_len(r, "resourceNames")) {
            ek__fe_invalid_j(e, up, urls,
                             "rules cannot apply to both regular resources and non-resource URLs");
        }
        return;
    }
    if (ek__validate_len(r, "apiGroups") == 0) {
        ek_autofree char *p = ek__p("%s.apiGroups", path);
        ek__fe_required(e, p, "resource rules must supply at least one api group");
    }
    if (ek__validate_len(r, "resources") == 0) {
        ek_autofree char *p = ek__p("%s.resources", path);
        ek__fe_required(e, p, "resource rules must supply at least one resource");
    }
    if (ek__validate_len(r, "resourceNames") > 0 && ek__validate_len(r, "resources") > 1) {
        ek_autofree char *p = ek__p("%s.resourceNames", path);
        ek__fe_required(e, p, "resource names cannot apply to multiple resources");
    }
}

static void v_roles(ek_field_errors_t *e, const json_t *o, const json_t *old, bool namespaced)
{
    ek__v_object_meta(e, o, namespaced, EK_NAME_SEGMENT);
    size_t i;
    json_t *r;
    json_array_foreach (ek__arr(o, "rules"), i, r) {
        ek_autofree char *p = ek__p("rules[%zu]", i);
        v_policy_rule(e, r, namespaced, p);
    }
    if (old) {
        ek__v_object_meta_update(e, o, old);
    }
}

void ek__v_role(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    v_roles(e, o, old, true);
}

void ek__v_clusterrole(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    v_roles(e, o, old, false);
}

static void v_subject(ek_field_errors_t *e, const json_t *s, bool namespaced, const char *path)
{
    const char *name = ek__sstr(s, "name"), *kind = ek__sstr(s, "kind");
    const char *group = ek__sstr(s, "apiGroup");
    ek_autofree char *np = ek__p("%s.name", path);
    ek_autofree char *gp = ek__p("%s.apiGroup", path);
    if (!*name) {
        ek__fe_required(e, np, "");
    }
    static const char *const rbac_group[] = { "rbac.authorization.k8s.io", NULL };
    if (strcmp(kind, "ServiceAccount") == 0) {
        if (*name) {
            v_name_with(e, EK_NAME_SUBDOMAIN, name, np);
        }
        if (*group) {
            static const char *const empty[] = { "", NULL };
            ek__fe_not_supported_s(e, gp, group, empty);
        }
        if (!namespaced && !*ek__sstr(s, "namespace")) {
            ek_autofree char *nsp = ek__p("%s.namespace", path);
            ek__fe_required(e, nsp, "");
        }
    } else if (strcmp(kind, "User") == 0 || strcmp(kind, "Group") == 0) {
        if (!*name) {
            ek__fe_invalid_s(e, np, name, "%s name cannot be empty",
                             strcmp(kind, "User") == 0 ? "user" : "group");
        }
        if (strcmp(group, "rbac.authorization.k8s.io") != 0) {
            ek__fe_not_supported_s(e, gp, group, rbac_group);
        }
    } else {
        static const char *const kinds[] = { "ServiceAccount", "User", "Group", NULL };
        ek_autofree char *kp = ek__p("%s.kind", path);
        ek__fe_not_supported_s(e, kp, kind, kinds);
    }
}

static void v_binding(ek_field_errors_t *e, const json_t *o, const json_t *old, bool namespaced)
{
    ek__v_object_meta(e, o, namespaced, EK_NAME_SEGMENT);
    const json_t *ref = ek__obj(o, "roleRef");
    const char *group = ek__sstr(ref, "apiGroup"), *kind = ek__sstr(ref, "kind");
    const char *name = ek__sstr(ref, "name");
    if (strcmp(group, "rbac.authorization.k8s.io") != 0) {
        static const char *const valid[] = { "rbac.authorization.k8s.io", NULL };
        ek__fe_not_supported_s(e, "roleRef.apiGroup", group, valid);
    }
    if (namespaced ? (strcmp(kind, "Role") != 0 && strcmp(kind, "ClusterRole") != 0)
                   : strcmp(kind, "ClusterRole") != 0) {
        static const char *const ns_kinds[] = { "Role", "ClusterRole", NULL };
        static const char *const cl_kinds[] = { "ClusterRole", NULL };
        ek__fe_not_supported_s(e, "roleRef.kind", kind, namespaced ? ns_kinds : cl_kinds);
    }
    if (!*name) {
        ek__fe_required(e, "roleRef.name", "");
    } else {
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_path_segment_name(name, &m)) {
            ek__fe_invalid_msgs(e, "roleRef.name", name, &m);
        }
    }
    size_t i;
    json_t *s;
    json_array_foreach (ek__arr(o, "subjects"), i, s) {
        ek_autofree char *p = ek__p("subjects[%zu]", i);
        v_subject(e, s, namespaced, p);
    }
    if (!old) {
        return;
    }
    ek__v_object_meta_update(e, o, old);
    if (!ek__equal(ref, ek__obj(old, "roleRef"))) {
        ek_autofree char *raw =
            ek__p("rbac.RoleRef{APIGroup:\"%s\", Kind:\"%s\", Name:\"%s\"}", group, kind, name);
        ek__fe_invalid_raw(e, "roleRef", raw, "cannot change roleRef");
    }
}

void ek__v_rolebinding(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    v_binding(e, o, old, true);
}

void ek__v_clusterrolebinding(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    v_binding(e, o, old, false);
}

/* ---- policy, scheduling, storage, coordination ---- */

void ek__v_pdb(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    size_t before = e->n;
    const json_t *spec = ek__obj(o, "spec");
    const json_t *min = json_object_get(spec, "minAvailable");
    const json_t *max = json_object_get(spec, "maxUnavailable");
    bool hmin = min && !json_is_null(min), hmax = max && !json_is_null(max);
    if (hmin && hmax) {
        ek_autofree char *raw = ek__p("policy.PodDisruptionBudgetSpec{MinAvailable:"
                                      "(*intstr.IntOrString)(0xc000000004), Selector:(*v1."
                                      "LabelSelector)(%s), MaxUnavailable:(*intstr.IntOrString)"
                                      "(0xc000000005), UnhealthyPodEvictionPolicy:%s}",
                                      ek__has(spec, "selector") ? "0xc000000006" : "nil",
                                      ek__has(spec, "unhealthyPodEvictionPolicy")
                                          ? "(*policy.UnhealthyPodEvictionPolicyType)(0xc000000007)"
                                          : "(*policy.UnhealthyPodEvictionPolicyType)(nil)");
        ek__fe_invalid_raw(e, "spec", raw, "minAvailable and maxUnavailable cannot be both set");
    }
    if (hmin) {
        ek__v_int_or_percent(e, min, "spec.minAvailable");
        ek__v_not_more_than_100(e, min, "spec.minAvailable");
    }
    if (hmax) {
        ek__v_int_or_percent(e, max, "spec.maxUnavailable");
        ek__v_not_more_than_100(e, max, "spec.maxUnavailable");
    }
    ek__v_label_selector(e, ek__obj(spec, "selector"), "spec.selector");
    const char *uper = ek__str(spec, "unhealthyPodEvictionPolicy");
    static const char *const upers[] = { "AlwaysAllow", "IfHealthyBudget", NULL };
    if (uper && !in_list(uper, upers)) {
        ek__fe_not_supported_s(e, "spec.unhealthyPodEvictionPolicy", uper, upers);
    }
    /* ObjectMeta is checked by the generic create path only when the spec passed. */
    if (e->n == before) {
        meta(e, o, old, true, EK_NAME_SEGMENT);
    }
}

void ek__v_priorityclass(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    const char *name = ek__sstr(ek__obj(o, "metadata"), "name");
    long long value = ek__intd(o, "value", 0);
    if (old) {
        ek__v_object_meta_update(e, o, old);
        if (value != ek__intd(old, "value", 0)) {
            ek__fe_forbidden(e, "value", "may not be changed in an update.");
        }
        ek__v_immutable(e, json_object_get(o, "preemptionPolicy"),
                        json_object_get(old, "preemptionPolicy"), "preemptionPolicy");
        return;
    }
    ek__v_object_meta(e, o, false, EK_NAME_SUBDOMAIN);
    if (strncmp(name, "system-", 7) == 0) {
        long long want = strcmp(name, "system-node-critical") == 0      ? 2000001000
                         : strcmp(name, "system-cluster-critical") == 0 ? 2000000000
                                                                        : -1;
        ek_autofree char *err = want < 0 ? ek__p("%s is not a known system priority class", name)
                                : value != want
                                    ? ek__p("value of %s PriorityClass must be %lld", name, want)
                                    : NULL;
        if (err) {
            ek_autofree char *d = ek__p("priority class names with 'system-' prefix are reserved "
                                        "for system use only. error: %s",
                                        err);
            ek__fe_forbidden(e, "metadata.name", d);
        }
    } else if (value > 1000000000) {
        ek__fe_forbidden(e, "value",
                         "maximum allowed value of a user defined priority is 1000000000");
    }
    const char *pp = ek__str(o, "preemptionPolicy");
    static const char *const valid[] = { "PreemptLowerPriority", "Never", NULL };
    if (pp && !*pp) {
        ek__fe_required(e, "preemptionPolicy", "");
    } else if (pp && !in_list(pp, valid)) {
        ek__fe_not_supported_s(e, "preemptionPolicy", pp, valid);
    }
}

void ek__v_storageclass(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
        static const char *const keys[] = { "parameters", "provisioner", "reclaimPolicy" };
        for (size_t i = 0; i < EK_ARRAY_SIZE(keys); i++) {
            if (!ek__equal(json_object_get(o, keys[i]), json_object_get(old, keys[i]))) {
                ek_autofree char *d = ek__p("updates to %s are forbidden.", keys[i]);
                ek__fe_forbidden(e, keys[i], d);
            }
        }
        ek__v_immutable(e, json_object_get(o, "volumeBindingMode"),
                        json_object_get(old, "volumeBindingMode"), "volumeBindingMode");
        return;
    }
    ek__v_object_meta(e, o, false, EK_NAME_SUBDOMAIN);
    const char *prov = ek__sstr(o, "provisioner");
    if (!*prov) {
        ek__fe_required(e, "provisioner", "");
    } else {
        ek_autofree char *lower = ek_xstrdup(prov);
        for (char *p = lower; *p; p++) {
            *p = (char)tolower((unsigned char)*p);
        }
        ek__v_label_name(e, lower, "provisioner");
    }
    size_t total = 0;
    const char *k;
    json_t *v;
    json_object_foreach (ek__obj(o, "parameters"), k, v) {
        if (!*k) {
            ek__fe_invalid_s(e, "parameters", k, "field can not be empty.");
        }
        total += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
    }
    if (ek__validate_len(o, "parameters") > 512) {
        ek__fe_too_long(e, "parameters", 512);
    }
    if (total > 256 * 1024) {
        ek__fe_too_long(e, "parameters", 256 * 1024);
    }
    const char *rp = ek__str(o, "reclaimPolicy");
    static const char *const policies[] = { "Delete", "Retain", NULL };
    if (rp && !in_list(rp, policies)) {
        ek__fe_not_supported_s(e, "reclaimPolicy", rp, policies);
    }
    const char *vbm = ek__str(o, "volumeBindingMode");
    static const char *const modes[] = { "Immediate", "WaitForFirstConsumer", NULL };
    if (!vbm) {
        ek__fe_required(e, "volumeBindingMode", "");
    } else if (!in_list(vbm, modes)) {
        ek__fe_not_supported_s(e, "volumeBindingMode", vbm, modes);
    }
}

void ek__v_lease(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    meta(e, o, old, true, EK_NAME_SUBDOMAIN);
    const json_t *spec = ek__obj(o, "spec");
    long long v;
    if (ek__int(spec, "leaseDurationSeconds", &v) && v <= 0) {
        ek__fe_invalid_i(e, "spec.leaseDurationSeconds", v, "must be greater than 0");
    }
    if (ek__int(spec, "leaseTransitions", &v) && v < 0) {
        ek__fe_invalid_i(e, "spec.leaseTransitions", v, EK_MSG_NEGATIVE);
    }
}

/* ---- discovery ---- */

static void v_slice_address(ek_field_errors_t *e, const char *type, const char *a, const char *path)
{
    if (strcmp(type, "IPv4") == 0 && ek__ip_family(a) != 4) {
        ek__fe_invalid_s(e, path, a, "must be a valid IPv4 address");
    } else if (strcmp(type, "IPv6") == 0 && ek__ip_family(a) != 6) {
        ek__fe_invalid_s(e, path, a, "must be a valid IPv6 address");
    } else if (strcmp(type, "FQDN") == 0) {
        ek_autofree char *s = ek_xstrdup(a);
        size_t n = strlen(s);
        if (n && s[n - 1] == '.') {
            s[n - 1] = 0;
        }
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (!*s) {
            ek__fe_required(e, path, "");
        } else if (ek__is_dns1123_subdomain(s, &m)) {
            ek_autobuf b = EK_BUF_INIT;
            for (const char *p = m.buf; *p; p += strlen(p) + 1) {
                ek_buf_printf(&b, "%s%s", b.len ? "," : "", p);
            }
            ek__fe_invalid_s(e, path, s, "%s", b.data);
        } else if (!strchr(s, '.')) {
            ek__fe_invalid_s(e, path, s,
                             "should be a domain with at least two segments separated by dots");
        }
    }
}

void ek__v_endpointslice(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    meta(e, o, old, true, EK_NAME_SUBDOMAIN);
    const char *type = ek__sstr(o, "addressType");
    static const char *const types[] = { "FQDN", "IPv4", "IPv6", NULL };
    if (!*type) {
        ek__fe_required(e, "addressType", "");
    } else if (!in_list(type, types)) {
        ek__fe_not_supported_s(e, "addressType", type, types);
    }
    size_t i, j;
    json_t *ep, *a;
    json_array_foreach (ek__arr(o, "endpoints"), i, ep) {
        ek_autofree char *ap = ek__p("endpoints[%zu].addresses", i);
        size_t n = ek__validate_len(ep, "addresses");
        if (n == 0) {
            ek__fe_required(e, ap, "must contain at least 1 address");
        } else if (n > 100) {
            ek_autofree char *v = ek__p("%zu", n);
            ek__fe(e, EK_FE_TOO_MANY, ap, v, "must have at most 100 items");
        }
        json_array_foreach (ek__arr(ep, "addresses"), j, a) {
            ek_autofree char *p = ek__p("%s[%zu]", ap, j);
            v_slice_address(e, type, json_is_string(a) ? json_string_value(a) : "", p);
        }
        const char *node = ek__str(ep, "nodeName");
        if (node) {
            ek_autofree char *np = ek__p("endpoints[%zu].nodeName", i);
            v_name_with(e, EK_NAME_SUBDOMAIN, node, np);
        }
        const char *host = ek__str(ep, "hostname");
        if (host) {
            ek_autofree char *hp = ek__p("endpoints[%zu].hostname", i);
            v_name_with(e, EK_NAME_LABEL, host, hp);
        }
    }
    ek_auto(json_t) names = json_object();
    json_array_foreach (ek__arr(o, "ports"), i, ep) {
        const char *name = ek__sstr(ep, "name");
        ek_autofree char *np = ek__p("ports[%zu].name", i);
        if (*name) {
            v_name_with(e, EK_NAME_LABEL, name, np);
        }
        if (json_object_get(names, name)) {
            ek__fe_duplicate_s(e, np, name);
        }
        json_object_set_new(names, name, json_true());
        const char *proto = ek__str(ep, "protocol");
        ek_autofree char *pp = ek__p("ports[%zu].protocol", i);
        static const char *const protos[] = { "SCTP", "TCP", "UDP", NULL };
        if (!proto) {
            ek__fe_required(e, pp, "");
        } else if (!in_list(proto, protos)) {
            ek__fe_not_supported_s(e, pp, proto, protos);
        }
    }
}

/* ---- autoscaling ---- */

static void v_metric_target(ek_field_errors_t *e, const json_t *t, const char *path)
{
    const char *type = ek__sstr(t, "type");
    ek_autofree char *tp = ek__p("%s.type", path);
    static const char *const types[] = { "AverageValue", "Utilization", "Value", NULL };
    if (!*type) {
        ek__fe_required(e, tp, "must specify a metric target type");
    } else if (!in_list(type, types)) {
        ek__fe_not_supported_s(e, tp, type, types);
    }
    long long u;
    if (ek__int(t, "averageUtilization", &u) && u < 1) {
        ek_autofree char *up = ek__p("%s.averageUtilization", path);
        ek__fe_invalid_i(e, up, u, "must be greater than 0");
    }
    if (!ek__has(t, "value") && !ek__has(t, "averageValue") && !ek__has(t, "averageUtilization")) {
        ek__fe_required(
            e, path,
            "must set either a target raw value, a target average value, or a target utilization");
    }
}

static void v_metric(ek_field_errors_t *e, const json_t *m, const char *path)
{
    static const char *const types[] = { "ContainerResource", "External", "Object", "Pods",
                                         "Resource",          NULL };
    static const char *const keys[] = { "containerResource", "external", "object", "pods",
                                        "resource",          NULL };
    const char *type = ek__sstr(m, "type");
    ek_autofree char *tp = ek__p("%s.type", path);
    if (!*type) {
        ek__fe_required(e, tp, "must specify a metric source type");
        return;
    }
    if (!in_list(type, types)) {
        ek__fe_not_supported_s(e, tp, type, types);
        return;
    }
    for (size_t i = 0; keys[i]; i++) {
        bool mine = strcmp(types[i], type) == 0, set = ek__has(m, keys[i]);
        ek_autofree char *kp = ek__p("%s.%s", path, keys[i]);
        if (mine && !set) {
            ek__fe_required(e, kp, "must populate information for the given metric source");
        } else if (!mine && set) {
            ek__fe_forbidden(e, kp, "must populate the given metric source only");
        }
    }
    const json_t *res = ek__obj(m, "resource");
    if (strcmp(type, "Resource") == 0 && res) {
        ek_autofree char *np = ek__p("%s.resource.name", path);
        if (!*ek__sstr(res, "name")) {
            ek__fe_required(e, np, "must specify a resource name");
        }
        ek_autofree char *tgt = ek__p("%s.resource.target", path);
        v_metric_target(e, ek__obj(res, "target"), tgt);
    }
}

static void v_scaling_rules(ek_field_errors_t *e, const json_t *r, const char *path)
{
    if (!r) {
        return;
    }
    long long sw;
    ek_autofree char *swp = ek__p("%s.stabilizationWindowSeconds", path);
    if (ek__int(r, "stabilizationWindowSeconds", &sw)) {
        if (sw < 0) {
            ek__fe_invalid_i(e, swp, sw, "must be greater than or equal to zero");
        } else if (sw > 3600) {
            ek__fe_invalid_i(e, swp, sw, "must be less than or equal to 3600");
        }
    }
    const char *sp = ek__str(r, "selectPolicy");
    static const char *const sps[] = { "Disabled", "Max", "Min", NULL };
    if (sp && !in_list(sp, sps)) {
        ek_autofree char *p = ek__p("%s.selectPolicy", path);
        ek__fe_not_supported_s(e, p, sp, sps);
    }
    size_t i;
    json_t *p;
    json_array_foreach (ek__arr(r, "policies"), i, p) {
        ek_autofree char *pp = ek__p("%s.policies[%zu]", path, i);
        const char *t = ek__sstr(p, "type");
        static const char *const pts[] = { "Percent", "Pods", NULL };
        if (!in_list(t, pts)) {
            ek_autofree char *tp = ek__p("%s.type", pp);
            ek__fe_not_supported_s(e, tp, t, pts);
        }
        long long v = ek__intd(p, "value", 0), per = ek__intd(p, "periodSeconds", 0);
        if (v <= 0) {
            ek_autofree char *vp = ek__p("%s.value", pp);
            ek__fe_invalid_i(e, vp, v, "must be greater than zero");
        }
        ek_autofree char *psp = ek__p("%s.periodSeconds", pp);
        if (per <= 0) {
            ek__fe_invalid_i(e, psp, per, "must be greater than zero");
        } else if (per > 1800) {
            ek__fe_invalid_i(e, psp, per, "must be less than or equal to 1800");
        }
    }
}

void ek__v_hpa(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    meta(e, o, old, true, EK_NAME_SUBDOMAIN);
    const json_t *spec = ek__obj(o, "spec");
    long long min = 0, max = ek__intd(spec, "maxReplicas", 0);
    bool has_min = ek__int(spec, "minReplicas", &min);
    if (has_min && min < 1) {
        ek__fe_invalid_i(e, "spec.minReplicas", min, "must be greater than or equal to 1");
    }
    if (max < 1) {
        ek__fe_invalid_i(e, "spec.maxReplicas", max, "must be greater than 0");
    }
    if (has_min && max < min) {
        ek__fe_invalid_i(e, "spec.maxReplicas", max,
                         "must be greater than or equal to `minReplicas`");
    }
    const json_t *ref = ek__obj(spec, "scaleTargetRef");
    v_segment(e, ek__sstr(ref, "kind"), "spec.scaleTargetRef.kind");
    v_segment(e, ek__sstr(ref, "name"), "spec.scaleTargetRef.name");
    size_t i;
    json_t *m;
    json_array_foreach (ek__arr(spec, "metrics"), i, m) {
        ek_autofree char *p = ek__p("spec.metrics[%zu]", i);
        v_metric(e, m, p);
    }
    const json_t *b = ek__obj(spec, "behavior");
    v_scaling_rules(e, ek__obj(b, "scaleUp"), "spec.behavior.scaleUp");
    v_scaling_rules(e, ek__obj(b, "scaleDown"), "spec.behavior.scaleDown");
}

/* ---- certificates ---- */

static void v_label_part(ek_field_errors_t *e, const char *part, const char *seg, const char *path)
{
    ek_autofree char *copy = ek_xstrdup(part);
    char *save = NULL;
    bool any = false;
    for (char *lbl = copy;; lbl = NULL) {
        char *l = strtok_r(lbl, ".", &save);
        if (!l) {
            break;
        }
        any = true;
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_dns1123_label(l, &m)) {
            for (const char *p = m.buf; *p; p += strlen(p) + 1) {
                ek__fe_invalid_s(e, path, seg, "validating label \"%s\": %s", l, p);
            }
            return;
        }
    }
    if (!any) {
        ek__msgs_t m;
        ek__msgs_init(&m);
        ek__is_dns1123_label("", &m);
        ek__fe_invalid_s(e, path, seg, "validating label \"\": %s", m.buf);
    }
}

static void v_signer_name(ek_field_errors_t *e, const char *s, const char *path)
{
    if (!*s) {
        ek__fe_required(e, path, "");
        return;
    }
    const char *slash = strchr(s, '/');
    if (!slash || strchr(slash + 1, '/')) {
        ek__fe_invalid_s(e, path, s,
                         "must be a fully qualified domain and path of the form "
                         "'example.com/signer-name'");
        return;
    }
    ek_autofree char *domain = ek_xstrndup(s, (size_t)(slash - s));
    if (strlen(domain) > 253) {
        ek__fe_too_long(e, path, 253);
    }
    v_label_part(e, domain, domain, path);
    if (!strchr(domain, '.')) {
        ek__fe_invalid_s(e, path, domain,
                         "should be a domain with at least two segments separated by dots");
    }
    v_label_part(e, slash + 1, slash + 1, path);
}

static void v_csr_usages(ek_field_errors_t *e, const json_t *spec);

void ek__v_csr(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    meta(e, o, old, false, EK_NAME_NONE);
    const json_t *spec = ek__obj(o, "spec");
    /* The request is base64 in JSON; its PEM header must announce a CSR. */
    size_t n, bad;
    ek_autofree char *raw = ek__b64_decode(ek__sstr(spec, "request"), &n, &bad);
    bool pem_ok = raw && (strstr(raw, "-----BEGIN CERTIFICATE REQUEST-----") ||
                          strstr(raw, "-----BEGIN NEW CERTIFICATE REQUEST-----"));
    if (!pem_ok) {
        ek__fe_invalid_raw(e, "spec.request", "[]byte{...}",
                           "PEM block type must be CERTIFICATE REQUEST");
    }
    v_csr_usages(e, spec);
    v_signer_name(e, ek__sstr(spec, "signerName"), "spec.signerName");
    long long exp;
    if (ek__int(spec, "expirationSeconds", &exp) && exp < 600) {
        ek__fe_invalid_i(e, "spec.expirationSeconds", exp,
                         "may not specify a duration less than 600 seconds (10 minutes)");
    }
}

static void v_csr_usages(ek_field_errors_t *e, const json_t *spec)
{
    static const char *const usages[] = { "any",
                                          "cert sign",
                                          "client auth",
                                          "code signing",
                                          "content commitment",
                                          "crl sign",
                                          "data encipherment",
                                          "decipher only",
                                          "digital signature",
                                          "email protection",
                                          "encipher only",
                                          "ipsec end system",
                                          "ipsec tunnel",
                                          "ipsec user",
                                          "key agreement",
                                          "key encipherment",
                                          "microsoft sgc",
                                          "netscape sgc",
                                          "ocsp signing",
                                          "s/mime",
                                          "server auth",
                                          "signing",
                                          "timestamping",
                                          NULL };
    if (ek__validate_len(spec, "usages") == 0) {
        ek__fe_required(e, "spec.usages", "");
    }
    ek_auto(json_t) seen = json_object();
    size_t i;
    json_t *u;
    json_array_foreach (ek__arr(spec, "usages"), i, u) {
        const char *s = json_is_string(u) ? json_string_value(u) : "";
        ek_autofree char *p = ek__p("spec.usages[%zu]", i);
        if (!in_list(s, usages)) {
            ek__fe_not_supported_s(e, p, s, usages);
        }
        if (json_object_get(seen, s)) {
            ek__fe_duplicate_s(e, p, s);
        }
        json_object_set_new(seen, s, json_true());
    }
}

/* ---- custom resource definitions (names, group, scope, versions) ---- */

static void v_crd_name(ek_field_errors_t *e, const json_t *names, const char *key, bool required)
{
    const char *v = ek__sstr(names, key);
    ek_autofree char *p = ek__p("spec.names.%s", key);
    if (!*v) {
        if (required) {
            ek__fe_required(e, p, "");
        }
        return;
    }
    ek_autofree char *lower = ek_xstrdup(v);
    for (char *c = lower; *c; c++) {
        *c = (char)tolower((unsigned char)*c);
    }
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (ek__is_dns1035_label(lower, &m)) {
        ek__fe_invalid_msgs(e, p, v, &m);
    }
}

static void v_crd_versions(ek_field_errors_t *e, const json_t *spec)
{
    const json_t *vers = ek__arr(spec, "versions");
    if (json_array_size(vers) == 0) {
        ek__fe_required(e, "spec.versions",
                        "must have exactly one version marked as storage version");
        return;
    }
    int storage = 0, served = 0;
    ek_auto(json_t) seen = json_object();
    size_t i;
    json_t *v;
    json_array_foreach (vers, i, v) {
        const char *name = ek__sstr(v, "name");
        ek_autofree char *np = ek__p("spec.versions[%zu].name", i);
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (!*name) {
            ek__fe_required(e, np, "");
        } else if (ek__is_dns1035_label(name, &m)) {
            ek__fe_invalid_msgs(e, np, name, &m);
        }
        if (json_object_get(seen, name)) {
            ek__fe_duplicate_s(e, np, name);
        }
        json_object_set_new(seen, name, json_true());
        storage += ek__true(v, "storage");
        served += ek__true(v, "served");
    }
    if (storage != 1) {
        ek_autofree char *raw = ek__p("[]apiextensions.CustomResourceDefinitionVersion{...}");
        ek__fe_invalid_raw(e, "spec.versions", raw,
                           "must have exactly one version marked as storage version");
    }
    if (served == 0) {
        ek_autofree char *raw = ek__p("[]apiextensions.CustomResourceDefinitionVersion{...}");
        ek__fe_invalid_raw(e, "spec.versions", raw,
                           "must have at least one version marked as served");
    }
}

void ek__v_crd(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    meta(e, o, old, false, EK_NAME_SUBDOMAIN);
    const json_t *spec = ek__obj(o, "spec"), *names = ek__obj(spec, "names");
    const char *group = ek__sstr(spec, "group"), *plural = ek__sstr(names, "plural");
    const char *name = ek__sstr(ek__obj(o, "metadata"), "name");
    ek_autofree char *want = ek__p("%s.%s", plural, group);
    if (strcmp(name, want) != 0) {
        ek__fe_invalid_s(e, "metadata.name", name, "must be spec.names.plural+\".\"+spec.group");
    }
    if (!*group) {
        ek__fe_required(e, "spec.group", "");
    } else {
        v_name_with(e, EK_NAME_SUBDOMAIN, group, "spec.group");
        if (!strchr(group, '.')) {
            ek__fe_invalid_s(e, "spec.group", group, "should be a domain with at least one dot");
        }
    }
    const char *scope = ek__sstr(spec, "scope");
    static const char *const scopes[] = { "Cluster", "Namespaced", NULL };
    if (!*scope) {
        ek__fe_required(e, "spec.scope", "");
    } else if (!in_list(scope, scopes)) {
        ek__fe_not_supported_s(e, "spec.scope", scope, scopes);
    }
    v_crd_name(e, names, "plural", true);
    v_crd_name(e, names, "singular", false);
    size_t i;
    json_t *s;
    json_array_foreach (ek__arr(names, "shortNames"), i, s) {
        const char *v = json_is_string(s) ? json_string_value(s) : "";
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_dns1035_label(v, &m)) {
            ek_autofree char *p = ek__p("spec.names.shortNames[%zu]", i);
            ek__fe_invalid_msgs(e, p, v, &m);
        }
    }
    v_crd_name(e, names, "kind", true);
    v_crd_name(e, names, "listKind", true);
    const char *kind = ek__sstr(names, "kind"), *lk = ek__sstr(names, "listKind");
    if (*kind && strcmp(kind, lk) == 0) {
        ek__fe_invalid_s(e, "spec.names.listKind", lk, "kind and listKind may not be the same");
    }
    v_crd_versions(e, spec);
    if (old) {
        ek__v_immutable(e, json_object_get(spec, "scope"),
                        json_object_get(ek__obj(old, "spec"), "scope"), "spec.scope");
    }
}
