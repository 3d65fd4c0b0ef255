#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench-pod`: pods as real containers, end to end. Inside a private network and mount
# namespace (loopback only) starts `edgek server` with its local agent on a fresh data dir on the
# build tree's disk, with busybox:e2e (tests/fixtures/mkimage.sh) imported beforehand, then:
#   - 50 pods one after another, each timed from its create request to the watch event that
#     shows it Ready (tests/bench/pod/pods.py): p50 and p99;
#   - 100 pods created at once (8 clients): seconds until the last one is Ready;
#   - the private memory of each pod shim then (Private_* of /proc/PID/smaps_rollup): median;
#   - the peer: Debian's containerd + runc on their own socket and directories, `ctr run --rm`
#     of the same image running `true` (the median of 10), with its cgroups under a parent
#     named after this script; skipped with the reason when containerd cannot run here.
# Cgroups of the pods go below a parent named after this script, nested in the caller's own;
# everything is removed at exit. The last line is
#   pod: start_p50_ms=... start_p99_ms=... burst100_s=... ctr_run_ms=... shim_kb=...
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"

if [ "${EK_BENCH_IN_NS:-}" != 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "bench-pod: needs root (namespaces, cgroups, mounts)" >&2
		exit 1
	fi
	make -s edgek
	if ! command -v ctr >/dev/null || ! command -v runc >/dev/null; then
		scripts/deps.sh >/dev/null 2>&1 || echo "bench-pod: containerd could not be installed" >&2
	fi
	export EK_BENCH_IN_NS=1
	exec unshare --net --mount --fork --kill-child -- "$0" "$@"
fi

mount --make-rprivate /
# containerd's shim and runc keep state in /run/containerd whatever the config says: a private
# /run keeps it off the host.
mount -t tmpfs -o mode=755 tmpfs /run
ip link set lo up
mkdir -p build/bench
dir=$(mktemp -d "$root/build/bench/pod-data.XXXXXX")
cg=edgek-bench-pod-$$
ctr_cg=edgek-bench-ctr-$$
pids=()

. "$root/tests/bench/lib.sh"

cleanup() {
	local rc=$?
	set +e
	if [ $rc -ne 0 ]; then
		{ kc get pods -o wide | head -5; kc get events | tail -8; } >&2
	fi
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${pids[@]}"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	done
	# The shims outlive the agent by design.
	for f in "$dir"/run/runtime/pods/*/shim.pid; do
		[ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	sleep 0.2
	remove_cgroups "$cg"
	remove_cgroups "$ctr_cg"
	if [ $rc -ne 0 ]; then
		for f in "$dir"/*.log; do
			[ -f "$f" ] && { echo "---- $(basename "$f")" >&2; tail -n 30 "$f" >&2; }
		done
	fi
	grep -o " $dir[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$dir"
	exit $rc
}
trap cleanup EXIT

wait_for() { # SECONDS CMD...
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
}

tests/fixtures/mkimage.sh oci "$dir/busybox.tar" docker.io/library/busybox:e2e
./edgek image import --data-dir "$dir/edgek" "$dir/busybox.tar" >/dev/null
./edgek server --data-dir "$dir/edgek" --bind-address 127.0.0.1 --https-listen-port 6443 \
	--write-kubeconfig "$dir/kubeconfig" --runtime-dir "$dir/run" --pod-log-dir "$dir/logs" \
	--cgroup-parent "$cg" --cgroup-nested --log-level warn >"$dir/edgek.log" 2>&1 &
pids+=($!)
tls="$dir/edgek/server/tls"
kc() { kubectl --kubeconfig "$dir/kubeconfig" "$@"; }
[ -x /usr/lib/google-cloud-sdk/bin/kubectl.1.32 ] &&
	kc() { /usr/lib/google-cloud-sdk/bin/kubectl.1.32 --kubeconfig "$dir/kubeconfig" "$@"; }
node_ready() { kc get nodes | grep -q ' Ready '; }
wait_for 30 node_ready || { echo "bench-pod: the local node never became Ready" >&2; exit 1; }
# The default ServiceAccount must exist before pods can be created in `default`.
wait_for 30 kc get serviceaccount default || { echo "bench-pod: no default ServiceAccount" >&2; exit 1; }

EK_BENCH_NODE=$(kc get nodes -o jsonpath='{.items[0].metadata.name}')
export EK_BENCH_NODE
read -r p50 p99 < <(python3 tests/bench/pod/pods.py "$tls" seq 50)
echo "bench-pod: 50 pods one after another, create to Ready: p50 ${p50} ms, p99 ${p99} ms"
python3 tests/bench/pod/pods.py "$tls" clean
burst=$(python3 tests/bench/pod/pods.py "$tls" burst 100)
echo "bench-pod: 100 pods created at once, all Ready after ${burst} s"

# Private memory of each shim (Private_Clean + Private_Dirty, kB): the median.
shim_kb=$(for f in "$dir"/run/runtime/pods/*/shim.pid; do
	awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s }' "/proc/$(cat "$f")/smaps_rollup"
done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "bench-pod: pod shim private memory: median ${shim_kb} kB over $(ls "$dir"/run/runtime/pods | wc -l) shims"
python3 tests/bench/pod/pods.py "$tls" clean

# The peer: containerd + runc, `ctr run --rm` of the same image (the median of 10 runs after a
# first one that unpacks the image). Prints the figure or, failing, the reason.
ctr_peer() {
	local c=$1 err i t0 t1 times=()
	err=$(ctr --address "$c/sock" images import "$dir/busybox.tar" 2>&1) ||
		{ echo "ctr images import: $err"; return 1; }
	for i in $(seq 11); do
		t0=$(date +%s%N)
		err=$(ctr --address "$c/sock" run --rm --cgroup "/$ctr_cg/c$i" \
			docker.io/library/busybox:e2e "c$i" true 2>&1) || { echo "ctr run: $err"; return 1; }
		t1=$(date +%s%N)
		[ "$i" = 1 ] || times+=($(((t1 - t0) / 1000000)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
ctr_ms=skip
if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null || ! command -v runc >/dev/null; then
	echo "bench-pod: SKIP containerd peer: containerd, ctr or runc is not installed"
else
	c=$dir/containerd
	mkdir -p "$c"
	cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$c/sock"
[ttrpc]
  address = "$c/sock.ttrpc"
EOF
	containerd --config "$c/config.toml" >"$dir/containerd.log" 2>&1 &
	pids+=($!)
	if ! wait_for 20 ctr --address "$c/sock" version; then
		echo "bench-pod: SKIP containerd peer: containerd did not start: $(tail -n 3 "$dir/containerd.log")"
	elif out=$(ctr_peer "$c"); then
		ctr_ms=$out
		echo "bench-pod: containerd + runc, ctr run --rm (true): median ${ctr_ms} ms of 10"
	else
		echo "bench-pod: SKIP containerd peer: $out"
	fi
fi
echo "pod: start_p50_ms=$p50 start_p99_ms=$p99 burst100_s=$burst ctr_run_ms=$ctr_ms shim_kb=$shim_kb"
