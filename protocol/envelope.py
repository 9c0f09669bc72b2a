"""The signed-then-sealed envelope every federation message travels in.

Spec: DESIGN.md "Envelope (sign, then encrypt)" and "Upgrades", PROTOCOL-ANCHORS.md §4.3.
Two versions, both accepted; a sender uses version 2 with every peer whose key document
says it speaks it (`node.directory.key_documents`), version 1 only with older peers:

- header    = canonical msgpack array
              v1: [1, type, sender, recipient, recipient_key_id, message_id (16 B),
                   reply_to (16 B or nil), issued_at_ms, expires_at_ms, purpose]
              v2: [2, type, sender, recipient, recipient_key_id, suite, message_id,
                   reply_to, issued_at_ms, expires_at_ms, purpose]
              (`suite` is `crypto.seal.HYBRID` or `crypto.seal.X25519`; v1 is always X25519)
- body      = canonical msgpack of the message (`messages.to_body`)
- signature = plain Ed25519 (`crypto.sign.sign_raw`) over the exact bytes
              b"statenode/v1/sig" || header || SHA-256(body). The header is a
              msgpack array (first byte 0x9a or 0x9b), so this can never collide with a
              `crypto.sign.sign` message (context || 0x00 || data).
- sealed    = HPKE seal of msgpack [header, body, signature] to the recipient's key,
              info v1 = "statenode/v1|" type "|" sender "|" recipient
              info v2 = "statenode/v1|" suite "|" type "|" sender "|" recipient
- wire      = canonical msgpack map v1 {v, type, from, to, sealed},
              v2 {v, type, from, to, kid, sealed} (`kid` = recipient_key_id, so the
              receiver picks its key without trying each one)

The suite is signed (in the header) and bound into the ciphertext (in `info`), so it
cannot be changed in transit. A downgrade — a message sealed with X25519 although the
receiver and the sender both publish hybrid keys — is refused (`ErrorCode.DOWNGRADE`)
when the caller says the sender must use the hybrid suite (`require_hybrid`).

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
from crypto.keys import SigningKey
from crypto.seal import HYBRID, SUITES, X25519, OpeningKey, open_sealed, seal, suite_of
from crypto.sign import sign_raw, verify_raw
from protocol.codec import (
    ENVELOPE_LIMITS,
    NODE_ID_RE,
    Reader,
    as_bytes,
    as_int,
    as_list,
    as_node_id,
    as_str,
    check_tree,
    pack_presorted,
    unpack,
)
from protocol.errors import (
    LEGACY_ERROR_CODES,
    EnvelopeRejected,
    ErrorCode,
    MalformedMessage,
    ProtocolError,
)
from protocol.messages import (
    MESSAGE_TYPES,
    PURPOSES,
    REPLY_TYPES,
    Error,
    Message,
    from_body,
    pack_body,
    purpose_of,
)

VERSION = 2  # the newest envelope version this release seals
LEGACY_VERSION = 1  # sealed only for peers whose key document speaks no newer version
VERSIONS = (LEGACY_VERSION, VERSION)
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
    suite: str = X25519  # version 1 headers do not carry it: always X25519

    def encode(self) -> bytes:
        if self.version == LEGACY_VERSION:
            return pack_presorted([self.version, self.type, self.sender, self.recipient,
                         self.recipient_key_id, self.message_id, self.reply_to,
                         self.issued_at_ms, self.expires_at_ms, self.purpose])
        return pack_presorted([self.version, self.type, self.sender, self.recipient,
                     self.recipient_key_id, self.suite, self.message_id, self.reply_to,
                     self.issued_at_ms, self.expires_at_ms, self.purpose])

    @classmethod
    def decode(cls, data: bytes) -> Header:
        items = unpack(data, limits=ENVELOPE_LIMITS, check=False)
        fast = _fast_header(items)
        if fast is not None:
            return fast
        check_tree(items, ENVELOPE_LIMITS)
        return cls._decode(items)

    @classmethod
    def _decode(cls, items: object) -> Header:
        """The field-by-field decoder: it names what is wrong."""
        items = as_list(items, "header", max_len=11, min_len=10)
        version = as_int(items[0], "header.version")
        if (version, len(items)) not in ((LEGACY_VERSION, 10), (VERSION, 11)):
            raise MalformedMessage(f"header: a version {version} header with {len(items)} "
                                   "items is not a version 1 (10 items) or 2 (11 items) header")
        suite = X25519
        if version == VERSION:
            suite = as_str(items.pop(5), "header.suite", max_len=64, choices=SUITES)
        reply_to = items[6]
        header = cls(
            version=version,
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
            suite=suite,
        )
        header.check_shape()
        return header

    def check_shape(self) -> None:
        """Structural rules that hold for every header (MalformedMessage)."""
        if self.version not in VERSIONS:
            raise MalformedMessage(f"header.version: {self.version} is not one of 1, 2")
        if self.suite not in SUITES or (self.version == LEGACY_VERSION
                                         and self.suite != X25519):
            raise MalformedMessage(f"header.suite: {self.suite!r} cannot be sealed in a "
                                   f"version {self.version} envelope")
        if (self.reply_to is None) == (self.type in REPLY_TYPES):
            need = "needs" if self.type in REPLY_TYPES else "must not have"
            raise MalformedMessage(f"header.reply_to: a {self.type} message {need} a reply_to")
        lifetime = self.expires_at_ms - self.issued_at_ms
        if not 0 < lifetime <= MAX_TTL_MS:
            raise MalformedMessage(
                f"header.expires_at_ms: lifetime {lifetime} ms is outside 1..{MAX_TTL_MS} ms")


_SUITES = frozenset(SUITES)
_TYPES = frozenset(MESSAGE_TYPES)
_PURPOSES = frozenset(PURPOSES)
_NODE_MATCH = NODE_ID_RE.fullmatch


def _fast_header(items: object) -> Header | None:
    """A valid header built in one pass, or None (then `Header._decode` says what is wrong)."""
    if type(items) is not list:
        return None
    n = len(items)
    if n == 11 and items[0] == VERSION and type(items[0]) is int:
        version, typ, sender, recipient, kid, suite, mid, reply_to, issued, expires, purpose \
            = items
        if type(suite) is not str or suite not in _SUITES:
            return None
    elif n == 10 and items[0] == LEGACY_VERSION and type(items[0]) is int:
        version, typ, sender, recipient, kid, mid, reply_to, issued, expires, purpose = items
        suite = X25519
    else:
        return None
    if not (type(typ) is str and typ in _TYPES and type(sender) is str
            and _NODE_MATCH(sender) and type(recipient) is str and _NODE_MATCH(recipient)
            and type(kid) is str and 0 < len(kid) <= 64
            and type(mid) is bytes and len(mid) == MESSAGE_ID_LEN
            and (reply_to is None or (type(reply_to) is bytes
                                      and len(reply_to) == MESSAGE_ID_LEN))
            and type(issued) is int and 0 <= issued < 2**63
            and type(expires) is int and 0 <= expires < 2**63
            and type(purpose) is str and purpose in _PURPOSES):
        return None
    obj: Header = object.__new__(Header)
    obj.__dict__.update(version=version, type=typ, sender=sender, recipient=recipient,
                        recipient_key_id=kid, message_id=mid, reply_to=reply_to,
                        issued_at_ms=issued, expires_at_ms=expires, purpose=purpose,
                        suite=suite)
    try:
        obj.check_shape()
    except MalformedMessage:
        return None
    return obj


def seal_info(msg_type: str, sender: str, recipient: str, *, suite: str | None = None) -> bytes:
    """HPKE `info`: version 1 without the suite (`suite=None`), version 2 with it."""
    if suite is None:
        return INFO_PREFIX + f"{msg_type}|{sender}|{recipient}".encode()
    return INFO_PREFIX + f"{suite}|{msg_type}|{sender}|{recipient}".encode()


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
    kid: str | None = None  # version 2: the recipient key the payload is sealed to


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
    suite: str = X25519,
    version: int | None = None,
) -> SealedEnvelope:
    """Sign then seal `message` for `recipient`; raise MalformedMessage on bad arguments.

    `recipient_key` is a public key of `suite`; `version` defaults to 1 for X25519 (what
    every node speaks) and 2 for the hybrid suite (which only version 2 can carry).
    """
    if version is None:
        version = LEGACY_VERSION if suite == X25519 else VERSION
    if version == LEGACY_VERSION and isinstance(message, Error) \
            and message.code not in LEGACY_ERROR_CODES:
        # a version 1 node's strict decoder knows only the old codes
        message = Error(ErrorCode.FORBIDDEN, message.message)
    header = Header(version, message.TYPE, as_node_id(sender, "sender"),
                    as_node_id(recipient, "recipient"), recipient_key_id,
                    os.urandom(MESSAGE_ID_LEN) if message_id is None else message_id,
                    reply_to, now_ms, now_ms + ttl_ms, as_str(purpose, "purpose", choices=PURPOSES),
                    suite)
    as_bytes(header.message_id, "message_id", length=MESSAGE_ID_LEN)
    header.check_shape()
    stated = purpose_of(message)
    if stated is not None and stated != purpose:
        raise MalformedMessage(f"purpose: header says {purpose!r} but the body says {stated!r}")
    header_bytes = header.encode()
    body = pack_body(message)
    body_hash = hashlib.sha256(body).digest()
    signature = sign_raw(signing_key, signed_message(header_bytes, body_hash))
    info = seal_info(header.type, sender, recipient,
                     suite=None if version == LEGACY_VERSION else suite)
    try:
        sealed = seal(recipient_key, pack_presorted([header_bytes, body, signature]), info=info,
                      suite=suite)
    except CryptoError as exc:
        raise MalformedMessage(f"recipient_key: {exc}") from exc
    # the clear map with its keys in sorted order, so plain msgpack is canonical msgpack
    clear: dict[str, object] = (
        {"from": sender, "sealed": sealed, "to": recipient, "type": header.type, "v": version}
        if version == LEGACY_VERSION else
        {"from": sender, "kid": recipient_key_id, "sealed": sealed, "to": recipient,
         "type": header.type, "v": version})
    return SealedEnvelope(pack_presorted(clear), header, header_bytes, body_hash, signature)


def peek(wire: bytes) -> WireFields:
    """Read the clear fields (to drop mail from unknown senders before any crypto)."""
    d = unpack(wire, limits=ENVELOPE_LIMITS, check=False)
    if type(d) is dict:
        v, typ, sender, recipient = d.get("v"), d.get("type"), d.get("from"), d.get("to")
        sealed, kid = d.get("sealed"), d.get("kid")
        if (type(v) is int and type(typ) is str and 0 < len(typ) <= 32
                and type(sender) is str and _NODE_MATCH(sender) and type(recipient) is str
                and _NODE_MATCH(recipient) and type(sealed) is bytes
                and len(d) == (5 if v == LEGACY_VERSION else 6)
                and (kid is None if v == LEGACY_VERSION
                     else (v == VERSION and type(kid) is str and 0 < len(kid) <= 64))):
            fields: WireFields = object.__new__(WireFields)
            fields.__dict__.update(v=v, type=typ, sender=sender, recipient=recipient,
                                   sealed=sealed, kid=kid)
            return fields
    check_tree(d, ENVELOPE_LIMITS)
    return _peek(d)


def _peek(d: object) -> WireFields:
    """The field-by-field reading of the clear fields: it names what is wrong."""
    r = Reader(d, "envelope")
    fields = WireFields(
        v=r.integer("v"),
        type=r.text("type", max_len=32),
        sender=r.node_id("from"),
        recipient=r.node_id("to"),
        sealed=r.blob("sealed", max_len=ENVELOPE_LIMITS.max_bin_len),
        kid=r.opt_text("kid", max_len=64),
    )
    r.done()
    if (fields.kid is None) != (fields.v == LEGACY_VERSION) and fields.v in VERSIONS:
        need = "has no" if fields.v == LEGACY_VERSION else "needs a"
        raise MalformedMessage(f"envelope.kid: a version {fields.v} envelope {need} kid")
    return fields


def _reject(code: ErrorCode, message: str) -> EnvelopeRejected:
    return EnvelopeRejected(message, code=code)


def _as_keys(found: SenderKeys) -> tuple[bytes, ...]:
    return (found,) if isinstance(found, bytes) else tuple(found)


def open_envelope(
    wire: bytes,
    *,
    my_id: str,
    my_keys: Mapping[str, OpeningKey],
    sender_key_lookup: Callable[[str], SenderKeys],
    now_ms: int,
    seen: ReplayCache,
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
    require_hybrid: Callable[[str], bool] | None = None,
) -> OpenedEnvelope:
    """Open, authenticate and validate one envelope; raise only ProtocolError subclasses.

    Order: shape, version, recipient, sender known and active, decryption (version 2:
    the key named by `kid`; version 1: each X25519 key of `my_keys` in turn), header
    shape, header = clear fields, recipient key id, signature, suite (a downgrade when
    `require_hybrid(sender)` and the suite is not the hybrid one), expiry,
    not-yet-valid, body, replay (recorded only if all passed).
    """
    clear = peek(wire)
    if clear.v not in VERSIONS:
        raise _reject(ErrorCode.UNSUPPORTED_VERSION,
                      f"envelope version {clear.v} is not one of {', '.join(map(str, VERSIONS))}")
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
    plaintext, opened_with, suite = _decrypt(clear, my_keys)
    # three byte strings, each type-checked below: no tree walk needed
    parts = as_list(unpack(plaintext, limits=ENVELOPE_LIMITS, check=False), "sealed",
                    max_len=3, min_len=3)
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
    if header.suite != suite:
        raise _reject(ErrorCode.HEADER_MISMATCH,
                      f"header names suite {header.suite} but the envelope was sealed with "
                      f"{suite}")
    body_hash = hashlib.sha256(body).digest()
    check_signature(header_bytes, body_hash, signature, sender_keys, who=header.sender)
    if header.suite != HYBRID and require_hybrid is not None and require_hybrid(header.sender):
        refusal = _reject(ErrorCode.DOWNGRADE,
                          f"{header.sender} sealed its {header.type} with {header.suite}, but "
                          f"it and {my_id} both publish {HYBRID} keys: refusing a downgrade")
        refusal.header = header  # authenticated: the caller may answer with a signed error
        raise refusal
    if now_ms > header.expires_at_ms + max_skew_ms:
        raise _reject(ErrorCode.EXPIRED, f"envelope from {header.sender} expired "
                      f"{now_ms - header.expires_at_ms} ms ago")
    if header.issued_at_ms > now_ms + max_skew_ms:
        raise _reject(ErrorCode.NOT_YET_VALID, f"envelope from {header.sender} is issued "
                      f"{header.issued_at_ms - now_ms} ms in the future")
    message = from_body(header.type, unpack(body, check=False), checked=False)
    stated = purpose_of(message)
    if stated is not None and stated != header.purpose:
        raise _reject(ErrorCode.HEADER_MISMATCH,
                      f"header purpose {header.purpose!r} differs from the body's {stated!r}")
    seen.check_and_add(header.sender, header.message_id,
                       keep_until_ms=header.expires_at_ms + max_skew_ms, now_ms=now_ms)
    return OpenedEnvelope(header, message, header_bytes, body_hash, signature, len(body))


def _decrypt(clear: WireFields, my_keys: Mapping[str, OpeningKey]) -> tuple[bytes, str, str]:
    """(plaintext, key id, suite) of the sealed payload, or EnvelopeRejected."""
    if clear.v == LEGACY_VERSION:
        info = seal_info(clear.type, clear.sender, clear.recipient)
        x25519 = [(kid, k) for kid, k in my_keys.items() if suite_of(k) == X25519]
        for kid, key in x25519:
            try:
                return open_sealed(key, clear.sealed, info=info), kid, X25519
            except CryptoError:
                continue
        raise _reject(ErrorCode.DECRYPTION_FAILED,
                      f"cannot open the envelope from {clear.sender} with any of our "
                      f"{len(x25519)} X25519 keys (tampered, or sealed to a retired key)")
    assert clear.kid is not None  # peek() checked it
    found = my_keys.get(clear.kid)
    if found is None:
        raise _reject(ErrorCode.UNKNOWN_KEY,
                      f"the envelope from {clear.sender} is sealed to key {clear.kid!r}, which "
                      "is not (or no longer) one of ours")
    suite = suite_of(found)
    info = seal_info(clear.type, clear.sender, clear.recipient, suite=suite)
    try:
        return open_sealed(found, clear.sealed, info=info), clear.kid, suite
    except CryptoError:
        raise _reject(ErrorCode.DECRYPTION_FAILED,
                      f"cannot open the envelope from {clear.sender} with our key "
                      f"{clear.kid} (tampered, or not sealed for us)") from None


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
