#!/usr/bin/env bash
# Encoder resources, release build: load time, peak RSS of `copiloot embed` on the default encoder, and
# throughput on 1 vs 2 threads — per model and precision. Speed vs other stacks: compare_encoders.sh.
#
# Usage: benches/encoder_resources.sh [--runs 5]
# Needs the models installed (`copiloot models install`) and GNU time (/usr/bin/time).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=5
[[ "${1:-}" == "--runs" ]] && RUNS="$2"
cd "$ROOT"
MODELS="${COPILOOT_MODELS:-$ROOT/models}"
TEXTS="$ROOT/benches/data/utterances.txt"
cargo build --release --workspace --bins --examples >&2
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %-4s %9s %14s %14s %8s\n' model prec load_s "b32 1thr t/s" "b32 2thr t/s" scaling
for model in all-minilm-l6-v2 multilingual-e5-small; do
  for prec in f32 q8; do
    run() {
      RAYON_NUM_THREADS="$1" "$TARGET/examples/encode_throughput" --model "$MODELS/$model" --texts "$TEXTS" \
        --batch-size 32 --runs "$RUNS" --precision "$prec"
    }
    one="$(run 1)"
    two="$(run 2)"
    t1="$(field texts_per_sec_median <<<"$one")"
    t2="$(field texts_per_sec_median <<<"$two")"
    load="$(field load_secs <<<"$two")"
    printf '%-22s %-4s %9.2f %14.1f %14.1f %7.2fx\n' "$model" "$prec" "$load" "$t1" "$t2" \
      "$(python3 -c "print($t2 / $t1)")"
  done
done

echo
echo "peak RSS of \`copiloot embed\` (default encoder, the 256 bench utterances, 2 threads):"
for prec in f32 q8; do
  rss_kb="$( { RAYON_NUM_THREADS=2 /usr/bin/time -f '%M' "$TARGET/copiloot" embed --models "$MODELS" \
    --precision "$prec" --input "$TEXTS" >/dev/null; } 2>&1 | tail -1)"
  echo "  $prec: $((rss_kb / 1024)) MB"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
