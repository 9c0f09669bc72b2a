"""Discover keys: the selective keys that decide *whether* a state gets a query at all
(the private discover round, issue 14; DESIGN.md "Messages" `discover`).

A holder puts the OPRF values of `record_discover_keys` of every stored student in its
published filter; a requester blinds `query_discover_keys` of a search, pads them to
exactly `DISCOVER_ELEMENTS` elements and sends the full `find` only to holders with a
hit. Kept apart from the typo-tolerant candidate keys of node/matching/index.py on
purpose: a discover key must be rare in a state that does not hold the child, so every
key combines three fields or more (names of the child and of its parents, the birth
date or a part of it), and none is a birth date alone (shared by ~1/6000 of all
children, it hits in every large state) or any other single field, but the state
student id (``di:``). A key is exact (the OPRF preserves only equality), so the
tolerance comes from the *choice* of fields: each family below leaves out what another
one needs, and a child is discovered when one family survives its errors.

Codes: a given name (the child's first token, the mother's, the father's) is the
phonetic key of its nickname group (the connected names of node/data/nicknames.txt:
Lalo, Eduardo and Edward share one code); a surname is its phonetic key; the second
surname is the mother's surname when the record has none (Spanish naming: the child's
second surname is the mother's first). Dates: the year, and month and day as an
*unordered* pair, so a day/month swap changes no key.

Families (record side and query side alike; tuned on the synthetic labelled set of
seed 7, see bench/discover_bench.py):

* ``mf:`` mother's given name and surname + father's given name + birth year — every
  error of the child's own names, of the birth day and month
* ``mm:`` mother's given name and surname + month/day (no year, no child's name) — the
  child's names and a wrong birth year
* ``u:`` {given, surname} as an unordered pair + date, for each surname — given name
  and surname keyed in each other's field, second surname only, surnames reordered
* ``y:`` given + first surname + month/day (no year) — a wrong birth year
* ``b:`` both surnames + date — a wrong given name (no parents needed)
* ``ym:`` given + first surname + birth year and month — a wrong day (one surname only)
* ``pf:`` first surname + father's given name + date — a wrong given name, one surname
* ``nn:`` {given, surname} unordered, no date: in the filter for every student, sent
  only by a names-only search (no birth date, no id), which therefore reaches every
  state with a child of that name (docs/SECURITY.md "Threat model"; the search page
  says so)
* ``di:`` the state student id

A query sends the id first, then the keys in that order (the most useful first: what
does not fit in `DISCOVER_ELEMENTS` is left out); `DISCOVER_ELEMENTS` is 7 so that a
holder's evaluation with its proof costs under 1 ms (crypto/oprf.py). The record side
holds at most 11 keys (10.4 on average on the synthetic states: ~1.9 MB of filter per
100,000 students at 0.1% false positives). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from node.matching.normalize import NICKNAMES, Norm, normalize
from node.matching.phonetic import phonetic_key

#: the number of blinded elements every discover message carries, whatever the query has
DISCOVER_ELEMENTS = 7
#: bump when the keys change: holders rebuild their filter (a new filter version)
DISCOVER_KEYS_VERSION = 2


def _nickname_groups(table: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Each name of the nickname table to the smallest name of its connected group."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        parent.setdefault(name, name)
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for name, canonical in table.items():
        for other in canonical:
            a, b = root(name), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {name: root(name) for name in parent}


_GROUP = _nickname_groups(NICKNAMES)


@lru_cache(maxsize=65536)
def name_code(token: str) -> str:
    """The code of a folded name token: the phonetic key of its nickname group (given
    names are already expanded from abbreviations by normalize)."""
    if not token:
        return ""
    return phonetic_key(_GROUP.get(token, token))


def _first(text: str) -> str:
    return text.split(" ")[0] if text else ""


def _pair(a: str, b: str) -> str:
    return ":".join(sorted((a, b))) if a and b else ""


def _parts(norm: Norm) -> dict[str, str]:
    """The codes the keys are made of ('' when missing)."""
    given = name_code(norm.given[0]) if norm.given else ""
    s1 = norm.p1
    s2 = norm.p2 or (phonetic_key(norm.mother_last) if norm.mother_last else "")
    if s2 == s1:
        s2 = ""
    u1 = name_code(_first(norm.l1))
    u2 = (name_code(_first(norm.l2)) if norm.l2 else
          name_code(norm.mother_last) if s2 else "")
    full = norm.by and norm.bm and norm.bd
    md = "{:02d}{:02d}".format(*sorted((norm.bm, norm.bd))) if full else ""
    mother = norm.mother.split(" ")
    return {
        "g": given, "s1": s1, "s2": s2, "u1": u1, "u2": u2 if u2 != u1 else "",
        "ss": _pair(s1, s2), "y": str(norm.by) if norm.by else "", "md": md,
        "date": f"{norm.by}{md}" if full else "",
        "ym": f"{norm.by}{norm.bm:02d}" if norm.by and norm.bm else "",
        "mg": name_code(mother[0]) if norm.mother else "",
        "ml": phonetic_key(norm.mother_last) if norm.mother_last else "",
        "fg": name_code(_first(norm.father)),
    }


def _key(kind: str, *parts: str) -> str:
    return ":".join((kind, *parts)) if all(parts) else ""


def _keys(p: Mapping[str, str]) -> list[str]:
    """The date-bearing keys of one record or query, most useful first."""
    return [
        _key("mf", p["mg"], p["ml"], p["fg"], p["y"]),
        _key("mm", p["mg"], p["ml"], p["md"]),
        _key("u", _pair(p["g"], p["u1"]), p["date"]),
        _key("u", _pair(p["g"], p["u2"]), p["date"]),
        _key("y", p["g"], p["s1"], p["md"]),
        _key("b", p["ss"], p["date"]),
        _key("ym", p["g"], p["s1"], p["ym"]),
        _key("pf", p["s1"], p["fg"], p["date"]),
    ]


def _names_only(p: Mapping[str, str]) -> list[str]:
    return [_key("nn", _pair(p["g"], p["u1"])), _key("nn", _pair(p["g"], p["u2"]))]


def _unique(keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(k for k in keys if k))


def norm_record_keys(norm: Norm) -> list[str]:
    """`record_discover_keys` of a normalized record."""
    p = _parts(norm)
    ssid = [f"di:{norm.ssid}"] if norm.ssid else []
    return _unique([*_keys(p), *_names_only(p), *ssid])


def norm_query_keys(norm: Norm) -> list[str]:
    """`query_discover_keys` of a normalized query."""
    p = _parts(norm)
    keys = [f"di:{norm.ssid}"] if norm.ssid else []
    if norm.by:
        keys += _keys(p)
    elif not norm.ssid:  # names only: the one key left
        keys += _names_only(p)
    return _unique(keys)[:DISCOVER_ELEMENTS]


def record_discover_keys(record: Mapping[str, Any]) -> list[str]:
    """The keys a holder puts in its filter for one stored student."""
    return norm_record_keys(normalize(record))


def query_discover_keys(query: Mapping[str, Any]) -> list[str]:
    """The keys a search sends, most useful first, at most `DISCOVER_ELEMENTS`; empty
    when the query has no selective key (then no state gets it)."""
    return norm_query_keys(normalize(query))


def has_selective_key(query: Mapping[str, Any]) -> bool:
    """Whether the query has a birth date or an id (else it is a names-only search)."""
    norm = normalize(query)
    return bool(norm.ssid or norm.by)
