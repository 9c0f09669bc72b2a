"""Which HPKE suite a node seals with, negotiated through what peers publish (DESIGN.md
"Envelope" and "Upgrades"), with two real node apps on loopback ports in one process:

- two nodes of this release seal to each other with MLKEM768-X25519 in envelopes of
  version 2, requests and replies alike;
- a peer that publishes no hybrid key (no version 2 key document: a node one release
  behind) gets X25519 in a version 1 envelope;
- an X25519 message from a peer that publishes hybrid keys, to a node that does too, is
  a downgrade and is refused with a signed `downgrade` error, whether the receiver had the
  sender's key document cached or fetched it then;
- a sender whose cached key document of the peer predates the peer's upgrade is refused
  that way once, fetches the new document and succeeds with the hybrid suite;
- a peer that served a version 2 key document is never again read from version 1 (the
  404 fallback cannot be used to force a downgrade).

The real previous release against this one is tests/integration/test_mixed_release.py.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import msgpack
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from config.schema import NodeConfig
from crypto.seal import HYBRID, X25519
from node.app import create_app
from node.appkeys import SERVICES
from node.directory.identity import NodeKeys, load_keys
from node.directory.key_documents import _CachedDoc, own_key_document, verify_peer_key_document
from node.errors import PeerUnavailable
from node.federation.peer_client import request
from node.ops.demo import free_port
from node.services import Services
from protocol.audit import LogEntry
from protocol.envelope import Header, seal_envelope
from protocol.errors import ErrorCode
from protocol.messages import Demographics, Error, Find, FindCriteria, Requester
from tests.node.dirfixtures import Clock, info_for, make_authority, make_node

FIND = Find(FindCriteria(Demographics("Ana", "Ruiz", sex="F", birth_date="2011-05-06")),
            Requester("u1", "staff", "Lincoln"), "enrollment")


@dataclass
class Pair:
    tx: Services
    ca: Services
    servers: dict[str, TestServer]
    ca_cfg: NodeConfig
    ca_keys: NodeKeys


def _old_behaviour(app: web.Application) -> None:
    """Make a node look like the previous release to its peers: no version 2 key document
    (404), and its key document lists no hybrid key."""
    @web.middleware
    async def no_v2(request: web.Request, handler):  # type: ignore[no-untyped-def]
        if request.path.startswith("/federation/v2/"):
            raise web.HTTPNotFound()
        return await handler(request)
    app.middlewares.append(no_v2)


async def _start(root: Path, *, old_ca: bool = False) -> AsyncIterator[Pair]:
    clock = Clock(time.time())
    auth = make_authority(root / "auth", clock)
    ports = {"TX": free_port(), "CA": free_port()}
    cfgs: dict[str, NodeConfig] = {}
    for state, port in ports.items():
        cfg = make_node(root, state, authority=auth, endpoint=f"http://127.0.0.1:{port}")
        info = info_for(cfg, f"http://127.0.0.1:{port}")
        auth.enroll(info)
        cfgs[state] = dataclasses.replace(
            cfg, web=dataclasses.replace(cfg.web, enabled=False),
            directory=dataclasses.replace(cfg.directory, urls=()))
    for cfg in cfgs.values():
        cfg.directory.cache_file.write_bytes(auth.current_snapshot())
    keys = {s: load_keys(c) for s, c in cfgs.items()}
    if old_ca:  # an old node has no hybrid keys to open with either
        keys["CA"] = dataclasses.replace(keys["CA"], hybrid={}, hybrid_ring=())
    servers = {}
    for state, cfg in cfgs.items():
        app = create_app(cfg, keys=keys[state])
        if state == "CA" and old_ca:
            _old_behaviour(app)
        servers[state] = TestServer(app, host="127.0.0.1", port=ports[state])
        await servers[state].start_server()
    try:
        yield Pair(servers["TX"].app[SERVICES], servers["CA"].app[SERVICES],  # type: ignore[index]
                   servers, cfgs["CA"], keys["CA"])
    finally:
        for s in servers.values():
            await s.close()


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    async for p in _start(tmp_path):
        yield p


@pytest.fixture
async def old_pair(tmp_path: Path) -> AsyncIterator[Pair]:
    async for p in _start(tmp_path, old_ca=True):
        yield p


def _headers(services: Services, peer: str) -> list[Header]:
    """The signed headers of every logged exchange with `peer`, in log order."""
    log = services.log
    entries: list[LogEntry] = [log.entry(i) for i in range(log.size)]
    return [Header.decode(e.header_bytes) for e in entries if e.peer == peer]


async def test_two_nodes_of_this_release_seal_with_the_hybrid_suite(pair: Pair) -> None:
    reply = await request(pair.tx, "CA", FIND, purpose="enrollment")
    assert reply.header.suite == HYBRID and reply.header.version == 2
    for h in _headers(pair.tx, "CA"):  # our find and CA's reply
        assert (h.version, h.suite) == (2, HYBRID)
    assert pair.tx.peer_keys.requires_hybrid(None, "CA")


async def test_a_peer_without_a_hybrid_key_gets_x25519(old_pair: Pair) -> None:
    await request(old_pair.tx, "CA", FIND, purpose="enrollment")
    sent = [h for h in _headers(old_pair.tx, "CA") if h.sender == "TX"]
    assert [(h.version, h.suite) for h in sent] == [(1, X25519)]
    assert not old_pair.tx.peer_keys.requires_hybrid(None, "CA")


async def _cache_doc(services: Services, cfg: NodeConfig, keys: NodeKeys,
                     version: int) -> None:
    """Plant the peer's key document of `version` in `services`' cache (version 1: as if
    fetched before the peer's upgrade)."""
    now = time.time()
    entry = services.directory.current().entry(cfg.node.id)
    assert entry is not None
    doc, public = verify_peer_key_document(own_key_document(cfg, keys, now, version=version),
                                           entry, now_ms=int(now * 1000))
    services.peer_keys._docs[cfg.node.id] = _CachedDoc(doc, public, now)


async def test_an_x25519_message_from_a_hybrid_peer_is_a_downgrade(pair: Pair) -> None:
    # CA seals TX an X25519 message by hand (what an attacker hiding TX's version 2
    # document from CA would make CA do)
    tx_keys = pair.tx.keys
    now = int(time.time() * 1000)
    entry = tx_keys.current(time.time())
    for cached in (False, True):
        if cached:  # TX already knows CA publishes hybrid keys
            await request(pair.tx, "CA", FIND, purpose="enrollment")
        else:
            pair.tx.peer_keys.invalidate("CA")
        wire = seal_envelope(signing_key=pair.ca_keys.signing, sender="CA", recipient="TX",
                             recipient_key=tx_keys.encryption[entry.key_id].public,
                             recipient_key_id=entry.key_id, message=FIND, now_ms=now,
                             ttl_ms=60_000, purpose="enrollment").wire
        async with aiohttp.ClientSession() as s, s.post(
                str(pair.servers["TX"].make_url("/federation/v1/exchange")), data=wire,
                headers={"Content-Type": "application/msgpack"}) as resp:
            assert resp.status == 403
            body = await resp.read()
        outer = msgpack.unpackb(body)
        assert outer["v"] == 2  # a signed error, sealed to CA's hybrid key
        opened = _open_as_ca(pair, body)
        assert isinstance(opened.message, Error)
        assert opened.message.code is ErrorCode.DOWNGRADE
        assert "refusing a downgrade" in opened.message.message


def _open_as_ca(pair: Pair, body: bytes):  # type: ignore[no-untyped-def]
    from protocol.envelope import ReplayCache, open_envelope
    return open_envelope(body, my_id="CA", my_keys=pair.ca_keys.opening,
                         sender_key_lookup=lambda n: pair.tx.keys.signing.public,
                         now_ms=int(time.time() * 1000), seen=ReplayCache())


async def test_a_stale_cached_document_is_refreshed_after_a_downgrade_refusal(
        pair: Pair) -> None:
    """TX cached CA's version 1 document before CA upgraded: its first find is sealed with
    X25519 and refused as a downgrade; TX drops the document, fetches version 2 and the
    find goes through with the hybrid suite."""
    await _cache_doc(pair.ca, pair.tx.cfg, pair.tx.keys, 2)  # CA knows TX is hybrid
    await _cache_doc(pair.tx, pair.ca_cfg, pair.ca_keys, 1)  # TX has CA's old document
    reply = await request(pair.tx, "CA", FIND, purpose="enrollment")
    assert reply.header.suite == HYBRID
    sent = [h for h in _headers(pair.tx, "CA") if h.sender == "TX"]
    assert [(h.version, h.suite) for h in sent][-2:] == [(1, X25519), (2, HYBRID)]
    refused = [h for h in _headers(pair.tx, "CA") if h.sender == "CA" and h.type == "error"]
    assert refused, "the refusal is logged, like every exchange"


async def test_no_fallback_to_version_1_after_version_2(pair: Pair) -> None:
    await request(pair.tx, "CA", FIND, purpose="enrollment")
    pair.tx.peer_keys.invalidate("CA")
    _old_behaviour_now(pair.servers["CA"].app)  # type: ignore[arg-type]
    with pytest.raises(PeerUnavailable, match="refusing to fall back to X25519"):
        await request(pair.tx, "CA", FIND, purpose="enrollment")


def _old_behaviour_now(app: web.Application) -> None:
    """Make a started app answer 404 on the version 2 paths (routes cannot change once
    started, so swap the handler's resource through the router's resources)."""
    for resource in app.router.resources():
        if resource.canonical.startswith("/federation/v2/"):
            for route in resource:
                route._handler = _not_found  # type: ignore[attr-defined]


async def _not_found(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()
