"""Key documents: peers' encryption keys (fetched, verified, cached) and our own.

Spec: DESIGN.md "Identities and keys" (the short-lived X25519 key published in
a key document signed by the node's own signing key, so it can rotate without
the authority); PROTOCOL-ANCHORS.md §2.1 (Matrix: a node's key document signed
by its own key, cached until `valid_until`).

- `PeerKeyCache`    peers' encryption keys from `GET {endpoint}/federation/v1/keys`,
                    verified with the directory's signing key(s) of that peer.
- `fetch_key_document`, `verify_peer_key_document` the two steps, also used by
                    LAN discovery.
- `KeyRing`         our own current keys (swapped by the rotation job) and key
                    document (`own_key_document`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from config.schema import NodeConfig
from node import clock
from node.directory.client import read_capped
from node.directory.identity import NodeKeys, load_keys, rotate_if_due
from node.errors import PeerUnavailable
from protocol.directory import (
    DirectoryEntry,
    KeyDocument,
    PublishedKey,
    sign_key_document,
    verify_key_document,
)
from protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger("statenode.directory")

KEYS_PATH = "/federation/v1/keys"


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

    def invalidate(self, node_id: str) -> None:
        self._docs.pop(node_id, None)

    def forget_stale(self) -> int:
        """Drop cached documents older than `max_age` (retention); return how many."""
        now = self.now()
        stale = [p for p, doc in self._docs.items() if now - doc.fetched_at > self.max_age]
        for peer in stale:
            del self._docs[peer]
        return len(stale)

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
                data = await fetch_key_document(session, endpoint, timeout=self.timeout)
                doc, public = verify_peer_key_document(data, entry, now_ms=now_ms)
            except (PeerUnavailable, ProtocolError) as exc:
                errors.append(f"{endpoint}: {exc}")
                continue
            self._docs[entry.node_id] = _CachedDoc(doc, public, self.now())
            return doc
        raise PeerUnavailable(f"cannot get a valid key document from {entry.node_id}: "
                              + "; ".join(errors))

    async def encryption_key(self, session: aiohttp.ClientSession, entry: DirectoryEntry,
                             now_ms: int) -> PublishedKey:
        """The peer's encryption key to seal to now (fetched and verified when needed)."""
        doc = await self.key_document(session, entry, now_ms)
        return doc.current_key(now_ms)


async def fetch_key_document(session: aiohttp.ClientSession, endpoint: str, *,
                             timeout: float, ssl: Any = True) -> bytes:
    """The raw key document at `endpoint` (`ssl`: aiohttp's, e.g. a
    `node.directory.tls_pinning.SpkiPin`)."""
    url = endpoint.rstrip("/") + KEYS_PATH
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout),
                               ssl=ssl) as resp:
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


def own_key_document(cfg: NodeConfig, keys: NodeKeys, now: float) -> bytes:
    """Our key document: `keys.published(now)` signed with our signing key."""
    doc = KeyDocument(
        node_id=cfg.node.id, signing_key_id=keys.signing.key_id,
        issued_at_ms=int(now * 1000),
        encryption_keys=tuple(
            PublishedKey(e.key_id, keys.encryption[e.key_id].public, int(e.valid_until * 1000))
            for e in keys.published(now)))
    return sign_key_document(doc, keys.signing)


class KeyRing:
    """Our keys as they are now; the rotation job swaps `keys` (a started app is frozen)."""

    def __init__(self, cfg: NodeConfig, keys: NodeKeys) -> None:
        self.cfg = cfg
        self.keys = keys

    def key_document(self, now: float | None = None) -> bytes:
        return own_key_document(self.cfg, self.keys, clock.now() if now is None else now)

    async def rotate(self, now: float | None = None) -> bool:
        """Rotation job body: rotate keys when due and reload them; True if they changed."""
        changed = await asyncio.to_thread(rotate_if_due, self.cfg, now=now)
        if changed:
            self.keys = await asyncio.to_thread(load_keys, self.cfg)
            log.info("encryption keys rotated; key document now lists %s",
                     ", ".join(e.key_id for e in self.keys.published(now or clock.now())))
        return changed
