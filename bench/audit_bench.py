"""Exchange-log benchmark: durable appends and export verification (prints figures only).

1. Appends/s with durability (WAL, synchronous=FULL, one fsync per commit):
   `ExchangeLog.append` from C concurrent tasks (group commit) and from one task, next to
   plain SQLite inserts of the same leaf bytes committed one by one and in one transaction.
2. Verifying an export of N entries (default 1,000,000): leaves are generated in memory
   (distinct time stamps over a pool of real signed envelopes), then timed against the
   floor, SHA-256 of the same leaves:
   - `verify_export` without the per-entry Ed25519 checks (tree, checkpoint, every leaf
     decoded strictly and checked against its header) — the target is 3× the floor;
   - everything, every sender signature included, the way `audit verify --jobs N` runs
     it (N forked processes check the signatures while the first checks the rest;
     `--jobs` defaults to every core), for each N of --jobs-list (default 1,2); with
     --signature-sample K instead, the signatures of K entries, extrapolated;
   - a real export folder (entries.jsonl) of --folder-entries entries through
     `verify_folder`, to show the per-line JSON cost.

Run: PYTHONPATH=. python bench/audit_bench.py [--appends 3000] [--entries 1000000]
         [--jobs-list 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crypto import merkle
from crypto.checkpoint import Checkpoint, sign_checkpoint
from crypto.note import NoteSigner
from node.audit.export_files import SignatureChecks, verify_folder
from protocol.audit import LogEntry
from protocol.audit_verify import directory_entries, load_directory, tree_levels, verify_export
from tests.node.auditlog_helpers import FIND, Federation, entry_for, seal


def pool(fed: Federation, n: int) -> list[LogEntry]:
    out = []
    for i in range(n):
        a, b = ("TX", "CA") if i % 2 else ("CA", "TX")
        out.append(entry_for(seal(fed, a, b, FIND), "TX", students=(f"s{i}",)))
    return out


def vary(e: LogEntry, t: int) -> LogEntry:
    return LogEntry(t, e.direction, e.peer, e.type, e.message_id, e.reply_to, e.purpose,
                    e.user_id, e.user_role, e.student_ids, e.header_bytes, e.body_hash,
                    e.signature, e.signer)


def bench_appends(fed: Federation, n: int, concurrency: int, tmp: Path) -> None:
    entries = [vary(e, i) for i, e in enumerate(pool(fed, 200) * (n // 200 + 1))][:n]
    leaves = [e.to_leaf() for e in entries]
    print(f"== durable appends: {n} entries, ~{len(leaves[0])} B leaves, WAL + "
          "synchronous=FULL ==")

    async def run(c: int, path: Path) -> float:
        log = fed.open_log(path, "TX")
        sem = asyncio.Semaphore(c)

        async def one(e: LogEntry) -> None:
            async with sem:
                await log.append(e)

        t = time.perf_counter()
        await asyncio.gather(*(one(e) for e in entries))
        dt = time.perf_counter() - t
        log.close()
        return dt

    dt = asyncio.run(run(concurrency, tmp / "c"))
    print(f"ExchangeLog.append, {concurrency} concurrent (group commit): {n / dt:9.0f} /s")
    m = min(n, 1000)
    entries_one = entries[:m]

    async def sequential(path: Path) -> float:
        log = fed.open_log(path, "TX")
        t = time.perf_counter()
        for e in entries_one:
            await log.append(e)
        dt = time.perf_counter() - t
        log.close()
        return dt

    dt = asyncio.run(sequential(tmp / "s"))
    print(f"ExchangeLog.append, 1 at a time ({m}):               {m / dt:9.0f} /s")
    for label, per_row in (("plain SQLite insert, commit each row", True),
                           ("plain SQLite insert, one transaction ", False)):
        path = tmp / f"plain-{per_row}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL)")
        rows = leaves[:m] if per_row else leaves
        t = time.perf_counter()
        if per_row:
            for i, leaf in enumerate(rows):
                conn.execute("BEGIN")
                conn.execute("INSERT INTO t VALUES (?, ?)", (i, leaf))
                conn.execute("COMMIT")
        else:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO t VALUES (?, ?)", enumerate(rows))
            conn.execute("COMMIT")
        dt = time.perf_counter() - t
        conn.close()
        print(f"{label} ({len(rows)}):       {len(rows) / dt:9.0f} /s")


def bench_verify(fed: Federation, n: int, sample: int, jobs_list: list[int]) -> None:
    print(f"== verify an export of {n:,} entries ==")
    base = pool(fed, 1000)
    t = time.perf_counter()
    leaves = [vary(base[i % len(base)], 1_700_000_000_000 + i).to_leaf() for i in range(n)]
    print(f"(generated {n:,} leaves of ~{len(leaves[0])} B in {time.perf_counter() - t:.1f} s)")
    t = time.perf_counter()
    sha = hashlib.sha256
    for leaf in leaves:
        sha(leaf).digest()
    floor = time.perf_counter() - t
    print(f"floor: SHA-256 of every leaf:                   {floor:7.2f} s")
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(x) for x in leaves])
    signer = NoteSigner("TX", fed.signing["TX"])
    note = sign_checkpoint(Checkpoint("TX", n, root), [signer])
    vkey = signer.verifier().vkey()
    snap = fed.snapshot()
    t = time.perf_counter()
    levels = tree_levels([sha(b"\x00" + leaf).digest() for leaf in leaves])
    ok = merkle.root_hash(n, lambda lv, i: levels[lv][i]) == root
    dt = time.perf_counter() - t
    assert ok
    print(f"tree check: every leaf against the signed root: {dt:7.2f} s  "
          f"({dt / floor:.1f}x the floor; target 3x)")
    t = time.perf_counter()
    problems = verify_export(note, vkey, leaves, snap, fed.authority.public,
                             check_signatures=False)
    dt = time.perf_counter() - t
    assert problems == [], problems[:3]
    print(f"verify_export, all but per-entry Ed25519:       {dt:7.2f} s  "
          f"({dt / floor:.1f}x the floor: tree + strict decode and checks of each entry)")
    if sample:
        k = min(sample, n)
        t = time.perf_counter()
        problems = verify_export(root_note(fed, leaves[:k]), vkey, leaves[:k], snap,
                                 fed.authority.public)
        dts = time.perf_counter() - t
        assert problems == [], problems[:3]
        print(f"verify_export with every sender signature:      {dts * n / k:7.2f} s  "
              f"(extrapolated from {k:,}; ~{dts / k * 1e6:.0f} us/entry)")
        return
    keys = directory_entries(load_directory(snap, fed.authority.public))
    for jobs in jobs_list:
        t = time.perf_counter()
        if jobs == 1:
            problems = verify_export(note, vkey, leaves, snap, fed.authority.public)
        else:  # exactly what `audit verify --jobs N` does (node/audit/export_files.py)
            checks = SignatureChecks(leaves, "TX", keys, jobs)
            problems = verify_export(note, vkey, leaves, snap, fed.authority.public,
                                     check_signatures=False) + checks.result()
        dt = time.perf_counter() - t
        assert problems == [], problems[:3]
        print(f"verify {n:,} entries, every signature, --jobs {jobs}: {dt:7.2f} s  "
              f"({n / dt:,.0f} entries/s; {dt / floor:.0f}x the floor)")


def root_note(fed: Federation, leaves: list[bytes]) -> str:
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(x) for x in leaves])
    return sign_checkpoint(Checkpoint("TX", len(leaves), root), [NoteSigner("TX",
                                                                             fed.signing["TX"])])


def bench_folder(fed: Federation, n: int, tmp: Path) -> None:
    log = fed.open_log(tmp / "folder", "TX")
    base = pool(fed, 200)
    for i in range(0, n, 1000):
        chunk = [vary(base[j % len(base)], i + j) for j in range(min(1000, n - i))]

        async def put(chunk: list[LogEntry] = chunk) -> None:
            await asyncio.gather(*(log.append(e) for e in chunk))
        asyncio.run(put())
    log.sign_checkpoint()
    log.export(tmp / "export", fed.snapshot(), fed.authority.public)
    log.close()
    for jobs in (1, 2):
        t = time.perf_counter()
        problems = verify_folder(tmp / "export", jobs=jobs)
        dt = time.perf_counter() - t
        assert problems == [], problems[:3]
        print(f"audit verify of a {n:,}-entry export folder, --jobs {jobs}: {dt:6.2f} s "
              f"({n / dt:,.0f} entries/s, all checks)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--appends", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--signature-sample", type=int, default=0,
                    help="extrapolate the signature checks from this many entries instead")
    ap.add_argument("--jobs-list", default="1,2",
                    help="processes for the full signature checks, comma separated")
    ap.add_argument("--folder-entries", type=int, default=20_000)
    args = ap.parse_args()
    fed = Federation()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench_appends(fed, args.appends, args.concurrency, tmp)
        print(f"(cores this process may use: {len(os.sched_getaffinity(0))}; load average "
              f"{os.getloadavg()[0]:.1f})")
        bench_verify(fed, args.entries, args.signature_sample,
                     [int(j) for j in args.jobs_list.split(",")])
        if args.folder_entries:
            bench_folder(fed, args.folder_entries, tmp)


if __name__ == "__main__":
    main()
