"""Hostile input to the peer endpoint `POST /federation/v1/exchange` of a real node app
(`create_app`, a real signed directory cached, in-process HTTP): arbitrary bodies and
mutated valid envelopes always get one of the defined statuses — never 500 — and the
node's stored state does not change (DESIGN.md "Envelope"; docs/SECURITY.md)."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.app import create_app
from node.appkeys import PEER_KEYS
from node.directory.identity import load_keys
from node.directory.key_documents import _CachedDoc, own_key_document, verify_peer_key_document
from protocol.envelope import seal_envelope
from protocol.messages import Demographics, Find, FindCriteria, Requester
from tests.node.dirfixtures import Clock, info_for, make_authority, make_node

DEFINED = {200, 400, 401, 403, 409, 413, 421, 429, 503}
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
FIND = Find(FindCriteria(Demographics("Ana", "Ruiz", sex="F", birth_date="2011-05-06")),
            Requester("u1", "staff", "Lincoln"), "enrollment")


@dataclasses.dataclass
class Node:
    loop: asyncio.AbstractEventLoop
    client: TestClient
    db: Path
    seal: Any  # () -> bytes: a fresh valid envelope CA -> TX

    def post(self, body: bytes) -> tuple[int, bytes]:
        async def go() -> tuple[int, bytes]:
            async with self.client.post("/federation/v1/exchange", data=body,
                                        headers={"Content-Type": "application/msgpack"}) as r:
                return r.status, await r.read()
        return self.loop.run_until_complete(go())

    def state(self) -> dict[str, int]:
        with sqlite3.connect(self.db) as con:
            names = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                " AND name NOT LIKE '%_fts%'")]
            return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root = tmp_path_factory.mktemp("hostile")
    clock = Clock(time.time())
    auth = make_authority(root / "auth", clock)
    tx = make_node(root, "TX", authority=auth)
    ca = make_node(root, "CA", authority=auth)
    for cfg in (tx, ca):
        auth.enroll(info_for(cfg))
    tx.directory.cache_file.write_bytes(auth.current_snapshot())
    tx = dataclasses.replace(tx, peers=dataclasses.replace(tx.peers, rate_limit=10**9),
                             web=dataclasses.replace(tx.web, enabled=False),
                             directory=dataclasses.replace(tx.directory, urls=()))
    loop = asyncio.new_event_loop()
    tx_keys, ca_keys = load_keys(tx), load_keys(ca)

    async def start() -> TestClient:
        client = TestClient(TestServer(create_app(tx, keys=tx_keys)))
        await client.start_server()
        return client

    client = loop.run_until_complete(start())
    app = client.server.app
    assert app is not None
    now = time.time()
    snap = auth.entries()[1]
    entry = {e.node_id: e for e in snap}
    # TX knows CA's key document already (CA's endpoint is not running here)
    doc, public = verify_peer_key_document(own_key_document(ca, ca_keys, now), entry["CA"],
                                           now_ms=int(now * 1000))
    app[PEER_KEYS]._docs["CA"] = _CachedDoc(doc, public, now)
    tx_doc, _ = verify_peer_key_document(own_key_document(tx, tx_keys, now), entry["TX"],
                                         now_ms=int(now * 1000))

    def seal(message: Any = FIND, purpose: str = "enrollment") -> bytes:
        now_ms = int(time.time() * 1000)
        key = tx_doc.current_key(now_ms)
        return seal_envelope(signing_key=ca_keys.signing, sender="CA", recipient="TX",
                             recipient_key=key.public, recipient_key_id=key.key_id,
                             message=message, now_ms=now_ms, ttl_ms=60_000,
                             purpose=purpose).wire

    yield Node(loop, client, tx.storage.database, seal)
    loop.run_until_complete(client.close())
    loop.close()


def test_a_valid_envelope_is_answered(node: Node) -> None:
    status, body = node.post(node.seal())
    assert status == 200, body
    assert msgpack.unpackb(body)["from"] == "TX"


@st.composite
def mutated(draw: st.DrawFn) -> tuple[int, list[tuple[str, int, bytes]]]:
    ops = []
    for _ in range(draw(st.integers(1, 4))):
        ops.append((draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"])),
                    draw(st.integers(0, 10_000)), draw(st.binary(min_size=1, max_size=12))))
    return draw(st.integers(0, 255)), ops


def mutate(wire: bytes, ops: list[tuple[str, int, bytes]], byte: int) -> bytes:
    data = bytearray(wire)
    for op, pos, blob in ops:
        i = pos % max(1, len(data))
        if op == "flip" and data:
            data[i] ^= 1 << (byte % 8)
        elif op == "set" and data:
            data[i] = byte
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = blob
        elif op == "delete":
            del data[i:i + len(blob)]
    return bytes(data)


@SETTINGS
@given(mutated())
def test_mutated_valid_envelopes(node: Node, case: tuple[int, list[Any]]) -> None:
    before = node.state()
    byte, ops = case
    wire = node.seal()
    status, body = node.post(mutate(wire, ops, byte))
    assert status in DEFINED, (status, body[:200])
    if status != 200:  # a rejected message is never acted on
        assert node.state() == before


@SETTINGS
@given(st.binary(max_size=3000))
def test_arbitrary_bodies(node: Node, body: bytes) -> None:
    before = node.state()
    status, reply = node.post(body)
    assert status in DEFINED - {200}, (status, reply[:200])
    assert node.state() == before


CLEAR = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 1, 2, 0]), "type": st.sampled_from(["find", "fetch", "error",
                                                                   "move_notice", "zz"]),
     "from": st.sampled_from(["CA", "TX", "NY", "ca", "C"]),
     "to": st.sampled_from(["TX", "CA", "tx"]), "sealed": st.binary(max_size=300)},
    optional={"extra": st.integers(0, 5)})


@SETTINGS
@given(CLEAR)
def test_plausible_clear_fields_with_garbage_inside(node: Node, fields: dict[str, Any]) -> None:
    before = node.state()
    status, reply = node.post(msgpack.packb(fields))
    assert status in DEFINED - {200}, (status, reply[:200])
    assert node.state() == before


def test_replayed_and_oversized(node: Node) -> None:
    wire = node.seal()
    assert node.post(wire)[0] == 200
    assert node.post(wire)[0] == 409
    status, _ = node.post(b"\x00" * (2 * 1024 * 1024))
    assert status == 413


@pytest.mark.parametrize(("purpose", "role", "allowed"), [
    ("enrollment", "staff", True), ("credit_accrual", "staff", True),
    ("data_quality", "data_admin", True),
    ("move_notice", "staff", False), ("move_notice", "data_admin", False),
    ("data_quality", "staff", False),
])
def test_the_holder_answers_finds_only_for_purposes_that_may_search(
        node: Node, purpose: str, role: str, allowed: bool) -> None:
    """Issue 12 item 8: every purpose but move_notice may search, data_quality only for
    data administrators; a refused find gets a signed error reply and nothing else."""
    find = Find(FIND.criteria, Requester("u1", role, "Lincoln"), purpose)
    before = node.state()
    status, body = node.post(node.seal(find, purpose))
    assert status == (200 if allowed else 403), body
    kind = msgpack.unpackb(body)["type"]
    assert kind == ("find_reply" if allowed else "error")
    if not allowed:
        after = node.state()
        assert after.get("record_handles") == before.get("record_handles")
