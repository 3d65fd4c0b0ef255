#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Deployments as kubectl sees them, on simulated nodes (pods bound to sim-N turn Ready):
# rollout status, a rolling update whose pod counts are recorded from a watch and checked
# against maxSurge/maxUnavailable at every step, rollout history with change causes, undo,
# pause/resume, restart, scaling (and proportional scaling of a stuck rollout),
# revisionHistoryLimit, Recreate (no old and new pods at once), an exceeded progress deadline,
# and deletion.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent --simulate-nodes 3
KBIN=$KUBECTL
[ -x "$KUBECTL_DIR/$KBIN" ] && KBIN=$KUBECTL_DIR/$KBIN

# deploy NAME REPLICAS [EXTRA-SPEC-YAML] [NODE]: a Deployment of app=NAME on node NODE.
deploy() {
	local name=$1 replicas=$2 extra=${3:-} node=${4:-sim-0}
	cat <<EOF | k apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $name
  annotations:
    kubernetes.io/change-cause: initial
spec:
  replicas: $replicas
  selector:
    matchLabels:
      app: $name
$extra
  template:
    metadata:
      labels:
        app: $name
    spec:
      nodeName: $node
      containers:
      - name: app
        image: nginx:1.25
EOF
}

# watch_pods APP: records "TYPE|NAME|DELETION|READY" per pod event; prints the watcher's PID.
watch_pods() {
	local f="$E2E_DIR/watch-$1.log"
	"$KBIN" --kubeconfig "$E2E_KUBECONFIG" get pods -l "app=$1" -w --output-watch-events \
		-o jsonpath='{.type}|{.object.metadata.name}|{.object.metadata.deletionTimestamp}|{.object.status.conditions[?(@.type=="Ready")].status}{"\n"}' \
		>"$f" 2>&1 &
	E2E_PIDS+=($!)
	WATCH_PID=$!
	wait_for 10 lines_at_least "$f" "$2" || e2e_fail "watch of $1 never listed $2 pods"
}

lines_at_least() { [ "$(grep -c '|' "$1")" -ge "$2" ]; }
# wait_for runs a command again and again: these read the cluster afresh each time.
sizes_are() { [ "$(sizes "$1")" = "$2" ]; }
field_is() { [ "$(k get "$1" -o jsonpath="$2")" = "$3" ]; }
count_is() { [ "$(k get "${@:2}" -o name | wc -l)" = "$1" ]; }

stop_watch() {
	sleep 0.5 # the last events still on their way
	kill "$WATCH_PID" 2>/dev/null || true
	wait "$WATCH_PID" 2>/dev/null || true
}

# Pods that exist (not being deleted) and those Ready, after every event: "max-total min-ready".
pod_extremes() {
	awk -F'|' -v skip="$2" '
	{ if ($1 == "DELETED" || $3 != "") { delete alive[$2]; delete ready[$2] }
	  else { alive[$2] = 1; ready[$2] = ($4 == "True") }
	  t = 0; r = 0; for (p in alive) { t++; if (ready[p]) r++ }
	  if (NR > skip) { if (t > max) max = t; if (min == "" || r < min) min = r } }
	END { print max + 0, min + 0 }' "$E2E_DIR/watch-$1.log"
}

rs_of() { k get rs -l "app=$1" -o jsonpath='{range .items[*]}{.metadata.name}={.spec.replicas}{" "}{end}'; }

# ---- a 3-replica Deployment goes Ready; names, labels, annotations as Kubernetes makes them
deploy web 4 '  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}'
out=$(k rollout status deploy/web --timeout=30s)
expect_contains "$out" 'deployment "web" successfully rolled out' "rollout status"
rs1=$(k get rs -l app=web -o jsonpath='{.items[0].metadata.name}')
hash1=$(k get rs "$rs1" -o jsonpath='{.metadata.labels.pod-template-hash}')
expect_eq "$rs1" "web-$hash1" "ReplicaSet named <deployment>-<pod-template-hash>"
case "$hash1" in *[!456789bcdf]*) e2e_fail "hash outside the safe-encoding digits: $hash1" ;; esac
expect_eq "$(k get rs "$rs1" -o jsonpath='{.spec.selector.matchLabels.pod-template-hash}')" "$hash1" "selector hash"
expect_eq "$(k get pods -l "pod-template-hash=$hash1" -o name | wc -l)" 4 "pods carry the hash label"
expect_eq "$(k get rs "$rs1" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" 1 "rs revision"
expect_eq "$(k get rs "$rs1" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/max-replicas}')" 5 "max-replicas"
expect_eq "$(k get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" 1 "deployment revision"
expect_eq "$(k get rs "$rs1" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].controller}')" "Deployment/true" "owner"
expect_eq "$(k get deploy web -o jsonpath='{.status.readyReplicas}/{.status.availableReplicas}/{.status.updatedReplicas}')" "4/4/4" "status counts"
expect_eq "$(k get deploy web -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')" NewReplicaSetAvailable "Progressing reason"
expect_eq "$(k get deploy web -o jsonpath='{.status.conditions[?(@.type=="Available")].reason}')" MinimumReplicasAvailable "Available reason"
expect_contains "$(k get events --field-selector involvedObject.name=web)" "Scaled up replica set $rs1 from 0 to 4" "scaling event"

# ---- set image rolls within maxSurge=1 / maxUnavailable=1: never > 5 pods, never < 3 ready
watch_pods web 4
k set image deploy/web app=nginx:1.26 >/dev/null
k annotate deploy web kubernetes.io/change-cause="image 1.26" --overwrite >/dev/null
out=$(k rollout status deploy/web --timeout=30s)
expect_contains "$out" 'deployment "web" successfully rolled out' "rollout status after set image"
stop_watch
read -r max min <<<"$(pod_extremes web 4)"
echo "# rolling update 4 replicas, maxSurge 1, maxUnavailable 1: at most $max pods, at least $min ready"
[ "$max" -le 5 ] || e2e_fail "more than replicas+maxSurge pods during the rollout: $max"
[ "$min" -ge 3 ] || e2e_fail "fewer than replicas-maxUnavailable ready pods during the rollout: $min"
[ "$(grep -c '^ADDED' "$E2E_DIR/watch-web.log")" -ge 8 ] || e2e_fail "the watch saw no new pods"
expect_eq "$(k get pods -l app=web -o jsonpath='{.items[*].spec.containers[0].image}')" "nginx:1.26 nginx:1.26 nginx:1.26 nginx:1.26" "new image everywhere"
expect_eq "$(k get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" 2 "revision 2"
expect_eq "$(rs_of web | tr ' ' '\n' | grep -c '=0$')" 1 "old ReplicaSet scaled to 0 and kept"

# ---- history, undo
out=$(k rollout history deploy/web)
expect_contains "$out" "1         initial" "history revision 1"
expect_contains "$out" "2         image 1.26" "history revision 2"
expect_eq "$(k rollout undo deploy/web)" "deployment.apps/web rolled back" "undo"
k rollout status deploy/web --timeout=30s >/dev/null
expect_eq "$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')" nginx:1.25 "undo restores the template"
expect_eq "$(k get rs "$rs1" -o jsonpath='{.spec.replicas}/{.metadata.annotations.deployment\.kubernetes\.io/revision}/{.metadata.annotations.deployment\.kubernetes\.io/revision-history}')" "4/3/1" "the old ReplicaSet is revision 3 now"
out=$(k rollout history deploy/web)
expect_contains "$out" "3         initial" "history after undo"
case "$out" in *"1         initial"*) e2e_fail "revision 1 still listed after undo: $out" ;; esac
expect_contains "$(k rollout undo deploy/web --to-revision=3)" "skipped rollback (current template already matches revision 3)" "undo to current"

# ---- pause, resume
k rollout pause deploy/web >/dev/null
k set image deploy/web app=nginx:1.27 >/dev/null
sleep 1
expect_eq "$(k get rs -l app=web -o name | wc -l)" 2 "paused: no new ReplicaSet"
expect_eq "$(k get deploy web -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')" DeploymentPaused "paused condition"
expect_contains "$(expect_fail k rollout undo deploy/web)" "you cannot rollback a paused deployment" "undo while paused"
k rollout resume deploy/web >/dev/null
k rollout status deploy/web --timeout=30s >/dev/null
expect_eq "$(k get pods -l app=web -o jsonpath='{.items[*].spec.containers[0].image}')" "nginx:1.27 nginx:1.27 nginx:1.27 nginx:1.27" "resumed rollout"

# ---- restart
k rollout restart deploy/web >/dev/null
k rollout status deploy/web --timeout=30s >/dev/null
[ -n "$(k get deploy web -o jsonpath='{.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}')" ] || e2e_fail "restartedAt missing"
expect_eq "$(k get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" 5 "restart is revision 5"

# ---- scale up and down; revisionHistoryLimit
k scale deploy/web --replicas=6 >/dev/null
wait_for 20 field_is deploy/web '{.status.availableReplicas}' 6 || e2e_fail "scale up"
k scale deploy/web --replicas=2 >/dev/null
wait_for 20 count_is 2 pods -l app=web || e2e_fail "scale down"
k patch deploy web -p '{"spec":{"revisionHistoryLimit":1}}' >/dev/null
wait_for 20 count_is 2 rs -l app=web || e2e_fail "revisionHistoryLimit 1: $(rs_of web)"

# ---- proportional scaling of a rollout that cannot finish (new pods never become ready)
deploy prop 10 '  strategy:
    rollingUpdate: {maxSurge: 3, maxUnavailable: 2}'
k rollout status deploy/prop --timeout=30s >/dev/null
k patch deploy prop -p '{"spec":{"template":{"spec":{"nodeName":"nowhere"}}}}' >/dev/null
sizes() { k get rs -l "app=$1" -o jsonpath='{range .items[*]}{.spec.replicas}{" "}{end}' | tr ' ' '\n' | sort -n | tr '\n' ' '; }
# maxSurge 3: the new ReplicaSet grows to 3 and then 5 as the old one loses its 2 spare pods.
wait_for 20 sizes_are prop "5 8 " || e2e_fail "prop rollout start: $(rs_of prop)"
wait_for 20 field_is deploy/prop '{.status.replicas}' 13 || e2e_fail "prop pods"
k scale deploy/prop --replicas=20 >/dev/null
# 20+3 = 23 pods, shared as 8/13 and 5/13 of 23 (14.2 and 8.8, rounded): 14 and 9.
wait_for 20 sizes_are prop "9 14 " || e2e_fail "proportional scale: $(rs_of prop)"
echo "# proportional scaling 10→20 mid-rollout (maxSurge 3): ReplicaSets 8+5 became 14+9"
wait_for 20 field_is deploy/prop '{.status.replicas}' 23 || e2e_fail "prop pods after scale"

# ---- Recreate: the old pods are gone before any new one starts
deploy batch 3 '  strategy:
    type: Recreate'
k rollout status deploy/batch --timeout=30s >/dev/null
old=$(k get rs -l app=batch -o jsonpath='{.items[0].metadata.labels.pod-template-hash}')
watch_pods batch 3
k set image deploy/batch app=nginx:1.26 >/dev/null
k rollout status deploy/batch --timeout=30s >/dev/null
stop_watch
overlap=$(awk -F'|' -v old="batch-$old-" '
	{ if ($1 == "DELETED" || $3 != "") delete alive[$2]; else alive[$2] = 1
	  o = 0; n = 0; for (p in alive) { if (index(p, old) == 1) o++; else n++ }
	  if (o > 0 && n > 0) bad = 1 }
	END { print bad + 0 }' "$E2E_DIR/watch-batch.log")
expect_eq "$overlap" 0 "Recreate: old and new pods never together"
expect_eq "$(k get pods -l app=batch -o jsonpath='{.items[*].spec.containers[0].image}')" "nginx:1.26 nginx:1.26 nginx:1.26" "Recreate rolled"

# ---- progress deadline: pods bound to a node that does not exist never become ready
deploy stuck 1 '  progressDeadlineSeconds: 2' nowhere
out=$(expect_fail k rollout status deploy/stuck --timeout=30s)
expect_contains "$out" 'error: deployment "stuck" exceeded its progress deadline' "deadline exceeded"
expect_eq "$(k get deploy stuck -o jsonpath='{.status.conditions[?(@.type=="Progressing")].status}/{.status.conditions[?(@.type=="Available")].status}')" "False/False" "conditions when stuck"

# ---- deletion: the ReplicaSets carry what the garbage collector follows
uid=$(k get deploy web -o jsonpath='{.metadata.uid}')
for rs in $(k get rs -l app=web -o name); do
	expect_eq "$(k get "$rs" -o jsonpath='{.metadata.ownerReferences[0].uid}/{.metadata.ownerReferences[0].blockOwnerDeletion}')" "$uid/true" "$rs owner reference"
done
k delete deploy web >/dev/null
if wait_for 5 count_is 0 rs,pods -l app=web; then
	echo "# cascading delete removed the ReplicaSets and pods"
else
	echo "# no garbage collector removed the ReplicaSets: checked their owner references only"
fi
expect_fail k get deploy web >/dev/null
echo "ok"
