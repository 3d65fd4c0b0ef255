/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Defaulting: for each kind a minimal manifest is defaulted and compared, as JSON, with the
 * object kube-apiserver 1.32 stores for it (as `kubectl get -o yaml` shows it, less the
 * fields other parts of the server fill: uid, timestamps, cluster IPs, status).
 */
#include "api/api.h"
#include "tests/unit/test.h"

static json_t *yaml(const char *text)
{
    ek_error_t *err = NULL;
    json_t *v = ek_yaml_to_json(text, strlen(text), &err);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "bad test YAML: %s", ek_error_msg(err));
    }
    return v;
}

/* Defaults `in` as group/kind and compares the result with `want`. */
#define EXPECT_DEFAULTS(group, kind, in, want) \
    expect_defaults(__FILE__, __LINE__, group, kind, in, want)

static void expect_defaults(const char *file, int line, const char *group, const char *kind,
                            const char *in, const char *want)
{
    const ek_resource_t *r = ek_resource_by_kind(group, NULL, kind);
    if (!r) {
        ek__test_fail(file, line, "no resource %s/%s", group, kind);
    }
    ek_auto(json_t) obj = yaml(in);
    ek_auto(json_t) exp = yaml(want);
    ek_defaults_apply(r, obj);
    if (!json_equal(obj, exp)) {
        ek_autofree char *got = ek_json_to_yaml(obj);
        ek_autofree char *w = ek_json_to_yaml(exp);
        ek__test_fail(file, line, "defaults differ\n--- got\n%s--- want\n%s", got, w);
    }
    /* Defaulting is idempotent: a stored object read back and re-defaulted is unchanged. */
    ek_auto(json_t) again = json_deep_copy(obj);
    ek_defaults_apply(r, again);
    if (!json_equal(obj, again)) {
        ek__test_fail(file, line, "defaulting twice changed the object");
    }
}

#define POD_SPEC_DEFAULTS                      \
    "      dnsPolicy: ClusterFirst\n"          \
    "      restartPolicy: Always\n"            \
    "      schedulerName: default-scheduler\n" \
    "      securityContext: {}\n"              \
    "      terminationGracePeriodSeconds: 30\n"

TEST(defaults_pod_minimal)
{
    EXPECT_DEFAULTS("", "Pod",
                    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"
                    "spec:\n  containers:\n  - {name: c, image: nginx}\n",
                    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"
                    "spec:\n"
                    "  containers:\n"
                    "  - name: c\n    image: nginx\n    imagePullPolicy: Always\n"
                    "    resources: {}\n"
                    "    terminationMessagePath: /dev/termination-log\n"
                    "    terminationMessagePolicy: File\n"
                    "  dnsPolicy: ClusterFirst\n"
                    "  enableServiceLinks: true\n"
                    "  preemptionPolicy: PreemptLowerPriority\n"
                    "  priority: 0\n"
                    "  restartPolicy: Always\n"
                    "  schedulerName: default-scheduler\n"
                    "  securityContext: {}\n"
                    "  terminationGracePeriodSeconds: 30\n");
}

TEST(defaults_pod_containers_probes_env_volumes)
{
    EXPECT_DEFAULTS(
        "", "Pod",
        "metadata: {name: p, namespace: default}\n"
        "spec:\n"
        "  priorityClassName: high\n"
        "  containers:\n"
        "  - name: c\n"
        "    image: registry.local:5000/app:1.2\n"
        "    ports: [{containerPort: 8080}]\n"
        "    env:\n"
        "    - name: NODE\n      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}\n"
        "    - name: MEM\n      valueFrom: {resourceFieldRef: {resource: limits.memory}}\n"
        "    resources: {limits: {cpu: 500m, memory: 1024Mi}, requests: {cpu: 0.1}}\n"
        "    livenessProbe: {httpGet: {port: 8080}}\n"
        "    readinessProbe: {grpc: {port: 9000}, periodSeconds: 5}\n"
        "    lifecycle: {preStop: {httpGet: {port: 80}}}\n"
        "    volumeMounts: [{name: cfg, mountPath: /cfg}]\n"
        "  initContainers:\n"
        "  - {name: init, image: busybox@sha256:abc, resources: {limits: {memory: 64Mi}}}\n"
        "  volumes:\n"
        "  - {name: cfg, configMap: {name: app}}\n"
        "  - {name: sec, secret: {secretName: s}}\n"
        "  - {name: scratch}\n"
        "  - {name: host, hostPath: {path: /var/log}}\n"
        "  - name: info\n    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: "
        "metadata.labels}}]}\n"
        "  - name: tok\n    projected: {sources: [{serviceAccountToken: {path: token}}]}\n",
        "metadata: {name: p, namespace: default}\n"
        "spec:\n"
        "  priorityClassName: high\n"
        "  containers:\n"
        "  - name: c\n"
        "    image: registry.local:5000/app:1.2\n"
        "    imagePullPolicy: IfNotPresent\n"
        "    ports: [{containerPort: 8080, protocol: TCP}]\n"
        "    env:\n"
        "    - name: NODE\n      valueFrom: {fieldRef: {apiVersion: v1, fieldPath: "
        "spec.nodeName}}\n"
        "    - name: MEM\n      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: "
        "'0'}}\n"
        "    resources: {limits: {cpu: 500m, memory: 1Gi}, requests: {cpu: 100m, memory: 1Gi}}\n"
        "    livenessProbe: {httpGet: {port: 8080, path: /, scheme: HTTP}, timeoutSeconds: 1,\n"
        "                    periodSeconds: 10, successThreshold: 1, failureThreshold: 3}\n"
        "    readinessProbe: {grpc: {port: 9000, service: ''}, periodSeconds: 5, timeoutSeconds: "
        "1,\n"
        "                     successThreshold: 1, failureThreshold: 3}\n"
        "    lifecycle: {preStop: {httpGet: {port: 80, path: /, scheme: HTTP}}}\n"
        "    volumeMounts: [{name: cfg, mountPath: /cfg}]\n"
        "    terminationMessagePath: /dev/termination-log\n"
        "    terminationMessagePolicy: File\n"
        "  initContainers:\n"
        "  - name: init\n    image: busybox@sha256:abc\n    imagePullPolicy: IfNotPresent\n"
        "    resources: {limits: {memory: 64Mi}, requests: {memory: 64Mi}}\n"
        "    terminationMessagePath: /dev/termination-log\n"
        "    terminationMessagePolicy: File\n"
        "  volumes:\n"
        "  - {name: cfg, configMap: {name: app, defaultMode: 420}}\n"
        "  - {name: sec, secret: {secretName: s, defaultMode: 420}}\n"
        "  - {name: scratch, emptyDir: {}}\n"
        "  - {name: host, hostPath: {path: /var/log, type: ''}}\n"
        "  - name: info\n    downwardAPI:\n      defaultMode: 420\n"
        "      items: [{path: labels, fieldRef: {apiVersion: v1, fieldPath: metadata.labels}}]\n"
        "  - name: tok\n    projected:\n      defaultMode: 420\n"
        "      sources: [{serviceAccountToken: {path: token, expirationSeconds: 3600}}]\n"
        "  dnsPolicy: ClusterFirst\n"
        "  enableServiceLinks: true\n"
        "  restartPolicy: Always\n"
        "  schedulerName: default-scheduler\n"
        "  securityContext: {}\n"
        "  terminationGracePeriodSeconds: 30\n");
}

TEST(defaults_pod_host_network_and_kept_values)
{
    EXPECT_DEFAULTS("", "Pod",
                    "metadata: {name: p, namespace: default}\n"
                    "spec:\n  hostNetwork: true\n  restartPolicy: Never\n  dnsPolicy: Default\n"
                    "  terminationGracePeriodSeconds: 5\n  enableServiceLinks: false\n"
                    "  containers:\n"
                    "  - {name: c, image: 'nginx:latest', imagePullPolicy: Never,\n"
                    "     ports: [{containerPort: 53, protocol: UDP}]}\n",
                    "metadata: {name: p, namespace: default}\n"
                    "spec:\n  hostNetwork: true\n  restartPolicy: Never\n  dnsPolicy: Default\n"
                    "  terminationGracePeriodSeconds: 5\n  enableServiceLinks: false\n"
                    "  containers:\n"
                    "  - name: c\n    image: 'nginx:latest'\n    imagePullPolicy: Never\n"
                    "    ports: [{containerPort: 53, protocol: UDP, hostPort: 53}]\n"
                    "    resources: {}\n"
                    "    terminationMessagePath: /dev/termination-log\n"
                    "    terminationMessagePolicy: File\n"
                    "  preemptionPolicy: PreemptLowerPriority\n"
                    "  priority: 0\n"
                    "  schedulerName: default-scheduler\n"
                    "  securityContext: {}\n");
}

TEST(defaults_image_pull_policy_by_tag)
{
    static const struct {
        const char *image, *policy;
    } cases[] = {
        { "nginx", "Always" },
        { "nginx:latest", "Always" },
        { "nginx:1.25", "IfNotPresent" },
        { "localhost:5000/nginx", "Always" },
        { "localhost:5000/nginx:2", "IfNotPresent" },
        { "docker.io/library/nginx@sha256:0123", "IfNotPresent" },
        { "NGINX", "IfNotPresent" }, /* unparsable: no tag known */
    };
    const ek_resource_t *r = ek_resource_by_kind("", NULL, "Pod");
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_auto(json_t) pod =
            json_pack("{s{s[{ssss}]}}", "spec", "containers", "name", "c", "image", cases[i].image);
        ek_defaults_apply(r, pod);
        const json_t *c = json_array_get(ek_json_path(pod, "spec", "containers", NULL), 0);
        ASSERT_STREQ(ek_json_str(c, "imagePullPolicy", NULL), cases[i].policy);
    }
}

TEST(defaults_deployment)
{
    EXPECT_DEFAULTS(
        "apps", "Deployment",
        "metadata: {name: web, namespace: default}\n"
        "spec:\n"
        "  selector: {matchLabels: {app: web}}\n"
        "  template:\n"
        "    metadata: {labels: {app: web}}\n"
        "    spec:\n"
        "      containers: [{name: nginx, image: 'nginx:1.25', ports: [{containerPort: 80}]}]\n",
        "metadata: {name: web, namespace: default}\n"
        "spec:\n"
        "  progressDeadlineSeconds: 600\n"
        "  replicas: 1\n"
        "  revisionHistoryLimit: 10\n"
        "  selector: {matchLabels: {app: web}}\n"
        "  strategy:\n"
        "    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}\n"
        "    type: RollingUpdate\n"
        "  template:\n"
        "    metadata: {creationTimestamp: null, labels: {app: web}}\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: nginx\n        image: 'nginx:1.25'\n"
        "        imagePullPolicy: IfNotPresent\n"
        "        ports: [{containerPort: 80, protocol: TCP}]\n"
        "        resources: {}\n"
        "        terminationMessagePath: /dev/termination-log\n"
        "        terminationMessagePolicy: File\n"
        "      dnsPolicy: ClusterFirst\n"
        "      restartPolicy: Always\n"
        "      schedulerName: default-scheduler\n"
        "      securityContext: {}\n"
        "      terminationGracePeriodSeconds: 30\n");
}

TEST(defaults_deployment_recreate_has_no_rolling_update)
{
    EXPECT_DEFAULTS(
        "apps", "Deployment", "spec: {replicas: 3, strategy: {type: Recreate}, template: {}}\n",
        "spec:\n  replicas: 3\n  strategy: {type: Recreate}\n"
        "  revisionHistoryLimit: 10\n  progressDeadlineSeconds: 600\n"
        "  template:\n    metadata: {creationTimestamp: null}\n    spec:\n" POD_SPEC_DEFAULTS);
}

TEST(defaults_replicaset_daemonset)
{
    EXPECT_DEFAULTS("apps", "ReplicaSet", "spec: {template: {}}\n",
                    "spec:\n  replicas: 1\n  template:\n    metadata: {creationTimestamp: null}\n"
                    "    spec:\n" POD_SPEC_DEFAULTS);
    EXPECT_DEFAULTS(
        "apps", "DaemonSet", "spec: {template: {}}\n",
        "spec:\n  revisionHistoryLimit: 10\n"
        "  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}\n"
        "  template:\n    metadata: {creationTimestamp: null}\n    spec:\n" POD_SPEC_DEFAULTS);
    EXPECT_DEFAULTS(
        "apps", "DaemonSet", "spec: {updateStrategy: {type: OnDelete}, template: {}}\n",
        "spec:\n  revisionHistoryLimit: 10\n  updateStrategy: {type: OnDelete}\n"
        "  template:\n    metadata: {creationTimestamp: null}\n    spec:\n" POD_SPEC_DEFAULTS);
}

TEST(defaults_statefulset)
{
    EXPECT_DEFAULTS(
        "apps", "StatefulSet",
        "spec:\n  serviceName: db\n  template: {}\n"
        "  volumeClaimTemplates:\n"
        "  - metadata: {name: data}\n"
        "    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
        "spec:\n  serviceName: db\n"
        "  podManagementPolicy: OrderedReady\n"
        "  persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Retain}\n"
        "  replicas: 1\n  revisionHistoryLimit: 10\n"
        "  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 0}}\n"
        "  template:\n    metadata: {creationTimestamp: null}\n    spec:\n" POD_SPEC_DEFAULTS
        "  volumeClaimTemplates:\n"
        "  - metadata: {name: data, creationTimestamp: null}\n"
        "    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}},\n"
        "           volumeMode: Filesystem}\n"
        "    status: {phase: Pending}\n");
}

TEST(defaults_job_and_cronjob)
{
    EXPECT_DEFAULTS("batch", "Job",
                    "metadata: {name: pi}\n"
                    "spec:\n  template:\n    metadata: {labels: {app: pi}}\n"
                    "    spec: {restartPolicy: Never}\n",
                    "metadata: {name: pi, labels: {app: pi}}\n"
                    "spec:\n  backoffLimit: 6\n  completionMode: NonIndexed\n  completions: 1\n"
                    "  manualSelector: false\n  parallelism: 1\n"
                    "  podReplacementPolicy: TerminatingOrFailed\n  suspend: false\n"
                    "  template:\n    metadata: {creationTimestamp: null, labels: {app: pi}}\n"
                    "    spec:\n      restartPolicy: Never\n      dnsPolicy: ClusterFirst\n"
                    "      schedulerName: default-scheduler\n      securityContext: {}\n"
                    "      terminationGracePeriodSeconds: 30\n");
    /* parallelism alone leaves completions unset; a pod failure policy changes replacement. */
    EXPECT_DEFAULTS("batch", "Job",
                    "spec:\n  parallelism: 3\n  podFailurePolicy:\n"
                    "    rules: [{action: Ignore, onPodConditions: [{type: DisruptionTarget}]}]\n"
                    "  template: {spec: {restartPolicy: Never}}\n",
                    "spec:\n  parallelism: 3\n  backoffLimit: 6\n  completionMode: NonIndexed\n"
                    "  manualSelector: false\n  podReplacementPolicy: Failed\n  suspend: false\n"
                    "  podFailurePolicy:\n"
                    "    rules: [{action: Ignore, onPodConditions: [{type: DisruptionTarget, "
                    "status: 'True'}]}]\n"
                    "  template:\n    metadata: {creationTimestamp: null}\n"
                    "    spec:\n      restartPolicy: Never\n      dnsPolicy: ClusterFirst\n"
                    "      schedulerName: default-scheduler\n      securityContext: {}\n"
                    "      terminationGracePeriodSeconds: 30\n");
    EXPECT_DEFAULTS(
        "batch", "CronJob",
        "spec:\n  schedule: '*/5 * * * *'\n"
        "  jobTemplate: {spec: {template: {spec: {restartPolicy: OnFailure}}}}\n",
        "spec:\n  schedule: '*/5 * * * *'\n  concurrencyPolicy: Allow\n"
        "  failedJobsHistoryLimit: 1\n  successfulJobsHistoryLimit: 3\n  suspend: false\n"
        "  jobTemplate:\n    metadata: {creationTimestamp: null}\n    spec:\n"
        "      template:\n        metadata: {creationTimestamp: null}\n"
        "        spec:\n          restartPolicy: OnFailure\n          dnsPolicy: ClusterFirst\n"
        "          schedulerName: default-scheduler\n          securityContext: {}\n"
        "          terminationGracePeriodSeconds: 30\n");
}

TEST(defaults_service)
{
    EXPECT_DEFAULTS("", "Service",
                    "metadata: {name: web, namespace: default}\n"
                    "spec: {selector: {app: web}, ports: [{port: 80}]}\n",
                    "metadata: {name: web, namespace: default}\n"
                    "spec:\n  internalTrafficPolicy: Cluster\n  ipFamilies: [IPv4]\n"
                    "  ipFamilyPolicy: SingleStack\n"
                    "  ports: [{port: 80, protocol: TCP, targetPort: 80}]\n"
                    "  selector: {app: web}\n  sessionAffinity: None\n  type: ClusterIP\n");
    EXPECT_DEFAULTS(
        "", "Service",
        "spec:\n  type: LoadBalancer\n  sessionAffinity: ClientIP\n  clusterIP: 10.43.0.9\n"
        "  ports: [{name: http, port: 80, targetPort: http, protocol: UDP}]\n",
        "spec:\n  type: LoadBalancer\n  sessionAffinity: ClientIP\n"
        "  sessionAffinityConfig: {clientIP: {timeoutSeconds: 10800}}\n"
        "  clusterIP: 10.43.0.9\n  clusterIPs: [10.43.0.9]\n"
        "  allocateLoadBalancerNodePorts: true\n  externalTrafficPolicy: Cluster\n"
        "  internalTrafficPolicy: Cluster\n  ipFamilies: [IPv4]\n  ipFamilyPolicy: SingleStack\n"
        "  ports: [{name: http, port: 80, targetPort: http, protocol: UDP}]\n");
    EXPECT_DEFAULTS(
        "", "Service", "spec: {type: ExternalName, externalName: example.com}\n",
        "spec: {type: ExternalName, externalName: example.com, sessionAffinity: None}\n");
    EXPECT_DEFAULTS(
        "", "Service", "spec: {clusterIP: None, ports: [{port: 5432}]}\n",
        "spec:\n  clusterIP: None\n  clusterIPs: [None]\n  internalTrafficPolicy: Cluster\n"
        "  ipFamilies: [IPv4]\n  ipFamilyPolicy: RequireDualStack\n"
        "  ports: [{port: 5432, protocol: TCP, targetPort: 5432}]\n"
        "  sessionAffinity: None\n  type: ClusterIP\n");
}

TEST(defaults_core_storage_and_config)
{
    EXPECT_DEFAULTS("", "Secret", "metadata: {name: s}\nstringData: {user: admin, empty: ''}\n",
                    "metadata: {name: s}\ntype: Opaque\ndata: {user: YWRtaW4=, empty: ''}\n");
    EXPECT_DEFAULTS("", "Secret", "type: kubernetes.io/tls\ndata: {tls.crt: eA==, tls.key: eQ==}\n",
                    "type: kubernetes.io/tls\ndata: {tls.crt: eA==, tls.key: eQ==}\n");
    EXPECT_DEFAULTS("", "ConfigMap", "metadata: {name: c}\ndata: {a: b}\n",
                    "metadata: {name: c}\ndata: {a: b}\n");
    EXPECT_DEFAULTS("", "Namespace", "metadata: {name: team-a}\n",
                    "metadata: {name: team-a, labels: {kubernetes.io/metadata.name: team-a}}\n"
                    "spec: {finalizers: [kubernetes]}\nstatus: {phase: Active}\n");
    EXPECT_DEFAULTS(
        "", "PersistentVolume",
        "metadata: {name: pv1}\n"
        "spec: {capacity: {storage: 1024Mi}, accessModes: [ReadWriteOnce], hostPath: {path: "
        "/data}}\n",
        "metadata: {name: pv1}\n"
        "spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce],\n"
        "       hostPath: {path: /data, type: ''}, persistentVolumeReclaimPolicy: Retain,\n"
        "       volumeMode: Filesystem}\n"
        "status: {phase: Pending}\n");
    EXPECT_DEFAULTS(
        "", "PersistentVolumeClaim",
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 0.5Gi}}}\n",
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 512Mi}},\n"
        "       volumeMode: Filesystem}\nstatus: {phase: Pending}\n");
    EXPECT_DEFAULTS(
        "", "LimitRange",
        "spec:\n  limits:\n  - type: Container\n    max: {cpu: '2'}\n    min: {memory: 64Mi}\n"
        "    default: {memory: 512Mi}\n",
        "spec:\n  limits:\n  - type: Container\n    max: {cpu: '2'}\n    min: {memory: 64Mi}\n"
        "    default: {cpu: '2', memory: 512Mi}\n"
        "    defaultRequest: {cpu: '2', memory: 512Mi}\n");
    EXPECT_DEFAULTS(
        "", "Endpoints", "subsets: [{addresses: [{ip: 10.42.0.5}], ports: [{port: 80}]}]\n",
        "subsets: [{addresses: [{ip: 10.42.0.5}], ports: [{port: 80, protocol: TCP}]}]\n");
    EXPECT_DEFAULTS("", "Node",
                    "metadata: {name: n1}\nstatus: {capacity: {cpu: '4', memory: 8Gi}}\n",
                    "metadata: {name: n1}\nstatus: {capacity: {cpu: '4', memory: 8Gi},\n"
                    "         allocatable: {cpu: '4', memory: 8Gi}}\n");
}

TEST(defaults_other_groups)
{
    EXPECT_DEFAULTS(
        "autoscaling", "HorizontalPodAutoscaler",
        "spec: {maxReplicas: 5, scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: "
        "web}}\n",
        "spec:\n  maxReplicas: 5\n  minReplicas: 1\n"
        "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
        "  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, "
        "averageUtilization: 80}}}]\n");
    EXPECT_DEFAULTS(
        "autoscaling", "HorizontalPodAutoscaler",
        "spec: {maxReplicas: 5, behavior: {scaleDown: {selectPolicy: Min}}}\n",
        "spec:\n  maxReplicas: 5\n  minReplicas: 1\n"
        "  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, "
        "averageUtilization: 80}}}]\n"
        "  behavior:\n"
        "    scaleUp: {stabilizationWindowSeconds: 0, selectPolicy: Max, policies:\n"
        "      [{type: Pods, value: 4, periodSeconds: 15}, {type: Percent, value: 100, "
        "periodSeconds: 15}]}\n"
        "    scaleDown: {stabilizationWindowSeconds: 300, selectPolicy: Min, policies:\n"
        "      [{type: Percent, value: 100, periodSeconds: 15}]}\n");
    EXPECT_DEFAULTS("networking.k8s.io", "NetworkPolicy",
                    "spec: {podSelector: {}, egress: [{ports: [{port: 53}]}]}\n",
                    "spec: {podSelector: {}, egress: [{ports: [{port: 53, protocol: TCP}]}],\n"
                    "       policyTypes: [Ingress, Egress]}\n");
    EXPECT_DEFAULTS("networking.k8s.io", "IngressClass",
                    "spec: {controller: x.io/c, parameters: {kind: K, name: n}}\n",
                    "spec: {controller: x.io/c, parameters: {kind: K, name: n, scope: Cluster}}\n");
    EXPECT_DEFAULTS(
        "rbac.authorization.k8s.io", "RoleBinding",
        "roleRef: {kind: Role, name: r}\n"
        "subjects: [{kind: User, name: u}, {kind: ServiceAccount, name: sa, namespace: d}]\n",
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n"
        "subjects: [{kind: User, name: u, apiGroup: rbac.authorization.k8s.io},\n"
        "           {kind: ServiceAccount, name: sa, namespace: d}]\n");
    EXPECT_DEFAULTS("storage.k8s.io", "StorageClass", "provisioner: rancher.io/local-path\n",
                    "provisioner: rancher.io/local-path\nreclaimPolicy: Delete\n"
                    "volumeBindingMode: Immediate\n");
    EXPECT_DEFAULTS("scheduling.k8s.io", "PriorityClass", "value: 1000\n",
                    "value: 1000\npreemptionPolicy: PreemptLowerPriority\n");
    EXPECT_DEFAULTS("discovery.k8s.io", "EndpointSlice", "addressType: IPv4\nports: [{port: 80}]\n",
                    "addressType: IPv4\nports: [{port: 80, name: '', protocol: TCP}]\n");
    EXPECT_DEFAULTS("apiextensions.k8s.io", "CustomResourceDefinition",
                    "spec: {group: x.io, names: {kind: Widget, plural: widgets}}\n",
                    "spec: {group: x.io, names: {kind: Widget, plural: widgets, singular: widget,\n"
                    "       listKind: WidgetList}, conversion: {strategy: None}}\n");
    /* Kinds without defaults are left alone. */
    EXPECT_DEFAULTS("coordination.k8s.io", "Lease", "spec: {holderIdentity: n1}\n",
                    "spec: {holderIdentity: n1}\n");
}

TEST(defaults_prepare_create_generates_job_selector)
{
    const ek_resource_t *job = ek_resource_by_kind("batch", NULL, "Job");
    ek_auto(json_t) obj = yaml("metadata: {name: pi, namespace: d, uid: 1a2b}\n"
                               "spec: {template: {spec: {restartPolicy: Never,"
                               " containers: [{name: c, image: perl}]}}}\n");
    ek_defaults_apply(job, obj);
    ek_defaults_prepare_create(job, obj);
    ek_auto(json_t) want_labels = yaml("{batch.kubernetes.io/controller-uid: 1a2b, "
                                       "batch.kubernetes.io/job-name: pi, controller-uid: 1a2b, "
                                       "job-name: pi}");
    ASSERT_TRUE(
        json_equal(ek_json_path(obj, "spec", "template", "metadata", "labels", NULL), want_labels));
    ASSERT_TRUE(json_equal(ek_json_path(obj, "metadata", "labels", NULL), want_labels));
    ASSERT_STREQ(ek_json_str(obj, "spec", "selector", "matchLabels",
                             "batch.kubernetes.io/controller-uid", NULL),
                 "1a2b");
    ASSERT_EQ(json_object_size(ek_json_path(obj, "spec", "selector", "matchLabels", NULL)), 1);
    /* The result is what validation expects of a Job. */
    ek_field_errors_t errs = { NULL, 0 };
    ASSERT_EQ(ek_validate(job, obj, NULL, &errs), 0);
    /* A manual selector is left alone, and other kinds are untouched. */
    ek_auto(json_t) manual = yaml("metadata: {name: m, uid: u}\nspec: {manualSelector: true}\n");
    ek_auto(json_t) copy = json_deep_copy(manual);
    ek_defaults_prepare_create(job, manual);
    ASSERT_TRUE(json_equal(manual, copy));
    ek_auto(json_t) pod = yaml("metadata: {name: p, uid: u}\n");
    ek_auto(json_t) pod_copy = json_deep_copy(pod);
    ek_defaults_prepare_create(ek_resource_by_kind("", NULL, "Pod"), pod);
    ASSERT_TRUE(json_equal(pod, pod_copy));
}

TEST(defaults_quantities_are_canonical)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "1000m", "1" },
        { "0.5", "500m" },
        { "1024Mi", "1Gi" },
        { "1536Mi", "1536Mi" },
        { "0.5Gi", "512Mi" },
        { "2000", "2k" },
        { "1e3", "1e3" },
        { "1.5e3", "1500" },
        { "100Ki", "100Ki" },
        { "1023Ki", "1023Ki" },
        { "512", "512" },
        { "0.0001", "1m" },
        { "1.0000000001", "1001m" },
        { "+4", "4" },
        { "0", "0" },
        { "12Ei", "9223372036854775807" },
    };
    const ek_resource_t *r = ek_resource_by_kind("", NULL, "ResourceQuota");
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_auto(json_t) rq = json_pack("{s{s{ss}}}", "spec", "hard", "x", cases[i].in);
        ek_defaults_apply(r, rq);
        const char *got = ek_json_str(rq, "spec", "hard", "x", NULL);
        if (!got || strcmp(got, cases[i].out) != 0) {
            ek__test_fail(__FILE__, __LINE__, "%s: got %s, want %s", cases[i].in,
                          got ? got : "(null)", cases[i].out);
        }
    }
}
