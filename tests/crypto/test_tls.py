"""crypto.tls: self-signed certificates, SPKI pins, refusal to overwrite, bad input."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from crypto.errors import KeyFileError
from crypto.tls import cert_file_pin, der_to_pem, generate_self_signed, spki_sha256


def test_generate_writes_key_0600_and_returns_the_cert_pin(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    pin = generate_self_signed(key, cert, "statenode TX", hosts=("127.0.0.1", "tx.example"))
    assert len(pin) == 32
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert spki_sha256(cert.read_bytes()) == pin == cert_file_pin(cert)
    assert b"PRIVATE KEY" in key.read_bytes()


def test_pin_is_of_the_key_not_the_certificate(tmp_path: Path) -> None:
    import ssl

    pin_a = generate_self_signed(tmp_path / "a.key", tmp_path / "a.pem", "A")
    pin_b = generate_self_signed(tmp_path / "b.key", tmp_path / "b.pem", "B")
    assert pin_a != pin_b
    der = ssl.PEM_cert_to_DER_cert((tmp_path / "a.pem").read_text())
    assert spki_sha256(der) == pin_a  # DER and PEM give the same pin
    assert hashlib.sha256(der).digest() != pin_a  # not the certificate hash
    assert der_to_pem(der).strip() == (tmp_path / "a.pem").read_text().strip()


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    generate_self_signed(tmp_path / "k", tmp_path / "c", "A")
    before = (tmp_path / "k").read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        generate_self_signed(tmp_path / "k", tmp_path / "c2", "A")
    with pytest.raises(KeyFileError, match="already exists"):
        generate_self_signed(tmp_path / "k2", tmp_path / "c", "A")
    assert (tmp_path / "k").read_bytes() == before
    assert not (tmp_path / "k2").exists() and not (tmp_path / "c2").exists()


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n"
                                  b"-----END CERTIFICATE-----\n", b"\x30\x03\x02\x01\x01"])
def test_bad_certificates_raise_key_file_error(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        spki_sha256(data)
    p = tmp_path / "bad.pem"
    p.write_bytes(data)
    with pytest.raises(KeyFileError, match=r"bad\.pem"):
        cert_file_pin(p)
    with pytest.raises(KeyFileError, match=r"missing\.pem"):
        cert_file_pin(tmp_path / "missing.pem")
