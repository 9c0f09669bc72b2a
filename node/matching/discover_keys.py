"""Discover keys: the selective keys that decide *whether* a state gets a query at all
(the private discover round, issue 14; DESIGN.md "Messages" `discover`).

A holder puts the OPRF values of `record_discover_keys` of every stored student in its
published filter; a requester blinds `query_discover_keys` of a search, pads them to
exactly `DISCOVER_ELEMENTS` elements and sends the full `find` only to holders with a
hit. Kept apart from the typo-tolerant candidate keys of node/matching/index.py on
purpose: every discover key combines a name with a date part or a second name, and none
is a birth date alone (shared by ~1/6000 of all children, it hits in every large state).
The query side carries the ± variants (day and month swapped, birth year ±1, given name
and surname swapped), so the filter holds one value per key and stays small.

Names only (no birth date, no id): the one selective key left is given name + surname
(``nn:``). Such a search reaches the states with a hit on that key only; a common name
reaches many (docs/SECURITY.md "Threat model", the search page says so).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node.matching.index import given_key
from node.matching.normalize import normalize

#: the number of blinded elements every discover message carries, whatever the query has
DISCOVER_ELEMENTS = 16
#: bump when the keys change: holders rebuild their filter (a new filter version)
DISCOVER_KEYS_VERSION = 1


def record_discover_keys(record: Mapping[str, Any]) -> list[str]:
    """The keys a holder puts in its filter for one stored student.

    * ``dn:`` surname key + given key + birth year
    * ``dd:`` given key + full birth date
    * ``ds:`` surname key + full birth date
    * ``nn:`` surname key + given key (names-only searches)
    * ``di:`` the state student id (selective on its own)
    """
    norm = normalize(record)
    keys: list[str] = []
    g0 = given_key(norm.given[0]) if norm.given else ""
    date = (f"{norm.by:04d}{norm.bm:02d}{norm.bd:02d}"
            if norm.by and norm.bm and norm.bd else "")
    for surname_key in dict.fromkeys(k for k in (norm.p1, norm.p2) if k):
        if g0 and norm.by:
            keys.append(f"dn:{surname_key}:{g0}:{norm.by}")
        if date:
            keys.append(f"ds:{surname_key}:{date}")
        if g0:
            keys.append(f"nn:{surname_key}:{g0}")
    if g0 and date:
        keys.append(f"dd:{g0}:{date}")
    if norm.ssid:
        keys.append(f"di:{norm.ssid}")
    return list(dict.fromkeys(keys))


def query_discover_keys(query: Mapping[str, Any]) -> list[str]:
    """The keys a search sends, most useful first, at most `DISCOVER_ELEMENTS`; empty
    when the query has no selective key (then no state gets it)."""
    norm = normalize(query)
    g0 = given_key(norm.given[0]) if norm.given else ""
    keys: list[str] = []
    if norm.ssid:
        keys.append(f"di:{norm.ssid}")
    dates = []
    if norm.by and norm.bm and norm.bd:
        dates.append(f"{norm.by:04d}{norm.bm:02d}{norm.bd:02d}")
        if norm.bm != norm.bd and norm.bd <= 12:
            dates.append(f"{norm.by:04d}{norm.bd:02d}{norm.bm:02d}")
    surnames = list(dict.fromkeys(k for k in (norm.p1, norm.p2) if k))
    for date in dates:
        if g0:
            keys.append(f"dd:{g0}:{date}")
        keys.extend(f"ds:{s}:{date}" for s in surnames)
    if g0 and norm.by:
        for year in (norm.by, norm.by - 1, norm.by + 1):
            keys.extend(f"dn:{s}:{g0}:{year}" for s in surnames)
    if g0 and not norm.by and not norm.ssid:  # names only: the one key left
        keys.extend(f"nn:{s}:{g0}" for s in surnames)
    return list(dict.fromkeys(keys))[:DISCOVER_ELEMENTS]


def has_selective_key(query: Mapping[str, Any]) -> bool:
    """Whether the query has a birth date or an id (else it is a names-only search)."""
    norm = normalize(query)
    return bool(norm.ssid or norm.by)
