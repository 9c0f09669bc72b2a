"""`statenode doctor` offline checks and signing-key rotation, on a node made by `init`.

Directory snapshots are signed here with a test authority key and written to the node's
cache; peers are tiny HTTP servers on loopback (one with a clock ten minutes ahead).
"""

from __future__ import annotations

import base64
import email.utils
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import load_config
from crypto.keys import generate_signing_key, key_id
from node.cli import cli
from node.control.signing_rotation import prepare, rotation_state, switch
from node.directory.identity import load_keys
from node.errors import Conflict, NotFound
from node.ops.demo import free_port
from node.ops.doctor import FAIL, OK, WARN, Check, run_checks, worst
from protocol.directory import DirectoryEntry, DirectorySnapshot, sign_snapshot

AUTHORITY = generate_signing_key()
HOUR_MS = 3_600_000


class _Peer(http.server.BaseHTTPRequestHandler):
    skew = 0.0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(time.time() + self.skew, usegmt=True)

    def log_message(self, *args: object) -> None:
        pass


def _serve(skew: float) -> Iterator[str]:
    handler = type("Peer", (_Peer,), {"skew": skew})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def good_peer() -> Iterator[str]:
    yield from _serve(0.0)


@pytest.fixture
def skewed_peer() -> Iterator[str]:
    yield from _serve(600.0)


def _anchor(node_dir: Path) -> Path:
    path = node_dir / "node.toml"
    key = base64.b64encode(AUTHORITY.public).decode()
    text = path.read_text().replace('authority_key = ""', f'authority_key = "{key}"')
    path.write_text(text.replace("urls = []", 'urls = ["http://127.0.0.1:9"]'))
    return path


def _snapshot(node_dir: Path, peers: dict[str, str], *, expires_in_ms: int,
              ours: bytes | None = None, next_key: bytes | None = None) -> None:
    cfg = load_config(node_dir / "node.toml")
    now = int(time.time() * 1000)
    ours = ours or load_keys(cfg).signing.public
    entries = [DirectoryEntry("TX", "Texas", ("http://127.0.0.1:1",), ours, key_id(ours),
                              "active", now + 100 * HOUR_MS, next_signing_key=next_key)]
    for state, url in peers.items():
        k = generate_signing_key().public
        entries.append(DirectoryEntry(state, state, (url,), k, key_id(k), "active",
                                      now + 100 * HOUR_MS))
    snap = DirectorySnapshot(7, now - HOUR_MS, now + expires_in_ms, tuple(entries))
    cfg.directory.cache_file.write_bytes(sign_snapshot(snap, AUTHORITY))


def _by(checks: list[Check], area: str) -> list[Check]:
    return [c for c in checks if c.area == area]


def test_fresh_node(node_dir: Path) -> None:
    checks = run_checks(node_dir / "node.toml", timeout=0.5)
    assert _by(checks, "config")[0].status == OK
    assert [c.status for c in _by(checks, "key files")] == [OK]
    assert _by(checks, "keys")[0].status == OK
    node = _by(checks, "node")[0]
    assert node.status == WARN and "statenode serve" in node.fix
    directory = _by(checks, "directory")[0]
    assert directory.status == FAIL and "authority_key" in directory.fix
    assert _by(checks, "disk")[0].status in (OK, WARN)


def test_bad_config_stops_early(node_dir: Path) -> None:
    path = node_dir / "node.toml"
    path.write_text(path.read_text().replace('id = "TX"', 'id = "XX"'))
    checks = run_checks(path)
    assert len(checks) == 1 and checks[0].status == FAIL and "node.id" in checks[0].message


def test_loosened_key_file_names_the_fix(node_dir: Path) -> None:
    cfg = load_config(node_dir / "node.toml")
    cfg.keys.signing_key.chmod(0o644)
    checks = run_checks(node_dir / "node.toml", timeout=0.5)
    (bad,) = [c for c in _by(checks, "key files") if c.status == FAIL]
    assert "accessible by other users (mode 0644)" in bad.message
    assert bad.fix == f"chmod 600 {cfg.keys.signing_key}"
    assert _by(checks, "keys")[0].status == FAIL
    assert worst(checks) == FAIL


def test_expired_and_expiring_snapshot(node_dir: Path, good_peer: str) -> None:
    _anchor(node_dir)
    _snapshot(node_dir, {"CA": good_peer}, expires_in_ms=-60_000)
    d = _by(run_checks(node_dir / "node.toml", timeout=1), "directory")[0]
    assert d.status == FAIL and "expired" in d.message and "refuses" in d.message
    assert "http://127.0.0.1:9" in d.fix and "reachable" in d.fix
    _snapshot(node_dir, {"CA": good_peer}, expires_in_ms=HOUR_MS)
    checks = run_checks(node_dir / "node.toml", timeout=1)
    d = _by(checks, "directory")[0]
    assert d.status == WARN and "expires soon" in d.message
    assert [c.status for c in _by(checks, "peers")] == [OK]
    assert _by(checks, "clock")[0].status == OK


def test_stopped_peer_and_skewed_clock(node_dir: Path, skewed_peer: str) -> None:
    _anchor(node_dir)
    dead = f"http://127.0.0.1:{free_port()}"
    _snapshot(node_dir, {"CA": skewed_peer, "FL": dead}, expires_in_ms=100 * HOUR_MS)
    checks = run_checks(node_dir / "node.toml", timeout=1)
    peers = {c.message.split()[0]: c for c in _by(checks, "peers")}
    assert peers["CA"].status == OK
    assert peers["FL"].status == WARN and "unreachable" in peers["FL"].message
    assert "ask FL's operator to start it" in peers["FL"].fix
    clock = _by(checks, "clock")[0]
    assert clock.status == FAIL and "from CA's by +" in clock.message  # about +600 s
    assert "bound of 120 s" in clock.message
    assert "NTP" in clock.fix


def test_damaged_database(node_dir: Path) -> None:
    cfg = load_config(node_dir / "node.toml")
    data = bytearray(cfg.storage.database.read_bytes())
    data[100:4096] = b"\x00" * (4096 - 100)
    cfg.storage.database.write_bytes(bytes(data))
    db = next(c for c in _by(run_checks(node_dir / "node.toml", timeout=0.5), "database")
              if "node database" in c.message)
    assert db.status == FAIL and "statenode restore" in db.fix


def test_signing_key_rotation(node_dir: Path) -> None:
    path = _anchor(node_dir)
    cfg = load_config(path)
    old = load_keys(cfg).signing
    _snapshot(node_dir, {}, expires_in_ms=100 * HOUR_MS)
    with pytest.raises(NotFound, match="--prepare"):
        switch(cfg)
    public = prepare(cfg)
    assert prepare(cfg) == public  # idempotent
    assert rotation_state(cfg).announced is False
    keys = _by(run_checks(path, timeout=0.5), "keys")
    assert any("not announced" in c.message and public in c.fix for c in keys)
    with pytest.raises(Conflict, match="announce-key"):
        switch(cfg)
    new = base64.b64decode(public)
    _snapshot(node_dir, {}, expires_in_ms=100 * HOUR_MS, next_key=new)
    assert rotation_state(cfg).announced is True
    retired = switch(cfg)
    assert load_keys(cfg).signing.public == new
    assert (cfg.keys.signing_key.parent / retired).exists()
    keys = _by(run_checks(path, timeout=0.5), "keys")
    assert any("promote-key" in c.fix for c in keys)
    # the directory pins neither key: a clear failure
    _snapshot(node_dir, {}, expires_in_ms=100 * HOUR_MS, ours=old.public)
    keys = _by(run_checks(path, timeout=0.5), "keys")
    assert any(c.status == FAIL and "pins another signing key" in c.message for c in keys)


def test_cli_doctor_json_and_exit_code(node_dir: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["doctor", "-c", str(node_dir / "node.toml"), "--json",
                              "--timeout", "0.5"], obj={})
    assert res.exit_code == 1  # no directory configured
    out = json.loads(res.output)
    assert out["status"] == FAIL and {c["area"] for c in out["checks"]} >= {"config", "disk"}
    res = runner.invoke(cli, ["doctor", "-c", str(node_dir / "node.toml"), "--timeout", "0.5"],
                        obj={})
    assert "fix:" in res.output and "failure(s)" in res.output
    res = runner.invoke(cli, ["keys", "rotate-signing", "-c", str(node_dir / "node.toml"),
                              "--prepare"], obj={})
    assert res.exit_code == 0 and "announce-key" in res.output
