#!/usr/bin/env bash
# What int8 costs in accuracy: train the intent head on Banking77 and evaluate it, once per precision,
# with the release CLI and the default encoder. Each precision gets its own embedding cache.
#
# Usage: benches/precision_accuracy.sh [DATA_DIR]   (default /work/shared/data/intent/banking77,
#        a folder with train.csv and test.csv: columns text,category)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${1:-/work/shared/data/intent/banking77}"
OUT="$ROOT/benches/out/precision"
cd "$ROOT"
cargo build --release --workspace --bins --examples >&2
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/copiloot"
mkdir -p "$OUT"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for prec in f32 q8; do
  "$BIN" train intent --data "$DATA/train.csv" --out "$OUT/head-$prec" --precision "$prec" \
    --cache "$OUT/cache-$prec" >"$OUT/train-$prec.log" 2>&1
  "$BIN" eval intent --data "$DATA/test.csv" --model "$OUT/head-$prec" --precision "$prec" \
    --cache "$OUT/cache-$prec" --report "$OUT/eval-$prec.json" >"$OUT/eval-$prec.txt" 2>&1
  python3 - "$OUT/eval-$prec.json" "$prec" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
acc = r.get("accuracy") if "accuracy" in r else r.get("metrics", {}).get("accuracy")
f1 = r.get("macro_f1") if "macro_f1" in r else r.get("metrics", {}).get("macro_f1")
print(f"{sys.argv[2]}: Banking77 test accuracy {acc}, macro-F1 {f1}")
PY
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
