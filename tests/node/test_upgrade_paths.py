"""Upgrades of this release on one node (DESIGN.md "Upgrades"): the version 2 directory
snapshot next to version 1 (fetched, cached, mirrored; an authority one release behind
still works), and the key-folder migration (`ensure_keys`: hybrid keys and the witness
key added to a folder that has neither). The same on folders made by the real previous
release: tests/integration/test_mixed_release.py."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from crypto.seal import HYBRID
from node.authority.registry import Authority
from node.authority.web_service import create_authority_app
from node.directory.client import DirectoryView, v2_cache_file
from node.directory.identity import HYBRID_INDEX, ensure_keys, load_keys, rotate_if_due
from node.directory.key_documents import own_key_document
from protocol.directory import FEATURE_HYBRID, NodeInfo, verify_key_document, verify_snapshot
from tests.node.dirfixtures import Clock, make_authority, make_node, random_info, with_urls


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(tmp_path: Path, clock: Clock) -> Authority:
    a = make_authority(tmp_path / "auth", clock)
    base = random_info("TX")
    a.enroll(NodeInfo(base.node_id, base.name, base.endpoints, base.signing_key, base.key_id,
                      log_origin="tx.example/TX/log", features=(FEATURE_HYBRID,)))
    a.enroll(random_info("CA"))
    return a


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def test_the_view_takes_version_2_and_keeps_version_1_to_mirror(
        tmp_path, aiohttp_server, auth, clock, session) -> None:
    server = await aiohttp_server(create_authority_app(auth))
    cfg = with_urls(make_node(tmp_path, "NM", authority=auth), str(server.make_url("")))
    view = DirectoryView(cfg, now=clock)
    assert await view.refresh(session) is True
    snap = view.current()
    assert snap.version == 2 and snap.entry("TX").log_origin == "tx.example/TX/log"
    assert snap.entry("TX").has(FEATURE_HYBRID)
    v1 = verify_snapshot(view.mirror_bytes(1), auth.public_key, now_ms=clock.ms())
    assert (v1.version, v1.serial) == (1, snap.serial)
    assert view.mirror_bytes(2) == snap.raw
    assert cfg.directory.cache_file.is_file() and v2_cache_file(cfg).is_file()
    assert await view.refresh(session) is False  # up to date
    # after a restart: both from the cache, version 2 preferred
    again = DirectoryView(cfg, now=clock)
    again.load_cache()
    assert again.current().version == 2 and again.mirror_bytes(1) == view.mirror_bytes(1)
    # a newer serial replaces both
    auth.enroll(random_info("AZ"))
    assert await view.refresh(session) is True
    assert view.current().serial == snap.serial + 1
    assert verify_snapshot(view.mirror_bytes(1), auth.public_key,
                           now_ms=clock.ms()).serial == snap.serial + 1


async def test_an_authority_one_release_behind_still_serves_version_1(
        tmp_path, aiohttp_server, auth, clock, session) -> None:
    data = auth.current_snapshot(1)

    async def v1_only(request: web.Request) -> web.Response:
        return web.Response(body=data, content_type="application/msgpack")

    app = web.Application()
    app.router.add_get("/federation/v1/directory", v1_only)  # no version 2 path: 404
    server = await aiohttp_server(app)
    cfg = with_urls(make_node(tmp_path, "NM", authority=auth), str(server.make_url("")))
    view = DirectoryView(cfg, now=clock)
    assert await view.refresh(session) is True
    assert view.current().version == 1 and view.current().entry("TX").log_origin is None
    assert view.mirror_bytes(1) == data and view.mirror_bytes(2) is None
    assert not v2_cache_file(cfg).exists()


def test_an_authority_folder_of_the_last_release_gains_version_2(tmp_path, auth) -> None:
    auth.current_snapshot(1)
    auth.snapshot_file_v2.unlink()  # as the previous release left its folder
    serial = verify_snapshot(auth.cfg.snapshot_file.read_bytes(), auth.public_key,
                             now_ms=auth.now_ms()).serial
    v2 = verify_snapshot(auth.current_snapshot(2), auth.public_key, now_ms=auth.now_ms())
    v1 = verify_snapshot(auth.current_snapshot(1), auth.public_key, now_ms=auth.now_ms())
    assert (v2.version, v1.version) == (2, 1) and v2.serial == v1.serial == serial + 1


def test_key_folder_migration(tmp_path: Path) -> None:
    cfg = make_node(tmp_path, "TX")
    folder = cfg.keys.encryption_dir
    # what the previous release's `statenode init` left: no hybrid ring, no witness key
    for path in folder.glob("*.seed"):
        path.unlink()
    (folder / HYBRID_INDEX).unlink()
    cfg.keys.witness_key.unlink()
    before = load_keys(cfg)
    assert before.hybrid == {} and before.witness is None
    made = ensure_keys(cfg)
    assert len(made) == 2 and "hybrid" in made[0] and "witness" in made[1]
    assert ensure_keys(cfg) == []  # idempotent
    keys = load_keys(cfg)
    assert len(keys.hybrid) == 2 and keys.witness is not None
    assert keys.witness.public != keys.signing.public
    assert keys.signing.public == before.signing.public  # nothing else changed
    assert keys.encryption.keys() == before.encryption.keys()
    for path in (*folder.glob("*.seed"), cfg.keys.witness_key):
        assert path.stat().st_mode & 0o077 == 0
    doc = verify_key_document(own_key_document(cfg, keys, clock_now(), version=2),
                              keys.signing.public, node_id="TX", now_ms=int(clock_now() * 1000))
    assert doc.seal_target(int(clock_now() * 1000)).suite == HYBRID


def test_the_hybrid_ring_rotates_with_the_x25519_ring(tmp_path: Path) -> None:
    cfg = make_node(tmp_path, "TX")
    keys = load_keys(cfg)
    life = cfg.keys.encryption_key_lifetime
    later = clock_now() + life + 1
    assert rotate_if_due(cfg, now=later) is True
    rotated = load_keys(cfg)
    assert len(rotated.published_hybrid(later)) == 2
    assert set(rotated.hybrid) > set(keys.hybrid)  # the old ones open in-flight mail
    assert rotate_if_due(cfg, now=later) is False
    much_later = later + 3 * life
    rotate_if_due(cfg, now=much_later)
    assert not set(load_keys(cfg).hybrid) & set(keys.hybrid)  # retired and deleted
    assert not any((cfg.keys.encryption_dir / f"{k}.seed").exists() for k in keys.hybrid)


def clock_now() -> float:
    import time
    return time.time()
