"""The federation authority's operations: its enrolled nodes and its signed snapshots.

Spec: DESIGN.md "Identities and keys" and "Discovery"; PROTOCOL-ANCHORS.md §1.2
(X-Road global configuration: a signed directory with a serial and an expiry
that clients refuse once passed) and §5.1 items 1, 2 and 17 (trust anchor,
revocation by directory status).

Works on a folder made by `node.authority.settings.init_authority` (which also
owns `directory.toml` and the key); this module owns the rest of it:

- `state.json`        serial of the last issued snapshot and every entry
- `snapshot.msgpack`  the exact signed bytes served to nodes (version 1)
- `snapshot.v2.msgpack` the same serial as a version 2 snapshot (log origins, witness
                      keys, features), served at `/federation/v2/directory`

Every change is made under an exclusive file lock (the CLI edits the folder
while `directory serve` runs), written atomically (temp file, fsync, rename)
and followed at once by a new snapshot with serial + 1. A snapshot is also
re-issued when it is within `reissue_before` of its expiry.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from crypto.errors import KeyFileError
from crypto.keys import SigningKey, check_public_key, key_id
from crypto.keys import load_signing_key as _load_signing_key
from node import clock
from node.authority.settings import AuthorityConfig, load_authority_config
from node.errors import BadRequest, Conflict, NotFound, StorageError
from node.file_modes import open_private
from protocol.directory import (
    MAX_RETIRED_KEYS,
    DirectoryEntry,
    DirectorySnapshot,
    EntryStatus,
    NodeInfo,
    sign_snapshot,
    verify_snapshot,
)
from protocol.errors import ProtocolError


class AuthorityError(BadRequest):
    """A directory operation was refused (unknown node, bad node-info file, final state)."""

    status = 400



def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def decode_public_key(text: str, *, what: str) -> bytes:
    """A raw Ed25519 public key from base64; AuthorityError names `what`."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        check_public_key(raw, what=what)
    except (binascii.Error, ValueError) as exc:
        raise AuthorityError(f"{what}: not base64") from exc
    except KeyFileError as exc:
        raise AuthorityError(str(exc)) from exc
    return raw


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open_private(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _entry_to_json(e: DirectoryEntry) -> dict[str, Any]:
    return {"node_id": e.node_id, "name": e.name, "endpoints": list(e.endpoints),
            "signing_key": _b64(e.signing_key), "key_id": e.key_id, "status": e.status,
            "valid_until_ms": e.valid_until_ms, "next_signing_key": _b64(e.next_signing_key),
            "tls_cert_sha256": e.tls_cert_sha256.hex() if e.tls_cert_sha256 else None,
            "retired_signing_keys": [{"public": _b64(k), "retired_at_ms": at}
                                     for k, at in e.retired_signing_keys],
            "log_origin": e.log_origin, "witness_name": e.witness_name,
            "witness_key": _b64(e.witness_key), "features": list(e.features),
            "oprf_key": _b64(e.oprf_key)}


def _entry_from_json(d: Any, where: str) -> DirectoryEntry:
    try:
        nxt = d.get("next_signing_key")
        return DirectoryEntry(
            node_id=d["node_id"], name=d["name"], endpoints=tuple(d["endpoints"]),
            signing_key=base64.b64decode(d["signing_key"]), key_id=d["key_id"],
            status=EntryStatus(d["status"]), valid_until_ms=int(d["valid_until_ms"]),
            next_signing_key=base64.b64decode(nxt) if nxt else None,
            tls_cert_sha256=bytes.fromhex(d["tls_cert_sha256"]) if d.get("tls_cert_sha256")
            else None,
            retired_signing_keys=tuple((base64.b64decode(r["public"]), int(r["retired_at_ms"]))
                                       for r in d.get("retired_signing_keys") or ()),
            # absent in a state.json written by the previous release
            log_origin=d.get("log_origin"), witness_name=d.get("witness_name"),
            witness_key=base64.b64decode(d["witness_key"]) if d.get("witness_key") else None,
            features=tuple(d.get("features") or ()),
            oprf_key=base64.b64decode(d["oprf_key"]) if d.get("oprf_key") else None)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StorageError(f"{where}: damaged entry ({exc!r})") from exc


class Authority:
    """Operations on one authority folder; each public method is one locked transaction."""

    def __init__(self, cfg: AuthorityConfig, *, now: Callable[[], float] = clock.now) -> None:
        self.cfg = cfg
        self._now = now
        self._key: SigningKey | None = None

    @classmethod
    def open(cls, config_path: str | Path, *, now: Callable[[], float] = clock.now) -> Authority:
        return cls(load_authority_config(config_path), now=now)

    def now_ms(self) -> int:
        return int(self._now() * 1000)

    # ---- keys, files, lock -------------------------------------------------
    @property
    def signing_key(self) -> SigningKey:
        if self._key is None:
            self._key = _load_signing_key(self.cfg.signing_key)
        return self._key

    @property
    def public_key(self) -> bytes:
        return self.signing_key.public

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.cfg.state_file.with_name(self.cfg.state_file.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"{lock_path}: cannot open lock file ({exc.strerror})") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read_state(self) -> tuple[int, dict[str, DirectoryEntry]]:
        path = self.cfg.state_file
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return 0, {}
        except (OSError, ValueError) as exc:
            raise StorageError(f"{path}: cannot read the directory state ({exc})") from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("serial"), int):
            raise StorageError(f"{path}: serial: missing or not an integer")
        entries = [_entry_from_json(d, f"{path}: entries[{i}]")
                   for i, d in enumerate(raw.get("entries", []))]
        return raw["serial"], {e.node_id: e for e in entries}

    def _write_state(self, serial: int, entries: dict[str, DirectoryEntry]) -> None:
        doc = {"serial": serial,
               "entries": [_entry_to_json(entries[k]) for k in sorted(entries)]}
        _atomic_write(self.cfg.state_file, json.dumps(doc, indent=2).encode())

    @property
    def snapshot_file_v2(self) -> Path:
        path = self.cfg.snapshot_file
        return path.with_name(f"{path.stem}.v2{path.suffix}")

    def _issue(self, serial: int, entries: dict[str, DirectoryEntry], *,
               version: int = 1) -> bytes:
        """Sign `entries` as snapshot `serial + 1` in both versions, then persist state and
        both snapshots; return the bytes of `version`."""
        now_ms = int(self._now() * 1000)
        snap = DirectorySnapshot(
            serial=serial + 1, issued_at_ms=now_ms,
            expires_at_ms=now_ms + int(self.cfg.snapshot_lifetime * 1000),
            entries=tuple(entries[k] for k in sorted(entries)))
        data = sign_snapshot(snap, self.signing_key)
        data_v2 = sign_snapshot(replace(snap, version=2), self.signing_key)
        self._write_state(serial + 1, entries)
        _atomic_write(self.snapshot_file_v2, data_v2)
        _atomic_write(self.cfg.snapshot_file, data)
        return data_v2 if version >= 2 else data

    def _change(self, fn: Callable[[dict[str, DirectoryEntry], int], None]) -> int:
        """Run `fn(entries, now_ms)` under the lock, then issue a new snapshot; return serial."""
        with self._locked():
            serial, entries = self._read_state()
            fn(entries, int(self._now() * 1000))
            self._issue(serial, entries)
            return serial + 1

    @staticmethod
    def _get(entries: dict[str, DirectoryEntry], node_id: str) -> DirectoryEntry:
        node_id = node_id.upper()
        if node_id not in entries:
            known = ", ".join(sorted(entries)) or "none"
            raise NotFound(f"node {node_id} is not enrolled in the directory (enrolled: {known})")
        return entries[node_id]

    # ---- operations --------------------------------------------------------
    def enroll_file(self, path: str | Path, *, replace: bool = False) -> tuple[NodeInfo, int]:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise AuthorityError(f"{path}: node-info file not found") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthorityError(f"{path}: cannot read node-info file ({exc})") from exc
        try:
            info = NodeInfo.from_json(text)
        except ProtocolError as exc:
            raise AuthorityError(f"{path}: {exc}") from exc
        return info, self.enroll(info, replace=replace)

    def enroll(self, info: NodeInfo, *, replace: bool = False) -> int:
        def apply(entries: dict[str, DirectoryEntry], now_ms: int) -> None:
            old = entries.get(info.node_id)
            if old is not None and not replace:
                raise Conflict(f"node {info.node_id} is already enrolled ({old.status}); "
                               "use --replace to replace its entry")
            if (old is not None and old.status == EntryStatus.REVOKED
                    and old.signing_key == info.signing_key):
                raise AuthorityError(f"node {info.node_id}: its signing key {info.key_id} was "
                                     "revoked; enroll it again only with a new key")
            if old is not None and any(info.signing_key == k for k, _ in
                                       old.retired_signing_keys):
                raise AuthorityError(f"node {info.node_id}: the signing key {info.key_id} was "
                                     "retired before; enroll it with a newly generated key")
            retired = _retired_after_replace(old, info.signing_key, now_ms)
            if info.witness_key is not None and any(info.witness_key == k
                                                    for k, _ in retired):
                raise AuthorityError(f"node {info.node_id}: the witness key was a signing "
                                     "key of this node; use a separate key")
            origins = {o for e in entries.values() if e.node_id != info.node_id
                       for o in e.log_origins()}
            for origin in (info.log_origin, info.node_id):
                if origin in origins:
                    raise AuthorityError(f"node {info.node_id}: log origin {origin!r} is "
                                         "already another node's")
            entries[info.node_id] = DirectoryEntry(
                node_id=info.node_id, name=info.name, endpoints=info.endpoints,
                signing_key=info.signing_key, key_id=info.key_id, status=EntryStatus.ACTIVE,
                valid_until_ms=now_ms + int(self.cfg.entry_lifetime * 1000),
                tls_cert_sha256=info.tls_cert_sha256,
                retired_signing_keys=retired, log_origin=info.log_origin,
                witness_name=info.witness_name, witness_key=info.witness_key,
                features=info.features, oprf_key=info.oprf_key)
        return self._change(apply)

    def _set_status(self, node_id: str, status: EntryStatus) -> int:
        def apply(entries: dict[str, DirectoryEntry], now_ms: int) -> None:
            e = self._get(entries, node_id)
            if e.status == EntryStatus.REVOKED:
                raise AuthorityError(f"node {e.node_id} is revoked; revocation is final "
                                     "(enroll it again with a new key and --replace)")
            if e.status == status:
                raise AuthorityError(f"node {e.node_id} is already {status}")
            entries[e.node_id] = _with(e, status=status)
        return self._change(apply)

    def suspend(self, node_id: str) -> int:
        return self._set_status(node_id, EntryStatus.SUSPENDED)

    def reinstate(self, node_id: str) -> int:
        return self._set_status(node_id, EntryStatus.ACTIVE)

    def revoke(self, node_id: str) -> int:
        return self._set_status(node_id, EntryStatus.REVOKED)

    def set_endpoints(self, node_id: str, endpoints: list[str]) -> int:
        from protocol.directory import URL_RE

        if not 1 <= len(endpoints) <= 8:
            raise AuthorityError("give between 1 and 8 endpoints")
        for url in endpoints:
            if not URL_RE.fullmatch(url):
                raise AuthorityError(f"endpoint {url!r} is not a URL like http://host:port")

        def apply(entries: dict[str, DirectoryEntry], now_ms: int) -> None:
            e = self._get(entries, node_id)
            entries[e.node_id] = _with(e, endpoints=tuple(endpoints))
        return self._change(apply)

    def announce_key(self, node_id: str, next_key_b64: str) -> int:
        """Publish a node's next signing key; peers accept both until `promote_key`."""
        public = decode_public_key(next_key_b64, what="--next-signing-key")

        def apply(entries: dict[str, DirectoryEntry], now_ms: int) -> None:
            e = self._get(entries, node_id)
            if e.status == EntryStatus.REVOKED:
                raise AuthorityError(f"node {e.node_id} is revoked; revocation is final")
            if public == e.signing_key:
                raise AuthorityError(f"node {e.node_id}: the next key is the current key")
            if any(public == k for k, _ in e.retired_signing_keys):
                raise AuthorityError(f"node {e.node_id}: the next key {key_id(public)} was "
                                     "retired before; announce a newly generated key")
            entries[e.node_id] = _with(e, next_signing_key=public)
        return self._change(apply)

    def promote_key(self, node_id: str) -> int:
        """Make the announced next key the node's only signing key. The old key moves to
        `retired_signing_keys` (retired now; the newest MAX_RETIRED_KEYS are kept), so
        auditors can still verify what it signed before; peers no longer accept it."""
        def apply(entries: dict[str, DirectoryEntry], now_ms: int) -> None:
            e = self._get(entries, node_id)
            if e.next_signing_key is None:
                raise AuthorityError(f"node {e.node_id} has no announced next signing key "
                                     "(run announce-key first)")
            if e.status == EntryStatus.REVOKED:
                raise AuthorityError(f"node {e.node_id} is revoked; revocation is final")
            # newest first even if this clock stepped back since the last promotion
            newest = e.retired_signing_keys[0][1] if e.retired_signing_keys else 0
            entries[e.node_id] = _with(
                e, signing_key=e.next_signing_key, key_id=key_id(e.next_signing_key),
                next_signing_key=None,
                valid_until_ms=now_ms + int(self.cfg.entry_lifetime * 1000),
                retired_signing_keys=((e.signing_key, max(now_ms, newest)),
                                      *(r for r in e.retired_signing_keys
                                        if r[0] != e.next_signing_key))[:MAX_RETIRED_KEYS])
        return self._change(apply)

    def entries(self) -> tuple[int, list[DirectoryEntry]]:
        with self._locked():
            serial, entries = self._read_state()
        return serial, [entries[k] for k in sorted(entries)]

    def current_snapshot(self, version: int = 1) -> bytes:
        """The signed snapshot of `version` to serve; both versions are re-issued (serial
        + 1) when either is missing, nearly expired or of another serial."""
        now_ms = int(self._now() * 1000)
        margin_ms = int(self.cfg.reissue_before * 1000)
        with self._locked():
            serial, entries = self._read_state()
            found: dict[int, bytes] = {}
            for v, path in ((1, self.cfg.snapshot_file), (2, self.snapshot_file_v2)):
                try:
                    data = path.read_bytes()
                except FileNotFoundError:  # e.g. the v2 file of a folder of the last release
                    return self._issue(serial, entries, version=version)
                except OSError as exc:
                    raise StorageError(f"{path}: cannot read ({exc})") from exc
                try:
                    snap = verify_snapshot(data, self.public_key, now_ms=now_ms + margin_ms)
                except ProtocolError:
                    return self._issue(serial, entries, version=version)  # near expiry…
                if snap.serial != serial or snap.version != v:
                    return self._issue(max(serial, snap.serial), entries, version=version)
                found[v] = data
            return found[2 if version >= 2 else 1]


def _retired_after_replace(old: DirectoryEntry | None, new_key: bytes,
                           now_ms: int) -> tuple[tuple[bytes, int], ...]:
    """The retired keys of a node enrolled again (`enroll --replace`): the ones it had,
    plus its replaced key retired now, so what that key signed before (exchange logs,
    checkpoints) still verifies. A revoked key is not kept: it may be in other hands."""
    if old is None:
        return ()
    retired = old.retired_signing_keys
    if old.signing_key != new_key and old.status != EntryStatus.REVOKED:
        newest = retired[0][1] if retired else 0
        retired = ((old.signing_key, max(now_ms, newest)), *retired)
    return tuple(retired[:MAX_RETIRED_KEYS])


def _with(e: DirectoryEntry, **changes: Any) -> DirectoryEntry:
    return replace(e, **changes)


def entry_summary(e: DirectoryEntry) -> dict[str, Any]:
    """A JSON-friendly view of an entry for `directory list --json`."""
    d = _entry_to_json(e)
    d["valid_until"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.valid_until_ms / 1000))
    return d
