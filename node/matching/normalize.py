"""Normalization of student identity fields for matching (pure; reads only package data).

Owns folding (Unicode NFKD, accents, case, punctuation, hyphens), particle removal
("de", "del", "de la", "y", ...), the paternal/maternal split of a single surname field,
compound given names (first + middle as tokens), the curated Spanish/English nickname
table (node/data/nicknames.txt) and birth-date parsing that never raises: an impossible
date such as 2012-13-10 keeps its components as data. Follows DESIGN.md "Identity
matching" and issue 4 item 2; field names are those of MSIX.md §4.1 / §4.3.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import msgpack

from node.matching.phonetic import phonetic_key

PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "da", "das", "do", "dos",
                       "di", "van", "von", "der", "den", "le", "du", "i"})
# Abbreviations seen in given-name fields.
_ABBREVIATIONS = {"ma": "maria", "ma.": "maria", "fco": "francisco", "jse": "jose",
                  "guadalupe": "guadalupe", "jna": "juana", "ml": "manuel"}
_COUNTRIES = {"mexico": "MEX", "mx": "MEX", "mex": "MEX", "usa": "USA", "us": "USA",
              "united states": "USA", "guatemala": "GTM", "gt": "GTM", "honduras": "HND",
              "hn": "HND", "el salvador": "SLV", "sv": "SLV", "pr": "PRI", "puerto rico": "PRI"}
_SEX = {"m": "M", "male": "M", "h": "M", "masculino": "M", "f": "F", "female": "F",
        "femenino": "F", "x": "X"}
_DATE_YMD = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_DATE_MDY = re.compile(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})\s*$")
_NON_LETTER = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")
NICKNAME_FILE = Path(__file__).parent / "data" / "nicknames.txt"


class Norm(NamedTuple):
    """Normalized identity fields of one record (compact: one tuple per record)."""

    given: tuple[str, ...]  # folded given-name tokens, first then middle, particles dropped
    l1: str  # paternal (first) surname, folded
    l2: str  # maternal (second) surname, folded ('' if none)
    p1: str  # phonetic key of l1
    p2: str  # phonetic key of l2
    sex: str  # 'M', 'F', 'X' or ''
    by: int  # birth year, month, day as written (0 = missing); month may be 13
    bm: int
    bd: int
    city: str
    region: str  # "STATE|COUNTRY" normalized, '' if both missing
    ssid: str
    father: str  # folded "first last" of the male parent
    mother: str  # folded "first last" of the female parent
    mother_last: str  # first surname token of the female parent (maiden name)


def fold(text: Any) -> str:
    """Lower-case ASCII letters and single spaces; hyphens, dots and digits become spaces."""
    if text is None:
        return ""
    return _fold(str(text))


@lru_cache(maxsize=65536)
def _fold(text: str) -> str:
    """`fold` of a string; names repeat heavily, so results are cached."""
    raw = unicodedata.normalize("NFKD", text)
    raw = "".join(ch for ch in raw if not unicodedata.combining(ch)).lower()
    raw = raw.replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("ł", "l")
    return _SPACES.sub(" ", _NON_LETTER.sub(" ", raw)).strip()


def name_tokens(text: Any) -> list[str]:
    """Folded tokens of a name with particles ("de la", "del", "y", ...) removed."""
    if text is None:
        return []
    return list(_name_tokens(str(text)))


@lru_cache(maxsize=65536)
def _name_tokens(text: str) -> tuple[str, ...]:
    tokens = _fold(text).split()
    kept = [tok for tok in tokens if tok not in PARTICLES]
    return tuple(kept or tokens[-1:])


def split_surnames(last_name_1: Any, last_name_2: Any) -> tuple[str, str]:
    """Return (paternal, maternal) folded surnames; split one field holding both."""
    t1, t2 = name_tokens(last_name_1), name_tokens(last_name_2)
    if not t1 and t2:
        t1, t2 = t2, []
    if t1 and not t2 and len(t1) >= 2:
        return t1[0], " ".join(t1[1:])
    return " ".join(t1), " ".join(t2)


def _load_nicknames(path: Path) -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or ":" not in line:
            continue
        head, _, rest = line.partition(":")
        canonical = fold(head).replace(" ", "")
        table.setdefault(canonical, set()).add(canonical)
        for variant in rest.split(","):
            key = fold(variant).replace(" ", "")
            if key:
                table.setdefault(key, set()).add(canonical)
    return {name: frozenset(values) for name, values in table.items()}


NICKNAMES: dict[str, frozenset[str]] = _load_nicknames(NICKNAME_FILE)


@lru_cache(maxsize=65536)
def canonical_names(token: str) -> frozenset[str]:
    """The canonical given names a folded token may stand for (itself included)."""
    token = _ABBREVIATIONS.get(token, token)
    return NICKNAMES.get(token, frozenset()) | {token}


def nickname_equivalent(a: str, b: str) -> bool:
    """True when two folded given-name tokens share a canonical name (Lupe ~ Guadalupe)."""
    return a == b or bool(canonical_names(a) & canonical_names(b))


def given_tokens(first_name: Any, middle_name: Any = None) -> tuple[str, ...]:
    """Given-name tokens (compound first names split, middle name appended)."""
    tokens = [_ABBREVIATIONS.get(t, t) for t in name_tokens(first_name)]
    tokens += [_ABBREVIATIONS.get(t, t) for t in name_tokens(middle_name)]
    return tuple(tokens)


def parse_date(value: Any) -> tuple[int, int, int]:
    """(year, month, day) as written; (0, 0, 0) when absent or unreadable; never raises."""
    if value is None:
        return (0, 0, 0)
    if isinstance(value, _dt.date):
        return (value.year, value.month, value.day)
    text = str(value)
    found = _DATE_YMD.match(text)
    if found:
        return (int(found[1]), int(found[2]), int(found[3]))
    found = _DATE_MDY.match(text)
    if found:
        return (int(found[3]), int(found[1]), int(found[2]))
    return (0, 0, 0)


def _region(state: Any, country: Any) -> str:
    st = fold(state).replace(" ", "").upper()[:3]
    folded = fold(country)
    co = _COUNTRIES.get(folded, folded.replace(" ", "").upper()[:3])
    return f"{st}|{co}" if st or co else ""


def _person(first: Any, last: Any) -> str:
    given = given_tokens(first)[:1]
    surname = name_tokens(last)[:1]
    return " ".join(given + tuple(surname))


def normalize(record: Mapping[str, Any]) -> Norm:
    """Normalize one record or query (any subset of the matching fields)."""
    get = record.get
    l1, l2 = split_surnames(get("last_name_1"), get("last_name_2"))
    by, bm, bd = parse_date(get("birth_date"))
    mother_tokens = name_tokens(get("female_parent_last_name"))
    ssid = re.sub(r"[^0-9A-Za-z]", "", str(get("state_student_id") or "")).upper()
    return Norm(
        given=given_tokens(get("first_name"), get("middle_name")),
        l1=l1,
        l2=l2,
        p1=phonetic_key(l1.split(" ")[0]) if l1 else "",
        p2=phonetic_key(l2.split(" ")[0]) if l2 else "",
        sex=_SEX.get(fold(get("sex")), ""),
        by=by,
        bm=bm,
        bd=bd,
        city=fold(get("birth_city")),
        region=_region(get("birth_state"), get("birth_country")),
        ssid=ssid,
        father=_person(get("male_parent_first_name"), get("male_parent_last_name")),
        mother=_person(get("female_parent_first_name"), get("female_parent_last_name")),
        mother_last=mother_tokens[0] if mother_tokens else "",
    )


def normalize_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Public form of `normalize`: a plain dict of the normalized fields."""
    return normalize(record)._asdict()


#: Bump whenever `normalize` (or the nickname table) changes what it returns: stored
#: normalized records of another version are recomputed, never trusted.
NORM_VERSION = 1


def pack_norm(norm: Norm) -> bytes:
    """`norm` as bytes (msgpack of [NORM_VERSION, given..., the other fields]) for storage
    beside the record (node.store: `match_norms`), so matching need not normalize it again."""
    packed: bytes = msgpack.packb([NORM_VERSION, list(norm.given), *norm[1:]],
                                  use_bin_type=True)
    return packed


def unpack_norm(data: bytes) -> Norm | None:
    """The Norm `pack_norm` stored, or None if it is of another version or damaged."""
    try:
        items = msgpack.unpackb(data, use_list=False, raw=False)
        if type(items) is not tuple or len(items) != len(Norm._fields) + 1 \
                or items[0] != NORM_VERSION:
            return None
        return Norm(tuple(items[1]), *items[2:])
    except (ValueError, TypeError, msgpack.UnpackException):
        return None
