"""Witnessing between real node apps on loopback ports (node/federation/witnessing.py):
`POST /witness/add-checkpoint` over HTTP with the status codes and the
`text/x.tlog.size` answer, the cosign job submitting to the witnesses the config names
and the quorum, the witness key published in the directory (version 2), and a witness of
the previous release (no witness key in its entry) asked with the `cosign` message."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from config.schema import NodeConfig
from crypto.checkpoint import CosignatureVerifier, format_add_checkpoint, verify_cosignature
from node.app import create_app
from node.appkeys import SERVICES
from node.directory.identity import load_keys
from node.federation.peer_client import request
from node.federation.witnessing import cosign_job, witness_status
from node.ops.demo import free_port
from node.ops.node_folder import node_info
from node.services import Services
from protocol.directory import NodeInfo
from protocol.messages import Demographics, Find, FindCriteria, Requester
from tests.node.dirfixtures import Clock, info_for, make_authority, make_node

FIND = Find(FindCriteria(Demographics("Ana", "Ruiz", sex="F", birth_date="2011-05-06")),
            Requester("u1", "staff", "Lincoln"), "enrollment")


@dataclass
class Trio:
    nodes: dict[str, Services]
    servers: dict[str, TestServer]

    def url(self, state: str, path: str) -> str:
        return str(self.servers[state].make_url(path))


async def _start(root: Path, *, legacy: tuple[str, ...] = (),
                 audit: dict[str, dict[str, object]] | None = None) -> AsyncIterator[Trio]:
    clock = Clock(time.time())
    auth = make_authority(root / "auth", clock)
    cfgs: dict[str, NodeConfig] = {}
    ports = {s: free_port() for s in ("TX", "CA", "NM")}
    for state, port in ports.items():
        cfg = make_node(root, state, authority=auth, endpoint=f"http://127.0.0.1:{port}")
        if state in legacy:  # enrolled from a node-info file of the previous release
            auth.enroll(info_for(cfg, f"http://127.0.0.1:{port}"))
        else:
            auth.enroll(NodeInfo.from_json(json.dumps(node_info(str(cfg.config_path)))))
        changes = (audit or {}).get(state, {})
        cfgs[state] = dataclasses.replace(  # CA keeps its web UI: its CSRF rule must not apply
            cfg, web=dataclasses.replace(cfg.web, enabled=state == "CA"),
            directory=dataclasses.replace(cfg.directory, urls=()),
            audit=dataclasses.replace(cfg.audit, **changes))  # type: ignore[arg-type]
    for cfg in cfgs.values():
        cfg.directory.cache_file_v2.write_bytes(auth.current_snapshot(2))
    servers = {}
    for state, cfg in cfgs.items():
        servers[state] = TestServer(create_app(cfg, keys=load_keys(cfg)), host="127.0.0.1",
                                    port=ports[state])
        await servers[state].start_server()
    try:
        yield Trio({s: servers[s].app[SERVICES] for s in servers},  # type: ignore[index]
                   servers)
    finally:
        for s in servers.values():
            await s.close()


@pytest.fixture
async def trio(tmp_path: Path) -> AsyncIterator[Trio]:
    async for t in _start(tmp_path, audit={"TX": {"witnesses": ("CA", "NM"),
                                                  "witness_quorum": 2},
                                           "NM": {"witness_for": ("CA",)}}):
        yield t


async def _post(url: str, body: bytes) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as s, s.post(url, data=body) as r:
        return r.status, await r.text(), r.headers.get("Content-Type", "")


async def test_the_cosign_job_submits_to_the_configured_witnesses(trio: Trio) -> None:
    tx = trio.nodes["TX"]
    await request(tx, "CA", FIND, purpose="enrollment")  # the log grows
    outcomes = await cosign_job(tx)
    # NM witnesses only CA's log (audit.witness_for), so it answers 404 for TX's origin
    assert outcomes["CA"] == "cosigned"
    assert outcomes["NM"].startswith("failed") and "404" in outcomes["NM"]
    status = outcomes["_status"]
    assert status["cosigned_by"] == ["CA"] and status["witnessed"] is False  # quorum 2
    note = tx.log.latest_checkpoint()
    assert note.startswith(tx.cfg.log_origin + "\n")
    ca_entry = tx.directory.current().entry("CA")
    assert ca_entry.witness_key is not None and ca_entry.witness_key != ca_entry.signing_key
    assert verify_cosignature(note, CosignatureVerifier(ca_entry.witness_name,
                                                        ca_entry.witness_key)) > 0
    # the log grows; the second submission carries a consistency proof from the first
    await request(tx, "CA", FIND, purpose="enrollment")
    again = await cosign_job(tx)
    assert again["CA"] == "cosigned"
    assert trio.nodes["CA"].log.witnessed(tx.cfg.log_origin)[0] == tx.log.size


async def test_the_quorum_is_met(tmp_path: Path) -> None:
    async for trio in _start(tmp_path, audit={"TX": {"witnesses": ("CA", "NM"),
                                                     "witness_quorum": 2}}):
        tx = trio.nodes["TX"]
        outcomes = await cosign_job(tx)
        assert outcomes["CA"] == outcomes["NM"] == "cosigned"
        assert outcomes["_status"]["witnessed"] is True
        assert witness_status(tx)["cosigned_by"] == ["CA", "NM"]


async def test_add_checkpoint_over_http(trio: Trio) -> None:
    tx, ca = trio.nodes["TX"], trio.nodes["CA"]
    url = trio.url("CA", "/witness/add-checkpoint")
    await request(tx, "CA", FIND, purpose="enrollment")
    note = tx.log.sign_checkpoint()
    assert (await _post(url, b"old 0\n"))[0] == 400
    assert (await _post(url, format_add_checkpoint(5, [], note)))[0] == 400
    other = trio.nodes["NM"].log.sign_checkpoint()
    ok = await _post(trio.url("CA", "/witness/add-checkpoint"),
                     format_add_checkpoint(0, [], other))
    assert ok[0] == 200  # CA witnesses every peer ("*")
    unknown = note.replace(tx.cfg.log_origin, "example.com/not-a-peer", 1)
    assert (await _post(url, format_add_checkpoint(0, [], unknown)))[0] == 404
    forged = note.replace(note.split("\n")[2], "A" * 43 + "=", 1)
    assert (await _post(url, format_add_checkpoint(0, [], forged)))[0] == 403
    status, text, kind = await _post(url, format_add_checkpoint(0, [], note))
    assert status == 200 and text.startswith("\u2014 " + ca.cfg.witness_name + " ")
    await request(tx, "CA", FIND, purpose="enrollment")
    newer = tx.log.sign_checkpoint()
    status, text, kind = await _post(url, format_add_checkpoint(0, [], newer))
    assert (status, kind) == (409, "text/x.tlog.size")
    assert text == f"{int(note.split(chr(10))[1])}\n" != "0\n"
    size = tx.log.size
    bad = format_add_checkpoint(int(text), [b"\x00" * 32] * 3, newer)
    assert (await _post(url, bad))[0] == 422
    good = format_add_checkpoint(int(text), tx.log.consistency_proof(int(text), size), newer)
    assert (await _post(url, good))[0] == 200
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        assert r.status == 405


async def test_a_witness_of_the_previous_release_is_asked_with_cosign(tmp_path: Path) -> None:
    """CA's directory entry has no witness key (enrolled from an old node-info file): TX
    asks it with the `cosign` message, under TX's legacy origin, and keeps its legacy
    cosignature."""
    async for trio in _start(tmp_path, legacy=("CA",),
                             audit={"TX": {"witnesses": ("CA",)}}):
        tx = trio.nodes["TX"]
        outcomes = await cosign_job(tx)
        assert outcomes["CA"] == "cosigned", outcomes
        legacy_note = tx.log.latest_checkpoint(origin="TX")
        assert legacy_note.startswith("TX\n")
        ca_keys = trio.nodes["CA"].keys
        verify_cosignature(legacy_note, CosignatureVerifier("CA", ca_keys.signing.public))
        assert outcomes["_status"]["witnessed"] is True
