"""LAN discovery with zeroconf (mDNS/DNS-SD): a hint, never trust.

Spec: DESIGN.md "Discovery" (an address found on the LAN is used only if the
node's key matches the signed directory); PROTOCOL-ANCHORS.md §5.1 item 26;
DEPENDENCIES.md §4 (zeroconf recipe: await registration twice, unique
instance names, keyword-named handlers, idempotent Added/Updated events).

Each node announces `_statenode._tcp.local.` as `"{node_id}-{key_id[:8]}"` with
TXT `node`, `kid` (signing key id), `v` (protocol version) and `tls`, and
browses for the others. A found address is listed by `discovered(node_id)`
only after (1) `kid` equals the key id of that node's entry in our trusted
directory snapshot, (2) the key document at that address verifies with
the directory's signing key(s) for that node and, when the entry pins a TLS
certificate, (3) the address is https and presents that certificate (checked as
for every request to a peer, `node.directory.tls_pinning.request_ssl`): the host then proves it
holds the node's TLS key, not only that it can replay its public key document.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from node.appkeys import DISCOVERY
from node.directory.client import DirectoryView
from node.directory.key_documents import fetch_key_document, verify_peer_key_document
from node.errors import NodeError
from protocol.errors import ProtocolError

if TYPE_CHECKING:
    from protocol.directory import DirectoryEntry

#: aiohttp's `ssl=` for a request to a URL of a directory entry
#: (see node.directory.tls_pinning.request_ssl)
SslFor = Callable[["DirectoryEntry", str], Any]

log = logging.getLogger("statenode.discovery")

SERVICE_TYPE = "_statenode._tcp.local."
PROTOCOL_VERSION = "1"


def _announce_address(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - comparing, not binding
        try:
            return socket.gethostbyname(socket.gethostname())
        except OSError:
            return "127.0.0.1"
    try:
        socket.inet_aton(host)
        return host
    except OSError:
        return socket.gethostbyname(host)


class Discovery:
    """Announce this node and collect verified addresses of the others."""

    def __init__(self, view: DirectoryView, node_id: str, key_id: str, port: int, *,
                 host: str = "127.0.0.1", tls: bool = False,
                 interfaces: list[str] | None = None, timeout: float = 5.0,
                 ssl_for: SslFor | None = None,
                 connector: Callable[[], aiohttp.BaseConnector] | None = None) -> None:
        self.view = view
        self.node_id = node_id
        self.key_id = key_id
        self.port = port
        self.host = host
        self.scheme = "https" if tls else "http"
        self.interfaces = interfaces
        self.timeout = timeout
        self.ssl_for = ssl_for
        self.connector = connector
        self.instance = f"{node_id}-{key_id[:8]}"
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._session: aiohttp.ClientSession | None = None
        self._verified: dict[str, dict[str, str]] = {}  # node id -> {service name: url}
        self._tasks: set[asyncio.Task[None]] = set()
        self.rejected: dict[str, str] = {}  # service name -> why it was not used
        self.changed = asyncio.Event()

    async def start(self, *, announce: bool = True) -> None:
        """Open zeroconf (OSError when multicast is unavailable), browse, announce."""
        kw: dict[str, Any] = {"ip_version": IPVersion.V4Only}
        if self.interfaces is not None:
            kw["interfaces"] = self.interfaces
        self._zc = AsyncZeroconf(**kw)
        self._session = aiohttp.ClientSession(
            connector=self.connector() if self.connector is not None else None)
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, [SERVICE_TYPE],
                                            handlers=[self._on_change])
        if announce and self.port:
            await self.announce(self.port)

    async def announce(self, port: int) -> None:
        assert self._zc is not None, "start() first"
        self.port = port
        info = AsyncServiceInfo(
            SERVICE_TYPE, f"{self.instance}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(_announce_address(self.host))], port=port,
            properties={"node": self.node_id, "kid": self.key_id, "v": PROTOCOL_VERSION,
                        "tls": "1" if self.scheme == "https" else "0"},
            server=f"statenode-{self.instance.lower()}.local.")
        task = await self._zc.async_register_service(info, allow_name_change=True)
        await task

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zc is not None:
            await self._zc.async_unregister_all_services()
            await self._zc.async_close()
        if self._session is not None:
            await self._session.close()

    def discovered(self, node_id: str) -> list[str]:
        """Verified base URLs of `node_id` seen on the LAN (a hint: prefer the directory's).

        Empty once the node is no longer active in our current directory snapshot.
        """
        try:
            entry = self.view.current().entry(node_id)
        except NodeError:
            return []
        if entry is None or entry.status != "active":
            return []
        return sorted(set(self._verified.get(node_id, {}).values()))

    # ---- browsing ----------------------------------------------------------
    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str,
                   state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            for urls in self._verified.values():
                urls.pop(name, None)
            return
        if name == f"{self.instance}.{SERVICE_TYPE}":
            return
        task = asyncio.ensure_future(self._resolve(zeroconf, service_type, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, zc: Zeroconf, service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(zc, int(self.timeout * 1000)):
            return
        props = info.decoded_properties
        node, kid = props.get("node"), props.get("kid")
        scheme = "https" if props.get("tls") == "1" else "http"
        if not node or not kid or not info.port:
            self.rejected[name] = "announcement without node, kid or port"
            return
        for addr in info.parsed_addresses(IPVersion.V4Only):
            url = f"{scheme}://{addr}:{info.port}"
            why = await self._check(node, kid, url)
            if why is None:
                self._verified.setdefault(node, {})[name] = url
                self.rejected.pop(name, None)
                log.info("LAN discovery: %s verified at %s", node, url)
                self.changed.set()
                return
            self.rejected[name] = why
            log.info("LAN discovery: ignoring %s at %s: %s", node, url, why)
        self.changed.set()

    async def _check(self, node: str, kid: str, url: str) -> str | None:
        """None when `url` proves to hold `node`'s directory key; else why not."""
        try:
            now_ms = self.view.now_ms()
            entry = self.view.current(now_ms).entry(node)
            if entry is None or entry.status != "active":
                return f"{node} is not an active node in the directory"
            if kid != entry.key_id and (entry.next_signing_key is None
                                        or kid != _kid(entry.next_signing_key)):
                return f"announced key id {kid} is not {node}'s key in the directory"
            assert self._session is not None
            ssl_arg = self.ssl_for(entry, url) if self.ssl_for is not None else True
            data = await fetch_key_document(self._session, url, timeout=self.timeout,
                                            ssl=ssl_arg)
            verify_peer_key_document(data, entry, now_ms=now_ms)
        except (NodeError, ProtocolError, ValueError) as exc:  # ValueError: http, pinned
            return str(exc)
        return None


def _kid(public: bytes) -> str:
    from crypto.keys import key_id

    return key_id(public)




def _port_of(url: str) -> int:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).port or 0
    except ValueError:
        return 0


async def discovery_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after `directory_ctx`): runs only when `discovery.mdns` is true.

    Announces at once when the port is known from `server.public_url` or
    `server.port`; with port 0 the caller announces after binding:
    `await app[DISCOVERY].announce(bound_port)`.
    """
    from node.appkeys import CONFIG, DIRECTORY, KEYS
    from node.directory.tls_pinning import client_connector, request_ssl

    cfg = app[CONFIG]
    if not cfg.discovery.mdns:
        yield
        return
    port = _port_of(cfg.server.public_url) or cfg.server.port
    disc = Discovery(app[DIRECTORY], cfg.node.id, app[KEYS].signing.key_id, port,
                     host=cfg.server.host, tls=cfg.server.tls_cert is not None,
                     ssl_for=lambda entry, url: request_ssl(cfg, entry, url),
                     connector=lambda: client_connector(cfg))
    try:
        await disc.start(announce=bool(port))
    except OSError as exc:
        log.warning("LAN discovery disabled: multicast unavailable (%s)", exc)
        yield
        return
    app[DISCOVERY] = disc
    yield
    await disc.stop()
