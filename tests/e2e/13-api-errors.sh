#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Every error a user meets, printed by kubectl as it prints them for real Kubernetes.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent
M=$(dirname "$0")/manifests

out=$(expect_fail k get pod nope)
expect_eq "$out" 'Error from server (NotFound): pods "nope" not found' "not found"
out=$(expect_fail k delete deploy nope)
expect_eq "$out" 'Error from server (NotFound): deployments.apps "nope" not found' "not found group"
out=$(expect_fail k get nosuchkind)
expect_contains "$out" 'the server doesn'"'"'t have a resource type "nosuchkind"' "unknown resource"

k create -f "$M/web-deploy.yaml" >/dev/null
out=$(expect_fail k create -f "$M/web-deploy.yaml")
expect_contains "$out" 'Error from server (AlreadyExists): error when creating' "already exists"
expect_contains "$out" 'deployments.apps "web" already exists' "already exists text"

# Invalid: a Deployment without a selector, a bad name, a missing image.
cat >"$E2E_DIR/nosel.yaml" <<'Y'
apiVersion: apps/v1
kind: Deployment
metadata: {name: nosel}
spec:
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: c, image: busybox}]}
Y
out=$(expect_fail k create -f "$E2E_DIR/nosel.yaml")
expect_contains "$out" 'The Deployment "nosel" is invalid' "invalid"
expect_contains "$out" 'spec.selector: Required value' "invalid cause"
out=$(expect_fail k create -f - <<<'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}')
expect_contains "$out" 'is invalid: metadata.name: Invalid value: "Bad_Name"' "bad name"

# Stale resourceVersion: Conflict.
k get deploy web -o yaml >"$E2E_DIR/stale.yaml"
k label deploy web touched=1 >/dev/null
out=$(expect_fail k replace -f "$E2E_DIR/stale.yaml")
expect_contains "$out" 'Error from server (Conflict)' "conflict"
expect_contains "$out" 'the object has been modified; please apply your changes to the latest version and try again' "conflict text"

# Unknown fields: strict by default with kubectl 1.32 (server-side validation), a warning
# with --validate=warn, silently dropped with --validate=false.
sed 's/replicas: 2/replicas: 2\n  bogusField: 1/' "$M/web-deploy.yaml" >"$E2E_DIR/bogus.yaml"
out=$(expect_fail k apply -f "$E2E_DIR/bogus.yaml")
expect_contains "$out" 'strict decoding error: unknown field "spec.bogusField"' "strict"
out=$(k apply --validate=warn -f "$E2E_DIR/bogus.yaml" 2>&1)
expect_contains "$out" 'Warning: unknown field "spec.bogusField"' "warn"
out=$(k apply --validate=false -f "$E2E_DIR/bogus.yaml" 2>&1)
expect_contains "$out" 'deployment.apps/web' "ignore"
[ -z "$(k get deploy web -o jsonpath='{.spec.bogusField}')" ] || e2e_fail "unknown field stored"

# Wrong types are a BadRequest.
cat >"$E2E_DIR/badtype.yaml" <<'Y'
apiVersion: v1
kind: ConfigMap
metadata: {name: badtype}
data: [1, 2]
Y
out=$(expect_fail k create -f "$E2E_DIR/badtype.yaml" --validate=false)
expect_contains "$out" 'cannot unmarshal array into Go struct field' "wrong type"

# YAML syntax errors name the position (kubectl's own parser) and malformed bodies get 400.
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n' >"$E2E_DIR/bad.yaml"
out=$(expect_fail k create -f "$E2E_DIR/bad.yaml")
expect_contains "$out" 'line 5' "yaml error position"
out=$(expect_fail k create --raw /api/v1/namespaces/default/configmaps -f - <<<'{"kind":')
expect_contains "$out" 'BadRequest' "malformed JSON"

# Wrong kind for the path: 400.
out=$(expect_fail k create --raw /api/v1/namespaces/default/configmaps -f - \
	<<<'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}')
expect_contains "$out" 'does not match the expected kind' "kind mismatch"

# Creating in a namespace that does not exist: NotFound.
out=$(expect_fail k -n nowhere create -f - <<<'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}')
expect_contains "$out" 'namespaces "nowhere" not found' "missing namespace"

# Too large: objects over 1.5 MiB.
head -c 1700000 /dev/zero | tr '\0' 'a' >"$E2E_DIR/big.txt"
{ printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"big":"'; cat "$E2E_DIR/big.txt"; printf '"}}'; } >"$E2E_DIR/big.json"
out=$(expect_fail k create -f "$E2E_DIR/big.json")
expect_contains "$out" 'Request entity too large' "413"
echo PASS
