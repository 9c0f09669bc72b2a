"""Reading student records back from the record tables (DESIGN.md "Student records",
"Identity matching").

Owns `read_student` (the nested JSON Lines shape of one stored student, for `fetch`
replies and the web UI), `candidates` (the students sharing the most blocking keys
with a query, with only the identity columns matching needs) and `match_candidates`
(what a find runs: the query's lookup keys, posting lists longer than MAX_POSTING
skipped as the in-memory index does, the stored normalized forms of the students
sharing the most keys scored without re-normalizing, and the identity columns read
only for the hits returned). Run on the store's writer thread like every other
database access; the schema is `node.store.database`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlite_utils import Database

from node.errors import NotFound
from node.matching.index import (
    MAX_POSTING,
    MAX_SCORED,
    Hit,
    TermFrequencies,
    norm_lookup_keys,
    score_norms,
)
from node.matching.normalize import Norm, norm_from_text, normalize
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


def _identity_rows(db: Database, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    cols = ", ".join(f'"{c}"' for c in IDENTITY_COLUMNS)
    out: dict[int, dict[str, Any]] = {}
    for chunk in chunks(list(ids)):
        for row in db.conn.execute(
                f"SELECT id, {cols} FROM students WHERE id IN ({placeholders(len(chunk))})",  # noqa: S608
                list(chunk)):
            out[row[0]] = _clean("students", dict(zip(IDENTITY_COLUMNS, row[1:], strict=True)))
    return out


def candidate_ids(db: Database, keys: Sequence[str], limit: int = MAX_SCORED,
                  max_posting: int = MAX_POSTING) -> list[int]:
    """Ids of the students sharing the most of `keys`, most first, at most `limit`.

    A key held by more than `max_posting` students is skipped (not selective), unless
    every key is: then only the shortest such list is read, as MatchIndex does.
    """
    conn = db.conn
    selective: list[str] = []
    longest: list[str] = []
    for key in dict.fromkeys(keys):
        # Past the first max_posting entries of the index, in SQLite's C loop.
        too_long = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM match_keys WHERE key = ? LIMIT 1 OFFSET ?)",
            (key, max_posting)).fetchone()[0]
        (longest if too_long else selective).append(key)
    if not selective and longest:
        sizes = [(conn.execute("SELECT count(*) FROM match_keys WHERE key = ?",
                               (k,)).fetchone()[0], k) for k in longest]
        selective = [min(sizes)[1]]
    if not selective:
        return []
    rows = conn.execute(
        f"SELECT student_id FROM match_keys WHERE key IN ({placeholders(len(selective))}) "  # noqa: S608
        "GROUP BY student_id ORDER BY count(*) DESC, student_id LIMIT ?",
        [*selective, limit]).fetchall()
    return [r[0] for r in rows]


def stored_norms(db: Database, ids: Sequence[int]) -> list[tuple[int, Norm]]:
    """(id, stored normalized form) of students, normalizing only a row without one."""
    out: list[tuple[int, Norm]] = []
    missing: list[int] = []
    for chunk in chunks(list(ids)):
        for sid, text in db.conn.execute(
                f"SELECT id, match_norm FROM students WHERE id IN ({placeholders(len(chunk))})",  # noqa: S608
                list(chunk)):
            try:
                out.append((sid, norm_from_text(text)))
            except (ValueError, AttributeError):  # none stored yet, or another version
                missing.append(sid)
    for sid, row in _identity_rows(db, missing).items():
        out.append((sid, normalize(row)))
    return out


def match_candidates(db: Database, query: Mapping[str, Any], limit: int,
                     tf: TermFrequencies | None = None,
                     pool: int = MAX_SCORED) -> list[tuple[Hit, dict[str, Any]]]:
    """The best `limit` stored students for a find query, best first, each with its
    identity columns (hit.position indexes nothing here: use the row)."""
    qnorm = normalize(query)
    ids = candidate_ids(db, norm_lookup_keys(qnorm), pool)
    if not ids:
        return []
    found = stored_norms(db, ids)
    hits = score_norms(qnorm, [norm for _sid, norm in found], limit, tf)
    chosen = [found[hit.position][0] for hit in hits]
    rows = _identity_rows(db, chosen)
    return [(hit, rows[sid]) for hit, sid in zip(hits, chosen, strict=True) if sid in rows]
