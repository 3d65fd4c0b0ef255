#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Images as a user meets them: `edgek image import/ls/rm/prune` on archives built from
# busybox (OCI layout, docker save, compressed), then `edgek image pull` from Debian's
# docker-registry on 127.0.0.1 with TLS (a test CA given through registries.yaml) and basic
# auth (registries.yaml or a dockerconfigjson), through a mirror with a rewrite, and the
# errors a user sees for bad archives, wrong credentials, missing images and corrupt blobs.
. "$(dirname "$0")/lib.sh"
e2e_init

command -v docker-registry >/dev/null || e2e_skip "docker-registry is not installed"
command -v skopeo >/dev/null || e2e_skip "skopeo is not installed"
command -v htpasswd >/dev/null || e2e_skip "htpasswd (apache2-utils) is not installed"

MK=$E2E_ROOT/tests/fixtures/mkimage.sh
D=$E2E_DIR/data
img() { "$EDGEK" image --data-dir "$D" --private-registry "$E2E_DIR/registries.yaml" "$@"; }
: >"$E2E_DIR/registries.yaml"

# ---- import, ls, rm, prune ----
"$MK" oci "$E2E_DIR/oci.tar" docker.io/library/bb:oci
"$MK" docker "$E2E_DIR/docker.tar" bb:legacy
"$MK" docker25 "$E2E_DIR/d25.tar.zst" bb:d25
INDEX=1 "$MK" oci "$E2E_DIR/multi.tar.gz" example.com:5000/team/bb:multi
LAYERS=base,tag:second "$MK" docker "$E2E_DIR/second.tar" other/second:v1
gzip -1 -c "$E2E_DIR/second.tar" >"$E2E_DIR/second.tgz"

out=$(img import "$E2E_DIR/oci.tar" "$E2E_DIR/docker.tar" "$E2E_DIR/d25.tar.zst" \
	"$E2E_DIR/multi.tar.gz" "$E2E_DIR/second.tgz")
expect_contains "$out" "imported docker.io/library/bb:oci" "OCI import"
expect_contains "$out" "imported docker.io/library/bb:legacy" "docker save import (normalised name)"
expect_contains "$out" "imported docker.io/library/bb:d25" "Docker 25 import"
expect_contains "$out" "imported example.com:5000/team/bb:multi" "index import, registry with port"
expect_contains "$out" "imported docker.io/other/second:v1" "second image"

ls=$(img ls)
expect_contains "$ls" "REPOSITORY" "ls header"
expect_contains "$(echo "$ls" | grep 'example.com:5000/team/bb ')" "multi" "ls splits tag"
[ "$(echo "$ls" | wc -l)" = 6 ] || e2e_fail "ls should list 5 names: $ls"
# Two images share the busybox base layer: it is on disk once.
nlayers=$(ls "$D/agent/images/layers" | wc -l)
expect_eq "$nlayers" 3 "layers shared between images (base, extra, tag)"

out=$(img rm bb:oci)
expect_contains "$out" "removed bb:oci" "rm by short name"
ls=$(img ls)
case $ls in *":oci"* | *" oci "*) e2e_fail "bb:oci still listed: $ls" ;; esac
expect_contains "$ls" "d25" "the other name of the same image stays"

out=$(expect_fail img rm docker.io/library/nothere:1)
expect_contains "$out" "not found" "rm of a missing image"

img rm bb:d25 bb:legacy example.com:5000/team/bb:multi >/dev/null
out=$(img prune)
expect_contains "$out" "freed" "prune reports space"
expect_eq "$(ls "$D/agent/images/layers" | wc -l)" 2 "only the remaining image's layers stay"
expect_eq "$(ls "$D/agent/images/tmp" | wc -l)" 0 "no staging debris"

# ---- bad archives: clear errors, store unchanged ----
head -c 700000 "$E2E_DIR/oci.tar" >"$E2E_DIR/trunc.tar"
out=$(expect_fail img import "$E2E_DIR/trunc.tar")
expect_contains "$out" "trunc.tar" "error names the archive"
expect_contains "$out" "truncated" "error says truncated"
printf 'not a tar at all, just text that goes on for a while ......' >"$E2E_DIR/junk.tar"
out=$(expect_fail img import "$E2E_DIR/junk.tar")
expect_contains "$out" "junk.tar" "junk archive named"
expect_eq "$(img ls | wc -l)" 2 "store unchanged after failed imports"
expect_eq "$(ls "$D/agent/images/tmp" | wc -l)" 0 "no staging debris after failures"

# ---- a registry on loopback with TLS and basic auth ----
pki=$E2E_DIR/pki
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
	-keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
	-keyout "$pki/server.key" -out "$pki/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$pki/ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
	-days 2 -extfile "$pki/ext" -out "$pki/server.crt" 2>/dev/null
htpasswd -Bbn edgek s3cret >"$E2E_DIR/htpasswd"
cat >"$E2E_DIR/registry.yml" <<EOF
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $E2E_DIR/reg }, delete: { enabled: true } }
http:
  addr: 127.0.0.1:5443
  tls: { certificate: $pki/server.crt, key: $pki/server.key }
auth: { htpasswd: { realm: edgek-test, path: $E2E_DIR/htpasswd } }
EOF
bg registry docker-registry serve "$E2E_DIR/registry.yml" >/dev/null
wait_for 20 curl -sk -o /dev/null https://127.0.0.1:5443/v2/ || e2e_fail "registry did not start"

mkdir -p "$E2E_DIR/certs.d"
cp "$pki/ca.crt" "$E2E_DIR/certs.d/ca.crt"
push() {
	skopeo copy -q --dest-creds edgek:s3cret --dest-cert-dir "$E2E_DIR/certs.d" "$1" "docker://$2"
}
push "oci-archive:$E2E_DIR/oci.tar" 127.0.0.1:5443/test/bb:1
push "docker-archive:$E2E_DIR/second.tar" 127.0.0.1:5443/mirror/other/second:v1

# Without credentials: a clear 401.
cat >"$E2E_DIR/registries.yaml" <<EOF
configs:
  "127.0.0.1:5443":
    tls: { ca_file: $pki/ca.crt }
EOF
out=$(expect_fail img pull 127.0.0.1:5443/test/bb:1)
expect_contains "$out" "127.0.0.1:5443/test/bb:1" "401 error names the image"
expect_contains "$out" "401" "401 error says 401"

# Wrong password: 401 again.
cat >"$E2E_DIR/registries.yaml" <<EOF
configs:
  "127.0.0.1:5443":
    auth: { username: edgek, password: wrong }
    tls: { ca_file: $pki/ca.crt }
EOF
out=$(expect_fail img pull 127.0.0.1:5443/test/bb:1)
expect_contains "$out" "401" "wrong password"

# Without the CA the certificate does not verify.
cat >"$E2E_DIR/registries.yaml" <<EOF
configs:
  "127.0.0.1:5443":
    auth: { username: edgek, password: s3cret }
EOF
out=$(expect_fail img pull 127.0.0.1:5443/test/bb:1)
expect_contains "$out" "127.0.0.1:5443" "TLS failure names the registry"

# Right credentials and CA; docker.io mirrored to the local registry with a rewrite.
cat >"$E2E_DIR/registries.yaml" <<EOF
mirrors:
  docker.io:
    endpoint: ["https://127.0.0.1:5443"]
    rewrite:
      "^other/(.*)": "mirror/other/\$1"
configs:
  "127.0.0.1:5443":
    auth: { username: edgek, password: s3cret }
    tls: { ca_file: $pki/ca.crt }
EOF
out=$(img pull 127.0.0.1:5443/test/bb:1)
expect_contains "$out" "pulled 127.0.0.1:5443/test/bb:1 sha256:" "pull with TLS and basic auth"
expect_contains "$(img ls)" "127.0.0.1:5443/test/bb" "pulled image listed"
out=$(img pull other/second:v1)
expect_contains "$out" "pulled docker.io/other/second:v1" "pull through a mirror with rewrite"

# Credentials from a dockerconfigjson (what an imagePullSecret holds) instead.
cp "$E2E_DIR/registries.yaml" "$E2E_DIR/registries.full.yaml"
cat >"$E2E_DIR/registries.yaml" <<EOF
configs:
  "127.0.0.1:5443":
    tls: { ca_file: $pki/ca.crt }
EOF
printf '{"auths":{"https://127.0.0.1:5443":{"auth":"%s"}}}' "$(printf edgek:s3cret | base64)" \
	>"$E2E_DIR/config.json"
img rm 127.0.0.1:5443/test/bb:1 >/dev/null
out=$(img pull --auth-file "$E2E_DIR/config.json" 127.0.0.1:5443/test/bb:1)
expect_contains "$out" "pulled 127.0.0.1:5443/test/bb:1" "pull with dockerconfigjson credentials"
cp "$E2E_DIR/registries.full.yaml" "$E2E_DIR/registries.yaml"

out=$(expect_fail img pull 127.0.0.1:5443/test/bb:nope)
expect_contains "$out" "404" "missing tag is a 404"
expect_contains "$out" "MANIFEST_UNKNOWN" "registry's error code shown"
out=$(expect_fail img pull "127.0.0.1:5443/test/bb@sha256:$(printf '%064d' 0)")
expect_contains "$out" "404" "missing digest is a 404"

# A corrupt blob in the registry's storage: the pull fails on the digest, leaves nothing.
img rm 127.0.0.1:5443/test/bb:1 docker.io/other/second:v1 >/dev/null
img prune >/dev/null
expect_eq "$(ls "$D/agent/images/layers" | wc -l)" 0 "everything removed"
for f in "$E2E_DIR"/reg/docker/registry/v2/blobs/sha256/*/*/data; do
	if [ "$(stat -c %s "$f")" -gt 500000 ]; then printf 'garbage' | dd of="$f" bs=1 seek=1000 conv=notrunc 2>/dev/null; fi
done
before=$(img ls)
out=$(expect_fail img pull 127.0.0.1:5443/test/bb:1)
expect_contains "$out" "digest mismatch" "corrupt blob detected"
expect_eq "$(img ls)" "$before" "failed pull leaves the store unchanged"
expect_eq "$(ls "$D/agent/images/tmp" | wc -l)" 0 "failed pull leaves no debris"
echo PASS
