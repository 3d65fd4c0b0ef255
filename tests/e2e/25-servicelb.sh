#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ServiceLB (k3s style), seen through kubectl on simulated nodes: a LoadBalancer Service gets
# every Ready node's InternalIP as its EXTERNAL-IP; a node that goes away leaves the list; a
# Service that becomes a ClusterIP loses its ingress; one with a loadBalancerClass (another
# implementation's) stays <pending>.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent --simulate-nodes 2
mkns lb

ips() { k -n lb get svc "$1" -o jsonpath='{range .status.loadBalancer.ingress[*]}{.ip} {end}'; }
has_ips() { [ "$(ips "$1")" = "$2" ]; }
node_ips=$(k get nodes -o jsonpath='{range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' | sort | tr '\n' ' ')
[ "$(wc -w <<<"$node_ips")" = 2 ] || e2e_fail "expected two simulated nodes, got: $node_ips"
wait_for 20 k wait --for=condition=Ready node --all --timeout=1s >/dev/null ||
	e2e_fail "simulated nodes not Ready"

cat <<'Y' | k create -f - >/dev/null
apiVersion: v1
kind: Service
metadata: {name: web, namespace: lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: other, namespace: lb}
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/other
  selector: {app: web}
  ports: [{port: 80}]
Y
wait_for 10 has_ips web "$node_ips" || e2e_fail "web ingress: want '$node_ips', got '$(ips web)'"
ext=$(k -n lb get svc web --no-headers | awk '{ print $4 }')
expect_eq "$ext" "$(tr ' ' '\n' <<<"$node_ips" | grep . | paste -sd,)" "kubectl EXTERNAL-IP"
np=$(k -n lb get svc web -o jsonpath='{.spec.ports[0].nodePort}')
[ "$np" -ge 30000 ] && [ "$np" -le 32767 ] || e2e_fail "LoadBalancer without a NodePort: '$np'"

# Another implementation's Service: left alone.
sleep 1
expect_eq "$(ips other)" "" "loadBalancerClass ingress"
expect_contains "$(k -n lb get svc other --no-headers)" "<pending>" "loadBalancerClass EXTERNAL-IP"

# A node goes: its address leaves the list.
gone_node=$(k get nodes -o jsonpath='{.items[0].metadata.name}')
gone_ip=$(k get node "$gone_node" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
k delete node "$gone_node" --wait=false >/dev/null
left=$(tr ' ' '\n' <<<"$node_ips" | grep . | grep -vx "$gone_ip" | tr '\n' ' ')
wait_for 10 has_ips web "$left" || e2e_fail "after node delete: want '$left', got '$(ips web)'"

# No longer a LoadBalancer: the ingress goes.
k -n lb patch svc web --type merge -p '{"spec":{"type":"ClusterIP","externalTrafficPolicy":null,
	"allocateLoadBalancerNodePorts":null,"ports":[{"name":"http","port":8080,"targetPort":80}]}}' >/dev/null
wait_for 10 has_ips web "" || e2e_fail "ClusterIP kept ingress '$(ips web)'"
echo "ok: ServiceLB ingress follows the nodes and the Service type"
