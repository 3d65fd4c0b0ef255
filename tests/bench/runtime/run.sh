#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench-runtime`: builds build/bench/runtime (tests/bench/runtime/bench_runtime.c) and runs
# it against the dev build's shim (./edgek shim) on a scratch directory on the build tree's
# disk, then removes it. Needs root: it creates its own PID, mount and network namespaces and
# a cgroup parent named after itself, all removed at exit. The last line is
#   runtime: start_p50_ms=... start_p99_ms=... run_p50_ms=... runc_run_p50_ms=... ratio=...
#            shim_private_dirty_kb=...
# EK_BENCH_RUNS sets the number of containers per measurement (default 50).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
make -s edgek build/bench/runtime
mkdir -p build/bench
dir=$(mktemp -d "$root/build/bench/runtime-data.XXXXXX")
trap 'rm -rf "$dir"' EXIT
build/bench/runtime "$dir" "$root/edgek"
