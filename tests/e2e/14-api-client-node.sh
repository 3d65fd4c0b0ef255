#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A real client library: @kubernetes/client-node lists and runs an informer (list + watch),
# which must re-list after the server answers its watch with 410 following a restart.
. "$(dirname "$0")/lib.sh"
e2e_init
JS=$(cd "$(dirname "$0")/js" && pwd)
command -v node >/dev/null || e2e_skip "node is not installed"
# run.sh installs the package from the host's network namespace (this test has none).
[ -d "$JS/node_modules/@kubernetes/client-node" ] ||
	e2e_skip "npm could not install @kubernetes/client-node: $(grep -m1 -E 'npm (error|ERR!) (code|errno|network)' "$JS/npm.log" 2>/dev/null || echo 'npm is not installed')"
e2e_start_server --disable-agent
node "$JS/informer.mjs" "$E2E_KUBECONFIG" "$E2E_DIR/restarted" >"$E2E_DIR/node.log" 2>&1 &
NODE=$!
E2E_PIDS+=($NODE)
wait_for 60 grep -q RESTART-NOW "$E2E_DIR/node.log" || e2e_fail "client did not get going: $(cat "$E2E_DIR/node.log")"
e2e_stop_server
e2e_start_server --disable-agent
touch "$E2E_DIR/restarted"
wait $NODE || e2e_fail "client failed: $(cat "$E2E_DIR/node.log")"
out=$(cat "$E2E_DIR/node.log")
expect_contains "$out" "PASS" "informer"
echo PASS
