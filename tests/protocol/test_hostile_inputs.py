"""Hostile input to the sans-I/O layer: arbitrary and mutated bytes never crash, always get
a defined error (a `ProtocolError` with an `ErrorCode`), and a mutated envelope is never
accepted as anything but the original (DESIGN.md "Envelope"; docs/SECURITY.md)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.keys import generate_encryption_key, generate_signing_key
from protocol.codec import pack, unpack
from protocol.envelope import ReplayCache, open_envelope, peek, seal_envelope
from protocol.errors import EnvelopeRejected, ErrorCode, ProtocolError
from protocol.messages import Demographics, Find, FindCriteria, Requester
from protocol.records import validate_student

NOW = 1_760_000_000_000
TX = generate_signing_key()
CA_ENC = generate_encryption_key()
FIND = Find(FindCriteria(Demographics("Ana", "Ruiz", last_name_2="Soto", sex="F",
                                      birth_date="2011-05-06")),
            Requester("u1", "staff", "Lincoln"), "enrollment")
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _wire() -> bytes:
    return seal_envelope(signing_key=TX, sender="TX", recipient="CA", recipient_key=CA_ENC.public,
                         recipient_key_id=CA_ENC.key_id, message=FIND, now_ms=NOW,
                         ttl_ms=60_000, purpose="enrollment").wire


WIRE = _wire()


def _lookup(node: str) -> bytes:
    if node == "TX":
        return TX.public
    raise EnvelopeRejected(f"{node} unknown", code=ErrorCode.UNKNOWN_SENDER)


def _open(wire: bytes) -> Any:
    return open_envelope(wire, my_id="CA", my_keys={CA_ENC.key_id: CA_ENC},
                         sender_key_lookup=_lookup, now_ms=NOW, seen=ReplayCache())


def _defined(exc: ProtocolError, *, one_line: bool = True) -> None:
    assert isinstance(exc.code, ErrorCode)
    assert str(exc)
    if one_line:  # attacker bytes must not be able to forge log lines
        assert "\n" not in str(exc), str(exc)


@SETTINGS
@given(st.binary(max_size=2048))
def test_unpack_arbitrary_bytes(data: bytes) -> None:
    try:
        unpack(data)
    except ProtocolError as exc:
        _defined(exc)


@st.composite
def mutated(draw: st.DrawFn, base: bytes = WIRE) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and data:
            del data[i:i + draw(st.integers(1, 16))]
    return bytes(data)


def test_the_unmutated_envelope_opens() -> None:
    assert _open(WIRE).message == FIND


@SETTINGS
@given(mutated())
def test_mutated_envelope_is_rejected_or_identical(wire: bytes) -> None:
    try:
        opened = _open(wire)
    except ProtocolError as exc:
        _defined(exc)
        return
    # only a change that leaves every authenticated byte intact may open (e.g. a
    # different msgpack encoding of the same clear fields); it must be the same message
    assert opened.message == FIND and opened.header.sender == "TX"


@SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_bytes_to_open_envelope(data: bytes) -> None:
    for wire in (data, pack({"v": 1, "type": "find", "from": "TX", "to": "CA", "sealed": data})):
        try:
            _open(wire)
        except ProtocolError as exc:
            _defined(exc)
        else:  # pragma: no cover - would be a forgery
            raise AssertionError("random bytes opened as an envelope")


CLEAR = st.fixed_dictionaries({}, optional={
    "v": st.one_of(st.integers(-5, 5), st.text(max_size=3), st.none()),
    "type": st.one_of(st.sampled_from(["find", "fetch", "error", "x" * 40]),
                      st.integers(-(2**63), 2**64 - 1)),
    "from": st.one_of(st.sampled_from(["TX", "CA", "tx", "", "ZZ", "TXX"]), st.binary()),
    "to": st.one_of(st.sampled_from(["CA", "TX", "ca"]), st.integers(-(2**63), 2**63)),
    "sealed": st.one_of(st.binary(max_size=200), st.text(max_size=5)),
    "extra": st.integers(0, 2**64 - 1),
})


@SETTINGS
@given(CLEAR)
def test_clear_fields_of_any_shape(fields: dict[str, Any]) -> None:
    try:
        wire = pack(fields)
    except ProtocolError:  # not encodable (e.g. 2**63): send msgpack's own encoding
        import msgpack

        wire = msgpack.packb(fields)
    for fn in (peek, _open):
        try:
            fn(wire)
        except ProtocolError as exc:
            _defined(exc)


VALID_STUDENT: dict[str, Any] = {
    "state_student_id": "TX1", "first_name": "Ana", "last_name_1": "Ruiz", "sex": "F",
    "birth_date": "2011-05-06", "birth_country": "MEX",
    "enrollments": [{"enrollment_id": "E1", "enrollment_date": "2020-08-20",
                     "enrollment_type": "basic_school", "courses": [
                         {"course_title": "Algebra", "credits_attempted": 1.0}]}],
    "qualifying_moves": [{"qualifying_arrival_date": "2020-08-01"}],
}
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
              st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20,
)
FIELDS = st.sampled_from(sorted(set(VALID_STUDENT) | {"middle_name", "owner_state",
                                                      "multiple_birth", "birth_state",
                                                      "version", "unknown_field"}))


@pytest.mark.parametrize("field", ["sex", "birth_state"])
@pytest.mark.parametrize("value", [[], {}, ["F"], 3])
def test_non_text_enum_value_is_a_clear_error(field: str, value: Any) -> None:
    """Found by the property tests: a list or map used to crash with TypeError."""
    with pytest.raises(ProtocolError, match=field):
        validate_student(VALID_STUDENT | {field: value}, where="x:1")


@SETTINGS
@given(st.dictionaries(st.text(max_size=20), JSONISH, max_size=8))
def test_validate_student_arbitrary_dicts(data: dict[str, Any]) -> None:
    try:
        validate_student(data, where="x:1", owner_state="TX")
    except ProtocolError as exc:
        _defined(exc, one_line=False)


@SETTINGS
@given(st.lists(st.tuples(FIELDS, JSONISH), max_size=4), JSONISH)
def test_validate_student_mutated_valid_record(changes: list[tuple[str, Any]],
                                               child: Any) -> None:
    data = copy.deepcopy(VALID_STUDENT)
    for key, value in changes:
        data[key] = value
    data["enrollments"][0]["courses"].append(child) if isinstance(
        data.get("enrollments"), list) and data["enrollments"] and isinstance(
        data["enrollments"][0], dict) and isinstance(
        data["enrollments"][0].get("courses"), list) else None
    try:
        validate_student(data, where="x:1", owner_state="TX")
    except ProtocolError as exc:
        _defined(exc, one_line=False)


def test_validate_student_non_mapping() -> None:
    for value in (None, [], "x", 3, b"\x00"):
        try:
            validate_student(value, where="x:1")  # type: ignore[arg-type]
        except ProtocolError as exc:
            _defined(exc)
        else:  # pragma: no cover
            raise AssertionError(value)
