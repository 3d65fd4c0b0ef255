#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A book-style walkthrough (chapter 7: namespaces, ConfigMaps and Secrets), in the project's own
# words and manifests, on real pods: a namespace of one's own, `kubectl create configmap` from
# literals and from a file, `kubectl create secret generic` from literals and from a file, used
# as environment (envFrom and single keys) and as files; an updated ConfigMap reaches the
# mounted file; deleting the namespace removes everything in it.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

E2E_DATA=$E2E_DIR/data
"$EDGEK" image import --data-dir "$E2E_DATA" "$E2E_IMAGE" >/dev/null
e2e_start_server "${E2E_NODE_FLAGS[@]}"
wait_for 30 sh -c "'$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get nodes | grep -q ' Ready '" ||
	e2e_fail "the local node never became Ready"

expect_eq "$(k create namespace shop)" "namespace/shop created" "create namespace"
wait_for 30 k -n shop get serviceaccount default || e2e_fail "no default ServiceAccount in shop"
printf 'color=blue\nsize=large\n' >"$E2E_DIR/app.properties"
expect_eq "$(k -n shop create configmap app-config --from-literal=MODE=production \
	--from-literal=WORKERS=4 --from-file="$E2E_DIR/app.properties")" \
	"configmap/app-config created" "configmap from literals and a file"
printf 's3cr3t-token' >"$E2E_DIR/api-token"
expect_eq "$(k -n shop create secret generic app-secret --from-literal=DB_PASSWORD=hunter2 \
	--from-file="$E2E_DIR/api-token")" "secret/app-secret created" "secret from a literal and a file"
expect_contains "$(k -n shop get configmaps)" "app-config         3" "configmap listed with 3 keys"
expect_contains "$(k -n shop get secret app-secret)" "Opaque   2" "secret listed with 2 keys"
expect_eq "$(k -n shop get secret app-secret -o jsonpath='{.data.DB_PASSWORD}' | base64 -d)" hunter2 \
	"secret data is base64"

cat >"$E2E_DIR/app.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: shop}
spec:
  containers:
  - name: app
    image: busybox:e2e
    command: [sh, -c, 'echo "mode=\$MODE workers=\$WORKERS password=\$DB_PASSWORD"; sleep 3600']
    envFrom:
    - configMapRef: {name: app-config}
    env:
    - name: DB_PASSWORD
      valueFrom: {secretKeyRef: {name: app-secret, key: DB_PASSWORD}}
    volumeMounts:
    - {name: config, mountPath: /etc/app}
    - {name: secret, mountPath: /etc/secret, readOnly: true}
  volumes:
  - name: config
    configMap: {name: app-config}
  - name: secret
    secret: {secretName: app-secret, defaultMode: 0400}
YAML
expect_eq "$(k apply -f "$E2E_DIR/app.yaml")" "pod/app created" "pod created"
k -n shop wait --for=condition=Ready pod/app --timeout=60s >/dev/null || e2e_fail "pod not Ready: $(k -n shop describe pod app)"
expect_eq "$(k -n shop logs app)" "mode=production workers=4 password=hunter2" "env from ConfigMap and Secret"
expect_eq "$(k -n shop exec app -- cat /etc/app/app.properties)" "$(printf 'color=blue\nsize=large')" \
	"ConfigMap file"
expect_eq "$(k -n shop exec app -- cat /etc/app/MODE)" production "ConfigMap key as a file"
expect_eq "$(k -n shop exec app -- cat /etc/secret/api-token)" s3cr3t-token "Secret file"
expect_contains "$(k -n shop exec app -- ls -lL /etc/secret/api-token)" "-r--------" "Secret file mode 0400"

k -n shop create configmap app-config --from-literal=MODE=maintenance --from-literal=WORKERS=4 \
	--from-file="$E2E_DIR/app.properties" --dry-run=client -o yaml | k apply -f - >/dev/null 2>&1
mode_is() { [ "$(k -n shop exec app -- cat /etc/app/MODE)" = "$1" ]; }
wait_for 90 mode_is maintenance || e2e_fail "the mounted ConfigMap never changed"

expect_eq "$(k delete namespace shop)" 'namespace "shop" deleted' "delete namespace"
wait_for 60 sh -c "! '$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get namespace shop" ||
	e2e_fail "namespace shop still there"
expect_contains "$(k get configmaps,secrets,pods -n shop 2>&1)" "No resources found" "namespace contents gone"
echo PASS
