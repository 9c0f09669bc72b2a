"""Links in the running node: the inbound `link` handler, the find hook, control routes,
and the async functions the web UI calls (DESIGN.md "Messages" `link`, "Identity
matching", "Web UI" near-match worklist and link validation).

The rules and tables live in `node.federation.links`; this module connects them:
- `setup_links(services)` registers the `link` message handler, the idempotent receipt
  lookup for retried `link` messages, and the find hook;
- `annotate_find(...)` runs on every state's answer to one of our finds: it files near
  matches on the worklist and rewrites candidates covered by an active link to
  `match` with `linked: true`;
- `setup_link_routes(app)` adds the `/local/v1/worklist…` and `/local/v1/links…` routes
  the `statenode worklist` / `statenode link` commands call;
- state changes that send a `link` message queue it in the outbox inside the same
  transaction and then run the outbox job, so delivery survives a peer being down.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node import clock
from node.appkeys import SERVICES
from node.control.request_schema import Field, read_body
from node.errors import BadRequest, Forbidden, NodeError
from node.federation import links
from node.federation.answers import Answer
from node.http_inputs import path_id
from node.matching.id_rule import ID_KIND
from node.services import Services
from protocol.envelope import OpenedEnvelope
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import (
    NO_NAME,
    PURPOSES,
    ROLES,
    Fetch,
    FindCriteria,
    Link,
    Receipt,
    Requester,
)

_STATUS_CODES = {403: ErrorCode.FORBIDDEN, 404: ErrorCode.NOT_FOUND}


# ---- federation side --------------------------------------------------------------------

async def handle_link(services: Services, peer: str, opened: OpenedEnvelope) -> Answer:
    """A peer asserts or revokes a link: apply once, answer with a signed receipt."""
    msg = opened.message
    assert isinstance(msg, Link)
    try:
        received_ms, body_hash, note = await services.store.run(
            lambda db: links.receive(db, sender=peer, message_id=opened.header.message_id,
                                     body_hash=opened.body_hash, link=msg,
                                     received_ms=clock.now_ms()))
    except NodeError as exc:
        code = _STATUS_CODES.get(exc.status, ErrorCode.MALFORMED)
        raise ProtocolError(str(exc), code=code) from exc
    return Answer(Receipt(body_hash, received_ms, note))


async def stored_link_receipt(services: Services, peer: str, message_id: bytes,
                              ) -> Receipt | None:
    """For a retried `link` message already applied: the same receipt again."""
    found = await services.store.run(links.stored_receipt, peer, message_id)
    return None if found is None else Receipt(found[1], found[0], found[2])


def _query_of(criteria: FindCriteria) -> dict[str, Any]:
    """What was searched for, as the worklist keeps it (an id search's `NO_NAME` left
    out; the student id kept, so the worklist rules and the comparison see it)."""
    query: dict[str, Any] = {k: v for k, v in criteria.person.to_body().items()
                             if v != NO_NAME}
    if criteria.parent_names:
        query["parent_names"] = list(criteria.parent_names)
    for kind, value in criteria.ids:
        if kind == ID_KIND:
            query["state_student_id"] = value
    return query


async def annotate_find(services: Services, line: dict[str, Any], criteria: FindCriteria,
                        requester: Requester, find_id: str) -> dict[str, Any]:
    """The find hook: one state's answer line (as `federated_find.answer_line` builds it)
    with links applied and near matches filed on the worklist (see
    `links.record_find_answer`). The web UI calls it on each answer too."""
    candidates = line.get("candidates")
    if not candidates:
        return line
    annotated = await services.store.run(
        lambda db: links.record_find_answer(
            db, peer=line["state"], candidates=candidates, find_id=find_id,
            query=_query_of(criteria), requested_by=requester.user_id))
    return {**line, "candidates": annotated, "find_id": find_id}


def setup_links(services: Services) -> None:
    services.message_handlers["link"] = handle_link
    services.receipt_lookups["link"] = stored_link_receipt
    services.find_hook = annotate_find


# ---- functions for the control API and the web UI ---------------------------------------

async def _kick_outbox(app: web.Application) -> None:
    from node.appkeys import JOBS
    jobs = app.get(JOBS)
    if jobs is not None and "outbox" in jobs.funcs:
        await jobs.run_now("outbox")


def _school(app: web.Application) -> str:
    cfg = app[SERVICES].cfg
    return cfg.node.name or cfg.node.id


async def list_worklist(app: web.Application, status: str | None = "open",
                        ) -> list[dict[str, Any]]:
    return await app[SERVICES].store.run(lambda db: links.worklist(db, status=status))


async def get_worklist_item(app: web.Application, item_id: int) -> dict[str, Any]:
    return await app[SERVICES].store.run(links.worklist_item, item_id)


async def confirm_item(app: web.Application, item_id: int, admin: str, *,
                       local_record: str | None = None, comment: str | None = None,
                       ) -> dict[str, Any]:
    """First data admin confirms a near match; returns the new `pending` link."""
    return await app[SERVICES].store.run(
        lambda db: links.confirm(db, item_id, admin, local_record=local_record,
                                 comment=comment))


async def ask_review(app: web.Application, item_id: int, user: str,
                     ) -> tuple[dict[str, Any], bool]:
    """One click: ask a data administrator to check a near match (see `links.ask_review`)."""
    return await app[SERVICES].store.run(links.ask_review, item_id, user)


async def reject_item(app: web.Application, item_id: int, admin: str,
                      reason: str = "") -> dict[str, Any]:
    return await app[SERVICES].store.run(links.reject_item, item_id, admin, reason)


async def list_links(app: web.Application, status: str | None = None,
                     ) -> list[dict[str, Any]]:
    return await app[SERVICES].store.run(lambda db: links.list_links(db, status=status))


async def get_link(app: web.Application, link_id: int) -> dict[str, Any]:
    return await app[SERVICES].store.run(links.get_link, link_id)


async def validate_link(app: web.Application, link_id: int, admin: str) -> dict[str, Any]:
    """Second data admin validates (Forbidden if it is the confirming admin)."""
    school = _school(app)
    link = await app[SERVICES].store.run(
        lambda db: links.validate(db, link_id, admin, school=school))
    await _kick_outbox(app)
    return link


async def reject_link(app: web.Application, link_id: int, admin: str,
                      reason: str = "") -> dict[str, Any]:
    school = _school(app)
    link = await app[SERVICES].store.run(
        lambda db: links.reject_link(db, link_id, admin, reason, school=school))
    await _kick_outbox(app)
    return link


async def revoke_link(app: web.Application, link_id: int, admin: str,
                      reason: str = "") -> dict[str, Any]:
    school = _school(app)
    link = await app[SERVICES].store.run(
        lambda db: links.revoke(db, link_id, admin, reason, school=school))
    await _kick_outbox(app)
    return link


async def fetch_linked(app: web.Application, link_id: int, requester: Requester,
                       purpose: str = "enrollment") -> dict[str, Any]:
    """Fetch every record a live link joins, one fetch per state, at once."""
    import asyncio

    from node.control.api import request_fetch

    services = app[SERVICES]
    link = await services.store.run(links.get_link, link_id)
    if link["status"] in links.ENDED:
        raise BadRequest(f"link {link_id} is {link['status']}")
    by_state: dict[str, list[str]] = {}
    for state, handle in links.members(link):
        by_state.setdefault(state, []).append(handle)

    async def one(state: str, handles: list[str]) -> tuple[str, dict[str, Any] | str]:
        try:
            fetch = Fetch(tuple(handles), requester, purpose)
            return state, await request_fetch(services, state, fetch)
        except (NodeError, ProtocolError) as exc:
            return state, str(exc)

    results = await asyncio.gather(*(one(s, h) for s, h in by_state.items()))
    out: dict[str, Any] = {"link": link["id"], "snapshots": [], "missing": [], "failed": {}}
    for state, result in results:
        if isinstance(result, str):
            out["failed"][state] = result
        else:
            out["snapshots"] += result["snapshots"]
            out["missing"] += [{"state": state, "handle": h} for h in result["missing"]]
    return out


# ---- control routes ---------------------------------------------------------------------

def _int(request: web.Request, key: str) -> int:
    return path_id(request.match_info[key])


#: the acting data administrator and their password (the two-person rule)
ADMIN_FIELDS = {"admin": Field(str, required=True, max_len=100),
                "password": Field(str, required=True, max_len=1024)}
CONFIRM_FIELDS = {**ADMIN_FIELDS, "local_record": Field(str, max_len=64),
                  "comment": Field(str, max_len=1000)}
REASON_FIELDS = {**ADMIN_FIELDS, "reason": Field(str, max_len=1000)}
FETCH_LINKED_FIELDS = {"purpose": Field(str, choices=PURPOSES),
                       "user_id": Field(str, max_len=100), "role": Field(str, choices=ROLES),
                       "school": Field(str, max_len=200)}


async def _acting_admin(request: web.Request, data: dict[str, Any]) -> str:
    """The data administrator acting through the CLI, proven by their own password.

    The control token proves only access to the node's folder; the two-person rule needs
    two people, so each action names its administrator and carries their password
    (checked like a web login, with the same throttling)."""
    from crypto.errors import PasswordMismatch
    from crypto.passwords import verify_password_async
    from node.appkeys import CONFIG, STORE
    from node.store import accounts
    admin, password = str(data.get("admin", "")), str(data.get("password", ""))
    cfg, store = request.app[CONFIG], request.app[STORE]
    now = clock.now()
    # the account-wide lock (many failures from unknown web addresses) does not apply: the
    # control API is local, and web attackers must not stop the two-person rule's CLI
    if await store.run(lambda db: accounts.locked_for(db, admin, "control-api", now=now,
                                                      account_wide=False)):
        raise Forbidden(f"admin: too many wrong passwords for {admin!r}; try again later")
    found = await store.run(accounts.password_hash_of, admin)
    try:
        if found is None or not password:
            raise PasswordMismatch("no such user or no password")
        await verify_password_async(password, found[1])
    except PasswordMismatch as exc:
        await store.run(lambda db: accounts.record_failure(
            db, admin, "control-api", now=now, max_failures=cfg.web.login_max_failures,
            lockout=cfg.web.login_lockout))
        raise Forbidden(f"admin: wrong user name or password for {admin!r}") from exc
    return found[0].username


def _status(request: web.Request, default: str | None) -> str | None:
    status = request.query.get("status", default)
    return None if status in ("", "all") else status


async def r_worklist(request: web.Request) -> web.Response:
    return web.json_response(await list_worklist(request.app, _status(request, "open")))


async def r_worklist_item(request: web.Request) -> web.Response:
    return web.json_response(await get_worklist_item(request.app, _int(request, "id")))


async def r_confirm(request: web.Request) -> web.Response:
    data = await read_body(request, CONFIRM_FIELDS)
    return web.json_response(await confirm_item(
        request.app, _int(request, "id"), await _acting_admin(request, data),
        local_record=data.get("local_record") or None, comment=data.get("comment") or None))


async def r_reject_item(request: web.Request) -> web.Response:
    data = await read_body(request, REASON_FIELDS)
    return web.json_response(await reject_item(request.app, _int(request, "id"),
                                               await _acting_admin(request, data),
                                               str(data.get("reason") or "")))


async def r_links(request: web.Request) -> web.Response:
    return web.json_response(await list_links(request.app, _status(request, None)))


async def r_link(request: web.Request) -> web.Response:
    return web.json_response(await get_link(request.app, _int(request, "id")))


async def r_link_action(request: web.Request) -> web.Response:
    action, link_id = request.match_info["action"], _int(request, "id")
    data = await read_body(request, REASON_FIELDS)
    if action not in ("validate", "reject", "revoke"):
        raise BadRequest(f"unknown link action {action!r} (validate, reject, revoke)")
    admin, reason = await _acting_admin(request, data), str(data.get("reason") or "")
    if action == "validate":
        return web.json_response(await validate_link(request.app, link_id, admin))
    if action == "reject":
        return web.json_response(await reject_link(request.app, link_id, admin, reason))
    if action == "revoke":
        return web.json_response(await revoke_link(request.app, link_id, admin, reason))
    raise BadRequest(f"unknown link action {action!r} (validate, reject, revoke)")


async def r_fetch_linked(request: web.Request) -> web.Response:
    from node.control.api import requester_of

    data = await read_body(request, FETCH_LINKED_FIELDS)
    requester = requester_of(data, request.app[SERVICES].cfg)
    return web.json_response(await fetch_linked(
        request.app, _int(request, "id"), requester, str(data.get("purpose") or "enrollment")))


def setup_link_routes(app: web.Application) -> None:
    app.router.add_get("/local/v1/worklist", r_worklist)
    app.router.add_get("/local/v1/worklist/{id}", r_worklist_item)
    app.router.add_post("/local/v1/worklist/{id}/confirm", r_confirm)
    app.router.add_post("/local/v1/worklist/{id}/reject", r_reject_item)
    app.router.add_get("/local/v1/links", r_links)
    app.router.add_get("/local/v1/links/{id}", r_link)
    app.router.add_post("/local/v1/links/{id}/fetch", r_fetch_linked)
    app.router.add_post("/local/v1/links/{id}/{action}", r_link_action)
