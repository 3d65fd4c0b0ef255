#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench-kv`: builds build/bench/kv (tests/bench/kv/bench_kv.c) and runs it on a scratch
# directory on the same disk as the build tree, then removes it. The last line is
#   kv: creates_per_s=... group_commit_ratio=... watch_p99_ms=... lease_write_ratio=...
# EK_BENCH_SECONDS sets the length of each creates run (default 1.5).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
make -s build/bench/kv
mkdir -p build/bench
dir=$(mktemp -d "$root/build/bench/kv-data.XXXXXX")
trap 'rm -rf "$dir"' EXIT
build/bench/kv "$dir"
