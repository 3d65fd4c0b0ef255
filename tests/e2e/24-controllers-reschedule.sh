#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A node whose heartbeat stops goes NotReady (Ready=Unknown, node.kubernetes.io/unreachable
# taint); its pods are evicted after their toleration and replaced elsewhere: the ReplicaSet
# makes new pods and the scheduler keeps them off the tainted node.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent --simulate-nodes 3 --node-monitor-grace-period 4s \
	--pod-eviction-timeout 4s

mkns resched
cat <<'Y' | k create -f - >/dev/null
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web, namespace: resched}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox}]
Y
nodes_of() { k -n resched get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}'; }
all_running() {
	[ "$(k -n resched get pods -l app=web --field-selector status.phase=Running -o name | wc -l)" = 3 ]
}
bound() { nodes_of | awk NF | wc -l; }
scheduled() { [ "$(bound)" = 3 ]; }
wait_for 10 scheduled || e2e_fail "pods not scheduled ($(bound) of 3 bound): $(k -n resched get pods -o wide)"
wait_for 15 all_running || e2e_fail "pods not running: $(k -n resched get pods -o wide)"
victim=$(nodes_of | awk NF | sort | awk "NR == 1")
k annotate node "$victim" edgek.io/simulate-heartbeat=stop >/dev/null
node_status() { k get node "$victim" --no-headers | awk '{print $2}'; }
not_ready() { [ "$(node_status)" = NotReady ]; }
wait_for 20 not_ready || e2e_fail "$victim not NotReady: $(k get nodes)"
expect_eq "$(k get node "$victim" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" \
	Unknown "Ready condition of $victim"
expect_contains "$(k get node "$victim" -o jsonpath='{.spec.taints[*].key}')" \
	node.kubernetes.io/unreachable "taints of $victim"
off_victim() {
	local on
	on=$(nodes_of)
	all_running && ! grep -qx "$victim" <<<"$on"
}
wait_for 40 off_victim || e2e_fail "pods not replaced away from $victim: $(k -n resched get pods -o wide)"
expect_contains "$(k -n resched get events --field-selector reason=TaintManagerEviction)" \
	"Marking for deletion Pod resched/" "eviction events"
echo PASS
