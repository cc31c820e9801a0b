#!/usr/bin/env python3
"""Notes side by side, for a person to judge: 12 conversations (Dutch and English; the test fixtures and
the shared TweetSumm / DialogSum sets), each with a transcript excerpt, the note of an OLD copiloot
binary, the note of a NEW one, and the NEW binary's LLM rewrite (or why the quality gate withheld it).

Usage:
  python3 benches/notes_side_by_side.py --old OLD_BIN --new NEW_BIN [--data ../shared/data] \
      [--generator default] [--out benches/notes_side_by_side.md]

OLD_BIN is e.g. a release build of the commit before the change (`git worktree add /tmp/old REV` and
`cargo build --release -p copiloot-cli` there). Without --generator the rewrite column is left out.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = [
    "tests/fixtures/conversations/nl_telecom_opzegging.txt",
    "tests/fixtures/conversations/nl_internet_storing.txt",
    "tests/fixtures/conversations/nl_verzekering_afgewezen.txt",
    "tests/fixtures/conversations/nl_webshop_bezorging.json",
    "tests/fixtures/conversations/nl_energie_jaarafrekening.json",
    "tests/fixtures/live/nl_chat_opzegging.json",
    "tests/fixtures/conversations/en_telecom_cancellation.json",
    "tests/fixtures/conversations/en_broadband_unresolved.txt",
]
SHARED = [("summary/tweetsumm/tweetsumm_dev.jsonl", [0, 7]), ("summary/dialogsum/dialogsum.test.jsonl", [1, 3])]


def summarize(binary, path, generator=None):
    cmd = [binary, "summarize", path, "--format", "json"]
    if generator:
        cmd += ["--generator", generator]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        return {"text": f"(failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode})"}
    return json.loads(out.stdout)


def as_conversation(name, dialogue):
    """A dataset dialogue as `copiloot eval summary` reads it: `Customer:`/`Agent:` keep their role,
    other names (DialogSum's `#Person1#`) by order of appearance, first the customer, and the note names
    them as the transcript does."""
    turns, order = [], []
    for line in dialogue.splitlines():
        who, sep, text = line.partition(":")
        if not sep or not text.strip():
            continue
        who = who.strip()
        role = who.lower() if who.lower() in ("customer", "agent") else None
        if role is None:
            order += [who] if who not in order else []
            role = "customer" if order[0] == who else "agent"
        turns.append({"speaker": role, "text": text.strip(), "name": who})
    parties = {t["speaker"]: t["name"] for t in turns if t["name"].lower() not in ("customer", "agent")}
    return {"id": name, "turns": [{"speaker": t["speaker"], "text": t["text"]} for t in turns],
            "parties": parties}


def excerpt(path):
    if path.endswith(".json"):
        turns = json.load(open(path, encoding="utf-8"))["turns"]
        names = json.load(open(path, encoding="utf-8")).get("parties", {})
        lines = [f"{names.get(t['speaker'], t['speaker'])}: {t['text']}" for t in turns]
    else:
        lines = [line for line in open(path, encoding="utf-8").read().splitlines() if line.strip()]
    text = "\n".join(lines[:6])
    return text + ("\n…" if len(lines) > 6 else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--generator")
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "notes_side_by_side.md"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    items = [(os.path.basename(f), os.path.join(ROOT, f)) for f in FIXTURES]
    for rel, picks in SHARED:
        path = os.path.join(a.data, rel)
        if not os.path.exists(path):
            print(f"skipped {rel}: not found", file=sys.stderr)
            continue
        rows = [json.loads(line) for line in open(path, encoding="utf-8")]
        for i in picks:
            name = rows[i].get("conversation_id") or rows[i].get("fname")
            target = os.path.join(tmp, f"{os.path.basename(rel).split('.')[0]}_{i}.json")
            json.dump(as_conversation(name, rows[i]["dialogue"]), open(target, "w", encoding="utf-8"))
            items.append((f"{os.path.basename(rel)} #{i} ({name})", target))
    out = ["# Notes side by side", "",
           f"Old: `{a.old}`; new: `{a.new}`" + (f"; rewrite: `--generator {a.generator}`" if a.generator else "") + ".",
           "Made by `benches/notes_side_by_side.py`.", ""]
    for title, path in items:
        old = summarize(a.old, path)
        new = summarize(a.new, path, a.generator)
        out += [f"## {title}", "", "```", excerpt(path), "```", "",
                f"- **old note**: {old.get('text', '')}", f"- **new note**: {new.get('text', '')}"]
        if a.generator:
            r = new.get("rewrite") or {}
            if r.get("withheld"):
                out.append(f"- **rewrite withheld**: {r['withheld']}")
            else:
                out.append(f"- **rewrite**: {r.get('text', '(none)')}")
        out.append("")
        print(f"done {title}", file=sys.stderr)
    open(a.out, "w", encoding="utf-8").write("\n".join(out))
    print(f"written {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
