"""crypto.seal / crypto.keys: the hybrid MLKEM768-X25519 (X-Wing, 0x647a) HPKE suite.

Three kinds of checks:

1. round trips, sizes, tampering, key files (seed at rest, 0600, passphrase);
2. an independent opener built only from lower-level primitives (ML-KEM-768
   decapsulation, X25519, SHA3-256, HMAC-SHA256 and ChaCha20-Poly1305), following
   RFC 9180 §5.1 (key schedule) and the X-Wing combiner of draft-connolly-cfrg-xwing-kem
   §5.3 that draft-ietf-hpke-pq uses for MLKEM768-X25519: it opens what our production
   `seal` produced, so our use of `cryptography`'s HPKE (suite ids, info, key encoding
   1184 + 32 bytes, ciphertext layout 1088 + 32 bytes) matches the specifications and not
   only itself;
3. the official draft-ietf-hpke-pq test vector for (0x647a, HKDF-SHA256,
   ChaCha20-Poly1305) from the draft's `test-vectors.json`, when that file is present
   (see tests/crypto/vectors/README.md): key derivation from the 32-byte seed, the
   shared secret, key, base nonce and every ciphertext. The vector uses an AAD, which
   `Suite.decrypt` does not take: the check of the first ciphertext goes through the
   binding's private `_decrypt_with_aad` (test-only; production code uses the public
   API), and the others (sequence numbers > 0, which single-shot HPKE never uses) through
   the independent key schedule of (2).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto import keys, seal
from crypto.errors import DecryptionFailed, KeyFileError
from tests.crypto.shared_vectors import shared_vector, waiting_for

INFO = b"statenode/v1|mlkem768x25519-sha256-chacha20poly1305|find|TX|CA"
KEY = keys.generate_hybrid_key()
VECTOR_FILE = "hpke-pq/test-vectors.json"
_FOUND = shared_vector(VECTOR_FILE, env="STATENODE_HPKE_PQ_VECTORS")
needs_vector = pytest.mark.skipif(_FOUND is None, reason=waiting_for(
    VECTOR_FILE, "the draft-ietf-hpke-pq working group's test-vectors.json "
    "(hpkewg/hpke-pq, commit 74dafaa)"))


# ---- 1. round trips and key files ----------------------------------------------------

def test_round_trip_and_sizes() -> None:
    assert len(KEY.public) == 1216 and len(KEY.seed) == 32
    ct = seal.seal(KEY.public, b"payload", info=INFO, suite=seal.HYBRID)
    assert len(ct) == len(b"payload") + 1120 + 16 == len(b"payload") + seal.overhead(seal.HYBRID)
    assert seal.open_sealed(KEY, ct, info=INFO) == b"payload"
    assert seal.seal(KEY.public, b"payload", info=INFO, suite=seal.HYBRID) != ct
    assert seal.suite_of(KEY) == seal.HYBRID
    assert seal.suite_of(keys.generate_encryption_key()) == seal.X25519


def test_key_id_is_of_its_kind() -> None:
    assert KEY.key_id == keys.key_id(KEY.public, kind="mlkem768x25519")
    assert KEY.key_id != keys.key_id(KEY.public, kind="x25519")
    assert "seed" not in repr(KEY) and KEY.key_id in repr(KEY)
    with pytest.raises(ValueError, match="unknown key kind"):
        keys.key_id(KEY.public, kind="rsa")


def test_wrong_info_key_and_suite() -> None:
    ct = seal.seal(KEY.public, b"payload", info=INFO, suite=seal.HYBRID)
    with pytest.raises(DecryptionFailed):
        seal.open_sealed(KEY, ct, info=INFO.replace(b"CA", b"AZ"))
    with pytest.raises(DecryptionFailed):
        seal.open_sealed(keys.generate_hybrid_key(), ct, info=INFO)
    x = keys.generate_encryption_key()
    with pytest.raises(DecryptionFailed):  # an X25519 ciphertext never opens with a hybrid key
        seal.open_sealed(KEY, seal.seal(x.public, b"p" * 2000, info=INFO), info=INFO)
    with pytest.raises(KeyFileError, match="MLKEM768-X25519"):
        seal.seal(x.public, b"payload", info=INFO, suite=seal.HYBRID)
    with pytest.raises(KeyFileError, match="X25519"):
        seal.seal(KEY.public, b"payload", info=INFO, suite=seal.X25519)
    with pytest.raises(KeyFileError, match="unknown HPKE suite"):
        seal.seal(KEY.public, b"payload", info=INFO, suite="rot13")


@pytest.mark.parametrize("position", [0, 1087, 1088, 1119, 1120, -1])
def test_flipped_byte(position: int) -> None:
    ct = bytearray(seal.seal(KEY.public, b"payload", info=INFO, suite=seal.HYBRID))
    ct[position] ^= 0x01
    with pytest.raises(DecryptionFailed):
        seal.open_sealed(KEY, bytes(ct), info=INFO)


def test_short_input() -> None:
    with pytest.raises(DecryptionFailed, match="too short"):
        seal.open_sealed(KEY, b"x" * 1135, info=INFO)


def test_public_key_checks() -> None:
    keys.check_hybrid_public_key(KEY.public)
    with pytest.raises(KeyFileError, match="1216"):
        keys.check_hybrid_public_key(KEY.public[:-1])
    with pytest.raises(KeyFileError, match="1216"):
        keys.check_hybrid_public_key(keys.generate_encryption_key().public)
    bad = bytearray(KEY.public)
    bad[0:2] = b"\xff\xff"  # an ML-KEM coefficient >= q fails the FIPS 203 modulus check
    with pytest.raises(KeyFileError, match="not an MLKEM768-X25519"):
        keys.check_hybrid_public_key(bytes(bad))


def test_seed_file_at_rest(tmp_path: Path) -> None:
    path = tmp_path / "hybrid.seed"
    keys.save_key(path, KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("-----BEGIN STATENODE MLKEM768-X25519 SEED-----\n")
    loaded = keys.load_hybrid_key(path)
    assert loaded.seed == KEY.seed and loaded.public == KEY.public
    with pytest.raises(KeyFileError, match="already exists"):
        keys.save_key(path, KEY)
    os.chmod(path, 0o640)
    with pytest.raises(KeyFileError, match="accessible by other users"):
        keys.load_hybrid_key(path)
    other = keys.generate_hybrid_key()
    os.chmod(path, 0o600)
    keys.replace_key(path, other)
    assert keys.load_hybrid_key(path).public == other.public


def test_seed_file_with_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "hybrid.seed"
    keys.save_key(path, KEY, passphrase=b"correct horse")
    assert KEY.seed.hex() not in path.read_text()
    assert keys.load_hybrid_key(path, passphrase=b"correct horse").public == KEY.public
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        keys.load_hybrid_key(path, passphrase=b"wrong")
    with pytest.raises(KeyFileError, match="passphrase is required"):
        keys.load_hybrid_key(path)
    plain = tmp_path / "plain.seed"
    keys.save_key(plain, KEY)
    with pytest.raises(KeyFileError, match="not encrypted"):
        keys.load_hybrid_key(plain, passphrase=b"x")
    pem = tmp_path / "x25519.pem"
    keys.save_key(pem, keys.generate_encryption_key())
    with pytest.raises(KeyFileError, match="not a STATENODE MLKEM768-X25519 SEED"):
        keys.load_hybrid_key(pem)


def test_the_seed_is_expanded_with_shake256() -> None:
    """SHAKE256(seed, 96) = ML-KEM-768 seed d||z (64) || X25519 private key (32)."""
    expanded = hashlib.shake_256(KEY.seed).digest(96)
    m = MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).public_key()
    x = X25519PrivateKey.from_private_bytes(expanded[64:]).public_key()
    raw = ser.Encoding.Raw, ser.PublicFormat.Raw
    assert KEY.public == m.public_bytes(*raw) + x.public_bytes(*raw)


# ---- 2. an independent opener from primitives ----------------------------------------

XWING_LABEL = b"\\.//^\\"  # 0x5c2e2f2f5e5c, draft-connolly-cfrg-xwing-kem §5.3


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or b"\x00" * 32, ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, n = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([n]), hashlib.sha256).digest()
        out, n = out + block, n + 1
    return out[:length]


def _suite_id(kem: int, kdf: int = 1, aead: int = 3) -> bytes:
    return b"HPKE" + kem.to_bytes(2, "big") + kdf.to_bytes(2, "big") + aead.to_bytes(2, "big")


def _labeled_extract(sid: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + sid + label + ikm)


def _labeled_expand(sid: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return _expand(prk, length.to_bytes(2, "big") + b"HPKE-v1" + sid + label + info, length)


def key_schedule(kem: int, shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    """RFC 9180 §5.1, base mode: (key, base_nonce) for ChaCha20-Poly1305."""
    sid = _suite_id(kem)
    context = (b"\x00" + _labeled_extract(sid, b"", b"psk_id_hash", b"")
               + _labeled_extract(sid, b"", b"info_hash", info))
    secret = _labeled_extract(sid, shared_secret, b"secret", b"")
    return (_labeled_expand(sid, secret, b"key", context, 32),
            _labeled_expand(sid, secret, b"base_nonce", context, 12))


def xwing_decap(seed: bytes, enc: bytes) -> bytes:
    """X-Wing decapsulation from the 32-byte seed (the draft's `skRm`)."""
    expanded = hashlib.shake_256(seed).digest(96)
    mlkem = MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    x_priv = X25519PrivateKey.from_private_bytes(expanded[64:])
    ct_m, ct_x = enc[:1088], enc[1088:]
    ss_m = mlkem.decapsulate(ct_m)
    ss_x = x_priv.exchange(X25519PublicKey.from_public_bytes(ct_x))
    pk_x = x_priv.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL).digest()


def dhkem_x25519_decap(priv: X25519PrivateKey, enc: bytes) -> bytes:
    """RFC 9180 §4.1 DHKEM(X25519, HKDF-SHA256) Decap."""
    sid = b"KEM" + (0x0020).to_bytes(2, "big")
    dh = priv.exchange(X25519PublicKey.from_public_bytes(enc))
    pk = priv.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    eae = _extract(b"", b"HPKE-v1" + sid + b"eae_prk" + dh)
    return _expand(eae, (32).to_bytes(2, "big") + b"HPKE-v1" + sid + b"shared_secret"
                   + enc + pk, 32)


def test_an_independent_opener_opens_our_hybrid_ciphertext() -> None:
    plaintext = os.urandom(2048)
    ct = seal.seal(KEY.public, plaintext, info=INFO, suite=seal.HYBRID)
    enc, body = ct[:1120], ct[1120:]
    key, nonce = key_schedule(0x647A, xwing_decap(KEY.seed, enc), INFO)
    assert ChaCha20Poly1305(key).decrypt(nonce, body, b"") == plaintext


def test_an_independent_opener_opens_our_x25519_ciphertext() -> None:
    x = keys.generate_encryption_key()
    ct = seal.seal(x.public, b"payload", info=INFO)
    key, nonce = key_schedule(0x0020, dhkem_x25519_decap(x.private_key, ct[:32]), INFO)
    assert ChaCha20Poly1305(key).decrypt(nonce, ct[32:], b"") == b"payload"


# ---- 3. the official draft-ietf-hpke-pq vector ------------------------------------------

def _vector() -> dict[str, Any]:
    assert _FOUND is not None
    vectors = json.loads(_FOUND.read_text())
    return next(v for v in vectors if (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"])
                == (0, 0x647A, 0x0001, 0x0003))


@needs_vector
def test_official_vector_key_derivation_and_schedule() -> None:
    v = _vector()
    key = keys.hybrid_key_from_seed(bytes.fromhex(v["skRm"]))
    assert key.public.hex() == v["pkRm"]
    enc, info = bytes.fromhex(v["enc"]), bytes.fromhex(v["info"])
    shared = xwing_decap(key.seed, enc)
    assert shared.hex() == v["shared_secret"]
    k, nonce = key_schedule(0x647A, shared, info)
    assert (k.hex(), nonce.hex()) == (v["key"], v["base_nonce"])
    for n, e in enumerate(v["encryptions"]):
        seq_nonce = (int.from_bytes(nonce, "big") ^ n).to_bytes(12, "big")
        assert seq_nonce.hex() == e["nonce"]
        pt = ChaCha20Poly1305(k).decrypt(seq_nonce, bytes.fromhex(e["ct"]),
                                         bytes.fromhex(e["aad"]))
        assert pt.hex() == e["pt"]


@needs_vector
def test_official_vector_opens_with_the_library() -> None:
    """The first ciphertext (sequence 0, what single-shot HPKE makes) through
    `cryptography`'s own HPKE with our key object: the vector has an AAD, so this uses the
    binding's private `_decrypt_with_aad` (tests only)."""
    from cryptography.hazmat.bindings._rust import openssl as rust_openssl

    v = _vector()
    key = keys.hybrid_key_from_seed(bytes.fromhex(v["skRm"]))
    first = v["encryptions"][0]
    suite = seal._SUITES[seal.HYBRID]
    pt = rust_openssl.hpke._decrypt_with_aad(
        suite, bytes.fromhex(v["enc"] + first["ct"]), key.private_key,
        info=bytes.fromhex(v["info"]), aad=bytes.fromhex(first["aad"]))
    assert pt.hex() == first["pt"]
