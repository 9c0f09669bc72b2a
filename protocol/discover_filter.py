"""The discover filter: a holder's published Bloom filter of the OPRF values of its
records' discover keys, in a specified byte format (docs/PROTOCOL.md "Discover filter").

A requester that has unblinded the holder's OPRF evaluations of its query's keys looks
each output up here; a hit means the holder may hold the child and gets the full `find`.
The members are RFC 9497 outputs (64 bytes of SHA-512, uniformly random to anyone without
the holder's key), so the filter needs no hash function of its own: the bit positions are
taken from the output itself by enhanced double hashing (Dillinger–Manolios):

    h1 = uint64_le(output[0:8]); h2 = uint64_le(output[8:16])
    for i in 0 .. k-1:  position_i = (h1 + i*h2 + (i**3 - i)/6) mod m

Byte format (all integers little-endian), version 1:

    offset  size  field
    0       4     magic "SNDF"
    4       1     version = 1
    5       1     k, the number of positions per member (1..32)
    6       2     reserved, zero
    8       8     m, the number of bits (8 .. 2**31, a multiple of 8)
    16      8     n, the number of members the holder put in
    24      4     the OPRF key's id: the first 4 bytes of SHA-256(OPRF public key)
    28      4     reserved, zero
    32      m/8   the bits; bit j is (byte[32 + j//8] >> (j % 8)) & 1

Parameters for a target false-positive rate p: m = ceil(-n ln p / (ln 2)^2) rounded up to
a multiple of 8, k = round(m/n ln 2). At p = 0.1% that is 14.4 bits (1.8 bytes) per
member and k = 10. `fill_rate` lets a requester bound how full a filter is for the
record count its holder declares (a stuffed filter answers yes to everything).
Pure: bytes in, objects out (no I/O).
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from protocol.errors import MalformedMessage

MAGIC = b"SNDF"
VERSION = 1
HEADER = struct.Struct("<4sBBHQQ4sI")
HEADER_LEN = HEADER.size  # 32
MAX_BITS = 2**31  # 256 MiB: far above any state (100,000 students ~ 1 MB)
MEMBER_LEN = 64
DEFAULT_FALSE_POSITIVE = 0.001


def key_id(oprf_public_key: bytes) -> bytes:
    """The 4-byte id of an OPRF public key as the filter header carries it."""
    return hashlib.sha256(oprf_public_key).digest()[:4]


def parameters(members: int, false_positive: float = DEFAULT_FALSE_POSITIVE) -> tuple[int, int]:
    """(m bits, k) for `members` members at the target false-positive rate."""
    if not 0 < false_positive < 1:
        raise ValueError("false_positive must be between 0 and 1")
    n = max(1, members)
    m = math.ceil(-n * math.log(false_positive) / math.log(2) ** 2)
    m = max(64, -(-m // 8) * 8)
    if m > MAX_BITS:
        raise ValueError(f"a filter of {members} members is larger than {MAX_BITS} bits")
    k = max(1, min(32, round(m / n * math.log(2))))
    return m, k


def _positions(member: bytes, m: int, k: int) -> Iterable[int]:
    h1 = int.from_bytes(member[0:8], "little")
    h2 = int.from_bytes(member[8:16], "little")
    for i in range(k):
        yield (h1 + i * h2 + (i * i * i - i) // 6) % m


@dataclass
class DiscoverFilter:
    """A Bloom filter over 64-byte OPRF outputs; `bits` holds m/8 bytes."""

    m: int
    k: int
    n: int
    oprf_key_id: bytes
    bits: bytearray

    @classmethod
    def build(cls, members: Iterable[bytes], *, count: int, oprf_public_key: bytes,
              false_positive: float = DEFAULT_FALSE_POSITIVE) -> DiscoverFilter:
        """A filter sized for `count` members, holding `members` (the holder's own
        OPRF outputs of its records' discover keys)."""
        m, k = parameters(count, false_positive)
        bits = bytearray(m // 8)
        steps = [(i, (i * i * i - i) // 6) for i in range(k)]  # `_positions`, inlined
        n = 0
        for member in members:
            if len(member) != MEMBER_LEN:
                raise ValueError("a filter member is a 64-byte OPRF output")
            h1 = int.from_bytes(member[0:8], "little")
            h2 = int.from_bytes(member[8:16], "little")
            for i, cube in steps:
                p = (h1 + i * h2 + cube) % m
                bits[p >> 3] |= 1 << (p & 7)
            n += 1
        return cls(m, k, n, key_id(oprf_public_key), bits)

    def add(self, member: bytes) -> None:
        if len(member) != MEMBER_LEN:
            raise ValueError("a filter member is a 64-byte OPRF output")
        bits = self.bits
        for p in _positions(member, self.m, self.k):
            bits[p >> 3] |= 1 << (p & 7)
        self.n += 1

    def __contains__(self, member: object) -> bool:
        if not isinstance(member, bytes) or len(member) != MEMBER_LEN:
            return False
        bits = self.bits
        return all(bits[p >> 3] >> (p & 7) & 1 for p in _positions(member, self.m, self.k))

    def fill_rate(self) -> float:
        """The share of bits set (about 1 - e^(-kn/m); 0.5 at the optimum)."""
        return sum(bin(b).count("1") for b in self.bits) / self.m

    def expected_false_positive(self) -> float:
        """The false-positive rate the set bits give (fill rate to the power k)."""
        return float(self.fill_rate() ** self.k)

    def to_bytes(self) -> bytes:
        return HEADER.pack(MAGIC, VERSION, self.k, 0, self.m, self.n, self.oprf_key_id,
                           0) + bytes(self.bits)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bits: int = MAX_BITS) -> DiscoverFilter:
        """Decode strictly; MalformedMessage names what is wrong."""
        if len(data) < HEADER_LEN:
            raise MalformedMessage("discover filter: shorter than its 32-byte header")
        magic, version, k, reserved, m, n, kid, reserved2 = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise MalformedMessage("discover filter: wrong magic (not SNDF)")
        if version != VERSION:
            raise MalformedMessage(f"discover filter: version {version} is not supported")
        if reserved or reserved2:
            raise MalformedMessage("discover filter: reserved header fields are not zero")
        if not 1 <= k <= 32:
            raise MalformedMessage(f"discover filter: k={k} is outside 1..32")
        if m < 8 or m % 8 or m > max_bits:
            raise MalformedMessage(f"discover filter: m={m} bits is not a multiple of 8 "
                                   f"between 8 and {max_bits}")
        if len(data) != HEADER_LEN + m // 8:
            raise MalformedMessage(f"discover filter: {len(data) - HEADER_LEN} bytes of bits "
                                   f"for m={m} (want {m // 8})")
        return cls(m, k, n, kid, bytearray(data[HEADER_LEN:]))
