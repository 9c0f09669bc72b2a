"""Consolidated record page: one child across every state that holds a part of the record.

DESIGN.md "Web UI" (consolidated record: enrollment timeline across states, course history
with credit totals, assessments, alert flags, print view for placement) and "Student
records" (read-only snapshots with provenance: owner, version, signature); MSIX.md §1.3.

`GET /record?purpose=P&r=STATE:HANDLE&…&local=SID` fetches each chosen candidate's
signed snapshot from its state (one `fetch` per state, all at once; a state that fails is
named, the others still show), reads this node's own record when `local` is given, and
merges them with `consolidate()`: identity and alert flags at the top (from every
enrollment in every state, each chip with its states and their last dates), one enrollment
timeline, qualifying moves with the latest eligibility expiration, course history with
totals per subject area and courses in progress, assessments, and provenance (state,
record version, signature verified). Every record shown is recorded with
`accounts.record_view` (user, role, purpose, the state's student id, source state).
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from datetime import date
from typing import Any

from aiohttp import web

from node import clock
from node.appkeys import SERVICES
from node.control.api import sender_contact
from node.errors import BadRequest, NodeError, NotFound
from node.store import accounts
from node.web.i18n import N_
from node.web.local_pages import (
    NO_STUDENT,
    PURPOSE_LABELS,
    RECORD_ROLES,
    enrollment_alerts,
    summarize_record,
)
from node.web.search_pages import requester_for
from node.web.site import render, requires, run_db
from protocol.errors import ProtocolError
from protocol.messages import PURPOSES, Fetch, Requester

REF_RE = re.compile(r"^([A-Z]{2}):([A-Za-z0-9_\-=]{1,128})$")
MAX_REFS = 20
TOO_MANY = N_("at most %(n)s records can be opened together")


def parse_refs(refs: list[str]) -> dict[str, list[str]]:
    """`STATE:HANDLE` strings → handles per state; BadRequest names a bad one."""
    if len(refs) > MAX_REFS:
        raise BadRequest(TOO_MANY.replace("%(n)s", str(MAX_REFS)))
    out: dict[str, list[str]] = defaultdict(list)
    for ref in refs:
        m = REF_RE.match(ref)
        if m is None:
            raise BadRequest(f"record reference {ref[:60]!r} is not STATE:HANDLE")
        if m.group(2) not in out[m.group(1)]:
            out[m.group(1)].append(m.group(2))
    return dict(out)


async def fetch_parts(services: Any, wanted: dict[str, list[str]], requester: Requester,
                      purpose: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Fetch every state's snapshots at once → (parts, {state: why it failed})."""
    from node.control.api import request_fetch

    async def one(state: str, handles: list[str]) -> tuple[str, dict[str, Any] | str]:
        try:
            return state, await request_fetch(services, state,
                                              Fetch(tuple(handles), requester, purpose))
        except (NodeError, ProtocolError) as exc:
            return state, str(exc)

    parts: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    for state, result in await asyncio.gather(*(one(s, h) for s, h in wanted.items())):
        if isinstance(result, str):
            failed[state] = result
            continue
        for snap in result["snapshots"]:
            rec = dict(snap["record"])
            rec["owner_state"], rec["record_version"] = snap["owner"], snap["version"]
            parts.append({"state": snap["owner"], "record": rec, "local": False,
                          "verified": snap["signature_verified"], "version": snap["version"],
                          "issued_ms": snap["issued_at_ms"], "ref": snap["record_id"]})
        if result["missing"]:
            failed[state] = (f"{len(result['missing'])} record(s) not released for this "
                             "purpose or no longer held")
        if result.get("rejected"):
            failed[state] = "; ".join(f"refused a record from {state}: {r['reason']}"
                                      for r in result["rejected"])
    return parts, failed


def _local_part(db: Any, sid: str, state: str) -> dict[str, Any]:
    from node.store.record_reads import read_student

    try:
        rec = read_student(db, sid)
    except NotFound:
        raise NotFound(NO_STUDENT.replace("%(sid)s", sid)) from None
    return {"state": state, "record": rec, "local": True, "verified": None,
            "version": rec.get("record_version"), "issued_ms": None, "ref": sid}


def _fullness(part: dict[str, Any]) -> tuple[bool, int, str]:
    """Which part gives the identity: ours, then the most complete, then the newest."""
    from node.federation.answers import DEMOGRAPHIC_FIELDS

    rec = part["record"]
    latest = max((e.get("enrollment_date") or "" for e in rec.get("enrollments", [])),
                 default="")
    return (part["local"], sum(1 for k in DEMOGRAPHIC_FIELDS if rec.get(k)), latest)


def order_parts(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(parts, key=_fullness, reverse=True)


def consolidate(parts: list[dict[str, Any]], today: date) -> dict[str, Any]:
    """Merge each state's part into one view (identity from the first part; see
    `order_parts`)."""
    if not parts:
        return {}
    summaries = []
    for part in parts:
        s = summarize_record(part["record"], today)
        s["state"] = part["state"]
        summaries.append(s)
    first = summaries[0]
    # from every enrollment of every state, each with its state and last date
    alerts = enrollment_alerts((s["state"], e) for s in summaries for e in s["enrollments"])
    if any(s["student"].get("multiple_birth") for s in summaries):
        alerts.append({"level": "info", "text": "Multiple birth (twin or more)", "where": [],
                       "label": "Multiple birth (twin or more) — " + ", ".join(
                           s["state"] for s in summaries if s["student"].get("multiple_birth"))})

    def tagged(key: str) -> list[dict[str, Any]]:
        return [{**item, "state": s["state"]} for s in summaries for item in s[key]]

    enrollments = sorted(tagged("enrollments"), key=lambda e: e.get("enrollment_date") or "",
                         reverse=True)
    moves = sorted(tagged("moves"), key=lambda m: m.get("qualifying_arrival_date") or "",
                   reverse=True)
    eligible = max((m for m in moves if m.get("eligibility_expiration_date")),
                   key=lambda m: m["eligibility_expiration_date"], default=None)
    completed = sorted(tagged("completed"),
                       key=lambda c: (c.get("end_academic_year") or 0, c.get("state")),
                       reverse=True)
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for s in summaries:
        for subject, attempted, granted in s["subject_totals"]:
            totals[subject][0] += attempted
            totals[subject][1] += granted
    subject_totals = sorted((k, v[0], v[1]) for k, v in totals.items())
    return {
        "name": first["name"], "student": first["student"], "age": first["age"],
        "latest": enrollments[0] if enrollments else {},
        "states": list(dict.fromkeys(s["state"] for s in summaries)),
        "names": sorted({s["name"] for s in summaries} - {first["name"]}),
        "alerts": alerts,
        "eligible": eligible, "eligible_expired": bool(eligible and eligible["expired"]),
        "enrollments": enrollments, "moves": moves, "completed": completed,
        "in_progress": tagged("in_progress"), "subject_totals": subject_totals,
        "total_attempted": sum(t[1] for t in subject_totals),
        "total_granted": sum(t[2] for t in subject_totals),
        "assessments": sorted(tagged("assessments"),
                              key=lambda a: a.get("administration_month") or "", reverse=True),
        "summaries": summaries,
    }


def _notice_fields(parts: list[dict[str, Any]]) -> dict[str, Any]:
    from node.federation.answers import demographics_of

    return demographics_of(parts[0]["record"]).to_body() if parts else {}


def _destinations(services: Any) -> list[tuple[str, str]]:
    try:
        return [(e.node_id, e.name) for e in services.directory.peers()]
    except NodeError:
        return []


@requires(*RECORD_ROLES)
async def record_page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    refs = request.query.getall("r", [])
    local_ids = [s[:128] for s in request.query.getall("local", [])][:MAX_REFS]
    wanted = parse_refs(refs)
    if not wanted and not local_ids:
        raise BadRequest("choose at least one record to open (tick it in the search results)")
    purpose = request.query.get("purpose", "")
    if purpose not in PURPOSES:
        return render(request, "record_purpose.html",
                      {"refs": refs, "local_ids": local_ids, "purposes": PURPOSE_LABELS},
                      title="Purpose of use")
    me = services.node_id
    requester = requester_for(request)
    parts = [await run_db(request, _local_part, sid, me) for sid in local_ids]
    fetched, failed = await fetch_parts(services, wanted, requester, purpose)
    parts = order_parts(parts + fetched)
    for part in parts:
        sid = str(part["record"].get("state_student_id") or part["ref"])
        await run_db(request, accounts.record_view, requester.user_id, requester.role,
                     purpose, [sid], part["state"])
    view = consolidate(parts, date.today())
    return render(request, "consolidated.html", {
        "c": view, "parts": parts, "failed": failed, "purpose": purpose,
        "purpose_label": PURPOSE_LABELS[purpose], "notice": _notice_fields(parts),
        "destinations": [d for d in _destinations(services) if d[0] != me],
        "local_ids": local_ids, "refs": refs, "printed_at": clock.now(),
        "today": date.today().isoformat(),
        "contact": sender_contact(services.cfg, requester.user_id),
    }, title=f"Consolidated record of {view['name']}" if view else "Consolidated record")


def setup(app: web.Application) -> None:
    app.router.add_get("/record", record_page, name="consolidated_record")
