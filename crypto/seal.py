"""HPKE (RFC 9180) base-mode sealing with `cryptography`'s native implementation.

Two suites, each named by a stable string that goes into envelopes and HPKE `info`:

* `HYBRID` = "mlkem768x25519-sha256-chacha20poly1305": KEM MLKEM768-X25519 (X-Wing,
  0x647a, draft-ietf-hpke-pq) / HKDF-SHA256 / ChaCha20-Poly1305, the default. The
  ciphertext is `enc (1120 B) || ct || tag (16 B)`. Resists a later quantum attacker on
  recorded traffic as long as either ML-KEM-768 or X25519 holds.
* `X25519` = "x25519-sha256-chacha20poly1305": DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
  ChaCha20-Poly1305, for peers that publish no hybrid key. `enc` is 32 B.

All context goes into `info` (the public API exposes no AAD); a mismatch of key, suite
or info fails to open. Parsed recipient public keys are cached (a hybrid key is 1216
bytes, and parsing it costs more than the AEAD of a small message).
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.hpke import (
    AEAD,
    KDF,
    KEM,
    MLKEM768X25519PublicKey,
    Suite,
)

from crypto.errors import DecryptionFailed, KeyFileError
from crypto.keys import (
    HYBRID_PUBLIC_LEN,
    MLKEM768_PUBLIC_LEN,
    PUBLIC_KEY_LEN,
    EncryptionKey,
    HybridKey,
)

HYBRID = "mlkem768x25519-sha256-chacha20poly1305"
X25519 = "x25519-sha256-chacha20poly1305"
#: every suite, strongest first (the order a sender prefers them in)
SUITES: tuple[str, ...] = (HYBRID, X25519)
#: the RFC 9180 (KEM, KDF, AEAD) identifiers of each suite
SUITE_IDS = {HYBRID: (0x647A, 0x0001, 0x0003), X25519: (0x0020, 0x0001, 0x0003)}
TAG_LEN = 16
ENC_LEN = {HYBRID: 1120, X25519: 32}
PUBLIC_LEN = {HYBRID: HYBRID_PUBLIC_LEN, X25519: PUBLIC_KEY_LEN}
SEAL_OVERHEAD = ENC_LEN[X25519] + TAG_LEN  # the X25519 suite's (kept for callers)

_SUITES = {
    HYBRID: Suite(KEM.MLKEM768_X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305),
    X25519: Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305),
}

OpeningKey = EncryptionKey | HybridKey


def suite_of(key: OpeningKey) -> str:
    """The suite a private key opens."""
    return HYBRID if isinstance(key, HybridKey) else X25519


def overhead(suite: str) -> int:
    """Bytes a sealed payload has beyond its plaintext in `suite`."""
    return ENC_LEN[suite] + TAG_LEN


@lru_cache(maxsize=512)
def _public_key(suite: str, public: bytes) -> X25519PublicKey | MLKEM768X25519PublicKey:
    if suite == HYBRID:
        if len(public) != HYBRID_PUBLIC_LEN:
            raise ValueError("wrong length")
        return MLKEM768X25519PublicKey(
            MLKEM768PublicKey.from_public_bytes(public[:MLKEM768_PUBLIC_LEN]),
            X25519PublicKey.from_public_bytes(public[MLKEM768_PUBLIC_LEN:]))
    return X25519PublicKey.from_public_bytes(public)


def seal(recipient_public: bytes, plaintext: bytes, *, info: bytes, suite: str = X25519) -> bytes:
    """HPKE-seal `plaintext` to `recipient_public` (a key of `suite`)."""
    if suite not in _SUITES:
        raise KeyFileError(f"unknown HPKE suite {suite!r}")
    try:
        pub = _public_key(suite, bytes(recipient_public))
    except ValueError as exc:
        kind = "an MLKEM768-X25519" if suite == HYBRID else "an X25519"
        raise KeyFileError(f"recipient encryption key is not {kind} public key") from exc
    return _SUITES[suite].encrypt(plaintext, pub, info=info)


def open_sealed(key: OpeningKey, ciphertext: bytes, *, info: bytes) -> bytes:
    """Open a payload sealed to `key` (in the suite of `key`); DecryptionFailed otherwise."""
    suite = suite_of(key)
    if len(ciphertext) < overhead(suite):
        raise DecryptionFailed("sealed payload is too short")
    try:
        return _SUITES[suite].decrypt(ciphertext, key.private_key, info=info)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed(
            "cannot open sealed payload (wrong key, context or tampered)"
        ) from exc


__all__ = ["HYBRID", "SEAL_OVERHEAD", "SUITES", "SUITE_IDS", "X25519", "OpeningKey",
           "open_sealed", "overhead", "seal", "suite_of"]
