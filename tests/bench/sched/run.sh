#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench-sched`: the scheduler at scale, in a private network namespace, against
# `edgek server --simulate-nodes 1000` (simulated kubelets mark bound pods Running and Ready).
#   1. end to end: workloads (Deployments when a Deployment controller answers, else
#      ReplicaSets) totalling 10,000 pods; pods bound per second as a watch sees the bindings;
#      then a 100-replica workload: creation to all 100 Ready; the server's RSS.
#   2. scheduling alone: the same 10,000 pods created while the server runs without its
#      scheduler, then the server restarted with it; the scheduler's own figures for draining
#      its queue (its "queue drained" log line) and the watch's.
#   3. scheduling cycles alone: the scheduler's cache and algorithm driven in the bench process
#      (no API, no loop), the same pods onto as many nodes; bound per CPU second.
# Besides wall time, the server's CPU seconds per phase are printed: on a shared machine, pods
# per CPU second is the figure that does not depend on what else runs.
# No kube-scheduler is available offline to measure as a peer: the goals are printed instead.
# The last line is
#   sched: pods_bound_per_s=... deploy100_ready_s=... rss_mb=...
# EK_BENCH_NODES and EK_BENCH_PODS change the scale (defaults 1000 and 10000).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
if [ "${EK_BENCH_IN_NS:-}" != 1 ]; then
	cd "$root"
	make -s build/bench/sched
	[ "$(id -u)" = 0 ] || { echo "bench-sched: needs root for its network namespace" >&2; exit 1; }
	export EK_BENCH_IN_NS=1
	exec unshare --net --fork --kill-child -- "$0" "$@"
fi
cd "$root"
ip link set lo up
NODES=${EK_BENCH_NODES:-1000}
PODS=${EK_BENCH_PODS:-10000}
KUBECTL=${KUBECTL:-/usr/lib/google-cloud-sdk/bin/kubectl.1.32}
command -v "$KUBECTL" >/dev/null || KUBECTL=kubectl
mkdir -p build/bench
dir=$(mktemp -d "$root/build/bench/sched-data.XXXXXX")
server_pid=
cleanup() {
	[ -z "$server_pid" ] || kill -KILL "$server_pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

# start_server NAME [FLAGS...]: a server on data dir $dir/NAME, ready with all nodes registered.
start_server() {
	local name=$1
	shift
	./edgek server --disable-agent --data-dir "$dir/$name" --bind-address 127.0.0.1 \
		--write-kubeconfig "$dir/$name.yaml" --simulate-nodes "$NODES" "$@" \
		>>"$dir/$name.log" 2>&1 &
	server_pid=$!
	local k=("$KUBECTL" --kubeconfig "$dir/$name.yaml")
	for _ in $(seq 600); do
		[ -f "$dir/$name.yaml" ] && "${k[@]}" get --raw /readyz >/dev/null 2>&1 && break
		sleep 0.1
	done
	for _ in $(seq 600); do
		[ "$("${k[@]}" get nodes --no-headers 2>/dev/null | wc -l)" -ge "$NODES" ] && return 0
		sleep 0.2
	done
	echo "bench-sched: server $name did not come up" >&2
	tail -20 "$dir/$name.log" >&2
	exit 1
}

stop_server() {
	kill -TERM "$server_pid"
	wait "$server_pid" || true
	server_pid=
}

bench() {
	build/bench/sched "$1" https://127.0.0.1:6443 "$dir/$2/server/tls" "$server_pid" "$PODS"
}

val() { sed -n "s/^$1=//p" "$2" | tail -1; }

echo "bench-sched: $NODES simulated nodes, $PODS pods ($(nproc) cores)" >&2
start_server e2e
bench e2e e2e >"$dir/e2e.out"
stop_server

start_server drain --disable-scheduler
bench create drain >"$dir/create.out"
stop_server
start_server drain
# The restarted server also runs the Endpoints and EndpointSlice controllers over ten Services of
# PODS/10 pods each; on a loaded machine that can outlast bench_sched's 10 minutes. The end to
# end figures above still stand, so a failed drain is reported, not fatal.
bench drain drain >"$dir/drain.out" || echo "bench-sched: the scheduling-alone phase failed (see above)" >&2
stop_server
build/bench/sched cycles - - "$NODES" "$PODS" >"$dir/cycles.out"
drained=$(grep "scheduler queue drained" "$dir/drain.log" | tail -1 || true)

kind=$(val workload_kind "$dir/e2e.out")
e2e_rate=$(val e2e_bound_per_s "$dir/e2e.out")
e2e_first=$(val e2e_first_bound_s "$dir/e2e.out")
e2e_last=$(val e2e_last_bound_s "$dir/e2e.out")
d100=$(val deploy100_ready_s "$dir/e2e.out")
rss_kb=$(val "rss_kb_$PODS" "$dir/e2e.out")
rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.0f", k / 1024 }')
rss2_mb=$(awk -v k="$(val rss_kb "$dir/drain.out")" 'BEGIN { if (k == "") print "?"; else printf "%.0f", k / 1024 }')
own_rate=$(sed -n 's/.*per_s=\([0-9]*\).*/\1/p' <<<"$drained")
own_ms=$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$drained")
drain_rate=$(val drain_bound_per_s "$dir/drain.out")
drain_rate=${drain_rate:-?}
e2e_cpu=$(val e2e_server_cpu_s "$dir/e2e.out")
e2e_per_cpu=$(awk -v n="$PODS" -v c="$e2e_cpu" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print "?" }')
cyc_rate=$(val cycles_per_cpu_s "$dir/cycles.out")

printf '\n%-58s %12s %12s\n' "measurement ($NODES nodes, $PODS pods from ${kind}s)" edgek goal
printf '%-58s %12s %12s\n' "pods bound/s, end to end (workload creation -> bindings)" "$e2e_rate" ">= 1000"
printf '%-58s %12s %12s\n' "  first / last binding after creating the workloads (s)" "$e2e_first / $e2e_last" ""
printf '%-58s %12s %12s\n' "  server CPU s while binding them; pods per server CPU s" "$e2e_cpu; $e2e_per_cpu" ""
printf '%-58s %12s %12s\n' "pods bound/s, scheduling alone (scheduler's own count)" "${own_rate:-?}" ">= 1000"
printf '%-58s %12s %12s\n' "  queue of $PODS drained in (ms)" "${own_ms:-?}" ""
printf '%-58s %12s %12s\n' "  the same seen by a watch (bound/s)" "$drain_rate" ""
printf '%-58s %12s %12s\n' "scheduling cycles alone, no API (pods per CPU s)" "$cyc_rate" ""
printf '%-58s %12s %12s\n' "100-replica $kind: creation -> 100 Ready (s)" "$d100" "<= 2"
printf '%-58s %12s %12s\n' "server RSS with $PODS pods (MB)" "$rss_mb" ""
printf '%-58s %12s %12s\n' "server RSS after the restart, $PODS pods bound (MB)" "$rss2_mb" ""
echo "peer: kube-scheduler is not available offline, so no peer ran; goals are shown instead."
echo "sched: pods_bound_per_s=$e2e_rate deploy100_ready_s=$d100 rss_mb=$rss_mb"
