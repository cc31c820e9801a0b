#!/usr/bin/env bash
# Load test of `copiloot serve` on loopback only: wrk for DURATION seconds (default 60) against
# /v1/analyze with a real Dutch conversation; prints requests/s, p50/p95/p99 latency, the status counts
# (only deliberate 429s are acceptable) and the server's RSS before and after. Not part of CI.
#   bash benches/load/load_serve.sh [DURATION] [CONNECTIONS]
# Needs wrk (Debian: apt-get install wrk; installed here when missing) and a built copiloot (release
# build used when present: cargo build --release -p copiloot-cli).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-60}"
connections="${2:-8}"
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y -qq wrk >/dev/null
fi
bin=target/release/copiloot
[ -x "$bin" ] || bin=target/debug/copiloot
export BODY="$PWD/tests/fixtures/conversations/nl_webshop_bezorging.json"
log=$(mktemp)
"$bin" serve --host 127.0.0.1 --port 0 --queue 16 >"$log" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.2; done
url=$(sed -n 's/.*listening on //p' "$log")
rss() { awk '/VmRSS/ {print $2/1024 " MB"}' "/proc/$pid/status"; }
curl -fsS -o /dev/null "$url/v1/analyze" -H 'Content-Type: application/json' --data-binary @"$BODY"  # warm-up
echo "server: $bin at $url; RSS before: $(rss)"
wrk -t2 -c"$connections" -d"${duration}s" --latency -s benches/load/post.lua "$url/v1/analyze"
echo "RSS after: $(rss)"
