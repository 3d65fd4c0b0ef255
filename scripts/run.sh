#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make run`: starts a single-node cluster in the foreground with the defaults (data in
# /var/lib/edgek, kubeconfig at /etc/edgek/edgek.yaml). EDGEK_RUN_FLAGS adds flags.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "edgek: \`make run\` starts a cluster and needs root (namespaces, cgroups, networking)" >&2
	exit 1
fi
echo "edgek: starting a single-node cluster; stop it with Ctrl-C"
echo "edgek: kubeconfig: /etc/edgek/edgek.yaml — try:"
echo "         kubectl --kubeconfig /etc/edgek/edgek.yaml get nodes"
# The server runs a local agent too: pods scheduled to this node run as real containers.
exec ./edgek server ${EDGEK_RUN_FLAGS:-}
