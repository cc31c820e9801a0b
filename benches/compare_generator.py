"""Generator speed: copiloot (candle) vs llama.cpp (llama-cpp-python) on the same GGUF and prompt ids.

Both engines: greedy decoding, the same prompt token ids (tokenised by llama.cpp from the model's chat
template), N generated tokens, the same thread count. Each engine runs in its own process so peak RSS
is its own. Prints one line per engine and the copiloot / llama.cpp ratios.

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
    user = Path(args.prompt_file).read_text().strip()
    ids = llm.tokenize(chat_prompt(user).encode(), add_bos=False, special=True)
    Path(args.ids).write_text(json.dumps(ids))


def run_json(cmd: list[str], env: dict[str, str]) -> dict:
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--gguf", default=str(ROOT / "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--prompt-file", default=str(ROOT / "benches/data/generator_prompt.txt"))
    p.add_argument("--ids", default=str(ROOT / "benches/out/generator_prompt_ids.json"))
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--copiloot-bin", default="")
    p.add_argument("--copiloot-label", default="")
    p.add_argument("--engine", choices=["llama", "tokenize"], help=argparse.SUPPRESS)
    p.add_argument("--stacks", default="llama,copiloot,copiloot-norequant")
    args = p.parse_args()
    if args.engine == "llama":
        return llama_engine(args)
    if args.engine == "tokenize":
        return tokenize(args)

    Path(args.ids).parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    subprocess.run([sys.executable, __file__, "--engine", "tokenize", "--gguf", args.gguf,
                    "--prompt-file", args.prompt_file, "--ids", args.ids], check=True, env=env)
    common = ["--gguf", args.gguf, "--ids", args.ids, "--max-tokens", str(args.max_tokens)]
    results = {}
    stacks = args.stacks.split(",")
    if "llama" in stacks:
        results["llama.cpp"] = run_json([sys.executable, __file__, "--engine", "llama", "--threads",
                                         str(args.threads), "--runs", str(args.runs), *common], env)
    if "copiloot" in stacks:
        results["copiloot"] = run_json([args.copiloot_bin, *common, "--runs", str(args.runs)], env)
    if "copiloot-norequant" in stacks:
        results["copiloot (Q4_1 as is)"] = run_json(
            [args.copiloot_bin, *common, "--runs", str(args.runs), "--no-requantize"], env)

    n = len(json.loads(Path(args.ids).read_text()))
    print(f"GGUF {Path(args.gguf).name}, prompt {n} tokens, {args.max_tokens} greedy tokens, "
          f"{args.threads} threads, best of {args.runs} {args.copiloot_label}")
    print(f"{'engine':26} {'prompt tok/s':>12} {'gen tok/s':>10} {'load ms':>8} {'peak RSS MB':>11}")
    for name, r in results.items():
        print(f"{name:26} {r['prompt_tokens_per_s']:12.1f} {r['generated_tokens_per_s']:10.1f} "
              f"{r['load_ms']:8.0f} {r['peak_rss_mb'] or 0:11.0f}")
    base = results.get("llama.cpp")
    if base:
        for name, r in results.items():
            if name == "llama.cpp":
                continue
            print(f"ratio {name} / llama.cpp: prompt {r['prompt_tokens_per_s'] / base['prompt_tokens_per_s']:.2f}x, "
                  f"generation {r['generated_tokens_per_s'] / base['generated_tokens_per_s']:.2f}x")
        for name, r in results.items():
            if name != "llama.cpp":
                same = r["text"] == base["text"]
                print(f"same text as llama.cpp: {name}: {same}")
                if not same:
                    print(f"  llama.cpp: {base['text']!r}\n  {name}: {r['text']!r}")


if __name__ == "__main__":
    main()
