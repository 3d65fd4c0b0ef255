#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The scheduler on three simulated nodes, judged by what kubectl shows: nodeSelector (matched,
# unmatched until a node is labelled), required and preferred node affinity, taints and tolerations, pod anti-affinity, spreading of a
# ReplicaSet; pods that fit nowhere stay Pending with kube-scheduler's exact FailedScheduling
# message (events, describe, the PodScheduled condition) and get scheduled once a node is
# untainted or added; pods naming another scheduler are left alone.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent --simulate-nodes 3 --simulate-node-cpu 2 \
	--simulate-node-memory 4Gi
# lines_are N CMD...: CMD prints N non-empty lines (wait_for re-runs it each time).
lines_are() {
	local n=$1
	shift
	[ "$("$@" 2>/dev/null | grep -c .)" = "$n" ]
}
wait_for 30 lines_are 3 k get nodes --no-headers || e2e_fail "no nodes"

# pod NAME [SPEC-LINES...]: a pod in default with label app=NAME; each line goes under spec.
pod() {
	local name=$1
	shift
	{
		printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  labels:\n    app: %s\n' \
			"$name" "${LABEL:-$name}"
		printf 'spec:\n  containers:\n  - name: c\n    image: busybox\n'
		for l in "$@"; do printf '  %s\n' "$l"; done
	} | k create -f - >/dev/null
}
node_of() { k get pod "$1" -o jsonpath='{.spec.nodeName}'; }
running_on() { [ "$(node_of "$1")" = "$2" ] && [ "$(k get pod "$1" -o jsonpath='{.status.phase}')" = Running ]; }
cond_msg() { k get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'; }
has_msg() { [ "$(cond_msg "$1")" = "$2" ]; }

k label node sim-0 disk=ssd zone=a >/dev/null
k label node sim-1 zone=b >/dev/null
k label node sim-2 zone=b >/dev/null

# nodeSelector and required node affinity.
pod sel 'nodeSelector: {disk: ssd}'
pod req 'affinity:' '  nodeAffinity:' '    requiredDuringSchedulingIgnoredDuringExecution:' \
	'      nodeSelectorTerms:' '      - matchExpressions:' \
	'        - {key: zone, operator: In, values: [b]}' \
	'        - {key: kubernetes.io/hostname, operator: NotIn, values: [sim-1]}'
wait_for 20 running_on sel sim-0 || e2e_fail "nodeSelector pod on [$(node_of sel)], want sim-0"
wait_for 20 running_on req sim-2 || e2e_fail "node affinity pod on [$(node_of req)], want sim-2"
out=$(k get events --field-selector involvedObject.name=sel -o jsonpath='{.items[*].message}')
expect_contains "$out" "Successfully assigned default/sel to sim-0" "Scheduled event"

# A nodeSelector no node matches: Pending with kube-scheduler's message (condition and event);
# labelling a node to match lets the scheduler retry and place it there.
pod nvme 'nodeSelector: {disk: nvme}'
want="0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
wait_for 20 has_msg nvme "$want" || e2e_fail "unmatched nodeSelector: [$(cond_msg nvme)]"
expect_eq "$(k get pod nvme -o jsonpath='{.status.phase}')" Pending "unmatched pod phase"
out=$(k get events --field-selector involvedObject.name=nvme,reason=FailedScheduling \
	-o jsonpath='{.items[0].type} {.items[0].message}')
expect_eq "$out" "Warning $want" "FailedScheduling event for the unmatched pod"
k label node sim-1 disk=nvme >/dev/null
wait_for 20 running_on nvme sim-1 || e2e_fail "relabelled node did not take nvme: [$(node_of nvme)]"
k delete pod nvme --wait=false >/dev/null

# Preferred affinity wins when the node can take the pod.
for i in 1 2; do
	pod "pref$i" 'affinity:' '  nodeAffinity:' '    preferredDuringSchedulingIgnoredDuringExecution:' \
		'    - weight: 80' '      preference:' \
		'        matchExpressions: [{key: zone, operator: In, values: [a]}]'
done
wait_for 20 running_on pref1 sim-0 || e2e_fail "preferred pod 1 on [$(node_of pref1)]"
wait_for 20 running_on pref2 sim-0 || e2e_fail "preferred pod 2 on [$(node_of pref2)]"

# A taint repels pods without a toleration and admits pods with one.
k taint nodes sim-2 key=value:NoSchedule >/dev/null
pod repelled 'nodeSelector: {kubernetes.io/hostname: sim-2}'
pod tolerant 'nodeSelector: {kubernetes.io/hostname: sim-2}' \
	'tolerations: [{key: key, operator: Equal, value: value, effect: NoSchedule}]'
wait_for 20 running_on tolerant sim-2 || e2e_fail "tolerating pod on [$(node_of tolerant)]"
want="0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
wait_for 20 has_msg repelled "$want" || e2e_fail "repelled pod: [$(cond_msg repelled)]"
expect_eq "$(node_of repelled)" "" "repelled pod stays Pending"
expect_eq "$(k get pod repelled -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}')" \
	Unschedulable "PodScheduled reason"

# Requests larger than any node: Pending, with the message in describe and events.
pod big 'containers:' '  - name: c' '    image: busybox' '    resources: {requests: {cpu: "3"}}'
want="0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
wait_for 20 has_msg big "$want" || e2e_fail "big pod: [$(cond_msg big)]"
out=$(k describe pod big)
expect_contains "$out" "Warning  FailedScheduling" "describe shows the event"
expect_contains "$out" "default-scheduler  $want" "describe shows the message"
out=$(k get events --field-selector involvedObject.name=big,reason=FailedScheduling \
	-o jsonpath='{.items[0].message}')
expect_eq "$out" "$want" "FailedScheduling event"

# Untainting sim-2 lets the repelled pod in.
k taint nodes sim-2 key=value:NoSchedule- >/dev/null
wait_for 20 running_on repelled sim-2 || e2e_fail "untainted node did not take the pod"

# Anti-affinity by hostname: three replicas on three nodes, a fourth pod waits.
anti=('affinity:' '  podAntiAffinity:' '    requiredDuringSchedulingIgnoredDuringExecution:'
	'    - labelSelector: {matchLabels: {app: db}}' '      topologyKey: kubernetes.io/hostname')
k create -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: db}
spec:
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: c, image: busybox}]
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: db}}
            topologyKey: kubernetes.io/hostname
EOF
db_nodes() { k get pods -l app=db -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort; }
wait_for 30 lines_are 3 db_nodes || e2e_fail "db replicas not scheduled: $(db_nodes)"
expect_eq "$(db_nodes | uniq | tr '\n' ' ')" "sim-0 sim-1 sim-2 " "one db replica per node"
pod db-extra "${anti[@]}" # labelled app=db-extra: the ReplicaSet must not adopt it
want="0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
wait_for 20 has_msg db-extra "$want" || e2e_fail "4th db pod: [$(cond_msg db-extra)]"

# A new node takes it. It reports Ready with a fresh heartbeat, as a kubelet registering would:
# a node never heard from is tainted unreachable by the node lifecycle controller.
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
k create -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: extra-0
  labels: {kubernetes.io/hostname: extra-0}
status:
  allocatable: {cpu: "2", memory: 4Gi, pods: "110"}
  capacity: {cpu: "2", memory: 4Gi, pods: "110"}
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady, message: test node,
     lastHeartbeatTime: "$now", lastTransitionTime: "$now"}
EOF
on_node() { [ "$(node_of "$1")" = "$2" ]; }
wait_for 20 on_node db-extra extra-0 || e2e_fail "new node did not take db-extra: [$(cond_msg db-extra)] $(k get node extra-0 -o jsonpath="{.spec.taints}")"
k delete pod db-extra --wait=false >/dev/null
k delete node extra-0 >/dev/null

# Another scheduler's pod is not ours to place.
pod other 'schedulerName: someone-else'
sleep 2
expect_eq "$(node_of other)" "" "pod for another scheduler stays unscheduled"
expect_eq "$(k get events --field-selector involvedObject.name=other -o name)" "" "no events for it"

# A ReplicaSet's pods spread over the nodes.
k create -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox}]
EOF
web_nodes() { k get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep . | sort; }
wait_for 30 lines_are 6 web_nodes || e2e_fail "web pods not scheduled: $(web_nodes)"
expect_eq "$(web_nodes | uniq -c | awk '{print $1}' | tr '\n' ' ')" "2 2 2 " "web spread 2/2/2"
echo PASS
