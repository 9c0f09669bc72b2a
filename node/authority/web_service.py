"""The federation authority's small HTTP service: the current signed directory snapshot.

Spec: DESIGN.md "Discovery"; PROTOCOL-ANCHORS.md §1.2 (clients download the
signed directory and verify it with their anchor). `GET /federation/v1/directory`
answers the exact signed bytes (`application/msgpack`), the same path every
node mirrors, and `GET /federation/v2/directory` the same serial as a version 2
snapshot; `GET /healthz` reports serial and expiry. State is re-read from
the authority folder on every request, so `directory enroll` while `directory
serve` runs is seen by the next request without a restart.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from node.authority.registry import Authority
from node.errors import NodeError
from protocol.directory import verify_snapshot

AUTHORITY = web.AppKey("authority", Authority)
MSGPACK = "application/msgpack"


async def _directory(request: web.Request, version: int) -> web.Response:
    authority = request.app[AUTHORITY]
    try:
        data = await asyncio.to_thread(authority.current_snapshot, version)
    except NodeError as exc:
        return web.json_response({"error": str(exc)}, status=exc.status)
    return web.Response(body=data, content_type=MSGPACK,
                        headers={"Cache-Control": "no-cache"})


async def directory(request: web.Request) -> web.Response:
    return await _directory(request, 1)


async def directory_v2(request: web.Request) -> web.Response:
    return await _directory(request, 2)


async def healthz(request: web.Request) -> web.Response:
    authority = request.app[AUTHORITY]
    try:
        data = await asyncio.to_thread(authority.current_snapshot)
        now_ms = authority.now_ms()
        snap = verify_snapshot(data, authority.public_key, now_ms=now_ms)
    except Exception as exc:  # health must answer, naming what failed
        return web.json_response({"status": "error", "error": str(exc)}, status=503)
    return web.json_response({
        "status": "ok", "authority": authority.cfg.name, "serial": snap.serial,
        "entries": len(snap.entries),
        "expires_in_s": round((snap.expires_at_ms - now_ms) / 1000, 1),
    })


def create_authority_app(authority: Authority) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[AUTHORITY] = authority
    app.router.add_get("/federation/v1/directory", directory)
    app.router.add_get("/federation/v2/directory", directory_v2)
    app.router.add_get("/healthz", healthz)
    return app
