"""Soak: a mixed load at a fixed rate against a three-node federation, for a bounded time.

Issue "Reliability, security and operations", item 5 (PROTOCOL-ANCHORS.md §5.1 item 25:
bounded load, loopback only). A directory and three nodes (TX, CA, FL) run as real
processes (tests/integration/harness.py), each with `--students` synthetic children.
Operations are started open-loop at `--rate` per second (latency is measured from each
operation's scheduled start, so a stalled node shows up as latency, not as a slower
schedule), spread over the three nodes:

  find 40%   federated find through the local control API (fans out to both peers)
  fetch 20%  staff fetch of a record handle one of the earlier finds returned as a match
  move 10%   move notice queued to a random peer (delivered by the outbox job)
  ui   30%   GET /login, /healthz and /metrics of a node (the staff UI's public pages)

At the end it prints throughput, p50/p99 latency per operation and overall, errors by
kind (an answer naming a peer as failed or timed out counts as a "partial" answer, not an
error), whether every node process is still alive, each node's resident memory at start
(after a warm-up) and end (from /proc/PID/status), tracebacks in the node logs, and the
final outbox depths. Exit code 1 if a node crashed or any error was unexplained.

Run: PYTHONPATH=/work/main /work/venv/bin/python bench/soak.py [--duration 300]
         [--rate 12] [--students 2000] [--workers 16] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.control.metrics import rss_bytes  # noqa: E402
from tests.integration.harness import Federation  # noqa: E402

STATES = ["TX", "CA", "FL"]
MIX = [("find", 40), ("fetch", 20), ("move", 10), ("ui", 30)]


class Load:
    def __init__(self, fed: Federation, seed: int) -> None:
        self.fed = fed
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.records = {s: [json.loads(line) for line in
                            (fed.node_dir(s) / "records.jsonl").read_text().splitlines()]
                        for s in STATES}
        self.handles: dict[str, list[tuple[str, str]]] = defaultdict(list)  # requester->(holder, h)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.partial = 0
        self.done: Counter[str] = Counter()

    def pick(self) -> str:
        with self.lock:
            return self.rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]

    def _random(self, seq: list[Any]) -> Any:
        with self.lock:
            return self.rng.choice(seq)

    def find(self, state: str) -> None:
        holder = self._random([s for s in STATES if s != state])
        r = self._random(self.records[holder])
        answers, summary = self.fed.find(state, first_name=r["first_name"],
                                         last_name_1=r["last_name_1"],
                                         birth_date=r["birth_date"], purpose="enrollment")
        if summary["failed"] or summary["timed_out"]:
            with self.lock:
                self.partial += 1
        for peer, answer in answers.items():
            for cand in answer.get("candidates") or []:
                if cand.get("outcome") != "match":  # staff open matches (near: worklist)
                    continue
                with self.lock:
                    pool = self.handles[state]
                    pool.append((peer, cand["handle"]))
                    del pool[:-200]

    def fetch(self, state: str) -> None:
        with self.lock:
            pool = list(self.handles[state])
        if not pool:
            return self.find(state)
        holder, handle = self._random(pool)
        reply = self.fed.control(state, "/local/v1/fetch",
                                 {"state": holder, "handles": [handle], "purpose": "enrollment",
                                  "user_id": "soak", "role": "staff"})
        for snap in reply["snapshots"]:
            if not snap["signature_verified"]:
                raise ValueError("snapshot signature did not verify")
        return None

    def move(self, state: str) -> None:
        r = self._random(self.records[state])
        to = self._random([s for s in STATES if s != state])
        self.fed.control(state, "/local/v1/notify-move",
                         {"student": r["state_student_id"], "to": to,
                          "expected": "2026-12-01", "comment": "soak"})

    def ui(self, state: str) -> None:
        path = self._random(["/login", "/healthz", "/metrics"])
        with urllib.request.urlopen(self.fed.nodes[state].url + path, timeout=30) as resp:
            resp.read()

    def run_one(self, kind: str, scheduled: float) -> None:
        state = self._random(STATES)
        try:
            getattr(self, kind)(state)
        except urllib.error.HTTPError as exc:
            self._error(f"{kind}: HTTP {exc.code}")
        except Exception as exc:  # counted and reported; the soak goes on
            self._error(f"{kind}: {type(exc).__name__}: {str(exc)[:80]}")
        else:
            with self.lock:
                self.done[kind] += 1
                self.latency[kind].append(time.monotonic() - scheduled)

    def _error(self, what: str) -> None:
        with self.lock:
            self.errors[what] += 1


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _rss(fed: Federation) -> dict[str, int | None]:
    return {s: rss_bytes(fed.nodes[s].popen.pid) if fed.nodes[s].popen else None  # type: ignore[union-attr]
            for s in STATES}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    ap.add_argument("--rate", type=float, default=12.0, help="operations started per second")
    ap.add_argument("--students", type=int, default=2000, help="synthetic students per node")
    ap.add_argument("--workers", type=int, default=16, help="client threads")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds before RSS at start")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the federation here")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="soak-"))
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    print(f"building a federation of {', '.join(STATES)} with {args.students} students each "
          f"in {root}", flush=True)
    fed = Federation(root, STATES, background=args.students).create()
    for s in STATES:  # allow the soak's rate between peers (default 600/min)
        cfg = fed.config(s)
        cfg.write_text(cfg.read_text().replace("[peers]\n", "[peers]\nrate_limit = 60000\n", 1))
    fed.start()
    load = Load(fed, args.seed)
    crashed: list[str] = []
    try:
        pool = ThreadPoolExecutor(max_workers=args.workers)
        warm_end = time.monotonic() + args.warmup
        while time.monotonic() < warm_end:  # warm-up at the same rate, not measured
            pool.submit(Load.run_one, load, "find", time.monotonic())
            time.sleep(1 / args.rate)
        time.sleep(1)
        load.latency.clear()
        load.done.clear()
        load.errors.clear()
        load.partial = 0
        rss_start = _rss(fed)
        print(f"load: {args.rate:g} operations/s for {args.duration:g} s "
              f"(mix {', '.join(f'{k} {w}%' for k, w in MIX)})", flush=True)
        started = time.monotonic()
        n = 0
        next_report = started + 60
        while True:
            at = started + n / args.rate
            now = time.monotonic()
            if at - started >= args.duration:
                break
            if at > now:
                time.sleep(at - now)
            pool.submit(Load.run_one, load, load.pick(), at)
            n += 1
            if time.monotonic() >= next_report:
                next_report += 60
                print(f"  {time.monotonic() - started:5.0f} s: {sum(load.done.values())} done, "
                      f"{sum(load.errors.values())} errors", flush=True)
        pool.shutdown(wait=True)
        elapsed = time.monotonic() - started
        rss_end = _rss(fed)
        crashed = [s for s in STATES if not fed.nodes[s].running]
        depth = {s: fed.control(s, "/local/v1/status")["outbox_depth"] for s in STATES
                 if s not in crashed}
    finally:
        fed.stop()
    tracebacks = {s: (fed.node_dir(s) / "node.log").read_text().count("Traceback")
                  for s in STATES}
    done = sum(load.done.values())
    all_lat = [x for v in load.latency.values() for x in v]
    print(f"\nscheduled {n} operations in {elapsed:.1f} s; completed {done} "
          f"({done / elapsed:.2f} ops/s)")
    print(f"{'operation':<10}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for kind in [k for k, _ in MIX] + ["all"]:
        lat = all_lat if kind == "all" else load.latency.get(kind, [])
        print(f"{kind:<10}{len(lat):>8}{_pct(lat, 50) * 1000:>10.1f}{_pct(lat, 99) * 1000:>10.1f}"
              f"{(max(lat) if lat else float('nan')) * 1000:>10.1f}")
    print(f"errors: {sum(load.errors.values())}" + "".join(
        f"\n  {n:>5}  {what}" for what, n in load.errors.most_common()))
    print(f"partial find answers (a peer named failed/timed out): {load.partial}")
    print(f"crashed nodes: {', '.join(crashed) or 'none'}; tracebacks in node logs: "
          f"{tracebacks}; outbox depth at end: {depth}")
    print(f"{'node':<6}{'RSS start MiB':>15}{'RSS end MiB':>13}{'growth MiB':>12}")
    for s in STATES:
        a, b = rss_start[s], rss_end[s]
        if a is None or b is None:
            print(f"{s:<6}{'n/a':>15}{'n/a':>13}")
            continue
        print(f"{s:<6}{a / 2**20:>15.1f}{b / 2**20:>13.1f}{(b - a) / 2**20:>+12.1f}")
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if crashed or load.errors or any(tracebacks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
