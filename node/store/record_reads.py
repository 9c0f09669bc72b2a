"""Reading student records back from the record tables (DESIGN.md "Student records",
"Identity matching").

Owns `read_student` (the nested JSON Lines shape of one stored student, for `fetch`
replies and the web UI), `candidates` (the students sharing the most blocking keys
with a query, with only the identity columns matching needs), and `candidate_norms` /
`identity_rows`, the same in two steps for a `find`: the stored normalized form of every
candidate to score, then the identity columns of the few that are answered. Run on the store's
writer thread like every other database access; the schema is `node.store.database`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlite_utils import Database

from node.errors import NotFound
from node.matching.normalize import Norm, normalize, pack_norm, unpack_norm
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


def candidate_norms(db: Database, keys: Sequence[str],
                    limit: int) -> list[tuple[int, Norm]]:
    """(student row id, normalized identity) of the students sharing the most blocking keys
    with `keys`, most shared first: the stored `match_norms`, recomputed (and stored
    again, on the writer thread's open transaction) where missing or of another version."""
    if not keys:
        return []
    rows = db.conn.execute(
        "SELECT m.student_id, n.norm FROM (SELECT student_id, count(*) AS hits FROM "  # noqa: S608
        f"match_keys WHERE key IN ({placeholders(len(keys))}) GROUP BY student_id ORDER BY "
        "hits DESC, student_id LIMIT ?) AS m LEFT JOIN match_norms AS n ON n.student_id = "
        "m.student_id ORDER BY m.hits DESC, m.student_id", [*keys, limit]).fetchall()
    out: list[tuple[int, Norm]] = []
    stale: list[int] = []
    for sid, packed in rows:
        norm = unpack_norm(packed) if packed is not None else None
        if norm is None:
            stale.append(sid)
        out.append((sid, norm))  # type: ignore[arg-type]  # stale ones are filled below
    if stale:
        fresh = {sid: normalize(row) for sid, row in identity_rows(db, stale).items()}
        db.conn.executemany("INSERT OR REPLACE INTO match_norms VALUES (?, ?)",
                            [(sid, pack_norm(n)) for sid, n in fresh.items()])
        out = [(sid, norm if norm is not None else fresh[sid]) for sid, norm in out
               if norm is not None or sid in fresh]
    return out


def identity_rows(db: Database, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The identity columns (what matching and a `find` reply need) of students by row id."""
    cols = ", ".join(f'"{c}"' for c in IDENTITY_COLUMNS)
    out: dict[int, dict[str, Any]] = {}
    for chunk in chunks(list(ids)):
        cursor = db.conn.execute(
            f"SELECT id, {cols} FROM students WHERE id IN ({placeholders(len(chunk))})",  # noqa: S608
            list(chunk))
        for row in cursor:
            out[row[0]] = _clean("students", dict(zip(IDENTITY_COLUMNS, row[1:], strict=True)))
    return out


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
