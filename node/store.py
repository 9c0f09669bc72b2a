"""The node's SQLite store of student records (sqlite-utils 4 with its Migrations).

Owns the schema of the record tables (DESIGN.md "Student records", MSIX.md §4: students,
qualifying_moves, enrollments, courses, assessments, with ON DELETE CASCADE), the import
bookkeeping (import_runs, import_rejects) and the blocking keys kept in step with every
stored student (match_keys, DESIGN.md "Identity matching"). Connection rules follow
DEPENDENCIES.md §3: WAL, foreign_keys=ON per connection, synchronous=FULL (a move notice
acknowledged with a signed receipt must survive a power cut; NORMAL can be asked for by
bulk tools), a busy timeout, every write of one operation in one
`db.atomic()` transaction. There is a single writer: every operation runs on one
dedicated thread, so the aiohttp loop never blocks and never sees two writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database, Migrations

from node.errors import NotFound, StorageError
from protocol.records import CHILD_LISTS, COLUMNS, TABLE_SPECS, Student

T = TypeVar("T")
KeysFn = Callable[[Mapping[str, Any]], list[str]]

STUDENT_COLS = tuple(c for c in COLUMNS["students"] if c != "record_version")
CHILD_COLS = {t: COLUMNS[t] for t in ("qualifying_moves", "enrollments", "courses",
                                      "assessments")}
_SQL_TYPES = {"bool": "INTEGER", "int": "INTEGER", "credits": "REAL"}
_CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit

migrations = Migrations("statenode")


def _columns(table: str, skip: Iterable[str] = ()) -> str:
    spec = TABLE_SPECS[table]
    return ",\n".join(f'  "{name}" {_SQL_TYPES.get(kind, "TEXT")}'
                      for name, (kind, _arg) in spec.items() if name not in skip)


@migrations()
def m001_records(db: Database) -> None:
    skip = ("state_student_id", "owner_state", "record_version")
    db.execute(f"""CREATE TABLE students (
  id INTEGER PRIMARY KEY,
  state_student_id TEXT NOT NULL UNIQUE,
  owner_state TEXT NOT NULL,
  record_version INTEGER NOT NULL,
  row_hash TEXT NOT NULL,
  updated_at TEXT NOT NULL,
{_columns("students", skip)})""")
    for table in ("qualifying_moves", "assessments"):
        db.execute(f"""CREATE TABLE {table} (
  id INTEGER PRIMARY KEY,
  student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
{_columns(table)})""")
        db.execute(f"CREATE INDEX idx_{table}_student ON {table}(student_id)")
    db.execute(f"""CREATE TABLE enrollments (
  id INTEGER PRIMARY KEY,
  student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
{_columns("enrollments")},
  UNIQUE (student_id, enrollment_id))""")
    db.execute(f"""CREATE TABLE courses (
  id INTEGER PRIMARY KEY,
  enrollment_row INTEGER NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
{_columns("courses")})""")
    db.execute("CREATE INDEX idx_courses_enrollment ON courses(enrollment_row)")
    db.execute("""CREATE TABLE match_keys (
  student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
  key TEXT NOT NULL)""")
    db.execute("CREATE INDEX idx_match_keys_key ON match_keys(key)")
    db.execute("CREATE INDEX idx_match_keys_student ON match_keys(student_id)")


@migrations()
def m002_imports(db: Database) -> None:
    db.execute("""CREATE TABLE import_runs (
  id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
  files TEXT NOT NULL, students INTEGER NOT NULL, inserted INTEGER NOT NULL,
  updated INTEGER NOT NULL, unchanged INTEGER NOT NULL, rejected INTEGER NOT NULL)""")
    db.execute("""CREATE TABLE import_rejects (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES import_runs(id) ON DELETE CASCADE,
  file TEXT NOT NULL, line INTEGER NOT NULL, field TEXT NOT NULL, reason TEXT NOT NULL)""")


@migrations()
def m003_covering_match_keys(db: Database) -> None:
    """Blocking lookups read (key, student_id) from the index alone."""
    db.execute("CREATE INDEX idx_match_keys_key_student ON match_keys(key, student_id)")
    db.execute("DROP INDEX IF EXISTS idx_match_keys_key")


@dataclass(frozen=True)
class UpsertResult:
    inserted: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class Reject:
    """One rejected field of one input row (never holds the row's data)."""

    file: str
    line: int
    field: str
    reason: str


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _storage_error(exc: sqlite3.Error, path: str) -> StorageError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StorageError(f"the database {path} is locked by another writer; nothing was saved")
    if "readonly" in text or "read-only" in text or ("unable to open" in text and not (
            os.access(path, os.W_OK) and os.access(os.path.dirname(path) or ".", os.W_OK))):
        return StorageError(f"the database {path} (or its folder) is read-only; "
                            "nothing was saved")
    if "full" in text:
        return StorageError(f"the disk holding the database {path} is full; nothing was saved")
    return StorageError(f"the database {path} failed ({exc}); nothing was saved")


# One validated student ready for the tables: (state_student_id, student row, moves,
# [(enrollment row, [course rows])], assessments, row hash, blocking keys). Plain tuples,
# lists and scalars only, so the importer's worker processes can marshal it cheaply.
Prepared = tuple[str, tuple[Any, ...], list[tuple[Any, ...]],
                 list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]], list[tuple[Any, ...]],
                 str, list[str]]

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
    keys = keys_fn(data) if keys_fn is not None else []
    return student.state_student_id, srow, moves, enrs, tests, digest.hexdigest(), keys


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _default_keys() -> KeysFn | None:
    try:
        from node.matching import blocking_keys
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
    return upsert_prepared(db, _chunks(prepared, 2000), expected=len(prepared))


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
                           f"{scols}) VALUES ({_placeholders(4 + len(STUDENT_COLS))})")
        sets = ", ".join(f'"{c}" = ?' for c in ("record_version", "row_hash", "updated_at",
                                                 *STUDENT_COLS))
        self.update_sql = f"UPDATE students SET {sets} WHERE id = ?"  # noqa: S608

    def _existing(self, items: Sequence[Prepared]) -> dict[str, tuple[int, int, str]]:
        existing: dict[str, tuple[int, int, str]] = {}
        for chunk in _chunks([p[0] for p in items]):
            for row in self.conn.execute(
                    "SELECT state_student_id, id, record_version, row_hash FROM students "  # noqa: S608
                    f"WHERE state_student_id IN ({_placeholders(len(chunk))})", chunk):
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
        for sid, srow, moves, enrs, tests, digest, keys in items:
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
            for i, (erow, courses) in enumerate(enrs):
                enr_rows.append((next_enr, student_id, i, *erow))
                course_rows.extend([(next_enr, j, *c) for j, c in enumerate(courses)])
                next_enr += 1
        self.next_id, self.next_enr = next_id, next_enr
        conn = self.conn
        for ids in _chunks(gone):
            marks = _placeholders(len(ids))
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
                     f"VALUES ({_placeholders(len(lead) + len(CHILD_COLS[table]))})", rows)


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
        f"({_placeholders(len(keys))}) GROUP BY student_id ORDER BY hits DESC, student_id "
        f"LIMIT ?", [*keys, limit]).fetchall()
    hits = dict(rows)
    out = []
    cols = ", ".join(f'"{c}"' for c in IDENTITY_COLUMNS)
    for chunk in _chunks(list(hits)):
        cursor = db.conn.execute(
            f"SELECT id, {cols} FROM students WHERE id IN ({_placeholders(len(chunk))})",  # noqa: S608
            list(chunk))
        for row in cursor:
            item = _clean("students", dict(zip(IDENTITY_COLUMNS, row[1:], strict=True)))
            item["key_hits"] = hits[row[0]]
            out.append(item)
    out.sort(key=lambda r: -int(r["key_hits"]))
    return out


class Store:
    """The node's database; every operation runs on one writer thread."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL",
                 busy_timeout_ms: int = 5000) -> None:
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self.db: Database = self._call(self._open, synchronous, busy_timeout_ms)

    def _open(self, synchronous: str, busy_timeout_ms: int) -> Database:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous level {synchronous}")
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False,
                                   timeout=busy_timeout_ms / 1000)
            db = Database(conn)
            db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            db.enable_wal()
            db.execute("PRAGMA foreign_keys=ON")
            db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            migrations.apply(db)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise _storage_error(exc, self.path) from exc
        return db

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return self._executor.submit(fn, *args).result()

    def _guarded(self, fn: Callable[..., T], db: Database, *args: Any) -> T:
        try:
            with db.atomic():
                return fn(db, *args)
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc

    # ---- the single writer -----------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(self.db, *args)` in one transaction on the writer thread.

        sqlite3 errors become StorageError and roll the whole operation back.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self._guarded, fn, self.db, *args))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Synchronous `run`, for the CLI (never call it from the writer thread itself)."""
        return self._call(self._guarded, fn, self.db, *args)

    def set_synchronous(self, level: str) -> None:
        """Hook for writers that need FULL durability (the audit log)."""
        if level.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous level {level}")
        self._call(lambda: self.db.execute(f"PRAGMA synchronous={level.upper()}"))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self.db.close)
        self._executor.shutdown(wait=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- record operations (sync) -----------------------------------------------------
    def upsert_students(self, students: Iterable[Student], *,
                        keys_fn: KeysFn | None = None) -> UpsertResult:
        """All students in ONE transaction; a failure leaves the database as it was."""
        fn = keys_fn or _default_keys()

        return self.call(functools.partial(upsert_students, students=students, keys_fn=fn))

    def get_student(self, state_student_id: str) -> dict[str, Any]:
        return self.call(read_student, state_student_id)

    def candidates_by_keys(self, keys: Sequence[str], limit: int = 50) -> list[dict[str, Any]]:
        return self.call(candidates, list(keys), limit)

    def count(self, table: str) -> int:
        if table not in (*CHILD_LISTS, "students", "courses", "match_keys", "import_runs",
                         "import_rejects"):
            raise ValueError(f"unknown table {table}")
        return self.call(lambda db: int(db.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
                                        .fetchone()[0]))
