"""Generator speed: copiloot vs llama.cpp (llama-cpp-python) on the same GGUF files and prompt ids.

Both engines: greedy decoding, the same prompt token ids (tokenised by llama.cpp from the model's chat
template, or `--prompt random:N` ids for random-weight files without a real vocabulary), N generated
tokens, the same thread count. Each run of each engine is its own process, so peak RSS and load time are
its own; runs are interleaved (llama.cpp, copiloot, llama.cpp, ...) so that machine noise hits both, and
the best run of each phase counts. Prints one table row per (file, engine), the copiloot / llama.cpp
ratios, and how many leading greedy tokens agree.

Run through benches/compare_generator.sh (sets up the venv and builds the copiloot example).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def chat_prompt(user: str) -> str:
    # SmolLM2's own template (tokenizer.chat_template in the GGUF), rendered for one user message.
    return (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    )


def llama_engine(args: argparse.Namespace) -> None:
    import numpy as np
    from llama_cpp import Llama

    t0 = time.perf_counter()
    llm = Llama(
        model_path=args.gguf,
        n_ctx=2048,
        n_batch=1024,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    load_ms = (time.perf_counter() - t0) * 1e3
    ids = json.loads(Path(args.ids).read_text())
    n_vocab = llm.n_vocab()

    def last_logits():
        # Without logits_all llama-cpp-python keeps no scores: read the context's last row directly.
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))

    best_pp, best_tg, out = 0.0, 0.0, []
    for _ in range(args.runs):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids)
        logits = last_logits()
        pp_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        out = []
        # Same accounting as copiloot: N tokens sampled, N-1 forward passes after the prompt.
        for i in range(args.max_tokens):
            tok = int(np.argmax(logits))
            out.append(tok)
            if i + 1 == args.max_tokens:
                break
            llm.eval([tok])
            logits = last_logits()
        tg_s = time.perf_counter() - t1
        best_pp = max(best_pp, len(ids) / pp_s)
        best_tg = max(best_tg, len(out) / tg_s)
    text = llm.detokenize(out).decode("utf-8", "replace")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "engine": "llama.cpp", "load_ms": load_ms, "prompt_tokens": len(ids), "generated_tokens": len(out),
        "prompt_tokens_per_s": best_pp, "generated_tokens_per_s": best_tg, "text": text,
        "peak_rss_mb": rss_mb, "ids": out,
    }))


def tokenize(args: argparse.Namespace) -> None:
    from llama_cpp import Llama

    llm = Llama(model_path=args.gguf, n_ctx=512, vocab_only=True, verbose=False)
    if args.prompt.startswith("random:"):
        # Ids past the first 3 (unk/bos/eos), from a fixed seed: the same prompt for both engines.
        import numpy as np

        n = int(args.prompt.split(":", 1)[1])
        ids = [int(i) for i in np.random.default_rng(21).integers(3, llm.n_vocab(), n)]
    else:
        user = Path(args.prompt_file).read_text().strip()
        ids = llm.tokenize(chat_prompt(user).encode(), add_bos=False, special=True)
    Path(args.ids).write_text(json.dumps(ids))


def leading_agreement(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def run_json(cmd: list[str], env: dict[str, str]) -> dict:
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--gguf", action="append", help="a GGUF file (repeat for several; default: the embedded SmolLM2)")
    p.add_argument("--prompt", default="chat", help="`chat` (the prompt file in the chat template) or `random:N`")
    p.add_argument("--prompt-file", default=str(ROOT / "benches/data/generator_prompt.txt"))
    p.add_argument("--ids", default=str(ROOT / "benches/out/generator_prompt_ids.json"))
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--copiloot-bin", default="")
    p.add_argument("--copiloot-label", default="")
    p.add_argument("--engine", choices=["llama", "tokenize"], help=argparse.SUPPRESS)
    p.add_argument("--stacks", default="llama,copiloot")
    args = p.parse_args()
    if args.engine == "llama":
        args.gguf = args.gguf[0]
        return llama_engine(args)
    if args.engine == "tokenize":
        args.gguf = args.gguf[0]
        return tokenize(args)

    files = args.gguf or [str(ROOT / "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")]
    Path(args.ids).parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    stacks = args.stacks.split(",")
    print(f"{args.max_tokens} greedy tokens, {args.threads} threads, best of {args.runs} interleaved runs "
          f"{args.copiloot_label}")
    print(f"| GGUF | engine | prompt tok/s | gen tok/s | load ms | peak RSS MB | prompt × | gen × | same greedy |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for gguf in files:
        subprocess.run([sys.executable, __file__, "--engine", "tokenize", "--gguf", gguf, "--prompt", args.prompt,
                        "--prompt-file", args.prompt_file, "--ids", args.ids], check=True, env=env)
        common = ["--gguf", gguf, "--ids", args.ids, "--max-tokens", str(args.max_tokens)]
        commands = {}
        if "llama" in stacks:
            commands["llama.cpp"] = [sys.executable, __file__, "--engine", "llama", "--threads", str(args.threads),
                                     "--runs", "1", *common]
        if "copiloot" in stacks:
            commands["copiloot"] = [args.copiloot_bin, *common, "--runs", "1"]
        if "copiloot-candle" in stacks:
            commands["copiloot (candle)"] = [args.copiloot_bin, *common, "--runs", "1", "--engine", "candle"]
        results: dict[str, dict] = {}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                r = run_json(cmd, env)
                best = results.setdefault(name, r)
                for key in ("prompt_tokens_per_s", "generated_tokens_per_s"):
                    best[key] = max(best[key], r[key])
                for key in ("load_ms", "peak_rss_mb"):
                    best[key] = min(best[key] or 0, r[key] or 0) or r[key]
        n = len(json.loads(Path(args.ids).read_text()))
        base = results.get("llama.cpp")
        for name, r in results.items():
            ratio_pp = ratio_tg = same = ""
            if base and name != "llama.cpp":
                ratio_pp = f"{r['prompt_tokens_per_s'] / base['prompt_tokens_per_s']:.2f}"
                ratio_tg = f"{r['generated_tokens_per_s'] / base['generated_tokens_per_s']:.2f}"
                same = f"{leading_agreement(r.get('ids', []), base['ids'])}/{len(base['ids'])}"
                if r.get("engine_note"):
                    name += f" (candle: {r['engine_note']})"
            print(f"| {Path(gguf).name} ({n} prompt ids) | {name} | {r['prompt_tokens_per_s']:.1f} | "
                  f"{r['generated_tokens_per_s']:.1f} | {r['load_ms']:.0f} | {r['peak_rss_mb'] or 0:.0f} | "
                  f"{ratio_pp} | {ratio_tg} | {same} |")


if __name__ == "__main__":
    main()
