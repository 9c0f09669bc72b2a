"""Node keys: Ed25519 signing keys and X25519 (HPKE) encryption keys.

Owns generation, PEM storage at rest (PKCS#8, mode 0600, optional passphrase),
loading with a permission check, raw public bytes and key ids. Private key
objects never leave `crypto/`: callers hold `SigningKey` / `EncryptionKey`
wrappers and pass them back into `crypto.sign` and `crypto.seal`.

Key id = first 8 bytes of SHA-256(type byte || raw public key), hex encoded
(type 0x01 Ed25519, 0x20 X25519), so the same bytes never collide across kinds.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from crypto.errors import KeyFileError

_ED25519_TAG = b"\x01"
_X25519_TAG = b"\x20"
PUBLIC_KEY_LEN = 32


def key_id(public: bytes, *, kind: str = "ed25519") -> str:
    """Stable short id of a raw 32-byte public key (16 hex chars)."""
    tag = _ED25519_TAG if kind == "ed25519" else _X25519_TAG
    return hashlib.sha256(tag + public).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key. `public` is the raw 32-byte public key."""

    private_key: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return self.private_key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return key_id(self.public, kind="ed25519")

    def seed(self) -> bytes:
        """The 32-byte private seed (only for C2SP private-key strings in tests)."""
        return self.private_key.private_bytes(
            ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption()
        )

    def __repr__(self) -> str:  # never print key material
        return f"SigningKey(key_id={self.key_id})"


@dataclass(frozen=True)
class EncryptionKey:
    """An X25519 private key for HPKE. `public` is the raw 32-byte public key."""

    private_key: X25519PrivateKey

    @property
    def public(self) -> bytes:
        return self.private_key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return key_id(self.public, kind="x25519")

    def __repr__(self) -> str:
        return f"EncryptionKey(key_id={self.key_id})"


def generate_signing_key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


def signing_key_from_seed(seed: bytes) -> SigningKey:
    if len(seed) != 32:
        raise KeyFileError("an Ed25519 seed must be 32 bytes")
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


def generate_encryption_key() -> EncryptionKey:
    return EncryptionKey(X25519PrivateKey.generate())


def check_public_key(public: bytes, *, what: str = "public key") -> None:
    """Raise unless `public` is a valid raw 32-byte Ed25519 public key."""
    if not isinstance(public, bytes) or len(public) != PUBLIC_KEY_LEN:
        raise KeyFileError(f"{what}: must be {PUBLIC_KEY_LEN} raw bytes")
    try:
        Ed25519PublicKey.from_public_bytes(public)
    except ValueError as exc:
        raise KeyFileError(f"{what}: not an Ed25519 public key") from exc


def check_encryption_public_key(public: bytes, *, what: str = "encryption key") -> None:
    if not isinstance(public, bytes) or len(public) != PUBLIC_KEY_LEN:
        raise KeyFileError(f"{what}: must be {PUBLIC_KEY_LEN} raw bytes")
    try:
        X25519PublicKey.from_public_bytes(public)
    except ValueError as exc:
        raise KeyFileError(f"{what}: not an X25519 public key") from exc


def _pem(private: Ed25519PrivateKey | X25519PrivateKey, passphrase: bytes | None) -> bytes:
    enc: ser.KeySerializationEncryption = (
        ser.BestAvailableEncryption(passphrase) if passphrase else ser.NoEncryption()
    )
    return private.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, enc)


def save_key(
    path: Path, key: SigningKey | EncryptionKey, *, passphrase: bytes | None = None
) -> None:
    """Write `key` as PKCS#8 PEM, created with mode 0600; refuse to overwrite."""
    data = _pem(key.private_key, passphrase)
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite a key") from exc
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create key file ({exc.strerror})") from exc
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_key(
    path: Path, key: SigningKey | EncryptionKey, *, passphrase: bytes | None = None
) -> None:
    """Atomically replace a key file (write a 0600 temp file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    save_key(tmp, key, passphrase=passphrase)
    os.replace(tmp, path)


def _read_private(path: Path, passphrase: bytes | None) -> object:
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: key file not found") from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{path}: key file is accessible by other users (mode {stat.S_IMODE(st.st_mode):04o});"
            f" run: chmod 600 {path}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key file ({exc.strerror})") from exc
    try:
        return ser.load_pem_private_key(data, password=passphrase)
    except TypeError as exc:
        if passphrase:
            raise KeyFileError(
                f"{path}: key file is not encrypted but a passphrase was given"
            ) from exc
        raise KeyFileError(f"{path}: key file is encrypted; a passphrase is required") from exc
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a PEM private key, or wrong passphrase") from exc


def load_signing_key(path: Path, *, passphrase: bytes | None = None) -> SigningKey:
    key = _read_private(path, passphrase)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 signing key")
    return SigningKey(key)


def load_encryption_key(path: Path, *, passphrase: bytes | None = None) -> EncryptionKey:
    key = _read_private(path, passphrase)
    if not isinstance(key, X25519PrivateKey):
        raise KeyFileError(f"{path}: not an X25519 encryption key")
    return EncryptionKey(key)
