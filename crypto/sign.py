"""Ed25519 signatures bound to a context string.

The signed message is `context || 0x00 || data`, so a signature made for one
purpose (an envelope, a directory snapshot, a key document) can never be
replayed as another. `verify` returns None and raises `SignatureInvalid`.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crypto.errors import SignatureInvalid
from crypto.keys import SigningKey

SIGNATURE_LEN = 64


def _message(context: bytes, data: bytes) -> bytes:
    if b"\x00" in context:
        raise ValueError("context must not contain a NUL byte")
    return context + b"\x00" + data


def sign(key: SigningKey, *, context: bytes, data: bytes) -> bytes:
    return key.private_key.sign(_message(context, data))


def verify(public: bytes, *, context: bytes, data: bytes, signature: bytes) -> None:
    """Raise `SignatureInvalid` unless `signature` is `public`'s signature over context+data."""
    if len(signature) != SIGNATURE_LEN:
        raise SignatureInvalid(f"signature must be {SIGNATURE_LEN} bytes, got {len(signature)}")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, _message(context, data))
    except (InvalidSignature, ValueError) as exc:
        raise SignatureInvalid("signature does not verify") from exc


def sign_raw(key: SigningKey, message: bytes) -> bytes:
    """Plain Ed25519 over `message` (for formats that fix their own framing, e.g. C2SP notes)."""
    return key.private_key.sign(message)


def verify_raw(public: bytes, message: bytes, signature: bytes) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureInvalid("signature does not verify") from exc
