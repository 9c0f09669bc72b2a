"""The node's directory view and key documents against the real authority app."""

from __future__ import annotations

import base64
import dataclasses
import shutil
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from config.errors import ConfigError
from node.appkeys import DIRECTORY, KEYRING
from node.authority.registry import Authority
from node.authority.web_service import create_authority_app
from node.directory.client import DirectoryUnavailable, DirectoryView
from node.directory.identity import load_keys
from node.directory.key_documents import KeyRing, PeerKeyCache, own_key_document
from node.directory.routes import setup_directory_routes
from node.errors import PeerUnavailable
from protocol.directory import verify_key_document
from protocol.errors import EnvelopeRejected, ErrorCode
from tests.node.dirfixtures import (
    Clock,
    info_for,
    make_authority,
    make_node,
    random_info,
    with_urls,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(tmp_path: Path, clock: Clock) -> Authority:
    a = make_authority(tmp_path / "auth", clock)
    a.enroll(random_info("TX"))
    a.enroll(random_info("CA"))
    return a


@pytest.fixture
async def auth_url(aiohttp_server, auth: Authority) -> str:
    server = await aiohttp_server(create_authority_app(auth))
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def view_for(tmp_path: Path, auth: Authority, clock: Clock, *urls: str) -> DirectoryView:
    cfg = with_urls(make_node(tmp_path, "NM", authority=auth), *urls)
    return DirectoryView(cfg, now=clock)


async def test_refresh_accepts_newer_and_keeps_cache(tmp_path, auth, auth_url, clock, session):
    view = view_for(tmp_path, auth, clock, auth_url)
    with pytest.raises(DirectoryUnavailable, match="no directory snapshot yet"):
        view.current()
    assert await view.refresh(session) is True
    assert view.current().serial == 2
    assert view.cfg.directory.cache_file.exists()
    assert await view.refresh(session) is False  # same serial: up to date
    assert view.last.ok is True and view.last.error is None
    auth.enroll(random_info("AZ"))  # while the service runs
    assert await view.refresh(session) is True
    assert view.current().serial == 3
    assert {e.node_id for e in view.peers()} == {"AZ", "CA", "TX"}
    again = DirectoryView(view.cfg, now=clock)
    again.load_cache()
    assert again.current().serial == 3 and again.current().raw == view.current().raw


async def test_refresh_refuses_older_serial(tmp_path, auth, auth_url, clock, session):
    view = view_for(tmp_path, auth, clock, auth_url)
    backup = tmp_path / "backup"
    shutil.copytree(auth.cfg.path.parent, backup)
    auth.suspend("CA")
    assert await view.refresh(session) is True
    assert view.current().serial == 3
    for name in ("state.json", "snapshot.msgpack", "snapshot.v2.msgpack"):  # back to serial 2
        shutil.copy(backup / name, auth.cfg.path.parent / name)
    assert await view.refresh(session) is False
    assert view.current().serial == 3
    assert view.last.ok is False and "not newer than the cached serial 3" in view.last.error


async def test_refresh_refuses_bad_signature(tmp_path, aiohttp_server, auth, clock, session):
    other = make_authority(tmp_path / "impostor", clock)
    other.enroll(random_info("TX"))
    server = await aiohttp_server(create_authority_app(other))
    view = view_for(tmp_path, auth, clock, str(server.make_url("")))
    assert await view.refresh(session) is False
    assert "signature does not verify" in view.last.error
    with pytest.raises(DirectoryUnavailable, match=r"last refresh failed: .*signature"):
        view.current()


async def test_refresh_refuses_expired(tmp_path, auth, auth_url, session):
    node_clock = Clock(auth._now() + 4 * 86400)  # node is 4 days ahead of the authority
    view = view_for(tmp_path, auth, node_clock, auth_url)
    assert await view.refresh(session) is False
    assert "has expired" in view.last.error
    assert view.snapshot is None


async def test_unreachable_directory_keeps_cache_then_expires(tmp_path, aiohttp_server, auth,
                                                              clock, session, caplog):
    server = await aiohttp_server(create_authority_app(auth))
    view = view_for(tmp_path, auth, clock, str(server.make_url("")))
    assert await view.refresh(session)
    await server.close()
    expires = view.current().expires_at_ms / 1000
    clock.t = expires - view.cfg.directory.warn_before_expiry / 2  # within the warning window
    assert await view.refresh(session) is False
    assert view.current().serial == 2  # degraded mode: still usable
    status = view.status()
    assert status["usable"] and status["warning"] and status["last_refresh_ok"] is False
    assert any("expires in" in r.getMessage() for r in caplog.records)
    clock.t = expires + 1
    with pytest.raises(DirectoryUnavailable, match=r"serial 2 expired at .*last refresh failed"):
        view.current()
    with pytest.raises(EnvelopeRejected) as err:
        view.sender_keys("TX", now_ms=clock.ms())
    assert err.value.code is ErrorCode.DIRECTORY_EXPIRED
    assert view.status()["usable"] is False
    reloaded = DirectoryView(view.cfg, now=clock)
    reloaded.load_cache()  # an expired cache is shown but not trusted
    assert reloaded.snapshot is None and reloaded.stale.serial == 2
    with pytest.raises(DirectoryUnavailable, match="serial 2 expired at"):
        reloaded.peers()
    assert reloaded.status()["serial"] == 2


async def test_revoked_node_refused_after_refresh(tmp_path, auth, auth_url, clock, session):
    view = view_for(tmp_path, auth, clock, auth_url)
    await view.refresh(session)
    assert view.sender_keys("CA", now_ms=clock.ms())
    auth.revoke("CA")
    assert view.sender_keys("CA", now_ms=clock.ms())  # not yet refreshed
    assert await view.refresh(session)
    with pytest.raises(EnvelopeRejected) as err:
        view.sender_keys("CA", now_ms=clock.ms())
    assert err.value.code is ErrorCode.SENDER_NOT_ACTIVE
    with pytest.raises(EnvelopeRejected) as err:
        view.sender_keys("WY", now_ms=clock.ms())
    assert err.value.code is ErrorCode.UNKNOWN_SENDER
    assert "CA" not in {e.node_id for e in view.peers()}


def test_authority_key_missing_or_bad(tmp_path, clock):
    cfg = make_node(tmp_path, "NM")
    view = DirectoryView(cfg, now=clock)
    view.load_cache()
    with pytest.raises(DirectoryUnavailable, match="authority_key is not set"):
        view.current()
    bad = dataclasses.replace(cfg, directory=dataclasses.replace(cfg.directory,
                                                                 authority_key="%%%"))
    with pytest.raises(ConfigError, match=r"directory.authority_key: not base64"):
        DirectoryView(bad)


async def peer_app(cfg, view: DirectoryView | None = None) -> web.Application:
    app = web.Application()
    app[KEYRING] = KeyRing(cfg, load_keys(cfg))
    if view is not None:
        app[DIRECTORY] = view
    setup_directory_routes(app)
    return app


async def test_key_document_fetch_verify_cache(tmp_path, aiohttp_server, auth, auth_url,
                                               clock, session):
    ca_cfg = make_node(tmp_path, "AZ", authority=auth)
    server = await aiohttp_server(await peer_app(ca_cfg))
    endpoint = str(server.make_url("")).rstrip("/")
    auth.enroll(info_for(ca_cfg, endpoint))
    view = view_for(tmp_path, auth, clock, auth_url)
    await view.refresh(session)
    entry = view.entry("AZ")
    cache = PeerKeyCache(now=clock)
    now_ms = int(__import__("time").time() * 1000)
    key = await cache.encryption_key(session, entry, now_ms)
    keys = load_keys(ca_cfg)
    assert key.key_id in keys.encryption and key.public == keys.encryption[key.key_id].public
    await server.close()
    assert (await cache.encryption_key(session, entry, now_ms)) == key  # from the cache
    cache.invalidate("AZ")
    with pytest.raises(PeerUnavailable, match="cannot get a valid key document from AZ"):
        await cache.encryption_key(session, entry, now_ms)


async def test_key_document_with_wrong_key_refused(tmp_path, aiohttp_server, auth, auth_url,
                                                   clock, session):
    az_cfg = make_node(tmp_path, "AZ", authority=auth)
    server = await aiohttp_server(await peer_app(az_cfg))
    endpoint = str(server.make_url("")).rstrip("/")
    impostor = dataclasses.replace(random_info("AZ"), endpoints=(endpoint,))
    auth.enroll(impostor)  # the directory pins a different key than the server holds
    view = view_for(tmp_path, auth, clock, auth_url)
    await view.refresh(session)
    with pytest.raises(PeerUnavailable, match="signature does not verify"):
        await PeerKeyCache(now=clock).encryption_key(session, view.entry("AZ"), clock.ms())


def test_own_key_document_and_rotation(tmp_path):
    cfg = make_node(tmp_path, "NM")
    keys = load_keys(cfg)
    import time

    now = time.time()
    doc = verify_key_document(own_key_document(cfg, keys, now), keys.signing.public,
                              node_id="NM", now_ms=int(now * 1000))
    assert [k.key_id for k in doc.encryption_keys] == [e.key_id for e in keys.published(now)]
    ring = KeyRing(cfg, keys)
    import asyncio

    later = now + cfg.keys.encryption_key_lifetime * 1.5
    assert asyncio.run(ring.rotate(later)) is True
    doc2 = verify_key_document(ring.key_document(later), keys.signing.public, node_id="NM",
                               now_ms=int(later * 1000))
    assert doc2.encryption_keys[0].key_id == doc.encryption_keys[1].key_id
    assert len(doc2.encryption_keys) == 2


async def test_node_serves_directory_as_mirror(tmp_path, aiohttp_server, auth, auth_url,
                                               clock, session):
    tx_cfg = make_node(tmp_path, "TX", authority=auth)
    tx_view = DirectoryView(tx_cfg, now=clock)
    mirror = await aiohttp_server(await peer_app(tx_cfg, tx_view))
    mirror_url = str(mirror.make_url("")).rstrip("/")
    async with session.get(mirror_url + "/federation/v1/directory") as resp:
        assert resp.status == 404 and "no directory snapshot" in (await resp.json())["error"]
    tx_view.cfg = with_urls(tx_cfg, auth_url)
    auth.set_endpoints("TX", [mirror_url])
    assert await tx_view.refresh(session)
    # NM's directory URL is dead; the next source, node TX, mirrors the snapshot
    nm = view_for(tmp_path, auth, clock, "http://127.0.0.1:9", mirror_url)
    assert await nm.refresh(session) is True
    assert nm.current().serial == tx_view.current().serial
    assert nm.last.source == mirror_url + "/federation/v1/directory"
    assert "http://127.0.0.1:9" in nm.last.error
    assert mirror_url + "/federation/v1/directory" in nm.sources()


async def test_authority_healthz(aiohttp_client, auth):
    client = await aiohttp_client(create_authority_app(auth))
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["entries"] == 2
    resp = await client.get("/federation/v1/directory")
    assert resp.headers["Content-Type"] == "application/msgpack"
    assert base64.b64encode(auth.public_key)
