"""The node's local control API, used by the `statenode` CLI on the same machine.

The running node is the only writer of its exchange log, so CLI commands that
talk to peers (`find`, `fetch`, `notify-move`, `outbox`) ask the running node
to do it. At start the node writes `control.json` (its URL and a random bearer
token, mode 0600) beside its database; only a process that can read that file
can use these routes. Routes live under `/local/v1/` and answer JSON (the find
route streams NDJSON: one line per state as it answers, then a summary line).
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from config.schema import NodeConfig
from node.appkeys import SERVICES, TOKEN
from node.control.request_schema import Field, read_body
from node.errors import BadRequest, NodeError, NotFound
from node.federation.federated_find import (
    DATE_RE,
    FLAG_FIELDS,
    PERSON_FIELDS,
    build_criteria,
    federated_find,
)
from node.federation.outbox import queue_message
from node.federation.peer_client import active_peers, request
from node.file_modes import open_private
from node.services import Services
from node.store import federation_tables as fed
from node.store.record_reads import read_student
from protocol.errors import ProtocolError
from protocol.messages import (
    PURPOSES,
    ROLES,
    SEARCH_PURPOSES,
    SEARCH_ROLES,
    SEXES,
    Fetch,
    FetchReply,
    FindCriteria,
    MoveNotice,
    Requester,
    search_refusal,
)


def control_file(cfg: NodeConfig) -> Path:
    return cfg.storage.database.parent / "control.json"


def write_control_file(cfg: NodeConfig, url: str, token: str) -> None:
    path = control_file(cfg)
    tmp = path.with_name(path.name + ".tmp")
    with open_private(tmp, "w") as f:
        json.dump({"url": url, "token": token, "pid": os.getpid()}, f)
    os.replace(tmp, path)


def read_control_file(cfg: NodeConfig) -> dict[str, Any]:
    path = control_file(cfg)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise NodeError(f"{path}: not found; is the node running? "
                        f"(start it with: statenode serve -c {cfg.config_path})") from exc
    except (OSError, ValueError) as exc:
        raise NodeError(f"{path}: unreadable ({exc})") from exc
    return dict(data)


@web.middleware
async def control_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/local/"):
        sent = request.headers.get("Authorization", "")
        token = request.app[TOKEN]
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            return await handler(request)
        except (NodeError, ProtocolError) as exc:
            status = getattr(exc, "status", 400)
            return web.json_response({"error": str(exc)}, status=status)
    return await handler(request)


#: who acts through the CLI (as a peer's log records it)
REQUESTER_FIELDS = {"user_id": Field(str, max_len=100), "role": Field(str, choices=ROLES),
                    "school": Field(str, max_len=200)}
FIND_FIELDS = {
    **{name: Field(bool if name in FLAG_FIELDS else str, max_len=100)
       for name in PERSON_FIELDS},
    "sex": Field(str, choices=SEXES), "birth_date": Field(str, max_len=10, is_date=True),
    "parent_names": Field(list), "ids": Field(dict, max_len=64),
    "purpose": Field(str, choices=SEARCH_PURPOSES),
    "timeout": Field(float, minimum=0.1, maximum=120), **REQUESTER_FIELDS,
}
FETCH_FIELDS = {"state": Field(str, required=True, max_len=2),
                "handles": Field(list, required=True, max_len=128),
                "purpose": Field(str, choices=PURPOSES), **REQUESTER_FIELDS}
MOVE_FIELDS = {"to": Field(str, required=True, max_len=2),
               "student": Field(str, required=True, max_len=64),
               "contact": Field(str, max_len=300),
               "expected": Field(str, max_len=10, is_date=True),
               "comment": Field(str, max_len=1000), **REQUESTER_FIELDS}


def requester_of(data: dict[str, Any], cfg: NodeConfig) -> Requester:
    role = str(data.get("role") or "data_admin")
    if role not in ROLES:
        raise BadRequest(f"role: must be one of {', '.join(ROLES)} (got {role!r})")
    return Requester(str(data.get("user_id") or "cli")[:100], role,
                     str(data.get("school") or cfg.node.name or cfg.node.id)[:200])


def criteria_of(data: dict[str, Any]) -> FindCriteria:
    """The criteria of a control-API find (the one query builder does the checking)."""
    person = {k: v for k, v in data.items() if k in PERSON_FIELDS}
    parents = [str(p) for p in data.get("parent_names") or ()]
    ids = [(str(k), str(v)) for k, v in (data.get("ids") or {}).items()]
    return build_criteria(person, parents=parents, ids=ids)


async def local_find(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    data = await read_body(request, FIND_FIELDS)
    criteria = criteria_of(data)
    purpose = str(data.get("purpose") or "enrollment")
    requester = requester_of(data, services.cfg)
    refusal = search_refusal(purpose, requester.role)
    if refusal is not None:
        field = "purpose" if requester.role in SEARCH_ROLES else "role"
        raise BadRequest(f"{field}: {refusal}")
    targets = active_peers(services)  # raises (503) before the stream starts
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)  # everything above is checked: nothing raises after this
    async for event in federated_find(services, criteria, requester=requester,
                                      purpose=purpose, peers=targets,
                                      timeout=data.get("timeout")):
        kind = event.pop("type")
        line = event if kind == "answer" else {"summary": event}
        await resp.write((json.dumps(line) + "\n").encode())
    await resp.write_eof()
    return resp


async def local_fetch(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_body(request, FETCH_FIELDS)
    state, handles = data["state"].upper(), list(data["handles"])
    purpose = str(data.get("purpose") or "enrollment")
    fetch = Fetch(tuple(handles), requester_of(data, services.cfg), purpose)
    reply = await request_fetch(services, state, fetch)
    return web.json_response(reply)


async def request_fetch(services: Services, state: str, fetch: Fetch) -> dict[str, Any]:
    """Fetch from `state` and keep only snapshots that are really `state`'s answer to our
    handles, signed by `state`'s directory key and valid as records; others are `rejected`
    with the reason (a peer must not pass its data off as another state's)."""
    from protocol.records import validate_student

    opened = await request(services, state, fetch, purpose=fetch.purpose,
                           user_id=fetch.requester.user_id, user_role=fetch.requester.role)
    reply = opened.message
    if not isinstance(reply, FetchReply):
        raise BadRequest(f"{state} answered fetch with {opened.header.type}")
    entry = services.directory.current().entry(state)
    keys = entry.signing_keys() if entry is not None else ()
    out: list[dict[str, Any]] = []
    rejected: list[dict[str, str]] = []
    for snap in reply.snapshots:
        problem = ""
        if snap.owner != state:
            problem = f"snapshot claims owner {snap.owner} but came from {state}"
        elif snap.record_id not in fetch.handles:
            problem = "snapshot is for a record we did not ask for"
        else:
            for key in keys:
                try:
                    snap.verify(key)
                    break
                except ProtocolError:
                    continue
            else:
                problem = f"snapshot is not signed by {state}'s directory key"
        if not problem:
            try:
                # typed like a JSON Lines import; the moves may be left out by purpose
                validate_student(snap.record, where=f"{state} record {snap.record_id}",
                                 require_move=False)
            except ProtocolError as exc:
                problem = f"record is not valid: {str(exc)[:300]}"
        if problem:
            rejected.append({"record_id": snap.record_id[:128], "reason": problem})
            continue
        out.append({"owner": snap.owner, "record_id": snap.record_id, "version": snap.version,
                    "issued_at_ms": snap.issued_at_ms, "signature_verified": True,
                    "record": snap.record})
    return {"snapshots": out, "missing": list(reply.missing), "rejected": rejected}


def sender_contact(cfg: NodeConfig, person: str = "") -> str:
    """Who the receiving school should contact about a move notice we send: the person,
    the agency, and its phone and email from the config (`node.contact_phone`,
    `node.contact_email`), within the notice's 200 characters."""
    parts = (person, cfg.node.name or cfg.node.id, cfg.node.contact_phone,
             cfg.node.contact_email)
    return ", ".join(p for p in parts if p)[:200]


def build_move_notice(record: dict[str, Any], *, sent_by: Requester, destination: str,
                      contact: str, expected: str | None, comment: str | None) -> MoveNotice:
    from node.federation.answers import demographics_of

    return MoveNotice(demographics_of(record), sent_by, destination, contact, expected,
                      comment, None)


async def local_notify_move(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await read_body(request, MOVE_FIELDS)
    to = data["to"].upper()
    if services.directory.current().entry(to) is None:
        raise NotFound(f"{to!r} is not a node in the directory")
    sid = data["student"]
    expected = data.get("expected")
    if expected is not None and not DATE_RE.fullmatch(expected):
        raise BadRequest(f"expected: must be a date like 2026-12-01 (got {expected!r})")
    record = await services.store.run(read_student, sid)
    notice = build_move_notice(
        record, sent_by=requester_of(data, services.cfg), destination=to,
        contact=str(data.get("contact") or sender_contact(services.cfg))[:200],
        expected=expected, comment=data.get("comment"))
    item = await services.store.run(
        lambda db: queue_message(db, peer=to, message=notice, purpose="move_notice",
                                 summary={"student": sid, "to": to}))
    jobs = request.app.get(_jobs_key())
    if jobs is not None:
        await jobs.run_now("outbox")
    return web.json_response({"queued": item})


def _jobs_key() -> web.AppKey[Any]:
    from node.appkeys import JOBS
    return JOBS


async def local_run_job(request: web.Request) -> web.Response:
    """Run a scheduled job now (directory refresh, outbox, checkpoint …)."""
    await read_body(request, {})
    jobs = request.app[_jobs_key()]
    name = request.match_info["name"]
    if name not in jobs.funcs:
        raise NotFound(f"no job {name!r} (jobs: {', '.join(sorted(jobs.funcs))})")
    result = await jobs.run_now(name)
    status = jobs.status[name]
    return web.json_response({"job": name, "ok": not status.last_error,
                              "error": status.last_error, "result": repr(result)})


async def local_outbox(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    return web.json_response(await services.store.run(fed.outbox_list))


def setup_control_routes(app: web.Application) -> None:
    app.middlewares.append(control_auth)
    app.router.add_post("/local/v1/find", local_find)
    app.router.add_post("/local/v1/fetch", local_fetch)
    app.router.add_post("/local/v1/notify-move", local_notify_move)
    app.router.add_get("/local/v1/outbox", local_outbox)
    app.router.add_post("/local/v1/jobs/{name}", local_run_job)
