"""The node's exchange log: an RFC 9162 Merkle tree in its own SQLite file.

Spec: DESIGN.md "Audit log"; RFC 9162 §2.1; C2SP tlog-checkpoint v1.0.0 / signed-note
(origin = key name = node id), tlog-cosignature v1, tlog-proof@v1. Owns the tables
`leaves` (leaf bytes plus indexed fields for queries), `leaf_students` (per-student
disclosure history), `nodes` (every complete subtree hash, so proofs and roots cost
O(log n) reads), `checkpoints` (every signed tree head with the cosignatures received),
`witnessed` (the last checkpoint we cosigned for each peer) and `witness_alerts`.

Durability: WAL with synchronous=FULL, and every operation runs on one dedicated writer
thread. `append` returns only after the leaf and its tree nodes are committed (one
transaction); appends that arrive while a commit is in progress are written together in
the next transaction (group commit), so one fsync covers many exchanges. On open the leaf
count is checked against the tree; missing tree nodes are recomputed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from sqlite_utils import Database, Migrations

from crypto import merkle
from crypto.checkpoint import (
    Checkpoint,
    CosignatureSigner,
    TlogProof,
    format_tlog_proof,
    parse_checkpoint,
    sign_checkpoint,
)
from crypto.errors import CryptoError
from crypto.keys import SigningKey
from crypto.note import NoteSigner, OpenedNote, add_signatures, parse_note
from node.errors import Conflict, NotFound, StorageError
from protocol.audit import LogEntry, entry_line

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


def _now_ms() -> int:
    return int(time.time() * 1000)


class ExchangeLog:
    """Append-only, signed exchange log of one node (see the module docstring)."""

    def __init__(self, path: str | Path, signing_key: SigningKey, origin: str) -> None:
        self.path = str(path)
        self.origin = origin
        self.signer = NoteSigner(origin, signing_key)
        self.cosigner = CosignatureSigner(origin, signing_key)
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
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
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

    def use_signing_key(self, signing_key: SigningKey) -> None:
        """Sign checkpoints and cosignatures with `signing_key` from now on (after a signing
        key rotation's switch); the next `sign_checkpoint` also adds its signature to the
        latest checkpoint when the log has not grown since."""
        self.signer = NoteSigner(self.origin, signing_key)
        self.cosigner = CosignatureSigner(self.origin, signing_key)

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

    # --- checkpoints --------------------------------------------------------------------
    def _latest_row(self) -> tuple[int, bytes, str] | None:
        row = self.db.conn.execute(
            "SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]))

    def _sign(self, now_ms: int) -> str:
        with self._transaction():
            return self._sign_in_tx(now_ms)

    def _sign_in_tx(self, now_ms: int) -> str:
        size = self._size
        last = self._latest_row()
        if last is not None and last[0] == size:
            return self._countersign(size, last[2])
        if last is not None and last[0] > size:
            raise StorageError(f"{self.path}: the last signed checkpoint covers {last[0]} "
                               f"entries but the log has {size}; refusing to sign")
        root = self._root(size)
        if last is not None and last[0] > 0:
            old_size, old_root, _ = last
            try:
                merkle.verify_consistency(old_size, size, old_root, root,
                                          self._consistency(old_size, size))
            except CryptoError as exc:
                raise StorageError(f"{self.path}: refusing to sign a checkpoint of size {size}: "
                                   f"it is not consistent with the signed one of size "
                                   f"{old_size} ({exc})") from exc
        note = sign_checkpoint(Checkpoint(self.origin, size, root), [self.signer])
        self.db.conn.execute("INSERT INTO checkpoints (size, root, note, signed_ms) "
                             "VALUES (?, ?, ?, ?)", (size, root, note, now_ms))
        return note

    def _countersign(self, size: int, note: str) -> str:
        """The stored checkpoint of `size`, signed by our current key too (same text, so not
        a second checkpoint: after a key switch the latest one verifies with the new key)."""
        text, sigs = parse_note(note)
        if any(s.name == self.origin and s.key_id == self.signer.key_id for s in sigs):
            return note
        note = add_signatures(OpenedNote(text, sigs), [self.signer])
        self.db.conn.execute("UPDATE checkpoints SET note = ? WHERE size = ?", (note, size))
        return note

    def sign_checkpoint(self, now_ms: int | None = None) -> str:
        """Sign a checkpoint of the current tree; when the size is unchanged return the last
        one (re-signing would give the same bytes), with our signature added if it was signed
        by an earlier key. Raises `StorageError` rather than sign a
        checkpoint inconsistent with the last one signed (even the empty tree gets one)."""
        return self._call(self._sign, _now_ms() if now_ms is None else now_ms)

    async def sign_checkpoint_async(self, now_ms: int | None = None) -> str:
        """`sign_checkpoint` for the event loop (the scheduler job)."""
        return await self._run(self._sign, _now_ms() if now_ms is None else now_ms)

    def latest_checkpoint(self) -> str:
        """The latest signed checkpoint note with its cosignatures (signs one if none)."""
        def get() -> str:
            last = self._latest_row()
            return last[2] if last is not None else self._sign(_now_ms())
        return self._call(get)

    def checkpoint_note(self, size: int) -> str | None:
        note = self._call(self._q1, "SELECT note FROM checkpoints WHERE size = ?", (size,))
        return None if note is None else str(note)

    def cosigned_checkpoints(self) -> list[str]:
        """Earlier checkpoints that carry cosignatures, oldest first (for exports)."""
        return self._call(lambda: [str(r[0]) for r in self.db.conn.execute(
            "SELECT note FROM checkpoints WHERE cosigners != '' ORDER BY size")])

    def cosigned_size(self, peer: str) -> int:
        """The largest tree size `peer` has cosigned for us (0 if none)."""
        def get() -> int:
            best = 0
            for size, names in self.db.conn.execute(
                    "SELECT size, cosigners FROM checkpoints WHERE cosigners != ''"):
                if peer in str(names).split(","):
                    best = max(best, int(size))
            return best
        return self._call(get)

    def add_cosignature(self, cosigned_note: str, witness: str) -> str:
        """Merge the (already verified) cosignature lines of `cosigned_note` into our stored
        checkpoint with the same text; return the stored note."""
        def merge() -> str:
            with self._transaction():
                return merge_in_tx()

        def merge_in_tx() -> str:
            text, sigs = parse_note(cosigned_note)
            cp = parse_checkpoint(text)
            row = self.db.conn.execute("SELECT note, cosigners FROM checkpoints WHERE size = ?",
                                       (cp.size,)).fetchone()
            if row is None:
                raise NotFound(f"we never signed a checkpoint of size {cp.size}")
            mine_text, mine = parse_note(row[0])
            if mine_text != text:
                raise Conflict(f"{witness} cosigned a checkpoint of size {cp.size} that is not "
                               "the one we signed")
            have = {(s.name, s.key_id) for s in mine}
            new = (s for s in sigs if s.name == witness and (s.name, s.key_id) not in have)
            merged = OpenedNote(text, (*mine, *new))
            note = merged.text + "\n" + "".join(s.line() for s in merged.signatures)
            names = sorted({*filter(None, str(row[1]).split(",")), witness})
            self.db.conn.execute("UPDATE checkpoints SET note = ?, cosigners = ? WHERE size = ?",
                                 (note, ",".join(names), cp.size))
            return note
        return self._call(merge)

    def receipt(self, index: int) -> str:
        """A C2SP tlog-proof@v1 for entry `index` (signs a checkpoint first if needed)."""
        def make() -> str:
            if not 0 <= index < self._size:
                raise NotFound(f"entry {index} is not in the exchange log ({self._size} "
                               "entries)")
            last = self._latest_row()
            if last is None or last[0] <= index:
                self._sign(_now_ms())
                last = self._latest_row()
            assert last is not None
            proof = self._inclusion(index, last[0])
            return format_tlog_proof(TlogProof(index, tuple(proof), last[2]))
        return self._call(make)

    # --- witnessing state ---------------------------------------------------------------
    def witnessed(self, peer: str) -> tuple[int, bytes, str] | None:
        """(size, root, note) of the last checkpoint we cosigned for `peer`."""
        def get() -> tuple[int, bytes, str] | None:
            row = self.db.conn.execute("SELECT size, root, note FROM witnessed WHERE peer = ?",
                                       (peer,)).fetchone()
            return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]))
        return self._call(get)

    def set_witnessed(self, peer: str, expect_size: int | None, size: int, root: bytes,
                      note: str) -> None:
        """Store the checkpoint we cosigned, if our stored size is still `expect_size`."""
        def put() -> None:
            with self._transaction():
                put_in_tx()

        def put_in_tx() -> None:
            cur = self._q1("SELECT size FROM witnessed WHERE peer = ?", (peer,))
            if cur != expect_size:
                raise Conflict(f"a concurrent cosign request for {peer} changed the witnessed "
                               "size; retry")
            self.db.conn.execute("INSERT OR REPLACE INTO witnessed VALUES (?, ?, ?, ?, ?)",
                                 (peer, size, root, note, _now_ms()))
        self._call(put)

    def record_alert(self, peer: str, message: str, note: str) -> None:
        log.error("exchange log of %s: %s", peer, message)
        self._call(lambda: self.db.conn.execute(
            "INSERT INTO witness_alerts (peer, time_ms, message, note) VALUES (?, ?, ?, ?)",
            (peer, _now_ms(), message, note)))

    def alerts(self) -> list[dict[str, Any]]:
        return self._call(lambda: [
            {"peer": r[0], "time_ms": r[1], "message": r[2]} for r in self.db.conn.execute(
                "SELECT peer, time_ms, message FROM witness_alerts ORDER BY id")])

    # --- export -------------------------------------------------------------------------
    def export(self, out_dir: str | Path, directory_snapshot: bytes,
               authority_key: bytes | None) -> int:
        """Write the auditor's folder for the latest checkpoint; return its entry count."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        note = self.latest_checkpoint()
        size = parse_checkpoint(parse_note(note)[0]).size
        history = [n for n in self.cosigned_checkpoints() if n != note]
        (out / "checkpoint").write_text(note)
        (out / "verifier-key").write_text(self.signer.verifier().vkey() + "\n")
        (out / "checkpoints").write_text("".join(
            json.dumps({"note": n}) + "\n" for n in history))
        (out / "directory.msgpack").write_bytes(directory_snapshot)
        if authority_key is not None:
            (out / "authority-key").write_text(base64.b64encode(authority_key).decode() + "\n")

        def dump() -> None:
            with (out / "entries.jsonl").open("w", encoding="utf-8") as fh:
                rows = self.db.conn.execute("SELECT idx, leaf FROM leaves WHERE idx < ? "
                                            "ORDER BY idx", (size,))
                for idx, leaf in rows:
                    leaf = bytes(leaf)
                    fh.write(entry_line(idx, leaf, LogEntry.from_leaf(leaf)) + "\n")
        self._call(dump)
        return size


LOG = web.AppKey("exchange_log", ExchangeLog)
