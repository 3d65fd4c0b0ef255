#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Joining nodes, the server's side and the agent's bootstrap (`edgek join`): the server token
# file, /cacerts, join tokens (`edgek token`), CertificateSigningRequests approved and signed
# for a valid token (`kubectl get csr`), refusals (wrong CA hash, wrong token, a second agent
# claiming a node name), and node identity: a node's credentials may change its own Node but
# get 403 on another's.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent

port=$(sed -n 's/.*server: https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$E2E_KUBECONFIG")
url=https://127.0.0.1:$port
ca=$E2E_DATA/server/tls/server-ca.crt

# The server token: K10<sha256 of the CA PEM>::server:<secret>, mode 0600.
tokfile=$E2E_DATA/server/token
expect_eq "$(stat -c %a "$tokfile")" 600 "token file mode"
token=$(cat "$tokfile")
hash=$(sha256sum "$ca" | cut -d' ' -f1)
expect_contains "$token" "K10$hash::server:" "token names the CA hash"

# /cacerts serves the CA to anyone, byte for byte.
curl -sk "$url/cacerts" >"$E2E_DIR/cacerts"
cmp -s "$E2E_DIR/cacerts" "$ca" || e2e_fail "/cacerts differs from the CA"
# Anything else still needs credentials.
expect_eq "$(curl -sk -o /dev/null -w '%{http_code}' "$url/api/v1/nodes")" 401 "anonymous"

join() { "$EDGEK" join --server "$url" "$@"; }

# A wrong CA hash is refused before any secret is sent, naming both hashes.
bad=K10$(printf '%064d' 0)::server:${token##*:}
out=$(expect_fail join --token "$bad" --node-name n1 --data-dir "$E2E_DIR/n1")
expect_contains "$out" "has hash $hash, but the token names CA hash $(printf '%064d' 0)" "wrong hash"
# A wrong secret: 401.
out=$(expect_fail join --token "K10$hash::server:wrong" --node-name n1 --data-dir "$E2E_DIR/n1")
expect_contains "$out" "refused the join token" "wrong token"

# The server token joins node n1: a CSR, approved and issued.
out=$(join --token "$token" --node-name n1 --data-dir "$E2E_DIR/n1")
expect_contains "$out" "node n1: new credentials" "join n1"
kc1=$E2E_DIR/n1/agent/kubelet.kubeconfig
expect_eq "$(stat -c %a "$E2E_DIR/n1/agent/client-kubelet.key")" 600 "key mode"
csrs=$(k get csr)
expect_contains "$csrs" "kubernetes.io/kube-apiserver-client-kubelet" "kubectl get csr"
expect_contains "$csrs" "Approved,Issued" "csr approved and issued"
expect_contains "$(k get csr -o jsonpath='{.items[?(@.spec.signerName=="kubernetes.io/kube-apiserver-client-kubelet")].spec.username}')" "system:bootstrap:" "requester"
# The agent's own identity (its service proxy reads EndpointSlices, which a node may not).
expect_contains "$(k get csr -o jsonpath='{.items[?(@.spec.signerName=="kubernetes.io/kube-apiserver-client")].spec.username}')" "system:node:n1" "agent identity asked for by the node"
ka=$E2E_DIR/n1/agent
out=$(curl -s --cacert "$ca" --cert "$ka/client-agent.crt" --key "$ka/client-agent.key" "$url/apis/discovery.k8s.io/v1/endpointslices")
expect_contains "$out" '"kind":"EndpointSliceList"' "agent identity lists EndpointSlices"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" --cert "$ka/client-agent.crt" --key "$ka/client-agent.key" "$url/api/v1/secrets")" 403 "agent identity reads no Secrets"
# A second join reuses the credentials.
expect_contains "$(join --token "$token" --node-name n1 --data-dir "$E2E_DIR/n1")" "existing credentials" "reuse"
# Renewal with the node's own certificate (selfnodeclient).
expect_contains "$(join --renew --node-name n1 --data-dir "$E2E_DIR/n1")" "new credentials" "renew"

# A second agent claiming n1 (another data dir, so another node password) is refused.
out=$(expect_fail join --token "$token" --node-name n1 --data-dir "$E2E_DIR/n1-imposter")
expect_contains "$out" 'node "n1" has already joined with another node password' "duplicate name"

# Bootstrap tokens: create, list, join, delete.
bt=$("$EDGEK" token create --kubeconfig "$E2E_KUBECONFIG" --ttl 1h --description e2e)
expect_contains "$bt" "K10$hash::" "token create prints the secure form"
id=$(echo "${bt##*::}" | cut -d. -f1)
list=$("$EDGEK" token list --kubeconfig "$E2E_KUBECONFIG")
expect_contains "$list" "${bt##*::}" "token list"
expect_contains "$list" "e2e" "description"
expect_eq "$(k -n kube-system get secret "bootstrap-token-$id" -o jsonpath='{.type}')" \
	bootstrap.kubernetes.io/token "stored as Kubernetes stores them"
expect_contains "$(join --token "$bt" --node-name n2 --data-dir "$E2E_DIR/n2")" "node n2: new" "join n2"
kc2=$E2E_DIR/n2/agent/kubelet.kubeconfig
"$EDGEK" token delete --kubeconfig "$E2E_KUBECONFIG" "$id" >/dev/null
out=$(expect_fail join --token "$bt" --node-name n3 --data-dir "$E2E_DIR/n3")
expect_contains "$out" "refused the join token" "deleted token"
# An expired token is refused.
exp=$("$EDGEK" token create --kubeconfig "$E2E_KUBECONFIG" --ttl 1s)
sleep 2
out=$(expect_fail join --token "$exp" --node-name n3 --data-dir "$E2E_DIR/n3")
expect_contains "$out" "refused the join token" "expired token"
# ...and the token cleaner deletes its Secret.
exp_id=${exp##*::}
exp_id=${exp_id%%.*}
gone() { ! k -n kube-system get secret "bootstrap-token-$exp_id" >/dev/null 2>&1; }
wait_for 15 gone || e2e_fail "expired token's Secret bootstrap-token-$exp_id not deleted"

# Node identity. The node registers its own Node; the other one's is off limits.
as() { KUBECONFIG= "$KUBECTL_DIR/$KUBECTL" --kubeconfig "$1" "${@:2}"; }
node_yaml() { printf 'apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n' "$1"; }
node_yaml n1 | as "$kc1" create -f - >/dev/null
node_yaml n2 | as "$kc2" create -f - >/dev/null
out=$(expect_fail as "$kc1" create -f - < <(node_yaml n9))
expect_contains "$out" "forbidden" "a node cannot create another Node"
as "$kc1" label node n1 mine=yes >/dev/null
# (kubectl patch would GET first; this is the PATCH alone.)
n1curl() {
	curl -s --cacert "$ca" --cert "$E2E_DIR/n1/agent/client-kubelet.crt" \
		--key "$E2E_DIR/n1/agent/client-kubelet.key" "$@"
}
out=$(n1curl -w '\n%{http_code}' -X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"metadata":{"labels":{"theirs":"no"}}}' "$url/api/v1/nodes/n2")
expect_eq "${out##*$'\n'}" 403 "PATCH another node's Node"
expect_contains "$out" 'nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\"' "403 message"
expect_eq "$(n1curl -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"metadata":{"labels":{"own":"yes"}}}' "$url/api/v1/nodes/n1")" 200 "PATCH its own Node"
expect_eq "$(k get node n2 -o jsonpath='{.metadata.labels.theirs}')" "" "n2 unchanged"
out=$(expect_fail as "$kc1" delete node n2)
expect_contains "$out" "forbidden" "cannot delete another node"
out=$(expect_fail as "$kc1" get secrets -A)
expect_contains "$out" "forbidden" "cannot list secrets"
out=$(expect_fail as "$kc1" -n kube-system get configmaps)
expect_contains "$out" "forbidden" "cannot list configmaps"
# Reads: its own Node (Kubernetes 1.32's Node authorizer restricts Node reads to it).
expect_contains "$(as "$kc1" get node n1)" "n1" "own node readable"
out=$(expect_fail as "$kc1" get node n2)
expect_contains "$out" "only its own Node object" "another node's Node"

# Pods: status of a pod bound to n1 only.
mkpod() {
	printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  nodeName: %s\n  containers:\n  - name: c\n    image: busybox\n' "$1" "$2" | k create -f - >/dev/null
}
mkpod p1 n1
mkpod p2 n2
as "$kc1" get pod p1 >/dev/null
out=$(expect_fail as "$kc1" get pod p2)
expect_contains "$out" "forbidden" "cannot read a pod of another node"
status_patch() {
	n1curl -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Type: application/merge-patch+json' \
		-d '{"status":{"message":"from n1"}}' "$url/api/v1/namespaces/default/pods/$1/status"
}
expect_eq "$(status_patch p1)" 200 "status of its own pod"
expect_eq "$(k get pod p1 -o jsonpath='{.status.message}')" "from n1" "status written"
expect_eq "$(status_patch p2)" 403 "status of another node's pod"
out=$(expect_fail as "$kc1" delete pod p2)
expect_contains "$out" "forbidden" "cannot delete another node's pod"
echo PASS
