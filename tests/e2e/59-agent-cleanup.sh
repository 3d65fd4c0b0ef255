#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `edgek agent --cleanup` (what an uninstall script calls): after a server with its local agent
# ran a pod, the bridge, the VXLAN device, the pod veths, edgek's routes and the tables
# `ip edgek` and `ip edgek-proxy` are gone, nothing else in the namespace changed, and a second
# run succeeds too (idempotent).
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

E2E_DATA=$E2E_DIR/data
"$EDGEK" image import --data-dir "$E2E_DATA" "$E2E_IMAGE" >/dev/null
# Something that is not edgek's, which must survive.
ip link add keep0 type bridge
nft add table ip keepme
links_before=$(ip -o link show | awk -F': ' '{ print $2 }' | grep -v -e '^ek' -e '^veth' | sort)
e2e_start_server "${E2E_NODE_FLAGS[@]}"
wait_for 30 sh -c "'$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get nodes | grep -q ' Ready '" ||
	e2e_fail "the local node never became Ready"
wait_for 30 k get serviceaccount default || e2e_fail "no default ServiceAccount"
NODE=$(k get nodes -o jsonpath='{.items[0].metadata.name}')
k run p --image=busybox:e2e --restart=Never --overrides="{\"spec\":{\"nodeName\":\"$NODE\"}}" -- sleep 3600 >/dev/null
k wait --for=condition=Ready pod/p --timeout=60s >/dev/null || e2e_fail "pod not Ready"
ip link show ek0 >/dev/null || e2e_fail "no bridge ek0 while running"
nft list table ip edgek >/dev/null || e2e_fail "no table ip edgek while running"
nft list table ip edgek-proxy >/dev/null || e2e_fail "no table ip edgek-proxy while running"
e2e_stop_server
e2e_node_cleanup || true # ends the shims (their pods) as a killall script would first

out=$("$EDGEK" agent --cleanup --data-dir "$E2E_DATA" 2>&1) || e2e_fail "cleanup failed: $out"
expect_contains "$out" "removed" "cleanup message"
ip link show ek0 >/dev/null 2>&1 && e2e_fail "bridge ek0 left"
ip link show ek.vxlan >/dev/null 2>&1 && e2e_fail "ek.vxlan left"
nft list table ip edgek >/dev/null 2>&1 && e2e_fail "table ip edgek left"
nft list table ip edgek-proxy >/dev/null 2>&1 && e2e_fail "table ip edgek-proxy left"
[ -z "$(ip route show proto 238; ip route show | grep -e "dev ek" || true)" ] ||
	e2e_fail "edgek routes left: $(ip route show)"
nft list table ip keepme >/dev/null || e2e_fail "another table was removed"
links_after=$(ip -o link show | awk -F': ' '{ print $2 }' | grep -v -e '^ek' -e '^veth' | sort)
expect_eq "$links_after" "$links_before" "other links untouched"
"$EDGEK" agent --cleanup --data-dir "$E2E_DATA" >/dev/null || e2e_fail "a second cleanup failed"
echo PASS
