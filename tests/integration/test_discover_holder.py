"""The holder's side of the discover round (issue 14) against real node processes on
loopback: TX and CA speak discover, NM has `[discover] enabled = false`.

- the directory pins TX's and CA's OPRF keys with feature discover/v1, not NM's;
- TX's signed filter (GET /federation/v1/discover-filter) is the one its version 2 key
  document names, made with the pinned key; a discover sealed by CA is answered with
  evaluations whose DLEQ proof verifies with the pinned key, and the unblinded outputs of
  a child TX holds hit its filter while random padding does not;
- NM refuses discover with a signed error and serves no filter; TX's /status and
  `doctor` name NM as a peer that gets the plain find;
- over `[discover] burst` elements TX answers error rate_limited (signed), and logs every
  discover in its exchange log as its own entry type;
- an import into the running node gives a new filter version in the key document.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from config import load_config
from crypto.oprf import blind, finalize
from crypto.seal import HYBRID
from node.directory.identity import load_keys
from node.directory.key_documents import PeerKeyCache
from node.federation.discover_peers import PeerFilters
from node.matching.discover_keys import DISCOVER_ELEMENTS, query_discover_keys
from protocol.codec import unpack
from protocol.directory import FEATURE_DISCOVER, verify_key_document, verify_snapshot
from protocol.discover_signed import open_filter, stuffing_problem
from protocol.envelope import VERSION, ReplayCache, open_envelope, seal_envelope
from protocol.errors import ErrorCode
from protocol.messages import Discover, DiscoverReply, Error, Requester
from tests.integration.harness import GUADALUPE_TX, Federation, child
from tests.integration.web_client import WebClient, add_users

PASSWORD = "correct horse battery staple"

WHO = Requester("tester", "staff", "CA MEP")
QUERY = {"first_name": "Guadalupe", "last_name_1": "Hernández", "birth_date": "2009-03-04"}


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root: Path = tmp_path_factory.mktemp("discover-holder")
    federation = Federation(
        root, ["TX", "CA", "NM"], background=20,
        extra_records={"TX": [GUADALUPE_TX]},
        extra_config={"TX": '[discover]\nburst = 70\nelements_per_minute = 7\n'
                            'rebuild_interval = "1s"\n',
                      "NM": "[discover]\nenabled = false\n"})
    federation.create()
    password_file = root / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    add_users(federation.config("TX"), {"olga": "operator"}, password_file)
    federation.start()
    try:
        yield federation
    finally:
        federation.stop()


def _snapshot(fed: Federation) -> Any:
    import urllib.request

    url = fed.directory.url if fed.directory else ""
    with urllib.request.urlopen(url + "/federation/v2/directory", timeout=10) as resp:
        return verify_snapshot(resp.read(), fed.authority_key, now_ms=int(time.time() * 1000))


def _get(fed: Federation, state: str, path: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(fed.nodes[state].url + path, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _discover(fed: Federation, sender: str, to: str, elements: tuple[bytes, ...]
              ) -> tuple[int, Any]:
    """A discover sealed by `sender` with its keys from disk, posted to `to`."""
    me = load_keys(load_config(fed.config(sender)))
    them = load_keys(load_config(fed.config(to)))
    now = int(time.time() * 1000)
    entry = them.published_hybrid(now / 1000)[0]
    wire = seal_envelope(signing_key=me.signing, sender=sender, recipient=to,
                         recipient_key=them.hybrid[entry.key_id].public,
                         recipient_key_id=entry.key_id,
                         message=Discover(elements, WHO, "enrollment"), now_ms=now,
                         ttl_ms=60_000, purpose="enrollment", suite=HYBRID,
                         version=VERSION).wire
    status, body, _kind = fed.post_raw(to, wire)
    opened = open_envelope(body, my_id=sender, my_keys=me.opening,
                           sender_key_lookup=lambda _s: them.signing.public,
                           now_ms=int(time.time() * 1000), seen=ReplayCache())
    return status, opened.message


def _blinded(keys: list[str]) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """Inputs (the query's keys, then random padding), blinds, blinded elements."""
    inputs = [k.encode() for k in keys]
    inputs += [os.urandom(32) for _ in range(DISCOVER_ELEMENTS - len(inputs))]
    pairs = [blind(x) for x in inputs]
    return inputs, [r for r, _ in pairs], [b for _, b in pairs]


def _key_document(fed: Federation, state: str, entry: Any) -> Any:
    status, body = _get(fed, state, "/federation/v2/keys")
    assert status == 200
    return verify_key_document(body, entry.signing_key, node_id=state,
                               now_ms=int(time.time() * 1000))


def _wait_filter(fed: Federation, state: str, entry: Any, above: int = 0) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        doc = _key_document(fed, state, entry)
        if doc.discover_filter is not None and doc.discover_filter.version > above:
            return doc
        time.sleep(0.5)
    raise AssertionError(f"{state} published no discover filter above version {above}")


def test_directory_pins_oprf_keys_of_discover_nodes_only(fed: Federation) -> None:
    snap = _snapshot(fed)
    for state in ("TX", "CA"):
        e = snap.entry(state)
        assert e.has(FEATURE_DISCOVER)
        assert e.oprf_key == load_keys(load_config(fed.config(state))).oprf.public
    nm = snap.entry("NM")
    assert not nm.has(FEATURE_DISCOVER) and nm.oprf_key is None


def test_discover_round_with_the_holder_of_the_child(fed: Federation) -> None:
    tx = _snapshot(fed).entry("TX")
    doc = _wait_filter(fed, "TX", tx)
    status, body = _get(fed, "TX", "/federation/v1/discover-filter")
    assert status == 200
    signed = open_filter(body, signing_keys=tx.signing_keys(), node_id="TX",
                         expected=doc.discover_filter, oprf_public_key=tx.oprf_key)
    assert stuffing_problem(signed.filter, signed.info) is None
    assert signed.info.records == 21  # 20 background children and Guadalupe
    keys = query_discover_keys(QUERY)
    assert 0 < len(keys) < DISCOVER_ELEMENTS
    inputs, blinds, elements = _blinded(keys)
    status, reply = _discover(fed, "CA", "TX", tuple(elements))
    assert status == 200 and isinstance(reply, DiscoverReply), reply
    assert reply.filter_version == doc.discover_filter.version
    outputs = finalize(inputs, blinds, reply.evaluated, elements, tx.oprf_key, reply.proof)
    hits = [o in signed.filter for o in outputs]
    assert any(hits[:len(keys)]), "the holder's child must hit its filter"
    assert not any(hits[len(keys):]), "random padding hits nothing"
    # a proof made with TX's key does not verify against another pinned key
    ca_key = _snapshot(fed).entry("CA").oprf_key
    with pytest.raises(Exception, match="does not verify"):
        finalize(inputs, blinds, reply.evaluated, elements, ca_key, reply.proof)


async def _as_ca(fed: Federation, entries: dict[str, Any]) -> dict[str, Any]:
    """CA's node run in this process (its process stopped; same folder, port and keys):
    its own discover with each holder, through `ask_discover`."""
    from aiohttp import web

    from node.app import create_app
    from node.appkeys import SERVICES
    from node.federation.discover_ask import ask_discover, blind_query
    from node.federation.discover_status import discover_status, record_round

    cfg = load_config(fed.config("CA"))
    app = create_app(cfg)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", cfg.server.port)
    await site.start()
    try:
        services = app[SERVICES]
        out: dict[str, Any] = {}
        for name, (entry, query) in entries.items():
            out[name] = await ask_discover(services, entry, blind_query(query), requester=WHO,
                                           purpose="enrollment")
        hit = out["holder"]
        await record_round(services, "TX", hit=True, no_candidate=False,
                           false_positive_ppm=hit.false_positive_ppm)
        out["status"] = await discover_status(services)
        return out
    finally:
        await runner.cleanup()


def test_the_requesters_discover_with_each_kind_of_peer(fed: Federation) -> None:
    import dataclasses

    from node.federation.discover_ask import DiscoverStatus

    snap = _snapshot(fed)
    tx, nm = snap.entry("TX"), snap.entry("NM")
    _wait_filter(fed, "TX", tx)
    nobody = query_discover_keys({"first_name": "Zebulon", "last_name_1": "Quixtlatzin",
                                  "birth_date": "2001-01-01"})
    forged = dataclasses.replace(tx, oprf_key=snap.entry("CA").oprf_key)
    fed.nodes["CA"].stop()
    try:
        out = asyncio.run(_as_ca(fed, {"holder": (tx, query_discover_keys(QUERY)),
                                       "stranger": (tx, nobody), "off": (nm, nobody),
                                       "forged": (forged, query_discover_keys(QUERY))}))
    finally:
        fed.start_node("CA")
    assert out["holder"].status is DiscoverStatus.HIT and out["holder"].hits >= 1
    assert out["holder"].false_positive_ppm == 1000
    assert out["stranger"].status is DiscoverStatus.NO_HIT
    assert out["off"].status is DiscoverStatus.FAILED and "no OPRF key" in out["off"].detail
    assert out["forged"].status is DiscoverStatus.FAILED
    assert "do not verify with its pinned OPRF key" in out["forged"].detail
    rows = {p["peer"]: p for p in out["status"]["peers"]}
    assert rows["TX"]["rounds"] == 1 and rows["TX"]["hits"] == 1


def test_an_element_that_is_no_group_element_is_refused(fed: Federation) -> None:
    _inputs, _blinds, elements = _blinded([])
    elements[3] = b"\xff" * 32  # 32 bytes, but not a ristretto255 encoding
    status, reply = _discover(fed, "CA", "TX", tuple(elements))
    assert status == 400 and isinstance(reply, Error) and reply.code is ErrorCode.MALFORMED
    assert "blinded element #3" in reply.message


def test_a_node_with_discover_off_refuses_it_and_is_named(fed: Federation) -> None:
    _inputs, _blinds, elements = _blinded([])
    status, reply = _discover(fed, "CA", "NM", tuple(elements))
    assert status == 403 and isinstance(reply, Error) and reply.code is ErrorCode.FORBIDDEN
    assert _get(fed, "NM", "/federation/v1/discover-filter")[0] == 404
    status_tx = fed.control("TX", "/local/v1/status")
    assert status_tx["discover"]["plain_find"] == ["NM"]
    assert {p["peer"]: p["speaks_discover"] for p in status_tx["discover"]["peers"]} == {
        "CA": True, "NM": False}
    assert fed.control("NM", "/local/v1/status")["discover"]["enabled"] is False
    web = WebClient(fed.nodes["TX"].url).login("olga", PASSWORD)
    code, page = web.request("GET", "/status")
    assert code == 200 and 'id="discover-plain"' in page
    plain = page.split('id="discover-plain"', 1)[1].split("</p>", 1)[0]
    assert "get the plain find: NM" in plain and "CA" not in plain
    doctor = fed.cli("doctor", "-c", str(fed.config("TX")), check=False)
    assert "NM do(es) not speak discover" in doctor.stdout, doctor.stdout
    doctor_nm = fed.cli("doctor", "-c", str(fed.config("NM")), check=False)
    assert "discover is switched off" in doctor_nm.stdout, doctor_nm.stdout


def test_over_the_burst_the_holder_answers_rate_limited_and_logs_each(
        fed: Federation) -> None:
    replies = []
    for _ in range(11):  # burst 70 = 10 discovers of 7; NM's own allowance, not CA's
        _inputs, _blinds, elements = _blinded([])
        replies.append(_discover(fed, "NM", "TX", tuple(elements)))
    assert [s for s, _ in replies[:10]] == [200] * 10
    status, reply = replies[10]
    assert status == 429 and isinstance(reply, Error), reply
    assert reply.code is ErrorCode.RATE_LIMITED and "OPRF evaluations" in reply.message
    log = fed.cli("audit", "discover", "-c", str(fed.config("TX")))
    line = next(x for x in log.stdout.splitlines() if x.startswith("NM "))
    assert "11 discover message(s), 77 OPRF evaluations asked, 1 refused" in line, line


async def _peer_filter(fed: Federation, filters: PeerFilters, entry: Any,
                       at_least: int = 0) -> Any:
    """CA's side: the real key-document cache and filter cache over real HTTP."""
    async with aiohttp.ClientSession() as session:
        services = SimpleNamespace(peer_keys=PeerKeyCache(), session=session,
                                   cfg=load_config(fed.config("CA")))
        return await filters.filter_of(services, entry, at_least=at_least)  # type: ignore[arg-type]


def test_an_import_gives_a_new_filter_version(fed: Federation) -> None:
    tx = _snapshot(fed).entry("TX")
    before = _wait_filter(fed, "TX", tx).discover_filter
    filters = PeerFilters()
    first = asyncio.run(_peer_filter(fed, filters, tx))
    assert first.info == before and filters.fetches == 1
    assert asyncio.run(_peer_filter(fed, filters, tx)) is first  # same version: no GET
    assert filters.fetches == 1
    data = fed.node_dir("TX") / "more.jsonl"
    data.write_text(json.dumps(child("TX900077", "Rosario", "Villanueva", "Soto",
                                     "2012-06-15")) + "\n")
    fed.cli("import", "-c", str(fed.config("TX")), "--no-progress", str(data))
    after = _wait_filter(fed, "TX", tx, above=before.version).discover_filter
    assert after.records == before.records + 1
    newer = asyncio.run(_peer_filter(fed, filters, tx, at_least=after.version))
    assert newer.info == after and filters.fetches == 2
    status, body = _get(fed, "TX", "/federation/v1/discover-filter")
    assert status == 200 and unpack(body)["doc"]


def test_oprf_rotation_switches_once_the_directory_pins_the_new_key(
        fed: Federation, tmp_path: Path) -> None:
    tx_cfg = str(fed.config("TX"))
    old = _snapshot(fed).entry("TX")
    before = _wait_filter(fed, "TX", old).discover_filter
    out = fed.cli("keys", "rotate-oprf", "-c", tx_cfg).stdout
    info = tmp_path / "tx-info.json"
    info.write_text(out[out.index("{"):out.rindex("}") + 1])
    new_key = load_keys(load_config(fed.config("TX"))).oprf_next
    assert new_key is not None and new_key.public != old.oprf_key
    # until the authority pins it, TX answers with the key its peers verify against
    inputs, blinds, elements = _blinded(query_discover_keys(QUERY))
    status, reply = _discover(fed, "CA", "TX", tuple(elements))
    assert status == 200 and isinstance(reply, DiscoverReply)
    finalize(inputs, blinds, reply.evaluated, elements, old.oprf_key, reply.proof)
    assert "does not pin it yet" in fed.cli("doctor", "-c", tx_cfg, check=False).stdout
    fed.cli("directory", "enroll", "--replace", "-c", str(fed.directory_config), str(info))
    for state in ("TX", "CA"):
        assert fed.run_job(state, "directory_refresh")["ok"]
    fed.run_job("TX", "discover_filter")
    pinned = _snapshot(fed).entry("TX")
    assert pinned.oprf_key == new_key.public
    doc = _wait_filter(fed, "TX", pinned, above=before.version)
    status, body = _get(fed, "TX", "/federation/v1/discover-filter")
    signed = open_filter(body, signing_keys=pinned.signing_keys(), node_id="TX",
                         expected=doc.discover_filter, oprf_public_key=new_key.public)
    inputs, blinds, elements = _blinded(query_discover_keys(QUERY))
    status, reply = _discover(fed, "CA", "TX", tuple(elements))
    assert status == 200 and isinstance(reply, DiscoverReply)
    assert reply.filter_version == signed.info.version
    outputs = finalize(inputs, blinds, reply.evaluated, elements, new_key.public, reply.proof)
    assert any(o in signed.filter for o in outputs[:len(query_discover_keys(QUERY))])
    assert "does not pin" not in fed.cli("doctor", "-c", tx_cfg, check=False).stdout
