"""crypto.checkpoint: tlog-checkpoint, tlog-cosignature v1 (Ed25519), tlog-proof@v1."""

from __future__ import annotations

import base64
import hashlib

import pytest

from crypto import checkpoint as ckpt
from crypto import keys, merkle, note
from crypto.errors import NoteError, ProofError, SignatureInvalid
from crypto.sign import sign_raw


def _key(label: str) -> keys.SigningKey:
    return keys.signing_key_from_seed(hashlib.sha256(label.encode()).digest())


LOG = note.NoteSigner("TX", _key("log"))
W1 = ckpt.CosignatureSigner("witness.CA", _key("w1"))
W2 = ckpt.CosignatureSigner("witness.AZ", _key("w2"))
ROOT = hashlib.sha256(b"root").digest()
CP = ckpt.Checkpoint("TX", 20852163, ROOT)


def test_format_and_parse_round_trip() -> None:
    text = ckpt.format_checkpoint(CP)
    assert text == f"TX\n20852163\n{base64.b64encode(ROOT).decode()}\n"
    assert ckpt.parse_checkpoint(text) == CP
    with_ext = ckpt.Checkpoint("TX", 0, merkle.EMPTY_ROOT, ("ext one",))
    assert ckpt.parse_checkpoint(ckpt.format_checkpoint(with_ext)) == with_ext


def test_c2sp_example_parses() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = ckpt.parse_checkpoint(text)
    assert cp.origin == "example.com/behind-the-sofa" and cp.size == 20852163


B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"TX\n20\n{B64}", "newline"),
        ("TX\n20\n", "origin, size and root"),
        (f"TX\n020\n{B64}\n", "leading zeros"),
        (f"TX\n-1\n{B64}\n", "line 2"),
        (f"TX\n1e3\n{B64}\n", "line 2"),
        (f"TX\n 20\n{B64}\n", "line 2"),
        (f"T X\n20\n{B64}\n", "line 1"),
        (f"T+X\n20\n{B64}\n", "line 1"),
        (f"\n20\n{B64}\n", "line 1"),
        ("TX\n20\nAAAA\n", "3 bytes"),
        ("TX\n20\n!!!!\n", "base64"),
        (f"TX\n20\n{B64}\n\n", "extension line must be non-empty"),
    ],
)
def test_parse_is_strict(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        ckpt.parse_checkpoint(text)


def test_checkpoint_validation() -> None:
    with pytest.raises(NoteError, match="32 bytes"):
        ckpt.Checkpoint("TX", 1, b"x")
    with pytest.raises(NoteError, match="negative"):
        ckpt.Checkpoint("TX", -1, ROOT)
    with pytest.raises(NoteError, match="origin"):
        ckpt.Checkpoint("T X", 1, ROOT)


def test_sign_and_open_checkpoint() -> None:
    signed = ckpt.sign_checkpoint(CP, [LOG])
    opened = ckpt.open_checkpoint(signed, [LOG.verifier()], origin="TX")
    assert opened.checkpoint == CP
    with pytest.raises(NoteError, match="expected 'CA'"):
        ckpt.open_checkpoint(signed, [LOG.verifier()], origin="CA")
    # a witness signature alone is not the log's signature
    cosigned = ckpt.add_cosignature(signed, LOG.verifier(), W1, 1_700_000_000)
    with pytest.raises(NoteError, match="no verified signature by the log"):
        ckpt.open_checkpoint(cosigned, [W1.verifier()], origin="TX")


def test_cosignature_format_matches_spec() -> None:
    text = ckpt.format_checkpoint(CP)
    line = ckpt.cosign(text, W1, 1679315147)
    assert line.startswith("— witness.CA ") and line.endswith("\n")
    raw = base64.b64decode(line.split(" ")[2])
    key_id = hashlib.sha256(b"witness.CA\n\x04" + W1.key.public).digest()[:4]
    assert raw[:4] == key_id
    assert raw[4:12] == (1679315147).to_bytes(8, "big")
    expected = sign_raw(W1.key, b"cosignature/v1\ntime 1679315147\n" + text.encode())
    assert raw[12:] == expected
    assert len(raw) == 4 + 8 + 64


def test_witness_vkey_round_trip() -> None:
    v = W1.verifier()
    vkey = v.vkey()
    assert vkey.split("+")[1] == f"{W1.key_id:08x}"
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    assert ckpt.parse_cosigner_key(vkey) == v
    with pytest.raises(NoteError, match="not a v1 cosignature"):
        ckpt.parse_cosigner_key(LOG.verifier().vkey())
    with pytest.raises(NoteError, match="not Ed25519"):
        note.parse_verifier_key(vkey)
    # same key, different type byte: different key id
    assert W1.key_id != note.NoteSigner("witness.CA", W1.key).key_id


def test_add_and_verify_cosignatures() -> None:
    signed = ckpt.sign_checkpoint(CP, [LOG])
    once = ckpt.add_cosignature(signed, LOG.verifier(), W1, 1_700_000_000)
    twice = ckpt.add_cosignature(once, LOG.verifier(), W2, 1_700_000_100)
    assert twice.startswith(once)
    assert ckpt.verify_cosignature(twice, W1.verifier()) == 1_700_000_000
    assert ckpt.verify_cosignature(twice, W2.verifier()) == 1_700_000_100
    opened = note.open_note(twice, [LOG.verifier(), W1.verifier(), W2.verifier()])
    assert ckpt.cosignature_timestamps(opened, [W1.verifier(), W2.verifier()]) == {
        "witness.CA": 1_700_000_000, "witness.AZ": 1_700_000_100}
    # recosigning replaces the witness's previous line
    again = ckpt.add_cosignature(twice, LOG.verifier(), W1, 1_700_000_200)
    assert again.count("witness.CA") == 1
    assert ckpt.verify_cosignature(again, W1.verifier()) == 1_700_000_200


def test_cosignature_failures() -> None:
    signed = ckpt.sign_checkpoint(CP, [LOG])
    with pytest.raises(NoteError, match="not signed by any known key"):
        ckpt.verify_cosignature(signed, W1.verifier())
    cosigned = ckpt.add_cosignature(signed, LOG.verifier(), W1, 1_700_000_000)
    # a timestamp changed after signing breaks the signature
    line = next(x for x in cosigned.splitlines() if "witness.CA" in x)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[11] ^= 1
    bad = cosigned.replace(line.split(" ")[2], base64.b64encode(bytes(raw)).decode())
    with pytest.raises(SignatureInvalid, match=r"witness\.CA"):
        ckpt.verify_cosignature(bad, W1.verifier())
    # a note not signed by the log is not cosigned
    other_log = note.NoteSigner("TX", _key("impostor"))
    forged = ckpt.sign_checkpoint(CP, [other_log])
    with pytest.raises(NoteError):
        ckpt.add_cosignature(forged, LOG.verifier(), W1, 1)
    with pytest.raises(NoteError, match="out of range"):
        ckpt.cosign(ckpt.format_checkpoint(CP), W1, -1)
    with pytest.raises(NoteError):
        ckpt.cosign("not a checkpoint\n", W1, 1)


def test_cosigner_signs_with_current_time() -> None:
    sig = W1.sign(ckpt.format_checkpoint(CP).encode())
    assert int.from_bytes(sig[:8], "big") > 1_600_000_000
    assert W1.verifier().verify(ckpt.format_checkpoint(CP).encode(), sig)
    assert not W1.verifier().verify(b"other\n", sig)
    assert not W1.verifier().verify(b"x", sig[:-1])
    assert "witness.CA" in repr(W1)


def _log(n: int) -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for i in range(n):
        tree.append(b"entry %d" % i)
    return tree


TREE = _log(13)


def _receipt(index: int, extra: bytes | None = None) -> str:
    cp = ckpt.Checkpoint("TX", TREE.size, TREE.root())
    signed = ckpt.sign_checkpoint(cp, [LOG])
    signed = ckpt.add_cosignature(signed, LOG.verifier(), W1, 1_700_000_000)
    proof = ckpt.TlogProof(index, tuple(TREE.inclusion_proof(index)), signed, extra)
    return ckpt.format_tlog_proof(proof)


def test_tlog_proof_round_trip_and_verify() -> None:
    text = _receipt(5, extra=b"context")
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "extra " + base64.b64encode(b"context").decode()
    assert lines[2] == "index 5"
    parsed = ckpt.parse_tlog_proof(text)
    assert parsed.extra == b"context" and parsed.index == 5
    assert ckpt.format_tlog_proof(parsed) == text
    leaf = merkle.leaf_hash(b"entry 5")
    opened = ckpt.verify_tlog_proof(text, leaf, LOG.verifier(), [W1.verifier()], min_witnesses=1)
    assert opened.checkpoint.size == 13
    ckpt.verify_tlog_proof(parsed, leaf, LOG.verifier())


def test_tlog_proof_without_extra() -> None:
    text = _receipt(0)
    assert text.split("\n")[1] == "index 0"
    ckpt.verify_tlog_proof(text, merkle.leaf_hash(b"entry 0"), LOG.verifier())


def test_tlog_proof_failures() -> None:
    text = _receipt(5)
    with pytest.raises(ProofError, match="entry 5 of log TX"):
        ckpt.verify_tlog_proof(text, merkle.leaf_hash(b"entry 6"), LOG.verifier())
    with pytest.raises(NoteError, match="1 verified witness cosignatures, 2 required"):
        ckpt.verify_tlog_proof(text, merkle.leaf_hash(b"entry 5"), LOG.verifier(),
                               [W1.verifier(), W2.verifier()], min_witnesses=2)
    stranger = note.NoteSigner("TX", _key("stranger")).verifier()
    with pytest.raises(NoteError):
        ckpt.verify_tlog_proof(text, merkle.leaf_hash(b"entry 5"), stranger)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), "line 1"),
        (lambda t: t.replace("index 5", "index 05"), "plain decimal"),
        (lambda t: t.replace("index 5", "idx 5"), "index <n>"),
        (lambda t: t.replace("index 5\n", "index 5\nAAAA\n"), "3 bytes"),
        (lambda t: t.replace("index 5\n", "index 5\n@@@@\n"), "base64"),
        (lambda t: t.replace("\n\n", "\n", 1), "blank line|base64|bytes"),
    ],
)
def test_tlog_proof_parse_errors(mutate: object, message: str) -> None:
    assert callable(mutate)
    with pytest.raises(NoteError, match=message):
        ckpt.parse_tlog_proof(mutate(_receipt(5)))
