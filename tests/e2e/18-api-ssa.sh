#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Server-side apply with kubectl 1.32: create, re-apply and change with --server-side; a second
# field manager conflicting on .spec.replicas (kubectl's conflict text) and winning with
# --force-conflicts; fields dropped from the applied file disappear; managedFields show Apply
# and Update managers; an object made by client-side apply moves to server-side apply the way
# kubectl migrates it (no conflict, ownership merged, later removals work).
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent

deploy() { # NAME REPLICAS [ENV_B] [TIER_LABEL]
	cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  labels:
    app: $1
${4:+    tier: $4}
spec:
  replicas: $2
  selector:
    matchLabels:
      app: $1
  template:
    metadata:
      labels:
        app: $1
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
        env:
        - name: A
          value: "1"
${3:+        - name: B
          value: "$3"}
YAML
}
mf() { k get deploy "$1" -o json --show-managed-fields; }
# managers NAME: "manager/operation" lines, sorted. The controllers' status writes (their own
# Update entries with subresource "status", as kube-controller-manager's are) are left out.
managers() {
	mf "$1" | jq -r '.metadata.managedFields[] | select(.subresource != "status") |
		"\(.manager)/\(.operation)"' | LC_ALL=C sort |
		tr '\n' ' '
}

# --- create, re-apply, change ---
deploy web 2 two fe >"$E2E_DIR/web.yaml"
expect_eq "$(k apply --server-side -f "$E2E_DIR/web.yaml")" "deployment.apps/web serverside-applied" \
	"server-side create"
expect_eq "$(k apply --server-side -f "$E2E_DIR/web.yaml")" "deployment.apps/web serverside-applied" \
	"server-side re-apply"
expect_eq "$(managers web)" "kubectl/Apply " "one Apply manager"
expect_eq "$(mf web | jq -c '.metadata.managedFields[0].fieldsV1."f:spec"."f:replicas"')" "{}" \
	"kubectl owns replicas"
expect_eq "$(mf web | jq -r '.metadata.managedFields[0].fieldsV1."f:spec"."f:template"."f:spec"."f:containers"."k:{\"name\":\"nginx\"}"."f:ports" | keys[0]')" \
	'k:{"containerPort":80,"protocol":"TCP"}' "port key with defaulted protocol"
deploy web 3 two fe >"$E2E_DIR/web3.yaml"
k apply --server-side -f "$E2E_DIR/web3.yaml" >/dev/null
expect_eq "$(k get deploy web -o jsonpath='{.spec.replicas}')" 3 "applied change"
# kubectl hides managedFields unless asked.
if k get deploy web -o yaml | grep -q managedFields; then e2e_fail "managedFields shown by default"; fi

# --- a second manager conflicts on .spec.replicas ---
cat >"$E2E_DIR/scale.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 5
YAML
out=$(expect_fail k apply --server-side --field-manager other -f "$E2E_DIR/scale.yaml")
expect_contains "$out" 'error: Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' \
	"conflict text"
expect_contains "$out" "Please review the fields above--they currently have other managers." \
	"kubectl's advice"
expect_eq "$(k get deploy web -o jsonpath='{.spec.replicas}')" 3 "conflict changed nothing"
expect_eq "$(k apply --server-side --field-manager other --force-conflicts -f "$E2E_DIR/scale.yaml")" \
	"deployment.apps/web serverside-applied" "--force-conflicts"
expect_eq "$(k get deploy web -o jsonpath='{.spec.replicas}')" 5 "forced value"
expect_eq "$(mf web | jq -r '.metadata.managedFields[] | select(.manager=="other") | .fieldsV1."f:spec" | keys | join(",")')" \
	"f:replicas" "other owns replicas"
expect_eq "$(mf web | jq -r '.metadata.managedFields[] | select(.manager=="kubectl") | .fieldsV1."f:spec" | has("f:replicas")')" \
	"false" "kubectl lost replicas"
# Co-owning by applying the same value is no conflict.
sed 's/replicas: 3/replicas: 5/' "$E2E_DIR/web3.yaml" >"$E2E_DIR/web5.yaml"
k apply --server-side -f "$E2E_DIR/web5.yaml" >/dev/null

# --- fields dropped from the applied file disappear ---
deploy web 5 "" "" >"$E2E_DIR/web-less.yaml"
k apply --server-side -f "$E2E_DIR/web-less.yaml" >/dev/null
expect_eq "$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].env[*].name}')" "A" \
	"env B removed"
expect_eq "$(k get deploy web -o jsonpath='{.metadata.labels.tier}')" "" "label removed"
expect_eq "$(k get deploy web -o jsonpath='{.spec.replicas}')" 5 "co-owned replicas stay"

# --- Update managers next to Apply ones ---
k label deploy web extra=1 >/dev/null
k scale deploy web --replicas=4 >/dev/null
y=$(k get deploy web -o yaml --show-managed-fields)
expect_contains "$y" "manager: kubectl-label" "label's Update entry"
expect_contains "$y" "operation: Update" "Update operation shown"
expect_contains "$y" "operation: Apply" "Apply operation shown"
expect_contains "$y" "subresource: scale" "scale entry"
expect_contains "$y" "fieldsType: FieldsV1" "fieldsType"
# kubectl scale names no manager: the User-Agent's product (the kubectl binary's name) is used.
# "other" owned only replicas, which the scale took: it is gone.
m=$(managers web)
expect_contains "$m" "kubectl-label/Update kubectl" "label manager"
expect_contains "$m" "/Update kubectl/Apply " "scale and apply managers"
case "$m" in *other*) e2e_fail "manager without fields kept: $m" ;; esac

# --- client-side apply, then server-side apply: kubectl's migration ---
deploy mig 2 two >"$E2E_DIR/mig.yaml"
expect_eq "$(k apply -f "$E2E_DIR/mig.yaml")" "deployment.apps/mig created" "client-side create"
expect_eq "$(managers mig)" "kubectl-client-side-apply/Update " "client-side manager"
deploy mig 3 two >"$E2E_DIR/mig3.yaml"
expect_eq "$(k apply --server-side -f "$E2E_DIR/mig3.yaml" 2>&1)" "deployment.apps/mig serverside-applied" \
	"server-side apply after client-side apply: no conflict"
expect_eq "$(k get deploy mig -o jsonpath='{.spec.replicas}')" 3 "migrated apply changed replicas"
expect_eq "$(managers mig)" "kubectl-last-applied/Apply kubectl/Apply " "client-side manager migrated"
la=$(k get deploy mig -o jsonpath='{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}')
expect_contains "$la" '"replicas":3' "last-applied follows server-side apply"
deploy mig 3 >"$E2E_DIR/mig-less.yaml"
k apply --server-side -f "$E2E_DIR/mig-less.yaml" >/dev/null
expect_eq "$(k get deploy mig -o jsonpath='{.spec.template.spec.containers[0].env[*].name}')" "A" \
	"field owned through client-side apply is removed after migration"
# And back: client-side apply still works on the migrated object.
expect_eq "$(k apply -f "$E2E_DIR/mig.yaml")" "deployment.apps/mig configured" "client-side apply again"
expect_eq "$(k get deploy mig -o jsonpath='{.spec.template.spec.containers[0].env[*].name}')" "A B" \
	"client-side apply adds env B back"

# --- a custom resource: its schema types the fields ---
M=$(dirname "$0")/manifests
k apply -f "$M/backup-crd.yaml" >/dev/null
wait_for 5 sh -c "'$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_DIR/kubeconfig.yaml' api-resources | grep -q '^backups '" ||
	e2e_fail "backups not served"
bk() { # TARGET_LINE
	printf 'apiVersion: edge.example.com/v1\nkind: Backup\nmetadata:\n  name: nightly\nspec:\n  schedule: "0 3 * * *"\n  keep: 5\n%s' "$1"
}
bk "  target: nfs"$'\n' | k apply --server-side -f - >/dev/null
expect_eq "$(k get backup nightly -o jsonpath='{.spec.target}')" "nfs" "custom resource applied"
bk "" | k apply --server-side -f - >/dev/null
expect_eq "$(k get backup nightly -o jsonpath='{.spec.target}')" "" "custom resource field removed"
out=$(printf 'apiVersion: edge.example.com/v1\nkind: Backup\nmetadata:\n  name: nightly\nspec:\n  keep: 9\n' |
	expect_fail k apply --server-side --field-manager other -f -)
expect_contains "$out" 'Apply failed with 1 conflict: conflict with "kubectl": .spec.keep' \
	"custom resource conflict"
echo "PASS"
