#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Cluster DNS as pods meet it on `edgek server`'s local agent: busybox pods resolve Services at
# 10.43.0.10 (steered by table ip edgek to the agent's own server on the bridge's gateway) by
# short name, <svc>.<ns> and full name, over UDP and TCP; a headless Service's StatefulSet-style
# names (hostname + subdomain); wget through the ClusterIP Service (the agent's service proxy)
# and to the headless Service's pod by every form of name; ExternalName as a CNAME chased
# upstream; kubernetes.default; PTR of the pod's address; names outside the cluster forwarded
# to the upstream named in `--resolv-conf` (dnsmasq on 127.0.0.1 in the test's namespace); the
# pods' /etc/resolv.conf per dnsPolicy (ClusterFirst, ClusterFirstWithHostNet on hostNetwork,
# Default, None + dnsConfig); and the node's own processes reaching 10.43.0.10 (output path).
. "$(dirname "$0")/lib.sh"
e2e_init
for tool in dig dnsmasq; do
	command -v "$tool" >/dev/null || e2e_skip "$tool is not installed (run \`make deps\`)"
done
e2e_node_init

# The upstream: dnsmasq on 127.0.0.1:53 knows www.example; other .example names are NXDOMAIN.
bg dnsmasq dnsmasq --keep-in-foreground --no-resolv --no-hosts --user=root --pid-file= \
	--listen-address=127.0.0.1 --port=53 --bind-interfaces --log-facility=- --log-queries \
	--local=/example/ --host-record=www.example,192.0.2.80 --local-ttl=60
wait_for 10 dig +time=1 +tries=1 @127.0.0.1 www.example || e2e_fail "dnsmasq did not start"
printf 'search corp.example\nnameserver 127.0.0.1\noptions timeout:2\n' >"$E2E_DIR/host-resolv.conf"

E2E_DATA=$E2E_DIR/data
"$EDGEK" image import --data-dir "$E2E_DATA" "$E2E_IMAGE" >/dev/null
e2e_start_server "${E2E_NODE_FLAGS[@]}" --resolv-conf "$E2E_DIR/host-resolv.conf" \
	--log-level info,dns=debug
node_ready() { k get nodes | grep -q ' Ready '; }
wait_for 30 node_ready || e2e_fail "the local node never became Ready: $(k get nodes 2>&1)"
NODE=$(k get nodes -o jsonpath='{.items[0].metadata.name}')
wait_for 20 grep -q 'cluster DNS listening' "$E2E_DIR/server.log" ||
	e2e_fail "the agent's DNS server never listened"
expect_contains "$(grep 'cluster DNS started' "$E2E_DIR/server.log")" "upstreams=127.0.0.1:53" \
	"upstreams from --resolv-conf"

phase_is() { [ "$(k get pod "${@:3}" "$1" -o jsonpath='{.status.phase}')" = "$2" ]; }
ready_eps() { [ -n "$(k get endpointslices -n shop -l kubernetes.io/service-name="$1" \
	-o jsonpath='{.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}')" ]; }

# ---- a web server behind a ClusterIP Service and a headless one (StatefulSet-style names) ----
k create namespace shop >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}}
spec:
  nodeName: $NODE
  hostname: web-0
  subdomain: web
  containers:
  - name: httpd
    image: busybox:e2e
    command: [sh, -c, 'mkdir -p /www && echo hello-from-web > /www/index.html && exec busybox httpd -f -p 8080 -h /www']
---
apiVersion: v1
kind: Service
metadata: {name: websvc, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: shop}
spec:
  type: ExternalName
  externalName: www.example
EOF
wait_for 60 phase_is web-0 Running -n shop || e2e_fail "web-0 not Running: $(k get pods -n shop 2>&1)"
wait_for 30 ready_eps web || e2e_fail "no ready endpoint for web: $(k get endpointslices -n shop -o yaml)"
WEB_IP=$(k get pod -n shop web-0 -o jsonpath='{.status.podIP}')
SVC_IP=$(k get svc -n shop websvc -o jsonpath='{.spec.clusterIP}')
KUBE_IP=$(k get svc kubernetes -o jsonpath='{.spec.clusterIP}')
[ -n "$WEB_IP" ] && [ -n "$SVC_IP" ] || e2e_fail "no pod IP or ClusterIP"

# A TCP DNS query for kubernetes.default.svc.cluster.local A, as printf octal escapes (2-byte
# length prefix, id 0x4242, RD).
tcp_query() {
	local q="" l
	for l in kubernetes default svc cluster local; do q+=$(printf '\\%03o' ${#l})$l; done
	q="\\102\\102\\001\\000\\000\\001\\000\\000\\000\\000\\000\\000${q}\\000\\000\\001\\000\\001"
	local len=$((12 + 1 + 10 + 1 + 7 + 1 + 3 + 1 + 7 + 1 + 5 + 1 + 4))
	printf '\\000\\%03o%s' "$len" "$q"
}

# (busybox 1.35's wget crashes with -T: each wget runs under `timeout` instead.)
# ---- one client pod runs every lookup and prints labelled results ----
cat >"$E2E_DIR/client.sh" <<EOF
for i in \$(seq 50); do busybox nslookup -type=a websvc >/dev/null 2>&1 && break; sleep 0.2; done
echo "== resolv"; cat /etc/resolv.conf
echo "== short"; busybox nslookup -type=a websvc
echo "== svcns"; busybox ping -c 1 -W 1 websvc.shop 2>&1 | head -n 1
echo "== full"; busybox nslookup -type=a websvc.shop.svc.cluster.local
echo "== kube"; busybox ping -c 1 -W 1 kubernetes.default 2>&1 | head -n 1
echo "== kube-full"; busybox nslookup -type=a kubernetes.default.svc.cluster.local
echo "== sts"; busybox nslookup -type=a web-0.web.shop.svc.cluster.local
echo "== ext"; busybox nslookup -type=a ext
echo "== outside"; busybox nslookup -type=a www.example
echo "== missing"; busybox nslookup -type=a nope.shop.svc.cluster.local; echo "rc=\$?"
echo "== ptr"; busybox nslookup $WEB_IP
echo "== srv"; busybox nslookup -type=srv _http._tcp.web.shop.svc.cluster.local
echo "== wget-svc"; busybox timeout 10 busybox wget -q -O - http://websvc/index.html
echo "== wget-svc-ns"; busybox timeout 10 busybox wget -q -O - http://websvc.shop/index.html
echo "== wget-svc-full"; busybox timeout 10 busybox wget -q -O - http://websvc.shop.svc.cluster.local/index.html
echo "== wget"; busybox timeout 10 busybox wget -q -O - http://web:8080/index.html
echo "== wget-ns"; busybox timeout 10 busybox wget -q -O - http://web.shop:8080/index.html
echo "== wget-sts"; busybox timeout 10 busybox wget -q -O - http://web-0.web.shop.svc.cluster.local:8080/index.html
echo "== tcp"; printf '$(tcp_query)' | busybox nc -w 3 10.43.0.10 53 | busybox od -An -tx1 -v | tr -d ' \n'; echo
echo "== end"
EOF
k create configmap -n shop client-script --from-file=client.sh="$E2E_DIR/client.sh" >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec:
  nodeName: $NODE
  restartPolicy: Never
  containers:
  - {name: c, image: busybox:e2e, command: [sh, /s/client.sh], volumeMounts: [{name: s, mountPath: /s}]}
  volumes: [{name: s, configMap: {name: client-script}}]
EOF
wait_for 90 phase_is client Succeeded -n shop ||
	e2e_fail "client pod did not finish: $(k get pod -n shop client 2>&1) $(k logs -n shop client 2>&1)"
LOG=$(k logs -n shop client)
# section NAME: the lines between "== NAME" and the next "==".
section() { awk -v s="== $1" '$0 == s {on = 1; next} /^== / {on = 0} on' <<<"$LOG"; }
echo "$LOG" | grep -q '^== end' || e2e_fail "client script did not finish: $LOG"

expect_eq "$(section resolv)" "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example
nameserver 10.43.0.10
options ndots:5" "ClusterFirst resolv.conf"
# busybox nslookup applies the search list to dotless names only; <svc>.<ns> goes through the
# libc resolver (ndots:5) as applications do: ping prints the address it resolved.
for s in short full; do
	expect_contains "$(section $s)" "Name:	websvc.shop.svc.cluster.local
Address: $SVC_IP" "lookup by $s name"
done
expect_contains "$(section svcns)" "PING websvc.shop ($SVC_IP)" "<svc>.<ns> through the search list"
expect_contains "$(section short)" "Server:		10.43.0.10" "answered at the cluster DNS address"
expect_contains "$(section kube)" "PING kubernetes.default ($KUBE_IP)" "kubernetes.default"
expect_contains "$(section kube-full)" "Address: $KUBE_IP" "kubernetes.default.svc.cluster.local"
expect_contains "$(section sts)" "Address: $WEB_IP" "StatefulSet-style name"
expect_contains "$(section ext)" "canonical name = www.example" "ExternalName CNAME"
expect_contains "$(section ext)" "Address: 192.0.2.80" "ExternalName chased upstream"
expect_contains "$(section outside)" "Address: 192.0.2.80" "forwarded to the upstream"
expect_contains "$(section missing)" "NXDOMAIN" "unknown service"
expect_contains "$(section missing)" "rc=1" "unknown service fails nslookup"
expect_contains "$(section ptr)" "name = web-0.web.shop.svc.cluster.local" "PTR of the pod"
expect_contains "$(section srv)" "8080 web-0.web.shop.svc.cluster.local" "SRV of a named port"
for s in wget-svc wget-svc-ns wget-svc-full; do
	expect_eq "$(section $s)" "hello-from-web" "$s: wget through the ClusterIP Service by name"
done
expect_eq "$(section wget)" "hello-from-web" "wget by headless short name"
expect_eq "$(section wget-ns)" "hello-from-web" "wget by <svc>.<ns>"
expect_eq "$(section wget-sts)" "hello-from-web" "wget by StatefulSet-style name"
kube_hex=$(printf '%02x' ${KUBE_IP//./ })
expect_contains "$(section tcp)" "$kube_hex" "TCP answer carries kubernetes' ClusterIP"
grep -q 'www.example from 127.0.0.1\|query\[A\] www.example' "$E2E_DIR/dnsmasq.log" ||
	e2e_fail "dnsmasq never saw the forwarded query"

# ---- resolv.conf per dnsPolicy; a hostNetwork pod with ClusterFirstWithHostNet resolves ----
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: hostnet, namespace: shop}
spec:
  nodeName: $NODE
  restartPolicy: Never
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  containers:
  - {name: c, image: busybox:e2e, command: [sh, -c, 'cat /etc/resolv.conf; echo ==; busybox nslookup -type=a websvc; busybox timeout 10 busybox wget -q -O - http://web-0.web:8080/index.html']}
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet-default, namespace: shop}
spec:
  nodeName: $NODE
  restartPolicy: Never
  hostNetwork: true
  containers: [{name: c, image: busybox:e2e, command: [cat, /etc/resolv.conf]}]
---
apiVersion: v1
kind: Pod
metadata: {name: default-policy, namespace: shop}
spec:
  nodeName: $NODE
  restartPolicy: Never
  dnsPolicy: Default
  containers: [{name: c, image: busybox:e2e, command: [cat, /etc/resolv.conf]}]
---
apiVersion: v1
kind: Pod
metadata: {name: none-policy, namespace: shop}
spec:
  nodeName: $NODE
  restartPolicy: Never
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.53]
    searches: [a.example, b.example]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  containers: [{name: c, image: busybox:e2e, command: [cat, /etc/resolv.conf]}]
---
apiVersion: v1
kind: Pod
metadata: {name: merged, namespace: shop}
spec:
  nodeName: $NODE
  restartPolicy: Never
  dnsConfig:
    searches: [extra.example]
    options: [{name: ndots, value: "3"}, {name: single-request}]
  containers: [{name: c, image: busybox:e2e, command: [cat, /etc/resolv.conf]}]
EOF
for p in hostnet hostnet-default default-policy none-policy merged; do
	wait_for 60 phase_is $p Succeeded -n shop ||
		e2e_fail "$p did not succeed: $(k get pod -n shop $p 2>&1) $(k logs -n shop $p 2>&1)"
done
out=$(k logs -n shop hostnet)
expect_contains "$out" "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example
nameserver 10.43.0.10
options ndots:5" "ClusterFirstWithHostNet resolv.conf"
expect_contains "$out" "Address: $SVC_IP" "hostNetwork pod resolves through the output path"
expect_contains "$out" "hello-from-web" "hostNetwork pod reaches the pod by name"
host_file=$(cat "$E2E_DIR/host-resolv.conf")
expect_eq "$(k logs -n shop hostnet-default)" "$host_file" "hostNetwork + ClusterFirst = Default"
expect_eq "$(k logs -n shop default-policy)" "$host_file" "dnsPolicy Default"
expect_eq "$(k logs -n shop none-policy)" "search a.example b.example
nameserver 192.0.2.53
options ndots:2 edns0" "dnsPolicy None + dnsConfig"
expect_eq "$(k logs -n shop merged)" "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example extra.example
nameserver 10.43.0.10
options ndots:3 single-request" "ClusterFirst + dnsConfig"

# ---- the node itself: 10.43.0.10 over UDP and TCP, answered on the node ----
expect_eq "$(dig +short +time=2 +tries=1 @10.43.0.10 websvc.shop.svc.cluster.local)" "$SVC_IP" \
	"node -> 10.43.0.10 (UDP)"
expect_eq "$(dig +short +tcp +time=2 +tries=1 @10.43.0.10 web.shop.svc.cluster.local)" "$WEB_IP" \
	"node -> 10.43.0.10 (TCP)"
# Changes reach the answers through the informers: a new Service, then its deletion.
k create service clusterip -n shop late --tcp=81:81 >/dev/null
LATE_IP=$(k get svc -n shop late -o jsonpath='{.spec.clusterIP}')
late_is() { [ "$(dig +short +time=1 +tries=1 @10.43.0.10 late.shop.svc.cluster.local)" = "$1" ]; }
wait_for 10 late_is "$LATE_IP" || e2e_fail "a new Service never resolved"
k delete service -n shop late >/dev/null
wait_for 10 late_is "" || e2e_fail "a deleted Service still resolves"
expect_contains "$(dig +time=2 +tries=1 @10.43.0.10 late.shop.svc.cluster.local)" "status: NXDOMAIN" \
	"deleted Service is NXDOMAIN"
# kube-dns has no endpoints; its label keeps the service proxy from rejecting it.
expect_eq "$(k -n kube-system get svc kube-dns -o jsonpath='{.metadata.labels.service\.kubernetes\.io/service-proxy-name}')" \
	edgek-dns "kube-dns left to the DNS steering"
# Nothing listens at 10.43.0.10 itself: the answer came from the gateway through the DNAT.
nft list chain ip edgek dns-prerouting | grep -q 'ip daddr 10.43.0.10 .*dport 53 dnat to' ||
	e2e_fail "no DNS steering rule: $(nft list table ip edgek)"
echo "ok: cluster DNS from pods"
