"""The node's own keys as the running service sees them.

Owns loading the signing key and the encryption keys named by `[keys]`, the
encryption-key ring (current and next key, each with `valid_until`, kept in
`keys/encryption/index.json` beside the 0600 PEM files) and its rotation.
Rotation: when the current key is past `valid_until`, the next key becomes
current and a fresh next key is generated; expired keys are kept one more
lifetime so messages sealed to them in flight still open, then deleted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from config.schema import NodeConfig
from crypto.errors import KeyFileError
from crypto.keys import (
    EncryptionKey,
    SigningKey,
    generate_encryption_key,
    generate_signing_key,
    load_encryption_key,
    load_signing_key,
    save_key,
)
from node import clock
from node.file_modes import open_private, private_dir

INDEX = "index.json"


@dataclass(frozen=True)
class RingEntry:
    key_id: str
    file: str
    valid_from: float
    valid_until: float


@dataclass(frozen=True)
class NodeKeys:
    signing: SigningKey
    encryption: dict[str, EncryptionKey]  # key id -> key (all still openable)
    ring: tuple[RingEntry, ...]  # sorted by valid_from

    def current(self, now: float) -> RingEntry:
        live = [e for e in self.ring if e.valid_from <= now < e.valid_until]
        if live:
            return live[-1]
        return self.ring[-1]

    def published(self, now: float) -> list[RingEntry]:
        """Current and next keys: what the key document lists."""
        return [e for e in self.ring if e.valid_until > now][-2:]


def read_passphrase(cfg: NodeConfig) -> bytes | None:
    path = cfg.keys.passphrase_file
    if path is None:
        return None
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: passphrase file not found (keys.passphrase_file)") from exc
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"{path}: passphrase file is accessible by other users; run: chmod 600 {path}"
        )
    return path.read_bytes().strip() or None


def _read_index(folder: Path) -> list[RingEntry]:
    path = folder / INDEX
    try:
        raw = json.loads(path.read_text())
        return sorted((RingEntry(**e) for e in raw), key=lambda e: e.valid_from)
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: encryption key index not found (run statenode init)") from exc
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: encryption key index is damaged ({exc})") from exc


def _write_index(folder: Path, ring: list[RingEntry]) -> None:
    tmp = folder / (INDEX + ".tmp")
    with open_private(tmp, "w") as f:
        f.write(json.dumps([e.__dict__ for e in ring], indent=2))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / INDEX)


def _new_ring_key(
    folder: Path, valid_from: float, lifetime: float, passphrase: bytes | None
) -> RingEntry:
    key = generate_encryption_key()
    name = f"{key.key_id}.pem"
    save_key(folder / name, key, passphrase=passphrase)
    return RingEntry(key.key_id, name, valid_from, valid_from + lifetime)


def create_keys(
    cfg: NodeConfig, *, passphrase: bytes | None = None, now: float | None = None
) -> None:
    """Generate the signing key and a current + next encryption key (for `statenode init`)."""
    now = clock.now() if now is None else now
    private_dir(cfg.keys.signing_key.parent)
    save_key(cfg.keys.signing_key, generate_signing_key(), passphrase=passphrase)
    folder = cfg.keys.encryption_dir
    private_dir(folder)
    life = cfg.keys.encryption_key_lifetime
    first = _new_ring_key(folder, now, life, passphrase)
    second = _new_ring_key(folder, first.valid_until, life, passphrase)
    _write_index(folder, [first, second])


def load_keys(cfg: NodeConfig) -> NodeKeys:
    passphrase = read_passphrase(cfg)
    signing = load_signing_key(cfg.keys.signing_key, passphrase=passphrase)
    ring = _read_index(cfg.keys.encryption_dir)
    if not ring:
        raise KeyFileError(f"{cfg.keys.encryption_dir / INDEX}: no encryption keys listed")
    keys = {}
    now = clock.now()
    for e in ring:
        path = cfg.keys.encryption_dir / e.file
        if e.valid_until < now and not path.exists():
            continue  # an expired key whose retirement was interrupted: nothing to open
        key = load_encryption_key(path, passphrase=passphrase)
        if key.key_id != e.key_id:
            raise KeyFileError(
                f"{cfg.keys.encryption_dir / e.file}: key id does not match index.json"
            )
        keys[e.key_id] = key
    return NodeKeys(signing, keys, tuple(ring))


def rotate_if_due(cfg: NodeConfig, *, now: float | None = None) -> bool:
    """Keep one current and one next key; retire keys expired for over a lifetime.

    Returns True when the ring changed (the caller reloads keys and re-signs its
    key document).
    """
    now = clock.now() if now is None else now
    folder = cfg.keys.encryption_dir
    life = cfg.keys.encryption_key_lifetime
    ring = _read_index(folder)
    changed = False
    keep = []
    retired = []
    for e in ring:
        if e.valid_until + life < now:
            retired.append(e)
            changed = True
        else:
            keep.append(e)
    future = [e for e in keep if e.valid_until > now]
    passphrase = read_passphrase(cfg)
    while len(future) < 2:
        start = max([now, *(e.valid_until for e in future)])
        entry = _new_ring_key(folder, start, life, passphrase)
        keep.append(entry)
        future.append(entry)
        changed = True
    if changed:
        # crash-safe order: new key files exist, then the index names them, then old files go
        _write_index(folder, keep)
        for e in retired:
            (folder / e.file).unlink(missing_ok=True)
    return changed
