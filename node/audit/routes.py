"""HTTP endpoints of the exchange log: public checkpoint and keys, auditor JSON API.

Spec: DESIGN.md "Audit log"; C2SP tlog-checkpoint (served as `text/plain`), signed-note
verifier keys, tlog-proof@v1. Public (no login): `GET /audit/v1/checkpoint`,
`GET /audit/v1/verifier-key`, `GET /audit/v1/witness-key`. The auditor JSON handlers
(`proof`, `consistency`, `history`, `verify_now`, `alerts`) are plain aiohttp handlers;
`setup_audit_routes(app, guard=...)` mounts them wrapped in the UI's auditor-role check,
and leaves them out when no guard is given, so they are never public by accident.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
from collections.abc import Awaitable, Callable

from aiohttp import web

from node.appkeys import LOG
from node.audit.export_files import verify_folder
from node.errors import BadRequest
from node.http_inputs import query_int

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _int(request: web.Request, name: str) -> int:
    return query_int(request.query.get(name, ""), name, maximum=2**62)


async def checkpoint(request: web.Request) -> web.Response:
    note = await asyncio.to_thread(request.app[LOG].latest_checkpoint)
    return web.Response(text=note, content_type="text/plain")


async def verifier_key(request: web.Request) -> web.Response:
    return web.Response(text=request.app[LOG].signer.verifier().vkey() + "\n",
                        content_type="text/plain")


async def witness_key(request: web.Request) -> web.Response:
    return web.Response(text=request.app[LOG].cosigner.verifier().vkey() + "\n",
                        content_type="text/plain")


async def proof(request: web.Request) -> web.Response:
    """`?index=N` → the tlog-proof@v1 receipt of entry N."""
    index = _int(request, "index")
    text = await asyncio.to_thread(request.app[LOG].receipt, index)
    return web.json_response({"index": index, "tlog_proof": text})


async def consistency(request: web.Request) -> web.Response:
    """`?old=M&new=N` → base64 RFC 9162 consistency proof."""
    old, new = _int(request, "old"), _int(request, "new")
    hashes = await asyncio.to_thread(request.app[LOG].consistency_proof, old, new)
    return web.json_response({"old": old, "new": new,
                              "proof": [base64.b64encode(h).decode() for h in hashes]})


async def history(request: web.Request) -> web.Response:
    """`?student=ID` → every logged disclosure of that local student's data."""
    student = request.query.get("student", "")
    if not student or len(student) > 128:
        raise BadRequest("query parameter 'student' must be a student id of 1..128 characters")
    rows = await asyncio.to_thread(request.app[LOG].history, student)
    return web.json_response({"student": student, "disclosures": rows})


async def alerts(request: web.Request) -> web.Response:
    rows = await asyncio.to_thread(request.app[LOG].alerts)
    return web.json_response({"alerts": rows})


async def verify_now(request: web.Request) -> web.Response:
    """Export the log to a temporary folder and run the auditor's verification on it."""
    from node.appkeys import CONFIG
    cfg = request.app[CONFIG]
    log = request.app[LOG]
    authority = base64.b64decode(cfg.directory.authority_key) if cfg.directory.authority_key \
        else None

    def run() -> dict[str, object]:
        snapshot = cfg.directory.cached_snapshot()
        with tempfile.TemporaryDirectory(prefix="audit-") as tmp:
            size = log.export(tmp, snapshot, authority)
            problems = verify_folder(tmp, (), authority)
        return {"ok": not problems, "entries": size,
                "problems": [str(p) for p in problems[:100]], "problem_count": len(problems)}

    return web.json_response(await asyncio.to_thread(run))


def setup_audit_routes(app: web.Application,
                       guard: Callable[[Handler], Handler] | None = None) -> None:
    """Add the public routes; with `guard` (the auditor-role check) the JSON API too."""
    app.router.add_get("/audit/v1/checkpoint", checkpoint)
    app.router.add_get("/audit/v1/verifier-key", verifier_key)
    app.router.add_get("/audit/v1/witness-key", witness_key)
    if guard is not None:
        for path, handler in (("proof", proof), ("consistency", consistency),
                              ("history", history), ("alerts", alerts)):
            app.router.add_get(f"/audit/v1/{path}", guard(handler))
        app.router.add_post("/audit/v1/verify", guard(verify_now))
