#!/usr/bin/env bash
# Side-by-side generator speed: copiloot (release build) vs llama.cpp (llama-cpp-python), interleaved.
# Same GGUF, same prompt ids, greedy, 2 threads; prints prompt/generation tokens/s, load time, peak RSS,
# the ratios and the greedy tokens that agree. llama-cpp-python compiles llama.cpp from source on install
# (about 10+ minutes on 2 cores).
#
# Usage: benches/compare_generator.sh [--profile release|dev] [compare_generator.py options]
#   e.g. benches/compare_generator.sh --max-tokens 64 --threads 2 --runs 3
#        benches/compare_generator.sh --gguf A.gguf --gguf B.gguf [--prompt random:64] [--stacks llama,copiloot,copiloot-candle]
# The quant-type and family files: benches/reference/requantize_smollm2.py (SmolLM2 re-quantised by
# llama.cpp, and a random-weight 0.56B qwen2) writes them under benches/out/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/benches/.venv-llama"
PROFILE=release
ARGS=()
while (($#)); do
  case "$1" in
    --profile) PROFILE="$2"; shift 2 ;;
    --profile=*) PROFILE="${1#*=}"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import llama_cpp, numpy" 2>/dev/null; then
  echo "installing llama-cpp-python (compiles llama.cpp, ~10+ minutes)..." >&2
  # Built for this CPU's AVX2/AVX-512/VNNI but without AMX: llama.cpp 0.3.36's AMX repacking segfaults on
  # the first eval of every quantised file on the Xeons here (F16/F32 run). Its other repacking (Q4_0,
  # Q4_K 8x8 on AVX2) stays on, so the peer keeps its fastest path for these quant types.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DGGML_AVX_VNNI=ON -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_BF16=ON \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
    nice -n 10 "$VENV/bin/pip" install --quiet --disable-pip-version-check llama-cpp-python==0.3.36 numpy
fi

cd "$ROOT"
BIN="$("$ROOT/benches/example_bin.sh" "$PROFILE" generate_speed)"
exec "$VENV/bin/python" "$ROOT/benches/compare_generator.py" --copiloot-bin "$BIN" \
  --copiloot-label "(copiloot: $PROFILE profile)" "${ARGS[@]}"
