#!/usr/bin/env bash
# Byte-for-byte check that a change keeps copiloot's outputs: runs analyze (JSON and text), summarize and
# churn on every fixture, a batch run, --by-customer churn, --no-redact / --redact-input and both schemas
# with one binary, writes them to OUT, and diffs against an earlier OUT when given.
#   bash scripts/compare_outputs.sh BIN OUT [EARLIER_OUT]
# e.g. with the binary of the last commit, then of the change:
#   bash scripts/compare_outputs.sh /tmp/old/target/debug/copiloot /tmp/before
#   bash scripts/compare_outputs.sh target/debug/copiloot /tmp/after /tmp/before
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$1 OUT=$2 EARLIER=${3:-}
mkdir -p "$OUT"
export COPILOOT_MODELS="$PWD/models" COPILOOT_AS_OF=2026-12-01
unset COPILOOT_ENCODER COPILOOT_GENERATOR
F=tests/fixtures/conversations
for f in $F/*.txt $F/*.json; do
  n=$(basename "$f")
  "$BIN" analyze "$f" > "$OUT/$n.analyze.json" 2> "$OUT/$n.analyze.err"
  "$BIN" analyze --format text "$f" > "$OUT/$n.analyze.txt" 2>/dev/null
  "$BIN" summarize "$f" > "$OUT/$n.summarize.json" 2>/dev/null
  "$BIN" churn "$f" > "$OUT/$n.churn.json" 2>/dev/null
done
# Batch runs are parallel and write lines as they finish: compare them sorted.
rm -f "$OUT/all.analyses.jsonl"
"$BIN" analyze --input $F/all.jsonl --output "$OUT/batch.jsonl" > /dev/null 2>&1
sort "$OUT/batch.jsonl" > "$OUT/all.analyses.jsonl" && rm "$OUT/batch.jsonl"
"$BIN" churn --input $F/all.jsonl --by-customer > "$OUT/all.bycustomer.json" 2>/dev/null
"$BIN" schema output > "$OUT/schema.output.json"
"$BIN" schema input > "$OUT/schema.input.json"
"$BIN" analyze --no-redact $F/nl_telecom_opzegging.txt > "$OUT/noredact.json" 2>/dev/null
"$BIN" analyze --redact-input $F/nl_telecom_opzegging.txt > "$OUT/redactinput.json" 2>/dev/null
echo "$(ls "$OUT" | wc -l) outputs in $OUT"
if [ -n "$EARLIER" ]; then
  if diff -r "$EARLIER" "$OUT"; then echo "identical to $EARLIER"; else echo "differs from $EARLIER"; exit 1; fi
fi
