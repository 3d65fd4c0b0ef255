/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the Endpoints and EndpointSlice controllers share (Kubernetes' pkg/api/v1/pod FindPort
 * and pkg/controller/util/endpoint): which pods a Service selects, which of them belong in
 * its endpoints, the pod address of the Service's IP family, and target ports resolved per
 * pod (a named targetPort is looked up in that pod's container ports).
 */
#include <stdio.h>

#include "server/controllers/controllers-internal.h"

bool svc_selects(const json_t *svc, const json_t *pod)
{
    if (!ek_streq(ek_json_str(svc, "metadata", "namespace", NULL),
                  ek_json_str(pod, "metadata", "namespace", NULL))) {
        return false;
    }
    const json_t *sel = ek_json_path(svc, "spec", "selector", NULL);
    if (json_object_size(sel) == 0) {
        return false; /* no selector: endpoints are managed by hand */
    }
    const json_t *labels = ek_json_path(pod, "metadata", "labels", NULL);
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)sel, k, v) {
        if (!ek_streq(ek_json_str(labels, k, NULL), json_string_value(v))) {
            return false;
        }
    }
    return true;
}

bool svc_managed(const json_t *svc)
{
    return svc && json_object_size(ek_json_path(svc, "spec", "selector", NULL)) > 0 &&
           !ek_streq(ek_json_str(svc, "spec", "type", NULL), "ExternalName");
}

bool svc_is_headless(const json_t *svc)
{
    return ek_streq(ek_json_str(svc, "spec", "clusterIP", NULL), "None");
}

bool svc_wants_ipv6(const json_t *svc)
{
    const json_t *fams = ek_json_path(svc, "spec", "ipFamilies", NULL);
    const char *fam = json_string_value(json_array_get(fams, 0));
    if (fam) {
        return strcmp(fam, "IPv6") == 0;
    }
    const char *ip = ek_json_str(svc, "spec", "clusterIP", NULL);
    return ip && strchr(ip, ':');
}

bool pod_in_endpoints(const json_t *pod, bool include_terminating)
{
    const char *phase = ek_json_str(pod, "status", "phase", NULL);
    if (ek_streq(phase, "Succeeded") || ek_streq(phase, "Failed")) {
        return false;
    }
    const char *ip = ek_json_str(pod, "status", "podIP", NULL);
    if ((!ip || !*ip) && json_array_size(ek_json_path(pod, "status", "podIPs", NULL)) == 0) {
        return false;
    }
    return include_terminating || !ek_json_str(pod, "metadata", "deletionTimestamp", NULL);
}

const char *pod_ip_of_family(const json_t *pod, bool v6)
{
    size_t i;
    json_t *e;
    json_array_foreach (ek_json_path(pod, "status", "podIPs", NULL), i, e) {
        const char *ip = ek_json_str(e, "ip", NULL);
        if (ip && (strchr(ip, ':') != NULL) == v6) {
            return ip;
        }
    }
    const char *ip = ek_json_str(pod, "status", "podIP", NULL);
    return ip && *ip && (strchr(ip, ':') != NULL) == v6 ? ip : NULL;
}

static int port_in(const json_t *containers, const char *name, const char *proto, bool sidecars)
{
    size_t i;
    json_t *c;
    json_array_foreach (containers, i, c) {
        if (sidecars && !ek_streq(ek_json_str(c, "restartPolicy", NULL), "Always")) {
            continue; /* only sidecars (restartable init containers) serve ports */
        }
        size_t k;
        json_t *p;
        json_array_foreach (json_object_get(c, "ports"), k, p) {
            const char *pp = ek_json_str(p, "protocol", NULL);
            if (ek_streq(ek_json_str(p, "name", NULL), name) && ek_streq(pp ? pp : "TCP", proto)) {
                return (int)ek_json_int(p, 0, "containerPort", NULL);
            }
        }
    }
    return -1;
}

int pod_find_port(const json_t *pod, const json_t *svc_port)
{
    const json_t *tp = json_object_get(svc_port, "targetPort");
    const char *proto = ek_json_str(svc_port, "protocol", NULL);
    proto = proto ? proto : "TCP";
    if (json_is_integer(tp)) {
        return (int)json_integer_value(tp);
    }
    if (!json_is_string(tp)) {
        return (int)ek_json_int(svc_port, -1, "port", NULL);
    }
    const char *name = json_string_value(tp);
    char *end;
    long n = strtol(name, &end, 10);
    if (*name && !*end) {
        return (int)n; /* an int-or-string given as a numeric string */
    }
    int port = port_in(ek_json_path(pod, "spec", "containers", NULL), name, proto, false);
    if (port < 0) {
        port = port_in(ek_json_path(pod, "spec", "initContainers", NULL), name, proto, true);
    }
    return port;
}

bool pod_sets_hostname(const json_t *pod, const json_t *svc)
{
    const char *h = ek_json_str(pod, "spec", "hostname", NULL);
    return h && *h &&
           ek_streq(ek_json_str(pod, "spec", "subdomain", NULL),
                    ek_json_str(svc, "metadata", "name", NULL)) &&
           ek_streq(ek_json_str(pod, "metadata", "namespace", NULL),
                    ek_json_str(svc, "metadata", "namespace", NULL));
}

json_t *pod_target_ref(const json_t *pod)
{
    return json_pack("{s:s,s:s,s:s,s:s}", "kind", "Pod", "namespace",
                     ek_json_str(pod, "metadata", "namespace", NULL), "name",
                     ek_json_str(pod, "metadata", "name", NULL), "uid",
                     ek_json_str(pod, "metadata", "uid", NULL));
}

struct svc_each {
    const json_t *pod;
    void (*fn)(json_t *svc, void *data);
    void *data;
};

static void visit_svc(json_t *svc, void *data)
{
    struct svc_each *e = data;
    if (svc_selects(svc, e->pod)) {
        e->fn(svc, e->data);
    }
}

void each_service_of_pod(ek_informer_t *svcs, const json_t *pod,
                         void (*fn)(json_t *svc, void *data), void *data)
{
    struct svc_each e = { pod, fn, data };
    ek_informer_each(svcs, visit_svc, &e);
}

struct pods_of {
    const json_t *svc;
    json_t **v;
    size_t n, cap;
};

static void collect_selected(json_t *pod, void *data)
{
    struct pods_of *l = data;
    if (!svc_selects(l->svc, pod)) {
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = ek_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = pod;
}

json_t **pods_of_service(ek_informer_t *pods, const json_t *svc, size_t *n)
{
    struct pods_of l = { .svc = svc };
    ek_informer_each(pods, collect_selected, &l);
    *n = l.n;
    return l.v;
}
