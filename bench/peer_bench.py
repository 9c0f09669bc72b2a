"""Throughput of one node's peer API against a bare endpoint doing the same crypto and
matching (issue 16: "crypto paths near the floor").

One node (TX) holds 100,000 synthetic students; a second, tiny node (CA) is the
sender whose keys seal the requests (it also serves the key document TX needs to
seal its replies). Before the timed phase the bench seals two pools of fresh `find`
envelopes CA → TX with the default suite, MLKEM768-X25519 in envelopes of version 2
(the replay cache refuses a repeated message id), for a fixed query that hits a real
child among the 100k (so blocking, scoring and the exchange log all really run). Then,
in the same run, alternating over `--rounds` so that a change in the machine's
background load hits both sides alike:

1. a node round: a client process drives the node pool at `POST /federation/v1/exchange`
   of TX over keep-alive connections with N in flight; every reply must be HTTP 200 (a
   sealed `find_reply`);
2. a baseline round: the same client drives the baseline pool at a bare aiohttp
   endpoint (one process, no framework around it) that does what a node must do for a
   find and nothing else: opens and checks the same envelope (`open_envelope`, replay
   cache included), searches an in-memory `MatchIndex` of the same 100,000 students
   (the same synthetic seed) and seals the same kind of reply (5-10 candidates) to CA's
   hybrid key. What the node does beyond that — the directory and rate-limit checks,
   SQLite candidate reads, record handles, the durable exchange log of both messages,
   peer health, metrics — is what the ratio measures.

It prints requests/s, p50 and p99 latency for both and the ratio node/baseline
(target: >= 0.5). CPU split on 2 cores: the server under test (TX, or the bare
endpoint) is pinned to CPU 0 and the client to CPU 1 (the directory and CA are
idle during the timed phase and share CPU 1). The client is a minimal HTTP/1.1
keep-alive client on asyncio streams, sending pre-built request bytes, so that
its own cost stays far below the servers'.

Building the 100k node takes ~2.5 min (generation + import); with `--workdir DIR`
it is built once and reused by later runs.

Run: PYTHONPATH=/work/main /work/venv/bin/python bench/peer_bench.py \
         [--workdir /tmp/peer-bench] [--students 100000] [--seconds 10] \
         [--rounds 5] [--concurrency 32] [--pool 12000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import msgpack
from bench_processes import start_listening, stop  # a sibling module (see its docstring)

ROOT = Path(__file__).resolve().parents[1]
TARGET, SENDER = "TX", "CA"
PATH = "/federation/v1/exchange"
SERVER_CPU, CLIENT_CPU = 0, 1


# ---- building (or reusing) the federation ---------------------------------------------

def _append_config(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def build(workdir: Path, students: int) -> dict[str, Any]:
    """Create directory + TX (`students` records) + CA (5 records); return the manifest."""
    from config import load_config
    from node.authority.registry import Authority
    from node.authority.settings import init_authority
    from node.importing.importer import import_files
    from node.importing.synthetic import generate_students
    from node.ops.demo import free_port
    from node.ops.node_folder import node_info, write_node
    from node.store.database import Store
    from protocol.directory import NodeInfo

    manifest_path = workdir / "peer-bench.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest["students"] == students:
            print(f"reusing the bench federation in {workdir} ({students} students)")
            return dict(manifest)
        raise SystemExit(f"{workdir} holds a bench node with {manifest['students']} students; "
                         f"use another --workdir for {students}")
    if any(workdir.iterdir()):
        raise SystemExit(f"{workdir} is not empty and holds no peer-bench.json")
    print(f"building the bench federation in {workdir} (once; ~2.5 min for 100k students)")
    dir_port = free_port()
    cfg_path, authority_key = init_authority(workdir / "directory")
    cfg_path.write_text(cfg_path.read_text().replace("port = 0", f"port = {dir_port}"))
    authority = Authority.open(cfg_path)
    query: dict[str, Any] = {}
    for state, count in ((TARGET, students), (SENDER, 5)):
        port = free_port()
        path = write_node(workdir / state, state=state, name=f"{state} bench",
                          endpoint=f"http://127.0.0.1:{port}",
                          directory_urls=(f"http://127.0.0.1:{dir_port}",),
                          authority_key=base64.b64encode(authority_key).decode())
        _append_config(path, '\n[peers]\nrate_limit = 100000000\n'
                             '[exchange]\nmax_clock_skew = "10m"\n')
        started = time.perf_counter()
        records = generate_students(state, count, 4242)
        if state == TARGET:  # a real child with both surnames, in the middle of the file
            child = next(r for r in records[len(records) // 2:] if r.get("last_name_2"))
            query = {k: child[k] for k in ("first_name", "last_name_1", "last_name_2",
                                           "birth_date", "sex")}
        data = workdir / state / "records.jsonl"
        with data.open("w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        del records
        with Store(load_config(path).storage.database) as store:
            report = import_files(store, [data], owner_state=state, progress=False)
        data.unlink()
        print(f"  {state}: {report.result.inserted} students imported in "
              f"{time.perf_counter() - started:.0f} s")
        authority.enroll(NodeInfo.from_json(json.dumps(node_info(str(path)))))
    manifest = {"students": students, "query": query}
    manifest_path.write_text(json.dumps(manifest))
    return manifest


# ---- sealing the request pool ---------------------------------------------------------

def seal_pool(workdir: Path, query: dict[str, Any], count: int) -> list[bytes]:
    """`count` fresh find envelopes CA → TX sealed with the keys on disk, hybrid suite."""
    from config import load_config
    from crypto.seal import HYBRID
    from node.directory.identity import ensure_keys, load_keys
    from protocol.envelope import VERSION, seal_envelope
    from protocol.messages import Demographics, Find, FindCriteria, Requester

    for state in (SENDER, TARGET):  # a bench folder of an older release gains hybrid keys
        ensure_keys(load_config(workdir / state / "node.toml"))
    keys = load_keys(load_config(workdir / SENDER / "node.toml"))
    rkeys = load_keys(load_config(workdir / TARGET / "node.toml"))
    entry = rkeys.published_hybrid(time.time())[0]
    public = rkeys.hybrid[entry.key_id].public
    find = Find(FindCriteria(Demographics(**query)), Requester("bench", "staff", "Bench HS"),
                "enrollment")
    now = int(time.time() * 1000)
    return [seal_envelope(signing_key=keys.signing, sender=SENDER, recipient=TARGET,
                          recipient_key=public, recipient_key_id=entry.key_id, message=find,
                          now_ms=now, ttl_ms=600_000, purpose="enrollment", suite=HYBRID,
                          version=VERSION).wire
            for _ in range(count)]


def check_reply(workdir: Path, body: bytes) -> str:
    """Open TX's reply with CA's keys; describe the candidates (proves matching ran)."""
    from config import load_config
    from node.directory.identity import load_keys
    from protocol.envelope import ReplayCache, open_envelope
    from protocol.messages import FindReply

    keys = load_keys(load_config(workdir / SENDER / "node.toml"))
    tx = load_keys(load_config(workdir / TARGET / "node.toml"))
    opened = open_envelope(body, my_id=SENDER, my_keys=keys.opening,
                           sender_key_lookup=lambda _n: (tx.signing.public,),
                           now_ms=int(time.time() * 1000), seen=ReplayCache(),
                           max_skew_ms=600_000)
    reply = opened.message
    if not isinstance(reply, FindReply) or not reply.candidates:
        raise SystemExit(f"the fixed query found nothing on {TARGET}: {reply!r}")
    best = reply.candidates[0]
    return (f"{len(reply.candidates)} candidate(s), best {best.outcome} score {best.score}, "
            f"sealed with {opened.header.suite} (envelope v{opened.header.version})")


# ---- the client (a separate process) --------------------------------------------------

async def _drive(host: str, port: int, requests: list[bytes], *, concurrency: int,
                 seconds: float, warmup: float, cycle: bool) -> dict[str, Any]:
    position = 0
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    exhausted = False

    def next_request() -> bytes | None:
        nonlocal position, exhausted
        if position >= len(requests):
            if not cycle:
                exhausted = True
                return None
            position = 0
        position += 1
        return requests[position - 1]

    async def connection(deadline: float, record: bool) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                req = next_request()
                if req is None:
                    return
                t0 = time.perf_counter()
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                lower = head.lower()
                at = lower.index(b"content-length:") + 15
                await reader.readexactly(int(lower[at:lower.index(b"\r\n", at)]))
                if record:
                    latencies.append(round((time.perf_counter() - t0) * 1000, 3))
                    statuses[status] += 1
        finally:
            writer.close()

    if warmup > 0:
        await asyncio.gather(*(connection(time.perf_counter() + warmup, False)
                               for _ in range(concurrency)))
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(connection(started + seconds, True) for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"elapsed": elapsed, "cpu": cpu, "latencies_ms": latencies, "used": position,
            "statuses": {str(k): v for k, v in statuses.items()}, "exhausted": exhausted}


def client_main(argv: list[str]) -> None:
    """`peer_bench.py _client URL POOL_FILE OFFSET CONCURRENCY SECONDS WARMUP CYCLE`.

    Prints one JSON line: elapsed, client CPU, latencies, statuses, envelopes used.
    """
    url, pool_file, offset, concurrency, seconds, warmup, cycle = argv
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    bodies = msgpack.unpackb(Path(pool_file).read_bytes())[int(offset):]
    head = (f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/msgpack\r\nContent-Length: {}\r\n\r\n")
    requests = [head.format(len(b)).encode() + b for b in bodies]
    result = asyncio.run(_drive(host, int(port), requests, concurrency=int(concurrency),
                                seconds=float(seconds), warmup=float(warmup),
                                cycle=cycle == "1"))
    print(json.dumps(result), flush=True)


def run_client(url: str, pool_file: Path, offset: int, args: argparse.Namespace, *,
               seconds: float, warmup: float, cycle: bool) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, __file__, "_client", url, str(pool_file),
                             str(offset), str(args.concurrency), str(seconds), str(warmup),
                             "1" if cycle else "0"], stdout=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)
    os.sched_setaffinity(proc.pid, {CLIENT_CPU})
    out, _ = proc.communicate(timeout=seconds + warmup + 120)
    if proc.returncode != 0:
        raise SystemExit(f"the client failed (exit {proc.returncode})")
    return dict(json.loads(out.strip().splitlines()[-1]))


class Side:
    """Requests, time and latencies of one side summed over the rounds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.elapsed = self.cpu = 0.0
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.round_rates: list[float] = []
        self.exhausted = False

    def add(self, r: dict[str, Any]) -> None:
        self.elapsed += r["elapsed"]
        self.cpu += r["cpu"]
        self.latencies += r["latencies_ms"]
        self.statuses.update(r["statuses"])
        self.round_rates.append(len(r["latencies_ms"]) / r["elapsed"] if r["elapsed"] else 0.0)
        self.exhausted |= r["exhausted"]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def line(self) -> str:
        lat = sorted(self.latencies) or [0.0]
        n = len(self.latencies)
        bad = {k: v for k, v in self.statuses.items() if k != "200"}
        note = f"  NON-200: {bad}" if bad else ""
        note += "  (pool exhausted: raise --pool)" if self.exhausted else ""
        rounds = " ".join(f"{r:.0f}" for r in self.round_rates)
        return (f"{self.name:<6} {self.rate:8.1f} req/s   p50 {statistics.median(lat):7.2f} ms"
                f"   p99 {lat[min(n - 1, int(n * 0.99))] if n else 0.0:7.2f} ms   "
                f"({n} requests in {self.elapsed:.1f} s; per round {rounds}; client CPU "
                f"{self.cpu / self.elapsed if self.elapsed else 0.0:.0%}){note}")


# ---- the baseline endpoint (a separate process) ---------------------------------------

def bare_main(argv: list[str]) -> None:
    """`peer_bench.py _bare WORKDIR STUDENTS`: open, match in memory, seal, on a free port."""
    from aiohttp import web

    from config import load_config
    from crypto.seal import HYBRID
    from node.directory.identity import load_keys
    from node.federation.answers import demographics_of, query_of
    from node.importing.synthetic import generate_students
    from node.matching.index import MatchIndex
    from node.ops.serve import serve_forever
    from protocol.envelope import VERSION, ReplayCache, open_envelope, seal_envelope
    from protocol.messages import Candidate, Find, FindReply

    workdir, students = Path(argv[0]), int(argv[1])
    tx = load_keys(load_config(workdir / TARGET / "node.toml"))
    ca = load_keys(load_config(workdir / SENDER / "node.toml"))
    ca_public = ca.signing.public
    ca_entry = ca.published_hybrid(time.time())[0]
    ca_hybrid = ca.hybrid[ca_entry.key_id].public  # what CA's key document offers
    records = generate_students(TARGET, students, 4242)  # the same students as TX holds
    index = MatchIndex(records)
    gc.freeze()  # millions of long-lived objects: keep the cyclic GC from walking them
    replay = ReplayCache()
    opening = tx.opening

    async def exchange(request: web.Request) -> web.Response:
        wire = await request.read()
        now = int(time.time() * 1000)
        opened = open_envelope(wire, my_id=TARGET, my_keys=opening,
                               sender_key_lookup=lambda _s: ca_public, now_ms=now,
                               seen=replay, max_skew_ms=600_000)
        find = opened.message
        assert isinstance(find, Find)
        hits = index.search(query_of(find), limit=min(10, find.max_candidates))
        candidates = tuple(
            Candidate(handle=f"h{hit.position:012d}bench", score=round(hit.score * 1000),
                      outcome=hit.outcome, demographics=demographics_of(records[hit.position]),
                      agreements=tuple(sorted((k, str(v)[:20])
                                              for k, v in hit.agreements.items())))
            for hit in hits if hit.outcome != "no_match")
        sealed = seal_envelope(
            signing_key=tx.signing, sender=TARGET, recipient=SENDER, recipient_key=ca_hybrid,
            recipient_key_id=ca_entry.key_id, message=FindReply(candidates), now_ms=now,
            ttl_ms=300_000, purpose=opened.header.purpose, reply_to=opened.header.message_id,
            suite=HYBRID, version=VERSION)
        return web.Response(body=sealed.wire, content_type="application/msgpack")

    def make_app() -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(PATH, exchange)
        return app

    serve_forever(make_app, "127.0.0.1", 0)


# ---- main -----------------------------------------------------------------------------

def post(url: str, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(url + PATH, data=body,
                                 headers={"Content-Type": "application/msgpack"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return int(resp.status), resp.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None,
                        help="cache folder for the bench federation (default: a temp dir)")
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="timed seconds per side, split over the rounds")
    parser.add_argument("--rounds", type=int, default=5,
                        help="node and bare phases alternate this many times (evens out a "
                             "machine whose background load changes)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="untimed warm-up before each side's first round")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--pool", type=int, default=12_000,
                        help="envelopes sealed for each side before the timed phase (one per "
                             "request)")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        global SERVER_CPU, CLIENT_CPU
        SERVER_CPU = CLIENT_CPU = next(iter(os.sched_getaffinity(0)))
    temp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="peer-bench-")) if temp else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[str]] = []
    try:
        manifest = build(workdir, args.students)
        proc, _ = start_listening(
            ["-m", "node", "directory", "serve", "-c",
             str(workdir / "directory" / "directory.toml")],
            "directory", workdir / "directory" / "directory.log", cpu=CLIENT_CPU)
        procs.append(proc)
        proc, _ = start_listening(
            ["-m", "node", "serve", "-c", str(workdir / SENDER / "node.toml")], SENDER,
            workdir / SENDER / "node.log", cpu=CLIENT_CPU)
        procs.append(proc)
        proc, node_url = start_listening(
            ["-m", "node", "serve", "-c", str(workdir / TARGET / "node.toml")], TARGET,
            workdir / TARGET / "node.log", cpu=SERVER_CPU)
        procs.append(proc)
        started = time.perf_counter()
        pool = seal_pool(workdir, manifest["query"], 2 * args.pool + 1)
        print(f"sealed {len(pool)} envelopes in {time.perf_counter() - started:.1f} s")
        status, reply = post(node_url, pool.pop())
        if status != 200:
            raise SystemExit(f"{TARGET} answered HTTP {status} to a valid find")
        print(f"query {manifest['query']}: {check_reply(workdir, reply)}")
        print(f"{TARGET} reply: {len(reply)} bytes; request: {len(pool[0])} bytes")
        node_file, bare_file = workdir / "pool-node.msgpack", workdir / "pool-bare.msgpack"
        node_file.write_bytes(msgpack.packb(pool[:args.pool]))
        bare_file.write_bytes(msgpack.packb(pool[args.pool:]))
        started = time.perf_counter()
        bare_proc, bare_url = start_listening(
            [__file__, "_bare", str(workdir), str(manifest["students"])], "baseline endpoint",
            workdir / "bare.log", cpu=SERVER_CPU, timeout=600)
        procs.append(bare_proc)
        status, reply = post(bare_url, pool[args.pool])
        if status != 200:
            raise SystemExit(f"the baseline endpoint answered HTTP {status}")
        print(f"baseline endpoint ready in {time.perf_counter() - started:.1f} s (in-memory "
              f"MatchIndex of {manifest['students']} students): "
              f"{check_reply(workdir, reply)}")
        per_round = args.seconds / args.rounds
        print(f"{args.rounds} rounds of node then baseline, {per_round:g} s each, "
              f"{args.concurrency} requests in flight; servers on CPU {SERVER_CPU}, client "
              f"on CPU {CLIENT_CPU}; load average before: {os.getloadavg()[0]:.1f}")
        node, bare = Side("node"), Side("base")
        node_offset, bare_offset = 0, 1
        for n in range(args.rounds):
            warmup = args.warmup if n == 0 else 0.2
            result = run_client(node_url, node_file, node_offset, args, seconds=per_round,
                                warmup=warmup, cycle=False)
            node_offset += result["used"]
            node.add(result)
            result = run_client(bare_url, bare_file, bare_offset, args, seconds=per_round,
                                warmup=warmup, cycle=False)
            bare_offset += result["used"]
            bare.add(result)
            if node.exhausted or bare.exhausted:
                break
        print(node.line())
        print(bare.line())
        ratio = node.rate / bare.rate if bare.rate else 0.0
        print(f"ratio node/baseline {ratio:.3f} (target >= 0.5); load average after: "
              f"{os.getloadavg()[0]:.1f}")
        node_file.unlink()
        bare_file.unlink()
    finally:
        stop(procs, grace=15)
        if temp:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        client_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_bare":
        bare_main(sys.argv[2:])
    else:
        main()
