#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench-proxy`: the service proxy with 5,000 Services x 3 endpoints (simulated: the
# endpoints need not exist for the control-plane figures), in a network namespace of its own
# (as root; nothing touches the host's ruleset). build/bench/proxy measures, in one run:
#   full sync time (first start and full resyncs), one endpoint change (informer event to
#   acknowledged transaction), the proxy's memory and the kernel's for the ruleset, and the
#   peer: Debian's `nft -f` applying the same transactions written as nft scripts.
# Last line:
#   proxy: full_sync_ms=... one_change_ms=... nft_cli_full_ms=... nft_cli_change_ms=... ...
# EK_BENCH_SERVICES (default 5000), EK_BENCH_ROUNDS (full syncs, default 5) and
# EK_BENCH_CHANGES (default 20) change the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "bench-proxy: needs root (network namespaces)" >&2
	exit 77
fi
command -v nft >/dev/null || { echo "bench-proxy: nft (nftables) is not installed" >&2; exit 77; }
make -C "$root" -s build/bench/proxy
dir=$(mktemp -d "$root/build/bench/proxy-data.XXXXXX")
trap 'rm -rf "$dir"' EXIT
EK_BENCH_DIR=$dir "$root/build/bench/proxy" "${EK_BENCH_SERVICES:-5000}" 3 \
	"${EK_BENCH_ROUNDS:-5}" "${EK_BENCH_CHANGES:-20}"
