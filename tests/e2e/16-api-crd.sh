#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The book's CRD workflow: define a kind, create/list/describe/delete its objects, printer
# columns, defaults and schema validation with Kubernetes' messages, explain, categories, and
# deleting the CRD deleting its objects.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent
M=$(dirname "$0")/manifests

expect_eq "$(k apply -f "$M/backup-crd.yaml")" \
	"customresourcedefinition.apiextensions.k8s.io/backups.edge.example.com created" "CRD"
wait_for 5 sh -c "'$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' api-resources | grep -q '^backups .*bk'" ||
	e2e_fail "CRD not in discovery"
expect_contains "$(k get crd backups.edge.example.com -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" \
	"True" "Established"

cat <<'Y' | k apply -f - >/dev/null
apiVersion: edge.example.com/v1
kind: Backup
metadata: {name: nightly}
spec: {schedule: "0 3 * * *", target: nfs}
Y
out=$(k get backups)
expect_contains "$out" "SCHEDULE" "printer column header"
expect_contains "$out" "nightly   0 3 * * *   7" "printer cells with the schema default"
expect_eq "$(k get bk nightly -o jsonpath='{.spec.keep}')" 7 "default applied"
expect_contains "$(k describe backup nightly)" "Schedule:  0 3 * * *" "describe"
expect_contains "$(k get all)" "backup.edge.example.com/nightly" "category all"

# Schema violations, worded as apiextensions-apiserver words them.
out=$(expect_fail k apply -f - <<'Y'
apiVersion: edge.example.com/v1
kind: Backup
metadata: {name: bad}
spec: {schedule: "sometimes", keep: 99, target: floppy}
Y
)
expect_contains "$out" 'The Backup "bad" is invalid' "invalid"
expect_contains "$out" 'spec.keep: Invalid value: 99: spec.keep in body should be less than or equal to 30' "maximum"
expect_contains "$out" "spec.schedule in body should match" "pattern"
expect_contains "$out" 'spec.target: Unsupported value: "floppy": supported values: "sdcard", "nfs"' "enum"
out=$(expect_fail k apply -f - <<'Y'
apiVersion: edge.example.com/v1
kind: Backup
metadata: {name: noschedule}
spec: {keep: 3}
Y
)
expect_contains "$out" "spec.schedule: Required value" "required"
# Unknown fields are refused under strict validation and pruned otherwise.
out=$(expect_fail k apply -f - <<'Y'
apiVersion: edge.example.com/v1
kind: Backup
metadata: {name: extra}
spec: {schedule: "0 1 * * *", colour: blue}
Y
)
expect_contains "$out" 'unknown field "spec.colour"' "strict unknown field"

# Merge patches work on custom resources; strategic ones are refused as on Kubernetes.
k patch backup nightly --type merge -p '{"spec":{"keep":9}}' >/dev/null
expect_eq "$(k get bk nightly -o jsonpath='{.spec.keep}')" 9 "merge patch"
out=$(expect_fail k patch backup nightly --type strategic -p '{"spec":{"keep":8}}')
expect_contains "$out" "application/strategic-merge-patch+json is not supported by edge.example.com/v1, Kind=Backup" "no strategic merge for custom resources"

expect_contains "$(k explain backup.spec)" "Cron schedule." "explain from the schema"

# Deleting the CRD deletes its objects, then the CRD and its API.
k delete crd backups.edge.example.com --wait --timeout=20s >/dev/null
expect_fail k get crd backups.edge.example.com >/dev/null
wait_for 5 sh -c "! '$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' api-resources | grep -q '^backups '" ||
	e2e_fail "CRD still in discovery"
# A CRD whose schema is not structural is refused.
out=$(expect_fail k apply -f - <<'Y'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.edge.example.com}
spec:
  group: edge.example.com
  scope: Namespaced
  names: {plural: things, singular: thing, kind: Thing}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            properties:
              size: {type: integer}
Y
)
expect_contains "$out" "must not be empty for specified object fields" "structural schema"
echo PASS
