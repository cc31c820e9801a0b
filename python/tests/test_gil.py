"""The GIL is released while Rust works: a pure-Python thread keeps running during a long analyze_many,
and concurrent calls from several threads give the same answers as sequential ones."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List

import numpy as np

import copiloot


def test_python_thread_progresses_during_analyze_many(
    copilot: copiloot.Copilot, fixture_dicts: List[Dict[str, Any]]
) -> None:
    inputs = fixture_dicts * 2
    inside = threading.Event()
    done = threading.Event()
    results: List[Any] = []

    def work() -> None:
        inside.set()
        results.extend(copilot.analyze_many(inputs, batch_size=len(inputs)))
        done.set()

    worker = threading.Thread(target=work)
    counts_during = 0
    worker.start()
    inside.wait()
    started = time.perf_counter()
    while not done.is_set():
        counts_during += 1  # pure Python: runs only while the worker does not hold the GIL
    elapsed = time.perf_counter() - started
    worker.join()
    assert len(results) == len(inputs)
    # Held GIL: the loop gets a few switch intervals (5 ms each) at most. Released: it spins the whole
    # call (about a second of analyses), millions of iterations.
    assert elapsed > 0.2, f"analyze_many took only {elapsed:.3f}s; the check needs a longer call"
    assert counts_during > 100_000, f"only {counts_during} iterations in {elapsed:.2f}s: the GIL was held"


def test_threads_share_one_copilot(copilot: copiloot.Copilot, fixture_dicts: List[Dict[str, Any]]) -> None:
    expected = [copilot.analyze(c) for c in fixture_dicts[:4]]
    texts = ["Mijn internet doet het niet", "Ik wil opzeggen", "Where is my parcel?"]
    vectors = copilot.embed(texts)
    out: Dict[int, Any] = {}

    def work(i: int) -> None:
        out[i] = ([copilot.analyze(c) for c in fixture_dicts[:4]], copilot.embed(texts))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for analyses, v in out.values():
        assert analyses == expected
        np.testing.assert_allclose(v, vectors, atol=1e-6)
