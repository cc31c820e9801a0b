#!/usr/bin/env python3
"""Side-by-side encoder speed: sentence-transformers (PyTorch) vs ONNX Runtime vs copiloot.

All three embed the same utterances (benches/data/utterances.txt) with the same model folder, the same
prompt ("query: " for e5, none for MiniLM), max length 128, mean pooling + L2 norm, 2 threads each
(torch.set_num_threads, ORT intra_op_num_threads, RAYON_NUM_THREADS), at each batch size. Each stack
runs in its own process: load, one warm-up pass, then --runs timed passes over all texts; the median
pass gives texts/s. The vectors of the stacks are compared (mean and min cosine per text).

Usually run through benches/compare_encoders.sh, which sets up the venv and builds the Rust example:
    benches/compare_encoders.sh --model both --runs 7
Directly (the copiloot binary must exist, see --copiloot-bin):
    benches/.venv/bin/python benches/compare_encoders.py --model minilm --copiloot-bin target/.../encode_throughput

Batching: every stack sorts texts by length before cutting batches (sentence-transformers by characters,
ORT here and copiloot by tokens), so batches pad only to their own longest text; copiloot additionally
spends no work on padding at all (unpadded attention).

copiloot runs once per precision (stacks `copiloot-f32`, `copiloot-q8`); its load time and peak RSS
(from the example's own report) are printed too.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {
    "minilm": {"dir": "all-minilm-l6-v2", "prefix": ""},
    "e5": {"dir": "multilingual-e5-small", "prefix": "query: "},
}


def read_texts(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ------------------------------------------------------------------------------------ workers
def load_tokenizer(folder: Path):
    """The folder's tokenizer for transformers; built from tokenizer.json when there is no config."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if (folder / "tokenizer_config.json").exists():
        return AutoTokenizer.from_pretrained(str(folder))
    added = {t["content"] for t in json.loads((folder / "tokenizer.json").read_text())["added_tokens"]}
    if "<s>" in added:  # XLM-R / e5 style
        special = dict(bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
                       pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")
    else:
        special = dict(cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
                       unk_token="[UNK]", mask_token="[MASK]")
    return PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), **special)


def time_passes(embed, texts: list[str], runs: int):
    embed(texts)  # warm-up
    times, vectors = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        vectors = embed(texts)
        times.append(time.perf_counter() - t0)
    return times, vectors


def worker_torch(args, texts: list[str]) -> dict:
    import numpy as np
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model = SentenceTransformer(str(args.model_dir), device="cpu")
    model.max_seq_length = args.max_length
    if not (args.model_dir / "tokenizer_config.json").exists():
        model[0].processor = load_tokenizer(args.model_dir)
    model.eval()
    results = {}
    for bs in args.batch_sizes:
        def embed(batch):
            with torch.inference_mode():
                return model.encode(batch, batch_size=bs, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        times, vectors = time_passes(embed, texts, args.runs)
        np.save(args.out / f"torch-b{bs}.npy", vectors.astype(np.float32))
        results[bs] = times
    return {"results": results, "version": f"sentence-transformers {sentence_transformers.__version__}, "
            f"torch {torch.__version__}"}


def export_onnx(model_dir: Path, onnx_dir: Path) -> tuple[Path, str]:
    """Export the transformer (last_hidden_state) to ONNX once; then let ORT fuse it for BERT."""
    import torch
    from transformers import AutoConfig, AutoModel

    onnx_dir.mkdir(parents=True, exist_ok=True)
    raw, fused = onnx_dir / "model.onnx", onnx_dir / "model.fused.onnx"
    weights = model_dir / "model.safetensors"
    if not raw.exists() or raw.stat().st_mtime < weights.stat().st_mtime:
        model = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False,
                                          attn_implementation="eager").eval()

        class Hidden(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        dummy = torch.ones((2, 16), dtype=torch.int64)
        axes = {0: "batch", 1: "seq"}
        torch.onnx.export(Hidden(model), (dummy, dummy, torch.zeros_like(dummy)), str(raw),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "token_type_ids": axes, "last_hidden_state": axes})
        fused.unlink(missing_ok=True)
    if not fused.exists():
        try:
            from onnxruntime.transformers.optimizer import optimize_model

            cfg = AutoConfig.from_pretrained(str(model_dir))
            opt = optimize_model(str(raw), model_type="bert", num_heads=cfg.num_attention_heads,
                                 hidden_size=cfg.hidden_size, opt_level=1)
            opt.save_model_to_file(str(fused))
        except Exception as err:  # fusion is an optimisation; the plain export still runs
            print(f"note: ORT transformer fusion failed ({err}); using the plain export", file=sys.stderr)
            return raw, "torch.onnx.export (opset 17), ORT graph optimisations"
    return fused, "torch.onnx.export (opset 17) + onnxruntime.transformers BERT fusion"


def worker_ort(args, texts: list[str]) -> dict:
    import numpy as np
    import onnxruntime as ort

    path, how = export_onnx(args.model_dir, args.onnx_dir)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if args.no_spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    tok = load_tokenizer(args.model_dir)

    def embed_batch(batch: list[str]):
        enc = tok(batch, padding=True, truncation=True, max_length=args.max_length, return_tensors="np")
        mask = enc["attention_mask"].astype(np.int64)
        feeds = {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": mask,
                 "token_type_ids": np.zeros_like(mask)}
        hidden = sess.run(None, feeds)[0]
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    results = {}
    for bs in args.batch_sizes:
        def embed(all_texts):
            lengths = [len(ids) for ids in tok(all_texts, truncation=True, max_length=args.max_length)["input_ids"]]
            order = sorted(range(len(all_texts)), key=lambda i: -lengths[i])
            out = np.zeros((len(all_texts), sess.get_outputs()[0].shape[-1] or 384), dtype=np.float32)
            for start in range(0, len(order), bs):
                idx = order[start:start + bs]
                out[idx] = embed_batch([all_texts[i] for i in idx])
            return out
        times, vectors = time_passes(embed, texts, args.runs)
        np.save(args.out / f"ort-b{bs}.npy", vectors.astype(np.float32))
        results[bs] = times
    return {"results": results, "version": f"onnxruntime {ort.__version__}; {how}"}


def worker_main(args) -> None:
    texts = [MODELS[args.model]["prefix"] + t for t in read_texts(args.texts)]
    fn = {"torch": worker_torch, "ort": worker_ort}[args.worker]
    report = fn(args, texts)
    report["results"] = {str(k): v for k, v in report["results"].items()}
    (args.out / f"{args.worker}.json").write_text(json.dumps(report))


# --------------------------------------------------------------------------------- orchestration
def run_python_stack(stack: str, model: str, args, out: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", stack, "--model", model,
           "--model-dir", str(model_dir(model, args)), "--texts", str(args.texts), "--runs", str(args.runs),
           "--batch-sizes", ",".join(map(str, args.batch_sizes)), "--max-length", str(args.max_length),
           "--threads", str(args.threads), "--out", str(out), "--onnx-dir", str(args.out / "onnx" / model)]
    if args.no_spin:
        cmd.append("--no-spin")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error"}
    if args.no_spin:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    subprocess.run(cmd, check=True, env=env)
    rep = json.loads((out / f"{stack}.json").read_text())
    return {"version": rep["version"], "times": {int(k): v for k, v in rep["results"].items()}}


def run_copiloot(stack: str, model: str, args, out: Path) -> dict:
    import numpy as np

    precision = stack.split("-", 1)[1] if "-" in stack else "q8"
    env = {**os.environ, "RAYON_NUM_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
    times, load, rss = {}, [], []
    for bs in args.batch_sizes:
        vec = out / f"{stack}-b{bs}.npy"
        cmd = [str(args.copiloot_bin), "--model", str(model_dir(model, args)), "--texts", str(args.texts),
               "--batch-size", str(bs), "--runs", str(args.runs), "--out", str(vec), "--precision", precision]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"copiloot example failed ({res.returncode}):\n{res.stderr.strip()}")
        report = json.loads(res.stdout.strip().splitlines()[-1])
        times[bs] = report["runs"]
        load.append(report.get("load_secs") or 0.0)
        rss.append(report.get("peak_rss_mb") or 0.0)
        assert np.load(vec).shape[0] == len(read_texts(args.texts))
    return {"version": f"copiloot {precision} {args.copiloot_label}; load {min(load):.2f} s, "
            f"peak RSS {max(rss):.0f} MB", "times": times}


def model_dir(model: str, args) -> Path:
    return args.models_dir / MODELS[model]["dir"]


def agreement(out: Path, stacks: list[str], batch_sizes: list[int]) -> list[dict]:
    import numpy as np

    def cos(a, b):
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        return (a * b).sum(axis=1)

    rows = []
    for bs in batch_sizes:
        vecs = {s: np.load(out / f"{s}-b{bs}.npy") for s in stacks}
        for i, a in enumerate(stacks):
            for b in stacks[i + 1:]:
                c = cos(vecs[a], vecs[b])
                rows.append({"batch": bs, "pair": f"{a}~{b}", "mean": float(c.mean()), "min": float(c.min())})
    for s in stacks:
        if s.startswith("copiloot") and len(batch_sizes) > 1:
            c = cos(np.load(out / f"{s}-b{batch_sizes[0]}.npy"), np.load(out / f"{s}-b{batch_sizes[-1]}.npy"))
            rows.append({"batch": f"{batch_sizes[0]}~{batch_sizes[-1]}", "pair": f"{s}~itself",
                         "mean": float(c.mean()), "min": float(c.min())})
    return rows


def print_tables(summary: dict) -> None:
    n = summary["n_texts"]
    print(f"\n{n} texts ({summary['texts_file']}), max length {summary['max_length']}, "
          f"{summary['threads']} threads, median of {summary['runs']} runs; texts/s (higher is better)")
    stacks = list(dict.fromkeys(s for m in summary["models"].values() for s in m["stacks"]))
    ours = [s for s in stacks if s.startswith("copiloot")]
    head = f"{'model':<8} {'batch':>5} " + " ".join(f"{s:>13}" for s in stacks) + " " + " ".join(
        f"{s.replace('copiloot', 'cop') + '/ort':>11} {s.replace('copiloot', 'cop') + '/pt':>10}" for s in ours)
    print(head)
    print("-" * len(head))
    for model, m in summary["models"].items():
        for bs in summary["batch_sizes"]:
            tps = {s: m["stacks"][s]["texts_per_sec"].get(bs) for s in m["stacks"]}

            def fmt(v):
                return f"{v:13.1f}" if v else f"{'-':>13}"

            def ratio(a, b, w):
                return f"{tps[a] / tps[b]:{w}.2f}" if tps.get(a) and tps.get(b) else f"{'-':>{w}}"
            print(f"{model:<8} {bs:>5} " + " ".join(fmt(tps.get(s)) for s in stacks) + " " + " ".join(
                f"{ratio(s, 'ort', 11)} {ratio(s, 'torch', 10)}" for s in ours))
    print("\ncosine agreement per text (mean / min)")
    for model, m in summary["models"].items():
        for row in m["agreement"]:
            print(f"{model:<8} batch {str(row['batch']):>5}  {row['pair']:<18} "
                  f"{row['mean']:.6f} / {row['min']:.6f}")
    print("\nstacks:")
    for model, m in summary["models"].items():
        for s, d in m["stacks"].items():
            print(f"  {model} {s}: {d['version']} (load average before: {d['loadavg_before']})")
    print(f"load average at the end: {summary['loadavg']}; idle threads "
          f"{'sleep (--no-spin)' if summary['no_spin'] else 'spin as each library defaults'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["minilm", "e5", "both"], default="both")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--batch-sizes", default="32,1", help="comma-separated, e.g. 32,1")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stacks", default="torch,ort,copiloot-f32,copiloot-q8",
                    help="comma-separated: torch, ort, copiloot-f32, copiloot-q8")
    ap.add_argument("--texts", type=Path, default=ROOT / "benches/data/utterances.txt")
    ap.add_argument("--models-dir", type=Path, default=Path(os.environ.get("COPILOOT_MODELS") or ROOT / "models"),
                    help="installed models (default: $COPILOOT_MODELS, else models/ of this repo)")
    ap.add_argument("--out", type=Path, default=ROOT / "benches/out/compare")
    ap.add_argument("--copiloot-bin", type=Path, help="the built encode_throughput example")
    ap.add_argument("--no-spin", action="store_true",
                    help="idle worker threads sleep instead of spinning (torch: OMP_WAIT_POLICY=PASSIVE, ORT: "
                         "allow_spinning=0; rayon always sleeps after a short spin). Use it on a busy machine: "
                         "spinning OpenMP threads that share a core with another process can slow torch 50x")
    ap.add_argument("--copiloot-label", default="(dev profile)", help="shown next to the copiloot results")
    # internal: one stack in its own process
    ap.add_argument("--worker", choices=["torch", "ort"], help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--onnx-dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",") if b]
    if args.worker:
        args.out.mkdir(parents=True, exist_ok=True)
        worker_main(args)
        return

    stacks = [s for s in args.stacks.split(",") if s]
    if any(s.startswith("copiloot") for s in stacks) and not (args.copiloot_bin and args.copiloot_bin.exists()):
        ap.error("--copiloot-bin must point at the built encode_throughput example (or drop copiloot from --stacks)")
    models = ["minilm", "e5"] if args.model == "both" else [args.model]
    n = len(read_texts(args.texts))
    summary = {"n_texts": n, "texts_file": str(args.texts.relative_to(ROOT)) if args.texts.is_relative_to(ROOT)
               else str(args.texts), "max_length": args.max_length, "threads": args.threads, "runs": args.runs,
               "batch_sizes": args.batch_sizes, "no_spin": args.no_spin, "models": {}}
    for model in models:
        mdir = model_dir(model, args)
        if not (mdir / "model.safetensors").exists():
            print(f"skipping {model}: {mdir} is not installed (run `copiloot models install`)", file=sys.stderr)
            continue
        out = args.out / model
        out.mkdir(parents=True, exist_ok=True)
        results = {}
        for stack in stacks:
            load = os.getloadavg()[0]
            print(f"[{model}] {stack} ... (load average {load:.2f})", file=sys.stderr, flush=True)
            if load > 0.7:
                print("warning: the machine is busy; timings will be noisy (see --no-spin)", file=sys.stderr)
            results[stack] = (run_copiloot(stack, model, args, out) if stack.startswith("copiloot")
                              else run_python_stack(stack, model, args, out))
            results[stack]["loadavg_before"] = round(load, 2)
            results[stack]["texts_per_sec"] = {bs: n / statistics.median(t) for bs, t in results[stack]["times"].items()}
        summary["models"][model] = {"stacks": results, "agreement": agreement(out, stacks, args.batch_sizes)}
    summary["loadavg"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print_tables(summary)


if __name__ == "__main__":
    main()
