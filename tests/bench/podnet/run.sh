#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench-podnet`: pod network figures, inside namespaces of its own (as root).
#  1. setup time per pod: build/bench/podnet times ek_podnet_attach/detach for 100 pods;
#  2. pod-to-pod throughput (iperf3, 3 s) and latency (ping, 50 x 10 ms) across two "nodes"
#     (namespaces n1, n2 joined by a veth pair) over VXLAN and host-gw, against the same
#     measured directly between the two node namespaces (the peer: no pod network at all).
# Last line:
#   podnet: vxlan_gbps=... hostgw_gbps=... direct_gbps=... attach_p50_ms=...
# EK_BENCH_SECONDS sets each iperf3 run's length (default 3).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
secs=${EK_BENCH_SECONDS:-3}
if [ "${EK_BENCH_IN_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench-podnet: needs root (namespaces)" >&2; exit 77; }
	for t in iperf3 busybox; do
		command -v $t >/dev/null || { echo "bench-podnet: $t is not installed" >&2; exit 77; }
	done
	make -C "$root" -s build/bench/podnet edgek
	export EK_BENCH_IN_NS=1
	exec unshare --net --mount --fork --kill-child -- "$0" "$@"
fi
mount --make-rprivate /
mkdir -p /run/netns
mount -t tmpfs ekbench /run/netns
dir=$(mktemp -d "$root/build/bench/podnet-data.XXXXXX")
done_() {
	for ns in n1 n2 p1 p2; do ip netns del $ns 2>/dev/null || true; done
	umount /run/netns 2>/dev/null || true
	rm -rf "$dir"
}
trap done_ EXIT

attach=$("$root/build/bench/podnet" "$dir/attach" 100 2>/dev/null | tail -1)
[ "${EK_BENCH_DEBUG:-}" ] && set -x

for ns in n1 n2 p1 p2; do ip netns add $ns; ip -n $ns link set lo up; done
ip -n n1 link add wire type veth peer name wire netns n2
ip -n n1 addr add 192.168.70.1/24 dev wire
ip -n n2 addr add 192.168.70.2/24 dev wire
ip -n n1 link set wire up
ip -n n2 link set wire up

# measure CLIENT_NS SERVER_NS SERVER_IP -> "gbps rtt_ms"
measure() {
	ip netns exec "$2" iperf3 -s -B "$3" -1 >/dev/null 2>&1 &
	local server=$!
	local gbps="" i
	for i in $(seq 50); do
		gbps=$(ip netns exec "$1" iperf3 -c "$3" -t "$secs" -f g 2>/dev/null |
			awk '/receiver/ { print $(NF-2) }') && [ -n "$gbps" ] && break
		sleep 0.1
	done
	local rtt
	rtt=$(ip netns exec "$1" busybox ping -c 50 -i 0.01 -q "$3" | awk -F/ '/round-trip/ { print $4 }')
	kill "$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
	echo "${gbps:-0} ${rtt:-0}"
}

ek() {
	local n=$1 act=$2
	shift 2
	local i=${n#n}
	"$root/edgek" podnet "$act" --netns "/run/netns/$n" -d "$dir/$n" --node-cidr "10.42.$i.0/24" \
		--node-ip "192.168.70.$i" --uplink wire --pod-network-backend "$backend" "$@" 2>>"$dir/ek.log" || { cat "$dir/ek.log" >&2; return 1; }
}

pods_over() {
	backend=$1
	ek n1 setup
	ek n2 setup
	local ip2
	ek n1 attach --id p1 --pod-netns /run/netns/p1 >/dev/null
	ip2=$(ek n2 attach --id p2 --pod-netns /run/netns/p2)
	local m1=() m2=()
	if [ "$backend" = vxlan ]; then
		m1=(--vtep-mac "$(ek n1 vtep-mac)")
		m2=(--vtep-mac "$(ek n2 vtep-mac)")
	fi
	ek n1 remote-add --pod-cidr 10.42.2.0/24 --remote-ip 192.168.70.2 "${m2[@]}"
	ek n2 remote-add --pod-cidr 10.42.1.0/24 --remote-ip 192.168.70.1 "${m1[@]}"
	measure p1 p2 "$ip2"
	ek n1 cleanup
	ek n2 cleanup
	rm -rf "$dir/n1" "$dir/n2"
}

# $(...) waits for the whole run (a <(...) substitution would race the next one's setup).
r=$(measure n1 n2 192.168.70.2)
read -r direct_g direct_rtt <<<"$r"
r=$(pods_over host-gw)
read -r hostgw_g hostgw_rtt <<<"$r"
r=$(pods_over vxlan)
read -r vxlan_g vxlan_rtt <<<"$r"

printf '%-34s %10s %12s %8s\n' "path" "Gbit/s" "rtt avg ms" "ratio"
printf '%-34s %10s %12s %8s\n' "direct (node ns to node ns)" "$direct_g" "$direct_rtt" "1.00"
for k in hostgw vxlan; do
	g=${k}_g r=${k}_rtt
	printf '%-34s %10s %12s %8.2f\n' "pod to pod, ${k/hostgw/host-gw}" "${!g}" "${!r}" \
		"$(echo "${!g} / ($direct_g + 0.000001)" | bc -l)"
done
echo "setup per pod: $attach"
a50=$(echo "$attach" | grep -o 'attach_p50_ms=[0-9.]*' | cut -d= -f2)
echo "podnet: vxlan_gbps=$vxlan_g hostgw_gbps=$hostgw_g direct_gbps=$direct_g attach_p50_ms=$a50"
