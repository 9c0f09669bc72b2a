"""TLS key material for node-to-node mutual TLS: self-signed certificates and SPKI pins.

Spec: PROTOCOL-ANCHORS.md §1.3 and §5.1 item 5 (X-Road: mutual TLS between
servers, each server's authentication certificate pinned in the signed global
configuration). We need no CA: each node makes its own self-signed ECDSA P-256
certificate, and the federation directory publishes its *pin*, the SHA-256 of
the certificate's DER SubjectPublicKeyInfo (RFC 7469 §2.4 style), in the
signed entry field `tls_cert_sha256`. Pinning the key rather than the whole
certificate lets a node renew its certificate with the same key without a new
directory entry.

Only this module touches X.509; `node.directory.tls_pinning` builds `ssl` contexts from the files.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crypto.errors import KeyFileError

PIN_LEN = 32
DEFAULT_VALIDITY_DAYS = 825


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` (never overwrite an existing file)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite it") from exc
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create ({exc.strerror})") from exc
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def generate_self_signed(key_path: Path, cert_path: Path, common_name: str, *,
                         days: int = DEFAULT_VALIDITY_DAYS,
                         hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> bytes:
    """Write a new P-256 key (PEM, mode 0600) and a self-signed certificate; return its pin.

    Refuses to overwrite either file. `hosts` become subjectAltNames (IP or DNS)
    so browsers and curl can also be pointed at the certificate.
    """
    import ipaddress

    key_path, cert_path = Path(key_path), Path(cert_path)
    for p in (key_path, cert_path):
        if p.exists():
            raise KeyFileError(f"{p}: already exists; refusing to overwrite it")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                              x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                ser.NoEncryption())
    cert_pem = cert.public_bytes(ser.Encoding.PEM)
    _write_new(key_path, key_pem, 0o600)
    try:
        _write_new(cert_path, cert_pem, 0o600)  # public, but the node's files are owner-only
    except KeyFileError:
        key_path.unlink(missing_ok=True)
        raise
    return spki_sha256(cert_pem)


def _load_cert(data: bytes) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError("not an X.509 certificate (PEM or DER)") from exc


def spki_sha256(cert: bytes) -> bytes:
    """The 32-byte pin of a certificate (PEM or DER): SHA-256 of its DER SubjectPublicKeyInfo."""
    c = _load_cert(cert)
    try:
        spki = c.public_key().public_bytes(ser.Encoding.DER,
                                           ser.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError("certificate public key cannot be read") from exc
    return hashlib.sha256(spki).digest()


def cert_file_pin(path: Path) -> bytes:
    """The pin of the first certificate in a PEM or DER file; KeyFileError names the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read certificate ({exc.strerror})") from exc
    try:
        return spki_sha256(data)
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from exc


def der_to_pem(der: bytes) -> str:
    """A DER certificate as PEM text (for an `ssl` verify store)."""
    return _load_cert(der).public_bytes(ser.Encoding.PEM).decode("ascii")
