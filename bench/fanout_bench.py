"""Latency of a federated `find` across 50 nodes, one slow and one dead (issue "Federation").

The federation: a directory process and 50 enrolled nodes on loopback, each with a
few synthetic students (a known child is added to every fifth state so replies
carry candidates). The requesting node (TX) is a real `python -m node serve`
process whose per-peer timeout is `--timeout` (default 1 s); the other nodes run
in a few processes of ~10 nodes each (`create_app(cfg)` + `start_site` in one event
loop per process), which is what makes 50 nodes fit on 2 cores. One of them (WY)
is slow: a middleware delays its `/federation/v1/exchange` by `--slow` seconds
(default 2 s) before answering normally, like a node behind a slow link. One (VT)
is dead: enrolled in the directory, nothing listening on its port.

After one untimed warm-up find (it fetches and caches every peer's key document),
the bench runs `--finds` federated finds through TX's control API
(`POST /local/v1/find`, NDJSON per state then a summary) and prints the p50/p95 of
the whole find (it cannot end before the slow peer's timeout), the p50/p95 of the
time until the last answering state answered, and which states the summaries
reported missing (timed out or failed, with the reason).

Run: PYTHONPATH=/work/main /work/venv/bin/python bench/fanout_bench.py \
         [--workdir /tmp/fanout-bench] [--nodes 50] [--per-process 10] [--finds 30] \
         [--timeout 1] [--slow 2]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
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
STUDENTS = 5


def choose_states(count: int) -> list[str]:
    from config.load import US_STATES

    rest = sorted(US_STATES - TERRITORIES - {REQUESTER, SLOW, DEAD})
    rest += sorted(US_STATES & TERRITORIES)
    if not 3 <= count <= len(rest) + 3:
        raise SystemExit(f"--nodes must be between 3 and {len(rest) + 3}")
    return [REQUESTER, SLOW, DEAD, *rest[:count - 3]]


def known_child(state: str, template: dict[str, Any]) -> dict[str, Any]:
    record = copy.deepcopy(template)
    record["state_student_id"] = f"{state}9000001"
    record["owner_state"] = state
    return record


def build(workdir: Path, count: int, timeout: float) -> dict[str, Any]:
    """Create the directory and `count` nodes (or reuse them); return the manifest."""
    from config import load_config
    from node.authority.registry import Authority
    from node.authority.settings import init_authority
    from node.importing.importer import import_files
    from node.importing.synthetic import generate_students
    from node.ops.demo import free_port
    from node.ops.node_folder import node_info, write_node
    from node.store.database import Store
    from protocol.directory import NodeInfo

    manifest_path = workdir / "fanout-bench.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if len(manifest["states"]) == count and manifest["timeout"] == timeout:
            print(f"reusing the bench federation in {workdir} ({count} nodes)")
            return dict(manifest)
        raise SystemExit(f"{workdir} holds a different bench federation; use another --workdir")
    if any(workdir.iterdir()):
        raise SystemExit(f"{workdir} is not empty and holds no fanout-bench.json")
    started = time.perf_counter()
    states = choose_states(count)
    print(f"building {count} nodes in {workdir} (once)")
    dir_port = free_port()
    cfg_path, authority_key = init_authority(workdir / "directory")
    cfg_path.write_text(cfg_path.read_text().replace("port = 0", f"port = {dir_port}"))
    authority = Authority.open(cfg_path)
    template = generate_students("TX", 1, 99)[0]
    query = {k: template[k] for k in ("first_name", "last_name_1", "last_name_2",
                                      "birth_date", "sex") if template.get(k)}
    for i, state in enumerate(states):
        path = write_node(workdir / state, state=state, name=f"{state} bench",
                          endpoint=f"http://127.0.0.1:{free_port()}",
                          directory_urls=(f"http://127.0.0.1:{dir_port}",),
                          authority_key=base64.b64encode(authority_key).decode())
        with path.open("a") as f:
            f.write(f'\n[peers]\ntimeout = "{timeout:g}s"\nrate_limit = 100000\n')
        records = generate_students(state, STUDENTS, 100 + i)
        if i % 5 == 4:
            records.append(known_child(state, template))
        data = workdir / state / "records.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records))
        with Store(load_config(path).storage.database) as store:
            report = import_files(store, [data], owner_state=state, progress=False)
        if report.rejects:
            raise SystemExit(f"{state}: import rejected {report.rejects}")
        authority.enroll(NodeInfo.from_json(json.dumps(node_info(str(path)))))
    manifest = {"states": states, "timeout": timeout, "query": query}
    manifest_path.write_text(json.dumps(manifest))
    print(f"built in {time.perf_counter() - started:.0f} s")
    return manifest


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
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = resp.read().decode()
    elapsed = time.perf_counter() - started
    lines = [json.loads(x) for x in body.splitlines() if x.strip()]
    answers = [x for x in lines if "state" in x]
    summary = next(x["summary"] for x in lines if "summary" in x)
    return elapsed, answers, summary


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None,
                        help="cache folder for the bench federation (default: a temp dir)")
    parser.add_argument("--nodes", type=int, default=50, help="enrolled nodes, all included")
    parser.add_argument("--per-process", type=int, default=10, help="nodes per process")
    parser.add_argument("--finds", type=int, default=30, help="timed federated finds")
    parser.add_argument("--timeout", type=float, default=1.0, help="requester's peer timeout (s)")
    parser.add_argument("--slow", type=float, default=2.0, help="slow node's delay (s)")
    args = parser.parse_args()
    temp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="fanout-bench-")) if temp else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[str]] = []
    try:
        manifest = build(workdir, args.nodes, args.timeout)
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
                f"node group {n}", workdir / f"group-{n}.log", timeout=120)[0])
        procs.append(start_listening(
            ["-m", "node", "serve", "-c", str(workdir / REQUESTER / "node.toml")],
            REQUESTER, workdir / REQUESTER / "node.log", timeout=120)[0])
        print(f"started the directory, {len(served)} nodes in {len(groups)} processes and "
              f"{REQUESTER} in {time.perf_counter() - started:.1f} s; {SLOW} slow "
              f"({args.slow:g} s), {DEAD} dead, peer timeout {args.timeout:g} s")
        elapsed, answers, summary = federated_find(workdir, manifest["query"])
        print(f"warm-up find: {elapsed * 1000:.0f} ms, {len(summary['answered'])} answered")
        totals, last_answer, answered = [], [], []
        missing: Counter[str] = Counter()
        reasons: dict[str, str] = {}
        with_candidates = 0
        for _ in range(args.finds):
            elapsed, answers, summary = federated_find(workdir, manifest["query"])
            totals.append(elapsed * 1000)
            ok = [a["latency_ms"] for a in answers if a["status"] == "answered"]
            last_answer.append(max(ok) if ok else 0.0)
            answered.append(len(summary["answered"]))
            with_candidates += sum(1 for a in answers if a.get("candidates"))
            for state in summary["timed_out"]:
                missing[state] += 1
                reasons.setdefault(state, "timed out")
            for state, why in summary["failed"].items():
                missing[state] += 1
                reasons.setdefault(state, why)
        print(f"{args.finds} federated finds from {REQUESTER} to {len(states) - 1} peers:")
        print(f"  whole find          p50 {statistics.median(totals):7.0f} ms   "
              f"p95 {pct(totals, 0.95):7.0f} ms")
        print(f"  last answering peer p50 {statistics.median(last_answer):7.0f} ms   "
              f"p95 {pct(last_answer, 0.95):7.0f} ms")
        print(f"  states answered per find: min {min(answered)}, max {max(answered)} "
              f"of {len(states) - 1}; replies with candidates per find: "
              f"{with_candidates / args.finds:.1f}")
        print(f"  resident memory: {rss_mb(procs[1:]):.0f} MB for the {len(procs) - 1} node "
              f"processes")
        print("  reported missing:" + ("" if missing else " none"))
        for state, times in sorted(missing.items()):
            print(f"    {state}: {times}/{args.finds} finds ({reasons[state][:170]})")
    finally:
        stop(procs)
        if temp:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_group":
        group_main(sys.argv[2:])
    else:
        main()
