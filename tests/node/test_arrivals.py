"""Arrivals as a work queue (issue 13 item 8): received move notices acknowledged,
assigned, handled with who and when, filtered by status; migration
statenode.federation m004 on a database made by the previous release; the arrivals
page's bad input; the sender's contact from the config."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from node import clock
from node.control.api import sender_contact
from node.errors import BadRequest, Conflict, NotFound
from node.store import accounts
from node.store import federation_tables as fed
from node.store.database import Store
from tests.node.test_web_security import Web, token_of, web  # noqa: F401

NOTICE = {"student": {"first_name": "Ana", "last_name_1": "Ruiz", "birth_date": "2012-05-31"},
          "sent_by": {"user_id": "tina", "role": "staff", "school": "TX MEP"},
          "destination": "Fresno", "contact": "tina, TX MEP, +1 512 555 0100"}


def _receive(db: Database, n: int, at_ms: int = 1000) -> int:
    fed.inbox_add(db, sender="TX", message_id=bytes([n]) * 16, body_hash=b"h" * 32,
                  notice=NOTICE, received_ms=at_ms + n)
    return int(db.execute("SELECT max(id) FROM inbox").fetchone()[0])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "node.db") as s:
        s.call(fed.apply_migrations)
        s.call(accounts.apply_migrations)
        for name, role in (("sam", "staff"), ("dana", "data_admin"), ("audrey", "auditor")):
            s.call(accounts.add_user, name, role, "$argon2id$dummy")
        yield s


def test_a_notice_is_acknowledged_assigned_and_handled(store: Store) -> None:
    first, second, third = (store.call(_receive, n) for n in (1, 2, 3))
    with clock.frozen_at(1_800_000_000):
        item = store.call(fed.inbox_acknowledge, first, "sam")
    assert (item["status"], item["acknowledged_by"]) == ("acknowledged", "sam")
    assert item["acknowledged_ms"] == 1_800_000_000_000
    with pytest.raises(Conflict, match="already acknowledged by sam"):
        store.call(fed.inbox_acknowledge, first, "dana")
    # assigning a new notice acknowledges it by the same stroke
    item = store.call(fed.inbox_assign, second, "sam", "DANA")
    assert (item["status"], item["assigned_to"], item["assigned_by"],
            item["acknowledged_by"]) == ("acknowledged", "dana", "sam", "sam")
    item = store.call(fed.inbox_handle, second, "dana", "enrolled in grade 6")
    assert (item["status"], item["handled_by"], item["handled_note"]) == (
        "handled", "dana", "enrolled in grade 6")
    with pytest.raises(Conflict, match="already handled by dana"):
        store.call(fed.inbox_handle, second, "sam")
    with pytest.raises(Conflict, match="already handled"):
        store.call(fed.inbox_assign, second, "sam", "sam")
    # filtered by status
    ids = {f: [r["id"] for r in store.call(lambda db, f=f: fed.inbox_list(db, status=f))]
           for f in fed.INBOX_FILTERS}
    assert ids == {"open": [third, first], "new": [third], "acknowledged": [first],
                   "handled": [second], "all": [third, second, first]}
    assert store.call(fed.inbox_counts) == {"open": 2, "new": 1, "acknowledged": 1,
                                            "handled": 1, "all": 3}


def test_bad_queue_requests_name_what_is_wrong(store: Store) -> None:
    item = store.call(_receive, 1)
    for assignee in ("nobody", "audrey", ""):  # unknown, not allowed to read records, empty
        with pytest.raises(BadRequest, match=r"assignee: .* is not an active user"):
            store.call(fed.inbox_assign, item, "sam", assignee)
    store.call(accounts.set_status, "dana", "disabled")
    with pytest.raises(BadRequest, match="assignee: 'dana'"):
        store.call(fed.inbox_assign, item, "sam", "dana")
    with pytest.raises(NotFound, match="no move notice 99"):
        store.call(fed.inbox_handle, 99, "sam")
    with pytest.raises(BadRequest, match="status: must be one of open, new"):
        store.call(lambda db: fed.inbox_list(db, status="done"))
    assert store.call(fed.inbox_item, item)["status"] == "new"  # nothing half-written


def test_the_migration_keeps_a_previous_release_inbox(tmp_path: Path) -> None:
    db = Database(tmp_path / "old.db")
    fed.migrations.apply(db, stop_before="m004_arrivals_queue")
    db.execute("INSERT INTO inbox (sender, message_id, received_ms, body_hash, notice) VALUES "
               "('TX', ?, 5, ?, ?)", [b"m" * 16, b"h" * 32, json.dumps(NOTICE)])
    fed.apply_migrations(db)
    fed.apply_migrations(db)  # idempotent
    (item,) = fed.inbox_list(db, status="open")
    assert item["status"] == "new" and item["notice"] == NOTICE
    assert item["assigned_to"] is None and item["handled_by"] is None
    assert fed.inbox_acknowledge(db, item["id"], "sam")["status"] == "acknowledged"


def test_the_senders_contact_comes_from_the_config(tmp_path: Path) -> None:
    from config import load_config
    from node.ops.node_folder import write_node

    path = write_node(tmp_path / "tx", state="TX", name="Texas MEP",
                      endpoint="http://127.0.0.1:0")
    text = path.read_text().replace('name = "Texas MEP"', 'name = "Texas MEP"\n'
                                    'contact_phone = "+1 512 555 0100"\n'
                                    'contact_email = "records@tea.example"')
    path.write_text(text)
    cfg = load_config(path)
    assert sender_contact(cfg, "tina") == "tina, Texas MEP, +1 512 555 0100, records@tea.example"
    assert sender_contact(cfg) == "Texas MEP, +1 512 555 0100, records@tea.example"


async def test_the_arrivals_page_refuses_bad_input(web: Web) -> None:  # noqa: F811
    client = await web.login("sam")
    assert (await client.get("/moves/inbox", params={"status": "done"})).status == 400
    html = await (await client.get("/moves/inbox")).text()
    assert "No move notices have arrived." in html and "Open (0)" in html
    token = token_of(html)
    resp = await client.post("/moves/inbox/1/acknowledge", data={"csrf_token": token})
    assert resp.status == 404 and "no move notice 1" in await resp.text()
    resp = await client.post("/moves/inbox/1/shred", data={"csrf_token": token})
    assert resp.status == 400 and "unknown action" in await resp.text()
    assert (await client.post("/moves/inbox/x/handle", data={"csrf_token": token})
            ).status == 404
    with Store(web.store_path) as store:
        store.call(fed.apply_migrations)
        item = store.call(_receive, 1)
    resp = await client.post(f"/moves/inbox/{item}/assign",
                             data={"csrf_token": token, "assignee": "otto"})
    assert resp.status == 400 and "assignee: &#39;otto&#39; is not an active user" in (
        await resp.text())
    resp = await client.post(f"/moves/inbox/{item}/assign", allow_redirects=False,
                             data={"csrf_token": token, "assignee": "dana",
                                   "status": "new"})
    assert resp.status == 303 and resp.headers["Location"] == (
        "/moves/inbox?status=new&done=assign")
    auditor = await web.login("audrey")
    assert (await auditor.get("/moves/inbox")).status == 403
