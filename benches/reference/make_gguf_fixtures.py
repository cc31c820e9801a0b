"""Reference GGUF fixtures for the generator engine (issue 21): tiny random-weight models of the llama
(Llama-3 with rope_freqs), qwen2, qwen3 and gemma3 families, quantised by llama.cpp's own quantizer, and
llama.cpp's logits / greedy tokens on them.

Nothing here uses copiloot code. Steps (all deterministic for a given --seed):
  1. numpy writes one F32 GGUF per family (gguf package; tensor names / metadata as llama.cpp loads them)
     into benches/out/gguf/ (git-ignored);
  2. llama.cpp's quantizer (llama_model_quantize through llama-cpp-python) writes the quantised files into
     tests/fixtures/gguf/<family>-<quant>.gguf;
  3. llama.cpp (CPU, 2 threads, F32 KV cache) evaluates a fixed 16-id prompt and greedy-decodes 16 tokens;
     the full-vocabulary logits after the prompt and after every greedy token go to
     tests/fixtures/gguf/reference.json;
  4. sanity check: F32 vs Q8_0 (and the K-quants) logits of the same family, printed.

Usage (venv of benches/compare_generator.sh, plus `pip install gguf==0.19.0`):
  nice -n 19 benches/.venv-llama/bin/python benches/reference/make_gguf_fixtures.py
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import gguf
import llama_cpp
import llama_cpp.llama_cpp as llama_c

# No "extra buffer types" (weight repacking into CPU_REPACK / AMX layouts): on this machine (AMX_INT8 CPU
# in a VM) llama.cpp's AMX path segfaults on the first Q4_0/Q4_K matmul. Without them llama.cpp uses its
# plain ggml-cpu kernels (vec_dot with the activations quantised to Q8_0/Q8_K), which is also the simpler
# reference. llama-cpp-python has no argument for it, so the default model params are wrapped.
_default_model_params = llama_c.llama_model_default_params


def _model_params_without_repack():
    params = _default_model_params()
    params.use_extra_bufts = False
    return params


llama_c.llama_model_default_params = _model_params_without_repack
from llama_cpp import Llama  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT_F32 = ROOT / "benches" / "out" / "gguf"
FIXTURES = ROOT / "tests" / "fixtures" / "gguf"

N_VOCAB = 320  # <unk> <s> </s>, 256 byte tokens, 61 word pieces
PROMPT_LEN = 16
N_GREEDY = 16
N_CTX = 64
THREADS = 2

QUANTS = {  # name -> llama_ftype
    "F16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16,
    "Q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
    "Q5_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_0,
    "Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
    "Q4_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    "Q5_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "Q6_K": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K,
}
K_QUANTS = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"]

# Every row length (n_embd, n_ff, n_head * head_dim) is a multiple of 256, so llama.cpp's K-quants apply
# to every 2-d tensor (a row that is not a multiple of 256 falls back to Q5_0/Q8_0/...).
FAMILIES = {  # fixture name -> config; "arch" is the GGUF general.architecture
    # Llama 3 style: GQA 4/2, head_dim 64, rope base 500000, rope_freqs (Llama-3.1 formula), own output.weight.
    "llama": dict(arch="llama", n_layer=2, n_embd=256, n_ff=256, n_head=4, n_head_kv=2, head_dim=64,
                  rope_base=500000.0, eps=1e-5, tied=False, quants=["Q4_0", "Q5_0"] + K_QUANTS),
    # Qwen2: q/k/v biases, rope base 1e6, tied embeddings, n_head * head_dim == n_embd (required by qwen2);
    # the one family with n_ff (512) != n_embd.
    "qwen2": dict(arch="qwen2", n_layer=2, n_embd=256, n_ff=512, n_head=4, n_head_kv=2, head_dim=64,
                  rope_base=1000000.0, eps=1e-6, tied=True, quants=K_QUANTS),
    # Qwen3: q/k RMS norms per head, head_dim 128 so n_head * head_dim = 512 != n_embd, no biases, tied.
    "qwen3": dict(arch="qwen3", n_layer=2, n_embd=256, n_ff=256, n_head=4, n_head_kv=2, head_dim=128,
                  rope_base=1000000.0, eps=1e-6, tied=True, quants=K_QUANTS),
    # Gemma 3: sandwich norms, q/k norms, head_dim 128 (4 * 128 = 512 != 256), MQA (1 kv head as gemma-3-1b),
    # sliding window 6 < prompt. Two layers with gemma3.attention.sliding_window_pattern = 2 (u32): llama.cpp
    # makes layer il sliding iff il % pattern < pattern - 1, so layer 0 is local, layer 1 global.
    "gemma3": dict(arch="gemma3", n_layer=2, n_embd=256, n_ff=256, n_head=4, n_head_kv=1, head_dim=128,
                   rope_base=1000000.0, eps=1e-6, tied=True, sliding_window=6, swa_pattern=2, quants=K_QUANTS),
    # Same, 6 layers and NO pattern key, as real Gemma 3 GGUFs: llama.cpp's default pattern 6 gives layers
    # 0-4 local, layer 5 global. Only Q4_K_M (size).
    "gemma3l6": dict(arch="gemma3", n_layer=6, n_embd=256, n_ff=256, n_head=4, n_head_kv=1, head_dim=128,
                     rope_base=1000000.0, eps=1e-6, tied=True, sliding_window=6, quants=["Q4_K_M"]),
}

# Weight scales (see README). Inputs of every matmul have RMS ~1 (RMSNorm), so a weight std of
# 1/sqrt(fan_in) keeps activations at unit scale; norm weights are gain * (1 + 0.1 N(0,1)).
# The logits should have a std of about LOGIT_STD = 4 (top-1 vs top-2 margins then mostly > 0.1).
# Untied (llama): output.weight std 4/sqrt(n_embd), token embeddings std 1.
# Tied (qwen2/qwen3/gemma3): with random weights the residual stream keeps the input embedding e_t, and
# e_t . e_t makes the model predict its current token again and again (first try: greedy = the last prompt
# id 16 times, margins up to 50). So the embeddings are small (std TIED_EMB_STD) and the final norm gain
# restores the logit scale: output_norm gain = 4 / (TIED_EMB_STD * sqrt(n_embd)). gemma3 multiplies the
# input embeddings by sqrt(n_embd) and normalises every sublayer output (post norms), so there the post
# norm gains (POST_NORM_GAIN) make the layer outputs dominate the residual.
LOGIT_STD = 4.0
TIED_EMB_STD = 0.02
POST_NORM_GAIN = 3.0


def llama3_rope_freqs(head_dim: int, base: float, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                      original_context=128) -> np.ndarray:
    """Per-pair frequency divisors as Llama 3.1/3.2 GGUFs carry them (rope_freqs.weight): 1 for high
    frequencies, `factor` for low ones, smooth in between. original_context is 8192 in real files; 128
    here so that the factors change the rotation noticeably within a 32-token test."""
    freqs = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    low_wavelen = original_context / low_freq_factor
    high_wavelen = original_context / high_freq_factor
    out = []
    for f in freqs:
        wavelen = 2 * math.pi / f
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def vocab():
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [2, 3, 3]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(6)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [f"\u2581{c}" for c in letters] + list(letters) + ["\u2581the", "\u2581and", "\u2581is", "\u2581to",
                                                                "\u2581of", "er", "en", "in", "an"]
    for i, w in enumerate(words):
        tokens.append(w)
        scores.append(-float(i + 1))
        types.append(1)
    assert len(tokens) == N_VOCAB, len(tokens)
    return tokens, scores, types


def normal(rng, shape, std):
    return (rng.standard_normal(shape) * std).astype(np.float32)


def write_f32(family: str, cfg: dict, seed: int, path: Path) -> None:
    rng = np.random.default_rng([seed, sum(family.encode())])
    E, F, H, KV, D, L = cfg["n_embd"], cfg["n_ff"], cfg["n_head"], cfg["n_head_kv"], cfg["head_dim"], cfg["n_layer"]
    arch = cfg["arch"]
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"copiloot-fixture-{family}")
    w.add_file_type(0)  # ALL_F32
    w.add_context_length(2048)
    w.add_embedding_length(E)
    w.add_block_count(L)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_key_length(D)
    w.add_value_length(D)
    w.add_rope_dimension_count(D)
    w.add_rope_freq_base(cfg["rope_base"])
    w.add_layer_norm_rms_eps(cfg["eps"])
    w.add_vocab_size(N_VOCAB)
    if arch == "gemma3":
        w.add_sliding_window(cfg["sliding_window"])
        if "swa_pattern" in cfg:
            w.add_sliding_window_pattern(cfg["swa_pattern"])
    tokens, scores, types = vocab()
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)

    gemma = arch == "gemma3"

    def norm_w(n, gain=1.0):  # RMSNorm weights (gemma3 GGUFs store 1 + w already: llama.cpp multiplies as is)
        return (gain * (1.0 + 0.1 * rng.standard_normal(n))).astype(np.float32)

    emb_std = TIED_EMB_STD if cfg["tied"] else 1.0
    out_gain = LOGIT_STD / (TIED_EMB_STD * math.sqrt(E)) if cfg["tied"] else 1.0
    w.add_tensor("token_embd.weight", normal(rng, (N_VOCAB, E), emb_std))
    if arch == "llama":
        w.add_tensor("rope_freqs.weight", llama3_rope_freqs(D, cfg["rope_base"]))
    for il in range(L):
        p = f"blk.{il}."
        w.add_tensor(p + "attn_norm.weight", norm_w(E))
        w.add_tensor(p + "attn_q.weight", normal(rng, (H * D, E), 1 / math.sqrt(E)))
        w.add_tensor(p + "attn_k.weight", normal(rng, (KV * D, E), 1 / math.sqrt(E)))
        w.add_tensor(p + "attn_v.weight", normal(rng, (KV * D, E), 1 / math.sqrt(E)))
        if arch == "qwen2":
            w.add_tensor(p + "attn_q.bias", normal(rng, (H * D,), 0.5))
            w.add_tensor(p + "attn_k.bias", normal(rng, (KV * D,), 0.5))
            w.add_tensor(p + "attn_v.bias", normal(rng, (KV * D,), 0.5))
        if arch in ("qwen3", "gemma3"):
            w.add_tensor(p + "attn_q_norm.weight", norm_w(D))
            w.add_tensor(p + "attn_k_norm.weight", norm_w(D))
        w.add_tensor(p + "attn_output.weight", normal(rng, (E, H * D), 1 / math.sqrt(H * D)))
        if gemma:
            w.add_tensor(p + "post_attention_norm.weight", norm_w(E, POST_NORM_GAIN))
        w.add_tensor(p + "ffn_norm.weight", norm_w(E))
        w.add_tensor(p + "ffn_gate.weight", normal(rng, (F, E), 1 / math.sqrt(E)))
        w.add_tensor(p + "ffn_up.weight", normal(rng, (F, E), 1 / math.sqrt(E)))
        w.add_tensor(p + "ffn_down.weight", normal(rng, (E, F), 1 / math.sqrt(F)))
        if gemma:
            w.add_tensor(p + "post_ffw_norm.weight", norm_w(E, POST_NORM_GAIN))
    w.add_tensor("output_norm.weight", norm_w(E, out_gain))
    if not cfg["tied"]:
        w.add_tensor("output.weight", normal(rng, (N_VOCAB, E), LOGIT_STD / math.sqrt(E)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quantize(src: Path, dst: Path, ftype: int) -> None:
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = THREADS
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> {dst}, ftype {ftype}) returned {rc}")


def tensor_types(path: Path) -> dict:
    r = gguf.GGUFReader(str(path))
    return {t.name: t.tensor_type.name for t in r.tensors}


def run_llama(path: Path, prompt: list[int]) -> tuple[list[int], np.ndarray]:
    """Prompt in one batch, then greedy one token at a time. Returns greedy ids and logits
    [(N_GREEDY + 1) x n_vocab]: row 0 after the prompt, row i after greedy token i."""
    llm = Llama(model_path=str(path), n_ctx=N_CTX, n_batch=N_CTX, n_ubatch=N_CTX, n_threads=THREADS,
                n_threads_batch=THREADS, logits_all=True, seed=0, type_k=0, type_v=0,  # GGML_TYPE_F32 KV
                flash_attn=False, verbose=False)
    llm.reset()
    llm.eval(prompt)
    rows = [np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)]
    greedy = []
    for _ in range(N_GREEDY):
        tok = int(np.argmax(rows[-1]))
        greedy.append(tok)
        llm.eval([tok])
        rows.append(np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32))
    llm.close()
    return greedy, np.stack(rows)


def margins(logits: np.ndarray) -> list[float]:
    top2 = np.sort(logits, axis=1)[:, -2:]
    return [float(f"{m:.6g}") for m in (top2[:, 1] - top2[:, 0])]


def r6(x: float) -> float:
    return float(f"{x:.6g}")


def compare(tag: str, a: tuple, b: tuple) -> str:
    """Logits of two files of one family, over the rows where both saw the same tokens."""
    ga, la = a
    gb, lb = b
    same = 1
    while same <= N_GREEDY and ga[same - 1] == gb[same - 1]:
        same += 1
    d = np.abs(la[:same] - lb[:same])
    rel = d.max() / la[:same].std()
    top1 = float(np.mean(la[:same].argmax(1) == lb[:same].argmax(1)))
    corr = np.corrcoef(la[:same].ravel(), lb[:same].ravel())[0, 1]
    return (f"{tag}: rows compared {same}, max|d| {d.max():.4f} (= {rel:.3f} logit std), mean|d| "
            f"{d.mean():.4f}, corr {corr:.5f}, top-1 agree {top1:.2f}, greedy equal {sum(x == y for x, y in zip(ga, gb))}/{N_GREEDY}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--families", default=",".join(FAMILIES))
    args = ap.parse_args()

    OUT_F32.mkdir(parents=True, exist_ok=True)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    prng = np.random.default_rng(args.seed)
    # <s> then 15 word/byte ids (ids only: no text is tokenised)
    prompt = [1] + [int(x) for x in prng.integers(3, N_VOCAB, PROMPT_LEN - 1)]
    print("prompt ids:", prompt)

    cases, checks = [], []
    for family in args.families.split(","):
        cfg = FAMILIES[family]
        f32 = OUT_F32 / f"{family}-F32.gguf"
        write_f32(family, cfg, args.seed, f32)
        ref = run_llama(f32, prompt)
        g, lg = ref
        m = margins(lg)
        print(f"\n[{family}] F32 {f32.stat().st_size / 1e6:.2f} MB: logit std {lg.std():.3f}, greedy {g}")
        print(f"[{family}] F32 margins: min {min(m):.4f}, median {np.median(m):.4f}, "
              f"share > 0.05: {np.mean(np.array(m) > 0.05):.2f}")
        checks.append({"family": family, "file": "F32 (benches/out, not committed)", "greedy": g,
                       "logit_std": r6(float(lg.std())), "margin_min": min(m), "margin_median": r6(float(np.median(m)))})
        for q in cfg["quants"]:
            dst = FIXTURES / f"{family}-{q}.gguf"
            quantize(f32, dst, QUANTS[q])
            types = tensor_types(dst)
            res = run_llama(dst, prompt)
            cmp = compare(f"[{family}] F32 vs {q}", ref, res)
            print(f"{cmp}\n    {dst.name}: {dst.stat().st_size / 1e6:.3f} MB, types {dict(Counter(types.values()))}")
            checks.append({"family": family, "quant": q, "vs_f32": cmp})
            cases.append({
                "file": dst.name, "family": cfg["arch"], "fixture": family, "quant": q, "bytes": dst.stat().st_size,
                "config": {k: v for k, v in cfg.items() if k not in ("quants",)} | {"n_vocab": N_VOCAB},
                "tensor_types": types, "prompt": prompt, "greedy": res[0], "margins": margins(res[1]),
                "logits": [[r6(x) for x in row] for row in res[1].tolist()],
            })

    how = {
        "script": "benches/reference/make_gguf_fixtures.py",
        "command": "nice -n 19 benches/.venv-llama/bin/python benches/reference/make_gguf_fixtures.py --seed "
                   f"{args.seed}",
        "seed": args.seed,
        "llama_cpp_python": llama_cpp.__version__,
        "gguf_py": getattr(gguf, "__version__", "0.19.0"),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode().strip(),
        "weights": "numpy default_rng([seed, sum(fixture name bytes)]) normal: q/k/v/gate/up std 1/sqrt(n_embd), "
                   "attn_output std 1/sqrt(n_head*head_dim), ffn_down std 1/sqrt(n_ff), norms gain*(1 + 0.1*N(0,1)) "
                   "(gain 1; gemma3 GGUFs store 1+w, used as is), qwen2 q/k/v biases std 0.5, llama rope_freqs by "
                   "the Llama-3.1 formula (factor 8, low 1, high 4, original context 128). Untied (llama): "
                   f"token_embd std 1, output.weight std {LOGIT_STD}/sqrt(n_embd). Tied: token_embd std "
                   f"{TIED_EMB_STD}, output_norm gain {LOGIT_STD}/({TIED_EMB_STD}*sqrt(n_embd)); gemma3 "
                   f"post_attention_norm/post_ffw_norm gain {POST_NORM_GAIN}",
        "quantize": "llama_model_quantize(F32 file, out, ftype) with llama_model_quantize_default_params(), "
                    "nthread 2, no imatrix",
        "run": f"Llama(n_ctx={N_CTX}, n_batch={N_CTX}, n_threads={THREADS}, logits_all=True, type_k=type_v=F32, "
               "flash_attn=False, model param use_extra_bufts=False (no repack/AMX)); eval(prompt) in one batch, then eval([argmax]) one token at a time",
        "layout": "logits[0] after the prompt, logits[i] after greedy token i (i = 1..16); greedy[i] = "
                  "argmax(logits[i]); margins[i] = top1 - top2 of llama.cpp's unrounded logits[i]; logits "
                  "rounded to 6 significant digits",
        "prompt": prompt,
    }
    out = {"how": how, "checks": checks, "cases": cases}
    (FIXTURES / "reference.json").write_text(json.dumps(out, separators=(",", ":")) + "\n")
    total = sum(p.stat().st_size for p in FIXTURES.iterdir())
    print(f"\nwrote {FIXTURES / 'reference.json'}; {len(cases)} cases; fixtures total {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
