#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A joined agent renews its node certificate (`--cert-renew-after`, normally two thirds into
# its validity): a CertificateSigningRequest made by the node itself (system:node:<name>,
# approved as selfnodeclient, no token needed), new credentials on disk, and the agent
# reconnects with them: still running, the node still Ready, its pod untouched.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init
e2e_start_server --disable-agent
port=$(sed -n 's/.*server: https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$E2E_KUBECONFIG")
"$EDGEK" image import --data-dir "$E2E_DIR/a1" "$E2E_IMAGE" >/dev/null
bg agent "$EDGEK" agent --join "https://127.0.0.1:$port" --token-file "$E2E_DATA/server/token" \
	--node-name a1 --data-dir "$E2E_DIR/a1" --node-ip 127.0.0.1 --cert-renew-after 4s \
	"${E2E_NODE_FLAGS[@]}"
AGENT=$BG_PID
ready() { [ "$(k get node a1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }
wait_for 30 ready || e2e_fail "a1 never became Ready"
cert0=$(sha256sum <"$E2E_DIR/a1/agent/client-kubelet.crt")
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeName: a1\n  containers:\n  - {name: c, image: busybox:e2e, imagePullPolicy: Never, command: [sh, -c, "while true; do echo tick; sleep 0.5; done"]}\n' |
	k create -f - >/dev/null
wait_for 30 sh -c "[ \"\$('$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get pod p -o jsonpath='{.status.phase}')\" = Running ]" ||
	e2e_fail "p not Running: $(k get pod p 2>&1)"
started=$(k get pod p -o jsonpath='{.status.containerStatuses[0].state.running.startedAt}')

self_csr() { k get csr -o jsonpath='{range .items[*]}{.spec.username} {.status.conditions[0].type}{"\n"}{end}' | grep -q '^system:node:a1 Approved'; }
wait_for 20 self_csr || e2e_fail "no renewal CSR from system:node:a1: $(k get csr)"
wait_for 10 grep -q "node certificate renewed: reconnecting" "$E2E_DIR/agent.log" || e2e_fail "agent did not reconnect"
[ "$(sha256sum <"$E2E_DIR/a1/agent/client-kubelet.crt")" != "$cert0" ] || e2e_fail "certificate not replaced"
sleep 1
kill -0 "$AGENT" || e2e_fail "the agent exited"
wait_for 20 ready || e2e_fail "a1 not Ready after the renewal"
expect_eq "$(k get pod p -o jsonpath='{.status.containerStatuses[0].state.running.startedAt}')" "$started" "pod untouched"
expect_eq "$(k get pod p -o jsonpath='{.status.containerStatuses[0].restartCount}')" 0 "no restart"
k logs p --tail 1 | grep -q tick || e2e_fail "kubectl logs after the renewal"
# Everything the agent (kubelet, service proxy) reads is allowed to its node identity.
if grep -i "forbidden" "$E2E_DIR/agent.log" >"$E2E_DIR/forbidden.txt"; then
	e2e_fail "the joined agent was refused: $(head -3 "$E2E_DIR/forbidden.txt")"
fi
echo PASS
