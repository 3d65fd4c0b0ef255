#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A book-style walkthrough (chapter 6: Pods, ReplicaSets, Deployments, Services), in the
# project's own words and manifests, on real pods: a bare pod; a ReplicaSet that replaces a
# deleted pod; a Deployment scaled, rolled to a new image (rollout status / history), rolled
# to a broken image and undone; a ClusterIP Service reached by name from another pod, answered
# by every replica. (NodePort and LoadBalancer from outside the node: 32-proxy-agent.sh.)
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

E2E_DATA=$E2E_DIR/data
"$EDGEK" image import --data-dir "$E2E_DATA" "$E2E_IMAGE" >/dev/null
LAYERS=base,tag:v2 "$E2E_ROOT/tests/fixtures/mkimage.sh" oci "$E2E_DIR/v2.tar" docker.io/library/busybox:v2
"$EDGEK" image import --data-dir "$E2E_DATA" "$E2E_DIR/v2.tar" >/dev/null
e2e_start_server "${E2E_NODE_FLAGS[@]}"
wait_for 30 sh -c "'$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get nodes | grep -q ' Ready '" ||
	e2e_fail "the local node never became Ready"
wait_for 30 k get serviceaccount default || e2e_fail "no default ServiceAccount"

# ---- a pod ----
expect_eq "$(k run hello --image=busybox:e2e --restart=Never -- echo hello from a pod)" "pod/hello created" "run"
podphase() { [ "$(k get pod "$1" -o jsonpath='{.status.phase}')" = "$2" ]; }
wait_for 60 podphase hello Succeeded || e2e_fail "hello did not succeed"
expect_eq "$(k logs hello)" "hello from a pod" "logs"

# ---- a ReplicaSet heals ----
cat <<'YAML' | k apply -f - >/dev/null
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs-web}
spec:
  replicas: 2
  selector: {matchLabels: {app: rs-web}}
  template:
    metadata: {labels: {app: rs-web}}
    spec:
      containers: [{name: web, image: "busybox:e2e", command: [sleep, "3600"]}]
YAML
ready_is() { [ "$(k get "$1" -o jsonpath='{.status.readyReplicas}')" = "$2" ]; }
wait_for 60 ready_is rs/rs-web 2 || e2e_fail "ReplicaSet not ready: $(k get pods)"
victim=$(k get pods -l app=rs-web -o jsonpath='{.items[0].metadata.name}')
k delete pod "$victim" --wait=false >/dev/null
replaced() { [ "$(k get pods -l app=rs-web --field-selector=status.phase=Running -o name | grep -vc "$victim")" = 2 ]; }
wait_for 60 replaced || e2e_fail "the deleted pod was not replaced: $(k get pods -l app=rs-web)"
k delete rs rs-web >/dev/null

# ---- a Deployment: scale, roll, undo ----
expect_eq "$(k create deployment web --image=busybox:e2e --replicas=2 -- busybox httpd -f -p 8080 -h /etc)" \
	"deployment.apps/web created" "create deployment"
k rollout status deployment/web --timeout=60s >/dev/null || e2e_fail "first rollout"
expect_eq "$(k scale deployment web --replicas=3)" "deployment.apps/web scaled" "scale"
k rollout status deployment/web --timeout=60s >/dev/null || e2e_fail "scale rollout"
expect_eq "$(k expose deployment web --port=80 --target-port=8080)" "service/web exposed" "expose"

expect_eq "$(k run client --image=busybox:e2e --restart=Never -- sleep 3600)" "pod/client created" "client"
k wait --for=condition=Ready pod/client --timeout=60s >/dev/null || e2e_fail "client not Ready"
answers() { # the distinct pods answering http://web/hostname in N requests
	for _ in $(seq "$1"); do
		k exec client -- busybox timeout 5 busybox wget -qO- http://web/hostname 2>/dev/null || echo failed
	done | sort -u | tr '\n' ' '
}
pods_now=$(k get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort | tr '\n' ' ')
expect_eq "$(answers 30)" "$pods_now" "the Service is answered by every replica, by name"

k set image deployment/web busybox=busybox:v2 >/dev/null
k rollout status deployment/web --timeout=90s >/dev/null || e2e_fail "rollout to v2"
expect_eq "$(k get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}')" busybox:v2 "rolled to v2"
# Old pods end after their grace period (busybox httpd as PID 1 ignores SIGTERM: 30 s).
only_v2() { [ "$(k get pods -l app=web -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort -u)" = busybox:v2 ]; }
wait_for 60 only_v2 || e2e_fail "pods not on v2: $(k get pods -l app=web -o wide)"
expect_contains "$(k rollout history deployment/web)" "2         <none>" "rollout history"

k set image deployment/web busybox=busybox:missing >/dev/null
pulling() { k get pods -l app=web | grep -q -e ErrImagePull -e ImagePullBackOff; }
wait_for 60 pulling || e2e_fail "the broken image did not show: $(k get pods -l app=web)"
expect_eq "$(k get deployment web -o jsonpath='{.status.availableReplicas}')" 3 \
	"a broken rollout keeps the old pods serving (maxUnavailable 25% of 3 rounds down to 0)"
expect_eq "$(k rollout undo deployment/web)" "deployment.apps/web rolled back" "undo"
k rollout status deployment/web --timeout=90s >/dev/null || e2e_fail "rollout after undo"
three_pods() { [ "$(k get pods -l app=web -o name | wc -l)" = 3 ]; }
wait_for 60 three_pods || e2e_fail "the broken pod stayed: $(k get pods -l app=web)"
expect_eq "$(k get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}')" busybox:v2 "back on v2"
pods_now=$(k get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort | tr '\n' ' ')
expect_eq "$(answers 30)" "$pods_now" "the Service follows the rollout"
echo PASS
