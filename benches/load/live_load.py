#!/usr/bin/env python3
"""Live sessions of `copiloot serve` under measurement, on loopback only (Python stdlib, not part of CI).

(a) `latency`: one session at a time, one SSE reader attached, turns 1..N (default 200) of a long chat made
    by cycling the live fixtures (tests/fixtures/live/*.json, timestamps kept increasing); prints the
    per-turn HTTP latency of `POST /v1/live/{id}/turns` (p50/p95 per turn-index range, pooled over
    --repeat sessions) and the post-to-`update`-event latency seen by the reader.
(b) `load`: (--rounds times on one server) --sessions (20) sessions at once, each posting a turn every --interval (2) s for --duration (60) s
    with one SSE reader each; prints errors (non-200 answers, failed requests, `error` events, updates a
    reader did not get), p50/p95/max turn latency, and the server's RSS before (models loaded, one warm-up
    analysis), at the end of the load, and after all sessions were closed (plus its peak, VmHWM).

    python3 benches/load/live_load.py [--bin target/release/copiloot] [latency|load|both] [options]

Build the release binary first (`cargo build --release -p copiloot-cli`); the server runs with its
defaults (`--max-concurrency` = cores, `--queue 32`) unless --serve-args says otherwise.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def long_chat(n):
    """N turns cycling the live fixtures, each pass shifted so timestamps keep increasing."""
    fixtures = [json.loads(f.read_text())["turns"] for f in sorted((ROOT / "tests/fixtures/live").glob("*.json"))]
    turns, offset = [], 0.0
    while len(turns) < n:
        for chat in fixtures:
            for t in chat[: n - len(turns)]:
                turn = dict(t)
                turn["timestamp"] = offset + float(t.get("timestamp", 0))
                turns.append(turn)
            offset = turns[-1]["timestamp"] + 30.0
    return turns


class Server:
    def __init__(self, binary, extra):
        env = dict(os.environ, COPILOOT_MODELS=str(ROOT / "models"))
        env.pop("COPILOOT_API_KEY", None)
        self.proc = subprocess.Popen(
            [binary, "serve", "--host", "127.0.0.1", "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        line = self.proc.stdout.readline()
        host, port = line.strip().rsplit("http://", 1)[1].split(":")
        self.host, self.port = host, int(port)

    def rss(self, field="VmRSS"):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def conn(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=120)

    def call(self, conn, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Reader(threading.Thread):
    """Reads a session's event stream (HTTP/1.0, close-delimited) and notes when each update arrived."""

    def __init__(self, server, session):
        super().__init__(daemon=True)
        self.sock = socket.create_connection((server.host, server.port))
        self.sock.sendall(f"GET /v1/live/{session}/events HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")
        status = self.file.readline()
        assert b" 200" in status, status
        while self.file.readline().strip():
            pass  # headers; the server has subscribed this reader once they are sent
        self.updates, self.errors, self.closed = {}, [], False

    def run(self):
        name, data = None, []
        for raw in self.file:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                if name == "update":
                    self.updates[json.loads("".join(data))["turn"]] = time.perf_counter()
                elif name == "error":
                    self.errors.append("".join(data))
                elif name == "closed":
                    self.closed = True
                    break
                name, data = None, []


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ms(values):
    return f"p50 {pct(values, 50) * 1000:7.1f} ms  p95 {pct(values, 95) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms"


def latency(args):
    server = Server(args.bin, args.serve_args)
    turns = long_chat(args.turns)
    posted = {i: [] for i in range(len(turns))}
    delivered = []
    try:
        conn = server.conn()
        for r in range(args.repeat):
            sid = f"latency-{r}"
            status, body = server.call(conn, "POST", "/v1/live", {"id": sid, "channel": "chat"})
            assert status == 201, body
            reader = Reader(server, sid)
            reader.start()
            sent = {}
            for i, turn in enumerate(turns):
                t0 = time.perf_counter()
                status, body = server.call(conn, "POST", f"/v1/live/{sid}/turns", turn)
                posted[i].append(time.perf_counter() - t0)
                sent[i] = t0
                assert status == 200, (i, status, body[:300])
            status, _ = server.call(conn, "DELETE", f"/v1/live/{sid}")
            assert status == 200
            reader.join(30)
            delivered += [reader.updates[i] - sent[i] for i in sent if i in reader.updates]
            missing = len(sent) - len(reader.updates)
            print(f"session {r}: {len(turns)} turns, reader got {len(reader.updates)} updates "
                  f"({missing} missing, {len(reader.errors)} error events), closed={reader.closed}")
        print(f"\nper-turn POST /v1/live/{{id}}/turns latency, {args.repeat} sessions of {len(turns)} turns "
              f"(turn numbers from 1), server {args.bin}:")
        edges = [1, 11, 51, 101, 151, 201]
        for lo, hi in zip(edges, edges[1:]):
            values = [v for i in range(lo - 1, min(hi - 1, len(turns))) for v in posted[i]]
            if values:
                print(f"  turns {lo:3}-{min(hi - 1, len(turns)):3}: {ms(values)}  (n={len(values)})")
        print(f"  post -> update event at the reader: {ms(delivered)}")
        print(f"RSS after: {server.rss():.0f} MB (peak {server.rss('VmHWM'):.0f} MB)")
    finally:
        server.stop()


def load(args):
    server = Server(args.bin, args.serve_args)
    chat = long_chat(int(args.duration / args.interval) + 2)
    lock = threading.Lock()
    lat, errors, delivered = [], [], []
    try:
        conn = server.conn()
        status, _ = server.call(conn, "POST", "/v1/analyze", {"id": "warm", "channel": "chat", "turns": chat[:11]})
        assert status == 200
        rss_before = server.rss()
        for round_ in range(1, args.rounds + 1):
            for collected in (lat, errors, delivered):
                collected.clear()
            sessions = [f"load-{round_}-{k}" for k in range(args.sessions)]
            readers = {}
            for sid in sessions:
                status, body = server.call(conn, "POST", "/v1/live", {"id": sid, "channel": "chat"})
                assert status == 201, body
                readers[sid] = Reader(server, sid)
                readers[sid].start()
            sent = {sid: {} for sid in sessions}
            start = time.perf_counter() + 0.5

            def poster(k, sid):
                c = server.conn()
                # Spread the sessions over the interval, then one turn every interval on a fixed clock.
                at = start + k * args.interval / args.sessions
                i = 0
                while at < start + args.duration:
                    time.sleep(max(0.0, at - time.perf_counter()))
                    t0 = time.perf_counter()
                    try:
                        status, body = server.call(c, "POST", f"/v1/live/{sid}/turns", chat[i])
                        took = time.perf_counter() - t0
                        with lock:
                            lat.append(took)
                            if status == 200:
                                sent[sid][i] = t0
                            else:
                                errors.append(f"{sid} turn {i}: HTTP {status} {body[:120]!r}")
                    except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                        with lock:
                            errors.append(f"{sid} turn {i}: {e!r}")
                        c = server.conn()
                    i += 1
                    at += args.interval

            threads = [threading.Thread(target=poster, args=(k, sid)) for k, sid in enumerate(sessions)]
            for t in threads:
                t.start()
            peak_during = 0.0
            while any(t.is_alive() for t in threads):
                peak_during = max(peak_during, server.rss())
                time.sleep(0.5)
            rss_end_of_load = server.rss()
            for sid in sessions:
                status, body = server.call(conn, "DELETE", f"/v1/live/{sid}")
                if status != 200:
                    errors.append(f"{sid} close: HTTP {status} {body[:120]!r}")
            missing = 0
            for sid, reader in readers.items():
                reader.join(30)
                missing += len(set(sent[sid]) - set(reader.updates))
                errors += [f"{sid} event error {e[:120]}" for e in reader.errors]
                delivered += [reader.updates[i] - t for i, t in sent[sid].items() if i in reader.updates]
                if not reader.closed:
                    errors.append(f"{sid}: reader got no closed event")
            time.sleep(1.0)
            metrics = server.call(conn, "GET", "/metrics")[1].decode()
            open_sessions = [l for l in metrics.splitlines() if l.startswith("copiloot_live_sessions ")]
            turns = sum(len(s) for s in sent.values())
            print(f"load round {round_} of {args.rounds}: {args.sessions} sessions x 1 turn / {args.interval:g} s for {args.duration:g} s, "
                  f"one SSE reader each, server {args.bin}")
            print(f"  turns answered 200: {turns} of {len(lat)} posted; errors: {len(errors) + missing} "
                  f"({len(errors)} failed requests / error events, {missing} updates a reader did not get)")
            for e in errors[:10]:
                print("   ", e)
            print(f"  turn latency:          {ms(lat)}")
            print(f"  post -> update event:  {ms(delivered)}")
            print(f"  RSS before {rss_before:.0f} MB, at the end of the load {rss_end_of_load:.0f} MB "
                  f"(max sampled {peak_during:.0f} MB), after closing all sessions {server.rss():.0f} MB, "
                  f"peak (VmHWM) {server.rss('VmHWM'):.0f} MB; {open_sessions[0] if open_sessions else ''}")
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", nargs="?", default="both", choices=["latency", "load", "both"])
    default_bin = ROOT / "target/release/copiloot"
    p.add_argument("--bin", default=str(default_bin if default_bin.exists() else ROOT / "target/debug/copiloot"))
    p.add_argument("--turns", type=int, default=200)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--rounds", type=int, default=1,
                   help="load rounds on the same server: RSS after each round's close shows whether memory grows")
    p.add_argument("--serve-args", nargs=argparse.REMAINDER, default=[],
                   help="extra `copiloot serve` flags (last on the line)")
    args = p.parse_args()
    print(f"{os.cpu_count()} cores, load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    if args.what in ("latency", "both"):
        latency(args)
    if args.what in ("load", "both"):
        load(args)


if __name__ == "__main__":
    main()
