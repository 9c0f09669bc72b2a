"""The node's aiohttp application: typed app keys, startup/cleanup, routes, jobs.

`create_app(cfg)` wires the services through `cleanup_ctx` so startup and
shutdown are symmetric: store (node.db) → directory view, key ring and HTTP
session → exchange log → `Services` → scheduled jobs. Each feature module adds
its routes with a `setup_*` function; the job registry names every scheduled
job with its interval from the config.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
import time
from collections.abc import AsyncIterator

from aiohttp import web

from config.schema import NodeConfig
from node import __version__
from node.appkeys import CONFIG, KEYS, STARTED, STORE
from node.directory.identity import NodeKeys, load_keys
from node.services import Services
from node.store.database import Store
from protocol.errors import ProtocolError

log = logging.getLogger("statenode.app")


def server_ssl_context(cfg: NodeConfig) -> ssl.SSLContext | None:
    """The listener's TLS context (optional client certificates pinned by the directory;
    see node.directory.tls_pinning); None when server.tls_cert is not set."""
    from node.directory.tls_pinning import server_context

    return server_context(cfg)


async def healthz(request: web.Request) -> web.Response:
    cfg = request.app[CONFIG]
    return web.json_response(
        {"status": "ok", "node": cfg.node.id, "version": __version__,
         "uptime_s": round(time.time() - request.app[STARTED], 1)}
    )


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    from node.store import federation_tables as federation_store
    store = Store(app[CONFIG].storage.database)
    await store.run(federation_store.apply_migrations)
    for apply in _extra_migrations():
        await store.run(apply)
    app[STORE] = store
    yield
    store.close()


def _extra_migrations() -> list:  # type: ignore[type-arg]
    out = []
    try:
        from node.store.accounts import apply_migrations as accounts_migrations

        out.append(accounts_migrations)
    except ImportError:  # pragma: no cover - during development only
        pass
    from node.store.link_tables import apply_migrations as links_migrations

    out.append(links_migrations)
    return out


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    from node.appkeys import DIRECTORY, DISCOVERY, HTTP, KEYRING, LOG, PEER_KEYS, SERVICES
    from node.audit.exchange_log import ExchangeLog
    from node.directory.peer_health import PeerStates
    from node.federation.answers import refresh_term_frequencies
    from node.federation.witnessing import setup_witnessing
    from node.services import Services

    cfg = app[CONFIG]
    exchange_log = ExchangeLog(cfg.storage.exchange_log, app[KEYS].signing, cfg.node.id)
    services = Services(
        cfg=cfg, keyring=app[KEYRING], store=app[STORE], directory=app[DIRECTORY],
        peer_keys=app[PEER_KEYS], log=exchange_log, session=app[HTTP],
        peers=PeerStates(cfg.peers.backoff_initial, cfg.peers.backoff_max),
    )
    seed_replay_cache(services)
    app[SERVICES] = services
    app[LOG] = exchange_log
    setup_witnessing(services)
    from node.control.link_routes import setup_links

    setup_links(services)
    if DISCOVERY in app:
        services.extra["discovery"] = app[DISCOVERY]
    tf_task = asyncio.create_task(refresh_term_frequencies(services))
    yield
    tf_task.cancel()
    exchange_log.close()


def seed_replay_cache(services: Services) -> int:
    """Rebuild the replay cache from the log's recently received message ids, so an
    envelope accepted before a restart (or a kill -9) is still refused as a replay."""
    from protocol.envelope import MAX_TTL_MS

    skew = int(services.cfg.exchange.max_clock_skew * 1000)
    now = int(time.time() * 1000)
    window = MAX_TTL_MS + 2 * skew
    count = 0
    for peer, message_id, time_ms in services.log.recent_inbound(now - window):
        with contextlib.suppress(ProtocolError):
            services.replay.check_and_add(peer, message_id, keep_until_ms=time_ms + window,
                                          now_ms=now)
            count += 1
    return count


async def _outbox_job(app: web.Application) -> dict[str, int]:
    from node.appkeys import SERVICES
    from node.federation.outbox import deliver_due
    return await deliver_due(app[SERVICES])


async def _tf_job(app: web.Application) -> int:
    from node.appkeys import SERVICES
    from node.federation.answers import refresh_term_frequencies
    return await refresh_term_frequencies(app[SERVICES])


async def _prune_job(app: web.Application) -> int:
    from node.appkeys import SERVICES
    return app[SERVICES].replay.prune(int(time.time() * 1000))


def _job_registry(cfg: NodeConfig) -> dict[str, tuple[float, object]]:
    from node.directory.routes import refresh_job, rotation_job
    from node.directory.tls_pinning import tls_peers_job
    from node.federation.witnessing import checkpoint_job, cosign_job
    from node.importing.drop_folder import drop_import_job
    from node.store.retention import retention_job

    return {
        "checkpoint": (cfg.audit.checkpoint_interval, checkpoint_job),
        "cosign": (cfg.audit.cosign_interval, cosign_job),
        "directory_refresh": (cfg.directory.refresh_interval, refresh_job),
        "key_rotation": (min(3600.0, cfg.keys.encryption_key_lifetime / 4), rotation_job),
        "outbox": (cfg.jobs.outbox_interval, _outbox_job),
        "replay_prune": (60.0, _prune_job),
        "drop_import": (cfg.jobs.import_interval, drop_import_job),
        "retention": (cfg.jobs.retention_interval, retention_job),
        "tls_peers": (15.0, tls_peers_job),
        "term_frequencies": (900.0, _tf_job),
    }


def create_app(cfg: NodeConfig, *, keys: NodeKeys | None = None) -> web.Application:
    from node.appkeys import REGISTRY, TOKEN
    from node.audit.routes import setup_audit_routes
    from node.control.api import setup_control_routes
    from node.directory.lan_discovery import discovery_ctx
    from node.directory.routes import directory_ctx, setup_directory_routes
    from node.federation.endpoint import setup_exchange_routes
    from node.jobs import jobs_ctx
    app = web.Application(client_max_size=cfg.server.client_max_size)
    app[CONFIG] = cfg
    app[KEYS] = keys or load_keys(cfg)
    app[STARTED] = time.time()
    app[REGISTRY] = _job_registry(cfg)
    app[TOKEN] = secrets.token_urlsafe(32)
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(directory_ctx)
    app.cleanup_ctx.append(discovery_ctx)
    app.cleanup_ctx.append(_services_ctx)
    app.cleanup_ctx.append(jobs_ctx)
    app.router.add_get("/healthz", healthz)
    setup_directory_routes(app)
    setup_exchange_routes(app)
    setup_control_routes(app)
    setup_audit_routes(app)
    from node.control.link_routes import setup_link_routes

    setup_link_routes(app)
    from node.control.metrics import setup_metrics_routes
    from node.control.signing_rotation import setup_rotation_routes

    setup_metrics_routes(app)
    setup_rotation_routes(app)
    if cfg.web.enabled:
        from node.web.setup import setup_web

        setup_web(app)
    return app


