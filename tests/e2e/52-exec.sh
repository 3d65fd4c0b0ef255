#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kubectl exec, attach and port-forward through the API server to the agent's kubelet, with
# kubectl 1.32 (WebSocket v5.channel.k8s.io, port-forward as SPDY inside WebSocket) and 1.27
# (SPDY/3.1): output, piped stdin, exit codes ("command terminated with exit code 3"), an
# interactive shell on a terminal driven through `script` (a pty) with a resize, attach to a
# running container's output, a port-forward to a busybox httpd answered to curl on loopback,
# and errors a user sees (a missing command, a missing container, attach with stdin).
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_node_init

E2E_DATA=$E2E_DIR/data
"$EDGEK" image import --data-dir "$E2E_DATA" "$E2E_IMAGE" >/dev/null
e2e_start_server "${E2E_NODE_FLAGS[@]}" --log-level info,kubelet=debug
wait_for 20 sh -c "'$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' get nodes | grep -q ' Ready '" ||
	e2e_fail "the local node never became Ready: $(k get nodes 2>&1)"
NODE=$(k get nodes -o jsonpath='{.items[0].metadata.name}')

cat >"$E2E_DIR/pods.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: box}
spec:
  nodeName: $NODE
  containers:
  - name: main
    image: busybox:e2e
    command: [sh, -c, 'i=0; while true; do i=\$((i+1)); echo "tick \$i"; echo "warn \$i" >&2; sleep 0.3; done']
    env: [{name: GREETING, value: hello-from-env}]
  - name: web
    image: busybox:e2e
    command: [sh, -c, 'busybox mkdir -p /www && echo "served by httpd in the pod" > /www/index.html && exec busybox httpd -f -p 127.0.0.1:8080 -h /www']
EOF
k apply -f "$E2E_DIR/pods.yaml" >/dev/null
k wait --for=condition=Ready pod/box --timeout=60s >/dev/null || e2e_fail "pod box never Ready: $(k describe pod box)"

for ver in 1.32 1.27; do
	export KUBECTL=kubectl.$ver
	echo "== kubectl $ver"
	# output, environment and identity of the container
	out=$(k exec box -c main -- sh -c 'echo out $GREETING; echo err >&2; cat /etc/hostname' 2>/dev/null)
	expect_contains "$out" "out hello-from-env" "exec stdout with the container's env ($ver)"
	expect_contains "$out" "box" "exec sees the pod's hostname ($ver)"
	err=$(k exec box -c main -- sh -c 'echo to-stderr >&2' 2>&1 >/dev/null)
	expect_eq "$err" "to-stderr" "exec stderr ($ver)"
	# exit codes
	rc=0
	msg=$(k exec box -c main -- sh -c 'exit 3' 2>&1) || rc=$?
	expect_eq "$rc" 3 "kubectl exec exit code ($ver)"
	expect_contains "$msg" "command terminated with exit code 3" "exit code message ($ver)"
	# piped stdin, ended by EOF
	got=$(printf 'line1\nline2\n' | k exec -i box -c main -- sh -c 'read a; echo got=$a; cat')
	expect_contains "$got" "got=line1" "stdin reached the process ($ver)"
	expect_contains "$got" "line2" "stdin content ($ver)"
	big=$(head -c 300000 /dev/zero | tr '\0' x | k exec -i box -c main -- busybox wc -c)
	expect_eq "$(echo $big)" 300000 "300 kB through stdin ($ver)"
	# an interactive shell on a terminal (script gives kubectl a pty)
	tty_out=$( { sleep 1; echo 'echo TTY=$(busybox tty)'; sleep 1; echo 'exit 7'; } |
		script -qec "$KUBECTL_DIR/$KUBECTL --kubeconfig $E2E_KUBECONFIG exec -it box -c main -- sh" /dev/null || echo "rc=$?")
	expect_contains "$tty_out" "TTY=/dev/pts/" "exec -it gets a terminal ($ver): $tty_out"
	case "$tty_out" in *"job control turned off"*) e2e_fail "the shell has no controlling terminal ($ver)" ;; esac
	expect_contains "$tty_out" "rc=7" "exec -it exit code ($ver): $tty_out"
	# errors
	rc=0
	msg=$(k exec box -c main -- no-such-command 2>&1) || rc=$?
	[ $rc -ne 0 ] || e2e_fail "a missing command succeeded ($ver)"
	expect_contains "$msg" "no-such-command" "missing command named ($ver): $msg"
	msg=$(k exec box -c nope -- true 2>&1) && e2e_fail "exec in a missing container succeeded"
	expect_contains "$msg" "container nope is not valid" "missing container ($ver)"
	# attach: the running container's output as it comes
	att=$(timeout 3 "$KUBECTL_DIR/$KUBECTL" --kubeconfig "$E2E_KUBECONFIG" attach box -c main 2>&1) || true
	expect_contains "$att" "tick" "attach streams stdout ($ver): $att"
	expect_contains "$att" "warn" "attach streams stderr ($ver)"
	msg=$(k attach -i box -c main 2>&1 </dev/null) && e2e_fail "attach -i succeeded"
	expect_contains "$msg" "not supported" "attach stdin refused ($ver): $msg"
	# port-forward to httpd listening on the pod's loopback only
	port=$((18080 + ${ver#1.}))
	bg pf-$ver "$KUBECTL_DIR/$KUBECTL" --kubeconfig "$E2E_KUBECONFIG" port-forward pod/box "$port:8080"
	pf=$BG_PID
	wait_for 15 curl -sf "http://127.0.0.1:$port/" >/dev/null ||
		e2e_fail "port-forward never answered ($ver): $(cat "$E2E_DIR/pf-$ver.log")"
	expect_eq "$(curl -s "http://127.0.0.1:$port/")" "served by httpd in the pod" "port-forward body ($ver)"
	for i in 1 2 3 4 5; do
		curl -sf "http://127.0.0.1:$port/" >/dev/null || e2e_fail "port-forward request $i failed ($ver)"
	done
	kill "$pf"
done

# ---- kubectl top, from the kubelet's cgroup readings through metrics.k8s.io ----
export KUBECTL=kubectl.1.32
k api-resources --api-group=metrics.k8s.io | grep -q PodMetrics || e2e_fail "metrics.k8s.io not discovered"
# a busy loop in the container; ending kubectl ends it (the kubelet kills what it exec'd)
timeout 8 "$KUBECTL_DIR/$KUBECTL" --kubeconfig "$E2E_KUBECONFIG" exec box -c main -- sh -c 'while :; do :; done' &
busy=$!
sleep 2
tn=$(k top nodes) || e2e_fail "kubectl top nodes failed: $tn"
echo "$tn"
echo "$tn" | grep -Eq "^$NODE +[0-9]+m +[0-9]+% +[0-9]+Mi +[0-9]+%" || e2e_fail "top nodes shows no numbers: $tn"
tp=$(k top pods --containers) || e2e_fail "kubectl top pods failed: $tp"
echo "$tp"
echo "$tp" | grep -Eq "^box +main +[0-9]+m +[0-9]+Mi" || e2e_fail "top pods shows no numbers for box/main: $tp"
cpu=$(echo "$tp" | awk '$1 == "box" && $2 == "main" { sub("m", "", $3); print $3 }')
[ "$cpu" -ge 50 ] || e2e_fail "a busy shell in box/main shows ${cpu}m CPU"
wait $busy || true
wait_for 10 sh -c "! '$KUBECTL_DIR/$KUBECTL' --kubeconfig '$E2E_KUBECONFIG' top pods --containers | awk '\$1 == \"box\" && \$2 == \"main\" { sub(\"m\", \"\", \$3); exit !(\$3 > 300) }'" ||
	e2e_fail "the busy loop kept running after kubectl exec ended"
k get --raw /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/box | grep -q '"kind":"PodMetrics"' ||
	e2e_fail "PodMetrics for box"
echo "PASS"
