#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Discovery, OpenAPI and explain as real kubectl uses them (1.32 and 1.27), and no
# anonymous access.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent

for v in kubectl.1.32 kubectl.1.27; do
	out=$(KUBECTL=$v k api-resources)
	for want in "pods " "po " "deployments " "deploy " "apps/v1 " "clusterrolebindings " \
		"rbac.authorization.k8s.io/v1" "customresourcedefinitions" "horizontalpodautoscalers"; do
		expect_contains "$out" "$want" "$v api-resources"
	done
	expect_contains "$(KUBECTL=$v k api-resources --namespaced=false)" "nodes" "$v cluster-scoped"
	expect_contains "$(KUBECTL=$v k api-versions)" "apps/v1" "$v api-versions"
done

# The dispatcher picks the client by /version's minor.
expect_contains "$(kubectl --kubeconfig "$E2E_KUBECONFIG" version)" "Server Version: v1.32" "version"

# explain reads our OpenAPI v3 schemas.
out=$(k explain deployment.spec.strategy)
expect_contains "$out" "KIND:       Deployment" "explain kind"
expect_contains "$out" "FIELD: strategy <DeploymentStrategy>" "explain field"
expect_contains "$out" "rollingUpdate" "explain subfield"
expect_contains "$(k explain pods.spec.containers)" "image" "explain containers"

# Defaults at first start.
out=$(k get namespaces -o name)
for ns in default kube-system kube-public kube-node-lease; do
	expect_contains "$out" "namespace/$ns" "default namespaces"
done
expect_contains "$(k get svc kubernetes)" "10.43.0.1" "kubernetes service"
expect_contains "$(k -n kube-system get svc kube-dns)" "10.43.0.10   <none>        53/UDP,53/TCP" "kube-dns service"
expect_contains "$(k create svc clusterip taken --tcp=80 --clusterip=10.43.0.10 2>&1 || true)" \
	"provided IP is already allocated" "the DNS address is taken"
expect_contains "$(k get endpoints kubernetes)" "127.0.0.1:" "kubernetes endpoints"

# No anonymous access: a client without credentials gets 401.
port=$(sed -n 's/.*server: https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$E2E_KUBECONFIG")
code=$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port/api/v1/pods")
expect_eq "$code" 401 "anonymous request"
out=$(expect_fail "$KUBECTL_DIR/kubectl.1.32" --kubeconfig /dev/null --server "https://127.0.0.1:$port" \
	--insecure-skip-tls-verify --token not-a-valid-token get pods </dev/null)
expect_contains "$out" "error: You must be logged in to the server (Unauthorized)" "bad token"
# A client certificate from another CA is not accepted either.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=mallory/O=system:masters" \
	-keyout "$E2E_DIR/k.pem" -out "$E2E_DIR/c.pem" -days 1 2>/dev/null
code=$(curl -sk --cert "$E2E_DIR/c.pem" --key "$E2E_DIR/k.pem" -o /dev/null -w '%{http_code}' \
	"https://127.0.0.1:$port/api/v1/pods" || true)
case "$code" in 401 | 000) ;; *) e2e_fail "foreign client certificate accepted: $code" ;; esac
echo PASS
