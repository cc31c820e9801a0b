#!/usr/bin/env bash
# Command (2) of the README, and what CI runs: set up, then every check and test on the real models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "==> cargo test (real default models from models/)"
cargo test --locked --workspace
