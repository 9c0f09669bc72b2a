"""crypto.keys: generation, PEM at rest, permission check, passphrases, key kinds."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crypto import keys
from crypto.errors import KeyFileError


def test_signing_key_round_trip(tmp_path: Path) -> None:
    key = keys.generate_signing_key()
    path = tmp_path / "sign.pem"
    keys.save_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = keys.load_signing_key(path)
    assert loaded.public == key.public
    assert loaded.key_id == key.key_id
    assert len(key.key_id) == 16
    assert "PRIVATE" not in repr(key) and key.key_id in repr(key)


def test_encryption_key_round_trip(tmp_path: Path) -> None:
    key = keys.generate_encryption_key()
    path = tmp_path / "enc.pem"
    keys.save_key(path, key)
    assert keys.load_encryption_key(path).public == key.public
    assert key.key_id != keys.key_id(key.public, kind="ed25519")


def test_passphrase_right_wrong_missing(tmp_path: Path) -> None:
    key = keys.generate_signing_key()
    path = tmp_path / "sign.pem"
    keys.save_key(path, key, passphrase=b"correct horse")
    assert b"ENCRYPTED" in path.read_bytes()
    assert keys.load_signing_key(path, passphrase=b"correct horse").public == key.public
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        keys.load_signing_key(path, passphrase=b"wrong")
    with pytest.raises(KeyFileError, match="passphrase is required"):
        keys.load_signing_key(path)


def test_passphrase_given_for_plain_key(tmp_path: Path) -> None:
    path = tmp_path / "sign.pem"
    keys.save_key(path, keys.generate_signing_key())
    with pytest.raises(KeyFileError, match="not encrypted"):
        keys.load_signing_key(path, passphrase=b"x")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "sign.pem"
    keys.save_key(path, keys.generate_signing_key())
    os.chmod(path, mode)
    with pytest.raises(KeyFileError) as err:
        keys.load_signing_key(path)
    assert str(path) in str(err.value)
    assert "chmod 600" in str(err.value)


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "sign.pem"
    keys.save_key(path, keys.generate_signing_key())
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        keys.save_key(path, keys.generate_signing_key())
    assert path.read_bytes() == before


def test_replace_key(tmp_path: Path) -> None:
    path = tmp_path / "enc.pem"
    keys.save_key(path, keys.generate_encryption_key())
    new = keys.generate_encryption_key()
    keys.replace_key(path, new)
    assert keys.load_encryption_key(path).public == new.public
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wrong_key_kind(tmp_path: Path) -> None:
    sign_path, enc_path = tmp_path / "s.pem", tmp_path / "e.pem"
    keys.save_key(sign_path, keys.generate_signing_key())
    keys.save_key(enc_path, keys.generate_encryption_key())
    with pytest.raises(KeyFileError, match="not an X25519"):
        keys.load_encryption_key(sign_path)
    with pytest.raises(KeyFileError, match="not an Ed25519"):
        keys.load_signing_key(enc_path)


def test_missing_and_garbage_files(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        keys.load_signing_key(tmp_path / "nope.pem")
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"not a key")
    os.chmod(bad, 0o600)
    with pytest.raises(KeyFileError, match="not a PEM"):
        keys.load_signing_key(bad)


def test_seed_and_public_key_checks() -> None:
    key = keys.signing_key_from_seed(bytes(range(32)))
    assert keys.signing_key_from_seed(key.seed()).public == key.public
    with pytest.raises(KeyFileError, match="32 bytes"):
        keys.signing_key_from_seed(b"short")
    keys.check_public_key(key.public)
    with pytest.raises(KeyFileError, match="32 raw bytes"):
        keys.check_public_key(b"x" * 31)
    keys.check_encryption_public_key(keys.generate_encryption_key().public)
    with pytest.raises(KeyFileError):
        keys.check_encryption_public_key(b"")
