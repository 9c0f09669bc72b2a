"""Federation state in node.db: record handles, inbox, outbox, peer cache.

Own sqlite-utils migration set ("statenode.federation"), applied when the node
starts. Functions take the sqlite-utils `Database` and run on the store's
single writer thread (`await store.run(fn, ...)`).

- `record_handles`: opaque handles given to a requesting state in `find`
  replies; HMAC-SHA256(node secret, requester ‖ student id) so handles are
  stable per requester and do not correlate across requesters. `matched` says
  whether the handle was ever given as a `match` (else only as a `near_match`,
  which `node.federation.answers` releases to staff only once the child is linked).
- `inbox`: received move notices, unique by (sender, message id), so a retried
  delivery is stored exactly once and answered with the same receipt. From m004 a work
  queue: `status` `new` → `acknowledged` (who, when; assigning a notice acknowledges it)
  → `handled` (who, when, a note); `assigned_to` the user who takes care of it.
- `outbox`: queued move notices and links with their fixed message id, attempt
  count, next attempt time and delivery state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from sqlite_utils import Database, Migrations

from node import clock
from node.errors import BadRequest, Conflict, NotFound

migrations = Migrations("statenode.federation")


@migrations()
def m001_federation(db: Database) -> None:
    db.execute("""CREATE TABLE node_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)""")
    db.execute("""CREATE TABLE record_handles (
  handle TEXT PRIMARY KEY,
  state_student_id TEXT NOT NULL,
  peer TEXT NOT NULL,
  created_ms INTEGER NOT NULL)""")
    db.execute("""CREATE TABLE inbox (
  id INTEGER PRIMARY KEY,
  sender TEXT NOT NULL,
  message_id BLOB NOT NULL,
  received_ms INTEGER NOT NULL,
  body_hash BLOB NOT NULL,
  notice TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'new',
  UNIQUE (sender, message_id))""")
    db.execute("""CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  peer TEXT NOT NULL,
  type TEXT NOT NULL,
  purpose TEXT NOT NULL,
  message_id BLOB NOT NULL UNIQUE,
  body BLOB NOT NULL,
  summary TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  delivered_ms INTEGER,
  receipt_hash BLOB)""")
    db.execute("CREATE INDEX outbox_due ON outbox (delivered_ms, next_attempt_ms)")


@migrations()
def m002_handle_last_use(db: Database) -> None:
    """Retention purges handles unused for a while, not handles given out long ago."""
    db.execute("ALTER TABLE record_handles ADD COLUMN last_used_ms INTEGER")
    db.execute("UPDATE record_handles SET last_used_ms = created_ms")


@migrations()
def m003_handle_matched(db: Database) -> None:
    """Handles given as a `match` at least once. Handles from before keep the rule they
    were given under (fetchable like a match)."""
    db.execute("ALTER TABLE record_handles ADD COLUMN matched INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE record_handles SET matched = 1")


@migrations()
def m004_arrivals_queue(db: Database) -> None:
    """Received move notices become a work queue: acknowledged, assigned, handled, each
    with who and when. Backfill: every notice received before stays `new` (the only
    status the previous release wrote), unassigned."""
    for column in ("acknowledged_by TEXT", "acknowledged_ms INTEGER", "assigned_to TEXT",
                   "assigned_by TEXT", "assigned_ms INTEGER", "handled_by TEXT",
                   "handled_ms INTEGER", "handled_note TEXT"):
        db.execute(f"ALTER TABLE inbox ADD COLUMN {column}")
    db.execute("UPDATE inbox SET status = 'new' WHERE status NOT IN ('new', 'acknowledged', "
               "'handled')")
    db.execute("CREATE INDEX inbox_status ON inbox (status, received_ms)")


def apply_migrations(db: Database) -> None:
    migrations.apply(db)


def now_ms() -> int:
    return clock.now_ms()


def _secret(db: Database) -> bytes:
    row = db.execute("SELECT value FROM node_secrets WHERE name = 'handles'").fetchone()
    if row:
        return bytes(row[0])
    value = os.urandom(32)
    db.execute("INSERT INTO node_secrets (name, value) VALUES ('handles', ?)", [value])
    return value


def handle_for(db: Database, peer: str, state_student_id: str, *,
               matched: bool = False) -> str:
    """The opaque handle `peer` may fetch this student by (created on first use);
    `matched`: it is being given as a `match` (once set, it stays set)."""
    mac = hmac.new(_secret(db), f"{peer}\x00{state_student_id}".encode(), hashlib.sha256)
    handle = base64.urlsafe_b64encode(mac.digest()[:18]).decode()
    now = now_ms()
    db.execute(
        "INSERT INTO record_handles (handle, state_student_id, peer, created_ms, last_used_ms, "
        "matched) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (handle) DO UPDATE SET "
        "last_used_ms = excluded.last_used_ms, matched = max(matched, excluded.matched)",
        [handle, state_student_id, peer, now, now, int(matched)])
    return handle


def resolve_handle(db: Database, peer: str, handle: str) -> str | None:
    """The student id behind a handle, only for the peer it was given to."""
    found = resolve_handle_matched(db, peer, handle)
    return found[0] if found else None


def resolve_handle_matched(db: Database, peer: str, handle: str) -> tuple[str, bool] | None:
    """(student id, given as a `match` at least once) behind a handle, only for the peer
    it was given to."""
    row = db.execute("SELECT state_student_id, matched FROM record_handles WHERE handle = ? "
                     "AND peer = ?", [handle, peer]).fetchone()
    if row:
        db.execute("UPDATE record_handles SET last_used_ms = ? WHERE handle = ?",
                   [now_ms(), handle])
    return (str(row[0]), bool(row[1])) if row else None


def inbox_add(db: Database, *, sender: str, message_id: bytes, body_hash: bytes,
              notice: dict[str, Any], received_ms: int) -> tuple[bool, int, bytes]:
    """Store a notice once; return (new, received_ms, body_hash) of the stored copy."""
    with db.atomic():
        row = db.execute("SELECT received_ms, body_hash FROM inbox WHERE sender = ? AND "
                         "message_id = ?", [sender, message_id]).fetchone()
        if row:
            return False, int(row[0]), bytes(row[1])
        db.execute("INSERT INTO inbox (sender, message_id, received_ms, body_hash, notice) "
                   "VALUES (?, ?, ?, ?, ?)",
                   [sender, message_id, received_ms, body_hash, json.dumps(notice)])
        return True, received_ms, body_hash


def inbox_lookup(db: Database, sender: str, message_id: bytes) -> tuple[int, bytes] | None:
    row = db.execute("SELECT received_ms, body_hash FROM inbox WHERE sender = ? AND "
                     "message_id = ?", [sender, message_id]).fetchone()
    return (int(row[0]), bytes(row[1])) if row else None


#: the states of a received move notice, in order
INBOX_STATUSES = ("new", "acknowledged", "handled")
#: what the arrivals page may filter on: a status, `open` (not handled yet) or `all`
INBOX_FILTERS = ("open", *INBOX_STATUSES, "all")
_INBOX_COLS = ("id", "sender", "message_id", "received_ms", "notice", "status",
               "acknowledged_by", "acknowledged_ms", "assigned_to", "assigned_by",
               "assigned_ms", "handled_by", "handled_ms", "handled_note")


def _inbox_rows(db: Database, where: str, params: list[Any]) -> list[dict[str, Any]]:
    rows = db.execute(f"SELECT {', '.join(_INBOX_COLS)} FROM inbox {where}",  # noqa: S608
                      params).fetchall()
    out = []
    for r in rows:
        item = dict(zip(_INBOX_COLS, r, strict=True))
        item["message_id"] = bytes(item["message_id"]).hex()
        item["notice"] = json.loads(item["notice"])
        out.append(item)
    return out


def inbox_list(db: Database, limit: int = 200, *, status: str = "all",
               ) -> list[dict[str, Any]]:
    """Received notices, newest first; `status` one of `INBOX_FILTERS`."""
    if status not in INBOX_FILTERS:
        raise BadRequest(f"status: must be one of {', '.join(INBOX_FILTERS)} "
                         f"(got {status[:20]!r})")
    if status == "all":
        return _inbox_rows(db, "ORDER BY received_ms DESC, id DESC LIMIT ?", [limit])
    if status == "open":
        return _inbox_rows(db, "WHERE status != 'handled' ORDER BY received_ms DESC, id DESC "
                               "LIMIT ?", [limit])
    return _inbox_rows(db, "WHERE status = ? ORDER BY received_ms DESC, id DESC LIMIT ?",
                       [status, limit])


def inbox_counts(db: Database) -> dict[str, int]:
    """How many notices are in each status (and `open`, `all`)."""
    counts = dict.fromkeys(INBOX_FILTERS, 0)
    for status, n in db.execute("SELECT status, count(*) FROM inbox GROUP BY status"):
        counts[str(status)] = int(n)
        counts["all"] += int(n)
        if status != "handled":
            counts["open"] += int(n)
    return counts


def inbox_item(db: Database, item_id: int) -> dict[str, Any]:
    rows = _inbox_rows(db, "WHERE id = ?", [item_id])
    if not rows:
        raise NotFound(f"no move notice {item_id} was received")
    return rows[0]


def _unhandled(db: Database, item_id: int) -> dict[str, Any]:
    item = inbox_item(db, item_id)
    if item["status"] == "handled":
        raise Conflict(f"move notice {item_id} was already handled by {item['handled_by']}")
    return item


def inbox_acknowledge(db: Database, item_id: int, user: str) -> dict[str, Any]:
    """Someone has seen the notice and the school expects the child."""
    item = _unhandled(db, item_id)
    if item["status"] == "acknowledged":
        raise Conflict(f"move notice {item_id} was already acknowledged by "
                       f"{item['acknowledged_by']}")
    db.execute("UPDATE inbox SET status = 'acknowledged', acknowledged_by = ?, "
               "acknowledged_ms = ? WHERE id = ?", [user, now_ms(), item_id])
    return inbox_item(db, item_id)


def inbox_assign(db: Database, item_id: int, user: str, assignee: str) -> dict[str, Any]:
    """Give the notice to `assignee`, an active user who may read records (school staff
    or a data administrator); a new notice is acknowledged by the same stroke."""
    from node.store.accounts import find_user

    _unhandled(db, item_id)
    found = find_user(db, assignee) if assignee else None
    if found is None or found.status != "active" or found.role not in ("staff", "data_admin"):
        raise BadRequest(f"assignee: {assignee[:100]!r} is not an active user of this node "
                         "who may read records (staff or data administrator)")
    now = now_ms()
    db.execute("UPDATE inbox SET assigned_to = ?, assigned_by = ?, assigned_ms = ?, "
               "acknowledged_by = coalesce(acknowledged_by, ?), "
               "acknowledged_ms = coalesce(acknowledged_ms, ?), status = 'acknowledged' "
               "WHERE id = ?", [found.username, user, now, user, now, item_id])
    return inbox_item(db, item_id)


def inbox_handle(db: Database, item_id: int, user: str, note: str = "") -> dict[str, Any]:
    """The child arrived and was enrolled (or will not come): the notice is done."""
    _unhandled(db, item_id)
    db.execute("UPDATE inbox SET status = 'handled', handled_by = ?, handled_ms = ?, "
               "handled_note = ? WHERE id = ?", [user, now_ms(), note[:500] or None, item_id])
    return inbox_item(db, item_id)


def outbox_add(db: Database, *, peer: str, type_: str, purpose: str, message_id: bytes,
               body: bytes, summary: dict[str, Any]) -> int:
    now = now_ms()
    cur = db.execute(
        "INSERT INTO outbox (peer, type, purpose, message_id, body, summary, created_ms, "
        "next_attempt_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [peer, type_, purpose, message_id, body, json.dumps(summary), now, now])
    return int(cur.lastrowid or 0)


def outbox_due(db: Database, now: int, limit: int = 50) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT id, peer, type, purpose, message_id, body, attempts FROM outbox "
        "WHERE delivered_ms IS NULL AND next_attempt_ms <= ? ORDER BY id LIMIT ?",
        [now, limit]).fetchall()
    return [{"id": r[0], "peer": r[1], "type": r[2], "purpose": r[3],
             "message_id": bytes(r[4]), "body": bytes(r[5]), "attempts": r[6]} for r in rows]


def outbox_delivered(db: Database, item_id: int, receipt_hash: bytes) -> None:
    db.execute("UPDATE outbox SET delivered_ms = ?, receipt_hash = ?, attempts = attempts + 1, "
               "last_error = '' WHERE id = ?", [now_ms(), receipt_hash, item_id])


def outbox_failed(db: Database, item_id: int, error: str, next_attempt_ms: int) -> None:
    db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_ms = ? "
               "WHERE id = ?", [error[:500], next_attempt_ms, item_id])


def outbox_make_due(db: Database, peer: str) -> int:
    """The peer was heard from: its queued items are due now (backoff reset)."""
    cur = db.execute("UPDATE outbox SET next_attempt_ms = ? WHERE peer = ? AND "
                     "delivered_ms IS NULL AND next_attempt_ms > ?", [now_ms(), peer, now_ms()])
    return int(cur.rowcount or 0)


def outbox_list(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT id, peer, type, message_id, summary, created_ms, attempts, next_attempt_ms, "
        "last_error, delivered_ms FROM outbox ORDER BY id DESC LIMIT ?", [limit]).fetchall()
    keys = ("id", "peer", "type", "message_id", "summary", "created_ms", "attempts",
            "next_attempt_ms", "last_error", "delivered_ms")
    out = []
    for r in rows:
        item = dict(zip(keys, r, strict=True))
        item["message_id"] = bytes(item["message_id"]).hex()
        item["summary"] = json.loads(item["summary"])
        out.append(item)
    return out


def outbox_depth(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM outbox WHERE delivered_ms IS NULL").fetchone()[0])


def recent_notices(db: Database, limit: int = 5000) -> list[tuple[str, str]]:
    """(sender, notice JSON) of the `limit` most recent received move notices."""
    return [(str(s), str(n)) for s, n in db.execute(
        "SELECT sender, notice FROM inbox ORDER BY id DESC LIMIT ?", [limit]).fetchall()]
