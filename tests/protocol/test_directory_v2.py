"""Version 2 of the directory snapshot, key document and node info (DESIGN.md "Upgrades").

Each version 2 document is a separate document: version 1 stays byte for byte what a
node one release behind reads (its decoder is strict), version 2 adds the new fields
under its own signature context, and neither can be passed off as the other.
"""

from __future__ import annotations

import dataclasses
import json

import msgpack
import pytest

from crypto.keys import generate_encryption_key, generate_hybrid_key, generate_signing_key
from crypto.seal import HYBRID, X25519
from crypto.sign import sign
from protocol.codec import pack
from protocol.directory import (
    DIRECTORY_CONTEXT,
    FEATURE_HYBRID,
    FEATURE_WITNESS,
    KEYS_CONTEXT,
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
from protocol.errors import MalformedMessage, ProtocolError

NOW = 1_760_000_000_000
DAY = 86_400_000
AUTH = generate_signing_key()
TX, CA, TX_WITNESS = generate_signing_key(), generate_signing_key(), generate_signing_key()
ORIGIN = "statenode.tea.example/TX/log"


def entry(node: str, key, **kw) -> DirectoryEntry:
    return DirectoryEntry(node, f"{node} node", (f"https://{node.lower()}.example:8443/",),
                          key.public, key.key_id, "active", NOW + 30 * DAY, **kw)


NEW_TX = entry("TX", TX, log_origin=ORIGIN, witness_name="statenode.tea.example/TX/witness",
               witness_key=TX_WITNESS.public, features=(FEATURE_HYBRID, FEATURE_WITNESS))
OLD_CA = entry("CA", CA)


def snapshot(version: int, *entries: DirectoryEntry) -> DirectorySnapshot:
    return DirectorySnapshot(9, NOW - 1000, NOW + DAY, entries or (NEW_TX, OLD_CA),
                             version=version)


def test_version_1_leaves_the_new_fields_out() -> None:
    v1 = sign_snapshot(snapshot(1), AUTH)
    doc = msgpack.unpackb(msgpack.unpackb(v1)["doc"])
    assert "version" not in doc
    assert set(doc["entries"][0]) == set(entry("TX", TX).to_doc())
    got = verify_snapshot(v1, AUTH.public, now_ms=NOW)
    assert got.version == 1 and got.entries[0] == entry("TX", TX)
    # exactly the bytes the previous release signs for the same entries
    plain = DirectorySnapshot(9, NOW - 1000, NOW + DAY, (entry("TX", TX), OLD_CA))
    doc_bytes = pack(plain.to_doc())
    assert msgpack.unpackb(v1)["doc"] == doc_bytes


def test_version_2_round_trip() -> None:
    v2 = sign_snapshot(snapshot(2), AUTH)
    got = verify_snapshot(v2, AUTH.public, now_ms=NOW)
    assert got.version == 2 and got.entries == (NEW_TX, OLD_CA)
    assert got.entries[0].has(FEATURE_HYBRID) and not got.entries[1].has(FEATURE_HYBRID)
    assert got.entry_for_origin(ORIGIN) == NEW_TX
    assert got.entry_for_origin("TX") == NEW_TX  # the legacy origin of its old checkpoints
    assert got.entry_for_origin("CA") == OLD_CA
    assert got.entry_for_origin("example.com/other") is None
    assert NEW_TX.log_origins() == (ORIGIN, "TX") and OLD_CA.log_origins() == ("CA",)


def _resign(data: bytes, context: bytes, **changes: object) -> bytes:
    outer = msgpack.unpackb(data)
    doc = msgpack.unpackb(outer["doc"])
    doc.update(changes)
    doc = {k: v for k, v in doc.items() if v is not None}
    return pack({"doc": pack(doc), "sig": sign(AUTH, context=context, data=pack(doc))})


def test_one_version_cannot_pass_for_the_other() -> None:
    v2 = sign_snapshot(snapshot(2), AUTH)
    with pytest.raises(ProtocolError, match="signature"):  # v2 doc under the v1 context
        verify_snapshot(_resign(v2, DIRECTORY_CONTEXT), AUTH.public, now_ms=NOW)
    no_version = _resign(v2, DIRECTORY_CONTEXT, version=None)  # v2 fields, v1 document
    with pytest.raises(MalformedMessage, match="unexpected field"):
        verify_snapshot(no_version, AUTH.public, now_ms=NOW)
    v1 = sign_snapshot(snapshot(1), AUTH)
    with pytest.raises(MalformedMessage, match="version"):
        verify_snapshot(_resign(v1, DIRECTORY_CONTEXT, version=1), AUTH.public, now_ms=NOW)
    with pytest.raises(MalformedMessage, match="version"):
        verify_snapshot(_resign(v1, DIRECTORY_CONTEXT, version=3), AUTH.public, now_ms=NOW)


def test_entry_rules() -> None:
    same = dataclasses.replace(NEW_TX, witness_key=TX.public)
    with pytest.raises(MalformedMessage, match="separate key"):
        verify_snapshot(sign_snapshot(snapshot(2, same), AUTH), AUTH.public, now_ms=NOW)
    half = dataclasses.replace(NEW_TX, witness_name=None)
    with pytest.raises(MalformedMessage, match="come together"):
        verify_snapshot(sign_snapshot(snapshot(2, half), AUTH), AUTH.public, now_ms=NOW)
    clash = dataclasses.replace(OLD_CA, log_origin=ORIGIN)
    with pytest.raises(MalformedMessage, match="same log origin"):
        verify_snapshot(sign_snapshot(snapshot(2, NEW_TX, clash), AUTH), AUTH.public,
                        now_ms=NOW)
    spaced = dataclasses.replace(NEW_TX, log_origin="tx log")
    with pytest.raises(MalformedMessage, match="note key name"):
        verify_snapshot(sign_snapshot(snapshot(2, spaced), AUTH), AUTH.public, now_ms=NOW)
    future = dataclasses.replace(NEW_TX, features=("hpke-something-newer", FEATURE_WITNESS))
    got = verify_snapshot(sign_snapshot(snapshot(2, future), AUTH), AUTH.public, now_ms=NOW)
    assert got.entries[0].features == ("hpke-something-newer", FEATURE_WITNESS)


ENC, HYB = generate_encryption_key(), generate_hybrid_key()


def keydoc(version: int, hybrid: bool = True) -> KeyDocument:
    return KeyDocument(
        "TX", TX.key_id, NOW, (PublishedKey(ENC.key_id, ENC.public, NOW + DAY),),
        hybrid_keys=(PublishedKey(HYB.key_id, HYB.public, NOW + DAY, HYBRID),) if hybrid
        else (), envelope_versions=(1, 2) if version == 2 else (1,), version=version)


def test_key_document_version_2() -> None:
    data = sign_key_document(keydoc(2), TX)
    doc = verify_key_document(data, TX.public, node_id="TX", now_ms=NOW)
    assert doc.version == 2 and doc.hybrid_keys[0].public == HYB.public
    target = doc.seal_target(NOW)
    assert (target.suite, target.version, target.key.key_id) == (HYBRID, 2, HYB.key_id)
    no_hybrid = verify_key_document(sign_key_document(keydoc(2, hybrid=False), TX), TX.public,
                                    node_id="TX", now_ms=NOW)
    assert (no_hybrid.seal_target(NOW).suite, no_hybrid.seal_target(NOW).version) == (X25519, 2)


def test_key_document_version_1_is_unchanged() -> None:
    data = sign_key_document(keydoc(1, hybrid=False), TX)
    doc = msgpack.unpackb(msgpack.unpackb(data)["doc"])
    assert set(doc) == {"node_id", "signing_key_id", "issued_at_ms", "encryption_keys"}
    got = verify_key_document(data, TX.public, node_id="TX", now_ms=NOW)
    target = got.seal_target(NOW)
    assert (got.version, target.suite, target.version) == (1, X25519, 1)


def test_key_document_versions_cannot_be_mixed() -> None:
    v2 = sign_key_document(keydoc(2), TX)
    outer = msgpack.unpackb(v2)
    forged = pack({"doc": outer["doc"], "sig": sign(TX, context=KEYS_CONTEXT,
                                                    data=outer["doc"])})
    with pytest.raises(ProtocolError, match="signature"):
        verify_key_document(forged, TX.public, node_id="TX", now_ms=NOW)
    doc = msgpack.unpackb(outer["doc"])
    doc["hybrid_keys"][0]["public"] = ENC.public
    bad = pack(doc)
    with pytest.raises(MalformedMessage, match="1216"):
        verify_key_document(pack({"doc": bad, "sig": sign(TX, context=b"statenode/v2/keys",
                                                          data=bad)}),
                            TX.public, node_id="TX", now_ms=NOW)


def test_node_info_new_fields_and_legacy_form() -> None:
    info = NodeInfo("TX", "Texas", ("https://tx.example/",), TX.public, TX.key_id,
                    log_origin=ORIGIN, witness_name="statenode.tea.example/TX/witness",
                    witness_key=TX_WITNESS.public, features=(FEATURE_HYBRID, FEATURE_WITNESS))
    assert NodeInfo.from_json(info.to_json()) == info
    legacy = json.loads(info.to_json(legacy=True))
    assert set(legacy) == {"node_id", "name", "endpoints", "signing_key", "key_id"}
    assert NodeInfo.from_json(info.to_json(legacy=True)) == NodeInfo(
        "TX", "Texas", ("https://tx.example/",), TX.public, TX.key_id)
    same = json.loads(info.to_json())
    same["witness_key"] = same["signing_key"]
    with pytest.raises(MalformedMessage, match="must not be the signing key"):
        NodeInfo.from_json(json.dumps(same))
    half = json.loads(info.to_json())
    del half["witness_name"]
    with pytest.raises(MalformedMessage, match="come together"):
        NodeInfo.from_json(json.dumps(half))
