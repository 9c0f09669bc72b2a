"""request_fetch keeps only snapshots that are the asked state's own signed, valid records."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

import node.control.api as control_api
from crypto.keys import generate_signing_key
from protocol.messages import Fetch, FetchReply, Requester
from protocol.record_snapshot import RecordSnapshot
from tests.integration.harness import child

TX_KEY, CA_KEY = generate_signing_key(), generate_signing_key()
RECORD = {k: v for k, v in child("TX900001", "Ana", "Ruiz", "Soto", "2011-05-06").items()}


def _snap(owner: str, key: Any, record_id: str = "handle-0001", **record: Any) -> RecordSnapshot:
    return RecordSnapshot.create(key, owner=owner, record_id=record_id, version=1,
                                 issued_at_ms=int(time.time() * 1000),
                                 record={**RECORD, **record})


def _services(entry_keys: dict[str, bytes]) -> Any:
    def entry(state: str) -> Any:
        key = entry_keys.get(state)
        return SimpleNamespace(signing_keys=lambda: (key,)) if key else None
    return SimpleNamespace(directory=SimpleNamespace(
        current=lambda: SimpleNamespace(entry=entry)))


async def _fetch(monkeypatch: pytest.MonkeyPatch, *snaps: RecordSnapshot) -> dict[str, Any]:
    async def fake_request(*_a: Any, **_k: Any) -> Any:  # the peer's (mis)behaviour
        return SimpleNamespace(message=FetchReply(tuple(snaps)), header=None)

    monkeypatch.setattr(control_api, "request", fake_request)
    services = _services({"TX": TX_KEY.public, "CA": CA_KEY.public})
    fetch = Fetch(("handle-0001",), Requester("u", "staff", "s"), "enrollment")
    return await control_api.request_fetch(services, "CA", fetch)


async def test_a_peer_cannot_pass_its_data_off_as_another_state(
        monkeypatch: pytest.MonkeyPatch) -> None:
    result = await _fetch(monkeypatch, _snap("TX", CA_KEY))
    assert result["snapshots"] == []
    assert "claims owner TX but came from CA" in result["rejected"][0]["reason"]


async def test_signature_handle_and_record_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    result = await _fetch(monkeypatch, _snap("CA", TX_KEY), _snap("CA", CA_KEY, "other-handle"),
                          _snap("CA", CA_KEY, birth_date="2012/01/02"), _snap("CA", CA_KEY))
    reasons = [r["reason"] for r in result["rejected"]]
    assert any("not signed by CA" in r for r in reasons)
    assert any("did not ask for" in r for r in reasons)
    assert any("birth_date" in r for r in reasons)
    assert len(result["snapshots"]) == 1 and result["snapshots"][0]["signature_verified"]


async def test_a_snapshot_with_a_mistyped_field_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the same typed validator as the JSON Lines import: a number where the record has text
    # is not quietly turned into text; the qualifying moves may be left out, since a snapshot
    # released for some purposes (credit_accrual) carries no moves
    result = await _fetch(monkeypatch, _snap("CA", CA_KEY, first_name=123),
                          _snap("CA", CA_KEY, multiple_birth="yes"),
                          _snap("CA", CA_KEY, qualifying_moves=[]))
    reasons = [r["reason"] for r in result["rejected"]]
    assert len(reasons) == 2
    assert "first_name: expected text, got a number" in reasons[0]
    assert "multiple_birth: expected true or false, got text" in reasons[1]
    [kept] = result["snapshots"]
    assert kept["record"]["qualifying_moves"] == []
