"""Envelope round trip and every rejection path (DESIGN.md "Envelope")."""

from __future__ import annotations

import hashlib
import os

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.keys import generate_encryption_key, generate_signing_key
from crypto.seal import open_sealed, seal
from crypto.sign import sign_raw
from protocol.codec import pack
from protocol.envelope import (
    MAX_TTL_MS,
    Header,
    ReplayCache,
    open_envelope,
    peek,
    seal_envelope,
    seal_info,
    signed_message,
    verify_logged_signature,
)
from protocol.errors import EnvelopeRejected, ErrorCode, MalformedMessage, ProtocolError
from protocol.messages import (
    Demographics,
    Error,
    Find,
    FindCriteria,
    FindReply,
    Requester,
)

NOW = 1_760_000_000_000
TX_SIGN = generate_signing_key()
CA_SIGN = generate_signing_key()
CA_ENC = generate_encryption_key()
CA_ENC_NEXT = generate_encryption_key()
NY_ENC = generate_encryption_key()
FIND = Find(
    FindCriteria(Demographics("María", "García", last_name_2="López", sex="F",
                              birth_date="2012-03-04", birth_city="Oaxaca"),
                 parent_names=("Rosa López",), ids=(("msix", "123456789012"),)),
    Requester("u17", "staff", "Lincoln Elementary"),
    "enrollment",
)


def keys_lookup(node: str) -> bytes:
    if node == "TX":
        return TX_SIGN.public
    raise EnvelopeRejected(f"{node} unknown", code=ErrorCode.UNKNOWN_SENDER)


def make(**kw: object):
    args: dict[str, object] = dict(signing_key=TX_SIGN, sender="TX", recipient="CA",
                                   recipient_key=CA_ENC.public, recipient_key_id=CA_ENC.key_id,
                                   message=FIND, now_ms=NOW, ttl_ms=60_000, purpose="enrollment")
    args.update(kw)
    return seal_envelope(**args)  # type: ignore[arg-type]


def open_(wire: bytes, *, now: int = NOW, seen: ReplayCache | None = None, my_id: str = "CA",
          lookup=keys_lookup):
    return open_envelope(wire, my_id=my_id,
                         my_keys={CA_ENC.key_id: CA_ENC, CA_ENC_NEXT.key_id: CA_ENC_NEXT},
                         sender_key_lookup=lookup, now_ms=now,
                         seen=seen if seen is not None else ReplayCache(), max_skew_ms=1000)


def code_of(wire: bytes, **kw: object) -> ErrorCode:
    with pytest.raises(ProtocolError) as info:
        open_(wire, **kw)  # type: ignore[arg-type]
    return info.value.code


def reseal(sealed, *, header: bytes | None = None, body: bytes | None = None,
           signature: bytes | None = None, clear: dict | None = None) -> bytes:
    """Open the sealed payload with CA's key, swap parts, seal again (an attacker who can
    encrypt to CA but cannot sign as TX)."""
    outer = msgpack.unpackb(sealed.wire)
    info = seal_info(outer["type"], outer["from"], outer["to"])
    h, b, s = msgpack.unpackb(open_sealed(CA_ENC, outer["sealed"], info=info))
    outer.update(clear or {})
    inner = pack([header if header is not None else h, body if body is not None else b,
                  signature if signature is not None else s])
    outer["sealed"] = seal(CA_ENC.public, inner,
                           info=seal_info(outer["type"], outer["from"], outer["to"]))
    return pack(outer)


def test_round_trip() -> None:
    sealed = make()
    opened = open_(sealed.wire)
    assert opened.message == FIND
    assert opened.header == sealed.header
    assert opened.header_bytes == sealed.header_bytes
    assert opened.signature == sealed.signature
    assert opened.body_hash == sealed.body_hash
    fields = peek(sealed.wire)
    assert (fields.v, fields.type, fields.sender, fields.recipient) == (1, "find", "TX", "CA")
    assert verify_logged_signature(sealed.header_bytes, sealed.body_hash, sealed.signature,
                                   TX_SIGN.public) == sealed.header


def test_sealed_to_next_key_and_reply() -> None:
    sealed = make(recipient_key=CA_ENC_NEXT.public, recipient_key_id=CA_ENC_NEXT.key_id)
    assert open_(sealed.wire).header.recipient_key_id == CA_ENC_NEXT.key_id
    reply = make(message=FindReply(()), reply_to=os.urandom(16))
    assert open_(reply.wire).message == FindReply(())


def test_rotation_accepts_any_listed_signing_key() -> None:
    sealed = make()
    opened = open_(sealed.wire, lookup=lambda n: (generate_signing_key().public, TX_SIGN.public))
    assert opened.message == FIND


def test_reply_to_rules() -> None:
    with pytest.raises(MalformedMessage, match="reply_to"):
        make(message=Error(ErrorCode.NOT_FOUND, "no such record"))
    with pytest.raises(MalformedMessage, match="reply_to"):
        make(reply_to=os.urandom(16))
    with pytest.raises(MalformedMessage, match="purpose"):
        make(purpose="placement")
    with pytest.raises(MalformedMessage, match="lifetime"):
        make(ttl_ms=MAX_TTL_MS + 1)


def test_clear_field_tampering() -> None:
    sealed = make()
    outer = msgpack.unpackb(sealed.wire)
    cases = {"v": (3, ErrorCode.UNSUPPORTED_VERSION),
             "to": ("NY", ErrorCode.WRONG_RECIPIENT),
             "from": ("NV", ErrorCode.UNKNOWN_SENDER),
             "type": ("fetch", ErrorCode.DECRYPTION_FAILED)}
    for key, (value, code) in cases.items():
        assert code_of(pack({**outer, key: value})) == code, key
    assert code_of(pack({**outer, "v": 2})) == ErrorCode.MALFORMED  # version 2 needs a kid
    assert code_of(pack({**outer, "type": "bogus"})) == ErrorCode.MALFORMED
    assert code_of(pack({**outer, "extra": 1})) == ErrorCode.MALFORMED


def test_sender_suspended_and_lookup_bug() -> None:
    def suspended(node: str) -> bytes:
        raise EnvelopeRejected("suspended", code=ErrorCode.SENDER_NOT_ACTIVE)

    def broken(node: str) -> bytes:
        raise KeyError(node)

    assert code_of(make().wire, lookup=suspended) == ErrorCode.SENDER_NOT_ACTIVE
    assert code_of(make().wire, lookup=broken) == ErrorCode.UNKNOWN_SENDER


def test_each_ciphertext_byte_position() -> None:
    sealed = make()
    outer = msgpack.unpackb(sealed.wire)
    ct = outer["sealed"]
    for pos in (0, 31, 32, len(ct) // 2, len(ct) - 1):
        bad = bytearray(ct)
        bad[pos] ^= 0x01
        assert code_of(pack({**outer, "sealed": bytes(bad)})) == ErrorCode.DECRYPTION_FAILED
    assert code_of(pack({**outer, "sealed": ct[:40]})) == ErrorCode.DECRYPTION_FAILED


def test_sealed_for_another_recipient() -> None:
    sealed = make(recipient="NY", recipient_key=NY_ENC.public, recipient_key_id=NY_ENC.key_id)
    assert code_of(sealed.wire) == ErrorCode.WRONG_RECIPIENT
    outer = msgpack.unpackb(sealed.wire)
    assert code_of(pack({**outer, "to": "CA"})) == ErrorCode.DECRYPTION_FAILED


def test_surreptitious_forwarding() -> None:
    """NY receives TX's message and re-seals it, unchanged, to CA: the signed header says NY."""
    to_ny = make(recipient="NY", recipient_key=NY_ENC.public, recipient_key_id=NY_ENC.key_id)
    outer = msgpack.unpackb(to_ny.wire)
    inner = open_sealed(NY_ENC, outer["sealed"], info=seal_info("find", "TX", "NY"))
    forwarded = pack({**outer, "to": "CA",
                      "sealed": seal(CA_ENC.public, inner, info=seal_info("find", "TX", "CA"))})
    assert code_of(forwarded) == ErrorCode.HEADER_MISMATCH


HEADER_FIELDS = [
    (0, 2, ErrorCode.MALFORMED),  # a version 2 header has 11 items
    (0, 3, ErrorCode.MALFORMED),
    (1, "fetch", ErrorCode.HEADER_MISMATCH),
    (2, "NV", ErrorCode.HEADER_MISMATCH),
    (3, "NY", ErrorCode.HEADER_MISMATCH),
    (4, CA_ENC_NEXT.key_id, ErrorCode.UNKNOWN_KEY),
    (4, "0000000000000000", ErrorCode.UNKNOWN_KEY),
    (5, b"\x01" * 16, ErrorCode.BAD_SIGNATURE),
    (6, b"\x02" * 16, ErrorCode.MALFORMED),  # a find must not have reply_to
    (7, NOW - 1, ErrorCode.BAD_SIGNATURE),
    (8, NOW + 59_999, ErrorCode.BAD_SIGNATURE),
    (9, "placement", ErrorCode.BAD_SIGNATURE),
    (9, "shopping", ErrorCode.MALFORMED),
]


@pytest.mark.parametrize(("index", "value", "code"), HEADER_FIELDS)
def test_each_header_field_tampered(index: int, value: object, code: ErrorCode) -> None:
    sealed = make()
    items = msgpack.unpackb(sealed.header_bytes)
    items[index] = value
    assert code_of(reseal(sealed, header=pack(items))) == code


def test_body_and_signature_tampered() -> None:
    sealed = make()
    other_body = pack({**FIND.to_body(), "max_candidates": 11})
    assert code_of(reseal(sealed, body=other_body)) == ErrorCode.BAD_SIGNATURE
    bad_sig = bytearray(sealed.signature)
    bad_sig[10] ^= 0x80
    assert code_of(reseal(sealed, signature=bytes(bad_sig))) == ErrorCode.BAD_SIGNATURE
    assert code_of(reseal(sealed, signature=b"\x00" * 63)) == ErrorCode.MALFORMED
    assert open_(reseal(sealed)).message == FIND  # an untouched re-seal still opens


def test_signed_but_malformed_body() -> None:
    """A validly signed body that does not decode as the header's type is malformed."""
    bad = pack({"criteria": {}})
    sealed = make()
    header = sealed.header_bytes
    sig = sign_raw(TX_SIGN, signed_message(header, hashlib.sha256(bad).digest()))
    assert code_of(reseal(sealed, body=bad, signature=sig)) == ErrorCode.MALFORMED


def test_expired_and_future() -> None:
    sealed = make()
    assert code_of(sealed.wire, now=NOW + 60_000 + 1001) == ErrorCode.EXPIRED
    open_(sealed.wire, now=NOW + 60_000 + 1000)  # within skew
    assert code_of(sealed.wire, now=NOW - 1001) == ErrorCode.NOT_YET_VALID
    open_(sealed.wire, now=NOW - 1000)


def test_replay_and_order() -> None:
    seen = ReplayCache()
    sealed = make()
    # a rejected attempt (expired) must not poison the cache
    assert code_of(sealed.wire, now=NOW + 10**6, seen=seen) == ErrorCode.EXPIRED
    assert len(seen) == 0
    open_(sealed.wire, seen=seen)
    assert code_of(sealed.wire, seen=seen) == ErrorCode.REPLAY
    assert open_(make().wire, seen=seen).message == FIND  # a fresh id is fine


def test_replay_cache_prune_and_bound() -> None:
    cache = ReplayCache(max_entries=2)
    cache.check_and_add("TX", b"a" * 16, keep_until_ms=100, now_ms=0)
    cache.check_and_add("TX", b"b" * 16, keep_until_ms=200, now_ms=0)
    with pytest.raises(EnvelopeRejected) as info:
        cache.check_and_add("TX", b"c" * 16, keep_until_ms=300, now_ms=50)
    assert info.value.code == ErrorCode.RATE_LIMITED
    cache.check_and_add("TX", b"c" * 16, keep_until_ms=300, now_ms=150)  # prunes "a"
    assert ("TX", b"a" * 16) not in cache
    with pytest.raises(EnvelopeRejected) as replay:
        cache.check_and_add("TX", b"b" * 16, keep_until_ms=300, now_ms=150)
    assert replay.value.code == ErrorCode.REPLAY
    assert cache.prune(1000) == 2
    assert len(cache) == 0 and cache.entries() == []


def test_verify_logged_signature_rejects() -> None:
    sealed = make()
    with pytest.raises(EnvelopeRejected) as info:
        verify_logged_signature(sealed.header_bytes, b"\x00" * 32, sealed.signature,
                                TX_SIGN.public)
    assert info.value.code == ErrorCode.BAD_SIGNATURE
    with pytest.raises(EnvelopeRejected):
        verify_logged_signature(sealed.header_bytes, sealed.body_hash, sealed.signature,
                                CA_SIGN.public)
    with pytest.raises(MalformedMessage):
        verify_logged_signature(b"\xc1", sealed.body_hash, sealed.signature, TX_SIGN.public)
    assert Header.decode(sealed.header_bytes) == sealed.header


def test_bad_seal_arguments() -> None:
    with pytest.raises(MalformedMessage, match="recipient_key"):
        make(recipient_key=b"short")
    with pytest.raises(MalformedMessage, match="sender"):
        make(sender="Texas")
    with pytest.raises(MalformedMessage, match="message_id"):
        make(message_id=b"x")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_arbitrary_bytes_only_raise_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        open_(data)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["v", "type", "from", "to", "sealed", "x"]),
                       st.one_of(st.integers(-5, 5), st.text(max_size=6), st.binary(max_size=80),
                                 st.none(), st.lists(st.integers(), max_size=3))))
def test_arbitrary_wire_maps_only_raise_protocol_errors(fields: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        open_(pack(fields))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2000), st.integers(0, 255))
def test_flipping_any_byte_is_rejected(pos: int, mask: int) -> None:
    wire = bytearray(WIRE)
    pos %= len(wire)
    wire[pos] ^= mask or 1
    with pytest.raises(ProtocolError):
        open_(bytes(wire))


WIRE = make().wire


def test_replay_cache_discard_allows_a_retry() -> None:
    from protocol.envelope import ReplayCache

    cache = ReplayCache()
    cache.check_and_add("TX", b"m" * 16, keep_until_ms=10_000, now_ms=0)
    cache.discard("TX", b"m" * 16)  # the handler failed: nothing was acted on
    cache.check_and_add("TX", b"m" * 16, keep_until_ms=10_000, now_ms=1)
    assert ("TX", b"m" * 16) in cache
    cache.prune(20_000)
    assert len(cache) == 0


# ---- version 2: the hybrid suite, signed and bound into info; downgrades -------------

from crypto.keys import generate_hybrid_key  # noqa: E402
from crypto.seal import HYBRID, X25519  # noqa: E402

CA_HYBRID = generate_hybrid_key()


def make2(suite: str = HYBRID, **kw: object):
    key = CA_HYBRID if suite == HYBRID else CA_ENC
    args: dict[str, object] = dict(recipient_key=key.public, recipient_key_id=key.key_id,
                                   suite=suite, version=2)
    args.update(kw)
    return make(**args)


def open2(wire: bytes, *, require_hybrid=None, **kw: object):
    return open_envelope(wire, my_id="CA",
                         my_keys={CA_ENC.key_id: CA_ENC, CA_HYBRID.key_id: CA_HYBRID},
                         sender_key_lookup=keys_lookup, now_ms=NOW, seen=ReplayCache(),
                         max_skew_ms=1000, require_hybrid=require_hybrid)


def code2(wire: bytes, **kw: object) -> ErrorCode:
    with pytest.raises(ProtocolError) as info:
        open2(wire, **kw)  # type: ignore[arg-type]
    return info.value.code


def test_hybrid_round_trip_signs_and_binds_the_suite() -> None:
    sealed = make2()
    opened = open2(sealed.wire)
    assert opened.message == FIND and opened.header.suite == HYBRID
    assert opened.header.version == 2 and opened.header == sealed.header
    items = msgpack.unpackb(sealed.header_bytes)
    assert len(items) == 11 and items[5] == HYBRID
    outer = msgpack.unpackb(sealed.wire)
    assert set(outer) == {"v", "type", "from", "to", "kid", "sealed"}
    assert outer["v"] == 2 and outer["kid"] == CA_HYBRID.key_id
    assert len(outer["sealed"]) > 1120  # the hybrid enc
    # the auditor's check of a logged v2 exchange
    assert verify_logged_signature(sealed.header_bytes, sealed.body_hash, sealed.signature,
                                   TX_SIGN.public).suite == HYBRID


def test_version_2_with_x25519_and_version_1_defaults() -> None:
    opened = open2(make2(X25519).wire)
    assert (opened.header.version, opened.header.suite) == (2, X25519)
    legacy = make()  # what a node one release behind seals and expects
    assert msgpack.unpackb(legacy.wire)["v"] == 1 and legacy.header.version == 1
    assert len(msgpack.unpackb(legacy.header_bytes)) == 10
    with pytest.raises(MalformedMessage, match="suite"):
        make(suite=HYBRID, version=1, recipient_key=CA_HYBRID.public,
             recipient_key_id=CA_HYBRID.key_id)


def test_version_1_never_tries_hybrid_keys() -> None:
    """A v1 envelope opens with the X25519 keys only (no slow trial of hybrid keys)."""
    sealed = make()
    assert open2(sealed.wire).header.suite == X25519


def test_the_suite_is_bound_into_info() -> None:
    """Re-sealing the same signed payload under another suite's info fails to open."""
    sealed = make2()
    outer = msgpack.unpackb(sealed.wire)
    good = seal_info("find", "TX", "CA", suite=HYBRID)
    inner = open_sealed(CA_HYBRID, outer["sealed"], info=good)
    for info in (seal_info("find", "TX", "CA", suite=X25519), seal_info("find", "TX", "CA")):
        bad = pack({**outer, "sealed": seal(CA_HYBRID.public, inner, info=info, suite=HYBRID)})
        assert code2(bad) == ErrorCode.DECRYPTION_FAILED


def test_kid_and_suite_tampering() -> None:
    sealed = make2()
    outer = msgpack.unpackb(sealed.wire)
    assert code2(pack({**outer, "kid": "0" * 16})) == ErrorCode.UNKNOWN_KEY
    assert code2(pack({**outer, "kid": CA_ENC.key_id})) == ErrorCode.DECRYPTION_FAILED
    # an attacker who can seal to CA but not sign as TX: change the signed suite
    inner = msgpack.unpackb(open_sealed(CA_HYBRID, outer["sealed"],
                                        info=seal_info("find", "TX", "CA", suite=HYBRID)))
    items = msgpack.unpackb(inner[0])
    items[5] = X25519
    forged = pack([pack(items), inner[1], inner[2]])
    wire = pack({**outer, "sealed": seal(CA_HYBRID.public, forged, suite=HYBRID,
                                         info=seal_info("find", "TX", "CA", suite=HYBRID))})
    assert code2(wire) == ErrorCode.HEADER_MISMATCH
    items[5] = "rot13"
    forged = pack([pack(items), inner[1], inner[2]])
    wire = pack({**outer, "sealed": seal(CA_HYBRID.public, forged, suite=HYBRID,
                                         info=seal_info("find", "TX", "CA", suite=HYBRID))})
    assert code2(wire) == ErrorCode.MALFORMED


def test_a_downgrade_is_refused() -> None:
    """A hybrid-capable sender's message sealed with X25519, in either version, is refused
    when the caller says both sides publish hybrid keys; accepted when they do not."""
    both_hybrid = {"TX": True}.get
    for wire in (make().wire, make2(X25519).wire):
        assert code2(wire, require_hybrid=lambda s: both_hybrid(s, False)) \
            == ErrorCode.DOWNGRADE
        assert open2(wire, require_hybrid=lambda s: False).message == FIND
    assert open2(make2().wire, require_hybrid=lambda s: True).message == FIND


def test_new_error_codes_are_not_sent_to_version_1_nodes() -> None:
    err = Error(ErrorCode.DOWNGRADE, "sealed with X25519")
    legacy = open_(make(message=err, reply_to=os.urandom(16)).wire)
    assert legacy.message == Error(ErrorCode.FORBIDDEN, "sealed with X25519")
    assert open2(make2(message=err, reply_to=os.urandom(16)).wire).message == err
