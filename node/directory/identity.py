"""The node's own keys as the running service sees them.

Owns loading the signing key, the witness key and the encryption keys named by
`[keys]`, the two encryption-key rings and their rotation:

- X25519 keys (current and next, each with `valid_until`) in
  `keys/encryption/index.json` beside the 0600 PEM files, as before;
- MLKEM768-X25519 keys in `keys/encryption/hybrid.json` beside their 0600 seed files
  (`<key id>.seed`), rotated on the same schedule.

Rotation: when the current key is past `valid_until`, the next key becomes
current and a fresh next key is generated; expired keys are kept one more
lifetime so messages sealed to them in flight still open, then deleted.

The OPRF key of the discover round (issue 14: `keys.oprf_key`, a 0600 file in the
format of `crypto.oprf_key_file`) is one key at a time. `rotate_oprf_key` prepares the
next one beside it (`<oprf_key>.next`); the node keeps answering with the current key,
the one its peers verify against, until the directory pins the next one
(`promote_oprf_key_if_pinned`, run by the filter job): then the next key becomes the
key, and the filter is rebuilt under it with a new version.

`ensure_keys` is the key-folder migration of this release: a folder made by the
previous release has no `hybrid.json`, no witness key and no OPRF key; it makes them (key files
first, then the index that names them, so a crash leaves nothing half-made) and is a
no-op afterwards. `statenode serve`, `keys show` and `create_app` run it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from config.schema import NodeConfig
from crypto.errors import KeyFileError
from crypto.keys import (
    EncryptionKey,
    HybridKey,
    SigningKey,
    generate_encryption_key,
    generate_hybrid_key,
    generate_signing_key,
    load_encryption_key,
    load_hybrid_key,
    load_signing_key,
    save_key,
)
from crypto.oprf import OprfKey
from crypto.oprf_key_file import load_oprf_key, replace_oprf_key, save_oprf_key
from crypto.seal import OpeningKey
from node import clock
from node.file_modes import open_private, private_dir

INDEX = "index.json"
HYBRID_INDEX = "hybrid.json"


@dataclass(frozen=True)
class RingEntry:
    key_id: str
    file: str
    valid_from: float
    valid_until: float


def _current(ring: tuple[RingEntry, ...], now: float) -> RingEntry:
    live = [e for e in ring if e.valid_from <= now < e.valid_until]
    if live:
        return live[-1]
    return ring[-1]


@dataclass(frozen=True)
class NodeKeys:
    signing: SigningKey
    encryption: dict[str, EncryptionKey]  # key id -> X25519 key (all still openable)
    ring: tuple[RingEntry, ...]  # sorted by valid_from
    hybrid: dict[str, HybridKey] = field(default_factory=dict)  # key id -> hybrid key
    hybrid_ring: tuple[RingEntry, ...] = ()
    witness: SigningKey | None = None  # the separate key this node cosigns with
    oprf: OprfKey | None = None  # the discover round's OPRF key (never logged)
    oprf_next: OprfKey | None = None  # prepared by `keys rotate-oprf`, not yet pinned
    #: every key an envelope may be sealed to, by key id (X25519 and hybrid)
    opening: dict[str, OpeningKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "opening", {**self.encryption, **self.hybrid})

    def current(self, now: float) -> RingEntry:
        return _current(self.ring, now)

    def published(self, now: float) -> list[RingEntry]:
        """Current and next X25519 keys: what the key document lists."""
        return [e for e in self.ring if e.valid_until > now][-2:]

    def published_hybrid(self, now: float) -> list[RingEntry]:
        """Current and next hybrid keys (a version 2 key document lists them)."""
        return [e for e in self.hybrid_ring if e.valid_until > now][-2:]


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


def _read_index(folder: Path, name: str = INDEX) -> list[RingEntry]:
    path = folder / name
    try:
        raw = json.loads(path.read_text())
        return sorted((RingEntry(**e) for e in raw), key=lambda e: e.valid_from)
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: encryption key index not found (run statenode init)") from exc
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: encryption key index is damaged ({exc})") from exc


def _write_index(folder: Path, ring: list[RingEntry], name: str = INDEX) -> None:
    tmp = folder / (name + ".tmp")
    with open_private(tmp, "w") as f:
        f.write(json.dumps([e.__dict__ for e in ring], indent=2))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / name)


def _new_ring_key(folder: Path, valid_from: float, lifetime: float, passphrase: bytes | None,
                  *, hybrid: bool = False) -> RingEntry:
    key: EncryptionKey | HybridKey = generate_hybrid_key() if hybrid else \
        generate_encryption_key()
    name = f"{key.key_id}.{'seed' if hybrid else 'pem'}"
    save_key(folder / name, key, passphrase=passphrase)
    return RingEntry(key.key_id, name, valid_from, valid_from + lifetime)


def _new_ring(folder: Path, now: float, life: float, passphrase: bytes | None, *,
              hybrid: bool) -> None:
    first = _new_ring_key(folder, now, life, passphrase, hybrid=hybrid)
    second = _new_ring_key(folder, first.valid_until, life, passphrase, hybrid=hybrid)
    _write_index(folder, [first, second], HYBRID_INDEX if hybrid else INDEX)


def create_keys(
    cfg: NodeConfig, *, passphrase: bytes | None = None, now: float | None = None
) -> None:
    """Generate the signing key, the witness key and a current + next encryption key of
    each suite (for `statenode init`)."""
    now = clock.now() if now is None else now
    private_dir(cfg.keys.signing_key.parent)
    save_key(cfg.keys.signing_key, generate_signing_key(), passphrase=passphrase)
    cfg.keys.witness_key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    save_key(cfg.keys.witness_key, generate_signing_key(), passphrase=passphrase)
    _new_oprf_key(cfg, passphrase)
    folder = cfg.keys.encryption_dir
    private_dir(folder)
    life = cfg.keys.encryption_key_lifetime
    _new_ring(folder, now, life, passphrase, hybrid=False)
    _new_ring(folder, now, life, passphrase, hybrid=True)


def _new_oprf_key(cfg: NodeConfig, passphrase: bytes | None) -> None:
    cfg.keys.oprf_key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    save_oprf_key(cfg.keys.oprf_key, OprfKey.generate(), passphrase=passphrase)


def oprf_next_path(cfg: NodeConfig) -> Path:
    return cfg.keys.oprf_key.with_name(cfg.keys.oprf_key.name + ".next")


def rotate_oprf_key(cfg: NodeConfig) -> OprfKey:
    """Prepare a fresh next OPRF key (replacing a next key prepared before); return it.
    The authority pins it from the NodeInfo, then the node switches to it."""
    key = OprfKey.generate()
    cfg.keys.oprf_key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    replace_oprf_key(oprf_next_path(cfg), key, passphrase=read_passphrase(cfg))
    return key


def promote_oprf_key_if_pinned(cfg: NodeConfig, keys: NodeKeys, pinned: bytes | None
                               ) -> bool:
    """When the directory pins our next OPRF key: make it the key (atomic rename). True
    when it did (the caller reloads the keys and rebuilds the filter)."""
    if keys.oprf_next is None or pinned != keys.oprf_next.public:
        return False
    os.replace(oprf_next_path(cfg), cfg.keys.oprf_key)
    return True


def ensure_keys(cfg: NodeConfig, *, now: float | None = None) -> list[str]:
    """Migrate a key folder made by the previous release: add the hybrid key ring, the
    witness key and the OPRF key when missing. Returns what was made (empty when nothing
    was missing)."""
    now = clock.now() if now is None else now
    made: list[str] = []
    passphrase = read_passphrase(cfg)
    folder = cfg.keys.encryption_dir
    if not (folder / HYBRID_INDEX).exists():
        if not (folder / INDEX).exists():
            raise KeyFileError(f"{folder / INDEX}: encryption key index not found "
                               "(run statenode init)")
        _new_ring(folder, now, cfg.keys.encryption_key_lifetime, passphrase, hybrid=True)
        made.append(f"hybrid MLKEM768-X25519 keys ({folder / HYBRID_INDEX})")
    if not cfg.keys.witness_key.exists():
        cfg.keys.witness_key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        save_key(cfg.keys.witness_key, generate_signing_key(), passphrase=passphrase)
        made.append(f"witness key ({cfg.keys.witness_key})")
    if not cfg.keys.oprf_key.exists():
        _new_oprf_key(cfg, passphrase)
        made.append(f"OPRF key of the discover round ({cfg.keys.oprf_key})")
    return made


def _load_ring(folder: Path, ring: list[RingEntry], passphrase: bytes | None, now: float, *,
               hybrid: bool) -> dict[str, EncryptionKey | HybridKey]:
    keys: dict[str, EncryptionKey | HybridKey] = {}
    for e in ring:
        path = folder / e.file
        if e.valid_until < now and not path.exists():
            continue  # an expired key whose retirement was interrupted: nothing to open
        key: EncryptionKey | HybridKey = (
            load_hybrid_key(path, passphrase=passphrase) if hybrid
            else load_encryption_key(path, passphrase=passphrase))
        if key.key_id != e.key_id:
            raise KeyFileError(
                f"{path}: key id does not match {HYBRID_INDEX if hybrid else INDEX}")
        keys[e.key_id] = key
    return keys


def load_keys(cfg: NodeConfig) -> NodeKeys:
    passphrase = read_passphrase(cfg)
    signing = load_signing_key(cfg.keys.signing_key, passphrase=passphrase)
    folder = cfg.keys.encryption_dir
    ring = _read_index(folder)
    if not ring:
        raise KeyFileError(f"{folder / INDEX}: no encryption keys listed")
    now = clock.now()
    x25519 = {k: v for k, v in _load_ring(folder, ring, passphrase, now, hybrid=False).items()
              if isinstance(v, EncryptionKey)}
    hybrid_ring: list[RingEntry] = []
    if (folder / HYBRID_INDEX).exists():  # absent only before `ensure_keys` migrated it
        hybrid_ring = _read_index(folder, HYBRID_INDEX)
    hybrid = {k: v for k, v in _load_ring(folder, hybrid_ring, passphrase, now,
                                          hybrid=True).items() if isinstance(v, HybridKey)}
    witness = None
    if cfg.keys.witness_key.exists():
        witness = load_signing_key(cfg.keys.witness_key, passphrase=passphrase)
        if witness.public == signing.public:
            raise KeyFileError(f"{cfg.keys.witness_key}: the witness key must not be the "
                               "signing key")
    oprf = (load_oprf_key(cfg.keys.oprf_key, passphrase=passphrase)
            if cfg.keys.oprf_key.exists() else None)
    nxt = oprf_next_path(cfg)
    oprf_next = load_oprf_key(nxt, passphrase=passphrase) if nxt.exists() else None
    return NodeKeys(signing, x25519, tuple(ring), hybrid, tuple(hybrid_ring), witness, oprf,
                    oprf_next)


def _rotate_ring(folder: Path, name: str, life: float, now: float, passphrase: bytes | None,
                 *, hybrid: bool) -> bool:
    ring = _read_index(folder, name)
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
    while len(future) < 2:
        start = max([now, *(e.valid_until for e in future)])
        entry = _new_ring_key(folder, start, life, passphrase, hybrid=hybrid)
        keep.append(entry)
        future.append(entry)
        changed = True
    if changed:
        # crash-safe order: new key files exist, then the index names them, then old files go
        _write_index(folder, keep, name)
        for e in retired:
            (folder / e.file).unlink(missing_ok=True)
    return changed


def rotate_if_due(cfg: NodeConfig, *, now: float | None = None) -> bool:
    """Keep one current and one next key of each suite; retire keys expired for over a
    lifetime.

    Returns True when a ring changed (the caller reloads keys and re-signs its
    key documents).
    """
    now = clock.now() if now is None else now
    folder = cfg.keys.encryption_dir
    life = cfg.keys.encryption_key_lifetime
    passphrase = read_passphrase(cfg)
    changed = _rotate_ring(folder, INDEX, life, now, passphrase, hybrid=False)
    if (folder / HYBRID_INDEX).exists():
        changed = _rotate_ring(folder, HYBRID_INDEX, life, now, passphrase,
                               hybrid=True) or changed
    return changed
