#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs every tests/e2e/NN-*.sh (or those matching the arguments) and prints TAP. Each test
# runs in its own namespaces (see lib.sh), so up to E2E_JOBS run at once.
set -uo pipefail
cd "$(dirname "$0")"
E2E_TIMEOUT=${E2E_TIMEOUT:-600}
E2E_JOBS=${E2E_JOBS:-2}

tests=()
for t in [0-9]*.sh; do
	[ -f "$t" ] || continue
	if [ $# -gt 0 ]; then
		m=0
		for p in "$@"; do case "$t" in *"$p"*) m=1 ;; esac; done
		[ $m = 1 ] || continue
	fi
	tests+=("$t")
done

out=$(mktemp -d /tmp/ek-e2e-run-XXXXXX)
trap 'rm -rf "$out"' EXIT

# Tests run in private network namespaces, so npm packages they need are installed here, in the
# host's namespace, first (a failure leaves the log for the test's skip message).
for t in "${tests[@]}"; do
	case "$t" in *client-node*)
		if command -v npm >/dev/null && [ ! -d js/node_modules/@kubernetes/client-node ]; then
			(cd js && npm ci --no-audit --no-fund >npm.log 2>&1) || true
		fi
		;;
	esac
done
echo "TAP version 13"
echo "1..${#tests[@]}"
failed=0
n=0
running=()

finish() {
	local t=$1 rc=$2 secs=$3
	n=$((n + 1))
	if [ "$rc" = 0 ]; then
		echo "ok $n - $t (${secs}s)"
	elif [ "$rc" = 77 ]; then
		echo "ok $n - $t # SKIP $(grep -m1 '^SKIP: ' "$out/$t.out" | sed 's/^SKIP: //')"
	else
		failed=$((failed + 1))
		[ "$rc" = 124 ] && echo "not ok $n - $t (timeout after ${E2E_TIMEOUT}s)" ||
			echo "not ok $n - $t (exit $rc, ${secs}s)"
		sed 's/^/#   /' "$out/$t.out" | tail -n 150
	fi
}

for t in "${tests[@]}"; do
	(
		start=$SECONDS
		timeout -k 10 "$E2E_TIMEOUT" "./$t" >"$out/$t.out" 2>&1
		rc=$?
		echo "$rc $((SECONDS - start))" >"$out/$t.rc"
	) &
	running+=("$t")
	while [ "$(jobs -rp | wc -l)" -ge "$E2E_JOBS" ]; do wait -n; done
	# Report finished tests in start order as they complete.
	while [ ${#running[@]} -gt 0 ] && [ -f "$out/${running[0]}.rc" ]; do
		read -r rc secs <"$out/${running[0]}.rc"
		finish "${running[0]}" "$rc" "$secs"
		running=("${running[@]:1}")
	done
done
wait
for t in "${running[@]}"; do
	read -r rc secs <"$out/$t.rc"
	finish "$t" "$rc" "$secs"
done
echo "# $failed of ${#tests[@]} failed"
[ $failed = 0 ]
