"""Discover round costs: filter rebuild of N students, filter size, OPRF evaluation of one
discover (16 elements, with its DLEQ proof) and the requester's verification.

Imports N synthetic students (default 100,000) into a fresh node.db, then times
`node.importing.discover_rebuild.rebuild` (every student evaluated, 2 worker processes),
a second rebuild after 1% of the students changed (only those are evaluated), and
`crypto.oprf.blind_evaluate` / `finalize` at DISCOVER_ELEMENTS elements.

    PYTHONPATH=. python bench/filter_rebuild_bench.py [--count N] [--workers W] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from crypto.keys import generate_signing_key
from crypto.oprf import OprfKey, blind, blind_evaluate, finalize
from node.importing.discover_rebuild import rebuild
from node.importing.importer import import_files
from node.importing.synthetic import generate_students
from node.matching.discover_keys import DISCOVER_ELEMENTS
from node.store.database import Store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="discover-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "students.jsonl"
    students = generate_students("TX", args.count, 14)
    data.write_text("".join(json.dumps(s) + "\n" for s in students))
    oprf, signing = OprfKey.generate(), generate_signing_key()
    with Store(folder / "node.db") as store:
        import_files(store, [data], owner_state="TX", progress=False)
        full = rebuild(store, node_id="TX", oprf=oprf, signing=signing, workers=args.workers)
        print(f"full rebuild: {full.records} students, {full.members} members, "
              f"{full.seconds:.1f} s ({args.workers} workers)")
        size = len(store.call(lambda db: db.conn.execute(
            "SELECT signed FROM discover_filters ORDER BY version DESC").fetchone()[0]))
        print(f"signed filter: {size / 1e6:.2f} MB ({size / full.records * 1e5 / 1e6:.2f} MB "
              "per 100,000 students)")
        changed = [dict(s, first_name=s["first_name"] + "a") for s in students[:args.count // 100]]
        data.write_text("".join(json.dumps(s) + "\n" for s in changed))
        import_files(store, [data], owner_state="TX", progress=False)
        part = rebuild(store, node_id="TX", oprf=oprf, signing=signing, workers=args.workers)
        print(f"after 1% changed: {part.evaluated} students evaluated, {part.seconds:.1f} s "
              f"(version {part.version})")
    inputs = [os.urandom(20) for _ in range(DISCOVER_ELEMENTS)]
    blinded = [blind(x) for x in inputs]
    holder, requester = [], []
    for _ in range(50):
        t = time.perf_counter()
        evaluated, proof = blind_evaluate(oprf, [b for _, b in blinded])
        holder.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        finalize(inputs, [r for r, _ in blinded], evaluated, [b for _, b in blinded],
                 oprf.public, proof)
        requester.append((time.perf_counter() - t) * 1000)
    print(f"holder BlindEvaluate of {DISCOVER_ELEMENTS} elements + proof: median "
          f"{statistics.median(holder):.2f} ms; requester verify + unblind: median "
          f"{statistics.median(requester):.2f} ms")


if __name__ == "__main__":
    main()
