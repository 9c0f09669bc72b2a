"""The cross-state links tables: the sqlite-utils migration set "statenode.links".

Follows DESIGN.md "Identity matching" and MSIX.md §1.3 (near-match worklist and the
two-person rule); the rules that read and write these tables live in `node.federation.links`.
`apply_migrations` runs on the store's writer thread (`await store.run(fn)`) and
is idempotent.

Tables:
- `worklist`: `near_match` candidates from our finds (peer, handle, score, per-field
  agreements, the query's and the candidate's demographics, who searched), one row per
  (peer, handle, query); a data administrator confirms or rejects each. `status` is
  `held` for a near match that is not queued (a find without birth date and without id
  queues nothing by itself) until someone asks for a review, then `open` (at most one
  open row per candidate: never queued twice), then `confirmed` or `rejected`.
  `asked_by` / `asked_ms`: who queued it and when (the searcher, or the person who
  clicked "Ask a data administrator to check this record").
- `find_matches`: the `match` candidates of each find (handles, scores and, from m002,
  demographics): a confirmed near match is linked to the find's best `match` from
  another state (the *anchor*), so a child found as a match in TX and a near match in
  CA becomes one child.
- `links`: one row per link. `direction` is `out` (asserted here) or `in` (received).
  `ref` is our side as the peer knows it and `peer_record` the peer's side as we know
  it, so every `link` message is `Link(my_record=ref, your_record=peer_record)` and an
  inbound revoke matches `(peer, peer_record = my_record, ref = your_record)`.
  For an `out` link `ref` is our handle for the peer when we hold the child
  (`local_record`), else an opaque `link-…` reference (a handle-only link: "the child
  I searched for, who is TX's anchor record, is your record Y").
- `link_inbox`: received `link` messages by (sender, message id): a retried delivery
  is applied once and answered with the same receipt.
- `link_events`: every state change, with who and when.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlite_utils import Database, Migrations

from node.store.sql import placeholders

migrations = Migrations("statenode.links")


@migrations()
def m001_links(db: Database) -> None:
    db.execute("""CREATE TABLE worklist (
  id INTEGER PRIMARY KEY,
  find_id TEXT NOT NULL,
  peer TEXT NOT NULL,
  handle TEXT NOT NULL,
  query_key TEXT NOT NULL,
  score INTEGER NOT NULL,
  agreements TEXT NOT NULL,
  candidate TEXT NOT NULL,
  query TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  resolved_by TEXT,
  resolved_ms INTEGER,
  link_id INTEGER,
  UNIQUE (peer, handle, query_key))""")
    db.execute("""CREATE TABLE find_matches (
  find_id TEXT NOT NULL,
  peer TEXT NOT NULL,
  handle TEXT NOT NULL,
  score INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (find_id, peer, handle))""")
    db.execute("""CREATE TABLE links (
  id INTEGER PRIMARY KEY,
  direction TEXT NOT NULL,
  status TEXT NOT NULL,
  peer TEXT NOT NULL,
  peer_record TEXT NOT NULL,
  ref TEXT NOT NULL,
  local_record TEXT,
  anchor_peer TEXT,
  anchor_record TEXT,
  worklist_id INTEGER,
  asserted_by TEXT NOT NULL,
  comment TEXT,
  created_ms INTEGER NOT NULL,
  validated_by TEXT,
  validated_ms INTEGER,
  ended_by TEXT,
  ended_ms INTEGER,
  reason TEXT)""")
    db.execute("CREATE INDEX links_peer ON links (peer, peer_record)")
    db.execute("CREATE INDEX links_anchor ON links (anchor_peer, anchor_record)")
    db.execute("""CREATE TABLE link_inbox (
  sender TEXT NOT NULL,
  message_id BLOB NOT NULL,
  received_ms INTEGER NOT NULL,
  body_hash BLOB NOT NULL,
  note TEXT NOT NULL,
  link_id INTEGER,
  PRIMARY KEY (sender, message_id))""")
    db.execute("""CREATE TABLE link_events (
  id INTEGER PRIMARY KEY,
  link_id INTEGER,
  worklist_id INTEGER,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  event TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '')""")


@migrations()
def m002_worklist_requests(db: Database) -> None:
    """Who asked for a review and when; held near matches; one open item per candidate;
    the demographics of a find's matches (the anchor shown beside a link).

    Backfill: items queued before record their searcher and time as who asked and when;
    open items of a find without a birth date (the old rule queued every near match of a
    broad search; the query kept no ids) become `held`, as does every open item but the
    oldest of one candidate. Nothing is deleted: a held item is queued again by the next
    find that qualifies or by one click."""
    db.execute("ALTER TABLE worklist ADD COLUMN asked_by TEXT")
    db.execute("ALTER TABLE worklist ADD COLUMN asked_ms INTEGER")
    db.execute("ALTER TABLE find_matches ADD COLUMN candidate TEXT NOT NULL DEFAULT '{}'")
    db.execute("UPDATE worklist SET asked_by = requested_by, asked_ms = created_ms")
    db.execute("UPDATE worklist SET status = 'held', asked_by = NULL, asked_ms = NULL "
               "WHERE status = 'open' AND coalesce(json_extract(query, '$.birth_date'), '') "
               "= '' AND coalesce(json_extract(query, '$.state_student_id'), '') = ''")
    db.execute("UPDATE worklist SET status = 'held', asked_by = NULL, asked_ms = NULL "
               "WHERE status = 'open' AND id NOT IN (SELECT min(id) FROM worklist "
               "WHERE status = 'open' GROUP BY peer, handle)")
    db.execute("CREATE UNIQUE INDEX worklist_one_open ON worklist (peer, handle) "
               "WHERE status = 'open'")
    db.execute("CREATE INDEX worklist_status_asked ON worklist (status, asked_ms)")


def apply_migrations(db: Database) -> None:
    migrations.apply(db)


def peers_connected_to(db: Database, local_records: Sequence[str]) -> set[str]:
    """States a validated link or a move notice we sent connects with any of our
    `local_records` (state student ids): the discover round sends them the find directly
    (node.federation.discover_round). A validated link has status `active` (there is no
    status 'validated': node.federation.links)."""
    if not local_records:
        return set()
    marks, ids = placeholders(len(local_records)), list(local_records)
    peers = {r[0] for r in db.execute(
        f"SELECT DISTINCT peer FROM links WHERE status = 'active' "  # noqa: S608
        f"AND local_record IN ({marks})", ids).fetchall()}
    peers.update(r[0] for r in db.execute(
        f"SELECT DISTINCT peer FROM outbox WHERE type = 'move_notice' "  # noqa: S608
        f"AND json_extract(summary, '$.student') IN ({marks})", ids).fetchall())
    return peers


def linked_children(db: Database) -> list[tuple[str, str]]:
    """(peer, the child as we searched for it: the worklist item's query JSON) of every
    validated (active) link made from a near match: the discover round sends that peer
    the find when a search names the same child (node.federation.discover_round)."""
    return [(str(peer), str(query)) for peer, query in db.execute(
        "SELECT l.peer, w.query FROM links l JOIN worklist w ON w.id = l.worklist_id "
        "WHERE l.status = 'active'").fetchall()]
