"""protocol.discover_filter: the specified byte format, the false-positive rate, strict
decoding."""

from __future__ import annotations

import hashlib
import os
import struct

import pytest

from protocol.discover_filter import (
    HEADER_LEN,
    DiscoverFilter,
    key_id,
    parameters,
)
from protocol.errors import MalformedMessage

PUB = bytes(range(32))


def members(n: int, salt: bytes = b"") -> list[bytes]:
    return [hashlib.sha512(salt + i.to_bytes(8, "little")).digest() for i in range(n)]


def test_parameters_for_one_in_a_thousand() -> None:
    m, k = parameters(100_000)
    assert k == 10 and 14.3 < m / 100_000 < 14.5 and m % 8 == 0


def test_members_are_found_and_the_false_positive_rate_holds() -> None:
    inside = members(20_000)
    f = DiscoverFilter.build(inside, count=len(inside), oprf_public_key=PUB)
    assert all(x in f for x in inside)
    outside = members(200_000, salt=b"other")
    rate = sum(x in f for x in outside) / len(outside)
    assert rate < 0.0015, rate  # target 0.1%, with room for sampling noise
    assert 0.45 < f.fill_rate() < 0.55


def test_the_byte_format_is_the_specified_one() -> None:
    f = DiscoverFilter.build(members(3), count=3, oprf_public_key=PUB)
    data = f.to_bytes()
    magic, version, k, res, m, n, kid, res2 = struct.unpack_from("<4sBBHQQ4sI", data)
    assert (magic, version, res, res2) == (b"SNDF", 1, 0, 0)
    assert (k, m, n) == (f.k, f.m, 3) and kid == key_id(PUB) == hashlib.sha256(PUB).digest()[:4]
    assert len(data) == HEADER_LEN + m // 8
    # an independent reading of the positions: enhanced double hashing over the output
    member = members(3)[0]
    h1, h2 = (int.from_bytes(member[a:a + 8], "little") for a in (0, 8))
    for i in range(k):
        p = (h1 + i * h2 + (i ** 3 - i) // 6) % m
        assert data[HEADER_LEN + p // 8] >> (p % 8) & 1
    again = DiscoverFilter.from_bytes(data)
    assert again.to_bytes() == data and member in again


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: b"XXXX" + d[4:], "wrong magic"),
    (lambda d: d[:4] + b"\x02" + d[5:], "version 2"),
    (lambda d: d[:5] + b"\x00" + d[6:], "k=0"),
    (lambda d: d[:6] + b"\x01\x00" + d[8:], "reserved"),
    (lambda d: d[:-1], "bytes of bits"),
    (lambda d: d[:8] + struct.pack("<Q", 2**40) + d[16:], "not a multiple of 8 between"),
    (lambda d: d[:10], "shorter than"),
])
def test_decoding_is_strict(mutate: object, message: str) -> None:
    data = DiscoverFilter.build(members(10), count=10, oprf_public_key=PUB).to_bytes()
    with pytest.raises(MalformedMessage, match=message):
        DiscoverFilter.from_bytes(mutate(data))  # type: ignore[operator]


def test_a_stuffed_filter_shows_in_its_fill_rate() -> None:
    honest = DiscoverFilter.build(members(1000), count=1000, oprf_public_key=PUB)
    stuffed = DiscoverFilter.build(members(20_000), count=1000, oprf_public_key=PUB)
    assert honest.fill_rate() < 0.55 < 0.99 < stuffed.fill_rate()
    assert os.urandom(64) in stuffed  # answers yes to nearly everything
