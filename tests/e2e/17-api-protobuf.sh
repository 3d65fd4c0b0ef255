#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kubectl 1.32's typed commands send protobuf bodies (create configmap|secret|namespace|
# deployment|job|cronjob|role|rolebinding|clusterrole|clusterrolebinding|quota|pdb|ingress|
# serviceaccount|priorityclass|service, create token, auth can-i, auth whoami, certificate
# approve|deny); kubectl 1.27 sends JSON for the same commands. Both must create objects that
# read back the same. Then the edges, with raw requests: unknown field numbers are skipped,
# malformed bodies are 400, custom resources are 415 naming the kind.
. "$(dirname "$0")/lib.sh"
e2e_init
e2e_start_server --disable-agent
F=$(dirname "$0")/../fixtures/protobuf

get() { k get "$@" 2>&1; }

# creates SUFFIX: every typed create subcommand, names ending in SUFFIX, read back.
creates() {
	local s=$1
	k create namespace "ns$s" >/dev/null
	expect_eq "$(get ns "ns$s" -o jsonpath='{.status.phase}')" Active "namespace$s"
	k create configmap "cm$s" --from-literal=a=b --from-literal=c=d >/dev/null
	expect_eq "$(get cm "cm$s" -o jsonpath='{.data.a}{.data.c}')" bd "configmap$s"
	k create secret generic "s$s" --from-literal=pw=s3cret >/dev/null
	expect_eq "$(get secret "s$s" -o jsonpath='{.data.pw}' | base64 -d)" s3cret "secret$s bytes"
	expect_eq "$(get secret "s$s" -o jsonpath='{.type}')" Opaque "secret$s type"
	k create secret docker-registry "reg$s" --docker-server=r.example --docker-username=u \
		--docker-password=p >/dev/null
	expect_contains "$(get secret "reg$s" -o jsonpath='{.data.\.dockerconfigjson}' | base64 -d)" \
		'"r.example"' "docker-registry secret$s"
	# replicas 0 is a pointer set to zero: it must not become the default 1.
	k create deployment "web$s" --image=nginx:1.25 --replicas=0 --port=80 >/dev/null
	expect_eq "$(get deploy "web$s" -o jsonpath='{.spec.replicas}')" 0 "deployment$s replicas"
	expect_eq "$(get deploy "web$s" -o jsonpath='{.spec.template.spec.containers[0].ports[0].containerPort}')" \
		80 "deployment$s port"
	expect_eq "$(get deploy "web$s" -o jsonpath='{.spec.selector.matchLabels.app}')" "web$s" "deployment$s selector"
	expect_eq "$(get deploy "web$s" -o jsonpath='{.spec.strategy.type}')" RollingUpdate "deployment$s defaults"
	k create job "j$s" --image=busybox -- echo hi >/dev/null
	expect_eq "$(get job "j$s" -o jsonpath='{.spec.template.spec.containers[0].command}')" \
		'["echo","hi"]' "job$s command"
	k create cronjob "cj$s" --image=busybox --schedule='*/5 * * * *' -- echo hi >/dev/null
	expect_eq "$(get cronjob "cj$s" -o jsonpath='{.spec.schedule}')" '*/5 * * * *' "cronjob$s"
	k create job "jf$s" --from="cronjob/cj$s" >/dev/null
	expect_eq "$(get job "jf$s" -o jsonpath='{.metadata.ownerReferences[0].name}')" "cj$s" "job$s from cronjob"
	k create role "r$s" --verb=get,list --resource=pods,deployments.apps >/dev/null
	expect_eq "$(get role "r$s" -o jsonpath='{.rules[1].apiGroups[0]}/{.rules[1].verbs}')" \
		'apps/["get","list"]' "role$s"
	k create rolebinding "rb$s" --role="r$s" --user=u1 --serviceaccount=default:sa1 >/dev/null
	expect_eq "$(get rolebinding "rb$s" -o jsonpath='{.roleRef.name} {.subjects[1].kind}')" \
		"r$s ServiceAccount" "rolebinding$s"
	k create clusterrole "cr$s" --verb=get --non-resource-url=/healthz >/dev/null
	expect_eq "$(get clusterrole "cr$s" -o jsonpath='{.rules[0].nonResourceURLs[0]}')" /healthz "clusterrole$s"
	k create clusterrolebinding "crb$s" --clusterrole="cr$s" --group=g1 >/dev/null
	expect_eq "$(get clusterrolebinding "crb$s" -o jsonpath='{.subjects[0].name}')" g1 "clusterrolebinding$s"
	k create quota "q$s" --hard=pods=10,cpu=1500m,memory=1Gi >/dev/null
	expect_eq "$(get quota "q$s" -o jsonpath='{.spec.hard.cpu} {.spec.hard.memory}')" "1500m 1Gi" "quota$s"
	# minAvailable 0 is a pointer IntOrString set to the integer 0.
	k create pdb "pdb$s" --selector=app=web --min-available=0 >/dev/null
	expect_eq "$(get pdb "pdb$s" -o jsonpath='{.spec.minAvailable}')" 0 "pdb$s"
	k create pdb "pdbm$s" --selector=app=web --max-unavailable=50% >/dev/null
	expect_eq "$(get pdb "pdbm$s" -o jsonpath='{.spec.maxUnavailable}')" 50% "pdb$s percent"
	k create ingress "ing$s" --class=default --rule="foo.com/bar*=svc1:8080,tls=cert$s" >/dev/null
	expect_eq "$(get ingress "ing$s" -o jsonpath='{.spec.rules[0].http.paths[0].pathType} {.spec.rules[0].http.paths[0].backend.service.port.number} {.spec.tls[0].secretName}')" \
		"Prefix 8080 cert$s" "ingress$s"
	k create serviceaccount "sa$s" >/dev/null
	get sa "sa$s" -o name >/dev/null || e2e_fail "serviceaccount$s"
	k create priorityclass "pc$s" --value=1000 --description=hi --preemption-policy=Never >/dev/null
	expect_eq "$(get priorityclass "pc$s" -o jsonpath='{.value} {.preemptionPolicy}')" "1000 Never" "priorityclass$s"
	k create service clusterip "svc$s" --tcp=80:8080 >/dev/null
	expect_eq "$(get svc "svc$s" -o jsonpath='{.spec.ports[0].targetPort}')" 8080 "service$s targetPort"
	case "$(get svc "svc$s" -o jsonpath='{.spec.clusterIP}')" in
	10.43.*) ;;
	*) e2e_fail "service$s: no cluster IP" ;;
	esac
	k create service nodeport "np$s" --tcp=80:8080 >/dev/null
	expect_eq "$(get svc "np$s" -o jsonpath='{.spec.type}')" NodePort "service$s nodeport"
	k create service externalname "ext$s" --external-name=example.com >/dev/null
	expect_eq "$(get svc "ext$s" -o jsonpath='{.spec.externalName}')" example.com "service$s externalname"
}

creates 32
KUBECTL=kubectl.1.27 creates 27

# create token: the token authenticates as the account (which may do nothing yet).
port=$(sed -n 's/.*server: https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$E2E_KUBECONFIG")
as_token() {
	"$KUBECTL_DIR/$1" --kubeconfig /dev/null --server "https://127.0.0.1:$port" \
		--certificate-authority "$E2E_DATA/server/tls/server-ca.crt" --token "$2" "${@:3}" </dev/null
}
for v in 32 27; do
	tok=$(KUBECTL=kubectl.1.$v k create token sa32 --duration=2h)
	[ -n "$tok" ] || e2e_fail "create token ($v): empty"
	expect_eq "$(as_token kubectl.1.27 "$tok" auth can-i list pods 2>&1 || true)" no "token ($v) authenticates"
done
tok=$(k create token sa32 --audience=https://kubernetes.default.svc.cluster.local)
expect_eq "$(as_token kubectl.1.32 "$tok" auth whoami -o jsonpath='{.status.userInfo.username}')" \
	system:serviceaccount:default:sa32 "whoami as the token"
out=$(expect_fail as_token kubectl.1.32 not-a-token get pods)
expect_contains "$out" Unauthorized "a bad token still fails"

# auth can-i (SelfSubjectAccessReview) and auth whoami (SelfSubjectReview).
for v in 32 27; do
	expect_eq "$(KUBECTL=kubectl.1.$v k auth can-i create deployments.apps --subresource=scale -n ns32)" yes "can-i ($v)"
	expect_eq "$(KUBECTL=kubectl.1.$v k auth can-i get /healthz)" yes "can-i non-resource ($v)"
	expect_eq "$(as_token kubectl.1.$v "$tok" auth can-i get pods 2>&1 || true)" no "can-i denied ($v)"
done
k create rolebinding sa32-view --clusterrole=view --serviceaccount=default:sa32 >/dev/null
expect_eq "$(as_token kubectl.1.32 "$tok" auth can-i get pods)" yes "can-i after binding (protobuf rolebinding)"
expect_contains "$(k auth whoami)" "system:masters" "whoami"
# auth can-i --list (SelfSubjectRulesReview).
for v in 32 27; do
	out=$(KUBECTL=kubectl.1.$v as_token kubectl.1.$v "$tok" auth can-i --list)
	expect_contains "$out" "pods " "can-i --list ($v): view grants pods"
	expect_contains "$out" "[get list watch]" "can-i --list ($v): verbs"
	expect_contains "$(KUBECTL=kubectl.1.$v k auth can-i --list)" "*.*" "can-i --list ($v): admin"
done

# certificate approve|deny: a PUT of the whole CSR to …/approval.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$E2E_DIR/csr.key" \
	-subj "/CN=alice/O=devs" -out "$E2E_DIR/csr.pem" 2>/dev/null
csr() {
	printf '{"apiVersion":"certificates.k8s.io/v1","kind":"CertificateSigningRequest","metadata":{"name":"%s"},"spec":{"request":"%s","signerName":"kubernetes.io/kube-apiserver-client","usages":["client auth"]}}' \
		"$1" "$(base64 -w0 "$E2E_DIR/csr.pem")" | k create -f - >/dev/null
}
for v in 32 27; do
	csr "ok$v"
	csr "no$v"
	expect_contains "$(KUBECTL=kubectl.1.$v k certificate approve "ok$v")" approved "approve ($v)"
	expect_contains "$(KUBECTL=kubectl.1.$v k certificate deny "no$v")" denied "deny ($v)"
	expect_eq "$(get csr "ok$v" -o jsonpath='{.status.conditions[0].type}')" Approved "approved ($v)"
	expect_eq "$(get csr "no$v" -o jsonpath='{.status.conditions[0].type}')" Denied "denied ($v)"
	expect_eq "$(get csr "ok$v" -o jsonpath='{.spec.request}' | base64 -d | head -1)" \
		"-----BEGIN CERTIFICATE REQUEST-----" "request kept ($v)"
done

# drain: cordon (patch) and evictions; --disable-eviction deletes with DeleteOptions.
printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"edge1"}}' | k create -f - >/dev/null
for p in p1 p2; do
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","labels":{"pod":"%s"}},"spec":{"nodeName":"edge1","containers":[{"name":"c","image":"busybox"}]}}' \
		"$p" "$p" | k create -f - >/dev/null
done
out=$(k drain edge1 --force --grace-period=0 --pod-selector=pod=p1 --timeout=20s 2>&1) ||
	e2e_fail "drain: $out"
expect_contains "$out" "pod/p1 evicted" "drain evicts"
out=$(k drain edge1 --force --grace-period=0 --disable-eviction --timeout=20s 2>&1) || e2e_fail "drain --disable-eviction: $out"
expect_contains "$out" "pod/p2 deleted" "drain deletes"
expect_eq "$(get node edge1 -o jsonpath='{.spec.unschedulable}')" true "cordoned"

# Raw protobuf requests: a recorded kubectl 1.32 body (ConfigMap cm1), then variations.
xxd -r -p "$F/configmap.hex" >"$E2E_DIR/cm.pb"
kubeconfig_field() { sed -n "s/^ *$1: //p" "$E2E_KUBECONFIG" | head -1 | base64 -d; }
kubeconfig_field client-certificate-data >"$E2E_DIR/admin.crt"
kubeconfig_field client-key-data >"$E2E_DIR/admin.key"
post() { # post PATH BODYFILE → "CODE BODY"
	curl -sk --cert "$E2E_DIR/admin.crt" --key "$E2E_DIR/admin.key" -w ' %{http_code}' \
		-H 'Content-Type: application/vnd.kubernetes.protobuf' -H 'Accept: application/json' \
		--data-binary @"$2" "https://127.0.0.1:$port$1"
}
out=$(post '/api/v1/namespaces/default/configmaps?fieldValidation=Strict' "$E2E_DIR/cm.pb")
expect_contains "$out" ' 201' "raw protobuf create"
expect_eq "$(get cm cm1 -o jsonpath='{.data.a}{.data.c}')" bd "raw protobuf object"
# Unknown field numbers are skipped, as Kubernetes skips them, even with Strict.
{ cat "$E2E_DIR/cm.pb"; printf '\x4a\x03abc'; } >"$E2E_DIR/unknown.pb"
out=$(post '/api/v1/namespaces/ns32/configmaps?fieldValidation=Strict' "$E2E_DIR/unknown.pb")
expect_contains "$out" ' 201' "unknown field number"
head -c 40 "$E2E_DIR/cm.pb" >"$E2E_DIR/cut.pb"
out=$(post /api/v1/namespaces/ns27/configmaps "$E2E_DIR/cut.pb")
expect_contains "$out" ' 400' "truncated body"
expect_contains "$out" "runs past the end of its message" "truncated body message"
printf 'not protobuf' >"$E2E_DIR/bad.pb"
out=$(post /api/v1/namespaces/ns27/configmaps "$E2E_DIR/bad.pb")
expect_contains "$out" 'expected prefix [107 56 115 0]' "no magic"
# The body's kind is checked against the URL as for JSON.
out=$(post /api/v1/namespaces/default/secrets "$E2E_DIR/cm.pb")
expect_contains "$out" 'the kind in the data (ConfigMap) does not match the expected kind (Secret)' "kind mismatch"
# Custom resources have no protobuf form (as in Kubernetes): 415 naming the kind.
cat <<'Y' | k create -f - >/dev/null
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
Y
wait_for 10 k get widgets || e2e_fail "CRD never served"
out=$(post /apis/example.com/v1/namespaces/default/widgets "$E2E_DIR/cm.pb")
expect_contains "$out" ' 415' "custom resource"
expect_contains "$out" 'widgets.example.com' "custom resource named"
echo PASS
