"""The discover round's tables (issue 14): the sqlite-utils migration set
"statenode.discover".

Follows DESIGN.md "Messages" `discover` and docs/PROTOCOL.md "Discover filter". The
rebuild that fills them is `node.importing.discover_rebuild`'s; the answers and the
requester's counters are `node.federation.discover`'s.

Tables:
- `discover_values`: per stored student, the OPRF outputs of its discover keys
  (`outputs`: n × 64 bytes) and what they were computed from (`row_hash` of the student,
  `keys_version` = DISCOVER_KEYS_VERSION, `oprf_key_id`). A missing or outdated row (the
  student is new or changed, the keys or the OPRF key changed) is recomputed by the next
  rebuild: the backfill of a database made by the previous release is its first rebuild.
  Rows go with their student (ON DELETE CASCADE).
- `discover_filters`: the filters this node published, by version (monotonic; the last
  two are kept): the signed wrapper served to peers, its `FilterInfo` fields and the
  record count and key versions it was built from.
- `discover_peer_counts`: as a requester, per holder: discover rounds sent, rounds with
  a hit, hits whose find ended with no candidate, filters refused as stuffed, the
  holder's stated false-positive rate (ppm), for /status and `doctor`.
No student data: OPRF outputs are useless without this node's OPRF key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database, Migrations

from node.store.record_reads import IDENTITY_COLUMNS
from node.store.sql import chunks, now_iso, placeholders

migrations = Migrations("statenode.discover")
KEEP_FILTERS = 2


@migrations()
def m001_discover_tables(db: Database) -> None:
    """Empty tables: every student's values are missing, so the first rebuild (at start,
    or after the next import) computes them all."""
    db.execute("""CREATE TABLE discover_values (
  student_id INTEGER PRIMARY KEY REFERENCES students(id) ON DELETE CASCADE,
  row_hash TEXT NOT NULL, keys_version INTEGER NOT NULL, oprf_key_id BLOB NOT NULL,
  outputs BLOB NOT NULL)""")
    db.execute("""CREATE TABLE discover_filters (
  version INTEGER PRIMARY KEY, built_at TEXT NOT NULL, keys_version INTEGER NOT NULL,
  oprf_key_id BLOB NOT NULL, records INTEGER NOT NULL, members INTEGER NOT NULL,
  sha256 BLOB NOT NULL, false_positive_ppm INTEGER NOT NULL, signed BLOB NOT NULL)""")
    db.execute("""CREATE TABLE discover_peer_counts (
  peer TEXT PRIMARY KEY, rounds INTEGER NOT NULL DEFAULT 0, hits INTEGER NOT NULL DEFAULT 0,
  no_candidate INTEGER NOT NULL DEFAULT 0, suspicious INTEGER NOT NULL DEFAULT 0,
  false_positive_ppm INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL)""")


def apply_migrations(db: Database) -> None:
    migrations.apply(db)


@dataclass(frozen=True)
class FilterRow:
    version: int
    built_at: str
    keys_version: int
    oprf_key_id: bytes
    records: int
    members: int
    sha256: bytes
    false_positive_ppm: int
    signed: bytes


def stale_students(db: Database, keys_version: int, oprf_key_id: bytes
                   ) -> list[dict[str, Any]]:
    """Identity columns (and id, row_hash) of every student whose values are missing or
    outdated."""
    cols = ", ".join(f's."{c}"' for c in IDENTITY_COLUMNS)
    cursor = db.conn.execute(
        f"SELECT s.id, s.row_hash, {cols} FROM students s "  # noqa: S608 (column names)
        "LEFT JOIN discover_values v ON v.student_id = s.id "
        "WHERE v.student_id IS NULL OR v.row_hash != s.row_hash OR v.keys_version != ? "
        "OR v.oprf_key_id != ? ORDER BY s.id", (keys_version, oprf_key_id))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def count_stale(db: Database, keys_version: int, oprf_key_id: bytes) -> int:
    row = db.conn.execute(
        "SELECT COUNT(*) FROM students s LEFT JOIN discover_values v ON v.student_id = s.id "
        "WHERE v.student_id IS NULL OR v.row_hash != s.row_hash OR v.keys_version != ? "
        "OR v.oprf_key_id != ?", (keys_version, oprf_key_id)).fetchone()
    return int(row[0])


def student_count(db: Database) -> int:
    return int(db.conn.execute("SELECT COUNT(*) FROM students").fetchone()[0])


def save_values(db: Database, rows: Iterable[tuple[int, str, bytes]], keys_version: int,
                oprf_key_id: bytes) -> int:
    """Store (student id, row hash, outputs) of recomputed students; skip students deleted
    meanwhile. Returns how many were stored."""
    n = 0
    items = list(rows)
    for chunk in chunks(items):
        ids = [r[0] for r in chunk]
        live = {r[0] for r in db.conn.execute(
            f"SELECT id FROM students WHERE id IN ({placeholders(len(ids))})", ids)}  # noqa: S608
        db.conn.executemany(
            "INSERT OR REPLACE INTO discover_values (student_id, row_hash, keys_version, "
            "oprf_key_id, outputs) VALUES (?, ?, ?, ?, ?)",
            [(sid, h, keys_version, oprf_key_id, out) for sid, h, out in chunk if sid in live])
        n += len(live)
    return n


def all_outputs(db: Database, keys_version: int, oprf_key_id: bytes) -> Iterable[bytes]:
    """Every current 64-byte output (the members of the next filter)."""
    for (blob,) in db.conn.execute(
            "SELECT outputs FROM discover_values WHERE keys_version = ? AND oprf_key_id = ?",
            (keys_version, oprf_key_id)):
        for i in range(0, len(blob), 64):
            yield bytes(blob[i:i + 64])


def member_count(db: Database, keys_version: int, oprf_key_id: bytes) -> int:
    row = db.conn.execute(
        "SELECT COALESCE(SUM(LENGTH(outputs)), 0) / 64 FROM discover_values "
        "WHERE keys_version = ? AND oprf_key_id = ?", (keys_version, oprf_key_id)).fetchone()
    return int(row[0])


def next_version(db: Database) -> int:
    return int(db.conn.execute(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM discover_filters").fetchone()[0])


def save_filter(db: Database, row: FilterRow) -> None:
    db.conn.execute(
        "INSERT INTO discover_filters (version, built_at, keys_version, oprf_key_id, records, "
        "members, sha256, false_positive_ppm, signed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (row.version, row.built_at, row.keys_version, row.oprf_key_id, row.records,
         row.members, row.sha256, row.false_positive_ppm, row.signed))
    db.conn.execute("DELETE FROM discover_filters WHERE version <= ?",
                    (row.version - KEEP_FILTERS,))


def latest_filter(db: Database) -> FilterRow | None:
    if not db["discover_filters"].exists():
        return None
    row = db.conn.execute(
        "SELECT version, built_at, keys_version, oprf_key_id, records, members, sha256, "
        "false_positive_ppm, signed FROM discover_filters ORDER BY version DESC LIMIT 1"
    ).fetchone()
    return None if row is None else FilterRow(*row)


# ---- the requester's counters per holder -----------------------------------------------

def count_round(db: Database, peer: str, *, hit: bool, no_candidate: bool = False,
                suspicious: bool = False, false_positive_ppm: int = 0) -> None:
    """Add one discover round with `peer` (as a requester) to its counters."""
    db.conn.execute(
        "INSERT INTO discover_peer_counts (peer, rounds, hits, no_candidate, suspicious, "
        "false_positive_ppm, updated_at) VALUES (?, 1, ?, ?, ?, ?, ?) "
        "ON CONFLICT(peer) DO UPDATE SET rounds = rounds + 1, hits = hits + excluded.hits, "
        "no_candidate = no_candidate + excluded.no_candidate, "
        "suspicious = suspicious + excluded.suspicious, "
        "false_positive_ppm = CASE WHEN excluded.false_positive_ppm > 0 "
        "THEN excluded.false_positive_ppm ELSE false_positive_ppm END, "
        "updated_at = excluded.updated_at",
        (peer, int(hit), int(hit and no_candidate), int(suspicious), false_positive_ppm,
         now_iso()))


def peer_counts(db: Database, peers: Sequence[str] | None = None) -> list[dict[str, Any]]:
    if not db["discover_peer_counts"].exists():
        return []
    cursor = db.conn.execute(
        "SELECT peer, rounds, hits, no_candidate, suspicious, false_positive_ppm, updated_at "
        "FROM discover_peer_counts ORDER BY peer")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor]
    return [r for r in rows if peers is None or r["peer"] in peers]
