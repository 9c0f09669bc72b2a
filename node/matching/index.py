"""Identity matching: blocking keys, the in-memory MatchIndex and candidate scoring (pure).

Owns the public matching API of issue 4 (DESIGN.md "Identity matching"): `normalize_record`,
`blocking_keys`, `MatchIndex` (build from records, `search`) and `score_candidates` (score
rows the node fetched from SQLite by blocking key). No I/O: the frozen parameters and the
nickname table are package data read once at import. Normalization lives in
node/matching/normalize.py, the phonetic key in node/matching/phonetic.py, comparison levels,
weights and decisions in node/matching/scoring.py.
"""

from __future__ import annotations

import gc
import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from node.matching.normalize import (
    Norm,
    canonical_names,
    normalize,
    normalize_record,
    pack_norm,
)
from node.matching.phonetic import phonetic_key
from node.matching.scoring import Params, Scorer, compare, describe, load_params

__all__ = ["Hit", "MatchIndex", "TermFrequencies", "blocking_keys", "match_data",
           "normalize_record", "score_candidates", "score_norms"]

# A key shared by more records than this is not selective (e.g. a very common surname
# plus year at 1M records); it is skipped at query time when other keys are available.
MAX_POSTING = 1000
# At most this many candidates (those sharing the most keys with the query) are scored.
MAX_SCORED = 250


def given_key(token: str) -> str:
    """Phonetic key of a given-name token after nickname mapping (Chuy -> Jesus)."""
    names = canonical_names(token)
    if len(names) == 2:  # the token itself plus exactly one canonical name
        (token,) = names - {token}
    return phonetic_key(token)


def norm_keys(norm: Norm) -> list[str]:
    """Blocking keys of a normalized record; see `blocking_keys`."""
    keys: list[str] = []
    by, bm, bd = norm.by, norm.bm, norm.bd
    if by and bm and bd:
        keys.append(f"d:{by:04d}-{bm:02d}-{bd:02d}")
        if bd <= 12 and bd != bm:
            keys.append(f"d:{by:04d}-{bd:02d}-{bm:02d}")
    given = [given_key(token) for token in norm.given[:2]]
    g0 = given[0] if given else ""
    for surname_key in dict.fromkeys(k for k in (norm.p1, norm.p2) if k):
        if by:
            keys.append(f"s:{surname_key}:{by}")
        keys.extend(f"n:{surname_key}:{g}" for g in given if g)
    if bm and bd:
        keys.extend(f"g:{g}:{bm:02d}{bd:02d}" for g in given if g)
        if norm.given and bd <= 12 and bd != bm:
            keys.append(f"g:{g0}:{bd:02d}{bm:02d}")
    if norm.mother_last and by:
        keys.append(f"m:{phonetic_key(norm.mother_last)}:{by}")
    if norm.ssid:
        keys.append(f"i:{norm.ssid}")
    return list(dict.fromkeys(keys))


def blocking_keys(record: Mapping[str, Any]) -> list[str]:
    """Blocking key strings of a record or query (stored in `match_keys(student_id, key)`).

    Keys: birth date (and with day and month swapped), Spanish phonetic key of each surname
    plus birth year, surname key plus given-name key, given-name key (after nickname mapping)
    plus month-day, mother's maiden-name key plus birth year, and the state student id.
    """
    return norm_keys(normalize(record))


def match_data(record: Mapping[str, Any]) -> tuple[list[str], bytes]:
    """The blocking keys of a record and its normalized form packed for storage
    (`normalize.pack_norm`), from one normalization."""
    norm = normalize(record)
    return norm_keys(norm), pack_norm(norm)


@dataclass(frozen=True)
class Hit:
    """One scored candidate; position indexes the records (or candidates) as given."""

    position: int
    score: float
    probability: float
    outcome: str
    agreements: Mapping[str, str]


@dataclass(frozen=True)
class TermFrequencies:
    """Counts of first given names and surnames, for the common-name adjustment."""

    total: int
    given: Mapping[str, int] = field(default_factory=dict)
    surname: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_norms(cls, norms: Iterable[Norm]) -> TermFrequencies:
        given: Counter[str] = Counter()
        surname: Counter[str] = Counter()
        total = 0
        for norm in norms:
            total += 1
            if norm.given:
                given[norm.given[0]] += 1
            if norm.l1:
                surname[norm.l1] += 1
            if norm.l2:
                surname[norm.l2] += 1
        return cls(total=total, given=dict(given), surname=dict(surname))

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> TermFrequencies:
        return cls.from_norms(normalize(r) for r in records)

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "given": dict(self.given), "surname": dict(self.surname)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TermFrequencies:
        return cls(total=int(data["total"]), given=dict(data["given"]),
                   surname=dict(data["surname"]))

    def given_share(self, name: str) -> float | None:
        if not self.total or not name:
            return None
        return max(self.given.get(name, 0), 1) / self.total

    def surname_share(self, name: str) -> float | None:
        if not self.total or not name:
            return None
        # Each record contributes up to two surnames; 1.6 is the mean per record.
        return max(self.surname.get(name, 0), 1) / (1.6 * self.total)


_DEFAULT_SCORER: Scorer | None = None


def default_scorer() -> Scorer:
    """The scorer built from the frozen parameters shipped with the package."""
    global _DEFAULT_SCORER
    if _DEFAULT_SCORER is None:
        _DEFAULT_SCORER = Scorer(load_params())
    return _DEFAULT_SCORER


def _rank(scorer: Scorer, query: Norm, norms: Sequence[Norm], positions: Iterable[int],
          tf: TermFrequencies | None, limit: int) -> list[Hit]:
    tf_given = tf.given_share(query.given[0]) if tf and query.given else None
    tf_surname = tf.surname_share(query.l1) if tf else None
    scored = []
    for pos in positions:
        levels = compare(query, norms[pos])
        scored.append((scorer.score(levels, tf_given, tf_surname), pos, levels))
    top = heapq.nlargest(max(limit, 2), scored, key=lambda item: item[0])
    hits = []
    for i, (score, pos, levels) in enumerate(top[:limit]):
        second = top[1][0] if i == 0 and len(top) > 1 else None
        hits.append(Hit(position=pos, score=round(score, 3),
                        probability=scorer.probability(score),
                        outcome=scorer.outcome(score, levels, second, first=i == 0),
                        agreements=describe(levels)))
    return hits


def score_candidates(query: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]],
                     limit: int = 5, tf: TermFrequencies | None = None,
                     params: Params | None = None) -> list[Hit]:
    """Score candidate rows (fetched by blocking key) against a query, best first.

    hit.position indexes `candidates`. Pass the state's frozen `tf` table for the
    common-name adjustment; without it no TF adjustment is made.
    """
    scorer = Scorer(params) if params else default_scorer()
    norms = [normalize(c) for c in candidates]
    return _rank(scorer, normalize(query), norms, range(len(norms)), tf, limit)


def score_norms(query: Mapping[str, Any], norms: Sequence[Norm], limit: int = 5,
                tf: TermFrequencies | None = None) -> list[Hit]:
    """`score_candidates` for candidates already normalized (stored beside the records)."""
    return _rank(default_scorer(), normalize(query), norms, range(len(norms)), tf, limit)


class MatchIndex:
    """In-memory blocking index over records, one compact tuple per record."""

    def __init__(self, records: Iterable[Mapping[str, Any]],
                 tf: TermFrequencies | None = None, params: Params | None = None) -> None:
        self.scorer = Scorer(params) if params else default_scorer()
        self.norms: list[Norm] = []
        self.postings: dict[str, list[int]] = {}
        postings = self.postings
        enabled = gc.isenabled()
        gc.disable()  # millions of small containers: cyclic GC passes would dominate
        try:
            for pos, record in enumerate(records):
                norm = normalize(record)
                self.norms.append(norm)
                for key in norm_keys(norm):
                    bucket = postings.get(key)
                    if bucket is None:
                        postings[key] = [pos]
                    else:
                        bucket.append(pos)
        finally:
            if enabled:
                gc.enable()
        self.tf = tf if tf is not None else TermFrequencies.from_norms(self.norms)

    def __len__(self) -> int:
        return len(self.norms)

    def candidates(self, query: Norm) -> list[int]:
        """Positions sharing a blocking key with the query, most keys shared first."""
        buckets = [b for b in (self.postings.get(k) for k in norm_keys(query)) if b]
        if not buckets:
            return []
        selective = [b for b in buckets if len(b) <= MAX_POSTING]
        if not selective:
            selective = [min(buckets, key=len)]
        counts: Counter[int] = Counter()
        for bucket in selective:
            counts.update(bucket)
        if len(counts) <= MAX_SCORED:
            return list(counts)
        return [pos for pos, _ in counts.most_common(MAX_SCORED)]

    def search(self, query: Mapping[str, Any], limit: int = 5) -> list[Hit]:
        """The best `limit` candidates for a query (any subset of the fields), best first."""
        norm = normalize(query)
        return _rank(self.scorer, norm, self.norms, self.candidates(norm), self.tf, limit)
