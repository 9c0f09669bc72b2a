"""Identity matching: blocking keys, the in-memory MatchIndex and candidate scoring (pure).

Owns the public matching API of issue 4 (DESIGN.md "Identity matching"): `normalize_record`,
`candidate_keys` (= `blocking_keys`, stored; typo-tolerant) and `lookup_keys` (what a
query looks up) (the selective discover keys are node/matching/discover_keys.py),
`MatchIndex` (build from records, `search`), `score_candidates` (score rows) and
`score_norms` (score stored normalized forms, as the node's find does). No I/O: the
frozen parameters and the nickname table are package data read once at import.
Normalization lives in node/matching/normalize.py, the phonetic key in
node/matching/phonetic.py, comparison levels, weights and decisions in
node/matching/scoring.py.
"""

from __future__ import annotations

import gc
import heapq
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from node.matching.normalize import Norm, canonical_names, normalize, normalize_record
from node.matching.phonetic import phonetic_key
from node.matching.scoring import Params, Scorer, compare, describe, load_params

__all__ = ["Hit", "MatchIndex", "TermFrequencies", "blocking_keys", "candidate_keys",
           "lookup_keys", "normalize_record", "score_candidates",
           "score_norms"]

# A key shared by more records than this is not selective (e.g. a very common surname
# plus year at 1M records); it is skipped at query time when other keys are available.
MAX_POSTING = 1000
# At most this many candidates (those sharing the most keys with the query) are scored.
MAX_SCORED = 250
#: Version of the candidate keys (`candidate_keys`); bump when they change, with a store
#: migration that re-derives the stored keys.
KEYS_VERSION = 2


def given_key(token: str) -> str:
    """Phonetic key of a given-name token after nickname mapping (Chuy -> Jesus)."""
    names = canonical_names(token)
    if len(names) == 2:  # the token itself plus exactly one canonical name
        (token,) = names - {token}
    return phonetic_key(token)


def _compact(surname: str) -> str:
    return surname.replace(" ", "")


def _name_keys(keys: list[str], given: Sequence[str], l1: str, l2: str, p1: str, p2: str,
               by: int) -> None:
    """Keys on given name and surnames (shared by the stored keys and the swapped-field
    variant a query also looks up)."""
    g0 = given[0] if given else ""
    for surname_key in dict.fromkeys(k for k in (p1, p2) if k):
        keys.append(f"l:{surname_key}")  # alone: selective for a rare surname only
        if by:
            keys.append(f"s:{surname_key}:{by}")
        keys.extend(f"n:{surname_key}:{g}" for g in given if g)
    if g0:
        # Typo-tolerant: the first and last three letters of each surname with the given
        # name's key survive one typo in the middle of the surname (and any date error).
        for surname in dict.fromkeys(_compact(x) for x in (l1, l2) if len(x) >= 4):
            keys.append(f"p:{g0}:{surname[:3]}")
            keys.append(f"x:{g0}:{surname[-3:]}")
        if by:
            keys.append(f"y:{g0}:{by}")


def norm_keys(norm: Norm) -> list[str]:
    """Candidate keys of a normalized record; see `candidate_keys`."""
    keys: list[str] = []
    by, bm, bd = norm.by, norm.bm, norm.bd
    if by and bm and bd:
        keys.append(f"d:{by:04d}-{bm:02d}-{bd:02d}")
        if bd <= 12 and bd != bm:
            keys.append(f"d:{by:04d}-{bd:02d}-{bm:02d}")
    given = [given_key(token) for token in norm.given[:2]]
    g0 = given[0] if given else ""
    _name_keys(keys, given, norm.l1, norm.l2, norm.p1, norm.p2, by)
    if bm and bd:
        keys.extend(f"g:{g}:{bm:02d}{bd:02d}" for g in given if g)
        if norm.given and bd <= 12 and bd != bm:
            keys.append(f"g:{g0}:{bd:02d}{bm:02d}")
    if by and norm.l1 and g0:
        keys.append(f"z:{by}:{norm.l1[0]}{g0[0]}")
    if norm.mother_last and by:
        keys.append(f"m:{phonetic_key(norm.mother_last)}:{by}")
    if norm.mother and g0:
        keys.append(f"f:{given_key(norm.mother.split(' ')[0])}:{g0}")
    if norm.ssid:
        keys.append(f"i:{norm.ssid}")
    return list(dict.fromkeys(keys))


def norm_lookup_keys(norm: Norm) -> list[str]:
    """Keys a query looks up; see `lookup_keys`."""
    keys = norm_keys(norm)
    by = norm.by
    if by and norm.l1 and norm.given:
        g0 = given_key(norm.given[0])
        if g0:
            keys.extend(f"z:{y}:{norm.l1[0]}{g0[0]}" for y in (by - 1, by + 1))
    if norm.given and norm.l1:  # given name and surname keyed in each other's field
        surname = norm.given[0]
        swapped: list[str] = []
        _name_keys(swapped, [given_key(norm.l1.split(" ")[0])], surname, "",
                   phonetic_key(surname), "", by)
        keys.extend(swapped)
    return list(dict.fromkeys(keys))


def candidate_keys(record: Mapping[str, Any]) -> list[str]:
    """Candidate keys of a record (stored in `match_keys(student_id, key)`): the keys that
    choose, inside a holder that already has the query, which records to score.

    Typo-tolerant on purpose, so no key needs both an exact birth date and an exact
    surname: birth date (and with day and month swapped); Spanish phonetic key of each
    surname, alone (looked up only where few records share it, see MAX_POSTING) and
    plus birth year; surname key plus given-name key; given-name key (after
    nickname mapping) plus month-day; given-name key plus birth year; given-name key plus
    the first or the last three letters of each surname; birth year plus the initials of
    surname and given name; mother's maiden-name key plus birth year; mother's given
    name plus the child's; the state student id. Not selective enough to decide whether
    a state should receive a query at all: that is node.matching.discover_keys.
    """
    return norm_keys(normalize(record))


def blocking_keys(record: Mapping[str, Any]) -> list[str]:
    """The stored candidate keys of a record (the name of the first release; see
    `candidate_keys`)."""
    return candidate_keys(record)


def lookup_keys(query: Mapping[str, Any]) -> list[str]:
    """Keys a query looks up among the stored candidate keys: its own candidate keys, the
    birth year ±1 key, and the name keys with given name and surname swapped."""
    return norm_lookup_keys(normalize(query))


@dataclass(frozen=True)
class Hit:
    """One scored candidate; position indexes the records (or candidates) as given.

    `probability` is the calibrated probability that the candidate is the searched child
    (it weighs the score and the lead); `lead` is the score minus the best other
    candidate's score (None when it was the only candidate).
    """

    position: int
    score: float
    probability: float
    outcome: str
    agreements: Mapping[str, str]
    lead: float | None = None


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


def _first(item: tuple[float, int]) -> float:
    return item[0]


def _rank(scorer: Scorer, query: Norm, norms: Sequence[Norm], positions: Iterable[int],
          tf: TermFrequencies | None, limit: int, population: int) -> list[Hit]:
    tf_given = tf.given_share(query.given[0]) if tf and query.given else None
    tf_surname = tf.surname_share(query.l1) if tf else None
    scored = scorer.batch(query, norms, positions, tf_given, tf_surname)
    if not scored:
        return []
    top = heapq.nlargest(max(limit, 2), scored, key=_first)
    best = top[0][0]
    total = math.fsum([math.pow(2.0, value - best) for value, _pos in scored])
    population = max(population, len(scored))
    hits = []
    for i, (value, pos) in enumerate(top[:limit]):
        levels = compare(query, norms[pos])
        other = top[1][0] if i == 0 and len(top) > 1 else top[0][0] if i else None
        lead = None if other is None else value - other
        rest = total - math.pow(2.0, value - best)
        others = best + math.log2(rest) if rest > 1e-12 else -math.inf
        prob = scorer.probability(scorer.evidence(value, others, population))
        hits.append(Hit(position=pos, score=round(value, 3), probability=prob,
                        outcome=scorer.decide(prob, lead, levels, query, norms[pos], i == 0),
                        agreements=describe(levels),
                        lead=None if lead is None else round(lead, 3)))
    return hits


def score_candidates(query: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]],
                     limit: int = 5, tf: TermFrequencies | None = None,
                     params: Params | None = None) -> list[Hit]:
    """Score candidate rows (fetched by blocking key) against a query, best first.

    hit.position indexes `candidates`. Pass the state's frozen `tf` table for the
    common-name adjustment; without it no TF adjustment is made.
    """
    norms = [normalize(c) for c in candidates]
    return score_norms(normalize(query), norms, limit, tf, params)


def score_norms(query: Norm, norms: Sequence[Norm], limit: int = 5,
                tf: TermFrequencies | None = None, params: Params | None = None,
                population: int | None = None) -> list[Hit]:
    """`score_candidates` on normalized forms already at hand (the stored ones: the
    record store keeps each record's `norm_to_text`, so a find never re-normalizes).

    `population` is the number of records the candidates were chosen from (it weighs
    the evidence: a chance agreement is likelier among more records); by default the
    state's count in `tf`, else the number of candidates.
    """
    scorer = Scorer(params) if params else default_scorer()
    if population is None:
        population = tf.total if tf and tf.total else len(norms)
    return _rank(scorer, query, norms, range(len(norms)), tf, limit, population)


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
        """Positions sharing a candidate key with the query, most keys shared first."""
        buckets = [b for b in (self.postings.get(k) for k in norm_lookup_keys(query)) if b]
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
        return _rank(self.scorer, norm, self.norms, self.candidates(norm), self.tf, limit,
                     len(self.norms))
