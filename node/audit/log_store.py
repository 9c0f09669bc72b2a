"""The exchange log's storage: an RFC 9162 Merkle tree in its own SQLite file.

Spec: DESIGN.md "Audit log"; RFC 9162 §2.1 (leaf and node hashes, inclusion and
consistency proofs). Owns the SQLite schema and its migrations (`leaves` with the leaf
bytes plus indexed fields for queries, `leaf_students` for per-student disclosure history,
`nodes` with every complete subtree hash so proofs and roots cost O(log n) reads, and the
`checkpoints`, `witnessed` and `witness_alerts` tables that node/audit/exchange_log.py fills;
m002 keys checkpoints and witnessed logs by origin, backfilled from the notes),
the writer thread, group-commit appends, and the reads (roots, proofs, entries, history).

Durability: WAL with synchronous=FULL, and every operation runs on one dedicated writer
thread. `append` returns only after the leaf and its tree nodes are committed (one
transaction); appends that arrive while a commit is in progress are written together in
the next transaction (group commit), so one fsync covers many exchanges. On open the leaf
count is checked against the tree; missing tree nodes are recomputed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database, Migrations

from crypto import merkle
from node.errors import NotFound, StorageError
from node.file_modes import create_private, private_dir
from protocol.audit import LogEntry

T = TypeVar("T")
log = logging.getLogger(__name__)
migrations = Migrations("exchange_log")


@migrations()
def m001_log(db: Database) -> None:
    db.execute("""CREATE TABLE leaves (
  idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, time_ms INTEGER NOT NULL,
  direction TEXT NOT NULL, peer TEXT NOT NULL, type TEXT NOT NULL, message_id BLOB NOT NULL,
  reply_to BLOB, purpose TEXT NOT NULL, user_id TEXT, user_role TEXT)""")
    db.execute("CREATE INDEX leaves_message ON leaves (message_id)")
    db.execute("CREATE TABLE leaf_students (student_id TEXT NOT NULL, idx INTEGER NOT NULL, "
               "PRIMARY KEY (student_id, idx)) WITHOUT ROWID")
    db.execute("CREATE TABLE nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, "
               "hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID")
    db.execute("CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL, "
               "note TEXT NOT NULL, signed_ms INTEGER NOT NULL, cosigners TEXT NOT NULL "
               "DEFAULT '')")
    db.execute("CREATE TABLE witnessed (peer TEXT PRIMARY KEY, size INTEGER NOT NULL, "
               "root BLOB NOT NULL, note TEXT NOT NULL, time_ms INTEGER NOT NULL)")
    db.execute("CREATE TABLE witness_alerts (id INTEGER PRIMARY KEY, peer TEXT NOT NULL, "
               "time_ms INTEGER NOT NULL, message TEXT NOT NULL, note TEXT NOT NULL)")


@migrations()
def m002_origins(db: Database) -> None:
    """Checkpoints and witnessed logs keyed by origin (issue 16: origins come from config,
    and a log that changes its origin keeps the checkpoints of the old one). Backfill: the
    origin of every stored checkpoint and witnessed note is the first line of its text
    (the node id, for everything the previous release wrote)."""
    db.execute("CREATE TABLE checkpoints_by_origin (origin TEXT NOT NULL, "
               "size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL, "
               "signed_ms INTEGER NOT NULL, cosigners TEXT NOT NULL DEFAULT '', "
               "PRIMARY KEY (origin, size))")
    db.execute("INSERT INTO checkpoints_by_origin SELECT substr(note, 1, instr(note, "
               "char(10)) - 1), size, root, note, signed_ms, cosigners FROM checkpoints")
    db.execute("DROP TABLE checkpoints")
    db.execute("ALTER TABLE checkpoints_by_origin RENAME TO checkpoints")
    db.execute("CREATE INDEX checkpoints_size ON checkpoints (size)")
    db.execute("CREATE TABLE witnessed_by_origin (origin TEXT PRIMARY KEY, peer TEXT NOT NULL, "
               "size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL, "
               "time_ms INTEGER NOT NULL)")
    db.execute("INSERT INTO witnessed_by_origin SELECT substr(note, 1, instr(note, "
               "char(10)) - 1), peer, size, root, note, time_ms FROM witnessed")
    db.execute("DROP TABLE witnessed")
    db.execute("ALTER TABLE witnessed_by_origin RENAME TO witnessed")


class ExchangeLogStore:
    """The durable Merkle tree of one node's exchange log (see the module docstring);
    `node.audit.exchange_log.ExchangeLog` adds the signed checkpoints on top."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exchange-log")
        self._lock = threading.Lock()
        self._pending: list[tuple[LogEntry, Future[int]]] = []
        self._flush_scheduled = False
        self._size = 0
        self.db: Database = self._call(self._open)

    # --- thread plumbing ----------------------------------------------------------------
    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return self._executor.submit(self._guarded, fn, *args).result()

    def _guarded(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: exchange log cannot be used ({exc})") from exc

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._executor.submit(self._guarded, fn, *args))

    def _open(self) -> Database:
        private_dir(Path(self.path).parent)
        create_private(self.path)  # 0600 before SQLite opens it: its -wal/-shm follow
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10,
                               isolation_level=None)  # explicit BEGIN IMMEDIATE / COMMIT
        db = Database(conn)
        db.execute("PRAGMA busy_timeout=10000")
        db.enable_wal()
        db.execute("PRAGMA synchronous=FULL")
        migrations.apply(db)
        self.db = db
        self._size = self._recover()
        return db

    def _q1(self, sql: str, args: Sequence[Any] = ()) -> Any:
        row = self.db.conn.execute(sql, tuple(args)).fetchone()
        return None if row is None else row[0]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the write lock up front (no upgrade deadlocks)."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _recover(self) -> int:
        """Make the tree match the leaves (they share transactions; this is a safety net)."""
        count = self._q1("SELECT COUNT(*) FROM leaves")
        top = self._q1("SELECT MAX(idx) FROM leaves")
        if count and top != count - 1:
            raise StorageError(f"{self.path}: exchange log has gaps ({count} leaves, highest "
                               f"index {top}); restore it from a backup")
        nodes = self._q1("SELECT COUNT(*) FROM nodes WHERE level = 0")
        if nodes != count:
            log.warning("exchange log %s: tree has %s leaves, table has %s; rebuilding",
                        self.path, nodes, count)
            with self._transaction() as conn:
                conn.execute("DELETE FROM nodes")
                tree = merkle.MemoryTree()
                for (leaf,) in conn.execute("SELECT leaf FROM leaves ORDER BY idx"):
                    tree.append(bytes(leaf))
                rows = [(lv, i, tree.read(lv, i)) for lv in range(tree.size.bit_length() + 1)
                        for i in range(tree.size >> lv)]
                conn.executemany("INSERT INTO nodes VALUES (?, ?, ?)", rows)
        return int(count)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self.db.close)
        self._executor.shutdown(wait=True)

    # --- appends (group commit) ---------------------------------------------------------
    def _submit(self, entry: LogEntry) -> Future[int]:
        fut: Future[int] = Future()
        with self._lock:
            self._pending.append((entry, fut))
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._executor.submit(self._flush)
        return fut

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._flush_scheduled = False
        try:
            first = self._write([e for e, _ in batch])
        except Exception as exc:
            err = exc if not isinstance(exc, sqlite3.Error) else StorageError(
                f"{self.path}: cannot append to the exchange log ({exc})")
            for _, fut in batch:
                fut.set_exception(err)
            return
        for n, (_, fut) in enumerate(batch):
            fut.set_result(first + n)

    def _read_node(self, cache: dict[merkle.Node, bytes]) -> merkle.HashReader:
        def read(level: int, index: int) -> bytes:
            h = cache.get((level, index))
            if h is None:
                h = self._q1("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index))
                if h is None:
                    raise StorageError(f"{self.path}: tree node ({level}, {index}) is missing")
            return bytes(h)
        return read

    def _write(self, entries: Sequence[LogEntry]) -> int:
        first = size = self._size
        cache: dict[merkle.Node, bytes] = {}
        read = self._read_node(cache)
        leaf_rows: list[tuple[Any, ...]] = []
        student_rows: list[tuple[str, int]] = []
        node_rows: list[tuple[int, int, bytes]] = []
        for e in entries:
            leaf = e.to_leaf()
            leaf_rows.append((size, leaf, e.time_ms, e.direction, e.peer, e.type, e.message_id,
                              e.reply_to, e.purpose, e.user_id, e.user_role))
            student_rows.extend((s, size) for s in set(e.student_ids))
            for level, idx, h in merkle.nodes_completed_by_append(size, merkle.leaf_hash(leaf),
                                                                  read):
                cache[(level, idx)] = h
                node_rows.append((level, idx, h))
            size += 1
        with self._transaction() as conn:
            conn.executemany("INSERT INTO leaves VALUES (?,?,?,?,?,?,?,?,?,?,?)", leaf_rows)
            conn.executemany("INSERT INTO leaf_students VALUES (?, ?)", student_rows)
            conn.executemany("INSERT INTO nodes VALUES (?, ?, ?)", node_rows)
        self._size = size
        return first

    def _submit_many(self, entries: Sequence[LogEntry]) -> list[Future[int]]:
        """Queue entries as one consecutive run (they share a commit)."""
        futs: list[Future[int]] = [Future() for _ in entries]
        with self._lock:
            self._pending.extend(zip(entries, futs, strict=True))
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._executor.submit(self._flush)
        return futs

    async def append_many(self, entries: Sequence[LogEntry]) -> list[int]:
        """Append entries in order, durably, in one commit; return their indexes."""
        return [await asyncio.wrap_future(f) for f in self._submit_many(entries)]

    async def append(self, entry: LogEntry) -> int:
        """Append one entry; return its index once it is durable on disk."""
        return await asyncio.wrap_future(self._submit(entry))

    def append_sync(self, entry: LogEntry) -> int:
        """Blocking `append` (tests, CLI); never call it from the writer thread."""
        return self._submit(entry).result()

    # --- reads --------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self._call(lambda: self._size)

    def _reader(self, nodes: Sequence[merkle.Node]) -> merkle.HashReader:
        found: dict[merkle.Node, bytes] = {}
        for level, idx in nodes:
            h = self._q1("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, idx))
            if h is not None:
                found[(level, idx)] = bytes(h)
        return merkle.mapping_reader(found)

    def _check_size(self, size: int) -> None:
        if size > self._size:
            raise NotFound(f"the exchange log has {self._size} entries, not {size}")

    def _root(self, size: int) -> bytes:
        self._check_size(size)
        return merkle.root_hash(size, self._reader(merkle.root_nodes(size)))

    def _inclusion(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        if not 0 <= index < size:
            raise NotFound(f"entry {index} is not in a log of {size} entries")
        return merkle.inclusion_proof(index, size, self._reader(merkle.inclusion_nodes(index,
                                                                                        size)))

    def _consistency(self, old: int, new: int) -> list[bytes]:
        self._check_size(new)
        if not 0 < old <= new:
            raise NotFound(f"no consistency proof from size {old} to size {new}")
        return merkle.consistency_proof(old, new, self._reader(merkle.consistency_nodes(old,
                                                                                         new)))

    def root(self, size: int | None = None) -> bytes:
        return self._call(lambda: self._root(self._size if size is None else size))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return self._call(self._inclusion, index, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return self._call(self._consistency, old_size, new_size)

    def entry(self, index: int) -> LogEntry:
        def get() -> LogEntry:
            leaf = self._q1("SELECT leaf FROM leaves WHERE idx = ?", (index,))
            if leaf is None:
                raise NotFound(f"entry {index} is not in the exchange log")
            return LogEntry.from_leaf(bytes(leaf))
        return self._call(get)

    def recent_inbound(self, since_ms: int) -> list[tuple[str, bytes, int]]:
        """(peer, message id, time) of messages received since `since_ms`: the replay
        cache is rebuilt from these at start, so a restart does not reopen a replay window.
        Reads the newest leaves only (idx is in time order)."""
        def read(db: Database) -> list[tuple[str, bytes, int]]:
            rows = db.execute(
                "SELECT peer, message_id, time_ms FROM leaves WHERE idx >= (SELECT "
                "coalesce(min(idx), 0) FROM leaves WHERE time_ms >= ?) AND direction = 'in'",
                [since_ms]).fetchall()
            return [(r[0], bytes(r[1]), int(r[2])) for r in rows]
        return self._call(read, self.db)

    def discover_probes(self) -> list[dict[str, Any]]:
        """Per peer: the discover messages it sent us (each DISCOVER_ELEMENTS OPRF
        evaluations asked for), how many we refused (an `error` reply), first and last
        time: how an auditor sees a peer probing our filter (issue 14)."""
        def query() -> list[dict[str, Any]]:
            rows = self.db.conn.execute(
                "SELECT d.peer, COUNT(*), SUM(EXISTS (SELECT 1 FROM leaves r WHERE "
                "r.reply_to = d.message_id AND r.direction = 'out' AND r.type = 'error')), "
                "MIN(d.time_ms), MAX(d.time_ms) FROM leaves d WHERE d.type = 'discover' AND "
                "d.direction = 'in' GROUP BY d.peer ORDER BY d.peer").fetchall()
            keys = ("peer", "discovers", "refused", "first_ms", "last_ms")
            return [dict(zip(keys, r, strict=True)) for r in rows]
        return self._call(query)

    def history(self, student_id: str) -> list[dict[str, Any]]:
        """Every logged exchange that disclosed this local student's data, oldest first."""
        def query() -> list[dict[str, Any]]:
            rows = self.db.conn.execute(
                "SELECT l.idx, l.time_ms, l.direction, l.peer, l.type, l.purpose, l.user_id, "
                "l.user_role, l.message_id FROM leaf_students s JOIN leaves l ON l.idx = s.idx "
                "WHERE s.student_id = ? ORDER BY l.idx", (student_id,)).fetchall()
            keys = ("index", "time_ms", "direction", "peer", "type", "purpose", "user_id",
                    "user_role", "message_id")
            return [dict(zip(keys, (*r[:8], bytes(r[8]).hex()), strict=True)) for r in rows]
        return self._call(query)
