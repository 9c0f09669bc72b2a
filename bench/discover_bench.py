"""Benchmark of the discover round's keys (issue 14): recall, selectivity, filter cost, OPRF
cost. Prints figures; asserts nothing.

(a) Recall. The labelled set of bench/match_bench.py (realistic error profile of the
    synthetic generator, twins at 5% of births, 20% of queried children absent;
    evaluation seed 11, the default; the keys were tuned on seed 7 and never on 11),
    searched in a MatchIndex of each size as match_bench does. A present query's child
    counts as found by *discover + find* only if at least one of
    `query_discover_keys(query)` is among `record_discover_keys(child)` (exact equality:
    the OPRF and the filter preserve it) and the plain find has it in its top 5. The
    filter's false positives only add hits; their expectation (elements × 0.1%) is
    printed apart. Misses of the keys are broken down by the generator's error kinds.
(b) Selectivity. 49 "other states" from the generator (44 of 5,000–20,000 students and
    5 of 100,000; their own seeds, derived from the evaluation seed) that do not hold the
    queried children: for every query (present and absent), how many of them hold one of
    its keys (exact set membership), and the Bloom false-positive expectation on top
    (the query's real elements × 0.1% per state; padding elements are the requester's
    own random inputs, which it ignores).
(c) Filter. `record_discover_keys` of 100,000 students, each key evaluated with the real
    `crypto.oprf.evaluate` and put in a `protocol.discover_filter.DiscoverFilter` at
    0.1%; the evaluation runs in a process pool over the machine's cores (`--jobs`,
    default 2), the rest in this process. Time, members, bytes, the false-positive rate
    measured on random outputs.
(d) OPRF. CPU time of the holder's `blind_evaluate` (batched DLEQ proof) of one discover
    message at `DISCOVER_ELEMENTS` elements, and of the requester's `blind` and
    `finalize` (proof verified, unblinded) per holder; also at other element counts, the
    trade-off against the keys' recall.

    PYTHONPATH=. .venv/bin/python bench/discover_bench.py [--sizes 100000 1000000]
        [--seed 11] [--jobs 2] [--skip-filter] [--skip-oprf]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import secrets
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from match_bench import background, slim

from crypto import oprf
from node.importing.synthetic import (
    STATE_FIPS,
    derive_overlap_labelled,
    generate_students,
)
from node.matching.discover_keys import (
    DISCOVER_ELEMENTS,
    DISCOVER_KEYS_VERSION,
    query_discover_keys,
    record_discover_keys,
)
from node.matching.index import MatchIndex
from protocol.discover_filter import DiscoverFilter

FALSE_POSITIVE = 0.001
OTHER_STATES = 49


def pct(values: list[int] | list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def labelled(seed: int, absent: float = 0.2) -> tuple[
        list[dict[str, Any]], list[tuple[dict[str, Any], int | None, tuple[str, ...]]]]:
    """match_bench's labelled set: source records and (query, true position, kinds)."""
    source = [slim(r) for r in generate_students("TX", 30_000, seed, twin_rate=0.05)]
    position = {r["state_student_id"]: i for i, r in enumerate(source)}
    overlap = derive_overlap_labelled(source, "CA", 0.3, seed + 1, error_profile="realistic")
    queries: list[tuple[dict[str, Any], int | None, tuple[str, ...]]] = [
        (slim(r), position[sid], kinds) for r, sid, kinds in overlap]
    absent_count = round(len(queries) * absent / (1 - absent))
    queries += [(slim(r), None, ()) for r in generate_students("NM", absent_count, seed + 2)]
    return source, queries


def recall(size: int, source: list[dict[str, Any]],
           queries: list[tuple[dict[str, Any], int | None, tuple[str, ...]]]) -> None:
    started = time.perf_counter()
    records = source + list(background(size - len(source)))
    index = MatchIndex(records)
    gc.collect()
    gc.freeze()
    print(f"\n(a) recall, index of {len(index):,} records (built in "
          f"{time.perf_counter() - started:.0f} s)")
    present = plain = keyed = both = 0
    elements: list[int] = []
    missed_kinds: Counter[str] = Counter()
    lost: list[tuple[str, ...]] = []
    for query, truth, kinds in queries:
        if truth is None:
            continue
        present += 1
        hits = index.search(query, limit=5)
        found = truth in [h.position for h in hits]
        qkeys = query_discover_keys(query)
        elements.append(len(qkeys))
        hit = bool(set(qkeys) & set(record_discover_keys(source[truth])))
        plain += found
        keyed += hit
        both += found and hit
        if not hit:
            missed_kinds.update(kinds or ("(none)",))
            if found:
                lost.append(kinds)
    fp = statistics.mean(elements) * FALSE_POSITIVE
    print(f"  present queries {present}: recall@5 plain find {plain / present:.4f}; "
          f"discover keys hit the child {keyed / present:.4f}; discover + find "
          f"{both / present:.4f} (difference {(plain - both) / present:.4f}, "
          f"{plain - both} children the plain find finds and discover loses)")
    print(f"  + the filter's false positives: a lost child still gets the find with "
          f"probability ~{fp:.4f} (mean {statistics.mean(elements):.2f} elements × 0.1%), "
          f"expected {(plain - both) * fp:.2f} of them")
    print("  error kinds of the queries whose keys missed (a query has several): " +
          ", ".join(f"{k} {v}" for k, v in missed_kinds.most_common(14)))
    if lost:
        print("  lost (found by plain find, missed by the keys), first 10: " +
              "; ".join("+".join(k) for k in lost[:10]))
    del index, records
    gc.unfreeze()
    gc.collect()


def other_states(seed: int) -> list[tuple[str, list[dict[str, Any]]]]:
    codes = [s for s in STATE_FIPS if s not in ("TX", "CA", "NM")][:OTHER_STATES]
    rng = random.Random(f"discover-bench-states:{seed}")
    sizes = [100_000] * 5 + [rng.randint(5_000, 20_000) for _ in range(OTHER_STATES - 5)]
    rng.shuffle(sizes)
    return [(code, generate_students(code, count, 100_000 * seed + i))
            for i, (code, count) in enumerate(zip(codes, sizes, strict=True))]


def selectivity(seed: int,
                queries: list[tuple[dict[str, Any], int | None, tuple[str, ...]]]) -> None:
    started = time.perf_counter()
    states = other_states(seed)
    owners: dict[str, int] = {}
    members = students = 0
    most = 0
    for i, (_code, records) in enumerate(states):
        bit = 1 << i
        for record in records:
            keys = record_discover_keys(record)
            members += len(keys)
            most = max(most, len(keys))
            students += 1
            for key in keys:
                owners[key] = owners.get(key, 0) | bit
    sizes = sorted(len(r) for _c, r in states)
    print(f"\n(b) selectivity: {len(states)} other states, {students:,} students "
          f"(sizes {sizes[0]:,}–{sizes[-1]:,}, median {statistics.median(sizes):,.0f}), "
          f"{members / students:.2f} keys per student (max {most}), built in "
          f"{time.perf_counter() - started:.0f} s")
    del states
    gc.collect()
    reached: list[int] = []
    false_hits: list[float] = []
    by_kind: Counter[str] = Counter()
    for query, _truth, _kinds in queries:
        keys = query_discover_keys(query)
        mask = 0
        for key in keys:
            m = owners.get(key, 0)
            if m:
                by_kind[key.split(":", 1)[0]] += bin(m).count("1")
            mask |= m
        hit = bin(mask).count("1")
        reached.append(hit)
        false_hits.append((OTHER_STATES - hit) * (1 - (1 - FALSE_POSITIVE) ** len(keys)))
    n = len(queries)
    total = [a + b for a, b in zip(reached, false_hits, strict=True)]
    print(f"  {n} queries (present and absent): other states with a key hit per query "
          f"mean {statistics.mean(reached):.3f}, p95 {pct(reached, 0.95)}, p99 "
          f"{pct(reached, 0.99)}, max {max(reached)}; none for "
          f"{sum(1 for r in reached if not r) / n:.1%}")
    print(f"  + Bloom false positives (elements × 0.1% per state): mean "
          f"{statistics.mean(false_hits):.3f} states; in all mean "
          f"{statistics.mean(total):.3f} of {OTHER_STATES} "
          f"({statistics.mean(total) / OTHER_STATES:.1%}), p95 {pct(total, 0.95):.2f}")
    print("  state hits per query by key kind: " +
          ", ".join(f"{k} {v / n:.3f}" for k, v in by_kind.most_common()))


def _evaluate_chunk(args: tuple[bytes, list[str]]) -> tuple[list[bytes], float]:
    """OPRF outputs of a chunk of keys, and the CPU seconds the worker spent on them."""
    private, keys = args
    started = time.process_time()
    key = oprf.OprfKey.from_private(private)
    outputs = [oprf.evaluate(key, k.encode()) for k in keys]
    return outputs, time.process_time() - started


def filter_cost(records: list[dict[str, Any]], jobs: int) -> None:
    key = oprf.OprfKey.generate()
    started = time.perf_counter()
    keys = [k for record in records for k in record_discover_keys(record)]
    keyed = time.perf_counter() - started
    chunk = 5_000
    parts = [(key.private, keys[i:i + chunk]) for i in range(0, len(keys), chunk)]
    started = time.perf_counter()
    outputs: list[bytes] = []
    cpu = 0.0
    with ProcessPoolExecutor(jobs) as pool:
        for part, seconds in pool.map(_evaluate_chunk, parts):
            outputs.extend(part)
            cpu += seconds
    evaluated = time.perf_counter() - started
    started = time.perf_counter()
    built = DiscoverFilter.build(outputs, count=len(outputs), oprf_public_key=key.public,
                                 false_positive=FALSE_POSITIVE)
    data = built.to_bytes()
    filled = time.perf_counter() - started
    probes = 200_000
    false = sum(secrets.token_bytes(64) in built for _ in range(probes))
    print(f"\n(c) filter of {len(records):,} students: {len(keys):,} members "
          f"({len(keys) / len(records):.2f} per student), {len(data):,} bytes "
          f"({len(data) / 1048576:.2f} MiB, {len(data) / 1e6:.2f} MB), k={built.k}, "
          f"fill {built.fill_rate():.3f}; measured false positives {false / probes:.5f} "
          f"({probes:,} random outputs)")
    print(f"  wall time {keyed + evaluated + filled:.1f} s: keys {keyed:.1f} s, OPRF "
          f"{evaluated:.1f} s in a pool of {jobs} processes, filter {filled:.1f} s; the "
          f"OPRF's CPU time {cpu:.1f} s ({cpu / len(keys) * 1e6:.1f} µs per key), so "
          f"{keyed + cpu / jobs + filled:.1f} s on {jobs} otherwise idle cores "
          f"(load average {os.getloadavg()[0]:.1f} at the end)")


def cpu_us(run: Any, rounds: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(rounds):
            run()
        best = min(best, (time.process_time() - started) / rounds)
    return best * 1e6


def oprf_at(key: oprf.OprfKey, n: int) -> tuple[float, float, float]:
    """CPU µs of the holder's blind_evaluate, the requester's blind and finalize at n."""
    inputs = [f"k:{i}".encode() for i in range(n)]
    pairs = [oprf.blind(x) for x in inputs]
    blinds = [r for r, _b in pairs]
    blinded = [b for _r, b in pairs]
    evaluated, proof = oprf.blind_evaluate(key, blinded)
    held = cpu_us(lambda: oprf.blind_evaluate(key, blinded), 40)
    blind = cpu_us(lambda: [oprf.blind(x) for x in inputs], 40)
    fin = cpu_us(lambda: oprf.finalize(inputs, blinds, evaluated, blinded, key.public,
                                       proof), 40)
    return held, blind, fin


def oprf_cost() -> None:
    key = oprf.OprfKey.generate()
    print("\n(d) OPRF CPU time per discover message (best of 5, one process):")
    for n in sorted({4, 6, DISCOVER_ELEMENTS, 8, 10, 12, 16}):
        held, blind, fin = oprf_at(key, n)
        mark = "  <- DISCOVER_ELEMENTS" if n == DISCOVER_ELEMENTS else ""
        print(f"  {n:2d} elements: holder blind_evaluate {held / 1000:.3f} ms; requester "
              f"blind {blind / 1000:.3f} ms once, finalize {fin / 1000:.3f} ms per holder "
              f"({fin * 49 / 1e6:.3f} s for 49){mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description="discover keys benchmark (issue 14)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--seed", type=int, default=11, help="evaluation seed (tuning: 7)")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the filter's OPRF")
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument("--skip-selectivity", action="store_true")
    parser.add_argument("--skip-filter", action="store_true")
    parser.add_argument("--skip-oprf", action="store_true")
    args = parser.parse_args()
    print(f"discover keys version {DISCOVER_KEYS_VERSION}, DISCOVER_ELEMENTS "
          f"{DISCOVER_ELEMENTS}, seed {args.seed}")
    source, queries = labelled(args.seed)
    print(f"labelled (realistic errors, seed {args.seed}): {len(source)} source records, "
          f"{sum(t is not None for _q, t, _k in queries)} present and "
          f"{sum(t is None for _q, t, _k in queries)} absent queries")
    if not args.skip_oprf:
        oprf_cost()
    if not args.skip_filter:
        filter_cost(source + list(background(100_000 - len(source))), args.jobs)
    if not args.skip_selectivity:
        selectivity(args.seed, queries)
    if not args.skip_recall:
        for size in args.sizes:
            recall(size, source, queries)


if __name__ == "__main__":
    main()
