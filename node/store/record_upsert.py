"""Writing validated students into the record tables (DESIGN.md "Student records").

Owns the upsert of students by `state_student_id` (docs/IMPORT.md): `prepare` turns a
validated `protocol.records.Student` into rows in column order with a content hash, its
candidate keys and its stored normalized form (`students.match_norm`, so a find never
re-normalizes candidates; plain values, so importer workers can marshal them);
`upsert_prepared` writes chunks of them in the caller's open transaction, new ids
assigned here, an unchanged student left alone, a changed one given version + 1 and
fresh child rows, match keys and normalized form. A large import into an empty table
drops the secondary indexes and rebuilds them at the end, in the same transaction.
A source that deletes students or changes their ids (the Ed-Fi pull) uses
`delete_students` and `rename_student`. `rederive_match_forms` recomputes every stored
student's keys and normalized form (the backfill of a migration after the matching code
changed them). The schema is
`node.store.database`'s.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from node.matching.index import blocking_keys, candidate_keys, norm_keys
from node.matching.normalize import norm_to_text, normalize
from node.store.sql import chunks, now_iso, placeholders
from protocol.record_fields import COLUMNS
from protocol.records import Student

KeysFn = Callable[[Mapping[str, Any]], list[str]]

STUDENT_COLS = tuple(c for c in COLUMNS["students"] if c != "record_version")
CHILD_COLS = {t: COLUMNS[t] for t in ("qualifying_moves", "enrollments", "courses",
                                      "assessments")}


@dataclass(frozen=True)
class UpsertResult:
    inserted: int
    updated: int
    unchanged: int


# One validated student ready for the tables: (state_student_id, student row, moves,
# [(enrollment row, [course rows])], assessments, row hash, candidate keys, normalized
# form). Plain tuples, lists and scalars only, so the importer's worker processes can
# marshal it cheaply.
Prepared = tuple[str, tuple[Any, ...], list[tuple[Any, ...]],
                 list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]], list[tuple[Any, ...]],
                 str, list[str], str]

_MOVE_COLS = CHILD_COLS["qualifying_moves"]
_ENR_COLS = CHILD_COLS["enrollments"]
_COURSE_COLS = CHILD_COLS["courses"]
_TEST_COLS = CHILD_COLS["assessments"]
BULK_MIN = 20_000  # students in an import into an empty table before indexes are rebuilt
_BULK_CACHE_KIB = 262_144  # page cache during a bulk write (PRAGMA cache_size=-KiB)


def prepare(student: Student, keys_fn: KeysFn | None) -> Prepared:
    """Rows of one student in column order, plus its content hash, candidate keys and
    stored normalized form (normalized once for both)."""
    data = student.data
    get = data.get
    srow = tuple(map(get, STUDENT_COLS))
    moves = [tuple(map(m.get, _MOVE_COLS)) for m in get("qualifying_moves", ())]
    enrs = [(tuple(map(e.get, _ENR_COLS)), [tuple(map(x.get, _COURSE_COLS))
                                            for x in e.get("courses", ())])
            for e in get("enrollments", ())]
    tests = [tuple(map(a.get, _TEST_COLS)) for a in get("assessments", ())]
    digest = hashlib.blake2b(repr((srow, moves, enrs, tests)).encode(), digest_size=16)
    norm = normalize(data)
    if keys_fn is None:
        keys: list[str] = []
    elif keys_fn is blocking_keys or keys_fn is candidate_keys:
        keys = norm_keys(norm)
    else:
        keys = keys_fn(data)
    return (student.state_student_id, srow, moves, enrs, tests, digest.hexdigest(), keys,
            norm_to_text(norm))


def default_keys() -> KeysFn:
    """The candidate keys of node.matching (what match_keys holds)."""
    return candidate_keys


def upsert_students(db: Database, students: Iterable[Student], *,
                    keys_fn: KeysFn | None = None) -> UpsertResult:
    """Insert or update students by state_student_id; run inside a transaction.

    Unchanged content keeps its record_version; a changed student gets version + 1 and
    its child rows and match keys are replaced. Of duplicate ids the last one wins.
    """
    latest: dict[str, Student] = {s.state_student_id: s for s in students}
    prepared = [prepare(s, keys_fn) for s in latest.values()]
    return upsert_prepared(db, chunks(prepared, 2000), expected=len(prepared))


def upsert_prepared(db: Database, chunks: Iterable[Sequence[Prepared]], *,
                    expected: int = 0) -> UpsertResult:
    """Upsert chunks of prepared students (each id at most once overall) in the open
    transaction, writing each chunk as it arrives.

    When at least BULK_MIN students are `expected` and the students table is empty, the
    secondary indexes of the record tables are dropped first and rebuilt at the end, in
    the same transaction, with a larger page cache.
    """
    writer = _Writer(db)
    conn = db.conn
    bulk = expected >= BULK_MIN and writer.next_id == 1 and conn.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM students)").fetchone()[0] == 1
    cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    indexes: list[tuple[str, str]] = []
    try:
        if bulk:
            conn.execute(f"PRAGMA cache_size=-{_BULK_CACHE_KIB}")
            indexes = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN ('qualifying_moves', 'enrollments', 'courses', 'assessments', "
                "'match_keys') ORDER BY name").fetchall()
            for name, _sql in indexes:
                conn.execute(f'DROP INDEX "{name}"')
        for chunk in chunks:
            writer.add(chunk, lookup=not bulk)
        for _name, sql in indexes:
            conn.execute(sql)
    finally:
        if bulk:
            conn.execute(f"PRAGMA cache_size={int(cache)}")
    return UpsertResult(writer.inserted, writer.updated, writer.unchanged)


class _Writer:
    """Assigns ids and writes chunks of prepared students (one upsert_prepared call)."""

    def __init__(self, db: Database) -> None:
        self.conn = db.conn
        self.next_id: int = self.conn.execute(
            "SELECT coalesce(max(id), 0) + 1 FROM students").fetchone()[0]
        self.next_enr: int = self.conn.execute(
            "SELECT coalesce(max(id), 0) + 1 FROM enrollments").fetchone()[0]
        self.stamp = now_iso()
        self.inserted = self.updated = self.unchanged = 0
        scols = ", ".join(f'"{c}"' for c in STUDENT_COLS)
        self.insert_sql = (f"INSERT INTO students (id, record_version, row_hash, updated_at, "  # noqa: S608
                           f"match_norm, {scols}) VALUES ({placeholders(5 + len(STUDENT_COLS))})")
        sets = ", ".join(f'"{c}" = ?' for c in ("record_version", "row_hash", "updated_at",
                                                 "match_norm", *STUDENT_COLS))
        self.update_sql = f"UPDATE students SET {sets} WHERE id = ?"  # noqa: S608

    def _existing(self, items: Sequence[Prepared]) -> dict[str, tuple[int, int, str]]:
        existing: dict[str, tuple[int, int, str]] = {}
        for chunk in chunks([p[0] for p in items]):
            for row in self.conn.execute(
                    "SELECT state_student_id, id, record_version, row_hash FROM students "  # noqa: S608
                    f"WHERE state_student_id IN ({placeholders(len(chunk))})", chunk):
                existing[row[0]] = (row[1], row[2], row[3])
        return existing

    def add(self, items: Sequence[Prepared], *, lookup: bool = True) -> None:
        existing = self._existing(items) if lookup else {}
        stamp, next_id, next_enr = self.stamp, self.next_id, self.next_enr
        new_rows: list[tuple[Any, ...]] = []
        changed_rows: list[tuple[Any, ...]] = []
        gone: list[int] = []
        moves_rows: list[tuple[Any, ...]] = []
        enr_rows: list[tuple[Any, ...]] = []
        course_rows: list[tuple[Any, ...]] = []
        test_rows: list[tuple[Any, ...]] = []
        key_rows: list[tuple[Any, ...]] = []
        for sid, srow, moves, enrs, tests, digest, keys, norm in items:
            old = existing.get(sid)
            if old is None:
                self.inserted += 1
                student_id = next_id
                next_id += 1
                new_rows.append((student_id, 1, digest, stamp, norm, *srow))
            elif old[2] == digest:
                self.unchanged += 1
                continue
            else:
                self.updated += 1
                student_id = old[0]
                gone.append(student_id)
                changed_rows.append((old[1] + 1, digest, stamp, norm, *srow, student_id))
            moves_rows.extend([(student_id, i, *m) for i, m in enumerate(moves)])
            test_rows.extend([(student_id, i, *t) for i, t in enumerate(tests)])
            key_rows.extend([(student_id, k) for k in keys])
            for i, (erow, courses) in enumerate(enrs):
                enr_rows.append((next_enr, student_id, i, *erow))
                course_rows.extend([(next_enr, j, *c) for j, c in enumerate(courses)])
                next_enr += 1
        self.next_id, self.next_enr = next_id, next_enr
        conn = self.conn
        for ids in chunks(gone):
            marks = placeholders(len(ids))
            for table in ("qualifying_moves", "enrollments", "assessments", "match_keys"):
                conn.execute(f"DELETE FROM {table} WHERE student_id IN ({marks})", ids)  # noqa: S608
        if changed_rows:
            conn.executemany(self.update_sql, changed_rows)
        conn.executemany(self.insert_sql, new_rows)
        _insert(conn, "qualifying_moves", ("student_id", "seq"), moves_rows)
        _insert(conn, "enrollments", ("id", "student_id", "seq"), enr_rows)
        _insert(conn, "courses", ("enrollment_row", "seq"), course_rows)
        _insert(conn, "assessments", ("student_id", "seq"), test_rows)
        conn.executemany("INSERT INTO match_keys (student_id, key) VALUES (?, ?)", key_rows)


def _insert(conn: sqlite3.Connection, table: str, lead: tuple[str, ...],
            rows: list[tuple[Any, ...]]) -> None:
    cols = ", ".join(f'"{c}"' for c in (*lead, *CHILD_COLS[table]))
    conn.executemany(f"INSERT INTO {table} ({cols}) "  # noqa: S608
                     f"VALUES ({placeholders(len(lead) + len(CHILD_COLS[table]))})", rows)


def delete_students(db: Database, sids: Iterable[str]) -> int:
    """Delete students (their child rows and keys go with them, ON DELETE CASCADE) in the
    open transaction; return how many there were."""
    gone = 0
    for chunk in chunks(sorted(set(sids))):
        cur = db.conn.execute(
            f"DELETE FROM students WHERE state_student_id IN ({placeholders(len(chunk))})",  # noqa: S608
            chunk)
        gone += cur.rowcount
    return gone


def rename_student(db: Database, old: str, new: str) -> bool:
    """Give the student `old` the id `new` (its record, version and history kept; record
    handles given to peers follow), in the open transaction. False if there is no `old`
    or `new` is taken."""
    conn = db.conn
    taken = conn.execute("SELECT 1 FROM students WHERE state_student_id = ?", [new]).fetchone()
    if taken is not None:
        return False
    cur = conn.execute("UPDATE students SET state_student_id = ? WHERE state_student_id = ?",
                       [new, old])
    if cur.rowcount and conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                     "name = 'record_handles'").fetchone():
        conn.execute("UPDATE record_handles SET state_student_id = ? WHERE state_student_id = ?",
                     [new, old])
    return bool(cur.rowcount)


def rederive_match_forms(db: Database, *, chunk: int = 5000) -> int:
    """Recompute every stored student's candidate keys and normalized form from its
    identity columns (run in the caller's transaction); returns the students done.

    The backfill of a migration after node.matching changed its keys or its normalized
    form: match_keys is emptied and refilled (its indexes dropped meanwhile and rebuilt).
    """
    conn = db.conn
    cols = [c for c in STUDENT_COLS if c in _IDENTITY]
    select = ", ".join(f'"{c}"' for c in cols)
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name = 'match_keys' ORDER BY name").fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.execute("DELETE FROM match_keys")
    done, last = 0, 0
    while True:
        rows = conn.execute(f"SELECT id, {select} FROM students WHERE id > ? "  # noqa: S608
                            "ORDER BY id LIMIT ?", (last, chunk)).fetchall()
        if not rows:
            break
        forms: list[tuple[str, int]] = []
        keys: list[tuple[int, str]] = []
        for row in rows:
            norm = normalize(dict(zip(cols, row[1:], strict=True)))
            forms.append((norm_to_text(norm), row[0]))
            keys.extend((row[0], k) for k in norm_keys(norm))
        conn.executemany("UPDATE students SET match_norm = ? WHERE id = ?", forms)
        conn.executemany("INSERT INTO match_keys (student_id, key) VALUES (?, ?)", keys)
        done += len(rows)
        last = rows[-1][0]
    for _name, sql in indexes:
        conn.execute(sql)
    return done


#: The student columns matching reads (normalize's fields).
_IDENTITY = frozenset({
    "state_student_id", "first_name", "middle_name", "last_name_1", "last_name_2", "sex",
    "birth_date", "birth_city", "birth_state", "birth_country", "multiple_birth",
    "male_parent_first_name", "male_parent_last_name", "female_parent_first_name",
    "female_parent_last_name"})
