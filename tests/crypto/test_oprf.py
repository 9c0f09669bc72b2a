"""crypto.oprf against the RFC 9497 test vectors (ristretto255-SHA512, VOPRF mode), plus
round trips and the refusals a requester relies on.

The vectors (RFC 9497 Appendix A.1.2, as the CFRG draft's `poc/vectors/allVectors.json`)
are read from the shared folder (see shared_vectors.py); the round trips, the refusals and
an algebraic check that an unblinded evaluation equals the holder's direct PRF run always.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from crypto import oprf
from tests.crypto.shared_vectors import shared_vector, waiting_for

VECTOR_FILE = "rfc9497/ristretto255-sha512-voprf.json"
_FOUND = shared_vector(VECTOR_FILE)
SUITE: dict[str, Any] = json.loads(_FOUND.read_text())[0] if _FOUND else {"vectors": []}
needs_vectors = pytest.mark.skipif(_FOUND is None, reason=waiting_for(
    VECTOR_FILE, "RFC 9497 Appendix A.1.2 (VOPRF, ristretto255-SHA512), as the JSON of "
    "cfrg/draft-irtf-cfrg-voprf poc/vectors/allVectors.json, commit 43da59f"))


def _h(field: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in field.split(",")]


def test_the_context_string_is_the_rfcs() -> None:
    """RFC 9497 section 3.1 and 4.1: "OPRFV1-" || I2OSP(mode, 1) || "-" || identifier."""
    assert oprf.CONTEXT == b"OPRFV1-\x01-ristretto255-SHA512"


@needs_vectors
def test_context_string_and_dst_are_the_rfcs() -> None:
    assert bytes.fromhex(SUITE["groupDST"]) == b"HashToGroup-" + oprf.CONTEXT
    assert SUITE["identifier"] == oprf.SUITE and SUITE["mode"] == oprf.MODE_VOPRF


@needs_vectors
def test_derive_key_pair_matches_the_vector() -> None:
    key = oprf.derive_key_pair(bytes.fromhex(SUITE["seed"]), bytes.fromhex(SUITE["keyInfo"]))
    assert key.private.hex() == SUITE["skSm"] and key.public.hex() == SUITE["pkSm"]


@needs_vectors
@pytest.mark.parametrize("vector", SUITE["vectors"] or [{"Batch": 0}],
                         ids=lambda v: f"batch{v['Batch']}")
def test_blind_evaluate_finalize_match_the_vector(vector: dict[str, Any]) -> None:
    key = oprf.OprfKey.from_private(bytes.fromhex(SUITE["skSm"]))
    inputs, blinds = _h(vector["Input"]), _h(vector["Blind"])
    blinded = [oprf.blind(x, blind_scalar=b)[1] for x, b in zip(inputs, blinds, strict=True)]
    assert blinded == _h(vector["BlindedElement"])
    evaluated, proof = oprf.blind_evaluate(key, blinded, r=bytes.fromhex(vector["Proof"]["r"]))
    assert evaluated == _h(vector["EvaluationElement"])
    assert proof.hex() == vector["Proof"]["proof"]
    outputs = oprf.finalize(inputs, blinds, evaluated, blinded, key.public, proof)
    assert outputs == _h(vector["Output"])
    assert [oprf.evaluate(key, x) for x in inputs] == outputs


def test_a_round_trip_with_fresh_randomness() -> None:
    key = oprf.OprfKey.generate()
    inputs = [b"given:jose|1998", b"surname:hernandez|0304", b"pad:1"]
    pairs = [oprf.blind(x) for x in inputs]
    evaluated, proof = oprf.blind_evaluate(key, [p[1] for p in pairs])
    out = oprf.finalize(inputs, [p[0] for p in pairs], evaluated, [p[1] for p in pairs],
                        key.public, proof)
    assert out == [oprf.evaluate(key, x) for x in inputs]
    # blinding hides the input: the same input blinds differently every time
    assert oprf.blind(inputs[0])[1] != oprf.blind(inputs[0])[1]


def test_an_evaluation_with_another_key_is_refused() -> None:
    """A holder cannot answer with a key other than the one pinned in its directory entry."""
    pinned, other = oprf.OprfKey.generate(), oprf.OprfKey.generate()
    r, blinded = oprf.blind(b"key")
    evaluated, proof = oprf.blind_evaluate(other, [blinded])
    with pytest.raises(oprf.OprfError, match="does not verify"):
        oprf.finalize([b"key"], [r], evaluated, [blinded], pinned.public, proof)


def test_tampered_answers_are_refused() -> None:
    key = oprf.OprfKey.generate()
    pairs = [oprf.blind(b"a"), oprf.blind(b"b")]
    blinded = [p[1] for p in pairs]
    evaluated, proof = oprf.blind_evaluate(key, blinded)
    blinds = [p[0] for p in pairs]
    swapped = [evaluated[1], evaluated[0]]
    with pytest.raises(oprf.OprfError):
        oprf.finalize([b"a", b"b"], blinds, swapped, blinded, key.public, proof)
    with pytest.raises(oprf.OprfError):
        oprf.finalize([b"a", b"b"], blinds, evaluated, blinded, key.public,
                      proof[:-1] + bytes([proof[-1] ^ 1]))
    with pytest.raises(oprf.OprfError, match="different number"):
        oprf.finalize([b"a", b"b"], blinds, evaluated[:1], blinded, key.public, proof)
    with pytest.raises(oprf.OprfError, match="not a valid ristretto255 element"):
        oprf.finalize([b"a", b"b"], blinds, [bytes(32), evaluated[1]], blinded, key.public,
                      proof)


def test_a_holder_refuses_elements_that_are_not_points() -> None:
    key = oprf.OprfKey.generate()
    for bad in (bytes(32), b"\xff" * 32, b"short"):
        with pytest.raises(oprf.OprfError):
            oprf.blind_evaluate(key, [bad])


def test_expand_message_xmd_matches_rfc_9380() -> None:
    """RFC 9380 Appendix K.3 (expand_message_xmd, SHA-512), first vectors."""
    dst = b"QUUX-V01-CS02-with-expander-SHA512-256"
    assert oprf.expand_message_xmd(b"", dst, 0x20).hex() == (
        "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba")
    assert oprf.expand_message_xmd(b"abc", dst, 0x20).hex() == (
        "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc")


def test_the_private_key_is_never_printed() -> None:
    key = oprf.OprfKey.generate()
    assert key.private.hex() not in repr(key)
