"""Cross-state identity links: the near-match worklist, links and their state machine.

Follows DESIGN.md "Identity matching" and "Messages" (`link`), and MSIX.md §1.3
(near-match worklist; a merge "must be validated by another Data Administrator
before it becomes effective": the two-person rule). Every function takes the
node.db `Database` and runs on the store's writer thread (`await store.run(fn, ...)`),
in one transaction. The tables (`worklist`, `find_matches`, `links`, `link_inbox`,
`link_events`) and what their columns mean are in `node.store.link_tables`.

States. out: `pending` (confirmed by one admin) → `active` (validated by a *different*
admin; the `link` message is queued in the outbox in the same transaction) →
`revoked`; `pending` → `rejected`. in: `pending_remote` → `active` (one of our
admins validates) or `rejected` (a revoke goes back to the sender); `active` →
`revoked`. A revoke from the peer applies at once (unlinking is always safe).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from sqlite_utils import Database

from node import clock
from node.errors import Conflict, Forbidden, NotFound
from node.federation.outbox import queue_message
from node.store import federation_tables as fed
from protocol.codec import Reader
from protocol.errors import MalformedMessage
from protocol.messages import NO_NAME, Demographics, Link, Requester, comment_with_child

LINK_PURPOSE = "data_quality"
ENDED = ("rejected", "revoked")
ADMIN_ROLE = "data_admin"


def _now() -> int:
    return clock.now_ms()


def _event(db: Database, event: str, actor: str, *, link_id: int | None = None,
           item_id: int | None = None, detail: str = "") -> None:
    db.execute("INSERT INTO link_events (link_id, worklist_id, at_ms, actor, event, detail) "
               "VALUES (?, ?, ?, ?, ?, ?)", [link_id, item_id, _now(), actor, event, detail[:500]])


def check_admin(db: Database, admin: str) -> str:
    """The admin's user name if it is an active data administrator; Forbidden otherwise."""
    from node.store.accounts import find_user

    user = find_user(db, admin) if admin else None
    if user is None:
        raise Forbidden(f"no user named {admin!r}: links need a data administrator account "
                        "(statenode users add NAME --role data_admin)")
    if user.status != "active" or user.role != ADMIN_ROLE:
        raise Forbidden(f"user {user.username!r} is {user.status} with role {user.role}; "
                        "only an active data_admin may resolve near matches and links")
    return user.username


# ---- the find hook: worklist and link annotation ----------------------------------------

def query_key(query: dict[str, Any]) -> str:
    canon = json.dumps({k: v for k, v in sorted(query.items()) if v not in (None, "")},
                       sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()[:32]


def covering_link(db: Database, peer: str, handle: str) -> dict[str, Any] | None:
    """The live link that names (peer, handle), active ones first."""
    rows = _links(db, "WHERE status NOT IN ('rejected', 'revoked') AND "
                      "((peer = ? AND peer_record = ?) OR (anchor_peer = ? AND anchor_record = ?)) "
                      "ORDER BY status = 'active' DESC, id DESC LIMIT 1",
                  [peer, handle, peer, handle])
    return rows[0] if rows else None


def queues(query: dict[str, Any]) -> bool:
    """Whether a find's near matches go on the worklist by themselves: only a find with a
    birth date or a student id (a broad "Maria Lopez" search queues nothing; its near
    matches are held until someone asks for a review)."""
    return bool(query.get("birth_date") or query.get("state_student_id"))


def _file_near_match(db: Database, *, peer: str, handle: str, cand: dict[str, Any],
                     find_id: str, query: dict[str, Any], qkey: str, requested_by: str,
                     queue: bool, now: int) -> tuple[int, str]:
    """File one near match: (worklist item id, status). A candidate already open on the
    worklist (for any search) is not queued again; a held one is queued when `queue`."""
    open_row = db.execute("SELECT id, query_key FROM worklist WHERE peer = ? AND handle = ? "
                          "AND status = 'open'", [peer, handle]).fetchone()
    if open_row is not None:
        db.execute("UPDATE worklist SET last_seen_ms = ? WHERE id = ?", [now, open_row[0]])
        if open_row[1] == qkey:
            db.execute("UPDATE worklist SET find_id = ?, score = ? WHERE id = ?",
                       [find_id, int(cand.get("score", 0)), open_row[0]])
        return int(open_row[0]), "open"
    row = db.execute("SELECT id, status FROM worklist WHERE peer = ? AND handle = ? AND "
                     "query_key = ?", [peer, handle, qkey]).fetchone()
    if row is not None:
        item_id, status = int(row[0]), str(row[1])
        db.execute("UPDATE worklist SET last_seen_ms = ?, find_id = ?, score = ?, "
                   "agreements = ?, candidate = ? WHERE id = ?",
                   [now, find_id, int(cand.get("score", 0)),
                    json.dumps(cand.get("agreements", {})),
                    json.dumps(cand.get("demographics", {}), ensure_ascii=False), item_id])
        if status == "held" and queue:
            db.execute("UPDATE worklist SET status = 'open', asked_by = ?, asked_ms = ?, "
                       "requested_by = ? WHERE id = ?", [requested_by, now, requested_by,
                                                         item_id])
            _event(db, "queued", requested_by, item_id=item_id)
            status = "open"
        return item_id, status
    status = "open" if queue else "held"
    cur = db.execute(
        "INSERT INTO worklist (find_id, peer, handle, query_key, score, agreements, "
        "candidate, query, requested_by, created_ms, last_seen_ms, status, asked_by, "
        "asked_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [find_id, peer, handle, qkey, int(cand.get("score", 0)),
         json.dumps(cand.get("agreements", {})),
         json.dumps(cand.get("demographics", {}), ensure_ascii=False),
         json.dumps(query, ensure_ascii=False), requested_by, now, now, status,
         requested_by if queue else None, now if queue else None])
    item_id = int(cur.lastrowid or 0)
    if queue:
        _event(db, "queued", requested_by, item_id=item_id)
    return item_id, status


def record_find_answer(db: Database, *, peer: str, candidates: list[dict[str, Any]],
                       find_id: str, query: dict[str, Any], requested_by: str,
                       ) -> list[dict[str, Any]]:
    """Annotate one state's candidates (as JSON dicts) and file its near matches.

    A candidate named by an active link becomes `outcome: match` with `linked: true`
    (the holder's own outcome stays in `matcher_outcome`); a pending one gets
    `link_status`. Other `near_match` candidates are filed (`_file_near_match`): queued
    on the worklist when the find has a birth date or an id (`queues`), else held; each
    carries `worklist_item` and `worklist_status` (`open` or `held`: a held one can be
    queued with `ask_review`). `match` candidates are kept as anchors for this find.
    """
    now, qkey, out = _now(), query_key(query), []
    queue = queues(query)
    for cand in candidates:
        cand = dict(cand)
        handle = str(cand.get("handle", ""))
        link = covering_link(db, peer, handle)
        if link is not None:
            cand["link_id"], cand["link_status"] = link["id"], link["status"]
            if link["status"] == "active":
                cand["matcher_outcome"] = cand.get("outcome")
                cand["outcome"], cand["linked"] = "match", True
        elif cand.get("outcome") == "near_match":
            item_id, status = _file_near_match(
                db, peer=peer, handle=handle, cand=cand, find_id=find_id, query=query,
                qkey=qkey, requested_by=requested_by, queue=queue, now=now)
            cand["worklist_item"], cand["worklist_status"] = item_id, status
        if cand.get("outcome") == "match":
            db.execute("INSERT OR REPLACE INTO find_matches (find_id, peer, handle, score, "
                       "created_ms, candidate) VALUES (?, ?, ?, ?, ?, ?)",
                       [find_id, peer, handle, int(cand.get("score", 0)), now,
                        json.dumps(cand.get("demographics", {}), ensure_ascii=False)])
        out.append(cand)
    return out


def ask_review(db: Database, item_id: int, user: str) -> tuple[dict[str, Any], bool]:
    """Someone asks a data administrator to check a near match of their search (one
    click): a held item is queued, asked by `user` now. Returns (the item, whether it was
    already on the worklist, asked by someone before); the same candidate is never queued
    twice. Conflict if an administrator already decided it."""
    item = worklist_item(db, item_id)
    if item["status"] in ("confirmed", "rejected"):
        decided = "the same child" if item["status"] == "confirmed" else "not the same child"
        raise Conflict(f"a data administrator ({item['resolved_by']}) already checked this "
                       f"record: {decided}")
    if item["status"] == "open":
        return item, True
    other = db.execute("SELECT id FROM worklist WHERE peer = ? AND handle = ? AND "
                       "status = 'open'", [item["peer"], item["handle"]]).fetchone()
    if other is not None:
        return worklist_item(db, int(other[0])), True
    db.execute("UPDATE worklist SET status = 'open', asked_by = ?, asked_ms = ? WHERE id = ?",
               [user, _now(), item_id])
    _event(db, "asked", user, item_id=item_id)
    return worklist_item(db, item_id), False


def linked_handle(db: Database, peer: str, handle: str) -> bool:
    """Whether an active link (either direction) names our record `handle` as `peer`
    knows it: the child was confirmed by two administrators."""
    row = db.execute("SELECT 1 FROM links WHERE peer = ? AND ref = ? AND status = 'active' "
                     "LIMIT 1", [peer, handle]).fetchone()
    return row is not None


# ---- worklist ---------------------------------------------------------------------------

_ITEM_COLS = ("id", "find_id", "peer", "handle", "score", "agreements", "candidate", "query",
              "requested_by", "created_ms", "last_seen_ms", "status", "resolved_by",
              "resolved_ms", "link_id", "asked_by", "asked_ms")


def _items(db: Database, where: str, params: list[Any]) -> list[dict[str, Any]]:
    rows = db.execute(f"SELECT {', '.join(_ITEM_COLS)} FROM worklist {where}",  # noqa: S608
                      params).fetchall()
    out = []
    for r in rows:
        item = dict(zip(_ITEM_COLS, r, strict=True))
        for key in ("agreements", "candidate", "query"):
            item[key] = json.loads(item[key])
        out.append(item)
    return out


def worklist(db: Database, *, status: str | None = "open", limit: int = 200,
             ) -> list[dict[str, Any]]:
    """Worklist items (open ones by default), the one waiting longest first; `None`: every
    item that was ever queued (held near matches nobody asked about are not listed)."""
    if status is None:
        return _items(db, "WHERE status != 'held' ORDER BY id DESC LIMIT ?", [limit])
    return _items(db, "WHERE status = ? ORDER BY coalesce(asked_ms, created_ms), id "
                      "LIMIT ?", [status, limit])


def worklist_item(db: Database, item_id: int) -> dict[str, Any]:
    items = _items(db, "WHERE id = ?", [item_id])
    if not items:
        raise NotFound(f"no worklist item {item_id}")
    item = items[0]
    item["anchors"] = [
        {"peer": p, "handle": h, "score": s, "candidate": json.loads(c or "{}")}
        for p, h, s, c in db.execute(
            "SELECT peer, handle, score, candidate FROM find_matches WHERE find_id = ? AND "
            "peer != ? ORDER BY score DESC", [item["find_id"], item["peer"]]).fetchall()]
    return item


def _open_item(db: Database, item_id: int) -> dict[str, Any]:
    """An item an administrator may decide: open, or held (nobody asked yet)."""
    item = worklist_item(db, item_id)
    if item["status"] not in ("open", "held"):
        raise Conflict(f"worklist item {item_id} is already {item['status']} "
                       f"(by {item['resolved_by']})")
    return item


def confirm(db: Database, item_id: int, admin: str, *, local_record: str | None = None,
            comment: str | None = None) -> dict[str, Any]:
    """First admin: the near match is the child searched for → a `pending` link.

    The link's anchor is the same find's best `match` from another state, if any;
    `local_record` names our own student when we hold the child.
    """
    admin = check_admin(db, admin)
    item = _open_item(db, item_id)
    if local_record is not None:
        if db.execute("SELECT 1 FROM students WHERE state_student_id = ?",
                      [local_record]).fetchone() is None:
            raise NotFound(f"no local student {local_record!r}")
        ref = fed.handle_for(db, item["peer"], local_record)
    else:
        ref = "link-" + os.urandom(12).hex()
    anchor = item["anchors"][0] if item["anchors"] else None
    cur = db.execute(
        "INSERT INTO links (direction, status, peer, peer_record, ref, local_record, "
        "anchor_peer, anchor_record, worklist_id, asserted_by, comment, created_ms) "
        "VALUES ('out', 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [item["peer"], item["handle"], ref, local_record, anchor and anchor["peer"],
         anchor and anchor["handle"], item_id, admin, comment, _now()])
    link_id = int(cur.lastrowid or 0)
    db.execute("UPDATE worklist SET status = 'confirmed', resolved_by = ?, resolved_ms = ?, "
               "link_id = ? WHERE id = ?", [admin, _now(), link_id, item_id])
    _event(db, "confirmed", admin, link_id=link_id, item_id=item_id, detail=comment or "")
    return get_link(db, link_id)


def reject_item(db: Database, item_id: int, admin: str, reason: str = "") -> dict[str, Any]:
    """The near match is not the child searched for; it will not come back for this query."""
    admin = check_admin(db, admin)
    _open_item(db, item_id)
    db.execute("UPDATE worklist SET status = 'rejected', resolved_by = ?, resolved_ms = ? "
               "WHERE id = ?", [admin, _now(), item_id])
    _event(db, "item_rejected", admin, item_id=item_id, detail=reason)
    return worklist_item(db, item_id)


# ---- links ------------------------------------------------------------------------------

_LINK_COLS = ("id", "direction", "status", "peer", "peer_record", "ref", "local_record",
              "anchor_peer", "anchor_record", "worklist_id", "asserted_by", "comment",
              "created_ms", "validated_by", "validated_ms", "ended_by", "ended_ms", "reason")


def _links(db: Database, where: str, params: list[Any]) -> list[dict[str, Any]]:
    rows = db.execute(f"SELECT {', '.join(_LINK_COLS)} FROM links {where}",  # noqa: S608
                      params).fetchall()
    return [dict(zip(_LINK_COLS, r, strict=True)) for r in rows]


def list_links(db: Database, *, status: str | None = None, limit: int = 200,
               ) -> list[dict[str, Any]]:
    if status is None:
        return _links(db, "ORDER BY id DESC LIMIT ?", [limit])
    return _links(db, "WHERE status = ? ORDER BY id DESC LIMIT ?", [status, limit])


def get_link(db: Database, link_id: int) -> dict[str, Any]:
    rows = _links(db, "WHERE id = ?", [link_id])
    if not rows:
        raise NotFound(f"no link {link_id}")
    link = rows[0]
    link["events"] = link_events(db, link_id=link_id)
    return link


def link_events(db: Database, *, link_id: int | None = None, limit: int = 500,
                ) -> list[dict[str, Any]]:
    keys = ("id", "link_id", "worklist_id", "at_ms", "actor", "event", "detail")
    if link_id is None:
        rows = db.execute("SELECT * FROM link_events ORDER BY id DESC LIMIT ?", [limit])
    else:
        rows = db.execute("SELECT * FROM link_events WHERE link_id = ? ORDER BY id",
                          [link_id])
    return [dict(zip(keys, r, strict=True)) for r in rows.fetchall()]


#: the demographic fields of a record as a `link` assertion describes the child
CHILD_FIELDS = tuple(Demographics.__dataclass_fields__)


def child_of_link(db: Database, link: dict[str, Any]) -> Demographics | None:
    """The child as this node knows it, for the other state's administrator to compare
    (carried in the `link` comment, `protocol.messages.comment_with_child`): our own
    record when we hold the child, else what was searched for (which the other state
    already received in the find). None when neither decodes as `Demographics`."""
    values: dict[str, Any] = {}
    if link.get("local_record"):
        cols = ", ".join(f'"{c}"' for c in CHILD_FIELDS)
        row = db.execute(f"SELECT {cols} FROM students WHERE state_student_id = ?",  # noqa: S608
                         [link["local_record"]]).fetchone()
        if row is not None:
            values = dict(zip(CHILD_FIELDS, row, strict=True))
            if values.get("multiple_birth") is not None:
                values["multiple_birth"] = bool(values["multiple_birth"])
    elif link.get("worklist_id"):
        found = db.execute("SELECT query FROM worklist WHERE id = ?",
                           [link["worklist_id"]]).fetchone()
        values = json.loads(found[0]) if found else {}
    body = {k: v for k, v in values.items() if k in CHILD_FIELDS and v not in (None, "")}
    if not body:
        return None
    body.setdefault("first_name", NO_NAME)
    body.setdefault("last_name_1", NO_NAME)
    try:
        return Demographics.read(Reader(body, "child"))  # what the peer's decoder accepts
    except MalformedMessage:
        return None


def _message(link: dict[str, Any], admin: str, school: str, action: str,
             comment: str | None, child: Demographics | None = None) -> Link:
    text = comment_with_child((comment or "")[:1000] or None, child)
    return Link(link["ref"], link["peer_record"], Requester(admin, ADMIN_ROLE, school or "-"),
                action, text or None)


def _send(db: Database, link: dict[str, Any], message: Link) -> int:
    return queue_message(db, peer=link["peer"], message=message, purpose=LINK_PURPOSE,
                         summary={"link": link["id"], "action": message.action})


def _end(db: Database, link: dict[str, Any], status: str, actor: str, reason: str) -> None:
    db.execute("UPDATE links SET status = ?, ended_by = ?, ended_ms = ?, reason = ? "
               "WHERE id = ?", [status, actor, _now(), reason, link["id"]])


def validate(db: Database, link_id: int, admin: str, *, school: str = "") -> dict[str, Any]:
    """Second admin: the link takes effect (two-person rule for our own links).

    An `out` link must be validated by someone other than the admin who confirmed it;
    activating it queues the `link` message to the peer. An `in` link is accepted by
    one of our admins.
    """
    admin = check_admin(db, admin)
    link = get_link(db, link_id)
    wanted = "pending" if link["direction"] == "out" else "pending_remote"
    if link["status"] != wanted:
        raise Conflict(f"link {link_id} is {link['status']}; only a {wanted} link can be "
                       "validated")
    if link["direction"] == "out" and link["asserted_by"].lower() == admin.lower():
        raise Forbidden(f"two-person rule: link {link_id} was confirmed by {admin}; another "
                        "data administrator must validate it")
    db.execute("UPDATE links SET status = 'active', validated_by = ?, validated_ms = ? "
               "WHERE id = ?", [admin, _now(), link_id])
    _event(db, "validated", admin, link_id=link_id)
    if link["direction"] == "out":
        _send(db, link, _message(link, admin, school, "assert", link["comment"],
                                 child_of_link(db, link)))
    return get_link(db, link_id)


def reject_link(db: Database, link_id: int, admin: str, reason: str = "", *,
                school: str = "") -> dict[str, Any]:
    """Refuse a link before it takes effect; refusing a peer's link tells the peer."""
    admin = check_admin(db, admin)
    link = get_link(db, link_id)
    if link["status"] not in ("pending", "pending_remote"):
        raise Conflict(f"link {link_id} is {link['status']}; only a pending link can be "
                       "rejected (revoke an active one)")
    _end(db, link, "rejected", admin, reason)
    _event(db, "rejected", admin, link_id=link_id, detail=reason)
    if link["direction"] == "in":
        _send(db, link, _message(link, admin, school, "revoke", reason or "rejected"))
    return get_link(db, link_id)


def revoke(db: Database, link_id: int, admin: str, reason: str = "", *,
           school: str = "") -> dict[str, Any]:
    """End a link; if the peer knows of it, a `link` revoke is queued to the peer."""
    admin = check_admin(db, admin)
    link = get_link(db, link_id)
    if link["status"] in ENDED:
        raise Conflict(f"link {link_id} is already {link['status']}")
    peer_knows = link["direction"] == "in" or link["status"] == "active"
    _end(db, link, "revoked", admin, reason)
    _event(db, "revoked", admin, link_id=link_id, detail=reason)
    if peer_knows:
        _send(db, link, _message(link, admin, school, "revoke", reason or None))
    return get_link(db, link_id)


# ---- inbound `link` messages ------------------------------------------------------------

def stored_receipt(db: Database, sender: str, message_id: bytes,
                   ) -> tuple[int, bytes, str] | None:
    """(received_ms, body_hash, note) of a link message already applied, for a retry."""
    row = db.execute("SELECT received_ms, body_hash, note FROM link_inbox WHERE sender = ? "
                     "AND message_id = ?", [sender, message_id]).fetchone()
    return (int(row[0]), bytes(row[1]), str(row[2])) if row else None


def receive(db: Database, *, sender: str, message_id: bytes, body_hash: bytes, link: Link,
            received_ms: int | None = None) -> tuple[int, bytes, str]:
    """Apply a peer's `link` message once; return (received_ms, body_hash, note).

    assert: `your_record` must be a handle we gave the sender; the link is stored
    `pending_remote` until one of our admins validates it. revoke: the matching link
    ends at once; an unknown link is acknowledged with a note (nothing to undo).
    """
    done = stored_receipt(db, sender, message_id)
    if done is not None:
        return done
    received_ms = _now() if received_ms is None else received_ms
    if link.asserted_by.role != ADMIN_ROLE:
        raise Forbidden(f"a link must be asserted by a data_admin, not {link.asserted_by.role}")
    actor = f"{sender}:{link.asserted_by.user_id}"
    live = _links(db, "WHERE peer = ? AND peer_record = ? AND ref = ? AND status NOT IN "
                      "('rejected', 'revoked') ORDER BY id DESC LIMIT 1",
                  [sender, link.my_record, link.your_record])
    link_id: int | None
    if link.action == "revoke":
        if live:
            link_id = live[0]["id"]
            _end(db, live[0], "revoked", actor, link.comment or "revoked by the peer")
            _event(db, "remote_revoked", actor, link_id=link_id, detail=link.comment or "")
            note = f"link revoked at {link.your_record}"
        else:
            link_id, note = None, "no live link to revoke"
    elif live:
        link_id, note = live[0]["id"], f"already {live[0]['status']}"
    else:
        local = fed.resolve_handle(db, sender, link.your_record)
        if local is None:
            raise NotFound(f"record {link.your_record} is not a handle this node gave {sender}")
        cur = db.execute(
            "INSERT INTO links (direction, status, peer, peer_record, ref, local_record, "
            "asserted_by, comment, created_ms) VALUES ('in', 'pending_remote', ?, ?, ?, ?, ?, "
            "?, ?)", [sender, link.my_record, link.your_record, local, actor, link.comment,
                      received_ms])
        link_id = int(cur.lastrowid or 0)
        _event(db, "received", actor, link_id=link_id, detail=link.comment or "")
        note = "pending validation by a data administrator"
    db.execute("INSERT INTO link_inbox VALUES (?, ?, ?, ?, ?, ?)",
               [sender, message_id, received_ms, body_hash, note, link_id])
    return received_ms, body_hash, note


def members(link: dict[str, Any]) -> list[tuple[str, str]]:
    """The (state, handle) records a link joins at peers, for a fetch of the linked child."""
    out = [(link["peer"], link["peer_record"])]
    if link.get("anchor_peer") and link.get("anchor_record"):
        out.append((link["anchor_peer"], link["anchor_record"]))
    return out
