/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resource table: every kind edgek serves, described once. Discovery, routing, storage
 * keys, OpenAPI and tables are all derived from these rows; CustomResourceDefinitions add
 * rows at run time. The registry is owned by the loop thread.
 */
#include <stdio.h>

#include "api/api.h"

#define ST         EK_SUBBIT(EK_SUB_STATUS)
#define SC         EK_SUBBIT(EK_SUB_SCALE)
#define GEN_STATUS (EK_RES_GENERATION | EK_RES_STATUS)

/* clang-format off */
static const ek_resource_t builtin[] = {
    /* core/v1 */
    { "", "v1", "Pod", "pods", "pod", true, "po", "all", EK_VERBS_ALL,
      ST | EK_SUBBIT(EK_SUB_BINDING) | EK_SUBBIT(EK_SUB_LOG) | EK_SUBBIT(EK_SUB_EXEC) |
      EK_SUBBIT(EK_SUB_ATTACH) | EK_SUBBIT(EK_SUB_PORTFORWARD) | EK_SUBBIT(EK_SUB_EVICTION) |
      EK_SUBBIT(EK_SUB_EPHEMERALCONTAINERS) | EK_SUBBIT(EK_SUB_PROXY),
      EK_RES_STATUS | EK_RES_GRACEFUL, "Pod",
      "spec.nodeName spec.restartPolicy spec.schedulerName spec.serviceAccountName "
      "spec.hostNetwork status.phase status.podIP status.podIPs status.nominatedNodeName",
      0, NULL, NULL, NULL },
    { "", "v1", "Namespace", "namespaces", "namespace", false, "ns", NULL,
      EK_VERBS_NO_COLLECTION, ST | EK_SUBBIT(EK_SUB_FINALIZE), EK_RES_STATUS, "Namespace",
      "status.phase", 0, NULL, NULL, NULL },
    { "", "v1", "Service", "services", "service", true, "svc", "all", EK_VERBS_ALL,
      ST | EK_SUBBIT(EK_SUB_PROXY), EK_RES_STATUS, "Service", "spec.clusterIP spec.type", 0,
      NULL, NULL, NULL },
    { "", "v1", "Endpoints", "endpoints", "endpoints", true, "ep", NULL, EK_VERBS_ALL, 0, 0,
      "Endpoints", NULL, 0, NULL, NULL, NULL },
    { "", "v1", "ConfigMap", "configmaps", "configmap", true, "cm", NULL, EK_VERBS_ALL, 0, 0,
      "ConfigMap", NULL, 0, NULL, NULL, NULL },
    { "", "v1", "Secret", "secrets", "secret", true, NULL, NULL, EK_VERBS_ALL, 0, 0, "Secret",
      "type", 0, NULL, NULL, NULL },
    { "", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", true, "sa", NULL,
      EK_VERBS_ALL, EK_SUBBIT(EK_SUB_TOKEN), 0, "ServiceAccount", NULL, 0, NULL, NULL, NULL },
    { "", "v1", "Node", "nodes", "node", false, "no", NULL, EK_VERBS_ALL,
      ST | EK_SUBBIT(EK_SUB_PROXY), EK_RES_STATUS, "Node", "spec.unschedulable", 0, NULL,
      NULL, NULL },
    { "", "v1", "Event", "events", "event", true, "ev", NULL, EK_VERBS_ALL, 0, 0, "Event",
      "involvedObject.kind involvedObject.namespace involvedObject.name involvedObject.uid "
      "involvedObject.apiVersion involvedObject.resourceVersion involvedObject.fieldPath "
      "reason reportingComponent source type",
      3600, NULL, NULL, NULL },
    { "", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", false, "pv", NULL,
      EK_VERBS_ALL, ST, EK_RES_STATUS, "PersistentVolume", NULL, 0, NULL, NULL, NULL },
    { "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim",
      true, "pvc", NULL, EK_VERBS_ALL, ST, EK_RES_STATUS, "PersistentVolumeClaim", NULL, 0,
      NULL, NULL, NULL },
    { "", "v1", "LimitRange", "limitranges", "limitrange", true, "limits", NULL, EK_VERBS_ALL,
      0, 0, "LimitRange", NULL, 0, NULL, NULL, NULL },
    { "", "v1", "ResourceQuota", "resourcequotas", "resourcequota", true, "quota", NULL,
      EK_VERBS_ALL, ST, EK_RES_STATUS, "ResourceQuota", NULL, 0, NULL, NULL, NULL },
    { "", "v1", "Binding", "bindings", "binding", true, NULL, NULL, EK_VERB_CREATE, 0,
      EK_RES_VIRTUAL, "Binding", NULL, 0, NULL, NULL, NULL },
    /* apps/v1 */
    { "apps", "v1", "Deployment", "deployments", "deployment", true, "deploy", "all",
      EK_VERBS_ALL, ST | SC, GEN_STATUS, "Deployment", NULL, 0, NULL, NULL, NULL },
    { "apps", "v1", "ReplicaSet", "replicasets", "replicaset", true, "rs", "all",
      EK_VERBS_ALL, ST | SC, GEN_STATUS, "ReplicaSet", "status.replicas", 0, NULL, NULL,
      NULL },
    { "apps", "v1", "DaemonSet", "daemonsets", "daemonset", true, "ds", "all", EK_VERBS_ALL,
      ST, GEN_STATUS, "DaemonSet", NULL, 0, NULL, NULL, NULL },
    { "apps", "v1", "StatefulSet", "statefulsets", "statefulset", true, "sts", "all",
      EK_VERBS_ALL, ST | SC, GEN_STATUS, "StatefulSet", NULL, 0, NULL, NULL, NULL },
    { "apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", true,
      NULL, NULL, EK_VERBS_ALL, 0, 0, "ControllerRevision", NULL, 0, NULL, NULL, NULL },
    /* batch/v1 */
    { "batch", "v1", "Job", "jobs", "job", true, NULL, "all", EK_VERBS_ALL, ST, GEN_STATUS,
      "Job", "status.successful", 0, NULL, NULL, NULL },
    { "batch", "v1", "CronJob", "cronjobs", "cronjob", true, "cj", "all", EK_VERBS_ALL, ST,
      GEN_STATUS, "CronJob", NULL, 0, NULL, NULL, NULL },
    /* autoscaling/v2 */
    { "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
      "horizontalpodautoscaler", true, "hpa", "all", EK_VERBS_ALL, ST, GEN_STATUS,
      "HorizontalPodAutoscaler", NULL, 0, NULL, NULL, NULL },
    /* networking.k8s.io/v1 */
    { "networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", true, "ing", NULL,
      EK_VERBS_ALL, ST, GEN_STATUS, "Ingress", NULL, 0, NULL, NULL, NULL },
    { "networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", false, NULL,
      NULL, EK_VERBS_ALL, 0, EK_RES_GENERATION, "IngressClass", NULL, 0, NULL, NULL, NULL },
    { "networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", true,
      "netpol", NULL, EK_VERBS_ALL, 0, EK_RES_GENERATION, "NetworkPolicy", NULL, 0, NULL,
      NULL, NULL },
    /* discovery.k8s.io/v1 */
    { "discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", true,
      NULL, NULL, EK_VERBS_ALL, 0, 0, "EndpointSlice", NULL, 0, NULL, NULL, NULL },
    /* coordination.k8s.io/v1 */
    { "coordination.k8s.io", "v1", "Lease", "leases", "lease", true, NULL, NULL,
      EK_VERBS_ALL, 0, 0, "Lease", NULL, 0, NULL, NULL, NULL },
    /* rbac.authorization.k8s.io/v1 */
    { "rbac.authorization.k8s.io", "v1", "Role", "roles", "role", true, NULL, NULL,
      EK_VERBS_ALL, 0, 0, "Role", NULL, 0, NULL, NULL, NULL },
    { "rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", false,
      NULL, NULL, EK_VERBS_ALL, 0, 0, "ClusterRole", NULL, 0, NULL, NULL, NULL },
    { "rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", true,
      NULL, NULL, EK_VERBS_ALL, 0, 0, "RoleBinding", NULL, 0, NULL, NULL, NULL },
    { "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
      "clusterrolebinding", false, NULL, NULL, EK_VERBS_ALL, 0, 0, "ClusterRoleBinding", NULL,
      0, NULL, NULL, NULL },
    /* storage.k8s.io/v1 */
    { "storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", false, "sc",
      NULL, EK_VERBS_ALL, 0, 0, "StorageClass", NULL, 0, NULL, NULL, NULL },
    /* policy/v1 */
    { "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget",
      true, "pdb", NULL, EK_VERBS_ALL, ST, GEN_STATUS, "PodDisruptionBudget", NULL, 0, NULL,
      NULL, NULL },
    /* scheduling.k8s.io/v1 */
    { "scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", false,
      "pc", NULL, EK_VERBS_ALL, 0, 0, "PriorityClass", NULL, 0, NULL, NULL, NULL },
    /* events.k8s.io/v1: the same objects as core/v1 events, seen in the newer shape */
    { "events.k8s.io", "v1", "Event", "events", "event", true, "ev", NULL, EK_VERBS_ALL, 0, 0,
      "events.v1.Event", NULL, 3600, "events", "", NULL },
    /* certificates.k8s.io/v1 */
    { "certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests",
      "certificatesigningrequest", false, "csr", NULL, EK_VERBS_ALL,
      ST | EK_SUBBIT(EK_SUB_APPROVAL), EK_RES_STATUS, "CertificateSigningRequest",
      "spec.signerName", 0, NULL, NULL, NULL },
    /* apiextensions.k8s.io/v1 */
    { "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
      "customresourcedefinition", false, "crd crds", "api-extensions", EK_VERBS_ALL, ST,
      GEN_STATUS, "CustomResourceDefinition", NULL, 0, NULL, NULL, NULL },
    /* authentication.k8s.io/v1, authorization.k8s.io/v1: reviews are answered, not stored */
    { "authentication.k8s.io", "v1", "TokenReview", "tokenreviews", "tokenreview", false,
      NULL, NULL, EK_VERB_CREATE, 0, EK_RES_VIRTUAL, "TokenReview", NULL, 0, NULL, NULL,
      NULL },
    { "authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews",
      "selfsubjectreview", false, NULL, NULL, EK_VERB_CREATE, 0, EK_RES_VIRTUAL,
      "SelfSubjectReview", NULL, 0, NULL, NULL, NULL },
    { "authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
      "selfsubjectaccessreview", false, NULL, NULL, EK_VERB_CREATE, 0, EK_RES_VIRTUAL,
      "SelfSubjectAccessReview", NULL, 0, NULL, NULL, NULL },
    { "authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews",
      "subjectaccessreview", false, NULL, NULL, EK_VERB_CREATE, 0, EK_RES_VIRTUAL,
      "SubjectAccessReview", NULL, 0, NULL, NULL, NULL },
    { "authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
      "localsubjectaccessreview", true, NULL, NULL, EK_VERB_CREATE, 0, EK_RES_VIRTUAL,
      "LocalSubjectAccessReview", NULL, 0, NULL, NULL, NULL },
    /* metrics.k8s.io/v1beta1: usage read from the kubelets, as metrics-server serves it */
    { "metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", "", false, NULL, NULL,
      EK_VERB_GET | EK_VERB_LIST, 0, EK_RES_VIRTUAL, NULL, NULL, 0, NULL, NULL, NULL },
    { "metrics.k8s.io", "v1beta1", "PodMetrics", "pods", "", true, NULL, NULL,
      EK_VERB_GET | EK_VERB_LIST, 0, EK_RES_VIRTUAL, NULL, NULL, 0, NULL, NULL, NULL },
    { "authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
      "selfsubjectrulesreview", false, NULL, NULL, EK_VERB_CREATE, 0, EK_RES_VIRTUAL,
      "SelfSubjectRulesReview", NULL, 0, NULL, NULL, NULL },
};
/* clang-format on */

static ek_resource_t **custom;
static size_t n_custom;
static uint64_t generation = 1;

size_t ek_resource_count(void)
{
    return EK_ARRAY_SIZE(builtin) + n_custom;
}

const ek_resource_t *ek_resource_at(size_t i)
{
    if (i < EK_ARRAY_SIZE(builtin)) {
        return &builtin[i];
    }
    i -= EK_ARRAY_SIZE(builtin);
    return i < n_custom ? custom[i] : NULL;
}

uint64_t ek_resource_generation(void)
{
    return generation;
}

const ek_resource_t *ek_resource_find(const char *group, const char *version, const char *plural)
{
    for (size_t i = 0, n = ek_resource_count(); i < n; i++) {
        const ek_resource_t *r = ek_resource_at(i);
        if (strcmp(r->plural, plural) == 0 && strcmp(r->group, group) == 0 &&
            strcmp(r->version, version) == 0) {
            return r;
        }
    }
    return NULL;
}

const ek_resource_t *ek_resource_by_kind(const char *group, const char *version, const char *kind)
{
    for (size_t i = 0, n = ek_resource_count(); i < n; i++) {
        const ek_resource_t *r = ek_resource_at(i);
        if (strcmp(r->kind, kind) == 0 && strcmp(r->group, group) == 0 &&
            (!version || strcmp(r->version, version) == 0)) {
            return r;
        }
    }
    return NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? ek_xstrdup(s) : NULL;
}

static void free_resource(ek_resource_t *r)
{
    free((char *)r->group);
    free((char *)r->version);
    free((char *)r->kind);
    free((char *)r->plural);
    free((char *)r->singular);
    free((char *)r->short_names);
    free((char *)r->categories);
    free((char *)r->schema_type);
    free((char *)r->field_selectors);
    json_decref(r->custom);
    free(r);
}

void ek_resource_remove(const char *group, const char *version, const char *plural)
{
    for (size_t i = 0; i < n_custom; i++) {
        ek_resource_t *r = custom[i];
        if (strcmp(r->plural, plural) == 0 && strcmp(r->group, group) == 0 &&
            strcmp(r->version, version) == 0) {
            free_resource(r);
            memmove(&custom[i], &custom[i + 1], (n_custom - i - 1) * sizeof(*custom));
            n_custom--;
            generation++;
            return;
        }
    }
}

const ek_resource_t *ek_resource_add(const ek_resource_t *in)
{
    ek_resource_remove(in->group, in->version, in->plural);
    ek_resource_t *r = ek_new(ek_resource_t);
    *r = *in;
    r->group = ek_xstrdup(in->group);
    r->version = ek_xstrdup(in->version);
    r->kind = ek_xstrdup(in->kind);
    r->plural = ek_xstrdup(in->plural);
    r->singular = ek_xstrdup(in->singular);
    r->short_names = dup_or_null(in->short_names);
    r->categories = dup_or_null(in->categories);
    r->schema_type = dup_or_null(in->schema_type);
    r->field_selectors = dup_or_null(in->field_selectors);
    r->storage_plural = NULL;
    r->storage_group = NULL;
    r->custom = in->custom ? json_incref(in->custom) : NULL;
    custom = ek_xrealloc(custom, (n_custom + 1) * sizeof(*custom));
    custom[n_custom++] = r;
    generation++;
    return r;
}

const char *ek_resource_api_version(const ek_resource_t *r, char buf[static 128])
{
    if (*r->group) {
        snprintf(buf, 128, "%s/%s", r->group, r->version);
    } else {
        snprintf(buf, 128, "%s", r->version);
    }
    return buf;
}

char *ek_resource_key_prefix(const ek_resource_t *r)
{
    const char *group = r->storage_plural ? r->storage_group : r->group;
    const char *plural = r->storage_plural ? r->storage_plural : r->plural;
    return ek_xasprintf("/registry/%s/%s/", *group ? group : "core", plural);
}

char *ek_resource_key(const ek_resource_t *r, const char *ns, const char *name)
{
    ek_autofree char *prefix = ek_resource_key_prefix(r);
    if (r->namespaced) {
        return ek_xasprintf("%s%s/%s", prefix, ns, name);
    }
    return ek_xasprintf("%s%s", prefix, name);
}

static const char *const sub_names[EK_SUB__COUNT] = {
    [EK_SUB_NONE] = "",
    [EK_SUB_STATUS] = "status",
    [EK_SUB_SCALE] = "scale",
    [EK_SUB_BINDING] = "binding",
    [EK_SUB_LOG] = "log",
    [EK_SUB_EXEC] = "exec",
    [EK_SUB_ATTACH] = "attach",
    [EK_SUB_PORTFORWARD] = "portforward",
    [EK_SUB_PROXY] = "proxy",
    [EK_SUB_EVICTION] = "eviction",
    [EK_SUB_EPHEMERALCONTAINERS] = "ephemeralcontainers",
    [EK_SUB_TOKEN] = "token",
    [EK_SUB_APPROVAL] = "approval",
    [EK_SUB_FINALIZE] = "finalize",
};

const char *ek_subresource_name(ek_subresource_t s)
{
    return s < EK_SUB__COUNT ? sub_names[s] : "";
}

ek_subresource_t ek_subresource_parse(const char *name)
{
    for (int i = 1; i < EK_SUB__COUNT; i++) {
        if (strcmp(sub_names[i], name) == 0) {
            return (ek_subresource_t)i;
        }
    }
    return EK_SUB_NONE;
}

const char *ek_verb_name(unsigned verb)
{
    switch (verb) {
    case EK_VERB_CREATE:
        return "create";
    case EK_VERB_DELETE:
        return "delete";
    case EK_VERB_DELETECOLLECTION:
        return "deletecollection";
    case EK_VERB_GET:
        return "get";
    case EK_VERB_LIST:
        return "list";
    case EK_VERB_PATCH:
        return "patch";
    case EK_VERB_UPDATE:
        return "update";
    case EK_VERB_WATCH:
        return "watch";
    }
    return "";
}
