"""The node's view of the federation directory: the signed snapshot it trusts.

Spec: DESIGN.md "Identities and keys" and "Discovery"; PROTOCOL-ANCHORS.md §1.2
(X-Road: verify the signed directory with the trust anchor, accept only a
newer one, refuse it once expired) and §5.1 items 1-3, 17 and 19 (degraded
mode: keep working on the cached copy until it expires).

- `DirectoryView`   the last good snapshot (loaded from and saved atomically to
                    `directory.cache_file`), refreshed from `directory.urls` and
                    then from peers (any node is a mirror).

Two snapshot versions (DESIGN.md "Upgrades"; `protocol.directory`): the view asks each
source for version 2 (`/federation/v2/directory`: log origins, witness keys, features)
and falls back to version 1 when the source answers 404 (an authority or mirror one
release behind). Version 2 is cached beside the version 1 file (`directory.v2.msgpack`
next to `directory.msgpack`); the version 1 bytes of the same serial are kept too, so
this node still mirrors version 1 to nodes one release behind.
- `authority_public_key(cfg)` the trust anchor; `directory_url(base)` and
  `read_capped(resp)` for fetching documents (also used by node.directory.key_documents).

Peers' key documents and our own live in node.directory.key_documents; the served
routes, app keys and jobs in node.directory.routes.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from config.errors import ConfigError
from config.schema import NodeConfig
from crypto.keys import check_public_key
from node import clock
from node.errors import NodeError, PeerUnavailable
from node.file_modes import open_private
from protocol.codec import unpack
from protocol.directory import DirectoryEntry, DirectorySnapshot, verify_snapshot
from protocol.errors import EnvelopeRejected, ErrorCode, ProtocolError

log = logging.getLogger("statenode.directory")

DIRECTORY_PATH = "/federation/v1/directory"
DIRECTORY_PATH_V2 = "/federation/v2/directory"
MAX_DOCUMENT = 1024 * 1024



class DirectoryUnavailable(NodeError):
    """No trusted, unexpired directory snapshot: federation traffic is refused."""

    status = 503


def _iso(ms: int | float | None) -> str | None:
    if ms is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def directory_url(base: str, version: int = 1) -> str:
    """`http://host:port` (or a full URL ending in a directory path) → the URL of the
    directory snapshot of `version`."""
    base = base.rstrip("/")
    for path in (DIRECTORY_PATH, DIRECTORY_PATH_V2):
        if base.endswith(path):
            base = base[: -len(path)]
    return base + (DIRECTORY_PATH_V2 if version >= 2 else DIRECTORY_PATH)


def v2_cache_file(cfg: NodeConfig) -> Path:
    """Where the version 2 snapshot is cached, beside `directory.cache_file`."""
    return cfg.directory.cache_file_v2


def authority_public_key(cfg: NodeConfig) -> bytes | None:
    """The trust anchor from `directory.authority_key`; None when not configured yet."""
    text = cfg.directory.authority_key.strip()
    if not text:
        return None
    where = str(cfg.config_path)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("not base64", path=where, key="directory.authority_key") from exc
    try:
        check_public_key(raw, what="directory.authority_key")
    except Exception as exc:  # KeyFileError: wrong length or not a point
        raise ConfigError(str(exc), path=where, key="directory.authority_key") from exc
    return raw


async def read_capped(resp: aiohttp.ClientResponse, limit: int = MAX_DOCUMENT) -> bytes:
    """The whole body, refusing more than `limit` bytes."""
    if resp.content_length is not None and resp.content_length > limit:
        raise PeerUnavailable(f"{resp.url}: answer of {resp.content_length} bytes is too large")
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(65536):
        buf += chunk
        if len(buf) > limit:
            raise PeerUnavailable(f"{resp.url}: answer larger than {limit} bytes")
    return bytes(buf)


def _peek_serial(data: bytes) -> int | None:
    """The serial field of a signed snapshot (only after its signature was checked)."""
    try:
        serial = unpack(unpack(data)["doc"])["serial"]
    except (ProtocolError, KeyError, TypeError):
        return None
    return serial if isinstance(serial, int) else None


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open_private(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class _Refresh:
    at: float | None = None
    ok: bool | None = None
    source: str | None = None
    error: str | None = None
    accepted_serial: int | None = None


@dataclass
class _StaleInfo:
    """An authentic but expired snapshot: shown in status, used only to find mirrors."""

    serial: int
    expires_at_ms: int
    entries: tuple[DirectoryEntry, ...] = ()


class DirectoryView:
    """The node's trusted directory snapshot and how it got it."""

    def __init__(self, cfg: NodeConfig, *, now: Callable[[], float] = clock.now) -> None:
        self.cfg = cfg
        self._now = now
        self.authority = authority_public_key(cfg)
        self.snapshot: DirectorySnapshot | None = None
        #: version 1 bytes of the current serial, mirrored to nodes one release behind
        self.v1_raw: bytes | None = None
        self.stale: _StaleInfo | None = None
        self.last = _Refresh()
        self._warned_serial: int | None = None

    # ---- loading and refreshing --------------------------------------------
    def now_ms(self) -> int:
        return int(self._now() * 1000)

    def _stale_from(self, data: bytes) -> _StaleInfo | None:
        """Serial and expiry of an expired snapshot whose signature did verify."""
        try:
            doc = unpack(unpack(data)["doc"])
            snap = verify_snapshot(data, self.authority or b"", now_ms=doc["expires_at_ms"] - 1,
                                   max_skew_ms=2**62)
        except (ProtocolError, KeyError, TypeError):
            return None
        return _StaleInfo(snap.serial, snap.expires_at_ms, snap.entries)

    def load_cache(self) -> None:
        """Read the cached snapshots at startup; an expired or bad cache is not trusted."""
        for path in (self.cfg.directory.cache_file, v2_cache_file(self.cfg)):
            self._load_one(path)

    def _load_one(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            self.last.error = f"cannot read {path} ({exc.strerror})"
            log.warning("directory cache unreadable: %s", self.last.error)
            return
        if self.authority is None:
            self.last.error = "directory.authority_key is not set in node.toml"
            return
        try:
            snap = verify_snapshot(data, self.authority, now_ms=self.now_ms())
        except ProtocolError as exc:
            if self.snapshot is None and exc.code is ErrorCode.DIRECTORY_EXPIRED:
                self.stale = self._stale_from(data)
            self.last.error = f"cached snapshot {path} not usable: {exc}"
            log.warning("directory cache not trusted: %s", exc)
            return
        self._keep(snap)

    def _keep(self, snap: DirectorySnapshot) -> None:
        """Hold `snap` if it is newer, or the same serial in a newer version."""
        cur = self.snapshot
        if snap.version == 1 and (cur is None or cur.serial <= snap.serial):
            self.v1_raw = snap.raw
        if cur is None or (snap.serial, snap.version) > (cur.serial, cur.version):
            if cur is not None and snap.serial > cur.serial and snap.version > 1:
                self.v1_raw = None  # the version 1 bytes of the old serial are outdated
            self.snapshot, self.stale = snap, None

    def known_serial(self) -> int | None:
        if self.snapshot is not None:
            return self.snapshot.serial
        return self.stale.serial if self.stale else None

    def sources(self) -> list[str]:
        """Directory URLs in order, then every known peer's mirror path (not ours)."""
        urls = [directory_url(u) for u in self.cfg.directory.urls]
        entries = self.snapshot.entries if self.snapshot else (
            self.stale.entries if self.stale else ())
        for e in entries:
            if e.node_id != self.cfg.node.id and e.status == "active":
                urls.extend(directory_url(ep) for ep in e.endpoints)
        return list(dict.fromkeys(urls))

    def accept(self, data: bytes, *, source: str = "") -> bool:
        """Verify `data` and keep it if newer (a newer serial, or the same serial in version
        2); False when not newer; ProtocolError if bad."""
        if self.authority is None:
            raise DirectoryUnavailable("directory.authority_key is not set in node.toml")
        known = self.known_serial()
        try:
            snap = verify_snapshot(data, self.authority, now_ms=self.now_ms(),
                                   previous_serial=known)
        except ProtocolError as exc:
            if exc.code is not ErrorCode.REPLAY or _peek_serial(data) != known:
                raise
            # the same serial: up to date, unless it brings version 2 or our missing v1
            snap = verify_snapshot(data, self.authority, now_ms=self.now_ms())
            cur = self.snapshot
            if cur is None or not (snap.version > cur.version
                                   or (snap.version == 1 and self.v1_raw is None)):
                return False
        before = self.snapshot
        self._keep(snap)
        path = v2_cache_file(self.cfg) if snap.version >= 2 else self.cfg.directory.cache_file
        _atomic_write(path, snap.raw)
        if self.snapshot is before:
            return False  # only the version 1 copy for mirroring changed
        log.info("directory serial %d (version %d) accepted from %s (%d entries, expires %s)",
                 snap.serial, snap.version, source or "a peer", len(snap.entries),
                 _iso(snap.expires_at_ms))
        return True

    async def _get(self, session: aiohttp.ClientSession, url: str,
                   timeout: aiohttp.ClientTimeout) -> bytes | None:
        """The body at `url`; None on 404 (the source does not serve that version)."""
        async with session.get(url, timeout=timeout) as resp:
            if resp.status == 404:
                return None
            if resp.status != 200:
                raise PeerUnavailable(f"HTTP {resp.status}")
            return await read_capped(resp)

    async def _fetch_and_accept(self, session: aiohttp.ClientSession, url: str,
                                timeout: aiohttp.ClientTimeout) -> bool:
        """Version 2 from the source, else version 1; with version 2 also the version 1
        copy of the same serial, for mirroring. True if a newer snapshot was kept."""
        data = await self._get(session, directory_url(url, 2), timeout)
        if data is None:
            data = await self._get(session, directory_url(url, 1), timeout)
            if data is None:
                raise PeerUnavailable("HTTP 404")
            return self.accept(data, source=url)
        newer = self.accept(data, source=url)
        snap = self.snapshot
        if snap is not None and snap.version >= 2 and self.v1_raw is None:
            try:
                v1 = await self._get(session, directory_url(url, 1), timeout)
                if v1 is not None and _peek_serial(v1) == snap.serial:
                    self.accept(v1, source=url)
            except (TimeoutError, aiohttp.ClientError, OSError, ProtocolError,
                    NodeError) as exc:
                log.info("no version 1 copy of directory serial %d from %s: %s",
                         snap.serial, url, exc)
        return newer

    async def refresh(self, session: aiohttp.ClientSession) -> bool:
        """Try each source until one answers a valid snapshot; True if a newer one was kept."""
        self.last = _Refresh(at=self._now())
        errors: list[str] = []
        timeout = aiohttp.ClientTimeout(total=self.cfg.peers.timeout)
        authority = {directory_url(u) for u in self.cfg.directory.urls}
        answered: str | None = None
        for url in self.sources():
            try:
                newer = await self._fetch_and_accept(session, url, timeout)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                errors.append(f"{url}: {type(exc).__name__} {exc}".rstrip())
                continue
            except (ProtocolError, NodeError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            if not newer and url not in authority:
                # a mirror with nothing newer: other mirrors may hold a newer snapshot
                answered = answered or url
                continue
            self.last.ok, self.last.source = True, url
            self.last.accepted_serial = self.snapshot.serial if newer and self.snapshot else None
            self.last.error = "; ".join(errors) or None  # sources that failed before this one
            self._warn_if_expiring()
            return newer
        if answered is not None:  # only mirrors answered, none with anything newer
            self.last.ok, self.last.source = True, answered
            self.last.error = "; ".join(errors) or None
            self._warn_if_expiring()
            return False
        self.last.ok = False
        self.last.error = "; ".join(errors) or "no directory URL configured and no known peers"
        log.warning("directory refresh failed: %s", self.last.error)
        self._warn_if_expiring()
        return False

    def _warn_if_expiring(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        left = snap.expires_at_ms / 1000 - self._now()
        if left < self.cfg.directory.warn_before_expiry:
            log.warning("directory snapshot serial %d expires in %.0f s (at %s); "
                        "last refresh: %s", snap.serial, max(left, 0), _iso(snap.expires_at_ms),
                        "ok" if self.last.ok else (self.last.error or "not tried"))

    # ---- using it ----------------------------------------------------------
    def _reason(self, now_ms: int) -> str:
        failed = f"; last refresh failed: {self.last.error}" if self.last.error else ""
        snap = self.snapshot
        if snap is not None and now_ms >= snap.expires_at_ms:
            return (f"directory snapshot serial {snap.serial} expired at "
                    f"{_iso(snap.expires_at_ms)}{failed}")
        if self.stale is not None:
            return (f"directory snapshot serial {self.stale.serial} expired at "
                    f"{_iso(self.stale.expires_at_ms)}{failed}")
        if self.authority is None:
            return "directory.authority_key is not set in node.toml"
        return f"no directory snapshot yet (never refreshed successfully){failed}"

    def mirror_bytes(self, version: int, now_ms: int | None = None) -> bytes | None:
        """The signed bytes to serve at the `version` path (None: we have none to serve)."""
        snap = self.current(now_ms)
        if version >= 2:
            return snap.raw if snap.version >= 2 else None
        return snap.raw if snap.version == 1 else self.v1_raw

    def current(self, now_ms: int | None = None) -> DirectorySnapshot:
        """The trusted, unexpired snapshot, or DirectoryUnavailable with the reason."""
        now_ms = self.now_ms() if now_ms is None else now_ms
        snap = self.snapshot
        if snap is None or now_ms >= snap.expires_at_ms:
            raise DirectoryUnavailable(self._reason(now_ms))
        return snap

    def sender_keys(self, node_id: str, *, now_ms: int) -> tuple[bytes, ...]:
        """For `open_envelope(sender_key_lookup=lambda s: view.sender_keys(s, now_ms=now))`."""
        try:
            snap = self.current(now_ms)
        except DirectoryUnavailable as exc:
            raise EnvelopeRejected(str(exc), code=ErrorCode.DIRECTORY_EXPIRED) from exc
        return snap.sender_keys(node_id, now_ms=now_ms)

    def entry(self, node_id: str, *, now_ms: int | None = None) -> DirectoryEntry:
        """An active, in-date peer entry; DirectoryUnavailable or PeerUnavailable otherwise."""
        now_ms = self.now_ms() if now_ms is None else now_ms
        e = self.current(now_ms).entry(node_id)
        if e is None:
            raise PeerUnavailable(f"{node_id} is not in the directory")
        if e.status != "active" or now_ms > e.valid_until_ms:
            raise PeerUnavailable(f"{node_id} is {e.status if e.status != 'active' else 'expired'}"
                                  " in the directory")
        return e

    def peers(self, now_ms: int | None = None) -> list[DirectoryEntry]:
        """Active, in-date entries other than this node."""
        now_ms = self.now_ms() if now_ms is None else now_ms
        return [e for e in self.current(now_ms).entries
                if e.node_id != self.cfg.node.id and e.status == "active"
                and now_ms <= e.valid_until_ms]

    def status(self, now: float | None = None) -> dict[str, Any]:
        """For /healthz, `doctor` and the peers page (no student data)."""
        now = self._now() if now is None else now
        snap = self.snapshot
        out: dict[str, Any] = {
            "usable": False, "serial": None, "issued_at": None, "expires_at": None,
            "age_s": None, "expires_in_s": None, "warning": False, "entries": 0,
            "reason": None, "last_refresh_at": _iso(self.last.at * 1000) if self.last.at else None,
            "last_refresh_ok": self.last.ok, "last_refresh_source": self.last.source,
            "last_refresh_error": self.last.error,
        }
        if snap is not None:
            left = snap.expires_at_ms / 1000 - now
            out.update(serial=snap.serial, issued_at=_iso(snap.issued_at_ms),
                       expires_at=_iso(snap.expires_at_ms), entries=len(snap.entries),
                       age_s=round(now - snap.issued_at_ms / 1000, 1),
                       expires_in_s=round(left, 1), usable=left > 0,
                       warning=left < self.cfg.directory.warn_before_expiry)
        elif self.stale is not None:
            out.update(serial=self.stale.serial, expires_at=_iso(self.stale.expires_at_ms),
                       warning=True)
        if not out["usable"]:
            out["warning"] = True
            out["reason"] = self._reason(int(now * 1000))
        return out
