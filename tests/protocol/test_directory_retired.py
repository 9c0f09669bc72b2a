"""`DirectoryEntry.retired_signing_keys` and `keys_valid_at` (signing-key rotation audits)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crypto.keys import signing_key_from_seed
from crypto.sign import sign
from protocol.codec import pack
from protocol.directory import (
    DIRECTORY_CONTEXT,
    MAX_RETIRED_KEYS,
    DirectoryEntry,
    DirectorySnapshot,
    sign_snapshot,
    verify_snapshot,
)
from protocol.errors import MalformedMessage

NOW = 1_760_000_000_000
DAY = 86_400_000
AUTH = signing_key_from_seed(b"\x11" * 32)
KEYS = [signing_key_from_seed(bytes([0x20 + i]) * 32) for i in range(12)]
CUR, NXT, OLD1, OLD2 = KEYS[0], KEYS[1], KEYS[2], KEYS[3]


def entry(**kw: Any) -> DirectoryEntry:
    return DirectoryEntry("TX", "Texas", ("https://tx.example:8443/",), CUR.public,
                          CUR.key_id, "active", NOW + 30 * DAY, **kw)


RETIRED = ((OLD1.public, NOW - DAY), (OLD2.public, NOW - 10 * DAY))


def snapshot(*entries: DirectoryEntry) -> DirectorySnapshot:
    return DirectorySnapshot(3, NOW - 1000, NOW + DAY, entries)


def test_round_trip_and_keys_valid_at() -> None:
    e = entry(next_signing_key=NXT.public, retired_signing_keys=RETIRED)
    got = verify_snapshot(sign_snapshot(snapshot(e), AUTH), AUTH.public, now_ms=NOW)
    assert got.entries == (e,)
    assert got.entries[0].retired_signing_keys == RETIRED
    # live traffic: only the current and next keys, never a retired one
    assert e.signing_keys() == (CUR.public, NXT.public)
    assert got.sender_keys("TX", now_ms=NOW) == (CUR.public, NXT.public)
    # audits: a retired key is valid for anything up to the moment it was retired
    assert e.keys_valid_at(NOW - 20 * DAY) == (CUR.public, NXT.public, OLD1.public, OLD2.public)
    assert e.keys_valid_at(NOW - 10 * DAY) == (CUR.public, NXT.public, OLD1.public, OLD2.public)
    assert e.keys_valid_at(NOW - 10 * DAY + 1) == (CUR.public, NXT.public, OLD1.public)
    assert e.keys_valid_at(NOW) == (CUR.public, NXT.public)
    assert entry().keys_valid_at(0) == (CUR.public,)


def test_entries_without_retired_keys_keep_their_bytes() -> None:
    """Snapshots issued before the field existed encode (and so sign) exactly as before."""
    e = entry(next_signing_key=NXT.public)
    doc = e.to_doc()
    assert "retired_signing_keys" not in doc
    assert pack(doc) == pack({
        "node_id": "TX", "name": "Texas", "endpoints": ["https://tx.example:8443/"],
        "signing_key": CUR.public, "key_id": CUR.key_id, "status": "active",
        "valid_until_ms": NOW + 30 * DAY, "next_signing_key": NXT.public})
    snap = snapshot(e)
    assert sign_snapshot(snap, AUTH) == sign_snapshot(
        snapshot(entry(next_signing_key=NXT.public, retired_signing_keys=())), AUTH)
    got = verify_snapshot(sign_snapshot(snap, AUTH), AUTH.public, now_ms=NOW)
    assert got.entries[0].retired_signing_keys == ()
    # with retired keys the wire form is a list of {public, retired_at_ms} maps
    doc = entry(retired_signing_keys=RETIRED).to_doc()
    assert doc["retired_signing_keys"] == [{"public": OLD1.public, "retired_at_ms": NOW - DAY},
                                           {"public": OLD2.public,
                                            "retired_at_ms": NOW - 10 * DAY}]


def _retired(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["entries"][0]["retired_signing_keys"]  # type: ignore[no-any-return]


def _many(d: dict[str, Any]) -> None:
    d["entries"][0]["retired_signing_keys"] = [
        {"public": k.public, "retired_at_ms": NOW - i} for i, k in enumerate(KEYS[2:11])]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["entries"][0].update(retired_signing_keys=[]),
         r"entries\[0\]\.retired_signing_keys: 0 items"),
        (_many, r"entries\[0\]\.retired_signing_keys: 9 items"),
        (lambda d: d["entries"][0].update(retired_signing_keys={"a": 1}),
         r"retired_signing_keys: expected an array"),
        (lambda d: _retired(d).reverse(),
         r"retired_signing_keys\[1\]\.retired_at_ms: keys must be listed newest first"),
        (lambda d: _retired(d)[1].update(public=OLD1.public),
         r"retired_signing_keys\[1\]\.public: the key is listed twice"),
        (lambda d: _retired(d)[0].update(public=b"x" * 31),
         r"retired_signing_keys\[0\]\.public"),
        (lambda d: _retired(d)[0].update(retired_at_ms=-1),
         r"retired_signing_keys\[0\]\.retired_at_ms"),
        (lambda d: _retired(d)[0].update(retired_at_ms="yesterday"),
         r"retired_signing_keys\[0\]\.retired_at_ms: expected an integer"),
        (lambda d: _retired(d)[0].pop("retired_at_ms"),
         r"retired_signing_keys\[0\]\.retired_at_ms: missing"),
        (lambda d: _retired(d)[0].update(note="x"),
         r"retired_signing_keys\[0\]: unexpected field 'note'"),
        (lambda d: _retired(d)[0].update(public=CUR.public),
         "a retired key is also the current or next signing key"),
        (lambda d: d["entries"][0].update(next_signing_key=OLD2.public),
         "a retired key is also the current or next signing key"),
    ],
)
def test_retired_keys_are_validated(change: Callable[[dict[str, Any]], None],
                                    match: str) -> None:
    doc = snapshot(entry(retired_signing_keys=RETIRED)).to_doc()
    change(doc)
    body = pack(doc)
    data = pack({"doc": body, "sig": sign(AUTH, context=DIRECTORY_CONTEXT, data=body)})
    with pytest.raises(MalformedMessage, match=match):
        verify_snapshot(data, AUTH.public, now_ms=NOW)


def test_the_most_retired_keys_allowed_verify() -> None:
    retired = tuple((k.public, NOW - i) for i, k in enumerate(KEYS[2:2 + MAX_RETIRED_KEYS]))
    e = entry(retired_signing_keys=retired)
    got = verify_snapshot(sign_snapshot(snapshot(e), AUTH), AUTH.public, now_ms=NOW)
    assert got.entries[0].retired_signing_keys == retired
    # equal retirement times are allowed (newest first is "not older than the previous")
    same = ((OLD1.public, NOW), (OLD2.public, NOW))
    got = verify_snapshot(sign_snapshot(snapshot(entry(retired_signing_keys=same)), AUTH),
                          AUTH.public, now_ms=NOW)
    assert got.entries[0].keys_valid_at(NOW) == (CUR.public, OLD1.public, OLD2.public)
