"""The student-id rule of a `find` (pure): a search by any state's student id.

Issue 13 item 4. A person may search with a student id from any state, with or without
names. The holder of that id decides with this rule, on top of the matcher:

- a find without names is an id search: the holder answers only with the records that
  hold the id (`id_search`), never with children who merely share a birth date;
- a candidate holding the searched id is a `match` when at least one more element agrees
  (the given name, exactly or as a nickname, or the birth date exactly), so an exact id
  with a partly wrong name opens for the secretary; with nothing else agreeing (the id
  alone, or a typo in the id that lands on another child) it is a `near_match`;
- when a candidate holding the id is a `match`, no other candidate of the same answer is
  (`id_outcomes`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: the criteria id kind that names a state student id (of any state)
ID_KIND = "state_student_id"
#: the agreement key the rule sets on a candidate holding the searched id
ID_FIELD = "state_student_id"
#: elements that, agreeing besides the id, make a `match`, with the levels that count
AGREEING: Mapping[str, frozenset[str]] = {
    "given": frozenset({"exact", "alias"}),
    "birth_date": frozenset({"exact"}),
}
_NOT_ID = re.compile(r"[^0-9A-Za-z]")


def normalize_id(value: Any) -> str:
    """A student id as ids are compared: letters and digits only, upper case."""
    return _NOT_ID.sub("", str(value or "")).upper()


def query_ids(ids: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The normalized student ids a find's criteria carry."""
    return frozenset(n for kind, value in ids if kind == ID_KIND
                     for n in (normalize_id(value),) if n)


def id_search(query: Mapping[str, Any]) -> bool:
    """Whether a query is a search by id only: neither a given name nor a first surname
    (a name without letters, such as `protocol.messages.NO_NAME`, counts as none)."""
    def named(key: str) -> bool:
        return any(ch.isalpha() for ch in str(query.get(key) or ""))
    return not (named("first_name") or named("last_name_1"))


def id_outcome(agreements: Mapping[str, str]) -> str:
    """The outcome of a candidate holding the searched id, from the matcher's per-field
    levels: `match` if the given name or the birth date agrees too, else `near_match`."""
    if any(agreements.get(field) in levels for field, levels in AGREEING.items()):
        return "match"
    return "near_match"


def id_outcomes(outcomes: Sequence[str], agreements: Sequence[Mapping[str, str]],
                holds_id: Sequence[bool]) -> list[str]:
    """Outcomes of one answer's hits after the rule: hits holding the id decided by
    `id_outcome`; other hits keep the matcher's outcome, except that a `match` becomes a
    `near_match` when a hit holding the id is a `match`."""
    decided = [id_outcome(ag) if held else out
               for out, ag, held in zip(outcomes, agreements, holds_id, strict=True)]
    id_match = any(out == "match" and held for out, held in zip(decided, holds_id,
                                                                 strict=True))
    return ["near_match" if id_match and not held and out == "match" else out
            for out, held in zip(decided, holds_id, strict=True)]
