"""LAN discovery on loopback: announcements are used only when they match the directory."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from node.appkeys import KEYRING
from node.authority.web_service import create_authority_app
from node.directory.client import DirectoryView
from node.directory.identity import load_keys
from node.directory.key_documents import KeyRing
from node.directory.lan_discovery import SERVICE_TYPE, Discovery
from node.directory.routes import setup_directory_routes
from tests.node.dirfixtures import Clock, info_for, make_authority, make_node, with_urls

pytestmark = pytest.mark.mdns
LOOPBACK = ["127.0.0.1"]


async def multicast_self_test() -> None:
    """Fail with a plain diagnosis when multicast on loopback does not work (no socket, or
    no echo of our own announcement): the tests after it need it, and CI has it."""
    from zeroconf import IPVersion, ServiceStateChange
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    name = f"selftest-{uuid.uuid4().hex[:8]}.{SERVICE_TYPE}"
    seen = asyncio.Event()

    def on_change(zeroconf, service_type, name: str, state_change) -> None:
        if name == expected and state_change is ServiceStateChange.Added:
            seen.set()

    expected = name
    try:
        azc = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    except OSError as exc:
        pytest.fail(f"multicast on loopback is unavailable on this machine: {exc}")
    try:
        browser = AsyncServiceBrowser(azc.zeroconf, [SERVICE_TYPE], handlers=[on_change])
        info = AsyncServiceInfo(SERVICE_TYPE, name, addresses=[socket.inet_aton("127.0.0.1")],
                                port=9, properties={"v": "selftest"})
        await (await azc.async_register_service(info))
        try:
            await asyncio.wait_for(seen.wait(), 5)
        except TimeoutError:
            pytest.fail("multicast on loopback is unavailable on this machine: our own mDNS "
                        "announcement was not seen within 5 s")
        finally:
            await browser.async_cancel()
    finally:
        await azc.async_unregister_all_services()
        await azc.async_close()


async def wait_for(cond, disc: Discovery, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        disc.changed.clear()
        try:
            await asyncio.wait_for(disc.changed.wait(), max(0.05, deadline - time.monotonic()))
        except TimeoutError:
            break


async def test_discovery_uses_only_addresses_matching_the_directory(tmp_path: Path,
                                                                    aiohttp_server) -> None:
    await multicast_self_test()
    clock = Clock(time.time())
    auth = make_authority(tmp_path / "auth", clock)
    auth_server = await aiohttp_server(create_authority_app(auth))
    urls = {}
    cfgs = {}
    for state in ("TX", "CA"):
        cfg = make_node(tmp_path, state, authority=auth)
        app = web.Application()
        app[KEYRING] = KeyRing(cfg, load_keys(cfg))
        setup_directory_routes(app)
        server = await aiohttp_server(app)
        urls[state] = str(server.make_url("")).rstrip("/")
        cfgs[state] = with_urls(cfg, str(auth_server.make_url("")))
        auth.enroll(info_for(cfg, "http://203.0.113.1:1"))  # the directory's address is stale
    view = DirectoryView(cfgs["TX"], now=clock)
    async with aiohttp.ClientSession() as session:
        assert await view.refresh(session)
    ca_kid = load_keys(cfgs["CA"]).signing.key_id
    tx_kid = load_keys(cfgs["TX"]).signing.key_id
    port = {s: int(u.rsplit(":", 1)[1]) for s, u in urls.items()}

    tx = Discovery(view, "TX", tx_kid, port["TX"], interfaces=LOOPBACK)
    ca = Discovery(view, "CA", ca_kid, port["CA"], interfaces=LOOPBACK)
    # impostors: a wrong key id, and the right key id at an address holding other keys
    wrong_kid = Discovery(view, "CA", "0" * 16, port["CA"], interfaces=LOOPBACK)
    wrong_addr = Discovery(view, "CA", ca_kid, port["TX"], interfaces=LOOPBACK)
    wrong_addr.instance = f"CA-{uuid.uuid4().hex[:8]}"
    started = []
    try:
        all_four = (tx, ca, wrong_kid, wrong_addr)
        try:
            await asyncio.gather(*(d.start() for d in all_four))
        finally:
            started.extend(d for d in all_four if d._zc is not None)
        await wait_for(lambda: bool(tx.discovered("CA")) and len(tx.rejected) >= 2, tx)
        assert tx.discovered("CA") == [urls["CA"]]
        assert tx.discovered("TX") == []  # never itself
        reasons = " | ".join(tx.rejected.values())
        assert "announced key id 0000000000000000 is not CA's key" in reasons
        assert "key document signature does not verify" in reasons
    finally:
        await asyncio.gather(*(d.stop() for d in started))


async def test_discovery_refuses_everything_without_a_directory(tmp_path: Path) -> None:
    await multicast_self_test()
    cfg = make_node(tmp_path, "TX")
    view = DirectoryView(cfg)
    tx = Discovery(view, "TX", "1" * 16, 0, interfaces=LOOPBACK)
    other = Discovery(view, "CA", "2" * 16, 9, interfaces=LOOPBACK)
    await asyncio.gather(tx.start(), other.start())
    try:
        await wait_for(lambda: bool(tx.rejected), tx)
        assert tx.discovered("CA") == []
        assert "authority_key is not set" in " ".join(tx.rejected.values())
    finally:
        await asyncio.gather(other.stop(), tx.stop())


async def test_a_pinned_node_must_prove_its_tls_key(tmp_path: Path, aiohttp_server) -> None:
    """An address announcing a node whose directory entry pins a TLS certificate is used
    only if it serves https with that certificate: replaying the node's (public, signed)
    key document from another host is not enough. No multicast needed: the check alone."""
    from node.directory.tls_pinning import (
        client_connector,
        own_pin,
        peer_trust,
        request_ssl,
        server_context,
    )
    from node.ops.serve import start_site
    from tests.node.test_tls import tls_node

    clock = Clock(time.time())
    auth = make_authority(tmp_path / "auth", clock)
    auth_server = await aiohttp_server(create_authority_app(auth))
    tx, ca = tls_node(tmp_path, "TX"), tls_node(tmp_path, "CA", authority=auth)
    ca_cert = ssl.PEM_cert_to_DER_cert((ca.config_path.parent / "tls/cert.pem").read_text())
    for listener in (tx, ca):  # both listeners know CA's client certificate
        peer_trust(listener).add(ca_cert)
    sites = []
    for cert_of in (tx, ca):  # TX's key document behind TX's and behind CA's certificate
        app = web.Application()
        app[KEYRING] = KeyRing(tx, load_keys(tx))
        setup_directory_routes(app)
        sites.append(await start_site(app, "127.0.0.1", 0,
                                      ssl_context=server_context(cert_of)))
    (real_runner, real), (fake_runner, impostor) = sites
    info = info_for(tx, real)
    auth.enroll(info.__class__(**{**info.__dict__, "tls_cert_sha256": own_pin(tx)}))
    view = DirectoryView(with_urls(ca, str(auth_server.make_url(""))), now=clock)
    disc = Discovery(view, "CA", load_keys(ca).signing.key_id, 0,
                     ssl_for=lambda entry, url: request_ssl(ca, entry, url))
    disc._session = aiohttp.ClientSession(connector=client_connector(ca))
    try:
        assert await view.refresh(disc._session)
        kid = info.key_id
        assert await disc._check("TX", kid, real) is None
        why = await disc._check("TX", kid, impostor)
        assert why is not None and "does not match the directory pin" in why
        why = await disc._check("TX", kid, real.replace("https://", "http://"))
        assert why is not None and "is not https" in why
    finally:
        await disc._session.close()
        await real_runner.cleanup()
        await fake_runner.cleanup()
