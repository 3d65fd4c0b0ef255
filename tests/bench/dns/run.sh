#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench-dns`: the cluster DNS server against dnsmasq serving the same records, measured
# with dnsperf in one run, inside a private network namespace (loopback only).
#
#   cluster   A queries for 500 service names (edgek: from its index, fed the Services as
#             objects; dnsmasq: the same names from an addn-hosts file)
#   forwarded A queries for 200 outside names, both servers forwarding to one upstream dnsmasq
#             and answering from their caches (warmed first)
#
# Throughput: dnsperf with 8 clients keeping up to 200 queries in flight, EK_BENCH_SECONDS
# (default 3) per measurement, the servers measured alternately over EK_BENCH_ROUNDS rounds
# (default 5; medians kept) because the machine is shared. Latency: p99 of per-query times
# (dnsperf -v, 3 s runs, alternating, median of the rounds) at one fixed load for both servers,
# a quarter of the lower of their throughputs, so neither server (nor dnsperf printing every
# answer) is saturated; on a shared machine the tail is mostly scheduling noise, for both.
# CPU: the server's user+system time per query during the throughput runs, which the machine's
# other load disturbs far less than qps. The last line is
#   dns: qps=... p99_ms=... dnsmasq_qps=... dnsmasq_p99_ms=... fwd_qps=... fwd_p99_ms=...
#        dnsmasq_fwd_qps=... dnsmasq_fwd_p99_ms=... ratio=... fwd_ratio=... cpu_us_per_q=...
#        dnsmasq_cpu_us_per_q=...
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
SECS=${EK_BENCH_SECONDS:-3}
ROUNDS=${EK_BENCH_ROUNDS:-5}

if [ "${EK_BENCH_IN_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench-dns: needs root for a private network namespace" >&2; exit 77; }
	for t in dnsperf dnsmasq dig; do
		command -v "$t" >/dev/null || { echo "bench-dns: $t is not installed (make deps)" >&2; exit 77; }
	done
	export EK_BENCH_IN_NS=1
	exec unshare --net --fork --kill-child -- "$0" "$@"
fi
ip link set lo up
dir=$(mktemp -d /tmp/ek-bench-dns-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

# ---- the same records for both servers ----
NSVC=500
NEXT=200
{
	for n in 0 1 2 3 4; do printf -- '---\nkind: Namespace\nmetadata: {name: ns%d}\n' "$n"; done
	for i in $(seq 0 $((NSVC - 1))); do
		printf -- '---\nkind: Service\nmetadata: {name: svc%d, namespace: ns%d}\n' "$i" $((i % 5))
		printf 'spec: {clusterIP: 10.43.%d.%d, ports: [{name: http, port: 80}]}\n' \
			$((i / 250)) $((i % 250 + 1))
	done
} >"$dir/records.yaml"
for i in $(seq 0 $((NSVC - 1))); do
	printf '10.43.%d.%d svc%d.ns%d.svc.cluster.local\n' $((i / 250)) $((i % 250 + 1)) "$i" $((i % 5))
done >"$dir/cluster.hosts"
awk '{print $2 " A"}' "$dir/cluster.hosts" >"$dir/q-cluster"
for i in $(seq 0 $((NEXT - 1))); do
	echo "--host-record=host$i.example,192.0.2.$((i % 250 + 1))"
done >"$dir/upstream.args"
for i in $(seq 0 $((NEXT - 1))); do echo "host$i.example A"; done >"$dir/q-fwd"

# ---- servers: upstream (5300), edgek (5301), dnsmasq peer (5302) ----
start_bg() {
	local log=$1
	shift
	"$@" >"$dir/$log.log" 2>&1 &
	pids+=($!)
}
mapfile -t upargs <"$dir/upstream.args"
start_bg upstream dnsmasq --keep-in-foreground --no-resolv --no-hosts --user=root --pid-file= \
	--listen-address=127.0.0.1 --port=5300 --bind-interfaces --local=/example/ \
	--local-ttl=3600 --cache-size=0 "${upargs[@]}"
start_bg edgek "$root/edgek" dns-test --records "$dir/records.yaml" --listen 127.0.0.1:5301 \
	--upstream 127.0.0.1:5300 --cache-max-ttl 3600 --log-level warn
start_bg dnsmasq dnsmasq --keep-in-foreground --no-resolv --no-hosts --user=root --pid-file= \
	--listen-address=127.0.0.1 --port=5302 --bind-interfaces --addn-hosts="$dir/cluster.hosts" \
	--local=/cluster.local/ --server=127.0.0.1#5300 --cache-size=10000
EDGEK_PID=${pids[1]}
DNSMASQ_PID=${pids[2]}
for port in 5300 5301 5302; do
	for _ in $(seq 100); do
		dig +time=1 +tries=1 -p $port @127.0.0.1 host0.example >/dev/null 2>&1 && break
		sleep 0.05
	done
done
# Both caches warm, and both servers really answer what is measured.
for port in 5301 5302; do
	dnsperf -s 127.0.0.1 -p $port -d "$dir/q-fwd" -n 1 >/dev/null
	a=$(dig +short -p $port @127.0.0.1 svc7.ns2.svc.cluster.local)
	b=$(dig +short -p $port @127.0.0.1 host7.example)
	[ "$a" = 10.43.0.8 ] && [ "$b" = 192.0.2.8 ] || { echo "bench-dns: port $port answers wrong: [$a] [$b]" >&2; exit 1; }
done

# CPU time (user + system, in clock ticks) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# qps PORT QUERYFILE PID: max throughput; appends the server's CPU microseconds per query to
# $dir/cpu.PORT.QUERYFILE (a figure the shared machine's noise hardly moves).
qps() {
	local t0 t1 out n
	t0=$(ticks "$3")
	out=$(dnsperf -s 127.0.0.1 -p "$1" -d "$2" -l "$SECS" -c 8 -q 200 2>&1)
	t1=$(ticks "$3")
	n=$(echo "$out" | awk '/Queries completed/ {print $3}')
	awk -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
		'BEGIN {printf " %.2f", t * 1e6 / hz / n}' >>"$dir/cpu.$1.$(basename "$2")"
	echo "$out" | awk '/Queries per second/ {printf "%d", $4}'
}
# p99 PORT QUERYFILE RATE: 99th percentile latency in ms at a fixed query rate
p99() {
	dnsperf -s 127.0.0.1 -p "$1" -d "$2" -l 3 -Q "$3" -c 8 -v 2>/dev/null |
		awk '/^> / {print $NF}' | sort -n |
		awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f", v[i]*1000}'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

declare -A Q
for scen in cluster fwd; do
	for srv in edgek dnsmasq; do Q[$scen.$srv]=""; done
	for r in $(seq "$ROUNDS"); do
		Q[$scen.edgek]+=" $(qps 5301 "$dir/q-$scen" "$EDGEK_PID")"
		Q[$scen.dnsmasq]+=" $(qps 5302 "$dir/q-$scen" "$DNSMASQ_PID")"
	done
done
declare -A M P C PR
for k in "${!Q[@]}"; do M[$k]=$(echo "${Q[$k]}" | median); done
for scen in cluster fwd; do
	low=${M[$scen.edgek]}
	[ "${M[$scen.dnsmasq]}" -lt "$low" ] && low=${M[$scen.dnsmasq]}
	rate=$((low / 4))
	P[$scen.rate]=$rate
	p_e="" p_d=""
	for r in $(seq "$ROUNDS"); do
		p_e+=" $(p99 5301 "$dir/q-$scen" "$rate")"
		p_d+=" $(p99 5302 "$dir/q-$scen" "$rate")"
	done
	P[$scen.edgek]=$(echo "$p_e" | median)
	P[$scen.dnsmasq]=$(echo "$p_d" | median)
	PR[$scen.edgek]=${p_e# }
	PR[$scen.dnsmasq]=${p_d# }
done

declare -A port=([edgek]=5301 [dnsmasq]=5302)
printf '\n%-9s %-8s %8s %-42s %8s %-32s %7s %-38s %7s\n' scenario server qps "(rounds)" \
	cpu_us/q "(rounds)" p99_ms "(rounds)" at_qps
for scen in cluster fwd; do
	for srv in edgek dnsmasq; do
		cpu=$(cat "$dir/cpu.${port[$srv]}.q-$scen")
		C[$scen.$srv]=$(echo "$cpu" | median)
		printf '%-9s %-8s %8s %-42s %8s %-32s %7s %-38s %7s\n' "$scen" "$srv" \
			"${M[$scen.$srv]}" "(${Q[$scen.$srv]# })" "${C[$scen.$srv]}" "(${cpu# })" \
			"${P[$scen.$srv]}" "(${PR[$scen.$srv]})" "${P[$scen.rate]}"
	done
done
ratio=$(awk -v a="${M[cluster.edgek]}" -v b="${M[cluster.dnsmasq]}" 'BEGIN {printf "%.2f", a / b}')
fratio=$(awk -v a="${M[fwd.edgek]}" -v b="${M[fwd.dnsmasq]}" 'BEGIN {printf "%.2f", a / b}')
echo
echo "dns: qps=${M[cluster.edgek]} p99_ms=${P[cluster.edgek]} dnsmasq_qps=${M[cluster.dnsmasq]}" \
	"dnsmasq_p99_ms=${P[cluster.dnsmasq]} fwd_qps=${M[fwd.edgek]} fwd_p99_ms=${P[fwd.edgek]}" \
	"dnsmasq_fwd_qps=${M[fwd.dnsmasq]} dnsmasq_fwd_p99_ms=${P[fwd.dnsmasq]} ratio=$ratio" \
	"fwd_ratio=$fratio cpu_us_per_q=${C[cluster.edgek]} dnsmasq_cpu_us_per_q=${C[cluster.dnsmasq]}"
