#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A cluster of three hosts (issue 10): network namespaces hs, ha, hb on a bridge the test
# creates (10.77.0.0/24), each with its own data dir. `edgek server` on hs (with its local
# agent: node hs, role control-plane), `edgek agent --join https://10.77.0.1:6443 --token T`
# on ha (with --node-taint and --node-external-ip) and hb (--with-node-id): a wrong CA hash
# and a wrong token are refused with clear messages; all three nodes become Ready (the time from `edgek agent --join` to Ready and the agent's idle RSS are
# printed); ha's credentials cannot modify hb's Node (403); a pod on each agent, with env
# from a ConfigMap and a Secret (read through the Node authorizer), answers `kubectl logs` and
# `kubectl exec`;
# the server restarts and both agents reconnect with their pods untouched.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

mkdir -p /run/netns
mount -t tmpfs ekjoin /run/netns
HOSTS=(hs ha hb)
extra_cleanup() {
	local h f
	trap - ERR
	set +e
	# Agents first (a live agent would start the pods' shims again), then the shims.
	for pid in "${E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${E2E_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	done
	for h in ha hb; do
		for f in "$E2E_DIR"/run-"$h"/runtime/pods/*/shim.pid; do
			[ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
		done
		E2E_CGROUP=$E2E_CGROUP-$h e2e_node_cleanup
	done
	for h in "${HOSTS[@]}"; do ip netns del "$h" 2>/dev/null; done
	ip link del br-join 2>/dev/null
	umount /run/netns 2>/dev/null
	return 0
}
trap 'rc=$?; extra_cleanup; (exit $rc); e2e_cleanup' EXIT
ip link add br-join type bridge
ip link set br-join up
i=1
for h in "${HOSTS[@]}"; do
	ip netns add "$h"
	ip -n "$h" link set lo up
	ip link add "v-$h" type veth peer name eth0 netns "$h"
	ip link set "v-$h" master br-join up
	ip -n "$h" addr add "10.77.0.$i/24" dev eth0
	ip -n "$h" link set eth0 up
	i=$((i + 1))
done
# nsenter, not `ip netns exec`: that remounts /sys, hiding the cgroup hierarchy from agents.
on() {
	local h=$1
	shift
	nsenter --net="/run/netns/$h" "$@"
}
node_of() { if [ "$1" = hb ]; then echo "$NB"; else echo "$1"; fi; }
ip_of() { case $1 in hs) echo 10.77.0.1 ;; ha) echo 10.77.0.2 ;; hb) echo 10.77.0.3 ;; esac; }

for h in "${HOSTS[@]}"; do "$EDGEK" image import --data-dir "$E2E_DIR/$h" "$E2E_IMAGE" >/dev/null; done

# ---- the server on hs, with its own node ----
E2E_DATA=$E2E_DIR/hs
E2E_KUBECONFIG=$E2E_DIR/kubeconfig.yaml
export KUBECONFIG=$E2E_KUBECONFIG
start_server() {
	bg "server$1" nsenter --net=/run/netns/hs "$EDGEK" server --data-dir "$E2E_DATA" --node-name hs --node-ip 10.77.0.1 \
		--write-kubeconfig "$E2E_KUBECONFIG" --bind-address 10.77.0.1 --tls-san 10.77.0.1 \
		"${E2E_NODE_FLAGS[@]}"
	SERVER_PID=$BG_PID
}
start_server ""
wait_for 30 test -f "$E2E_KUBECONFIG" || e2e_fail "server wrote no kubeconfig"
kh() { on hs "$KUBECTL_DIR/$KUBECTL" --kubeconfig "$E2E_KUBECONFIG" "$@"; }
wait_for 30 kh get --raw /readyz || e2e_fail "server never became ready"
token=$(cat "$E2E_DATA/server/token")
hash=$(sha256sum "$E2E_DATA/server/tls/server-ca.crt" | cut -d' ' -f1)
url=https://10.77.0.1:6443

agent_cmd() {
	local h=$1
	shift
	echo nsenter --net="/run/netns/$h" "$EDGEK" agent --join "$url" --node-name "$h" --node-ip "$(ip_of "$h")" \
		--data-dir "$E2E_DIR/$h" --runtime-dir "$E2E_DIR/run-$h" --pod-log-dir "$E2E_DIR/logs-$h" \
		--cgroup-parent "$E2E_CGROUP-$h" --cgroup-nested "$@"
}

# ---- refusals: the agent exits with a message naming the problem ----
zeros=$(printf '0%.0s' $(seq 64))
out=$(expect_fail timeout 20 $(agent_cmd ha --token "K10$zeros::server:${token##*:}"))
expect_contains "$out" "has hash $hash, but the token names CA hash $zeros" "wrong CA hash"
out=$(expect_fail timeout 20 $(agent_cmd ha --token "K10$hash::server:wrong-secret"))
expect_contains "$out" "the server refused the join token" "wrong token"

# ---- two agents join ----
bt=$(kh get --raw /readyz >/dev/null && on hs "$EDGEK" token create --kubeconfig "$E2E_KUBECONFIG")
t0=$(date +%s%N)
bg agent-ha $(agent_cmd ha --token "$token" --node-taint edge=true:NoSchedule --node-external-ip 203.0.113.2)
AGENT_HA=$BG_PID
ready() { [ "$(kh get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }
wait_for 30 ready ha || e2e_fail "ha never became Ready: $(kh get nodes 2>&1)"
echo "FIGURE join-to-Ready ha: $((($(date +%s%N) - t0) / 1000000)) ms"
bg agent-hb $(agent_cmd hb --token "$bt" --with-node-id)
AGENT_HB=$BG_PID
wait_for 10 test -s "$E2E_DIR/hb/agent/node-id" || e2e_fail "no node id for hb"
NB=hb-$(cat "$E2E_DIR/hb/agent/node-id")
wait_for 30 ready "$NB" || e2e_fail "$NB never became Ready: $(kh get nodes 2>&1)"
wait_for 30 ready hs || e2e_fail "hs never became Ready: $(kh get nodes 2>&1)"
nodes=$(kh get nodes)
echo "$nodes"
expect_eq "$(grep -c ' Ready ' <<<"$nodes")" 3 "three Ready nodes"
expect_contains "$(kh get node hs -o jsonpath='{.metadata.labels}')" "node-role.kubernetes.io/control-plane" "server's node role"
expect_eq "$(kh get node ha -o jsonpath='{.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect}')" "edge=true:NoSchedule" "--node-taint"
expect_eq "$(kh get node ha -o jsonpath='{.status.addresses[?(@.type=="ExternalIP")].address}')" 203.0.113.2 "--node-external-ip"
expect_contains "$NB" "hb-" "--with-node-id"
expect_eq "$(kh get csr -o jsonpath='{range .items[?(@.spec.signerName=="kubernetes.io/kube-apiserver-client-kubelet")]}{.status.conditions[0].type} {end}')" "Approved Approved " "two node CSRs approved"
sleep 2
echo "FIGURE agent idle RSS ha: $(awk '/VmRSS/ { print $2 }' /proc/$AGENT_HA/status) kB"

# ---- node identity across hosts ----
code=$(on ha curl -s -o "$E2E_DIR/out" -w '%{http_code}' --cacert "$E2E_DIR/ha/agent/server-ca.crt" \
	--cert "$E2E_DIR/ha/agent/client-kubelet.crt" --key "$E2E_DIR/ha/agent/client-kubelet.key" \
	-X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"metadata":{"labels":{"owned-by":"ha"}}}' "$url/api/v1/nodes/$NB")
expect_eq "$code" 403 "ha's credentials patching $NB: $(cat "$E2E_DIR/out")"
expect_contains "$(cat "$E2E_DIR/out")" "node \\\"ha\\\" is not allowed to modify node \\\"$NB\\\"" "403 message"

# A token holder claiming the server's own node name (it never joined with a password).
out=$(expect_fail on ha "$EDGEK" join --server "$url" --token "$token" --node-name hs --data-dir "$E2E_DIR/imposter")
expect_contains "$out" 'node "hs" is already registered and never joined with a node password' "claiming hs"

# ---- a pod on each agent: env from a ConfigMap and a Secret, then kubectl logs ----
{
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {greeting: hello}\n---\n'
	printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: sec}\nstringData: {word: s3cret}\n'
	for h in ha hb; do
		cat <<Y
---
apiVersion: v1
kind: Pod
metadata: {name: p-$h}
spec:
  nodeName: $(node_of $h)
  containers:
  - name: c
    image: busybox:e2e
    imagePullPolicy: Never
    command: [sh, -c, 'echo "\$GREETING \$WORD from \$(hostname)"; i=0; while true; do i=\$((i+1)); echo tick \$i; sleep 0.5; done']
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}
    - {name: WORD, valueFrom: {secretKeyRef: {name: sec, key: word}}}
Y
	done
} | kh create -f - >/dev/null
for h in ha hb; do
	wait_for 60 sh -c "[ \"\$(nsenter --net=/run/netns/hs '$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get pod p-$h -o jsonpath='{.status.phase}')\" = Running ]" ||
		e2e_fail "p-$h not Running: $(kh get pod p-$h -o wide 2>&1) $(kh describe pod p-$h 2>&1 | tail -5)"
	wait_for 20 sh -c "nsenter --net=/run/netns/hs '$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' logs p-$h | grep -q 'hello s3cret from p-$h'" ||
		e2e_fail "kubectl logs p-$h: $(kh logs p-$h 2>&1 | head -3)"
done
# kubectl exec reaches a pod on each agent (the server dials the agent's kubelet).
for h in ha hb; do
	expect_eq "$(kh exec p-$h -- sh -c 'echo "$GREETING from $(hostname)"')" "hello from p-$h" "kubectl exec on $h"
done
# A node may read the Secret its pod uses, not another one.
kh create secret generic other --from-literal=x=y >/dev/null 2>&1 ||
	printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: other}\nstringData: {x: y}\n' | kh create -f - >/dev/null
as_ha() { on ha "$KUBECTL_DIR/$KUBECTL" --kubeconfig "$E2E_DIR/ha/agent/kubelet.kubeconfig" "$@"; }
as_ha get secret sec >/dev/null || e2e_fail "ha cannot read the Secret its pod uses"
out=$(expect_fail as_ha get secret other)
expect_contains "$out" "no relationship found between node 'ha' and this object" "unrelated Secret"

# ---- the server restarts; the agents reconnect, their pods untouched ----
start_ha=$(kh get pod p-ha -o jsonpath='{.status.containerStatuses[0].state.running.startedAt}')
kill -TERM "$SERVER_PID"
wait_for 20 sh -c "! kill -0 $SERVER_PID 2>/dev/null" || e2e_fail "server did not stop"
sleep 2
start_server 2
wait_for 30 kh get --raw /readyz || e2e_fail "server never became ready again"
renew0=$(kh -n kube-node-lease get lease ha -o jsonpath='{.spec.renewTime}')
wait_for 30 sh -c "[ \"\$(nsenter --net=/run/netns/hs '$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' -n kube-node-lease get lease ha -o jsonpath='{.spec.renewTime}')\" != '$renew0' ]" ||
	e2e_fail "agent ha never renewed its Lease after the restart"
for h in ha hb; do
	wait_for 20 ready "$(node_of $h)" || e2e_fail "$h not Ready after the server restart"
	kill -0 "$([ $h = ha ] && echo $AGENT_HA || echo $AGENT_HB)" || e2e_fail "agent $h exited"
	expect_eq "$(kh get pod p-$h -o jsonpath='{.status.containerStatuses[0].restartCount}')" 0 "p-$h not restarted"
done
expect_eq "$(kh get pod p-ha -o jsonpath='{.status.containerStatuses[0].state.running.startedAt}')" "$start_ha" "p-ha untouched"
kh logs p-hb --tail 1 | grep -q tick || e2e_fail "logs of p-hb after the restart"
echo PASS
