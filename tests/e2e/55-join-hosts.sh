#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Joining across hosts: three "hosts" (network namespaces hs, ha, hb, each with its own data
# dir) on a bridge the test creates (10.77.0.0/24). The server runs in hs; agents in ha and hb
# join over the bridge with the server token (and one with a bootstrap token): a wrong CA hash
# and a wrong token are refused with clear messages, each host gets its own node identity,
# and one host's credentials get 403 on the other's Node.
. "$(dirname "$0")/lib.sh"
e2e_init

mkdir -p /run/netns
mount -t tmpfs ekjoin /run/netns
HOSTS=(hs ha hb)
cleanup_ns() {
	for ns in "${HOSTS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	ip link del br-join 2>/dev/null || true
	umount /run/netns 2>/dev/null || true
}
trap 'rc=$?; cleanup_ns; (exit $rc); e2e_cleanup' EXIT
ip link add br-join type bridge
ip link set br-join up
i=1
for ns in "${HOSTS[@]}"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "v-$ns" type veth peer name eth0 netns "$ns"
	ip link set "v-$ns" master br-join up
	ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
	ip -n "$ns" link set eth0 up
	i=$((i + 1))
done
on() { ip netns exec "$@"; }

# The server on host hs (10.77.0.1).
E2E_DATA=$E2E_DIR/hs
E2E_KUBECONFIG=$E2E_DIR/kubeconfig.yaml
export KUBECONFIG=$E2E_KUBECONFIG
bg server nsenter --net=/run/netns/hs "$EDGEK" server --data-dir "$E2E_DATA" --disable-agent \
	--write-kubeconfig "$E2E_KUBECONFIG" --bind-address 10.77.0.1 --tls-san 10.77.0.1
SERVER_PID=$BG_PID
wait_for 30 test -f "$E2E_KUBECONFIG" || e2e_fail "server wrote no kubeconfig"
sed -i 's#https://127.0.0.1:#https://10.77.0.1:#' "$E2E_KUBECONFIG"
kh() { on hs "$KUBECTL_DIR/$KUBECTL" --kubeconfig "$E2E_KUBECONFIG" "$@"; }
wait_for 30 kh get --raw /readyz || e2e_fail "server never became ready"
token=$(cat "$E2E_DATA/server/token")
hash=$(sha256sum "$E2E_DATA/server/tls/server-ca.crt" | cut -d' ' -f1)
url=https://10.77.0.1:6443

join() { local host=$1; shift; on "$host" "$EDGEK" join --join "$url" --data-dir "$E2E_DIR/$host" "$@"; }

# Refusals, from host ha.
out=$(expect_fail join ha --token "K10$(printf 'f%.0s' $(seq 64))::server:${token##*:}" --node-name ha)
expect_contains "$out" "has hash $hash, but the token names CA hash $(printf 'f%.0s' $(seq 64))" "wrong CA hash"
out=$(expect_fail join ha --token "K10$hash::server:not-the-secret" --node-name ha)
expect_contains "$out" "refused the join token" "wrong token"

# ha joins with the server token, hb with a bootstrap token; both over the bridge.
start=$(date +%s%N)
expect_contains "$(join ha --token "$token" --node-name ha)" "node ha: new credentials" "ha joins"
echo "join ha: $(( ($(date +%s%N) - start) / 1000000 )) ms"
bt=$(on hs "$EDGEK" token create --kubeconfig "$E2E_KUBECONFIG" --ttl 10m)
expect_contains "$(join hb --token "$bt" --node-name hb)" "node hb: new credentials" "hb joins"
csrs=$(kh get csr)
expect_eq "$(grep 'kube-apiserver-client-kubelet' <<<"$csrs" | grep -c 'Approved,Issued')" 2 "two node CSRs: $csrs"
# Each node also got its agent's own identity (for its service proxy), asked for by the node.
expect_eq "$(grep 'kubernetes.io/kube-apiserver-client ' <<<"$csrs" | grep -c 'system:node:h[ab] .*Approved,Issued')" 2 "two agent identities: $csrs"

# Each host registers its own Node; ha's identity cannot touch hb's.
as() { local host=$1; shift; on "$host" "$KUBECTL_DIR/$KUBECTL" --kubeconfig "$E2E_DIR/$host/agent/kubelet.kubeconfig" "$@"; }
for h in ha hb; do
	printf 'apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n' "$h" | as "$h" create -f - >/dev/null
done
expect_eq "$(kh get nodes -o jsonpath='{.items[*].metadata.name}')" "ha hb" "both nodes registered"
code=$(on ha curl -s -o "$E2E_DIR/out" -w '%{http_code}' --cacert "$E2E_DIR/ha/agent/server-ca.crt" \
	--cert "$E2E_DIR/ha/agent/client-kubelet.crt" --key "$E2E_DIR/ha/agent/client-kubelet.key" \
	-X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"metadata":{"labels":{"owned-by":"ha"}}}' "$url/api/v1/nodes/hb")
expect_eq "$code" 403 "ha patching hb"
expect_contains "$(cat "$E2E_DIR/out")" 'node \"ha\" is not allowed to modify node \"hb\"' "403 message"
out=$(expect_fail as ha delete node hb)
expect_contains "$out" "forbidden" "ha deleting hb"
expect_eq "$(kh get node hb -o jsonpath='{.metadata.labels.owned-by}')" "" "hb untouched"

# A third agent claiming hb's name from host ha (another data dir, another node password).
out=$(expect_fail on ha "$EDGEK" join --server "$url" --data-dir "$E2E_DIR/imposter" --token "$token" --node-name hb)
expect_contains "$out" 'node "hb" has already joined with another node password' "duplicate node name"

# The server restarts: the token and the issued credentials stay valid.
kill -TERM "$SERVER_PID"; wait_for 15 bash -c "! kill -0 $SERVER_PID" || e2e_fail "server did not stop"
bg server2 nsenter --net=/run/netns/hs "$EDGEK" server --data-dir "$E2E_DATA" --disable-agent \
	--write-kubeconfig "$E2E_KUBECONFIG" --bind-address 10.77.0.1 --tls-san 10.77.0.1
SERVER_PID=$BG_PID
wait_for 30 kh get --raw /readyz || e2e_fail "server never became ready again"
expect_eq "$(cat "$E2E_DATA/server/token")" "$token" "token kept across restarts"
expect_contains "$(join ha --token "$token" --node-name ha)" "node ha: existing credentials" "reused after restart"
expect_contains "$(as ha get node ha)" "ha" "node credentials work after the restart"
echo PASS
