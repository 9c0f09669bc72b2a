"""The node's aiohttp application: typed app keys, startup/cleanup, routes.

`create_app(cfg)` wires the services (store, keys, directory, peers, jobs,
web UI) through `cleanup_ctx` so startup and shutdown are symmetric; each
feature module adds its routes with a `setup(app)` function.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator

from aiohttp import web

from config.schema import NodeConfig
from node import __version__
from node.identity import NodeKeys, load_keys

CONFIG = web.AppKey("config", NodeConfig)
KEYS = web.AppKey("keys", NodeKeys)
STARTED = web.AppKey("started", float)


def server_ssl_context(cfg: NodeConfig) -> ssl.SSLContext | None:
    if cfg.server.tls_cert is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cfg.server.tls_cert), str(cfg.server.tls_key or cfg.server.tls_cert))
    if cfg.server.tls_client_ca is not None:
        ctx.load_verify_locations(str(cfg.server.tls_client_ca))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


async def healthz(request: web.Request) -> web.Response:
    cfg = request.app[CONFIG]
    return web.json_response(
        {"status": "ok", "node": cfg.node.id, "version": __version__,
         "uptime_s": round(time.time() - request.app[STARTED], 1)}
    )


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    from node.store import STORE, Store

    store = Store(app[CONFIG].storage.database)
    app[STORE] = store
    yield
    store.close()


def create_app(cfg: NodeConfig) -> web.Application:
    app = web.Application(client_max_size=cfg.server.client_max_size)
    app[CONFIG] = cfg
    app[KEYS] = load_keys(cfg)
    app[STARTED] = time.time()
    app.cleanup_ctx.append(_store_ctx)
    app.router.add_get("/healthz", healthz)
    return app
