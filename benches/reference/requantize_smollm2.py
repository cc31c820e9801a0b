"""Real-weight llama.cpp references (issue 21), made without copiloot code:

1. smollm2: re-quantises models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf with llama.cpp's
   quantizer (allow_requantize: Q4_1 -> dequantise -> new type) into Q4_K_M, Q5_K_M, Q6_K and Q8_0 under
   benches/out/smollm2/ (git-ignored), prints each file's tensor type counts, and writes llama.cpp's greedy
   ids (64 tokens, no stop at <|im_end|>) for 3 chat prompts per file, the original Q4_1 included, to
   benches/reference/smollm2_greedy.json (committed).
   SmolLM2-135M rows are 576 wide (not a multiple of 256): llama.cpp falls back from the K-quants to
   Q5_0/Q5_1/Q8_0 for most tensors, so these files mostly test the fallback types.
2. bench-qwen2: one random-weight qwen2 model of 0.56 B parameters (width 1536, FFN 8960, 12 layers,
   12 heads / 2 KV heads, vocab 320) quantised to Q4_K_M, Q6_K and Q8_0 under benches/out/gguf/ for
   speed benchmarks (the F32 source, 2.3 GB, is deleted afterwards). Not committed.

Usage (venv of benches/compare_generator.sh + gguf):
  nice -n 19 benches/.venv-llama/bin/python benches/reference/requantize_smollm2.py [--only smollm2|bench-qwen2]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import make_gguf_fixtures as fx  # noqa: E402  (also switches off llama.cpp's repack/AMX buffers)
from compare_generator import chat_prompt  # noqa: E402

ROOT = fx.ROOT
SRC = ROOT / "models" / "smollm2-135m-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = ROOT / "benches" / "out" / "smollm2"
GREEDY_JSON = HERE / "smollm2_greedy.json"
N_TOKENS = 64
PROMPTS = [
    "Goedemorgen, mijn internet valt sinds dinsdag steeds weg. Wat kan ik het beste doen?",
    "I was charged twice for my March invoice. How do I get the extra payment back?",
    "Vat dit gesprek kort samen: de klant belt over een kapotte router en krijgt morgen een nieuwe.",
]
SMOLLM2_QUANTS = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"]

BENCH_QWEN2 = dict(arch="qwen2", n_layer=12, n_embd=1536, n_ff=8960, n_head=12, n_head_kv=2, head_dim=128,
                   rope_base=1000000.0, eps=1e-6, tied=True)
BENCH_QUANTS = ["Q4_K_M", "Q6_K", "Q8_0"]


def requantize(src: Path, dst: Path, ftype: int) -> None:
    import ctypes

    params = fx.llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = fx.THREADS
    params.allow_requantize = True
    rc = fx.llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> {dst}) returned {rc}")


def greedy(path: Path) -> list[dict]:
    llm = fx.Llama(model_path=str(path), n_ctx=512, n_batch=512, n_threads=fx.THREADS,
                   n_threads_batch=fx.THREADS, verbose=False)
    n_vocab = llm.n_vocab()
    eos = llm.token_eos()
    out = []
    for user in PROMPTS:
        ids = llm.tokenize(chat_prompt(user).encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(ids)
        toks, margins = [], []
        for i in range(N_TOKENS):
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,)).copy()
            top2 = np.sort(logits)[-2:]
            tok = int(np.argmax(logits))
            toks.append(tok)
            margins.append(round(float(top2[1] - top2[0]), 4))
            if i + 1 < N_TOKENS:
                llm.eval([tok])
        out.append({"user": user, "prompt_ids": ids, "greedy": toks, "margins": margins,
                    "eos_id": eos, "text": llm.detokenize(toks).decode("utf-8", "replace")})
    llm.close()
    return out


def smollm2() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    files = [("Q4_1 (original)", SRC)]
    for q in SMOLLM2_QUANTS:
        dst = OUT / f"SmolLM2-135M-Instruct.{q}.gguf"
        requantize(SRC, dst, fx.QUANTS[q])
        files.append((q, dst))
    results = []
    for q, path in files:
        types = fx.tensor_types(path)
        counts = dict(sorted(Counter(types.values()).items()))
        print(f"{q:16s} {path.stat().st_size / 1e6:7.1f} MB  tensor types {counts}")
        cases = greedy(path)
        for c in cases:
            print(f"    {c['text'][:100]!r}")
        results.append({"quant": q, "file": str(path.relative_to(ROOT)), "bytes": path.stat().st_size,
                        "type_counts": counts, "cases": cases})
    doc = {
        "how": {
            "script": "benches/reference/requantize_smollm2.py",
            "source": str(SRC.relative_to(ROOT)),
            "quantize": "llama_model_quantize(Q4_1 file, out, ftype) with allow_requantize=True, nthread 2, "
                        "no imatrix",
            "run": "Llama(n_ctx=512, n_threads=2, default F16 KV cache, use_extra_bufts=False); prompt = "
                   "benches/compare_generator.py chat_prompt(user) tokenised with add_bos=False, "
                   f"special=True; eval(prompt) then {N_TOKENS} argmax tokens (eval one at a time), no stop at EOS",
            "llama_cpp_python": fx.llama_cpp.__version__,
        },
        "files": results,
    }
    GREEDY_JSON.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {GREEDY_JSON}")


def bench_qwen2() -> None:
    fx.OUT_F32.mkdir(parents=True, exist_ok=True)
    f32 = fx.OUT_F32 / "qwen2-bench-0.5b-F32.gguf"
    fx.write_f32("qwen2-bench", BENCH_QWEN2, 21, f32)
    n = sum(int(np.prod(t.shape)) for t in fx.gguf.GGUFReader(str(f32)).tensors)
    print(f"qwen2-bench: {n / 1e6:.1f} M parameters, F32 {f32.stat().st_size / 1e9:.2f} GB")
    for q in BENCH_QUANTS:
        dst = fx.OUT_F32 / f"qwen2-bench-0.5b-{q}.gguf"
        fx.quantize(f32, dst, fx.QUANTS[q])
        counts = dict(Counter(fx.tensor_types(dst).values()))
        print(f"    {dst.relative_to(ROOT)}: {dst.stat().st_size / 1e6:.0f} MB, tensor types {counts}")
    f32.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["smollm2", "bench-qwen2"])
    args = ap.parse_args()
    if args.only in (None, "smollm2"):
        smollm2()
    if args.only in (None, "bench-qwen2"):
        bench_qwen2()
    return 0


if __name__ == "__main__":
    sys.exit(main())
