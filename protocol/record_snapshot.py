"""The record snapshot: a read-only copy of a student record, signed by its owner node.

Spec: DESIGN.md "Student records" (others see read-only snapshots with provenance:
owner, version, signature) and "Messages" (`fetch` replies carry the full record as a
snapshot signed by the holder). A `RecordSnapshot` is signed by the owning node with
context `statenode/v1/snapshot` over canonical msgpack of
`[owner, record_id, version, issued_at_ms, record]`; `verify` raises `InvalidRecord`
(code BAD_SIGNATURE) on a bad signature and `read` decodes strictly from an untrusted
map, raising `MalformedMessage` that names the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crypto.errors import SignatureInvalid
from crypto.keys import SigningKey
from crypto.sign import sign, verify
from protocol.codec import Reader, pack
from protocol.errors import ErrorCode, InvalidRecord

SNAPSHOT_CONTEXT = b"statenode/v1/snapshot"


@dataclass(frozen=True)
class RecordSnapshot:
    """A read-only copy of a record with provenance, signed by its owner node."""

    owner: str
    record_id: str
    version: int
    issued_at_ms: int
    record: dict[str, Any] = field(hash=False)
    signature: bytes = b""

    def signed_data(self) -> bytes:
        return pack([self.owner, self.record_id, self.version, self.issued_at_ms, self.record])

    @classmethod
    def create(cls, key: SigningKey, *, owner: str, record_id: str, version: int,
               issued_at_ms: int, record: dict[str, Any]) -> RecordSnapshot:
        unsigned = cls(owner, record_id, version, issued_at_ms, record)
        sig = sign(key, context=SNAPSHOT_CONTEXT, data=unsigned.signed_data())
        return cls(owner, record_id, version, issued_at_ms, record, sig)

    def verify(self, owner_public: bytes) -> None:
        """Raise InvalidRecord (code BAD_SIGNATURE) unless signed by `owner_public`."""
        try:
            verify(owner_public, context=SNAPSHOT_CONTEXT, data=self.signed_data(),
                   signature=self.signature)
        except SignatureInvalid as exc:
            raise InvalidRecord(
                f"snapshot {self.owner}/{self.record_id} v{self.version} is not signed by "
                f"{self.owner}'s key", code=ErrorCode.BAD_SIGNATURE) from exc

    def to_body(self) -> dict[str, Any]:
        return {"owner": self.owner, "record_id": self.record_id, "version": self.version,
                "issued_at_ms": self.issued_at_ms, "record": self.record,
                "signature": self.signature}

    @classmethod
    def read(cls, r: Reader) -> RecordSnapshot:
        out = cls(r.node_id("owner"), r.text("record_id", max_len=128),
                  r.integer("version", min_value=1), r.integer("issued_at_ms"),
                  r.sub("record").data, r.blob("signature", length=64))
        r.done()
        return out


__all__ = ["SNAPSHOT_CONTEXT", "RecordSnapshot"]
