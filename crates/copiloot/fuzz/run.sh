#!/usr/bin/env bash
# Run every fuzz target for a bounded time (default 120 s each) and print executions and findings.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); stable Rust with RUSTC_BOOTSTRAP=1 stands in for nightly.
# Not part of CI. Crashes land in fuzz/artifacts/<target>/; add each as a regression test.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-120}"
export RUSTC_BOOTSTRAP=1
mkdir -p corpus
for target in parse_json parse_jsonl parse_transcript redact e5s1_header; do
  mkdir -p "corpus/$target"
  case "$target" in
    parse_json|parse_jsonl) cp ../../../tests/fixtures/conversations/*.json* "corpus/$target/" 2>/dev/null || true ;;
    parse_transcript|redact) cp ../../../tests/fixtures/conversations/*.txt "corpus/$target/" 2>/dev/null || true ;;
  esac
  echo "==> $target (${seconds}s)"
  cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 2>&1 \
    | grep -E "^#[0-9]+ +DONE|Done [0-9]+ runs|ERROR|panicked|SUMMARY" || true
done
