/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Objects every cluster has from its first start, created only when missing (so a user's
 * changes survive restarts): the namespaces default, kube-system, kube-public and
 * kube-node-lease; the `kubernetes` Service (first address of the service CIDR, port 443 → the
 * API port) with its Endpoints and EndpointSlice; `kube-dns` in kube-system at the cluster DNS
 * address (no selector: every agent serves DNS); the default RBAC roles and bindings, with
 * those of joining nodes (bootstrappers may ask for node certificates, which are then
 * approved; nodes renew theirs; agents' own components read what they route); and the
 * system priority classes. The server reports ready once these writes are durable.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <time.h>

#include "server/apiserver/apiserver-internal.h"

struct boot {
    ek_apiserver_t *srv;
    int pending;
};

static void boot_done(struct boot *b)
{
    if (--b->pending == 0) {
        b->srv->ready = true;
        EK_LOG(EK_INFO, "apiserver", "ready rev=%lld", (long long)b->srv->store.rev);
        free(b);
    }
}

static void on_boot_write(int64_t rev, const ek_kv_entry_t *e, const ek_error_t *err, void *data)
{
    EK_UNUSED(rev);
    EK_UNUSED(e);
    if (err && !(err->status == 409 && err->errnum == EEXIST)) {
        EK_LOG(EK_ERROR, "apiserver", "first-start object not written err=\"%s\"",
               ek_error_msg(err));
    }
    boot_done(data);
}

/* Creates obj (JSON text with %s for uid and creation time) at its key if it is missing. */
static void ensure(struct boot *b, const char *group, const char *plural, const char *ns,
                   json_t *obj)
{
    const ek_resource_t *res = ek_resource_find(group, *group ? "v1" : "v1", plural);
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    if (!res || store_get(&b->srv->store, res, ns, name)) {
        json_decref(obj);
        return;
    }
    char uid[37], ts[21];
    new_uid(uid);
    ek_time_rfc3339(time(NULL), ts);
    json_t *md = ek_json_obj_ensure(obj, "metadata");
    ek_json_set_str(md, "uid", uid);
    ek_json_set_str(md, "creationTimestamp", ts);
    if (ns) {
        ek_json_set_str(md, "namespace", ns);
    }
    char av[128];
    ek_json_set_str(obj, "apiVersion", ek_resource_api_version(res, av));
    ek_json_set_str(obj, "kind", res->kind);
    ek_autofree char *key = ek_resource_key(res, ns, name);
    ek_autofree char *text = ek_json_dumps(obj);
    json_decref(obj);
    b->pending++;
    ek_kv_create(b->srv->kv, key, text, strlen(text), 0, 0, on_boot_write, b);
}

/* The address clients inside the cluster reach the API server at. */
static void advertise_address(const ek_apiserver_t *s, char out[static INET_ADDRSTRLEN])
{
    const char *bind = s->opts.bind_address;
    struct in_addr a;
    if (bind && inet_pton(AF_INET, bind, &a) == 1 && a.s_addr != htonl(INADDR_ANY)) {
        snprintf(out, INET_ADDRSTRLEN, "%s", bind);
        return;
    }
    snprintf(out, INET_ADDRSTRLEN, "127.0.0.1");
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0) {
        return;
    }
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !(i->ifa_flags & IFF_LOOPBACK) &&
            (i->ifa_flags & IFF_UP)) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out,
                      INET_ADDRSTRLEN);
            break;
        }
    }
    freeifaddrs(ifs);
}

static void first_service_ip(const char *cidr, char out[static INET_ADDRSTRLEN])
{
    char ip[64];
    snprintf(ip, sizeof(ip), "%s", cidr);
    char *slash = strchr(ip, '/');
    if (slash) {
        *slash = '\0';
    }
    struct in_addr a;
    if (inet_pton(AF_INET, ip, &a) != 1) {
        snprintf(out, INET_ADDRSTRLEN, "10.43.0.1");
        return;
    }
    a.s_addr = htonl(ntohl(a.s_addr) + 1);
    inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

static json_t *parse(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    ek_assert(v);
    return v;
}

#define RBAC_META                                                     \
    "\"labels\":{\"kubernetes.io/bootstrapping\":\"rbac-defaults\"}," \
    "\"annotations\":{\"rbac.authorization.kubernetes.io/autoupdate\":\"true\"}"

static const char *const cluster_roles[] = {
    "{\"metadata\":{\"name\":\"cluster-admin\"," RBAC_META "},\"rules\":["
    "{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
    "{\"nonResourceURLs\":[\"*\"],\"verbs\":[\"*\"]}]}",
    "{\"metadata\":{\"name\":\"system:discovery\"," RBAC_META "},\"rules\":["
    "{\"nonResourceURLs\":[\"/api\",\"/api/*\",\"/apis\",\"/apis/*\",\"/healthz\",\"/livez\","
    "\"/openapi\",\"/openapi/*\",\"/readyz\",\"/version\",\"/version/\"],\"verbs\":[\"get\"]}]}",
    "{\"metadata\":{\"name\":\"system:public-info-viewer\"," RBAC_META "},\"rules\":["
    "{\"nonResourceURLs\":[\"/healthz\",\"/livez\",\"/readyz\",\"/version\",\"/version/\"],"
    "\"verbs\":[\"get\"]}]}",
    "{\"metadata\":{\"name\":\"system:basic-user\"," RBAC_META "},\"rules\":["
    "{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":[\"selfsubjectaccessreviews\","
    "\"selfsubjectrulesreviews\"],\"verbs\":[\"create\"]},"
    "{\"apiGroups\":[\"authentication.k8s.io\"],\"resources\":[\"selfsubjectreviews\"],"
    "\"verbs\":[\"create\"]}]}",
    "{\"metadata\":{\"name\":\"view\"," RBAC_META "},\"rules\":["
    "{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"endpoints\",\"persistentvolumeclaims\","
    "\"persistentvolumeclaims/status\",\"pods\",\"pods/log\",\"pods/status\",\"services\","
    "\"services/status\",\"serviceaccounts\",\"events\",\"limitranges\",\"resourcequotas\","
    "\"resourcequotas/status\",\"namespaces\",\"namespaces/status\"],"
    "\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"apps\"],\"resources\":[\"controllerrevisions\",\"daemonsets\","
    "\"daemonsets/status\",\"deployments\",\"deployments/scale\",\"deployments/status\","
    "\"replicasets\",\"replicasets/scale\",\"replicasets/status\",\"statefulsets\","
    "\"statefulsets/scale\",\"statefulsets/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"batch\"],\"resources\":[\"cronjobs\",\"cronjobs/status\",\"jobs\","
    "\"jobs/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"autoscaling\"],\"resources\":[\"horizontalpodautoscalers\","
    "\"horizontalpodautoscalers/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"ingresses\",\"ingresses/status\","
    "\"networkpolicies\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"policy\"],\"resources\":[\"poddisruptionbudgets\","
    "\"poddisruptionbudgets/status\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"discovery.k8s.io\"],\"resources\":[\"endpointslices\"],"
    "\"verbs\":[\"get\",\"list\",\"watch\"]}]}",
    "{\"metadata\":{\"name\":\"edit\"," RBAC_META "},\"rules\":["
    "{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/attach\",\"pods/exec\","
    "\"pods/portforward\",\"pods/proxy\",\"pods/log\",\"pods/status\",\"configmaps\",\"endpoints\","
    "\"persistentvolumeclaims\",\"replicationcontrollers\",\"secrets\",\"serviceaccounts\","
    "\"services\",\"services/proxy\",\"events\",\"limitranges\",\"resourcequotas\"],"
    "\"verbs\":[\"create\",\"delete\",\"deletecollection\",\"get\",\"list\",\"patch\",\"update\","
    "\"watch\"]},"
    "{\"apiGroups\":[\"\"],\"resources\":[\"namespaces\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"\"],\"resources\":[\"serviceaccounts/token\"],\"verbs\":[\"create\"]},"
    "{\"apiGroups\":[\"apps\",\"batch\",\"autoscaling\",\"networking.k8s.io\",\"policy\","
    "\"discovery.k8s.io\"],\"resources\":[\"*\"],\"verbs\":[\"create\",\"delete\","
    "\"deletecollection\",\"get\",\"list\",\"patch\",\"update\",\"watch\"]}]}",
    "{\"metadata\":{\"name\":\"admin\"," RBAC_META "},\"rules\":["
    "{\"apiGroups\":[\"\",\"apps\",\"batch\",\"autoscaling\",\"networking.k8s.io\",\"policy\","
    "\"discovery.k8s.io\",\"coordination.k8s.io\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
    "{\"apiGroups\":[\"rbac.authorization.k8s.io\"],\"resources\":[\"roles\",\"rolebindings\"],"
    "\"verbs\":[\"*\"]},"
    "{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":[\"localsubjectaccessreviews\"],"
    "\"verbs\":[\"create\"]}]}",
};

/* Joining nodes (bootstrap tokens and the server token): ask for a node certificate, and have
 * it approved; nodes renew theirs. The names are kubeadm's and Kubernetes'. */
#define CSR_RULE(verbs, res) \
    "{\"apiGroups\":[\"certificates.k8s.io\"],\"resources\":[" res "],\"verbs\":[" verbs "]}"
static const char *const join_roles[] = {
    "{\"metadata\":{\"name\":\"system:node-bootstrapper\"," RBAC_META "},\"rules\":[" CSR_RULE(
        "\"create\",\"get\",\"list\",\"watch\"", "\"certificatesigningrequests\"") "]}",
    "{\"metadata\":{\"name\":\"system:certificates.k8s.io:certificatesigningrequests:"
    "nodeclient\"," RBAC_META
    "},\"rules\":[" CSR_RULE("\"create\"", "\"certificatesigningrequests/nodeclient\"") "]}",
    "{\"metadata\":{\"name\":\"system:certificates.k8s.io:certificatesigningrequests:"
    "selfnodeclient\"," RBAC_META
    "},\"rules\":[" CSR_RULE("\"create\"", "\"certificatesigningrequests/selfnodeclient\"") "]}",
    /* What an agent's own components (service proxy, DNS, pod network routes, ingress) read;
     * they use an identity of their own, so the kubelet's stays confined to its node. */
    "{\"metadata\":{\"name\":\"system:edgek:agent\"," RBAC_META "},\"rules\":["
    "{\"apiGroups\":[\"\"],\"resources\":[\"nodes\",\"namespaces\",\"pods\",\"services\","
    "\"endpoints\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"discovery.k8s.io\"],\"resources\":[\"endpointslices\"],"
    "\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"ingresses\",\"ingressclasses\","
    "\"networkpolicies\"],\"verbs\":[\"get\",\"list\",\"watch\"]},"
    "{\"apiGroups\":[\"\",\"events.k8s.io\"],\"resources\":[\"events\"],"
    "\"verbs\":[\"create\",\"update\",\"patch\"]}]}",
};

#define BINDING(name, role, kind, subject)                                                      \
    "{\"metadata\":{\"name\":\"" name "\"," RBAC_META "},\"roleRef\":{\"apiGroup\":"            \
    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"" role "\"},"            \
    "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"" kind "\",\"name\":" \
    "\"" subject "\"}]}"
static const char *const join_bindings[] = {
    BINDING("edgek:kubelet-bootstrap", "system:node-bootstrapper", "Group",
            "system:bootstrappers:edgek:default-node-token"),
    BINDING("edgek:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient", "Group",
            "system:bootstrappers:edgek:default-node-token"),
    BINDING("edgek:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "Group",
            "system:nodes"),
    BINDING("system:edgek:agent", "system:edgek:agent", "Group", "system:edgek:agents"),
};

static const char *const cluster_role_bindings[] = {
    "{\"metadata\":{\"name\":\"cluster-admin\"," RBAC_META "},\"roleRef\":{\"apiGroup\":"
    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"cluster-admin\"},"
    "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Group\",\"name\":"
    "\"system:masters\"}]}",
    "{\"metadata\":{\"name\":\"system:discovery\"," RBAC_META "},\"roleRef\":{\"apiGroup\":"
    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"system:discovery\"},"
    "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Group\",\"name\":"
    "\"system:authenticated\"}]}",
    "{\"metadata\":{\"name\":\"system:public-info-viewer\"," RBAC_META "},\"roleRef\":{"
    "\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":"
    "\"system:public-info-viewer\"},\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\","
    "\"kind\":\"Group\",\"name\":\"system:authenticated\"}]}",
    "{\"metadata\":{\"name\":\"system:basic-user\"," RBAC_META "},\"roleRef\":{\"apiGroup\":"
    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"system:basic-user\"},"
    "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Group\",\"name\":"
    "\"system:authenticated\"}]}",
};

static void ensure_join_rbac(struct boot *b)
{
    for (size_t i = 0; i < EK_ARRAY_SIZE(join_roles); i++) {
        ensure(b, "rbac.authorization.k8s.io", "clusterroles", NULL, parse(join_roles[i]));
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(join_bindings); i++) {
        ensure(b, "rbac.authorization.k8s.io", "clusterrolebindings", NULL,
               parse(join_bindings[i]));
    }
    /* system:node, as Kubernetes creates it (bound to no one: the Node authorizer grants it). */
    json_t *node_role = parse("{\"metadata\":{\"name\":\"system:node\"," RBAC_META "}}");
    json_object_set_new(node_role, "rules", nodeauthz_rules_json());
    ensure(b, "rbac.authorization.k8s.io", "clusterroles", NULL, node_role);
}

void bootstrap_run(ek_apiserver_t *s)
{
    struct boot *b = ek_new(struct boot);
    b->srv = s;
    b->pending = 1;
    static const char *const namespaces[] = { "default", "kube-system", "kube-public",
                                              "kube-node-lease" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(namespaces); i++) {
        ensure(b, "", "namespaces", NULL,
               json_pack("{s:{s:s,s:{s:s}},s:{s:[s]},s:{s:s}}", "metadata", "name", namespaces[i],
                         "labels", "kubernetes.io/metadata.name", namespaces[i], "spec",
                         "finalizers", "kubernetes", "status", "phase", "Active"));
    }
    char svc_ip[INET_ADDRSTRLEN], addr[INET_ADDRSTRLEN];
    first_service_ip(s->opts.service_cidr, svc_ip);
    advertise_address(s, addr);
    int port = ek_apiserver_port(s);
    ensure(b, "", "services", "default",
           json_pack("{s:{s:s,s:{s:s,s:s}},s:{s:s,s:s,s:[s],s:s,s:[s],s:s,s:s,s:[{s:s,s:s,s:i,"
                     "s:i}]}}",
                     "metadata", "name", "kubernetes", "labels", "component", "apiserver",
                     "provider", "kubernetes", "spec", "type", "ClusterIP", "clusterIP", svc_ip,
                     "clusterIPs", svc_ip, "sessionAffinity", "None", "ipFamilies", "IPv4",
                     "ipFamilyPolicy", "SingleStack", "internalTrafficPolicy", "Cluster", "ports",
                     "name", "https", "protocol", "TCP", "port", 443, "targetPort", port));
    ensure(b, "", "endpoints", "default",
           json_pack("{s:{s:s,s:{s:s}},s:[{s:[{s:s}],s:[{s:s,s:i,s:s}]}]}", "metadata", "name",
                     "kubernetes", "labels", "endpointslice.kubernetes.io/skip-mirror", "true",
                     "subsets", "addresses", "ip", addr, "ports", "name", "https", "port", port,
                     "protocol", "TCP"));
    ensure(b, "discovery.k8s.io", "endpointslices", "default",
           json_pack("{s:{s:s,s:{s:s,s:s}},s:s,s:[{s:[s],s:{s:b,s:b,s:b}}],s:[{s:s,s:i,s:s}]}",
                     "metadata", "name", "kubernetes", "labels", "kubernetes.io/service-name",
                     "kubernetes", "endpointslice.kubernetes.io/managed-by",
                     "endpointslice-controller.k8s.io", "addressType", "IPv4", "endpoints",
                     "addresses", addr, "conditions", "ready", 1, "serving", 1, "terminating", 0,
                     "ports", "name", "https", "port", port, "protocol", "TCP"));
    /* kube-dns, as clients expect it. No selector: every agent answers DNS itself and the
     * pod network's rules steer this address to the node's own DNS server, so no query leaves
     * the node. The service-proxy-name label (kube-proxy's "another proxy implements this")
     * keeps the service proxy from rejecting it for want of endpoints. */
    if (s->opts.cluster_dns && *s->opts.cluster_dns) {
        ensure(b, "", "services", "kube-system",
               json_pack("{s:{s:s,s:{s:s,s:s,s:s,s:s}},s:{s:s,s:s,s:[s],s:s,s:[s],s:s,s:s,"
                         "s:[{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i}]}}",
                         "metadata", "name", "kube-dns", "labels", "k8s-app", "kube-dns",
                         "kubernetes.io/cluster-service", "true", "kubernetes.io/name", "edgek-dns",
                         "service.kubernetes.io/service-proxy-name", "edgek-dns", "spec", "type",
                         "ClusterIP", "clusterIP", s->opts.cluster_dns, "clusterIPs",
                         s->opts.cluster_dns, "sessionAffinity", "None", "ipFamilies", "IPv4",
                         "ipFamilyPolicy", "SingleStack", "internalTrafficPolicy", "Cluster",
                         "ports", "name", "dns", "protocol", "UDP", "port", 53, "targetPort", 53,
                         "name", "dns-tcp", "protocol", "TCP", "port", 53, "targetPort", 53));
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(cluster_roles); i++) {
        ensure(b, "rbac.authorization.k8s.io", "clusterroles", NULL, parse(cluster_roles[i]));
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(cluster_role_bindings); i++) {
        ensure(b, "rbac.authorization.k8s.io", "clusterrolebindings", NULL,
               parse(cluster_role_bindings[i]));
    }
    ensure_join_rbac(b);
    ensure(b, "scheduling.k8s.io", "priorityclasses", NULL,
           json_pack("{s:{s:s},s:i,s:s,s:s}", "metadata", "name", "system-node-critical", "value",
                     2000001000, "description", "Used for pods the node cannot work without.",
                     "preemptionPolicy", "PreemptLowerPriority"));
    ensure(b, "scheduling.k8s.io", "priorityclasses", NULL,
           json_pack("{s:{s:s},s:i,s:s,s:s}", "metadata", "name", "system-cluster-critical",
                     "value", 2000000000, "description",
                     "Used for pods the cluster cannot work without.", "preemptionPolicy",
                     "PreemptLowerPriority"));
    boot_done(b);
}
