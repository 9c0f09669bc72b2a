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
    cases = {"v": (2, ErrorCode.UNSUPPORTED_VERSION),
             "to": ("NY", ErrorCode.WRONG_RECIPIENT),
             "from": ("NV", ErrorCode.UNKNOWN_SENDER),
             "type": ("fetch", ErrorCode.DECRYPTION_FAILED)}
    for key, (value, code) in cases.items():
        assert code_of(pack({**outer, key: value})) == code, key
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
    (0, 2, ErrorCode.HEADER_MISMATCH),
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
