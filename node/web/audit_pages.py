"""Auditor pages: per-student disclosure history, the exchange log, checkpoints, verification.

DESIGN.md "Audit log" (every exchange is logged; checkpoints signed and cosigned; the
per-student disclosure history comes from the same log) and "Web UI"; FERPA §99.32
(record of each disclosure). Pages (auditor role only):

- `GET /audit`: log size, latest checkpoint and its cosigners, recent checkpoints,
  witness alerts, and `POST /audit/verify` (export the log and run the offline
  verification now, via `node.audit.routes.verify_now`);
- `GET /audit/log?page=N`: the exchange log, newest first, 50 entries a page (metadata
  only: time, direction, peer, type, purpose, user and role, how many students);
- `GET /audit/student?student=ID`: every logged exchange that disclosed this node's
  student (`ExchangeLog.history`) and every recorded view of that id by users of this
  node (`accounts.views_of`).

The auditor JSON API of `node.audit.routes` is mounted under `/audit/v1/` behind the same
role check. Log pages read the log file on a separate read-only SQLite connection (WAL
lets it read beside the node's writer), like `node.control.metrics.log_facts`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from aiohttp import web

from node.appkeys import CONFIG, LOG
from node.audit import routes as audit_routes
from node.store import accounts
from node.web.people_names import name_people
from node.web.site import add_nav, render, requires, run_db

AUDITOR = "auditor"
PAGE_SIZE = 50


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def log_page(path: Path, page: int, peer: str = "") -> tuple[list[dict[str, Any]], int]:
    """One page of log entries (newest first) and the number of matching entries."""
    if not path.exists():
        return [], 0
    conn = _ro(path)
    try:
        total = int(conn.execute("SELECT count(*) FROM leaves WHERE (? = '' OR peer = ?)",
                                 [peer, peer]).fetchone()[0])
        rows = conn.execute(
            "SELECT idx, time_ms, direction, peer, type, message_id, reply_to, purpose, "
            "user_id, user_role, (SELECT count(*) FROM leaf_students s WHERE s.idx = l.idx) "
            "FROM leaves l WHERE (? = '' OR peer = ?) ORDER BY idx DESC LIMIT ? OFFSET ?",
            [peer, peer, PAGE_SIZE, page * PAGE_SIZE]).fetchall()
    finally:
        conn.close()
    keys = ("index", "time_ms", "direction", "peer", "type", "message_id", "reply_to",
            "purpose", "user_id", "user_role", "students")
    out = []
    for r in rows:
        item = dict(zip(keys, r, strict=True))
        item["message_id"] = bytes(item["message_id"]).hex()
        item["reply_to"] = bytes(item["reply_to"]).hex() if item["reply_to"] else ""
        out.append(item)
    return out, total


def checkpoints(path: Path, limit: int = 20) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    conn = _ro(path)
    try:
        rows = conn.execute("SELECT size, root, signed_ms, cosigners FROM checkpoints "
                            "ORDER BY size DESC LIMIT ?", [limit]).fetchall()
    finally:
        conn.close()
    return [{"size": r[0], "root": base64.b64encode(bytes(r[1])).decode(), "signed_ms": r[2],
             "cosigners": [c for c in str(r[3] or "").replace(",", " ").split() if c]}
            for r in rows]


_SMALL_INT = re.compile(r"[0-9]{1,8}")


def _int(value: str, default: int = 0) -> int:
    return int(value) if _SMALL_INT.fullmatch(value) else default


@requires(AUDITOR)
async def overview(request: web.Request) -> web.StreamResponse:
    log = request.app[LOG]
    path = request.app[CONFIG].storage.exchange_log
    note = await asyncio.to_thread(log.latest_checkpoint)
    size = await asyncio.to_thread(lambda: log.size)
    alerts = await asyncio.to_thread(log.alerts)
    recent = await asyncio.to_thread(checkpoints, path)
    return render(request, "audit.html", {
        "size": size, "note": note, "checkpoints": recent, "alerts": alerts,
        "result": None}, title="Exchange log and checkpoints")


@requires(AUDITOR)
async def verify(request: web.Request) -> web.StreamResponse:
    """Run the offline verification on an export of the log now, and show the result."""
    log = request.app[LOG]
    path = request.app[CONFIG].storage.exchange_log
    response = await audit_routes.verify_now(request)
    result = json.loads(response.text or "{}")
    note = await asyncio.to_thread(log.latest_checkpoint)
    return render(request, "audit.html", {
        "size": await asyncio.to_thread(lambda: log.size), "note": note,
        "checkpoints": await asyncio.to_thread(checkpoints, path),
        "alerts": await asyncio.to_thread(log.alerts), "result": result},
        title="Exchange log and checkpoints")


@requires(AUDITOR)
async def log_list(request: web.Request) -> web.StreamResponse:
    page = _int(request.query.get("page", "0"))
    peer = request.query.get("peer", "").upper()[:2]
    peer = peer if peer.isalpha() else ""
    rows, total = await asyncio.to_thread(log_page, request.app[CONFIG].storage.exchange_log,
                                          page, peer)
    # our own users sent the requests that go out (not the replies): name them
    await name_people(request, [r for r in rows if r["direction"] == "out"
                                and not r["reply_to"]], "user_id")
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, "audit_log.html", {
        "rows": rows, "total": total, "page": page, "pages": pages, "peer": peer},
        title="Exchange log")


@requires(AUDITOR)
async def student_history(request: web.Request) -> web.StreamResponse:
    student = request.query.get("student", "").strip()[:128]
    disclosures: list[dict[str, Any]] = []
    views: list[dict[str, Any]] = []
    if student:
        disclosures = await asyncio.to_thread(request.app[LOG].history, student)
        views = await run_db(request, accounts.views_of, student)
        await name_people(request, views, "username")
    return render(request, "audit_student.html", {
        "student": student, "disclosures": list(reversed(disclosures)), "views": views},
        title="Disclosure history")


def setup(app: web.Application) -> None:
    add_nav(app, "/audit/student", "Disclosure history", AUDITOR)
    add_nav(app, "/audit/log", "Exchange log", AUDITOR)
    add_nav(app, "/audit", "Checkpoints", AUDITOR)
    app.router.add_get("/audit", overview, name="audit")
    app.router.add_post("/audit/verify", verify, name="audit_verify")
    app.router.add_get("/audit/log", log_list, name="audit_log")
    app.router.add_get("/audit/student", student_history, name="audit_student")
    guard = requires(AUDITOR)
    for path, handler in (("proof", audit_routes.proof),
                          ("consistency", audit_routes.consistency),
                          ("history", audit_routes.history), ("alerts", audit_routes.alerts)):
        app.router.add_get(f"/audit/v1/{path}", guard(handler))
    app.router.add_post("/audit/v1/verify", guard(audit_routes.verify_now))
