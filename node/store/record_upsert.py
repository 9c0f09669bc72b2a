"""Writing validated students into the record tables (DESIGN.md "Student records").

Owns the upsert of students by `state_student_id` (docs/IMPORT.md): `prepare` turns a
validated `protocol.records.Student` into rows in column order with a content hash and
its blocking keys (plain values, so importer workers can marshal them); `upsert_prepared`
writes chunks of them in the caller's open transaction, new ids assigned here, an
unchanged student left alone, a changed one given version + 1 and fresh child rows and
match keys. A large import into an empty table drops the secondary indexes and rebuilds
them at the end, in the same transaction. The schema is `node.store.database`'s.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

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
# [(enrollment row, [course rows])], assessments, row hash, blocking keys, the packed
# normalized identity or None). Plain tuples, lists, bytes and scalars only, so the
# importer's worker processes can marshal it cheaply.
Prepared = tuple[str, tuple[Any, ...], list[tuple[Any, ...]],
                 list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]], list[tuple[Any, ...]],
                 str, list[str], bytes | None]

_MOVE_COLS = CHILD_COLS["qualifying_moves"]
_ENR_COLS = CHILD_COLS["enrollments"]
_COURSE_COLS = CHILD_COLS["courses"]
_TEST_COLS = CHILD_COLS["assessments"]
BULK_MIN = 20_000  # students in an import into an empty table before indexes are rebuilt
_BULK_CACHE_KIB = 262_144  # page cache during a bulk write (PRAGMA cache_size=-KiB)


def prepare(student: Student, keys_fn: KeysFn | None) -> Prepared:
    """Rows of one student in column order, plus its content hash and blocking keys."""
    data = student.data
    get = data.get
    srow = tuple(map(get, STUDENT_COLS))
    moves = [tuple(map(m.get, _MOVE_COLS)) for m in get("qualifying_moves", ())]
    enrs = [(tuple(map(e.get, _ENR_COLS)), [tuple(map(x.get, _COURSE_COLS))
                                            for x in e.get("courses", ())])
            for e in get("enrollments", ())]
    tests = [tuple(map(a.get, _TEST_COLS)) for a in get("assessments", ())]
    digest = hashlib.blake2b(repr((srow, moves, enrs, tests)).encode(), digest_size=16)
    norm: bytes | None = None
    if keys_fn is None:
        keys: list[str] = []
    elif keys_fn is _blocking_keys():  # the default: keys and norm from one normalization
        keys, norm = _match_data()(data)
    else:
        keys = keys_fn(data)
    return student.state_student_id, srow, moves, enrs, tests, digest.hexdigest(), keys, norm


def _blocking_keys() -> KeysFn:
    from node.matching.index import blocking_keys
    return blocking_keys


def _match_data() -> Callable[[Mapping[str, Any]], tuple[list[str], bytes]]:
    from node.matching.index import match_data
    return match_data


def default_keys() -> KeysFn | None:
    try:
        from node.matching.index import blocking_keys
    except ImportError:  # matching not installed yet: keys are added on the next write
        return None
    return blocking_keys


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
                           f"{scols}) VALUES ({placeholders(4 + len(STUDENT_COLS))})")
        sets = ", ".join(f'"{c}" = ?' for c in ("record_version", "row_hash", "updated_at",
                                                 *STUDENT_COLS))
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
        norm_rows: list[tuple[Any, ...]] = []
        for sid, srow, moves, enrs, tests, digest, keys, norm in items:
            old = existing.get(sid)
            if old is None:
                self.inserted += 1
                student_id = next_id
                next_id += 1
                new_rows.append((student_id, 1, digest, stamp, *srow))
            elif old[2] == digest:
                self.unchanged += 1
                continue
            else:
                self.updated += 1
                student_id = old[0]
                gone.append(student_id)
                changed_rows.append((old[1] + 1, digest, stamp, *srow, student_id))
            moves_rows.extend([(student_id, i, *m) for i, m in enumerate(moves)])
            test_rows.extend([(student_id, i, *t) for i, t in enumerate(tests)])
            key_rows.extend([(student_id, k) for k in keys])
            if norm is not None:
                norm_rows.append((student_id, norm))
            for i, (erow, courses) in enumerate(enrs):
                enr_rows.append((next_enr, student_id, i, *erow))
                course_rows.extend([(next_enr, j, *c) for j, c in enumerate(courses)])
                next_enr += 1
        self.next_id, self.next_enr = next_id, next_enr
        conn = self.conn
        for ids in chunks(gone):
            marks = placeholders(len(ids))
            for table in ("qualifying_moves", "enrollments", "assessments", "match_keys",
                          "match_norms"):
                conn.execute(f"DELETE FROM {table} WHERE student_id IN ({marks})", ids)  # noqa: S608
        if changed_rows:
            conn.executemany(self.update_sql, changed_rows)
        conn.executemany(self.insert_sql, new_rows)
        _insert(conn, "qualifying_moves", ("student_id", "seq"), moves_rows)
        _insert(conn, "enrollments", ("id", "student_id", "seq"), enr_rows)
        _insert(conn, "courses", ("enrollment_row", "seq"), course_rows)
        _insert(conn, "assessments", ("student_id", "seq"), test_rows)
        conn.executemany("INSERT INTO match_keys (student_id, key) VALUES (?, ?)", key_rows)
        conn.executemany("INSERT INTO match_norms (student_id, norm) VALUES (?, ?)", norm_rows)


def _insert(conn: sqlite3.Connection, table: str, lead: tuple[str, ...],
            rows: list[tuple[Any, ...]]) -> None:
    cols = ", ".join(f'"{c}"' for c in (*lead, *CHILD_COLS[table]))
    conn.executemany(f"INSERT INTO {table} ({cols}) "  # noqa: S608
                     f"VALUES ({placeholders(len(lead) + len(CHILD_COLS[table]))})", rows)
