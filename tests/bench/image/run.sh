#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench-image`: edgek's image store against containerd (Debian's, started here on its
# own socket, root and state directories) in one run, inside private mount and network
# namespaces:
#   - import of a ~100 MB multi-layer OCI archive (gzip layers): `edgek image import` vs
#     `ctr image import` (which unpacks too), each into a fresh store, median of RUNS (5);
#   - pull of the same image from Debian's docker-registry on 127.0.0.1 (plain HTTP for
#     both): `edgek image pull` vs `ctr image pull` (unpacks too);
#   - disk used by two images that share their base layer.
# Ratios are edgek's time / containerd's (below 1: edgek is faster). The last line is
#   image: import_ratio_vs_containerd=… pull_ratio_vs_containerd=…
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
RUNS=${RUNS:-5}

if [ "${BENCH_IN_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench-image: needs root (namespaces, containerd)" >&2; exit 1; }
	for c in containerd ctr docker-registry skopeo; do
		command -v $c >/dev/null || { echo "bench-image: $c is not installed (make deps)" >&2; exit 1; }
	done
	export BENCH_IN_NS=1
	exec unshare --mount --net --fork --kill-child -- "$0" "$@"
fi
mount --make-rprivate /
ip link set lo up
mkdir -p "$root/build/bench"
W=$(mktemp -d "$root/build/bench/image.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	{ grep -o " $W[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
	rm -rf "$W"
}
trap cleanup EXIT
EDGEK=$root/edgek
MK=$root/tests/fixtures/mkimage.sh

ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "building a ~100 MB image (busybox, 3000 small files, 2 x 40 MiB of random data)..."
LAYERS=base,small:3000,big:40,big:40 KEEP="$W/layout" "$MK" oci "$W/img.tar" bench.local/big:1
LAYERS=base,tag:other "$MK" oci "$W/other.tar" bench.local/other:1
size=$(stat -c %s "$W/img.tar")
printf 'archive: %.1f MB, 4 gzip layers\n' "$(echo "$size/1000000" | bc -l)"

# ---- containerd on its own socket ----
CD=$W/containerd
start_containerd() {
	rm -rf "$CD"
	mkdir -p "$CD"
	cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CD/containerd.sock"
[ttrpc]
  address = "$CD/containerd.sock.ttrpc"
EOF
	containerd --config "$CD/config.toml" >"$W/containerd.log" 2>&1 &
	CD_PID=$!
	PIDS+=("$CD_PID")
	for _ in $(seq 100); do
		ctr -a "$CD/containerd.sock" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "containerd did not start:" >&2
	tail -20 "$W/containerd.log" >&2
	exit 1
}
stop_containerd() {
	kill "$CD_PID"
	wait "$CD_PID" 2>/dev/null || true
	{ grep -o " $CD[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
}
CTR() { ctr -a "$CD/containerd.sock" -n bench "$@"; }

# ---- import ----
imp_e=() imp_c=()
for r in $(seq "$RUNS"); do
	rm -rf "$W/edgek"
	t0=$(ms)
	"$EDGEK" image import --data-dir "$W/edgek" "$W/img.tar" >/dev/null
	imp_e+=($(($(ms) - t0)))
	start_containerd
	t0=$(ms)
	CTR image import "$W/img.tar" >/dev/null
	imp_c+=($(($(ms) - t0)))
	stop_containerd
done
ie=$(printf '%s\n' "${imp_e[@]}" | median)
ic=$(printf '%s\n' "${imp_c[@]}" | median)
echo "import: edgek ${ie} ms (runs: ${imp_e[*]}), containerd ${ic} ms (runs: ${imp_c[*]})"

# ---- disk: two images sharing the base layer ----
rm -rf "$W/edgek"
"$EDGEK" image import --data-dir "$W/edgek" "$W/img.tar" "$W/other.tar" >/dev/null
de=$(du -sk "$W/edgek/agent/images" | cut -f1)
start_containerd
CTR image import "$W/img.tar" >/dev/null
CTR image import "$W/other.tar" >/dev/null
dc=$(du -sk "$CD/root" | cut -f1)
stop_containerd
echo "disk for two images sharing a base layer: edgek $((de / 1024)) MiB, containerd $((dc / 1024)) MiB"

# ---- pull from a local registry ----
cat >"$W/registry.yml" <<EOF
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $W/reg } }
http: { addr: 127.0.0.1:5000 }
EOF
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:5000/v2/ && break; sleep 0.1; done
skopeo copy -q --dest-tls-verify=false "oci:$W/layout" docker://127.0.0.1:5000/bench/big:1
printf 'mirrors:\n  "127.0.0.1:5000":\n    endpoint: ["http://127.0.0.1:5000"]\n' >"$W/registries.yaml"

pull_e=() pull_c=()
for r in $(seq "$RUNS"); do
	rm -rf "$W/edgek"
	t0=$(ms)
	"$EDGEK" image pull --data-dir "$W/edgek" --private-registry "$W/registries.yaml" \
		127.0.0.1:5000/bench/big:1 >/dev/null
	pull_e+=($(($(ms) - t0)))
	start_containerd
	t0=$(ms)
	CTR image pull --plain-http 127.0.0.1:5000/bench/big:1 >/dev/null
	pull_c+=($(($(ms) - t0)))
	stop_containerd
done
pe=$(printf '%s\n' "${pull_e[@]}" | median)
pc=$(printf '%s\n' "${pull_c[@]}" | median)
echo "pull: edgek ${pe} ms (runs: ${pull_e[*]}), containerd ${pc} ms (runs: ${pull_c[*]})"

ri=$(echo "$ie / $ic" | bc -l)
rp=$(echo "$pe / $pc" | bc -l)
printf 'disk_two_images: edgek_mib=%d containerd_mib=%d\n' $((de / 1024)) $((dc / 1024))
printf 'image: import_ratio_vs_containerd=%.2f pull_ratio_vs_containerd=%.2f\n' "$ri" "$rp"
