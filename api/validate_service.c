/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Services and Endpoints (core validation's ValidateService, ValidateServiceUpdate and
 * ValidateEndpoints): ports and their names, types and the fields each type allows
 * (nodePort, externalName, load balancer settings), session affinity, traffic policies, and
 * the cluster IP / IP family fields that may only be added or released, never changed.
 */
#include <arpa/inet.h>
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

static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

/* ValidateNonSpecialIP: no unspecified, loopback or link-local addresses. */
void ek__v_non_special_ip(ek_field_errors_t *e, const char *ip, const char *path)
{
    int fam = ek__ip_family(ip);
    if (!fam) {
        ek__fe_invalid_s(e, path, ip, IP_MSG);
        return;
    }
    unsigned char a[16] = { 0 };
    if (fam == 4) {
        unsigned v[4];
        sscanf(ip, "%u.%u.%u.%u", &v[0], &v[1], &v[2], &v[3]);
        for (int i = 0; i < 4; i++) {
            a[i] = (unsigned char)v[i];
        }
        if (!(a[0] | a[1] | a[2] | a[3])) {
            ek__fe_invalid_s(e, path, ip, "may not be unspecified (%s)", ip);
        }
        if (a[0] == 127) {
            ek__fe_invalid_s(e, path, ip,
                             "may not be in the loopback range (127.0.0.0/8, ::1/128)");
        }
        if (a[0] == 169 && a[1] == 254) {
            ek__fe_invalid_s(e, path, ip,
                             "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
        }
        if (a[0] == 224 && a[1] == 0 && a[2] == 0) {
            ek__fe_invalid_s(e, path, ip,
                             "may not be in the link-local multicast range (224.0.0.0/24, "
                             "ff02::/10)");
        }
        return;
    }
    inet_pton(AF_INET6, ip, a);
    static const unsigned char zero[16] = { 0 }, one[16] = { [15] = 1 };
    if (memcmp(a, zero, 16) == 0) {
        ek__fe_invalid_s(e, path, ip, "may not be unspecified (%s)", ip);
    }
    if (memcmp(a, one, 16) == 0) {
        ek__fe_invalid_s(e, path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)");
    }
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) {
        ek__fe_invalid_s(e, path, ip,
                         "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
    }
    if (a[0] == 0xff && (a[1] & 0x0f) == 0x02) {
        ek__fe_invalid_s(e, path, ip,
                         "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
    }
}

static bool is_headless(const json_t *spec)
{
    const json_t *ips = ek__arr(spec, "clusterIPs");
    const json_t *first = json_array_get(ips, 0);
    return json_array_size(ips) == 1 && json_is_string(first) &&
           strcmp(json_string_value(first), "None") == 0;
}

static bool externally_accessible(const json_t *spec)
{
    const char *t = ek__sstr(spec, "type");
    return strcmp(t, "LoadBalancer") == 0 || strcmp(t, "NodePort") == 0 ||
           (strcmp(t, "ClusterIP") == 0 && ek__validate_len(spec, "externalIPs") > 0);
}

static bool needs_health_check(const json_t *spec)
{
    return strcmp(ek__sstr(spec, "type"), "LoadBalancer") == 0 &&
           strcmp(ek__sstr(spec, "externalTrafficPolicy"), "Local") == 0;
}

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

static void v_service_port(ek_field_errors_t *e, const json_t *sp, bool require_name, json_t *names,
                           const char *path)
{
    const char *name = ek__sstr(sp, "name");
    ek_autofree char *np = ek__p("%s.name", path);
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (require_name && !*name) {
        ek__fe_required(e, np, "");
    } else if (*name) {
        if (ek__is_dns1123_label(name, &m)) {
            ek__fe_invalid_msgs(e, np, name, &m);
        }
        if (json_object_get(names, name)) {
            ek__fe_duplicate_s(e, np, name);
        } else {
            json_object_set_new(names, name, json_true());
        }
    }
    long long port = ek__intd(sp, "port", 0);
    if (!ek__is_port_num(port)) {
        ek_autofree char *pp = ek__p("%s.port", path);
        ek__fe_invalid_i(e, pp, port, EK_MSG_PORT_RANGE);
    }
    const char *proto = ek__sstr(sp, "protocol");
    ek_autofree char *prp = ek__p("%s.protocol", path);
    if (!*proto) {
        ek__fe_required(e, prp, "");
    } else if (!in_list(proto, protocols)) {
        ek__fe_not_supported_s(e, prp, proto, protocols);
    }
    ek_autofree char *tp = ek__p("%s.targetPort", path);
    v_port_num_or_name(e, json_object_get(sp, "targetPort"), tp);
    const char *ap = ek__str(sp, "appProtocol");
    if (ap) {
        ek_autofree char *app = ek__p("%s.appProtocol", path);
        ek__v_label_name(e, ap, app);
    }
}

static void v_type_specific(ek_field_errors_t *e, const json_t *spec)
{
    const char *t = ek__sstr(spec, "type");
    const json_t *ips = ek__arr(spec, "clusterIPs");
    if (strcmp(t, "LoadBalancer") == 0 || strcmp(t, "NodePort") == 0) {
        if (is_headless(spec)) {
            ek__fe_invalid_s(e, "spec.clusterIPs[0]", "None",
                             "may not be set to 'None' for %s services", t);
        }
    } else if (strcmp(t, "ExternalName") == 0) {
        if (json_array_size(ips) > 0) {
            ek__fe_forbidden(e, "spec.clusterIPs", "may not be set for ExternalName services");
        }
        if (ek__validate_len(spec, "ipFamilies") > 0) {
            ek__fe_forbidden(e, "spec.ipFamilies", "may not be set for ExternalName services");
        }
        if (ek__has(spec, "ipFamilyPolicy")) {
            ek__fe_forbidden(e, "spec.ipFamilyPolicy", "may not be set for ExternalName services");
        }
        ek_autofree char *cname = ek_xstrdup(ek__sstr(spec, "externalName"));
        size_t n = strlen(cname);
        if (n && cname[n - 1] == '.') {
            cname[n - 1] = 0;
        }
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (!*cname) {
            ek__fe_required(e, "spec.externalName", "");
        } else if (ek__is_dns1123_subdomain(cname, &m)) {
            ek__fe_invalid_msgs(e, "spec.externalName", cname, &m);
        }
    }
}

static void v_session_affinity(ek_field_errors_t *e, const json_t *spec)
{
    static const char *const valid[] = { "ClientIP", "None", NULL };
    const char *sa = ek__sstr(spec, "sessionAffinity");
    if (!*sa) {
        ek__fe_required(e, "spec.sessionAffinity", "");
    } else if (!in_list(sa, valid)) {
        ek__fe_not_supported_s(e, "spec.sessionAffinity", sa, valid);
    }
    const json_t *cfg = ek__obj(spec, "sessionAffinityConfig");
    if (strcmp(sa, "ClientIP") == 0) {
        const json_t *cip = ek__obj(cfg, "clientIP");
        const char *detail = "when session affinity type is ClientIP";
        long long t;
        if (!cfg) {
            ek__fe_required(e, "spec.sessionAffinityConfig", detail);
        } else if (!cip) {
            ek__fe_required(e, "spec.sessionAffinityConfig.clientIP", detail);
        } else if (!ek__int(cip, "timeoutSeconds", &t)) {
            ek__fe_required(e, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", detail);
        } else if (t <= 0 || t > 86400) {
            ek__fe_invalid_i(e, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
                             "must be greater than 0 and less than 86400");
        }
    } else if (strcmp(sa, "None") == 0 && ek__has(spec, "sessionAffinityConfig")) {
        ek__fe_forbidden(e, "spec.sessionAffinityConfig",
                         "must not be set when session affinity is None");
    }
}

static void v_ip_families(ek_field_errors_t *e, const json_t *spec)
{
    static const char *const families[] = { "IPv4", "IPv6", NULL };
    ek_auto(json_t) seen = json_object();
    size_t i;
    json_t *f;
    json_array_foreach (ek__arr(spec, "ipFamilies"), i, f) {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        ek_autofree char *p = ek__p("spec.ipFamilies[%zu]", i);
        if (!in_list(s, families)) {
            ek__fe_not_supported_s(e, p, s, families);
        }
        if (json_object_get(seen, s)) {
            ek__fe_duplicate_s(e, p, s);
        }
        json_object_set_new(seen, s, json_true());
    }
    const char *pol = ek__str(spec, "ipFamilyPolicy");
    static const char *const policies[] = { "PreferDualStack", "RequireDualStack", "SingleStack",
                                            NULL };
    if (pol && !in_list(pol, policies)) {
        ek__fe_not_supported_s(e, "spec.ipFamilyPolicy", pol, policies);
    }
}

/* clusterIPs[i] must be of the family ipFamilies[i] names. */
static void v_ips_match_families(ek_field_errors_t *e, const json_t *ips, const json_t *fams)
{
    size_t i;
    json_t *f;
    json_array_foreach (ips, i, f) {
        const char *fam = json_string_value(json_array_get(fams, i));
        if (!fam) {
            break;
        }
        int ipf = ek__ip_family(json_string_value(f));
        ek_autofree char *p = ek__p("spec.clusterIPs[%zu]", i);
        if (strcmp(fam, "IPv4") == 0 && ipf == 6) {
            ek__fe_invalid_s(e, p, json_string_value(f),
                             "expected an IPv4 value as indicated by `ipFamilies[%zu]`", i);
        } else if (strcmp(fam, "IPv6") == 0 && ipf != 6) {
            ek__fe_invalid_s(e, p, json_string_value(f),
                             "expected an IPv6 value as indicated by `ipFamilies[%zu]`", i);
        }
    }
}

/* ValidateServiceClusterIPsRelatedFields. */
static void v_cluster_ips(ek_field_errors_t *e, const json_t *spec)
{
    if (strcmp(ek__sstr(spec, "type"), "ExternalName") == 0) {
        return;
    }
    const json_t *ips = ek__arr(spec, "clusterIPs"), *fams = ek__arr(spec, "ipFamilies");
    const char *cip = ek__sstr(spec, "clusterIP");
    if (*cip) {
        const json_t *first = json_array_get(ips, 0);
        if (json_array_size(ips) == 0) {
            ek__fe_required(e, "spec.clusterIPs", "");
        } else if (!json_is_string(first) || strcmp(json_string_value(first), cip) != 0) {
            ek__fe_invalid_j(e, "spec.clusterIPs", ips, "first value must match `clusterIP`");
        }
    } else if (json_array_size(ips) != 0) {
        ek__fe_invalid_j(e, "spec.clusterIPs", ips,
                         "must be empty when `clusterIP` is not specified");
    }
    v_ip_families(e, spec);
    size_t i;
    json_t *f;
    bool bad = false;
    json_array_foreach (ips, i, f) {
        const char *s = json_is_string(f) ? json_string_value(f) : "";
        if (i == 0 && strcmp(s, "None") == 0) {
            if (json_array_size(ips) > 1) {
                bad = true;
                ek__fe_invalid_j(e, "spec.clusterIPs", ips,
                                 "'None' must be the first and only value");
            }
            continue;
        }
        if (!ek__ip_family(s)) {
            bad = true;
            ek_autofree char *p = ek__p("spec.clusterIPs[%zu]", i);
            ek__fe_invalid_s(e, p, s, IP_MSG);
        }
    }
    if (json_array_size(ips) > 2) {
        ek__fe_invalid_j(e, "spec.clusterIPs", ips, "may only hold up to 2 values");
    }
    if (bad) {
        return;
    }
    if (json_array_size(ips) > 1 && ek__ip_family(json_string_value(json_array_get(ips, 0))) ==
                                        ek__ip_family(json_string_value(json_array_get(ips, 1)))) {
        ek__fe_invalid_j(e, "spec.clusterIPs", ips,
                         "may specify no more than one IP for each IP family");
    }
    if (!is_headless(spec)) {
        v_ips_match_families(e, ips, fams);
    }
}

/* core.ServicePort{...} as %#v prints the (protocol, port) key of a duplicate. */
static char *go_service_port_key(const json_t *sp)
{
    return ek__p("core.ServicePort{Name:\"\", Protocol:\"%s\", AppProtocol:(*string)(nil), "
                 "Port:%lld, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, "
                 "NodePort:0}",
                 ek__sstr(sp, "protocol"), ek__intd(sp, "port", 0));
}

static void v_port_duplicates(ek_field_errors_t *e, const json_t *spec)
{
    const json_t *ports = ek__arr(spec, "ports");
    size_t i, j;
    json_t *p, *q;
    json_array_foreach (ports, i, p) {
        long long np = ek__intd(p, "nodePort", 0);
        for (j = 0; np && j < i; j++) {
            q = json_array_get(ports, j);
            if (ek__intd(q, "nodePort", 0) == np &&
                strcmp(ek__sstr(q, "protocol"), ek__sstr(p, "protocol")) == 0) {
                ek_autofree char *fp = ek__p("spec.ports[%zu].nodePort", i);
                ek_autofree char *v = ek__p("%lld", np);
                ek__fe_duplicate_raw(e, fp, v);
                break;
            }
        }
    }
    json_array_foreach (ports, i, p) {
        for (j = 0; j < i; j++) {
            q = json_array_get(ports, j);
            if (ek__intd(q, "port", 0) == ek__intd(p, "port", 0) &&
                strcmp(ek__sstr(q, "protocol"), ek__sstr(p, "protocol")) == 0) {
                ek_autofree char *fp = ek__p("spec.ports[%zu]", i);
                ek_autofree char *v = go_service_port_key(p);
                ek__fe_duplicate_raw(e, fp, v);
                break;
            }
        }
    }
}

static void v_load_balancer_fields(ek_field_errors_t *e, const json_t *svc, const json_t *spec)
{
    const char *t = ek__sstr(spec, "type");
    bool lb = strcmp(t, "LoadBalancer") == 0;
    const json_t *ranges = ek__arr(spec, "loadBalancerSourceRanges");
    const char *ann = ek__str(ek__obj(ek__obj(svc, "metadata"), "annotations"),
                              "service.beta.kubernetes.io/load-balancer-source-ranges");
    size_t i;
    json_t *r;
    if (json_array_size(ranges) > 0) {
        if (!lb) {
            ek__fe_forbidden(e, "spec.LoadBalancerSourceRanges",
                             "may only be used when `type` is 'LoadBalancer'");
        }
        json_array_foreach (ranges, i, r) {
            ek_autofree char *v = ek_xstrdup(json_is_string(r) ? json_string_value(r) : "");
            char *s = v;
            while (*s == ' ') {
                s++;
            }
            for (size_t n = strlen(s); n && s[n - 1] == ' '; n--) {
                s[n - 1] = 0;
            }
            if (!ek__is_cidr(s)) {
                ek_autofree char *p = ek__p("spec.LoadBalancerSourceRanges[%zu]", i);
                ek__fe_invalid_s(e, p, s, CIDR_MSG);
            }
        }
    } else if (ann && !lb) {
        ek__fe_forbidden(e,
                         "metadata.annotations[service.beta.kubernetes.io/"
                         "load-balancer-source-ranges]",
                         "may only be used when `type` is 'LoadBalancer'");
    }
    if (ek__has(spec, "allocateLoadBalancerNodePorts") && !lb) {
        ek__fe_forbidden(e, "spec.allocateLoadBalancerNodePorts",
                         "may only be used when `type` is 'LoadBalancer'");
    }
    if (lb && !ek__has(spec, "allocateLoadBalancerNodePorts")) {
        ek__fe_required(e, "allocateLoadBalancerNodePorts", "");
    }
    const char *cls = ek__str(spec, "loadBalancerClass");
    if (cls && lb) {
        ek__v_label_name(e, cls, "spec.loadBalancerClass");
    } else if (cls) {
        ek__fe_forbidden(e, "spec.loadBalancerClass",
                         "may only be used when `type` is 'LoadBalancer'");
    }
}

static void v_traffic_policies(ek_field_errors_t *e, const json_t *spec)
{
    static const char *const policies[] = { "Cluster", "Local", NULL };
    const char *etp = ek__sstr(spec, "externalTrafficPolicy");
    if (!externally_accessible(spec)) {
        if (*etp) {
            ek__fe_invalid_s(e, "spec.externalTrafficPolicy", etp,
                             "may only be set for externally-accessible services");
        }
    } else if (!*etp) {
        ek__fe_required(e, "spec.externalTrafficPolicy", "");
    } else if (!in_list(etp, policies)) {
        ek__fe_not_supported_s(e, "spec.externalTrafficPolicy", etp, policies);
    }
    long long hc = ek__intd(spec, "healthCheckNodePort", 0);
    if (!needs_health_check(spec)) {
        if (hc != 0) {
            ek__fe_invalid_i(e, "spec.healthCheckNodePort", hc,
                             "may only be set when `type` is 'LoadBalancer' and "
                             "`externalTrafficPolicy` is 'Local'");
        }
    } else if (hc == 0) {
        ek__fe_required(e, "spec.healthCheckNodePort", "");
    } else if (!ek__is_port_num(hc)) {
        ek__fe_invalid_i(e, "spec.healthCheckNodePort", hc, EK_MSG_PORT_RANGE);
    }
    const char *t = ek__sstr(spec, "type");
    const char *itp = ek__str(spec, "internalTrafficPolicy");
    if (!itp && (strcmp(t, "NodePort") == 0 || strcmp(t, "LoadBalancer") == 0 ||
                 strcmp(t, "ClusterIP") == 0)) {
        ek__fe_required(e, "spec.internalTrafficPolicy", "");
    }
    if (itp && !in_list(itp, policies)) {
        ek__fe_not_supported_s(e, "spec.internalTrafficPolicy", itp, policies);
    }
    const char *td = ek__str(spec, "trafficDistribution");
    if (td && strcmp(td, "PreferClose") != 0) {
        static const char *const valid[] = { "PreferClose", NULL };
        ek__fe_not_supported_s(e, "spec.trafficDistribution", td, valid);
    }
}

static void v_service_spec(ek_field_errors_t *e, const json_t *svc, const json_t *spec)
{
    const char *t = ek__sstr(spec, "type");
    const json_t *ports = ek__arr(spec, "ports");
    if (json_array_size(ports) == 0 && !is_headless(spec) && strcmp(t, "ExternalName") != 0) {
        ek__fe_required(e, "spec.ports", "");
    }
    v_type_specific(e, spec);
    ek_auto(json_t) names = json_object();
    size_t i;
    json_t *p;
    json_array_foreach (ports, i, p) {
        ek_autofree char *pp = ek__p("spec.ports[%zu]", i);
        v_service_port(e, p, json_array_size(ports) > 1, names, pp);
    }
    ek__v_labels(e, ek__obj(spec, "selector"), "spec.selector");
    v_session_affinity(e, spec);
    v_cluster_ips(e, spec);
    json_array_foreach (ek__arr(spec, "externalIPs"), i, p) {
        const char *ip = json_is_string(p) ? json_string_value(p) : "";
        ek_autofree char *ep = ek__p("spec.externalIPs[%zu]", i);
        if (!ek__ip_family(ip)) {
            ek__fe_invalid_s(e, ep, ip, IP_MSG);
        } else {
            ek__v_non_special_ip(e, ip, ep);
        }
    }
    static const char *const types[] = { "ClusterIP", "ExternalName", "LoadBalancer", "NodePort",
                                         NULL };
    if (!*t) {
        ek__fe_required(e, "spec.type", "");
    } else if (!in_list(t, types)) {
        ek__fe_not_supported_s(e, "spec.type", t, types);
    }
    if (strcmp(t, "ClusterIP") == 0) {
        json_array_foreach (ports, i, p) {
            if (ek__intd(p, "nodePort", 0) != 0) {
                ek_autofree char *np = ek__p("spec.ports[%zu].nodePort", i);
                ek__fe_forbidden(e, np, "may not be used when `type` is 'ClusterIP'");
            }
        }
    }
    v_port_duplicates(e, spec);
    v_load_balancer_fields(e, svc, spec);
    v_traffic_policies(e, spec);
}

static void v_service_ip_updates(ek_field_errors_t *e, const json_t *ns, const json_t *os)
{
    if (strcmp(ek__sstr(ns, "type"), "ExternalName") == 0 ||
        strcmp(ek__sstr(os, "type"), "ExternalName") == 0 || (is_headless(ns) && is_headless(os))) {
        return;
    }
    const json_t *nips = ek__arr(ns, "clusterIPs"), *oips = ek__arr(os, "clusterIPs");
    size_t nn = json_array_size(nips), on = json_array_size(oips);
    const char *n0 = json_string_value(json_array_get(nips, 0));
    const char *o0 = json_string_value(json_array_get(oips, 0));
    if (nn == on) {
        for (size_t i = 0; i < on; i++) {
            if (!json_equal(json_array_get(nips, i), json_array_get(oips, i))) {
                ek_autofree char *p = ek__p("spec.clusterIPs[%zu]", i);
                ek__fe_invalid_j(e, p, nips, "may not change once set");
            }
        }
    } else if (on > nn) {
        if (nn == 0) {
            ek__fe_invalid_j(e, "spec.clusterIPs[0]", nips, "primary clusterIP can not be unset");
        } else if (n0 && o0 && strcmp(n0, o0) != 0) {
            ek__fe_invalid_j(e, "spec.clusterIPs[0]", nips, "may not change once set");
        }
        const char *pol = ek__str(ns, "ipFamilyPolicy");
        if (nn == 1 && (!pol || strcmp(pol, "SingleStack") != 0)) {
            ek__fe_invalid_raw(e, "spec.ipFamilyPolicy", pol ? pol : "null",
                               "must be set to 'SingleStack' when releasing the secondary "
                               "clusterIP");
        }
    } else if (on > 0 && n0 && o0 && strcmp(n0, o0) != 0) {
        ek__fe_invalid_j(e, "spec.clusterIPs[0]", nips, "may not change once set");
    }
    const json_t *nf = ek__arr(ns, "ipFamilies"), *of = ek__arr(os, "ipFamilies");
    if (json_array_size(nf) == json_array_size(of) && !ek__equal(nf, of)) {
        ek__fe_invalid_j(e, "spec.ipFamilies[0]", nf, "may not change once set");
    }
}

void ek__v_service(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    const json_t *spec = ek__obj(o, "spec");
    if (old) {
        const json_t *os = ek__obj(old, "spec");
        ek__v_object_meta_update(e, o, old);
        v_service_ip_updates(e, spec, os);
        if (strcmp(ek__sstr(spec, "type"), "LoadBalancer") == 0 &&
            strcmp(ek__sstr(os, "type"), "LoadBalancer") == 0 &&
            !ek__equal(json_object_get(spec, "loadBalancerClass"),
                       json_object_get(os, "loadBalancerClass"))) {
            ek__fe_invalid_j(e, "spec.loadBalancerClass",
                             json_object_get(spec, "loadBalancerClass"), "may not change once set");
        }
        if (needs_health_check(spec) && needs_health_check(os) &&
            ek__intd(spec, "healthCheckNodePort", 0) != ek__intd(os, "healthCheckNodePort", 0)) {
            ek__fe_forbidden(e, "spec.healthCheckNodePort", EK_MSG_IMMUTABLE);
        }
    }
    ek__v_object_meta(e, o, true, EK_NAME_DNS1035);
    const char *hints = ek__str(ek__obj(ek__obj(o, "metadata"), "annotations"),
                                "service.kubernetes.io/topology-aware-hints");
    const char *mode = ek__str(ek__obj(ek__obj(o, "metadata"), "annotations"),
                               "service.kubernetes.io/topology-mode");
    if (hints && mode && strcmp(hints, mode) != 0) {
        ek__fe_invalid_s(e, "metadata.annotations[service.kubernetes.io/topology-mode]", mode,
                         "must match annotations[service.kubernetes.io/topology-aware-hints] when "
                         "both are specified");
    }
    v_service_spec(e, o, spec);
}

/* ---- endpoints ---- */

static void v_endpoint_address(ek_field_errors_t *e, const json_t *a, const char *path)
{
    const char *ip = ek__sstr(a, "ip");
    ek_autofree char *ipp = ek__p("%s.ip", path);
    if (!ek__ip_family(ip)) {
        ek__fe_invalid_s(e, ipp, ip, IP_MSG);
    }
    const char *host = ek__sstr(a, "hostname");
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (*host && ek__is_dns1123_label(host, &m)) {
        ek_autofree char *hp = ek__p("%s.hostname", path);
        ek__fe_invalid_msgs(e, hp, host, &m);
    }
    const char *node = ek__str(a, "nodeName");
    ek__msgs_init(&m);
    if (node && ek__is_dns1123_subdomain(node, &m)) {
        ek_autofree char *np = ek__p("%s.nodeName", path);
        ek__fe_invalid_msgs(e, np, node, &m);
    }
    ek__v_non_special_ip(e, ip, ipp);
}

static void v_endpoint_port(ek_field_errors_t *e, const json_t *p, bool require_name,
                            const char *path)
{
    const char *name = ek__sstr(p, "name");
    ek_autofree char *np = ek__p("%s.name", path);
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (require_name && !*name) {
        ek__fe_required(e, np, "");
    } else if (*name && ek__is_dns1123_label(name, &m)) {
        ek__fe_invalid_msgs(e, np, name, &m);
    }
    long long port = ek__intd(p, "port", 0);
    if (!ek__is_port_num(port)) {
        ek_autofree char *pp = ek__p("%s.port", path);
        ek__fe_invalid_i(e, pp, port, EK_MSG_PORT_RANGE);
    }
    const char *proto = ek__sstr(p, "protocol");
    ek_autofree char *prp = ek__p("%s.protocol", path);
    if (!*proto) {
        ek__fe_required(e, prp, "");
    } else if (!in_list(proto, protocols)) {
        ek__fe_not_supported_s(e, prp, proto, protocols);
    }
    const char *ap = ek__str(p, "appProtocol");
    if (ap) {
        ek_autofree char *app = ek__p("%s.appProtocol", path);
        ek__v_label_name(e, ap, app);
    }
}

void ek__v_endpoints(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    }
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    size_t i, j;
    json_t *ss, *x;
    json_array_foreach (ek__arr(o, "subsets"), i, ss) {
        ek_autofree char *sp = ek__p("subsets[%zu]", i);
        if (ek__validate_len(ss, "addresses") == 0 &&
            ek__validate_len(ss, "notReadyAddresses") == 0) {
            ek__fe_required(e, sp, "must specify `addresses` or `notReadyAddresses`");
        }
        json_array_foreach (ek__arr(ss, "addresses"), j, x) {
            ek_autofree char *p = ek__p("%s.addresses[%zu]", sp, j);
            v_endpoint_address(e, x, p);
        }
        json_array_foreach (ek__arr(ss, "notReadyAddresses"), j, x) {
            ek_autofree char *p = ek__p("%s.notReadyAddresses[%zu]", sp, j);
            v_endpoint_address(e, x, p);
        }
        json_array_foreach (ek__arr(ss, "ports"), j, x) {
            ek_autofree char *p = ek__p("%s.ports[%zu]", sp, j);
            v_endpoint_port(e, x, ek__validate_len(ss, "ports") > 1, p);
        }
    }
}
