"""Signed directory snapshots, node key documents and enrollment `NodeInfo`.

Spec: DESIGN.md "Identities and keys" and "Discovery"; PROTOCOL-ANCHORS.md §1.2
(X-Road global configuration: signed, expiring, newer-only) and §2.1 (Matrix
key documents with `valid_until`).

Both signed documents share one wire form, canonical msgpack
`{"doc": <canonical msgpack of the document>, "sig": <Ed25519>}`, signed with
`crypto.sign.sign` over the exact `doc` bytes with a context string:
`statenode/v1/directory` (by the federation authority) and `statenode/v1/keys`
(by the node's own signing key). Keep and serve the exact signed bytes: any
node is a mirror. Times are integer milliseconds since the Unix epoch.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from crypto.errors import CryptoError, KeyFileError
from crypto.keys import SigningKey, check_encryption_public_key, check_public_key, key_id
from crypto.sign import sign, verify
from protocol.codec import Reader, as_node_id, as_str, pack, unpack
from protocol.errors import EnvelopeRejected, ErrorCode, MalformedMessage, ProtocolError

DIRECTORY_CONTEXT = b"statenode/v1/directory"
KEYS_CONTEXT = b"statenode/v1/keys"
class EntryStatus(StrEnum):
    """A node's standing in the directory (a closed set; the authority changes it)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


STATUSES = tuple(s.value for s in EntryStatus)
URL_RE = re.compile(r"https?://[^\s/?#]+(:\d+)?(/[^\s]*)?")
KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
PIN_RE = re.compile(r"[0-9a-f]{64}")
DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000
MAX_ENTRIES = 100
MAX_ENCRYPTION_KEYS = 4
MAX_RETIRED_KEYS = 8


def _public(value: object, where: str, *, kind: str = "ed25519") -> bytes:
    if not isinstance(value, bytes):
        raise MalformedMessage(f"{where}: expected 32 raw key bytes")
    try:
        if kind == "ed25519":
            check_public_key(value, what=where)
        else:
            check_encryption_public_key(value, what=where)
    except KeyFileError as exc:
        raise MalformedMessage(str(exc)) from exc
    return value


def _endpoints(r: Reader) -> tuple[str, ...]:
    items = r.array("endpoints", min_len=1, max_len=8)
    return tuple(as_str(u, f"{r.where}.endpoints[{i}]", max_len=300, pattern=URL_RE)
                 for i, u in enumerate(items))


def _retired(r: Reader) -> tuple[tuple[bytes, int], ...]:
    """`retired_signing_keys`: absent, or 1..8 `{public, retired_at_ms}` maps, newest first."""
    if "retired_signing_keys" not in r.data:
        return ()
    items = r.array("retired_signing_keys", min_len=1, max_len=MAX_RETIRED_KEYS)
    out: list[tuple[bytes, int]] = []
    for i, item in enumerate(items):
        k = Reader(item, f"{r.where}.retired_signing_keys[{i}]")
        public = _public(k.get("public"), k.path("public"))
        at = k.integer("retired_at_ms")
        k.done()
        if out and at > out[-1][1]:
            raise MalformedMessage(f"{k.where}.retired_at_ms: keys must be listed newest first")
        if any(public == p for p, _ in out):
            raise MalformedMessage(f"{k.where}.public: the key is listed twice")
        out.append((public, at))
    return tuple(out)


def _signed(doc: dict[str, Any], key: SigningKey, context: bytes) -> bytes:
    return pack({"doc": pack(doc), "sig": sign(key, context=context, data=pack(doc))})


def _open_signed(data: bytes, public: bytes, context: bytes, what: str) -> Reader:
    outer = Reader(unpack(data), what)
    doc_bytes = outer.blob("doc", max_len=len(data))
    sig = outer.blob("sig", length=64)
    outer.done()
    try:
        verify(public, context=context, data=doc_bytes, signature=sig)
    except CryptoError as exc:
        raise ProtocolError(f"{what} signature does not verify with the expected key",
                            code=ErrorCode.BAD_SIGNATURE) from exc
    return Reader(unpack(doc_bytes), what)


@dataclass(frozen=True)
class DirectoryEntry:
    node_id: str
    name: str
    endpoints: tuple[str, ...]
    signing_key: bytes
    key_id: str
    status: EntryStatus
    valid_until_ms: int
    next_signing_key: bytes | None = None
    tls_cert_sha256: bytes | None = None
    # (public key, retired_at_ms) of keys replaced by `promote-key`, newest first: they
    # verify old exchange-log entries and checkpoints (`keys_valid_at`), never live traffic
    retired_signing_keys: tuple[tuple[bytes, int], ...] = ()

    def to_doc(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "node_id": self.node_id, "name": self.name, "endpoints": list(self.endpoints),
            "signing_key": self.signing_key, "key_id": self.key_id, "status": self.status,
            "valid_until_ms": self.valid_until_ms, "next_signing_key": self.next_signing_key,
            "tls_cert_sha256": self.tls_cert_sha256}
        if self.retired_signing_keys:  # only when present, so older documents keep their bytes
            d["retired_signing_keys"] = [{"public": k, "retired_at_ms": at}
                                         for k, at in self.retired_signing_keys]
        return {k: v for k, v in d.items() if v is not None}

    @classmethod
    def read(cls, r: Reader) -> DirectoryEntry:
        e = cls(
            node_id=r.node_id("node_id"),
            name=r.text("name", max_len=100),
            endpoints=_endpoints(r),
            signing_key=_public(r.get("signing_key"), r.path("signing_key")),
            key_id=r.text("key_id", pattern=KEY_ID_RE, max_len=16),
            status=EntryStatus(r.text("status", choices=STATUSES)),
            valid_until_ms=r.integer("valid_until_ms"),
            next_signing_key=(_public(r.data["next_signing_key"], r.path("next_signing_key"))
                              if r.opt("next_signing_key") else None),
            tls_cert_sha256=r.opt_blob("tls_cert_sha256", length=32),
            retired_signing_keys=_retired(r),
        )
        r.done()
        if key_id(e.signing_key) != e.key_id:
            raise MalformedMessage(f"{r.where}.key_id: does not match signing_key")
        for public, _ in e.retired_signing_keys:
            if public in e.signing_keys():
                raise MalformedMessage(f"{r.where}.retired_signing_keys: a retired key is "
                                       "also the current or next signing key")
        return e

    def signing_keys(self) -> tuple[bytes, ...]:
        """Keys whose signatures are accepted: the current one, then the announced next one.
        Retired keys are not among them: they must not authenticate new messages."""
        nxt = (self.next_signing_key,) if self.next_signing_key else ()
        return (self.signing_key, *nxt)

    def keys_valid_at(self, time_ms: int) -> tuple[bytes, ...]:
        """Keys that could have signed something at `time_ms` (for audits of old entries):
        the current and next keys, then every key retired at or after `time_ms`."""
        return (*self.signing_keys(),
                *(k for k, at in self.retired_signing_keys if at >= time_ms))


@dataclass(frozen=True)
class DirectorySnapshot:
    serial: int
    issued_at_ms: int
    expires_at_ms: int
    entries: tuple[DirectoryEntry, ...]
    raw: bytes = b""  # the exact signed bytes (set by verify_snapshot)

    def to_doc(self) -> dict[str, Any]:
        return {"serial": self.serial, "issued_at_ms": self.issued_at_ms,
                "expires_at_ms": self.expires_at_ms,
                "entries": [e.to_doc() for e in self.entries]}

    def entry(self, node_id: str) -> DirectoryEntry | None:
        for e in self.entries:
            if e.node_id == node_id:
                return e
        return None

    def sender_keys(self, node_id: str, *, now_ms: int) -> tuple[bytes, ...]:
        """Signing keys of an active, in-date node; else EnvelopeRejected (for open_envelope)."""
        e = self.entry(node_id)
        if e is None:
            raise EnvelopeRejected(f"{node_id} is not in the directory",
                                   code=ErrorCode.UNKNOWN_SENDER)
        if e.status != "active" or now_ms > e.valid_until_ms:
            state = e.status if e.status != "active" else "past its valid_until"
            raise EnvelopeRejected(f"{node_id} is {state} in the directory",
                                   code=ErrorCode.SENDER_NOT_ACTIVE)
        return e.signing_keys()


def sign_snapshot(snapshot: DirectorySnapshot, authority_key: SigningKey) -> bytes:
    return _signed(snapshot.to_doc(), authority_key, DIRECTORY_CONTEXT)


def verify_snapshot(
    data: bytes, authority_public: bytes, *, now_ms: int, previous_serial: int | None = None,
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
) -> DirectorySnapshot:
    """Check signature, shape, dates and serial; raise ProtocolError with a specific code."""
    r = _open_signed(data, authority_public, DIRECTORY_CONTEXT, "directory")
    items = r.array("entries", max_len=MAX_ENTRIES)
    snap = DirectorySnapshot(
        serial=r.integer("serial", min_value=1),
        issued_at_ms=r.integer("issued_at_ms"),
        expires_at_ms=r.integer("expires_at_ms"),
        entries=tuple(DirectoryEntry.read(Reader(e, f"directory.entries[{i}]"))
                      for i, e in enumerate(items)),
        raw=bytes(data),
    )
    r.done()
    ids = [e.node_id for e in snap.entries]
    if len(set(ids)) != len(ids):
        raise MalformedMessage("directory.entries: a node id appears twice")
    if snap.expires_at_ms <= snap.issued_at_ms:
        raise MalformedMessage("directory.expires_at_ms: not after issued_at_ms")
    if now_ms >= snap.expires_at_ms:
        raise ProtocolError(f"directory serial {snap.serial} has expired",
                            code=ErrorCode.DIRECTORY_EXPIRED)
    if snap.issued_at_ms > now_ms + max_skew_ms:
        raise ProtocolError(f"directory serial {snap.serial} is issued in the future",
                            code=ErrorCode.NOT_YET_VALID)
    if previous_serial is not None and snap.serial <= previous_serial:
        raise ProtocolError(f"directory serial {snap.serial} is not newer than the cached "
                            f"serial {previous_serial}", code=ErrorCode.REPLAY)
    return snap


@dataclass(frozen=True)
class PublishedKey:
    key_id: str
    public: bytes
    valid_until_ms: int


@dataclass(frozen=True)
class KeyDocument:
    node_id: str
    signing_key_id: str
    issued_at_ms: int
    encryption_keys: tuple[PublishedKey, ...]
    raw: bytes = b""

    def to_doc(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "signing_key_id": self.signing_key_id,
                "issued_at_ms": self.issued_at_ms,
                "encryption_keys": [{"key_id": k.key_id, "public": k.public,
                                     "valid_until_ms": k.valid_until_ms}
                                    for k in self.encryption_keys]}

    def current_key(self, now_ms: int) -> PublishedKey:
        """The key to seal to now: of the keys still valid, the one valid the longest."""
        valid = [k for k in self.encryption_keys if k.valid_until_ms > now_ms]
        if not valid:
            raise ProtocolError(f"{self.node_id} publishes no encryption key valid now",
                                code=ErrorCode.EXPIRED)
        return max(valid, key=lambda k: k.valid_until_ms)


def sign_key_document(doc: KeyDocument, signing_key: SigningKey) -> bytes:
    return _signed(doc.to_doc(), signing_key, KEYS_CONTEXT)


def verify_key_document(data: bytes, signing_public: bytes, *, node_id: str,
                        now_ms: int) -> KeyDocument:
    """Check signature, node id, key ids and that one key is valid at `now_ms`."""
    r = _open_signed(data, signing_public, KEYS_CONTEXT, "key document")
    items = r.array("encryption_keys", min_len=1, max_len=MAX_ENCRYPTION_KEYS)
    keys = []
    for i, item in enumerate(items):
        k = Reader(item, f"key document.encryption_keys[{i}]")
        pk = PublishedKey(k.text("key_id", pattern=KEY_ID_RE, max_len=16),
                          _public(k.get("public"), k.path("public"), kind="x25519"),
                          k.integer("valid_until_ms"))
        k.done()
        if key_id(pk.public, kind="x25519") != pk.key_id:
            raise MalformedMessage(f"{k.where}.key_id: does not match the public key")
        keys.append(pk)
    doc = KeyDocument(r.node_id("node_id"), r.text("signing_key_id", pattern=KEY_ID_RE,
                                                   max_len=16),
                      r.integer("issued_at_ms"), tuple(keys), raw=bytes(data))
    r.done()
    if doc.node_id != node_id:
        raise ProtocolError(f"key document is for {doc.node_id}, expected {node_id}",
                            code=ErrorCode.HEADER_MISMATCH)
    if doc.signing_key_id != key_id(signing_public):
        raise MalformedMessage("key document.signing_key_id: not the key that signed it")
    doc.current_key(now_ms)
    return doc


@dataclass(frozen=True)
class NodeInfo:
    """What `statenode keys show --json` prints for enrollment in the directory."""

    node_id: str
    name: str
    endpoints: tuple[str, ...]
    signing_key: bytes
    key_id: str
    #: SHA-256 of the TLS certificate's SPKI (node.directory.tls_pinning)
    tls_cert_sha256: bytes | None = None

    def to_json(self) -> str:
        d = {"node_id": self.node_id, "name": self.name, "endpoints": list(self.endpoints),
             "signing_key": base64.b64encode(self.signing_key).decode(), "key_id": self.key_id}
        if self.tls_cert_sha256 is not None:
            d["tls_cert_sha256"] = self.tls_cert_sha256.hex()
        return json.dumps(d, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> NodeInfo:
        """Parse and validate; MalformedMessage names the bad field."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise MalformedMessage(f"node info: not valid JSON ({exc})") from exc
        r = Reader(data, "node info")
        raw_key = r.text("signing_key", max_len=64)
        try:
            public = base64.b64decode(raw_key, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedMessage("node info.signing_key: not base64") from exc
        pin = r.opt_text("tls_cert_sha256", pattern=PIN_RE, max_len=64)
        info = cls(as_node_id(r.get("node_id"), "node info.node_id"),
                   r.text("name", max_len=100), _endpoints(r),
                   _public(public, "node info.signing_key"),
                   r.text("key_id", pattern=KEY_ID_RE, max_len=16),
                   bytes.fromhex(pin) if pin else None)
        r.done()
        if key_id(info.signing_key) != info.key_id:
            raise MalformedMessage("node info.key_id: does not match signing_key")
        return info
