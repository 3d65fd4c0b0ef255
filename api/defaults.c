/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Defaulting of the built-in kinds, as Kubernetes 1.32's SetDefaults_* functions (core/v1,
 * apps/v1, batch/v1, autoscaling/v2, networking/v1, rbac/v1, storage/v1, scheduling/v1,
 * discovery/v1, apiextensions/v1) fill a decoded object: pod specs wherever they are
 * embedded, workload strategies, Service ports and policies, volume modes, quantities
 * rounded and written in canonical form. A few values Kubernetes fills in its registry
 * (Service cluster-IP bookkeeping, the Namespace finalizer, a pod's default priority) are
 * filled here too so the stored object reads as kube-apiserver's would; each is marked.
 */
#include <ctype.h>
#include <stdio.h>

#include "api/validate-internal.h"

/* ---- small setters ---- */

static json_t *obj_at(json_t *o, const char *key)
{
    return json_is_object(o) ? ek_json_obj_ensure(o, key) : NULL;
}

static void set_str_if_empty(json_t *o, const char *key, const char *v)
{
    json_t *cur = json_object_get(o, key);
    if (json_is_object(o) && (!json_is_string(cur) || !*json_string_value(cur))) {
        ek_json_set_str(o, key, v);
    }
}

/* Sets key when it is absent or null (a nil pointer in Go). */
static void set_if_nil(json_t *o, const char *key, json_t *v)
{
    json_t *cur = json_object_get(o, key);
    if (json_is_object(o) && (!cur || json_is_null(cur))) {
        json_object_set(o, key, v);
    }
    json_decref(v);
}

static void set_int_if_nil(json_t *o, const char *key, long long v)
{
    set_if_nil(o, key, json_integer(v));
}

static void set_int_if_zero(json_t *o, const char *key, long long v)
{
    if (json_is_object(o) && ek__intd(o, key, 0) == 0) {
        json_object_set_new(o, key, json_integer(v));
    }
}

/* ---- quantities ---- */

/* SetDefaults_ResourceList: round up to milli units; kube-apiserver writes canonical forms. */
static void default_resource_list(json_t *list)
{
    const char *k;
    json_t *v;
    json_object_foreach (list, k, v) {
        ek_quantity_t q;
        char buf[EK_QUANTITY_STRLEN];
        if (ek__quantity_from_json(v, &q) == 0) {
            ek_quantity_round_up(&q, -3);
            q.str[0] = '\0'; /* canonical even where the input's spelling was kept: "+4" → "4" */
            json_object_set_new(list, k, json_string(ek_quantity_format(&q, buf)));
        }
    }
}

static void default_requirements(json_t *res)
{
    default_resource_list(ek__obj(res, "limits"));
    default_resource_list(ek__obj(res, "requests"));
}

/* ---- containers ---- */

/* parsers.ParseImageName's tag: "latest" when neither tag nor digest is given. */
static bool image_is_latest(const char *image)
{
    if (!image || !*image) {
        return false; /* unparsable: Kubernetes falls back to IfNotPresent */
    }
    for (const char *p = image; *p; p++) {
        if (isspace((unsigned char)*p)) {
            return false;
        }
    }
    if (strchr(image, '@')) {
        return false;
    }
    const char *slash = strrchr(image, '/');
    const char *last = slash ? slash + 1 : image;
    /* The repository path below the registry host must be lowercase to parse at all. */
    const char *first_slash = strchr(image, '/');
    const char *path = image;
    if (first_slash) {
        size_t hl = (size_t)(first_slash - image);
        bool host = memchr(image, '.', hl) || memchr(image, ':', hl) ||
                    (hl == 9 && strncmp(image, "localhost", 9) == 0);
        path = host ? first_slash + 1 : image;
    }
    for (const char *p = path; *p && *p != ':'; p++) {
        if (isupper((unsigned char)*p)) {
            return false;
        }
    }
    const char *colon = strchr(last, ':');
    return !colon || strcmp(colon + 1, "latest") == 0;
}

static void default_http_get(json_t *h)
{
    set_str_if_empty(h, "path", "/");
    set_str_if_empty(h, "scheme", "HTTP");
}

static void default_handler(json_t *h)
{
    default_http_get(ek__obj(h, "httpGet"));
    json_t *grpc = ek__obj(h, "grpc");
    if (grpc) {
        set_if_nil(grpc, "service", json_string(""));
    }
}

static void default_probe(json_t *p)
{
    if (!p) {
        return;
    }
    default_handler(p);
    set_int_if_zero(p, "timeoutSeconds", 1);
    set_int_if_zero(p, "periodSeconds", 10);
    set_int_if_zero(p, "successThreshold", 1);
    set_int_if_zero(p, "failureThreshold", 3);
}

static void default_field_refs(json_t *holder)
{
    json_t *fr = ek__obj(holder, "fieldRef"), *rf = ek__obj(holder, "resourceFieldRef");
    set_str_if_empty(fr, "apiVersion", "v1");
    /* A zero Quantity is not omitted when Kubernetes writes the object. */
    set_if_nil(rf, "divisor", json_string("0"));
}

static void default_container(json_t *c)
{
    if (!json_is_object(c)) {
        return;
    }
    if (!*ek__sstr(c, "imagePullPolicy")) {
        ek_json_set_str(c, "imagePullPolicy",
                        image_is_latest(ek__str(c, "image")) ? "Always" : "IfNotPresent");
    }
    set_str_if_empty(c, "terminationMessagePath", "/dev/termination-log");
    set_str_if_empty(c, "terminationMessagePolicy", "File");
    size_t i;
    json_t *x;
    json_array_foreach (ek__arr(c, "ports"), i, x) {
        set_str_if_empty(x, "protocol", "TCP");
    }
    json_array_foreach (ek__arr(c, "env"), i, x) {
        default_field_refs(ek__obj(x, "valueFrom"));
    }
    /* ResourceRequirements is a struct in Go: it is always written, even when empty. */
    default_requirements(obj_at(c, "resources"));
    default_probe(ek__obj(c, "livenessProbe"));
    default_probe(ek__obj(c, "readinessProbe"));
    default_probe(ek__obj(c, "startupProbe"));
    json_t *lc = ek__obj(c, "lifecycle");
    default_handler(ek__obj(lc, "postStart"));
    default_handler(ek__obj(lc, "preStop"));
}

/* ---- volumes ---- */

static void default_pvc_spec(json_t *spec)
{
    if (spec) {
        set_if_nil(spec, "volumeMode", json_string("Filesystem"));
        default_resource_list(ek__obj(ek__obj(spec, "resources"), "requests"));
        default_resource_list(ek__obj(ek__obj(spec, "resources"), "limits"));
    }
}

static void default_projected(json_t *p)
{
    set_int_if_nil(p, "defaultMode", 420);
    size_t i, j;
    json_t *s, *f;
    json_array_foreach (ek__arr(p, "sources"), i, s) {
        set_int_if_nil(ek__obj(s, "serviceAccountToken"), "expirationSeconds", 3600);
        json_array_foreach (ek__arr(ek__obj(s, "downwardAPI"), "items"), j, f) {
            default_field_refs(f);
        }
    }
}

static void default_volume(json_t *v)
{
    static const char *const sources[] = { "hostPath",
                                           "emptyDir",
                                           "gcePersistentDisk",
                                           "awsElasticBlockStore",
                                           "gitRepo",
                                           "secret",
                                           "nfs",
                                           "iscsi",
                                           "glusterfs",
                                           "persistentVolumeClaim",
                                           "rbd",
                                           "flexVolume",
                                           "cinder",
                                           "cephfs",
                                           "flocker",
                                           "downwardAPI",
                                           "fc",
                                           "azureFile",
                                           "configMap",
                                           "vsphereVolume",
                                           "quobyte",
                                           "azureDisk",
                                           "photonPersistentDisk",
                                           "projected",
                                           "portworxVolume",
                                           "scaleIO",
                                           "storageos",
                                           "csi",
                                           "ephemeral",
                                           "image",
                                           NULL };
    bool any = false;
    for (size_t i = 0; sources[i]; i++) {
        any |= ek__has(v, sources[i]);
    }
    if (!any && json_is_object(v)) {
        json_object_set_new(v, "emptyDir", json_object());
    }
    set_if_nil(ek__obj(v, "hostPath"), "type", json_string(""));
    set_int_if_nil(ek__obj(v, "secret"), "defaultMode", 420);
    set_int_if_nil(ek__obj(v, "configMap"), "defaultMode", 420);
    json_t *dapi = ek__obj(v, "downwardAPI");
    set_int_if_nil(dapi, "defaultMode", 420);
    size_t i;
    json_t *f;
    json_array_foreach (ek__arr(dapi, "items"), i, f) {
        default_field_refs(f);
    }
    default_projected(ek__obj(v, "projected"));
    json_t *tmpl = ek__obj(ek__obj(v, "ephemeral"), "volumeClaimTemplate");
    default_pvc_spec(ek__obj(tmpl, "spec"));
    json_t *iscsi = ek__obj(v, "iscsi");
    set_str_if_empty(iscsi, "iscsiInterface", "default");
    json_t *rbd = ek__obj(v, "rbd");
    set_str_if_empty(rbd, "pool", "rbd");
    set_str_if_empty(rbd, "user", "admin");
    set_str_if_empty(rbd, "keyring", "/etc/ceph/keyring");
}

/* ---- pod specs ---- */

/* SetDefaults_PodSpec plus the defaults of everything a PodSpec embeds. */
static void default_pod_spec(json_t *spec)
{
    if (!json_is_object(spec)) {
        return;
    }
    set_str_if_empty(spec, "dnsPolicy", "ClusterFirst");
    set_str_if_empty(spec, "restartPolicy", "Always");
    set_if_nil(spec, "securityContext", json_object());
    set_int_if_nil(spec, "terminationGracePeriodSeconds", 30);
    set_str_if_empty(spec, "schedulerName", "default-scheduler");
    size_t i;
    json_t *x;
    json_array_foreach (ek__arr(spec, "volumes"), i, x) {
        default_volume(x);
    }
    static const char *const lists[] = { "initContainers", "containers", "ephemeralContainers" };
    for (size_t l = 0; l < EK_ARRAY_SIZE(lists); l++) {
        json_array_foreach (ek__arr(spec, lists[l]), i, x) {
            default_container(x);
        }
    }
    default_resource_list(ek__obj(spec, "overhead"));
}

/* A pod template: its spec, and the null creationTimestamp Kubernetes writes in it. */
static void default_pod_template(json_t *tmpl)
{
    if (!json_is_object(tmpl)) {
        return;
    }
    json_t *meta = obj_at(tmpl, "metadata");
    set_if_nil(meta, "creationTimestamp", json_null());
    default_pod_spec(obj_at(tmpl, "spec"));
}

/* SetDefaults_Pod: requests default to limits, service links, host network ports. */
static void default_requests_from_limits(json_t *containers)
{
    size_t i;
    json_t *c;
    json_array_foreach (containers, i, c) {
        json_t *res = ek__obj(c, "resources"), *lim = ek__obj(res, "limits");
        if (!lim) {
            continue;
        }
        json_t *req = obj_at(res, "requests");
        const char *k;
        json_t *v;
        json_object_foreach (lim, k, v) {
            if (!json_object_get(req, k)) {
                json_object_set(req, k, v);
            }
        }
    }
}

static void default_host_ports(json_t *containers)
{
    size_t i, j;
    json_t *c, *p;
    json_array_foreach (containers, i, c) {
        json_array_foreach (ek__arr(c, "ports"), j, p) {
            if (ek__intd(p, "hostPort", 0) == 0 && ek__has(p, "containerPort")) {
                json_object_set(p, "hostPort", json_object_get(p, "containerPort"));
            }
        }
    }
}

static void default_pod(json_t *pod)
{
    json_t *spec = obj_at(pod, "spec");
    default_requests_from_limits(ek__arr(spec, "containers"));
    default_requests_from_limits(ek__arr(spec, "initContainers"));
    set_if_nil(spec, "enableServiceLinks", json_true());
    if (ek__true(spec, "hostNetwork")) {
        default_host_ports(ek__arr(spec, "containers"));
        default_host_ports(ek__arr(spec, "initContainers"));
    }
    default_pod_spec(spec);
    /* The Priority admission plugin's result for pods without a priority class. */
    if (!*ek__sstr(spec, "priorityClassName")) {
        set_int_if_nil(spec, "priority", 0);
        set_if_nil(spec, "preemptionPolicy", json_string("PreemptLowerPriority"));
    }
}

/* ---- apps ---- */

static void default_int_or_string(json_t *o, const char *key, json_t *v)
{
    set_if_nil(o, key, v);
}

static void default_deployment(json_t *d)
{
    json_t *spec = obj_at(d, "spec");
    set_int_if_nil(spec, "replicas", 1);
    json_t *strategy = obj_at(spec, "strategy");
    set_str_if_empty(strategy, "type", "RollingUpdate");
    if (strcmp(ek__sstr(strategy, "type"), "RollingUpdate") == 0) {
        json_t *ru = obj_at(strategy, "rollingUpdate");
        default_int_or_string(ru, "maxUnavailable", json_string("25%"));
        default_int_or_string(ru, "maxSurge", json_string("25%"));
    }
    set_int_if_nil(spec, "revisionHistoryLimit", 10);
    set_int_if_nil(spec, "progressDeadlineSeconds", 600);
    default_pod_template(obj_at(spec, "template"));
}

static void default_replicaset(json_t *rs)
{
    json_t *spec = obj_at(rs, "spec");
    set_int_if_nil(spec, "replicas", 1);
    default_pod_template(obj_at(spec, "template"));
}

static void default_daemonset(json_t *ds)
{
    json_t *spec = obj_at(ds, "spec");
    json_t *us = obj_at(spec, "updateStrategy");
    set_str_if_empty(us, "type", "RollingUpdate");
    if (strcmp(ek__sstr(us, "type"), "RollingUpdate") == 0) {
        json_t *ru = obj_at(us, "rollingUpdate");
        default_int_or_string(ru, "maxUnavailable", json_integer(1));
        default_int_or_string(ru, "maxSurge", json_integer(0));
    }
    set_int_if_nil(spec, "revisionHistoryLimit", 10);
    default_pod_template(obj_at(spec, "template"));
}

static void default_pvc(json_t *pvc)
{
    set_str_if_empty(obj_at(pvc, "status"), "phase", "Pending");
    default_pvc_spec(obj_at(pvc, "spec"));
}

static void default_statefulset(json_t *sts)
{
    json_t *spec = obj_at(sts, "spec");
    set_str_if_empty(spec, "podManagementPolicy", "OrderedReady");
    json_t *us = obj_at(spec, "updateStrategy");
    if (!*ek__sstr(us, "type")) {
        ek_json_set_str(us, "type", "RollingUpdate");
        obj_at(us, "rollingUpdate");
    }
    json_t *ru = ek__obj(us, "rollingUpdate");
    if (strcmp(ek__sstr(us, "type"), "RollingUpdate") == 0 && ru) {
        set_int_if_nil(ru, "partition", 0);
    }
    json_t *ret = obj_at(spec, "persistentVolumeClaimRetentionPolicy");
    set_str_if_empty(ret, "whenDeleted", "Retain");
    set_str_if_empty(ret, "whenScaled", "Retain");
    set_int_if_nil(spec, "replicas", 1);
    set_int_if_nil(spec, "revisionHistoryLimit", 10);
    default_pod_template(obj_at(spec, "template"));
    size_t i;
    json_t *pvc;
    json_array_foreach (ek__arr(spec, "volumeClaimTemplates"), i, pvc) {
        set_if_nil(obj_at(pvc, "metadata"), "creationTimestamp", json_null());
        default_pvc(pvc);
    }
}

/* ---- batch ---- */

static void default_pod_failure_policy(json_t *spec)
{
    size_t i, j;
    json_t *r, *p;
    json_array_foreach (ek__arr(ek__obj(spec, "podFailurePolicy"), "rules"), i, r) {
        json_array_foreach (ek__arr(r, "onPodConditions"), j, p) {
            set_str_if_empty(p, "status", "True");
        }
    }
}

static void default_job(json_t *job)
{
    json_t *spec = obj_at(job, "spec");
    if (!ek__has(spec, "completions") && !ek__has(spec, "parallelism")) {
        json_object_set_new(spec, "completions", json_integer(1));
        json_object_set_new(spec, "parallelism", json_integer(1));
    }
    set_int_if_nil(spec, "parallelism", 1);
    set_int_if_nil(spec, "backoffLimit", ek__has(spec, "backoffLimitPerIndex") ? 2147483647 : 6);
    json_t *tlabels = ek__obj(ek__obj(ek__obj(spec, "template"), "metadata"), "labels");
    if (tlabels && ek__validate_len(ek__obj(job, "metadata"), "labels") == 0) {
        json_object_set_new(obj_at(job, "metadata"), "labels", json_deep_copy(tlabels));
    }
    set_if_nil(spec, "completionMode", json_string("NonIndexed"));
    set_if_nil(spec, "suspend", json_false());
    set_if_nil(spec, "podReplacementPolicy",
               json_string(ek__has(spec, "podFailurePolicy") ? "Failed" : "TerminatingOrFailed"));
    set_if_nil(spec, "manualSelector", json_false());
    default_pod_failure_policy(spec);
    default_pod_template(obj_at(spec, "template"));
}

static void default_cronjob(json_t *cj)
{
    json_t *spec = obj_at(cj, "spec");
    set_str_if_empty(spec, "concurrencyPolicy", "Allow");
    set_if_nil(spec, "suspend", json_false());
    set_int_if_nil(spec, "successfulJobsHistoryLimit", 3);
    set_int_if_nil(spec, "failedJobsHistoryLimit", 1);
    json_t *jt = obj_at(spec, "jobTemplate");
    set_if_nil(obj_at(jt, "metadata"), "creationTimestamp", json_null());
    json_t *jspec = obj_at(jt, "spec");
    default_pod_failure_policy(jspec);
    default_pod_template(obj_at(jspec, "template"));
}

/* ---- core ---- */

/*
 * SetDefaults_Service, plus what the Service registry settles before validation: clusterIP
 * and clusterIPs kept in step, and the IP family fields of a single-stack IPv4 cluster.
 */
static void default_service_ip_fields(json_t *spec)
{
    const char *cip = ek__sstr(spec, "clusterIP");
    json_t *ips = ek__arr(spec, "clusterIPs");
    if (*cip && json_array_size(ips) == 0) {
        json_t *a = json_array();
        json_array_append_new(a, json_string(cip));
        json_object_set_new(spec, "clusterIPs", a);
    } else if (!*cip && json_is_string(json_array_get(ips, 0))) {
        json_object_set(spec, "clusterIP", json_array_get(ips, 0));
    }
    if (strcmp(ek__sstr(spec, "type"), "ExternalName") == 0) {
        return;
    }
    bool headless = strcmp(ek__sstr(spec, "clusterIP"), "None") == 0;
    set_if_nil(spec, "ipFamilyPolicy",
               json_string(headless && ek__validate_len(spec, "selector") == 0 ? "RequireDualStack"
                                                                               : "SingleStack"));
    if (ek__validate_len(spec, "ipFamilies") == 0) {
        json_t *fams = json_array();
        int fam = ek__ip_family(json_string_value(json_array_get(ek__arr(spec, "clusterIPs"), 0)));
        json_array_append_new(fams, json_string(fam == 6 ? "IPv6" : "IPv4"));
        json_object_set_new(spec, "ipFamilies", fams);
    }
}

static void default_service(json_t *svc)
{
    json_t *spec = obj_at(svc, "spec");
    set_str_if_empty(spec, "sessionAffinity", "None");
    const char *sa = ek__sstr(spec, "sessionAffinity");
    if (strcmp(sa, "None") == 0) {
        json_object_del(spec, "sessionAffinityConfig");
    } else if (strcmp(sa, "ClientIP") == 0 &&
               !ek__has(ek__obj(ek__obj(spec, "sessionAffinityConfig"), "clientIP"),
                        "timeoutSeconds")) {
        json_object_set_new(spec, "sessionAffinityConfig",
                            json_pack("{s{si}}", "clientIP", "timeoutSeconds", 10800));
    }
    set_str_if_empty(spec, "type", "ClusterIP");
    size_t i;
    json_t *p;
    json_array_foreach (ek__arr(spec, "ports"), i, p) {
        set_str_if_empty(p, "protocol", "TCP");
        json_t *tp = json_object_get(p, "targetPort");
        if (!tp || json_is_null(tp) || (json_is_integer(tp) && json_integer_value(tp) == 0) ||
            (json_is_string(tp) && !*json_string_value(tp))) {
            json_object_set_new(p, "targetPort", json_integer(ek__intd(p, "port", 0)));
        }
    }
    const char *t = ek__sstr(spec, "type");
    bool lb = strcmp(t, "LoadBalancer") == 0, np = strcmp(t, "NodePort") == 0;
    bool cluster = strcmp(t, "ClusterIP") == 0;
    if (lb || np || (cluster && ek__validate_len(spec, "externalIPs") > 0)) {
        set_str_if_empty(spec, "externalTrafficPolicy", "Cluster");
    }
    if (lb || np || cluster) {
        set_if_nil(spec, "internalTrafficPolicy", json_string("Cluster"));
    }
    if (lb) {
        set_if_nil(spec, "allocateLoadBalancerNodePorts", json_true());
    }
    default_service_ip_fields(spec);
}

static void default_secret(json_t *s)
{
    set_str_if_empty(s, "type", "Opaque");
    /* stringData is write-only: Kubernetes merges it into data while decoding. */
    json_t *sd = ek__obj(s, "stringData");
    if (!sd) {
        return;
    }
    json_t *data = obj_at(s, "data");
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *k;
    json_t *v;
    json_object_foreach (sd, k, v) {
        const unsigned char *in =
            (const unsigned char *)(json_is_string(v) ? json_string_value(v) : "");
        size_t n = strlen((const char *)in);
        ek_autobuf b = EK_BUF_INIT;
        for (size_t i = 0; i < n; i += 3) {
            unsigned x = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                         (i + 2 < n ? in[i + 2] : 0);
            ek_buf_putc(&b, tbl[(x >> 18) & 63]);
            ek_buf_putc(&b, tbl[(x >> 12) & 63]);
            ek_buf_putc(&b, i + 1 < n ? tbl[(x >> 6) & 63] : '=');
            ek_buf_putc(&b, i + 2 < n ? tbl[x & 63] : '=');
        }
        json_object_set_new(data, k, json_string(b.data ? b.data : ""));
    }
    json_object_del(s, "stringData");
}

static void default_namespace(json_t *ns)
{
    json_t *meta = obj_at(ns, "metadata");
    const char *name = ek__sstr(meta, "name");
    if (*name) {
        ek_json_set_str(obj_at(meta, "labels"), "kubernetes.io/metadata.name", name);
    }
    /* The namespace registry's PrepareForCreate: every namespace starts with this finalizer. */
    json_t *spec = obj_at(ns, "spec");
    if (!json_object_get(spec, "finalizers")) {
        json_object_set_new(spec, "finalizers", json_pack("[s]", "kubernetes"));
    }
    set_str_if_empty(obj_at(ns, "status"), "phase", "Active");
}

static void default_node(json_t *node)
{
    json_t *status = ek__obj(node, "status");
    default_resource_list(ek__obj(status, "capacity"));
    default_resource_list(ek__obj(status, "allocatable"));
    json_t *cap = ek__obj(status, "capacity");
    if (cap && !ek__has(status, "allocatable")) {
        json_object_set_new(status, "allocatable", json_deep_copy(cap));
    }
}

static void default_pv(json_t *pv)
{
    set_str_if_empty(obj_at(pv, "status"), "phase", "Pending");
    json_t *spec = obj_at(pv, "spec");
    set_str_if_empty(spec, "persistentVolumeReclaimPolicy", "Retain");
    set_if_nil(spec, "volumeMode", json_string("Filesystem"));
    set_if_nil(ek__obj(spec, "hostPath"), "type", json_string(""));
    default_resource_list(ek__obj(spec, "capacity"));
}

static void default_endpoints(json_t *ep)
{
    size_t i, j;
    json_t *ss, *p;
    json_array_foreach (ek__arr(ep, "subsets"), i, ss) {
        json_array_foreach (ek__arr(ss, "ports"), j, p) {
            set_str_if_empty(p, "protocol", "TCP");
        }
    }
}

static void copy_missing(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)src, k, v) {
        if (!json_object_get(dst, k)) {
            json_object_set(dst, k, v);
        }
    }
}

static void default_limitrange(json_t *lr)
{
    size_t i;
    json_t *item;
    json_array_foreach (ek__arr(ek__obj(lr, "spec"), "limits"), i, item) {
        static const char *const lists[] = { "max", "min", "default", "defaultRequest",
                                             "maxLimitRequestRatio" };
        for (size_t l = 0; l < EK_ARRAY_SIZE(lists); l++) {
            default_resource_list(ek__obj(item, lists[l]));
        }
        if (strcmp(ek__sstr(item, "type"), "Container") != 0) {
            continue;
        }
        json_t *def = obj_at(item, "default"), *defreq = obj_at(item, "defaultRequest");
        copy_missing(def, ek__obj(item, "max"));
        copy_missing(defreq, def);
        copy_missing(defreq, ek__obj(item, "min"));
    }
}

static void default_resourcequota(json_t *rq)
{
    default_resource_list(ek__obj(ek__obj(rq, "spec"), "hard"));
}

/* ---- other groups ---- */

static json_t *scaling_policy(const char *type, int value, int period)
{
    return json_pack("{sssisi}", "type", type, "value", value, "periodSeconds", period);
}

static void default_scaling_rules(json_t *behavior, const char *key, bool up)
{
    json_t *r = obj_at(behavior, key);
    set_int_if_nil(r, "stabilizationWindowSeconds", up ? 0 : 300);
    set_str_if_empty(r, "selectPolicy", "Max");
    if (!ek__has(r, "policies")) {
        json_t *p = json_array();
        if (up) {
            json_array_append_new(p, scaling_policy("Pods", 4, 15));
        }
        json_array_append_new(p, scaling_policy("Percent", 100, 15));
        json_object_set_new(r, "policies", p);
    }
}

static void default_hpa(json_t *hpa)
{
    json_t *spec = obj_at(hpa, "spec");
    set_int_if_nil(spec, "minReplicas", 1);
    if (ek__validate_len(spec, "metrics") == 0) {
        json_object_set_new(spec, "metrics",
                            json_pack("[{sss{sss{sssi}}}]", "type", "Resource", "resource", "name",
                                      "cpu", "target", "type", "Utilization", "averageUtilization",
                                      80));
    }
    json_t *b = ek__obj(spec, "behavior");
    if (b) {
        default_scaling_rules(b, "scaleUp", true);
        default_scaling_rules(b, "scaleDown", false);
    }
}

static void default_networkpolicy(json_t *np)
{
    json_t *spec = obj_at(np, "spec");
    static const char *const dirs[] = { "ingress", "egress" };
    for (size_t d = 0; d < EK_ARRAY_SIZE(dirs); d++) {
        size_t i, j;
        json_t *r, *p;
        json_array_foreach (ek__arr(spec, dirs[d]), i, r) {
            json_array_foreach (ek__arr(r, "ports"), j, p) {
                set_if_nil(p, "protocol", json_string("TCP"));
            }
        }
    }
    if (ek__validate_len(spec, "policyTypes") == 0) {
        json_t *t = json_pack("[s]", "Ingress");
        if (ek__validate_len(spec, "egress") > 0) {
            json_array_append_new(t, json_string("Egress"));
        }
        json_object_set_new(spec, "policyTypes", t);
    }
}

static void default_ingressclass(json_t *ic)
{
    json_t *params = ek__obj(ek__obj(ic, "spec"), "parameters");
    set_if_nil(params, "scope", json_string("Cluster"));
}

static void default_rbac_binding(json_t *b)
{
    set_str_if_empty(obj_at(b, "roleRef"), "apiGroup", "rbac.authorization.k8s.io");
    size_t i;
    json_t *s;
    json_array_foreach (ek__arr(b, "subjects"), i, s) {
        const char *kind = ek__sstr(s, "kind");
        if (!*ek__sstr(s, "apiGroup") &&
            (strcmp(kind, "User") == 0 || strcmp(kind, "Group") == 0)) {
            ek_json_set_str(s, "apiGroup", "rbac.authorization.k8s.io");
        }
    }
}

static void default_storageclass(json_t *sc)
{
    set_if_nil(sc, "reclaimPolicy", json_string("Delete"));
    set_if_nil(sc, "volumeBindingMode", json_string("Immediate"));
}

static void default_priorityclass(json_t *pc)
{
    set_if_nil(pc, "preemptionPolicy", json_string("PreemptLowerPriority"));
}

static void default_endpointslice(json_t *es)
{
    size_t i;
    json_t *p;
    json_array_foreach (ek__arr(es, "ports"), i, p) {
        set_if_nil(p, "name", json_string(""));
        set_if_nil(p, "protocol", json_string("TCP"));
    }
}

static void default_crd(json_t *crd)
{
    json_t *spec = obj_at(crd, "spec"), *names = obj_at(spec, "names");
    const char *kind = ek__sstr(names, "kind");
    if (*kind && !*ek__sstr(names, "singular")) {
        ek_autofree char *lower = ek_xstrdup(kind);
        for (char *c = lower; *c; c++) {
            *c = (char)tolower((unsigned char)*c);
        }
        ek_json_set_str(names, "singular", lower);
    }
    if (*kind && !*ek__sstr(names, "listKind")) {
        ek_autofree char *lk = ek__p("%sList", kind);
        ek_json_set_str(names, "listKind", lk);
    }
    set_if_nil(spec, "conversion", json_pack("{ss}", "strategy", "None"));
}

typedef void (*default_fn)(json_t *obj);

static const struct default_rule {
    const char *group, *kind;
    default_fn fn;
} default_rules[] = {
    { "", "Pod", default_pod },
    { "", "Service", default_service },
    { "", "Secret", default_secret },
    { "", "Namespace", default_namespace },
    { "", "Node", default_node },
    { "", "PersistentVolume", default_pv },
    { "", "PersistentVolumeClaim", default_pvc },
    { "", "Endpoints", default_endpoints },
    { "", "LimitRange", default_limitrange },
    { "", "ResourceQuota", default_resourcequota },
    { "apps", "Deployment", default_deployment },
    { "apps", "ReplicaSet", default_replicaset },
    { "apps", "DaemonSet", default_daemonset },
    { "apps", "StatefulSet", default_statefulset },
    { "batch", "Job", default_job },
    { "batch", "CronJob", default_cronjob },
    { "autoscaling", "HorizontalPodAutoscaler", default_hpa },
    { "networking.k8s.io", "NetworkPolicy", default_networkpolicy },
    { "networking.k8s.io", "IngressClass", default_ingressclass },
    { "rbac.authorization.k8s.io", "RoleBinding", default_rbac_binding },
    { "rbac.authorization.k8s.io", "ClusterRoleBinding", default_rbac_binding },
    { "storage.k8s.io", "StorageClass", default_storageclass },
    { "scheduling.k8s.io", "PriorityClass", default_priorityclass },
    { "discovery.k8s.io", "EndpointSlice", default_endpointslice },
    { "apiextensions.k8s.io", "CustomResourceDefinition", default_crd },
};

/* The Job registry's generateSelector: labels the pods and selects them by the Job's uid. */
static void generate_job_selector(json_t *job)
{
    json_t *meta = obj_at(job, "metadata"), *spec = obj_at(job, "spec");
    if (ek__true(spec, "manualSelector")) {
        return;
    }
    const char *name = ek__sstr(meta, "name"), *uid = ek__sstr(meta, "uid");
    json_t *labels = obj_at(obj_at(obj_at(spec, "template"), "metadata"), "labels");
    static const char *const name_keys[] = { "job-name", "batch.kubernetes.io/job-name" };
    static const char *const uid_keys[] = { "controller-uid",
                                            "batch.kubernetes.io/controller-uid" };
    for (size_t i = 0; i < 2; i++) {
        if (!json_object_get(labels, name_keys[i])) {
            ek_json_set_str(labels, name_keys[i], name);
        }
        if (!json_object_get(labels, uid_keys[i])) {
            ek_json_set_str(labels, uid_keys[i], uid);
        }
    }
    json_t *ml = obj_at(obj_at(spec, "selector"), "matchLabels");
    if (!json_object_get(ml, "batch.kubernetes.io/controller-uid")) {
        ek_json_set_str(ml, "batch.kubernetes.io/controller-uid", uid);
    }
    /* Kubernetes re-defaults the stored Job on every read, copying these labels up. */
    if (ek__validate_len(meta, "labels") == 0) {
        json_object_set_new(meta, "labels", json_deep_copy(labels));
    }
}

void ek_defaults_prepare_create(const ek_resource_t *r, json_t *obj)
{
    if (json_is_object(obj) && strcmp(r->group, "batch") == 0 && strcmp(r->kind, "Job") == 0) {
        generate_job_selector(obj);
    }
}

void ek_defaults_apply(const ek_resource_t *r, json_t *obj)
{
    if (!json_is_object(obj)) {
        return;
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(default_rules); i++) {
        if (strcmp(default_rules[i].group, r->group) == 0 &&
            strcmp(default_rules[i].kind, r->kind) == 0) {
            default_rules[i].fn(obj);
            return;
        }
    }
}
