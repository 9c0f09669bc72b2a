"""The signed-then-sealed envelope every federation message travels in.

Spec: DESIGN.md "Envelope (sign, then encrypt)", PROTOCOL-ANCHORS.md §4.3.

- header    = canonical msgpack array [version, type, sender, recipient,
              recipient_key_id, message_id (16 B), reply_to (16 B or nil),
              issued_at_ms, expires_at_ms, purpose]
- body      = canonical msgpack of the message (`messages.to_body`)
- signature = plain Ed25519 (`crypto.sign.sign_raw`) over the exact bytes
              b"statenode/v1/sig" || header || SHA-256(body). The header is a
              msgpack array (first byte 0x9a), so this can never collide with a
              `crypto.sign.sign` message (context || 0x00 || data).
- sealed    = HPKE seal of msgpack [header, body, signature] to the recipient's
              X25519 key, info = "statenode/v1|" type "|" sender "|" recipient
- wire      = canonical msgpack map {v, type, from, to, sealed}

`open_envelope` raises only `ProtocolError` subclasses; each rejection carries
its own `ErrorCode`, and a message id enters the replay cache only after every
other check has passed. Pure: no I/O, time is passed in.
"""

from __future__ import annotations

import hashlib
import heapq
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from crypto.errors import CryptoError
from crypto.keys import EncryptionKey, SigningKey
from crypto.seal import open_sealed, seal
from crypto.sign import sign_raw, verify_raw
from protocol.codec import (
    ENVELOPE_LIMITS,
    Reader,
    as_bytes,
    as_int,
    as_list,
    as_node_id,
    as_str,
    pack,
    unpack,
)
from protocol.errors import EnvelopeRejected, ErrorCode, MalformedMessage, ProtocolError
from protocol.messages import (
    MESSAGE_TYPES,
    PURPOSES,
    REPLY_TYPES,
    Message,
    from_body,
    purpose_of,
    to_body,
)

VERSION = 1
SIG_CONTEXT = b"statenode/v1/sig"
INFO_PREFIX = b"statenode/v1|"
MESSAGE_ID_LEN = 16
MAX_TTL_MS = 15 * 60 * 1000  # longest lifetime an envelope may claim
DEFAULT_MAX_SKEW_MS = 2 * 60 * 1000

#: What `sender_key_lookup` returns: the sender's signing key, or several during rotation.
SenderKeys = bytes | tuple[bytes, ...]


@dataclass(frozen=True)
class Header:
    version: int
    type: str
    sender: str
    recipient: str
    recipient_key_id: str
    message_id: bytes
    reply_to: bytes | None
    issued_at_ms: int
    expires_at_ms: int
    purpose: str

    def encode(self) -> bytes:
        return pack([self.version, self.type, self.sender, self.recipient,
                     self.recipient_key_id, self.message_id, self.reply_to,
                     self.issued_at_ms, self.expires_at_ms, self.purpose])

    @classmethod
    def decode(cls, data: bytes) -> Header:
        items = as_list(unpack(data, limits=ENVELOPE_LIMITS), "header", max_len=10, min_len=10)
        reply_to = items[6]
        header = cls(
            version=as_int(items[0], "header.version"),
            type=as_str(items[1], "header.type", choices=MESSAGE_TYPES),
            sender=as_node_id(items[2], "header.sender"),
            recipient=as_node_id(items[3], "header.recipient"),
            recipient_key_id=as_str(items[4], "header.recipient_key_id", max_len=64),
            message_id=as_bytes(items[5], "header.message_id", length=MESSAGE_ID_LEN),
            reply_to=None if reply_to is None else as_bytes(
                reply_to, "header.reply_to", length=MESSAGE_ID_LEN),
            issued_at_ms=as_int(items[7], "header.issued_at_ms"),
            expires_at_ms=as_int(items[8], "header.expires_at_ms"),
            purpose=as_str(items[9], "header.purpose", choices=PURPOSES),
        )
        header.check_shape()
        return header

    def check_shape(self) -> None:
        """Structural rules that hold for every header (MalformedMessage)."""
        if (self.reply_to is None) == (self.type in REPLY_TYPES):
            need = "needs" if self.type in REPLY_TYPES else "must not have"
            raise MalformedMessage(f"header.reply_to: a {self.type} message {need} a reply_to")
        lifetime = self.expires_at_ms - self.issued_at_ms
        if not 0 < lifetime <= MAX_TTL_MS:
            raise MalformedMessage(
                f"header.expires_at_ms: lifetime {lifetime} ms is outside 1..{MAX_TTL_MS} ms")


def seal_info(msg_type: str, sender: str, recipient: str) -> bytes:
    return INFO_PREFIX + f"{msg_type}|{sender}|{recipient}".encode()


def signed_message(header_bytes: bytes, body_hash: bytes) -> bytes:
    """The exact bytes the Ed25519 signature covers."""
    return SIG_CONTEXT + header_bytes + body_hash


@dataclass(frozen=True)
class SealedEnvelope:
    wire: bytes
    header: Header
    header_bytes: bytes
    body_hash: bytes
    signature: bytes


@dataclass(frozen=True)
class WireFields:
    v: int
    type: str
    sender: str
    recipient: str
    sealed: bytes


@dataclass(frozen=True)
class OpenedEnvelope:
    header: Header
    message: Message
    header_bytes: bytes
    body_hash: bytes
    signature: bytes
    body_size: int


def seal_envelope(
    *,
    signing_key: SigningKey,
    sender: str,
    recipient: str,
    recipient_key: bytes,
    recipient_key_id: str,
    message: Message,
    now_ms: int,
    ttl_ms: int,
    purpose: str,
    reply_to: bytes | None = None,
    message_id: bytes | None = None,
) -> SealedEnvelope:
    """Sign then seal `message` for `recipient`; raise MalformedMessage on bad arguments."""
    header = Header(VERSION, message.TYPE, as_node_id(sender, "sender"),
                    as_node_id(recipient, "recipient"), recipient_key_id,
                    os.urandom(MESSAGE_ID_LEN) if message_id is None else message_id,
                    reply_to, now_ms, now_ms + ttl_ms, as_str(purpose, "purpose", choices=PURPOSES))
    as_bytes(header.message_id, "message_id", length=MESSAGE_ID_LEN)
    header.check_shape()
    stated = purpose_of(message)
    if stated is not None and stated != purpose:
        raise MalformedMessage(f"purpose: header says {purpose!r} but the body says {stated!r}")
    header_bytes = header.encode()
    body = pack(to_body(message))
    body_hash = hashlib.sha256(body).digest()
    signature = sign_raw(signing_key, signed_message(header_bytes, body_hash))
    try:
        sealed = seal(recipient_key, pack([header_bytes, body, signature]),
                      info=seal_info(header.type, sender, recipient))
    except CryptoError as exc:
        raise MalformedMessage(f"recipient_key: {exc}") from exc
    wire = pack({"v": VERSION, "type": header.type, "from": sender, "to": recipient,
                 "sealed": sealed})
    return SealedEnvelope(wire, header, header_bytes, body_hash, signature)


def peek(wire: bytes) -> WireFields:
    """Read the clear fields (to drop mail from unknown senders before any crypto)."""
    r = Reader(unpack(wire, limits=ENVELOPE_LIMITS), "envelope")
    fields = WireFields(
        v=r.integer("v"),
        type=r.text("type", max_len=32),
        sender=r.node_id("from"),
        recipient=r.node_id("to"),
        sealed=r.blob("sealed", max_len=ENVELOPE_LIMITS.max_bin_len),
    )
    r.done()
    return fields


def _reject(code: ErrorCode, message: str) -> EnvelopeRejected:
    return EnvelopeRejected(message, code=code)


def _as_keys(found: SenderKeys) -> tuple[bytes, ...]:
    return (found,) if isinstance(found, bytes) else tuple(found)


def open_envelope(
    wire: bytes,
    *,
    my_id: str,
    my_keys: Mapping[str, EncryptionKey],
    sender_key_lookup: Callable[[str], SenderKeys],
    now_ms: int,
    seen: ReplayCache,
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
) -> OpenedEnvelope:
    """Open, authenticate and validate one envelope; raise only ProtocolError subclasses.

    Order: shape, version, recipient, sender known and active, decryption (each of
    `my_keys` in turn), header shape, header = clear fields, recipient key id,
    signature, expiry, not-yet-valid, body, replay (recorded only if all passed).
    """
    clear = peek(wire)
    if clear.v != VERSION:
        raise _reject(ErrorCode.UNSUPPORTED_VERSION, f"envelope version {clear.v} is not {VERSION}")
    if clear.recipient != my_id:
        raise _reject(ErrorCode.WRONG_RECIPIENT,
                      f"envelope is addressed to {clear.recipient}, not to {my_id}")
    if clear.type not in MESSAGE_TYPES:
        raise MalformedMessage(f"envelope.type: unknown message type {clear.type!r}")
    try:
        sender_keys = _as_keys(sender_key_lookup(clear.sender))
    except ProtocolError:
        raise
    except Exception as exc:  # a lookup bug must not escape as a non-protocol error
        raise _reject(ErrorCode.UNKNOWN_SENDER,
                      f"cannot find the signing key of {clear.sender}") from exc
    info = seal_info(clear.type, clear.sender, clear.recipient)
    plaintext: bytes | None = None
    opened_with = ""
    for kid, key in my_keys.items():
        try:
            plaintext = open_sealed(key, clear.sealed, info=info)
        except CryptoError:
            continue
        opened_with = kid
        break
    if plaintext is None:
        raise _reject(ErrorCode.DECRYPTION_FAILED,
                      f"cannot open the envelope from {clear.sender} with any of our "
                      f"{len(my_keys)} encryption keys (tampered, or sealed to a retired key)")
    parts = as_list(unpack(plaintext, limits=ENVELOPE_LIMITS), "sealed", max_len=3, min_len=3)
    header_bytes = as_bytes(parts[0], "sealed.header", max_len=1024)
    body = as_bytes(parts[1], "sealed.body", max_len=ENVELOPE_LIMITS.max_bin_len)
    signature = as_bytes(parts[2], "sealed.signature", length=64)
    header = Header.decode(header_bytes)
    if (header.version, header.type, header.sender, header.recipient) != (
        clear.v, clear.type, clear.sender, clear.recipient
    ):
        raise _reject(ErrorCode.HEADER_MISMATCH,
                      "the signed header does not match the envelope's clear fields")
    if header.recipient_key_id != opened_with:
        raise _reject(ErrorCode.UNKNOWN_KEY,
                      f"header names encryption key {header.recipient_key_id!r} but the "
                      f"envelope was sealed to our key {opened_with!r}")
    body_hash = hashlib.sha256(body).digest()
    check_signature(header_bytes, body_hash, signature, sender_keys, who=header.sender)
    if now_ms > header.expires_at_ms + max_skew_ms:
        raise _reject(ErrorCode.EXPIRED, f"envelope from {header.sender} expired "
                      f"{now_ms - header.expires_at_ms} ms ago")
    if header.issued_at_ms > now_ms + max_skew_ms:
        raise _reject(ErrorCode.NOT_YET_VALID, f"envelope from {header.sender} is issued "
                      f"{header.issued_at_ms - now_ms} ms in the future")
    message = from_body(header.type, unpack(body))
    stated = purpose_of(message)
    if stated is not None and stated != header.purpose:
        raise _reject(ErrorCode.HEADER_MISMATCH,
                      f"header purpose {header.purpose!r} differs from the body's {stated!r}")
    seen.check_and_add(header.sender, header.message_id,
                       keep_until_ms=header.expires_at_ms + max_skew_ms, now_ms=now_ms)
    return OpenedEnvelope(header, message, header_bytes, body_hash, signature, len(body))


def check_signature(header_bytes: bytes, body_hash: bytes, signature: bytes,
                    keys: SenderKeys, *, who: str) -> None:
    for public in _as_keys(keys):
        if not isinstance(public, bytes):
            continue
        try:
            verify_raw(public, signed_message(header_bytes, body_hash), signature)
        except CryptoError:
            continue
        return
    raise _reject(ErrorCode.BAD_SIGNATURE, f"envelope signature does not verify with {who}'s key")


def verify_logged_signature(header_bytes: bytes, body_hash: bytes, signature: bytes,
                            public_key: bytes) -> Header:
    """Auditor check of a logged exchange without its body; returns the decoded header.

    Raises MalformedMessage for an undecodable header or a body hash that is not
    32 bytes, EnvelopeRejected(BAD_SIGNATURE) if the signature does not verify.
    """
    as_bytes(body_hash, "body_hash", length=32)
    as_bytes(signature, "signature", length=64)
    header = Header.decode(header_bytes)
    check_signature(header_bytes, body_hash, signature, public_key, who=header.sender)
    return header


class ReplayCache:
    """In-memory (sender, message id) → keep-until cache; bounded, fails closed when full."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._until: dict[tuple[str, bytes], int] = {}
        self._heap: list[tuple[int, str, bytes]] = []

    def __len__(self) -> int:
        return len(self._until)

    def __contains__(self, key: tuple[str, bytes]) -> bool:
        return key in self._until

    def prune(self, now_ms: int) -> int:
        """Forget ids whose envelopes can no longer be accepted; return how many."""
        removed = 0
        while self._heap and self._heap[0][0] < now_ms:
            until, sender, mid = heapq.heappop(self._heap)
            if self._until.get((sender, mid)) == until:
                del self._until[(sender, mid)]
                removed += 1
        return removed

    def check_and_add(self, sender: str, message_id: bytes, *, keep_until_ms: int,
                      now_ms: int) -> None:
        """Record the id, or raise EnvelopeRejected(REPLAY / RATE_LIMITED when full)."""
        key = (sender, message_id)
        if key in self._until:
            raise _reject(ErrorCode.REPLAY,
                          f"message {message_id.hex()} from {sender} was already received")
        if len(self._until) >= self.max_entries:
            self.prune(now_ms)
            if len(self._until) >= self.max_entries:
                raise _reject(ErrorCode.RATE_LIMITED, "replay cache is full; try again later")
        self._until[key] = keep_until_ms
        heapq.heappush(self._heap, (keep_until_ms, sender, message_id))

    def discard(self, sender: str, message_id: bytes) -> None:
        """Forget an id whose message was not acted on (the handler failed), so the
        sender's retry with the same id is not refused as a replay."""
        self._until.pop((sender, message_id), None)

    def entries(self) -> list[tuple[str, bytes, int]]:
        """(sender, message id, keep-until) for persisting the cache."""
        return [(s, m, u) for (s, m), u in self._until.items()]
