#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages edgek needs to build and test, only those missing.
# One dpkg-query call when everything is present, so `make deps` costs a few milliseconds.
#
# `scripts/deps.sh ARCH` with a foreign ARCH (arm64, armhf) also prepares a cross build: it
# adds the dpkg architecture, installs the cross compiler, qemu-user-static and the :ARCH -dev
# package of every library (multiarch). Two things apt cannot always do are done by hand, in
# build/ARCH/deps/root (the Makefile looks there first):
# - libhttp-parser-dev is not Multi-Arch: same (its :ARCH copy would replace the native one):
#   its .deb is unpacked there.
# - Multi-Arch: same packages must have the same version on every architecture. When the
#   native side already has an update the foreign index lacks (security updates reach the
#   architectures' indexes at different times), apt refuses the whole set; then every -dev
#   package is unpacked there instead, and the toolchain's own libc (libc6-dev-ARCH-cross)
#   stands in for libc6-dev:ARCH.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config git
libuv1-dev libsqlite3-dev libmbedtls-dev libyaml-dev libnftnl-dev libmnl-dev
libjansson-dev libhttp-parser-dev libzstd-dev zlib1g-dev
clang libclang-rt-14-dev clang-format clang-tidy cppcheck
busybox-static iproute2 nftables util-linux procps curl ca-certificates openssl sqlite3 psmisc
iperf3 attr zstd docker-registry skopeo containerd apache2-utils jq python3-grpcio
dnsmasq-base dnsperf bind9-dnsutils"

# The libraries a cross build links with, as :ARCH packages (all Multi-Arch: same).
CROSS_LIBS="libuv1-dev libsqlite3-dev libmbedtls-dev libyaml-dev libnftnl-dev libmnl-dev
libjansson-dev libzstd-dev zlib1g-dev libc6-dev"
# What an unpacked fallback needs: the -dev packages and their shared objects (the dev and
# unit-test builds link dynamically; the release links all but libc and libmnl statically).
UNPACK_LIBS="libuv1-dev libuv1 libsqlite3-dev libsqlite3-0 libmbedtls-dev libmbedtls14
libmbedx509-1 libmbedcrypto7 libyaml-dev libyaml-0-2 libnftnl-dev libnftnl11 libmnl-dev libmnl0
libjansson-dev libjansson4 libzstd-dev libzstd1 zlib1g-dev zlib1g libhttp-parser-dev"

native=$(dpkg --print-architecture)
case "${1:-}" in
'' | "$native" | x86_64) arch=$native ;;
aarch64 | arm64) arch=arm64 ;;
armhf | arm | armv7l | armv6l) arch=armhf ;;
*)
	echo "edgek: unknown ARCH \`$1\` (known: $native, arm64, armhf)" >&2
	exit 2
	;;
esac
foreign=0
archflag=
root=build/$arch/deps/root
if [ "$arch" != "$native" ]; then
	foreign=1
	archflag=" ARCH=$arch"
	case $arch in
	arm64) triplet=aarch64-linux-gnu ;;
	armhf) triplet=arm-linux-gnueabihf ;;
	esac
	PKGS="$PKGS gcc-$triplet qemu-user-static"
	if [ -f "$root/.unpacked-all" ]; then
		PKGS="$PKGS libc6-dev-$arch-cross"
	else
		for p in $CROSS_LIBS; do PKGS="$PKGS $p:$arch"; done
	fi
fi

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "edgek: $1" >&2
		echo "edgek: run \`sudo make deps$archflag\` (or do it by hand) and try again" >&2
		exit 1
	fi
}

# Prints the packages of $PKGS that are not installed, with one dpkg-query and one awk (a
# package dpkg has never heard of is not printed by dpkg-query at all, so the list is
# compared the other way round). An unqualified name needs its native (or "all") instance.
missing_pkgs() {
	dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Architecture}\n' $PKGS 2>/dev/null |
		awk -F '\t' -v want="$PKGS" -v native="$native" '
			$1 ~ /^ii/ {
				if ($3 == native || $3 == "all") ok[$2] = 1
				ok[$2 ":" $3] = 1
			}
			END {
				n = split(want, w, /[ \t\n]+/)
				for (i = 1; i <= n; i++) if (w[i] != "" && !(w[i] in ok)) printf "%s ", w[i]
			}'
}

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# Unpacks the .debs of packages ($@, for $arch) into $root.
unpack() {
	tmp=build/$arch/deps/tmp
	rm -rf "$tmp" && mkdir -p "$tmp" "$root"
	qualified=
	for p in "$@"; do qualified="$qualified $p:$arch"; done
	# As root, apt would hand the download to its sandbox user, who cannot write here.
	(cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download $qualified >/dev/null) || {
		apt-get update -q || true
		(cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download $qualified)
	}
	for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$root"; done
	rm -rf "$tmp"
}

# A foreign architecture dpkg does not know yet needs adding, and apt needs its package lists.
added=0
if [ $foreign = 1 ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
	need_root "dpkg does not know the $arch architecture yet"
	echo "edgek: dpkg --add-architecture $arch"
	dpkg --add-architecture "$arch"
	added=1
fi

missing=$(missing_pkgs)
if [ -n "$missing" ]; then
	need_root "missing Debian packages: $missing"
	echo "edgek: installing missing Debian packages: $missing"
	# A failed index (a mirror mid-sync) need not be fatal: the install says what it lacks.
	if [ $added = 1 ]; then apt-get update -q || true; fi
	if ! apt_install $missing; then
		apt-get update -q || true
		if ! apt_install $missing; then
			[ $foreign = 1 ] || exit 1
			echo "edgek: apt cannot install the :$arch -dev packages beside the native ones;" \
				"unpacking them into $root instead"
			PKGS=$(echo "$PKGS" | tr ' ' '\n' | grep -v ":$arch\$" | tr '\n' ' ')
			PKGS="$PKGS libc6-dev-$arch-cross"
			apt_install $(missing_pkgs)
			rm -rf "$root"
			unpack $UNPACK_LIBS
			touch "$root/.unpacked-all"
		fi
	fi
fi

if [ $foreign = 1 ] && [ ! -f "$root/usr/lib/$triplet/libhttp_parser.a" ]; then
	echo "edgek: unpacking libhttp-parser-dev:$arch into $root"
	unpack libhttp-parser-dev
fi
exit 0
