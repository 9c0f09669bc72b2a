"""Estimate the frozen Fellegi–Sunter parameters of identity matching without labels.

Owns the unsupervised estimation of issue 4 item 4 (DESIGN.md "Identity matching"):
u per comparison level from random record pairs, m per level and the match prior λ by
EM on blocked query/candidate pairs (u held fixed), on synthetic data from
node.importing.synthetic (a state's records and another state's overlapping records plus children
it alone has). Writes node/data/match_params.json and prints what it estimated.

    PYTHONPATH=. /work/venv/bin/python scripts/estimate_match_params.py [--records 30000]
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from pathlib import Path

from node.importing.synthetic import derive_overlap, generate_students
from node.matching.index import norm_keys
from node.matching.normalize import Norm, normalize
from node.matching.scoring import FIELDS, LEVELS, PARAMS_FILE, Params, compare

# Decision settings: not estimated by EM; chosen with bench/match_bench.py (see the
# docstring of node/matching/scoring.py).
SIBLING_PENALTY = -20.0
MATCH_PROBABILITY = 0.999
NEAR_PROBABILITY = 0.5
MARGIN_BITS = 6.0
TF_CAP = 3.0
SMOOTH = 0.5
# Synthetic overlap never alters birth place or parents and has few date typos, so EM
# finds m ~ 0 for some disagreement levels and would give them -10 bits or worse; real
# records do differ there. Every m is floored at M_FLOOR (then renormalized).
M_FLOOR = 0.01
# Cross-state pairs never share a state id, so EM cannot see this field; set by hand:
# an id agreement is strong evidence (same state re-enrolment), a difference is none.
SSID_M = (0.3, 0.7)
MONOTONE = ("birth_city", "father", "mother")


def random_pair_levels(norms: list[Norm], pairs: int, rng: random.Random) -> list[Counter[int]]:
    counts: list[Counter[int]] = [Counter() for _ in FIELDS]
    for _ in range(pairs):
        i, j = rng.randrange(len(norms)), rng.randrange(len(norms))
        if i == j:
            continue
        for f, level in enumerate(compare(norms[i], norms[j])):
            counts[f][level] += 1
    return counts


def blocked_pairs(index_norms: list[Norm], queries: list[Norm]) -> Counter[tuple[int, ...]]:
    postings: dict[str, list[int]] = {}
    for pos, norm in enumerate(index_norms):
        for key in norm_keys(norm):
            postings.setdefault(key, []).append(pos)
    patterns: Counter[tuple[int, ...]] = Counter()
    for query in queries:
        seen: set[int] = set()
        for key in norm_keys(query):
            seen.update(postings.get(key, ()))
        for pos in seen:
            patterns[compare(query, index_norms[pos])] += 1
    return patterns


def distribution(counts: Counter[int], size: int) -> list[float]:
    total = sum(counts[level] for level in range(size)) + SMOOTH * size
    return [(counts[level] + SMOOTH) / total for level in range(size)]


def em(patterns: Counter[tuple[int, ...]], u: list[list[float]],
       iterations: int) -> tuple[list[list[float]], float]:
    """EM for m (u fixed) on comparison patterns; returns (m, λ)."""
    # Start from "matches mostly agree": geometric in the level index.
    m = [[0.15 ** level for level in range(len(levels))] for levels in u]
    m = [[x / sum(row) for x in row] for row in m]
    prior = 0.01
    items = list(patterns.items())
    for _ in range(iterations):
        sums = [[SMOOTH] * len(row) for row in u]
        total_g = 0.0
        weight_all = 0
        for levels, count in items:
            log_m = math.log(prior)
            log_u = math.log(1 - prior)
            for f, level in enumerate(levels):
                if level >= 0:
                    log_m += math.log(m[f][level])
                    log_u += math.log(u[f][level])
            g = 1.0 / (1.0 + math.exp(min(700.0, log_u - log_m)))
            total_g += g * count
            weight_all += count
            for f, level in enumerate(levels):
                if level >= 0:
                    sums[f][level] += g * count
        m = [[x / sum(row) for x in row] for row in sums]
        prior = total_g / weight_all
    return m, prior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--out", type=Path, default=PARAMS_FILE)
    args = parser.parse_args()

    source = generate_students("TX", args.records, args.seed)
    index_norms = [normalize(r) for r in source]
    overlap = derive_overlap(source, "CA", 0.3, args.seed + 1)
    absent = generate_students("CA", args.records // 10, args.seed + 2)
    queries = [normalize(r) for r, _ in overlap] + [normalize(r) for r in absent]

    rng = random.Random(args.seed)
    u_counts = random_pair_levels(index_norms, 200_000, rng)
    u = [distribution(c, len(LEVELS[f])) for f, c in zip(FIELDS, u_counts, strict=True)]
    u = [[max(x, 1e-4) for x in row] for row in u]  # rarer than 200k pairs can measure
    u = [[x / sum(row) for x in row] for row in u]
    patterns = blocked_pairs(index_norms, queries)
    m, prior = em(patterns, u, args.iterations)
    m = [[max(x, M_FLOOR) for x in row] for row in m]
    m = [[x / sum(row) for x in row] for row in m]
    m[FIELDS.index("state_student_id")] = list(SSID_M)
    for f in MONOTONE:  # a closer level never weighs more than an exact agreement
        i = FIELDS.index(f)
        for level in range(1, len(m[i])):
            m[i][level] = min(m[i][level], u[i][level] * m[i][level - 1] / u[i][level - 1])

    params = Params(m={f: tuple(row) for f, row in zip(FIELDS, m, strict=True)},
                    u={f: tuple(row) for f, row in zip(FIELDS, u, strict=True)},
                    prior=prior, sibling_penalty=SIBLING_PENALTY,
                    match_probability=MATCH_PROBABILITY, near_probability=NEAR_PROBABILITY,
                    margin_bits=MARGIN_BITS, tf_cap=TF_CAP)
    data = params.to_dict()
    data["estimated_from"] = {"records": args.records, "seed": args.seed,
                              "blocked_pairs": sum(patterns.values()),
                              "random_pairs": 200_000, "em_iterations": args.iterations}
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"blocked pairs: {sum(patterns.values())}, queries: {len(queries)}, "
          f"EM prior λ = {prior:.5f}")
    for f, weights in zip(FIELDS, params.weights, strict=True):
        cells = ", ".join(f"{name} {mm:.3f}/{uu:.4f} ({w:+.1f})" for name, mm, uu, w in
                          zip(LEVELS[f], params.m[f], params.u[f], weights, strict=True))
        print(f"{f:17s} m/u (log2 weight): {cells}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
