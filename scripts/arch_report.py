#!/usr/bin/env python3
"""Architecture report: lines per folder, module import cycles and public items of the crates.

    python3 scripts/arch_report.py [--doc]     # --doc also counts the items `cargo doc` shows

A module is a .rs file (`foo/mod.rs` is module `foo`). An edge A -> B is a `crate::`/`super::`/`self::`
path in A (outside `mod` lines and re-exports) that names module B, where neither module contains the
other: a parent declaring or re-exporting its children, and a child using its parent's items, are
containment, not dependency. A cycle is a strongly connected component of two or more modules.
"""
import os, re, subprocess, sys
from collections import defaultdict

ROOT = os.environ.get("ARCH_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = {"copiloot": "crates/copiloot/src", "copiloot-cli": "crates/copiloot-cli/src",
          "copiloot-py": "crates/copiloot-py/src"}


def modules(src):
    mods = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            mods[tuple(parts)] = os.path.join(dirpath, f)
    return mods


PATH = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+|(?:crate|super)(?=::\{))")
GROUP = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^}]*)\}", re.S)


def resolve(path, here, mods):
    parts = path.split("::")
    if parts[0] == "crate":
        cur, parts = [], parts[1:]
    elif parts[0] == "self":
        cur, parts = list(here), parts[1:]
    else:
        cur = list(here)
        while parts and parts[0] == "super":
            cur, parts = cur[:-1], parts[1:]
    best = tuple(cur)
    for p in parts:
        cur = cur + [p]
        if tuple(cur) in mods:
            best = tuple(cur)
        else:
            break
    return best


def edges(mods):
    out = defaultdict(set)
    for mod, path in mods.items():
        text = open(path, encoding="utf-8").read()
        text = re.sub(r"//[^\n]*", "", text)
        lines = [l for l in text.split("\n") if not re.match(r"\s*(pub(\([a-z]+\))?\s+)?mod\s", l)]
        lines = [l for l in lines if not re.match(r"\s*pub(\([a-z]+\))?\s+use\s", l)]
        text = "\n".join(lines)
        paths = []
        for m in GROUP.finditer(text):
            for item in re.split(r",", m.group(2)):
                item = item.strip().split(" as ")[0].strip()
                if item and item != "self":
                    paths.append(m.group(1) + "::" + item.split("::{")[0])
                elif item == "self":
                    paths.append(m.group(1))
        paths += [m.group(1) for m in PATH.finditer(text)]
        for p in paths:
            target = resolve(p, mod, mods)
            if target == mod or target not in mods:
                continue
            if mod[: len(target)] == target or target[: len(mod)] == mod:
                continue  # containment: parent <-> child
            out[mod].add(target)
    return out


def cycles(mods, graph):
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(sorted("/".join(m) or "<root>" for m in scc))

    for v in mods:
        if v not in index:
            visit(v)
    return sccs


def lines_per_folder():
    counts = defaultdict(int)
    for crate, src in CRATES.items():
        for dirpath, _, files in os.walk(os.path.join(ROOT, src)):
            for f in files:
                if f.endswith(".rs"):
                    n = sum(1 for _ in open(os.path.join(dirpath, f), encoding="utf-8"))
                    rel = os.path.relpath(dirpath, os.path.join(ROOT, src))
                    top = rel.split(os.sep)[0] if rel != "." else "."
                    counts[f"{src}/{top}" if top != "." else f"{src} (top level)"] += n
    return counts


def doc_items():
    subprocess.run(["cargo", "doc", "--no-deps", "-p", "copiloot", "--quiet"], cwd=ROOT, check=True)
    doc = os.path.join(ROOT, "target", "doc", "copiloot")
    kinds = defaultdict(int)
    for dirpath, _, files in os.walk(doc):
        for f in files:
            m = re.match(r"(struct|enum|fn|trait|constant|type|macro|static)\..*\.html$", f)
            if m:
                kinds[m.group(1)] += 1
    mods = sum(1 for dirpath, _, files in os.walk(doc) if "index.html" in files) - 1
    return kinds, mods


def main():
    print("## lines per folder")
    for folder, n in sorted(lines_per_folder().items()):
        print(f"{n:6d}  {folder}")
    print("\n## import cycles between modules (not counting parent/child)")
    total = 0
    for crate, src in CRATES.items():
        mods = modules(os.path.join(ROOT, src))
        for scc in cycles(mods, edges(mods)):
            total += 1
            print(f"{crate}: {{{', '.join(scc)}}}")
    print(f"cycles: {total}")
    if "--doc" in sys.argv:
        kinds, mods = doc_items()
        print("\n## public API of the copiloot crate (items `cargo doc` shows)")
        print(f"modules: {mods}; " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())))
        print(f"items: {sum(kinds.values())}")


if __name__ == "__main__":
    main()
