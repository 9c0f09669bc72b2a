"""The directory client wired into the node's aiohttp app: app keys, routes, jobs.

Spec: DESIGN.md "Discovery" (any node is a directory mirror: it serves the
snapshot it trusts) and "Identities and keys" (it serves its own key
document); PROTOCOL-ANCHORS.md §1.2 and §2.1.

- `DIRECTORY`, `PEER_KEYS`, `KEYRING`, `HTTP` app keys, set by `directory_ctx`
  (the cleanup context: cache loaded, one refresh at startup if needed).
- `setup_directory_routes(app)` serves `GET /federation/v1/directory` and `/keys`, and
  their version 2 at `/federation/v2/…` (node.directory.client, key_documents).
- `refresh_job`, `rotation_job` the scheduler's job bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from node.appkeys import DIRECTORY, HTTP, KEYRING, PEER_KEYS
from node.directory.client import (
    DIRECTORY_PATH,
    DIRECTORY_PATH_V2,
    DirectoryUnavailable,
    DirectoryView,
)
from node.directory.key_documents import KEYS_PATH, KEYS_PATH_V2, KeyRing, PeerKeyCache

if TYPE_CHECKING:
    from node.services import Services

MSGPACK = "application/msgpack"




async def _serve_directory(request: web.Request, version: int) -> web.Response:
    view = request.app[DIRECTORY]
    try:
        data = view.mirror_bytes(version)
    except DirectoryUnavailable as exc:
        status = 404 if view.snapshot is None and view.stale is None else 503
        return web.json_response({"error": str(exc)}, status=status)
    if data is None:
        return web.json_response({"error": f"no version {version} directory snapshot of the "
                                  "current serial here"}, status=404)
    return web.Response(body=data, content_type=MSGPACK, headers={"Cache-Control": "no-cache"})


async def serve_directory(request: web.Request) -> web.Response:
    return await _serve_directory(request, 1)


async def serve_directory_v2(request: web.Request) -> web.Response:
    return await _serve_directory(request, 2)


async def serve_keys(request: web.Request) -> web.Response:
    """Version 1 (X25519 keys only, what a node one release behind reads)."""
    return web.Response(body=request.app[KEYRING].key_document(), content_type=MSGPACK,
                        headers={"Cache-Control": "no-cache"})


async def serve_keys_v2(request: web.Request) -> web.Response:
    """Version 2: X25519 and MLKEM768-X25519 keys and the envelope versions we open."""
    return web.Response(body=request.app[KEYRING].key_document(version=2),
                        content_type=MSGPACK, headers={"Cache-Control": "no-cache"})


def setup_directory_routes(app: web.Application) -> None:
    app.router.add_get(DIRECTORY_PATH, serve_directory)
    app.router.add_get(DIRECTORY_PATH_V2, serve_directory_v2)
    app.router.add_get(KEYS_PATH, serve_keys)
    app.router.add_get(KEYS_PATH_V2, serve_keys_v2)


async def directory_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: DIRECTORY (cache loaded), PEER_KEYS, KEYRING and an HTTP session.

    Needs `node.app.CONFIG` and `node.app.KEYS` set before startup. Does one
    refresh at startup (bounded by peers.timeout per source) when no usable
    cache was found.
    """
    from node.appkeys import CONFIG, KEYS
    cfg = app[CONFIG]
    view = DirectoryView(cfg)
    await asyncio.to_thread(view.load_cache)
    app[DIRECTORY] = view
    app[PEER_KEYS] = PeerKeyCache(timeout=cfg.peers.timeout)
    app[KEYRING] = KeyRing(cfg, app[KEYS])
    from node.directory.tls_pinning import client_connector

    session = aiohttp.ClientSession(connector=client_connector(cfg))
    app[HTTP] = session
    if view.snapshot is None and view.sources():
        await view.refresh(session)
    yield
    await session.close()


async def refresh_job(services: Services) -> bool:
    """Scheduler job (every `directory.refresh_interval`)."""
    return await services.directory.refresh(services.session)


async def rotation_job(services: Services) -> bool:
    """Scheduler job (e.g. hourly): rotate encryption keys when due."""
    return await services.keyring.rotate()
