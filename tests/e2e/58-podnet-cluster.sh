#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Cross-node pod networking in a real cluster (issue 11), once per backend (host-gw, vxlan):
# three hosts as network namespaces hs, ha, hb on a bridge the test creates (10.77.0.0/24),
# `edgek server --pod-network-backend B` on hs and `edgek agent --join ... --pod-network-backend
# B` on ha and hb. A busybox httpd pod pinned to each agent gets an address from its node's
# podCIDR; each pod fetches the other's page by pod IP (across nodes); with VXLAN each node
# publishes its VTEP MAC in the edgek.io/vtep-mac annotation; after an agent restart the pod
# keeps its address and both directions still work; once hb's Node is deleted, ha no longer
# routes hb's pod subnet. With `none`, nothing is routed across nodes. Everything lives in namespaces the test
# makes and deletes (their links, routes and nftables tables go with them).
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

mkdir -p /run/netns
mount -t tmpfs ekpodnet /run/netns
HOSTS=(hs ha hb)
teardown() {
	local h f
	trap - ERR
	set +e
	# Agents and the server first (a live agent would start the pods' shims again), then shims.
	for pid in "${E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${E2E_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	done
	E2E_PIDS=()
	for h in "${HOSTS[@]}"; do
		for f in "$E2E_DIR"/run-"$h"/runtime/pods/*/shim.pid; do
			[ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
		done
		E2E_CGROUP=$E2E_CGROUP-$h e2e_node_cleanup
	done
	for h in "${HOSTS[@]}"; do ip netns del "$h" 2>/dev/null; done
	# A namespace (and its end of the veth) goes once its last process has; wait for that.
	for h in "${HOSTS[@]}"; do
		wait_for 10 sh -c "! ip link show v-$h" || ip link del "v-$h" 2>/dev/null
	done
	ip link del br-pn 2>/dev/null
	set -e
	return 0
}
trap 'rc=$?; teardown; umount /run/netns 2>/dev/null; (exit $rc); e2e_cleanup' EXIT

on() {
	local h=$1
	shift
	nsenter --net="/run/netns/$h" "$@"
}
ip_of() { case $1 in hs) echo 10.77.0.1 ;; ha) echo 10.77.0.2 ;; hb) echo 10.77.0.3 ;; esac; }
kh() { on hs "$KUBECTL_DIR/$KUBECTL" --kubeconfig "$E2E_KUBECONFIG" "$@"; }
ready() { [ "$(kh get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }
running() { [ "$(kh get pod "$1" -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ]; }
# fetch FROM-POD IP: the page of the pod at IP, fetched inside FROM-POD (busybox 1.35's
# `wget -T` crashes: `timeout` bounds it).
fetch() { kh exec "$1" -- busybox timeout 3 busybox wget -q -O - "http://$2/" 2>/dev/null; }
fetch_is() { [ "$(fetch "$1" "$2")" = "$3" ]; }

start_agent() {
	local h=$1
	bg "agent-$h-$B$2" nsenter --net="/run/netns/$h" "$EDGEK" agent --join "$url" --token "$token" \
		--node-name "$h" --node-ip "$(ip_of "$h")" --pod-network-backend "$B" \
		--data-dir "$E2E_DIR/$B-$h" --runtime-dir "$E2E_DIR/run-$h" --pod-log-dir "$E2E_DIR/logs-$h" \
		--cgroup-parent "$E2E_CGROUP-$h" --cgroup-nested
	eval "AGENT_$h=\$BG_PID"
}

round() {
	B=$1
	local t0=$SECONDS h i=1
	ip link add br-pn type bridge
	ip link set br-pn up
	for h in "${HOSTS[@]}"; do
		ip netns add "$h"
		ip -n "$h" link set lo up
		ip link add "v-$h" type veth peer name eth0 netns "$h"
		ip link set "v-$h" master br-pn up
		ip -n "$h" addr add "10.77.0.$i/24" dev eth0
		ip -n "$h" link set eth0 up
		"$EDGEK" image import --data-dir "$E2E_DIR/$B-$h" "$E2E_IMAGE" >/dev/null
		i=$((i + 1))
	done
	E2E_KUBECONFIG=$E2E_DIR/kubeconfig-$B.yaml
	bg "server-$B" nsenter --net=/run/netns/hs "$EDGEK" server --data-dir "$E2E_DIR/$B-hs" --node-name hs \
		--node-ip 10.77.0.1 --write-kubeconfig "$E2E_KUBECONFIG" --bind-address 10.77.0.1 --tls-san 10.77.0.1 \
		--pod-network-backend "$B" --runtime-dir "$E2E_DIR/run-hs" --pod-log-dir "$E2E_DIR/logs-hs" \
		--cgroup-parent "$E2E_CGROUP-hs" --cgroup-nested
	wait_for 30 test -f "$E2E_KUBECONFIG" || e2e_fail "$B: server wrote no kubeconfig"
	wait_for 30 kh get --raw /readyz || e2e_fail "$B: server never became ready"
	token=$(cat "$E2E_DIR/$B-hs/server/token")
	url=https://10.77.0.1:6443
	start_agent ha ""
	start_agent hb ""
	for h in ha hb; do
		wait_for 30 ready "$h" || e2e_fail "$B: $h never became Ready: $(kh get nodes 2>&1)"
	done

	for h in ha hb; do
		cat <<Y
---
apiVersion: v1
kind: Pod
metadata: {name: web-$h}
spec:
  nodeName: $h
  containers:
  - name: c
    image: busybox:e2e
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /www && echo "hello from \$(hostname)" > /www/index.html && exec busybox httpd -f -p 80 -h /www']
Y
	done | kh create -f - >/dev/null
	declare -A ip cidr
	for h in ha hb; do
		wait_for 60 running "web-$h" || e2e_fail "$B: web-$h not Running: $(kh get pod "web-$h" -o wide 2>&1)"
		ip[$h]=$(kh get pod "web-$h" -o jsonpath='{.status.podIP}')
		cidr[$h]=$(kh get node "$h" -o jsonpath='{.spec.podCIDR}')
		# podCIDRs are /24s: the pod's address shares the subnet's first three octets.
		[ "${cidr[$h]#*/}" = 24 ] || e2e_fail "$B: $h podCIDR ${cidr[$h]} is not a /24"
		case ${ip[$h]} in
		"${cidr[$h]%.*/24}".*) ;;
		*) e2e_fail "$B: web-$h IP ${ip[$h]} not in $h's podCIDR ${cidr[$h]}" ;;
		esac
		echo "$B: web-$h ${ip[$h]} in ${cidr[$h]}"
	done
	[ "${cidr[ha]}" != "${cidr[hb]}" ] || e2e_fail "$B: both nodes have podCIDR ${cidr[ha]}"
	if [ "$B" = none ]; then
		# No cross-node programming: no route to hb's pods on ha, no VXLAN device.
		sleep 2
		expect_eq "$(ip -n ha route show "${cidr[hb]}")" "" "$B: ha routes ${cidr[hb]}"
		expect_fail ip -n ha link show ek.vxlan >/dev/null
		fetch web-ha "${ip[hb]}" && e2e_fail "$B: web-ha reached web-hb without cross-node routes"
		expect_eq "$(fetch web-ha "${ip[ha]}")" "hello from web-ha" "$B: a pod reaches its own node's pods"
		teardown
		return 0
	fi
	if [ "$B" = vxlan ]; then
		for h in ha hb; do
			mac=$(kh get node "$h" -o jsonpath='{.metadata.annotations.edgek\.io/vtep-mac}')
			expect_eq "$mac" "$(ip -n "$h" -o link show ek.vxlan | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')" "$B: $h's VTEP MAC annotation"
		done
	else
		expect_fail ip -n ha link show ek.vxlan >/dev/null
	fi
	local t1=$SECONDS
	wait_for 20 fetch_is web-ha "${ip[hb]}" "hello from web-hb" ||
		e2e_fail "$B: web-ha cannot reach web-hb at ${ip[hb]}: $(kh exec web-ha -- busybox timeout 3 busybox wget -O - "http://${ip[hb]}/" 2>&1; kh exec web-ha -- busybox ip route 2>&1; on ha ip route; on hb ip route; on ha nft list ruleset; on ha sysctl net.ipv4.ip_forward; on hs timeout 3 wget -O - "http://${ip[hb]}/" 2>&1)"
	echo "FIGURE $B: cross-node routes working $((SECONDS - t1)) s after both pods ran"
	expect_eq "$(fetch web-hb "${ip[ha]}")" "hello from web-ha" "$B: web-hb reaches web-ha"
	# The server's own node routes to both agents' pods too.
	expect_eq "$(on hs timeout 3 wget -q -O - "http://${ip[ha]}/")" "hello from web-ha" "$B: hs reaches web-ha"

	# ---- an agent restart keeps the pod's address and connectivity ----
	kill -TERM "$AGENT_ha"
	wait_for 20 sh -c "! kill -0 $AGENT_ha 2>/dev/null" || e2e_fail "$B: agent ha did not stop"
	start_agent ha 2
	wait_for 30 sh -c "grep -q 'pod network ready' '$E2E_DIR/agent-ha-${B}2.log'" || e2e_fail "$B: restarted agent's network never ready"
	sleep 1
	expect_eq "$(kh get pod web-ha -o jsonpath='{.status.podIP}')" "${ip[ha]}" "$B: web-ha keeps its IP"
	wait_for 20 fetch_is web-hb "${ip[ha]}" "hello from web-ha" || e2e_fail "$B: web-hb cannot reach web-ha after the restart"
	wait_for 20 fetch_is web-ha "${ip[hb]}" "hello from web-hb" || e2e_fail "$B: web-ha cannot reach web-hb after the restart"
	expect_eq "$(kh get pod web-ha -o jsonpath='{.status.containerStatuses[0].restartCount}')" 0 "$B: web-ha not restarted"
	# ---- a deleted Node's subnet is no longer routed ----
	kh delete node hb >/dev/null
	gone() { ! ip -n ha route show "${cidr[hb]}" | grep -q .; }
	wait_for 20 gone || e2e_fail "$B: ha still routes ${cidr[hb]} after hb's Node was deleted: $(ip -n ha route)"
	echo "$B: round took $((SECONDS - t0)) s"
	teardown
}

round host-gw
round vxlan
round none
echo PASS
