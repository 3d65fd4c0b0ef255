#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The service proxy with real traffic. Two "nodes" (namespaces n1, n2) and an outside client
# (ext, 192.168.60.100) share a LAN (a bridge in namespace lan); the pod network comes from
# `edgek podnet` (host-gw), with pods p1a, p1b on n1 and p2a on n2, each running busybox httpd
# whose index page is the pod's name and whose CGI prints the client's address, and a UDP DNS
# server (`edgek dns-test`) that answers who.x.svc.cluster.local with an address naming the pod.
# Each node runs `edgek proxy-test` (the agent's proxy fed from a file of Services and
# EndpointSlices) against its namespace. Checked with busybox wget and dig: ClusterIP from a pod
# spreads over every endpoint, NodePort from outside on both node addresses, LoadBalancer
# ingress IPs (the nodes' addresses, k3s ServiceLB style) and externalIPs, masquerade for
# Cluster policy and the client's address kept for externalTrafficPolicy Local, ClientIP
# affinity, UDP, stale UDP conntrack entries removed when an endpoint goes, immediate refusal
# without endpoints and on undefined ports, hairpin, scaling seen within a second, /metrics,
# and that cleanup leaves each node's ruleset as it was and the host's untouched.
source "$(dirname "$0")/lib.sh"

host_state() {
	nft list ruleset 2>&1
	ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort
}
if [ "${E2E_IN_NS:-}" != 1 ] && [ "$(id -u)" = 0 ]; then
	PROXY_HOST_BEFORE=$(host_state)
	PROXY_HOST_PID=$PPID
	export PROXY_HOST_BEFORE PROXY_HOST_PID
fi
e2e_init
command -v busybox >/dev/null || e2e_skip "busybox is not installed"
command -v dig >/dev/null || e2e_skip "dig is not installed (run \`make deps\`)"

mkdir -p /run/netns
mount -t tmpfs ekproxy /run/netns
NSS=(lan n1 n2 ext p1a p1b p2a)
cleanup_ns() {
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	umount /run/netns 2>/dev/null || true
}
# e2e_cleanup reads the test's exit status from $?: hand it on past cleanup_ns (with errexit
# off, or the `(exit $rc)` would end the trap before the logs and processes are seen to).
on_exit() {
	local rc=$?
	set +e
	cleanup_ns
	(exit $rc)
	e2e_cleanup
}
trap on_exit EXIT
for ns in "${NSS[@]}"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
nsx() { ip netns exec "$@"; }

# The LAN: n1 .1, n2 .2, ext .100; ext also routes the externalIP to n1.
ip -n lan link add br0 type bridge
ip -n lan link set br0 up
i=0
for ns in n1 n2 ext; do
	i=$((i + 1))
	ip -n lan link add "port$i" type veth peer name wire netns "$ns"
	ip -n lan link set "port$i" master br0 up
	ip -n "$ns" link set wire up
done
ip -n n1 addr add 192.168.60.1/24 dev wire
ip -n n2 addr add 192.168.60.2/24 dev wire
ip -n ext addr add 192.168.60.100/24 dev wire
ip -n ext route add 203.0.113.50/32 via 192.168.60.1
# Nodes route everything else to ext, as a real LAN's router: traffic for a service without
# endpoints is rejected on the forward path, which needs a route to get there.
ip -n n1 route add default via 192.168.60.100
ip -n n2 route add default via 192.168.60.100
nsx n1 nft add table ip keep
nsx n1 nft add chain ip keep input '{ type filter hook input priority 0; }'
nsx n1 nft add rule ip keep input ip saddr 192.0.2.99 drop
N1_BEFORE=$(nsx n1 nft list ruleset)

podnet() { # podnet NODE ACTION [FLAGS]
	local n=$1 act=$2
	shift 2
	"$EDGEK" podnet "$act" --netns "/run/netns/$n" -d "$E2E_DIR/data-$n" \
		--node-cidr "10.42.${n#n}.0/24" --node-ip "192.168.60.${n#n}" --uplink wire \
		--pod-network-backend host-gw "$@"
}
podnet n1 setup
podnet n2 setup
P1A=$(podnet n1 attach --id p1a --pod-netns /run/netns/p1a)
P1B=$(podnet n1 attach --id p1b --pod-netns /run/netns/p1b)
P2A=$(podnet n2 attach --id p2a --pod-netns /run/netns/p2a)
podnet n1 remote-add --pod-cidr 10.42.2.0/24 --remote-ip 192.168.60.2
podnet n2 remote-add --pod-cidr 10.42.1.0/24 --remote-ip 192.168.60.1

# Pods: httpd on 80 (index = the pod's name, cgi-bin/ip = the client's address), DNS on 53.
pod() {
	local name=$1 n=$2
	local dir=$E2E_DIR/www-$name
	mkdir -p "$dir/cgi-bin"
	echo "$name" >"$dir/index.html"
	printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n' >"$dir/cgi-bin/ip"
	printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "%s $REMOTE_ADDR"\n' "$name" >"$dir/cgi-bin/who"
	chmod +x "$dir/cgi-bin/ip" "$dir/cgi-bin/who"
	bg "httpd-$name" ip netns exec "$name" busybox httpd -f -p 0.0.0.0:80 -h "$dir" >/dev/null
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: who, namespace: x}\nspec: {clusterIP: 10.99.0.%s, ports: [{port: 1}]}\n' \
		"$n" >"$E2E_DIR/who-$name.yaml"
	bg "dns-$name" ip netns exec "$name" "$EDGEK" dns-test --records "$E2E_DIR/who-$name.yaml" \
		--listen 0.0.0.0:53 --resolv-conf /dev/null >/dev/null
}
pod p1a 1
pod p1b 2
pod p2a 3
for p in p1a p1b p2a; do
	wait_for 10 grep -q '^ready' "$E2E_DIR/dns-$p.log" || e2e_fail "dns-test in $p did not start"
done

# ---- the objects, as the API server and the EndpointSlice controller would write them ----
ep() { # ep IP NODE [READY]
	printf '  - addresses: [%s]\n    nodeName: %s\n    conditions: {ready: %s}\n' "$1" "$2" "${3:-true}"
}
slice() { # slice NAME SERVICE PORTNAME PORT PROTO ENDPOINTS...
	local name=$1 svc=$2 pname=$3 port=$4 proto=$5
	shift 5
	printf -- '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
	printf 'metadata: {name: %s, namespace: demo, labels: {kubernetes.io/service-name: %s}}\n' "$name" "$svc"
	printf 'addressType: IPv4\nports: [{name: %s, port: %s, protocol: %s}]\nendpoints:\n' "$pname" "$port" "$proto"
	for e in "$@"; do printf '%s\n' "$e"; done
}
WEB_EPS=("$(ep "$P1A" n1)" "$(ep "$P1B" n1)" "$(ep "$P2A" n2)")
DNS_EPS=("$(ep "$P1A" n1)" "$(ep "$P2A" n2)")
objects() {
	cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  type: LoadBalancer
  clusterIP: 10.43.0.50
  externalIPs: [203.0.113.50]
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080, protocol: TCP}]
status: {loadBalancer: {ingress: [{ip: 192.168.60.1, ipMode: VIP}, {ip: 192.168.60.2, ipMode: VIP}]}}
---
apiVersion: v1
kind: Service
metadata: {name: sticky, namespace: demo}
spec:
  clusterIP: 10.43.0.51
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports: [{name: http, port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: demo}
spec: {clusterIP: 10.43.0.52, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: local, namespace: demo}
spec:
  type: NodePort
  clusterIP: 10.43.0.53
  externalTrafficPolicy: Local
  ports: [{name: http, port: 80, nodePort: 30081}]
---
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: demo}
spec:
  clusterIP: 10.43.0.54
  ports: [{name: dns, port: 53, targetPort: dns, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: hair, namespace: demo}
spec: {clusterIP: 10.43.0.55, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: demo}
spec: {clusterIP: None, ports: [{name: http, port: 80}]}
EOF
	slice web-1 web http 80 TCP "${WEB_EPS[@]}"
	slice sticky-1 sticky http 80 TCP "${WEB_EPS[@]}"
	slice local-1 local http 80 TCP "$(ep "$P1B" n1)" "$(ep "$P2A" n2)"
	slice dns-1 dns dns 53 UDP "${DNS_EPS[@]}"
	slice hair-1 hair http 80 TCP "$(ep "$P1B" n1)"
	slice headless-1 headless http 80 TCP "$(ep "$P1A" n1)"
}
OBJ=$E2E_DIR/objects.yaml
objects >"$OBJ"

PROXY_PIDS=()
for n in n1 n2; do
	# Not $(bg ...): bg must run in this shell for the cleanup to know the PID.
	bg "proxy-$n" "$EDGEK" proxy-test --objects "$OBJ" --netns "/run/netns/$n" \
		--node-name "$n" --node-ip "192.168.60.${n#n}" --cluster-cidr 10.42.0.0/16 \
		--service-cidr 10.43.0.0/16 --metrics-listen "127.0.0.1:1024${n#n}" >/dev/null
	PROXY_PIDS+=("${E2E_PIDS[-1]}")
done
for n in n1 n2; do
	wait_for 10 grep -q '^synced full=1' "$E2E_DIR/proxy-$n.log" || e2e_fail "proxy on $n never synced"
done
syncs() { grep -c '^synced' "$E2E_DIR/proxy-$1.log"; }
synced_since() { [ "$(syncs "$1")" -gt "$2" ]; }
reload() { # rewrites the objects, signals both proxies, waits for both to apply them
	local b1 b2
	b1=$(syncs n1)
	b2=$(syncs n2)
	objects >"$OBJ"
	kill -HUP "${PROXY_PIDS[@]}"
	wait_for 5 synced_since n1 "$b1" || e2e_fail "proxy on n1 did not sync after a reload"
	wait_for 5 synced_since n2 "$b2" || e2e_fail "proxy on n2 did not sync after a reload"
}

# (busybox 1.35 wget crashes with -T: bound it with timeout instead.)
get() { timeout 5 ip netns exec "$1" busybox wget -q -O- "$2" 2>&1; }
names() { # names NS URL N: the distinct answers of N requests
	for _ in $(seq "$3"); do get "$1" "$2" || true; done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

expect_eq "$(nsx n1 nft list tables | sort | tr '\n' ' ')" \
	"table ip edgek table ip edgek-proxy table ip keep " "tables on n1: ours and the node's own"
nsx n1 nft list table ip edgek-proxy >"$E2E_DIR/n1-table.txt"
grep -q 'demo/headless' "$E2E_DIR/n1-table.txt" && e2e_fail "a headless service got rules"

echo "== ClusterIP, from a pod: every endpoint answers"
expect_eq "$(names p1a http://10.43.0.50/ 40)" "p1a p1b p2a" "ClusterIP endpoints"
expect_eq "$(names p2a http://10.43.0.50/ 40)" "p1a p1b p2a" "ClusterIP endpoints from node 2"
# Pod to service keeps the pod's address (no masquerade inside the cluster), except when the
# pod reaches itself (hairpin: the reply must come back through the node).
for _ in $(seq 20); do
	seen=$(get p1a http://10.43.0.50/cgi-bin/who)
	case "$seen" in
	"p1a 10.42.1.1" | "p1b $P1A" | "p2a $P1A") ;;
	*) e2e_fail "pod source address through a ClusterIP: $seen" ;;
	esac
done
echo "== NodePort from outside, on every node address"
for ip in 192.168.60.1 192.168.60.2; do
	expect_eq "$(names ext "http://$ip:30080/" 40)" "p1a p1b p2a" "NodePort on $ip"
done
echo "== LoadBalancer ingress IPs and externalIPs"
for url in http://192.168.60.1/ http://192.168.60.2/ http://203.0.113.50/; do
	expect_eq "$(names ext "$url" 40)" "p1a p1b p2a" "$url"
done
# Cluster policy: the endpoint may be on the other node, so the client is masqueraded.
for _ in $(seq 5); do
	seen=$(get ext http://192.168.60.1:30080/cgi-bin/ip)
	case "$seen" in 192.168.60.1 | 10.42.1.1) ;; *) e2e_fail "Cluster policy source: $seen" ;; esac
done

echo "== externalTrafficPolicy Local keeps the client's address"
for _ in $(seq 10); do
	expect_eq "$(get ext http://192.168.60.1:30081/)" "p1b" "Local policy on n1: its own endpoint"
	expect_eq "$(get ext http://192.168.60.2:30081/)" "p2a" "Local policy on n2: its own endpoint"
done
expect_eq "$(get ext http://192.168.60.1:30081/cgi-bin/ip)" "192.168.60.100" "client address (n1)"
expect_eq "$(get ext http://192.168.60.2:30081/cgi-bin/ip)" "192.168.60.100" "client address (n2)"
# A pod going through the NodePort is not subject to the policy (kube-proxy's short-circuit).
expect_eq "$(names p1a http://192.168.60.1:30081/ 30)" "p1b p2a" "pod traffic to a Local NodePort"

echo "== ClientIP affinity sticks"
first=$(get p1a http://10.43.0.51/)
expect_eq "$(names p1a http://10.43.0.51/ 20)" "$first" "ClientIP affinity from p1a"
first=$(get p2a http://10.43.0.51/)
expect_eq "$(names p2a http://10.43.0.51/ 20)" "$first" "ClientIP affinity from p2a"

echo "== no endpoints, undefined port: refused at once"
for url in http://10.43.0.52/ http://10.43.0.50:81/; do
	start=$(date +%s%N)
	out=$(get p1a "$url" || true)
	ms=$((($(date +%s%N) - start) / 1000000))
	expect_contains "$out" "refused" "$url"
	[ "$ms" -lt 1000 ] || e2e_fail "$url took $ms ms to fail"
done
out=$(get ext http://192.168.60.1:30082/ || true)
expect_contains "$out" "refused" "a port that is no NodePort (the node's own stack answers)"

echo "== hairpin: a pod reaching itself through its service"
expect_eq "$(get p1b http://10.43.0.55/)" "p1b" "hairpin answer"
expect_eq "$(get p1b http://10.43.0.55/cgi-bin/ip)" "10.42.1.1" "hairpin traffic is masqueraded"

echo "== UDP"
who() { # who NS [SPORT]: which pod's DNS server answered
	local src=()
	[ -n "${2:-}" ] && src=(-b "0.0.0.0#$2")
	ip netns exec "$1" dig "${src[@]}" +time=1 +tries=1 +short @10.43.0.54 who.x.svc.cluster.local
}
udp_seen=$(for _ in $(seq 30); do who p1b || true; done | sort -u | tr '\n' ' ')
expect_eq "$udp_seen" "10.99.0.1 10.99.0.3 " "UDP reaches every endpoint"
# A flow from a fixed source port sticks to its endpoint (conntrack) until that endpoint goes.
pinned=$(who p1b 40053)
for _ in $(seq 5); do expect_eq "$(who p1b 40053)" "$pinned" "a UDP flow stays on its endpoint"; done
if [ "$pinned" = 10.99.0.1 ]; then
	DNS_EPS=("$(ep "$P1A" n1 false)" "$(ep "$P2A" n2)")
	other=10.99.0.3
else
	DNS_EPS=("$(ep "$P1A" n1)" "$(ep "$P2A" n2 false)")
	other=10.99.0.1
fi
reload
expect_eq "$(who p1b 40053)" "$other" "the flow moved: its conntrack entry was removed"

echo "== scaling changes the answering set within a second"
WEB_EPS=("$(ep "$P2A" n2)")
start=$(date +%s%N)
reload
ok=0
while [ $ok -lt 5 ]; do
	if [ "$(get p1a http://10.43.0.50/)" = p2a ]; then ok=$((ok + 1)); else ok=0; fi
	[ $(($(date +%s%N) - start)) -lt 3000000000 ] || e2e_fail "scale down not seen in 3 s"
done
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "$(names p1a http://10.43.0.50/ 20)" "p2a" "after scale down"
echo "scale down seen after ${ms} ms (including 5 confirming requests)"
[ "$ms" -lt 1000 ] || e2e_fail "scale down took $ms ms"
WEB_EPS=("$(ep "$P1A" n1)" "$(ep "$P1B" n1)" "$(ep "$P2A" n2)")
reload
expect_eq "$(names p1a http://10.43.0.50/ 40)" "p1a p1b p2a" "after scale up"

echo "== /metrics and a full resync that changes nothing"
metrics=$(busybox wget -q -O- http://127.0.0.1:10241/metrics)
expect_contains "$metrics" 'kubeproxy_sync_proxy_rules_duration_seconds_count' "sync histogram"
expect_contains "$metrics" 'edgek_proxy_nftables_objects{kind="rules"}' "rule count"
# Chains a change left unused are flushed at once and deleted one second later (the proxy's
# stale_chain_ms): the comparison starts once the last change's have gone.
sleep 1.5
before=$(nsx n1 nft list table ip edgek-proxy | grep -v -e '^	*elements' -e 'affinity' | wc -l)
full_syncs() { [ "$(grep -c '^synced full=1' "$E2E_DIR/proxy-n1.log")" -ge 2 ]; }
kill -USR1 "${PROXY_PIDS[0]}"
wait_for 5 full_syncs || e2e_fail "no resync"
after=$(nsx n1 nft list table ip edgek-proxy | grep -v -e '^	*elements' -e 'affinity' | wc -l)
expect_eq "$after" "$before" "a full resync rebuilds the same table"
expect_eq "$(names p1a http://10.43.0.50/ 40)" "p1a p1b p2a" "after a full resync"

echo "== cleanup"
kill -TERM "${PROXY_PIDS[@]}"
for pid in "${PROXY_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
nsx n1 nft list table ip edgek-proxy >/dev/null || e2e_fail "the table went with the process"
"$EDGEK" proxy-test --cleanup --netns /run/netns/n1
"$EDGEK" proxy-test --cleanup --netns /run/netns/n2
"$EDGEK" proxy-test --cleanup --netns /run/netns/n2 # idempotent
podnet n1 cleanup
podnet n2 cleanup
expect_eq "$(nsx n1 nft list ruleset)" "$N1_BEFORE" "n1's ruleset after cleanup"
expect_eq "$(nsx n2 nft list ruleset)" "" "n2's ruleset after cleanup"

if [ -n "${PROXY_HOST_BEFORE:-}" ] && [ -e "/proc/$PROXY_HOST_PID/ns/net" ]; then
	after=$(nsenter --net="/proc/$PROXY_HOST_PID/ns/net" bash -c "$(declare -f host_state); host_state")
	expect_eq "$after" "$PROXY_HOST_BEFORE" "the host's own ruleset and links"
	echo "ok: the host's ruleset and links are as before"
fi
echo "ok: service proxy"
