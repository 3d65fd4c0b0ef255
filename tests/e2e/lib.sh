#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Shared helpers for e2e tests. A test sources this file and calls e2e_init first: the test
# then re-runs itself inside private network and mount namespaces (so servers bind to their
# own loopback and nothing touches the host's interfaces), with a fresh work directory that
# is removed at exit, together with every process the test started.
#
#   e2e_init                     enter namespaces, create $E2E_DIR
#   e2e_start_server [FLAGS]     start `edgek server` with a fresh data dir; waits for /readyz
#   e2e_stop_server              SIGTERM, then SIGKILL after 10 s
#   k ARGS                       kubectl (1.32 by default; KUBECTL=kubectl.1.27 for the old one)
#   e2e_fail MSG                 dump logs and fail;  e2e_skip REASON  skip (exit 77)
#   expect_eq A B MSG / expect_contains HAY NEEDLE MSG / expect_fail CMD...
#   wait_for TIMEOUT_S CMD...    retry CMD until it succeeds or the timeout passes
#   e2e_node_init                node flags ($E2E_NODE_FLAGS: runtime state, logs, cgroups in the
#                                test's own places) and a busybox image archive ($E2E_IMAGE)
set -euo pipefail

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EDGEK=${EDGEK:-$E2E_ROOT/edgek}
KUBECTL_DIR=${KUBECTL_DIR:-/usr/lib/google-cloud-sdk/bin}
KUBECTL=${KUBECTL:-kubectl.1.32}
E2E_NAME=$(basename "$0" .sh)
E2E_PIDS=()

e2e_init() {
	if [ "${E2E_IN_NS:-}" != 1 ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "SKIP: e2e tests need root to create their own namespaces" >&2
			exit 77
		fi
		export E2E_IN_NS=1
		exec unshare --net --mount --fork --kill-child -- "$0" "$@"
	fi
	mount --make-rprivate / 2>/dev/null || true
	ip link set lo up
	E2E_DIR=$(mktemp -d "/tmp/ek-e2e-$E2E_NAME-XXXXXX")
	export E2E_DIR
	# kubectl's discovery cache is keyed by host:port, which every test's server shares
	# (127.0.0.1:6443 in its own namespace): a test's own cache keeps another's CRDs out.
	export KUBECACHEDIR=$E2E_DIR/kube-cache
	trap e2e_cleanup EXIT
	# A command failing under `set -e` names itself instead of ending the test silently.
	set -o errtrace
	trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: \`$BASH_COMMAND\` exited with $?" >&2' ERR
	if ! command -v "$KUBECTL_DIR/$KUBECTL" >/dev/null 2>&1 && ! command -v "$KUBECTL" >/dev/null; then
		e2e_skip "kubectl ($KUBECTL) is not installed"
	fi
}

e2e_cleanup() {
	local rc=$?
	set +e
	for pid in "${E2E_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${E2E_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		e2e_dump_logs
	fi
	# Pod shims outlive their agent by design: a test that ran pods ends them here.
	[ -n "${E2E_CGROUP:-}" ] && e2e_node_cleanup
	# Unmount anything the test mounted under its work dir before removing it.
	if [ -n "${E2E_DIR:-}" ] && [ -d "$E2E_DIR" ]; then
		{ grep -o " $E2E_DIR[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
		rm -rf "$E2E_DIR" || true
	fi
	exit $rc
}

e2e_dump_logs() {
	for f in "$E2E_DIR"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $(basename "$f") (last 60 lines)" >&2
		tail -n 60 "$f" >&2
	done
}

e2e_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

e2e_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# Starts a background process whose PID the cleanup will end: bg NAME CMD... (its PID is left
# in BG_PID; call it directly, not in $(...), or the cleanup never learns the PID).
bg() {
	local name=$1
	shift
	"$@" >"$E2E_DIR/$name.log" 2>&1 &
	BG_PID=$!
	E2E_PIDS+=("$BG_PID")
}

e2e_start_server() {
	E2E_DATA=${E2E_DATA:-$E2E_DIR/data}
	E2E_KUBECONFIG=$E2E_DIR/kubeconfig.yaml
	export KUBECONFIG=$E2E_KUBECONFIG
	bg server "$EDGEK" server --data-dir "$E2E_DATA" \
		--write-kubeconfig "$E2E_KUBECONFIG" --bind-address 127.0.0.1 "$@"
	SERVER_PID=$BG_PID
	wait_for 30 test -f "$E2E_KUBECONFIG" || e2e_fail "server wrote no kubeconfig"
	wait_for 30 k get --raw /readyz || e2e_fail "server never became ready"
}

e2e_stop_server() {
	[ -n "${SERVER_PID:-}" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}

k() {
	local bin=$KUBECTL
	[ -x "$KUBECTL_DIR/$bin" ] && bin=$KUBECTL_DIR/$bin
	"$bin" --kubeconfig "${E2E_KUBECONFIG:-$E2E_DIR/kubeconfig.yaml}" "$@"
}

wait_for() {
	local timeout=$1
	shift
	local deadline=$((SECONDS + timeout))
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
}

expect_eq() {
	[ "$1" == "$2" ] || e2e_fail "${3:-values differ}: got [$1], want [$2]"
}

expect_contains() {
	case "$1" in
	*"$2"*) ;;
	*) e2e_fail "${3:-missing text}: [$2] not in [$1]" ;;
	esac
}

# Runs CMD, expecting a non-zero exit; prints its combined output for the caller to check.
expect_fail() {
	local out
	if out=$("$@" 2>&1); then
		e2e_fail "expected failure from: $* (output: $out)"
	fi
	printf '%s' "$out"
}

mkns() {
	k create namespace "$1" >/dev/null
}

# mkcm [-n NS] NAME KEY=VALUE...
mkcm() {
	local ns=()
	if [ "$1" = -n ]; then
		ns=(-n "$2")
		shift 2
	fi
	local name=$1
	shift
	local lits=()
	for kv in "$@"; do lits+=(--from-literal="$kv"); done
	k "${ns[@]}" create configmap "$name" "${lits[@]}" >/dev/null
}

# ---- nodes: pods run as real containers ----

# Sets E2E_NODE_FLAGS (shim state and pod logs under $E2E_DIR, cgroups in a parent of the
# test's own below this process's cgroups) and builds $E2E_IMAGE, busybox:e2e as an OCI archive.
e2e_node_init() {
	E2E_CGROUP=edgek-e2e-$$
	E2E_NODE_FLAGS=(--runtime-dir "$E2E_DIR/run" --pod-log-dir "$E2E_DIR/logs"
		--cgroup-parent "$E2E_CGROUP" --cgroup-nested)
	E2E_IMAGE=$E2E_DIR/busybox.tar
	"$E2E_ROOT/tests/fixtures/mkimage.sh" oci "$E2E_IMAGE" docker.io/library/busybox:e2e
}

# Ends every shim (their containers die with them) and removes the test's cgroups.
e2e_node_cleanup() {
	local f d p
	trap - ERR
	for f in "$E2E_DIR"/run/runtime/pods/*/shim.pid; do
		[ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	sleep 0.2
	find /sys/fs/cgroup -maxdepth 6 -type d -name "$E2E_CGROUP" 2>/dev/null | while read -r c; do
		find "$c" -depth -type d | while read -r d; do
			for _ in $(seq 30); do
				for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
				rmdir "$d" 2>/dev/null && break
				sleep 0.1
			done
			[ -d "$d" ] && echo "cgroup left: $d ($(cat "$d/cgroup.procs" 2>/dev/null | xargs))" >&2
		done
	done
}

# Prints a jsonpath of a pod: podjp NAME JSONPATH
podjp() {
	k get pod "$1" -o jsonpath="$2"
}
