"""Error root of the crypto package.

Every failure in `crypto/` raises a subclass of `CryptoError` whose message is
one human sentence; callers never see the underlying `cryptography` exception.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Root of every error raised by `crypto/`."""

    def diagnostics(self) -> str:
        return str(self)


class KeyFileError(CryptoError):
    """A key file is missing, unreadable, readable by others, or not a key of the expected kind."""


class SignatureInvalid(CryptoError):
    """A signature did not verify."""


class DecryptionFailed(CryptoError):
    """HPKE open failed: wrong key, wrong context or tampered ciphertext."""


class ProofError(CryptoError):
    """A Merkle inclusion or consistency proof did not verify."""


class NoteError(CryptoError):
    """A signed note or checkpoint is malformed or not signed by a trusted key."""


class PasswordMismatch(CryptoError):
    """A password did not match its stored hash."""
