#!/usr/bin/env bash
# Command (1) of the README: set everything up, then analyse an example Dutch conversation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> copiloot analyze tests/fixtures/conversations/nl_telecom_opzegging.txt"
./target/debug/copiloot analyze tests/fixtures/conversations/nl_telecom_opzegging.txt "$@"
