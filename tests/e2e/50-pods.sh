#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Pods as real containers on `edgek server`'s local agent, seen through real kubectl: logs
# (-c, --tail, --timestamps, --previous, -f, -l), env from a ConfigMap and a Secret with
# $(VAR) expansion, init containers in order, a mounted ConfigMap updated in place, an
# OOMKilled container restarted with back-off, restartPolicy Never ending Succeeded or Failed
# with the exit code, graceful deletion (a SIGTERM trap runs), describe events; and the bad
# input a user sees: a missing image, a command not found, a missing ConfigMap, a hostPath of
# the wrong type, pullPolicy Never without the image, absurd resources refused by the API.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

E2E_DATA=$E2E_DIR/data
"$EDGEK" image import --data-dir "$E2E_DATA" "$E2E_IMAGE" >/dev/null
mkdir -p "$E2E_DIR/host"
echo not-a-dir >"$E2E_DIR/host/file"
e2e_start_server "${E2E_NODE_FLAGS[@]}" --log-level info,kubelet=debug
wait_for 20 sh -c "'$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get nodes | grep -q ' Ready '" ||
	e2e_fail "the local node never became Ready: $(k get nodes 2>&1)"
NODE=$(k get nodes -o jsonpath='{.items[0].metadata.name}')
nodes=$(k get nodes -o wide)
expect_contains "$nodes" "control-plane" "node role label"
expect_contains "$nodes" "edgek://" "container runtime version"
expect_eq "$(k get node "$NODE" -o jsonpath='{.metadata.labels.kubernetes\.io/os}')" linux "os label"
k get node "$NODE" -o jsonpath='{.status.images[*].names}' | grep -q busybox:e2e ||
	e2e_fail "node status lists no busybox image"
k get lease -n kube-node-lease "$NODE" >/dev/null || e2e_fail "no node Lease"

# ---- pods, all at once: the agent serves the good ones while the bad ones fail ----
cat >"$E2E_DIR/pods.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {greeting: hello, color: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: $NODE
  initContainers:
  - {name: init1, image: busybox:e2e, command: [sh, -c, "echo first >> /work/order; echo init1 ran"], volumeMounts: [{name: work, mountPath: /work}]}
  - {name: init2, image: busybox:e2e, command: [sh, -c, "echo second >> /work/order"], volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - name: main
    image: busybox:e2e
    imagePullPolicy: IfNotPresent
    command: [sh, -c]
    args: ['echo order \$(cat /work/order); echo env \$GREETING \$PASSWORD \$CFG_color \$POD \$(WHO); while true; do echo "value=\$(cat /cfg/greeting)"; sleep 0.3; done']
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: sec, key: password}}}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: WHO, value: "who-\$(GREETING)"}
    envFrom: [{prefix: CFG_, configMapRef: {name: cfg}}]
    volumeMounts: [{name: cfg, mountPath: /cfg}, {name: work, mountPath: /work}]
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  - {name: work, emptyDir: {}}
---
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  nodeName: $NODE
  restartPolicy: Never
  containers: [{name: c, image: busybox:e2e, command: [sh, -c, "echo all good"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: failed}
spec:
  nodeName: $NODE
  restartPolicy: Never
  containers: [{name: c, image: busybox:e2e, command: [sh, -c, "echo failing; exit 3"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  nodeName: $NODE
  containers: [{name: c, image: busybox:e2e, command: [sh, -c, "echo run at \$(date +%s%N); exit 1"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  nodeName: $NODE
  containers: [{name: c, image: busybox:e2e, command: [busybox, tail, /dev/zero], resources: {limits: {memory: 16Mi}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: trap}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 20
  containers:
  - name: c
    image: busybox:e2e
    command: [sh, -c, 'trap "echo got TERM > /host/trapped; exit 0" TERM; echo waiting; while true; do sleep 0.1 & wait; done']
    volumeMounts: [{name: h, mountPath: /host}]
  volumes: [{name: h, hostPath: {path: $E2E_DIR/host, type: Directory}}]
---
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  nodeName: $NODE
  containers: [{name: c, image: "registry.invalid/nothing:1", imagePullPolicy: IfNotPresent}]
---
apiVersion: v1
kind: Pod
metadata: {name: neverpull}
spec:
  nodeName: $NODE
  containers: [{name: c, image: "busybox:absent", imagePullPolicy: Never}]
---
apiVersion: v1
kind: Pod
metadata: {name: nocmd}
spec:
  nodeName: $NODE
  containers: [{name: c, image: busybox:e2e, command: [no-such-command]}]
---
apiVersion: v1
kind: Pod
metadata: {name: nocm}
spec:
  nodeName: $NODE
  containers: [{name: c, image: busybox:e2e, command: [sh, -c, "cat /m/k; echo; sleep 1000"], volumeMounts: [{name: m, mountPath: /m}]}]
  volumes: [{name: m, configMap: {name: later}}]
---
apiVersion: v1
kind: Pod
metadata: {name: badhost}
spec:
  nodeName: $NODE
  containers: [{name: c, image: busybox:e2e, command: [sleep, "1000"], volumeMounts: [{name: h, mountPath: /h}]}]
  volumes: [{name: h, hostPath: {path: $E2E_DIR/host/file, type: Directory}}]
EOF
k create -f "$E2E_DIR/pods.yaml" >/dev/null

phase() { podjp "$1" '{.status.phase}'; }
# Conditions wait_for retries (each call looks again).
phase_is() { [ "$(phase "$1")" = "$2" ]; }
jp_is() { [ "$(podjp "$1" "$2")" = "$3" ]; }
jp_ge() { [ "$(podjp "$1" "$2")" -ge "$3" ] 2>/dev/null; }
get_has() { k get pod "$1" 2>&1 | grep -Eq "$2"; }
describe_has() { k describe pod "$1" 2>&1 | grep -q "$2"; }
logs_has() {
	local want=$1
	shift
	k logs "$@" 2>/dev/null | grep -q -- "$want"
}
wait_for 20 phase_is web Running || e2e_fail "web not Running: $(k get pods 2>&1)"
wait_for 20 phase_is done Succeeded || e2e_fail "done not Succeeded: $(k get pod done)"
wait_for 20 phase_is failed Failed || e2e_fail "failed not Failed: $(k get pod failed)"
expect_eq "$(podjp failed '{.status.containerStatuses[0].state.terminated.exitCode}')" 3 "exit code"
expect_eq "$(podjp done '{.status.containerStatuses[0].state.terminated.reason}')" Completed \
	"Succeeded pod's reason"
expect_contains "$(k get pods)" "Completed" "kubectl shows Completed"

# logs: output, init containers first, env, $(VAR), -c, -l, --tail, --timestamps
wait_for 10 logs_has value=hello web
out=$(k logs web)
expect_contains "$out" "order first second" "init containers ran in order before the container"
expect_contains "$out" "env hello s3cret blue web who-hello" "env from ConfigMap, Secret, fieldRef, \$(VAR)"
expect_eq "$(k logs web -c init1)" "init1 ran" "logs -c of an init container"
expect_eq "$(k logs web --tail=1 | wc -l)" 1 "--tail=1"
k logs web --tail=1 --timestamps | grep -Eq '^20[0-9-]+T[0-9:.]+Z value=' ||
	e2e_fail "--timestamps: $(k logs web --tail=1 --timestamps)"
expect_contains "$(k logs -l app=web)" "value=hello" "logs -l"

# a mounted ConfigMap changes in place
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {greeting: changed, color: blue}\n' |
	k replace -f - >/dev/null
wait_for 15 logs_has value=changed web --tail=1 ||
	e2e_fail "the ConfigMap change never reached the container: $(k logs web --tail=2)"

# logs -f streams until stopped (here by timeout)
follow=$(timeout 2 "$KUBECTL_DIR/$KUBECTL" --kubeconfig "$E2E_KUBECONFIG" logs -f web --tail=0 || true)
expect_contains "$follow" "value=changed" "logs -f streams new lines"

# crash loop: restarted, --previous shows the last run, back-off
wait_for 15 jp_ge crash '{.status.containerStatuses[0].restartCount}' 1 ||
	e2e_fail "crash never restarted"
expect_contains "$(k logs crash --previous)" "run at" "logs --previous"
wait_for 15 get_has crash CrashLoopBackOff ||
	e2e_fail "no CrashLoopBackOff: $(k get pod crash)"

# the memory hog is OOMKilled, restarted, then backed off
wait_for 15 jp_is hog '{.status.containerStatuses[0].lastState.terminated.reason}' OOMKilled ||
	e2e_fail "hog not OOMKilled: $(podjp hog '{.status.containerStatuses[0]}')"
expect_eq "$(podjp hog '{.status.containerStatuses[0].lastState.terminated.exitCode}')" 137 "OOM exit code"
wait_for 15 jp_ge hog '{.status.containerStatuses[0].restartCount}' 1 ||
	e2e_fail "hog never restarted after the OOM kill"
wait_for 15 jp_is hog '{.status.containerStatuses[0].state.waiting.reason}' CrashLoopBackOff ||
	e2e_fail "hog not backed off: $(k get pod hog)"

# ---- bad input, each visible in status and events ----
wait_for 15 get_has noimage 'ErrImagePull|ImagePullBackOff' ||
	e2e_fail "missing image: $(k get pod noimage)"
expect_contains "$(k describe pod noimage)" "Failed to pull image \"registry.invalid/nothing:1\"" "pull failure event"
wait_for 10 get_has neverpull ErrImageNeverPull ||
	e2e_fail "pullPolicy Never: $(k get pod neverpull)"
wait_for 15 jp_is nocmd '{.status.containerStatuses[0].lastState.terminated.reason}' StartError ||
	e2e_fail "command not found: $(podjp nocmd '{.status.containerStatuses[0]}')"
expect_eq "$(podjp nocmd '{.status.containerStatuses[0].lastState.terminated.exitCode}')" 127 "exit 127"
expect_contains "$(podjp nocmd '{.status.containerStatuses[0].lastState.terminated.message}')" \
	'executable file not found in $PATH' "StartError message"
expect_contains "$(k get pod nocm)" "ContainerCreating" "missing ConfigMap keeps the pod waiting"
wait_for 10 describe_has nocm 'configmap "later" not found' ||
	e2e_fail "no FailedMount event: $(k describe pod nocm | tail -5)"
mkcm later k=appeared
wait_for 15 phase_is nocm Running ||
	e2e_fail "nocm did not start once its ConfigMap appeared: $(k describe pod nocm | tail -12)"
wait_for 10 logs_has appeared nocm ||
	e2e_fail "nocm did not read its ConfigMap: $(k logs nocm 2>&1; k get pod nocm -o yaml | tail -30)"
expect_contains "$(k get pod badhost)" "ContainerCreating" "hostPath of the wrong type"
wait_for 10 describe_has badhost 'is not a directory' ||
	e2e_fail "no hostPath event: $(k describe pod badhost | tail -5)"
out=$(printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: absurd}\nspec:\n  nodeName: %s\n  containers: [{name: c, image: busybox:e2e, resources: {requests: {memory: 2Gi}, limits: {memory: -1Gi}}}]\n' "$NODE" |
	expect_fail k create -f -)
expect_contains "$out" "must be greater than or equal to 0" "negative limit refused"

# describe shows the kubelet's events and the status fields kubectl prints
desc=$(k describe pod web)
for ev in Pulled Created Started; do expect_contains "$desc" "$ev" "event $ev"; done
expect_contains "$desc" "Container image \"busybox:e2e\" already present on machine" "Pulled message"
expect_contains "$desc" "QoS Class:" "describe"
expect_contains "$(k describe pod crash)" "Back-off restarting failed container" "BackOff event"
expect_eq "$(podjp web '{.status.podIP}' | cut -d. -f1,2)" 10.42 "pod IP from the node's pod CIDR"

# ---- graceful deletion: the SIGTERM trap runs, then the pod is gone ----
wait_for 10 phase_is trap Running
k delete pod trap --timeout=30s >/dev/null
expect_eq "$(cat "$E2E_DIR/host/trapped" 2>/dev/null)" "got TERM" "SIGTERM trap ran before the pod went"
expect_fail k get pod trap >/dev/null
expect_contains "$(k get events --field-selector involvedObject.name=trap)" "Stopping container c" \
	"Killing event"

expect_eq "$(podjp web '{.status.containerStatuses[0].restartCount}')" 0 "web never restarted"
k delete pod done failed --wait=true >/dev/null
echo "ok: pods run as real containers"
