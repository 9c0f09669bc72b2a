"""The nested student record: validation, cross-field rules and canonical form (pure, no I/O).

Follows the MSIX Minimum Data Elements as laid out in MSIX.md §4 (student, qualifying
move, enrollment, course history, assessment) and DESIGN.md "Student records". The wire
and JSON Lines form is one nested dict per student: student fields at the top level, plus
the lists `qualifying_moves`, `enrollments` (each with a nested `courses` list) and
`assessments`. Each flat row is checked by `protocol.record_fields.check_row`; this module
adds the nesting, the cross-field rules (dates after birth, ordered dates, unique
enrollment ids, credits) and the owner state. Empty strings and None mean "absent" and are
dropped, so a CSV row and a JSON object with the same content give the same record and
the same `content_hash`. Health data are flags only (`medical_alert`
none/acute/chronic), never diagnoses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.errors import InvalidRecord
from protocol.record_fields import check_row

CHILD_LISTS = ("qualifying_moves", "enrollments", "assessments")
# Ed-Fi's LastQualifyingMove: a student-level date, taken as the one qualifying move's
# arrival date when the record gives no qualifying move (docs/IMPORT.md "Fields").
LAST_QUALIFYING_MOVE = "last_qualifying_move"
_CHILD_SET = frozenset((*CHILD_LISTS, LAST_QUALIFYING_MOVE))
_COURSES_SET = frozenset({"courses"})


class InvalidStudent(InvalidRecord):
    """A student failed validation; `errors` lists every (field, reason) found."""

    def __init__(self, where: str, errors: list[tuple[str, str]]) -> None:
        detail = "; ".join(f"{field}: {reason}" for field, reason in errors)
        super().__init__(f"{where}: {detail}" if where else detail)
        self.where = where
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Student:
    """A validated student: normalized nested data (see the module docstring)."""

    state_student_id: str
    data: Mapping[str, Any]

    @property
    def owner_state(self) -> str | None:
        value = self.data.get("owner_state")
        return str(value) if value is not None else None

    def to_dict(self) -> dict[str, Any]:
        return json.loads(canonical_json(self.data))  # type: ignore[no-any-return]

    def content_hash(self) -> str:
        """SHA-256 over the canonical form without `owner_state` and `record_version`."""
        body = {k: v for k, v in self.data.items() if k not in ("owner_state", "record_version")}
        return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def canonical_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _before(errors: list[tuple[str, str]], row: Mapping[str, Any], first: str, second: str,
            prefix: str, reason: str) -> None:
    _order(errors, row.get(first), row.get(second), prefix + second, reason)


def _order(errors: list[tuple[str, str]], a: Any, b: Any, where: str, reason: str) -> None:
    if a is not None and b is not None and b < a:
        errors.append((where, f"{reason} ({b} < {a})"))


def _children(data: Mapping[str, Any], key: str, errors: list[tuple[str, str]]) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(type(v) is dict or isinstance(v, Mapping)
                                              for v in value):
        errors.append((key, "not a list of objects"))
        return []
    return value


def _last_move(data: Mapping[str, Any], birth: Any, errors: list[tuple[str, str]],
               from_text: bool) -> list[dict[str, Any]]:
    """The qualifying move a `last_qualifying_move` date stands for ([] if not given)."""
    value = data.get(LAST_QUALIFYING_MOVE)
    if value is None or value == "":
        return []
    found: list[tuple[str, str]] = []
    move = check_row({"qualifying_arrival_date": value}, "qualifying_moves", found,
                     from_text=from_text)
    errors.extend((LAST_QUALIFYING_MOVE, reason) for _field, reason in found)
    _order(errors, birth, move.get("qualifying_arrival_date"), LAST_QUALIFYING_MOVE,
           "before birth")
    return [move] if move else []


def validate_student(data: Mapping[str, Any], *, where: str = "",
                     owner_state: str | None = None, from_text: bool = False,
                     require_move: bool = True) -> Student:
    """Validate one nested student; raise InvalidStudent listing every bad field.

    With `owner_state`, a record naming another owner is rejected and a record naming
    none gets this one. Every field must have its JSON type (text, number, true/false)
    unless `from_text` (CSV: every value is text, converted by the field's kind). A
    migrant child's record has a qualifying move: without one (and without a
    `last_qualifying_move` date to stand for it) the record is rejected, unless not
    `require_move` (a peer's snapshot released for a purpose that leaves the moves out).
    """
    if not isinstance(data, Mapping):
        raise InvalidStudent(where, [("(record)", f"not an object ({type(data).__name__})")])
    errors: list[tuple[str, str]] = []
    out = check_row(data, "students", errors, skip=_CHILD_SET, from_text=from_text)
    if owner_state is not None:
        given = out.get("owner_state")
        if given is not None and given != owner_state:
            errors.append(("owner_state", f"not this node's state {owner_state} ({given})"))
        out["owner_state"] = owner_state
    birth = out.get("birth_date")
    moves = []
    for i, raw in enumerate(_children(data, "qualifying_moves", errors)):
        p = f"qualifying_moves[{i}]."
        move = check_row(raw, "qualifying_moves", errors, p, from_text=from_text)
        _order(errors, birth, move.get("qualifying_arrival_date"), p + "qualifying_arrival_date",
               "before birth")
        _before(errors, move, "qualifying_arrival_date", "eligibility_expiration_date", p,
                "before the qualifying arrival date")
        moves.append(move)
    fallback = _last_move(data, birth, errors, from_text)  # checked even when not needed
    moves = moves or fallback
    enrollments = []
    seen: set[str] = set()
    for i, raw in enumerate(_children(data, "enrollments", errors)):
        p = f"enrollments[{i}]."
        enr = check_row(raw, "enrollments", errors, p, _COURSES_SET, from_text)
        if enr.get("enrollment_id") in seen:
            errors.append((p + "enrollment_id", f"duplicate ({enr['enrollment_id']})"))
        seen.add(enr.get("enrollment_id", ""))
        _order(errors, birth, enr.get("enrollment_date"), p + "enrollment_date", "before birth")
        _before(errors, enr, "enrollment_date", "withdrawal_date", p, "before enrollment")
        if enr.get("graduation_hse_date") and enr.get("graduation_hse_indicator") in (None, "none"):
            errors.append((p + "graduation_hse_date", "given without a graduation/HSE indicator"))
        courses = []
        for j, raw_c in enumerate(_children(raw, "courses", errors)):
            pc = f"{p}courses[{j}]."
            course = check_row(raw_c, "courses", errors, pc, from_text=from_text)
            _before(errors, course, "begin_academic_year", "end_academic_year", pc,
                    "before the begin year")
            granted, attempted = course.get("credits_granted"), course.get("credits_attempted")
            if granted is not None and attempted is not None and granted > attempted:
                errors.append((pc + "credits_granted",
                               f"more than credits attempted ({granted} > {attempted})"))
            courses.append(course)
        enr["courses"] = courses
        enrollments.append(enr)
    assessments = [check_row(raw, "assessments", errors, f"assessments[{i}].",
                             from_text=from_text)
                   for i, raw in enumerate(_children(data, "assessments", errors))]
    if require_move and not moves and not any(f in ("qualifying_moves", LAST_QUALIFYING_MOVE)
                                              for f, _ in errors):
        errors.append(("qualifying_moves", "required: a migrant child's record has at least "
                       "one qualifying move with its qualifying_arrival_date (or give "
                       f"{LAST_QUALIFYING_MOVE})"))
    if errors:
        raise InvalidStudent(where, errors)
    out.update(qualifying_moves=moves, enrollments=enrollments, assessments=assessments)
    return Student(state_student_id=out["state_student_id"], data=out)


def next_version(current: int | None, changed: bool) -> int:
    """The record version after a write: 1 for a new record, +1 only on a change."""
    if current is None:
        return 1
    return current + 1 if changed else current
