#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `edgek check-config` as a user runs it: it passes on this machine, names the cgroup layout
# the machine really has, leaves the caller's network namespace as it was (its probes run in
# namespaces of their own), and on a Raspberry Pi with the memory controller disabled (system
# files faked under --root) fails with the exact cmdline.txt fix.
. "$(dirname "$0")/lib.sh"
e2e_init

# The layout, found independently of edgek.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	mode=v2
elif grep -q ' - cgroup2 ' /proc/self/mountinfo; then
	mode=hybrid
else
	mode=v1
fi
echo "cgroup layout found by the test: $mode"

links_before=$(ip -o link show)
nft_before=$(nft list ruleset 2>&1 || true)
rc=0
out=$("$EDGEK" check-config 2>&1) || rc=$?
echo "$out"
expect_eq "$rc" 0 "check-config exit status on this machine"
expect_contains "$out" "STATUS: pass (cgroups $mode;" "status line with the cgroup layout"
expect_contains "$out" "- cgroups hierarchy: ok: $mode" "cgroup hierarchy line"
for item in "namespaces mount" "namespaces net" "filesystems overlay" "network nftables" \
	"network bridge" "network veth" "cgroups memory controller"; do
	expect_contains "$out" "- $item: ok" "$item"
done
case "$out" in *$'\033'*) e2e_fail "colours in output that is not a terminal" ;; esac
expect_eq "$(ip -o link show)" "$links_before" "links of the caller's namespace unchanged"
expect_eq "$(nft list ruleset 2>&1 || true)" "$nft_before" "ruleset unchanged"
if ls -d /tmp/edgek-check-* 2>/dev/null; then e2e_fail "a probe directory was left behind"; fi

json=$("$EDGEK" check-config --json)
expect_contains "$json" '"status":"pass"' "JSON status"
expect_contains "$json" "\"cgroupVersion\":\"$mode\"" "JSON cgroup layout"

# A Raspberry Pi OS 12 whose firmware disabled the memory controller.
R=$E2E_DIR/rpi
mkdir -p "$R/proc/self" "$R/proc/sys/kernel" "$R/sys/fs/cgroup" "$R/boot/firmware"
echo "6.6.31+rpt-rpi-v8" >"$R/proc/sys/kernel/osrelease"
printf '#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t9\t1\ncpu\t0\t9\t1\nmemory\t0\t9\t0\npids\t0\t9\t1\n' >"$R/proc/cgroups"
echo "console=ttyS0,115200 cgroup_disable=memory root=PARTUUID=4e639091-02 rootwait" >"$R/proc/cmdline"
echo "29 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate" >"$R/proc/self/mountinfo"
echo "cpuset cpu io pids" >"$R/sys/fs/cgroup/cgroup.controllers"
printf 'nodev\toverlay\n' >"$R/proc/filesystems"
echo "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootwait" >"$R/boot/firmware/cmdline.txt"
rc=0
out=$("$EDGEK" check-config --root "$R" 2>&1) || rc=$?
echo "$out"
expect_eq "$rc" 1 "exit status with the memory controller disabled"
expect_contains "$out" "- cgroups memory controller: missing: disabled on the kernel command line" "memory line"
expect_contains "$out" "    fix: add \`cgroup_memory=1 cgroup_enable=memory\` to /boot/firmware/cmdline.txt (or /boot/cmdline.txt on older images) and reboot" "the fix"
expect_contains "$out" "STATUS: fail (cgroups v2; 1 required missing" "status line"
echo "PASS"
