"""The discover round's wire: strict discover / discover_reply bodies, the signed filter
wrapper (signature, versions, key id), the fill-rate bound, the directory's oprf_key."""

from __future__ import annotations

import base64
import json
import os

import pytest

from crypto.keys import generate_encryption_key, generate_signing_key, key_id
from crypto.oprf import OprfKey, evaluate
from protocol.codec import pack, unpack
from protocol.directory import (
    FEATURE_DISCOVER,
    KeyDocument,
    NodeInfo,
    PublishedKey,
    sign_key_document,
    verify_key_document,
)
from protocol.discover_filter import DiscoverFilter
from protocol.discover_signed import FilterInfo, open_filter, sign_filter, stuffing_problem
from protocol.errors import ErrorCode, MalformedMessage, ProtocolError
from protocol.messages import (
    DISCOVER_ELEMENTS,
    Discover,
    DiscoverReply,
    Requester,
    from_body,
    to_body,
)

WHO = Requester("u1", "staff", "Lincoln Elementary")
ELEMENTS = tuple(os.urandom(32) for _ in range(DISCOVER_ELEMENTS))
SIGNING = generate_signing_key()
OPRF = OprfKey.generate()


def test_discover_elements_is_the_matching_count() -> None:
    from node.matching.discover_keys import DISCOVER_ELEMENTS as node_count

    assert DISCOVER_ELEMENTS == node_count


@pytest.mark.parametrize("count", [0, 1, 15, 17, 64])
def test_discover_refuses_other_counts(count: int) -> None:
    body = to_body(Discover(ELEMENTS, WHO, "enrollment"))
    body["elements"] = [os.urandom(32) for _ in range(count)]
    with pytest.raises(MalformedMessage, match=r"discover\.elements"):
        from_body("discover", body)
    reply = to_body(DiscoverReply(ELEMENTS, bytes(64), 1))
    reply["evaluated"] = body["elements"]
    with pytest.raises(MalformedMessage, match=r"discover_reply\.evaluated"):
        from_body("discover_reply", reply)


@pytest.mark.parametrize("bad", [b"\x01" * 31, b"\x01" * 33, "text", 7])
def test_discover_refuses_bad_elements(bad: object) -> None:
    body = to_body(Discover(ELEMENTS, WHO, "enrollment"))
    body["elements"] = [*ELEMENTS[:5], bad, *ELEMENTS[6:]]
    with pytest.raises(MalformedMessage, match=r"discover\.elements\[5\]"):
        from_body("discover", body)


def test_discover_refuses_extra_fields_and_move_notice_purpose() -> None:
    body = to_body(Discover(ELEMENTS, WHO, "enrollment"))
    with pytest.raises(MalformedMessage, match="unexpected field"):
        from_body("discover", {**body, "keys": ["nn:x"]})
    with pytest.raises(MalformedMessage, match=r"discover\.purpose"):
        from_body("discover", {**body, "purpose": "move_notice"})
    reply = to_body(DiscoverReply(ELEMENTS, bytes(64), 1))
    with pytest.raises(MalformedMessage, match=r"discover_reply\.proof"):
        from_body("discover_reply", {**reply, "proof": bytes(63)})


def _filter(members: int = 50) -> tuple[bytes, list[bytes]]:
    outs = [evaluate(OPRF, f"nn:k{i}".encode()) for i in range(members)]
    f = DiscoverFilter.build(outs, count=members, oprf_public_key=OPRF.public)
    return f.to_bytes(), outs


def test_signed_filter_round_trip_and_checks() -> None:
    raw, outs = _filter()
    wrapped, info = sign_filter(raw, node_id="TX", version=3, records=20,
                                false_positive_ppm=1000, issued_at_ms=1, signing_key=SIGNING)
    assert info.members == 50 and info.version == 3
    opened = open_filter(wrapped, signing_keys=(SIGNING.public,), node_id="TX", expected=info,
                         oprf_public_key=OPRF.public)
    assert all(o in opened.filter for o in outs)
    assert stuffing_problem(opened.filter, info) is None
    with pytest.raises(ProtocolError) as e:
        open_filter(wrapped, signing_keys=(generate_signing_key().public,), node_id="TX",
                    expected=info, oprf_public_key=OPRF.public)
    assert e.value.code is ErrorCode.BAD_SIGNATURE
    with pytest.raises(ProtocolError, match="version 3, want 4"):
        open_filter(wrapped, signing_keys=(SIGNING.public,), node_id="TX",
                    expected=FilterInfo(4, info.sha256, 50, 20, 1000),
                    oprf_public_key=OPRF.public)
    with pytest.raises(ProtocolError, match="another OPRF key"):
        open_filter(wrapped, signing_keys=(SIGNING.public,), node_id="TX", expected=info,
                    oprf_public_key=OprfKey.generate().public)
    with pytest.raises(ProtocolError, match="CA's"):
        open_filter(wrapped, signing_keys=(SIGNING.public,), node_id="CA", expected=info,
                    oprf_public_key=OPRF.public)
    outer = unpack(wrapped)
    outer["filter"] = raw[:-1] + bytes([raw[-1] ^ 1])
    with pytest.raises(MalformedMessage, match="SHA-256"):
        open_filter(pack(outer), signing_keys=(SIGNING.public,), node_id="TX",
                    expected=info, oprf_public_key=OPRF.public)


def test_stuffed_filter_is_suspicious() -> None:
    raw, _ = _filter(200)
    f = DiscoverFilter.from_bytes(raw)
    honest = FilterInfo(1, b"\0" * 32, 200, 100, 1000)
    assert stuffing_problem(f, honest) is None
    assert "declared records" in (stuffing_problem(f, FilterInfo(1, b"\0" * 32, 200, 10, 1000))
                                  or "")
    f.bits = bytearray(b"\xff" * len(f.bits))  # every bit set: answers yes to everything
    assert "bits are set" in (stuffing_problem(f, honest) or "")
    small = DiscoverFilter.build([], count=5, oprf_public_key=OPRF.public)
    assert "too few" in (stuffing_problem(small, honest) or "")


def test_key_document_v2_names_the_filter() -> None:
    info = FilterInfo(7, b"\x09" * 32, 1000, 300, 1000)
    enc = generate_encryption_key()
    doc = KeyDocument("TX", key_id(SIGNING.public), 1,
                      (PublishedKey(enc.key_id, enc.public, 10**13),),
                      envelope_versions=(1, 2), version=2, discover_filter=info)
    back = verify_key_document(sign_key_document(doc, SIGNING), SIGNING.public, node_id="TX",
                               now_ms=2)
    assert back.discover_filter == info
    plain = verify_key_document(sign_key_document(
        KeyDocument(doc.node_id, doc.signing_key_id, 1, doc.encryption_keys,
                    envelope_versions=(1, 2), version=2), SIGNING), SIGNING.public,
        node_id="TX", now_ms=2)
    assert plain.discover_filter is None


def test_node_info_oprf_key_is_a_ristretto_point() -> None:
    info = NodeInfo("TX", "Texas", ("https://tx.example",), SIGNING.public,
                    key_id(SIGNING.public), features=(FEATURE_DISCOVER,),
                    oprf_key=OPRF.public)
    assert NodeInfo.from_json(info.to_json()).oprf_key == OPRF.public
    assert "oprf_key" not in info.to_dict(legacy=True)
    bad = json.loads(info.to_json())
    bad["oprf_key"] = base64.b64encode(b"\xff" * 32).decode()
    with pytest.raises(MalformedMessage, match=r"node info\.oprf_key"):
        NodeInfo.from_json(json.dumps(bad))


def test_build_sets_the_bits_add_sets() -> None:
    from protocol.discover_filter import parameters

    outs = [os.urandom(64) for _ in range(500)]
    built = DiscoverFilter.build(outs, count=500, oprf_public_key=OPRF.public)
    m, k = parameters(500)
    one_by_one = DiscoverFilter(m, k, 0, built.oprf_key_id, bytearray(m // 8))
    for o in outs:
        one_by_one.add(o)
    assert built.to_bytes() == one_by_one.to_bytes() and built.n == 500
