# SPDX-License-Identifier: Apache-2.0
# Shell helpers shared by the benchmarks (sourced by tests/bench/*/run.sh).

# Removes every cgroup directory named $1 (leaves first), killing what is left inside.
remove_cgroups() {
	find /sys/fs/cgroup -maxdepth 6 -type d -name "$1" 2>/dev/null | while read -r c; do
		find "$c" -depth -type d | while read -r d; do
			for _ in $(seq 30); do
				for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
				rmdir "$d" 2>/dev/null && break
				sleep 0.1
			done
		done
	done
}
