"""Fan-out of a federated `find` across 50 nodes: who receives readable criteria, and how
long until the last answering state answered, with and without the discover round
(issue 14), in the same run. One peer is slow and one is dead (issue "Federation").

The federation: a directory process and `--nodes` enrolled nodes on loopback, of
realistic sizes: `--big` of them (default 3) hold `--big-students` synthetic students
(default 100,000), `--medium` (default 7) hold `--medium-students` (10,000), the rest
`--students` (2,000). Each node's discover filter is built before it serves. The queries
are `--finds` children picked from the nodes' records (in proportion to their sizes, so
the big states are asked most, as in life), each as the requesting state would type it:
the synthetic generator's realistic error profile (typos, nicknames, a swapped day and
month, a missing second surname...) applied to the holder's record, names, sex and birth
date only. The requesting node (TX) is a real `python -m node serve` process whose
per-peer timeout is `--timeout` (default 1 s); the other nodes run in a few processes of
~10 nodes each (`create_app(cfg)` + `start_site` in one event loop per process). One of
them (WY) is slow: a middleware delays its `/federation/v1/exchange` by `--slow` seconds
(default 2 s); one (VT) is dead: enrolled, nothing listening.

Two phases over the same queries, the requester restarted between them: `plain`
(`[discover] enabled = false` on TX: every find goes to every peer, as before issue 14)
and `discover` (the round first; the find only to holders with a hit). For each phase
it prints, per find, how many states received readable criteria (p50, p95, max), how
many of them are holders of the child, how many other states (share of the other
states), whether the holder's candidate came back (recall), the p50/p95 of the whole
find (it cannot end before the slow peer's timeout) and of the time until the last
answering state answered, and the ratio discover/plain of that p95.

Run: PYTHONPATH=. python bench/fanout_bench.py [--workdir /tmp/fanout-bench]
         [--nodes 50] [--per-process 10] [--finds 30] [--timeout 1] [--slow 2]
         [--big 3 --big-students 100000 --medium 7 --medium-students 10000
          --students 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from bench_processes import start_listening, stop  # a sibling module (see its docstring)

REQUESTER, SLOW, DEAD = "TX", "WY", "VT"
TERRITORIES = frozenset({"AS", "GU", "MP", "VI", "BI", "PR", "DC"})
#: the states given the most students (those with the most migrant children)
BIG_FIRST = ("CA", "FL", "WA", "OR", "MI", "GA", "NC", "ID", "NY", "PA", "IL", "KS")
QUERY_FIELDS = ("first_name", "middle_name", "last_name_1", "last_name_2", "sex",
                "birth_date")


def choose_states(count: int) -> list[str]:
    from config.load import US_STATES

    rest = sorted(US_STATES - TERRITORIES - {REQUESTER, SLOW, DEAD})
    rest += sorted(US_STATES & TERRITORIES)
    if not 3 <= count <= len(rest) + 3:
        raise SystemExit(f"--nodes must be between 3 and {len(rest) + 3}")
    return [REQUESTER, SLOW, DEAD, *rest[:count - 3]]


def sizes_of(states: list[str], args: argparse.Namespace) -> dict[str, int]:
    """Students per state: the big ones first from BIG_FIRST, then medium, then small;
    the requester holds a few (it asks, it does not answer)."""
    holders = [s for s in states if s != REQUESTER]
    ranked = [s for s in BIG_FIRST if s in holders] + [s for s in holders
                                                       if s not in BIG_FIRST]
    sizes = {REQUESTER: 50}
    for i, state in enumerate(ranked):
        sizes[state] = (args.big_students if i < args.big else
                        args.medium_students if i < args.big + args.medium else args.students)
    return sizes


def pick_queries(records: dict[str, list[dict[str, Any]]], finds: int,
                 seed: int) -> list[dict[str, Any]]:
    """`finds` children, in proportion to the states' sizes, each typed as the requester
    would (realistic error profile); each query names its holder and the child's id."""
    from node.importing.synthetic import derive_overlap_labelled

    rng = random.Random(seed)
    pool = [(state, i) for state, recs in records.items() if state != REQUESTER
            for i in range(len(recs))]
    out = []
    for n, (state, i) in enumerate(rng.sample(pool, finds)):
        child = records[state][i]
        typed, _sid, kinds = derive_overlap_labelled([child], REQUESTER, 1.0, seed + n,
                                                     "realistic")[0]
        query = {k: typed[k] for k in QUERY_FIELDS if typed.get(k)}
        out.append({"query": query, "holder": state, "id": child["state_student_id"],
                    "errors": list(kinds)})
    return out


def build(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Create the directory and the nodes with their records and filters (or reuse them);
    return the manifest."""
    from config import load_config
    from node.authority.registry import Authority
    from node.authority.settings import init_authority
    from node.importing.importer import import_files
    from node.importing.synthetic import generate_students
    from node.ops.demo import free_port
    from node.ops.node_folder import node_info, write_node
    from node.store.database import Store
    from protocol.directory import NodeInfo

    shape = {"nodes": args.nodes, "timeout": args.timeout, "finds": args.finds,
             "sizes": [args.big, args.big_students, args.medium, args.medium_students,
                       args.students], "seed": args.seed}
    manifest_path = workdir / "fanout-bench.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("shape") == shape:
            print(f"reusing the bench federation in {workdir} ({args.nodes} nodes)")
            return dict(manifest)
        raise SystemExit(f"{workdir} holds a different bench federation; use another --workdir")
    if any(workdir.iterdir()):
        raise SystemExit(f"{workdir} is not empty and holds no fanout-bench.json")
    started = time.perf_counter()
    states = choose_states(args.nodes)
    sizes = sizes_of(states, args)
    print(f"building {args.nodes} nodes in {workdir} (once): "
          f"{sum(sizes.values()):,} students")
    dir_port = free_port()
    cfg_path, authority_key = init_authority(workdir / "directory")
    cfg_path.write_text(cfg_path.read_text().replace("port = 0", f"port = {dir_port}"))
    authority = Authority.open(cfg_path)
    records: dict[str, list[dict[str, Any]]] = {}
    ports = {dir_port}
    for i, state in enumerate(states):
        port = free_port()
        while port in ports:  # the OS may hand out a port it handed out before
            port = free_port()
        ports.add(port)
        path = write_node(workdir / state, state=state, name=f"{state} bench",
                          endpoint=f"http://127.0.0.1:{port}",
                          directory_urls=(f"http://127.0.0.1:{dir_port}",),
                          authority_key=base64.b64encode(authority_key).decode())
        with path.open("a") as f:
            f.write(f'\n[peers]\ntimeout = "{args.timeout:g}s"\nrate_limit = 100000\n'
                    '\n[discover]\nelements_per_minute = 1000000\nburst = 100000\n')
        records[state] = generate_students(state, sizes[state], 100 + i)
        data = workdir / state / "records.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records[state]))
        cfg = load_config(path)
        t0 = time.perf_counter()
        with Store(cfg.storage.database) as store:
            report = import_files(store, [data], owner_state=state, progress=False)
            if report.rejects:
                raise SystemExit(f"{state}: import rejected {report.rejects}")
            data.unlink()
            t1 = time.perf_counter()
            build_filter(cfg, store)
        if sizes[state] >= 10_000:
            print(f"  {state}: {sizes[state]:,} students imported in {t1 - t0:.0f} s, "
                  f"filter in {time.perf_counter() - t1:.0f} s")
        authority.enroll(NodeInfo.from_json(json.dumps(node_info(str(path)))))
    queries = pick_queries(records, args.finds, args.seed)
    manifest = {"states": states, "sizes": sizes, "queries": queries, "shape": shape}
    manifest_path.write_text(json.dumps(manifest))
    print(f"built in {time.perf_counter() - started:.0f} s")
    return manifest


def build_filter(cfg: Any, store: Any) -> None:
    """The node's discover filter, built once here so that no node serves without one."""
    from node.directory.identity import load_keys
    from node.importing.discover_rebuild import rebuild

    keys = load_keys(cfg)
    if keys.oprf is None:
        raise SystemExit(f"{cfg.node.id}: no OPRF key in {cfg.keys.oprf_key}")
    rebuild(store, node_id=cfg.node.id, oprf=keys.oprf, signing=keys.signing)


def set_discover(workdir: Path, enabled: bool) -> None:
    """Switch the requester's discover round on or off in its node.toml."""
    path = workdir / REQUESTER / "node.toml"
    text = path.read_text()
    old, new = ("enabled = true", "enabled = false") if not enabled else (
        "enabled = false", "enabled = true")
    if "[discover]" not in text:
        raise SystemExit(f"{path}: no [discover] section")
    head, _, tail = text.partition("[discover]")
    if "enabled =" not in tail.split("\n[", 1)[0]:
        tail = f"\nenabled = {'true' if enabled else 'false'}" + tail
    else:
        tail = tail.replace(old, new, 1)
    path.write_text(head + "[discover]" + tail)


# ---- a process serving several nodes ----------------------------------------------------

def group_main(argv: list[str]) -> None:
    """`fanout_bench.py _group WORKDIR SLOW_SECONDS STATE...`: serve those nodes."""
    from aiohttp import web

    from config import load_config
    from node.app import create_app
    from node.ops.serve import start_site

    workdir, delay, states = Path(argv[0]), float(argv[1]), argv[2:]

    @web.middleware
    async def slow(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/federation/v1/exchange":
            await asyncio.sleep(delay)
        return await handler(request)  # type: ignore[no-any-return]

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runners = []
        for state in states:
            cfg = load_config(workdir / state / "node.toml")
            app = create_app(cfg)
            if state == SLOW:
                app.middlewares.insert(0, slow)
            runner, _url = await start_site(app, cfg.server.host, cfg.server.port)
            runners.append(runner)
        print(f"listening on {len(runners)} nodes", flush=True)
        try:
            await stop.wait()
        finally:
            for runner in runners:
                await runner.cleanup()

    asyncio.run(main())


def rss_mb(procs: list[subprocess.Popen[str]]) -> float:
    """Resident memory of the processes, from /proc (0 where unreadable)."""
    total = 0
    for p in procs:
        try:
            status = Path(f"/proc/{p.pid}/status").read_text()
        except OSError:
            continue
        for row in status.splitlines():
            if row.startswith("VmRSS:"):
                total += int(row.split()[1])
    return total / 1024


# ---- measuring ------------------------------------------------------------------------

def federated_find(workdir: Path, query: dict[str, Any]) -> tuple[float, list[dict[str, Any]],
                                                                     dict[str, Any]]:
    ctl = json.loads((workdir / REQUESTER / "control.json").read_text())
    req = urllib.request.Request(ctl["url"] + "/local/v1/find",
                                 data=json.dumps({**query, "purpose": "enrollment"}).encode(),
                                 headers={"Authorization": f"Bearer {ctl['token']}",
                                          "Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as resp:
        body = resp.read().decode()
    elapsed = time.perf_counter() - started
    lines = [json.loads(x) for x in body.splitlines() if x.strip()]
    answers = [x for x in lines if "state" in x]
    summary = next(x["summary"] for x in lines if "summary" in x)
    return elapsed, answers, summary


def readable_recipients(answers: list[dict[str, Any]], summary: dict[str, Any]) -> set[str]:
    """The states the requester sent the readable `find` to (criteria in the clear inside
    the envelope), whether they answered, timed out or failed: the summary's disclosure,
    checked against the answer lines' routes."""
    sent = set(summary["disclosure"]["find_sent"])
    routed = {a["state"] for a in answers if a.get("route") in ("plain", "connected", "hit")}
    if sent != routed:
        raise SystemExit(f"the summary's find_sent {sorted(sent)} differs from the routes of "
                         f"the answers {sorted(routed)}")
    return sent


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_phase(workdir: Path, manifest: dict[str, Any], mode: str,
              procs: list[subprocess.Popen[str]]) -> dict[str, Any]:
    """Start the requester with discover on or off, warm up, run every query; figures."""
    set_discover(workdir, mode == "discover")
    proc = start_listening(["-m", "node", "serve", "-c", str(workdir / REQUESTER / "node.toml")],
                           REQUESTER, workdir / REQUESTER / "node.log", timeout=180)[0]
    states: list[str] = manifest["states"]
    others = len(states) - 1
    try:
        for warm in manifest["queries"][:2]:  # key documents and filters fetched, cached
            federated_find(workdir, warm["query"])
        totals, last_answer, readable, extra, found = [], [], [], [], 0
        missing: Counter[str] = Counter()
        for item in manifest["queries"]:
            elapsed, answers, summary = federated_find(workdir, item["query"])
            totals.append(elapsed * 1000)
            ok = [a["latency_ms"] for a in answers if a["status"] == "answered"]
            last_answer.append(max(ok) if ok else 0.0)
            got = readable_recipients(answers, summary)
            readable.append(len(got))
            extra.append(len(got - {item["holder"]}))
            holder = next((a for a in answers if a["state"] == item["holder"]), None)
            found += bool(holder and holder.get("candidates"))
            for state in [*summary["timed_out"], *summary["failed"]]:
                missing[state] += 1
        return {"mode": mode, "totals": totals, "last": last_answer, "readable": readable,
                "extra": extra, "found": found, "others": others, "missing": missing,
                "rss": rss_mb([*procs, proc])}
    finally:
        stop([proc])


def report(phase: dict[str, Any], finds: int) -> None:
    others = phase["others"]
    print(f"{phase['mode']}: {finds} federated finds from {REQUESTER} to {others} peers")
    print(f"  readable criteria to   p50 {statistics.median(phase['readable']):5.0f}   "
          f"p95 {pct(phase['readable'], 0.95):5.0f}   max {max(phase['readable'])} states "
          f"per find")
    mean_extra = statistics.mean(phase["extra"])
    print(f"  of them not the holder mean {mean_extra:5.2f} ({mean_extra / (others - 1):.1%} "
          f"of the other states), p95 {pct(phase['extra'], 0.95):.0f}, "
          f"max {max(phase['extra'])}")
    print(f"  holder's candidate back {phase['found']}/{finds}")
    print(f"  whole find          p50 {statistics.median(phase['totals']):7.0f} ms   "
          f"p95 {pct(phase['totals'], 0.95):7.0f} ms")
    print(f"  last answering peer p50 {statistics.median(phase['last']):7.0f} ms   "
          f"p95 {pct(phase['last'], 0.95):7.0f} ms")
    print(f"  resident memory: {phase['rss']:.0f} MB for the node processes")
    print("  reported missing:" + ("" if phase["missing"] else " none") + "".join(
        f" {state} {times}/{finds}" for state, times in sorted(phase["missing"].items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None,
                        help="cache folder for the bench federation (default: a temp dir)")
    parser.add_argument("--nodes", type=int, default=50, help="enrolled nodes, all included")
    parser.add_argument("--per-process", type=int, default=10, help="nodes per process")
    parser.add_argument("--finds", type=int, default=30, help="timed federated finds")
    parser.add_argument("--timeout", type=float, default=1.0, help="requester's peer timeout (s)")
    parser.add_argument("--slow", type=float, default=2.0, help="slow node's delay (s)")
    parser.add_argument("--big", type=int, default=3, help="nodes with --big-students")
    parser.add_argument("--big-students", type=int, default=100_000)
    parser.add_argument("--medium", type=int, default=7, help="nodes with --medium-students")
    parser.add_argument("--medium-students", type=int, default=10_000)
    parser.add_argument("--students", type=int, default=2_000, help="every other node")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--phases", default="plain,discover")
    args = parser.parse_args()
    temp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="fanout-bench-")) if temp else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[str]] = []
    try:
        manifest = build(workdir, args)
        states: list[str] = manifest["states"]
        served = [s for s in states if s not in (REQUESTER, DEAD)]
        started = time.perf_counter()
        procs.append(start_listening(["-m", "node", "directory", "serve", "-c",
                                      str(workdir / "directory" / "directory.toml")],
                                     "directory", workdir / "directory" / "directory.log")[0])
        groups = [served[i:i + args.per_process]
                  for i in range(0, len(served), args.per_process)]
        for n, group in enumerate(groups):
            procs.append(start_listening(
                [__file__, "_group", str(workdir), f"{args.slow:g}", *group],
                f"node group {n}", workdir / f"group-{n}.log", timeout=300)[0])
        print(f"started the directory and {len(served)} nodes in {len(groups)} processes in "
              f"{time.perf_counter() - started:.1f} s; {SLOW} slow ({args.slow:g} s), "
              f"{DEAD} dead, peer timeout {args.timeout:g} s; sizes: "
              + ", ".join(f"{s} {n:,}" for s, n in manifest["sizes"].items() if n >= 10_000))
        phases = [run_phase(workdir, manifest, mode, procs[1:])
                  for mode in args.phases.split(",")]
        for phase in phases:
            report(phase, len(manifest["queries"]))
        by_mode = {p["mode"]: p for p in phases}
        if {"plain", "discover"} <= set(by_mode):
            plain, disc = by_mode["plain"], by_mode["discover"]
            print(f"last-answer p95 discover/plain: "
                  f"{pct(disc['last'], 0.95) / max(pct(plain['last'], 0.95), 1e-9):.2f}x "
                  f"(target <= 2x); readable criteria per find: "
                  f"{statistics.mean(disc['readable']):.1f} against "
                  f"{statistics.mean(plain['readable']):.1f}")
    finally:
        stop(procs)
        if temp:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_group":
        group_main(sys.argv[2:])
    else:
        main()
