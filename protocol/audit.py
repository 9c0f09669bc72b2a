"""Exchange-log entries: canonical leaf bytes and the auditor's export line format.

Spec: DESIGN.md "Audit log"; PROTOCOL-ANCHORS.md §3 (RFC 9162 leaves, C2SP formats).
Every exchange a node sends or receives becomes one `LogEntry`. Its leaf (the bytes the
RFC 9162 tree hashes with the 0x00 prefix) is canonical msgpack of a fixed-order array
that starts with the tag `LEAF_TAG`::

    [tag, time_ms, direction, peer, type, message_id, reply_to, purpose, user_id,
     user_role, [student ids...], header_bytes, body_hash, signature, signer]

`from_leaf` is strict: it rejects any other tag, any field of the wrong type or size and
any encoding that is not the canonical one, so one leaf has exactly one meaning. The
header bytes, body hash and signature are those of the envelope, so anyone with the
sender's public key can check the sender really sent it (`protocol.envelope.
verify_logged_signature`) without seeing the body. Export lines (`entries.jsonl`) carry
the base64 leaf plus every field decoded, a redundant copy that lets `verify` name the
entry a changed byte belongs to. Checks of a whole export live in `protocol.audit_verify`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

from protocol.codec import NODE_ID_RE, Limits, as_bytes, as_int, as_list, as_node_id, as_str, unpack
from protocol.errors import MalformedMessage, ProtocolError
from protocol.messages import MESSAGE_TYPES, PURPOSES, ROLES

LEAF_TAG = "statenode/log/v1"
DIRECTIONS = ("in", "out")
MAX_STUDENT_IDS = 1000
MAX_HEADER_LEN = 1024
LEAF_LIMITS = Limits(max_bytes=64 * 1024, max_depth=2, max_array_len=MAX_STUDENT_IDS,
                     max_map_len=0, max_str_len=4096, max_bin_len=MAX_HEADER_LEN,
                     max_containers=2)
#: Export fields, in order, after `index` and `leaf`.
FIELDS = ("time_ms", "direction", "peer", "type", "message_id", "reply_to", "purpose",
          "user_id", "user_role", "student_ids", "header", "body_hash", "signature", "signer")


@dataclass(frozen=True)
class LogEntry:
    """One logged exchange (a request, reply, error, move notice, receipt, link, cosign)."""

    time_ms: int
    direction: str  # "in" (received) or "out" (sent)
    peer: str  # the other node
    type: str  # message type of the envelope
    message_id: bytes
    reply_to: bytes | None
    purpose: str
    user_id: str | None  # requesting user (ours for "out", theirs for "in"), if any
    user_role: str | None
    student_ids: tuple[str, ...]  # local student ids whose data the message disclosed
    header_bytes: bytes  # the exact signed envelope header
    body_hash: bytes  # SHA-256 of the body
    signature: bytes  # the sender's Ed25519 signature over header and body hash
    signer: str  # node id whose signature it is (the envelope's sender)

    def __post_init__(self) -> None:
        _check(self)

    def to_leaf(self) -> bytes:
        """Canonical leaf bytes (msgpack array, bin for bytes)."""
        leaf: bytes = msgpack.packb(_as_list(self), use_bin_type=True)
        return leaf

    @classmethod
    def from_leaf(cls, data: bytes) -> LogEntry:
        """Decode leaf bytes strictly; raise `MalformedMessage` naming the field."""
        fast = _fast_decode(data)
        if fast is not None:
            obj: LogEntry = object.__new__(cls)
            obj.__dict__.update(zip(_NAMES, fast[1:], strict=True))
            obj.__dict__["student_ids"] = tuple(fast[10])
            return obj
        return cls._strict_from_leaf(data)

    @classmethod
    def _strict_from_leaf(cls, data: bytes) -> LogEntry:
        items = as_list(unpack(data, limits=LEAF_LIMITS), "leaf", min_len=15, max_len=15)
        if items[0] != LEAF_TAG:
            raise MalformedMessage(f"leaf: tag {items[0]!r} is not {LEAF_TAG!r}")
        ids = as_list(items[10], "leaf.student_ids", max_len=MAX_STUDENT_IDS)
        entry = cls(
            time_ms=as_int(items[1], "leaf.time_ms"),
            direction=as_str(items[2], "leaf.direction", choices=DIRECTIONS),
            peer=as_node_id(items[3], "leaf.peer"),
            type=as_str(items[4], "leaf.type", choices=MESSAGE_TYPES),
            message_id=as_bytes(items[5], "leaf.message_id", length=16),
            reply_to=None if items[6] is None else as_bytes(items[6], "leaf.reply_to", length=16),
            purpose=as_str(items[7], "leaf.purpose", choices=PURPOSES),
            user_id=None if items[8] is None else as_str(items[8], "leaf.user_id", max_len=100),
            user_role=None if items[9] is None else as_str(items[9], "leaf.user_role",
                                                           choices=ROLES),
            student_ids=tuple(as_str(s, f"leaf.student_ids[{i}]", max_len=128)
                              for i, s in enumerate(ids)),
            header_bytes=as_bytes(items[11], "leaf.header", max_len=MAX_HEADER_LEN),
            body_hash=as_bytes(items[12], "leaf.body_hash", length=32),
            signature=as_bytes(items[13], "leaf.signature", length=64),
            signer=as_node_id(items[14], "leaf.signer"),
        )
        if entry.to_leaf() != bytes(data):
            raise MalformedMessage("leaf: not in canonical encoding")
        return entry

    def to_fields(self) -> dict[str, Any]:
        """The decoded fields as JSON values (bytes as hex or base64)."""
        return {
            "time_ms": self.time_ms, "direction": self.direction, "peer": self.peer,
            "type": self.type, "message_id": self.message_id.hex(),
            "reply_to": None if self.reply_to is None else self.reply_to.hex(),
            "purpose": self.purpose, "user_id": self.user_id, "user_role": self.user_role,
            "student_ids": list(self.student_ids),
            "header": base64.b64encode(self.header_bytes).decode(),
            "body_hash": self.body_hash.hex(),
            "signature": base64.b64encode(self.signature).decode(), "signer": self.signer,
        }

    def key(self) -> tuple[str, bytes, str]:
        """(sender, message id, type): the same exchange as logged on both sides."""
        return (self.signer, self.message_id, self.type)


_NAMES = ("time_ms", "direction", "peer", "type", "message_id", "reply_to", "purpose",
          "user_id", "user_role", "student_ids", "header_bytes", "body_hash", "signature",
          "signer")
_TYPES = frozenset(MESSAGE_TYPES)
_PURPOSES = frozenset(PURPOSES)
_ROLES = frozenset(ROLES)
_NODE = NODE_ID_RE.fullmatch


def _fast_decode(data: bytes) -> list[Any] | None:
    """The leaf's items if every check passes on the fast path, else None (the strict
    path then names the problem). Same rules as `_strict_from_leaf`."""
    if type(data) is not bytes or len(data) > LEAF_LIMITS.max_bytes:
        return None
    try:
        items = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception:  # any failure is reported by the strict path
        return None
    if not (type(items) is list and len(items) == 15 and items[0] == LEAF_TAG):
        return None
    t, d, peer, typ, mid, rep, pur, uid, role, ids, hdr, bh, sig, signer = items[1:]
    ok = (type(t) is int and 0 <= t < 2**63 and d in DIRECTIONS and type(peer) is str
          and _NODE(peer) is not None and typ in _TYPES and type(mid) is bytes
          and len(mid) == 16 and (rep is None or (type(rep) is bytes and len(rep) == 16))
          and pur in _PURPOSES and (uid is None or (type(uid) is str and 0 < len(uid) <= 100))
          and (role is None or role in _ROLES) and type(ids) is list
          and len(ids) <= MAX_STUDENT_IDS
          and all(type(x) is str and 0 < len(x) <= 128 for x in ids)
          and type(hdr) is bytes and len(hdr) <= MAX_HEADER_LEN and type(bh) is bytes
          and len(bh) == 32 and type(sig) is bytes and len(sig) == 64 and type(signer) is str
          and _NODE(signer) is not None)
    if not ok or msgpack.packb(items, use_bin_type=True) != data:
        return None
    return items


def _as_list(e: LogEntry) -> list[Any]:
    return [LEAF_TAG, e.time_ms, e.direction, e.peer, e.type, e.message_id, e.reply_to,
            e.purpose, e.user_id, e.user_role, list(e.student_ids), e.header_bytes,
            e.body_hash, e.signature, e.signer]


def _check(e: LogEntry) -> None:
    as_int(e.time_ms, "entry.time_ms")
    as_str(e.direction, "entry.direction", choices=DIRECTIONS)
    as_node_id(e.peer, "entry.peer")
    as_node_id(e.signer, "entry.signer")
    as_bytes(e.message_id, "entry.message_id", length=16)
    if e.reply_to is not None:
        as_bytes(e.reply_to, "entry.reply_to", length=16)
    as_bytes(e.body_hash, "entry.body_hash", length=32)
    as_bytes(e.signature, "entry.signature", length=64)
    as_bytes(e.header_bytes, "entry.header_bytes", max_len=MAX_HEADER_LEN)
    if len(e.student_ids) > MAX_STUDENT_IDS:
        raise MalformedMessage(f"entry.student_ids: more than {MAX_STUDENT_IDS} ids")
    # the same rules `from_leaf` applies, so nothing is logged that an export cannot read
    as_str(e.purpose, "entry.purpose", choices=PURPOSES)
    if e.user_id is not None:
        as_str(e.user_id, "entry.user_id", max_len=100)
    if e.user_role is not None:
        as_str(e.user_role, "entry.user_role", choices=ROLES)
    for i, sid in enumerate(e.student_ids):
        as_str(sid, f"entry.student_ids[{i}]", max_len=128)


def entry_line(index: int, leaf: bytes, entry: LogEntry) -> str:
    """One `entries.jsonl` line (no trailing newline)."""
    line = {"index": index, "leaf": base64.b64encode(leaf).decode(), **entry.to_fields()}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ExportLine:
    """A parsed `entries.jsonl` line: claimed index, leaf bytes, the decoded copy."""

    index: int
    leaf: bytes
    fields: Mapping[str, Any]


def parse_line(text: str, line_no: int) -> ExportLine:
    """Parse one export line; raise `MalformedMessage` naming the line."""
    where = f"entries.jsonl line {line_no}"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MalformedMessage(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MalformedMessage(f"{where}: not a JSON object")
    index = data.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise MalformedMessage(f"{where}: 'index' is missing or not a whole number")
    raw = data.get("leaf")
    if not isinstance(raw, str):
        raise MalformedMessage(f"{where}: 'leaf' is missing or not a string")
    try:
        leaf = base64.b64decode(raw.encode("ascii"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessage(f"{where}: 'leaf' is not valid base64") from exc
    extra = sorted(set(data) - {"index", "leaf", *FIELDS})
    if extra:
        raise MalformedMessage(f"{where}: unexpected field {extra[0]!r}")
    return ExportLine(index, leaf, {k: data.get(k) for k in FIELDS})


def field_differences(entry: LogEntry, fields: Mapping[str, Any]) -> list[str]:
    """Names of the decoded fields whose value differs from the leaf's."""
    want = entry.to_fields()
    return [k for k in FIELDS if fields.get(k) != want[k]]


def decode_leaf(leaf: bytes) -> LogEntry | str:
    """The entry, or the reason the leaf is not a valid entry."""
    try:
        return LogEntry.from_leaf(leaf)
    except ProtocolError as exc:
        return str(exc)


__all__ = [
    "DIRECTIONS", "FIELDS", "LEAF_TAG", "ExportLine", "LogEntry", "decode_leaf",
    "entry_line", "field_differences", "parse_line",
]
