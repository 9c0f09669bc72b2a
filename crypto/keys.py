"""Node keys: Ed25519 signing keys, X25519 and MLKEM768-X25519 (HPKE) encryption keys.

Owns generation, storage at rest (mode 0600, optional passphrase), loading with a
permission check, raw public bytes and key ids. Private key objects never leave
`crypto/`: callers hold `SigningKey` / `EncryptionKey` / `HybridKey` wrappers and pass
them back into `crypto.sign` and `crypto.seal`.

* Ed25519 and X25519 keys are PKCS#8 PEM (`save_key`, `load_signing_key`,
  `load_encryption_key`).
* A hybrid MLKEM768-X25519 key (HPKE KEM 0x647a, X-Wing, draft-ietf-hpke-pq) is kept at
  rest as its 32-byte private seed, the draft's `SerializePrivateKey` form: SHAKE256 of
  the seed gives 96 bytes, the first 64 are the ML-KEM-768 seed (d || z), the last 32 the
  X25519 private key. Its public key is the 1184-byte ML-KEM-768 encapsulation key
  followed by the 32-byte X25519 key (1216 bytes). The seed file is PEM-armoured
  (`STATENODE MLKEM768-X25519 SEED`); with a passphrase the seed is sealed with
  ChaCha20-Poly1305 under a scrypt key (`save_hybrid_key`, `load_hybrid_key`).

Key id = first 8 bytes of SHA-256(type tag || raw public key), hex encoded (tag 0x01
Ed25519, 0x20 X25519, 0x647a MLKEM768-X25519), so the same bytes never collide across
kinds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.mlkem import (
    MLKEM768PrivateKey,
    MLKEM768PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hpke import MLKEM768X25519PrivateKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from crypto.errors import KeyFileError

_TAGS = {"ed25519": b"\x01", "x25519": b"\x20", "mlkem768x25519": b"\x64\x7a"}
PUBLIC_KEY_LEN = 32
MLKEM768_PUBLIC_LEN = 1184
HYBRID_PUBLIC_LEN = MLKEM768_PUBLIC_LEN + 32  # 1216, the draft's Npk for 0x647a
HYBRID_SEED_LEN = 32  # the draft's Nsk for 0x647a


def key_id(public: bytes, *, kind: str = "ed25519") -> str:
    """Stable short id of a raw public key (16 hex chars); `kind` is "ed25519",
    "x25519" or "mlkem768x25519"."""
    try:
        tag = _TAGS[kind]
    except KeyError:
        raise ValueError(f"unknown key kind {kind!r}") from None
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


def _raw_public(key: X25519PublicKey | MLKEM768PublicKey) -> bytes:
    return key.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)


@dataclass(frozen=True)
class HybridKey:
    """An MLKEM768-X25519 (X-Wing) private key for HPKE, held as its 32-byte seed.

    `public` is the 1216-byte public key: ML-KEM-768 encapsulation key || X25519 key.
    """

    seed: bytes = field(repr=False)
    private_key: MLKEM768X25519PrivateKey = field(init=False, repr=False, compare=False)
    public: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, bytes) or len(self.seed) != HYBRID_SEED_LEN:
            raise KeyFileError(f"a MLKEM768-X25519 seed must be {HYBRID_SEED_LEN} bytes")
        expanded = hashlib.shake_256(self.seed).digest(96)
        mlkem = MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        x25519 = X25519PrivateKey.from_private_bytes(expanded[64:])
        object.__setattr__(self, "private_key", MLKEM768X25519PrivateKey(mlkem, x25519))
        object.__setattr__(self, "public", _raw_public(mlkem.public_key())
                           + _raw_public(x25519.public_key()))

    @property
    def key_id(self) -> str:
        return key_id(self.public, kind="mlkem768x25519")

    def __repr__(self) -> str:
        return f"HybridKey(key_id={self.key_id})"


def generate_hybrid_key() -> HybridKey:
    return HybridKey(os.urandom(HYBRID_SEED_LEN))


def hybrid_key_from_seed(seed: bytes) -> HybridKey:
    return HybridKey(bytes(seed))


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


def check_hybrid_public_key(public: bytes, *, what: str = "hybrid encryption key") -> None:
    """Raise unless `public` is a 1216-byte MLKEM768-X25519 public key (both parts valid)."""
    if not isinstance(public, bytes) or len(public) != HYBRID_PUBLIC_LEN:
        raise KeyFileError(f"{what}: must be {HYBRID_PUBLIC_LEN} raw bytes")
    try:
        MLKEM768PublicKey.from_public_bytes(public[:MLKEM768_PUBLIC_LEN])
        X25519PublicKey.from_public_bytes(public[MLKEM768_PUBLIC_LEN:])
    except ValueError as exc:
        raise KeyFileError(f"{what}: not an MLKEM768-X25519 public key") from exc


def _pem(private: Ed25519PrivateKey | X25519PrivateKey, passphrase: bytes | None) -> bytes:
    enc: ser.KeySerializationEncryption = (
        ser.BestAvailableEncryption(passphrase) if passphrase else ser.NoEncryption()
    )
    return private.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, enc)


_SEED_PEM = "STATENODE MLKEM768-X25519 SEED"
_SEED_PLAIN, _SEED_SCRYPT = 0x00, 0x01
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def _seed_kek(passphrase: bytes, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(passphrase)


def secret_pem(label: str, secret: bytes, passphrase: bytes | None) -> bytes:
    """A raw secret (a hybrid key's seed, an OPRF scalar) as `-----BEGIN <label>-----`,
    base64 of: 0x00 || secret, or 0x01 || salt (16) || nonce (12) ||
    ChaCha20-Poly1305(scrypt(passphrase, salt), secret, aad = the label)."""
    if passphrase:
        salt, nonce = os.urandom(16), os.urandom(12)
        sealed = ChaCha20Poly1305(_seed_kek(passphrase, salt)).encrypt(
            nonce, secret, label.encode())
        raw = bytes([_SEED_SCRYPT]) + salt + nonce + sealed
    else:
        raw = bytes([_SEED_PLAIN]) + secret
    body = base64.encodebytes(raw).decode()
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode()


def secret_from_pem(path: Path, data: bytes, passphrase: bytes | None, *, label: str,
                    length: int, what: str) -> bytes:
    """The `length`-byte secret of a `secret_pem` file; KeyFileError names `path`."""
    text = data.decode("ascii", "replace").strip()
    head, tail = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if not (text.startswith(head) and text.endswith(tail)):
        raise KeyFileError(f"{path}: not a {label} file")
    try:
        raw = base64.b64decode("".join(text[len(head):-len(tail)].split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{path}: the {what} is not valid base64") from exc
    if len(raw) == 1 + length and raw[0] == _SEED_PLAIN:
        if passphrase:
            raise KeyFileError(f"{path}: key file is not encrypted but a passphrase was given")
        return raw[1:]
    if len(raw) == 1 + 16 + 12 + length + 16 and raw[0] == _SEED_SCRYPT:
        if not passphrase:
            raise KeyFileError(f"{path}: key file is encrypted; a passphrase is required")
        salt, nonce, sealed = raw[1:17], raw[17:29], raw[29:]
        try:
            return ChaCha20Poly1305(_seed_kek(passphrase, salt)).decrypt(
                nonce, sealed, label.encode())
        except InvalidTag as exc:
            raise KeyFileError(f"{path}: wrong passphrase, or the {what} file is damaged") \
                from exc
    raise KeyFileError(f"{path}: unknown {label} encoding")


def write_new_key_file(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 holding `data` (exclusively: never overwrite a key)."""
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


AnyPrivateKey = SigningKey | EncryptionKey | HybridKey


def _key_bytes(key: AnyPrivateKey, passphrase: bytes | None) -> bytes:
    if isinstance(key, HybridKey):
        return secret_pem(_SEED_PEM, key.seed, passphrase)
    return _pem(key.private_key, passphrase)


def save_key(path: Path, key: AnyPrivateKey, *, passphrase: bytes | None = None) -> None:
    """Write `key` (PKCS#8 PEM, or a hybrid key's seed file), created with mode 0600;
    refuse to overwrite."""
    write_new_key_file(path, _key_bytes(key, passphrase))


def replace_key(path: Path, key: AnyPrivateKey, *, passphrase: bytes | None = None) -> None:
    """Atomically replace a key file (write a 0600 temp file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    save_key(tmp, key, passphrase=passphrase)
    os.replace(tmp, path)


def _read_file(path: Path) -> bytes:
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
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key file ({exc.strerror})") from exc


def _read_private(path: Path, passphrase: bytes | None) -> object:
    data = _read_file(path)
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


def load_hybrid_key(path: Path, *, passphrase: bytes | None = None) -> HybridKey:
    """Read a hybrid key's seed file (mode 0600 only), decrypting it with `passphrase`."""
    path = Path(path)
    return HybridKey(secret_from_pem(path, _read_file(path), passphrase, label=_SEED_PEM,
                                     length=HYBRID_SEED_LEN, what="seed"))


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
