"""Key documents: peers' encryption keys (fetched, verified, cached) and our own.

Spec: DESIGN.md "Identities and keys" (the short-lived X25519 key published in
a key document signed by the node's own signing key, so it can rotate without
the authority); PROTOCOL-ANCHORS.md §2.1 (Matrix: a node's key document signed
by its own key, cached until `valid_until`).

- `PeerKeyCache`    peers' encryption keys from `GET {endpoint}/federation/v2/keys`
                    (a version 2 document with hybrid keys), or `/federation/v1/keys`
                    when the peer answers 404 there (a node one release behind),
                    verified with the directory's signing key(s) of that peer.
                    `seal_target` says how to seal to a peer now (key, suite, envelope
                    version); `requires_hybrid` whether a peer's X25519 message would be
                    a downgrade.
- `fetch_key_document`, `verify_peer_key_document` the two steps, also used by
                    LAN discovery.
- `KeyRing`         our own current keys (swapped by the rotation job) and key
                    documents (`own_key_document`, one per version; version 2 names our
                    current discover filter, `KeyRing.discover`, set by the rebuild job).

Negotiation (DESIGN.md "Upgrades"): a node uses the hybrid suite with every peer whose
key document offers a hybrid key, X25519 otherwise. A peer that once served a version 2
document, or whose directory entry lists `FEATURE_HYBRID`, is never again accepted
with only a version 1 document (a "404" on the version 2 path is then an attack or a
fault, not an older node): the fallback cannot be used to force a downgrade.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from config.schema import NodeConfig
from crypto.seal import HYBRID
from node import clock
from node.directory.client import read_capped
from node.directory.identity import NodeKeys, load_keys, rotate_if_due
from node.errors import PeerUnavailable
from protocol.directory import (
    FEATURE_HYBRID,
    DirectoryEntry,
    KeyDocument,
    PublishedKey,
    SealTarget,
    sign_key_document,
    verify_key_document,
)
from protocol.discover_signed import FilterInfo
from protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger("statenode.directory")

KEYS_PATH = "/federation/v1/keys"
KEYS_PATH_V2 = "/federation/v2/keys"


class KeyDocumentMissing(PeerUnavailable):
    """The peer answered 404 for a key document version (it does not serve it)."""


@dataclass
class _CachedDoc:
    doc: KeyDocument
    verified_with: bytes
    fetched_at: float


@dataclass
class PeerKeyCache:
    """Peers' verified key documents, cached until the chosen key's `valid_until`."""

    timeout: float = 5.0
    max_age: float = 3600.0
    now: Callable[[], float] = clock.now
    _docs: dict[str, _CachedDoc] = field(default_factory=dict)
    #: peers that served a version 2 key document with a hybrid key (the ratchet)
    _hybrid_seen: set[str] = field(default_factory=set)

    def invalidate(self, node_id: str) -> None:
        self._docs.pop(node_id, None)

    def forget_stale(self) -> int:
        """Drop cached documents older than `max_age` (retention); return how many."""
        now = self.now()
        stale = [p for p, doc in self._docs.items() if now - doc.fetched_at > self.max_age]
        for peer in stale:
            del self._docs[peer]
        return len(stale)

    def cached(self, node_id: str) -> KeyDocument | None:
        c = self._docs.get(node_id)
        return None if c is None else c.doc

    def requires_hybrid(self, entry: DirectoryEntry | None, node_id: str) -> bool:
        """Whether `node_id` publishes hybrid keys, as far as we know without fetching:
        its directory entry says so, or it served us a hybrid key before."""
        if entry is not None and entry.has(FEATURE_HYBRID):
            return True
        doc = self.cached(node_id)
        return node_id in self._hybrid_seen or (doc is not None and bool(doc.hybrid_keys))

    async def key_document(self, session: aiohttp.ClientSession, entry: DirectoryEntry,
                           now_ms: int) -> KeyDocument:
        cached = self._docs.get(entry.node_id)
        if (cached is not None and cached.verified_with in entry.signing_keys()
                and self.now() - cached.fetched_at < self.max_age):
            try:
                cached.doc.current_key(now_ms)
                return cached.doc
            except ProtocolError:
                pass
        errors = []
        for endpoint in entry.endpoints:
            try:
                doc, public = await self._fetch(session, entry, endpoint, now_ms)
            except (PeerUnavailable, ProtocolError) as exc:
                errors.append(f"{endpoint}: {exc}")
                continue
            self._docs[entry.node_id] = _CachedDoc(doc, public, self.now())
            if doc.hybrid_keys:
                self._hybrid_seen.add(entry.node_id)
            return doc
        raise PeerUnavailable(f"cannot get a valid key document from {entry.node_id}: "
                              + "; ".join(errors))

    async def _fetch(self, session: aiohttp.ClientSession, entry: DirectoryEntry,
                     endpoint: str, now_ms: int) -> tuple[KeyDocument, bytes]:
        """The version 2 document, or version 1 from a peer that has no version 2 path."""
        try:
            data = await fetch_key_document(session, endpoint, timeout=self.timeout,
                                            path=KEYS_PATH_V2)
        except KeyDocumentMissing:
            if self.requires_hybrid(entry, entry.node_id):
                raise PeerUnavailable(
                    f"{entry.node_id} has no version 2 key document at {endpoint}, but it "
                    "published hybrid keys before (or its directory entry says it does): "
                    "refusing to fall back to X25519") from None
            data = await fetch_key_document(session, endpoint, timeout=self.timeout)
        doc, public = verify_peer_key_document(data, entry, now_ms=now_ms)
        if doc.version < 2 and self.requires_hybrid(entry, entry.node_id):
            raise PeerUnavailable(f"{entry.node_id} served a version 1 key document at "
                                  f"{endpoint}{KEYS_PATH_V2}: refusing a downgrade")
        return doc, public

    async def encryption_key(self, session: aiohttp.ClientSession, entry: DirectoryEntry,
                             now_ms: int) -> PublishedKey:
        """The peer's X25519 key to seal to now (fetched and verified when needed)."""
        doc = await self.key_document(session, entry, now_ms)
        return doc.current_key(now_ms)

    async def seal_target(self, session: aiohttp.ClientSession, entry: DirectoryEntry,
                          now_ms: int) -> SealTarget:
        """Key, suite and envelope version to seal to the peer now: hybrid whenever its key
        document offers a hybrid key (PeerUnavailable when it should but does not)."""
        doc = await self.key_document(session, entry, now_ms)
        target = doc.seal_target(now_ms)
        if target.suite != HYBRID and self.requires_hybrid(entry, entry.node_id):
            self.invalidate(entry.node_id)  # a cached document older than what we know
            doc = await self.key_document(session, entry, now_ms)
            target = doc.seal_target(now_ms)
        if target.suite != HYBRID and self.requires_hybrid(entry, entry.node_id):
            raise PeerUnavailable(f"{entry.node_id} publishes no hybrid key valid now but "
                                  "did before (or its directory entry says it does); "
                                  "refusing to seal with X25519")
        return target


async def fetch_key_document(session: aiohttp.ClientSession, endpoint: str, *,
                             timeout: float, ssl: Any = True, path: str = KEYS_PATH) -> bytes:
    """The raw key document at `endpoint` (`ssl`: aiohttp's, e.g. a
    `node.directory.tls_pinning.SpkiPin`); KeyDocumentMissing on 404."""
    url = endpoint.rstrip("/") + path
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout),
                               ssl=ssl) as resp:
            if resp.status == 404:
                raise KeyDocumentMissing(f"{url} answered HTTP 404")
            if resp.status != 200:
                raise PeerUnavailable(f"{url} answered HTTP {resp.status}")
            return await read_capped(resp)
    except aiohttp.ServerFingerprintMismatch:
        raise PeerUnavailable(f"{url} presented a TLS certificate that does not match the "
                              "directory pin") from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise PeerUnavailable(f"{url}: {type(exc).__name__} {exc}".rstrip()) from exc


def verify_peer_key_document(data: bytes, entry: DirectoryEntry, *,
                             now_ms: int) -> tuple[KeyDocument, bytes]:
    """Verify with the entry's current then next signing key; return (doc, key used)."""
    last: ProtocolError | None = None
    for public in entry.signing_keys():
        try:
            return verify_key_document(data, public, node_id=entry.node_id, now_ms=now_ms), public
        except ProtocolError as exc:
            last = exc
            if exc.code is not ErrorCode.BAD_SIGNATURE:
                break
    assert last is not None
    raise last


def own_key_document(cfg: NodeConfig, keys: NodeKeys, now: float, *, version: int = 1,
                     discover: FilterInfo | None = None) -> bytes:
    """Our key document in `version`: `keys.published(now)` (and, in version 2, the
    hybrid keys, the envelope versions we open and our discover filter) signed with our
    signing key."""
    doc = KeyDocument(
        node_id=cfg.node.id, signing_key_id=keys.signing.key_id,
        issued_at_ms=int(now * 1000),
        encryption_keys=tuple(
            PublishedKey(e.key_id, keys.encryption[e.key_id].public, int(e.valid_until * 1000))
            for e in keys.published(now)),
        hybrid_keys=tuple(
            PublishedKey(e.key_id, keys.hybrid[e.key_id].public, int(e.valid_until * 1000),
                         HYBRID) for e in keys.published_hybrid(now)) if version >= 2 else (),
        envelope_versions=(1, 2) if version >= 2 else (1,),
        version=version,
        discover_filter=discover if version >= 2 and cfg.discover.enabled else None)
    return sign_key_document(doc, keys.signing)


class KeyRing:
    """Our keys as they are now; the rotation job swaps `keys` (a started app is frozen)."""

    def __init__(self, cfg: NodeConfig, keys: NodeKeys) -> None:
        self.cfg = cfg
        self.keys = keys
        #: our published discover filter (None until the first rebuild, or discover off)
        self.discover: FilterInfo | None = None

    def key_document(self, now: float | None = None, *, version: int = 1) -> bytes:
        return own_key_document(self.cfg, self.keys, clock.now() if now is None else now,
                                version=version, discover=self.discover)

    async def rotate(self, now: float | None = None) -> bool:
        """Rotation job body: rotate keys when due and reload them; True if they changed."""
        changed = await asyncio.to_thread(rotate_if_due, self.cfg, now=now)
        if changed:
            self.keys = await asyncio.to_thread(load_keys, self.cfg)
            at = now or clock.now()
            log.info("encryption keys rotated; key documents now list %s",
                     ", ".join(e.key_id for e in (*self.keys.published(at),
                                                  *self.keys.published_hybrid(at))))
        return changed
