"""Identity matching: blocking keys, the in-memory MatchIndex and candidate scoring (pure).

Owns the public matching API of issue 4 (DESIGN.md "Identity matching"): `normalize_record`,
`blocking_keys`, `MatchIndex` (build from records, `search`) and `score_candidates` (score
rows the node fetched from SQLite by blocking key). No I/O: the frozen parameters and the
nickname table are package data read once at import. Normalization lives in
node/match_normalize.py, the phonetic key in node/match_phonetic.py, comparison levels,
weights and decisions in node/match_scoring.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from node.match_normalize import Norm, canonical_names, normalize, normalize_record
from node.match_phonetic import phonetic_key

__all__ = ["blocking_keys", "normalize_record"]


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
    g0 = given_key(norm.given[0]) if norm.given else ""
    for surname_key in {norm.p1, norm.p2} - {""}:
        if by:
            keys.append(f"s:{surname_key}:{by}")
        if g0:
            keys.append(f"n:{surname_key}:{g0}")
    if bm and bd:
        for token in norm.given[:2]:
            keys.append(f"g:{given_key(token)}:{bm:02d}{bd:02d}")
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
