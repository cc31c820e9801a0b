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
BIN="$("$ROOT/benches/example_bin.sh" "$PROFILE" encode_throughput)"
exec "$VENV/bin/python" "$ROOT/benches/compare_encoders.py" --copiloot-bin "$BIN" \
  --copiloot-label "($PROFILE profile)" "${ARGS[@]}"
