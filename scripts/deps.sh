#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages edgek needs to build and test, only those missing.
# One dpkg-query call when everything is present, so `make deps` costs a few milliseconds.
#
# `scripts/deps.sh [ARCH]` with a foreign ARCH (arm64, armhf) also makes a cross build
# possible: it adds the dpkg architecture, installs the cross compiler, the :ARCH -dev
# package of every library and qemu-user-static. Debian's libhttp-parser-dev is not
# Multi-Arch: same (its :arm64 copy would replace the native one), so its static archive is
# unpacked from the .deb into build/ARCH/deps instead of being installed.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config git
libuv1-dev libsqlite3-dev libmbedtls-dev libyaml-dev libnftnl-dev libmnl-dev
libjansson-dev libhttp-parser-dev libzstd-dev zlib1g-dev
clang libclang-rt-14-dev clang-format clang-tidy cppcheck
busybox-static iproute2 nftables util-linux procps curl ca-certificates openssl sqlite3 psmisc
iperf3 attr zstd docker-registry skopeo containerd apache2-utils
dnsmasq-base dnsperf bind9-dnsutils"

# The libraries whose :ARCH -dev packages a cross build links with (all Multi-Arch: same).
CROSS_LIBS="libuv1-dev libsqlite3-dev libmbedtls-dev libyaml-dev libnftnl-dev libmnl-dev
libjansson-dev libzstd-dev zlib1g-dev libc6-dev libhttp-parser2.9"

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
if [ "$arch" != "$native" ]; then
	foreign=1
	archflag=" ARCH=$arch"
	case $arch in
	arm64) triplet=aarch64-linux-gnu ;;
	armhf) triplet=arm-linux-gnueabihf ;;
	esac
	PKGS="$PKGS gcc-$triplet qemu-user-static"
	for p in $CROSS_LIBS; do PKGS="$PKGS $p:$arch"; done
fi

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "edgek: $1" >&2
		echo "edgek: run \`sudo make deps$archflag\` (or do it by hand) and try again" >&2
		exit 1
	fi
}

# A foreign architecture dpkg does not know yet needs adding, and apt needs its package lists.
added=0
if [ $foreign = 1 ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
	need_root "dpkg does not know the $arch architecture yet"
	echo "edgek: dpkg --add-architecture $arch"
	dpkg --add-architecture "$arch"
	added=1
fi

missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' $PKGS 2>/dev/null |
	awk '$1 != "ii" { print $2 }')
# Packages dpkg has never heard of are not printed at all: find those too.
known=$(dpkg-query -W -f='${binary:Package}\n${Package}\n' $PKGS 2>/dev/null || true)
for p in $PKGS; do
	echo "$known" | grep -qx "$p" || missing="$missing $p"
done
missing=$(echo $missing)

if [ -n "$missing" ]; then
	need_root "missing Debian packages: $missing"
	echo "edgek: installing missing Debian packages: $missing"
	export DEBIAN_FRONTEND=noninteractive
	# A failed index (a mirror mid-sync) need not be fatal: the install says what it lacks.
	[ $added = 1 ] && { apt-get update -q || true; }
	if ! apt-get install -y -q --no-install-recommends $missing; then
		apt-get update -q || true
		apt-get install -y -q --no-install-recommends $missing
	fi
fi

# libhttp-parser-dev:ARCH cannot sit beside the native one: take its static archive from the
# package itself (the header is the same for every architecture).
if [ $foreign = 1 ]; then
	dir=build/$arch/deps
	[ -f "$dir/lib/libhttp_parser.a" ] && exit 0
	echo "edgek: unpacking libhttp_parser.a for $arch into $dir"
	rm -rf "$dir/tmp" && mkdir -p "$dir/tmp" "$dir/lib"
	(cd "$dir/tmp" && apt-get -o APT::Sandbox::User=root download -q "libhttp-parser-dev:$arch" >/dev/null) || {
		apt-get update -q || true
		(cd "$dir/tmp" && apt-get -o APT::Sandbox::User=root download -q "libhttp-parser-dev:$arch")
	}
	dpkg-deb -x "$dir"/tmp/libhttp-parser-dev_*.deb "$dir/tmp/root"
	cp "$dir/tmp/root/usr/lib/$triplet/libhttp_parser.a" "$dir/lib/"
	rm -rf "$dir/tmp"
fi
