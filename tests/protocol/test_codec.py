"""Canonical packing and hostile-input unpacking (DEPENDENCIES.md §2)."""

from __future__ import annotations

import struct
from enum import Enum

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.codec import (
    DEFAULT_LIMITS,
    ENVELOPE_LIMITS,
    Limits,
    Reader,
    as_node_id,
    pack,
    unpack,
)
from protocol.errors import MalformedMessage, MessageTooLarge, ProtocolError


class Color(Enum):
    RED = "red"


def test_pack_is_canonical_and_round_trips() -> None:
    a = pack({"b": 1, "a": [b"\x00", "é", None, True, (1, 2)], "c": {"z": 1, "y": 2.5}})
    b = pack({"c": {"y": 2.5, "z": 1}, "a": [b"\x00", "é", None, True, [1, 2]], "b": 1})
    assert a == b
    assert list(msgpack.unpackb(a)) == ["a", "b", "c"]
    assert unpack(a) == {"a": [b"\x00", "é", None, True, [1, 2]], "b": 1,
                         "c": {"y": 2.5, "z": 1}}
    assert unpack(pack(Color.RED)) == "red"
    assert pack(0) == b"\x00" and pack(2**16) == b"\xce\x00\x01\x00\x00"


@pytest.mark.parametrize(
    ("value", "where"),
    [({1: "x"}, "map key"), (float("nan"), "nan"), ([float("inf")], "inf"), ({1, 2}, "set"),
     (2**64, "64 bits"), ({"a": object()}, "object")],
)
def test_pack_rejects(value: object, where: str) -> None:
    with pytest.raises(MalformedMessage, match=where):
        pack(value)


def test_pack_rejects_deep_nesting() -> None:
    value: object = 1
    for _ in range(100):
        value = [value]
    with pytest.raises(MalformedMessage, match="deeper"):
        pack(value)


def test_total_byte_cap_before_decoding() -> None:
    limits = Limits(max_bytes=10, max_depth=4, max_array_len=5, max_map_len=5, max_str_len=5,
                    max_bin_len=5, max_containers=5)
    with pytest.raises(MessageTooLarge, match="11 bytes"):
        unpack(b"\xc1" * 11, limits=limits)


@pytest.mark.parametrize(
    "data",
    [
        b"\xdd\xff\xff\xff\xff",  # array32 claiming 2^32-1 items
        b"\xdf\xff\xff\xff\xff",  # map32
        b"\xdb\xff\xff\xff\xff",  # str32
        b"\xc6\xff\xff\xff\xff",  # bin32
    ],
)
def test_huge_claimed_lengths(data: bytes) -> None:
    with pytest.raises((MessageTooLarge, MalformedMessage)):
        unpack(data)


def test_deep_nesting_2000_levels() -> None:
    with pytest.raises(MalformedMessage, match="nested"):
        unpack(b"\x91" * 2000 + b"\x00")
    with pytest.raises(MalformedMessage, match="deeper than 16"):
        unpack(b"\x91" * 17 + b"\x00")
    assert unpack(b"\x91" * 16 + b"\x00") == eval("[" * 16 + "0" + "]" * 16)


def test_megabyte_of_empty_maps() -> None:
    n = 1024 * 1024
    flat = b"\xdd" + struct.pack(">I", n) + b"\x80" * n
    with pytest.raises(MessageTooLarge):
        unpack(flat)
    # 100 arrays of 10_000 empty maps each pass every per-container limit
    chunk = b"\xdc" + struct.pack(">H", 10_000) + b"\x80" * 10_000
    nested = b"\xdc" + struct.pack(">H", 100) + chunk * 100
    with pytest.raises(MessageTooLarge, match="maps and arrays"):
        unpack(nested)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x01\x02", "trailing"),
        (b"\x92\x01", "invalid msgpack"),
        (b"\xc1", "invalid msgpack"),
        (b"\xa2\xff\xfe", "UTF-8"),
        (b"\xd4\x01\x00", "extension"),  # fixext1
        (b"\xc7\x00\x05", "extension"),  # ext8 of length 0
        (b"\xd6\xff\x00\x00\x00\x00", "extension"),  # timestamp
        (b"\x81\x01\x02", "invalid msgpack|not a string"),  # int map key
        (b"\x81\xc4\x01a\x02", "not a string"),  # bytes map key
        (b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", "NaN"),
        (b"", "empty"),
    ],
)
def test_malformed_inputs(data: bytes, match: str) -> None:
    with pytest.raises(MalformedMessage, match=match):
        unpack(data)


def test_not_bytes() -> None:
    with pytest.raises(MalformedMessage, match="expected bytes"):
        unpack("text")  # type: ignore[arg-type]


def test_envelope_limits_are_tighter() -> None:
    assert ENVELOPE_LIMITS.max_map_len < DEFAULT_LIMITS.max_map_len
    assert ENVELOPE_LIMITS.max_depth < DEFAULT_LIMITS.max_depth
    with pytest.raises(ProtocolError):
        unpack(pack({"k": "x" * 65}), limits=ENVELOPE_LIMITS)
    with pytest.raises(ProtocolError):
        unpack(pack([[[1]]]), limits=ENVELOPE_LIMITS)


def test_reader_names_fields() -> None:
    r = Reader({"a": 1, "b": "x", "c": True, "z": 0}, "msg")
    with pytest.raises(MalformedMessage, match=r"msg\.a: expected a string, got int"):
        r.text("a")
    with pytest.raises(MalformedMessage, match=r"msg\.c: expected an integer"):
        r.integer("c")
    with pytest.raises(MalformedMessage, match=r"msg\.missing: missing"):
        r.text("missing")
    with pytest.raises(MalformedMessage, match=r"msg\.b: 'x' is not one of p, q"):
        r.text("b", choices=("p", "q"))
    with pytest.raises(MalformedMessage, match="unexpected field 'z'"):
        r.done()
    with pytest.raises(MalformedMessage, match="expected a map"):
        Reader([1], "msg")
    with pytest.raises(MalformedMessage, match="node"):
        as_node_id("tx", "node")


scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
                    st.text(max_size=20), st.binary(max_size=20),
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda c: st.one_of(
    st.lists(c, max_size=5), st.dictionaries(st.text(max_size=5), c, max_size=5)), max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(values)
def test_round_trip_property(value: object) -> None:
    data = pack(value)
    assert pack(unpack(data)) == data


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_protocol_errors(data: bytes) -> None:
    try:
        unpack(data, limits=ENVELOPE_LIMITS)
        unpack(data)
    except ProtocolError:
        pass
