#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench-footprint`: what edgek costs a board, measured on the shipped binary
# (`make release`) inside a private network and mount namespace (loopback only), on a data dir
# on the build tree's disk:
#   - the release binary's size;
#   - start to node Ready (tests/bench/footprint/ready.py: Ready with a Lease renewed by this
#     run), first start (certificates generated) and restart (nothing new to generate: the
#     figure the issue asks for);
#   - VmRSS of `edgek server` with its local agent, idle with no pods, then with 20 running
#     pods (busybox:e2e sleeping; the pod shims are separate processes: their private memory
#     is printed next to it);
#   - bytes written during EK_FOOTPRINT_IDLE_S seconds (default 600) with 10 running pods:
#     write_bytes of /proc/PID/io for the server and every shim, and the growth of the data
#     dir, per hour.
# The peer, k3s, cannot be installed on this air-gapped machine (no Debian package, no
# download): its figures are not measured here and none are printed as if they were.
# The last line is
#   footprint: binary_mb=... ready_s=... rss_idle_mb=... rss_20pods_mb=... idle_write_kb_per_h=...
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
idle_s=${EK_FOOTPRINT_IDLE_S:-600}

if [ "${EK_BENCH_IN_NS:-}" != 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "bench-footprint: needs root (namespaces, cgroups, mounts)" >&2
		exit 1
	fi
	make -s release >/dev/null
	export EK_BENCH_IN_NS=1
	exec unshare --net --mount --fork --kill-child -- "$0" "$@"
fi

mount --make-rprivate /
ip link set lo up
mkdir -p build/bench
dir=$(mktemp -d "$root/build/bench/footprint-data.XXXXXX")
cg=edgek-bench-footprint-$$
bin=$root/edgek-release
server_pid=

. "$root/tests/bench/lib.sh"

stop_server() {
	[ -n "$server_pid" ] || return 0
	kill -TERM "$server_pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

cleanup() {
	local rc=$?
	set +e
	if [ $rc -ne 0 ]; then
		{ kc get nodes; kc get pods -o wide | head -5; tail -n 30 "$dir/server.log"; } >&2
	fi
	stop_server
	# The shims outlive the agent by design.
	for f in "$dir"/run/runtime/pods/*/shim.pid; do
		[ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	sleep 0.2
	remove_cgroups "$cg"
	grep -o " $dir[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$dir"
	exit $rc
}
trap cleanup EXIT

kc() { kubectl --kubeconfig "$dir/kubeconfig" "$@"; }
[ -x /usr/lib/google-cloud-sdk/bin/kubectl.1.32 ] &&
	kc() { /usr/lib/google-cloud-sdk/bin/kubectl.1.32 --kubeconfig "$dir/kubeconfig" "$@"; }
tls=$dir/edgek/server/tls

# start_server: starts the release binary; sets ready_in to the seconds until the node is Ready.
start_server() {
	local t0
	t0=$(date +%s%N)
	"$bin" server --data-dir "$dir/edgek" --bind-address 127.0.0.1 --https-listen-port 6443 \
		--write-kubeconfig "$dir/kubeconfig" --runtime-dir "$dir/run" --pod-log-dir "$dir/logs" \
		--cgroup-parent "$cg" --cgroup-nested --log-level warn >>"$dir/server.log" 2>&1 &
	server_pid=$!
	ready_in=$(python3 tests/bench/footprint/ready.py "$tls" "$t0" 60)
}

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
shims() { for f in "$dir"/run/runtime/pods/*/shim.pid; do [ -f "$f" ] && echo "$(cat "$f")"; done; }
shim_private_mb() {
	local p
	for p in $(shims); do awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s }' "/proc/$p/smaps_rollup"; done |
		awk '{ s += $1 } END { printf "%.1f", s / 1024 }'
}
io_written() { # the write_bytes of the server and every shim
	local p s=0 w
	for p in "$server_pid" $(shims); do
		w=$(awk '/^write_bytes:/ { print $2 }' "/proc/$p/io" 2>/dev/null || echo 0)
		s=$((s + ${w:-0}))
	done
	echo $s
}
pods() { # pods N: N busybox pods sleeping, Ready
	local i
	for i in $(seq "$1"); do
		cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: fp-$i, labels: {bench: footprint}}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: "busybox:e2e", imagePullPolicy: Never, command: [sleep, "100000"]}]
EOF
	done | kc apply -f - >/dev/null
	kc wait --for=condition=Ready pod -l bench=footprint --timeout=120s >/dev/null
}

size=$(stat -c %s "$bin")
binary_mb=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }')
echo "bench-footprint: release binary $size bytes ($binary_mb MB; ldd: $(ldd "$bin" | awk '{ print $1 }' | xargs))"

tests/fixtures/mkimage.sh oci "$dir/busybox.tar" docker.io/library/busybox:e2e
mkdir -p "$dir/edgek/agent/images"
cp "$dir/busybox.tar" "$dir/edgek/agent/images/"

start_server
echo "bench-footprint: first start (certificates generated, image imported) to node Ready: ${ready_in} s"
node=$(kc get nodes -o jsonpath='{.items[0].metadata.name}')
stop_server
start_server
ready=$ready_in
echo "bench-footprint: restart to node Ready (a fresh Lease renewal): ${ready} s"

sleep 10
rss_idle=$(rss_mb "$server_pid")
echo "bench-footprint: idle, no pods: edgek server + agent VmRSS ${rss_idle} MiB"

wait_for_sa() { kc get serviceaccount default >/dev/null 2>&1; }
for _ in $(seq 100); do wait_for_sa && break; sleep 0.1; done
pods 20
sleep 10
rss_20=$(rss_mb "$server_pid")
echo "bench-footprint: 20 running pods: edgek server + agent VmRSS ${rss_20} MiB; 20 pod shims private $(shim_private_mb) MiB in all"

kc delete pod fp-11 fp-12 fp-13 fp-14 fp-15 fp-16 fp-17 fp-18 fp-19 fp-20 --wait=true >/dev/null
sleep 5
sync
du0=$(du -sb "$dir/edgek" | awk '{ print $1 }')
io0=$(io_written)
echo "bench-footprint: (write_bytes so far, server and shims: $io0)"
echo "bench-footprint: 10 running pods, idle for ${idle_s} s ..."
sleep "$idle_s"
sync
io1=$(io_written)
du1=$(du -sb "$dir/edgek" | awk '{ print $1 }')
kb_h=$(awk -v b=$((io1 - io0)) -v s="$idle_s" 'BEGIN { printf "%.1f", b / 1024 * 3600 / s }')
du_h=$(awk -v b=$((du1 - du0)) -v s="$idle_s" 'BEGIN { printf "%.1f", b / 1024 * 3600 / s }')
echo "bench-footprint: written while idle: $((io1 - io0)) bytes in ${idle_s} s (write_bytes of server and shims) = ${kb_h} KiB/h; data dir grew $((du1 - du0)) bytes = ${du_h} KiB/h"
echo "bench-footprint: peer k3s: not measured (not installable on this air-gapped machine)"
echo "footprint: binary_mb=$binary_mb ready_s=$ready rss_idle_mb=$rss_idle rss_20pods_mb=$rss_20 idle_write_kb_per_h=$kb_h"
