"""Reading student records back from the record tables (DESIGN.md "Student records",
"Identity matching").

Owns `read_student` (the nested JSON Lines shape of one stored student, for `fetch`
replies and the web UI) and `candidates` (the students sharing the most blocking keys
with a query, with only the identity columns matching needs). Run on the store's
writer thread like every other database access; the schema is `node.store.database`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlite_utils import Database

from node.errors import NotFound
from node.store.sql import chunks, placeholders
from protocol.record_fields import TABLE_SPECS


def _clean(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    spec = TABLE_SPECS[table]
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or key not in spec:
            continue
        out[key] = bool(value) if spec[key][0] == "bool" else value
    return out


def read_student(db: Database, state_student_id: str) -> dict[str, Any]:
    """The nested record (JSON Lines shape) with owner_state and record_version."""
    rows = list(db.query("SELECT * FROM students WHERE state_student_id = ?",
                         [state_student_id]))
    if not rows:
        raise NotFound(f"no student with state_student_id {state_student_id}")
    row = rows[0]
    sid = row["id"]
    out = _clean("students", row)
    out["qualifying_moves"] = [_clean("qualifying_moves", r) for r in db.query(
        "SELECT * FROM qualifying_moves WHERE student_id = ? ORDER BY seq", [sid])]
    enrollments = []
    for enr in db.query("SELECT * FROM enrollments WHERE student_id = ? ORDER BY seq", [sid]):
        item = _clean("enrollments", enr)
        item["courses"] = [_clean("courses", c) for c in db.query(
            "SELECT * FROM courses WHERE enrollment_row = ? ORDER BY seq", [enr["id"]])]
        enrollments.append(item)
    out["enrollments"] = enrollments
    out["assessments"] = [_clean("assessments", r) for r in db.query(
        "SELECT * FROM assessments WHERE student_id = ? ORDER BY seq", [sid])]
    return out


#: What matching and a `find` reply need of a candidate (not the whole row).
IDENTITY_COLUMNS = (
    "state_student_id", "first_name", "middle_name", "last_name_1", "last_name_2", "suffix",
    "sex", "birth_date", "birth_city", "birth_state", "birth_country", "multiple_birth",
    "male_parent_first_name", "male_parent_last_name", "female_parent_first_name",
    "female_parent_last_name",
)


def candidates(db: Database, keys: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """Students sharing the most blocking keys with `keys` (student fields only, no lists).

    Each dict also has `key_hits`, the number of shared keys.
    """
    if not keys:
        return []
    rows = db.conn.execute(
        f"SELECT student_id, count(*) AS hits FROM match_keys WHERE key IN "  # noqa: S608
        f"({placeholders(len(keys))}) GROUP BY student_id ORDER BY hits DESC, student_id "
        f"LIMIT ?", [*keys, limit]).fetchall()
    hits = dict(rows)
    out = []
    cols = ", ".join(f'"{c}"' for c in IDENTITY_COLUMNS)
    for chunk in chunks(list(hits)):
        cursor = db.conn.execute(
            f"SELECT id, {cols} FROM students WHERE id IN ({placeholders(len(chunk))})",  # noqa: S608
            list(chunk))
        for row in cursor:
            item = _clean("students", dict(zip(IDENTITY_COLUMNS, row[1:], strict=True)))
            item["key_hits"] = hits[row[0]]
            out.append(item)
    out.sort(key=lambda r: -int(r["key_hits"]))
    return out
