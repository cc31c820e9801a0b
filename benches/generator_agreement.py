"""How many greedy tokens copiloot's engine shares with llama.cpp on real weights: the embedded SmolLM2 and
its re-quantisations by llama.cpp (benches/reference/requantize_smollm2.py), on the prompts and llama.cpp
ids of benches/reference/smollm2_greedy.json. No llama.cpp is needed here: its ids are the committed file.

  python3 benches/generator_agreement.py [--bin target/release/examples/generate_speed]

Prints, per file and prompt, the leading tokens that agree (copiloot stops at the end-of-turn token; that
counts as agreeing when llama.cpp's next id is that token), llama.cpp's top-1 minus top-2 logit margin
where the two first differ (a small margin is a coin toss between near-equal tokens, not an error), and the
copiloot engine that ran.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=str(ROOT / "target/release/examples/generate_speed"))
    p.add_argument("--reference", default=str(ROOT / "benches/reference/smollm2_greedy.json"))
    p.add_argument("--dir", default=str(ROOT / "benches/out/smollm2"), help="where the re-quantised files are")
    args = p.parse_args()
    ref = json.loads(Path(args.reference).read_text())
    env = dict(os.environ, RAYON_NUM_THREADS="2")
    print("| file | prompt | engine | same leading greedy tokens | llama.cpp's margin where they part |")
    print("|---|---|---|---:|---:|")
    for entry in ref["files"]:
        path = ROOT / entry["file"]
        if not path.exists():
            path = Path(args.dir) / Path(entry["file"]).name
        if not path.exists():
            print(f"| {entry['file']} | - | missing: run benches/reference/requantize_smollm2.py | - |")
            continue
        for case in entry["cases"]:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(case["prompt_ids"], f)
            out = subprocess.run([args.bin, "--gguf", str(path), "--ids", f.name, "--max-tokens",
                                  str(len(case["greedy"]))], env=env, capture_output=True, text=True, check=True)
            os.unlink(f.name)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            ours, theirs = r["ids"], case["greedy"]
            same = 0
            for a, b in zip(ours, theirs):
                if a != b:
                    break
                same += 1
            stopped = r["stop_reason"] == "end_of_turn" and same == len(ours)
            shown = f"{same}/{len(theirs)}" + (" (both end the turn there)" if stopped else "")
            margin = "" if stopped or same >= len(theirs) else f"{case['margins'][same]:.2f}"
            print(f"| {entry['quant']} | {case['user'][:40]}… | {r['forward']} | {shown} | {margin} |")


if __name__ == "__main__":
    main()
