#!/usr/bin/env bash
# Side-by-side encoder speed: sentence-transformers (PyTorch) vs ONNX Runtime vs copiloot.
# Sets up benches/.venv, builds the copiloot example, then runs benches/compare_encoders.py.
#
# Usage: benches/compare_encoders.sh [--profile dev|release] [compare_encoders.py options]
#   e.g. benches/compare_encoders.sh --model both --runs 7
#        benches/compare_encoders.sh --profile release --stacks copiloot-f32,copiloot-q8 --model e5
# Needs the models installed (`copiloot models install` -> models/all-minilm-l6-v2, models/multilingual-e5-small).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/benches/.venv"
PROFILE=dev
ARGS=()
while (($#)); do
  case "$1" in
    --profile) PROFILE="$2"; shift 2 ;;
    --profile=*) PROFILE="${1#*=}"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

"$ROOT/benches/setup_venv.sh"
cd "$ROOT"
# The executable path from cargo's own report, so CARGO_TARGET_DIR and profiles just work.
# --workspace --bins --examples: the same feature set as every other build here, so nothing is rebuilt.
BIN="$(cargo build --workspace --bins --examples --profile "$PROFILE" --message-format=json \
  | "$VENV/bin/python" -c '
import json, sys
exes = [m["executable"] for m in map(json.loads, sys.stdin)
        if m.get("reason") == "compiler-artifact" and m.get("executable")
        and m["target"]["name"] == "encode_throughput"]
print(exes[-1] if exes else "")')"
if [[ -z "$BIN" ]]; then
  echo "could not build the encode_throughput example" >&2
  exit 1
fi
exec "$VENV/bin/python" "$ROOT/benches/compare_encoders.py" --copiloot-bin "$BIN" \
  --copiloot-label "($PROFILE profile)" "${ARGS[@]}"
