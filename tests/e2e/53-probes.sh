#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Probes and lifecycle hooks on `edgek server`'s local agent, seen through real kubectl: an
# exec liveness probe that starts failing restarts the container (Unhealthy and Killing events
# worded as Kubernetes'); an httpGet readiness probe on a named port takes the pod out of the
# Service's Endpoints when it fails and puts it back when it passes (a tcpSocket liveness probe
# on the same container keeps passing); a startup probe holds `started` and Ready until it
# passes; a grpc probe follows a real gRPC health server (SERVING, NOT_SERVING, an unknown
# service, nothing listening); HTTPS probes and hooks do not verify certificates; a postStart hook runs (and a failing one
# kills its container: FailedPostStartHook); preStop runs before SIGTERM on deletion; a
# liveness failure runs preStop before the restart; a sleep preStop delays SIGTERM; an agent
# restart keeps a ready pod ready.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

E2E_DATA=$E2E_DIR/data
"$EDGEK" image import --data-dir "$E2E_DATA" "$E2E_IMAGE" >/dev/null
mkdir -p "$E2E_DIR/www" "$E2E_DIR/host"
echo ok >"$E2E_DIR/www/ready"
e2e_start_server "${E2E_NODE_FLAGS[@]}" --log-level info,kubelet=debug
# An HTTPS server with a self-signed certificate for the HTTPS probe and hook (not verified,
# as the kubelet does not verify).
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=probe -days 1 -keyout "$E2E_DIR/tls.key" \
	-out "$E2E_DIR/tls.crt" >/dev/null 2>&1
bg tls openssl s_server -quiet -www -accept 8443 -cert "$E2E_DIR/tls.crt" -key "$E2E_DIR/tls.key"
GRPC_PID=
if /usr/bin/python3 -c 'import grpc' 2>/dev/null; then
	echo SERVING >"$E2E_DIR/grpc-state"
	bg grpc /usr/bin/python3 "$E2E_ROOT/tests/e2e/grpc/health_server.py" 127.0.0.1:9000 "$E2E_DIR/grpc-state"
	GRPC_PID=$BG_PID
fi
node_ready() { k get nodes 2>/dev/null | grep -q ' Ready '; }
wait_for 20 node_ready || e2e_fail "the local node never became Ready: $(k get nodes 2>&1)"
NODE=$(k get nodes -o jsonpath='{.items[0].metadata.name}')

cat >"$E2E_DIR/pods.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 5
  containers:
  - name: c
    image: busybox:e2e
    command: [sh, -c, 'touch /tmp/healthy; echo up; sleep 3; rm /tmp/healthy; exec sleep 100000']
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 2
    lifecycle:
      preStop: {exec: {command: [sh, -c, 'echo live-prestop >> /host/live']}}
    volumeMounts: [{name: h, mountPath: /host}]
  volumes: [{name: h, hostPath: {path: $E2E_DIR/host, type: Directory}}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: $NODE
  containers:
  - name: c
    image: busybox:e2e
    command: [busybox, httpd, -f, -p, '8080', -h, /www]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /ready, port: http, httpHeaders: [{name: X-Probe, value: edgek}]}
      periodSeconds: 1
      failureThreshold: 1
    livenessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
    lifecycle:
      postStart: {exec: {command: [sh, -c, 'echo poststart-ran > /host/poststart']}}
    volumeMounts:
    - {name: www, mountPath: /www}
    - {name: h, mountPath: /host}
  volumes:
  - {name: www, hostPath: {path: $E2E_DIR/www, type: Directory}}
  - {name: h, hostPath: {path: $E2E_DIR/host, type: Directory}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  nodeName: $NODE
  containers:
  - name: c
    image: busybox:e2e
    command: [sh, -c, 'sleep 6; touch /tmp/started; exec sleep 100000']
    startupProbe:
      exec: {command: [cat, /tmp/started]}
      periodSeconds: 1
      failureThreshold: 30
---
apiVersion: v1
kind: Pod
metadata: {name: rpc}
spec:
  nodeName: $NODE
  hostNetwork: true
  containers:
  - name: c
    image: busybox:e2e
    command: [sleep, '100000']
    readinessProbe:
      grpc: {port: 9000, service: app}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: rpc-unknown}
spec:
  nodeName: $NODE
  hostNetwork: true
  containers:
  - name: c
    image: busybox:e2e
    command: [sleep, '100000']
    readinessProbe:
      grpc: {port: 9000, service: nope}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: tls}
spec:
  nodeName: $NODE
  hostNetwork: true
  containers:
  - name: c
    image: busybox:e2e
    command: [sleep, '100000']
    readinessProbe:
      httpGet: {scheme: HTTPS, port: 8443, path: /}
      periodSeconds: 1
    lifecycle:
      postStart: {httpGet: {scheme: HTTPS, port: 8443, path: /}}
---
apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 10
  containers:
  - name: c
    image: busybox:e2e
    command: [sh, -c, 'trap "date +%s > /host/sleeper-term; exit 0" TERM; while true; do sleep 0.2 & wait; done']
    lifecycle:
      preStop: {sleep: {seconds: 3}}
    volumeMounts: [{name: h, mountPath: /host}]
  volumes: [{name: h, hostPath: {path: $E2E_DIR/host, type: Directory}}]
---
apiVersion: v1
kind: Pod
metadata: {name: rpc-closed}
spec:
  nodeName: $NODE
  containers:
  - name: c
    image: busybox:e2e
    command: [sleep, '100000']
    readinessProbe:
      grpc: {port: 9000}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: badhook}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:e2e
    command: [sleep, '100000']
    lifecycle:
      postStart: {exec: {command: [sh, -c, 'echo hook says no; exit 3']}}
---
apiVersion: v1
kind: Pod
metadata: {name: stopper}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 20
  containers:
  - name: c
    image: busybox:e2e
    command: [sh, -c, 'trap "echo term >> /host/order; exit 0" TERM; echo started; while true; do sleep 0.2 & wait; done']
    lifecycle:
      preStop: {exec: {command: [sh, -c, 'echo prestop >> /host/order; sleep 1; echo prestop-done >> /host/order']}}
    volumeMounts: [{name: h, mountPath: /host}]
  volumes: [{name: h, hostPath: {path: $E2E_DIR/host, type: Directory}}]
EOF
k create -f "$E2E_DIR/pods.yaml" >/dev/null

jp_is() { [ "$(podjp "$1" "$2")" = "$3" ]; }
jp_ge() { local v; v=$(podjp "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }
events_of() { k get events --field-selector "involvedObject.name=$1" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'; }
event_has() { events_of "$1" | grep -qF -- "$2"; }
ready() { jp_is "$1" '{.status.conditions[?(@.type=="Ready")].status}' True; }
not_ready() { jp_is "$1" '{.status.conditions[?(@.type=="Ready")].status}' False; }
eps() { k get endpoints web -o jsonpath='{.subsets[*].addresses[*].ip}'; }
eps_is() { [ "$(eps)" = "$1" ]; }
nr_eps() { k get endpoints web -o jsonpath='{.subsets[*].notReadyAddresses[*].ip}'; }

# The startup probe's container is running but not started (nor Ready) for its first 6 s.
wait_for 5 jp_is slow '{.status.phase}' Running || e2e_fail "slow not Running: $(k get pod slow -o yaml)"
expect_eq "$(podjp slow '{.status.containerStatuses[0].started}')" false "started before the startup probe passed"
not_ready slow || e2e_fail "slow Ready before its startup probe passed"

# ---- readiness (httpGet on a named port) drives Ready and the Endpoints ----
wait_for 30 ready web || e2e_fail "web never Ready: $(k get pod web -o yaml)"
IP=$(podjp web '{.status.podIP}')
[ -n "$IP" ] || e2e_fail "web has no IP"
wait_for 15 eps_is "$IP" || e2e_fail "web's IP not in the Endpoints: [$(eps)]"
expect_eq "$(cat "$E2E_DIR/host/poststart" 2>&1)" "poststart-ran" "the postStart hook ran in the container"
rm "$E2E_DIR/www/ready"
wait_for 15 not_ready web || e2e_fail "web still Ready after its readiness endpoint went away"
wait_for 15 eps_is "" || e2e_fail "web still in the Endpoints after failing readiness: [$(eps)]"
expect_eq "$(nr_eps)" "$IP" "the unready pod listed under notReadyAddresses"
expect_eq "$(podjp web '{.status.containerStatuses[0].ready}')" false "container ready false"
wait_for 10 event_has web "Readiness probe failed: HTTP probe failed with statuscode: 404" ||
	e2e_fail "no Unhealthy event for the readiness failure: $(events_of web)"
echo ok >"$E2E_DIR/www/ready"
wait_for 15 ready web || e2e_fail "web not Ready again after its endpoint came back"
wait_for 15 eps_is "$IP" || e2e_fail "web not back in the Endpoints: [$(eps)]"
expect_eq "$(podjp web '{.status.containerStatuses[0].restartCount}')" 0 \
	"the passing tcpSocket liveness probe restarted nothing"

# ---- liveness (exec) that starts failing: restarted, with Kubernetes' events ----
wait_for 40 jp_ge live '{.status.containerStatuses[0].restartCount}' 1 ||
	e2e_fail "live never restarted: $(k get pod live; events_of live)"
wait_for 10 event_has live "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory" ||
	e2e_fail "no Unhealthy event worded like Kubernetes': $(events_of live)"
event_has live "Container c failed liveness probe, will be restarted" ||
	e2e_fail "no Killing event: $(events_of live)"
expect_contains "$(cat "$E2E_DIR/host/live")" "live-prestop" "preStop ran before the liveness restart"
wait_for 15 jp_is live '{.status.phase}' Running || e2e_fail "live not Running again"

# ---- startup probe: not started (and not Ready) until it passes ----
wait_for 20 ready slow || e2e_fail "slow never Ready after its startup probe passed: $(events_of slow)"
expect_eq "$(podjp slow '{.status.containerStatuses[0].started}')" true "started after the startup probe"
expect_eq "$(podjp slow '{.status.containerStatuses[0].restartCount}')" 0 "slow not restarted"

# ---- grpc: grpc.health.v1 Check against a real gRPC server (python3-grpcio) ----
# The hostNetwork pods' IP is the node's (127.0.0.1 here), where the test's server listens.
if [ -n "$GRPC_PID" ]; then
	wait_for 15 ready rpc || e2e_fail "rpc not Ready with a SERVING health service: $(events_of rpc)"
	# (replaced, not rewritten in place: the server must never read a half-written file)
	echo NOT_SERVING >"$E2E_DIR/grpc-state.new" && mv "$E2E_DIR/grpc-state.new" "$E2E_DIR/grpc-state"
	wait_for 10 not_ready rpc || e2e_fail "rpc still Ready after the service went NOT_SERVING"
	event_has rpc 'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")' ||
		e2e_fail "no NOT_SERVING event: $(events_of rpc)"
	echo SERVING >"$E2E_DIR/grpc-state.new" && mv "$E2E_DIR/grpc-state.new" "$E2E_DIR/grpc-state"
	wait_for 10 ready rpc || e2e_fail "rpc not Ready again"
	wait_for 10 event_has rpc-unknown "Readiness probe failed: rpc error" ||
		e2e_fail "no rpc error for an unknown service: $(events_of rpc-unknown)"
	not_ready rpc-unknown || e2e_fail "rpc-unknown Ready for an unknown service"
else
	echo "# grpc server part skipped: /usr/bin/python3 has no grpc module (python3-grpcio)" >&2
fi
wait_for 10 event_has rpc-closed "Readiness probe failed: failed to connect service" ||
	e2e_fail "no connect failure for a port nothing listens on: $(events_of rpc-closed)"
not_ready rpc-closed || e2e_fail "rpc-closed Ready with nothing listening"

# ---- HTTPS (unverified) readiness probe and postStart httpGet hook ----
wait_for 15 ready tls || e2e_fail "tls not Ready with an HTTPS readiness probe: $(events_of tls)"
expect_eq "$(podjp tls '{.status.containerStatuses[0].restartCount}')" 0 "the httpGet postStart hook passed"

# ---- a failing postStart kills its container ----
wait_for 20 event_has badhook "FailedPostStartHook" || e2e_fail "no FailedPostStartHook event: $(events_of badhook)"
events=$(events_of badhook)
expect_contains "$events" 'Exec lifecycle hook ([sh -c echo hook says no; exit 3]) for Container "c"' "hook event names the command"
expect_contains "$events" "hook says no" "hook event carries the output"
expect_contains "$events" "Killing: FailedPostStartHook" "Killing event after the failed hook"
wait_for 20 jp_ge badhook '{.status.containerStatuses[0].restartCount}' 1 ||
	e2e_fail "badhook's container not restarted after its postStart failed: $(k get pod badhook -o yaml)"
not_ready badhook || e2e_fail "badhook Ready"

# ---- preStop runs before SIGTERM when the pod is deleted ----
wait_for 20 ready stopper || e2e_fail "stopper never Ready"
start=$SECONDS
k delete pod stopper --wait=true --timeout=30s >/dev/null
expect_eq "$(cat "$E2E_DIR/host/order" | xargs)" "prestop prestop-done term" "preStop ran (all of it) before SIGTERM"
[ $((SECONDS - start)) -lt 15 ] || e2e_fail "deletion took $((SECONDS - start)) s: SIGTERM came late"

# ---- a sleep preStop hook delays SIGTERM ----
wait_for 20 ready sleeper || e2e_fail "sleeper never Ready"
t0=$(date +%s)
k delete pod sleeper --wait=true --timeout=30s >/dev/null
term=$(cat "$E2E_DIR/host/sleeper-term" 2>/dev/null || echo 0)
[ $((term - t0)) -ge 2 ] && [ $((term - t0)) -le 6 ] ||
	e2e_fail "SIGTERM came $((term - t0)) s after the delete, want about 3 (preStop sleep 3)"

# ---- an agent restart keeps a ready pod ready (no trip out of the Endpoints) ----
ready_since=$(podjp web '{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
e2e_start_server "${E2E_NODE_FLAGS[@]}" --log-level info,kubelet=debug
wait_for 20 grep -q "adopted pod=default/web" "$E2E_DIR/server.log" || e2e_fail "web not adopted"
sleep 3 # a few probe periods
ready web || e2e_fail "web not Ready after the agent restarted"
expect_eq "$(podjp web '{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')" "$ready_since" \
	"web's Ready condition went through a transition across the agent restart"
expect_eq "$(eps)" "$IP" "web in the Endpoints after the agent restart"

echo "ok 53-probes"
