#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Edge autonomy: `edgek server --disable-agent` plus a separate `edgek agent`. With the server
# stopped, a restarted agent adopts its cached pods without restarting them; with the node
# "rebooted" (agent stopped, every shim and container killed), the agent
# starts again and runs its pods from its local cache, with the ConfigMap and Secret they use;
# the cache files are not rewritten when nothing changed. When the server returns, the pod's
# status catches up (Ready, a new start time) and a pod deleted meanwhile is stopped.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

AGENT_DATA=$E2E_DIR/agent
mkdir -p "$AGENT_DATA/agent/images" "$E2E_DIR/host"
cp "$E2E_IMAGE" "$AGENT_DATA/agent/images/busybox.tar"
e2e_start_server --disable-agent

start_agent() {
	bg "agent$1" "$EDGEK" agent --kubeconfig "$E2E_KUBECONFIG" --data-dir "$AGENT_DATA" \
		--node-name edge1 --offline-start-after 2s --log-level info,kubelet=debug "${E2E_NODE_FLAGS[@]}"
	AGENT_PID=$BG_PID
}
stop_agent() {
	kill -TERM "$AGENT_PID"
	for _ in $(seq 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$AGENT_PID" 2>/dev/null && e2e_fail "the agent did not stop on SIGTERM"
	wait "$AGENT_PID" 2>/dev/null || true
}
start_agent 1
node_ready() { k get node edge1 2>/dev/null | grep -q ' Ready '; }
wait_for 30 node_ready || e2e_fail "edge1 never became Ready: $(k get nodes 2>&1)"

cat >"$E2E_DIR/pods.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {msg: hello-from-cache}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {pw: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  nodeName: edge1
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:e2e
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'echo start >> /host/app-starts; while true; do echo "\$(cat /cfg/msg) \$PW" > /host/app-beat.new; busybox mv /host/app-beat.new /host/app-beat; sleep 0.3; done']
    env: [{name: PW, valueFrom: {secretKeyRef: {name: sec, key: pw}}}]
    volumeMounts: [{name: cfg, mountPath: /cfg}, {name: h, mountPath: /host}]
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  - {name: h, hostPath: {path: $E2E_DIR/host, type: Directory}}
---
apiVersion: v1
kind: Pod
metadata: {name: doomed}
spec:
  nodeName: edge1
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:e2e
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'echo start >> /host/doomed-starts; i=0; while true; do i=\$((i+1)); echo \$\$-\$i > /host/doomed-tick.new; busybox mv /host/doomed-tick.new /host/doomed-tick; sleep 0.3; done']
    volumeMounts: [{name: h, mountPath: /host}]
  volumes: [{name: h, hostPath: {path: $E2E_DIR/host, type: Directory}}]
EOF
k create -f "$E2E_DIR/pods.yaml" >/dev/null
ready() { [ "$(podjp "$1" '{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_for 30 ready app || e2e_fail "app never Ready: $(k get pods -o wide 2>&1)"
wait_for 30 ready doomed || e2e_fail "doomed never Ready: $(k get pods -o wide 2>&1)"
starts() { [ -f "$E2E_DIR/host/$1-starts" ] && wc -l <"$E2E_DIR/host/$1-starts" || echo 0; }
expect_eq "$(starts app) $(starts doomed)" "1 1" "each container started once"
expect_eq "$(cat "$E2E_DIR/host/app-beat")" "hello-from-cache s3cret" "the ConfigMap and Secret reach the container"
UID_APP=$(podjp app '{.metadata.uid}')
CACHE=$AGENT_DATA/agent/cache
[ -f "$CACHE/pods/$UID_APP.json" ] || e2e_fail "no cached pod: $(find "$CACHE" 2>&1)"
[ -f "$CACHE/configmaps/default_cfg.json" ] || e2e_fail "no cached ConfigMap: $(find "$CACHE")"
[ -f "$CACHE/secrets/default_sec.json" ] || e2e_fail "no cached Secret: $(find "$CACHE")"
expect_eq "$(stat -c %a "$CACHE/secrets/default_sec.json")" 600 "cached Secrets are private"
sleep 2 # status writes and heartbeats come and go: none of them rewrites the cache
inode_before=$(stat -c %i "$CACHE/pods/$UID_APP.json" "$CACHE/configmaps/default_cfg.json" | xargs)

# ---- the outage: the agent stops, the pod "doomed" is deleted, the server goes, the node
# reboots (every shim and container dies) ----
stop_agent
k delete pod doomed --grace-period=0 --force >/dev/null 2>&1
e2e_stop_server

# First the agent alone restarts (the shims live on): it adopts the pods it has cached,
# nothing restarts, nothing stops.
start_agent 2
wait_for 20 grep -q "starting 2 pods from the local cache" "$E2E_DIR/agent2.log" ||
	e2e_fail "agent 2 did not start from the cache"
wait_for 10 grep -q "adopted pod=default/app alive=1" "$E2E_DIR/agent2.log" ||
	e2e_fail "agent 2 did not adopt the running app"
sleep 2
expect_eq "$(starts app) $(starts doomed)" "1 1" "no container restarted when the agent restarted offline"
rm -f "$E2E_DIR/host/app-beat"
wait_for 5 test -s "$E2E_DIR/host/app-beat" || e2e_fail "app stopped running"
stop_agent

# Then the node reboots: every shim and container dies.
for f in "$E2E_DIR"/run/runtime/pods/*/shim.pid; do kill -KILL "$(cat "$f")" 2>/dev/null || true; done
killed_at=$(date +%s)
sleep 1
t1=$(cat "$E2E_DIR/host/doomed-tick")
sleep 1
expect_eq "$(cat "$E2E_DIR/host/doomed-tick")" "$t1" "the containers died with their shims"

# ---- the agent starts without a server: the pods run from the cache ----
start_agent 3
wait_for 30 sh -c "[ \$(wc -l < '$E2E_DIR/host/app-starts') -ge 2 ]" ||
	e2e_fail "app not started from the cache: $(grep -v DEBUG "$E2E_DIR/agent3.log" | tail -30)"
wait_for 10 sh -c "[ \$(wc -l < '$E2E_DIR/host/doomed-starts') -ge 2 ]" ||
	e2e_fail "doomed not started from the cache (the agent did not know it was deleted)"
rm -f "$E2E_DIR/host/app-beat"
wait_for 5 test -s "$E2E_DIR/host/app-beat" || e2e_fail "app not running"
expect_eq "$(cat "$E2E_DIR/host/app-beat")" "hello-from-cache s3cret" "ConfigMap volume and Secret env from the cache"
grep -q "starting 2 pods from the local cache" "$E2E_DIR/agent3.log" ||
	e2e_fail "the agent did not say it started from the cache"
expect_eq "$(stat -c %i "$CACHE/pods/$UID_APP.json" "$CACHE/configmaps/default_cfg.json" | xargs)" \
	"$inode_before" "cache files rewritten although nothing changed"
sleep 3
expect_eq "$(wc -l <"$E2E_DIR/host/app-starts")" 2 "the pod keeps running while the server is away"

# ---- the server returns: the status catches up, the deleted pod goes ----
e2e_start_server --disable-agent
wait_for 30 node_ready || e2e_fail "edge1 not Ready after the server returned: $(k get nodes 2>&1)"
started_after() {
	local s
	s=$(podjp app '{.status.containerStatuses[0].state.running.startedAt}')
	[ -n "$s" ] && [ "$(date -d "$s" +%s)" -ge "$killed_at" ]
}
wait_for 30 started_after || e2e_fail "app's status did not catch up: $(k get pod app -o yaml)"
wait_for 10 ready app || e2e_fail "app not Ready after the server returned"
tick_stable() {
	local t
	t=$(cat "$E2E_DIR/host/doomed-tick")
	sleep 1
	[ "$(cat "$E2E_DIR/host/doomed-tick")" = "$t" ]
}
wait_for 20 tick_stable || e2e_fail "the pod deleted during the outage still runs"
t1=$(cat "$E2E_DIR/host/doomed-tick")
sleep 1
expect_eq "$(cat "$E2E_DIR/host/doomed-tick")" "$t1" "the pod deleted during the outage stopped"
expect_eq "$(grep -l doomed "$CACHE"/pods/*.json 2>/dev/null | wc -l)" 0 "the deleted pod left the cache"
expect_eq "$(k get pods -o name | xargs)" "pod/app" "only app is left"
echo "ok 54-autonomy"
