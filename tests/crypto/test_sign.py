"""crypto.sign: context-bound Ed25519."""

from __future__ import annotations

import pytest

from crypto import keys, sign
from crypto.errors import SignatureInvalid

KEY = keys.generate_signing_key()


def test_round_trip() -> None:
    sig = sign.sign(KEY, context=b"statenode/v1/sig", data=b"hello")
    assert len(sig) == sign.SIGNATURE_LEN
    sign.verify(KEY.public, context=b"statenode/v1/sig", data=b"hello", signature=sig)


def test_context_binding() -> None:
    sig = sign.sign(KEY, context=b"statenode/v1/sig", data=b"hello")
    with pytest.raises(SignatureInvalid):
        sign.verify(KEY.public, context=b"statenode/v1/directory", data=b"hello", signature=sig)
    # moving bytes between context and data does not help thanks to the separator
    sig2 = sign.sign(KEY, context=b"ab", data=b"c")
    with pytest.raises(SignatureInvalid):
        sign.verify(KEY.public, context=b"a", data=b"bc", signature=sig2)


def test_tamper_and_wrong_key() -> None:
    sig = sign.sign(KEY, context=b"ctx", data=b"hello")
    with pytest.raises(SignatureInvalid):
        sign.verify(KEY.public, context=b"ctx", data=b"hellO", signature=sig)
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    with pytest.raises(SignatureInvalid):
        sign.verify(KEY.public, context=b"ctx", data=b"hello", signature=flipped)
    other = keys.generate_signing_key()
    with pytest.raises(SignatureInvalid):
        sign.verify(other.public, context=b"ctx", data=b"hello", signature=sig)
    with pytest.raises(SignatureInvalid, match="64 bytes"):
        sign.verify(KEY.public, context=b"ctx", data=b"hello", signature=sig[:-1])
    with pytest.raises(SignatureInvalid):
        sign.verify(b"\x00" * 5, context=b"ctx", data=b"hello", signature=sig)


def test_nul_in_context_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        sign.sign(KEY, context=b"a\x00b", data=b"")


def test_raw() -> None:
    sig = sign.sign_raw(KEY, b"message")
    sign.verify_raw(KEY.public, b"message", sig)
    with pytest.raises(SignatureInvalid):
        sign.verify_raw(KEY.public, b"messagE", sig)
