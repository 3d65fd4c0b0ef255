#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The everyday kubectl verbs against the API server: create/apply (first, changed, unchanged),
# get in every output form, describe, edit, patch (three types), label/annotate, scale,
# delete — with kubectl 1.32, then the same create/apply path with 1.27.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent
M=$(dirname "$0")/manifests

expect_eq "$(k apply -f "$M/web-deploy.yaml")" "deployment.apps/web created" "apply first"
expect_eq "$(k apply -f "$M/web-deploy.yaml")" "deployment.apps/web unchanged" "apply again"
sed 's/replicas: 2/replicas: 3/' "$M/web-deploy.yaml" >"$E2E_DIR/web3.yaml"
expect_eq "$(k apply -f "$E2E_DIR/web3.yaml")" "deployment.apps/web configured" "apply changed"
expect_eq "$(k get deploy web -o jsonpath='{.spec.replicas}')" 3 "applied replicas"
expect_eq "$(k get deploy web -o jsonpath='{.metadata.generation}')" 2 "generation bumped"
out=$(k create -f "$M/cm-multi.yaml")
expect_contains "$out" "configmap/settings created" "multi-doc create"
expect_contains "$out" "secret/creds created" "multi-doc create"
expect_eq "$(k get cm settings -o jsonpath='{.data.mode}')" "on" "quoted value stays a string"
expect_eq "$(k get secret creds -o jsonpath='{.data.password}' | base64 -d)" "s3cret" "stringData"
k apply -f "$M/web-svc.yaml" >/dev/null

# get: table columns, wide, formats, selectors.
out=$(k get deploy)
expect_contains "$out" "NAME" "table header"
expect_contains "$out" "READY" "deployment columns"
expect_contains "$out" "UP-TO-DATE" "deployment columns"
expect_contains "$(k get deploy -o wide)" "SELECTOR" "wide column"
expect_contains "$(k get svc web)" "ClusterIP" "service type"
ip=$(k get svc web -o jsonpath='{.spec.clusterIP}')
case "$ip" in 10.43.*) ;; *) e2e_fail "cluster IP not allocated: $ip" ;; esac
expect_eq "$(k get deploy web -o name)" "deployment.apps/web" "-o name"
k get deploy web -o yaml | grep -q "kind: Deployment" || e2e_fail "-o yaml"
k get deploy web -o json | grep -q '"kind": "Deployment"' || e2e_fail "-o json"
expect_eq "$(k get cm -l tier=backend -o name)" "configmap/settings" "label selector"
expect_eq "$(k get cm -l 'tier in (frontend)' -o name)" "" "set-based selector"
expect_contains "$(k get ns -A --show-labels)" "kubernetes.io/metadata.name=default" "--show-labels"
mkcm -n kube-public elsewhere a=1
# Column widths depend on every namespace's content (kube-root-ca.crt is in each): squeeze.
out=$(k get cm -A | tr -s ' ')
expect_contains "$out" "kube-public elsewhere" "-A lists every namespace"
expect_contains "$out" "default settings" "-A lists every namespace"
mkns sorting
for n in zeta alpha mid; do mkcm -n sorting $n a=1; done
out=$(k -n sorting get cm --sort-by=.metadata.name -o name | grep -v kube-root-ca.crt | tr '\n' ' ')
expect_eq "$out" "configmap/alpha configmap/mid configmap/zeta " "--sort-by"
expect_contains "$(k get all)" "deployment.apps/web" "get all"
expect_contains "$(k get all)" "service/web" "get all"

# describe
out=$(k describe deploy web)
expect_contains "$out" "Name:                   web" "describe"
expect_contains "$out" "Replicas:" "describe replicas"

# label / annotate (merge patches)
expect_eq "$(k label deploy web tier=frontend)" "deployment.apps/web labeled" "label"
expect_eq "$(k get deploy web -o jsonpath='{.metadata.labels.tier}')" "frontend" "label set"
expect_eq "$(k annotate deploy web note=hello)" "deployment.apps/web annotated" "annotate"
expect_eq "$(k label deploy web tier-)" "deployment.apps/web unlabeled" "unlabel"

# patch: strategic (default), merge, json
k patch deploy web -p '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}' >/dev/null
expect_eq "$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')" "nginx:1.26" "SMP"
expect_eq "$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].env[1].name}')" "B" "SMP kept env"
k patch deploy web --type merge -p '{"spec":{"minReadySeconds":5}}' >/dev/null
expect_eq "$(k get deploy web -o jsonpath='{.spec.minReadySeconds}')" 5 "merge patch"
k patch deploy web --type json -p '[{"op":"replace","path":"/spec/replicas","value":4}]' >/dev/null
expect_eq "$(k get deploy web -o jsonpath='{.spec.replicas}')" 4 "json patch"
k set image deploy/web nginx=nginx:1.27 >/dev/null
expect_eq "$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')" "nginx:1.27" "set image"

# edit with EDITOR
cat >"$E2E_DIR/editor.sh" <<'ED'
#!/bin/sh
sed -i 's/minReadySeconds: 5/minReadySeconds: 7/' "$1"
ED
chmod +x "$E2E_DIR/editor.sh"
expect_eq "$(EDITOR=$E2E_DIR/editor.sh k edit deploy web)" "deployment.apps/web edited" "edit"
expect_eq "$(k get deploy web -o jsonpath='{.spec.minReadySeconds}')" 7 "edit applied"

# scale
expect_eq "$(k scale deploy web --replicas=1)" "deployment.apps/web scaled" "scale"
expect_eq "$(k get deploy web -o jsonpath='{.spec.replicas}')" 1 "scaled"
expect_eq "$(k scale deploy web --current-replicas=1 --replicas=2)" "deployment.apps/web scaled" "scale cur"
out=$(expect_fail k scale deploy web --current-replicas=5 --replicas=3)
expect_contains "$out" "Expected replicas to be 5, was 2" "scale precondition"

# replace (PUT) and dry run
k get cm settings -o yaml | sed 's/retries: "3"/retries: "4"/' | k replace -f - >/dev/null
expect_eq "$(k get cm settings -o jsonpath='{.data.retries}')" 4 "replace"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\n' | k create --dry-run=server -f - >/dev/null
expect_fail k get cm dry >/dev/null

# delete, with --wait, and cascade modes accepted
expect_eq "$(k delete cm settings)" 'configmap "settings" deleted' "delete"
expect_fail k get cm settings >/dev/null
expect_eq "$(k delete deploy web --cascade=background --wait)" 'deployment.apps "web" deleted' "delete deploy"
expect_eq "$(k delete svc web --cascade=orphan --wait=false)" 'service "web" deleted' "delete orphan"

# kubectl 1.27 on the same server: JSON bodies, v2beta1 discovery.
export KUBECTL=kubectl.1.27
expect_eq "$(k apply -f "$M/web-deploy.yaml")" "deployment.apps/web created" "1.27 apply"
expect_eq "$(k apply -f "$M/web-deploy.yaml")" "deployment.apps/web unchanged" "1.27 unchanged"
expect_contains "$(k get deploy)" "web" "1.27 get"
expect_eq "$(k create configmap c127 --from-literal=x=y)" "configmap/c127 created" "1.27 create"
expect_eq "$(k delete deploy web)" 'deployment.apps "web" deleted' "1.27 delete"
echo PASS
