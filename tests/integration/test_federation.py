"""Issue 3 done-when: a directory and three node processes exchanging over loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest

from config import load_config
from node.directory.identity import load_keys
from protocol.envelope import seal_envelope
from protocol.messages import Demographics, Find, FindCriteria, Requester
from tests.integration.harness import Federation, child, count_rows

pytestmark = pytest.mark.integration

GUADALUPE = {
    "first_name": "Guadalupe",
    "last_name_1": "Hernandez",
    "last_name_2": "Lopez",
    "birth_date": "2009-03-04",
    "sex": "F",
    "purpose": "enrollment",
}


def test_directory_is_served_by_every_node(federation: Federation) -> None:
    import urllib.request

    for state in federation.states:
        with urllib.request.urlopen(
            federation.nodes[state].url + "/federation/v1/directory", timeout=5
        ) as resp:
            assert resp.headers["Content-Type"].startswith("application/msgpack")
            from protocol.directory import verify_snapshot

            snap = verify_snapshot(
                resp.read(), federation.authority_key, now_ms=int(time.time() * 1000)
            )
            assert {e.node_id for e in snap.entries} == {"TX", "CA", "FL"}


def test_federated_find_returns_the_child_from_two_states(federation: Federation) -> None:
    answers, summary = federation.find("FL", **GUADALUPE)
    assert sorted(summary["answered"]) == ["CA", "TX"]
    assert summary["timed_out"] == [] and summary["failed"] == {}
    tx = answers["TX"]["candidates"]
    ca = answers["CA"]["candidates"]
    assert tx and tx[0]["demographics"]["first_name"] == "Guadalupe"
    assert ca and ca[0]["demographics"]["first_name"] == "Lupe"
    # find returns only what is needed to decide identity: no record tables
    assert "enrollments" not in tx[0]["demographics"]


def test_fetch_returns_the_full_signed_record(federation: Federation) -> None:
    answers, _ = federation.find("FL", **GUADALUPE)
    handle = answers["TX"]["candidates"][0]["handle"]
    reply = federation.control(
        "FL", "/local/v1/fetch", {"state": "TX", "handles": [handle], "purpose": "credit_accrual"}
    )
    assert reply["missing"] == []
    (snap,) = reply["snapshots"]
    assert snap["owner"] == "TX" and snap["signature_verified"] is True
    record = snap["record"]
    assert record["state_student_id"] == "TX900001"
    titles = {c["course_title"] for e in record["enrollments"] for c in e["courses"]}
    assert titles == {"Algebra I", "English I", "Biology"}


def test_handles_do_not_work_for_another_state(federation: Federation) -> None:
    answers, _ = federation.find("FL", **GUADALUPE)
    handle = answers["TX"]["candidates"][0]["handle"]
    reply = federation.control(
        "CA", "/local/v1/fetch", {"state": "TX", "handles": [handle], "purpose": "enrollment"}
    )
    assert reply["snapshots"] == [] and reply["missing"] == [handle]


def test_cli_find_prints_states(federation: Federation) -> None:
    out = federation.cli(
        "find",
        "-c",
        str(federation.config("CA")),
        "--first-name",
        "Guadalupe",
        "--last-name-1",
        "Hernández",
        "--birth-date",
        "2009-03-04",
    )
    assert "TX:" in out.stdout and "answered:" in out.stdout
    sent = next(x for x in out.stdout.splitlines()
                if x.startswith("the search's details went to: "))
    assert "TX" in sent  # the holder of the child; states with no hit say "no record"


def _sealed_find(fed: Federation, sender: str, recipient: str, **kw: Any) -> bytes:
    """A real envelope sealed with the sender's keys from disk, the way this release seals
    to a node of this release (MLKEM768-X25519, envelope version 2: X25519 would be
    refused as a downgrade)."""
    from crypto.seal import HYBRID
    from protocol.envelope import VERSION

    cfg = load_config(fed.config(sender))
    keys = load_keys(cfg)
    rkeys = load_keys(load_config(fed.config(recipient)))
    now = int(time.time() * 1000)
    entry = rkeys.published_hybrid(now / 1000)[0]
    find = Find(
        FindCriteria(Demographics("Guadalupe", "Hernandez", birth_date="2009-03-04")),
        Requester("tester", "staff", "X"),
        "enrollment",
    )
    args: dict[str, Any] = dict(
        signing_key=keys.signing,
        sender=sender,
        recipient=recipient,
        recipient_key=rkeys.hybrid[entry.key_id].public,
        recipient_key_id=entry.key_id,
        message=find,
        now_ms=now,
        ttl_ms=60_000,
        purpose="enrollment",
        suite=HYBRID,
        version=VERSION,
    )
    args.update(kw)
    return seal_envelope(**args).wire


def _inbox_count(fed: Federation, state: str) -> int:
    return count_rows(load_config(fed.config(state)).storage.database, "inbox")


def _student_count(fed: Federation, state: str) -> int:
    return count_rows(load_config(fed.config(state)).storage.database, "students")


def test_a_valid_envelope_is_answered_then_its_replay_refused(federation: Federation) -> None:
    wire = _sealed_find(federation, "FL", "TX")
    status, _body, kind = federation.post_raw("TX", wire)
    assert status == 200 and kind.startswith("application/msgpack")
    status, _body, kind = federation.post_raw("TX", wire)
    assert status == 409  # the signed error reply to a replay


@pytest.mark.parametrize(
    "case", ["tampered", "other_recipient", "garbage", "oversized", "expired", "unknown_sender"]
)
def test_bad_envelopes_are_rejected_and_leave_no_trace(federation: Federation, case: str) -> None:
    before = (_inbox_count(federation, "TX"), _student_count(federation, "TX"))
    if case == "tampered":
        wire = bytearray(_sealed_find(federation, "FL", "TX"))
        wire[-20] ^= 0x01
        expect = {400}
        body = bytes(wire)
    elif case == "other_recipient":
        body = _sealed_find(federation, "FL", "CA")  # sealed to CA, posted to TX
        expect = {421}
    elif case == "garbage":
        body = b"\xc1\x00not msgpack at all"
        expect = {400}
    elif case == "oversized":
        body = b"\x00" * (2 * 1024 * 1024)
        expect = {413}
    elif case == "expired":
        body = _sealed_find(federation, "FL", "TX", now_ms=int(time.time() * 1000) - 3_600_000)
        expect = {400}
    else:
        wire = msgpack.unpackb(_sealed_find(federation, "FL", "TX"))
        wire["from"] = "NY"
        body = msgpack.packb(wire)
        expect = {403}
    status, payload, kind = federation.post_raw("TX", body)
    assert status in expect, (status, payload[:200])
    if kind.startswith("application/json"):
        assert json.loads(payload)["error"]
    assert (_inbox_count(federation, "TX"), _student_count(federation, "TX")) == before


def test_rate_limit_answers_429(tmp_path: Path) -> None:
    fed = Federation(tmp_path, ["TX", "CA"], background=5).create()
    cfg = fed.config("TX")
    cfg.write_text(cfg.read_text().replace("[peers]\n", "[peers]\nrate_limit = 3\n"))
    fed.start()
    try:
        statuses = [fed.post_raw("TX", _sealed_find(fed, "CA", "TX"))[0] for _ in range(6)]
        assert statuses[:3] == [200, 200, 200]
        assert 429 in statuses[3:]
    finally:
        fed.stop()


def test_move_notice_and_dead_peer_and_revocation(tmp_path: Path) -> None:
    """Stop CA: a find names it; a move notice to it waits and is delivered exactly once
    after CA restarts; then revoke FL in the directory: after a refresh it is refused."""
    fed = (
        Federation(
            tmp_path,
            ["TX", "CA", "FL"],
            background=10,
            extra_records={"TX": [child("TX900002", "Ana", "Ruiz", "Soto", "2011-05-06")]},
        )
        .create()
        .start()
    )
    try:
        fed.nodes["CA"].stop()
        started = time.monotonic()
        _answers, summary = fed.find(
            "TX", first_name="Ana", last_name_1="Ruiz", birth_date="2011-05-06", timeout=2
        )
        elapsed = time.monotonic() - started
        assert "FL" in summary["answered"]
        assert "CA" in summary["failed"] or "CA" in summary["timed_out"]
        assert elapsed < 6

        out = fed.cli(
            "notify-move",
            "-c",
            str(fed.config("TX")),
            "--student",
            "TX900002",
            "--to",
            "CA",
            "--expected",
            "2026-12-01",
            "--comment",
            "with her brother",
        )
        assert "queued" in out.stdout
        pending = fed.control("TX", "/local/v1/outbox")
        assert pending[0]["delivered_ms"] is None and pending[0]["attempts"] >= 1

        fed.start_node("CA")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            fed.run_job("TX", "outbox")
            if fed.control("TX", "/local/v1/outbox")[0]["delivered_ms"]:
                break
            time.sleep(1)
        assert fed.control("TX", "/local/v1/outbox")[0]["delivered_ms"]
        for _ in range(3):  # more runs must not deliver it again
            fed.run_job("TX", "outbox")
        inbox = json.loads(fed.cli("inbox", "-c", str(fed.config("CA")), "--json").stdout)
        assert len(inbox) == 1
        assert inbox[0]["sender"] == "TX"
        assert inbox[0]["notice"]["comment"] == "with her brother"

        # revoke FL at the authority; TX refuses FL after its next refresh
        fed.cli("directory", "revoke", "-c", str(fed.directory_config), "FL")
        fed.run_job("TX", "directory_refresh")
        status, payload, _ = fed.post_raw("TX", _sealed_find(fed, "FL", "TX"))
        assert status == 403 and b"revoked" in payload
        _answers, summary = fed.find("TX", first_name="Ana", last_name_1="Ruiz")
        assert "FL" not in summary["answered"] and "FL" not in summary["failed"]
    finally:
        fed.stop()


def test_expired_directory_snapshot_is_refused(tmp_path: Path) -> None:
    fed = Federation(tmp_path, ["TX", "CA"], background=5, snapshot_lifetime="6s").create()
    fed.start()
    try:
        _answers, summary = fed.find("TX", first_name="Ana", last_name_1="Ruiz")
        assert summary["answered"] == ["CA"]
        fed.directory.stop()  # type: ignore[union-attr]
        time.sleep(7)
        status, payload, _ = fed.post_raw("CA", _sealed_find(fed, "TX", "CA"))
        assert status == 503 and b"expired" in payload
        import urllib.error

        with pytest.raises(urllib.error.HTTPError) as info:
            fed.find("TX", first_name="Ana", last_name_1="Ruiz")
        assert info.value.code == 503
        assert "expired" in json.loads(info.value.read())["error"]
    finally:
        fed.stop()


def test_replay_is_refused_after_a_restart(tmp_path: Path) -> None:
    """The replay cache is rebuilt from the exchange log: kill -9 does not reopen it."""
    fed = Federation(tmp_path, ["TX", "CA"], background=5).create().start()
    try:
        wire = _sealed_find(fed, "CA", "TX")
        assert fed.post_raw("TX", wire)[0] == 200
        fed.nodes["TX"].stop(kill=True)
        fed.start_node("TX")
        status, payload, _ = fed.post_raw("TX", wire)
        assert status == 409, payload[:200]
    finally:
        fed.stop()
