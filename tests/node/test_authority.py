"""The federation authority: init, enroll, status changes, rotation, snapshots."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from config.errors import ConfigError
from crypto.keys import generate_signing_key
from node.authority.registry import Authority, AuthorityError
from node.authority.settings import load_authority_config
from node.errors import Conflict, NotFound
from protocol.directory import verify_snapshot
from protocol.errors import ErrorCode, ProtocolError
from tests.node.dirfixtures import Clock, make_authority, random_info


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(tmp_path: Path, clock: Clock) -> Authority:
    return make_authority(tmp_path / "auth", clock)


def snap(auth: Authority, clock: Clock):
    return verify_snapshot(auth.current_snapshot(), auth.public_key, now_ms=clock.ms())


def test_init_creates_private_key_and_refuses_overwrite(tmp_path: Path, auth: Authority) -> None:
    mode = stat.S_IMODE((tmp_path / "auth/keys/authority.pem").stat().st_mode)
    assert mode == 0o600
    assert len(auth.public_key) == 32
    with pytest.raises(Conflict, match="already exists"):
        make_authority(tmp_path / "auth", Clock())


def test_enroll_suspend_reinstate_revoke(auth: Authority, clock: Clock) -> None:
    assert auth.enroll(random_info("TX")) == 1
    assert auth.enroll(random_info("CA")) == 2
    s = snap(auth, clock)
    assert s.serial == 2 and [e.node_id for e in s.entries] == ["CA", "TX"]
    assert s.expires_at_ms == clock.ms() + 3 * 86400 * 1000
    assert auth.suspend("tx") == 3
    assert snap(auth, clock).entry("TX").status == "suspended"
    with pytest.raises(AuthorityError, match="already suspended"):
        auth.suspend("TX")
    assert auth.reinstate("TX") == 4
    assert auth.revoke("TX") == 5
    s = snap(auth, clock)
    assert s.entry("TX").status == "revoked"
    with pytest.raises(ProtocolError) as err:
        s.sender_keys("TX", now_ms=clock.ms())
    assert err.value.code is ErrorCode.SENDER_NOT_ACTIVE
    with pytest.raises(AuthorityError, match="revocation is final"):
        auth.reinstate("TX")
    serial, entries = auth.entries()
    assert serial == 5 and len(entries) == 2


def test_duplicate_enrollment_needs_replace(auth: Authority) -> None:
    info = random_info("TX")
    auth.enroll(info)
    with pytest.raises(Conflict, match=r"already enrolled.*--replace"):
        auth.enroll(random_info("TX"))
    auth.enroll(random_info("TX"), replace=True)
    assert auth.entries()[0] == 2


def test_revoked_key_cannot_come_back(auth: Authority, clock: Clock) -> None:
    info = random_info("TX")
    auth.enroll(info)
    auth.revoke("TX")
    with pytest.raises(AuthorityError, match="was revoked"):
        auth.enroll(info, replace=True)
    auth.enroll(random_info("TX"), replace=True)
    assert snap(auth, clock).entry("TX").status == "active"


def test_unknown_node(auth: Authority) -> None:
    auth.enroll(random_info("TX"))
    with pytest.raises(NotFound, match=r"CA is not enrolled.*enrolled: TX"):
        auth.revoke("CA")


@pytest.mark.parametrize(("content", "message"), [
    (None, "node-info file not found"),
    ("{not json", "not valid JSON"),
    ('{"node_id": "TX"}', "node info.signing_key: missing"),
    ("WRONG_KEY_ID", "node info.key_id: does not match"),
    ("BAD_STATE", "node info.node_id"),
])
def test_bad_node_info_files(tmp_path: Path, auth: Authority, content: str | None,
                             message: str) -> None:
    path = tmp_path / "info.json"
    doc = json.loads(random_info("TX").to_json())
    if content == "WRONG_KEY_ID":
        content = json.dumps({**doc, "key_id": "0" * 16})
    elif content == "BAD_STATE":
        content = json.dumps({**doc, "node_id": "Texas"})
    if content is not None:
        path.write_text(content)
    with pytest.raises(AuthorityError, match=message) as err:
        auth.enroll_file(path)
    assert str(path) in str(err.value)
    assert auth.entries() == (0, [])


def test_enroll_file_round_trip(tmp_path: Path, auth: Authority) -> None:
    path = tmp_path / "info.json"
    path.write_text(random_info("NM").to_json())
    info, serial = auth.enroll_file(path)
    assert info.node_id == "NM" and serial == 1


def test_signing_key_rotation(auth: Authority, clock: Clock) -> None:
    auth.enroll(random_info("TX"))
    nxt = generate_signing_key()
    with pytest.raises(AuthorityError, match="no announced next signing key"):
        auth.promote_key("TX")
    with pytest.raises(AuthorityError, match="not base64"):
        auth.announce_key("TX", "!!!")
    with pytest.raises(AuthorityError, match="32"):
        auth.announce_key("TX", base64.b64encode(b"short").decode())
    auth.announce_key("TX", base64.b64encode(nxt.public).decode())
    e = snap(auth, clock).entry("TX")
    assert e.signing_keys()[1] == nxt.public
    auth.promote_key("TX")
    e = snap(auth, clock).entry("TX")
    assert e.signing_keys() == (nxt.public,) and e.key_id == nxt.key_id


def test_set_endpoints(auth: Authority, clock: Clock) -> None:
    auth.enroll(random_info("TX"))
    auth.set_endpoints("TX", ["http://10.0.0.5:8443", "https://tx.example.org"])
    assert snap(auth, clock).entry("TX").endpoints[1] == "https://tx.example.org"
    with pytest.raises(AuthorityError, match="not a URL"):
        auth.set_endpoints("TX", ["ftp:/x"])


def test_snapshot_reissued_only_near_expiry(auth: Authority, clock: Clock) -> None:
    auth.enroll(random_info("TX"))
    first = auth.current_snapshot()
    clock.t += 3600
    assert auth.current_snapshot() == first  # fresh: the same bytes
    clock.t += 23 * 3600 + 1  # over 1 d after issue: within reissue_before (2 d) of expiry
    s = snap(auth, clock)
    assert s.serial == 2 and s.issued_at_ms == clock.ms()
    clock.t += 5 * 86400  # long expired: re-issued again on request
    assert snap(auth, clock).serial == 3


def test_first_snapshot_with_no_entries(auth: Authority, clock: Clock) -> None:
    s = snap(auth, clock)
    assert s.serial == 1 and s.entries == ()


def test_damaged_state_file(tmp_path: Path, auth: Authority) -> None:
    auth.enroll(random_info("TX"))
    auth.cfg.state_file.write_text('{"serial": "x"}')
    with pytest.raises(Exception, match=r"state.json: serial"):
        auth.entries()


@pytest.mark.parametrize(("text", "key"), [
    ('[authority]\nsnapshot_lifetime = "soon"\n', "authority.snapshot_lifetime"),
    ('[authority]\ncolour = "red"\n', "authority.colour"),
    ('[authority]\nreissue_before = "4d"\n', "authority.reissue_before"),
    ('[server]\nport = "x"\n', "server.port"),
    ('[extra]\n', "[extra]"),
    ('[authority\n', "not valid TOML"),
])
def test_config_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "directory.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_authority_config(path)
    assert str(path) in str(err.value) and key in str(err.value)


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_authority_config(tmp_path / "nope.toml")
