#!/usr/bin/env bash
# The Python module (idempotent): python/.venv with the pinned tools of python/requirements-dev.txt, and
# copiloot built into it by `maturin develop` — dev profile and the workspace's target/, so the
# dependencies already built by `cargo build` are reused and only crates/copiloot-py is compiled.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="$PWD/python/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  python3 -m venv "$VENV"
fi
echo "==> pip install -r python/requirements-dev.txt (pinned; already installed ones are skipped)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r python/requirements-dev.txt

echo "==> maturin develop (copiloot._native into python/.venv)"
(cd python && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" maturin develop --locked --quiet)
"$VENV/bin/python" -c "import copiloot; print('copiloot', copiloot.__version__, 'for Python in', '$VENV')"
