#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Node pressure as a user sees it, with thresholds set so that this machine is always "short"
# (--eviction-hard memory.available<1000Ti): the Node reports MemoryPressure (and not
# DiskPressure or PIDPressure); pods are evicted one per housekeeping period, BestEffort first,
# then Burstable, then Guaranteed, each ending Failed with reason Evicted and an Evicted event;
# a new BestEffort pod is refused at admission (a Burstable one is admitted).
# Image GC with --image-gc-high-threshold 2 removes the image no pod uses and keeps the one
# pods use.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

E2E_DATA=$E2E_DIR/data
"$EDGEK" image import --data-dir "$E2E_DATA" "$E2E_IMAGE" >/dev/null
LAYERS=base,tag:spare "$E2E_ROOT/tests/fixtures/mkimage.sh" oci "$E2E_DIR/spare.tar" docker.io/library/spare:1
"$EDGEK" image import --data-dir "$E2E_DATA" "$E2E_DIR/spare.tar" >/dev/null
e2e_start_server "${E2E_NODE_FLAGS[@]}" --eviction-hard 'memory.available<1000Ti' \
	--housekeeping-interval 3s --image-gc-high-threshold 2 --image-gc-low-threshold 1 \
	--minimum-image-ttl-duration 10s
node_ready() { k get nodes 2>/dev/null | grep -q ' Ready '; }
wait_for 20 node_ready || e2e_fail "the local node never became Ready: $(k get nodes 2>&1)"
NODE=$(k get nodes -o jsonpath='{.items[0].metadata.name}')
cond() { k get node "$NODE" -o jsonpath="{.status.conditions[?(@.type==\"$1\")].$2}"; }
cond_is() { [ "$(cond "$1" status)" = "$2" ]; }
wait_for 30 cond_is MemoryPressure True || e2e_fail "no MemoryPressure: $(k get node "$NODE" -o yaml)"
expect_eq "$(cond MemoryPressure reason)" KubeletHasInsufficientMemory "MemoryPressure reason"
expect_eq "$(cond DiskPressure status) $(cond PIDPressure status) $(cond Ready status)" \
	"False False True" "only memory is short"


cat >"$E2E_DIR/pods.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: guaranteed}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:e2e
    imagePullPolicy: Never
    command: [sleep, '100000']
    resources: {limits: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: burstable}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:e2e
    imagePullPolicy: Never
    command: [sleep, '100000']
    resources: {requests: {memory: 16Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: besteffort}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  # admitted under memory pressure only because it tolerates it (see "late" below)
  tolerations: [{key: node.kubernetes.io/memory-pressure, operator: Exists, effect: NoSchedule}]
  containers:
  - {name: c, image: busybox:e2e, imagePullPolicy: Never, command: [sleep, '100000']}
EOF
k create -f "$E2E_DIR/pods.yaml" >/dev/null
phase() { podjp "$1" '{.status.phase}'; }
evicted() { [ "$(phase "$1")" = Failed ] && [ "$(podjp "$1" '{.status.reason}')" = Evicted ]; }
wait_for 30 evicted besteffort || e2e_fail "besteffort not evicted: $(k get pods 2>&1)"
expect_eq "$(phase burstable) $(phase guaranteed)" "Running Running" "BestEffort goes first"
expect_eq "$(podjp besteffort '{.status.message}')" "The node was low on resource: memory. " "eviction message"
evicted_event() { k get events --field-selector involvedObject.name=besteffort | grep -q "Evicted.*The node was low on resource: memory"; }
wait_for 10 evicted_event || # (the event is written after the status, by another request)
	e2e_fail "no Evicted event: $(k get events --field-selector involvedObject.name=besteffort)"
wait_for 30 evicted burstable || e2e_fail "burstable not evicted: $(k get pods 2>&1)"
expect_eq "$(phase guaranteed)" Running "Burstable before Guaranteed"
wait_for 30 evicted guaranteed || e2e_fail "guaranteed not evicted under lasting pressure"
expect_eq "$(podjp besteffort '{.status.containerStatuses[0].state.terminated.exitCode}')" 137 \
	"the evicted container was stopped"

# ---- admission under pressure: a new BestEffort pod is refused, a Burstable one runs ----
cat >"$E2E_DIR/late.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: late}
spec:
  nodeName: $NODE
  containers:
  - {name: c, image: busybox:e2e, imagePullPolicy: Never, command: [sleep, '100000']}
---
apiVersion: v1
kind: Pod
metadata: {name: late-burstable}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:e2e
    imagePullPolicy: Never
    command: [sleep, '100000']
    resources: {requests: {memory: 16Mi}}
EOF
k create -f "$E2E_DIR/late.yaml" >/dev/null
wait_for 15 evicted late || e2e_fail "late not refused: $(k get pod late -o yaml)"
expect_eq "$(podjp late '{.status.message}')" "Pod was rejected: The node had condition: [MemoryPressure]. " \
	"rejection message"
expect_eq "$(podjp late '{.status.containerStatuses[0].state.waiting.reason}')" ContainerCreating \
	"the refused pod never ran"
wait_for 20 evicted late-burstable || e2e_fail "late-burstable neither ran nor was evicted"
expect_eq "$(podjp late-burstable '{.status.message}')" "The node was low on resource: memory. " \
	"the Burstable pod was admitted, ran, and was evicted later"

# ---- image GC: the unused image goes (once older than 10 s), the one pods use stays ----
images() { k get node "$NODE" -o jsonpath='{.status.images[*].names}'; }
images_lack_spare() { ! images | grep -q spare; }
wait_for 30 images_lack_spare || e2e_fail "the unused image was not collected: $(images)"
images | grep -q busybox:e2e || e2e_fail "the image pods use was collected: $(images)"
grep -q "image gc: removed image=.*spare" "$E2E_DIR/server.log" || e2e_fail "no image gc log line"
echo "ok 55-pressure"
