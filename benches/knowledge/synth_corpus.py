#!/usr/bin/env python3
"""Synthesise a knowledge-base corpus of N passages from the shared retrieval corpora, for speed runs.

Every passage is a window of 2-4 consecutive sentences of one shared article (MTRAG cloud/govt/fiqa/
clapnq, StackFAQ), cycling through windows and then through sentence-order shuffles so that N distinct
passages exist; ids are unique. With DISTINCT < N only the first DISTINCT texts are made and repeated
under new ids (the indexer embeds a repeated text once: a large index without hours of encoding).
Usage: synth_corpus.py N OUT.jsonl [DATA_DIR] [DISTINCT]
"""
import json
import random
import re
import sys
from pathlib import Path

n = int(sys.argv[1])
out = Path(sys.argv[2])
data = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(__file__).resolve().parents[3] / "shared/data/knowledge"
distinct = int(sys.argv[4]) if len(sys.argv) > 4 else n
sentences = []
for corpus in sorted(data.glob("*/corpus.jsonl")):
    for line in corpus.read_text().splitlines():
        record = json.loads(line)
        parts = [s.strip() for s in re.split(r"(?<=[.!?])\s+", record["text"]) if len(s.split()) >= 4]
        if parts:
            sentences.append((record.get("title", ""), parts))
rng = random.Random(7)
written = 0
round_no = 0
texts = []
with out.open("w") as f:
    while written < distinct:
        for title, parts in sentences:
            if round_no:
                parts = parts[:]
                rng.shuffle(parts)
            for start in range(0, len(parts), 3):
                window = parts[start : start + 2 + (start + round_no) % 3]
                if not window or written >= distinct:
                    continue
                texts.append((title, " ".join(window)))
                f.write(json.dumps({"id": f"p{written}", "title": title, "text": texts[-1][1]}) + "\n")
                written += 1
        round_no += 1
    while written < n:
        title, text = texts[written % len(texts)]
        f.write(json.dumps({"id": f"p{written}", "title": title, "text": text}) + "\n")
        written += 1
print(f"{written} passages -> {out}", file=sys.stderr)
