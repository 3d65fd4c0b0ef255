/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in kinds' schemas (the files in api/schema/): every kind is there with its type
 * metadata, manifests a reader of a Kubernetes book would apply check clean, mistakes are
 * reported at the path Kubernetes names, and the strategic-merge metadata matches Kubernetes.
 */
#include "api/api.h"
#include "tests/unit/test.h"

struct issues {
    ek_buf_t text;
    int n;
};

static void collect(ek_schema_issue_kind_t kind, const char *path, const char *detail, void *data)
{
    static const char *const names[] = { "unknown", "type", "enum", "required" };
    struct issues *is = data;
    is->n++;
    ek_buf_printf(&is->text, "%s %s%s%s\n", names[kind], path, detail ? ": " : "",
                  detail ? detail : "");
}

static void load(void)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_schema_load(&err), &err);
}

/* The type a manifest's apiVersion and kind name: "apps/v1" Deployment is apps.v1's. */
static const ek_schema_type_t *kind_type(const json_t *obj)
{
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!api || !kind) {
        return NULL;
    }
    const char *slash = strchr(api, '/');
    char pkg[64], id[128];
    if (slash) {
        snprintf(pkg, sizeof(pkg), "%.*s.%s", (int)strcspn(api, "./"), api, slash + 1);
    } else {
        snprintf(pkg, sizeof(pkg), "core.%s", api);
    }
    const ek_schema_type_t *t = ek_schema_type(kind);
    if (t && strcmp(t->package, pkg) == 0) {
        return t;
    }
    snprintf(id, sizeof(id), "%s.%s", pkg, kind);
    t = ek_schema_type(id);
    return t && strcmp(t->package, pkg) == 0 ? t : NULL;
}

/* Checks one YAML manifest against its kind; returns the issues, one per line (caller frees). */
static char *check_yaml(const char *yaml, int *n)
{
    ek_error_t *err = NULL;
    ek_auto(json_t) obj = ek_yaml_to_json(yaml, strlen(yaml), &err);
    if (!obj) {
        ek__test_fail(__FILE__, __LINE__, "bad YAML: %s", ek_error_msg(err));
    }
    const ek_schema_type_t *t = kind_type(obj);
    ASSERT_NOT_NULL(t);
    struct issues is = { EK_BUF_INIT, 0 };
    ek_buf_puts(&is.text, "");
    int count = ek_schema_check(t, obj, collect, &is);
    ASSERT_EQ(count, is.n);
    *n = count;
    return is.text.data;
}

static const ek_schema_field_t *field(const char *type_id, const char *name)
{
    const ek_schema_type_t *t = ek_schema_type(type_id);
    ASSERT_NOT_NULL(t);
    const ek_schema_field_t *f = ek_schema_field(t, name);
    ASSERT_NOT_NULL(f);
    return f;
}

TEST(schema_kinds_have_type_meta)
{
    static const struct {
        const char *id, *package;
    } kinds[] = {
        { "Pod", "core.v1" },
        { "PodTemplate", "core.v1" },
        { "Service", "core.v1" },
        { "Endpoints", "core.v1" },
        { "ConfigMap", "core.v1" },
        { "Secret", "core.v1" },
        { "ServiceAccount", "core.v1" },
        { "Node", "core.v1" },
        { "Namespace", "core.v1" },
        { "Event", "core.v1" },
        { "Binding", "core.v1" },
        { "PersistentVolume", "core.v1" },
        { "PersistentVolumeClaim", "core.v1" },
        { "LimitRange", "core.v1" },
        { "ResourceQuota", "core.v1" },
        { "ReplicationController", "core.v1" },
        { "ComponentStatus", "core.v1" },
        { "Deployment", "apps.v1" },
        { "ReplicaSet", "apps.v1" },
        { "DaemonSet", "apps.v1" },
        { "StatefulSet", "apps.v1" },
        { "ControllerRevision", "apps.v1" },
        { "Job", "batch.v1" },
        { "CronJob", "batch.v1" },
        { "Ingress", "networking.v1" },
        { "IngressClass", "networking.v1" },
        { "NetworkPolicy", "networking.v1" },
        { "EndpointSlice", "discovery.v1" },
        { "Lease", "coordination.v1" },
        { "Role", "rbac.v1" },
        { "ClusterRole", "rbac.v1" },
        { "RoleBinding", "rbac.v1" },
        { "ClusterRoleBinding", "rbac.v1" },
        { "StorageClass", "storage.v1" },
        { "CSIDriver", "storage.v1" },
        { "VolumeAttachment", "storage.v1" },
        { "PodDisruptionBudget", "policy.v1" },
        { "Eviction", "policy.v1" },
        { "PriorityClass", "scheduling.v1" },
        { "HorizontalPodAutoscaler", "autoscaling.v2" },
        { "Scale", "autoscaling.v1" },
        { "events.v1.Event", "events.v1" },
        { "CertificateSigningRequest", "certificates.v1" },
        { "TokenRequest", "authentication.v1" },
        { "TokenReview", "authentication.v1" },
        { "SelfSubjectReview", "authentication.v1" },
        { "SubjectAccessReview", "authorization.v1" },
        { "LocalSubjectAccessReview", "authorization.v1" },
        { "SelfSubjectAccessReview", "authorization.v1" },
        { "SelfSubjectRulesReview", "authorization.v1" },
        { "CustomResourceDefinition", "apiextensions.v1" },
        { "RuntimeClass", "node.v1" },
    };
    load();
    const ek_schema_type_t *meta = ek_schema_type("ObjectMeta");
    ASSERT_NOT_NULL(meta);
    for (size_t i = 0; i < EK_ARRAY_SIZE(kinds); i++) {
        const ek_schema_type_t *t = ek_schema_type(kinds[i].id);
        ASSERT_NOT_NULL(t);
        ASSERT_STREQ(t->package, kinds[i].package);
        ASSERT_EQ(field(kinds[i].id, "apiVersion")->ty->kind, EK_ST_STRING);
        ASSERT_EQ(field(kinds[i].id, "kind")->ty->kind, EK_ST_STRING);
        ASSERT_TRUE(field(kinds[i].id, "metadata")->ty->ref == meta);
    }
    /* ... and every type shaped like a kind is in the table above. */
    const ek_schema_type_t *all;
    size_t n = ek_schema_types(&all), found = 0;
    for (size_t i = 0; i < n; i++) {
        const ek_schema_field_t *m = ek_schema_field(&all[i], "metadata");
        if (m && m->ty->ref == meta && ek_schema_field(&all[i], "kind") &&
            ek_schema_field(&all[i], "apiVersion")) {
            found++;
        }
    }
    ASSERT_EQ(found, EK_ARRAY_SIZE(kinds));
}

static void check_ty(const ek_schema_ty_t *ty)
{
    if (ty->kind == EK_ST_ARRAY || ty->kind == EK_ST_MAP) {
        ASSERT_NOT_NULL(ty->elem);
        check_ty(ty->elem);
    } else if (ty->kind == EK_ST_REF) {
        ASSERT_NOT_NULL(ty->ref);
        ASSERT_TRUE(ek_schema_type(ty->ref->id) == ty->ref);
    }
}

TEST(schema_every_type_resolves_and_is_described)
{
    load();
    const ek_schema_type_t *all;
    size_t n = ek_schema_types(&all);
    ASSERT_CMP(n, >, 300);
    for (size_t i = 0; i < n; i++) {
        ASSERT_TRUE(all[i].description[0] != '\0');
        ASSERT_TRUE(strchr(all[i].package, '.') != NULL);
        ASSERT_CMP(all[i].n_fields, >, 0);
        for (size_t k = 0; k < all[i].n_fields; k++) {
            const ek_schema_field_t *f = &all[i].fields[k];
            if (f->description[0] == '\0') {
                ek__test_fail(__FILE__, __LINE__, "%s.%s has no description", all[i].id, f->name);
            }
            check_ty(f->ty);
            for (size_t e = 0; e < f->n_enum; e++) {
                ASSERT_TRUE(f->enum_values[e][0] != '\0');
            }
            if (f->merge_key) {
                /* A merge key names a field of the list's element type. */
                ASSERT_EQ(f->ty->kind, EK_ST_ARRAY);
                ASSERT_EQ(f->ty->elem->kind, EK_ST_REF);
                ASSERT_NOT_NULL(ek_schema_field(f->ty->elem->ref, f->merge_key));
            }
            if (f->flags & EK_SF_SET) {
                ASSERT_EQ(f->ty->kind, EK_ST_ARRAY);
                ASSERT_NE(f->ty->elem->kind, EK_ST_REF);
            }
        }
    }
}

/* Manifests of the kinds a reader of a Kubernetes book applies; all valid on Kubernetes 1.32. */
static const char manifests[] =
    "apiVersion: v1\n"
    "kind: Namespace\n"
    "metadata:\n"
    "  name: shop\n"
    "  labels:\n"
    "    team: web\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: ConfigMap\n"
    "metadata:\n"
    "  name: web-config\n"
    "  namespace: shop\n"
    "data:\n"
    "  LOG_LEVEL: info\n"
    "  nginx.conf: |\n"
    "    server { listen 8080; }\n"
    "binaryData:\n"
    "  logo.png: iVBORw0KGgo=\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Secret\n"
    "metadata:\n"
    "  name: web-secret\n"
    "  namespace: shop\n"
    "type: Opaque\n"
    "data:\n"
    "  password: cGFzc3dvcmQ=\n"
    "stringData:\n"
    "  user: admin\n"
    "---\n"
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata:\n"
    "  name: web\n"
    "  namespace: shop\n"
    "  labels:\n"
    "    app: web\n"
    "  annotations:\n"
    "    kubernetes.io/change-cause: first rollout\n"
    "spec:\n"
    "  replicas: 3\n"
    "  revisionHistoryLimit: 5\n"
    "  progressDeadlineSeconds: 600\n"
    "  selector:\n"
    "    matchLabels:\n"
    "      app: web\n"
    "    matchExpressions:\n"
    "    - key: tier\n"
    "      operator: In\n"
    "      values: [frontend]\n"
    "  strategy:\n"
    "    type: RollingUpdate\n"
    "    rollingUpdate:\n"
    "      maxSurge: 25%\n"
    "      maxUnavailable: 0\n"
    "  template:\n"
    "    metadata:\n"
    "      labels:\n"
    "        app: web\n"
    "        tier: frontend\n"
    "    spec:\n"
    "      serviceAccountName: web\n"
    "      automountServiceAccountToken: false\n"
    "      terminationGracePeriodSeconds: 45\n"
    "      imagePullSecrets:\n"
    "      - name: registry\n"
    "      securityContext:\n"
    "        runAsNonRoot: true\n"
    "        runAsUser: 1000\n"
    "        fsGroup: 2000\n"
    "        fsGroupChangePolicy: OnRootMismatch\n"
    "        seccompProfile:\n"
    "          type: RuntimeDefault\n"
    "        sysctls:\n"
    "        - name: net.ipv4.ip_local_port_range\n"
    "          value: \"1024 65535\"\n"
    "      initContainers:\n"
    "      - name: migrate\n"
    "        image: busybox:1.36\n"
    "        command: [\"sh\", \"-c\", \"echo migrating\"]\n"
    "      - name: log-shipper\n"
    "        image: busybox:1.36\n"
    "        restartPolicy: Always\n"
    "        args: [\"tail\", \"-F\", \"/var/log/app.log\"]\n"
    "      containers:\n"
    "      - name: web\n"
    "        image: nginx:1.27\n"
    "        imagePullPolicy: IfNotPresent\n"
    "        ports:\n"
    "        - name: http\n"
    "          containerPort: 8080\n"
    "          protocol: TCP\n"
    "        - containerPort: 9090\n"
    "        env:\n"
    "        - name: LOG_LEVEL\n"
    "          valueFrom:\n"
    "            configMapKeyRef:\n"
    "              name: web-config\n"
    "              key: LOG_LEVEL\n"
    "        - name: PASSWORD\n"
    "          valueFrom:\n"
    "            secretKeyRef:\n"
    "              name: web-secret\n"
    "              key: password\n"
    "              optional: false\n"
    "        - name: POD_IP\n"
    "          valueFrom:\n"
    "            fieldRef:\n"
    "              fieldPath: status.podIP\n"
    "        - name: MEM_LIMIT\n"
    "          valueFrom:\n"
    "            resourceFieldRef:\n"
    "              containerName: web\n"
    "              resource: limits.memory\n"
    "              divisor: 1Mi\n"
    "        - name: GREETING\n"
    "          value: hello $(POD_IP)\n"
    "        envFrom:\n"
    "        - prefix: CFG_\n"
    "          configMapRef:\n"
    "            name: web-config\n"
    "        - secretRef:\n"
    "            name: web-secret\n"
    "        resources:\n"
    "          requests:\n"
    "            cpu: 100m\n"
    "            memory: 64Mi\n"
    "          limits:\n"
    "            cpu: 1\n"
    "            memory: 256Mi\n"
    "            ephemeral-storage: 1Gi\n"
    "        livenessProbe:\n"
    "          httpGet:\n"
    "            path: /healthz\n"
    "            port: http\n"
    "            scheme: HTTP\n"
    "            httpHeaders:\n"
    "            - name: X-Probe\n"
    "              value: live\n"
    "          initialDelaySeconds: 10\n"
    "          periodSeconds: 5\n"
    "          timeoutSeconds: 2\n"
    "          failureThreshold: 3\n"
    "        readinessProbe:\n"
    "          tcpSocket:\n"
    "            port: 8080\n"
    "          successThreshold: 1\n"
    "        startupProbe:\n"
    "          exec:\n"
    "            command: [\"cat\", \"/tmp/ready\"]\n"
    "          failureThreshold: 30\n"
    "        lifecycle:\n"
    "          preStop:\n"
    "            sleep:\n"
    "              seconds: 5\n"
    "          postStart:\n"
    "            exec:\n"
    "              command: [\"sh\", \"-c\", \"date > /tmp/started\"]\n"
    "        securityContext:\n"
    "          allowPrivilegeEscalation: false\n"
    "          readOnlyRootFilesystem: true\n"
    "          capabilities:\n"
    "            drop: [\"ALL\"]\n"
    "            add: [\"NET_BIND_SERVICE\"]\n"
    "        volumeMounts:\n"
    "        - name: config\n"
    "          mountPath: /etc/nginx/conf.d\n"
    "          readOnly: true\n"
    "        - name: cache\n"
    "          mountPath: /var/cache/nginx\n"
    "        - name: data\n"
    "          mountPath: /data\n"
    "          subPath: web\n"
    "        - name: token\n"
    "          mountPath: /var/run/secrets/tokens\n"
    "        - name: podinfo\n"
    "          mountPath: /etc/podinfo\n"
    "      - name: grpc-sidecar\n"
    "        image: example.com/grpc:2\n"
    "        livenessProbe:\n"
    "          grpc:\n"
    "            port: 9000\n"
    "      volumes:\n"
    "      - name: config\n"
    "        configMap:\n"
    "          name: web-config\n"
    "          defaultMode: 0644\n"
    "          items:\n"
    "          - key: nginx.conf\n"
    "            path: default.conf\n"
    "      - name: secret\n"
    "        secret:\n"
    "          secretName: web-secret\n"
    "          optional: true\n"
    "      - name: cache\n"
    "        emptyDir:\n"
    "          medium: Memory\n"
    "          sizeLimit: 64Mi\n"
    "      - name: data\n"
    "        persistentVolumeClaim:\n"
    "          claimName: web-data\n"
    "      - name: host-logs\n"
    "        hostPath:\n"
    "          path: /var/log\n"
    "          type: Directory\n"
    "      - name: token\n"
    "        projected:\n"
    "          sources:\n"
    "          - serviceAccountToken:\n"
    "              audience: vault\n"
    "              expirationSeconds: 3600\n"
    "              path: vault-token\n"
    "          - configMap:\n"
    "              name: web-config\n"
    "          - downwardAPI:\n"
    "              items:\n"
    "              - path: labels\n"
    "                fieldRef:\n"
    "                  fieldPath: metadata.labels\n"
    "      - name: podinfo\n"
    "        downwardAPI:\n"
    "          items:\n"
    "          - path: cpu_limit\n"
    "            resourceFieldRef:\n"
    "              containerName: web\n"
    "              resource: limits.cpu\n"
    "      - name: nfs\n"
    "        nfs:\n"
    "          server: 192.0.2.10\n"
    "          path: /exports/web\n"
    "          readOnly: true\n"
    "      - name: scratch\n"
    "        ephemeral:\n"
    "          volumeClaimTemplate:\n"
    "            metadata:\n"
    "              labels:\n"
    "                app: web\n"
    "            spec:\n"
    "              accessModes: [\"ReadWriteOnce\"]\n"
    "              storageClassName: local-path\n"
    "              resources:\n"
    "                requests:\n"
    "                  storage: 1Gi\n"
    "      - name: csi\n"
    "        csi:\n"
    "          driver: secrets-store.csi.k8s.io\n"
    "          readOnly: true\n"
    "          volumeAttributes:\n"
    "            secretProviderClass: web\n"
    "      affinity:\n"
    "        nodeAffinity:\n"
    "          requiredDuringSchedulingIgnoredDuringExecution:\n"
    "            nodeSelectorTerms:\n"
    "            - matchExpressions:\n"
    "              - key: kubernetes.io/arch\n"
    "                operator: In\n"
    "                values: [arm64, amd64]\n"
    "          preferredDuringSchedulingIgnoredDuringExecution:\n"
    "          - weight: 50\n"
    "            preference:\n"
    "              matchExpressions:\n"
    "              - key: disktype\n"
    "                operator: In\n"
    "                values: [ssd]\n"
    "        podAffinity:\n"
    "          preferredDuringSchedulingIgnoredDuringExecution:\n"
    "          - weight: 10\n"
    "            podAffinityTerm:\n"
    "              labelSelector:\n"
    "                matchLabels:\n"
    "                  app: cache\n"
    "              topologyKey: kubernetes.io/hostname\n"
    "        podAntiAffinity:\n"
    "          requiredDuringSchedulingIgnoredDuringExecution:\n"
    "          - labelSelector:\n"
    "              matchLabels:\n"
    "                app: web\n"
    "            topologyKey: kubernetes.io/hostname\n"
    "      tolerations:\n"
    "      - key: node-role.kubernetes.io/control-plane\n"
    "        operator: Exists\n"
    "        effect: NoSchedule\n"
    "      - key: example.com/flaky\n"
    "        operator: Equal\n"
    "        value: \"true\"\n"
    "        effect: NoExecute\n"
    "        tolerationSeconds: 300\n"
    "      topologySpreadConstraints:\n"
    "      - maxSkew: 1\n"
    "        topologyKey: topology.kubernetes.io/zone\n"
    "        whenUnsatisfiable: ScheduleAnyway\n"
    "        labelSelector:\n"
    "          matchLabels:\n"
    "            app: web\n"
    "      nodeSelector:\n"
    "        kubernetes.io/os: linux\n"
    "      dnsPolicy: ClusterFirst\n"
    "      dnsConfig:\n"
    "        options:\n"
    "        - name: ndots\n"
    "          value: \"2\"\n"
    "      hostAliases:\n"
    "      - ip: 192.0.2.1\n"
    "        hostnames: [gateway.local]\n"
    "      priorityClassName: high\n"
    "      restartPolicy: Always\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata:\n"
    "  name: web\n"
    "  namespace: shop\n"
    "spec:\n"
    "  type: NodePort\n"
    "  selector:\n"
    "    app: web\n"
    "  ports:\n"
    "  - name: http\n"
    "    port: 80\n"
    "    targetPort: http\n"
    "    nodePort: 30080\n"
    "    protocol: TCP\n"
    "  - name: metrics\n"
    "    port: 9090\n"
    "    targetPort: 9090\n"
    "  externalTrafficPolicy: Local\n"
    "  sessionAffinity: ClientIP\n"
    "  sessionAffinityConfig:\n"
    "    clientIP:\n"
    "      timeoutSeconds: 600\n"
    "  ipFamilyPolicy: SingleStack\n"
    "  ipFamilies: [IPv4]\n"
    "---\n"
    "apiVersion: apps/v1\n"
    "kind: StatefulSet\n"
    "metadata:\n"
    "  name: db\n"
    "  namespace: shop\n"
    "spec:\n"
    "  serviceName: db\n"
    "  replicas: 3\n"
    "  podManagementPolicy: Parallel\n"
    "  selector:\n"
    "    matchLabels:\n"
    "      app: db\n"
    "  updateStrategy:\n"
    "    type: RollingUpdate\n"
    "    rollingUpdate:\n"
    "      partition: 0\n"
    "  persistentVolumeClaimRetentionPolicy:\n"
    "    whenDeleted: Retain\n"
    "    whenScaled: Delete\n"
    "  template:\n"
    "    metadata:\n"
    "      labels:\n"
    "        app: db\n"
    "    spec:\n"
    "      containers:\n"
    "      - name: postgres\n"
    "        image: postgres:16\n"
    "        ports:\n"
    "        - name: pg\n"
    "          containerPort: 5432\n"
    "        volumeMounts:\n"
    "        - name: data\n"
    "          mountPath: /var/lib/postgresql/data\n"
    "  volumeClaimTemplates:\n"
    "  - metadata:\n"
    "      name: data\n"
    "    spec:\n"
    "      accessModes: [\"ReadWriteOnce\"]\n"
    "      storageClassName: local-path\n"
    "      resources:\n"
    "        requests:\n"
    "          storage: 10Gi\n"
    "---\n"
    "apiVersion: apps/v1\n"
    "kind: DaemonSet\n"
    "metadata:\n"
    "  name: node-exporter\n"
    "  namespace: kube-system\n"
    "spec:\n"
    "  selector:\n"
    "    matchLabels:\n"
    "      app: node-exporter\n"
    "  updateStrategy:\n"
    "    type: RollingUpdate\n"
    "    rollingUpdate:\n"
    "      maxUnavailable: 1\n"
    "  template:\n"
    "    metadata:\n"
    "      labels:\n"
    "        app: node-exporter\n"
    "    spec:\n"
    "      hostNetwork: true\n"
    "      hostPID: true\n"
    "      tolerations:\n"
    "      - operator: Exists\n"
    "      containers:\n"
    "      - name: exporter\n"
    "        image: prom/node-exporter:v1.8.0\n"
    "        args: [\"--path.rootfs=/host\"]\n"
    "        ports:\n"
    "        - containerPort: 9100\n"
    "          hostPort: 9100\n"
    "        volumeMounts:\n"
    "        - name: root\n"
    "          mountPath: /host\n"
    "          readOnly: true\n"
    "          mountPropagation: HostToContainer\n"
    "      volumes:\n"
    "      - name: root\n"
    "        hostPath:\n"
    "          path: /\n"
    "---\n"
    "apiVersion: batch/v1\n"
    "kind: CronJob\n"
    "metadata:\n"
    "  name: backup\n"
    "  namespace: shop\n"
    "spec:\n"
    "  schedule: \"0 3 * * *\"\n"
    "  timeZone: Europe/Berlin\n"
    "  concurrencyPolicy: Forbid\n"
    "  startingDeadlineSeconds: 120\n"
    "  successfulJobsHistoryLimit: 2\n"
    "  failedJobsHistoryLimit: 1\n"
    "  jobTemplate:\n"
    "    spec:\n"
    "      backoffLimit: 2\n"
    "      activeDeadlineSeconds: 3600\n"
    "      ttlSecondsAfterFinished: 600\n"
    "      template:\n"
    "        spec:\n"
    "          restartPolicy: OnFailure\n"
    "          containers:\n"
    "          - name: backup\n"
    "            image: busybox:1.36\n"
    "            command: [\"sh\", \"-c\", \"tar czf /backup/db.tgz /data\"]\n"
    "---\n"
    "apiVersion: batch/v1\n"
    "kind: Job\n"
    "metadata:\n"
    "  name: render\n"
    "  namespace: shop\n"
    "spec:\n"
    "  completions: 5\n"
    "  parallelism: 2\n"
    "  completionMode: Indexed\n"
    "  podFailurePolicy:\n"
    "    rules:\n"
    "    - action: FailJob\n"
    "      onExitCodes:\n"
    "        containerName: render\n"
    "        operator: In\n"
    "        values: [42]\n"
    "    - action: Ignore\n"
    "      onPodConditions:\n"
    "      - type: DisruptionTarget\n"
    "        status: \"True\"\n"
    "  template:\n"
    "    spec:\n"
    "      restartPolicy: Never\n"
    "      containers:\n"
    "      - name: render\n"
    "        image: busybox:1.36\n"
    "---\n"
    "apiVersion: networking.k8s.io/v1\n"
    "kind: Ingress\n"
    "metadata:\n"
    "  name: web\n"
    "  namespace: shop\n"
    "  annotations:\n"
    "    nginx.ingress.kubernetes.io/rewrite-target: /\n"
    "spec:\n"
    "  ingressClassName: edgek\n"
    "  tls:\n"
    "  - hosts: [shop.example.com]\n"
    "    secretName: shop-tls\n"
    "  defaultBackend:\n"
    "    service:\n"
    "      name: web\n"
    "      port:\n"
    "        number: 80\n"
    "  rules:\n"
    "  - host: shop.example.com\n"
    "    http:\n"
    "      paths:\n"
    "      - path: /\n"
    "        pathType: Prefix\n"
    "        backend:\n"
    "          service:\n"
    "            name: web\n"
    "            port:\n"
    "              name: http\n"
    "      - path: /api\n"
    "        pathType: Exact\n"
    "        backend:\n"
    "          service:\n"
    "            name: api\n"
    "            port:\n"
    "              number: 8080\n"
    "---\n"
    "apiVersion: networking.k8s.io/v1\n"
    "kind: NetworkPolicy\n"
    "metadata:\n"
    "  name: db-access\n"
    "  namespace: shop\n"
    "spec:\n"
    "  podSelector:\n"
    "    matchLabels:\n"
    "      app: db\n"
    "  policyTypes: [Ingress, Egress]\n"
    "  ingress:\n"
    "  - from:\n"
    "    - podSelector:\n"
    "        matchLabels:\n"
    "          app: web\n"
    "    - namespaceSelector:\n"
    "        matchLabels:\n"
    "          team: ops\n"
    "    - ipBlock:\n"
    "        cidr: 10.42.0.0/16\n"
    "        except: [10.42.9.0/24]\n"
    "    ports:\n"
    "    - protocol: TCP\n"
    "      port: 5432\n"
    "  egress:\n"
    "  - to:\n"
    "    - namespaceSelector: {}\n"
    "    ports:\n"
    "    - protocol: UDP\n"
    "      port: 53\n"
    "    - port: 30000\n"
    "      endPort: 32767\n"
    "---\n"
    "apiVersion: rbac.authorization.k8s.io/v1\n"
    "kind: Role\n"
    "metadata:\n"
    "  name: pod-reader\n"
    "  namespace: shop\n"
    "rules:\n"
    "- apiGroups: [\"\"]\n"
    "  resources: [\"pods\", \"pods/log\"]\n"
    "  verbs: [\"get\", \"list\", \"watch\"]\n"
    "- apiGroups: [\"apps\"]\n"
    "  resources: [\"deployments\"]\n"
    "  resourceNames: [\"web\"]\n"
    "  verbs: [\"get\", \"patch\"]\n"
    "---\n"
    "apiVersion: rbac.authorization.k8s.io/v1\n"
    "kind: RoleBinding\n"
    "metadata:\n"
    "  name: read-pods\n"
    "  namespace: shop\n"
    "subjects:\n"
    "- kind: User\n"
    "  name: jane\n"
    "  apiGroup: rbac.authorization.k8s.io\n"
    "- kind: ServiceAccount\n"
    "  name: web\n"
    "  namespace: shop\n"
    "roleRef:\n"
    "  kind: Role\n"
    "  name: pod-reader\n"
    "  apiGroup: rbac.authorization.k8s.io\n"
    "---\n"
    "apiVersion: rbac.authorization.k8s.io/v1\n"
    "kind: ClusterRole\n"
    "metadata:\n"
    "  name: monitoring\n"
    "aggregationRule:\n"
    "  clusterRoleSelectors:\n"
    "  - matchLabels:\n"
    "      rbac.example.com/aggregate-to-monitoring: \"true\"\n"
    "rules: []\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: PersistentVolumeClaim\n"
    "metadata:\n"
    "  name: web-data\n"
    "  namespace: shop\n"
    "spec:\n"
    "  accessModes: [ReadWriteOnce]\n"
    "  volumeMode: Filesystem\n"
    "  storageClassName: local-path\n"
    "  resources:\n"
    "    requests:\n"
    "      storage: 5Gi\n"
    "---\n"
    "apiVersion: storage.k8s.io/v1\n"
    "kind: StorageClass\n"
    "metadata:\n"
    "  name: local-path\n"
    "  annotations:\n"
    "    storageclass.kubernetes.io/is-default-class: \"true\"\n"
    "provisioner: rancher.io/local-path\n"
    "reclaimPolicy: Delete\n"
    "volumeBindingMode: WaitForFirstConsumer\n"
    "allowVolumeExpansion: true\n"
    "---\n"
    "apiVersion: autoscaling/v2\n"
    "kind: HorizontalPodAutoscaler\n"
    "metadata:\n"
    "  name: web\n"
    "  namespace: shop\n"
    "spec:\n"
    "  scaleTargetRef:\n"
    "    apiVersion: apps/v1\n"
    "    kind: Deployment\n"
    "    name: web\n"
    "  minReplicas: 2\n"
    "  maxReplicas: 10\n"
    "  metrics:\n"
    "  - type: Resource\n"
    "    resource:\n"
    "      name: cpu\n"
    "      target:\n"
    "        type: Utilization\n"
    "        averageUtilization: 70\n"
    "  - type: Pods\n"
    "    pods:\n"
    "      metric:\n"
    "        name: requests_per_second\n"
    "      target:\n"
    "        type: AverageValue\n"
    "        averageValue: 1k\n"
    "  behavior:\n"
    "    scaleDown:\n"
    "      stabilizationWindowSeconds: 300\n"
    "      selectPolicy: Max\n"
    "      policies:\n"
    "      - type: Percent\n"
    "        value: 50\n"
    "        periodSeconds: 60\n"
    "    scaleUp:\n"
    "      policies:\n"
    "      - type: Pods\n"
    "        value: 4\n"
    "        periodSeconds: 15\n"
    "---\n"
    "apiVersion: policy/v1\n"
    "kind: PodDisruptionBudget\n"
    "metadata:\n"
    "  name: web\n"
    "  namespace: shop\n"
    "spec:\n"
    "  minAvailable: 50%\n"
    "  unhealthyPodEvictionPolicy: AlwaysAllow\n"
    "  selector:\n"
    "    matchLabels:\n"
    "      app: web\n"
    "---\n"
    "apiVersion: scheduling.k8s.io/v1\n"
    "kind: PriorityClass\n"
    "metadata:\n"
    "  name: high\n"
    "value: 1000000\n"
    "globalDefault: false\n"
    "preemptionPolicy: PreemptLowerPriority\n"
    "description: Customer-facing workloads.\n"
    "---\n"
    "apiVersion: apiextensions.k8s.io/v1\n"
    "kind: CustomResourceDefinition\n"
    "metadata:\n"
    "  name: crontabs.stable.example.com\n"
    "spec:\n"
    "  group: stable.example.com\n"
    "  scope: Namespaced\n"
    "  names:\n"
    "    plural: crontabs\n"
    "    singular: crontab\n"
    "    kind: CronTab\n"
    "    shortNames: [ct]\n"
    "    categories: [all]\n"
    "  versions:\n"
    "  - name: v1\n"
    "    served: true\n"
    "    storage: true\n"
    "    subresources:\n"
    "      status: {}\n"
    "      scale:\n"
    "        specReplicasPath: .spec.replicas\n"
    "        statusReplicasPath: .status.replicas\n"
    "        labelSelectorPath: .status.selector\n"
    "    additionalPrinterColumns:\n"
    "    - name: Spec\n"
    "      type: string\n"
    "      jsonPath: .spec.cronSpec\n"
    "    - name: Age\n"
    "      type: date\n"
    "      jsonPath: .metadata.creationTimestamp\n"
    "    schema:\n"
    "      openAPIV3Schema:\n"
    "        type: object\n"
    "        required: [spec]\n"
    "        properties:\n"
    "          spec:\n"
    "            type: object\n"
    "            x-kubernetes-validations:\n"
    "            - rule: \"self.replicas <= 10\"\n"
    "              message: at most 10 replicas\n"
    "            properties:\n"
    "              cronSpec:\n"
    "                type: string\n"
    "                pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'\n"
    "              image:\n"
    "                type: string\n"
    "              replicas:\n"
    "                type: integer\n"
    "                minimum: 1\n"
    "                maximum: 10\n"
    "                default: 1\n"
    "              ports:\n"
    "                type: array\n"
    "                x-kubernetes-list-type: map\n"
    "                x-kubernetes-list-map-keys: [name]\n"
    "                items:\n"
    "                  type: object\n"
    "                  required: [name]\n"
    "                  properties:\n"
    "                    name:\n"
    "                      type: string\n"
    "                      enum: [http, https]\n"
    "                    port:\n"
    "                      x-kubernetes-int-or-string: true\n"
    "              extra:\n"
    "                type: object\n"
    "                x-kubernetes-preserve-unknown-fields: true\n"
    "              labels:\n"
    "                type: object\n"
    "                additionalProperties:\n"
    "                  type: string\n"
    "          status:\n"
    "            type: object\n"
    "            properties:\n"
    "              replicas:\n"
    "                type: integer\n"
    "              selector:\n"
    "                type: string\n"
    "---\n"
    "apiVersion: events.k8s.io/v1\n"
    "kind: Event\n"
    "metadata:\n"
    "  name: web.17a1\n"
    "  namespace: shop\n"
    "eventTime: \"2025-01-02T03:04:05.123456Z\"\n"
    "reportingController: example.com/operator\n"
    "reportingInstance: operator-0\n"
    "action: Scaling\n"
    "reason: ScaledUp\n"
    "type: Normal\n"
    "note: Scaled web to 3 replicas\n"
    "regarding:\n"
    "  apiVersion: apps/v1\n"
    "  kind: Deployment\n"
    "  name: web\n"
    "  namespace: shop\n"
    "series:\n"
    "  count: 2\n"
    "  lastObservedTime: \"2025-01-02T03:05:05.000000Z\"\n";

TEST(schema_realistic_manifests_check_clean)
{
    load();
    ek_error_t *err = NULL;
    ek_auto(json_t) docs = ek_yaml_to_json_docs(manifests, strlen(manifests), &err);
    if (!docs) {
        ek__test_fail(__FILE__, __LINE__, "bad YAML: %s", ek_error_msg(err));
    }
    ASSERT_EQ(json_array_size(docs), 21);
    size_t i;
    json_t *doc;
    json_array_foreach (docs, i, doc) {
        const ek_schema_type_t *t = kind_type(doc);
        if (!t) {
            ek__test_fail(__FILE__, __LINE__, "document %zu: no type for %s %s", i,
                          json_string_value(json_object_get(doc, "apiVersion")),
                          json_string_value(json_object_get(doc, "kind")));
        }
        struct issues is = { EK_BUF_INIT, 0 };
        ek_buf_puts(&is.text, "");
        ek_schema_check(t, doc, collect, &is);
        if (is.n) {
            ek__test_fail(__FILE__, __LINE__, "document %zu (%s): %s", i, t->id, is.text.data);
        }
        ek_buf_free(&is.text);
    }
}

TEST(schema_reports_typos_at_the_exact_path)
{
    load();
    int n;
    ek_autofree char *text = check_yaml("apiVersion: apps/v1\n"
                                        "kind: Deployment\n"
                                        "metadata: {name: web}\n"
                                        "spec:\n"
                                        "  replicass: 3\n"
                                        "  selector: {matchLabels: {app: web}}\n"
                                        "  template:\n"
                                        "    metadata: {labels: {app: web}}\n"
                                        "    spec:\n"
                                        "      containers:\n"
                                        "      - name: web\n"
                                        "        imagee: nginx\n"
                                        "        ports:\n"
                                        "        - containerport: 80\n",
                                        &n);
    ASSERT_CONTAINS(text, "unknown spec.replicass\n");
    ASSERT_CONTAINS(text, "unknown spec.template.spec.containers[0].imagee\n");
    ASSERT_CONTAINS(text, "unknown spec.template.spec.containers[0].ports[0].containerport\n");
    ASSERT_CONTAINS(text, "required spec.template.spec.containers[0].ports[0].containerPort\n");
    ASSERT_EQ(n, 4);

    ek_autofree char *svc = check_yaml("apiVersion: v1\n"
                                       "kind: Service\n"
                                       "metadata: {name: web}\n"
                                       "spec:\n"
                                       "  selectors: {app: web}\n"
                                       "  ports:\n"
                                       "  - port: 80\n"
                                       "    targetport: 8080\n",
                                       &n);
    ASSERT_STREQ(svc, "unknown spec.selectors\nunknown spec.ports[0].targetport\n");
}

TEST(schema_reports_wrong_types_like_the_go_decoder)
{
    load();
    int n;
    ek_autofree char *text = check_yaml("apiVersion: apps/v1\n"
                                        "kind: Deployment\n"
                                        "metadata: {name: web}\n"
                                        "spec:\n"
                                        "  replicas: \"3\"\n"
                                        "  selector: {matchLabels: {app: web}}\n"
                                        "  template:\n"
                                        "    spec:\n"
                                        "      hostNetwork: \"yes\"\n"
                                        "      containers:\n"
                                        "      - name: web\n"
                                        "        env: [{name: PORT, value: 8080}]\n"
                                        "        resources: {limits: {cpu: [1]}}\n"
                                        "      volumes: {name: data}\n",
                                        &n);
    ASSERT_CONTAINS(text, "type spec.replicas: cannot unmarshal string into Go struct field "
                          "DeploymentSpec.spec.replicas of type int32\n");
    ASSERT_CONTAINS(text, "type spec.template.spec.hostNetwork: cannot unmarshal string into Go "
                          "struct field PodSpec.spec.template.spec.hostNetwork of type bool\n");
    ASSERT_CONTAINS(text, "type spec.template.spec.containers[0].env[0].value: cannot unmarshal "
                          "number into Go struct field EnvVar.");
    ASSERT_CONTAINS(text, "resources.limits[cpu]: cannot unmarshal array into Go struct field "
                          "ResourceRequirements.");
    ASSERT_CONTAINS(text, "of type resource.Quantity\n");
    ASSERT_CONTAINS(text, "type spec.template.spec.volumes: cannot unmarshal object into Go struct "
                          "field PodSpec.spec.template.spec.volumes of type []v1.Volume\n");
    ASSERT_EQ(n, 5);

    ek_autofree char *svc = check_yaml("apiVersion: v1\n"
                                       "kind: Service\n"
                                       "metadata: {name: web}\n"
                                       "spec: {ports: [{port: 80, targetPort: true}]}\n",
                                       &n);
    ASSERT_STREQ(svc, "type spec.ports[0].targetPort: cannot unmarshal bool into Go struct field "
                      "ServicePort.spec.ports.targetPort of type intstr.IntOrString\n");

    ek_autofree char *ev = check_yaml("apiVersion: events.k8s.io/v1\n"
                                      "kind: Event\n"
                                      "metadata: {name: e}\n"
                                      "eventTime: \"2025-01-02T03:04:05.000000Z\"\n"
                                      "series: twice\n",
                                      &n);
    ASSERT_STREQ(ev, "type series: cannot unmarshal string into Go struct field Event.series of "
                     "type v1.EventSeries\n");
}

TEST(schema_reports_bad_enums_in_kubernetes_order)
{
    load();
    int n;
    ek_autofree char *pod = check_yaml("apiVersion: v1\n"
                                       "kind: Pod\n"
                                       "metadata: {name: p}\n"
                                       "spec:\n"
                                       "  restartPolicy: Sometimes\n"
                                       "  dnsPolicy: Google\n"
                                       "  containers:\n"
                                       "  - name: c\n"
                                       "    image: busybox\n"
                                       "    imagePullPolicy: Daily\n"
                                       "    ports: [{containerPort: 80, protocol: HTTP}]\n"
                                       "  tolerations:\n"
                                       "  - {key: k, operator: Like, effect: NoRun}\n",
                                       &n);
    ASSERT_CONTAINS(pod, "enum spec.restartPolicy: supported values: \"Always\", \"OnFailure\", "
                         "\"Never\"\n");
    ASSERT_CONTAINS(pod, "enum spec.dnsPolicy: supported values: \"ClusterFirst\", "
                         "\"ClusterFirstWithHostNet\", \"Default\", \"None\"\n");
    ASSERT_CONTAINS(pod, "enum spec.containers[0].imagePullPolicy: supported values: \"Always\", "
                         "\"IfNotPresent\", \"Never\"\n");
    ASSERT_CONTAINS(pod, "enum spec.containers[0].ports[0].protocol: supported values: \"SCTP\", "
                         "\"TCP\", \"UDP\"\n");
    ASSERT_CONTAINS(pod, "enum spec.tolerations[0].operator: supported values: \"Equal\", "
                         "\"Exists\"\n");
    ASSERT_CONTAINS(pod, "enum spec.tolerations[0].effect: supported values: \"NoSchedule\", "
                         "\"PreferNoSchedule\", \"NoExecute\"\n");
    ASSERT_EQ(n, 6);

    ek_autofree char *svc = check_yaml("apiVersion: v1\n"
                                       "kind: Service\n"
                                       "metadata: {name: web}\n"
                                       "spec: {type: Public, externalTrafficPolicy: Node}\n",
                                       &n);
    ASSERT_STREQ(svc, "enum spec.type: supported values: \"ClusterIP\", \"ExternalName\", "
                      "\"LoadBalancer\", \"NodePort\"\n"
                      "enum spec.externalTrafficPolicy: supported values: \"Cluster\", "
                      "\"Local\"\n");

    ek_autofree char *dep = check_yaml("apiVersion: apps/v1\n"
                                       "kind: Deployment\n"
                                       "metadata: {name: web}\n"
                                       "spec:\n"
                                       "  selector: {}\n"
                                       "  template: {}\n"
                                       "  strategy: {type: BlueGreen}\n",
                                       &n);
    ASSERT_STREQ(dep, "enum spec.strategy.type: supported values: \"Recreate\", "
                      "\"RollingUpdate\"\n");
}

TEST(schema_reports_missing_required_fields)
{
    load();
    int n;
    ek_autofree char *dep = check_yaml("apiVersion: apps/v1\n"
                                       "kind: Deployment\n"
                                       "metadata: {name: web}\n"
                                       "spec: {replicas: 1}\n",
                                       &n);
    ASSERT_STREQ(dep, "required spec.selector\nrequired spec.template\n");

    ek_autofree char *pod = check_yaml("apiVersion: v1\n"
                                       "kind: Pod\n"
                                       "metadata: {name: p}\n"
                                       "spec: {containers: [{image: nginx}]}\n",
                                       &n);
    /* The API does not require image (workload controllers may fill it in); the name it does. */
    ASSERT_STREQ(pod, "required spec.containers[0].name\n");

    ek_autofree char *rb = check_yaml("apiVersion: rbac.authorization.k8s.io/v1\n"
                                      "kind: RoleBinding\n"
                                      "metadata: {name: b}\n"
                                      "subjects: [{kind: User}]\n",
                                      &n);
    ASSERT_STREQ(rb, "required subjects[0].name\nrequired roleRef\n");

    ek_autofree char *crd = check_yaml("apiVersion: apiextensions.k8s.io/v1\n"
                                       "kind: CustomResourceDefinition\n"
                                       "metadata: {name: a.b.c}\n"
                                       "spec:\n"
                                       "  group: b.c\n"
                                       "  scope: Namespaced\n"
                                       "  names: {plural: a, kind: A}\n"
                                       "  versions: [{name: v1, storage: true}]\n",
                                       &n);
    ASSERT_STREQ(crd, "required spec.versions[0].served\n");
}

TEST(schema_merge_metadata_matches_kubernetes)
{
    static const struct {
        const char *type, *field, *merge_key;
        unsigned flags;
    } want[] = {
        { "PodSpec", "containers", "name", EK_SF_REQUIRED },
        { "PodSpec", "initContainers", "name", 0 },
        { "PodSpec", "ephemeralContainers", "name", 0 },
        { "PodSpec", "volumes", "name", EK_SF_RETAIN_KEYS },
        { "PodSpec", "imagePullSecrets", "name", 0 },
        { "PodSpec", "hostAliases", "ip", 0 },
        { "PodSpec", "topologySpreadConstraints", "topologyKey", 0 },
        { "PodSpec", "schedulingGates", "name", 0 },
        { "PodSpec", "resourceClaims", "name", EK_SF_RETAIN_KEYS },
        { "PodSpec", "tolerations", NULL, 0 },
        { "PodSpec", "readinessGates", NULL, 0 },
        { "Container", "ports", "containerPort", 0 },
        { "Container", "env", "name", 0 },
        { "Container", "envFrom", NULL, 0 },
        { "Container", "volumeMounts", "mountPath", 0 },
        { "Container", "volumeDevices", "devicePath", 0 },
        { "Container", "command", NULL, 0 },
        { "EphemeralContainer", "env", "name", 0 },
        { "PodStatus", "conditions", "type", 0 },
        { "PodStatus", "podIPs", "ip", 0 },
        { "PodStatus", "hostIPs", "ip", 0 },
        { "PodStatus", "containerStatuses", NULL, 0 },
        { "ContainerStatus", "volumeMounts", "mountPath", 0 },
        { "ServiceSpec", "ports", "port", 0 },
        { "ServiceSpec", "clusterIPs", NULL, 0 },
        { "ServiceStatus", "conditions", "type", 0 },
        { "ServiceAccount", "secrets", "name", 0 },
        { "ServiceAccount", "imagePullSecrets", NULL, 0 },
        { "NodeSpec", "podCIDRs", NULL, EK_SF_SET },
        { "NodeSpec", "taints", NULL, 0 },
        { "NodeStatus", "conditions", "type", 0 },
        { "NodeStatus", "addresses", "type", 0 },
        { "ReplicationControllerStatus", "conditions", "type", 0 },
        { "NamespaceStatus", "conditions", "type", 0 },
        { "PersistentVolumeClaimStatus", "conditions", "type", 0 },
        { "ObjectMeta", "finalizers", NULL, EK_SF_SET },
        { "ObjectMeta", "ownerReferences", "uid", 0 },
        { "DeploymentSpec", "strategy", NULL, EK_SF_RETAIN_KEYS },
        { "DeploymentStatus", "conditions", "type", 0 },
        { "ReplicaSetStatus", "conditions", "type", 0 },
        { "DaemonSetStatus", "conditions", "type", 0 },
        { "StatefulSetStatus", "conditions", "type", 0 },
        { "StatefulSetSpec", "volumeClaimTemplates", NULL, 0 },
        { "JobStatus", "conditions", "type", 0 },
        { "HorizontalPodAutoscalerStatus", "conditions", "type", 0 },
        { "PodDisruptionBudgetSpec", "selector", NULL, EK_SF_REPLACE },
        { "PodDisruptionBudgetStatus", "conditions", "type", 0 },
        { "JSONSchemaProps", "x-kubernetes-validations", "rule", 0 },
        { "IngressSpec", "rules", NULL, 0 },
        { "Role", "rules", NULL, 0 },
    };
    load();
    for (size_t i = 0; i < EK_ARRAY_SIZE(want); i++) {
        const ek_schema_field_t *f = field(want[i].type, want[i].field);
        if (want[i].merge_key) {
            ASSERT_STREQ(f->merge_key, want[i].merge_key);
        } else if (f->merge_key) {
            ek__test_fail(__FILE__, __LINE__, "%s.%s: unexpected merge key %s", want[i].type,
                          want[i].field, f->merge_key);
        }
        unsigned patch = EK_SF_SET | EK_SF_REPLACE | EK_SF_RETAIN_KEYS | EK_SF_REQUIRED;
        if ((f->flags & patch) != want[i].flags) {
            ek__test_fail(__FILE__, __LINE__, "%s.%s: flags %#x, want %#x", want[i].type,
                          want[i].field, f->flags & patch, want[i].flags);
        }
    }
}

TEST(schema_package_qualified_types)
{
    load();
    char name[128];
    const ek_schema_type_t *ev = ek_schema_type("events.v1.Event");
    ASSERT_NOT_NULL(ev);
    ASSERT_STREQ(ev->name, "Event");
    ASSERT_STREQ(ev->id, "events.v1.Event");
    ASSERT_STREQ(ev->package, "events.v1");
    ASSERT_STREQ(ek_schema_openapi_name(ev, name, sizeof(name)), "io.k8s.api.events.v1.Event");
    ASSERT_TRUE(field("events.v1.Event", "series")->ty->ref ==
                ek_schema_type("events.v1.EventSeries"));
    ASSERT_TRUE(ek_schema_type("events.v1.EventSeries") != ek_schema_type("EventSeries"));

    /* The unqualified name is the core group's. */
    const ek_schema_type_t *core = ek_schema_type("Event");
    ASSERT_NOT_NULL(core);
    ASSERT_STREQ(core->id, "Event");
    ASSERT_STREQ(core->package, "core.v1");
    ASSERT_STREQ(ek_schema_openapi_name(core, name, sizeof(name)), "io.k8s.api.core.v1.Event");
    ASSERT_TRUE(field("Event", "series")->ty->ref == ek_schema_type("EventSeries"));
    ASSERT_TRUE(ek_schema_type("core.v1.Event") == NULL);
    ASSERT_TRUE(ek_schema_type("v1.Event") == NULL);

    const ek_schema_type_t *port = ek_schema_type("discovery.v1.EndpointPort");
    ASSERT_NOT_NULL(port);
    ASSERT_TRUE(field("EndpointSlice", "ports")->ty->elem->ref == port);
    ASSERT_TRUE(field("EndpointSubset", "ports")->ty->elem->ref == ek_schema_type("EndpointPort"));
    ASSERT_TRUE(field("CSIDriverSpec", "tokenRequests")->ty->elem->ref ==
                ek_schema_type("storage.v1.TokenRequest"));
    ASSERT_STREQ(ek_schema_type("TokenRequest")->package, "authentication.v1");
    ASSERT_STREQ(
        ek_schema_openapi_name(ek_schema_type("CustomResourceDefinition"), name, sizeof(name)),
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition");
    ASSERT_STREQ(ek_schema_openapi_name(ek_schema_type("Scale"), name, sizeof(name)),
                 "io.k8s.api.autoscaling.v1.Scale");
}
