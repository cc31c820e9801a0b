#!/usr/bin/env bash
# Build the workspace (bins + examples: the same feature set as every other build here, so nothing is
# rebuilt) in PROFILE and print the path of the example NAME, from cargo's own report — so
# CARGO_TARGET_DIR and profiles just work. Used by the comparison scripts.
#   benches/example_bin.sh PROFILE NAME
set -euo pipefail
profile="$1"
name="$2"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="$(cargo build --workspace --bins --examples --profile "$profile" --message-format=json \
  | python3 -c '
import json, sys
name = sys.argv[1]
exes = [m["executable"] for m in map(json.loads, sys.stdin)
        if m.get("reason") == "compiler-artifact" and m.get("executable")
        and m["target"]["name"] == name]
print(exes[-1] if exes else "")' "$name")"
if [[ -z "$bin" ]]; then
  echo "could not build the $name example" >&2
  exit 1
fi
echo "$bin"
