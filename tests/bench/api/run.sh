#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench-api`: builds build/bench/api (tests/bench/api/bench_api.c), then inside a private
# network namespace (loopback only) starts `edgek server --disable-agent` with a fresh data dir
# and, as the peer, etcd from Debian (installed here if missing; without it edgek runs alone)
# serving TLS with the same certificate, runs the load generator against both, and removes
# everything at exit. The last line is
#   api: creates_per_s=... get_p99_ms=... fanout_p99_ms=... rss_idle_mb=...
# EK_BENCH_IDLE_CONNS=N measures instead what N idle keep-alive TLS connections cost edgek.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"

if [ "${EK_BENCH_IN_NS:-}" != 1 ]; then
	make -s build/bench/api
	if ! command -v etcd >/dev/null && [ "$(id -u)" = 0 ]; then
		echo "bench-api: installing Debian's etcd-server for the peer measurement" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			etcd-server >/dev/null 2>&1 || echo "bench-api: etcd-server could not be installed" >&2
	fi
	export EK_BENCH_IN_NS=1
	exec unshare --net --fork --kill-child -- "$0" "$@"
fi

ip link set lo up
mkdir -p build/bench
# On the build tree's disk, as bench-kv: both stores fsync to the same device.
dir=$(mktemp -d "$root/build/bench/api-data.XXXXXX")
pids=()
cleanup() {
	local rc=$?
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [ $rc -ne 0 ]; then
		for f in "$dir"/*.log; do
			[ -f "$f" ] && { echo "---- $(basename "$f")" >&2; tail -n 30 "$f" >&2; }
		done
	fi
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

./edgek server --disable-agent --data-dir "$dir/edgek" --bind-address 127.0.0.1 \
	--https-listen-port 6443 --write-kubeconfig "$dir/kubeconfig" >"$dir/edgek.log" 2>&1 &
pids+=($!)
edgek_pid=$!
tls="$dir/edgek/server/tls"
wait_for 30 curl -sf --cacert "$tls/server-ca.crt" --cert "$tls/client-admin.crt" \
	--key "$tls/client-admin.key" https://127.0.0.1:6443/readyz ||
	{ echo "bench-api: edgek did not become ready" >&2; exit 1; }

etcd_args=()
if command -v etcd >/dev/null; then
	# TLS with edgek's serving certificate; no client certificates, because etcd's own JSON
	# gateway dials it with the serving certificate, which is not a client certificate.
	etcd --name bench --data-dir "$dir/etcd" --listen-peer-urls http://127.0.0.1:2380 \
		--initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster bench=http://127.0.0.1:2380 \
		--listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
		--cert-file "$tls/serving.crt" --key-file "$tls/serving.key" \
		--log-level warn >"$dir/etcd.log" 2>&1 &
	pids+=($!)
	etcd_pid=$!
	wait_for 30 curl -sf --cacert "$tls/server-ca.crt" https://127.0.0.1:2379/health ||
		{ echo "bench-api: etcd did not become ready" >&2; exit 1; }
	etcd_version=$(etcd --version | awk '/^etcd Version/ { print $3 }')
	etcd_args=(--etcd https://127.0.0.1:2379 "$etcd_pid" "$etcd_version")
fi

build/bench/api --edgek https://127.0.0.1:6443 "$edgek_pid" --tls "$tls" --work "$dir" \
	"${etcd_args[@]}"
