"""The `cosign` exchange's bodies: a log checkpoint to witness and the cosigned reply.

Spec: DESIGN.md "Messages" (`cosign`: the sender's latest log checkpoint plus a
consistency proof; the reply is the receiver's cosignature) and "Audit log" (nodes
cosign each other's checkpoints after checking a consistency proof). Like every
message, each is a frozen dataclass with a `TYPE`, `to_body` and a strict `read` that
raises `MalformedMessage` naming the offending field; `protocol.messages` registers
them with the other message types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from protocol.codec import Reader, as_bytes


@dataclass(frozen=True)
class Cosign:
    """The sender's latest checkpoint note and a consistency proof from `old_size`."""

    TYPE: ClassVar[str] = "cosign"
    checkpoint: str
    old_size: int
    proof: tuple[bytes, ...] = ()

    def to_body(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "old_size": self.old_size,
                "proof": list(self.proof)}

    @classmethod
    def read(cls, r: Reader) -> Cosign:
        items = r.array("proof", max_len=64)
        return cls(r.text("checkpoint", max_len=8192), r.integer("old_size"),
                   tuple(as_bytes(h, f"{r.where}.proof[{i}]", length=32)
                         for i, h in enumerate(items)))


@dataclass(frozen=True)
class CosignReply:
    """The checkpoint note with the witness's cosignature line added."""

    TYPE: ClassVar[str] = "cosign_reply"
    note: str

    def to_body(self) -> dict[str, Any]:
        return {"note": self.note}

    @classmethod
    def read(cls, r: Reader) -> CosignReply:
        return cls(r.text("note", max_len=16384))


__all__ = ["Cosign", "CosignReply"]
