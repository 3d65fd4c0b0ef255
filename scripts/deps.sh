#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages edgek needs to build and test, only those missing.
# One dpkg-query call when everything is present, so `make deps` costs a few milliseconds.
set -eu

PKGS="build-essential pkg-config git
libuv1-dev libsqlite3-dev libmbedtls-dev libyaml-dev libnftnl-dev libmnl-dev
libjansson-dev libhttp-parser-dev libzstd-dev zlib1g-dev
clang libclang-rt-14-dev clang-format clang-tidy cppcheck
busybox-static iproute2 nftables util-linux procps curl ca-certificates openssl sqlite3 psmisc
iperf3 attr zstd docker-registry skopeo containerd apache2-utils jq python3-grpcio
dnsmasq-base dnsperf bind9-dnsutils"

missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PKGS 2>/dev/null |
	awk '$1 != "ii" { print $2 }')
# Packages dpkg has never heard of are not printed at all: find those too.
known=$(dpkg-query -W -f='${Package}\n' $PKGS 2>/dev/null || true)
for p in $PKGS; do
	echo "$known" | grep -qx "$p" || missing="$missing $p"
done
missing=$(echo $missing)
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "edgek: missing Debian packages: $missing" >&2
	echo "edgek: run \`sudo make deps\` (or install them with apt-get) and try again" >&2
	exit 1
fi
echo "edgek: installing missing Debian packages: $missing"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends $missing; then
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi
