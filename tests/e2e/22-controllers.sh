#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The controllers besides the workload ones, seen through kubectl on simulated nodes: every new
# namespace gets a `default` ServiceAccount and the kube-root-ca.crt ConfigMap; Endpoints and
# EndpointSlices follow pod readiness and resolve named target ports per pod; deleting an owner
# removes, waits for or orphans its dependents as --cascade says; deleting a namespace empties
# it (refusing new content meanwhile) and then removes it; a node whose heartbeat stops goes
# NotReady with the unreachable taints and its pods are evicted once their toleration ends.
# Pods are bound with spec.nodeName (the scheduler is not needed here).
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent --simulate-nodes 3 --node-monitor-grace-period 4s \
	--pod-eviction-timeout 6s

jp() { k "$@" 2>/dev/null; }
gone() { ! k "$@" >/dev/null 2>&1; }
mkns ctl

# ---- ServiceAccount and root CA in every new namespace ----
wait_for 10 k -n ctl get sa default || e2e_fail "no default ServiceAccount in a new namespace"
wait_for 10 k -n ctl get cm kube-root-ca.crt || e2e_fail "no kube-root-ca.crt in a new namespace"
ca=$(k config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d)
expect_eq "$(k -n ctl get cm kube-root-ca.crt -o jsonpath='{.data.ca\.crt}')" "$ca" "published CA"
k -n ctl delete sa default >/dev/null
wait_for 10 k -n ctl get sa default || e2e_fail "deleted default ServiceAccount not recreated"

# ---- pods get the default tolerations (DefaultTolerationSeconds admission) ----
pod() { # NAME NODE PORT
	cat <<Y
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: ctl, labels: {app: web}}
spec:
  nodeName: $2
  containers:
  - name: c
    image: busybox
    ports: [{name: http, containerPort: $3}]
---
Y
}
{
	pod p1 sim-0 8080
	pod p2 sim-0 8080
	pod p3 sim-2 9090
} | k create -f - >/dev/null
tol=$(k -n ctl get pod p1 -o jsonpath='{range .spec.tolerations[*]}{.key}:{.effect}:{.tolerationSeconds};{end}')
expect_eq "$tol" "node.kubernetes.io/not-ready:NoExecute:6;node.kubernetes.io/unreachable:NoExecute:6;" \
	"default tolerations"

# ---- Endpoints and EndpointSlices ----
cat <<'Y' | k create -f - >/dev/null
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ctl}
spec:
  selector: {app: web}
  ports: [{name: h, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: webnr, namespace: ctl}
spec:
  selector: {app: web}
  publishNotReadyAddresses: true
  ports: [{name: h, port: 80, targetPort: http}]
Y
ready_ips() { # SERVICE PORT: the ready addresses of the subset serving PORT
	k -n ctl get endpoints "$1" -o json | jq -r --argjson p "$2" \
		'[.subsets[]? | select(.ports[0].port == $p) | .addresses[]?.targetRef.name] | sort | join(",")'
}
not_ready_ips() {
	k -n ctl get endpoints "$1" -o json | jq -r --argjson p "$2" \
		'[.subsets[]? | select(.ports[0].port == $p) | .notReadyAddresses[]?.targetRef.name] | sort | join(",")'
}
ep_is() { [ "$(ready_ips "$1" "$2")" = "$3" ] && [ "$(not_ready_ips "$1" "$2")" = "$4" ]; }
wait_for 15 ep_is web 8080 p1,p2 "" || e2e_fail "Endpoints for 8080: $(k -n ctl get endpoints web -o json)"
ep_is web 9090 p3 "" || e2e_fail "named port resolved per pod: $(k -n ctl get endpoints web -o json)"
slices() { # SERVICE: "pod:port:ready:serving:terminating" per endpoint, sorted
	k -n ctl get endpointslices -l kubernetes.io/service-name="$1" -o json | jq -r \
		'[.items[] | .ports[0].port as $p | .endpoints[] |
		  "\(.targetRef.name):\($p):\(.conditions.ready):\(.conditions.serving):\(.conditions.terminating)"]
		 | sort | join(" ")'
}
slices_are() { [ "$(slices "$1")" = "$2" ]; }
wait_for 15 slices_are web "p1:8080:true:true:false p2:8080:true:true:false p3:9090:true:true:false" ||
	e2e_fail "EndpointSlices: $(slices web)"
labels=$(k -n ctl get endpointslices -l kubernetes.io/service-name=web -o json | jq -r \
	'.items[] | select(.ports[0].port == 8080) |
	 "\(.metadata.labels["endpointslice.kubernetes.io/managed-by"]) \(.addressType) \(.endpoints[0].nodeName) \(.metadata.ownerReferences[0].kind)"')
expect_eq "$labels" "endpointslice-controller.k8s.io IPv4 sim-0 Service" "slice labels and owner"

# A pod that stops being Ready leaves the ready addresses, unless they are all published.
k -n ctl patch pod p1 --subresource=status --type=strategic \
	-p '{"status":{"conditions":[{"type":"Ready","status":"False"}]}}' >/dev/null
wait_for 15 ep_is web 8080 p2 p1 || e2e_fail "not-ready pod: $(k -n ctl get endpoints web -o json)"
wait_for 15 slices_are web "p1:8080:false:false:false p2:8080:true:true:false p3:9090:true:true:false" ||
	e2e_fail "not-ready pod in slices: $(slices web)"
wait_for 15 ep_is webnr 8080 p1,p2 "" || e2e_fail "publishNotReadyAddresses: $(k -n ctl get endpoints webnr -o json)"
wait_for 15 slices_are webnr "p1:8080:true:false:false p2:8080:true:true:false p3:9090:true:true:false" ||
	e2e_fail "publishNotReadyAddresses in slices: $(slices webnr)"
# Deleting the Service removes its Endpoints and (garbage collector) its slices.
k -n ctl delete svc webnr >/dev/null
wait_for 15 gone -n ctl get endpoints webnr || e2e_fail "Endpoints outlived their Service"
no_slices() { [ -z "$(k -n ctl get endpointslices -l kubernetes.io/service-name=webnr -o name)" ]; }
wait_for 15 no_slices || e2e_fail "EndpointSlices outlived their Service"

# ---- garbage collection: background, foreground, orphan ----
rs() { # NAME
	cat <<Y | k create -f - >/dev/null
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: $1, namespace: ctl}
spec:
  replicas: 2
  selector: {matchLabels: {rs: $1}}
  template:
    metadata: {labels: {rs: $1}}
    spec:
      nodeName: sim-1
      containers: [{name: c, image: busybox}]
Y
}
pods_of() { k -n ctl get pods -l rs="$1" -o name | wc -l; }
npods_is() { [ "$(pods_of "$1")" = "$2" ]; }
rs bg
rs fg
rs orph
for r in bg fg orph; do wait_for 15 npods_is $r 2 || e2e_fail "ReplicaSet $r made $(pods_of $r) pods"; done

k -n ctl delete rs bg >/dev/null
wait_for 15 npods_is bg 0 || e2e_fail "background deletion left $(pods_of bg) pods"

# Foreground: the owner waits (deletionTimestamp, foregroundDeletion) for a blocking dependent.
uid=$(k -n ctl get rs fg -o jsonpath='{.metadata.uid}')
cat <<Y | k create -f - >/dev/null
apiVersion: v1
kind: ConfigMap
metadata:
  name: fg-dep
  namespace: ctl
  finalizers: [example.com/hold]
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: fg, uid: $uid, blockOwnerDeletion: true}
Y
k -n ctl delete rs fg --cascade=foreground --wait=false >/dev/null
wait_for 15 npods_is fg 0 || e2e_fail "foreground deletion left $(pods_of fg) pods"
sleep 1
expect_eq "$(jp -n ctl get rs fg -o jsonpath='{.metadata.finalizers}')" '["foregroundDeletion"]' \
	"owner waits for its blocking dependent"
k -n ctl patch cm fg-dep --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
wait_for 15 gone -n ctl get rs fg || e2e_fail "owner not deleted after its dependents"
# And kubectl's own wait for a foreground deletion returns once the owner is gone.
rs fg2
wait_for 15 npods_is fg2 2 || e2e_fail "ReplicaSet fg2 made $(pods_of fg2) pods"
k -n ctl delete rs fg2 --cascade=foreground --timeout=30s >/dev/null || e2e_fail "foreground delete did not finish"
expect_eq "$(pods_of fg2)" 0 "dependents gone with a foreground delete"

k -n ctl delete rs orph --cascade=orphan >/dev/null
gone -n ctl get rs orph || e2e_fail "orphaning owner still there"
expect_eq "$(pods_of orph)" 2 "orphaned pods stay"
refs=$(k -n ctl get pods -l rs=orph -o jsonpath='{range .items[*]}[{.metadata.ownerReferences}]{end}')
expect_eq "$refs" "[][]" "orphans have no owner references"

# A Deployment's ReplicaSets and their pods go with it (made by hand here, owned the way the
# Deployment controller owns them).
cat <<'Y' | k create -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: dx, namespace: ctl}
spec:
  replicas: 1
  selector: {matchLabels: {rs: dx}}
  template:
    metadata: {labels: {rs: dx}}
    spec:
      nodeName: sim-2
      containers: [{name: c, image: busybox}]
Y
duid=$(k -n ctl get deploy dx -o jsonpath='{.metadata.uid}')
cat <<Y | k create -f - >/dev/null
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: dx-manual
  namespace: ctl
  labels: {rs: dx}
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: dx, uid: $duid, controller: true, blockOwnerDeletion: true}
spec:
  replicas: 1
  selector: {matchLabels: {rs: dx}}
  template:
    metadata: {labels: {rs: dx}}
    spec:
      nodeName: sim-2
      containers: [{name: c, image: busybox}]
Y
some_pods() { [ "$(pods_of dx)" -ge 1 ]; }
wait_for 15 some_pods || e2e_fail "the Deployment's ReplicaSet made no pods"
k -n ctl delete deployment dx >/dev/null
no_rs() { [ -z "$(k -n ctl get rs -l rs=dx -o name)" ] && gone -n ctl get rs dx-manual; }
wait_for 15 no_rs || e2e_fail "ReplicaSets outlived their Deployment"
wait_for 15 npods_is dx 0 || e2e_fail "pods outlived their Deployment: $(pods_of dx)"

# ---- namespace deletion ----
mkns doomed
cat <<'Y' | k create -f - >/dev/null
apiVersion: v1
kind: ConfigMap
metadata: {name: held, namespace: doomed, finalizers: [example.com/hold]}
---
apiVersion: v1
kind: Pod
metadata: {name: worker, namespace: doomed}
spec:
  nodeName: sim-0
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: doomed}
stringData: {a: b}
Y
k delete ns doomed --wait=false >/dev/null
expect_eq "$(k get ns doomed -o jsonpath='{.status.phase}')" "Terminating" "phase while deleting"
out=$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: doomed}\n' |
	expect_fail k create -f -)
expect_contains "$out" 'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated' \
	"create in a Terminating namespace"
wait_for 15 gone -n doomed get pod worker || e2e_fail "pod not deleted with its namespace"
wait_for 15 gone -n doomed get secret s || e2e_fail "secret not deleted with its namespace"
cond() { k get ns doomed -o jsonpath="{.status.conditions[?(@.type==\"$1\")].message}"; }
has_cond() { case "$(cond "$1")" in *"$2"*) return 0 ;; esac; return 1; }
wait_for 15 has_cond NamespaceFinalizersRemaining "example.com/hold in 1 resource instances" ||
	e2e_fail "stuck namespace conditions: $(k get ns doomed -o json)"
has_cond NamespaceContentRemaining "configmaps. has 1 resource instances" ||
	e2e_fail "content remaining: $(cond NamespaceContentRemaining)"
k -n doomed patch cm held --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
k delete ns doomed --ignore-not-found --timeout=30s >/dev/null || e2e_fail "namespace deletion did not finish"
gone get ns doomed || e2e_fail "namespace still there"

# ---- node lifecycle: heartbeat stops, taints, not ready, eviction ----
cat <<'Y' | k create -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: doomed-pod, namespace: ctl}
spec:
  nodeName: sim-1
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: stays, namespace: ctl}
spec:
  nodeName: sim-1
  tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}]
  containers: [{name: c, image: busybox}]
Y
running() { [ "$(k -n ctl get pod "$1" -o jsonpath='{.status.phase}')" = Running ]; }
wait_for 10 running doomed-pod || e2e_fail "pod on sim-1 not running"
k annotate node sim-1 edgek.io/simulate-heartbeat=stop >/dev/null
t0=$SECONDS
node_status() { k get node sim-1 --no-headers | awk '{print $2}'; }
not_ready() { [ "$(node_status)" = NotReady ]; }
wait_for 20 not_ready || e2e_fail "node not NotReady: $(k get node sim-1 -o yaml)"
secs=$((SECONDS - t0))
[ $secs -ge 3 ] || e2e_fail "node NotReady after ${secs}s, before its grace period"
expect_eq "$(k get node sim-1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}')" \
	"Unknown Kubelet stopped posting node status." "Ready condition"
has_taints() {
	[ "$(k get node sim-1 -o jsonpath='{range .spec.taints[*]}{.key}:{.effect};{end}')" = \
		"node.kubernetes.io/unreachable:NoSchedule;node.kubernetes.io/unreachable:NoExecute;" ]
}
wait_for 10 has_taints || e2e_fail "taints: $(k get node sim-1 -o jsonpath='{.spec.taints}')"
pod_ready() { k -n ctl get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'; }
pod_not_ready() { [ "$(pod_ready "$1")" = False ]; }
wait_for 10 pod_not_ready doomed-pod || e2e_fail "pod on an unreachable node still Ready"
k -n ctl get pod doomed-pod >/dev/null || e2e_fail "pod evicted before its toleration ended"
wait_for 20 gone -n ctl get pod doomed-pod || e2e_fail "pod not evicted after its toleration"
secs=$((SECONDS - t0))
[ $secs -ge 8 ] || e2e_fail "pod evicted after ${secs}s: grace (4s) + toleration (6s) not honoured"
expect_contains "$(k -n ctl get events --field-selector reason=TaintManagerEviction)" \
	"Marking for deletion Pod ctl/doomed-pod" "eviction event"
expect_contains "$(k get events --field-selector involvedObject.name=sim-1)" \
	"Node sim-1 status is now: NodeNotReady" "node event"
running stays || e2e_fail "a pod tolerating unreachable forever was evicted"
# The heartbeat comes back: Ready again, taints gone.
k annotate node sim-1 edgek.io/simulate-heartbeat- >/dev/null
no_taints() { [ -z "$(k get node sim-1 -o jsonpath='{.spec.taints}')" ]; }
wait_for 20 no_taints || e2e_fail "taints stayed: $(k get node sim-1 -o jsonpath='{.spec.taints}')"
wait_for 10 eval '[ "$(node_status)" = Ready ]' || e2e_fail "node not Ready again: $(node_status)"
echo PASS
