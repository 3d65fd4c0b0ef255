#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The book's chapter 6 with real pods on `edgek server`'s local agent, whose service proxy is
# fed by the agent's informers: a 3-replica Deployment of busybox httpd answering its pod's
# name; a ClusterIP Service reached from a pod (all three answer); a NodePort Service reached
# from outside the node (namespace ext on the node's LAN) on the node's address; a
# LoadBalancer Service whose EXTERNAL-IP (ServiceLB: the node's address) kubectl shows and
# which answers; scaling the Deployment changes the answering set within a second; a Service
# without endpoints refuses at once; the agent's /metrics shows the proxy's syncs and rules.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init
command -v busybox >/dev/null || e2e_skip "busybox is not installed"

# The node's LAN: this namespace is the node (192.168.77.1); ext is a machine outside it.
mkdir -p /run/netns
mount -t tmpfs ekproxy32 /run/netns
ip netns add ext
cleanup32() {
	local rc=$?
	set +e
	ip netns del ext 2>/dev/null
	umount /run/netns 2>/dev/null
	(exit $rc)
	e2e_cleanup
}
trap cleanup32 EXIT
ip link add lan0 type veth peer name eth0 netns ext
ip addr add 192.168.77.1/24 dev lan0
ip link set lan0 up
# The node's way out (ClusterIPs are routed like any remote address before DNAT).
ip route add default via 192.168.77.100 dev lan0
ip -n ext addr add 192.168.77.100/24 dev eth0
ip -n ext link set eth0 up
ip -n ext link set lo up
NODE_IP=192.168.77.1

"$EDGEK" image import --data-dir "$E2E_DIR/data" "$E2E_IMAGE" >/dev/null
e2e_start_server "${E2E_NODE_FLAGS[@]}" --node-ip "$NODE_IP"
wait_for 30 sh -c "'$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get nodes | grep -q ' Ready '" ||
	e2e_fail "the local node never became Ready: $(k get nodes 2>&1)"
NODE=$(k get nodes -o jsonpath='{.items[0].metadata.name}')

# ---- a Deployment of three web servers answering their pod's name ----
cat <<Y | k apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeName: $NODE
      containers:
      - name: httpd
        image: busybox:e2e
        imagePullPolicy: Never
        command: [sh, -c, 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8081, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
Y
wait_for 90 sh -c "[ \"\$('$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get deploy web -o jsonpath='{.status.readyReplicas}')\" = 3 ]" ||
	e2e_fail "the Deployment never had 3 ready pods: $(k get pods -o wide 2>&1)"
PODS=$(k get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort)
CIP=$(k get svc web -o jsonpath='{.spec.clusterIP}')

# Distinct answers over N requests with wget (run as "$@" wget ...), sorted, one per line.
answers() { # N CMD...
	local n=$1 i
	shift
	for i in $(seq "$n"); do "$@" 2>/dev/null || true; echo; done | { grep . || true; } | sort -u
}
# (busybox 1.35 wget crashes with -T: bounded with timeout instead.)
get() { timeout 5 busybox wget -q -O- "$@"; }

# ---- ClusterIP from a pod: a client pod asks 30 times and prints what it got ----
cat <<Y | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: $NODE
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:e2e
    imagePullPolicy: Never
    command: [sh, -c, 'for i in \$(seq 30); do timeout 3 wget -q -O- http://$CIP/ || echo FAIL; done; echo DONE']
Y
wait_for 60 sh -c "'$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' logs client 2>/dev/null | grep -q DONE" ||
	e2e_fail "client pod never finished: $(k logs client 2>&1 | tail -5)"
got=$(k logs client | grep -v DONE | sort -u)
expect_eq "$got" "$PODS" "ClusterIP answers seen from a pod"

# ---- NodePort from outside the node, on the node's address ----
NP=$(k get svc web-np -o jsonpath='{.spec.ports[0].nodePort}')
got=$(answers 30 timeout 5 ip netns exec ext busybox wget -q -O- "http://$NODE_IP:$NP/")
expect_eq "$got" "$PODS" "NodePort answers from outside"

# ---- LoadBalancer: EXTERNAL-IP is the node's address and answers ----
wait_for 10 sh -c "'$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get svc web-lb --no-headers | grep -q ' $NODE_IP '" ||
	e2e_fail "LoadBalancer EXTERNAL-IP: $(k get svc web-lb 2>&1)"
got=$(answers 30 timeout 5 ip netns exec ext busybox wget -q -O- "http://$NODE_IP:8081/")
expect_eq "$got" "$PODS" "LoadBalancer answers"

# ---- scaling changes the answering set within a second ----
# ready_eps N: the Service's EndpointSlices list N ready endpoints.
ready_eps() {
	[ "$(k get endpointslices -l kubernetes.io/service-name=web -o \
		jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]}{" "}{end}' |
		wc -w)" = "$1" ]
}
scale_to() { # N: scale, wait for the endpoints, then give the proxy one second
	k scale deploy web --replicas="$1" >/dev/null
	wait_for 60 ready_eps "$1" || e2e_fail "endpoints never reached $1: $(k get endpointslices -o yaml)"
	sleep 1
}
scale_to 1
got=$(answers 20 get "http://$CIP/")
[ "$(grep -c . <<<"$got")" = 1 ] && grep -qxF "$got" <<<"$PODS" ||
	e2e_fail "1 s after scaling to 1, answers from: $got"
scale_to 3
got=$(answers 40 get "http://$CIP/")
[ "$(grep -c . <<<"$got")" = 3 ] || e2e_fail "1 s after scaling back to 3, answers from: $got"

# ---- no endpoints: refused at once ----
NCIP=$(k get svc nobody -o jsonpath='{.spec.clusterIP}')
t0=$(date +%s%N)
out=$(timeout 5 busybox wget -q -O- "http://$NCIP/" 2>&1) && e2e_fail "no endpoints, yet: $out"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_contains "$out" "refused" "no endpoints"
[ "$ms" -lt 1000 ] || e2e_fail "no endpoints: refused only after $ms ms"

# ---- the agent's /metrics ----
m=$(timeout 5 busybox wget -q -O- http://127.0.0.1:10249/metrics)
expect_contains "$m" "kubeproxy_sync_proxy_rules_duration_seconds_count" "sync histogram"
expect_contains "$m" 'edgek_proxy_syncs_total{mode="full"} ' "sync count"
expect_contains "$m" 'edgek_proxy_nftables_objects{kind="rules"} ' "rules count"
echo "ok: chapter 6 with real pods through the agent's proxy"
