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

Version 2 of each document (DESIGN.md "Upgrades") carries what version 1's strict
decoder would refuse, so it is a separate document, signed under its own context
(`statenode/v2/directory`, `statenode/v2/keys`), with `"version": 2` in the doc, served
beside version 1 at its own path; a node one release behind keeps reading version 1:

* directory entries may add `log_origin` (the C2SP origin of the node's exchange log),
  `witness_name` and `witness_key` (its separate Ed25519 tlog-cosignature key) and
  `features` (what the node speaks, e.g. `FEATURE_HYBRID`, `FEATURE_WITNESS`; a reader
  ignores features it does not know);
* key documents add `hybrid_keys` (MLKEM768-X25519, 1216-byte public keys, same
  `valid_until_ms` rule) and `envelope_versions` (the envelope versions the node opens);
* the discover round (issue 14): entries and `NodeInfo` may carry `oprf_key` (the node's
  32-byte RFC 9497 ristretto255 public key, pinned by the authority) with feature
  `FEATURE_DISCOVER`; key documents may carry `discover_filter` (the `FilterInfo` of
  `protocol.discover_signed`: version, sha256, members, records, false_positive_ppm).
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
from crypto.keys import (
    SigningKey,
    check_encryption_public_key,
    check_hybrid_public_key,
    check_public_key,
    key_id,
)
from crypto.note import is_valid_name
from crypto.oprf_key_file import check_oprf_public_key
from crypto.seal import HYBRID, X25519
from crypto.sign import sign, verify
from protocol.codec import Reader, as_int, as_node_id, as_str, pack, unpack
from protocol.discover_signed import FilterInfo
from protocol.errors import EnvelopeRejected, ErrorCode, MalformedMessage, ProtocolError

DIRECTORY_CONTEXT = b"statenode/v1/directory"
KEYS_CONTEXT = b"statenode/v1/keys"
DIRECTORY_CONTEXT_V2 = b"statenode/v2/directory"
KEYS_CONTEXT_V2 = b"statenode/v2/keys"
CONTEXTS = {("directory", 1): DIRECTORY_CONTEXT, ("directory", 2): DIRECTORY_CONTEXT_V2,
            ("key document", 1): KEYS_CONTEXT, ("key document", 2): KEYS_CONTEXT_V2}
#: features a directory entry can list (others are ignored, so newer nodes can add some)
FEATURE_HYBRID = "hpke-mlkem768x25519"  # publishes hybrid keys; must be sealed to with them
FEATURE_WITNESS = "tlog-witness/v1"  # serves POST /witness/add-checkpoint (C2SP)
FEATURE_DISCOVER = "discover/v1"  # answers discover, serves its signed discover filter
FEATURE_RE = re.compile(r"[a-z0-9][a-z0-9./-]{0,39}")
MAX_FEATURES = 16
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
        size = 1216 if kind == "mlkem768x25519" else 32
        raise MalformedMessage(f"{where}: expected {size} raw key bytes")
    try:
        if kind == "ed25519":
            check_public_key(value, what=where)
        elif kind == "ristretto255":
            check_oprf_public_key(value, what=where)
        elif kind == "mlkem768x25519":
            check_hybrid_public_key(value, what=where)
        else:
            check_encryption_public_key(value, what=where)
    except KeyFileError as exc:
        raise MalformedMessage(str(exc)) from exc
    return value


def _note_name(r: Reader, key: str) -> str | None:
    """A C2SP key name (log origin, witness name): no spaces, no '+', at most 200 chars."""
    name = r.opt_text(key, max_len=200)
    if name is not None and not is_valid_name(name):
        raise MalformedMessage(f"{r.path(key)}: {name!r} is not a valid note key name "
                               "(no spaces, no '+')")
    return name


def _features(r: Reader) -> tuple[str, ...]:
    if "features" not in r.data:
        return ()
    items = r.array("features", min_len=1, max_len=MAX_FEATURES)
    out = tuple(as_str(f, f"{r.where}.features[{i}]", max_len=40, pattern=FEATURE_RE)
                for i, f in enumerate(items))
    if len(set(out)) != len(out):
        raise MalformedMessage(f"{r.where}.features: a feature is listed twice")
    return out


def _doc_version(doc_bytes: bytes, what: str) -> int:
    """The `version` a signed document claims (1 when absent); read before the signature
    is checked only to choose the context it must verify under."""
    doc = unpack(doc_bytes)
    if not isinstance(doc, dict):
        raise MalformedMessage(f"{what}: expected a map")
    version = doc.get("version", 1)
    if "version" in doc and version == 1:
        raise MalformedMessage(f"{what}.version: a version 1 document has no version field")
    return as_int(version, f"{what}.version", min_value=1, max_value=2)


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


def _open_signed(data: bytes, public: bytes, what: str) -> tuple[Reader, int]:
    """Verify a signed document under its version's context; (reader, version)."""
    outer = Reader(unpack(data), what)
    doc_bytes = outer.blob("doc", max_len=len(data))
    sig = outer.blob("sig", length=64)
    outer.done()
    version = _doc_version(doc_bytes, what)
    try:
        verify(public, context=CONTEXTS[(what, version)], data=doc_bytes, signature=sig)
    except CryptoError as exc:
        raise ProtocolError(f"{what} signature does not verify with the expected key",
                            code=ErrorCode.BAD_SIGNATURE) from exc
    r = Reader(unpack(doc_bytes), what)
    if version > 1:
        r.integer("version")
    return r, version


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
    # version 2 only (dropped from a version 1 snapshot):
    log_origin: str | None = None  # C2SP origin (= key name) of the node's exchange log
    witness_name: str | None = None  # the node's tlog-cosignature key name
    witness_key: bytes | None = None  # its Ed25519 cosigning key (never a signing key)
    features: tuple[str, ...] = ()
    oprf_key: bytes | None = None  # its RFC 9497 ristretto255 public key (discover round)

    def to_doc(self, version: int = 1) -> dict[str, Any]:
        d: dict[str, Any] = {
            "node_id": self.node_id, "name": self.name, "endpoints": list(self.endpoints),
            "signing_key": self.signing_key, "key_id": self.key_id, "status": self.status,
            "valid_until_ms": self.valid_until_ms, "next_signing_key": self.next_signing_key,
            "tls_cert_sha256": self.tls_cert_sha256}
        if self.retired_signing_keys:  # only when present, so older documents keep their bytes
            d["retired_signing_keys"] = [{"public": k, "retired_at_ms": at}
                                         for k, at in self.retired_signing_keys]
        if version >= 2:
            d.update(log_origin=self.log_origin, witness_name=self.witness_name,
                     witness_key=self.witness_key,
                     features=list(self.features) if self.features else None,
                     oprf_key=self.oprf_key)
        return {k: v for k, v in d.items() if v is not None}

    def has(self, feature: str) -> bool:
        return feature in self.features

    def log_origins(self) -> tuple[str, ...]:
        """Origins of this node's exchange log: its configured one, then the legacy origin
        (its node id) that every checkpoint before the origin migration carries."""
        return (self.log_origin, self.node_id) if self.log_origin else (self.node_id,)

    @classmethod
    def read(cls, r: Reader, version: int = 1) -> DirectoryEntry:
        v2: dict[str, Any] = {}
        if version >= 2:
            witness_key = (_public(r.data["witness_key"], r.path("witness_key"))
                           if r.opt("witness_key") else None)
            v2 = dict(log_origin=_note_name(r, "log_origin"),
                      witness_name=_note_name(r, "witness_name"), witness_key=witness_key,
                      features=_features(r),
                      oprf_key=(_public(r.data["oprf_key"], r.path("oprf_key"),
                                        kind="ristretto255") if r.opt("oprf_key") else None))
            if (v2["witness_name"] is None) != (witness_key is None):
                raise MalformedMessage(f"{r.where}: witness_name and witness_key come together")
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
            **v2,
        )
        r.done()
        if e.witness_key is not None and (e.witness_key in e.signing_keys() or any(
                e.witness_key == k for k, _ in e.retired_signing_keys)):
            raise MalformedMessage(f"{r.where}.witness_key: must be a separate key, not a "
                                   "signing key")
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
    version: int = 1

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"serial": self.serial, "issued_at_ms": self.issued_at_ms,
                               "expires_at_ms": self.expires_at_ms,
                               "entries": [e.to_doc(self.version) for e in self.entries]}
        if self.version >= 2:
            doc["version"] = self.version
        return doc

    def entry_for_origin(self, origin: str) -> DirectoryEntry | None:
        """The node whose exchange log has `origin` (its configured or legacy origin)."""
        for e in self.entries:
            if origin in e.log_origins():
                return e
        return None

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
    """The signed snapshot in its `version` (1: what every node reads; 2: with the new
    entry fields)."""
    context = CONTEXTS[("directory", snapshot.version)]
    return _signed(snapshot.to_doc(), authority_key, context)


def verify_snapshot(
    data: bytes, authority_public: bytes, *, now_ms: int, previous_serial: int | None = None,
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
) -> DirectorySnapshot:
    """Check signature, shape, dates and serial; raise ProtocolError with a specific code."""
    r, version = _open_signed(data, authority_public, "directory")
    items = r.array("entries", max_len=MAX_ENTRIES)
    snap = DirectorySnapshot(
        serial=r.integer("serial", min_value=1),
        issued_at_ms=r.integer("issued_at_ms"),
        expires_at_ms=r.integer("expires_at_ms"),
        entries=tuple(DirectoryEntry.read(Reader(e, f"directory.entries[{i}]"), version)
                      for i, e in enumerate(items)),
        raw=bytes(data),
        version=version,
    )
    r.done()
    ids = [e.node_id for e in snap.entries]
    if len(set(ids)) != len(ids):
        raise MalformedMessage("directory.entries: a node id appears twice")
    origins = [o for e in snap.entries for o in e.log_origins()]
    if len(set(origins)) != len(origins):
        raise MalformedMessage("directory.entries: two nodes claim the same log origin")
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
    suite: str = X25519


@dataclass(frozen=True)
class SealTarget:
    """How to seal to a peer now: its key, the suite of that key, the envelope version."""

    key: PublishedKey
    suite: str
    version: int


def _valid_longest(keys: tuple[PublishedKey, ...], now_ms: int) -> PublishedKey | None:
    valid = [k for k in keys if k.valid_until_ms > now_ms]
    return max(valid, key=lambda k: k.valid_until_ms) if valid else None


@dataclass(frozen=True)
class KeyDocument:
    node_id: str
    signing_key_id: str
    issued_at_ms: int
    encryption_keys: tuple[PublishedKey, ...]
    raw: bytes = b""
    # version 2 only:
    hybrid_keys: tuple[PublishedKey, ...] = ()
    envelope_versions: tuple[int, ...] = (1,)
    version: int = 1
    discover_filter: FilterInfo | None = None  # the holder's current filter (discover)

    def to_doc(self) -> dict[str, Any]:
        def keys(items: tuple[PublishedKey, ...]) -> list[dict[str, Any]]:
            return [{"key_id": k.key_id, "public": k.public, "valid_until_ms": k.valid_until_ms}
                    for k in items]
        doc: dict[str, Any] = {"node_id": self.node_id, "signing_key_id": self.signing_key_id,
                               "issued_at_ms": self.issued_at_ms,
                               "encryption_keys": keys(self.encryption_keys)}
        if self.version >= 2:
            doc.update(version=self.version, hybrid_keys=keys(self.hybrid_keys),
                       envelope_versions=list(self.envelope_versions))
            if self.discover_filter is not None:
                doc["discover_filter"] = self.discover_filter.to_doc()
        return doc

    def current_key(self, now_ms: int) -> PublishedKey:
        """The X25519 key to seal to now: of the keys still valid, the one valid the longest."""
        key = _valid_longest(self.encryption_keys, now_ms)
        if key is None:
            raise ProtocolError(f"{self.node_id} publishes no encryption key valid now",
                                code=ErrorCode.EXPIRED)
        return key

    def current_hybrid_key(self, now_ms: int) -> PublishedKey | None:
        """The hybrid key to seal to now, if the node publishes one that is still valid."""
        return _valid_longest(self.hybrid_keys, now_ms)

    def seal_target(self, now_ms: int) -> SealTarget:
        """The strongest suite this document offers now, and the newest envelope version
        both sides speak (a version 1 document gets version 1, X25519)."""
        hybrid = self.current_hybrid_key(now_ms)
        if hybrid is not None and 2 in self.envelope_versions:
            return SealTarget(hybrid, HYBRID, 2)
        version = 2 if 2 in self.envelope_versions else 1
        return SealTarget(self.current_key(now_ms), X25519, version)


def sign_key_document(doc: KeyDocument, signing_key: SigningKey) -> bytes:
    return _signed(doc.to_doc(), signing_key, CONTEXTS[("key document", doc.version)])


def _published(r: Reader, field: str, kind: str, suite: str, *,
               min_len: int) -> tuple[PublishedKey, ...]:
    items = r.array(field, min_len=min_len, max_len=MAX_ENCRYPTION_KEYS)
    keys = []
    for i, item in enumerate(items):
        k = Reader(item, f"key document.{field}[{i}]")
        pk = PublishedKey(k.text("key_id", pattern=KEY_ID_RE, max_len=16),
                          _public(k.get("public"), k.path("public"), kind=kind),
                          k.integer("valid_until_ms"), suite)
        k.done()
        if key_id(pk.public, kind=kind) != pk.key_id:
            raise MalformedMessage(f"{k.where}.key_id: does not match the public key")
        keys.append(pk)
    return tuple(keys)


def verify_key_document(data: bytes, signing_public: bytes, *, node_id: str,
                        now_ms: int) -> KeyDocument:
    """Check signature, node id, key ids and that one key is valid at `now_ms`."""
    r, version = _open_signed(data, signing_public, "key document")
    keys = _published(r, "encryption_keys", "x25519", X25519, min_len=1)
    v2: dict[str, Any] = {}
    if version >= 2:
        versions = r.array("envelope_versions", min_len=1, max_len=4)
        v2 = dict(hybrid_keys=_published(r, "hybrid_keys", "mlkem768x25519", HYBRID,
                                         min_len=0),
                  envelope_versions=tuple(
                      as_int(v, f"key document.envelope_versions[{i}]", min_value=1,
                             max_value=255) for i, v in enumerate(versions)),
                  version=version,
                  discover_filter=(FilterInfo.read(r.sub("discover_filter"))
                                   if r.opt("discover_filter") else None))
    doc = KeyDocument(r.node_id("node_id"), r.text("signing_key_id", pattern=KEY_ID_RE,
                                                   max_len=16),
                      r.integer("issued_at_ms"), keys, raw=bytes(data), **v2)
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
    """What `statenode keys show --json` prints for enrollment in the directory.

    The last five fields are new in this release (a version 2 directory entry); an
    authority one release behind refuses them, so `keys show --json --legacy` leaves them
    out."""

    node_id: str
    name: str
    endpoints: tuple[str, ...]
    signing_key: bytes
    key_id: str
    #: SHA-256 of the TLS certificate's SPKI (node.directory.tls_pinning)
    tls_cert_sha256: bytes | None = None
    log_origin: str | None = None
    witness_name: str | None = None
    witness_key: bytes | None = None
    features: tuple[str, ...] = ()
    oprf_key: bytes | None = None

    def to_dict(self, *, legacy: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "node_id": self.node_id, "name": self.name, "endpoints": list(self.endpoints),
            "signing_key": base64.b64encode(self.signing_key).decode(), "key_id": self.key_id}
        if self.tls_cert_sha256 is not None:
            d["tls_cert_sha256"] = self.tls_cert_sha256.hex()
        if not legacy:
            if self.log_origin is not None:
                d["log_origin"] = self.log_origin
            if self.witness_key is not None:
                d["witness_name"] = self.witness_name
                d["witness_key"] = base64.b64encode(self.witness_key).decode()
            if self.features:
                d["features"] = list(self.features)
            if self.oprf_key is not None:
                d["oprf_key"] = base64.b64encode(self.oprf_key).decode()
        return d

    def to_json(self, *, legacy: bool = False) -> str:
        return json.dumps(self.to_dict(legacy=legacy), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> NodeInfo:
        """Parse and validate; MalformedMessage names the bad field."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise MalformedMessage(f"node info: not valid JSON ({exc})") from exc
        r = Reader(data, "node info")
        public = _b64_key(r.text("signing_key", max_len=64), "node info.signing_key")
        pin = r.opt_text("tls_cert_sha256", pattern=PIN_RE, max_len=64)
        witness = r.opt_text("witness_key", max_len=64)
        oprf = r.opt_text("oprf_key", max_len=64)
        info = cls(as_node_id(r.get("node_id"), "node info.node_id"),
                   r.text("name", max_len=100), _endpoints(r),
                   _public(public, "node info.signing_key"),
                   r.text("key_id", pattern=KEY_ID_RE, max_len=16),
                   bytes.fromhex(pin) if pin else None,
                   log_origin=_note_name(r, "log_origin"),
                   witness_name=_note_name(r, "witness_name"),
                   witness_key=None if witness is None else _public(
                       _b64_key(witness, "node info.witness_key"), "node info.witness_key"),
                   features=_features(r),
                   oprf_key=None if oprf is None else _public(
                       _b64_key(oprf, "node info.oprf_key"), "node info.oprf_key",
                       kind="ristretto255"))
        r.done()
        if key_id(info.signing_key) != info.key_id:
            raise MalformedMessage("node info.key_id: does not match signing_key")
        if (info.witness_name is None) != (info.witness_key is None):
            raise MalformedMessage("node info: witness_name and witness_key come together")
        if info.witness_key is not None and info.witness_key == info.signing_key:
            raise MalformedMessage("node info.witness_key: must not be the signing key")
        return info


def _b64_key(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessage(f"{where}: not base64") from exc
