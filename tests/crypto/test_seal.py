"""crypto.seal: RFC 9180 HPKE base mode."""

from __future__ import annotations

import pytest

from crypto import keys, seal
from crypto.errors import DecryptionFailed, KeyFileError

KEY = keys.generate_encryption_key()
INFO = b"statenode/v1|find|TX|CA"


def test_round_trip() -> None:
    ct = seal.seal(KEY.public, b"payload", info=INFO)
    assert len(ct) == len(b"payload") + seal.SEAL_OVERHEAD
    assert seal.open_sealed(KEY, ct, info=INFO) == b"payload"
    assert seal.seal(KEY.public, b"payload", info=INFO) != ct  # fresh ephemeral key


def test_wrong_info() -> None:
    ct = seal.seal(KEY.public, b"payload", info=INFO)
    with pytest.raises(DecryptionFailed):
        seal.open_sealed(KEY, ct, info=b"statenode/v1|find|TX|AZ")


def test_wrong_key() -> None:
    ct = seal.seal(KEY.public, b"payload", info=INFO)
    with pytest.raises(DecryptionFailed):
        seal.open_sealed(keys.generate_encryption_key(), ct, info=INFO)


@pytest.mark.parametrize("position", [0, 31, 32, -1])
def test_flipped_byte(position: int) -> None:
    ct = bytearray(seal.seal(KEY.public, b"payload", info=INFO))
    ct[position] ^= 0x01
    with pytest.raises(DecryptionFailed):
        seal.open_sealed(KEY, bytes(ct), info=INFO)


def test_short_and_bad_inputs() -> None:
    with pytest.raises(DecryptionFailed, match="too short"):
        seal.open_sealed(KEY, b"x" * 10, info=INFO)
    with pytest.raises(KeyFileError):
        seal.seal(b"short", b"payload", info=INFO)
