#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The command line as a user meets it: version, help, usage errors with exit status 2.
. "$(dirname "$0")/lib.sh"
e2e_init

out=$("$EDGEK" version)
expect_contains "$out" "edgek version v" "version line"
expect_contains "$out" "kubernetes api v1.32" "Kubernetes API level"

out=$("$EDGEK" help)
expect_contains "$out" "version" "help lists commands"

set +e
out=$("$EDGEK" no-such-command 2>&1)
rc=$?
set -e
expect_eq "$rc" 2 "unknown command exit status"
expect_contains "$out" "unknown command \`no-such-command\`" "unknown command message"

set +e
out=$("$EDGEK" version --no-such-flag 2>&1)
rc=$?
set -e
expect_eq "$rc" 2 "unknown flag exit status"
expect_contains "$out" "unknown flag \`--no-such-flag\`" "unknown flag message"
expect_contains "$out" "Usage: edgek version" "usage after a bad flag"

# A config file with a YAML error names the line and column.
printf 'log-level: [unclosed\n' >"$E2E_DIR/bad.yaml"
set +e
out=$("$EDGEK" version --config "$E2E_DIR/bad.yaml" 2>&1)
rc=$?
set -e
expect_eq "$rc" 2 "bad config exit status"
expect_contains "$out" "bad.yaml\`: 2:1:" "YAML error position"
# The server reads its flags from a config file; an unknown flag value there is an error that
# names the file (here: a bad kubeconfig mode from --config).
printf 'write-kubeconfig-mode: "9z"\ndisable-agent: true\n' >"$E2E_DIR/cfg.yaml"
set +e
out=$("$EDGEK" server --config "$E2E_DIR/cfg.yaml" --data-dir "$E2E_DIR/d" 2>&1)
rc=$?
set -e
expect_eq "$rc" 1 "bad config value exit status"
expect_contains "$out" "--write-kubeconfig-mode: \`9z\` is not an octal file mode" "config value reaches the flag"
echo "PASS"
