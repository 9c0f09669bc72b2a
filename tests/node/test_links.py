"""node.federation.links: worklist, two-person rule, link messages in/out, revoke, idempotency."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.errors import Conflict, Forbidden, NotFound
from node.federation import links
from node.importing.synthetic import generate_students
from node.store import accounts
from node.store import federation_tables as fed
from node.store import link_tables as link_schema
from node.store.database import Store
from node.store.record_upsert import upsert_students
from protocol.codec import unpack
from protocol.messages import Link, Requester, from_body
from protocol.records import validate_student

QUERY = {"first_name": "Guadalupe", "last_name_1": "Hernandez", "last_name_2": "Lopez",
         "birth_date": "2009-03-04", "sex": "F"}


def _open(path: Path, state: str, n: int = 0) -> Store:
    store = Store(path)
    store.call(fed.apply_migrations)
    store.call(accounts.apply_migrations)
    store.call(link_schema.apply_migrations)
    store.call(link_schema.apply_migrations)  # idempotent
    for name, role in (("admin1", "data_admin"), ("admin2", "data_admin"),
                       ("teacher", "staff")):
        store.call(accounts.add_user, name, role, "$argon2id$dummy")
    if n:
        students = [validate_student(r, owner_state=state)
                    for r in generate_students(state, n, seed=3)]
        store.call(lambda db: upsert_students(db, students))
    return store


@pytest.fixture
def fl(tmp_path: Path) -> Iterator[Store]:
    with _open(tmp_path / "fl.db", "FL", 2) as s:
        yield s


@pytest.fixture
def ca(tmp_path: Path) -> Iterator[Store]:
    with _open(tmp_path / "ca.db", "CA", 3) as s:
        yield s


def _sid(store: Store, i: int = 0) -> str:
    return str(store.call(lambda db: db.execute(
        "SELECT state_student_id FROM students ORDER BY state_student_id").fetchall()[i][0]))


def _cand(handle: str, outcome: str, score: int = 14000) -> dict[str, Any]:
    return {"handle": handle, "score": score, "outcome": outcome,
            "demographics": {"first_name": "Lupe", "last_name_1": "Hernandez",
                             "birth_date": "2009-03-24"},
            "agreements": {"given": "alias", "birth_date": "near"}}


def _find(store: Store, find_id: str, answers: dict[str, list[dict[str, Any]]],
          ) -> dict[str, list[dict[str, Any]]]:
    return {peer: store.call(lambda db, p=peer, c=cands: links.record_find_answer(
        db, peer=p, candidates=c, find_id=find_id, query=QUERY, requested_by="teacher"))
        for peer, cands in answers.items()}


def _sent(store: Store) -> list[tuple[str, Link, bytes]]:
    """Undelivered outbox items as (peer, Link, message id)."""
    rows = store.call(lambda db: fed.outbox_due(db, 2**62))
    out = []
    for r in rows:
        msg = from_body(r["type"], unpack(r["body"]))
        assert isinstance(msg, Link)
        out.append((r["peer"], msg, r["message_id"]))
    return out


def _deliver(sender: Store, receiver: Store, sender_id: str) -> list[tuple[int, bytes, str]]:
    out = []
    for _peer, msg, mid in _sent(sender):
        out.append(receiver.call(lambda db, m=msg, i=mid: links.receive(
            db, sender=sender_id, message_id=i, body_hash=b"h" * 32, link=m)))
        sender.call(lambda db: db.execute("UPDATE outbox SET delivered_ms = 1"))
    return out


@pytest.fixture
def ca_handle(ca: Store) -> str:
    sid = _sid(ca)
    return str(ca.call(lambda db: fed.handle_for(db, "FL", sid)))


def test_near_matches_land_on_the_worklist_once(fl: Store) -> None:
    answers = _find(fl, "f1", {"CA": [_cand("cahandle01", "near_match")],
                               "TX": [_cand("txhandle01", "match", 31000)]})
    assert answers["CA"][0]["worklist_item"] >= 1
    assert "worklist_item" not in answers["TX"][0]
    _find(fl, "f2", {"CA": [_cand("cahandle01", "near_match")],
                     "TX": [_cand("txhandle01", "match", 31000)]})
    (item,) = fl.call(links.worklist)
    assert item["peer"] == "CA" and item["query"]["first_name"] == "Guadalupe"
    assert item["agreements"]["given"] == "alias" and item["requested_by"] == "teacher"
    detail = fl.call(links.worklist_item, item["id"])
    assert detail["anchors"] == [{"peer": "TX", "handle": "txhandle01", "score": 31000,
                                  "candidate": _cand("txhandle01", "match")["demographics"]}]


def test_two_person_rule_and_link_reaches_the_other_state(fl: Store, ca: Store,
                                                          ca_handle: str) -> None:
    _find(fl, "f1", {"CA": [_cand(ca_handle, "near_match")],
                     "TX": [_cand("txhandle01", "match", 31000)]})
    (item,) = fl.call(links.worklist)
    with pytest.raises(Forbidden, match="data_admin"):
        fl.call(links.confirm, item["id"], "teacher")
    with pytest.raises(Forbidden, match="no user"):
        fl.call(links.confirm, item["id"], "nobody")
    link = fl.call(links.confirm, item["id"], "admin1")
    assert link["status"] == "pending" and link["anchor_peer"] == "TX"
    assert link["ref"].startswith("link-")
    with pytest.raises(Conflict, match="already confirmed"):
        fl.call(links.confirm, item["id"], "admin2")
    with pytest.raises(Forbidden, match="two-person rule"):
        fl.call(links.validate, link["id"], "admin1")
    assert fl.call(links.get_link, link["id"])["status"] == "pending"
    assert _sent(fl) == []  # nothing leaves before the second admin
    # a pending link is not yet used by finds
    again = _find(fl, "f2", {"CA": [_cand(ca_handle, "near_match")]})["CA"][0]
    assert again["outcome"] == "near_match" and again["link_status"] == "pending"

    active = fl.call(lambda db: links.validate(db, link["id"], "admin2", school="FL MEP"))
    assert active["status"] == "active" and active["validated_by"] == "admin2"
    assert [e["event"] for e in active["events"]] == ["confirmed", "validated"]
    ((peer, msg, _mid),) = _sent(fl)
    assert peer == "CA" and msg.action == "assert"
    assert msg.my_record == link["ref"] and msg.your_record == ca_handle
    assert msg.asserted_by == Requester("admin2", "data_admin", "FL MEP")

    # the next find uses the link: CA's near match becomes a linked match, TX too
    after = _find(fl, "f3", {"CA": [_cand(ca_handle, "near_match")],
                             "TX": [_cand("txhandle01", "match", 31000)]})
    assert after["CA"][0]["outcome"] == "match" and after["CA"][0]["linked"] is True
    assert after["CA"][0]["matcher_outcome"] == "near_match"
    assert after["TX"][0]["linked"] is True
    assert links.members(active) == [("CA", ca_handle), ("TX", "txhandle01")]

    # CA receives it: pending until one of CA's admins validates
    ((_ms, _h, note),) = _deliver(fl, ca, "FL")
    assert "pending" in note
    (incoming,) = ca.call(links.list_links)
    assert incoming["status"] == "pending_remote" and incoming["local_record"] == _sid(ca)
    assert incoming["asserted_by"] == "FL:admin2"
    done = ca.call(links.validate, incoming["id"], "admin1")
    assert done["status"] == "active" and done["validated_by"] == "admin1"


def test_inbound_link_is_idempotent_and_checked(fl: Store, ca: Store, ca_handle: str) -> None:
    msg = Link("link-abcdef0123", ca_handle, Requester("admin9", "data_admin", "FL"))
    first = ca.call(lambda db: links.receive(db, sender="FL", message_id=b"m" * 16,
                                             body_hash=b"a" * 32, link=msg))
    again = ca.call(lambda db: links.receive(db, sender="FL", message_id=b"m" * 16,
                                             body_hash=b"b" * 32, link=msg))
    assert again == first
    assert len(ca.call(links.list_links)) == 1
    # same link in a new message: no second row
    third = ca.call(lambda db: links.receive(db, sender="FL", message_id=b"n" * 16,
                                             body_hash=b"c" * 32, link=msg))
    assert "already" in third[2] and len(ca.call(links.list_links)) == 1
    # a handle given to another state, or a made-up one, is refused and nothing is stored
    bad = Link("link-abcdef0123", "notahandle0", Requester("admin9", "data_admin", "FL"))
    with pytest.raises(NotFound, match="not a handle"):
        ca.call(lambda db: links.receive(db, sender="FL", message_id=b"x" * 16,
                                         body_hash=b"d" * 32, link=bad))
    with pytest.raises(NotFound):
        ca.call(lambda db: links.receive(db, sender="TX", message_id=b"y" * 16,
                                         body_hash=b"d" * 32, link=msg))
    staff = Link("link-abcdef0123", ca_handle, Requester("t", "staff", "FL"))
    with pytest.raises(Forbidden, match="data_admin"):
        ca.call(lambda db: links.receive(db, sender="FL", message_id=b"z" * 16,
                                         body_hash=b"d" * 32, link=staff))
    assert ca.call(lambda db: links.stored_receipt(db, "FL", b"x" * 16)) is None


def test_revoke_travels_both_ways(fl: Store, ca: Store, ca_handle: str) -> None:
    _find(fl, "f1", {"CA": [_cand(ca_handle, "near_match")]})
    (item,) = fl.call(links.worklist)
    mine_sid = _sid(fl)
    link = fl.call(lambda db: links.confirm(db, item["id"], "admin1", local_record=mine_sid))
    assert link["anchor_peer"] is None and link["local_record"] == mine_sid
    assert link["ref"] == fl.call(lambda db: fed.handle_for(db, "CA", mine_sid))
    fl.call(links.validate, link["id"], "admin2")
    _deliver(fl, ca, "FL")
    (incoming,) = ca.call(links.list_links)
    ca.call(links.validate, incoming["id"], "admin2")

    # CA revokes: FL's link ends too
    revoked = ca.call(lambda db: links.revoke(db, incoming["id"], "admin1", "twin sister"))
    assert revoked["status"] == "revoked" and revoked["reason"] == "twin sister"
    ((_ms, _h, note),) = _deliver(ca, fl, "CA")
    assert "revoked" in note
    mine = fl.call(links.get_link, link["id"])
    assert mine["status"] == "revoked" and mine["ended_by"] == "CA:admin1"
    assert mine["events"][-1]["event"] == "remote_revoked"
    with pytest.raises(Conflict, match="already revoked"):
        fl.call(links.revoke, link["id"], "admin1")
    # the candidate is no longer linked
    cand = _find(fl, "f2", {"CA": [_cand(ca_handle, "near_match")]})["CA"][0]
    assert "linked" not in cand and cand["worklist_status"] == "confirmed"


def test_reject_and_pending_revoke_send_nothing(fl: Store, ca: Store, ca_handle: str) -> None:
    _find(fl, "f1", {"CA": [_cand(ca_handle, "near_match"), _cand("othercand1", "near_match")]})
    first, second = sorted(fl.call(links.worklist), key=lambda i: i["id"])
    rejected = fl.call(lambda db: links.reject_item(db, second["id"], "admin1", "sibling"))
    assert rejected["status"] == "rejected"
    with pytest.raises(Conflict):
        fl.call(links.reject_item, second["id"], "admin2")
    with pytest.raises(NotFound, match="no local student"):
        fl.call(lambda db: links.confirm(db, first["id"], "admin1", local_record="nosuch"))
    link = fl.call(links.confirm, first["id"], "admin1")
    fl.call(links.revoke, link["id"], "admin2", "changed my mind")
    assert _sent(fl) == []
    with pytest.raises(Conflict, match="only a pending"):
        fl.call(links.validate, link["id"], "admin2")
    with pytest.raises(NotFound):
        fl.call(links.confirm, 999, "admin1")


def test_rejecting_a_peers_link_tells_the_peer(fl: Store, ca: Store, ca_handle: str) -> None:
    _find(fl, "f1", {"CA": [_cand(ca_handle, "near_match")]})
    (item,) = fl.call(links.worklist)
    link = fl.call(links.confirm, item["id"], "admin1")
    fl.call(links.validate, link["id"], "admin2")
    _deliver(fl, ca, "FL")
    (incoming,) = ca.call(links.list_links)
    ca.call(lambda db: links.reject_link(db, incoming["id"], "admin1", "different child"))
    assert ca.call(links.get_link, incoming["id"])["status"] == "rejected"
    _deliver(ca, fl, "CA")
    assert fl.call(links.get_link, link["id"])["status"] == "revoked"
    # an unknown revoke is acknowledged, nothing to undo
    ghost = Link("link-000000000", "zzzzzzzzzz", Requester("a", "data_admin", "CA"),
                 action="revoke")
    note = fl.call(lambda db: links.receive(db, sender="CA", message_id=b"g" * 16,
                                            body_hash=b"g" * 32, link=ghost))[2]
    assert note == "no live link to revoke"


# ---- the worklist stays small and useful (issue 13 item 5) ------------------------------

BROAD = {"first_name": "Maria", "last_name_1": "Lopez"}


def _answer(store: Store, find_id: str, query: dict[str, Any], cands: list[dict[str, Any]],
            who: str = "teacher") -> list[dict[str, Any]]:
    return store.call(lambda db: links.record_find_answer(
        db, peer="CA", candidates=cands, find_id=find_id, query=query, requested_by=who))


def test_a_broad_find_queues_nothing_but_can_be_asked_for(fl: Store) -> None:
    eight = [_cand(f"cahandle{i:02d}", "near_match") for i in range(8)]  # a twin brother too
    shown = _answer(fl, "f1", BROAD, eight)
    assert {c["worklist_status"] for c in shown} == {"held"}
    assert fl.call(links.worklist) == []  # no birth date, no id: nothing queued
    assert fl.call(lambda db: links.worklist(db, status=None)) == []
    # one click on one of them queues it, asked by whoever clicked, now
    item, already = fl.call(links.ask_review, shown[3]["worklist_item"], "sam")
    assert not already and item["status"] == "open" and item["asked_by"] == "sam"
    assert [i["handle"] for i in fl.call(links.worklist)] == ["cahandle03"]
    # asking again, or for the same candidate from another search: not queued twice
    again, already = fl.call(links.ask_review, shown[3]["worklist_item"], "ana")
    assert already and again["id"] == item["id"] and again["asked_by"] == "sam"
    other = _answer(fl, "f2", {**BROAD, "sex": "F"}, [_cand("cahandle03", "near_match")])
    assert other[0]["worklist_item"] == item["id"] and other[0]["worklist_status"] == "open"
    assert len(fl.call(links.worklist)) == 1


def test_a_find_with_a_birth_date_or_an_id_queues_its_near_matches(fl: Store) -> None:
    dated = _answer(fl, "f1", {**BROAD, "birth_date": "2012-05-31"},
                    [_cand("cahandle01", "near_match")])
    by_id = _answer(fl, "f2", {"state_student_id": "CA1"}, [_cand("cahandle02", "near_match")])
    assert dated[0]["worklist_status"] == by_id[0]["worklist_status"] == "open"
    # a broad find that met a held near match earlier queues it once it has a birth date
    held = _answer(fl, "f3", BROAD, [_cand("cahandle03", "near_match")])
    assert held[0]["worklist_status"] == "held"
    queued = _answer(fl, "f4", BROAD | {"birth_date": "2012-05-31"},
                     [_cand("cahandle03", "near_match")], who="ana")
    assert queued[0]["worklist_status"] == "open"
    items = fl.call(links.worklist)
    assert [i["handle"] for i in items] == ["cahandle01", "cahandle02", "cahandle03"]
    assert [i["asked_by"] for i in items] == ["teacher", "teacher", "ana"]


def test_the_worklist_is_oldest_first(fl: Store) -> None:
    from node import clock

    for n, handle in enumerate(("cahandle09", "cahandle01", "cahandle05")):
        with clock.frozen_at(1_800_000_000 - 3600 * (3 - n)):
            _answer(fl, f"f{n}", {**BROAD, "birth_date": "2012-05-31"},
                    [_cand(handle, "near_match", score=9000 + n)])
    items = fl.call(links.worklist)
    assert [i["handle"] for i in items] == ["cahandle09", "cahandle01", "cahandle05"]
    assert items[0]["asked_ms"] < items[1]["asked_ms"] < items[2]["asked_ms"]


def test_asking_about_a_decided_or_unknown_near_match(fl: Store) -> None:
    shown = _answer(fl, "f1", BROAD, [_cand("cahandle01", "near_match")])
    item_id = shown[0]["worklist_item"]
    fl.call(links.reject_item, item_id, "admin1", "a brother")  # held: an admin may decide
    with pytest.raises(Conflict, match=r"already checked this record: not the same child"):
        fl.call(links.ask_review, item_id, "sam")
    with pytest.raises(NotFound):
        fl.call(links.ask_review, 999, "sam")


def test_the_migration_backfills_a_previous_release_database(tmp_path: Path) -> None:
    """A database made by the release before m002: its open items of broad finds are held,
    a candidate open twice keeps its oldest item, who asked is who searched."""
    import json

    from sqlite_utils import Database

    db = Database(tmp_path / "old.db")
    link_schema.migrations.apply(db, stop_before="m002_worklist_requests")
    rows = [("CA", "h1", {"first_name": "Maria", "last_name_1": "Lopez"}, "open"),
            ("CA", "h2", {**QUERY}, "open"),
            ("CA", "h2", {**QUERY, "sex": "M"}, "open"),
            ("CA", "h3", {"first_name": "Ana", "last_name_1": "Ruiz"}, "rejected")]
    for n, (peer, handle, query, status) in enumerate(rows):
        db.execute("INSERT INTO worklist (find_id, peer, handle, query_key, score, agreements, "
                   "candidate, query, requested_by, created_ms, last_seen_ms, status) VALUES "
                   "(?, ?, ?, ?, 9000, '{}', '{}', ?, 'teacher', ?, ?, ?)",
                   [f"f{n}", peer, handle, links.query_key(query), json.dumps(query),
                    1000 + n, 1000 + n, status])
    db.execute("INSERT INTO find_matches VALUES ('f1', 'TX', 'tx1', 30000, 1)")
    link_schema.apply_migrations(db)
    got = {(r[0], r[1]): r[2:] for r in db.execute(
        "SELECT handle, id, status, asked_by, asked_ms FROM worklist ORDER BY id")}
    assert got == {("h1", 1): ("held", None, None), ("h2", 2): ("open", "teacher", 1001),
                   ("h2", 3): ("held", None, None), ("h3", 4): ("rejected", "teacher", 1003)}
    assert [i["id"] for i in links.worklist(db)] == [2]
    assert links.worklist_item(db, 2)["anchors"] == [
        {"peer": "TX", "handle": "tx1", "score": 30000, "candidate": {}}]
    with pytest.raises(Exception, match="UNIQUE"):  # never two open items of one candidate
        db.execute("UPDATE worklist SET status = 'open' WHERE id = 3")
