"""The signed discover filter a holder serves, and what its key document says of it.

Spec: docs/PROTOCOL.md "Discover filter" (the filter's own bytes are
`protocol.discover_filter`'s) and "Signed discover filter" (this wrapper); DESIGN.md
"Messages" `discover`.

`GET /federation/v1/discover-filter` answers canonical msgpack

    {"doc": <canonical msgpack of the FilterHeader map>,
     "sig": Ed25519(context "statenode/v1/discover-filter", doc bytes),
     "filter": <the filter bytes (SNDF version 1)>}

where the header map is `{"node_id", "version", "issued_at_ms", "sha256", "members",
"records", "false_positive_ppm", "oprf_key_id"}`: `sha256` is SHA-256 of the filter
bytes, `members` the filter's n, `records` the student count the holder declares,
`oprf_key_id` the filter header's key id. The holder's version 2 key document carries
the same `FilterInfo` (`discover_filter: {version, sha256, members, records,
false_positive_ppm}`), so a peer refetches only when the key document names a new
version, and a filter is trusted only when both agree and its key id matches the OPRF key
pinned in the holder's directory entry.

Stuffing: a holder that filled its filter with every value of a small-domain key would
receive every find. `stuffing_problem` bounds the filter by the record count it declares
(at most `MAX_KEYS_PER_RECORD` members per record; a filter sized for its members at its
stated rate; a fill rate no higher than those members can set, plus a margin).
Pure: bytes in, objects out.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from crypto.errors import CryptoError
from crypto.keys import SigningKey
from crypto.sign import sign, verify
from protocol.codec import Limits, Reader, pack, unpack
from protocol.discover_filter import MAX_BITS, DiscoverFilter, key_id, parameters
from protocol.errors import ErrorCode, MalformedMessage, ProtocolError

FILTER_CONTEXT = b"statenode/v1/discover-filter"
#: the most discover keys one student gives (node.matching.discover_keys gives at most 11;
#: tests/node/test_discover_keys.py checks it stays within this bound)
MAX_KEYS_PER_RECORD = 12
#: the fill rate a filter may exceed its members' expected rate by before it is suspicious
FILL_MARGIN = 0.05
MAX_RECORDS = 50_000_000
#: the largest filter a requester takes (2,000,000 students of 8 keys at 0.1%: 29 MB)
MAX_FILTER_BYTES = min(32 + MAX_BITS // 8, 32 * 1024 * 1024)
MAX_WRAPPER_BYTES = MAX_FILTER_BYTES + 4096
#: msgpack limits of the wrapper: a flat map of three byte strings
WRAPPER_LIMITS = Limits(max_bytes=MAX_WRAPPER_BYTES, max_depth=2, max_array_len=16,
                        max_map_len=16, max_str_len=1024, max_bin_len=MAX_FILTER_BYTES,
                        max_containers=16)


@dataclass(frozen=True)
class FilterInfo:
    """A filter as the holder's key document names it."""

    version: int
    sha256: bytes
    members: int
    records: int
    false_positive_ppm: int  # the stated false-positive rate per element, parts per million

    @property
    def false_positive(self) -> float:
        return self.false_positive_ppm / 1_000_000

    def to_doc(self) -> dict[str, Any]:
        return {"version": self.version, "sha256": self.sha256, "members": self.members,
                "records": self.records, "false_positive_ppm": self.false_positive_ppm}

    @classmethod
    def read(cls, r: Reader) -> FilterInfo:
        info = cls(r.integer("version", min_value=1), r.blob("sha256", length=32),
                   r.integer("members", max_value=MAX_RECORDS * MAX_KEYS_PER_RECORD),
                   r.integer("records", max_value=MAX_RECORDS),
                   r.integer("false_positive_ppm", min_value=1, max_value=999_999))
        r.done()
        return info


@dataclass(frozen=True)
class SignedFilter:
    node_id: str
    issued_at_ms: int
    info: FilterInfo
    oprf_key_id: bytes
    filter: DiscoverFilter
    raw: bytes


def _header(node_id: str, issued_at_ms: int, info: FilterInfo, oprf_key_id: bytes
            ) -> dict[str, Any]:
    return {"node_id": node_id, "issued_at_ms": issued_at_ms, "oprf_key_id": oprf_key_id,
            **info.to_doc()}


def sign_filter(filter_bytes: bytes, *, node_id: str, version: int, records: int,
                false_positive_ppm: int, issued_at_ms: int, signing_key: SigningKey
                ) -> tuple[bytes, FilterInfo]:
    """The signed wrapper of `filter_bytes` and the FilterInfo for the key document."""
    f = DiscoverFilter.from_bytes(filter_bytes)
    info = FilterInfo(version, hashlib.sha256(filter_bytes).digest(), f.n, records,
                      false_positive_ppm)
    doc = pack(_header(node_id, issued_at_ms, info, f.oprf_key_id))
    sig = sign(signing_key, context=FILTER_CONTEXT, data=doc)
    return pack({"doc": doc, "sig": sig, "filter": filter_bytes}), info


def resign(signed: bytes, signing_key: SigningKey) -> bytes:
    """The same wrapper signed with `signing_key` (after a signing-key rotation)."""
    outer = Reader(unpack(signed, limits=WRAPPER_LIMITS), "discover filter")
    doc, raw = outer.blob("doc", max_len=1024), outer.blob("filter", max_len=MAX_FILTER_BYTES)
    outer.get("sig")
    outer.done()
    return pack({"doc": doc, "sig": sign(signing_key, context=FILTER_CONTEXT, data=doc),
                 "filter": raw})


def open_filter(data: bytes, *, signing_keys: tuple[bytes, ...], node_id: str,
                expected: FilterInfo, oprf_public_key: bytes) -> SignedFilter:
    """Verify a served filter: signature (one of the holder's signing keys), node id,
    that it is the filter `expected` (from the verified key document) names, and that it
    was made with the pinned OPRF key. ProtocolError names what is wrong."""
    outer = Reader(unpack(data, limits=WRAPPER_LIMITS), "discover filter")
    doc = outer.blob("doc", max_len=1024)
    sig = outer.blob("sig", length=64)
    raw = outer.blob("filter", max_len=MAX_FILTER_BYTES)
    outer.done()
    for public in signing_keys:
        try:
            verify(public, context=FILTER_CONTEXT, data=doc, signature=sig)
            break
        except CryptoError:
            continue
    else:
        raise ProtocolError("discover filter signature does not verify with the holder's key",
                            code=ErrorCode.BAD_SIGNATURE)
    r = Reader(unpack(doc), "discover filter.doc")
    name = r.node_id("node_id")
    issued = r.integer("issued_at_ms")
    kid = r.blob("oprf_key_id", length=4)
    info = FilterInfo(r.integer("version", min_value=1), r.blob("sha256", length=32),
                      r.integer("members"), r.integer("records", max_value=MAX_RECORDS),
                      r.integer("false_positive_ppm", min_value=1, max_value=999_999))
    r.done()
    if name != node_id:
        raise ProtocolError(f"discover filter is {name}'s, expected {node_id}'s",
                            code=ErrorCode.HEADER_MISMATCH)
    if info != expected:
        raise ProtocolError(f"{node_id}'s discover filter is not the one its key document "
                            f"names (version {info.version}, want {expected.version})",
                            code=ErrorCode.HEADER_MISMATCH)
    if hashlib.sha256(raw).digest() != info.sha256:
        raise MalformedMessage("discover filter: its bytes do not match their SHA-256")
    f = DiscoverFilter.from_bytes(raw)
    if f.n != info.members or f.oprf_key_id != kid:
        raise MalformedMessage("discover filter: the header differs from the signed fields")
    if kid != key_id(oprf_public_key):
        raise ProtocolError(f"{node_id}'s discover filter was made with another OPRF key "
                            "than the one pinned in the directory", code=ErrorCode.UNKNOWN_KEY)
    return SignedFilter(name, issued, info, kid, f, bytes(data))


def stuffing_problem(f: DiscoverFilter, info: FilterInfo) -> str | None:
    """Why a filter cannot be the honest filter of the records its holder declares
    (None when it can): too many members, too few bits for its members at the stated
    rate, or more bits set than its members set (with a margin)."""
    if info.members > info.records * MAX_KEYS_PER_RECORD:
        return (f"{info.members} members for {info.records} declared records (at most "
                f"{MAX_KEYS_PER_RECORD} a record)")
    m, _k = parameters(max(1, info.members), info.false_positive)
    if f.m < m:
        return f"{f.m} bits: too few for {info.members} members at the stated rate"
    expected = 1.0 - math.exp(-f.k * max(1, info.members) / f.m)
    fill = f.fill_rate()
    if fill > expected + FILL_MARGIN:
        return (f"{fill:.1%} of its bits are set; {info.members} members set about "
                f"{expected:.1%}")
    return None
