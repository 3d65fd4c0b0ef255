#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Cluster DNS as a pod meets it. `edgek dns-test` (the agent's DNS server fed from a file of
# objects instead of informers) answers on 127.0.0.53:53 inside the test's network namespace;
# dnsmasq on 127.0.0.1:5300 plays the host's upstream resolver. A resolv.conf like the kubelet
# writes for dnsPolicy ClusterFirst is bind-mounted over /etc/resolv.conf (private mount
# namespace), so glibc's getent resolves short names through the search list as a pod would;
# dig and busybox nslookup check record shapes, TCP, truncation, PTR, SRV, forwarding, the cache
# and the air-gapped case (upstream gone).
. "$(dirname "$0")/lib.sh"
e2e_init

for tool in dig dnsmasq getent; do
	command -v "$tool" >/dev/null || e2e_skip "$tool is not installed (run \`make deps\`)"
done
BUSYBOX=$(command -v busybox || true)

DNS=127.0.0.53
RECORDS=$E2E_DIR/records.yaml
cp "$E2E_ROOT/tests/e2e/dns/records.yaml" "$RECORDS"

ip addr add 127.0.0.53/8 dev lo 2>/dev/null || true
bg dnsmasq dnsmasq --keep-in-foreground --no-resolv --no-hosts --user=root \
	--pid-file= --listen-address=127.0.0.1 --port=5300 --bind-interfaces --log-facility=- \
	--local=/example/ --address=/outside.example/192.0.2.10 \
	--host-record=www.example,192.0.2.80 --host-record=mail.example,192.0.2.25 \
	--local-ttl=300 --log-queries
UP_PID=$BG_PID
bg edgek-dns "$EDGEK" dns-test --records "$RECORDS" --listen "$DNS:53" \
	--upstream 127.0.0.1:5300 --cluster-dns 10.43.0.10 --upstream-timeout-ms 500
DNS_PID=$BG_PID
wait_for 10 dig +time=1 +tries=1 @127.0.0.1 -p 5300 www.example || e2e_fail "dnsmasq did not start"
wait_for 10 grep -q '^ready' "$E2E_DIR/edgek-dns.log" || e2e_fail "dns-test did not start"

printf 'nameserver %s\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n' \
	"$DNS" >"$E2E_DIR/resolv.conf"
mount --bind "$E2E_DIR/resolv.conf" /etc/resolv.conf

q() { dig +time=2 +tries=1 @"$DNS" "$@"; }
short() { q +short "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
status() { q "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }

# Services by full name, and by short name through the pod's search list (glibc).
expect_eq "$(short web.shop.svc.cluster.local)" "10.43.12.7" "ClusterIP A"
expect_eq "$(getent hosts web | awk '{print $1}')" "10.43.12.7" "short name via search list"
expect_eq "$(getent hosts web.shop | awk '{print $1}')" "10.43.12.7" "svc.ns via search list"
expect_eq "$(getent hosts kubernetes.default | awk '{print $1}')" "10.43.0.1" "kubernetes.default"
expect_eq "$(short WEB.Shop.SVC.Cluster.Local)" "10.43.12.7" "case-insensitive"

# NODATA vs NXDOMAIN, each with the zone's SOA.
out=$(q web.shop.svc.cluster.local AAAA)
expect_contains "$out" "status: NOERROR" "AAAA of an IPv4 service is NODATA"
expect_contains "$out" "cluster.local.		5	IN	SOA	ns.dns.cluster.local. hostmaster.cluster.local." "SOA in NODATA"
out=$(q nope.shop.svc.cluster.local)
expect_contains "$out" "status: NXDOMAIN" "unknown service"
expect_contains "$out" "IN	SOA	ns.dns.cluster.local." "SOA in NXDOMAIN"
expect_eq "$(status shop.svc.cluster.local)" NOERROR "an existing namespace is NODATA"
expect_eq "$(status nons.svc.cluster.local)" NXDOMAIN "an unknown namespace"
expect_contains "$(q +short cluster.local SOA)" "ns.dns.cluster.local. hostmaster.cluster.local." "apex SOA"
expect_eq "$(short cluster.local NS)" "ns.dns.cluster.local." "apex NS"
expect_eq "$(short ns.dns.cluster.local)" "10.43.0.10" "ns.dns A"

# SRV for named ports, with the target's address in the additional section.
expect_eq "$(short _http._tcp.web.shop.svc.cluster.local SRV)" "0 100 80 web.shop.svc.cluster.local." "SRV http"
expect_eq "$(short _dns._udp.web.shop.svc.cluster.local SRV)" "0 100 53 web.shop.svc.cluster.local." "SRV dns/udp"
out=$(q _http._tcp.web.shop.svc.cluster.local SRV)
expect_contains "$out" "web.shop.svc.cluster.local. 5	IN	A	10.43.12.7" "SRV additional A"
expect_eq "$(status _nope._tcp.web.shop.svc.cluster.local SRV)" NXDOMAIN "SRV for an unknown port"

# Headless: one A per ready endpoint, StatefulSet names, SRV per endpoint, none ready: NXDOMAIN.
expect_eq "$(short db.shop.svc.cluster.local)" "10.42.0.21 10.42.0.22" "headless: ready endpoints only"
expect_eq "$(short db-0.db.shop.svc.cluster.local)" "10.42.0.21" "StatefulSet pod name"
expect_eq "$(getent hosts db-1.db | awk '{print $1}')" "10.42.0.22" "pod name via search list"
expect_eq "$(status db-2.db.shop.svc.cluster.local)" NXDOMAIN "a not-ready endpoint has no name"
expect_eq "$(short _pg._tcp.db.shop.svc.cluster.local SRV)" \
	"0 50 5432 db-0.db.shop.svc.cluster.local. 0 50 5432 db-1.db.shop.svc.cluster.local." "headless SRV"
expect_eq "$(status empty.shop.svc.cluster.local)" NXDOMAIN "headless without ready endpoints"

# Pods by address, PTR for services, endpoints and pods.
expect_eq "$(short 10-42-0-30.shop.pod.cluster.local)" "10.42.0.30" "pod A record"
expect_eq "$(short -x 10.43.12.7)" "web.shop.svc.cluster.local." "PTR of a ClusterIP"
expect_eq "$(short -x 10.42.0.21)" "db-0.db.shop.svc.cluster.local." "PTR of an endpoint"
expect_eq "$(short -x 10.42.0.30)" "10-42-0-30.shop.pod.cluster.local." "PTR of a pod"

# ExternalName: a CNAME, chased through the upstream for the client.
out=$(q ext.shop.svc.cluster.local)
expect_contains "$out" "ext.shop.svc.cluster.local. 5	IN	CNAME	outside.example." "ExternalName CNAME"
expect_contains "$out" "outside.example.	30	IN	A	192.0.2.10" "ExternalName target address"
expect_eq "$(getent hosts ext | awk '{print $1}')" "192.0.2.10" "ExternalName via glibc"

# Names outside the cluster: forwarded, NXDOMAIN passed on, then served from the cache.
expect_eq "$(short www.example)" "192.0.2.80" "forwarded name"
expect_eq "$(status nope.example)" NXDOMAIN "forwarded NXDOMAIN"
n1=$(grep -c 'query\[A\] www.example' "$E2E_DIR/dnsmasq.log")
expect_eq "$(short www.example)" "192.0.2.80" "forwarded name again"
n2=$(grep -c 'query\[A\] www.example' "$E2E_DIR/dnsmasq.log")
expect_eq "$n2" "$n1" "second lookup came from the cache"
ttl=$(q +noall +answer www.example | awk '{print $2}')
[ "$ttl" -le 30 ] || e2e_fail "cached TTL $ttl above the 30 s cap"

# busybox nslookup (what a busybox-based pod image has).
if [ -n "$BUSYBOX" ]; then
	out=$("$BUSYBOX" nslookup web.shop.svc.cluster.local "$DNS")
	expect_contains "$out" "10.43.12.7" "busybox nslookup A"
	out=$("$BUSYBOX" nslookup -type=srv _pg._tcp.db.shop.svc.cluster.local "$DNS")
	expect_contains "$out" "db-0.db.shop.svc.cluster.local" "busybox nslookup SRV"
	out=$("$BUSYBOX" nslookup 10.42.0.22 "$DNS")
	expect_contains "$out" "db-1.db.shop.svc.cluster.local" "busybox nslookup PTR"
fi

# UDP answers over 512 bytes are truncated (TC); dig then retries over TCP and gets them all.
flags=$(q +noedns +ignore big.shop.svc.cluster.local | sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p')
expect_eq "$flags" "qr aa tc rd ra" "TC over UDP without EDNS"
expect_eq "$(q +noedns +short big.shop.svc.cluster.local | wc -l)" 40 "all 40 over TCP after TC"
expect_eq "$(q +tcp +short big.shop.svc.cluster.local | wc -l)" 40 "all 40 over TCP"
expect_eq "$(q +bufsize=1232 +short big.shop.svc.cluster.local | wc -l)" 40 "all 40 with EDNS 1232"

# Informer updates: the service goes away (SIGHUP reloads the file without it).
sed -i '/^metadata: {name: web, namespace: shop}/,/^---/d' "$RECORDS"
grep -q 'name: web,' "$RECORDS" && e2e_fail "test bug: web still in records"
kill -HUP "$DNS_PID"
wait_for 5 bash -c "[ \"\$(dig +time=1 +tries=1 @$DNS web.shop.svc.cluster.local | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')\" = NXDOMAIN ]" ||
	e2e_fail "deleted service still answered"

# A board that boots before its network: no route to the resolver at first (SERVFAIL at once),
# and forwarding works as soon as the route exists, without a restart.
bg edgek-dns2 "$EDGEK" dns-test --records "$RECORDS" --listen 127.0.0.54:53 \
	--upstream 192.0.2.53 --upstream-timeout-ms 500 >/dev/null
wait_for 10 grep -q '^ready' "$E2E_DIR/edgek-dns2.log" || e2e_fail "second dns-test did not start"
start=$(date +%s%N)
expect_eq "$(dig +time=2 +tries=1 @127.0.0.54 www.example | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')" \
	SERVFAIL "no route to the upstream: SERVFAIL"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 900 ] || e2e_fail "SERVFAIL without a route took ${ms} ms (2 tries would take 1000)"
ip addr add 192.0.2.53/32 dev lo
bg dnsmasq2 dnsmasq --keep-in-foreground --no-resolv --no-hosts --user=root --pid-file= \
	--listen-address=192.0.2.53 --bind-interfaces --log-facility=- --local=/example/ \
	--host-record=www.example,192.0.2.80 >/dev/null
wait_for 10 dig +time=1 +tries=1 @192.0.2.53 www.example || e2e_fail "second dnsmasq did not start"
expect_eq "$(dig +time=2 +tries=1 +short @127.0.0.54 www.example)" "192.0.2.80" \
	"forwarding works once the route exists"

# Air-gapped: the upstream is gone. Outside names fail fast with SERVFAIL, cached ones still
# answer until they expire, cluster names are unaffected.
kill "$UP_PID"
wait "$UP_PID" 2>/dev/null || true
start=$(date +%s%N)
expect_eq "$(status mail.example)" SERVFAIL "no upstream: SERVFAIL"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 900 ] || e2e_fail "SERVFAIL took ${ms} ms (2 timed-out tries would take 1000)"
expect_eq "$(short www.example)" "192.0.2.80" "cached name without upstream"
expect_eq "$(short db-0.db.shop.svc.cluster.local)" "10.42.0.21" "cluster names without upstream"

# Garbage on the wire is ignored or FORMERR, never a crash.
head -c 300 /dev/urandom >"$E2E_DIR/junk"
for _ in 1 2 3; do
	bash -c "cat $E2E_DIR/junk >/dev/udp/$DNS/53" || true
done
printf '\x12\x34\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00' >"$E2E_DIR/two-questions"
bash -c "cat $E2E_DIR/two-questions >/dev/udp/$DNS/53" || true
expect_eq "$(short kubernetes.default.svc.cluster.local)" "10.43.0.1" "alive after garbage"
kill -0 "$DNS_PID" || e2e_fail "dns-test died"
echo "ok"
