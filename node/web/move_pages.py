"""Move notice pages: send a notice from a record, the inbox of expected arrivals, the outbox.

DESIGN.md "Messages" (`move_notice`: the child's minimal demographics, expected arrival,
destination, contact, comment; answered with a signed receipt) and "Scheduled jobs"
(outbox delivery with backoff); MSIX.md §1.3 (move notices). `POST /moves` (from the
consolidated record's form) queues the notice in the outbox with
`outbox.queue_message` and runs the delivery job at once; a peer that is down gets it
later; its contact defaults to the sender, the agency and the phone and email of the
config (`node.contact_phone`, `node.contact_email`). `GET /moves/inbox` is the arrivals
work queue: received notices filtered by status (`?status=open` by default: new and
acknowledged; `new`, `acknowledged`, `handled`, `all`), each acknowledged, assigned to a
user or marked handled with `POST /moves/inbox/{id}/{action}` (who and when are kept;
`node.store.federation_tables`). Each shown notice is recorded with
`accounts.record_view`, purpose `move_notice`. `GET /moves/outbox` shows each sent
notice's delivery state (delivered with receipt, or waiting with attempts and last error).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from aiohttp import web

from node import clock
from node.appkeys import SERVICES
from node.errors import BadRequest, NodeError
from node.federation.answers import DEMOGRAPHIC_FIELDS
from node.federation.outbox import queue_message
from node.http_inputs import path_id
from node.store import accounts
from node.store import federation_tables as fed
from node.web.i18n import N_
from node.web.local_pages import RECORD_ROLES
from node.web.people_names import label, name_people
from node.web.search_pages import requester_for
from node.web.site import add_nav, render, requires, run_db
from protocol.codec import Reader
from protocol.errors import ProtocolError
from protocol.messages import DATE_RE, SEXES, Demographics, MoveNotice

CANNOT_SEND = N_("The notice cannot be sent: %(why)s")


def _text(form: Any, key: str, limit: int = 200) -> str:
    return str(form.get(key, "")).strip()[:limit]


def notice_from_form(form: Any, sender: Any, peers: list[str]) -> tuple[str, MoveNotice]:
    """(destination state, notice) from the record page's form; BadRequest names the field."""
    to = _text(form, "to", 2).upper()
    if to not in peers:
        raise BadRequest("Choose the state the child is moving to.")
    values: dict[str, Any] = {}
    for key in DEMOGRAPHIC_FIELDS:
        value = _text(form, f"d_{key}", 100)
        if value:
            values[key] = value
    if "multiple_birth" in values:
        values["multiple_birth"] = values["multiple_birth"] == "True"
    if not values.get("first_name") or not values.get("last_name_1"):
        raise BadRequest("The notice needs the child's given name and first surname.")
    if values.get("sex") not in (None, *SEXES):
        raise BadRequest("Sex must be F, M or X.")
    if "birth_date" in values and not _is_date(values["birth_date"]):
        raise BadRequest("Birth date must be a date like 2012-05-31.")
    expected = _text(form, "expected", 10) or None
    if expected is not None:
        try:
            date.fromisoformat(expected)
        except ValueError:
            raise BadRequest("Expected arrival must be a date like 2025-09-01.") from None
    destination = _text(form, "destination")
    if not destination:
        raise BadRequest("Say where the child is going (town, school or project).")
    contact = _text(form, "contact") or sender.school
    if not contact.strip():
        raise BadRequest("contact: say who the receiving school should contact.")
    comment = _text(form, "comment", 1000) or None
    notice = MoveNotice(Demographics(**values), sender, destination, contact, expected,
                        comment, None)
    try:  # read back as the receiving state will: never queue what it must refuse
        MoveNotice.read(Reader(notice.to_body(), "notice"))
    except ProtocolError as exc:
        raise BadRequest(CANNOT_SEND.replace("%(why)s", str(exc))) from None
    return to, notice


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return DATE_RE.fullmatch(text) is not None


async def _kick_outbox(app: web.Application) -> None:
    from node.appkeys import JOBS
    jobs = app.get(JOBS)
    if jobs is not None and "outbox" in jobs.funcs:
        await jobs.run_now("outbox")


@requires(*RECORD_ROLES)
async def send_notice(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    form = await request.post()
    try:
        peers = [e.node_id for e in services.directory.peers()]
    except NodeError:
        peers = []
    to, notice = notice_from_form(form, requester_for(request), peers)
    name = " ".join(filter(None, (notice.student.first_name, notice.student.last_name_1,
                                  notice.student.last_name_2)))
    summary = {"student": name, "birth_date": notice.student.birth_date, "to": to,
               "expected": notice.expected_arrival, "destination": notice.destination,
               "sent_by": notice.sent_by.user_id,
               "local": [str(s)[:128] for s in form.getall("local", [])][:5]}
    item = await run_db(request, lambda db: queue_message(
        db, peer=to, message=notice, purpose="move_notice", summary=summary))
    await _kick_outbox(request.app)
    raise web.HTTPSeeOther(f"/moves/outbox?sent={item}")


def _inbox(db: Any, status: str) -> tuple[list[dict[str, Any]], dict[str, int],
                                         list[tuple[str, str]]]:
    rows = fed.inbox_list(db, status=status)
    people = [(u.username, f"{label(u)} ({accounts.ROLE_LABELS[u.role]})")
              for u in accounts.list_users(db)
              if u.status == "active" and u.role in RECORD_ROLES]
    for r in rows:
        n = r["notice"]
        s = n.get("student", {})
        r["name"] = " ".join(filter(None, (s.get("first_name"), s.get("middle_name"),
                                           s.get("last_name_1"), s.get("last_name_2"))))
        r["student"], r["sent_by"] = s, n.get("sent_by", {})
    return rows, fed.inbox_counts(db), people


STATUS_LABELS = {"open": "Open", "new": "New", "acknowledged": "Acknowledged",
                 "handled": "Handled", "all": "All"}
INBOX_DONE = {"acknowledge": "Acknowledged.", "assign": "Assigned.",
              "handle": "Marked handled."}


async def _inbox_page(request: web.Request, status: str, *, error: str = "",
                      code: int = 200) -> web.Response:
    rows, counts, people = await run_db(request, _inbox, status)
    who = requester_for(request)
    for r in rows:
        await run_db(request, accounts.record_view, who.user_id, who.role, "move_notice",
                     [f"notice-{r['id']}"], r["sender"], what="move_notice")
    await name_people(request, rows, "acknowledged_by", "assigned_by", "handled_by")
    today = date.today().isoformat()
    return render(request, "moves_inbox.html", {
        "rows": rows, "today": today, "status": status, "counts": counts, "people": people,
        "filters": STATUS_LABELS, "me": who.user_id, "error": error,
        "done": INBOX_DONE.get(request.query.get("done", ""), "")},
        status=code, title="Arrivals: move notices received")


def _status_of(value: str) -> str:
    if value not in fed.INBOX_FILTERS:
        raise BadRequest(f"status: must be one of {', '.join(fed.INBOX_FILTERS)} "
                         f"(got {value[:20]!r})")
    return value


@requires(*RECORD_ROLES)
async def inbox(request: web.Request) -> web.StreamResponse:
    return await _inbox_page(request, _status_of(request.query.get("status", "open")))


@requires(*RECORD_ROLES)
async def inbox_action(request: web.Request) -> web.StreamResponse:
    """Acknowledge, assign or mark handled one received notice (who and when are kept)."""
    item_id, action = path_id(request.match_info["id"]), request.match_info["action"]
    form = await request.post()
    back = str(form.get("status", "open"))
    back = back if back in fed.INBOX_FILTERS else "open"
    me = requester_for(request).user_id
    actions = {
        "acknowledge": lambda db: fed.inbox_acknowledge(db, item_id, me),
        "assign": lambda db: fed.inbox_assign(db, item_id, me,
                                              _text(form, "assignee", 100)),
        "handle": lambda db: fed.inbox_handle(db, item_id, me, _text(form, "note", 500)),
    }
    if action not in actions:
        raise BadRequest(f"unknown action {action[:20]!r} (acknowledge, assign, handle)")
    try:
        await run_db(request, actions[action])
    except NodeError as exc:
        return await _inbox_page(request, back, error=str(exc), code=exc.status)
    raise web.HTTPSeeOther(f"/moves/inbox?status={back}&done={action}")


def _outbox(db: Any) -> list[dict[str, Any]]:
    rows = [r for r in fed.outbox_list(db) if r["type"] == "move_notice"]
    now = clock.now_ms()
    for r in rows:
        if r["delivered_ms"]:
            r["state"] = "delivered"
        elif r["attempts"] == 0:
            r["state"] = "queued"
        else:
            r["state"] = "retrying"
        r["retry_in_s"] = max(0, round((r["next_attempt_ms"] - now) / 1000))
    return rows


@requires(*RECORD_ROLES)
async def outbox(request: web.Request) -> web.StreamResponse:
    rows = await run_db(request, _outbox)
    who = requester_for(request)
    by_peer: dict[str, list[str]] = {}
    for r in rows:
        by_peer.setdefault(r["peer"], []).append(str(r["summary"].get("student", "")))
    for ids in by_peer.values():  # our own students' demographics, shown again
        await run_db(request, accounts.record_view, who.user_id, who.role, "move_notice",
                     ids, request.app[SERVICES].node_id, what="move_notice")
    await name_people(request, [r["summary"] for r in rows], "sent_by")
    sent = request.query.get("sent", "")
    return render(request, "moves_outbox.html",
                  {"rows": rows, "sent": int(sent) if re.fullmatch(r"[0-9]{1,8}", sent) else None},
                  title="Move notices sent")


def setup(app: web.Application) -> None:
    add_nav(app, "/moves/inbox", "Arrivals", *RECORD_ROLES)
    add_nav(app, "/moves/outbox", "Notices sent", *RECORD_ROLES)
    app.router.add_post("/moves", send_notice, name="moves_send")
    app.router.add_get("/moves/inbox", inbox, name="moves_inbox")
    app.router.add_post("/moves/inbox/{id}/{action}", inbox_action, name="moves_inbox_action")
    app.router.add_get("/moves/outbox", outbox, name="moves_outbox")
