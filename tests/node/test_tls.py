"""node.directory.tls_pinning and `statenode tls`: pins from the directory, outbound pin check,
inbound
client-certificate check, enrollment carrying the pin (PROTOCOL-ANCHORS.md §1.3)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import ssl
import stat
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from config import load_config
from config.errors import ConfigError
from crypto.tls import generate_self_signed, spki_sha256
from node.cli import cli
from node.directory.tls_pinning import (
    PinningConnector,
    SpkiPin,
    client_connector,
    client_pin_problem,
    mismatch_reason,
    own_pin,
    peer_trust,
    request_ssl,
    server_context,
)
from node.ops.serve import start_site
from protocol.directory import NodeInfo
from tests.node.dirfixtures import Clock, make_authority, make_node


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj={})
    return result.exit_code, result.output


def tls_node(tmp_path: Path, state: str, *, require: bool = True,  # type: ignore[no-untyped-def]
             authority=None):
    cfg = make_node(tmp_path, state, endpoint="https://127.0.0.1:9", authority=authority)
    code, out = run("tls", "init", "-c", str(cfg.config_path))
    assert code == 0, out
    text = cfg.config_path.read_text().replace(
        "[keys]", f'tls_cert = "tls/cert.pem"\ntls_key = "tls/key.pem"\n'
                  f"require_client_cert = {str(require).lower()}\n\n[keys]")
    cfg.config_path.write_text(text)
    return load_config(cfg.config_path)


def test_tls_init_writes_key_and_cert_and_keys_show_carries_the_pin(tmp_path: Path) -> None:
    cfg = make_node(tmp_path, "TX", endpoint="https://127.0.0.1:9")
    before = cfg.config_path.read_text()
    code, out = run("tls", "init", "-c", str(cfg.config_path))
    assert code == 0, out
    key = cfg.config_path.parent / "tls" / "key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    pin = spki_sha256((cfg.config_path.parent / "tls" / "cert.pem").read_bytes())
    assert pin.hex() in out and 'tls_cert = "tls/cert.pem"' in out
    assert cfg.config_path.read_text() == before  # updates nothing else
    code, out = run("tls", "init", "-c", str(cfg.config_path))
    assert code == 1 and "already exists" in out
    code, out = run("keys", "show", "--json", "-c", str(cfg.config_path))
    assert "tls_cert_sha256" not in json.loads(out)  # not configured yet
    code, out = run("tls", "show", "-c", str(cfg.config_path))
    assert code == 1 and "tls_cert is not set" in out

    cfg = tls_node(tmp_path, "CA")
    code, out = run("keys", "show", "--json", "-c", str(cfg.config_path))
    info = NodeInfo.from_json(out)
    assert info.tls_cert_sha256 == own_pin(cfg)
    assert info.endpoints == ("https://127.0.0.1:9",)
    assert run("tls", "show", "-c", str(cfg.config_path))[1].strip() == info.tls_cert_sha256.hex()


def test_enrollment_carries_the_pin_through_state_and_snapshot(tmp_path: Path) -> None:
    auth = make_authority(tmp_path / "auth", Clock())
    cfg = tls_node(tmp_path, "TX")
    _, out = run("keys", "show", "--json", "-c", str(cfg.config_path))
    auth.enroll(NodeInfo.from_json(out))
    auth.suspend("TX")
    auth.reinstate("TX")  # state file round trips keep the pin
    _, entries = auth.entries()
    assert entries[0].tls_cert_sha256 == own_pin(cfg)
    bad = json.loads(out) | {"tls_cert_sha256": "zz"}
    with pytest.raises(Exception, match="tls_cert_sha256"):
        NodeInfo.from_json(json.dumps(bad))


def test_require_client_cert_needs_tls(tmp_path: Path) -> None:
    cfg = make_node(tmp_path, "TX")
    cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server,
                                                              require_client_cert=True))
    with pytest.raises(ConfigError, match="require_client_cert"):
        server_context(cfg)
    assert server_context(dataclasses.replace(
        cfg, server=dataclasses.replace(cfg.server, require_client_cert=False))) is None


def _entry(state: str, pin: bytes | None) -> SimpleNamespace:
    return SimpleNamespace(node_id=state, tls_cert_sha256=pin,
                           endpoints=(f"https://127.0.0.1:9/{state}",))


class _Dir:
    def __init__(self, **pins: bytes | None) -> None:
        self.entries = {k: _entry(k, v) for k, v in pins.items()}

    def current(self):  # type: ignore[no-untyped-def]
        return SimpleNamespace(entry=self.entries.get)


async def test_outbound_pin_and_inbound_client_certificate(tmp_path: Path) -> None:
    tx = tls_node(tmp_path, "TX")
    ca = tls_node(tmp_path, "CA")
    other_key, other_cert = tmp_path / "o.key", tmp_path / "o.pem"
    generate_self_signed(other_key, other_cert, "statenode TX")  # same name, other key
    tx_pin, ca_pin = own_pin(tx), own_pin(ca)
    assert tx_pin and ca_pin
    directory = _Dir(TX=tx_pin, CA=ca_pin, NY=None)

    async def who(request: web.Request) -> web.Response:
        problem = client_pin_problem(request, tx, directory, request.query["from"])  # type: ignore[arg-type]
        return web.json_response({"problem": problem})

    app = web.Application()
    app.router.add_get("/who", who)
    runner, url = await start_site(app, "127.0.0.1", 0, ssl_context=server_context(tx))
    try:
        anon_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        anon_ctx.check_hostname, anon_ctx.verify_mode = False, ssl.CERT_NONE
        learned: list[bytes] = []
        async with aiohttp.ClientSession(connector=PinningConnector(anon_ctx)) as anon:
            # the outbound pin check, before any request byte: right pin → through
            async with anon.get(url + "/healthz", ssl=SpkiPin(tx_pin, learned.append)) as resp:
                assert resp.status == 404  # reached TX's listener (no such route here)
            assert [spki_sha256(d) for d in learned] == [tx_pin]
            with pytest.raises(aiohttp.ServerFingerprintMismatch) as info:
                async with anon.get(url + "/who?from=CA", ssl=SpkiPin(ca_pin)):
                    pass
            assert "does not match its directory pin" in mismatch_reason("TX", info.value)
        ok = SpkiPin(tx_pin)
        async with aiohttp.ClientSession(connector=client_connector(ca)) as ca_http:
            # CA's certificate is not trusted by TX yet: the handshake is refused
            with pytest.raises(aiohttp.ClientError):
                async with ca_http.get(url + "/who?from=CA", ssl=ok) as resp:
                    await resp.read()
        peer_trust(tx).add(ssl.PEM_cert_to_DER_cert(
            (ca.config_path.parent / "tls" / "cert.pem").read_text()))
        async with aiohttp.ClientSession(connector=client_connector(ca)) as ca_http:
            async with ca_http.get(url + "/who?from=CA", ssl=SpkiPin(tx_pin)) as resp:
                assert (await resp.json())["problem"] is None
            async with ca_http.get(url + "/who?from=TX", ssl=SpkiPin(tx_pin)) as resp:
                assert "does not match the TLS pin of TX" in (await resp.json())["problem"]
            async with ca_http.get(url + "/who?from=NY", ssl=SpkiPin(tx_pin)) as resp:
                assert "publishes no TLS pin" in (await resp.json())["problem"]
            async with ca_http.get(url + "/who?from=ZZ", ssl=SpkiPin(tx_pin)) as resp:
                assert (await resp.json())["problem"] is None  # unknown: the envelope check
        plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        plain.check_hostname, plain.verify_mode = False, ssl.CERT_NONE
        async with aiohttp.ClientSession() as anon:  # no client certificate at all
            async with anon.get(url + "/who?from=CA", ssl=plain) as resp:
                assert "no client certificate" in (await resp.json())["problem"]
        # a certificate with TX's name but another key is refused at the handshake
        evil = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        evil.check_hostname, evil.verify_mode = False, ssl.CERT_NONE
        evil.load_cert_chain(str(other_cert), str(other_key))
        async with aiohttp.ClientSession() as bad:
            with pytest.raises(aiohttp.ClientError):
                async with bad.get(url + "/who?from=TX", ssl=evil) as resp:
                    await resp.read()
    finally:
        await runner.cleanup()


async def test_trust_refresh_learns_only_matching_certificates(tmp_path: Path) -> None:
    tx = tls_node(tmp_path, "TX")
    ca = tls_node(tmp_path, "CA")
    ca_pin = own_pin(ca)
    runner, url = await start_site(web.Application(), "127.0.0.1", 0,
                                   ssl_context=server_context(ca))
    try:
        trust = peer_trust(tx)
        wrong = SimpleNamespace(node_id="CA", tls_cert_sha256=b"\x00" * 32, endpoints=(url,))
        assert await trust.fetch(wrong, 2.0) is False  # type: ignore[arg-type]
        plain = SimpleNamespace(node_id="CA", tls_cert_sha256=ca_pin,
                                endpoints=(url.replace("https", "http"),))
        assert await trust.fetch(plain, 2.0) is False  # type: ignore[arg-type]
        right = SimpleNamespace(node_id="CA", tls_cert_sha256=ca_pin, endpoints=(url,))
        assert await trust.fetch(right, 2.0) is True  # type: ignore[arg-type]
        assert ca_pin in trust.pins
        view = SimpleNamespace(peers=lambda: [right])
        assert await trust.refresh(view) == 0  # type: ignore[arg-type]  # already trusted
    finally:
        await runner.cleanup()


def test_request_ssl_refuses_plain_http_to_a_pinned_peer(tmp_path: Path) -> None:
    tx = tls_node(tmp_path, "TX")
    pinned = _entry("CA", b"\x01" * 32)
    assert request_ssl(tx, None, "http://x") is True
    assert request_ssl(tx, _entry("CA", None), "http://x") is True  # type: ignore[arg-type]
    assert isinstance(request_ssl(tx, pinned, "https://x"), SpkiPin)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not https"):
        request_ssl(tx, pinned, "http://x")  # type: ignore[arg-type]


async def test_trust_is_dropped_when_a_peer_is_no_longer_active(tmp_path: Path) -> None:
    """A revoked (or re-pinned) peer's certificate stops passing the handshake at the
    next `tls_peers` run, without a restart; peers still active are not affected."""
    tx, ca, fl = tls_node(tmp_path, "TX"), tls_node(tmp_path, "CA"), tls_node(tmp_path, "FL")
    tx_pin, ca_pin, fl_pin = own_pin(tx), own_pin(ca), own_pin(fl)
    assert tx_pin and ca_pin and fl_pin
    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ok", ok)
    runner, url = await start_site(app, "127.0.0.1", 0, ssl_context=server_context(tx))
    trust = peer_trust(tx)
    for cfg in (ca, fl):
        trust.add(ssl.PEM_cert_to_DER_cert((cfg.config_path.parent / "tls/cert.pem").read_text()))

    async def reaches(cfg) -> bool:  # type: ignore[no-untyped-def]
        async with aiohttp.ClientSession(connector=client_connector(cfg)) as http:
            try:
                async with http.get(url + "/ok", ssl=SpkiPin(tx_pin)) as resp:
                    return await resp.text() == "ok"
            except aiohttp.ClientError:
                return False

    port = int(url.rsplit(":", 1)[1])

    contexts = {}
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        contexts[version] = ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.maximum_version = version
        ctx.load_cert_chain(str(ca.config_path.parent / "tls/cert.pem"),
                            str(ca.config_path.parent / "tls/key.pem"))

    def session_of(version: ssl.TLSVersion, session=None):  # type: ignore[no-untyped-def]
        """One request as CA over a raw TLS socket (resuming `session`): (answered,
        session)."""
        ctx = contexts[version]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                    ctx.wrap_socket(raw, session=session) as conn:
                conn.sendall(b"GET /ok HTTP/1.1\r\nHost: tx\r\nConnection: close\r\n\r\n")
                answer = conn.recv(4096)
                return answer.endswith(b"ok"), conn.session
        except (OSError, ssl.SSLError):
            return False, None

    loop = asyncio.get_running_loop()
    try:
        assert await reaches(ca) and await reaches(fl)
        ok, session = await loop.run_in_executor(None, session_of, ssl.TLSVersion.TLSv1_3)
        assert ok
        # TLS 1.2 is refused by default (server.tls_min_version = "1.3"): its session ids
        # would stay resumable for 300 s after a peer is dropped
        ok, _ = await loop.run_in_executor(None, session_of, ssl.TLSVersion.TLSv1_2)
        assert not ok
        fl_entry = SimpleNamespace(node_id="FL", tls_cert_sha256=fl_pin, endpoints=())
        view = SimpleNamespace(peers=lambda: [fl_entry])  # CA revoked: gone from peers()
        assert await trust.refresh(view) == 0  # type: ignore[arg-type]
        assert trust.pins == {fl_pin}
        assert not await reaches(ca)
        # nor does an old TLS 1.3 session (no tickets are issued)
        ok, _ = await loop.run_in_executor(None, session_of, ssl.TLSVersion.TLSv1_3, session)
        assert not ok
        assert await reaches(fl)
        broken = SimpleNamespace(peers=lambda: 1 / 0)  # directory unavailable: keep all
        assert await trust.refresh(broken) == 0  # type: ignore[arg-type]
        assert trust.pins == {fl_pin}
    finally:
        await runner.cleanup()


def test_tls_min_version_is_honoured(tmp_path: Path) -> None:
    tx = tls_node(tmp_path, "TX")
    assert server_context(tx).minimum_version is ssl.TLSVersion.TLSv1_3  # type: ignore[union-attr]
    old = dataclasses.replace(tx, server=dataclasses.replace(tx.server, tls_min_version="1.2"),
                              config_path=tmp_path / "other.toml")
    assert server_context(old).minimum_version is ssl.TLSVersion.TLSv1_2  # type: ignore[union-attr]
    text = tx.config_path.read_text().replace("[keys]", 'tls_min_version = "1.1"\n\n[keys]')
    tx.config_path.write_text(text)
    with pytest.raises(ConfigError, match=r"server.tls_min_version.*must be one of 1.3, 1.2"):
        load_config(tx.config_path)
