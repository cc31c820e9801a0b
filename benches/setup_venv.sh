#!/usr/bin/env bash
# Create benches/.venv with what the comparison and reference scripts need, from PyPI only.
#
# About torch: PyPI has no CPU-only torch build for Linux x86_64 (the "+cpu" wheels live on
# PyTorch's own package index, which these machines cannot reach), and `pip install --no-deps
# torch` does not import: libtorch_python.so links libtorch_cuda.so, which links cudart, cublas,
# cudnn, nccl, cusparse, cufft, cufile, nvshmem... So torch is installed with its nvidia-*
# dependencies (measured: the venv is about 6 GB, 2-4 minutes on these machines); it runs on the
# CPU all the same. See benches/README.md.
#
# Usage: benches/setup_venv.sh     (idempotent: does nothing when the venv already imports)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/benches/.venv"
PY="${PYTHON:-python3}"

# Pinned so that reruns measure the same stacks.
PINS=(
  torch==2.15.0
  sentence-transformers==6.2.0
  transformers==5.23.0
  tokenizers==0.23.3
  onnxruntime==1.32.0
  onnx==1.23.2
  numpy==2.4.6
)

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
fi

if ! "$VENV/bin/python" -c "import torch, sentence_transformers, onnxruntime, onnx" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
fi

"$VENV/bin/python" - <<'PYEOF'
import numpy, onnxruntime, sentence_transformers, torch, transformers
print(f"venv ok: torch {torch.__version__} (cuda available: {torch.cuda.is_available()}), "
      f"onnxruntime {onnxruntime.__version__}, sentence-transformers {sentence_transformers.__version__}, "
      f"transformers {transformers.__version__}, numpy {numpy.__version__}")
PYEOF
