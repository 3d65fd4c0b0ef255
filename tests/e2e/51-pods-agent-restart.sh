#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The agent dies (SIGKILL) and comes back while pods run: every shim is re-adopted, no
# container restarts (same restartCount, same PIDs, no second run in the logs), and the
# re-adopted pods are still driven by the new agent (logs, graceful deletion). The image comes
# from the air-gap directory <data-dir>/agent/images, imported when the agent starts.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

E2E_DATA=$E2E_DIR/data
mkdir -p "$E2E_DATA/agent/images"
cp "$E2E_IMAGE" "$E2E_DATA/agent/images/busybox.tar"
e2e_start_server "${E2E_NODE_FLAGS[@]}"
node_ready() { k get nodes 2>/dev/null | grep -q ' Ready '; }
wait_for 20 node_ready || e2e_fail "the local node never became Ready: $(k get nodes 2>&1)"
NODE=$(k get nodes -o jsonpath='{.items[0].metadata.name}')
has_image() { k get node "$NODE" -o jsonpath='{.status.images[*].names}' | grep -q busybox:e2e; }
wait_for 20 has_image || e2e_fail "the air-gap image never reached the node's images: $(k get node "$NODE" -o jsonpath='{.status.images}')"

cat >"$E2E_DIR/pods.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: steady}
spec:
  nodeName: $NODE
  containers:
  - {name: c, image: busybox:e2e, imagePullPolicy: Never, command: [sh, -c, 'echo started; exec sleep 100000']}
---
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 20
  containers:
  - name: c
    image: busybox:e2e
    imagePullPolicy: Never
    command: [sh, -c, 'trap "echo got TERM > /host/trapped; exit 0" TERM; echo started; i=0; while true; do i=\$((i+1)); echo "tick \$i"; sleep 0.2 & wait; done']
    volumeMounts: [{name: h, mountPath: /host}]
  volumes: [{name: h, hostPath: {path: $E2E_DIR, type: Directory}}]
EOF
k create -f "$E2E_DIR/pods.yaml" >/dev/null
ready() { [ "$(podjp "$1" '{.status.containerStatuses[0].ready}')" = true ]; }
wait_for 20 ready steady || e2e_fail "steady not ready: $(k get pods 2>&1)"
wait_for 20 ready talker || e2e_fail "talker not ready: $(k get pods 2>&1)"

# The shims and every process below them (the containers), as "pid:command" sorted.
pod_procs() {
	local shims
	shims=$(for f in "$E2E_DIR"/run/runtime/pods/*/shim.pid; do [ -f "$f" ] && cat "$f" && echo; done | xargs)
	[ -n "$shims" ] || return 0
	ps -eo pid=,ppid=,comm= | awk -v roots="$shims" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
		{ pp[$1] = $2; cm[$1] = $3; order[NR] = $1 }
		END {
			do { changed = 0
				for (i = 1; i <= NR; i++) { p = order[i]
					if (!(p in keep) && (pp[p] in keep)) { keep[p] = 1; changed = 1 } }
			} while (changed)
			# (the talker'"'"'s short sleeps come and go)
			for (p in keep) if (p in cm && !(cm[p] == "sleep" && cm[pp[p]] == "sh")) print p ":" cm[p]
		}' | sort -n
}
before=$(pod_procs)
expect_eq "$(echo "$before" | cut -d: -f2 | sort | xargs)" "exe exe sh sleep" \
	"two shims and their containers' processes"
restarts() { podjp "$1" '{.status.containerStatuses[0].restartCount}'; }
expect_eq "$(restarts steady) $(restarts talker)" "0 0" "no restarts before"

# SIGKILL: nothing gets a chance to clean up. The containers keep running meanwhile.
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
cp "$E2E_DIR/server.log" "$E2E_DIR/server-first.log"
lines_before=$(grep -c tick "$(ls "$E2E_DIR"/logs/default_talker_*/c/0.log)")
sleep 1.5
lines_after=$(grep -c tick "$(ls "$E2E_DIR"/logs/default_talker_*/c/0.log)")
[ "$lines_after" -gt "$lines_before" ] ||
	e2e_fail "the container stopped logging while the agent was down ($lines_before -> $lines_after)"
expect_eq "$(pod_procs)" "$before" "the same processes run while the agent is down"

e2e_start_server "${E2E_NODE_FLAGS[@]}"
wait_for 20 node_ready || e2e_fail "the node never came back: $(k get nodes 2>&1)"
grep -q "adopt" "$E2E_DIR/server.log" || e2e_fail "the new agent logged no adoption"
sleep 2 # let the new agent sync its pods' status
expect_eq "$(pod_procs)" "$before" "same shims and container PIDs after the agent restarted"
expect_eq "$(restarts steady) $(restarts talker)" "0 0" "restartCount unchanged"
expect_eq "$(k logs steady)" "started" "steady ran once"
expect_eq "$(k logs talker | grep -c started)" 1 "talker ran once"
expect_eq "$(podjp steady '{.status.phase}') $(podjp talker '{.status.phase}')" "Running Running" \
	"both still Running"
last=$(k logs talker --tail=1)
tick_advances() { [ "$(k logs talker --tail=1)" != "$last" ]; }
wait_for 5 tick_advances || e2e_fail "kubectl logs no longer follows the re-adopted container"

# The re-adopted pod is still the agent's: deletion is graceful (its SIGTERM trap runs).
k delete pod talker --timeout=30s >/dev/null
expect_eq "$(cat "$E2E_DIR/trapped" 2>/dev/null)" "got TERM" "SIGTERM trap ran in a re-adopted pod"
k delete pod steady --grace-period=1 --timeout=30s >/dev/null
gone() { [ -z "$(ls "$E2E_DIR"/run/runtime/pods/ 2>/dev/null)" ]; }
wait_for 10 gone || e2e_fail "pod state left after deletion: $(ls "$E2E_DIR"/run/runtime/pods/)"
echo "ok: the agent restarted without restarting any container"
