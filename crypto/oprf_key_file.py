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

import os
from pathlib import Path

import pysodium

from crypto.errors import KeyFileError
from crypto.keys import _read_file, secret_from_pem, secret_pem, write_new_key_file
from crypto.oprf import ELEMENT_LEN, SCALAR_LEN, OprfError, OprfKey

LABEL = "STATENODE OPRF RISTRETTO255 KEY"


def save_oprf_key(path: Path, key: OprfKey, *, passphrase: bytes | None = None) -> None:
    """Create `path` (mode 0600, exclusively: never overwrite a key) holding `key`."""
    write_new_key_file(Path(path), secret_pem(LABEL, key.private, passphrase))


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
    scalar = secret_from_pem(path, _read_file(path), passphrase, label=LABEL,
                             length=SCALAR_LEN, what="OPRF key")
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
