"""Directory snapshots, key documents and NodeInfo (DESIGN.md "Discovery")."""

from __future__ import annotations

import json

import msgpack
import pytest

from crypto.keys import generate_encryption_key, generate_signing_key
from crypto.sign import sign
from protocol.codec import pack
from protocol.directory import (
    DIRECTORY_CONTEXT,
    DirectoryEntry,
    DirectorySnapshot,
    KeyDocument,
    NodeInfo,
    PublishedKey,
    sign_key_document,
    sign_snapshot,
    verify_key_document,
    verify_snapshot,
)
from protocol.errors import EnvelopeRejected, ErrorCode, MalformedMessage, ProtocolError

NOW = 1_760_000_000_000
DAY = 86_400_000
AUTH = generate_signing_key()
TX = generate_signing_key()
CA = generate_signing_key()
TX_NEXT = generate_signing_key()


def entry(node: str, key, status: str = "active", **kw) -> DirectoryEntry:
    return DirectoryEntry(node, f"{node} node", (f"https://{node.lower()}.example:8443/",),
                          key.public, key.key_id, status, NOW + 30 * DAY, **kw)


SNAP = DirectorySnapshot(7, NOW - 1000, NOW + DAY, (
    entry("TX", TX, next_signing_key=TX_NEXT.public, tls_cert_sha256=b"\x01" * 32),
    entry("CA", CA, status="suspended"),
))


def code(exc: pytest.ExceptionInfo[ProtocolError]) -> ErrorCode:
    return exc.value.code


def test_snapshot_round_trip_and_lookup() -> None:
    data = sign_snapshot(SNAP, AUTH)
    got = verify_snapshot(data, AUTH.public, now_ms=NOW, previous_serial=6)
    assert got.entries == SNAP.entries and got.serial == 7 and got.raw == data
    assert got.sender_keys("TX", now_ms=NOW) == (TX.public, TX_NEXT.public)
    with pytest.raises(EnvelopeRejected) as info:
        got.sender_keys("CA", now_ms=NOW)
    assert code(info) == ErrorCode.SENDER_NOT_ACTIVE
    with pytest.raises(EnvelopeRejected) as info:
        got.sender_keys("NY", now_ms=NOW)
    assert code(info) == ErrorCode.UNKNOWN_SENDER
    with pytest.raises(EnvelopeRejected) as info:
        got.sender_keys("TX", now_ms=NOW + 31 * DAY)
    assert code(info) == ErrorCode.SENDER_NOT_ACTIVE


def test_snapshot_rejections() -> None:
    data = sign_snapshot(SNAP, AUTH)
    cases = [
        (dict(authority=TX.public), ErrorCode.BAD_SIGNATURE),
        (dict(now=NOW + DAY), ErrorCode.DIRECTORY_EXPIRED),
        (dict(now=NOW - 10 * 60_000), ErrorCode.NOT_YET_VALID),
        (dict(previous=7), ErrorCode.REPLAY),
        (dict(previous=8), ErrorCode.REPLAY),
    ]
    for args, expected in cases:
        with pytest.raises(ProtocolError) as info:
            verify_snapshot(data, args.get("authority", AUTH.public),
                            now_ms=args.get("now", NOW), previous_serial=args.get("previous"))
        assert code(info) == expected, args


def test_snapshot_tampered_doc() -> None:
    outer = msgpack.unpackb(sign_snapshot(SNAP, AUTH))
    doc = msgpack.unpackb(outer["doc"])
    doc["entries"][1]["status"] = "active"
    with pytest.raises(ProtocolError) as info:
        verify_snapshot(pack({**outer, "doc": pack(doc)}), AUTH.public, now_ms=NOW)
    assert code(info) == ErrorCode.BAD_SIGNATURE
    with pytest.raises(MalformedMessage):
        verify_snapshot(b"\x01\x02", AUTH.public, now_ms=NOW)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["entries"][0].update(key_id="0" * 16), r"entries\[0\]\.key_id"),
        (lambda d: d["entries"][0].update(status="paused"), r"entries\[0\]\.status"),
        (lambda d: d["entries"][0].update(endpoints=["ftp://x"]), r"endpoints\[0\]"),
        (lambda d: d["entries"][0].update(signing_key=b"x" * 31), r"entries\[0\]\.signing_key"),
        (lambda d: d["entries"].append(d["entries"][0]), "appears twice"),
        (lambda d: d.update(expires_at_ms=d["issued_at_ms"]), "expires_at_ms"),
        (lambda d: d.pop("serial"), r"directory\.serial: missing"),
    ],
)
def test_snapshot_malformed_but_signed(change, match: str) -> None:
    doc = SNAP.to_doc()
    change(doc)
    body = pack(doc)
    data = pack({"doc": body, "sig": sign(AUTH, context=DIRECTORY_CONTEXT, data=body)})
    with pytest.raises(MalformedMessage, match=match):
        verify_snapshot(data, AUTH.public, now_ms=NOW)


ENC = generate_encryption_key()
ENC_NEXT = generate_encryption_key()
KEYDOC = KeyDocument("TX", TX.key_id, NOW, (
    PublishedKey(ENC.key_id, ENC.public, NOW + DAY),
    PublishedKey(ENC_NEXT.key_id, ENC_NEXT.public, NOW + 2 * DAY),
))


def test_key_document() -> None:
    data = sign_key_document(KEYDOC, TX)
    doc = verify_key_document(data, TX.public, node_id="TX", now_ms=NOW)
    assert doc.encryption_keys == KEYDOC.encryption_keys
    assert doc.current_key(NOW).key_id == ENC_NEXT.key_id
    with pytest.raises(ProtocolError) as info:
        verify_key_document(data, CA.public, node_id="TX", now_ms=NOW)
    assert code(info) == ErrorCode.BAD_SIGNATURE
    with pytest.raises(ProtocolError) as info:
        verify_key_document(data, TX.public, node_id="CA", now_ms=NOW)
    assert code(info) == ErrorCode.HEADER_MISMATCH
    with pytest.raises(ProtocolError) as info:
        verify_key_document(data, TX.public, node_id="TX", now_ms=NOW + 3 * DAY)
    assert code(info) == ErrorCode.EXPIRED
    # signed with the snapshot context is not a key document
    with pytest.raises(ProtocolError) as info:
        verify_key_document(sign_snapshot(SNAP, TX), TX.public, node_id="TX", now_ms=NOW)
    assert code(info) == ErrorCode.BAD_SIGNATURE


def test_key_document_malformed() -> None:
    bad = KeyDocument("TX", TX.key_id, NOW, (PublishedKey("0" * 16, ENC.public, NOW + DAY),))
    with pytest.raises(MalformedMessage, match=r"encryption_keys\[0\]\.key_id"):
        verify_key_document(sign_key_document(bad, TX), TX.public, node_id="TX", now_ms=NOW)
    wrong_signer = KeyDocument("TX", CA.key_id, NOW, KEYDOC.encryption_keys)
    with pytest.raises(MalformedMessage, match="signing_key_id"):
        verify_key_document(sign_key_document(wrong_signer, TX), TX.public, node_id="TX",
                            now_ms=NOW)


def test_node_info() -> None:
    info = NodeInfo("TX", "Texas", ("https://tx.example/",), TX.public, TX.key_id)
    assert NodeInfo.from_json(info.to_json()) == info
    raw = json.loads(info.to_json())
    for field, value, match in [
        ("signing_key", "not base64!", "signing_key: not base64"),
        ("signing_key", "AAAA", "signing_key"),
        ("key_id", "0" * 16, "key_id: does not match"),
        ("node_id", "texas", "node_id"),
        ("endpoints", [], "endpoints"),
    ]:
        with pytest.raises(MalformedMessage, match=match):
            NodeInfo.from_json(json.dumps({**raw, field: value}))
    with pytest.raises(MalformedMessage, match="not valid JSON"):
        NodeInfo.from_json("{")
    with pytest.raises(MalformedMessage, match="missing"):
        NodeInfo.from_json("{}")
