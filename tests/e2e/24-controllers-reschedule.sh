#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Pods evicted from a node whose heartbeat stopped are replaced elsewhere: the ReplicaSet makes
# new pods and the scheduler keeps them off the tainted node. Needs the scheduler: skipped
# (saying so) while pods stay unscheduled.
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
if ! wait_for 10 scheduled; then
	e2e_skip "no scheduler yet: the ReplicaSet's pods stay unscheduled ($(bound) of 3 bound)"
fi
wait_for 15 all_running || e2e_fail "pods not running: $(k -n resched get pods -o wide)"
victim=$(nodes_of | awk NF | sort | awk "NR == 1")
k annotate node "$victim" edgek.io/simulate-heartbeat=stop >/dev/null
off_victim() {
	local on
	on=$(nodes_of)
	all_running && ! grep -qx "$victim" <<<"$on"
}
wait_for 40 off_victim || e2e_fail "pods not replaced away from $victim: $(k -n resched get pods -o wide)"
expect_contains "$(k -n resched get events --field-selector reason=TaintManagerEviction)" \
	"Marking for deletion Pod resched/" "eviction events"
echo PASS
