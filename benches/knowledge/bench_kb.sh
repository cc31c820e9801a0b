#!/usr/bin/env bash
# Knowledge base speed on this machine: index build time and peak RSS, index load time, and query
# latency (encoding the question + hybrid search) for synthetic corpora of N passages each.
# Usage: bash benches/knowledge/bench_kb.sh [N ...]   (default: 10000 100000)
# Corpora above DISTINCT (default 10000) passages repeat the first DISTINCT texts under new ids: the
# indexer encodes a repeated text once, so the 100k index is built in minutes, not hours; its load,
# memory and search are those of 100k passages.
# Needs a release binary: `cargo build --release -p copiloot-cli` (CARGO_TARGET_DIR honoured).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${CARGO_TARGET_DIR:-target}/release/copiloot"
DATA="${COPILOOT_DATA:-../shared/data/knowledge}"
WORK="${WORK:-$(mktemp -d)}"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p copiloot-cli" >&2; exit 1; }
for size in ${@:-10000 100000}; do
  corpus="$WORK/corpus-$size.jsonl"
  python3 benches/knowledge/synth_corpus.py "$size" "$corpus" "$DATA" "${DISTINCT:-10000}"
  echo "== $size passages"
  /usr/bin/time -f "build: %e s wall, peak RSS %M kB" "$BIN" kb index "$corpus" --out "$WORK/kb-$size" 2>&1 \
    | grep -E "^(indexed|build:)" || true
  ls -l "$WORK/kb-$size" | awk '{printf "index file: %.1f MB\n", $5/1e6}'
  # Latency on the StackFAQ questions (single customer questions), recall is meaningless here.
  /usr/bin/time -f "search run: peak RSS %M kB" "$BIN" eval knowledge --kb "$WORK/kb-$size" \
    --data "$DATA/stackfaq/queries.jsonl" --retriever hybrid --latency 2>&1 | grep -E "loaded|latency|RSS"
done
