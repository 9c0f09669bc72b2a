"""Exports stay verifiable after signing-key rotation (retired keys in the directory).

The authority keeps a promoted-away key in `retired_signing_keys`; `audit verify` checks
entries with the keys valid at their time and checkpoints with every key of the log node;
the exchange log signs with the new key from the switch on.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto.checkpoint import open_checkpoint
from crypto.keys import SigningKey, generate_signing_key, key_id
from crypto.note import NoteVerifier, parse_note
from node.audit.cosigning import apply_cosign_reply, build_cosign_request, cosign_peer_checkpoint
from node.audit.exchange_log import ExchangeLog
from node.audit.export_files import _check_chunk, read_export, verify_folder
from node.authority.registry import Authority, AuthorityError
from node.cli import cli
from protocol.audit_verify import directory_entries, load_directory
from protocol.directory import (
    DirectoryEntry,
    DirectorySnapshot,
    sign_snapshot,
    verify_snapshot,
)
from tests.node.auditlog_helpers import DAY_MS, Federation, exchange
from tests.node.dirfixtures import Clock, make_authority, random_info


def _b64(key: SigningKey) -> str:
    return base64.b64encode(key.public).decode()


# --- the authority ----------------------------------------------------------------------


def test_promote_keeps_the_old_key_as_retired(tmp_path: Path) -> None:
    clock = Clock()
    auth = make_authority(tmp_path / "auth", clock)
    info = random_info("TX")
    auth.enroll(info)
    keys = [generate_signing_key() for _ in range(10)]
    auth.announce_key("TX", _b64(keys[0]))
    clock.t += 60
    auth.promote_key("TX")
    first_at = clock.ms()
    e = verify_snapshot(auth.current_snapshot(), auth.public_key, now_ms=clock.ms()).entry("TX")
    assert e is not None
    assert e.retired_signing_keys == ((info.signing_key, first_at),)
    assert e.signing_keys() == (keys[0].public,)  # peers no longer accept the old key
    assert e.keys_valid_at(first_at) == (keys[0].public, info.signing_key)
    # persisted in state.json: a fresh Authority over the same folder sees it
    again = Authority.open(auth.cfg.path, now=clock)
    assert again.entries()[1][0].retired_signing_keys == e.retired_signing_keys
    state = json.loads(auth.cfg.state_file.read_text())
    assert state["entries"][0]["retired_signing_keys"] == [
        {"public": base64.b64encode(info.signing_key).decode(), "retired_at_ms": first_at}]
    # a retired key cannot come back as the next key
    with pytest.raises(AuthorityError, match="was retired before"):
        auth.announce_key("TX", base64.b64encode(info.signing_key).decode())
    # a second rotation lists both, newest first, even if the clock stepped back
    auth.announce_key("TX", _b64(keys[1]))
    clock.t -= 3600
    auth.promote_key("TX")
    e = verify_snapshot(auth.current_snapshot(), auth.public_key, now_ms=clock.ms()).entry("TX")
    assert e is not None
    assert e.retired_signing_keys == ((keys[0].public, first_at), (info.signing_key, first_at))
    # only the newest 8 are kept
    for k in keys[2:]:
        clock.t += 7200
        auth.announce_key("TX", _b64(k))
        auth.promote_key("TX")
    e = verify_snapshot(auth.current_snapshot(), auth.public_key, now_ms=clock.ms()).entry("TX")
    assert e is not None and e.signing_key == keys[9].public
    assert [k for k, _ in e.retired_signing_keys] == [k.public for k in keys[8::-1][:8]]
    assert info.signing_key not in e.keys_valid_at(0)


def test_enroll_replace_keeps_the_replaced_key_as_retired(tmp_path: Path) -> None:
    """A node that lost its keys is enrolled again with new ones: what its old key signed
    before still verifies; a revoked key is not kept; a retired key cannot come back."""
    clock = Clock()
    auth = make_authority(tmp_path / "auth", clock)
    lost, new, newer = random_info("TX"), random_info("TX"), random_info("TX")
    auth.enroll(lost)
    auth.announce_key("TX", _b64(generate_signing_key()))  # dropped by the re-enrolment
    clock.t += 60
    auth.enroll(new, replace=True)
    at = clock.ms()
    e = verify_snapshot(auth.current_snapshot(), auth.public_key, now_ms=clock.ms()).entry("TX")
    assert e is not None and e.signing_keys() == (new.signing_key,)
    assert e.retired_signing_keys == ((lost.signing_key, at),)
    assert e.keys_valid_at(at - 1) == (new.signing_key, lost.signing_key)
    auth.enroll(new, replace=True)  # the same key again (new endpoints): nothing retired
    assert auth.entries()[1][0].retired_signing_keys == ((lost.signing_key, at),)
    with pytest.raises(AuthorityError, match="retired before"):
        auth.enroll(lost, replace=True)
    auth.revoke("TX")
    clock.t += 60
    auth.enroll(newer, replace=True)
    e = auth.entries()[1][0]
    assert e.signing_key == newer.signing_key and e.status == "active"
    assert e.retired_signing_keys == ((lost.signing_key, at),)  # not the revoked one


# --- the exchange log --------------------------------------------------------------------


def test_log_signs_with_the_new_key_after_the_switch(tmp_path: Path) -> None:
    fed = Federation()
    logs = {n: fed.open_log(tmp_path, n) for n in ("TX", "CA")}
    exchange(fed, logs, "TX", "CA", 0)
    old, new = fed.signing["TX"], generate_signing_key()
    note = logs["TX"].sign_checkpoint()
    reply = cosign_peer_checkpoint(logs["CA"], "TX", [old.public],
                                   build_cosign_request(logs["TX"], peer="CA"))
    apply_cosign_reply(logs["TX"], "CA", [fed.signing["CA"].public], reply)
    logs["TX"].use_signing_key(new)
    # same size: the stored checkpoint gains the new key's signature, keeps the cosignature
    resigned = logs["TX"].sign_checkpoint()
    text, sigs = parse_note(resigned)
    assert text == parse_note(note)[0]
    assert {(s.name, s.key_id) for s in sigs} >= {
        ("TX", NoteVerifier("TX", old.public).key_id),
        ("TX", NoteVerifier("TX", new.public).key_id)}
    assert any(s.name == "CA" for s in sigs)
    open_checkpoint(resigned, [NoteVerifier("TX", new.public)], origin="TX")
    assert logs["TX"].sign_checkpoint() == resigned  # idempotent
    assert logs["TX"].latest_checkpoint() == resigned
    # a grown log: signed by the new key only; witnesses use the new key too
    exchange(fed, logs, "TX", "CA", 1)
    latest = logs["TX"].sign_checkpoint()
    assert [s.key_id for s in parse_note(latest)[1]] == [NoteVerifier("TX", new.public).key_id]
    assert logs["TX"].cosigner.verifier().public == new.public
    for log in logs.values():
        log.close()


# --- end to end: export and verify across a rotation --------------------------------------


def _snapshot(fed: Federation, keys: dict[str, SigningKey],
              retired: Mapping[str, tuple[tuple[bytes, int], ...]]) -> bytes:
    now = int(time.time() * 1000)
    entries = tuple(
        DirectoryEntry(n, f"State {n}", (f"http://127.0.0.1:{9000 + i}",), keys[n].public,
                       key_id(keys[n].public), "active", now + 365 * DAY_MS,
                       retired_signing_keys=retired.get(n, ()))
        for i, n in enumerate(fed.nodes))
    return sign_snapshot(DirectorySnapshot(5, now, now + DAY_MS, entries), fed.authority)


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """TX and CA exchange with keys A, TX's A checkpoint is cosigned by CA, both rotate to B
    (CA's replies in TX's log are then signed by CA's old key), exchange more, export."""
    tmp = tmp_path_factory.mktemp("rotated")
    fed = Federation()
    old = dict(fed.signing)
    logs: dict[str, ExchangeLog] = {n: fed.open_log(tmp, n) for n in ("TX", "CA")}
    for i in range(3):
        exchange(fed, logs, "TX", "CA", i)
    logs["TX"].sign_checkpoint()
    reply = cosign_peer_checkpoint(logs["CA"], "TX", [old["TX"].public],
                                   build_cosign_request(logs["TX"], peer="CA"))
    apply_cosign_reply(logs["TX"], "CA", [old["CA"].public], reply)
    time.sleep(0.002)
    retired_at = int(time.time() * 1000)
    time.sleep(0.002)
    for n in ("TX", "CA"):
        fed.signing[n] = generate_signing_key()
        logs[n].use_signing_key(fed.signing[n])
    for i in range(3, 5):
        exchange(fed, logs, "CA", "TX", i)
    retired = {n: ((old[n].public, retired_at),) for n in ("TX", "CA")}
    snap = _snapshot(fed, fed.signing, retired)
    export = tmp / "export-TX"
    logs["TX"].sign_checkpoint()
    logs["TX"].export(export, snap, fed.authority.public)
    for log in logs.values():
        log.close()
    return {"fed": fed, "old": old, "export": export, "retired_at": retired_at,
            "retired": retired}


def _with_snapshot(world: dict[str, object], tmp_path: Path, snap: bytes) -> Path:
    import shutil

    dst = tmp_path / "copy"
    shutil.copytree(world["export"], dst)  # type: ignore[arg-type]
    (dst / "directory.msgpack").write_bytes(snap)
    return dst


def test_export_across_a_rotation_verifies(rotated: dict[str, object]) -> None:
    export: Path = rotated["export"]  # type: ignore[assignment]
    fed: Federation = rotated["fed"]  # type: ignore[assignment]
    old: dict[str, SigningKey] = rotated["old"]  # type: ignore[assignment]
    vkey = (export / "verifier-key").read_text().strip()
    assert vkey == NoteVerifier("TX", fed.signing["TX"].public).vkey()  # the current key
    history = (export / "checkpoints").read_text().splitlines()
    assert len(history) == 1  # the A-signed checkpoint CA cosigned
    open_checkpoint(json.loads(history[0])["note"], [NoteVerifier("TX", old["TX"].public)],
                    origin="TX")
    assert verify_folder(export) == []
    res = CliRunner().invoke(cli, ["audit", "verify", str(export)])
    assert res.exit_code == 0, res.output
    assert "OK: 10 entries verify" in res.output
    # the per-entry checks as `--jobs N` runs them on large exports (one chunk here)
    ex = read_export(export)
    snap = load_directory(ex.directory, fed.authority.public)
    assert _check_chunk(0, ex.leaves, "TX", directory_entries(snap)) == []
    # the witness CA cosigned with its (now retired) old key: still accepted when required
    from crypto.checkpoint import CosignatureSigner
    witness = CosignatureSigner("CA", old["CA"]).verifier().vkey()
    assert verify_folder(export, [witness]) == []


def test_export_without_the_retired_keys_fails(rotated: dict[str, object],
                                               tmp_path: Path) -> None:
    fed: Federation = rotated["fed"]  # type: ignore[assignment]
    dst = _with_snapshot(rotated, tmp_path, _snapshot(fed, fed.signing, {}))
    problems = [str(p) for p in verify_folder(dst)]
    # TX's own A-signed request (entry 0) and CA's A-signed reply (entry 1) no longer verify
    assert any(p.startswith("entry 0: sender signature does not verify") and "for TX" in p
               for p in problems), problems
    assert any(p.startswith("entry 1: sender signature does not verify") and "for CA" in p
               for p in problems), problems
    assert any(p.startswith("checkpoints line 1: not validly signed by the log key TX")
               for p in problems), problems
    assert not any(p.startswith(("entry 6", "entry 13", "checkpoint:")) for p in problems)
    res = CliRunner().invoke(cli, ["audit", "verify", str(dst)])
    assert res.exit_code == 1 and "entry 0: sender signature does not verify" in res.output


def test_entries_signed_after_retirement_fail(rotated: dict[str, object],
                                              tmp_path: Path) -> None:
    """A retired key only covers what was logged before it was retired (plus clock skew)."""
    fed: Federation = rotated["fed"]  # type: ignore[assignment]
    old: dict[str, SigningKey] = rotated["old"]  # type: ignore[assignment]
    early = int(rotated["retired_at"]) - 24 * 3_600_000  # type: ignore[call-overload]
    retired = {n: ((old[n].public, early),) for n in ("TX", "CA")}
    problems = [str(p) for p in verify_folder(
        _with_snapshot(rotated, tmp_path, _snapshot(fed, fed.signing, retired)))]
    assert any(p.startswith("entry 0: sender signature does not verify") for p in problems)
    # checkpoints carry no time: any key the directory lists for the log node verifies them
    assert not any(p.startswith("checkpoint") for p in problems), problems


def test_retired_key_is_not_a_verifier_key(rotated: dict[str, object], tmp_path: Path) -> None:
    """The export's verifier-key must be a current (or next) key, never a retired one."""
    old: dict[str, SigningKey] = rotated["old"]  # type: ignore[assignment]
    dst = _with_snapshot(rotated, tmp_path, (Path(rotated["export"])  # type: ignore[arg-type]
                                             / "directory.msgpack").read_bytes())
    (dst / "verifier-key").write_text(NoteVerifier("TX", old["TX"].public).vkey() + "\n")
    problems = [str(p) for p in verify_folder(dst)]
    assert "verifier-key: is not the signing key of TX in the directory" in problems
