/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Node authorizer, as kube-apiserver 1.32 runs it (--authorization-mode=Node,RBAC with
 * AuthorizeNodeWithSelectors): a kubelet, user system:node:<name> in group system:nodes, may
 * read secrets, configmaps, persistent volume (claims) and service-account tokens only when a
 * pod bound to it uses them; read only its own Node; list pods only with the
 * spec.nodeName=<name> field selector; use only its own Lease; and otherwise hold the fixed
 * rules of the system:node role (nodeauthz_rules_json). Anything else gets "no opinion", and
 * RBAC decides (nothing binds nodes by default, so that is a 403 ending in our reason).
 *
 * Kubernetes keeps a graph of pods, secrets, volumes and nodes; here the graph is the cache
 * itself, walked per request: pods of the object's namespace bound to the node, and what
 * their specs reference. Kubelets read such objects once per pod start, so this costs one
 * pass over a namespace's pods when it happens, and no memory at all the rest of the time.
 * What the request may then change is NodeRestriction's business (noderestriction.c).
 */
#include <stdarg.h>
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

#define NODE_USER_PREFIX "system:node:"
#define NODE_LEASE_NS    "kube-node-lease"

const char *node_identity(const user_t *u)
{
    if (!u->name || !ek_has_prefix(u->name, NODE_USER_PREFIX) ||
        !user_in_group(u, EK_NODES_GROUP)) {
        return NULL;
    }
    return u->name + strlen(NODE_USER_PREFIX);
}

/* ---- the fixed rules (bootstrappolicy.NodeRules of Kubernetes 1.32) ---- */

typedef struct node_rule {
    const char *group;
    const char *resources; /* space-separated, "plural" or "plural/sub" */
    const char *verbs;     /* space-separated */
} node_rule_t;

static const node_rule_t node_rules[] = {
    { "authentication.k8s.io", "tokenreviews", "create" },
    { "authorization.k8s.io", "subjectaccessreviews localsubjectaccessreviews", "create" },
    { "", "services", "get list watch" },
    { "", "nodes", "create get list watch" },
    { "", "nodes/status", "update patch" },
    { "", "nodes", "update patch" },
    { "", "events", "create update patch" },
    { "events.k8s.io", "events", "create update patch" },
    { "", "pods", "get list watch" },
    { "", "pods", "create delete" },
    { "", "pods/status", "update patch" },
    { "", "pods/eviction", "create" },
    { "", "secrets configmaps", "get list watch" },
    { "", "persistentvolumeclaims persistentvolumes", "get" },
    { "certificates.k8s.io", "certificatesigningrequests", "create get list watch" },
    { "coordination.k8s.io", "leases", "get create update patch delete" },
    { "storage.k8s.io", "volumeattachments", "get" },
    { "", "persistentvolumeclaims/status", "get update patch" },
    { "", "serviceaccounts/token", "create" },
    { "storage.k8s.io", "csidrivers", "get watch list" },
    { "storage.k8s.io", "csinodes", "get create update patch delete" },
    { "node.k8s.io", "runtimeclasses", "get list watch" },
};

/* Whether word is one of the space-separated words of list. */
static bool word_in(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n) {
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ')) {
            return true;
        }
    }
    return false;
}

static bool static_rules_allow(const authz_attrs_t *a)
{
    if (a->path) {
        return false;
    }
    char res[256];
    snprintf(res, sizeof(res), "%s%s%s", a->resource, a->subresource ? "/" : "",
             a->subresource ? a->subresource : "");
    for (size_t i = 0; i < EK_ARRAY_SIZE(node_rules); i++) {
        const node_rule_t *r = &node_rules[i];
        if (ek_streq(r->group, a->group ? a->group : "") && word_in(r->resources, res) &&
            word_in(r->verbs, a->verb)) {
            return true;
        }
    }
    return false;
}

static json_t *words_json(const char *list)
{
    json_t *arr = json_array();
    ek_autofree char *copy = ek_xstrdup(list);
    char *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        json_array_append_new(arr, json_string(w));
    }
    return arr;
}

json_t *nodeauthz_rules_json(void)
{
    json_t *rules = json_array();
    for (size_t i = 0; i < EK_ARRAY_SIZE(node_rules); i++) {
        json_array_append_new(rules, json_pack("{s:[s],s:o,s:o}", "apiGroups", node_rules[i].group,
                                               "resources", words_json(node_rules[i].resources),
                                               "verbs", words_json(node_rules[i].verbs)));
    }
    return rules;
}

/* ---- the graph: what pods bound to a node reference ---- */

static bool named(const json_t *v, const char *key, const char *name)
{
    const char *s = ek_json_str(v, key, NULL);
    return s && (!name || strcmp(s, name) == 0);
}

static bool container_refs(const json_t *c, ref_kind_t kind, const char *name)
{
    const char *key_ref = kind == REF_SECRET ? "secretKeyRef" : "configMapKeyRef";
    const char *from_ref = kind == REF_SECRET ? "secretRef" : "configMapRef";
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(c, "env"), i, e) {
        if (named(ek_json_path(e, "valueFrom", key_ref, NULL), "name", name)) {
            return true;
        }
    }
    json_array_foreach (json_object_get(c, "envFrom"), i, e) {
        if (named(json_object_get(e, from_ref), "name", name)) {
            return true;
        }
    }
    return false;
}

/* Secrets named by volume plugins (cephfs, rbd, iscsi, flexVolume, csi, azureFile, ...). */
static bool plugin_secret_refs(const json_t *vol, const char *name)
{
    const char *k;
    json_t *src;
    json_object_foreach ((json_t *)vol, k, src) {
        if (json_is_object(src) &&
            (named(json_object_get(src, "secretRef"), "name", name) ||
             named(json_object_get(src, "nodePublishSecretRef"), "name", name) ||
             (strcmp(k, "azureFile") == 0 && named(src, "secretName", name)))) {
            return true;
        }
    }
    return false;
}

static bool projected_refs(const json_t *vol, ref_kind_t kind, const char *name)
{
    size_t i;
    json_t *src;
    json_array_foreach (ek_json_path(vol, "projected", "sources", NULL), i, src) {
        if (named(json_object_get(src, kind == REF_SECRET ? "secret" : "configMap"), "name",
                  name)) {
            return true;
        }
    }
    return false;
}

static bool volume_refs(const json_t *pod, const json_t *vol, ref_kind_t kind, const char *name)
{
    switch (kind) {
    case REF_SECRET:
        return named(json_object_get(vol, "secret"), "secretName", name) ||
               projected_refs(vol, kind, name) || plugin_secret_refs(vol, name);
    case REF_CONFIGMAP:
        return named(json_object_get(vol, "configMap"), "name", name) ||
               projected_refs(vol, kind, name);
    case REF_PVC: {
        if (named(json_object_get(vol, "persistentVolumeClaim"), "claimName", name)) {
            return true;
        }
        /* A generic ephemeral volume's claim is named <pod>-<volume>. */
        if (!json_object_get(vol, "ephemeral")) {
            return false;
        }
        char claim[512];
        snprintf(claim, sizeof(claim), "%s-%s", ek_json_str(pod, "metadata", "name", NULL) ?: "",
                 ek_json_str(vol, "name", NULL) ?: "");
        return !name || strcmp(claim, name) == 0;
    }
    case REF_SA:
        break;
    }
    return false;
}

bool pod_refs(const json_t *pod, ref_kind_t kind, const char *name)
{
    const json_t *spec = json_object_get(pod, "spec");
    if (kind == REF_SA) {
        const char *sa = ek_json_str(spec, "serviceAccountName", NULL);
        return name ? ek_streq(sa && *sa ? sa : "default", name) : sa && *sa;
    }
    size_t i;
    json_t *v;
    if (kind == REF_SECRET) {
        json_array_foreach (json_object_get(spec, "imagePullSecrets"), i, v) {
            if (named(v, "name", name)) {
                return true;
            }
        }
    }
    static const char *const lists[] = { "containers", "initContainers", "ephemeralContainers" };
    for (size_t l = 0; kind != REF_PVC && l < EK_ARRAY_SIZE(lists); l++) {
        json_array_foreach (json_object_get(spec, lists[l]), i, v) {
            if (container_refs(v, kind, name)) {
                return true;
            }
        }
    }
    json_array_foreach (json_object_get(spec, "volumes"), i, v) {
        if (volume_refs(pod, v, kind, name)) {
            return true;
        }
    }
    return false;
}

static bool bound_to(const json_t *pod, const char *node)
{
    return ek_streq(ek_json_str(pod, "spec", "nodeName", NULL), node);
}

/* Some pod of namespace ns bound to node references the object. */
static bool bound_pod_refs(ek_apiserver_t *s, const char *node, const char *ns, ref_kind_t kind,
                           const char *name)
{
    size_t n;
    ek_autofree obj_t **pods = store_list(&s->store, ek_resource_find("", "v1", "pods"), ns, &n);
    for (size_t i = 0; i < n; i++) {
        if (bound_to(pods[i]->json, node) && pod_refs(pods[i]->json, kind, name)) {
            return true;
        }
    }
    return false;
}

/* node <- pod <- pvc <- pv */
static bool pv_related(ek_apiserver_t *s, const char *node, const char *pv)
{
    const ek_resource_t *pvcs = ek_resource_find("", "v1", "persistentvolumeclaims");
    size_t n;
    ek_autofree obj_t **claims = store_list(&s->store, pvcs, NULL, &n);
    for (size_t i = 0; i < n; i++) {
        const json_t *c = claims[i]->json;
        if (ek_streq(ek_json_str(c, "spec", "volumeName", NULL), pv) &&
            bound_pod_refs(s, node, ek_json_str(c, "metadata", "namespace", NULL), REF_PVC,
                           ek_json_str(c, "metadata", "name", NULL))) {
            return true;
        }
    }
    return false;
}

typedef enum { V_POD, V_SECRET, V_CONFIGMAP, V_PVC, V_PV, V_SA } vertex_t;

static bool related(ek_apiserver_t *s, const char *node, vertex_t v, const authz_attrs_t *a)
{
    switch (v) {
    case V_POD: {
        obj_t *p = store_get(&s->store, ek_resource_find("", "v1", "pods"), a->ns, a->name);
        return p && bound_to(p->json, node);
    }
    case V_SECRET:
        return bound_pod_refs(s, node, a->ns, REF_SECRET, a->name);
    case V_CONFIGMAP:
        return bound_pod_refs(s, node, a->ns, REF_CONFIGMAP, a->name);
    case V_PVC:
        return bound_pod_refs(s, node, a->ns, REF_PVC, a->name);
    case V_SA:
        return bound_pod_refs(s, node, a->ns, REF_SA, a->name);
    case V_PV:
        return pv_related(s, node, a->name);
    }
    return false;
}

/* ---- decisions ---- */

static bool refuse(char **reason, const char *fmt, ...) EK_PRINTF(2, 3);
static bool refuse(char **reason, const char *fmt, ...)
{
    if (reason) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(reason, fmt, ap) < 0) {
            ek_assert(!"out of memory");
        }
        va_end(ap);
    }
    return false;
}

static bool by_graph(ek_apiserver_t *s, const char *node, vertex_t v, const authz_attrs_t *a,
                     char **reason)
{
    if (!a->name || !*a->name) {
        return refuse(reason, "No Object name found");
    }
    if (!related(s, node, v, a)) {
        return refuse(reason, "no relationship found between node '%s' and this object", node);
    }
    return true;
}

static bool read_namespaced(ek_apiserver_t *s, const char *node, vertex_t v, const authz_attrs_t *a,
                            char **reason)
{
    if (!word_in("get list watch", a->verb)) {
        return refuse(reason, "can only read resources of this type");
    }
    if (a->subresource) {
        return refuse(reason, "cannot read subresource");
    }
    if (!a->ns) {
        return refuse(reason, "can only read namespaced object of this type");
    }
    return by_graph(s, node, v, a, reason);
}

static bool get_only(ek_apiserver_t *s, const char *node, vertex_t v, const authz_attrs_t *a,
                     char **reason)
{
    if (strcmp(a->verb, "get") != 0) {
        return refuse(reason, "can only get individual resources of this type");
    }
    if (a->subresource) {
        return refuse(reason, "cannot get subresource");
    }
    return by_graph(s, node, v, a, reason);
}

static bool pvc_request(ek_apiserver_t *s, const char *node, const authz_attrs_t *a, char **reason)
{
    if (!ek_streq(a->subresource, "status")) {
        return get_only(s, node, V_PVC, a, reason);
    }
    if (!word_in("update patch", a->verb)) {
        return refuse(reason, "can only get/update/patch this type");
    }
    return by_graph(s, node, V_PVC, a, reason);
}

static bool token_request(ek_apiserver_t *s, const char *node, const authz_attrs_t *a,
                          char **reason)
{
    if (strcmp(a->verb, "create") != 0 || !a->name) {
        return refuse(reason, "can only create tokens for individual service accounts");
    }
    if (!ek_streq(a->subresource, "token")) {
        return refuse(reason, "can only create token subresource of serviceaccount");
    }
    return by_graph(s, node, V_SA, a, reason);
}

static bool lease_request(const char *node, const authz_attrs_t *a, char **reason)
{
    if (!word_in("get create update patch delete", a->verb)) {
        return refuse(reason, "can only get, create, update, patch, or delete a node lease");
    }
    if (!ek_streq(a->ns, NODE_LEASE_NS)) {
        return refuse(reason, "can only access leases in the \"%s\" system namespace",
                      NODE_LEASE_NS);
    }
    /* The name of a create is checked at admission (NodeRestriction), which sees the object. */
    if (strcmp(a->verb, "create") != 0 && !ek_streq(a->name, node)) {
        return refuse(reason,
                      "can only access node lease with the same name as the requesting node");
    }
    return true;
}

static bool node_request(const char *node, const authz_attrs_t *a, char **reason)
{
    if (!a->subresource && word_in("create update patch", a->verb)) {
        return true; /* NodeRestriction limits these to the node's own object */
    }
    if (!a->subresource && word_in("get list watch", a->verb)) {
        if (ek_streq(a->name, node)) {
            return true;
        }
        if (!a->name || !*a->name) {
            return refuse(reason, "node '%s' cannot read all nodes, only its own Node object",
                          node);
        }
        return refuse(reason, "node '%s' cannot read '%s', only its own Node object", node,
                      a->name);
    }
    if (ek_streq(a->subresource, "status") && word_in("update patch", a->verb)) {
        return true;
    }
    return false;
}

/* The field selector holds spec.nodeName=<node>. */
static bool selects_node(const char *field_selector, const char *node)
{
    ek_auto(ek_fieldsel_t) fs = ek_fieldsel_parse(field_selector ? field_selector : "", NULL);
    return fs && ek_streq(ek_fieldsel_exact(fs, "spec.nodeName"), node);
}

static bool pod_request(ek_apiserver_t *s, const char *node, const authz_attrs_t *a, char **reason)
{
    const char *sub = a->subresource, *verb = a->verb;
    if (!sub && strcmp(verb, "get") == 0) {
        return get_only(s, node, V_POD, a, reason);
    }
    if (!sub && word_in("list watch", verb)) {
        if (selects_node(a->field_selector, node)) {
            return true;
        }
        if (a->name && *a->name) {
            return by_graph(s, node, V_POD, a, reason);
        }
        return refuse(reason, "can only list/watch pods with spec.nodeName field selector");
    }
    /* Mirror pods, pod status and evictions: NodeRestriction limits them to the node's pods. */
    return (!sub && word_in("create delete", verb)) ||
           (ek_streq(sub, "status") && word_in("update patch", verb)) ||
           (ek_streq(sub, "eviction") && strcmp(verb, "create") == 0);
}

bool nodeauthz_allowed(ek_apiserver_t *s, const char *node, const authz_attrs_t *a, char **reason)
{
    if (!a->path) {
        const char *g = a->group ? a->group : "", *res = a->resource;
        if (!*g && strcmp(res, "secrets") == 0) {
            return read_namespaced(s, node, V_SECRET, a, reason);
        }
        if (!*g && strcmp(res, "configmaps") == 0) {
            return read_namespaced(s, node, V_CONFIGMAP, a, reason);
        }
        if (!*g && strcmp(res, "persistentvolumeclaims") == 0) {
            return pvc_request(s, node, a, reason);
        }
        if (!*g && strcmp(res, "persistentvolumes") == 0) {
            return get_only(s, node, V_PV, a, reason);
        }
        if (!*g && strcmp(res, "serviceaccounts") == 0) {
            return token_request(s, node, a, reason);
        }
        if (strcmp(g, "coordination.k8s.io") == 0 && strcmp(res, "leases") == 0) {
            return lease_request(node, a, reason);
        }
        if (!*g && strcmp(res, "nodes") == 0) {
            return node_request(node, a, reason);
        }
        if (!*g && strcmp(res, "pods") == 0) {
            return pod_request(s, node, a, reason);
        }
    }
    return static_rules_allow(a);
}
