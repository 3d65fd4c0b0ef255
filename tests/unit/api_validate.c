/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validation: every rule has a failing manifest whose cause (reason, field path and message
 * text) must read exactly as kube-apiserver 1.32 reports it, and realistic manifests must
 * pass. Objects are defaulted first, as the server does before validating.
 */
#include "api/api.h"
#include "api/validate-internal.h" /* ek__cron_error */
#include "tests/unit/test.h"

#define SUBDOMAIN_MSG                                                                             \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "  \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used " \
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define LABEL_MSG                                                                                \
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and " \
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "   \
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS1035_MSG                                                                              \
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an " \
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "         \
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define QNAME_PART_MSG                                                                             \
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "  \
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for " \
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define LABEL_VALUE_MSG                                                                         \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or " \
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "          \
    "'my_value',  or '12345', regex used for validation is "                                    \
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

static json_t *yaml(const char *text)
{
    ek_error_t *err = NULL;
    json_t *v = ek_yaml_to_json(text, strlen(text), &err);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "bad test YAML: %s", ek_error_msg(err));
    }
    return v;
}

/* Defaults and validates; returns "Reason field: message" lines. Caller frees. */
static char *check(const char *group, const char *kind, const char *text, const char *old_text)
{
    const ek_resource_t *r = ek_resource_by_kind(group, NULL, kind);
    if (!r) {
        ek__test_fail(__FILE__, __LINE__, "no resource %s/%s", group, kind);
    }
    ek_auto(json_t) obj = yaml(text);
    ek_auto(json_t) old = old_text ? yaml(old_text) : NULL;
    ek_defaults_apply(r, obj);
    if (old) {
        ek_defaults_apply(r, old);
    }
    ek_field_errors_t errs = { NULL, 0 };
    int n = ek_validate(r, obj, old, &errs);
    if (n != (int)errs.n) {
        ek__test_fail(__FILE__, __LINE__, "ek_validate returned %d for %zu errors", n, errs.n);
    }
    ek_autobuf b = EK_BUF_INIT;
    for (size_t i = 0; i < errs.n; i++) {
        ek_buf_printf(&b, "%s %s: %s\n", errs.v[i].type, errs.v[i].field, errs.v[i].message);
    }
    ek_field_errors_free(&errs);
    return ek_buf_steal(&b, NULL);
}

/* The error list contains exactly this line. */
#define HAS(errs, reason, field, msg) has_line(__FILE__, __LINE__, errs, reason, field, msg)
/* The error list is exactly this text. */
#define ONLY(errs, text)                                                               \
    do {                                                                               \
        if (strcmp(errs, text) != 0) {                                                 \
            ek__test_fail(__FILE__, __LINE__, "errors:\n%s--- want:\n%s", errs, text); \
        }                                                                              \
    } while (0)
#define VALID(errs) ONLY(errs, "")

static void has_line(const char *file, int line, const char *errs, const char *reason,
                     const char *field, const char *msg)
{
    ek_autofree char *want = ek_xasprintf("\n%s %s: %s\n", reason, field, msg);
    ek_autofree char *hay = ek_xasprintf("\n%s", errs);
    if (!strstr(hay, want)) {
        ek__test_fail(file, line, "missing error\n  %s %s: %s\ngot:\n%s", reason, field, msg, errs);
    }
}

#define REQ      "FieldValueRequired"
#define INV      "FieldValueInvalid"
#define NSUP     "FieldValueNotSupported"
#define DUP      "FieldValueDuplicate"
#define FORB     "FieldValueForbidden"
#define TOOLONG  "FieldValueTooLong"
#define NOTFOUND "FieldValueNotFound"

#define POD_HEAD "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"

/* A pod with one container c (image nginx) and the given extra container/spec lines. */
static char *pod(const char *container_extra, const char *spec_extra)
{
    ek_autofree char *text =
        ek_xasprintf(POD_HEAD "spec:\n%s  containers:\n  - name: c\n"
                              "    image: nginx\n%s",
                     spec_extra ? spec_extra : "", container_extra ? container_extra : "");
    return check("", "Pod", text, NULL);
}

/* ---- the public helpers ---- */

TEST(validate_field_error_messages_like_error_body)
{
    ek_field_errors_t e = { NULL, 0 };
    ek_auto(json_t) s = json_string("x\"y");
    ek_auto(json_t) n = json_integer(70000);
    ek_auto(json_t) m = json_pack("{ssss}", "b", "2", "a", "1");
    ek_auto(json_t) l = json_pack("[ss]", "a", "b");
    ek_field_errors_add(&e, "FieldValueRequired", "spec.x", NULL, NULL);
    ek_field_errors_add(&e, "FieldValueRequired", "spec.x", s, "when %s", "y");
    ek_field_errors_add(&e, "FieldValueInvalid", "spec.s", s, "bad");
    ek_field_errors_add(&e, "FieldValueInvalid", "spec.n", n, "must be between %d and %d", 1,
                        65535);
    ek_field_errors_add(&e, "FieldValueInvalid", "spec.m", m, "no");
    ek_field_errors_add(&e, "FieldValueInvalid", "spec.l", l, NULL);
    ek_field_errors_add(&e, "FieldValueForbidden", "spec.f", s, "not allowed");
    ek_field_errors_add(&e, "FieldValueDuplicate", "spec.d", s, NULL);
    ek_field_errors_add(&e, "FieldValueNotSupported", "spec.e", s, "supported values: \"A\"");
    ASSERT_EQ(e.n, 9);
    ASSERT_STREQ(e.v[0].message, "Required value");
    ASSERT_STREQ(e.v[1].message, "Required value: when y");
    ASSERT_STREQ(e.v[2].message, "Invalid value: \"x\\\"y\": bad");
    ASSERT_STREQ(e.v[3].message, "Invalid value: 70000: must be between 1 and 65535");
    ASSERT_STREQ(e.v[4].message, "Invalid value: map[string]string{\"a\":\"1\", \"b\":\"2\"}: no");
    ASSERT_STREQ(e.v[5].message, "Invalid value: []string{\"a\", \"b\"}");
    ASSERT_STREQ(e.v[6].message, "Forbidden: not allowed");
    ASSERT_STREQ(e.v[7].message, "Duplicate value: \"x\\\"y\"");
    ASSERT_STREQ(e.v[8].message, "Unsupported value: \"x\\\"y\": supported values: \"A\"");
    ASSERT_STREQ(e.v[3].type, "FieldValueInvalid");
    ASSERT_STREQ(e.v[3].field, "spec.n");
    ek_field_errors_free(&e);
    ASSERT_EQ(e.n, 0);
    ASSERT_TRUE(e.v == NULL);
}

TEST(validate_dns_name_helpers)
{
    char msg[512];
    ASSERT_EQ(ek_validate_dns1123_subdomain("my.app-1", msg, sizeof(msg)), 0);
    ASSERT_EQ(ek_validate_dns1123_subdomain("My_App", msg, sizeof(msg)), -1);
    ASSERT_STREQ(msg, SUBDOMAIN_MSG);
    ASSERT_EQ(ek_validate_dns1123_label("web-0", msg, sizeof(msg)), 0);
    ASSERT_EQ(ek_validate_dns1123_label("a.b", msg, sizeof(msg)), -1);
    ASSERT_STREQ(msg, "must not contain dots");
    ASSERT_EQ(ek_validate_dns1123_label("-a", msg, sizeof(msg)), -1);
    ASSERT_STREQ(msg, LABEL_MSG);
    char long_label[70];
    memset(long_label, 'a', 64);
    long_label[64] = 0;
    ASSERT_EQ(ek_validate_dns1123_label(long_label, msg, sizeof(msg)), -1);
    ASSERT_STREQ(msg, "must be no more than 63 characters");
}

/* ---- ObjectMeta ---- */

TEST(validate_meta_name_and_namespace)
{
    ek_autofree char *e1 = check("", "ConfigMap", "metadata: {namespace: default}\n", NULL);
    ONLY(e1, REQ " metadata.name: Required value: name or generateName is required\n");
    ek_autofree char *e2 =
        check("", "ConfigMap", "metadata: {name: Bad_Name, namespace: default}\n", NULL);
    ONLY(e2, INV " metadata.name: Invalid value: \"Bad_Name\": " SUBDOMAIN_MSG "\n");
    ek_autofree char *e3 = check("", "ConfigMap", "metadata: {name: ok}\n", NULL);
    ONLY(e3, REQ " metadata.namespace: Required value\n");
    ek_autofree char *e4 =
        check("", "Namespace", "metadata: {name: ok, namespace: default}\n", NULL);
    ONLY(e4, FORB " metadata.namespace: Forbidden: not allowed on this type\n");
    ek_autofree char *e5 = check("", "ConfigMap", "metadata: {name: ok, namespace: Bad}\n", NULL);
    ONLY(e5, INV " metadata.namespace: Invalid value: \"Bad\": " LABEL_MSG "\n");
    /* A generateName may end in '-': the server appends the random suffix. */
    ek_autofree char *e6 =
        check("", "ConfigMap", "metadata: {generateName: web-, namespace: d}\n", NULL);
    ONLY(e6, REQ " metadata.name: Required value: name or generateName is required\n");
    ek_autofree char *e7 =
        check("", "ConfigMap", "metadata: {generateName: -x, name: x, namespace: d}\n", NULL);
    ONLY(e7, INV " metadata.generateName: Invalid value: \"-x\": " SUBDOMAIN_MSG "\n");
}

TEST(validate_meta_name_rules_per_kind)
{
    /* Namespaces are DNS-1123 labels, Services DNS-1035 labels, RBAC names path segments. */
    ek_autofree char *ns = check("", "Namespace", "metadata: {name: a.b}\n", NULL);
    ONLY(ns, INV " metadata.name: Invalid value: \"a.b\": must not contain dots\n");
    ek_autofree char *svc = check(
        "", "Service", "metadata: {name: 1web, namespace: d}\nspec: {ports: [{port: 80}]}\n", NULL);
    ONLY(svc, INV " metadata.name: Invalid value: \"1web\": " DNS1035_MSG "\n");
    ek_autofree char *role = check("rbac.authorization.k8s.io", "Role",
                                   "metadata: {name: 'system:Weird Name', namespace: d}\n", NULL);
    VALID(role);
    ek_autofree char *role2 =
        check("rbac.authorization.k8s.io", "ClusterRole", "metadata: {name: 'a/b%'}\n", NULL);
    ONLY(role2, INV " metadata.name: Invalid value: \"a/b%\": may not contain '/'\n" INV
                    " metadata.name: Invalid value: \"a/b%\": may not contain '%'\n");
    ek_autofree char *dep =
        check("apps", "Deployment",
              "metadata: {name: web.v2, namespace: d}\n"
              "spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}},"
              " spec: {containers: [{name: c, image: i}]}}}\n",
              NULL);
    VALID(dep);
}

TEST(validate_meta_labels_and_annotations)
{
    ek_autofree char *e =
        check("", "ConfigMap",
              "metadata:\n  name: c\n  namespace: d\n"
              "  labels: {'bad key!': ok, good: 'bad value!', 'x.io/': v,\n"
              "           'Bad_Prefix/k': v, ok.example.com/name: '', tooLong: "
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n"
              "  annotations: {'UPPER.io/Key': fine, 'a b': v}\n",
              NULL);
    HAS(e, INV, "metadata.labels", "Invalid value: \"bad key!\": " QNAME_PART_MSG);
    HAS(e, INV, "metadata.labels", "Invalid value: \"bad value!\": " LABEL_VALUE_MSG);
    HAS(e, INV, "metadata.labels", "Invalid value: \"x.io/\": name part must be non-empty");
    HAS(e, INV, "metadata.labels", "Invalid value: \"Bad_Prefix/k\": prefix part " SUBDOMAIN_MSG);
    HAS(e, INV, "metadata.labels",
        "Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must "
        "be "
        "no more than 63 characters");
    HAS(e, INV, "metadata.annotations", "Invalid value: \"a b\": " QNAME_PART_MSG);
    ASSERT_TRUE(strstr(e, "UPPER") == NULL); /* annotation keys are checked in lower case */
    /* Annotations may total 256 KiB. */
    size_t big = 256 * 1024;
    char *val = ek_xmalloc(big + 1);
    memset(val, 'x', big);
    val[big] = 0;
    ek_auto(json_t) cm = json_pack("{s{sssss{ss}}}", "metadata", "name", "c", "namespace", "d",
                                   "annotations", "k", val);
    free(val);
    ek_field_errors_t errs = { NULL, 0 };
    ASSERT_EQ(ek_validate(ek_resource_by_kind("", NULL, "ConfigMap"), cm, NULL, &errs), 1);
    ASSERT_STREQ(errs.v[0].type, TOOLONG);
    ASSERT_STREQ(errs.v[0].field, "metadata.annotations");
    ASSERT_STREQ(errs.v[0].message, "Too long: must have at most 262144 bytes");
    ek_field_errors_free(&errs);
}

TEST(validate_meta_owner_references_and_finalizers)
{
    ek_autofree char *e =
        check("", "ConfigMap",
              "metadata:\n  name: c\n  namespace: d\n"
              "  ownerReferences:\n"
              "  - {apiVersion: '', kind: '', name: '', uid: ''}\n"
              "  - {apiVersion: apps/v1, kind: ReplicaSet, name: a, uid: '1', controller: true}\n"
              "  - {apiVersion: apps/v1, kind: ReplicaSet, name: b, uid: '2', controller: true}\n"
              "  finalizers: [kubernetes, example.com/cleanup, bogus, 'bad/x/y']\n",
              NULL);
    HAS(e, INV, "metadata.ownerReferences.apiVersion",
        "Invalid value: \"\": version must not be empty");
    HAS(e, INV, "metadata.ownerReferences.kind", "Invalid value: \"\": must not be empty");
    HAS(e, INV, "metadata.ownerReferences.name", "Invalid value: \"\": must not be empty");
    HAS(e, INV, "metadata.ownerReferences.uid", "Invalid value: \"\": must not be empty");
    ASSERT_CONTAINS(e, INV " metadata.ownerReferences: Invalid value: []v1.OwnerReference{");
    ASSERT_CONTAINS(e, "}: Only one reference can have Controller set to true. Found \"true\" in "
                       "references for ReplicaSet/a and ReplicaSet/b\n");
    HAS(e, INV, "metadata.finalizers[2]",
        "Invalid value: \"bogus\": name is neither a standard finalizer name nor is it fully "
        "qualified");
    ASSERT_CONTAINS(e,
                    INV " metadata.finalizers: Invalid value: \"bad/x/y\": a qualified name must "
                        "consist of alphanumeric characters");
    ek_autofree char *ev =
        check("", "ConfigMap",
              "metadata:\n  name: c\n  namespace: d\n"
              "  ownerReferences: [{apiVersion: v1, kind: Event, name: e, uid: u}]\n",
              NULL);
    ASSERT_CONTAINS(ev, INV
                    " metadata.ownerReferences: Invalid value: v1.OwnerReference{APIVersion:"
                    "\"v1\", Kind:\"Event\", Name:\"e\", UID:\"u\", Controller:(*bool)(nil), "
                    "BlockOwnerDeletion:(*bool)(nil)}: /v1, Kind=Event is disallowed from being "
                    "an owner\n");
    ek_autofree char *both = check(
        "", "ConfigMap",
        "metadata: {name: c, namespace: d, finalizers: [orphan, foregroundDeletion]}\n", NULL);
    ONLY(both,
         INV " metadata.finalizers: Invalid value: []string{\"orphan\", \"foregroundDeletion\"}: "
             "finalizer orphan and foregroundDeletion cannot be both set\n");
}

TEST(validate_meta_update_immutable_fields)
{
    const char *old =
        "metadata: {name: c, namespace: d, uid: u1, resourceVersion: '5', generation: 3,\n"
        "           creationTimestamp: '2024-05-01T10:00:00Z'}\n";
    ek_autofree char *same = check("", "ConfigMap", old, old);
    VALID(same);
    ek_autofree char *e = check("", "ConfigMap",
                                "metadata: {name: c2, namespace: d2, uid: u2, generation: 2,\n"
                                "           creationTimestamp: '2024-05-02T10:00:00Z'}\n",
                                old);
    HAS(e, INV, "metadata.resourceVersion", "Invalid value: \"\": must be specified for an update");
    HAS(e, INV, "metadata.generation", "Invalid value: 2: must not be decremented");
    HAS(e, INV, "metadata.name", "Invalid value: \"c2\": field is immutable");
    HAS(e, INV, "metadata.namespace", "Invalid value: \"d2\": field is immutable");
    HAS(e, INV, "metadata.uid", "Invalid value: \"u2\": field is immutable");
    HAS(e, INV, "metadata.creationTimestamp",
        "Invalid value: 2024-05-02 10:00:00 +0000 UTC: field is immutable");
    /* Finalizers cannot be added once deletion started. */
    ek_autofree char *fin =
        check("", "ConfigMap",
              "metadata: {name: c, namespace: d, resourceVersion: '6', finalizers: [a.io/x],\n"
              "           deletionTimestamp: '2024-05-01T11:00:00Z'}\n",
              "metadata: {name: c, namespace: d, resourceVersion: '5',\n"
              "           deletionTimestamp: '2024-05-01T11:00:00Z'}\n");
    ONLY(fin,
         FORB " metadata.finalizers: Forbidden: no new finalizers can be added if the object is "
              "being deleted, found new finalizers []string{\"a.io/x\"}\n");
}

/* ---- pods ---- */

TEST(validate_pod_valid_manifests)
{
    ek_autofree char *e = check(
        "", "Pod",
        POD_HEAD
        "spec:\n"
        "  serviceAccountName: default\n"
        "  nodeSelector: {kubernetes.io/arch: arm64}\n"
        "  tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: "
        "NoSchedule},\n"
        "                {key: k, operator: Equal, value: v, effect: NoExecute, tolerationSeconds: "
        "30}]\n"
        "  initContainers: [{name: init, image: busybox, command: [sh, -c, 'true']}]\n"
        "  containers:\n"
        "  - name: web\n    image: nginx:1.25\n"
        "    ports: [{name: http, containerPort: 80}, {containerPort: 53, protocol: UDP}]\n"
        "    env:\n"
        "    - {name: PLAIN, value: x}\n"
        "    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n"
        "    - {name: TIER, valueFrom: {fieldRef: {fieldPath: \"metadata.labels['tier']\"}}}\n"
        "    - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}\n"
        "    - {name: PASS, valueFrom: {secretKeyRef: {name: db, key: password}}}\n"
        "    - {name: 1relaxed.name-ok, value: y}\n"
        "    envFrom: [{prefix: APP_, configMapRef: {name: app}}]\n"
        "    resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: '1', memory: 128Mi}}\n"
        "    livenessProbe: {httpGet: {path: /healthz, port: http}, initialDelaySeconds: 3}\n"
        "    readinessProbe: {tcpSocket: {port: 80}}\n"
        "    startupProbe: {exec: {command: [cat, /tmp/ok]}, failureThreshold: 30}\n"
        "    lifecycle: {preStop: {sleep: {seconds: 5}}}\n"
        "    volumeMounts: [{name: data, mountPath: /data}, {name: cfg, mountPath: /etc/app, "
        "readOnly: true},\n"
        "                   {name: data, mountPath: /logs, subPath: logs}]\n"
        "    securityContext: {runAsUser: 1000, allowPrivilegeEscalation: false,\n"
        "                      capabilities: {drop: [ALL]}, seccompProfile: {type: "
        "RuntimeDefault}}\n"
        "  volumes:\n"
        "  - {name: data, persistentVolumeClaim: {claimName: data}}\n"
        "  - {name: cfg, configMap: {name: app, items: [{key: a.conf, path: a.conf, mode: "
        "0644}]}}\n"
        "  affinity:\n"
        "    nodeAffinity:\n"
        "      requiredDuringSchedulingIgnoredDuringExecution:\n"
        "        nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a, "
        "b]}]}]\n"
        "    podAntiAffinity:\n"
        "      preferredDuringSchedulingIgnoredDuringExecution:\n"
        "      - weight: 50\n"
        "        podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: "
        "{matchLabels: {app: web}}}\n"
        "  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: "
        "ScheduleAnyway}]\n"
        "  dnsConfig: {nameservers: [1.1.1.1], searches: [svc.cluster.local], options: [{name: "
        "ndots, value: '2'}]}\n"
        "  hostAliases: [{ip: 10.0.0.1, hostnames: [db.local]}]\n"
        "  securityContext: {fsGroup: 2000, sysctls: [{name: net.ipv4.ip_local_port_range, value: "
        "'1024 65535'}]}\n",
        NULL);
    VALID(e);
}

TEST(validate_pod_containers)
{
    ek_autofree char *none = check("", "Pod", POD_HEAD "spec: {}\n", NULL);
    ONLY(none, REQ " spec.containers: Required value\n");
    ek_autofree char *e = check("", "Pod",
                                POD_HEAD "spec:\n  containers:\n"
                                         "  - {name: Web}\n"
                                         "  - {name: web, image: ' nginx'}\n"
                                         "  - {name: web, image: nginx}\n"
                                         "  initContainers: [{name: web, image: busybox}]\n",
                                NULL);
    HAS(e, INV, "spec.containers[0].name", "Invalid value: \"Web\": " LABEL_MSG);
    HAS(e, REQ, "spec.containers[0].image", "Required value");
    HAS(e, DUP, "spec.containers[2].name", "Duplicate value: \"web\"");
    HAS(e, DUP, "spec.initContainers[0].name", "Duplicate value: \"web\"");
    HAS(e, INV, "spec.containers[1].image",
        "Invalid value: \" nginx\": must not have leading or trailing whitespace");
    ek_autofree char *noname = pod(NULL, NULL);
    VALID(noname);
    ek_autofree char *pol =
        pod("    imagePullPolicy: Sometimes\n    terminationMessagePolicy: Maybe\n", NULL);
    ONLY(pol,
         NSUP " spec.containers[0].terminationMessagePolicy: Unsupported value: \"Maybe\": "
              "supported values: \"File\", \"FallbackToLogsOnError\"\n" NSUP
              " spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported "
              "values: \"Always\", \"IfNotPresent\", \"Never\"\n");
    ek_autofree char *rp = pod("    restartPolicy: Always\n", NULL);
    ONLY(rp, FORB
         " spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers\n");
}

TEST(validate_pod_ports)
{
    ek_autofree char *e = pod("    ports:\n"
                              "    - {containerPort: 0}\n"
                              "    - {containerPort: 70000, hostPort: -1, name: HTTP}\n"
                              "    - {containerPort: 80, protocol: ICMP, name: web}\n"
                              "    - {containerPort: 81, name: web}\n"
                              "    - {containerPort: 82, name: this-name-is-too-long}\n",
                              NULL);
    HAS(e, REQ, "spec.containers[0].ports[0].containerPort", "Required value");
    HAS(e, INV, "spec.containers[0].ports[1].name",
        "Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and "
        "hyphens (-)");
    HAS(e, INV, "spec.containers[0].ports[1].name",
        "Invalid value: \"HTTP\": must contain at least one letter (a-z)");
    HAS(e, INV, "spec.containers[0].ports[1].containerPort",
        "Invalid value: 70000: must be between 1 and 65535, inclusive");
    HAS(e, INV, "spec.containers[0].ports[1].hostPort",
        "Invalid value: -1: must be between 1 and 65535, inclusive");
    HAS(e, NSUP, "spec.containers[0].ports[2].protocol",
        "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
    HAS(e, DUP, "spec.containers[0].ports[3].name", "Duplicate value: \"web\"");
    HAS(e, INV, "spec.containers[0].ports[4].name",
        "Invalid value: \"this-name-is-too-long\": must be no more than 15 characters");
    ek_autofree char *hp =
        check("", "Pod",
              POD_HEAD "spec:\n  containers:\n"
                       "  - {name: a, image: i, ports: [{containerPort: 80, hostPort: 8080}]}\n"
                       "  - {name: b, image: i, ports: [{containerPort: 81, hostPort: 8080}]}\n",
              NULL);
    ONLY(hp, DUP " spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\"\n");
    ek_autofree char *hn =
        pod("    ports: [{containerPort: 80, hostPort: 8080}]\n", "  hostNetwork: true\n");
    ONLY(hn, INV " spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match "
                 "`containerPort` when `hostNetwork` is true\n");
}

TEST(validate_pod_env)
{
    ek_autofree char *e =
        pod("    env:\n"
            "    - {name: ''}\n"
            "    - {name: 'A=B'}\n"
            "    - {name: X, valueFrom: {}}\n"
            "    - {name: Y, value: v, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n"
            "    - {name: Z, valueFrom: {fieldRef: {fieldPath: spec.foo},\n"
            "                            secretKeyRef: {name: s, key: k}}}\n"
            "    - {name: L, valueFrom: {fieldRef: {fieldPath: metadata.labels}}}\n"
            "    - {name: K, valueFrom: {configMapKeyRef: {name: Bad, key: 'a b'}}}\n"
            "    - {name: R, valueFrom: {resourceFieldRef: {resource: limits.gpu}}}\n"
            "    envFrom: [{prefix: 'P=', configMapRef: {name: c}}, {}]\n",
            NULL);
    HAS(e, REQ, "spec.containers[0].env[0].name", "Required value");
    HAS(e, INV, "spec.containers[0].env[1].name",
        "Invalid value: \"A=B\": a valid environment variable name must consist only of printable "
        "ASCII characters other than '='");
    HAS(e, INV, "spec.containers[0].env[2].valueFrom",
        "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, "
        "`configMapKeyRef` "
        "or `secretKeyRef`");
    HAS(e, INV, "spec.containers[0].env[3].valueFrom",
        "Invalid value: \"\": may not be specified when `value` is not empty");
    HAS(e, INV, "spec.containers[0].env[4].valueFrom.fieldRef.fieldPath",
        "Invalid value: \"spec.foo\": error converting fieldPath: field label not supported: "
        "spec.foo");
    HAS(e, INV, "spec.containers[0].env[4].valueFrom",
        "Invalid value: \"\": may not have more than one field specified at a time");
    HAS(e, NSUP, "spec.containers[0].env[5].valueFrom.fieldRef.fieldPath",
        "Unsupported value: \"metadata.labels\": supported values: \"metadata.name\", "
        "\"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", "
        "\"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"");
    HAS(e, INV, "spec.containers[0].env[6].valueFrom.configMapKeyRef.name",
        "Invalid value: \"Bad\": " SUBDOMAIN_MSG);
    HAS(e, INV, "spec.containers[0].env[6].valueFrom.configMapKeyRef.key",
        "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', "
        "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
        "is '[-._a-zA-Z0-9]+')");
    HAS(e, NSUP, "spec.containers[0].env[7].valueFrom.resourceFieldRef.resource",
        "Unsupported value: \"limits.gpu\": supported values: \"limits.cpu\", "
        "\"limits.ephemeral-storage\", \"limits.memory\", \"requests.cpu\", "
        "\"requests.ephemeral-storage\", \"requests.memory\"");
    HAS(e, INV, "spec.containers[0].envFrom[0].prefix",
        "Invalid value: \"P=\": a valid environment variable name must consist only of printable "
        "ASCII characters other than '='");
    HAS(e, INV, "spec.containers[0].envFrom",
        "Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`");
}

TEST(validate_pod_volumes_and_mounts)
{
    ek_autofree char *e =
        pod("    volumeMounts:\n"
            "    - {name: missing, mountPath: /a}\n"
            "    - {name: cfg, mountPath: /a}\n"
            "    - {name: cfg, mountPath: ''}\n"
            "    - {name: cfg, mountPath: /b, subPath: ../x}\n",
            "  volumes:\n"
            "  - {name: cfg, configMap: {name: c}}\n"
            "  - {name: cfg, secret: {secretName: s}}\n"
            "  - {name: two, secret: {secretName: s}, configMap: {name: c}}\n"
            "  - {name: Bad_Name, emptyDir: {}}\n"
            "  - {name: sec, secret: {defaultMode: 1000, items: [{key: k, path: /abs}]}}\n"
            "  - {name: hp, hostPath: {path: /x, type: Weird}}\n"
            "  - {name: nfs, nfs: {server: s, path: rel}}\n"
            "  - {name: pvc, persistentVolumeClaim: {}}\n");
    HAS(e, DUP, "spec.volumes[1].name", "Duplicate value: \"cfg\"");
    HAS(e, FORB, "spec.volumes[2].configMap", "Forbidden: may not specify more than 1 volume type");
    HAS(e, INV, "spec.volumes[3].name", "Invalid value: \"Bad_Name\": " LABEL_MSG);
    HAS(e, REQ, "spec.volumes[4].secret.secretName", "Required value");
    HAS(e, INV, "spec.volumes[4].secret.defaultMode",
        "Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive");
    HAS(e, INV, "spec.volumes[4].secret.items[0].path",
        "Invalid value: \"/abs\": must be a relative path");
    HAS(e, NSUP, "spec.volumes[5].hostPath.type",
        "Unsupported value: \"Weird\": supported values: \"\", \"BlockDevice\", \"CharDevice\", "
        "\"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"");
    HAS(e, INV, "spec.volumes[6].nfs.path", "Invalid value: \"rel\": must be an absolute path");
    HAS(e, REQ, "spec.volumes[7].persistentVolumeClaim.claimName", "Required value");
    HAS(e, NOTFOUND, "spec.containers[0].volumeMounts[0].name", "Not found: \"missing\"");
    HAS(e, INV, "spec.containers[0].volumeMounts[1].mountPath",
        "Invalid value: \"/a\": must be unique");
    HAS(e, REQ, "spec.containers[0].volumeMounts[2].mountPath", "Required value");
    HAS(e, INV, "spec.containers[0].volumeMounts.subPath",
        "Invalid value: \"../x\": must not contain '..'");
    /* A volume without a source is an emptyDir after defaulting; a broken one is not mountable. */
    ek_autofree char *broken =
        pod("    volumeMounts: [{name: two, mountPath: /t}]\n",
            "  volumes: [{name: two, secret: {secretName: s}, configMap: {name: c}}]\n");
    ONLY(broken, FORB
         " spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type\n" NOTFOUND
         " spec.containers[0].volumeMounts[0].name: Not found: \"two\"\n");
}

TEST(validate_pod_resources)
{
    ek_autofree char *e =
        pod("    resources:\n"
            "      limits: {cpu: '1', memory: 1Gi, example.com/gpu: 1}\n"
            "      requests: {cpu: '2', memory: -1Mi, example.com/gpu: 2, storage: 1Gi}\n",
            NULL);
    HAS(e, INV, "spec.containers[0].resources.requests",
        "Invalid value: \"2\": must be less than or equal to cpu limit of 1");
    HAS(e, INV, "spec.containers[0].resources.requests[memory]",
        "Invalid value: \"-1Mi\": must be greater than or equal to 0");
    HAS(e, INV, "spec.containers[0].resources.requests",
        "Invalid value: \"2\": must be equal to example.com/gpu limit of 1");
    HAS(e, INV, "spec.containers[0].resources.requests[storage]",
        "Invalid value: \"storage\": must be a standard resource for containers");
    ek_autofree char *odd = pod("    resources: {limits: {widgets: '1'}}\n", NULL);
    HAS(odd, INV, "spec.containers[0].resources.limits[widgets]",
        "Invalid value: \"widgets\": must be a standard resource type or fully qualified");
    HAS(odd, INV, "spec.containers[0].resources.limits[widgets]",
        "Invalid value: \"widgets\": must be a standard resource for containers");
    ek_autofree char *ext = pod("    resources: {requests: {example.com/fpga: 1}}\n", NULL);
    ONLY(ext, REQ " spec.containers[0].resources.limits: Required value: Limit must be set for non "
                  "overcommitable resources\n");
    ek_autofree char *frac = pod("    resources: {limits: {example.com/fpga: 500m}}\n", NULL);
    ONLY(frac, INV " spec.containers[0].resources.limits[example.com/fpga]: Invalid value: 500m: "
                   "must be an integer\n" INV
                   " spec.containers[0].resources.requests[example.com/fpga]: Invalid value: 500m: "
                   "must be an integer\n");
    ek_autofree char *bad = pod("    resources: {limits: {cpu: lots}}\n", NULL);
    /* The request was defaulted from the limit, so both carry the bad quantity. */
    ONLY(bad, INV
         " spec.containers[0].resources.limits[cpu]: Invalid value: \"lots\": quantities "
         "must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'\n" INV
         " spec.containers[0].resources.requests[cpu]: Invalid value: \"lots\": quantities "
         "must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'\n");
}

TEST(validate_pod_probes_and_hooks)
{
    ek_autofree char *e =
        pod("    livenessProbe: {successThreshold: 2, periodSeconds: -1}\n"
            "    readinessProbe: {exec: {command: [x]}, httpGet: {port: 80},\n"
            "                     terminationGracePeriodSeconds: 5}\n"
            "    startupProbe: {httpGet: {port: 0, scheme: FTP}}\n"
            "    lifecycle: {postStart: {exec: {}}, preStop: {sleep: {seconds: 60}}}\n",
            NULL);
    HAS(e, REQ, "spec.containers[0].livenessProbe", "Required value: must specify a handler type");
    HAS(e, INV, "spec.containers[0].livenessProbe.periodSeconds",
        "Invalid value: -1: must be greater than or equal to 0");
    HAS(e, INV, "spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1");
    HAS(e, FORB, "spec.containers[0].readinessProbe.httpGet",
        "Forbidden: may not specify more than 1 handler type");
    HAS(e, INV, "spec.containers[0].readinessProbe.terminationGracePeriodSeconds",
        "Invalid value: 5: must not be set for readinessProbes");
    HAS(e, INV, "spec.containers[0].startupProbe.httpGet.port",
        "Invalid value: 0: must be between 1 and 65535, inclusive");
    HAS(e, NSUP, "spec.containers[0].startupProbe.httpGet.scheme",
        "Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\"");
    HAS(e, REQ, "spec.containers[0].lifecycle.postStart.exec.command", "Required value");
    HAS(e, INV, "spec.containers[0].lifecycle.preStop.sleep",
        "Invalid value: 60: must be greater than 0 and less than terminationGracePeriodSeconds "
        "(30). "
        "Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.");
    ek_autofree char *init = check(
        "", "Pod",
        POD_HEAD
        "spec:\n  containers: [{name: c, image: i}]\n"
        "  initContainers:\n"
        "  - {name: i, image: i, livenessProbe: {tcpSocket: {port: 1}}}\n"
        "  - {name: s, image: i, restartPolicy: Always, livenessProbe: {tcpSocket: {port: 1}}}\n"
        "  - {name: t, image: i, restartPolicy: OnFailure}\n",
        NULL);
    ONLY(init, FORB " spec.initContainers[0].livenessProbe: Forbidden: may not be set for init "
                    "containers without restartPolicy=Always\n" NSUP
                    " spec.initContainers[2].restartPolicy: Unsupported value: \"OnFailure\": "
                    "supported values: \"Always\"\n");
}

TEST(validate_pod_spec_fields)
{
    ek_autofree char *e =
        pod(NULL, "  restartPolicy: Sometimes\n"
                  "  dnsPolicy: Magic\n"
                  "  nodeSelector: {'a b': c}\n"
                  "  serviceAccountName: Bad_SA\n"
                  "  nodeName: Node_1\n"
                  "  activeDeadlineSeconds: 0\n"
                  "  hostname: a.b\n"
                  "  priorityClassName: Top\n"
                  "  preemptionPolicy: Sometimes\n"
                  "  terminationGracePeriodSeconds: null\n"
                  "  os: {name: plan9}\n"
                  "  securityContext: {runAsUser: -1, sysctls: [{name: Bad!}]}\n");
    HAS(e, NSUP, "spec.restartPolicy",
        "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
    HAS(e, NSUP, "spec.dnsPolicy",
        "Unsupported value: \"Magic\": supported values: \"ClusterFirstWithHostNet\", "
        "\"ClusterFirst\", \"Default\", \"None\"");
    HAS(e, INV, "spec.nodeSelector", "Invalid value: \"a b\": " QNAME_PART_MSG);
    HAS(e, INV, "spec.serviceAccountName", "Invalid value: \"Bad_SA\": " SUBDOMAIN_MSG);
    HAS(e, INV, "spec.nodeName", "Invalid value: \"Node_1\": " SUBDOMAIN_MSG);
    HAS(e, INV, "spec.activeDeadlineSeconds",
        "Invalid value: 0: must be between 1 and 2147483647, inclusive");
    HAS(e, INV, "spec.hostname", "Invalid value: \"a.b\": must not contain dots");
    HAS(e, INV, "spec.priorityClassName", "Invalid value: \"Top\": " SUBDOMAIN_MSG);
    HAS(e, NSUP, "spec.preemptionPolicy",
        "Unsupported value: \"Sometimes\": supported values: \"PreemptLowerPriority\", \"Never\"");
    HAS(e, NSUP, "spec.os",
        "Unsupported value: \"plan9\": supported values: \"linux\", \"windows\"");
    HAS(e, INV, "spec.securityContext.runAsUser",
        "Invalid value: -1: must be between 0 and 4294967295, inclusive");
    HAS(e, INV, "spec.securityContext.sysctls[0].name",
        "Invalid value: \"Bad!\": must have at most 253 characters and match regex "
        "^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$");
    /* Null grace period: the default fills it, so only a present value is checked. */
    ASSERT_TRUE(strstr(e, "terminationGracePeriodSeconds") == NULL);
    ek_autofree char *dns = pod(NULL, "  dnsPolicy: None\n");
    ONLY(dns, REQ
         " spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None\n");
}

TEST(validate_pod_tolerations_affinity_spread)
{
    ek_autofree char *e =
        pod(NULL, "  tolerations:\n"
                  "  - {operator: Equal, value: x}\n"
                  "  - {key: k, operator: Exists, value: v}\n"
                  "  - {key: k, operator: Near}\n"
                  "  - {key: k, effect: Never}\n"
                  "  - {key: k, value: v, effect: NoSchedule, tolerationSeconds: 5}\n"
                  "  affinity:\n"
                  "    nodeAffinity:\n"
                  "      requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}\n"
                  "      preferredDuringSchedulingIgnoredDuringExecution:\n"
                  "      - {weight: 0, preference: {matchExpressions: [{key: z, operator: Gt, "
                  "values: []}]}}\n"
                  "    podAffinity:\n"
                  "      requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {}}]\n"
                  "  topologySpreadConstraints:\n"
                  "  - {maxSkew: 0, topologyKey: '', whenUnsatisfiable: Maybe}\n");
    HAS(e, INV, "spec.tolerations[0].operator",
        "Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means "
        "\"match "
        "all values and all keys\"");
    HAS(e, INV, "spec.tolerations[1].operator",
        "Invalid value: \"v\": value must be empty when `operator` is 'Exists'");
    HAS(e, NSUP, "spec.tolerations[2].operator",
        "Unsupported value: \"Near\": supported values: \"Equal\", \"Exists\"");
    HAS(e, NSUP, "spec.tolerations[3].effect",
        "Unsupported value: \"Never\": supported values: \"NoSchedule\", \"PreferNoSchedule\", "
        "\"NoExecute\"");
    HAS(e, INV, "spec.tolerations[4].effect",
        "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is "
        "set");
    HAS(e, REQ,
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
        "nodeSelectorTerms",
        "Required value: must have at least one node selector term");
    HAS(e, INV,
        "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
        "Invalid value: 0: must be in the range 1-100");
    HAS(e, REQ,
        "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference."
        "matchExpressions[0].values",
        "Required value: must be specified single value when `operator` is 'Lt' or 'Gt'");
    HAS(e, REQ,
        "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
        "Required value: can not be empty");
    HAS(e, INV, "spec.topologySpreadConstraints[0].maxSkew",
        "Invalid value: 0: must be greater than zero");
    HAS(e, REQ, "spec.topologySpreadConstraints[0].topologyKey",
        "Required value: can not be empty");
    HAS(e, NSUP, "spec.topologySpreadConstraints[0].whenUnsatisfiable",
        "Unsupported value: \"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"");
}

TEST(validate_pod_create_only_rules)
{
    ek_autofree char *e =
        pod(NULL, "  ephemeralContainers: [{name: dbg, image: busybox}]\n"
                  "  nodeName: n1\n  schedulingGates: [{name: example.com/wait}]\n");
    HAS(e, FORB, "spec.ephemeralContainers", "Forbidden: cannot be set on create");
    HAS(e, FORB, "spec.nodeName",
        "Forbidden: cannot be set until all schedulingGates have been cleared");
    ek_autofree char *sa = pod(
        NULL, "  volumes: [{name: t, projected: {sources: [{serviceAccountToken: {path: t}}]}}]\n");
    ONLY(sa,
         FORB " spec.volumes[0].projected.sources[0].serviceAccountToken: Forbidden: must not be "
              "specified when serviceAccountName is not set\n");
}

#define POD_OLD                                                                          \
    "metadata: {name: p, namespace: default, resourceVersion: '7'}\n"                    \
    "spec:\n  activeDeadlineSeconds: 100\n  tolerations: [{key: a, operator: Exists}]\n" \
    "  containers: [{name: c, image: 'nginx:1.25'}]\n"

TEST(validate_pod_update)
{
    ek_autofree char *img =
        check("", "Pod",
              "metadata: {name: p, namespace: default, resourceVersion: '7'}\n"
              "spec:\n  activeDeadlineSeconds: 50\n"
              "  tolerations: [{key: a, operator: Exists}, {key: b, operator: Exists}]\n"
              "  containers: [{name: c, image: 'nginx:1.26'}]\n",
              POD_OLD);
    VALID(img);
    ek_autofree char *rp = check("", "Pod",
                                 "metadata: {name: p, namespace: default, resourceVersion: '7'}\n"
                                 "spec:\n  activeDeadlineSeconds: 100\n  restartPolicy: Never\n"
                                 "  tolerations: [{key: a, operator: Exists}]\n"
                                 "  containers: [{name: c, image: 'nginx:1.25'}]\n",
                                 POD_OLD);
    ASSERT_CONTAINS(rp, FORB
                    " spec: Forbidden: pod updates may not change fields other than "
                    "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                    "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if "
                    "it was previously negative)\n  core.PodSpec{\n");
    ASSERT_CONTAINS(rp, "- \tRestartPolicy: \"Always\",\n+ \tRestartPolicy: \"Never\",\n");
    ek_autofree char *add =
        check("", "Pod",
              "metadata: {name: p, namespace: default, resourceVersion: '7'}\n"
              "spec:\n  activeDeadlineSeconds: 100\n  tolerations: [{key: a, operator: Exists}]\n"
              "  containers: [{name: c, image: i}, {name: d, image: i}]\n",
              POD_OLD);
    ONLY(add, FORB " spec.containers: Forbidden: pod updates may not add or remove containers\n");
    ek_autofree char *ads =
        check("", "Pod",
              "metadata: {name: p, namespace: default, resourceVersion: '7'}\n"
              "spec:\n  activeDeadlineSeconds: 200\n  tolerations: [{key: a, operator: Exists}]\n"
              "  containers: [{name: c, image: 'nginx:1.25'}]\n",
              POD_OLD);
    ONLY(ads, INV " spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to "
                  "previous value\n");
    ek_autofree char *tol =
        check("", "Pod",
              "metadata: {name: p, namespace: default, resourceVersion: '7'}\n"
              "spec:\n  activeDeadlineSeconds: 100\n  tolerations: [{key: b, operator: Exists}]\n"
              "  containers: [{name: c, image: 'nginx:1.25'}]\n",
              POD_OLD);
    ONLY(tol,
         FORB " spec.tolerations: Forbidden: existing toleration can not be modified except its "
              "tolerationSeconds\n");
}

/* ---- apps ---- */

#define DEP_HEAD \
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n"
#define TEMPLATE_WEB                                    \
    "  template:\n    metadata: {labels: {app: web}}\n" \
    "    spec: {containers: [{name: nginx, image: 'nginx:1.25', ports: [{containerPort: 80}]}]}\n"

TEST(validate_deployment)
{
    ek_autofree char *ok =
        check("apps", "Deployment",
              DEP_HEAD "spec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n" TEMPLATE_WEB,
              NULL);
    VALID(ok);
    /* The trace's dep-nosel.yaml, as kube-apiserver answers it. */
    ek_autofree char *nosel =
        check("apps", "Deployment", DEP_HEAD "spec:\n  replicas: 2\n" TEMPLATE_WEB, NULL);
    ONLY(nosel,
         REQ " spec.selector: Required value\n" INV
             " spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: "
             "`selector` does not match template `labels`\n");
    ek_autofree char *e =
        check("apps", "Deployment",
              DEP_HEAD
              "spec:\n  replicas: -1\n  selector: {}\n"
              "  minReadySeconds: 700\n"
              "  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}\n"
              "  template:\n    metadata: {labels: {app: web}}\n"
              "    spec:\n      restartPolicy: Never\n      activeDeadlineSeconds: 5\n"
              "      containers: [{name: c}]\n",
              NULL);
    HAS(e, INV, "spec.replicas", "Invalid value: -1: must be greater than or equal to 0");
    HAS(e, INV, "spec.selector",
        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
        "deployment");
    HAS(e, REQ, "spec.template.spec.containers[0].image", "Required value");
    HAS(e, NSUP, "spec.template.spec.restartPolicy",
        "Unsupported value: \"Never\": supported values: \"Always\"");
    HAS(e, INV, "spec.template.spec.activeDeadlineSeconds",
        "Invalid value: 5: activeDeadlineSeconds in ReplicaSet is not Supported");
    HAS(e, INV, "spec.strategy.rollingUpdate.maxUnavailable",
        "Invalid value: 0: may not be 0 when `maxSurge` is 0");
    HAS(e, INV, "spec.progressDeadlineSeconds",
        "Invalid value: 600: must be greater than minReadySeconds");
    ek_autofree char *st =
        check("apps", "Deployment",
              DEP_HEAD "spec:\n  selector: {matchLabels: {app: web}}\n"
                       "  strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}\n" TEMPLATE_WEB,
              NULL);
    ONLY(st,
         FORB " spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` "
              "is 'Recreate'\n");
    ek_autofree char *bad = check("apps", "Deployment",
                                  DEP_HEAD "spec:\n  selector: {matchLabels: {app: web}}\n"
                                           "  strategy: {type: Canary}\n" TEMPLATE_WEB,
                                  NULL);
    ONLY(bad, NSUP
         " spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"Canary\", "
         "RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", "
         "\"RollingUpdate\"\n");
    ek_autofree char *pct =
        check("apps", "Deployment",
              DEP_HEAD
              "spec:\n  selector: {matchLabels: {app: web}}\n"
              "  strategy: {rollingUpdate: {maxSurge: 'x%', maxUnavailable: 150%}}\n" TEMPLATE_WEB,
              NULL);
    ONLY(pct,
         INV " spec.strategy.rollingUpdate.maxSurge: Invalid value: x%: a valid percent string "
             "must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used "
             "for validation is '[0-9]+%')\n" INV
             " spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 150%: must not be "
             "greater than 100%\n");
}

TEST(validate_deployment_selector_immutable)
{
    const char *old = DEP_HEAD "spec:\n  selector: {matchLabels: {app: web}}\n" TEMPLATE_WEB;
    ek_autofree char *e = check("apps", "Deployment",
                                "metadata: {name: web, namespace: default, resourceVersion: '2'}\n"
                                "spec:\n  selector: {matchLabels: {app: web, v: '2'}}\n"
                                "  template:\n    metadata: {labels: {app: web, v: '2'}}\n"
                                "    spec: {containers: [{name: nginx, image: 'nginx:1.25'}]}\n",
                                old);
    ONLY(e, INV
         " spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":"
         "\"web\", \"v\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is "
         "immutable\n");
}

TEST(validate_replicaset_daemonset_statefulset)
{
    ek_autofree char *rs = check("apps", "ReplicaSet",
                                 "metadata: {name: r, namespace: d}\n"
                                 "spec:\n  selector: {matchExpressions: [{key: app, operator: In, "
                                 "values: [web]}]}\n" TEMPLATE_WEB,
                                 NULL);
    VALID(rs);
    ek_autofree char *rs2 =
        check("apps", "ReplicaSet",
              "metadata: {name: r, namespace: d}\n"
              "spec:\n  selector: {matchExpressions: [{key: app, operator: Near}]}\n" TEMPLATE_WEB,
              NULL);
    HAS(rs2, INV, "spec.selector.matchExpressions[0].operator",
        "Invalid value: \"Near\": not a valid selector operator");
    ek_autofree char *ds = check("apps", "DaemonSet",
                                 "metadata: {name: d, namespace: d}\n"
                                 "spec:\n  selector: {matchLabels: {app: other}}\n"
                                 "  updateStrategy: {type: RollingUpdate, rollingUpdate: "
                                 "{maxSurge: 1, maxUnavailable: 1}}\n" TEMPLATE_WEB,
                                 NULL);
    ONLY(ds,
         INV " spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: "
             "`selector` does not match template `labels`\n" INV
             " spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when "
             "maxUnavailable is non-zero\n");
    ek_autofree char *sts =
        check("apps", "StatefulSet",
              "metadata: {name: db, namespace: d}\n"
              "spec:\n  serviceName: db\n  selector: {matchLabels: {app: web}}\n"
              "  podManagementPolicy: Random\n"
              "  persistentVolumeClaimRetentionPolicy: {whenDeleted: Keep}\n"
              "  updateStrategy: {type: OnDelete, rollingUpdate: {partition: 1}}\n" TEMPLATE_WEB,
              NULL);
    HAS(sts, INV, "spec.podManagementPolicy",
        "Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'");
    HAS(sts, INV, "spec.updateStrategy.rollingUpdate",
        "Invalid value: map[string]interface {}{\"partition\":1}: only allowed for updateStrategy "
        "'RollingUpdate'");
    HAS(sts, NSUP, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
        "Unsupported value: \"Keep\": supported values: \"Delete\", \"Retain\"");
    const char *old =
        "metadata: {name: db, namespace: d, resourceVersion: '3'}\n"
        "spec:\n  serviceName: db\n  selector: {matchLabels: {app: web}}\n" TEMPLATE_WEB;
    ek_autofree char *up = check("apps", "StatefulSet",
                                 "metadata: {name: db, namespace: d, resourceVersion: '3'}\n"
                                 "spec:\n  serviceName: other\n  replicas: 5\n  selector: "
                                 "{matchLabels: {app: web}}\n" TEMPLATE_WEB,
                                 old);
    ONLY(up, FORB " spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
                  "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
                  "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden\n");
    ek_autofree char *scale = check("apps", "StatefulSet",
                                    "metadata: {name: db, namespace: d, resourceVersion: '3'}\n"
                                    "spec:\n  serviceName: db\n  replicas: 5\n  selector: "
                                    "{matchLabels: {app: web}}\n" TEMPLATE_WEB,
                                    old);
    VALID(scale);
}

/* ---- batch ---- */

TEST(validate_job)
{
    const char *generated =
        "metadata: {name: pi, namespace: d, uid: u-1}\n"
        "spec:\n  selector: {matchLabels: {batch.kubernetes.io/controller-uid: u-1}}\n"
        "  template:\n    metadata:\n      labels: {batch.kubernetes.io/controller-uid: u-1,\n"
        "               batch.kubernetes.io/job-name: pi, controller-uid: u-1, job-name: pi}\n"
        "    spec:\n      restartPolicy: Never\n"
        "      containers: [{name: pi, image: perl, command: [perl, -e, 'print 1']}]\n";
    ek_autofree char *ok = check("batch", "Job", generated, NULL);
    VALID(ok);
    ek_autofree char *e =
        check("batch", "Job",
              "metadata: {name: pi, namespace: d}\n"
              "spec:\n  manualSelector: true\n  backoffLimit: -1\n  completionMode: Indexed\n"
              "  parallelism: 2\n"
              "  template: {spec: {containers: [{name: c, image: i}]}}\n",
              NULL);
    HAS(e, INV, "spec.backoffLimit", "Invalid value: -1: must be greater than or equal to 0");
    HAS(e, REQ, "spec.template.spec.restartPolicy",
        "Required value: valid values: \"OnFailure\", \"Never\"");
    HAS(e, REQ, "spec.selector", "Required value");
    HAS(e, INV, "spec.template.metadata.labels",
        "Invalid value: map[string]string(nil): `selector` does not match template `labels`");
    ek_autofree char *rp =
        check("batch", "Job",
              "metadata: {name: j, namespace: d}\n"
              "spec:\n  manualSelector: true\n  selector: {matchLabels: {a: b}}\n"
              "  template: {metadata: {labels: {a: b}}, spec: {restartPolicy: Sometimes,"
              " containers: [{name: c, image: i}]}}\n",
              NULL);
    ONLY(rp, NSUP " spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported "
                  "values: \"Always\", \"OnFailure\", \"Never\"\n" NSUP
                  " spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported "
                  "values: \"OnFailure\", \"Never\"\n");
    /* Without the generated labels (the server adds them before validating). */
    ek_autofree char *gen =
        check("batch", "Job",
              "metadata: {name: pi, namespace: d}\n"
              "spec:\n  selector: {matchLabels: {x: z}}\n"
              "  template: {metadata: {labels: {x: z}}, spec: {restartPolicy: Never,"
              " containers: [{name: c, image: i}]}}\n",
              NULL);
    HAS(gen, REQ, "metadata.uid", "Required value");
    HAS(gen, REQ, "spec.template.metadata.labels[controller-uid]", "Required value: must be ''");
    HAS(gen, INV, "spec.selector",
        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"x\":\"z\"}, "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated");
    const char *old =
        "metadata: {name: pi, namespace: d, uid: u-1, resourceVersion: '1'}\n"
        "spec:\n  selector: {matchLabels: {batch.kubernetes.io/controller-uid: u-1}}\n"
        "  template:\n    metadata:\n      labels: {batch.kubernetes.io/controller-uid: u-1,\n"
        "               batch.kubernetes.io/job-name: pi, controller-uid: u-1, job-name: pi}\n"
        "    spec:\n      restartPolicy: Never\n      containers: [{name: pi, image: perl}]\n";
    ek_autofree char *up = check(
        "batch", "Job",
        "metadata: {name: pi, namespace: d, uid: u-1, resourceVersion: '1'}\n"
        "spec:\n  completions: 3\n  selector: {matchLabels: {batch.kubernetes.io/controller-uid: "
        "u-1}}\n"
        "  template:\n    metadata:\n      labels: {batch.kubernetes.io/controller-uid: u-1,\n"
        "               batch.kubernetes.io/job-name: pi, controller-uid: u-1, job-name: pi}\n"
        "    spec:\n      restartPolicy: Never\n      containers: [{name: pi, image: perl:2}]\n",
        old);
    ONLY(up, INV " spec.completions: Invalid value: 3: field is immutable\n" INV
                 " spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable\n");
}

TEST(validate_cron_schedules)
{
    static const struct {
        const char *spec, *err;
    } cases[] = {
        { "*/5 * * * *", NULL },
        { "0 0 1,15 * MON-FRI", NULL },
        { "@hourly", NULL },
        { "@every 1h30m", NULL },
        { "30 4 * jan,Feb sun", NULL },
        { "bad", "expected exactly 5 fields, found 1: [bad]" },
        { "* * * *", "expected exactly 5 fields, found 4: [* * * *]" },
        { "60 * * * *", "end of range (60) above maximum (59): 60" },
        { "* 24 * * *", "end of range (24) above maximum (23): 24" },
        { "* * 0 * *", "beginning of range (0) below minimum (1): 0" },
        { "* * * 13 *", "end of range (13) above maximum (12): 13" },
        { "* * * * 7", "end of range (7) above maximum (6): 7" },
        { "5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1" },
        { "*/0 * * * *", "step of range should be a positive number: */0" },
        { "x * * * *", "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax" },
        { "1-2-3 * * * *", "too many hyphens: 1-2-3" },
        { "1/2/3 * * * *", "too many slashes: 1/2/3" },
        { "@weekday", "unrecognized descriptor: @weekday" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        char *err = ek__cron_error(cases[i].spec);
        if (cases[i].err) {
            ASSERT_STREQ(err, cases[i].err);
        } else if (err) {
            ek__test_fail(__FILE__, __LINE__, "%s: unexpected error %s", cases[i].spec, err);
        }
        free(err);
    }
}

TEST(validate_cronjob)
{
    const char *tmpl = "  jobTemplate: {spec: {template: {spec: {restartPolicy: OnFailure,"
                       " containers: [{name: c, image: busybox}]}}}}\n";
    ek_autofree char *okt = ek_xasprintf("metadata: {name: hello, namespace: d}\n"
                                         "spec:\n  schedule: '@daily'\n  timeZone: Etc/UTC\n%s",
                                         tmpl);
    ek_autofree char *ok = check("batch", "CronJob", okt, NULL);
    VALID(ok);
    ek_autofree char *et =
        ek_xasprintf("metadata: {name: this-cronjob-name-is-far-too-long-for-its-jobs-abcdefgh,"
                     " namespace: d}\n"
                     "spec:\n  schedule: '61 * * * *'\n  concurrencyPolicy: Sometimes\n"
                     "  startingDeadlineSeconds: -5\n  successfulJobsHistoryLimit: -1\n"
                     "  timeZone: Mars/Base\n%s",
                     tmpl);
    ek_autofree char *e = check("batch", "CronJob", et, NULL);
    ONLY(
        e, INV
        " spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): "
        "61\n" INV
        " spec.startingDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0\n" INV
        " spec.timeZone: Invalid value: \"Mars/Base\": unknown time zone Mars/Base\n" NSUP
        " spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: "
        "\"Allow\", \"Forbid\", \"Replace\"\n" INV
        " spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to "
        "0\n" INV " metadata.name: Invalid value: "
        "\"this-cronjob-name-is-far-too-long-for-its-jobs-abcdefgh\": "
        "must be no more than 52 characters\n");
    ek_autofree char *tz =
        check("batch", "CronJob",
              "metadata: {name: c, namespace: d}\n"
              "spec:\n  schedule: 'TZ=UTC 0 * * * *'\n"
              "  jobTemplate: {spec: {selector: {matchLabels: {a: b}}, manualSelector: true,"
              " template: {spec: {containers: [{name: c, image: i}]}}}}\n",
              NULL);
    ONLY(tz, INV
         " spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in "
         "schedule, use timeZone field instead\n" REQ
         " spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "
         "\"OnFailure\", \"Never\"\n" INV
         " spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:"
         "map[string]string{\"a\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
         "`selector` will be auto-generated\n" NSUP
         " spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "
         "\"nil\", \"false\"\n");
}

/* ---- services ---- */

#define SVC_HEAD "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"

TEST(validate_service)
{
    ek_autofree char *ok =
        check("", "Service",
              SVC_HEAD "spec:\n  type: NodePort\n  selector: {app: web}\n"
                       "  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080},\n"
                       "          {name: https, port: 443, appProtocol: https}]\n",
              NULL);
    VALID(ok);
    ek_autofree char *noports =
        check("", "Service", SVC_HEAD "spec: {selector: {app: web}}\n", NULL);
    ONLY(noports, REQ " spec.ports: Required value\n");
    ek_autofree char *headless =
        check("", "Service", SVC_HEAD "spec: {clusterIP: None, selector: {a: b}}\n", NULL);
    VALID(headless);
    ek_autofree char *e =
        check("", "Service",
              SVC_HEAD "spec:\n  ports:\n"
                       "  - {port: 80}\n  - {name: Web, port: 0, protocol: ICMP, nodePort: 30001}\n"
                       "  - {name: b, port: 80, targetPort: HTTP_port}\n"
                       "  sessionAffinity: Sticky\n  externalTrafficPolicy: Local\n",
              NULL);
    HAS(e, REQ, "spec.ports[0].name", "Required value");
    HAS(e, INV, "spec.ports[1].name", "Invalid value: \"Web\": " LABEL_MSG);
    HAS(e, INV, "spec.ports[1].port", "Invalid value: 0: must be between 1 and 65535, inclusive");
    HAS(e, NSUP, "spec.ports[1].protocol",
        "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
    HAS(e, INV, "spec.ports[1].targetPort",
        "Invalid value: 0: must be between 1 and 65535, inclusive");
    HAS(e, INV, "spec.ports[2].targetPort",
        "Invalid value: \"HTTP_port\": must contain only alpha-numeric characters (a-z, 0-9), and "
        "hyphens (-)");
    HAS(e, NSUP, "spec.sessionAffinity",
        "Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"");
    HAS(e, FORB, "spec.ports[1].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'");
    HAS(e, DUP, "spec.ports[2]",
        "Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", "
        "AppProtocol:(*string)(nil), "
        "Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}");
    HAS(e, INV, "spec.externalTrafficPolicy",
        "Invalid value: \"Local\": may only be set for externally-accessible services");
    ek_autofree char *en = check("", "Service", SVC_HEAD "spec: {type: ExternalName}\n", NULL);
    ONLY(en, REQ " spec.externalName: Required value\n");
    ek_autofree char *en2 = check(
        "", "Service", SVC_HEAD "spec: {type: ExternalName, externalName: 'bad_host.'}\n", NULL);
    ONLY(en2, INV " spec.externalName: Invalid value: \"bad_host\": " SUBDOMAIN_MSG "\n");
    ek_autofree char *ty =
        check("", "Service", SVC_HEAD "spec: {type: Mesh, ports: [{port: 1}]}\n", NULL);
    ONLY(ty, NSUP " spec.type: Unsupported value: \"Mesh\": supported values: \"ClusterIP\", "
                  "\"ExternalName\", \"LoadBalancer\", \"NodePort\"\n");
    ek_autofree char *ip = check(
        "", "Service",
        SVC_HEAD "spec: {clusterIP: 10.43.0.300, ports: [{port: 1}], externalIPs: [127.0.0.1]}\n",
        NULL);
    ONLY(ip, INV
         " spec.clusterIPs[0]: Invalid value: \"10.43.0.300\": must be a valid IP address, (e.g. "
         "10.9.8.7 or 2001:db8::ffff)\n" INV
         " spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range "
         "(127.0.0.0/8, ::1/128)\n");
}

TEST(validate_service_update_cluster_ip_immutable)
{
    const char *old = "metadata: {name: web, namespace: d, resourceVersion: '1'}\n"
                      "spec: {clusterIP: 10.43.0.10, ports: [{port: 80}]}\n";
    ek_autofree char *same = check("", "Service", old, old);
    VALID(same);
    ek_autofree char *e = check("", "Service",
                                "metadata: {name: web, namespace: d, resourceVersion: '1'}\n"
                                "spec: {clusterIP: 10.43.0.11, ports: [{port: 80}]}\n",
                                old);
    ONLY(e, INV
         " spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.11\"}: may not change once set\n");
}

/* ---- config and storage ---- */

TEST(validate_configmap_and_secret)
{
    ek_autofree char *cm =
        check("", "ConfigMap",
              "metadata: {name: c, namespace: d}\ndata: {'bad key': v, ..x: v, ok: v}\n"
              "binaryData: {ok: aGk=}\n",
              NULL);
    HAS(cm, INV, "data[bad key]",
        "Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, "
        "'-', "
        "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')");
    HAS(cm, INV, "data[..x]", "Invalid value: \"..x\": must not start with '..'");
    HAS(cm, INV, "data[ok]", "Invalid value: \"ok\": duplicate of key present in binaryData");
    ek_autofree char *bin = check(
        "", "ConfigMap", "metadata: {name: c, namespace: d}\nbinaryData: {b: 'a?=='}\n", NULL);
    ONLY(bin, INV " binaryData[b]: Invalid value: \"a?==\": illegal base64 data at input byte 1\n");
    size_t big = 1024 * 1024 + 1;
    char *val = ek_xmalloc(big + 1);
    memset(val, 'x', big);
    val[big] = 0;
    ek_auto(json_t) huge =
        json_pack("{s{ssss}s{ss}}", "metadata", "name", "c", "namespace", "d", "data", "k", val);
    free(val);
    ek_field_errors_t errs = { NULL, 0 };
    ASSERT_EQ(ek_validate(ek_resource_by_kind("", NULL, "ConfigMap"), huge, NULL, &errs), 1);
    ASSERT_STREQ(errs.v[0].field, "[]");
    ASSERT_STREQ(errs.v[0].message, "Too long: must have at most 1048576 bytes");
    ek_field_errors_free(&errs);
    ek_autofree char *tls = check("", "Secret",
                                  "metadata: {name: s, namespace: d}\ntype: kubernetes.io/tls\n"
                                  "data: {tls.crt: eA==}\n",
                                  NULL);
    ONLY(tls, REQ " data[tls.key]: Required value\n");
    ek_autofree char *dj = check("", "Secret",
                                 "metadata: {name: s, namespace: d}\n"
                                 "type: kubernetes.io/dockerconfigjson\n",
                                 NULL);
    ONLY(dj, REQ " data[.dockerconfigjson]: Required value\n");
    ek_autofree char *djbad = check("", "Secret",
                                    "metadata: {name: s, namespace: d}\n"
                                    "type: kubernetes.io/dockerconfigjson\n"
                                    "data: {.dockerconfigjson: bm90IGpzb24=}\n",
                                    NULL);
    ASSERT_CONTAINS(djbad, INV
                    " data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": ");
    ek_autofree char *dja = check("", "Secret",
                                  "metadata: {name: s, namespace: d}\n"
                                  "type: kubernetes.io/dockerconfigjson\n"
                                  "data: {.dockerconfigjson: eyJhdXRocyI6e319}\n",
                                  NULL);
    VALID(dja);
    ek_autofree char *b64 =
        check("", "Secret", "metadata: {name: s, namespace: d}\ndata: {k: 'not base64!'}\n", NULL);
    ONLY(b64, INV " data[k]: Invalid value: \"<secret contents redacted>\": illegal base64 data at "
                  "input byte 3\n");
    ek_autofree char *basic = check(
        "", "Secret", "metadata: {name: s, namespace: d}\ntype: kubernetes.io/basic-auth\n", NULL);
    ONLY(basic, REQ " data[username]: Required value\n" REQ " data[password]: Required value\n");
    ek_autofree char *sat = check("", "Secret",
                                  "metadata: {name: s, namespace: d}\n"
                                  "type: kubernetes.io/service-account-token\n",
                                  NULL);
    ONLY(sat, REQ " metadata.annotations[kubernetes.io/service-account.name]: Required value\n");
    const char *old = "metadata: {name: s, namespace: d, resourceVersion: '1'}\nimmutable: "
                      "true\ndata: {k: eA==}\n";
    ek_autofree char *imm =
        check("", "Secret",
              "metadata: {name: s, namespace: d, resourceVersion: '1'}\n"
              "type: kubernetes.io/tls\ndata: {k: eQ==, tls.crt: eA==, tls.key: eA==}\n",
              old);
    ONLY(imm, INV " type: Invalid value: \"kubernetes.io/tls\": field is immutable\n" FORB
                  " immutable: Forbidden: field is immutable when `immutable` is set\n" FORB
                  " data: Forbidden: field is immutable when `immutable` is set\n");
}

TEST(validate_pv_and_pvc)
{
    ek_autofree char *ok =
        check("", "PersistentVolumeClaim",
              "metadata: {name: data, namespace: d}\n"
              "spec: {accessModes: [ReadWriteOnce], storageClassName: local-path,\n"
              "       resources: {requests: {storage: 1Gi}}}\n",
              NULL);
    VALID(ok);
    ek_autofree char *e =
        check("", "PersistentVolumeClaim",
              "metadata: {name: data, namespace: d}\n"
              "spec: {accessModes: [ReadWriteOncePod, Sometimes, ReadOnlyMany], volumeMode: Raw}\n",
              NULL);
    ONLY(e, NSUP
         " spec.accessModes: Unsupported value: \"Sometimes\": supported values: \"ReadOnlyMany\", "
         "\"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"\n" FORB
         " spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes\n" REQ
         " spec.resources[storage]: Required value\n" NSUP
         " spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", "
         "\"Filesystem\"\n");
    ek_autofree char *none = check(
        "", "PersistentVolumeClaim",
        "metadata: {name: data, namespace: d}\nspec: {resources: {requests: {storage: '0'}}}\n",
        NULL);
    ONLY(none, REQ " spec.accessModes: Required value: at least 1 access mode is required\n" INV
                   " spec.resources[storage]: Invalid value: \"0\": must be greater than zero\n");
    const char *old =
        "metadata: {name: data, namespace: d, resourceVersion: '1'}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"
        "status: {phase: Bound, capacity: {storage: 1Gi}}\n";
    ek_autofree char *grow =
        check("", "PersistentVolumeClaim",
              "metadata: {name: data, namespace: d, resourceVersion: '1'}\n"
              "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}\n"
              "status: {phase: Bound}\n",
              old);
    VALID(grow);
    ek_autofree char *change =
        check("", "PersistentVolumeClaim",
              "metadata: {name: data, namespace: d, resourceVersion: '1'}\n"
              "spec: {accessModes: [ReadWriteMany], resources: {requests: {storage: 1Gi}}}\n"
              "status: {phase: Bound}\n",
              old);
    ASSERT_CONTAINS(change,
                    FORB " spec: Forbidden: spec is immutable after creation except "
                         "resources.requests and volumeAttributesClassName for bound claims\n");
    ek_autofree char *pv = check(
        "", "PersistentVolume",
        "metadata: {name: pv1}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce],\n"
        "  hostPath: {path: /data}, nfs: {server: s, path: /x}}\n",
        NULL);
    ONLY(pv, FORB " spec.nfs: Forbidden: may not specify more than 1 volume type\n");
    ek_autofree char *pv2 = check("", "PersistentVolume",
                                  "metadata: {name: pv1}\nspec: {capacity: {cpu: '1'}}\n", NULL);
    ONLY(pv2,
         REQ " spec.accessModes: Required value\n" NSUP
             " spec.capacity: Unsupported value: core.ResourceList{\"cpu\":\"1\"}: supported "
             "values: \"storage\"\n" REQ " spec: Required value: must specify a volume type\n");
    ek_autofree char *local = check(
        "", "PersistentVolume",
        "metadata: {name: pv1}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce],\n"
        "  local: {path: /mnt/disk}}\n",
        NULL);
    ONLY(local, REQ " spec.nodeAffinity: Required value: Local volume requires node affinity\n");
}

TEST(validate_namespace_node_quota_limits)
{
    ek_autofree char *ns =
        check("", "Namespace", "metadata: {name: team}\nspec: {finalizers: [custom]}\n", NULL);
    ONLY(ns, INV
         " spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name "
         "nor is it fully qualified\n");
    ek_autofree char *node =
        check("", "Node",
              "metadata: {name: n1}\n"
              "spec: {taints: [{key: k, effect: NoSchedule}, {key: k, effect: NoSchedule},\n"
              "                {key: j, effect: Sometimes}], podCIDRs: [10.42.0.0/33]}\n",
              NULL);
    ONLY(node,
         DUP " metadata.taints[1]: Duplicate value: core.Taint{Key:\"k\", Value:\"\", "
             "Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and "
             "effect pair\n" NSUP
             " metadata.taints[2].effect: Unsupported value: \"Sometimes\": supported values: "
             "\"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"\n" INV
             " spec.podCIDRs[0]: Invalid value: \"10.42.0.0/33\": must be a valid CIDR value, "
             "(e.g. 10.9.8.0/24 or 2001:db8::/64)\n");
    ek_autofree char *rq = check("", "ResourceQuota",
                                 "metadata: {name: q, namespace: d}\n"
                                 "spec: {hard: {pods: 1500m, cpu: '10', widgets: '1'}, scopes: "
                                 "[BestEffort, NotBestEffort]}\n",
                                 NULL);
    ONLY(rq,
         INV " spec.hard[pods]: Invalid value: 1500m: must be an integer\n" INV
             " spec.hard[widgets]: Invalid value: \"widgets\": must be a standard resource type or "
             "fully qualified\n" INV " spec.scopes: Invalid value: []string{\"BestEffort\", "
             "\"NotBestEffort\"}: conflicting scopes\n");
    ek_autofree char *lr =
        check("", "LimitRange",
              "metadata: {name: l, namespace: d}\n"
              "spec:\n  limits:\n  - {type: Container, min: {cpu: '2'}, max: {cpu: '1'}}\n"
              "  - {type: Pod, default: {cpu: '1'}}\n  - {type: Bogus}\n",
              NULL);
    HAS(lr, INV, "spec.limits[0].min[cpu]",
        "Invalid value: 2: min value 2 is greater than max value 1");
    HAS(lr, FORB, "spec.limits[1].default", "Forbidden: may not be specified when `type` is 'Pod'");
    HAS(lr, INV, "spec.limits[2].type",
        "Invalid value: \"Bogus\": must be a standard limit type or fully qualified");
}

TEST(validate_events)
{
    ek_autofree char *ok = check("", "Event",
                                 "metadata: {name: web.1, namespace: default}\n"
                                 "involvedObject: {kind: Pod, name: web, namespace: default}\n"
                                 "reason: Started\nmessage: started\ntype: Normal\n",
                                 NULL);
    VALID(ok);
    ek_autofree char *e = check("", "Event",
                                "metadata: {name: web.1, namespace: default}\n"
                                "involvedObject: {kind: Pod, name: web, namespace: other}\n",
                                NULL);
    ONLY(e, INV
         " involvedObject.namespace: Invalid value: \"other\": does not match event.namespace\n");
    ek_autofree char *v1 = check("events.k8s.io", "Event",
                                 "metadata: {name: e, namespace: default}\nregarding: {kind: Pod, "
                                 "name: p, namespace: default}\n"
                                 "type: Odd\n",
                                 NULL);
    ONLY(v1, REQ " eventTime: Required value\n" INV
                 " type: Invalid value: \"\": has invalid value: Odd\n");
}

/* ---- other groups ---- */

TEST(validate_ingress)
{
    ek_autofree char *ok = check(
        "networking.k8s.io", "Ingress",
        "metadata: {name: web, namespace: d}\n"
        "spec:\n  ingressClassName: traefik\n"
        "  tls: [{hosts: [example.com, '*.example.com'], secretName: tls}]\n"
        "  rules:\n  - host: example.com\n    http:\n      paths:\n"
        "      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n"
        "      - {path: /api, pathType: Exact, backend: {service: {name: api, port: {name: "
        "http}}}}\n",
        NULL);
    VALID(ok);
    ek_autofree char *e =
        check("networking.k8s.io", "Ingress",
              "metadata: {name: web, namespace: d}\n"
              "spec:\n  rules:\n  - host: 10.0.0.1\n    http:\n      paths:\n"
              "      - {path: /a, backend: {service: {name: web, port: {number: 80}}}}\n"
              "      - {path: a//b, pathType: Prefix, backend: {service: {name: 1web}}}\n"
              "      - {path: /, pathType: Regex, backend: {}}\n",
              NULL);
    HAS(e, INV, "spec.rules[0].host",
        "Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address");
    HAS(e, REQ, "spec.rules[0].http.paths[0].pathType",
        "Required value: pathType must be specified");
    HAS(e, INV, "spec.rules[0].http.paths[1].path",
        "Invalid value: \"a//b\": must be an absolute path");
    HAS(e, INV, "spec.rules[0].http.paths[1].path",
        "Invalid value: \"a//b\": must not contain '//'");
    HAS(e, INV, "spec.rules[0].http.paths[1].backend.service.name",
        "Invalid value: \"1web\": " DNS1035_MSG);
    HAS(e, REQ, "spec.rules[0].http.paths[1].backend",
        "Required value: port name or number is required");
    HAS(e, NSUP, "spec.rules[0].http.paths[2].pathType",
        "Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", "
        "\"Prefix\"");
    HAS(e, INV, "spec.rules[0].http.paths[2].backend",
        "Invalid value: \"\": resource or service backend is required");
    ek_autofree char *empty = check("networking.k8s.io", "Ingress",
                                    "metadata: {name: web, namespace: d}\nspec: {}\n", NULL);
    ONLY(empty,
         INV " spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or "
             "`rules` must be specified\n");
}

TEST(validate_networkpolicy_rbac_pdb)
{
    ek_autofree char *np = check(
        "networking.k8s.io", "NetworkPolicy",
        "metadata: {name: n, namespace: d}\n"
        "spec:\n  podSelector: {}\n  ingress:\n"
        "  - from: [{}, {ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/24]}, podSelector: {}}]\n"
        "    ports: [{port: 80, endPort: 70, protocol: ICMP}]\n"
        "  policyTypes: [Ingress, Sideways]\n",
        NULL);
    HAS(np, REQ, "spec.ingress[0].from[0]", "Required value: must specify a peer");
    HAS(np, FORB, "spec.ingress[0].from[1]",
        "Forbidden: may not specify both ipBlock and another peer");
    HAS(np, INV, "spec.ingress[0].ports[0].endPort",
        "Invalid value: 70: must be greater than or equal to `port`");
    HAS(np, NSUP, "spec.ingress[0].ports[0].protocol",
        "Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"");
    HAS(np, NSUP, "spec.policyTypes[1]",
        "Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"");
    ek_autofree char *role =
        check("rbac.authorization.k8s.io", "Role",
              "metadata: {name: r, namespace: d}\n"
              "rules: [{apiGroups: ['']}, {verbs: [get], nonResourceURLs: [/healthz]}]\n",
              NULL);
    ONLY(role,
         REQ " rules[0].verbs: Required value: verbs must contain at least one value\n" REQ
             " rules[0].resources: Required value: resource rules must supply at least one "
             "resource\n" INV
             " rules[1].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules "
             "cannot apply to non-resource URLs\n");
    ek_autofree char *rb =
        check("rbac.authorization.k8s.io", "RoleBinding",
              "metadata: {name: b, namespace: d}\n"
              "roleRef: {kind: Secret, name: r}\n"
              "subjects: [{kind: ServiceAccount, name: Bad_SA}, {kind: Robot, name: x}]\n",
              NULL);
    ONLY(rb, NSUP
         " roleRef.kind: Unsupported value: \"Secret\": supported values: \"Role\", "
         "\"ClusterRole\"\n" INV " subjects[0].name: Invalid value: \"Bad_SA\": " SUBDOMAIN_MSG
         "\n" NSUP
         " subjects[1].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", "
         "\"User\", \"Group\"\n");
    const char *old =
        "metadata: {name: b, namespace: d, resourceVersion: '1'}\nroleRef: {kind: Role, name: r}\n";
    ek_autofree char *rr = check("rbac.authorization.k8s.io", "RoleBinding",
                                 "metadata: {name: b, namespace: d, resourceVersion: "
                                 "'1'}\nroleRef: {kind: Role, name: r2}\n",
                                 old);
    ONLY(rr, INV " roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", "
                 "Kind:\"Role\", Name:\"r2\"}: cannot change roleRef\n");
    ek_autofree char *crb = check("rbac.authorization.k8s.io", "ClusterRoleBinding",
                                  "metadata: {name: b}\nroleRef: {kind: ClusterRole, name: admin}\n"
                                  "subjects: [{kind: ServiceAccount, name: sa}]\n",
                                  NULL);
    ONLY(crb, REQ " subjects[0].namespace: Required value\n");
    ek_autofree char *pdb =
        check("policy", "PodDisruptionBudget",
              "metadata: {name: p, namespace: d}\n"
              "spec: {minAvailable: 120%, selector: {matchLabels: {app: web}}}\n",
              NULL);
    ONLY(pdb, INV " spec.minAvailable: Invalid value: 120%: must not be greater than 100%\n");
    ek_autofree char *both = check(
        "policy", "PodDisruptionBudget",
        "metadata: {name: p, namespace: d}\nspec: {minAvailable: 1, maxUnavailable: -1}\n", NULL);
    ASSERT_CONTAINS(both, INV " spec: Invalid value: policy.PodDisruptionBudgetSpec{");
    ASSERT_CONTAINS(
        both, "}: minAvailable and maxUnavailable cannot be both set\n" INV
              " spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0\n");
}

TEST(validate_scheduling_storage_coordination_discovery)
{
    ek_autofree char *pc = check("scheduling.k8s.io", "PriorityClass",
                                 "metadata: {name: high}\nvalue: 2000000000\n", NULL);
    ONLY(pc, FORB
         " value: Forbidden: maximum allowed value of a user defined priority is 1000000000\n");
    ek_autofree char *sys = check("scheduling.k8s.io", "PriorityClass",
                                  "metadata: {name: system-mine}\nvalue: 10\n", NULL);
    ONLY(sys,
         FORB " metadata.name: Forbidden: priority class names with 'system-' prefix are reserved "
              "for system use only. error: system-mine is not a known system priority class\n");
    const char *old = "metadata: {name: high, resourceVersion: '1'}\nvalue: 10\n";
    ek_autofree char *pcu = check("scheduling.k8s.io", "PriorityClass",
                                  "metadata: {name: high, resourceVersion: '1'}\nvalue: 11\n", old);
    ONLY(pcu, FORB " value: Forbidden: may not be changed in an update.\n");
    ek_autofree char *sc = check("storage.k8s.io", "StorageClass",
                                 "metadata: {name: fast}\nprovisioner: ''\nreclaimPolicy: Recycle\n"
                                 "volumeBindingMode: Later\n",
                                 NULL);
    ONLY(sc, REQ
         " provisioner: Required value\n" NSUP " reclaimPolicy: Unsupported value: \"Recycle\": "
         "supported values: \"Delete\", \"Retain\"\n" NSUP
         " volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", "
         "\"WaitForFirstConsumer\"\n");
    ek_autofree char *lease = check("coordination.k8s.io", "Lease",
                                    "metadata: {name: n1, namespace: kube-node-lease}\n"
                                    "spec: {holderIdentity: n1, leaseDurationSeconds: 0}\n",
                                    NULL);
    ONLY(lease, INV " spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0\n");
    ek_autofree char *es =
        check("discovery.k8s.io", "EndpointSlice",
              "metadata: {name: web-abc, namespace: d}\naddressType: IPv4\n"
              "endpoints: [{addresses: [10.42.0.5]}, {addresses: ['fd00::1']}, {addresses: []}]\n"
              "ports: [{name: http, port: 80}]\n",
              NULL);
    ONLY(
        es, INV
        " endpoints[1].addresses[0]: Invalid value: \"fd00::1\": must be a valid IPv4 address\n" REQ
        " endpoints[2].addresses: Required value: must contain at least 1 address\n");
    ek_autofree char *est = check("discovery.k8s.io", "EndpointSlice",
                                  "metadata: {name: w, namespace: d}\naddressType: IPX\n", NULL);
    ONLY(est, NSUP " addressType: Unsupported value: \"IPX\": supported values: \"FQDN\", "
                   "\"IPv4\", \"IPv6\"\n");
    ek_autofree char *ep =
        check("", "Endpoints",
              "metadata: {name: web, namespace: d}\n"
              "subsets: [{addresses: [{ip: 169.254.1.1}], ports: [{port: 80}, {port: 81}]}, {}]\n",
              NULL);
    ONLY(ep, INV " subsets[0].addresses[0].ip: Invalid value: \"169.254.1.1\": may not be in the "
                 "link-local range (169.254.0.0/16, fe80::/10)\n" REQ
                 " subsets[0].ports[0].name: Required value\n" REQ
                 " subsets[0].ports[1].name: Required value\n" REQ
                 " subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`\n");
}

TEST(validate_hpa_csr_crd)
{
    ek_autofree char *ok = check("autoscaling", "HorizontalPodAutoscaler",
                                 "metadata: {name: web, namespace: d}\n"
                                 "spec: {maxReplicas: 5, scaleTargetRef: {apiVersion: apps/v1, "
                                 "kind: Deployment, name: web}}\n",
                                 NULL);
    VALID(ok);
    ek_autofree char *hpa =
        check("autoscaling", "HorizontalPodAutoscaler",
              "metadata: {name: web, namespace: d}\n"
              "spec:\n  minReplicas: 3\n  maxReplicas: 2\n  scaleTargetRef: {kind: Deployment}\n"
              "  metrics: [{type: Pods}, {type: Magic}]\n",
              NULL);
    ONLY(hpa, INV
         " spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`\n" REQ
         " spec.scaleTargetRef.name: Required value\n" REQ
         " spec.metrics[0].pods: Required value: must populate information for the given metric "
         "source\n" NSUP " spec.metrics[1].type: Unsupported value: \"Magic\": supported values: "
         "\"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\"\n");
    ek_autofree char *csr =
        check("certificates.k8s.io", "CertificateSigningRequest",
              "metadata: {name: node-csr}\n"
              "spec: {request: '', signerName: example/signer, usages: [client auth, flying],\n"
              "       expirationSeconds: 60}\n",
              NULL);
    ONLY(
        csr, INV
        " spec.request: Invalid value: []byte{...}: PEM block type must be CERTIFICATE "
        "REQUEST\n" NSUP
        " spec.usages[1]: Unsupported value: \"flying\": supported values: \"any\", \"cert sign\", "
        "\"client auth\", \"code signing\", \"content commitment\", \"crl sign\", \"data "
        "encipherment\", "
        "\"decipher only\", \"digital signature\", \"email protection\", \"encipher only\", "
        "\"ipsec end system\", \"ipsec tunnel\", \"ipsec user\", \"key agreement\", \"key "
        "encipherment\", "
        "\"microsoft sgc\", \"netscape sgc\", \"ocsp signing\", \"s/mime\", \"server auth\", "
        "\"signing\", "
        "\"timestamping\"\n" INV
        " spec.signerName: Invalid value: \"example\": should be a domain with at least two "
        "segments separated by dots\n" INV
        " spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 "
        "seconds (10 minutes)\n");
    ek_autofree char *crd = check("apiextensions.k8s.io", "CustomResourceDefinition",
                                  "metadata: {name: widgets.example.com}\n"
                                  "spec:\n  group: example.com\n  scope: Namespaced\n"
                                  "  names: {plural: widgets, kind: Widget}\n"
                                  "  versions: [{name: v1, served: true, storage: true}]\n",
                                  NULL);
    VALID(crd);
    ek_autofree char *crd2 = check("apiextensions.k8s.io", "CustomResourceDefinition",
                                   "metadata: {name: widgets}\n"
                                   "spec:\n  group: example\n  scope: Global\n"
                                   "  names: {plural: Widgets, kind: Widget, listKind: Widget}\n"
                                   "  versions: [{name: v1, served: true}]\n",
                                   NULL);
    HAS(crd2, INV, "metadata.name",
        "Invalid value: \"widgets\": must be spec.names.plural+\".\"+spec.group");
    HAS(crd2, INV, "spec.group",
        "Invalid value: \"example\": should be a domain with at least one dot");
    HAS(crd2, NSUP, "spec.scope",
        "Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"");
    HAS(crd2, INV, "spec.names.listKind",
        "Invalid value: \"Widget\": kind and listKind may not be the same");
    HAS(crd2, INV, "spec.versions",
        "Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: must have exactly "
        "one "
        "version marked as storage version");
}

TEST(validate_custom_and_virtual_kinds)
{
    ek_resource_t cr = { .group = "example.com",
                         .version = "v1",
                         .kind = "Widget",
                         .plural = "widgets",
                         .singular = "widget",
                         .namespaced = true,
                         .flags = EK_RES_CUSTOM };
    ek_auto(json_t) obj = yaml("metadata: {name: Bad_Name}\nspec: {anything: goes}\n");
    ek_field_errors_t errs = { NULL, 0 };
    ASSERT_EQ(ek_validate(&cr, obj, NULL, &errs), 2);
    ASSERT_STREQ(errs.v[0].field, "metadata.name");
    ASSERT_STREQ(errs.v[1].message, "Required value");
    ek_field_errors_free(&errs);
    const ek_resource_t *tr = ek_resource_by_kind("authentication.k8s.io", NULL, "TokenReview");
    ek_auto(json_t) review = yaml("spec: {token: abc}\n");
    ASSERT_EQ(ek_validate(tr, review, NULL, &errs), 0);
}

/* Manifests as people write them (the shapes of common Helm charts and the k3s add-ons). */
static const char realistic[] =
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: monitoring}\n---\n"
    "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: agent, namespace: monitoring}\n---\n"
    "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: node-exporter, namespace: monitoring}\n"
    "spec:\n  selector: {matchLabels: {app: node-exporter}}\n"
    "  updateStrategy: {rollingUpdate: {maxUnavailable: 10%}}\n"
    "  template:\n    metadata: {labels: {app: node-exporter}, annotations: {prometheus.io/scrape: "
    "'true'}}\n"
    "    spec:\n      hostNetwork: true\n      hostPID: true\n      serviceAccountName: agent\n"
    "      tolerations: [{operator: Exists}]\n"
    "      containers:\n      - name: exporter\n        image: "
    "quay.io/prometheus/node-exporter:v1.8.0\n"
    "        args: [--path.rootfs=/host]\n        ports: [{name: metrics, containerPort: 9100, "
    "hostPort: 9100}]\n"
    "        volumeMounts: [{name: root, mountPath: /host, readOnly: true, mountPropagation: "
    "HostToContainer}]\n"
    "        resources: {limits: {memory: 180Mi}, requests: {cpu: 102m, memory: 180Mi}}\n"
    "      volumes: [{name: root, hostPath: {path: /}}]\n---\n"
    "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: monitoring}\n"
    "spec:\n  serviceName: db\n  replicas: 3\n  selector: {matchLabels: {app: db}}\n"
    "  template:\n    metadata: {labels: {app: db}}\n"
    "    spec:\n      containers:\n      - name: pg\n        image: postgres:16\n"
    "        env: [{name: PGDATA, value: /var/lib/postgresql/data/pgdata}]\n"
    "        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]\n"
    "  volumeClaimTemplates:\n  - metadata: {name: data}\n"
    "    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}\n---\n"
    "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: monitoring}\n"
    "spec: {clusterIP: None, selector: {app: db}, ports: [{name: pg, port: 5432}]}\n---\n"
    "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: backup, namespace: monitoring}\n"
    "spec:\n  schedule: '0 3 * * *'\n  concurrencyPolicy: Forbid\n"
    "  jobTemplate:\n    spec:\n      backoffLimit: 2\n      template:\n        spec:\n"
    "          restartPolicy: OnFailure\n"
    "          containers: [{name: dump, image: postgres:16, command: [pg_dumpall]}]\n---\n"
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: "
    "monitoring}\n"
    "spec:\n  podSelector: {matchLabels: {app: db}}\n  policyTypes: [Ingress]\n"
    "  ingress: [{from: [{podSelector: {matchLabels: {role: api}}}, {ipBlock: {cidr: 10.42.0.0/16,"
    " except: [10.42.9.0/24]}}], ports: [{port: 5432}]}]\n---\n"
    "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: db, namespace: "
    "monitoring}\n"
    "spec: {maxUnavailable: 1, selector: {matchLabels: {app: db}}}\n---\n"
    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: api, namespace: "
    "monitoring}\n"
    "spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}\n  minReplicas: "
    "2\n"
    "  maxReplicas: 10\n"
    "  metrics: [{type: Resource, resource: {name: memory, target: {type: AverageValue, "
    "averageValue: 500Mi}}}]\n"
    "  behavior: {scaleDown: {stabilizationWindowSeconds: 120, policies: [{type: Pods, value: 1, "
    "periodSeconds: 60}]}}\n---\n"
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: "
    "'system:agent'}\n"
    "rules: [{apiGroups: [''], resources: [nodes, nodes/metrics], verbs: [get, list, watch]},"
    " {nonResourceURLs: [/metrics], verbs: [get]}]\n---\n"
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: agent}\n"
    "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: 'system:agent'}\n"
    "subjects: [{kind: ServiceAccount, name: agent, namespace: monitoring}, {kind: Group, name: "
    "'system:nodes'}]\n---\n"
    "apiVersion: v1\nkind: Secret\nmetadata: {name: tls, namespace: monitoring}\ntype: "
    "kubernetes.io/tls\n"
    "data: {tls.crt: LS0tLS1CRUdJTg==, tls.key: LS0tLS1CRUdJTg==}\n---\n"
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: monitoring}\n"
    "data: {app.yaml: 'level: info', LOG_LEVEL: debug}\n---\n"
    "apiVersion: v1\nkind: LimitRange\nmetadata: {name: defaults, namespace: monitoring}\n"
    "spec: {limits: [{type: Container, default: {cpu: 500m, memory: 256Mi}, defaultRequest: {cpu: "
    "100m},"
    " max: {cpu: '2'}}]}\n---\n"
    "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: monitoring}\n"
    "spec: {hard: {pods: '20', requests.cpu: '4', limits.memory: 8Gi, count/deployments.apps: "
    "'5'}}\n---\n"
    "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: local-1}\n"
    "spec:\n  capacity: {storage: 20Gi}\n  accessModes: [ReadWriteOnce]\n  storageClassName: "
    "local\n"
    "  local: {path: /mnt/disk1}\n  nodeAffinity: {required: {nodeSelectorTerms: "
    "[{matchExpressions:"
    " [{key: kubernetes.io/hostname, operator: In, values: [pi-1]}]}]}}\n---\n"
    "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local-path}\n"
    "provisioner: rancher.io/local-path\nvolumeBindingMode: WaitForFirstConsumer\n---\n"
    "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: traefik}\n"
    "spec: {controller: traefik.io/ingress-controller}\n---\n"
    "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 100000\n"
    "globalDefault: false\n---\n"
    "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: pi-1, namespace: "
    "kube-node-lease}\n"
    "spec: {holderIdentity: pi-1, leaseDurationSeconds: 40}\n---\n"
    "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: db-x1, namespace: "
    "monitoring}\n"
    "addressType: IPv4\nendpoints: [{addresses: [10.42.1.7], conditions: {ready: true}, nodeName: "
    "pi-1}]\n"
    "ports: [{name: pg, port: 5432}]\n---\n"
    "apiVersion: v1\nkind: Node\nmetadata: {name: pi-1, labels: {kubernetes.io/arch: arm64}}\n"
    "spec: {podCIDR: 10.42.1.0/24, podCIDRs: [10.42.1.0/24], taints: [{key: dedicated, value: db, "
    "effect: NoSchedule}]}\n"
    "status: {capacity: {cpu: '4', memory: 7936Mi, pods: '110'}}\n";

TEST(validate_realistic_manifests_pass)
{
    ek_error_t *err = NULL;
    ek_auto(json_t) docs = ek_yaml_to_json_docs(realistic, strlen(realistic), &err);
    ASSERT_OK(docs ? 0 : -1, &err);
    ASSERT_EQ(json_array_size(docs), 22);
    size_t i;
    json_t *doc;
    json_array_foreach (docs, i, doc) {
        const char *av = ek_json_str(doc, "apiVersion", NULL);
        const char *slash = strchr(av, '/');
        ek_autofree char *group = slash ? ek_xstrndup(av, (size_t)(slash - av)) : ek_xstrdup("");
        const ek_resource_t *r = ek_resource_by_kind(group, NULL, ek_json_str(doc, "kind", NULL));
        ASSERT_NOT_NULL(r);
        ek_defaults_apply(r, doc);
        ek_field_errors_t errs = { NULL, 0 };
        if (ek_validate(r, doc, NULL, &errs) != 0) {
            ek__test_fail(__FILE__, __LINE__, "%s %s: %s: %s", r->kind,
                          ek_json_str(doc, "metadata", "name", NULL), errs.v[0].field,
                          errs.v[0].message);
        }
    }
}

/* Replaces, one at a time, every member down to depth 4 with values of the wrong type. */
static void mutate_and_validate(const ek_resource_t *r, json_t *root, json_t *node, int depth,
                                size_t *runs)
{
    if (depth > 4 || !(json_is_object(node) || json_is_array(node))) {
        return;
    }
    json_t *wrong[] = { json_string("x"), json_integer(-7), json_real(0.5), json_true(),
                        json_null(),      json_array(),     json_object() };
    size_t n = json_is_object(node) ? json_object_size(node) : json_array_size(node);
    void *it = json_is_object(node) ? json_object_iter(node) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *key = it ? json_object_iter_key(it) : NULL;
        json_t *orig = json_incref(key ? json_object_iter_value(it) : json_array_get(node, i));
        for (size_t w = 0; w < EK_ARRAY_SIZE(wrong); w++) {
            if (key) {
                json_object_set(node, key, wrong[w]);
            } else {
                json_array_set(node, i, wrong[w]);
            }
            ek_auto(json_t) copy = json_deep_copy(root);
            ek_defaults_apply(r, copy);
            ek_field_errors_t errs = { NULL, 0 };
            ek_validate(r, copy, NULL, &errs);
            ek_validate(r, copy, root, &errs);
            ek_field_errors_free(&errs);
            (*runs)++;
        }
        if (key) {
            json_object_set(node, key, orig);
        } else {
            json_array_set(node, i, orig);
        }
        mutate_and_validate(r, root, orig, depth + 1, runs);
        json_decref(orig);
        it = it ? json_object_iter_next(node, it) : NULL;
    }
    for (size_t w = 0; w < EK_ARRAY_SIZE(wrong); w++) {
        json_decref(wrong[w]);
    }
}

TEST_T(validate_survives_wrong_types, 240)
{
    ek_error_t *err = NULL;
    ek_auto(json_t) docs = ek_yaml_to_json_docs(realistic, strlen(realistic), &err);
    ASSERT_OK(docs ? 0 : -1, &err);
    /* Add the richest pod and a few kinds not in the realistic set. */
    json_array_append_new(
        docs, yaml("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: d}\n"
                   "spec:\n  containers:\n  - name: c\n    image: i\n"
                   "    env: [{name: A, valueFrom: {fieldRef: {fieldPath: x}}}]\n"
                   "    livenessProbe: {httpGet: {port: 1}}\n"
                   "    resources: {limits: {cpu: '1'}}\n"
                   "    volumeMounts: [{name: v, mountPath: /v}]\n"
                   "  volumes: [{name: v, projected: {sources: [{secret: {name: s}}]}}]\n"
                   "  affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution:"
                   " [{topologyKey: z}]}}\n"));
    json_array_append_new(
        docs, yaml("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: d}\n"
                   "spec: {selector: {matchLabels: {a: b}}, template: {spec: {containers:"
                   " [{name: c, image: i}]}}}\n"));
    json_array_append_new(docs,
                          yaml("apiVersion: networking.k8s.io/v1\nkind: Ingress\n"
                               "metadata: {name: i, namespace: d}\nspec: {rules: [{host: a.b, http:"
                               " {paths: [{path: /, pathType: Prefix, backend: {service: {name: s,"
                               " port: {number: 1}}}}]}}]}\n"));
    size_t i, runs = 0;
    json_t *doc;
    json_array_foreach (docs, i, doc) {
        const char *av = ek_json_str(doc, "apiVersion", NULL);
        const char *slash = strchr(av, '/');
        ek_autofree char *group = slash ? ek_xstrndup(av, (size_t)(slash - av)) : ek_xstrdup("");
        const ek_resource_t *r = ek_resource_by_kind(group, NULL, ek_json_str(doc, "kind", NULL));
        ASSERT_NOT_NULL(r);
        mutate_and_validate(r, doc, doc, 0, &runs);
    }
    ASSERT_CMP(runs, >, 1000);
}
