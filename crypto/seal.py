"""HPKE (RFC 9180) base-mode sealing with `cryptography`'s native implementation.

Suite: DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305. The
ciphertext is `enc (32 B) || ct || tag (16 B)`. All context goes into `info`
(the library exposes no AAD); a mismatch of key or info fails to open.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from crypto.errors import DecryptionFailed, KeyFileError
from crypto.keys import EncryptionKey

_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
SEAL_OVERHEAD = 32 + 16


def seal(recipient_public: bytes, plaintext: bytes, *, info: bytes) -> bytes:
    try:
        pub = X25519PublicKey.from_public_bytes(recipient_public)
    except ValueError as exc:
        raise KeyFileError("recipient encryption key is not an X25519 public key") from exc
    return _SUITE.encrypt(plaintext, pub, info=info)


def open_sealed(key: EncryptionKey, ciphertext: bytes, *, info: bytes) -> bytes:
    if len(ciphertext) < SEAL_OVERHEAD:
        raise DecryptionFailed("sealed payload is too short")
    try:
        return _SUITE.decrypt(ciphertext, key.private_key, info=info)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed(
            "cannot open sealed payload (wrong key, context or tampered)"
        ) from exc
