#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A user who is not an administrator: a ServiceAccount's token can discover the API and is
# refused (403, worded as Kubernetes words it) until a RoleBinding grants access; `auth
# can-i` answers from the same rules.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent

k create serviceaccount reader >/dev/null
token=$(k create token reader)
[ -n "$token" ] || e2e_fail "no token"
port=$(sed -n 's/.*server: https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$E2E_KUBECONFIG")
as_reader() {
	"$KUBECTL_DIR/kubectl.1.32" --kubeconfig /dev/null --server "https://127.0.0.1:$port" \
		--certificate-authority "$E2E_DATA/server/tls/server-ca.crt" --token "$token" "$@" </dev/null
}

# Discovery works for any authenticated user (system:discovery).
expect_contains "$(as_reader api-resources)" "deployments" "discovery as a plain user"
out=$(expect_fail as_reader get pods)
expect_contains "$out" 'pods is forbidden: User "system:serviceaccount:default:reader" cannot list resource "pods" in API group "" in the namespace "default"' "403"
expect_eq "$(as_reader auth can-i list pods 2>&1 || true)" "no" "can-i before"

cat <<'Y' | k create -f - >/dev/null
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: reader, namespace: default}]
Y
expect_contains "$(as_reader get pods 2>&1)" "No resources found" "allowed after binding"
expect_eq "$(as_reader auth can-i list pods)" "yes" "can-i after"
expect_eq "$(as_reader auth can-i delete pods 2>&1 || true)" "no" "view cannot delete"
out=$(expect_fail as_reader -n kube-system get pods)
expect_contains "$out" 'in the namespace "kube-system"' "binding is per namespace"

# Deleting the account revokes its tokens.
k delete sa reader >/dev/null
out=$(expect_fail as_reader get pods)
expect_contains "$out" "Unauthorized" "token of a deleted account"
echo PASS
