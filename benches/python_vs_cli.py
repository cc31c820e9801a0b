"""Throughput of the Python binding's analyze_many against the CLI's batch mode on the same JSONL: the
overhead of the binding. Both use the same build profile (dev: dependencies optimised) and all cores.

    python/.venv/bin/python benches/python_vs_cli.py [--conversations 96] [--repeat 2]

Prints conversations/second for: the CLI end to end (load + analyse + write), the CLI's analyse part
(end to end minus a one-conversation run, i.e. without the model load), Python end to end (Copilot() +
analyze_many over the JSONL lines), and Python's analyze_many alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "copiloot"
FIXTURES = REPO / "tests" / "fixtures" / "conversations" / "all.jsonl"


def make_input(n: int, path: Path) -> list[str]:
    base = [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = [json.dumps(dict(base[i % len(base)], id=f"{base[i % len(base)]['id']}-{i}")) for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def run_cli(inp: Path, out: Path) -> float:
    out.unlink(missing_ok=True)  # the batch mode resumes: start from nothing
    t = time.perf_counter()
    subprocess.run([str(CLI), "analyze", "--input", str(inp), "--output", str(out), "--models", str(REPO / "models")],
                   check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conversations", type=int, default=96)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    import copiloot

    with tempfile.TemporaryDirectory() as tmp:
        inp, one, out = Path(tmp) / "in.jsonl", Path(tmp) / "one.jsonl", Path(tmp) / "out.jsonl"
        lines = make_input(args.conversations, inp)
        make_input(1, one)
        run_cli(one, out)  # warm the page cache and the taxonomy embedding cache
        cli_one = min(run_cli(one, out) for _ in range(args.repeat))
        cli_total = min(run_cli(inp, out) for _ in range(args.repeat))
        assert sum(1 for _ in out.open()) == args.conversations

        py_total, py_many = float("inf"), float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            copilot = copiloot.Copilot(models=REPO / "models")
            t_loaded = time.perf_counter()
            results = copilot.analyze_many(lines)
            t_done = time.perf_counter()
            assert len(results) == args.conversations
            py_total, py_many = min(py_total, t_done - t), min(py_many, t_done - t_loaded)
        # Same answers as the CLI.
        cli_out = {json.loads(l)["conversation_id"]: json.loads(l) for l in out.open()}
        same = sum(cli_out[r.conversation_id]["intents"]["primary"] == r.top_intent for r in results)  # type: ignore[union-attr]

    n = args.conversations
    cli_analyse = max(cli_total - cli_one, 1e-9) * n / max(n - 1, 1)
    print(f"{n} conversations ({sum(len(json.loads(l)['turns']) for l in lines)} turns), {os.cpu_count()} cores, best of {args.repeat}")
    print(f"  CLI  analyze --input/--output  end to end  {cli_total:7.2f} s  {n / cli_total:7.1f} conv/s")
    print(f"  CLI  without model load (est.)             {cli_analyse:7.2f} s  {n / cli_analyse:7.1f} conv/s")
    print(f"  Python Copilot() + analyze_many end to end {py_total:7.2f} s  {n / py_total:7.1f} conv/s")
    print(f"  Python analyze_many alone                  {py_many:7.2f} s  {n / py_many:7.1f} conv/s")
    print(f"  binding overhead vs CLI analyse part: {100 * (py_many / cli_analyse - 1):+.1f} %; same primary intent: {same}/{n}")


if __name__ == "__main__":
    sys.exit(main())
