"""Every typed key of the node's aiohttp application, in one leaf module.

The composition root (`node.app`) fills these keys at startup; request handlers read
them. Keeping them here, with the types imported only for the type checker, lets any
room read `request.app[CONFIG]` without importing the composition root, so no import
circle can form through the app (docs/ARCHITECTURE.md, "Floors and rooms").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from config.schema import NodeConfig
    from node.audit.exchange_log import ExchangeLog
    from node.directory.client import DirectoryView
    from node.directory.identity import NodeKeys
    from node.directory.key_documents import KeyRing, PeerKeyCache
    from node.directory.lan_discovery import Discovery
    from node.jobs import Jobs
    from node.services import Services
    from node.store.database import Store
    from node.web.site import WebState

CONFIG: Final[web.AppKey[NodeConfig]] = web.AppKey("config")
KEYS: Final[web.AppKey[NodeKeys]] = web.AppKey("keys")
STARTED: Final[web.AppKey[float]] = web.AppKey("started")
STORE: Final[web.AppKey[Store]] = web.AppKey("store")
SERVICES: Final[web.AppKey[Services]] = web.AppKey("services")
LOG: Final[web.AppKey[ExchangeLog]] = web.AppKey("exchange_log")
DIRECTORY: Final[web.AppKey[DirectoryView]] = web.AppKey("directory")
PEER_KEYS: Final[web.AppKey[PeerKeyCache]] = web.AppKey("peer_keys")
KEYRING: Final[web.AppKey[KeyRing]] = web.AppKey("keyring")
HTTP: Final[web.AppKey[aiohttp.ClientSession]] = web.AppKey("directory_http")
DISCOVERY: Final[web.AppKey[Discovery]] = web.AppKey("discovery")
JOBS: Final[web.AppKey[Jobs]] = web.AppKey("jobs")
#: name -> (interval seconds, job coroutine function of `Services`); filled by create_app.
REGISTRY: Final[web.AppKey[dict[str, tuple[float, Any]]]] = web.AppKey("job_registry")
TOKEN: Final[web.AppKey[str]] = web.AppKey("control_token")
WEB: Final[web.AppKey[WebState]] = web.AppKey("web")
