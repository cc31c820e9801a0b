"""Independent check of tests/fixtures/gguf/reference.json: a naive numpy forward pass (float64, weights
dequantised with the gguf package) of every fixture file, teacher-forced on the prompt + llama.cpp's greedy
ids, compared with llama.cpp's logits row by row.

What it shows: (a) the fixture files mean what the README says (architecture semantics as written below,
read from llama.cpp's src/models/*.cpp, not from copiloot); (b) how close an exact f32/f64 engine that
dequantises the weights can get to llama.cpp, which quantises the activations to Q8_0/Q8_K inside its
quantised matmuls (so a Rust test needs a tolerance of about this size, see the printed table).

Usage: benches/.venv-llama/bin/python benches/reference/check_fixtures.py [--f32]
  --f32 also checks the F32 sources in benches/out/gguf/ (written by make_gguf_fixtures.py) against
        llama.cpp run on them here.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf.quants import dequantize

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "gguf"

# --ablate: deliberately wrong variants of the forward pass; each must move the logits far more than the
# llama.cpp-vs-exact noise, else the fixture would not catch that mistake.
ABLATIONS = {
    "no_rope_freqs": "llama: ignore rope_freqs.weight",
    "llama_neox": "llama: NEOX rope (pairs i, i+D/2) instead of NORM (2i, 2i+1)",
    "no_swa": "gemma3: no sliding-window mask (all layers full attention)",
    "swa_base_global": "gemma3: sliding layers use rope.freq_base (1e6) instead of 10000",
    "all_swa": "gemma3: every layer sliding (pattern ignored)",
    "norm_plus_one": "gemma3: add 1 to the stored norm weights again",
    "gelu_erf": "gemma3: erf GELU instead of the tanh approximation",
    "no_qk_norm": "qwen3/gemma3: skip attn_q_norm / attn_k_norm",
}
ABLATION_ARCHS = {"no_rope_freqs": ["llama"], "llama_neox": ["llama"], "no_qk_norm": ["qwen3", "gemma3"]}
ABLATION_ARCHS.update({k: ["gemma3"] for k in ABLATIONS if k not in ABLATION_ARCHS})
ABLATE: set[str] = set()


def load(path: Path):
    r = gguf.GGUFReader(str(path))
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()

    def kv(key, default=None):
        f = r.fields.get(f"{arch}.{key}")
        return default if f is None else f.parts[-1][0].item()

    hp = dict(arch=arch, n_layer=kv("block_count"), n_embd=kv("embedding_length"), n_head=kv("attention.head_count"),
              n_head_kv=kv("attention.head_count_kv"), head_dim=kv("attention.key_length"),
              eps=kv("attention.layer_norm_rms_epsilon"), rope_base=kv("rope.freq_base", 10000.0),
              n_swa=kv("attention.sliding_window", 0), swa_pattern=kv("attention.sliding_window_pattern", 6))
    w = {}
    for t in r.tensors:
        a = dequantize(t.data, t.tensor_type).astype(np.float64)
        w[t.name] = a.reshape([int(x) for x in reversed(t.shape)]) if a.ndim > 1 or len(t.shape) > 1 else a.reshape(-1)
    return hp, w


def rms_norm(x, g, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g


def gnorm(x, g, eps):  # gemma3 norms (GGUF stores 1 + w)
    return rms_norm(x, g + 1.0 if "norm_plus_one" in ABLATE else g, eps)


def rope(x, pos, base, neox, factors=None):
    """x: [T, H, D]. NORM (llama): pairs (2i, 2i+1); NEOX (qwen2/qwen3/gemma3): pairs (i, i + D/2).
    theta_i = pos * base^(-2i/D) / factors[i]."""
    D = x.shape[-1]
    inv = base ** (-np.arange(0, D, 2) / D)
    if factors is not None:
        inv = inv / factors
    ang = pos[:, None] * inv[None, :]  # [T, D/2]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    out = x.copy()
    if neox:
        a, b = x[..., : D // 2], x[..., D // 2:]
        out[..., : D // 2], out[..., D // 2:] = a * c - b * s, a * s + b * c
    else:
        a, b = x[..., 0::2], x[..., 1::2]
        out[..., 0::2], out[..., 1::2] = a * c - b * s, a * s + b * c
    return out


def gelu_tanh(x):
    if "gelu_erf" in ABLATE:
        from math import erf
        return 0.5 * x * (1 + np.vectorize(erf)(x / math.sqrt(2)))
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1 + np.exp(-x))


def forward(hp, w, ids):
    """Logits for every position of ids (causal, full sequence at once)."""
    arch, L, E = hp["arch"], hp["n_layer"], hp["n_embd"]
    H, KV, D, eps = hp["n_head"], hp["n_head_kv"], hp["head_dim"], hp["eps"]
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    x = w["token_embd.weight"][ids]
    gemma = arch == "gemma3"
    norm = gnorm if gemma else rms_norm
    if gemma:
        x = x * math.sqrt(E)
    for il in range(L):
        p = f"blk.{il}."
        h = norm(x, w[p + "attn_norm.weight"], eps)
        q = h @ w[p + "attn_q.weight"].T
        k = h @ w[p + "attn_k.weight"].T
        v = h @ w[p + "attn_v.weight"].T
        if p + "attn_q.bias" in w:
            q, k, v = q + w[p + "attn_q.bias"], k + w[p + "attn_k.bias"], v + w[p + "attn_v.bias"]
        q, k, v = q.reshape(T, H, D), k.reshape(T, KV, D), v.reshape(T, KV, D)
        if p + "attn_q_norm.weight" in w and "no_qk_norm" not in ABLATE:  # qwen3/gemma3: per head, before RoPE
            q = norm(q, w[p + "attn_q_norm.weight"], eps)
            k = norm(k, w[p + "attn_k_norm.weight"], eps)
        base, swa = hp["rope_base"], False
        if gemma and hp["n_swa"] > 0:
            n = hp["swa_pattern"]
            swa = n == 0 or il % n < n - 1 or "all_swa" in ABLATE
            if swa and "swa_base_global" not in ABLATE:
                base = 10000.0  # llama.cpp default rope_freq_base_train_swa (no gemma3.rope.freq_base_swa key)
        factors = w.get("rope_freqs.weight") if arch == "llama" and "no_rope_freqs" not in ABLATE else None
        neox = arch != "llama" or "llama_neox" in ABLATE
        q = rope(q, pos, base, neox=neox, factors=factors)
        k = rope(k, pos, base, neox=neox, factors=factors)
        mask = np.tril(np.ones((T, T), dtype=bool))
        if swa and "no_swa" not in ABLATE:
            mask &= (pos[:, None] - pos[None, :]) < hp["n_swa"]
        att = np.empty((T, H, D))
        for hh in range(H):
            kh = hh // (H // KV)
            s = q[:, hh] @ k[:, kh].T / math.sqrt(D)
            s = np.where(mask, s, -np.inf)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            att[:, hh] = s @ v[:, kh]
        o = att.reshape(T, H * D) @ w[p + "attn_output.weight"].T
        if gemma:
            o = norm(o, w[p + "post_attention_norm.weight"], eps)
        x = x + o
        h = norm(x, w[p + "ffn_norm.weight"], eps)
        g = h @ w[p + "ffn_gate.weight"].T
        act = gelu_tanh(g) if gemma else silu(g)
        f = (act * (h @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
        if gemma:
            f = norm(f, w[p + "post_ffw_norm.weight"], eps)
        x = x + f
    x = norm(x, w["output_norm.weight"], eps)
    head = w.get("output.weight", w["token_embd.weight"])
    return x @ head.T


def compare(path: Path, prompt, greedy, ref_logits):
    hp, w = load(path)
    ids = list(prompt) + list(greedy)
    logits = forward(hp, w, ids)[len(prompt) - 1:]  # row 0 after the prompt, row i after greedy token i
    ref = np.asarray(ref_logits)
    d = np.abs(logits[: len(ref)] - ref)
    top_ref = ref.argmax(1)
    top_np = logits[: len(ref)].argmax(1)
    srt = np.sort(ref, axis=1)
    margin = srt[:, -1] - srt[:, -2]
    disagree = [(int(i), round(float(margin[i]), 4)) for i in np.nonzero(top_ref != top_np)[0]]
    return d.max(), d.mean(), d.max() / ref.std(), disagree


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--f32", action="store_true")
    ap.add_argument("--ablate", action="store_true", help="also run the wrong variants: " + ", ".join(ABLATIONS))
    args = ap.parse_args()
    doc = json.loads((FIXTURES / "reference.json").read_text())
    print(f"{'file':24s} {'max|d|':>8s} {'mean|d|':>8s} {'max/std':>8s}  argmax differs at (row, llama.cpp margin)")
    worst = 0.0
    for case in doc["cases"]:
        mx, mean, rel, dis = compare(FIXTURES / case["file"], case["prompt"], case["greedy"], case["logits"])
        worst = max(worst, rel)
        print(f"{case['file']:24s} {mx:8.4f} {mean:8.4f} {rel:8.4f}  {dis if dis else '-'}")
    if args.f32:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import make_gguf_fixtures as fx

        for name in fx.FAMILIES:
            src = fx.OUT_F32 / f"{name}-F32.gguf"
            if not src.exists():
                print(f"{src} missing: run make_gguf_fixtures.py first")
                continue
            greedy, lg = fx.run_llama(src, doc["how"]["prompt"])
            mx, mean, rel, dis = compare(src, doc["how"]["prompt"], greedy, lg)
            print(f"{src.name:24s} {mx:8.4f} {mean:8.4f} {rel:8.4f}  {dis if dis else '-'}")
    print(f"worst max|d| / logit std: {worst:.4f}")
    if args.ablate:
        print("\nwrong variants (Q8_0 files; compare with the table above):")
        for name, what in ABLATIONS.items():
            ABLATE.clear()
            ABLATE.add(name)
            for case in doc["cases"]:
                if case["quant"] != "Q8_0" and case["fixture"] != "gemma3l6":
                    continue
                mx, mean, rel, dis = compare(FIXTURES / case["file"], case["prompt"], case["greedy"], case["logits"])
                if case["family"] in ABLATION_ARCHS[name]:
                    print(f"  {name:16s} {case['file']:24s} max|d| {mx:7.3f} mean|d| {mean:6.3f} "
                          f"argmax differs in {len(dis)}/{len(case['logits'])} rows   ({what})")
        ABLATE.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
