"""Error root of the protocol package and the stable wire error codes.

`ProtocolError.code` is an `ErrorCode` that travels in signed `error` replies;
codes are part of the wire format and never renamed.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    MALFORMED = "malformed"  # not decodable, wrong shape or types
    TOO_LARGE = "too_large"  # over a size limit
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_SENDER = "unknown_sender"  # sender not in the directory
    SENDER_NOT_ACTIVE = "sender_not_active"  # suspended or revoked
    WRONG_RECIPIENT = "wrong_recipient"
    UNKNOWN_KEY = "unknown_key"  # recipient key id not (or no longer) ours
    HEADER_MISMATCH = "header_mismatch"  # clear fields differ from the signed header
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"  # issued in the future beyond the skew bound
    REPLAY = "replay"
    BAD_SIGNATURE = "bad_signature"
    DECRYPTION_FAILED = "decryption_failed"
    INVALID_RECORD = "invalid_record"
    FORBIDDEN = "forbidden"  # purpose or role not allowed
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    DIRECTORY_EXPIRED = "directory_expired"
    INTERNAL = "internal"
    # new in envelope version 2 (never sent to a node that speaks only version 1):
    DOWNGRADE = "downgrade"  # sealed with X25519 although both sides publish hybrid keys


#: the codes a node that speaks only envelope version 1 knows (its decoder is strict)
LEGACY_ERROR_CODES: frozenset[ErrorCode] = frozenset(
    c for c in ErrorCode if c is not ErrorCode.DOWNGRADE)


class ProtocolError(Exception):
    """Root of every error raised by `protocol/`; carries a stable `ErrorCode`."""

    code: ErrorCode = ErrorCode.MALFORMED

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def diagnostics(self) -> str:
        return f"{self.code.value}: {self}"


class MalformedMessage(ProtocolError):
    code = ErrorCode.MALFORMED


class MessageTooLarge(ProtocolError):
    code = ErrorCode.TOO_LARGE


class EnvelopeRejected(ProtocolError):
    """An envelope failed a check; `code` says which. `header` is the envelope's signed
    header when the check failed after the signature verified (so a signed error reply can
    name the message), else None."""

    header: object | None = None


class InvalidRecord(ProtocolError):
    code = ErrorCode.INVALID_RECORD
