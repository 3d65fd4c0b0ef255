#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The pod network between two "nodes": network namespaces n1 and n2 joined by a veth pair
# (192.168.60.0/24), "the internet" (namespace inet, 203.0.113.9) behind n1, pods in their
# own namespaces. `edgek podnet` (the library the agent uses) configures each node through
# --netns; `ip netns exec` only builds the topology and observes. Checks, for host-gw and
# VXLAN: pod -> gateway, pod -> pod on the node and across nodes (busybox ping and wget
# against busybox httpd, whose CGI reports the client address: pod-to-pod keeps the pod's
# address), egress masquerade (the internet sees the node's address), hostPort DNAT on the
# node address, and that cleanup leaves each node's links, routes and ruleset as they were
# and that the host's own were never touched.
source "$(dirname "$0")/lib.sh"

host_state() {
	nft list ruleset 2>&1
	ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort
	ip route show table main
}
# Recorded before entering the test's namespaces, compared at the end.
# The caller's namespace stays reachable through our parent (which outlives us).
if [ "${E2E_IN_NS:-}" != 1 ] && [ "$(id -u)" = 0 ]; then
	PODNET_HOST_BEFORE=$(host_state)
	PODNET_HOST_PID=$PPID
	export PODNET_HOST_BEFORE PODNET_HOST_PID
fi
e2e_init
command -v busybox >/dev/null || e2e_skip "busybox is not installed"

# `ip netns add` in our private mount namespace must not leave files in the host's /run/netns.
mkdir -p /run/netns
mount -t tmpfs ekpodnet /run/netns
NSS=(n1 n2 inet p1a p1b p2a)
cleanup_ns() {
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	umount /run/netns 2>/dev/null || true
}
# e2e_cleanup reads the test's exit status from $?: hand it on past cleanup_ns.
trap 'rc=$?; cleanup_ns; (exit $rc); e2e_cleanup' EXIT
for ns in "${NSS[@]}"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
nsx() { ip netns exec "$@"; }
ip -n n1 link add wire type veth peer name wire netns n2
ip -n n1 addr add 192.168.60.1/24 dev wire
ip -n n2 addr add 192.168.60.2/24 dev wire
ip -n n1 link add up0 type veth peer name up0 netns inet
ip -n n1 addr add 203.0.113.1/24 dev up0
ip -n inet addr add 203.0.113.9/24 dev up0
for ns in n1 n2 inet; do
	for dev in wire up0; do ip -n "$ns" link set "$dev" up 2>/dev/null || true; done
done
# Something of the node's own that edgek must leave alone.
nsx n1 nft add table ip keep
nsx n1 nft add chain ip keep input '{ type filter hook input priority 0; }'
nsx n1 nft add rule ip keep input ip saddr 192.0.2.99 drop
node_state() { nsx "$1" nft list ruleset; ip -n "$1" -o link show | awk -F': ' '{ print $2 }'; ip -n "$1" route; }
N1_BEFORE=$(node_state n1)
N2_BEFORE=$(node_state n2)

# Web roots: index.html names the pod; cgi-bin/ip prints the client's address.
web() {
	local dir=$E2E_DIR/www-$1
	mkdir -p "$dir/cgi-bin"
	echo "hello from $1" >"$dir/index.html"
	printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n' >"$dir/cgi-bin/ip"
	chmod +x "$dir/cgi-bin/ip"
	bg "httpd-$1" ip netns exec "$1" busybox httpd -f -p "0.0.0.0:${2:-80}" -h "$dir" >/dev/null
}
web p2a
web p1b
web inet
# (busybox 1.35 wget crashes with -T: bound it with timeout instead.)
get() { timeout 5 ip netns exec "$1" busybox wget -q -O- "$2"; }

ek() { # ek NODE ACTION [FLAGS]: edgek podnet on node n1 or n2
	local n=$1 act=$2
	shift 2
	local i=${n#n}
	"$EDGEK" podnet "$act" --netns "/run/netns/$n" -d "$E2E_DIR/data-$n" \
		--node-cidr "10.42.$i.0/24" --node-ip "192.168.60.$i" --uplink wire \
		--pod-network-backend "$BACKEND" "$@"
}

run_backend() {
	BACKEND=$1
	echo "== backend $BACKEND"
	ek n1 setup
	ek n2 setup
	P1A=$(ek n1 attach --id pod-1a --pod-netns /run/netns/p1a)
	P1B=$(ek n1 attach --id pod-1b --pod-netns /run/netns/p1b --hostport tcp:8080:80)
	P2A=$(ek n2 attach --id pod-2a --pod-netns /run/netns/p2a)
	local mac1="" mac2=""
	if [ "$BACKEND" = vxlan ]; then
		mac1=(--vtep-mac "$(ek n1 vtep-mac)")
		mac2=(--vtep-mac "$(ek n2 vtep-mac)")
		expect_eq "$(ip -n p1a -o link show eth0 | grep -o 'mtu [0-9]*')" "mtu 1450" "pod MTU"
	else
		mac1=()
		mac2=()
	fi
	ek n1 remote-add --pod-cidr 10.42.2.0/24 --remote-ip 192.168.60.2 "${mac2[@]}"
	ek n2 remote-add --pod-cidr 10.42.1.0/24 --remote-ip 192.168.60.1 "${mac1[@]}"

	nsx p1a busybox ping -c 1 -W 2 10.42.1.1 >/dev/null || e2e_fail "$BACKEND: pod cannot ping its gateway"
	nsx p1a busybox ping -c 1 -W 2 "$P1B" >/dev/null || e2e_fail "$BACKEND: pod cannot ping a pod on its node"
	nsx p1a busybox ping -c 1 -W 2 "$P2A" >/dev/null || e2e_fail "$BACKEND: pod cannot ping a pod on the other node"
	if ! wait_for 5 get p1a "http://$P2A/"; then
		get p1a "http://$P2A/" || true
		get p2a http://127.0.0.1/ || true
		e2e_fail "$BACKEND: no HTTP across nodes"
	fi
	expect_eq "$(get p1a "http://$P2A/")" "hello from p2a" "$BACKEND: cross-node HTTP"
	expect_eq "$(get p1a "http://$P2A/cgi-bin/ip")" "$P1A" "$BACKEND: pod-to-pod keeps the pod address"
	expect_eq "$(get p2a "http://$P1B/cgi-bin/ip")" "$P2A" "$BACKEND: and the other way"
	# Egress: the internet sees the node.
	expect_eq "$(get p1a http://203.0.113.9/cgi-bin/ip)" "203.0.113.1" "$BACKEND: egress masquerade"
	# hostPort: the node's address on 8080 is pod-1b's port 80, the client address kept.
	expect_eq "$(get inet http://203.0.113.1:8080/)" "hello from p1b" "$BACKEND: hostPort"
	expect_eq "$(get inet http://203.0.113.1:8080/cgi-bin/ip)" "203.0.113.9" "$BACKEND: hostPort client"
	expect_eq "$(get p1a http://192.168.60.1:8080/)" "hello from p1b" "$BACKEND: hostPort hairpin"
	expect_eq "$(get p2a http://192.168.60.1:8080/)" "hello from p1b" "$BACKEND: hostPort from a remote pod"

	# Only our table, with only our names.
	expect_eq "$(nsx n1 nft list tables | sort | tr '\n' ' ')" "table ip edgek table ip keep " "tables"
	# Detach: the DNAT and the pod's address go.
	ek n1 detach --id pod-1b --hostport tcp:8080:80
	expect_fail get inet http://203.0.113.1:8080/ >/dev/null
	[ ! -e "$E2E_DIR/data-n1/agent/ipam/$P1B" ] || e2e_fail "$BACKEND: detach kept the address"
	# Restart of an agent with a pod gone meanwhile: reconcile frees it.
	P1B=$(ek n1 attach --id pod-1b --pod-netns /run/netns/p1b)
	expect_eq "$(ek n1 reconcile --live pod-1a)" "released 1" "reconcile"
	ek n1 remote-del --pod-cidr 10.42.2.0/24 --remote-ip 192.168.60.2 "${mac2[@]}"
	expect_fail nsx p1a busybox ping -c 1 -W 1 "$P2A" >/dev/null

	ek n1 cleanup
	ek n2 cleanup
	expect_eq "$(node_state n1)" "$N1_BEFORE" "$BACKEND: n1 after cleanup"
	expect_eq "$(node_state n2)" "$N2_BEFORE" "$BACKEND: n2 after cleanup"
	rm -rf "$E2E_DIR/data-n1" "$E2E_DIR/data-n2"
}

run_backend host-gw
run_backend vxlan

if [ -n "${PODNET_HOST_BEFORE:-}" ] && [ -e "/proc/$PODNET_HOST_PID/ns/net" ]; then
	after=$(nsenter --net="/proc/$PODNET_HOST_PID/ns/net" bash -c "$(declare -f host_state); host_state")
	expect_eq "$after" "$PODNET_HOST_BEFORE" "the host's own ruleset, links and routes"
	echo "ok: the host's ruleset, links and routes are as before"
fi
echo "ok: podnet host-gw and vxlan"
