"""RFC 9497 verifiable OPRF (VOPRF, mode 0x01) with the ristretto255-SHA512 suite.

The group operations are libsodium's ristretto255 API (through pysodium, over the
system's libsodium); this module is only the protocol layer of RFC 9497, written to the
RFC's pseudocode and checked against its test vectors (tests/crypto/test_oprf.py):

- hash-to-group: `hash_to_ristretto255` of RFC 9380 — `expand_message_xmd` with SHA-512
  to 64 uniform bytes, then libsodium's `crypto_core_ristretto255_from_hash`
  (the one-way map of RFC 9496 §4.3.4 applied to both halves);
- hash-to-scalar: 64 bytes of `expand_message_xmd`, reduced modulo the group order;
- the server's `BlindEvaluate` with a batched DLEQ proof (§2.2, §3.3.2) and the
  client's `Blind` and `Finalize` with proof verification (§3.3.1, §3.3.2);
- `derive_key_pair` (§3.2.1) for keys made from a seed.

Used by statenode's discover round (DESIGN.md "Messages" `discover`): a requester blinds
its query's discover keys, a holder evaluates them with its OPRF key and proves it used
the key pinned in its directory entry, and the requester unblinds the outputs and looks
them up in the holder's published filter. The holder never sees the keys; the requester
learns only OPRF outputs, which are useless without the holder's key.
"""

from __future__ import annotations

import ctypes
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import pysodium

from crypto.errors import CryptoError

SUITE = "ristretto255-SHA512"
MODE_VOPRF = 0x01
CONTEXT = b"OPRFV1-" + bytes([MODE_VOPRF]) + b"-" + SUITE.encode()
ELEMENT_LEN = 32  # Ne
SCALAR_LEN = 32  # Ns
OUTPUT_LEN = 64  # Nh (SHA-512)
PROOF_LEN = 2 * SCALAR_LEN
MAX_INPUT = 2**16 - 1  # inputs are length-prefixed with two bytes
_ORDER = 2**252 + 27742317777372353535851937790883648493
_IDENTITY = bytes(ELEMENT_LEN)
# The libsodium that pysodium loaded, called directly on the hot paths (scalar
# multiplication, addition): pysodium's wrappers add checks and copies that cost a third
# of a multiplication; the lengths are checked here instead.
_sodium = pysodium.sodium


class OprfError(CryptoError):
    """An OPRF input, element, scalar or proof is invalid (DeserializeError,
    InvalidInputError or VerifyError of RFC 9497)."""


def _i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 §5.3.1 with SHA-512 (b_in_bytes 64, s_in_bytes 128)."""
    if len(dst) > 255:  # RFC 9380 §5.3.3 would hash it; our DSTs are short
        raise OprfError("domain separation tag longer than 255 bytes")
    ell = -(-length // 64)
    if ell > 255 or length > 65535:
        raise OprfError("expand_message_xmd: requested length too large")
    dst_prime = dst + _i2osp(len(dst), 1)
    b0 = hashlib.sha512(bytes(128) + msg + _i2osp(length, 2) + b"\x00" + dst_prime).digest()
    blocks = [hashlib.sha512(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, blocks[-1], strict=True))
        blocks.append(hashlib.sha512(mixed + _i2osp(i, 1) + dst_prime).digest())
    return b"".join(blocks)[:length]


def hash_to_group(msg: bytes) -> bytes:
    """HashToGroup: an element from bytes (hash_to_ristretto255, DST HashToGroup-ctx)."""
    uniform = expand_message_xmd(msg, b"HashToGroup-" + CONTEXT, 64)
    return bytes(pysodium.crypto_core_ristretto255_from_hash(uniform))


def hash_to_scalar(msg: bytes, dst: bytes | None = None) -> bytes:
    """HashToScalar: 64 uniform bytes (DST HashToScalar-ctx unless given), reduced."""
    uniform = expand_message_xmd(msg, dst if dst is not None else b"HashToScalar-" + CONTEXT,
                                 64)
    return bytes(pysodium.crypto_core_ristretto255_scalar_reduce(uniform))


def _check_element(element: bytes, what: str) -> bytes:
    if (not isinstance(element, bytes) or len(element) != ELEMENT_LEN
            or element == _IDENTITY
            or not pysodium.crypto_core_ristretto255_is_valid_point(element)):
        raise OprfError(f"{what} is not a valid ristretto255 element")
    return element


def _check_scalar(scalar: bytes, what: str) -> bytes:
    if (not isinstance(scalar, bytes) or len(scalar) != SCALAR_LEN
            or int.from_bytes(scalar, "little") >= _ORDER):
        raise OprfError(f"{what} is not a canonical ristretto255 scalar")
    return scalar


def _mul(scalar: bytes, element: bytes) -> bytes:
    if not (type(scalar) is bytes and len(scalar) == SCALAR_LEN
            and type(element) is bytes and len(element) == ELEMENT_LEN):
        raise OprfError("not a 32-byte scalar and a 32-byte element")
    out = ctypes.create_string_buffer(ELEMENT_LEN)
    # libsodium refuses (-1) an element that is not a canonical encoding and a result
    # that is the identity; the group has prime order, so for a non-zero scalar both mean
    # an invalid or identity element.
    if _sodium.crypto_scalarmult_ristretto255(out, scalar, element) != 0:
        raise OprfError("scalar multiplication gave the identity element")
    return out.raw


def _base_mul(scalar: bytes) -> bytes:
    if not (type(scalar) is bytes and len(scalar) == SCALAR_LEN):
        raise OprfError("not a 32-byte scalar")
    out = ctypes.create_string_buffer(ELEMENT_LEN)
    if _sodium.crypto_scalarmult_ristretto255_base(out, scalar) != 0:
        raise OprfError("scalar multiplication gave the identity element")
    return out.raw


def _add(a: bytes | None, b: bytes) -> bytes:
    if a is None:
        return b
    if not (type(a) is bytes and type(b) is bytes and len(a) == len(b) == ELEMENT_LEN):
        raise OprfError("not a valid ristretto255 element")
    out = ctypes.create_string_buffer(ELEMENT_LEN)
    if _sodium.crypto_core_ristretto255_add(out, a, b) != 0:
        raise OprfError("not a valid ristretto255 element")
    return out.raw


def random_scalar() -> bytes:
    """A uniformly random non-zero scalar (64 random bytes reduced: RFC 9497 §4.7)."""
    while True:
        s = bytes(pysodium.crypto_core_ristretto255_scalar_reduce(secrets.token_bytes(64)))
        if s != bytes(SCALAR_LEN):
            return s


@dataclass(frozen=True)
class OprfKey:
    """A holder's OPRF key pair: `private` (skS, a scalar) and `public` (pkS = skS·G)."""

    private: bytes
    public: bytes

    @classmethod
    def generate(cls) -> OprfKey:
        sk = random_scalar()
        return cls(sk, _base_mul(sk))

    @classmethod
    def from_private(cls, private: bytes) -> OprfKey:
        _check_scalar(private, "OPRF private key")
        if private == bytes(SCALAR_LEN):
            raise OprfError("OPRF private key is zero")
        return cls(private, _base_mul(private))

    def __repr__(self) -> str:  # never print the private scalar
        return f"OprfKey(public={self.public.hex()})"


def derive_key_pair(seed: bytes, info: bytes) -> OprfKey:
    """RFC 9497 §3.2.1 DeriveKeyPair."""
    if len(seed) != SCALAR_LEN:
        raise OprfError("DeriveKeyPair needs a 32-byte seed")
    derive_input = seed + _i2osp(len(info), 2) + info
    for counter in range(256):
        sk = hash_to_scalar(derive_input + _i2osp(counter, 1), b"DeriveKeyPair" + CONTEXT)
        if sk != bytes(SCALAR_LEN):
            return OprfKey(sk, _base_mul(sk))
    raise OprfError("DeriveKeyPair failed")  # pragma: no cover - probability 2^-2000


# ---- DLEQ proofs (§2.2) -------------------------------------------------------------

def _composites(b: bytes, c: Sequence[bytes], d: Sequence[bytes],
                k: bytes | None) -> tuple[bytes, bytes]:
    seed_dst = b"Seed-" + CONTEXT
    seed = hashlib.sha512(_i2osp(len(b), 2) + b + _i2osp(len(seed_dst), 2) + seed_dst).digest()
    m: bytes | None = None
    z: bytes | None = None
    for i, (ci, di) in enumerate(zip(c, d, strict=True)):
        transcript = (_i2osp(len(seed), 2) + seed + _i2osp(i, 2) + _i2osp(len(ci), 2) + ci
                      + _i2osp(len(di), 2) + di + b"Composite")
        weight = hash_to_scalar(transcript)
        m = _add(m, _mul(weight, ci))
        if k is None:
            z = _add(z, _mul(weight, di))
    assert m is not None  # c is not empty
    return m, _mul(k, m) if k is not None else z or _IDENTITY


def _challenge(b: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes) -> bytes:
    transcript = b"".join(_i2osp(len(x), 2) + x for x in (b, m, z, t2, t3)) + b"Challenge"
    return hash_to_scalar(transcript)


def generate_proof(k: bytes, a: bytes, b: bytes, c: Sequence[bytes], d: Sequence[bytes],
                   *, r: bytes | None = None) -> bytes:
    """GenerateProof: that k·A == B and k·C[i] == D[i] for all i; 64 bytes (c ‖ s).
    `r` is the proof's random scalar (tests pass the RFC vector's)."""
    if not c or len(c) != len(d):
        raise OprfError("a DLEQ proof needs equally long, non-empty lists")
    m, z = _composites(b, c, d, k)
    r = random_scalar() if r is None else r
    t2 = _base_mul(r) if a == _GENERATOR else _mul(r, a)
    t3 = _mul(r, m)
    ch = _challenge(b, m, z, t2, t3)
    s = bytes(pysodium.crypto_core_ristretto255_scalar_sub(
        r, pysodium.crypto_core_ristretto255_scalar_mul(ch, k)))
    return ch + s


def verify_proof(a: bytes, b: bytes, c: Sequence[bytes], d: Sequence[bytes],
                 proof: bytes) -> None:
    """VerifyProof; raises OprfError unless the proof holds."""
    if len(proof) != PROOF_LEN or not c or len(c) != len(d):
        raise OprfError("malformed DLEQ proof")
    ch = _check_scalar(proof[:SCALAR_LEN], "proof challenge")
    s = _check_scalar(proof[SCALAR_LEN:], "proof response")
    m, z = _composites(b, c, d, None)
    try:
        t2 = _add(_base_mul(s) if a == _GENERATOR else _mul(s, a), _mul(ch, b))
        t3 = _add(_mul(s, m), _mul(ch, z))
    except (OprfError, ValueError) as exc:
        raise OprfError("the holder's DLEQ proof does not verify") from exc
    if not secrets.compare_digest(_challenge(b, m, z, t2, t3), ch):
        raise OprfError("the holder's DLEQ proof does not verify")


# ---- the protocol (§3.3.2) -------------------------------------------------------------

def blind(data: bytes, *, blind_scalar: bytes | None = None) -> tuple[bytes, bytes]:
    """Blind: (blind, blindedElement) for one private input."""
    if len(data) > MAX_INPUT:
        raise OprfError("OPRF input longer than 65535 bytes")
    r = random_scalar() if blind_scalar is None else _check_scalar(blind_scalar, "blind")
    element = hash_to_group(data)
    if element == _IDENTITY:
        raise OprfError("input maps to the identity element")  # pragma: no cover
    return r, _mul(r, element)


def blind_evaluate(key: OprfKey, blinded: Sequence[bytes], *,
                   r: bytes | None = None) -> tuple[list[bytes], bytes]:
    """BlindEvaluate, batched: (evaluatedElements, one DLEQ proof for all of them)."""
    if not blinded:
        raise OprfError("nothing to evaluate")
    evaluated = []
    for i, element in enumerate(blinded):
        # The multiplication checks the element (libsodium refuses a non-canonical
        # encoding, and the identity gives the identity): no separate validity check.
        if not isinstance(element, bytes) or len(element) != ELEMENT_LEN:
            raise OprfError(f"blinded element #{i} is not a valid ristretto255 element")
        try:
            evaluated.append(_mul(key.private, element))
        except OprfError:
            raise OprfError(f"blinded element #{i} is not a valid ristretto255 element"
                            ) from None
    proof = generate_proof(key.private, _GENERATOR, key.public, list(blinded), evaluated,
                           r=r)
    return evaluated, proof


def finalize(inputs: Sequence[bytes], blinds: Sequence[bytes], evaluated: Sequence[bytes],
             blinded: Sequence[bytes], public_key: bytes, proof: bytes) -> list[bytes]:
    """Finalize, batched: verify the proof against the pinned `public_key`, unblind, hash.
    Raises OprfError (VerifyError) unless every evaluation was made with that key."""
    if not (len(inputs) == len(blinds) == len(evaluated) == len(blinded)):
        raise OprfError("the holder answered a different number of elements")
    checked = [_check_element(e, f"evaluated element #{i}") for i, e in enumerate(evaluated)]
    _check_element(public_key, "the holder's OPRF public key")
    verify_proof(_GENERATOR, public_key, list(blinded), checked, proof)
    outputs = []
    for data, r, element in zip(inputs, blinds, checked, strict=True):
        inverse = bytes(pysodium.crypto_core_ristretto255_scalar_invert(r))
        unblinded = _mul(inverse, element)
        outputs.append(_output(data, unblinded))
    return outputs


def evaluate(key: OprfKey, data: bytes) -> bytes:
    """Evaluate: the PRF output, computed by the holder from its key and the input
    (how a holder fills its filter with its own records' keys)."""
    return _output(data, _mul(key.private, hash_to_group(data)))


def _output(data: bytes, element: bytes) -> bytes:
    return hashlib.sha512(_i2osp(len(data), 2) + data + _i2osp(len(element), 2) + element
                          + b"Finalize").digest()


def _one() -> bytes:
    return (1).to_bytes(SCALAR_LEN, "little")


_GENERATOR = _base_mul(_one())  # A = G, the proof's first base
