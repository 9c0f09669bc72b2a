"""The OPRF key file: a node's RFC 9497 ristretto255 private scalar on disk, and the check
of a published OPRF public key.

Format (the same envelope as the hybrid seed files of `crypto.keys`):

    -----BEGIN STATENODE OPRF RISTRETTO255 KEY-----
    base64 of: 0x00 || scalar (32 bytes, little-endian, canonical, non-zero)
            or 0x01 || salt (16) || nonce (12) || ChaCha20-Poly1305(scrypt(passphrase, salt),
               scalar, aad = the label)
    -----END STATENODE OPRF RISTRETTO255 KEY-----

Written with mode 0600 (created exclusively, never overwritten in place: `replace_oprf_key`
writes a temp file and renames it); read only when no other user can access it.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

import pysodium
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto.errors import KeyFileError
from crypto.keys import _read_file, _seed_kek
from crypto.oprf import ELEMENT_LEN, SCALAR_LEN, OprfError, OprfKey

LABEL = "STATENODE OPRF RISTRETTO255 KEY"
_PLAIN, _SCRYPT = 0x00, 0x01


def _encode(key: OprfKey, passphrase: bytes | None) -> bytes:
    if passphrase:
        salt, nonce = os.urandom(16), os.urandom(12)
        sealed = ChaCha20Poly1305(_seed_kek(passphrase, salt)).encrypt(
            nonce, key.private, LABEL.encode())
        raw = bytes([_SCRYPT]) + salt + nonce + sealed
    else:
        raw = bytes([_PLAIN]) + key.private
    body = base64.encodebytes(raw).decode()
    return f"-----BEGIN {LABEL}-----\n{body}-----END {LABEL}-----\n".encode()


def _decode(path: Path, data: bytes, passphrase: bytes | None) -> bytes:
    text = data.decode("ascii", "replace").strip()
    head, tail = f"-----BEGIN {LABEL}-----", f"-----END {LABEL}-----"
    if not (text.startswith(head) and text.endswith(tail)):
        raise KeyFileError(f"{path}: not a {LABEL} file")
    try:
        raw = base64.b64decode("".join(text[len(head):-len(tail)].split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{path}: the OPRF key is not valid base64") from exc
    if len(raw) == 1 + SCALAR_LEN and raw[0] == _PLAIN:
        if passphrase:
            raise KeyFileError(f"{path}: key file is not encrypted but a passphrase was given")
        return raw[1:]
    if len(raw) == 1 + 16 + 12 + SCALAR_LEN + 16 and raw[0] == _SCRYPT:
        if not passphrase:
            raise KeyFileError(f"{path}: key file is encrypted; a passphrase is required")
        try:
            return ChaCha20Poly1305(_seed_kek(passphrase, raw[1:17])).decrypt(
                raw[17:29], raw[29:], LABEL.encode())
        except InvalidTag as exc:
            raise KeyFileError(f"{path}: wrong passphrase, or the OPRF key file is "
                               "damaged") from exc
    raise KeyFileError(f"{path}: unknown {LABEL} encoding")


def save_oprf_key(path: Path, key: OprfKey, *, passphrase: bytes | None = None) -> None:
    """Create `path` (mode 0600, exclusively: never overwrite a key) holding `key`."""
    data = _encode(key, passphrase)
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


def replace_oprf_key(path: Path, key: OprfKey, *, passphrase: bytes | None = None) -> None:
    """Atomically replace the OPRF key file (0600 temp file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    save_oprf_key(tmp, key, passphrase=passphrase)
    os.replace(tmp, path)


def load_oprf_key(path: Path, *, passphrase: bytes | None = None) -> OprfKey:
    """Read the OPRF key file (mode 0600 only), decrypting it with `passphrase`."""
    path = Path(path)
    scalar = _decode(path, _read_file(path), passphrase)
    try:
        return OprfKey.from_private(scalar)
    except OprfError as exc:
        raise KeyFileError(f"{path}: not a valid OPRF private key ({exc})") from exc


def check_oprf_public_key(public: bytes, *, what: str = "OPRF key") -> None:
    """KeyFileError unless `public` is a valid, non-identity ristretto255 element."""
    if (not isinstance(public, bytes) or len(public) != ELEMENT_LEN
            or public == bytes(ELEMENT_LEN)
            or not pysodium.crypto_core_ristretto255_is_valid_point(public)):
        raise KeyFileError(f"{what}: not a ristretto255 public key (32 bytes)")
