#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Watches as kubectl uses them: `get -w` prints changes another client makes (Table events),
# `get x -w` for one object, `wait`, `delete --wait`, and a watch from a revision too old.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent

mkcm w1 v=1
k get cm -w >"$E2E_DIR/watch.out" 2>&1 &
W=$!
E2E_PIDS+=($W)
k get cm w1 -w -o jsonpath='{.data.v}{"\n"}' >"$E2E_DIR/watch1.out" 2>&1 &
W1=$!
E2E_PIDS+=($W1)
wait_for 10 grep -q w1 "$E2E_DIR/watch.out" || e2e_fail "watch printed no initial state"
mkcm w2 v=1
k patch cm w1 -p '{"data":{"v":"2"}}' >/dev/null
k delete cm w2 >/dev/null
wait_for 10 grep -q w2 "$E2E_DIR/watch.out" || e2e_fail "watch missed w2"
wait_for 10 grep -qx 2 "$E2E_DIR/watch1.out" || e2e_fail "single-object watch missed the patch"
kill $W $W1 2>/dev/null || true
# The Table watch prints one line per event with the table's columns.
expect_contains "$(head -1 "$E2E_DIR/watch.out")" "NAME" "watch header"
n=$(grep -c '^w2 ' "$E2E_DIR/watch.out" || true)
[ "$n" -ge 1 ] || e2e_fail "w2 lines: $n"

# wait for a condition that another client makes true.
mkns waiting
(sleep 1; k label ns waiting ready=yes >/dev/null) &
out=$(k wait --for=jsonpath='{.metadata.labels.ready}'=yes ns/waiting --timeout=20s)
expect_eq "$out" "namespace/waiting condition met" "kubectl wait"

# delete --wait returns once the object is gone (watch until DELETED).
mkcm gone a=b
expect_eq "$(k delete cm gone --wait --timeout=10s)" 'configmap "gone" deleted' "delete --wait"

# Recent revisions replay from the event window...
out=$(k get --raw "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1")
expect_contains "$out" '"type":"DELETED"' "replay from the window"
# ...and after a restart, revisions before it are gone: 410 Expired in the stream.
e2e_stop_server
e2e_start_server --disable-agent
out=$(k get --raw "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=2")
expect_contains "$out" '"reason":"Expired"' "too-old watch"
expect_contains "$out" '"code":410' "too-old watch code"

# Bookmarks and timeoutSeconds end the stream.
start=$SECONDS
k get --raw "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&allowWatchBookmarks=true" >/dev/null
[ $((SECONDS - start)) -le 5 ] || e2e_fail "timeoutSeconds not honoured"
echo PASS
