"""The node's aiohttp application, composed: typed app keys, startup/cleanup, routes, jobs.

This is the composition root: the only module that knows every room. `create_app(cfg)`
wires the services through `cleanup_ctx` so startup and shutdown are symmetric: store
(node.db) → directory view, key ring and HTTP session → LAN discovery → exchange log →
`Services` (with the handlers, receipt look-ups and find hook of the rooms above
federation/) → scheduled jobs. Each room adds its routes with a `setup_*` function; the
job registry names every scheduled job, a coroutine function of `Services`, with its
interval from the config.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from config.schema import NodeConfig
from node import __version__, clock
from node.appkeys import (
    CONFIG,
    DIRECTORY,
    DISCOVERY,
    HTTP,
    KEYRING,
    KEYS,
    LOG,
    PEER_KEYS,
    REGISTRY,
    SERVICES,
    STARTED,
    STORE,
    TOKEN,
)
from node.audit.routes import setup_audit_routes
from node.control.api import setup_control_routes
from node.control.link_routes import setup_link_routes, setup_links
from node.control.metrics import setup_metrics_routes
from node.control.signing_rotation import setup_rotation_routes
from node.directory.identity import NodeKeys, ensure_keys, load_keys
from node.directory.lan_discovery import discovery_ctx
from node.directory.peer_health import PeerStates
from node.directory.routes import directory_ctx, refresh_job, rotation_job, setup_directory_routes
from node.directory.tls_pinning import server_context, tls_peers_job
from node.federation.answers import refresh_term_frequencies
from node.federation.discover import (
    discover_filter_job,
    setup_discover,
    setup_discover_routes,
    start_discover,
)
from node.federation.endpoint import setup_exchange_routes
from node.federation.outbox import deliver_due
from node.federation.witnessing import (
    checkpoint_job,
    cosign_job,
    setup_witness_routes,
    setup_witnessing,
)
from node.importing.drop_folder import drop_import_job
from node.importing.edfi_pull import edfi_pull_job
from node.importing.report_aggregates import refresh_job as report_refresh_job
from node.jobs import JobFunction, jobs_ctx
from node.services import Services, open_exchange_log
from node.store import accounts, discover_tables, federation_tables, link_tables, reports
from node.store.database import Store
from node.store.retention import retention_job
from node.web.setup import setup_web
from protocol.envelope import MAX_TTL_MS
from protocol.errors import ProtocolError

log = logging.getLogger("statenode.app")

#: the schema of every room's tables, applied in this order at startup
MIGRATIONS = (federation_tables.apply_migrations, accounts.apply_migrations,
              link_tables.apply_migrations, reports.apply_migrations,
              discover_tables.apply_migrations)


def server_ssl_context(cfg: NodeConfig) -> ssl.SSLContext | None:
    """The listener's TLS context (optional client certificates pinned by the directory;
    see node.directory.tls_pinning); None when server.tls_cert is not set."""
    return server_context(cfg)


async def healthz(request: web.Request) -> web.Response:
    cfg = request.app[CONFIG]
    return web.json_response(
        {"status": "ok", "node": cfg.node.id, "version": __version__,
         "uptime_s": round(clock.now() - request.app[STARTED], 1)}
    )


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    store = Store(app[CONFIG].storage.database)
    for apply in MIGRATIONS:
        await store.run(apply)
    app[STORE] = store
    yield
    store.close()


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg = app[CONFIG]
    exchange_log = open_exchange_log(cfg, app[KEYS])
    services = Services(
        cfg=cfg, keyring=app[KEYRING], store=app[STORE], directory=app[DIRECTORY],
        peer_keys=app[PEER_KEYS], log=exchange_log, session=app[HTTP],
        peers=PeerStates(cfg.peers.backoff_initial, cfg.peers.backoff_max),
        discovery=app[DISCOVERY] if DISCOVERY in app else None,
    )
    seed_replay_cache(services)
    app[SERVICES] = services
    app[LOG] = exchange_log
    setup_witnessing(services)
    setup_links(services)
    setup_discover(services)
    tf_task = asyncio.create_task(refresh_term_frequencies(services))
    discover_task = start_discover(services)  # the filter, rebuilt if missing or outdated
    yield
    tf_task.cancel()
    discover_task.cancel()
    exchange_log.close()


def seed_replay_cache(services: Services) -> int:
    """Rebuild the replay cache from the log's recently received message ids, so an
    envelope accepted before a restart (or a kill -9) is still refused as a replay."""
    skew = int(services.cfg.exchange.max_clock_skew * 1000)
    now = clock.now_ms()
    window = MAX_TTL_MS + 2 * skew
    count = 0
    for peer, message_id, time_ms in services.log.recent_inbound(now - window):
        with contextlib.suppress(ProtocolError):
            services.replay.check_and_add(peer, message_id, keep_until_ms=time_ms + window,
                                          now_ms=now)
            count += 1
    return count


async def _prune_job(services: Services) -> int:
    return services.replay.prune(clock.now_ms())


def _then_discover(job: JobFunction) -> JobFunction:
    """`job`, then the discover filter's rebuild (a job that changes students)."""
    async def run(services: Services) -> Any:
        result = await job(services)
        await discover_filter_job(services)
        return result
    run.__name__ = getattr(job, "__name__", "job")
    return run


def job_registry(cfg: NodeConfig) -> dict[str, tuple[float, JobFunction]]:
    """Every scheduled job: name -> (interval in seconds, coroutine function of Services)."""
    return {
        "checkpoint": (cfg.audit.checkpoint_interval, checkpoint_job),
        "cosign": (cfg.audit.cosign_interval, cosign_job),
        "directory_refresh": (cfg.directory.refresh_interval, refresh_job),
        "key_rotation": (min(3600.0, cfg.keys.encryption_key_lifetime / 4), rotation_job),
        "outbox": (cfg.jobs.outbox_interval, deliver_due),
        "replay_prune": (60.0, _prune_job),
        "report_aggregates": (3600.0, report_refresh_job),
        "drop_import": (cfg.jobs.import_interval, _then_discover(drop_import_job)),
        "edfi_pull": (cfg.edfi.pull_interval, _then_discover(edfi_pull_job)),
        "retention": (cfg.jobs.retention_interval, _then_discover(retention_job)),
        "discover_filter": (cfg.discover.rebuild_interval, discover_filter_job),
        "tls_peers": (15.0, tls_peers_job),
        "term_frequencies": (900.0, refresh_term_frequencies),
    }


def create_app(cfg: NodeConfig, *, keys: NodeKeys | None = None) -> web.Application:
    app = web.Application(client_max_size=cfg.server.client_max_size)
    app[CONFIG] = cfg
    if keys is None:
        ensure_keys(cfg)  # a key folder made by the previous release gains this one's keys
        keys = load_keys(cfg)
    app[KEYS] = keys
    app[STARTED] = clock.now()
    app[REGISTRY] = job_registry(cfg)
    app[TOKEN] = secrets.token_urlsafe(32)
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(directory_ctx)
    app.cleanup_ctx.append(discovery_ctx)
    app.cleanup_ctx.append(_services_ctx)
    app.cleanup_ctx.append(jobs_ctx)
    app.router.add_get("/healthz", healthz)
    setup_directory_routes(app)
    setup_exchange_routes(app)
    setup_discover_routes(app)
    setup_witness_routes(app)
    setup_control_routes(app)
    setup_audit_routes(app)
    setup_link_routes(app)
    setup_metrics_routes(app)
    setup_rotation_routes(app)
    if cfg.web.enabled:
        setup_web(app)
    return app
