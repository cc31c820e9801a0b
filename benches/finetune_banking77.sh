#!/usr/bin/env bash
# Fine-tuning against the frozen head on Banking77: `train intent --fine-tune` on the train split, then
# `eval intent` of the tuned folder on the test split (the frozen-head number comes from
# benches/precision_accuracy.sh). Long: minutes to hours on a CPU, so not part of CI.
#
# Usage: benches/finetune_banking77.sh [DATA_DIR] [-- extra `train intent` flags, e.g. --layers 4 --epochs 3]
#        DATA_DIR defaults to /work/shared/data/intent/banking77 (train.csv, test.csv: text,category).
#        PROFILE=release|dev picks the build (dev is enough: candle's kernels are optimised there too).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA=/work/shared/data/intent/banking77
if [[ $# -gt 0 && "$1" != "--" ]]; then DATA="$1"; shift; fi
[[ "${1:-}" == "--" ]] && shift
PROFILE="${PROFILE:-dev}"
cd "$ROOT"
if [[ "$PROFILE" == release ]]; then
  cargo build --release --workspace --bins --examples >&2
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/copiloot"
else
  cargo build --workspace --bins --examples >&2   # the set-up's features: no rebuild
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/copiloot"
fi
NAME="$(echo "ft $*" | tr -c 'a-zA-Z0-9.\n' '_' | sed 's/_\+/_/g')"
OUT="$ROOT/benches/out/finetune/$NAME"
mkdir -p "$OUT"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); flags: $*"
/usr/bin/time -v "$BIN" train intent --data "$DATA/train.csv" --out "$OUT/model" --fine-tune "$@" \
  2> >(tee "$OUT/train.log" >&2)
"$BIN" eval intent --data "$DATA/test.csv" --model "$OUT/model" --report "$OUT/eval.json" >"$OUT/eval.txt"
python3 - "$OUT/eval.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r.get("metrics", r)
print(f"fine-tuned: Banking77 test accuracy {m.get('accuracy')}, macro-F1 {m.get('macro_f1')}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); logs in $OUT"
