"""The node's SQLite store of student records (sqlite-utils 4 with its Migrations).

Owns the connection and its single writer thread, and the schema of the record tables
(DESIGN.md "Student records", MSIX.md §4: students, qualifying_moves, enrollments,
courses, assessments, with ON DELETE CASCADE), the import bookkeeping (import_runs,
import_rejects, edfi_change_versions: the change version of the last Ed-Fi ODS/API pull)
and the candidate keys and normalized form kept in step with every stored
student (match_keys, students.match_norm; DESIGN.md "Identity matching"), re-derived by
a migration when node.matching changes them. Connection rules follow DEPENDENCIES.md §3:
WAL, foreign_keys=ON per connection, synchronous=FULL (a move notice acknowledged with a
signed receipt must survive a power cut; NORMAL can be asked for by bulk tools), a busy
timeout, every write of one operation in one `db.atomic()` transaction. There is a
single writer: every operation runs on one dedicated thread, so the aiohttp loop never
blocks and never sees two writers. Writing students is `node.store.record_upsert`'s, reading
them back `node.store.record_reads`'.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database, Migrations

from node.errors import StorageError
from node.file_modes import create_private
from node.store.record_reads import candidates, read_student
from node.store.record_upsert import (
    KeysFn,
    UpsertResult,
    default_keys,
    rederive_match_forms,
    upsert_students,
)
from node.store.sql import now_iso
from protocol.record_fields import TABLE_SPECS
from protocol.records import CHILD_LISTS, Student

T = TypeVar("T")

_SQL_TYPES = {"bool": "INTEGER", "int": "INTEGER", "credits": "REAL"}

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


@migrations()
def m004_edfi_change_versions(db: Database) -> None:
    """The Ed-Fi ODS/API pull: per API, the change version of the last successful pull
    (node.importing.edfi_pull); a pull never advances it unless its writes committed."""
    db.execute("""CREATE TABLE edfi_change_versions (
  source TEXT PRIMARY KEY,
  change_version INTEGER NOT NULL,
  pulled_at TEXT NOT NULL,
  run_id INTEGER REFERENCES import_runs(id))""")


def last_change_version(db: Database, source: str) -> int | None:
    row = db.execute("SELECT change_version FROM edfi_change_versions WHERE source = ?",
                     [source]).fetchone()
    return None if row is None else int(row[0])


def save_change_version(db: Database, source: str, version: int, run_id: int) -> None:
    db.execute("INSERT INTO edfi_change_versions (source, change_version, pulled_at, run_id) "
               "VALUES (?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
               "change_version = excluded.change_version, pulled_at = excluded.pulled_at, "
               "run_id = excluded.run_id", [source, version, now_iso(), run_id])


@migrations()
def m005_match_forms(db: Database) -> None:
    """Issue 13: each student's stored normalized form (`match_norm`, read by a find
    instead of re-normalizing candidates) and the typo-tolerant candidate keys of
    node.matching KEYS_VERSION 2; backfilled here for every stored student (about a
    minute per million students, once, when the node or an import first opens the
    database)."""
    db.execute("ALTER TABLE students ADD COLUMN match_norm TEXT")
    rederive_match_forms(db)


def pending_migrations(db: Database) -> list[str]:
    """Names of this room's record-table migrations not yet applied (read-only)."""
    return [m.name for m in migrations.pending(db)]


@dataclass(frozen=True)
class Reject:
    """One rejected field of one input row (never holds the row's data)."""

    file: str
    line: int
    field: str
    reason: str


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


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """One transaction that takes SQLite's write lock when it starts (BEGIN IMMEDIATE).

    With a plain (deferred) BEGIN, a transaction that reads and then writes fails at
    once, without waiting out the busy timeout, when another process (`statenode
    import` next to the running node) wrote in between; taking the lock first makes it
    wait instead. Inside an open transaction it is a savepoint (sqlite-utils' atomic).
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    try:
        db.conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:  # a read-only database: reads still work
        if "readonly" not in str(exc).replace("-", "").replace(" ", "").lower():
            raise
        db.conn.execute("BEGIN")
    try:
        yield db
    except BaseException:
        db.conn.rollback()  # a no-op if an error already ended the transaction
        raise
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        db.conn.rollback()
        raise


class Store:
    """The node's database; every operation runs on one writer thread."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL",
                 busy_timeout_ms: int = 5000) -> None:
        self.path = str(path)
        self.synchronous = synchronous.upper()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self.db: Database = self._call(self._open, synchronous, busy_timeout_ms)

    def _open(self, synchronous: str, busy_timeout_ms: int) -> Database:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous level {synchronous}")
        conn: sqlite3.Connection | None = None
        with contextlib.suppress(OSError):  # 0600 before SQLite opens it: -wal/-shm follow
            create_private(self.path)
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
            with write_transaction(db):
                return fn(db, *args)
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc

    def _guarded_soft(self, fn: Callable[..., T], db: Database, *args: Any) -> T:
        """`_guarded` with a commit that does not wait for the disk (synchronous=NORMAL in
        WAL mode: the transaction survives a crash of the process, not a power cut)."""
        if self.synchronous in ("OFF", "NORMAL"):
            return self._guarded(fn, db, *args)
        db.conn.execute("PRAGMA synchronous=NORMAL")
        try:
            return self._guarded(fn, db, *args)
        finally:
            db.conn.execute(f"PRAGMA synchronous={self.synchronous}")

    # ---- the single writer -----------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any, durable: bool = True) -> T:
        """Run `fn(self.db, *args)` in one transaction on the writer thread.

        sqlite3 errors become StorageError and roll the whole operation back. With
        `durable=False` the commit does not wait for the disk (for writes that can be made
        again: a find's record handles, whose exchange is in the durable exchange log).
        """
        loop = asyncio.get_running_loop()
        guarded = self._guarded if durable else self._guarded_soft
        return await loop.run_in_executor(
            self._executor, functools.partial(guarded, fn, self.db, *args))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Synchronous `run`, for the CLI (never call it from the writer thread itself)."""
        result: T = self._call(self._guarded, fn, self.db, *args)
        return result

    def set_synchronous(self, level: str) -> None:
        """Hook for writers that need FULL durability (the audit log)."""
        if level.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous level {level}")
        self.synchronous = level.upper()
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
        fn = keys_fn or default_keys()

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
