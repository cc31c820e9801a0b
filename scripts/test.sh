#!/usr/bin/env bash
# Command (2) of the README, and what CI runs: set up, then every check and test on the real models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# The agent-panel test drives Debian's chromium with playwright-core (no browser download).
if ! command -v chromium >/dev/null; then
  echo "==> installing chromium (Debian) for the panel test"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
echo "==> npm ci (tests/panel: playwright-core)"
(cd tests/panel && npm ci --no-audit --no-fund --silent)

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "==> cargo test (real default models from models/)"
cargo test --locked --workspace

echo "==> Python module: pytest on the real models (API, pandas, Dask cluster, GIL, errors, stubtest)"
python/.venv/bin/python -m pytest python/tests -q

echo "==> agent panel in headless chromium (node --test)"
(cd tests/panel && node --test)
